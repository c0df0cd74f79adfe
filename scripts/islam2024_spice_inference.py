"""Inference of a trained islam2024 network (weights in a tiled M-SDC crossbar) in ngspice: the test images of
docs/islam2024.md, section "MNIST", read through every tile circuit in ngspice and sampled by the SOT-MTJ neuron
circuit, with energy and latency per inference from the ledger and the measured rate projected to the whole
test set.

    PYTHONPATH=. .venv/bin/python scripts/islam2024_spice_inference.py RUN_DIR [--images 200] [--tile-workers 2]
                                                                       [--neurons spice] [--out docs/islam2024/mnist]

RUN_DIR is a `cosim train` run of islam2024 with `network.weights: msdc` (any backend; the MNIST table trains
on the twin). Its config, its trained weights (w1 … b2 of states.npz), its devices (sot_* arrays) and the
crossbar's final states (msdc_x) are loaded; the crossbar is rebuilt on the spice backend with the run's tile
size and weight scale, so the circuits hold the run's programmed devices; the first --images test images are
then inferred as the run tested them (`stochastic_neurons.accuracy`, the run's samples per inference and batch
size). The same images go through the twin from the same states, for comparison. Writes
spice_inference.json and spice_inference.md into --out.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

TEST_SET = 10_000  # MNIST's test set, the size the projection is made for


def infer(run_dir: Path, images: int, backend: str, neurons_backend: str, tile_workers: int) -> dict:
    """Accuracy, ledger figures and wall time of the first `images` test images on `backend`."""
    from cosim.experiments import load_experiment
    from cosim.experiments import islam2024
    from cosim.hil import tile_pool
    from cosim.hil.ledger import Ledger
    from cosim.hil.summary import run_metrics
    from cosim.training import stochastic_neurons as sn

    metrics = json.loads((run_dir / "metrics.json").read_text())
    states = dict(np.load(run_dir / "states.npz"))
    cfg = load_experiment(run_dir / "config.yaml", [f"backend={backend}", f"data.max_test={images}",
                                                    f"crossbar.weight_scale={metrics['crossbar_weight_scale']!r}"])
    if cfg.network.weights != "msdc":
        raise SystemExit(f"{run_dir}: network.weights is {cfg.network.weights}, not msdc")
    b = islam2024.board(cfg)
    arrays = replace(b.arrays, ic0_A=states["sot_ic0_A"], delta=states["sot_delta"], rp_ohm=states["sot_rp_ohm"])
    mlp = sn.MLP(states["w1"], states["b1"], states["w2"], states["b2"])
    ledger = Ledger(cfg.peripherals)
    started = time.perf_counter()
    with tile_pool.execution(tile_workers):
        weights = islam2024.build_crossbar_weights(cfg, b.x_test.shape[1], ledger, backend=backend)
        weights.session.x = states["msdc_x"]
        runner = islam2024.make_runner(cfg, b.params, arrays, neurons_backend)
        devices = sn.DeviceNeurons(runner, b.cmap, ledger)
        opened = time.perf_counter()
        acc = sn.accuracy(mlp, b.x_test, b.y_test, devices, cfg.evaluation.samples, cfg.training.batch_size, weights)
        inferred = time.perf_counter()
    figures = run_metrics(ledger.frame())
    return {"backend": backend, "neurons": neurons_backend, "images": int(len(b.y_test)), "accuracy": acc,
            "tiles": len(weights.session.tiles) if hasattr(weights.session, "tiles") else 1,
            "tile": list(cfg.crossbar.tile) if cfg.crossbar.tile else None, "tile_workers": tile_workers,
            "samples_per_inference": cfg.evaluation.samples, "crossbar_devices": int(weights.rows * weights.cols),
            "energy_per_inference_J": figures["energy_per_inference_J"],
            "energy_per_inference_with_peripherals_J": figures["energy_per_inference_with_peripherals_J"],
            "time_per_inference_s": figures["time_per_inference_s"],
            "open_wall_s": opened - started, "inference_wall_s": inferred - opened,
            "wall_s_per_image": (inferred - opened) / len(b.y_test),
            "projected_test_set_wall_h": (inferred - opened) / len(b.y_test) * TEST_SET / 3600,
            "run_accuracy_hil": metrics["accuracy_hil"], "run_n_test": metrics["n_test"]}


def markdown(rows: list[dict], command: str) -> str:
    lines = [f"    {command}", "",
             "| crossbar | neurons | images | accuracy (%) | energy per inference (nJ) | with peripherals (nJ) "
             "| time per inference (µs) | wall per image (s) | projected wall, 10 000 images (h) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} ({r['tiles']} tiles, {r['tile_workers']} workers) | {r['neurons']} | "
                     f"{r['images']} | {100 * r['accuracy']:.1f} | {r['energy_per_inference_J'] * 1e9:.3f} | "
                     f"{r['energy_per_inference_with_peripherals_J'] * 1e9:.1f} | {r['time_per_inference_s'] * 1e6:.3f} | "
                     f"{r['wall_s_per_image']:.3f} | {r['projected_test_set_wall_h']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--tile-workers", type=int, default=2)
    parser.add_argument("--neurons", choices=["spice", "twin"], default="spice")
    parser.add_argument("--out", type=Path, default=Path("docs/islam2024/mnist"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for backend, neurons in (("twin", "twin"), ("spice", args.neurons)):
        rows.append(infer(args.run_dir, args.images, backend, neurons, args.tile_workers))
        print(json.dumps(rows[-1]), flush=True)
    command = (f"scripts/islam2024_spice_inference.py RUN_DIR --images {args.images} --tile-workers "
               f"{args.tile_workers} --neurons {args.neurons}")
    (args.out / "spice_inference.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "spice_inference.md").write_text(markdown(rows, command))
    print(markdown(rows, command))


if __name__ == "__main__":
    main()
