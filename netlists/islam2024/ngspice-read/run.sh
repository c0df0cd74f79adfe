#!/bin/sh
# Runs board.cir in ngspice: results in board.raw, messages in board.log. Exits 1 when ngspice failed, reported
# an error (a model that did not load) or wrote no data points.
cd "$(dirname "$0")" || exit 1
rm -f board.raw
ngspice -b -o board.log -r board.raw board.cir
status=$?
if [ "$status" -ne 0 ] || grep -q "^Error" board.log || ! grep -aqE "^No. Points: +[1-9]" board.raw 2>/dev/null; then
  echo "board.cir did not run (ngspice exit status $status); see board.log" >&2
  exit 1
fi
grep -a "^No. Points" board.raw
