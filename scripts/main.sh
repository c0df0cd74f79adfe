#!/usr/bin/env bash
# One command: set everything up, check the simulator, run the built-in demo.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
"$ROOT/.venv/bin/cosim" doctor
"$ROOT/.venv/bin/cosim" demo "$@"
