"""A tiled M-SDC layer on 2 local tile workers against the same tiles run serially in this process, in one run:
wall time of the operations a training loop repeats, the speed-up, and that the numbers are the same bit for bit.

    PYTHONPATH=. .venv/bin/python benchmarks/tiles.py            # 128×64 in 64×64 tiles (several minutes)
    PYTHONPATH=. .venv/bin/python benchmarks/tiles.py --quick    # 64×32 in 32×32 tiles

Per pool: opening the tiles (each loads its circuit; the workers are started first), then `--repeats` rounds of a
forward pass of 16 samples (operating-point reads, the default for one-layer tiles) and a programming operation
(one 1 µs set pulse and a verify read on each of 4 devices per tile, a transient per tile). Serially, the tiles'
engines share this process's ngspice, which loads the other tile's circuit again before each of them runs; each
worker holds one tile here. The last line is `tiles: 2 workers <x>x serial (forward <f>x, program <p>x)` on the
rounds, opening excluded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cosim.experiments.msdc_board import open_session, sized
from cosim.hil import tile_pool
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Pulses


def run(board, inputs: np.ndarray, devices: list[int], repeats: int, workers: int | None) -> dict:
    with tile_pool.execution(workers):
        started = time.perf_counter()
        session = open_session(board, Ledger(), "spice", "benchmark")
        out = {"open_s": time.perf_counter() - started, "forward_s": 0.0, "program_s": 0.0, "results": []}
        for _ in range(repeats):
            started = time.perf_counter()
            read = session.forward(inputs)
            out["forward_s"] += time.perf_counter() - started
            started = time.perf_counter()
            g = session.program(devices, [Pulses(1.0, 1e-6, 1, 1)] * len(devices), verify=True)
            out["program_s"] += time.perf_counter() - started
            out["results"] += [*read.column_currents_A, g]
        out["results"].append(session.x.copy())
        out["ledger"] = session.ledger.frame().drop(columns="wall_time_s")
        out["pool"] = type(session.pool).__name__
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64×32 in 32×32 tiles")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of forward and programming [2]")
    args = parser.parse_args()
    rows, cols, tile = (64, 32, 32) if args.quick else (128, 64, 64)
    board = sized((rows, cols), wire_ohm=1.0, seed=0, tile=(tile, tile)).board
    inputs = np.random.default_rng(1).uniform(0, 1, (16, rows))
    # 4 devices in each tile (the first row block's, then the second's)
    devices = [c * rows + r for r0 in (0, tile) for c, r in zip((1, 9, 17, 25), (r0 + 3, r0 + 20, r0 + 7, r0 + 30))]
    serial = run(board, inputs, devices, args.repeats, None)
    parallel = run(board, inputs, devices, args.repeats, 2)
    same = all(np.array_equal(a, b) for a, b in zip(serial["results"], parallel["results"])) \
        and serial["ledger"].equals(parallel["ledger"])
    print(f"{rows}×{cols} layer in {tile}×{tile} tiles: 2 tiles; {args.repeats} rounds of a 16-sample forward pass "
          f"and programming {len(devices)} devices")
    print(f"{'pool':<12} {'open':>8} {'forward':>9} {'program':>9} {'rounds':>9}")
    for name, r in (("serial", serial), ("2 workers", parallel)):
        print(f"{name:<12} {r['open_s']:>7.2f}s {r['forward_s']:>8.2f}s {r['program_s']:>8.2f}s "
              f"{r['forward_s'] + r['program_s']:>8.2f}s  ({r['pool']})")
    print(f"same numbers bit for bit (currents, conductances, states, ledger): {same}")
    total = (serial["forward_s"] + serial["program_s"]) / (parallel["forward_s"] + parallel["program_s"])
    print(f"tiles: 2 workers {total:.2f}x serial (forward {serial['forward_s'] / parallel['forward_s']:.2f}x, "
          f"program {serial['program_s'] / parallel['program_s']:.2f}x)")


if __name__ == "__main__":
    main()
