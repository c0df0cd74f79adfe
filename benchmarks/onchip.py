"""cosim's training loop versus a naive one, on the same short on-chip training run, measured in one run.

    python benchmarks/onchip.py [--epochs 3]

cosim: persistent libngspice, OSDI model (when available), every decision-free group of pulses and
verify reads in one transient, adaptive time step. Naive: a fresh `ngspice -b` process for every pulse
and read, the B-source model, a fixed 10 ns step. Both train the same network from the same seed.
Prints wall time of each, their ratio, and the share of cosim's wall time spent outside ngspice.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from cosim.experiments import eslami2024, load_experiment, msdc_board
from cosim.hil.session import CircuitSession, Timing


class NaiveSession(CircuitSession):
    """One simulator process per pulse or read: no batching of events into transients."""

    def program(self, devices, pulses, epoch=-1, verify=False):
        results = []
        for d, p in zip(devices, pulses):
            for _ in range(p.count):
                single = type(p)(p.amplitude_V, p.width_s, 1, p.polarity, p.gap_s)
                super().program([d], [single], epoch, verify=False)
            if verify:
                results.extend(super().read_conductance([d], "verify", epoch))
        return np.array(results) if verify else None

    def read_conductance(self, devices, phase="read", epoch=-1):
        return np.array([super(NaiveSession, self).read_conductance([d], phase, epoch)[0] for d in devices])


def timed_run(cfg, naive: bool) -> tuple[float, float, dict]:
    if naive:
        os.environ["COSIM_MSDC_BACKEND"] = "bsource"
        original = msdc_board.CircuitSession  # the board's session, as msdc_board.open_session makes it
        msdc_board.CircuitSession = lambda net, eng, x0, ledger, mb, timing, counts: NaiveSession(
            net, eng, x0, ledger, mb, Timing(max_step_s=1e-8), counts)
    try:
        started = time.perf_counter()
        outcome = eslami2024.run(cfg)
        wall = time.perf_counter() - started
    finally:
        if naive:
            msdc_board.CircuitSession = original
            os.environ.pop("COSIM_MSDC_BACKEND")
    return wall, outcome.session.engine.busy_s, outcome.metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    common = [f"training.epochs={args.epochs}", "evaluation.repeats=1", "data.n_test=20"]
    fast_cfg = load_experiment(None, common + ["backend=spice"])
    naive_cfg = load_experiment(None, common + ["backend=batch"])
    fast_wall, fast_busy, fast = timed_run(fast_cfg, naive=False)
    naive_wall, _, naive = timed_run(naive_cfg, naive=True)
    print(f"{'loop':28s} {'wall s':>8s} {'pulses':>7s} {'test acc':>9s}")
    print(f"{'cosim (shared, batched)':28s} {fast_wall:8.2f} {fast['pulses']:7d} {fast['test_accuracy']:9.3f}")
    print(f"{'naive (ngspice -b per pulse)':28s} {naive_wall:8.2f} {naive['pulses']:7d} {naive['test_accuracy']:9.3f}")
    print(f"speed-up: {naive_wall / fast_wall:.1f}x")
    print(f"cosim wall time outside ngspice: {100 * (1 - fast_busy / fast_wall):.1f} %")


if __name__ == "__main__":
    main()
