"""Characterise the domain-wall synapse's read circuit in ngspice: how often a synapse reads "1" at each control
value against the preset's p(w) (with binomial error bars), and the energy and time of one read in each state."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from cosim import atomic
from cosim.config import Strict
from cosim.devices.dw_synapse import model as dw
from cosim.devices.dw_synapse.spice import ReadCircuit, read_cost, simulate_reads
from cosim.plots import save_png
from cosim.spice.engines import open_engine


class Options(Strict):
    """`cosim.characterize("dw_synapse", …)`: `points` control values spanning p = 2 … 98 %, each synapse read
    `reads` times in ngspice; the read cost measured at p ≈ 0.5 on `backend`."""

    preset: str = "ellis2023"
    points: int = Field(9, ge=2, le=64)
    reads: int = Field(200, ge=8, le=20_000)
    backend: Literal["spice", "batch"] = "spice"
    seed: int = 0


def run(options: Options, out_dir: Path, progress=None) -> list[Path]:
    """Write `probability_<preset>.csv`/`.png` and `read_cost_<preset>.csv`; the files written."""
    o = options
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = dw.PRESETS.key(o.preset)
    params = dw.load_preset(name)
    target = np.linspace(0.02, 0.98, o.points)
    target = target[(target > 1 - params.a) & (target < 1)]  # p(w) never goes below its floor d = 1 − a
    w = dw.control_for(target, params.x0, params.dx, params.a)
    record = simulate_reads(open_engine(o.backend, seed=o.seed), w, dw.uniform(params, (w.size,)), ReadCircuit(),
                            o.reads)
    measured = record.sensed.mean(axis=1)
    expected = dw.probability(w, params.x0, params.dx, params.a)
    stderr = np.sqrt(expected * (1 - expected) / o.reads)
    curve = pd.DataFrame({"w": w, "p_expected": expected, "p_measured": measured, "std_error": stderr,
                          "z": (measured - expected) / stderr, "reads": o.reads,
                          "sense_errors": (record.sensed != record.stored).sum(axis=1)})
    cost, _ = read_cost(o.backend, ReadCircuit(), params, o.seed)
    costs = pd.DataFrame([{"energy_state0_J": cost.energy_state0_J, "energy_state1_J": cost.energy_state1_J,
                           "time_s": cost.time_s, "source": cost.source, "reads_simulated": cost.reads_simulated}])
    files = [out_dir / f"probability_{name}.csv", out_dir / f"read_cost_{name}.csv"]
    atomic.write_text(files[0], curve.to_csv(index=False))
    atomic.write_text(files[1], costs.to_csv(index=False))
    files.append(_plot(curve, params, name, out_dir / f"probability_{name}.png"))
    if progress:
        progress(name, {"max_abs_z": float(np.abs(curve["z"]).max()), **costs.iloc[0].to_dict()})
    return files


def _plot(curve: pd.DataFrame, params: dw.DWParams, name: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    grid = np.linspace(curve["w"].min() - 1, curve["w"].max() + 1, 200)
    ax.plot(grid, dw.probability(grid, params.x0, params.dx, params.a), color="0.4", label=f"preset {name} p(w)")
    ax.errorbar(curve["w"], curve["p_measured"], yerr=2 * curve["std_error"], fmt="o", capsize=3,
                label=f"read in ngspice ({int(curve['reads'].iloc[0])} reads, ±2σ)")
    ax.set_xlabel("control w")
    ax.set_ylabel("probability of reading 1")
    ax.legend(loc="upper left", fontsize=8)
    return save_png(fig, path)
