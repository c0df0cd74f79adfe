"""Reads and programming of M-SDC crossbar tiles from 16×16 to 128×128 (and a 784-row layer): ngspice transients
(the spice backend's forward pass), ngspice operating-point reads (cosim.hil.opread) and the numpy network solver
(cosim.circuits.nodal), timed in one run, with speed-ups against the transient and the growth of each cost with
the number of devices.

    PYTHONPATH=. .venv/bin/python benchmarks/scale.py            # 16, 32, 64, 128 and 784×16 (several minutes)
    PYTHONPATH=. .venv/bin/python benchmarks/scale.py --quick    # 16, 32, 64 (about a minute)

Per tile: one forward pass of 16 input vectors (uniform in [0, 1] of the read voltage, wires 1 Ω per segment), after
a one-sample pass that loads the circuit (and, for the twin, builds its networks); programming: one 1 µs set pulse on
each of 8 devices, in an ngspice transient and on the twin (each device through its programming path). "twin" is
the twin backend's forward pass (`TwinSession.forward`: the tile's resistive network with its IR drop, devices by
Newton, energy and drift), "solve" the bare network solve inside it. The twin's error is the largest column-
current difference to the transient's, as a fraction of the largest column current (both include the drift within
the pass). The projections: 10,000 MNIST images through a 784→32 crossbar as 7 tiles of 128×32, and through the
784→128 crossbar of islam2024's MNIST network as 7 tiles of 128×128, 26 of 64×64 and 100 of 32×32, two tiles at once on 2 cores, each tile's time
per image from the power law fitted over the square tiles at the tile's number of devices. The last line is `scale: op-read <x>x transient, twin <y>x ngspice, twin error <e>` at the 64×64
tile, <y> the twin's forward pass against the transient (the spice backend's) and <e> the largest twin error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cosim.circuits import nodal
from cosim.experiments.msdc_board import open_session, sized as msdc_board
from cosim.devices.msdc import model as msdc
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Pulses
from cosim.hil.session import CircuitSession, Timing
from cosim.spice.shared import SharedEngine

SAMPLES = 16
PROGRAMMED = 8
IMAGES, CORES, MNIST_INPUTS = 10_000, 2, 784
# (hidden columns, tile): 784→32 as 7 tiles of 128×32; islam2024's 784→128 as 7 tiles of 128×128, 26 of 64×64
# and the 100 tiles of 32×32 its MNIST run uses (scripts/islam2024_results.py)
MNIST_LAYERS = [(32, (128, 32)), (128, (128, 128)), (128, (64, 64)), (128, (32, 32))]


def timed(call):
    started = time.perf_counter()
    out = call()
    return out, time.perf_counter() - started


def measure(rows: int, cols: int, seed: int = 0) -> dict:
    board = msdc_board((rows, cols), wire_ohm=1.0, seed=seed)
    inputs = np.random.default_rng(seed + 1).uniform(0, 1, (SAMPLES, rows))
    result = {"tile": f"{rows}x{cols}", "devices": rows * cols}

    def session(mode: str) -> CircuitSession:
        engine = SharedEngine(seed=1, timeout_s=3600.0)  # a 128×128 transient takes minutes on a busy machine
        s = CircuitSession(board.network, engine, board.x0, Ledger(), "osdi", Timing(read_mode=mode))
        s.forward(inputs[:1])  # loads the circuit (and, for op reads, the read-mode circuit)
        s.x = board.x0.copy()
        return s

    tr = session("transient")
    transient, result["transient_s"] = timed(lambda: tr.forward(inputs))
    devices = list(np.linspace(0, rows * cols - 1, PROGRAMMED).astype(int))
    _, result["program_s"] = timed(lambda: tr.program(devices, [Pulses(1.0, 1e-6, 1, 1)] * PROGRAMMED))
    op = session("op")
    operating, result["op_s"] = timed(lambda: op.forward(inputs))

    def build():
        read = nodal.crossbar_read(board.network, 0)
        p = msdc.MSDCArrays(**{f: np.asarray(getattr(board.arrays, f))[read.devices]
                               for f in msdc.MSDCArrays.__dataclass_fields__})
        x = board.x0[read.devices]
        return read, lambda v: msdc.current_and_slope(p, v, x)

    read, device = build()
    v_rows = inputs * board.network.spec.read_V
    _, result["solve_s"] = timed(lambda: read.network.solve(v_rows, device))
    twin = open_session(board.board, Ledger(), "twin", "scale")
    twin.forward(inputs[:1])  # builds the read networks
    twin.x = board.x0.copy()
    twin_pass, result["twin_s"] = timed(lambda: twin.forward(inputs))
    twin.program(devices[:1], [Pulses(1.0, 1e-6, 1, 1)])  # builds the programming paths
    twin.x = board.x0.copy()
    _, result["twin_program_s"] = timed(lambda: twin.program(devices, [Pulses(1.0, 1e-6, 1, 1)] * PROGRAMMED))
    ours, theirs = twin_pass.column_currents_A[0], transient.column_currents_A[0]
    result["twin_error"] = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    result["op_error"] = float(np.abs(operating.column_currents_A[0] - theirs).max() / np.abs(theirs).max())
    return result


def exponent(devices: list[int], seconds: list[float]) -> float:
    """Slope of log(time) against log(devices): cost ∝ devices^slope."""
    return float(np.polyfit(np.log(devices), np.log(seconds), 1)[0])


def tile_count(cols: int, tile: tuple[int, int]) -> int:
    """Tiles of a MNIST_INPUTS × cols crossbar cut into blocks of at most `tile`."""
    return -(-MNIST_INPUTS // tile[0]) * -(-cols // tile[1])


def mnist_hours(devices: list[int], seconds: list[float], cols: int, tile: tuple[int, int]) -> float:
    """Hours for IMAGES images through the tiles of a 784 × cols crossbar, CORES tiles at once, from the power
    law of `seconds` (per pass of SAMPLES) over `devices`."""
    slope, offset = np.polyfit(np.log(devices), np.log(seconds), 1)
    per_image_s = float(np.exp(offset) * (tile[0] * tile[1]) ** slope) / SAMPLES
    return per_image_s * tile_count(cols, tile) * IMAGES / CORES / 3600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiles of 16, 32 and 64 only")
    args = parser.parse_args()
    tiles = [(16, 16), (32, 32), (64, 64)] + ([] if args.quick else [(128, 128), (784, 16)])
    rows = []
    print(f"{'tile':>8} {'devices':>7} | {'transient':>9} {'op read':>8} {'twin':>8} {'solve':>8} | "
          f"{'op x':>6} {'twin x':>7} | {'program':>8} {'twin':>8} {'twin x':>7} | {'twin err':>8} {'op err':>8}")
    for r, c in tiles:
        m = measure(r, c)
        rows.append(m)
        print(f"{m['tile']:>8} {m['devices']:>7} | {m['transient_s']:>8.3f}s {m['op_s']:>7.3f}s "
              f"{m['twin_s'] * 1e3:>6.1f}ms {m['solve_s'] * 1e3:>6.1f}ms | "
              f"{m['transient_s'] / m['op_s']:>5.1f}x {m['transient_s'] / m['twin_s']:>6.0f}x | "
              f"{m['program_s']:>7.3f}s {m['twin_program_s'] * 1e3:>6.1f}ms "
              f"{m['program_s'] / m['twin_program_s']:>6.0f}x | {m['twin_error']:>8.1e} {m['op_error']:>8.1e}",
              flush=True)
    square = [m for m in rows if m["tile"].split("x")[0] == m["tile"].split("x")[1]]
    n = [m["devices"] for m in square]
    keys = (("transient", "transient_s"), ("op read", "op_s"), ("twin", "twin_s"), ("solve", "solve_s"),
            ("programming", "program_s"), ("twin programming", "twin_program_s"))
    print("cost growth (time ∝ devices^k over the square tiles): " + ", ".join(
        f"{name} k = {exponent(n, [m[key] for m in square]):.2f}" for name, key in keys))
    for cols, tile in MNIST_LAYERS:
        print(f"projection, {IMAGES} MNIST images through a {MNIST_INPUTS}→{cols} crossbar "
              f"({tile_count(cols, tile)} tiles of {tile[0]}×{tile[1]}, {CORES} cores): " + ", ".join(
                  f"{name} {mnist_hours(n, [m[key] for m in square], cols, tile):.2g} h"
                  for name, key in (("transient", "transient_s"), ("op read", "op_s"), ("twin", "twin_s"))))
    last = next(m for m in rows if m["tile"] == "64x64")
    print(f"scale: op-read {last['transient_s'] / last['op_s']:.1f}x transient, "
          f"twin {last['transient_s'] / last['twin_s']:.0f}x ngspice, "
          f"twin error {max(m['twin_error'] for m in rows):.1e}")

if __name__ == "__main__":
    main()
