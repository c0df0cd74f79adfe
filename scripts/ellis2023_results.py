"""Reproduce the domain-wall stochastic-synapse results (Ellis et al. 2023): accuracy, synapse distributions,
energy and time versus the number of reads N, and the SPICE read circuit's statistics.

    .venv/bin/python scripts/ellis2023_results.py [--backend spice] [--workers 2] [--out docs/ellis2023]
                                                  [--source digits | mnist | MNIST_DIR]
    .venv/bin/python scripts/ellis2023_results.py --source mnist --backend twin --seeds 1 --gains 1 \
        --max-epochs 20 --patience 5 --out docs/ellis2023/mnist        # the MNIST table of docs/ellis2023.md

Runs sweeps/ellis2023.yaml for N = 1, 2, 4, … 64 and seeds 0–4 with the published rule (output gain 1), and
the same with the fixed output gain (1, 2, 4 or 8) of the best validation accuracy at N = 64 (see
docs/ellis2023.md), the real-weight baseline, and the positive-only layer's exact-mean limit (N → ∞, no
sampling). Writes results.csv, exact_mean.csv, reads_spice.csv (not with --backend twin), results.md and four
plots into --out; every number in docs/ellis2023.md comes from them. `--source mnist` (installed with `cosim data
install mnist`) max-pools the 28×28 images to 14×14 (196 inputs, the paper's setting); --seeds, --gains,
--max-epochs and --patience shrink the sweep to a time budget (every row then says what it used).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd

READS = (1, 2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2, 3, 4)
GAINS = (1.0, 2.0, 4.0, 8.0)  # candidates for the output gain, chosen by validation accuracy at N = 64
CONFIG = "sweeps/ellis2023.yaml"


def run_point(point: dict) -> dict:
    from cosim.experiments import load_experiment
    from cosim.experiments import ellis2023

    overrides = [f"backend={point['backend']}", f"seed={point['seed']}", f"training.reads={point['reads']}",
                 f"training.output_gain={point['gain']}", f"data.source={point['source']}",
                 f"training.baseline={'true' if point['baseline'] else 'false'}", *point["budget"]]
    result = ellis2023.train(load_experiment(CONFIG, overrides))
    m = result.metrics
    row = {**{k: v for k, v in point.items() if k != "budget"}, **{k: v for k, v in m.items() if not isinstance(v, (dict, list))}}
    used = result.states["dw_input_used"]  # synapses whose input is on in some training image
    row["p_used"] = result.states["dw_p"][used].ravel().tolist()
    return row


def exact_mean_point(point: dict) -> dict:
    """The positive-only layer without sampling (N → ∞): the continuous limit the rule approaches."""
    from cosim.experiments import load_experiment
    from cosim.devices.dw_synapse import model as dw
    from cosim.experiments import ellis2023
    from cosim.training import meanvar as mv

    cfg = load_experiment(CONFIG, [f"seed={point['seed']}", f"data.source={point['source']}", "backend=twin",
                                   *point["budget"]])
    split, _, _ = ellis2023.prepare_data(cfg.data, cfg.seed)
    params = dw.load_preset(cfg.device.preset)
    devices = dw.draw_instances(params, cfg.device.variation, (split.x_train.shape[1], 10), cfg.seed)
    layer = mv.StochasticSynapseLayer(devices, 1, w_init=params.x0, gain=point["gain"], exact_mean=True)
    t = cfg.training
    fit = mv.fit(layer, split, learning_rate=t.learning_rate, batch_size=t.batch_size, max_epochs=t.max_epochs,
                 patience=t.patience, rng=np.random.default_rng([cfg.seed, 31]))
    rng = np.random.default_rng(0)
    return {**{k: v for k, v in point.items() if k != "budget"}, "validation_accuracy": fit.history[fit.best_epoch - 1]["validation_accuracy"],
            "test_accuracy": mv.evaluate(layer, split.x_test, split.y_test, 1, rng)[0]}


def spice_read_statistics(backend: str, reads: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Sampled frequency of '1' reads of the SPICE read circuit at 7 control values against p(w)."""
    from cosim.devices.dw_synapse import model as dw
    from cosim.devices.dw_synapse import spice as dw_spice

    params = dw.load_preset("ellis2023")
    w = params.x0 + np.array([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0])
    from cosim.spice.engines import open_engine

    circuit = dw_spice.ReadCircuit()
    record = dw_spice.simulate_reads(open_engine(backend, seed=seed), w, dw.uniform(params, (w.size,)), circuit, reads)
    p = dw.probability(w, params.x0, params.dx, params.a)
    freq = record.sensed.mean(axis=1)
    sigma = np.sqrt(p * (1 - p) / reads)
    twin = dw_spice.twin_read_cost(circuit)
    e = record.energy_J
    return pd.DataFrame({
        "w": w, "p": p, "reads": reads, "frequency": freq, "binomial_sigma": sigma, "z": (freq - p) / sigma,
        "sensed_equals_stored": (record.sensed == record.stored).all(axis=1),
        "energy_state0_J": [e[k][~record.sensed[k]].mean() for k in range(w.size)],
        "energy_state1_J": [e[k][record.sensed[k]].mean() for k in range(w.size)],
        "twin_energy_state0_J": twin.energy_state0_J, "twin_energy_state1_J": twin.energy_state1_J,
    })


