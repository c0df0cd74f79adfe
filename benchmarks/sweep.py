"""Parallel speed-up of `cosim sweep`: the same 8-point sweep with 1 and with 2 local workers, one run.

    python benchmarks/sweep.py [--epochs 12] [--backend spice]

Each point is a short M-SDC on-chip training run in ngspice (Cr, default flow, one seed per point; its own
worker process and simulator).
Prints the wall time of both sweeps and the speed-up (target on 2 cores: >= 1.7x); both sweeps must give
identical results.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from cosim import sweep as sweeps

COMPARED = ["point", "status", "test_accuracy", "pulses", "energy_J"]


def spec(folder: Path, epochs: int, backend: str) -> Path:
    path = folder / "bench_sweep.yaml"
    path.write_text(yaml.safe_dump({
        "base": "eslami2024.yaml",
        "set": {"backend": backend, "training.epochs": epochs, "evaluation.repeats": 1, "data.n_test": 40},
        "seeds": 8,  # points of similar length: the benchmark measures parallelism, not load balance
    }, sort_keys=False))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--backend", default="spice", choices=["spice", "batch", "twin"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = spec(folder, args.epochs, args.backend)
        times, frames = {}, {}
        for workers in (1, 2):
            start = time.perf_counter()
            summary = sweeps.run(path, folder / f"w{workers}", workers=workers)
            times[workers] = time.perf_counter() - start
            frames[workers] = summary.frame[COMPARED].sort_values("point").reset_index(drop=True)
            print(f"{workers} worker(s): {len(summary.frame)} points, {summary.failed} failed, {times[workers]:.1f} s",
                  flush=True)
        same = frames[1].equals(frames[2])
        print(f"speed-up with 2 workers: {times[1] / times[2]:.2f}x (target >= 1.7x); results identical: {same}")


if __name__ == "__main__":
    main()
