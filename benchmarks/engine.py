"""Per-step cost of the three ways to drive ngspice, on a 30-resistor circuit, measured in one run.

    python benchmarks/engine.py [--steps 300]

Prints ms per step for SharedEngine (persistent: alter + tran), SharedEngine (reload the circuit every
step) and BatchEngine (a fresh `ngspice -b -r` per step), and the ratios between them.
"""

from __future__ import annotations

import argparse
import time

from cosim.netlist import ir
from cosim.spice.batch import BatchEngine
from cosim.spice.shared import SharedEngine


def circuit() -> ir.Netlist:
    """Six row drivers, five columns held at 0 V: 30 resistors, the size of the M-SDC demonstrator."""
    net = ir.Netlist("bench 30 resistors")
    for r in range(6):
        net.add(ir.VoltageSource(f"Vr{r}", f"r{r}", "0", ir.Dc(0.1)))
    for c in range(5):
        net.add(ir.VoltageSource(f"Vc{c}", f"c{c}", "0", ir.Dc(0.0)))
    for r in range(6):
        for c in range(5):
            net.add(ir.Resistor(f"R{r}_{c}", f"r{r}", f"c{c}", 1e3 * (1 + r + 10 * c)))
    return net


VECTORS = [f"i(vc{c})" for c in range(5)]


def per_step_ms(step, steps: int) -> float:
    step(0)  # warm-up
    start = time.perf_counter()
    for k in range(steps):
        step(k)
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    net = circuit()

    shared = SharedEngine(num_threads=1)
    shared.load(net)

    def persistent(k: int) -> None:
        shared.alter("Vr0", waveform=ir.Dc(0.1 + 1e-4 * k))
        shared.tran(1e-8, 1e-6, VECTORS, last_only=True)

    def reload(k: int) -> None:
        shared.load(net.replaced("Vr0", waveform=ir.Dc(0.1 + 1e-4 * k)))
        shared.tran(1e-8, 1e-6, VECTORS, last_only=True)

    batch = BatchEngine(num_threads=1)
    batch.load(net)

    def fresh_process(k: int) -> None:
        batch.alter("Vr0", waveform=ir.Dc(0.1 + 1e-4 * k))
        batch.tran(1e-8, 1e-6, VECTORS, last_only=True)

    results = {
        "SharedEngine (persistent)": per_step_ms(persistent, args.steps),
        "SharedEngine (reload per step)": per_step_ms(reload, args.steps),
        "BatchEngine (ngspice -b per step)": per_step_ms(fresh_process, max(20, args.steps // 5)),
    }
    base = results["SharedEngine (persistent)"]
    print(f"{'engine':36s} {'ms/step':>9s} {'× persistent':>13s}")
    for name, ms in results.items():
        print(f"{name:36s} {ms:9.3f} {ms / base:13.2f}")


if __name__ == "__main__":
    main()
