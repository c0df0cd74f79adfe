"""Input→hidden weights in an M-SDC crossbar for the SOT-MTJ stochastic-neuron network (network.weights: msdc):
the tables of docs/islam2024.md, section "Weights in an M-SDC crossbar".

    .venv/bin/python scripts/islam2024_msdc.py --compare [--seeds 5] [--workers 1]     # msdc_compare.md / .csv
    .venv/bin/python scripts/islam2024_msdc.py --compare --hil-epochs 3 --no-scratch   # msdc_compare_hil3.md / .csv
    .venv/bin/python scripts/islam2024_msdc.py --tolerance [--seeds 3]                  # msdc_tolerance.md / .csv
    .venv/bin/python scripts/islam2024_msdc.py --wiring [--inputs 16]                   # msdc_wiring.md / .csv
    .venv/bin/python scripts/islam2024_msdc.py --programming [--hidden 4]               # msdc_programming.md / .csv
    .venv/bin/python scripts/islam2024_msdc.py --spice-cost                            # msdc_spice_cost.md / .csv

--compare: sweeps/islam2024.yaml on the twin backend, per seed, weights software and msdc with otherwise the
same config (4 samples per inference, 10 hardware-in-loop epochs, as the 5-seed tables of docs/islam2024.md);
also hardware-in-loop from scratch (30 epochs) unless --no-scratch; --hil-epochs 3 --no-scratch is the
configuration of tests/test_islam2024.py::test_msdc_weights_train_like_software_weights_on_the_twin. --tolerance: msdc runs at several programming tolerances.
--wiring: the full 64×32 crossbar (+ reference column) as built for the shipped config, the first --inputs
test images read in ngspice and by the twin (same devices, same as-fabricated states), for several wire and
switch resistances: relative difference of the column currents. --programming: random weights (std 1) programmed
with program-and-verify into a 64×--hidden crossbar in ngspice and in the twin: pulses, energy, circuit time.
--spice-cost: wall time of the operations of one hardware-in-loop mini-batch on the shipped 64×32 crossbar in
ngspice (build and load; a forward pass of 64 inputs; one pulse-and-verify round on 64 devices).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd

from islam2024_results import CONFIG, mean_std, train_row  # the sibling script: same rows, same table cells

TABLE = ["backend=twin", "evaluation.samples=4", "training.hil_epochs=10"]
GROUP_LABEL = {"fine-tune": "from the software weights, +{n} epochs", "scratch": "from scratch, 30 epochs"}


def run_point(point: dict) -> dict:
    return train_row(point, [f"seed={point['seed']}", f"network.weights={point['weights']}"])


def _run(points: list[dict], workers: int) -> pd.DataFrame:
    rows = []
    with mp.get_context("spawn").Pool(workers) as pool:
        for i, row in enumerate(pool.imap_unordered(run_point, points), 1):
            rows.append(row)
            print(f"[{i}/{len(points)}] {row['group']} {row['weights']} seed {row['seed']}: ideal "
                  f"{row['accuracy_ideal_software']:.3f} deployed {row['accuracy_deployed']:.3f} hil "
                  f"{row['accuracy_hil']:.3f} ({row['run_wall_s']:.0f} s)", flush=True)
    return pd.DataFrame(rows).sort_values(["group", "weights", "seed"]).reset_index(drop=True)


def compare(seeds: int, workers: int, hil_epochs: int = 10, scratch: bool = True) -> tuple[pd.DataFrame, str]:
    points = []
    groups = ("fine-tune", "scratch") if scratch else ("fine-tune",)
    for seed in range(seeds):
        for weights in ("software", "msdc"):
            points.append({"group": "fine-tune", "weights": weights, "seed": seed,
                           "overrides": ["backend=twin", "evaluation.samples=4", f"training.hil_epochs={hil_epochs}"]})
            if scratch:
                points.append({"group": "scratch", "weights": weights, "seed": seed,
                               "overrides": ["backend=twin", "evaluation.samples=4", "training.hil_init=random",
                                             "training.hil_epochs=30"]})
    frame = _run(points, workers)
    lines = [f"Mean ± std over {seeds} seeds (0…{seeds - 1}), backend twin, w100 neurons (preset variation), "
             f"digits test set ({int(frame['n_test'].iloc[0])} images), 4 samples per inference; crossbar: "
             "defaults of sweeps/islam2024.yaml (Cr, 5 % / 2 % variation, tolerance 0.02).", "",
             "| weights | hardware-in-loop | ideal software (%) | deployed (%) | hardware-in-loop (%) | "
             "programming pulses: deployment | programming pulses: training | programming energy (µJ) | "
             "energy per inference (pJ) | of which crossbar (pJ) | time per inference (µs) | wall (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for group in groups:
        for weights in ("software", "msdc"):
            g = frame[(frame["group"] == group) & (frame["weights"] == weights)]
            msdc_cols = weights == "msdc"
            lines.append(
                f"| {weights} | {GROUP_LABEL[group].format(n=hil_epochs)} | "
                f"{mean_std(g['accuracy_ideal_software'], 100)} | {mean_std(g['accuracy_deployed'], 100)} | "
                f"{mean_std(g['accuracy_hil'], 100)} | "
                f"{mean_std(g['deploy_programming_pulses'], 1, 0) if msdc_cols else '–'} | "
                f"{mean_std(g['hil_programming_pulses'], 1, 0) if msdc_cols else '–'} | "
                f"{mean_std(g['programming_energy_J'], 1e6, 2) if msdc_cols else '–'} | "
                f"{mean_std(g['energy_per_inference_J'], 1e12, 1)} | "
                f"{mean_std(g['crossbar_energy_per_inference_J'], 1e12, 1) if msdc_cols else '–'} | "
                f"{mean_std(g['time_per_inference_s'], 1e6, 3)} | {mean_std(g['run_wall_s'], 1, 0)} |")
    lines += ["", "Per seed, msdc minus software, hardware-in-loop accuracy (points):", ""]
    for group in groups:
        g = frame[frame["group"] == group].pivot(index="seed", columns="weights", values="accuracy_hil")
        d = (g["msdc"] - g["software"]) * 100
        lines.append(f"- {group}: " + ", ".join(f"{v:+.1f}" for v in d) + f" (mean {d.mean():+.2f}, largest |Δ| "
                     f"{d.abs().max():.1f})")
    g = frame[(frame["group"] == "fine-tune")].pivot(index="seed", columns="weights", values="accuracy_deployed")
    d = (g["msdc"] - g["software"]) * 100
    lines.append("- deployed (software weights, programmed once): " + ", ".join(f"{v:+.1f}" for v in d)
                 + f" (mean {d.mean():+.2f})")
    return frame, "\n".join(lines) + "\n"


def tolerance(seeds: int, workers: int) -> tuple[pd.DataFrame, str]:
    values = (0.01, 0.02, 0.05, 0.1)
    points = [{"group": f"tol {tol}", "weights": "msdc", "seed": seed, "tolerance": tol,
               "overrides": [*TABLE, f"crossbar.programming.tolerance={tol}"]}
              for tol in values for seed in range(seeds)]
    frame = _run(points, workers)
    lines = [f"Mean ± std over {seeds} seeds, backend twin, msdc weights, otherwise as the comparison table.", "",
             "| tolerance (of g_half) | weight RMS error after deployment | deployed (%) | hardware-in-loop (%) | "
             "pulses: deployment | pulses: training | programming energy (µJ) | programming circuit time (ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for tol in values:
        g = frame[frame["tolerance"] == tol]
        time_ms = (g["deploy_programming_time_s"] + g["hil_programming_time_s"]) * 1e3
        lines.append(f"| {tol} | {mean_std(g['deploy_weight_rms_error'], 1, 3)} | {mean_std(g['accuracy_deployed'], 100)} | "
                     f"{mean_std(g['accuracy_hil'], 100)} | {mean_std(g['deploy_programming_pulses'], 1, 0)} | "
                     f"{mean_std(g['hil_programming_pulses'], 1, 0)} | {mean_std(g['programming_energy_J'], 1e6, 2)} | "
                     f"{mean_std(time_ms, 1, 1)} |")
    return frame, "\n".join(lines) + "\n"


def _crossbars(overrides: list[str], hidden: int | None = None):
    from cosim.experiments import load_experiment
    from cosim.hil.ledger import Ledger
    from cosim.experiments import islam2024

    extra = [] if hidden is None else [f"network.hidden={hidden}"]
    cfg = load_experiment(CONFIG, ["network.weights=msdc", "crossbar.weight_scale=3.0", *extra, *overrides])
    b = islam2024.board(cfg)
    out = {}
    for backend in ("spice", "twin"):
        ledger = Ledger()
        out[backend] = (islam2024.build_crossbar_weights(cfg, b.x_train.shape[1], ledger, backend=backend), ledger)
    return cfg, b, out


def wiring(inputs: int) -> tuple[pd.DataFrame, str]:
    rows = []
    for switch in (0.1, 0.3, 1.0, 10.0):
        for wire in (0.0, 0.01, 0.1, 1.0):
            cfg, b, xbs = _crossbars([f"crossbar.switch_on_ohm={switch}", f"crossbar.wire_ohm={wire}"])
            x = b.x_test[:inputs]
            started = time.perf_counter()
            spice = xbs["spice"][0].session.forward(x).column_currents_A[0]
            wall = time.perf_counter() - started
            twin = xbs["twin"][0].session.forward(x).column_currents_A[0]
            rel = np.abs(spice - twin) / np.abs(twin)
            w = xbs["twin"][0]
            dz = w.current_gain * np.abs((spice[:, :-1] - spice[:, -1:]) - (twin[:, :-1] - twin[:, -1:]))
            rows.append({"switch_on_ohm": switch, "wire_ohm": wire, "rel_max": rel.max(), "rel_mean": rel.mean(),
                         "preact_diff_max": dz.max(),
                         "spice_wall_s": wall, "devices": w.rows * w.cols, "inputs": inputs})
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    lines = [f"64×32 crossbar + reference column (2 048 M-SDC devices, Cr, as-fabricated states), the first {inputs} "
             "test images, ngspice versus the twin (which solves the same wires, switches and op-amp stages):", "",
             "| switch on-resistance (Ω) | wire per segment (Ω) | column currents: max relative difference | mean | "
             "largest pre-activation difference (weight_scale 3) | ngspice wall (s) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['switch_on_ohm']:g} | {r['wire_ohm']:g} | {r['rel_max'] * 100:.2f} % | "
                     f"{r['rel_mean'] * 100:.2f} % | {r['preact_diff_max']:.3f} | {r['spice_wall_s']:.1f} |")
    return frame, "\n".join(lines) + "\n"


def programming(hidden: int) -> tuple[pd.DataFrame, str]:
    cfg, b, xbs = _crossbars([], hidden)
    w = np.random.default_rng(0).normal(0.0, 1.0, (b.x_train.shape[1], hidden))
    rows = []
    for backend, (xb, ledger) in xbs.items():
        started = time.perf_counter()
        stats = xb.program(w)
        wall = time.perf_counter() - started
        f = ledger.frame()
        rows.append({"backend": backend, "devices": xb.rows * xb.cols, "programmed": stats.devices,
                     "weight_rms_error": stats.rms_error, "pulses": int(f["pulses"].sum()),
                     "energy_J": float(f["energy_J"].sum()), "circuit_time_s": float(f["circuit_time_s"].sum()),
                     "transients": getattr(getattr(xb.session, "engine", None), "steps", None), "wall_s": wall})
        print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    lines = [f"Random weights (std 1, clipped to ±2.7) programmed into a 64×{hidden} crossbar (+ reference column) "
             "with program-and-verify, from the as-fabricated states (shipped crossbar settings, weight_scale 3):", "",
             "| backend | devices programmed | pulses | energy (µJ) | circuit time (ms) | weight RMS error | wall (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['programmed']} of {r['devices']} | {r['pulses']} | {r['energy_J'] * 1e6:.4f} | "
                     f"{r['circuit_time_s'] * 1e3:.4f} | {r['weight_rms_error']:.4f} | {r['wall_s']:.1f} |")
    return frame, "\n".join(lines) + "\n"


def spice_cost() -> tuple[pd.DataFrame, str]:
    from cosim.experiments import load_experiment
    from cosim.hil.ledger import Ledger
    from cosim.hil.schedule import Pulses
    from cosim.experiments import islam2024

    cfg = load_experiment(CONFIG, ["network.weights=msdc", "crossbar.weight_scale=3.0"])
    b = islam2024.board(cfg)
    rows = []
    started = time.perf_counter()
    xb = islam2024.build_crossbar_weights(cfg, b.x_train.shape[1], Ledger(), backend="spice")
    rows.append({"operation": "build the 64×32 crossbar netlist and load it", "wall_s": time.perf_counter() - started})
    started = time.perf_counter()
    xb.session.forward(b.x_train[:64], phase="read")
    rows.append({"operation": "forward pass, 64 inputs (one mini-batch)", "wall_s": time.perf_counter() - started})
    devices = xb.index[:, :1].reshape(-1).tolist()  # one column: 64 devices
    started = time.perf_counter()
    xb.session.program(devices, [Pulses(1.0, 1e-6, 1, 1)] * len(devices), verify=True)
    rows.append({"operation": "one pulse + verify read on each of 64 devices (one programming round)",
                 "wall_s": time.perf_counter() - started})
    started = time.perf_counter()
    xb.session.engine.load(xb.session.engine.netlist)
    rows.append({"operation": "reload after the neuron bank ran (same process)", "wall_s": time.perf_counter() - started})
    frame = pd.DataFrame(rows)
    lines = ["The shipped crossbar (64×32 + reference, 2 048 M-SDC devices, OSDI model) in ngspice, one process:", "",
             "| operation | wall (s) |", "|---|---|"] + [f"| {r['operation']} | {r['wall_s']:.1f} |" for r in rows]
    return frame, "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    for name in ("compare", "tolerance", "wiring", "programming", "spice-cost"):
        mode.add_argument(f"--{name}", action="store_true")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--inputs", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=4)
    parser.add_argument("--hil-epochs", type=int, default=10, help="--compare: hardware-in-loop epochs (fine-tune)")
    parser.add_argument("--no-scratch", action="store_true", help="--compare: leave out training from scratch")
    parser.add_argument("--out", type=Path, default=Path("docs/islam2024"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.compare:
        stem = "msdc_compare" + (f"_hil{args.hil_epochs}" if args.hil_epochs != 10 else "")
        frame, text = compare(args.seeds, args.workers, args.hil_epochs, not args.no_scratch)
    elif args.tolerance:
        stem, (frame, text) = "msdc_tolerance", tolerance(args.seeds, args.workers)
    elif args.wiring:
        stem, (frame, text) = "msdc_wiring", wiring(args.inputs)
    elif args.programming:
        stem, (frame, text) = "msdc_programming", programming(args.hidden)
    else:
        stem, (frame, text) = "msdc_spice_cost", spice_cost()
    frame.to_csv(args.out / f"{stem}.csv", index=False)
    (args.out / f"{stem}.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
