#!/usr/bin/env bash
# One command: set everything up, check the simulator, run the main experiment on its built-in default
# (on-chip training of the 30-memristor M-SDC network, preset Cr, in ngspice) and write its energy /
# latency / accuracy report. Extra arguments go to `cosim train` (e.g. -s device.preset=W, --backend twin).
# Each run replaces the previous runs/main (--force): `cosim train` refuses to overwrite a run otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
"$ROOT/.venv/bin/cosim" doctor
"$ROOT/.venv/bin/cosim" train --out "$ROOT/runs/main" --force "$@"
"$ROOT/.venv/bin/cosim" report "$ROOT/runs/main" --out "$ROOT/runs/main/report"
