#!/usr/bin/env bash
# Refreshes constraints.txt: the exact dependency versions cosim's tests pass with, which scripts/setup.sh
# installs (`pip install -c constraints.txt`) so that every machine runs the same numpy, scipy, pandas, ...
# pyproject.toml keeps version ranges (what cosim works with); this file pins one tested set inside them.
# How: a fresh virtual environment, `pip install .[test]` with no constraints (the newest releases the
# ranges allow), `pip freeze` without cosim itself. Use Python 3.11, the version scripts/setup.sh targets.
# Usage: bash scripts/lock.sh, then bash scripts/test.sh (it reinstalls: the stamp hashes constraints.txt),
# and commit constraints.txt when the tests pass.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
OUT="$ROOT/constraints.txt"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

say() { printf '\033[1;34m[lock]\033[0m %s\n' "$*"; }

version="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
[[ "$version" == 3.11.* ]] || say "warning: Python $version; the lock is meant to be made with Python 3.11"

say "fresh virtual environment with Python $version"
"$PY" -m venv "$TMP/venv"
"$TMP/venv/bin/python" -m pip install -q --upgrade pip
say "installing cosim[test] without constraints"
"$TMP/venv/bin/python" -m pip install -q "$ROOT[test]"

{
  echo "# Dependency versions cosim's tests pass with: scripts/setup.sh installs with pip install -c constraints.txt."
  echo "# Written by bash scripts/lock.sh: a fresh virtual environment, pip install .[test] without constraints,"
  echo "# pip freeze (cosim itself left out). Refresh it with that command; pyproject.toml keeps the ranges."
  echo "# Made with Python $version, $("$TMP/venv/bin/python" -m pip --version | cut -d' ' -f1-2), $(uname -m), $(date -u +%Y-%m-%d)."
  "$TMP/venv/bin/python" -m pip freeze --exclude cosim
} >"$TMP/constraints.txt"
mv "$TMP/constraints.txt" "$OUT"
say "wrote $OUT ($(grep -vc '^#' "$OUT") packages)"
