"""Reproduce the M-SDC on-chip training results table (Eslami et al. 2024) for W, Cr and C in ngspice.

    .venv/bin/python scripts/eslami2024_results.py [--backend spice] [--workers 2] [--out docs/eslami2024]

For each preset: training with and without the initial reset pulse (training noise 10 %), and training
noise levels 0, 5, 10, 15, 20 % (without reset); every trained network is tested clean, under input
noise, and under test-time conductance error of 0, 5, 10, 15, 20 %. Writes results.csv and results.md
into --out; every number comes from a run of this script.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd

PRESETS = ("W", "Cr", "C")
NOISE_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20)
G_ERRORS = (0.0, 0.05, 0.10, 0.15, 0.20)


def points(backend: str) -> list[dict]:
    out = []
    for preset in PRESETS:
        out.append({"preset": preset, "reset": True, "noise": 0.10, "backend": backend})
        for noise in NOISE_LEVELS:
            out.append({"preset": preset, "reset": False, "noise": noise, "backend": backend})
    return out


def run_point(point: dict) -> dict:
    from cosim.config import load_experiment
    from cosim.training import eslami2024

    cfg = load_experiment(None, [f"backend={point['backend']}", f"device.preset={point['preset']}",
                                 f"programming.reset_pulse={str(point['reset']).lower()}",
                                 f"training.noise={point['noise']}"])
    outcome = eslami2024.run(cfg)
    rng = np.random.default_rng([cfg.seed, 3])
    row = {**point, **{k: v for k, v in outcome.metrics.items() if not isinstance(v, dict)}}
    for level in G_ERRORS:
        row[f"acc_g_err_{level:.2f}"] = eslami2024.accuracy_with_conductance_error(
            outcome.session, outcome.arrays, outcome.data, cfg.circuit.read_V, level, cfg.evaluation.repeats, rng)
    return row


def markdown(frame: pd.DataFrame) -> str:
    cols = ["preset", "reset", "noise", "test_accuracy", "accuracy_input_noise"] + [f"acc_g_err_{g:.2f}" for g in G_ERRORS] + [
        "pulses", "training_energy_J", "training_circuit_time_s", "training_energy_with_peripherals_J",
        "training_time_with_peripherals_s"]
    head = ["preset", "reset", "train noise", "clean acc", "acc, input noise"] + [f"acc, G err {int(g * 100)} %" for g in G_ERRORS] + [
        "pulses", "energy circuit (J)", "time circuit (s)", "energy w/ periph. (J)", "time w/ periph. (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in frame[cols].iterrows():
        cells = [str(r["preset"]), "yes" if r["reset"] else "no", f"{r['noise']:.0%}"]
        cells += [f"{r[c]:.3f}" for c in cols[3:5 + len(G_ERRORS)]]
        cells += [str(int(r["pulses"]))] + [f"{r[c]:.3g}" for c in cols[-4:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="spice", choices=["spice", "batch", "twin"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/eslami2024"))
    args = parser.parse_args()
    todo = points(args.backend)
    with mp.get_context("spawn").Pool(args.workers) as pool:
        rows = []
        for row in pool.imap_unordered(run_point, todo):
            rows.append(row)
            print(f"[{len(rows)}/{len(todo)}] {row['preset']} reset={row['reset']} noise={row['noise']:.2f}: "
                  f"acc {row['test_accuracy']:.3f}, pulses {row['pulses']}, {row['wall_time_s']:.0f} s", flush=True)
    frame = pd.DataFrame(rows).sort_values(["preset", "reset", "noise"], ascending=[True, False, True])
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "results.csv", index=False)
    (args.out / "results.md").write_text(markdown(frame))
    print(markdown(frame))


if __name__ == "__main__":
    main()
