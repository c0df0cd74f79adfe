"""Reproduce the SOT-MTJ stochastic-neuron hardware-in-loop tables (Islam et al. 2024) on the 8×8 digits.

    .venv/bin/python scripts/islam2024_results.py [--seeds 5] [--workers 2] [--out docs/islam2024]
    .venv/bin/python scripts/islam2024_results.py --spice [--seeds 2] [--out docs/islam2024]
    .venv/bin/python scripts/islam2024_results.py --data mnist [--run runs/islam2024_mnist] [--out docs/islam2024/mnist]

Default: sweeps/islam2024.yaml on the twin backend (the neuron probabilities and energies of the SPICE circuit,
in numpy; tests/test_sot_spice.py and `cosim characterize sot` hold the two to binomial agreement), every
row over seeds 0…n−1 (the seed draws the device instances, the data split, the initial weights and every
stochastic sample). Groups, all with 4 samples per inference and 10 hardware-in-loop epochs unless stated:
  main       w100, preset variation: ideal software, deployed, hardware-in-loop (fine-tuned)
  scratch    w100, preset variation: hardware-in-loop from the random initial weights, 30 epochs
  width      every width preset × variation scale 0, 1, 2
  samples    w100, preset variation: 1, 4 and 16 samples per inference
Writes results.csv and results.md into --out. --spice instead runs the shipped experiment as it is (backend
spice, its defaults) and the same config on the twin, per seed, and writes spice_vs_twin.csv/.md.
--agreement: the software-trained network of the shipped experiment (seed 0) deployed on the same 32
devices, the whole test set presented --passes times to the SPICE circuit and to the twin; per neuron, the
number of firings against the exact expectation Σ P (z and χ²), and the accuracy of every pass; writes
agreement.csv/.md.
--data mnist: one run of the paper's data set on the twin (`cosim data install mnist` first): 784 inputs, 128
SOT-MTJ neurons, the input→hidden weights in an M-SDC crossbar of 32×32 tiles programmed with three refresh
passes, 10 software epochs on the 60 000 training images, one hardware-in-loop epoch on the first 6 000
(`training.hil_max_train`), 4 samples per inference, the 10 000 test images (MNIST_OVERRIDES). The run goes to --run (kept:
a finished run there is tabulated, not trained again; its ledger holds millions of rows) and its figures to
mnist.md / mnist.json in --out.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd

CONFIG = "sweeps/islam2024.yaml"
PRESETS = ("w50", "w100", "w200", "w400")
TABLE = ["evaluation.samples=4", "training.hil_epochs=10"]
MNIST_TILE = (32, 32)
# Three refresh passes after deployment: the M-SDC devices relax at zero bias (τ ≈ 0.73 s) while the rest of their
# tile is programmed; with 32×32 tiles each pass is short enough that the next finds less drift (docs/islam2024.md)
MNIST_OVERRIDES = ["backend=twin", "data.source=mnist", "network.hidden=128", "network.weights=msdc",
                   f"crossbar.tile=[{MNIST_TILE[0]},{MNIST_TILE[1]}]", "crossbar.programming.refresh_passes=3",
                   "training.software_epochs=10", "training.hil_epochs=1",
                   "training.hil_max_train=6000", "evaluation.samples=4"]
PUBLISHED_HIL = 0.9713  # Islam et al. 2024: hardware-in-loop inference accuracy on MNIST
MNIST_FIGURES = ("accuracy_ideal_software", "accuracy_deployed", "accuracy_hil", "n_train", "n_hil_train", "n_test",
                 "hidden", "crossbar_devices", "crossbar_weight_scale", "deploy_programming_pulses",
                 "deploy_programming_energy_J", "deploy_programming_time_s", "deploy_refresh_passes",
                 "deploy_weight_rms_error", "hil_programming_pulses",
                 "hil_programming_energy_J", "energy_per_inference_J", "crossbar_energy_per_inference_J",
                 "energy_per_inference_with_peripherals_J", "time_per_inference_s", "wall_time_s")


def groups(seeds: int) -> list[dict]:
    out = []
    for seed in range(seeds):
        for preset in PRESETS:
            for scale in (0.0, 1.0, 2.0):
                out.append({"group": "width", "preset": preset, "variation_scale": scale, "seed": seed,
                            "overrides": TABLE})
        out.append({"group": "scratch", "preset": "w100", "variation_scale": 1.0, "seed": seed,
                    "overrides": ["evaluation.samples=4", "training.hil_init=random", "training.hil_epochs=30"]})
        for samples in (1, 16):
            out.append({"group": "samples", "preset": "w100", "variation_scale": 1.0, "seed": seed,
                        "overrides": [f"evaluation.samples={samples}", "training.hil_epochs=10"]})
    return out


def run_point(point: dict) -> dict:
    overrides = [f"backend={point.get('backend', 'twin')}", f"seed={point['seed']}",
                 f"device.preset={point['preset']}", f"device.variation_scale={point['variation_scale']}"]
    return train_row(point, overrides)


def train_row(point: dict, overrides: list[str]) -> dict:
    """Train the islam2024 experiment with `overrides` plus the point's own; the point, its scalar metrics and
    the wall time as one table row (shared with scripts/islam2024_msdc.py)."""
    from cosim.experiments import load_experiment
    from cosim.experiments import islam2024

    started = time.perf_counter()
    m = islam2024.train(load_experiment(CONFIG, [*overrides, *point["overrides"]])).metrics
    row = {k: v for k, v in point.items() if k != "overrides"}
    row["overrides"] = " ".join(point["overrides"])
    row.update({k: v for k, v in m.items() if not isinstance(v, (dict, list))})
    row["run_wall_s"] = time.perf_counter() - started
    return row


def mean_std(values: pd.Series, scale: float = 100.0, digits: int = 1) -> str:
    """mean ± std (over seeds) of `values`·`scale` (default: fractions as percent)."""
    values = pd.Series(values, dtype=float) * scale
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def tables(frame: pd.DataFrame) -> str:
    n = frame["seed"].nunique()
    lines = [f"Mean ± std over {n} seeds, backend twin, digits test set ({int(frame['n_test'].iloc[0])} images), "
             "accuracies in %.", ""]
    main = frame[(frame["group"] == "width") & (frame["preset"] == "w100") & (frame["variation_scale"] == 1.0)]
    scratch = frame[frame["group"] == "scratch"]
    diff = (main.set_index("seed")["accuracy_hil"] - main.set_index("seed")["accuracy_ideal_software"])
    lines += ["### Main comparison (w100, preset variation, 4 samples per inference)", "",
              "| training | test accuracy (%) |", "|---|---|",
              f"| ideal software (30 epochs, ideal neurons) | {mean_std(main['accuracy_ideal_software'])} |",
              f"| software-trained, deployed to the devices | {mean_std(main['accuracy_deployed'])} |",
              f"| hardware-in-loop, from the software weights (+10 epochs) | {mean_std(main['accuracy_hil'])} |",
              f"| hardware-in-loop from scratch (30 epochs) | {mean_std(scratch['accuracy_hil'])} |",
              "", f"Hardware-in-loop minus ideal software, per seed: {mean_std(diff)} points "
              f"(largest gap {abs(diff).max() * 100:.1f}); from scratch: "
              f"{mean_std(scratch.set_index('seed')['accuracy_hil'] - main.set_index('seed')['accuracy_ideal_software'])}.",
              ""]
    width = frame[frame["group"] == "width"].sort_values(["width_m", "variation_scale"])
    lines += ["### Width and variation (4 samples per inference, 10 hardware-in-loop epochs)", "",
              "| preset | width (nm) | variation | I50 spread / window | ideal (%) | deployed (%) | hardware-in-loop (%) "
              "| energy per inference (pJ) |", "|---|---|---|---|---|---|---|---|"]
    for (preset, scale), g in width.groupby(["preset", "variation_scale"], sort=False):
        lines.append(f"| {preset} | {g['width_m'].iloc[0] * 1e9:g} | ×{scale:g} | {g['i50_spread_in_windows'].mean():.2f} | "
                     f"{mean_std(g['accuracy_ideal_software'])} | {mean_std(g['accuracy_deployed'])} | {mean_std(g['accuracy_hil'])} | "
                     f"{mean_std(g['energy_per_inference_J'], 1e12, 2)} |")
    samples = pd.concat([frame[frame["group"] == "samples"], main])
    lines += ["", "### Samples per inference (w100, preset variation)", "",
              "| samples | ideal (%) | deployed (%) | hardware-in-loop (%) | energy per inference (pJ) | time per inference (ns) |",
              "|---|---|---|---|---|---|"]
    for s, g in samples.groupby("samples_per_inference"):
        lines.append(f"| {s} | {mean_std(g['accuracy_ideal_software'])} | {mean_std(g['accuracy_deployed'])} | "
                     f"{mean_std(g['accuracy_hil'])} | {mean_std(g['energy_per_inference_J'], 1e12, 2)} | "
                     f"{g['time_per_inference_s'].iloc[0] * 1e9:g} |")
    return "\n".join(lines) + "\n"


def spice_tables(frame: pd.DataFrame) -> str:
    lines = ["Shipped experiment (sweeps/islam2024.yaml defaults: w100, 32 neurons, 2 hardware-in-loop epochs, "
             "1 sample per inference), per seed, SPICE and twin.", "",
             "| seed | backend | ideal (%) | deployed (%) | hardware-in-loop (%) | energy per inference (pJ) "
             "| characterised I50 RMSE (µA) | wall (s) |", "|---|---|---|---|---|---|---|---|"]
    for _, r in frame.sort_values(["seed", "backend"]).iterrows():
        lines.append(f"| {r['seed']} | {r['backend']} | {r['accuracy_ideal_software'] * 100:.1f} | "
                     f"{r['accuracy_deployed'] * 100:.1f} | {r['accuracy_hil'] * 100:.1f} | "
                     f"{r['energy_per_inference_J'] * 1e12:.3f} | {r['characterized_i50_rmse_A'] * 1e6:.2f} | "
                     f"{r['run_wall_s']:.0f} |")
    return "\n".join(lines) + "\n"


def agreement(passes: int, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """Network-level statistics of the SPICE neurons against the twin's probabilities (see module docstring)."""
    from scipy.stats import chi2

    from cosim.experiments import load_experiment
    from cosim.devices.sot_mtj import model as sot_mtj
    from cosim.experiments import islam2024

    cfg = load_experiment(CONFIG, [f"seed={seed}"])
    b = islam2024.board(cfg)
    mlp, _ = islam2024.train_software(cfg, b, np.random.default_rng([cfg.seed, 5]))
    currents = b.cmap.currents(mlp.preact(b.x_test))
    slots = np.tile(currents, (passes, 1))
    p = sot_mtj.switch_probability(slots, b.arrays, cfg.device.timing,
                                   sot_mtj.reset_current_A(b.params, cfg.device.timing))
    expected, variance = p.sum(axis=0), (p * (1 - p)).sum(axis=0)
    rows, lines = [], [f"Software-trained network (seed {seed}) deployed on its {b.arrays.n} devices; the "
                       f"{len(b.y_test)} test images presented {passes} times ({len(slots)} slots) to each backend.", "",
                       "| backend | accuracy per pass (%), mean ± std | neurons | max per-neuron z | χ² (dof) | χ² p-value "
                       "| wall (s) |", "|---|---|---|---|---|---|---|"]
    for backend in ("spice", "twin"):
        started = time.perf_counter()
        run = islam2024.make_runner(cfg, b.params, b.arrays, backend).run(slots)
        wall = time.perf_counter() - started
        z = (run.bits.sum(axis=0) - expected) / np.sqrt(variance)
        acc = [float(np.mean(mlp.logits(h.astype(float)).argmax(axis=1) == b.y_test))
               for h in run.bits.reshape(passes, len(b.y_test), -1)]
        chi = float((z ** 2).sum())
        rows += [{"backend": backend, "neuron": k, "fired": int(run.bits[:, k].sum()), "expected": expected[k],
                  "z": z[k], "accuracy_mean": np.mean(acc), "accuracy_std": np.std(acc, ddof=1), "wall_s": wall}
                 for k in range(b.arrays.n)]
        lines.append(f"| {backend} | {np.mean(acc) * 100:.2f} ± {np.std(acc, ddof=1) * 100:.2f} | {b.arrays.n} | "
                     f"{np.abs(z).max():.2f} | {chi:.1f} ({b.arrays.n}) | {chi2.sf(chi, b.arrays.n):.2f} | {wall:.0f} |")
    return pd.DataFrame(rows), "\n".join(lines) + "\n"


