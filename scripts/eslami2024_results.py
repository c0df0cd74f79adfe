"""Reproduce the M-SDC on-chip training results (Eslami et al. 2024) for W, Cr and C.

    .venv/bin/python scripts/eslami2024_results.py [--backend spice] [--workers 2] [--out docs/eslami2024]
    .venv/bin/python scripts/eslami2024_results.py --robustness [--seeds 5] [--backend twin]
    (either with [--presets Cr,C] for some dopants only, [--no-idle-drift] for devices frozen between operations)
    .venv/bin/python scripts/eslami2024_results.py --compare-drift FROZEN_DIR DRIFTING_DIR

The table: for each preset, training with and without the initial reset pulse (training noise 10 %), and
training noise levels 0, 5, 10, 15, 20 % (without reset); every trained network is tested clean, under
input noise, and under test-time conductance error of 0, 5, 10, 15, 20 %. Writes results.csv/.md.
--robustness: training noise 0–20 % (with reset, the default flow) over several seeds, accuracy under
10 % and 20 % conductance error as mean ± std; writes robustness.csv/.md. Every number comes from a run of
this script. W is slow (a 1 µs set pulse moves it by ~1/3000 of its range): its rows use 20 µs set pulses.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

PRESETS = ("W", "Cr", "C")
NOISE_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20)
G_ERRORS = (0.0, 0.05, 0.10, 0.15, 0.20)
G_REPEATS = 20
# per-dopant programming settings (everything else as in sweeps/eslami2024.yaml)
PRESET_OVERRIDES = {"W": ["programming.width_s=2e-5"], "Cr": [], "C": []}


def points(backend: str, presets=PRESETS, idle_drift: bool = True) -> list[dict]:
    out = []
    for preset in presets:
        out.append({"preset": preset, "reset": True, "noise": 0.10, "backend": backend, "seed": 0,
                    "idle_drift": idle_drift})
        for noise in NOISE_LEVELS:
            out.append({"preset": preset, "reset": False, "noise": noise, "backend": backend, "seed": 0,
                        "idle_drift": idle_drift})
    return out


def robustness_points(backend: str, seeds: int, presets=PRESETS, idle_drift: bool = True) -> list[dict]:
    return [{"preset": preset, "reset": True, "noise": noise, "backend": backend, "seed": seed,
             "idle_drift": idle_drift} for preset in presets for noise in NOISE_LEVELS for seed in range(seeds)]


def run_point(point: dict) -> dict:
    from cosim.experiments import load_experiment
    from cosim.experiments import eslami2024

    cfg = load_experiment(None, [f"backend={point['backend']}", f"device.preset={point['preset']}",
                                 f"seed={point['seed']}", f"programming.reset_pulse={str(point['reset']).lower()}",
                                 f"training.noise={point['noise']}", f"timing.idle_drift={str(point['idle_drift']).lower()}",
                                 *PRESET_OVERRIDES[point["preset"]]])
    outcome = eslami2024.run(cfg)
    rng = np.random.default_rng([cfg.seed, 3])
    row = {**point, **{k: v for k, v in outcome.metrics.items() if not isinstance(v, dict)}}
    for level in G_ERRORS:
        row[f"acc_g_err_{level:.2f}"] = eslami2024.accuracy_with_conductance_error(
            outcome.session, outcome.board, outcome.data, cfg.circuit.read_V, level, G_REPEATS, rng)
    return row


def robustness_markdown(frame: pd.DataFrame) -> str:
    cols = ["test_accuracy", "acc_g_err_0.10", "acc_g_err_0.20"]
    stats = frame.groupby(["preset", "noise"])[cols + ["pulses"]].agg(["mean", "std"])
    seeds = frame.groupby(["preset", "noise"])["seed"].nunique()
    head = ["preset", "train noise", "seeds", "clean acc", "acc, G err 10 %", "acc, G err 20 %", "pulses"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (preset, noise), r in stats.iterrows():
        cells = [preset, f"{noise:.0%}", str(seeds[(preset, noise)])]
        cells += [f"{r[(c, 'mean')]:.3f} ± {r[(c, 'std')]:.3f}" for c in cols]
        cells.append(f"{r[('pulses', 'mean')]:.0f} ± {r[('pulses', 'std')]:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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


def drift_markdown(frozen: pd.DataFrame, drifting: pd.DataFrame) -> str:
    """Two tables' rows side by side, frozen → drifting: what idle drift changes."""
    keys = ["preset", "reset", "noise"]
    both = frozen.merge(drifting, on=keys, suffixes=(" off", " on"))
    cols = [("pulses", "{:.0f}"), ("acc_g_err_0.10", "{:.3f}"), ("acc_g_err_0.20", "{:.3f}"),
            ("training_energy_J", "{:.3g}"), ("training_energy_with_peripherals_J", "{:.3g}"),
            ("training_time_with_peripherals_s", "{:.3g}")]
    head = ["preset", "reset", "train noise", "pulses", "acc, G err 10 %", "acc, G err 20 %", "energy circuit (J)",
            "energy w/ periph. (J)", "time w/ periph. (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in both.iterrows():
        cells = [str(r["preset"]), "yes" if r["reset"] else "no", f"{r['noise']:.0%}"]
        cells += [f"{fmt.format(r[c + ' off'])} → {fmt.format(r[c + ' on'])}" for c, fmt in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["spice", "batch", "twin"],
                        help="default: spice for the table, twin for --robustness")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/eslami2024"))
    parser.add_argument("--robustness", action="store_true", help="training noise vs robustness over seeds")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated, of W, Cr, C")
    parser.add_argument("--no-idle-drift", action="store_true", help="devices frozen between operations")
    parser.add_argument("--compare-drift", nargs=2, type=Path, metavar=("FROZEN_DIR", "DRIFTING_DIR"),
                        help="print two tables' results.csv side by side (no runs)")
    args = parser.parse_args()
    if args.compare_drift:
        frozen, drifting = (pd.read_csv(d / "results.csv") for d in args.compare_drift)
        print(drift_markdown(frozen, drifting))
        return
    backend = args.backend or ("twin" if args.robustness else "spice")
    presets = [p for p in PRESETS if p in args.presets.split(",")]
    drift = not args.no_idle_drift
    todo = robustness_points(backend, args.seeds, presets, drift) if args.robustness else points(backend, presets, drift)
    # a worker that dies raises BrokenProcessPool here instead of losing its point silently
    with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
        rows = []
        for future in as_completed([pool.submit(run_point, point) for point in todo]):
            row = future.result()
            rows.append(row)
            print(f"[{len(rows)}/{len(todo)}] {row['preset']} reset={row['reset']} noise={row['noise']:.2f} "
                  f"seed={row['seed']}: "
                  f"acc {row['test_accuracy']:.3f}, pulses {row['pulses']}, {row['wall_time_s']:.0f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.robustness:
        frame = pd.DataFrame(rows).sort_values(["preset", "noise", "seed"])
        frame.to_csv(args.out / "robustness.csv", index=False)
        (args.out / "robustness.md").write_text(robustness_markdown(frame))
        print(robustness_markdown(frame))
        return
    frame = pd.DataFrame(rows).sort_values(["preset", "reset", "noise"], ascending=[True, False, True])
    frame.to_csv(args.out / "results.csv", index=False)
    (args.out / "results.md").write_text(markdown(frame))
    print(markdown(frame))


if __name__ == "__main__":
    main()
