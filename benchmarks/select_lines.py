"""Program-switch selection on an M-SDC tile: a voltage source per device (the board before row and column select
lines) against row and column select lines driven by current sources into resistors (the board now), timed in one
run on the same tile, devices and states.

    PYTHONPATH=. .venv/bin/python benchmarks/select_lines.py               # 64×64 (a few minutes on 2 cores)
    PYTHONPATH=. .venv/bin/python benchmarks/select_lines.py --size 32

ngspice's set-up of every analysis after the first walks its node list once per branch equation (docs/scale.md), so
4096 select sources cost time in every transient. The baseline is built from today's board: each program switch
controlled by its own node `sel<k>` driven by a voltage source `Vsel<k>`, and the session closing it as the board
used to (that source 0 → 1 V around the device's pulses). Timed after a first analysis that loads the circuit: a
read transient of one sample (1 µs read slot), a programming operation (one 1 µs set pulse and a verify read on one
device) and a forward pass of 16 samples, each the median of `--repeats` in CPU seconds of the process; each variant
runs in a fresh process, the two alternating for `--rounds` rounds, and the table gives the medians over rounds. The last line is
`select lines: read <a>x, program <b>x, forward <c>x faster than a source per device`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np

from cosim.experiments.msdc_board import sized
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Pulses
from cosim.hil.session import CircuitSession, Timing
from cosim.netlist import ir
from cosim.spice.shared import SharedEngine

IDLE = ir.Pwl((0.0, 1.0), (0.0, 0.0))


def per_device_sources(network):
    """The board as it was: a voltage source per device drives its program switch; no select lines."""
    lines = {p.row_select_source.lower() for p in network.points} | {p.col_select_source.lower() for p in network.points}
    line_resistors = {"r" + name[1:] for name in lines}
    index = {f"S{p.layer}p{p.row}_{p.col}".lower(): p.index for p in network.points}
    net = ir.Netlist(network.netlist.title)
    for item in network.netlist:
        name = getattr(item, "name", "").lower()
        if name in lines or name in line_resistors:
            continue
        if name in index:
            item = ir.Switch(item.name, item.n1, item.n2, f"sel{index[name]}", "0", item.model)
        net.add(item)
    net.add(*(ir.VoltageSource(f"Vsel{p.index}", f"sel{p.index}", "0", IDLE) for p in network.points))
    net.validate()
    return net


class PerDeviceSession(CircuitSession):
    """The session as it was: the device's own select source high around its pulses."""

    def _select_slot(self, sched, device, body) -> None:
        t = self.timing
        start, first = sched.t_s, len(sched.slots)
        wave = sched.wave(f"Vsel{device}")
        if start > wave.times[-1]:
            wave.hold(start, 0.0)
        wave.hold(start + t.edge_s, 1.0)
        end = body(start + t.edge_s + t.select_s)
        wave.hold(end + t.select_s, 1.0)
        wave.hold(end + t.select_s + t.edge_s, 0.0)
        sched.t_s = end + t.select_s + t.edge_s
        if len(sched.slots) > first:
            sched.slots[first].switch_events += 2
            sched.slots[first].controller_steps += 1


def median_s(call, repeats: int) -> float:
    """Median CPU time of the process (ngspice's thread included) over `repeats` calls: on a machine shared with
    other jobs, wall times move with their load."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return statistics.median(times)


def measure(kind: str, session: CircuitSession, inputs: np.ndarray, device: int, repeats: int) -> dict:
    x0 = session.x.copy()
    session.forward(inputs[:1])  # the first analysis after loading (no node-list walk yet)
    out = {"kind": kind,
           "read_s": median_s(lambda: session.forward(inputs[:1]), repeats),
           "program_s": median_s(lambda: session.program([device], [Pulses(1.0, 1e-6, 1, 1)], verify=True), repeats),
           "forward_s": median_s(lambda: session.forward(inputs), repeats)}
    session.x = x0
    out["g"] = session.program([device], [Pulses(1.0, 1e-6, 1, 1)], verify=True)[0]
    return out


VARIANTS = {"sources": ("a source per device", PerDeviceSession), "lines": ("row and column lines", CircuitSession)}


def measure_variant(variant: str, size: int, repeats: int) -> dict:
    """One variant's figures, in this process (its own ngspice)."""
    board = sized((size, size), wire_ohm=1.0, seed=0)
    inputs = np.random.default_rng(1).uniform(0, 1, (16, size))
    device = board.network.points[len(board.network.points) // 2 + size // 2].index
    kind, make = VARIANTS[variant]
    netlist = per_device_sources(board.network) if variant == "sources" else board.network.netlist
    session = make(replace(board.network, netlist=netlist), SharedEngine(timeout_s=3600.0), board.x0, Ledger(),
                   "osdi", Timing(read_mode="transient"))
    branches = sum(isinstance(e, ir.VoltageSource) for e in netlist.elements)
    return {**measure(kind, session, inputs, device, repeats), "branches": branches}


def main() -> None:
    import json
    import subprocess
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="rows and columns of the tile [64]")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure and round (median) [3]")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both variants, alternating [2]")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)  # one variant, printed as JSON
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure_variant(args.variant, args.size, args.repeats), default=float))
        return
    # each variant in a fresh process, alternating, so that a changing load on the machine meets both alike
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, "--variant", variant, "--size", str(args.size),
                                  "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
            results[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
    figures = ("read_s", "program_s", "forward_s")
    rows = {v: {**runs[0], **{f: statistics.median(r[f] for r in runs) for f in figures}} for v, runs in results.items()}
    print(f"{args.size}×{args.size} tile, {args.size ** 2} devices; CPU seconds, median of {args.repeats} per round "
          f"and of {args.rounds} rounds")
    print(f"{'selection':<22} {'V sources':>9} {'read 1 µs':>10} {'program':>9} {'forward 16':>11}")
    for r in rows.values():
        print(f"{r['kind']:<22} {r['branches']:>9} {r['read_s']:>9.3f}s {r['program_s']:>8.3f}s {r['forward_s']:>10.3f}s")
    for v, runs in results.items():
        print(f"  rounds, {VARIANTS[v][0]}: " + "; ".join(" ".join(f"{r[f]:.2f}" for f in figures) for r in runs))
    old, new = rows["sources"], rows["lines"]
    print(f"verified conductance after one set pulse: {old['g']:.6e} S against {new['g']:.6e} S "
          f"(relative difference {abs(old['g'] - new['g']) / abs(old['g']):.1e})")
    print(f"select lines: read {old['read_s'] / new['read_s']:.2f}x, program {old['program_s'] / new['program_s']:.2f}x, "
          f"forward {old['forward_s'] / new['forward_s']:.2f}x faster than a source per device")


if __name__ == "__main__":
    main()