def mnist(run: Path, tile_workers: int) -> tuple[dict, str]:
    """Train MNIST_OVERRIDES into `run` (its tiles on `tile_workers` processes) unless it holds a finished
    run; its figures and their table."""
    import json

    from cosim import api

    if not (run / "metrics.json").exists() or (run / "INCOMPLETE").exists():
        from cosim.experiments import load_experiment

        api.train(load_experiment(CONFIG, MNIST_OVERRIDES), run, force=True, progress=True,
                  tile_workers=tile_workers)
    m = json.loads((run / "metrics.json").read_text())
    f = {k: m[k] for k in MNIST_FIGURES}
    text = "\n".join([
        f"One run, seed 0, backend twin: {m['data']}; {f['n_train']} training images (hardware-in-loop epoch: the "
        f"first {f['n_hil_train']}), {f['n_test']} test images, 784-{f['hidden']}-10, 4 samples per inference, "
        f"input→hidden weights in {f['crossbar_devices']} M-SDC devices ({MNIST_TILE[0]}×{MNIST_TILE[1]} tiles).", "",
        "| training | test accuracy (%) | published (%) |", "|---|---|---|",
        f"| ideal software (10 epochs, ideal neurons) | {100 * f['accuracy_ideal_software']:.2f} | – |",
        f"| software-trained, deployed to the crossbar and devices | {100 * f['accuracy_deployed']:.2f} | – |",
        f"| hardware-in-loop (+1 epoch on {f['n_hil_train']} images) | {100 * f['accuracy_hil']:.2f} | "
        f"{100 * PUBLISHED_HIL:.2f} |", "",
        f"Deployment: {f['deploy_programming_pulses']:,} programming pulses, "
        f"{f['deploy_programming_energy_J'] * 1e6:.1f} µJ, {f['deploy_programming_time_s']:.2f} s of circuit time "
        f"summed over the tiles, {f['deploy_refresh_passes']} refresh passes, weight RMS error "
        f"{f['deploy_weight_rms_error']:.4f} "
        f"(weight scale {f['crossbar_weight_scale']:.3f}); hardware-in-loop: {f['hil_programming_pulses']:,} pulses, "
        f"{f['hil_programming_energy_J'] * 1e6:.1f} µJ. Per inference: {f['energy_per_inference_J'] * 1e9:.2f} nJ "
        f"(crossbar {f['crossbar_energy_per_inference_J'] * 1e9:.2f} nJ; with peripherals "
        f"{f['energy_per_inference_with_peripherals_J'] * 1e9:.0f} nJ), {f['time_per_inference_s'] * 1e6:.2f} µs. "
        f"Wall time {f['wall_time_s'] / 60:.0f} min.", ""])
    return f, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="processes: runs of the sweeps, tiles of --data mnist")
    parser.add_argument("--out", type=Path, default=Path("docs/islam2024"))
    parser.add_argument("--spice", action="store_true", help="SPICE versus twin on the shipped experiment")
    parser.add_argument("--agreement", action="store_true", help="network-level SPICE versus twin statistics")
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--data", choices=["digits", "mnist"], default="digits",
                        help="mnist: the single MNIST run of docs/islam2024.md (writes mnist.md into --out)")
    parser.add_argument("--run", type=Path, default=Path("runs/islam2024_mnist"), help="run folder of --data mnist")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.data == "mnist":
        import json

        figures, text = mnist(args.run, args.workers)
        (args.out / "mnist.json").write_text(json.dumps(figures, indent=1) + "\n")
        (args.out / "mnist.md").write_text(text, encoding="utf-8")
        print(text)
        return
    if args.agreement:
        frame, text = agreement(args.passes)
        frame.to_csv(args.out / "agreement.csv", index=False)
        (args.out / "agreement.md").write_text(text, encoding="utf-8")
        print(text)
        return
    if args.spice:
        points = [{"group": "spice", "preset": "w100", "variation_scale": 1.0, "seed": s, "backend": b, "overrides": []}
                  for s in range(args.seeds) for b in ("spice", "twin")]
    else:
        points = groups(args.seeds)
    with mp.get_context("spawn").Pool(args.workers) as pool:
        rows = []
        for i, row in enumerate(pool.imap_unordered(run_point, points), 1):
            rows.append(row)
            print(f"[{i}/{len(points)}] {row['group']} {row['preset']} ×{row['variation_scale']} seed {row['seed']} "
                  f"{row['backend']}: ideal {row['accuracy_ideal_software']:.3f} deployed {row['accuracy_deployed']:.3f} "
                  f"hil {row['accuracy_hil']:.3f} ({row['run_wall_s']:.0f} s)", flush=True)
    frame = pd.DataFrame(rows)
    stem = "spice_vs_twin" if args.spice else "results"
    frame.to_csv(args.out / f"{stem}.csv", index=False)
    text = spice_tables(frame) if args.spice else tables(frame)
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
