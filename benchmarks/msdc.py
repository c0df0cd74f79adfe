"""Per-step cost of M-SDC arrays in ngspice, OSDI (Verilog-A) model against B-sources, measured in one run.

    python benchmarks/msdc.py [--quick] [--steps 10] [--preset W]

Crossbar-like arrays of 30 (6×5), 300 (20×15) and 3000 (100×30) cells, each a 1 kΩ series resistor (Knowm's
programming resistor; the select switch) and a device with its own drawn parameters (5 % variation): rows are
driven by voltage sources, columns held at 0 V by sources whose currents are read.
One step = alter the row sources, `tran … uic` with KLU and a coarse step, copy the column currents:
  read:    1 µs at 0.1 V on every row (step and tmax 100 ns);
  program: 5 µs at 1 V on every row (step and tmax 250 ns), every device switching at once.
Prints ms per step for each backend and the OSDI/B-source ratio, then the numpy twin's throughput in
device-steps per second (one held-voltage interval of one device, `MSDCTwin.step` plus its current).
`--quick` runs only 30 and 300 devices. ngspice runs with num_threads=1 by default: on this 2-core machine
more threads made OSDI steps 20–70× slower and erratic (OpenMP workers spin-waiting between runs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cosim.devices.msdc import spice as msdc_spice
from cosim.devices.msdc.model import MSDCTwin, Variation, draw_instances, load_preset
from cosim.netlist import ir
from cosim.spice.shared import SharedEngine

SHAPES = {30: (6, 5), 300: (20, 15), 3000: (100, 30)}
# (row voltage V, duration s, step = tmax s)
OPERATIONS = {"read": (0.1, 1e-6, 1e-7), "program": (1.0, 5e-6, 2.5e-7)}
CELL_SERIES_OHM = 1e3  # Knowm's programming series resistor, one per cell
VARIATION = Variation(r_on_rel_std=0.05, r_off_rel_std=0.05, v_on_rel_std=0.05, v_off_rel_std=0.05, tau_rel_std=0.05)


def crossbar(backend: str, preset: str, rows: int, cols: int, seed: int = 0) -> ir.Netlist:
    arrays = draw_instances(load_preset(preset), VARIATION, rows * cols, seed=seed)
    net = ir.Netlist(f"msdc crossbar {rows}x{cols}", msdc_spice.library(backend))
    net.add(ir.Options({"klu": True}))
    for r in range(rows):
        net.add(ir.VoltageSource(f"Vr{r}", f"r{r}", "0", ir.Dc(0.0)))
    for c in range(cols):
        net.add(ir.VoltageSource(f"Vc{c}", f"c{c}", "0", ir.Dc(0.0)))
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    for r, c in cells:  # each cell: the 1 kΩ programming series resistor (or select switch), then the device
        net.add(ir.Resistor(f"R{r}_{c}", f"r{r}", f"m{r}_{c}", CELL_SERIES_OHM))
    names = [f"X{r}_{c}" for r, c in cells]
    nodes = [(f"m{r}_{c}", f"c{c}") for r, c in cells]
    x0 = np.random.default_rng(seed).uniform(0.2, 0.8, rows * cols)
    net.add(*msdc_spice.instances_from_arrays(names, nodes, arrays, x0))
    return net


def spice_ms_per_step(engine: SharedEngine, net: ir.Netlist, rows: int, cols: int, operation: str, steps: int) -> float:
    level, duration, step = OPERATIONS[operation]
    vectors = [f"i(vc{c})" for c in range(cols)]
    engine.load(net)

    def one(k: int) -> None:
        for r in range(rows):
            engine.alter(f"Vr{r}", waveform=ir.Dc(level * (1 + 1e-3 * (k % 2))))
        engine.tran(step, duration, vectors, tmax_s=step, last_only=True)

    one(0)  # warm-up
    start = time.perf_counter()
    for k in range(steps):
        one(k + 1)
    return (time.perf_counter() - start) / steps * 1e3


def twin_device_steps_per_s(preset: str, n: int, min_time_s: float = 0.5) -> float:
    twin = MSDCTwin(draw_instances(load_preset(preset), VARIATION, n, seed=0), 0.5)
    v = np.full(n, 0.1)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time_s:
        twin.step(v, 1e-6)
        twin.current(v)
        calls += 1
    return calls * n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only 30 and 300 devices")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per case (3000 devices: a third)")
    parser.add_argument("--preset", default="W")
    parser.add_argument("--threads", type=int, default=1, help="ngspice num_threads (more is slower for OSDI here)")
    args = parser.parse_args()
    sizes = [30, 300] if args.quick else [30, 300, 3000]

    engine = SharedEngine(num_threads=args.threads)
    print(f"M-SDC preset {args.preset}; ngspice {engine.version}, num_threads={engine.num_threads}, KLU; "
          f"backend this machine would choose: {msdc_spice.model_backend()}")
    print(f"{'devices':>8s} {'operation':>9s} {'osdi ms/step':>13s} {'bsource ms/step':>16s} {'osdi/bsource':>13s}")
    osdi_read_ms = {}
    for n in sizes:
        rows, cols = SHAPES[n]
        steps = max(2, args.steps // 3) if n >= 3000 else args.steps
        nets = {b: crossbar(b, args.preset, rows, cols) for b in msdc_spice.BACKENDS}
        for operation in OPERATIONS:
            ms = {b: spice_ms_per_step(engine, nets[b], rows, cols, operation, steps) for b in msdc_spice.BACKENDS}
            print(f"{n:8d} {operation:>9s} {ms['osdi']:13.2f} {ms['bsource']:16.2f} {ms['osdi'] / ms['bsource']:13.3f}",
                  flush=True)
            if operation == "read":
                osdi_read_ms[n] = ms["osdi"]
    print("\nnumpy twin (MSDCTwin.step + current: one held-voltage interval, exact for a held device voltage):")
    print(f"{'devices':>8s} {'device-steps/s':>15s} {'µs per array step':>18s} {'osdi read/twin':>15s}")
    for n in sizes:
        rate = twin_device_steps_per_s(args.preset, n)
        array_us = n / rate * 1e6
        print(f"{n:8d} {rate:15.3e} {array_us:18.1f} {osdi_read_ms[n] * 1e3 / array_us:15.0f}")


if __name__ == "__main__":
    main()
