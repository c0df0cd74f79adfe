#!/usr/bin/env bash
# One command: set everything up (with the test dependencies) and run the default test suite against the
# installed package. Extra arguments go to pytest (e.g. `-m slow` for the long tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
exec "$ROOT/.venv/bin/pytest" "$@"