def _mean_std(frame: pd.DataFrame, by: list[str], col: str) -> pd.DataFrame:
    return frame.groupby(by)[col].agg(["mean", "std"]).rename(columns={"mean": f"{col}_mean", "std": f"{col}_std"})


def _pm(mean: float, std: float, digits: int = 4) -> str:
    """mean ± std; the mean alone where there is no spread to give (one seed: std is NaN)."""
    return f"{mean:.{digits}f}" if np.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _accuracy_by_gain(frame: pd.DataFrame) -> list[str]:
    """Validation and test accuracy per output gain, mean ± std over seeds, as a markdown table."""
    stats = frame.groupby("gain")[["validation_accuracy", "test_accuracy"]].agg(["mean", "std"])
    return ["| gain | validation acc | test acc |", "|---|---|---|"] + [
        f"| {g:g} | {_pm(r[('validation_accuracy', 'mean')], r[('validation_accuracy', 'std')])} | "
        f"{_pm(r[('test_accuracy', 'mean')], r[('test_accuracy', 'std')])} |" for g, r in stats.iterrows()]


def markdown(runs: pd.DataFrame, exact: pd.DataFrame, selection: pd.DataFrame, stats: pd.DataFrame | None,
             gain: float, setting: str) -> str:
    """The tables of results.md; `stats` (the SPICE read circuit's) is None with the twin backend."""
    base = runs[runs["baseline"]].groupby("seed")["baseline_test_accuracy"].first()
    seeds = f"{len(base)} seed{'s' if len(base) > 1 else ''}"
    lines = [setting, "", f"Real-weight baseline (same layer, same training): test accuracy "
             f"{_pm(base.mean(), base.std())} ({seeds}: {', '.join(f'{v:.4f}' for v in base)})", ""]
    lines += [f"Exact-mean limit of the positive-only layer (N → ∞, no sampling), per output gain ({seeds}):", "",
              *_accuracy_by_gain(exact)]
    lines += ["", f"Stochastic layer at N = {READS[-1]}, per output gain ({seeds}); the gain is chosen by validation "
              "accuracy:", "", *_accuracy_by_gain(selection)]
    lines += ["", f"Output gain chosen: {gain:g}", ""]
    for g in sorted(runs["gain"].unique()):
        part = runs[runs["gain"] == g]
        agg = part.groupby("reads").agg(
            acc=("test_accuracy", "mean"), acc_std=("test_accuracy", "std"),
            pass_std=("test_accuracy_std_over_passes", "mean"), nb=("near_binary_fraction", "mean"),
            nb_std=("near_binary_fraction", "std"), epochs=("epochs_trained", "mean"),
            e_inf=("energy_per_inference_J", "mean"), t_inf=("time_per_inference_s", "mean"),
            e_read=("energy_per_read_J", "mean"))
        lines += [f"Output gain {g:g}{' (the published rule)' if g == 1 else ''}:", "",
                  f"| N | test acc (mean ± std, {seeds}) | gap to baseline (points) | std over 16 passes | "
                  "p < 0.1 or p > 0.9 | epochs | energy / inference (J) | time / inference (s) | energy / read (J) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for n, r in agg.iterrows():
            lines.append(f"| {n} | {_pm(r.acc, r.acc_std)} | {100 * (base.mean() - r.acc):.1f} | {r.pass_std:.4f} | "
                         f"{_pm(r.nb, r.nb_std, 3)} | {r.epochs:.0f} | {r.e_inf:.3e} | {r.t_inf:.2e} | {r.e_read:.4e} |")
        lines.append("")
    if stats is None:
        return "\n".join(lines)
    lines += ["SPICE read circuit, sampled frequency of '1' against p(w) "
              f"({int(stats['reads'].iloc[0])} reads per value, seed 0):", "",
              "| w | p(w) | frequency | binomial σ | z = (f − p)/σ | sensed = stored | E(0) SPICE (J) | E(1) SPICE (J) |",
              "|---|---|---|---|---|---|---|---|"]
    for _, r in stats.iterrows():
        lines.append(f"| {r.w:.5f} | {r.p:.4f} | {r.frequency:.4f} | {r.binomial_sigma:.4f} | {r.z:+.2f} | "
                     f"{bool(r.sensed_equals_stored)} | {r.energy_state0_J:.5e} | {r.energy_state1_J:.5e} |")
    r = stats.iloc[0]
    lines += ["", f"Twin (circuit equations): E(0) = {r.twin_energy_state0_J:.5e} J, E(1) = {r.twin_energy_state1_J:.5e} J", ""]
    return "\n".join(lines)


def plots(runs: pd.DataFrame, out: Path, gain: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = runs[runs["baseline"]].groupby("seed")["baseline_test_accuracy"].first()
    fig, ax = plt.subplots(figsize=(6, 4))
    for g, marker in zip(sorted(runs["gain"].unique()), "os"):
        agg = runs[runs["gain"] == g].groupby("reads")["test_accuracy"].agg(["mean", "std"])
        ax.errorbar(agg.index, agg["mean"], yerr=agg["std"], marker=marker, capsize=3,
                    label=f"stochastic synapses, gain {g:g}" + (" (published rule)" if g == 1 else ""))
    ax.axhline(base.mean(), color="k", ls="--", label=f"real-weight baseline {base.mean():.3f}")
    ax.axhspan(base.mean() - base.std(), base.mean() + base.std(), color="k", alpha=0.1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reads per synapse N")
    ax.set_ylabel(f"test accuracy (16 passes, {runs['seed'].nunique()} seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_reads.png", dpi=120)
    plt.close(fig)

    gains = sorted(runs["gain"].unique())
    fig, axes = plt.subplots(len(gains), 1, figsize=(7, 3 * len(gains)), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, g in zip(axes, gains):
        part = runs[runs["gain"] == g]
        for n in READS:
            p = np.concatenate([np.asarray(v) for v in part[part["reads"] == n]["p_used"]])
            ax.hist(p, bins=40, range=(0, 1), histtype="step", density=True, label=f"N = {n}")
        ax.set_yscale("log")
        ax.set_ylabel("density")
        ax.set_title(f"trained p of the used synapses, {part['seed'].nunique()} seeds, gain {g:g}", fontsize=9)
    axes[0].legend(fontsize=7, ncol=4)
    axes[-1].set_xlabel("switching probability p")
    fig.tight_layout()
    fig.savefig(out / "p_histograms.png", dpi=120)
    plt.close(fig)

    agg = runs[runs["gain"] == 1.0].groupby("reads")[["energy_per_inference_J", "time_per_inference_s"]].mean()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(agg.index, agg["energy_per_inference_J"], "o-", label="energy per inference")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("reads per synapse N")
    ax.set_ylabel("energy per inference (J)")
    ax2 = ax.twinx()
    ax2.loglog(agg.index, agg["time_per_inference_s"], "s--", color="tab:red", label="time per inference")
    ax2.set_ylabel("time per inference (s)", color="tab:red")
    fig.legend(loc="upper left", bbox_to_anchor=(0.15, 0.88), fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "energy_vs_reads.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for g, marker in zip(sorted(runs["gain"].unique()), "os"):
        agg = runs[runs["gain"] == g].groupby("reads").agg(e=("energy_per_inference_J", "mean"),
                                                           acc=("test_accuracy", "mean"), sd=("test_accuracy", "std"))
        ax.errorbar(agg["e"], agg["acc"], yerr=agg["sd"], marker=marker, capsize=3, label=f"gain {g:g}")
        for n, r in agg.iterrows():
            ax.annotate(f"N={n}", (r.e, r.acc), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.axhline(base.mean(), color="k", ls="--", label="real-weight baseline")
    ax.set_xscale("log")
    ax.set_xlabel("energy per inference (J), SPICE read circuit")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_energy.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="spice", choices=["spice", "batch", "twin"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--source", default="digits",
                        help="digits, mnist (installed by `cosim data install mnist`) or a directory of MNIST-format files")
    parser.add_argument("--out", type=Path, default=Path("docs/ellis2023"))
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0…n−1")
    parser.add_argument("--gains", type=float, nargs="+", default=list(GAINS),
                        help="output gains to choose from at N = 64 (1: the published rule only)")
    parser.add_argument("--max-epochs", type=int, help="training.max_epochs (default: the config's 100)")
    parser.add_argument("--patience", type=int, help="training.patience (default: the config's 20)")
    args = parser.parse_args()
    seeds, gains = range(args.seeds), sorted(set(args.gains))
    budget = [f"training.{key}={value}" for key, value in (("max_epochs", args.max_epochs), ("patience", args.patience))
              if value is not None]
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")

    def point(n: int, seed: int, gain: float) -> dict:
        return {"reads": n, "seed": seed, "gain": gain, "backend": args.backend, "source": args.source,
                "baseline": n == READS[0] and gain == 1.0, "budget": budget}

    rows: list[dict] = []

    def collect(pool, todo: list[dict]) -> None:
        for row in pool.imap_unordered(run_point, todo):
            rows.append(row)
            print(f"[{len(rows)}] gain {row['gain']:g} N={row['reads']} seed {row['seed']}: "
                  f"acc {row['test_accuracy']:.4f}, validation {row['validation_accuracy']:.4f}, "
                  f"near-binary {row['near_binary_fraction']:.3f}, {row['wall_time_s']:.0f} s", flush=True)

    with ctx.Pool(args.workers) as pool:
        exact = pd.DataFrame(pool.map(exact_mean_point, [{"seed": s, "gain": g, "source": args.source, "budget": budget}
                                                         for g in gains for s in seeds]))
        # the gain is chosen where the claim is made (N = 64) by the stochastic layer's validation accuracy
        collect(pool, [point(READS[-1], s, g) for g in gains for s in seeds])
        by_gain = pd.DataFrame(rows).groupby("gain")["validation_accuracy"].mean()
        gain = float(by_gain.idxmax())
        print(f"N = {READS[-1]} validation accuracy by gain: {by_gain.round(4).to_dict()} -> gain {gain:g}", flush=True)
        collect(pool, [point(n, s, g) for g in sorted({1.0, gain}) for n in READS[:-1] for s in seeds])
    selection = pd.DataFrame(rows)
    selection = selection[selection["reads"] == READS[-1]]
    rows = [r for r in rows if r["gain"] in (1.0, gain)]
    runs = pd.DataFrame(rows).sort_values(["gain", "reads", "seed"])
    stats = spice_read_statistics("batch" if args.backend == "batch" else "spice") if args.backend != "twin" else None
    runs.drop(columns=["p_used"]).to_csv(args.out / "results.csv", index=False)
    exact.to_csv(args.out / "exact_mean.csv", index=False)
    if stats is not None:
        stats.to_csv(args.out / "reads_spice.csv", index=False)
    n_train = int(runs["n_train"].iloc[0]) if "n_train" in runs else "?"
    setting = (f"Data: {runs['data'].iloc[0] if 'data' in runs else args.source} ({n_train} training images after the "
               f"validation split), backend {args.backend}, seeds 0…{args.seeds - 1}, output gains {gains}"
               + (f", {' '.join(budget)}" if budget else "") + ".")
    (args.out / "results.md").write_text(markdown(runs, exact, selection, stats, gain, setting))
    plots(runs, args.out, gain)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
