"""Characterise SOT-MTJ neurons: sweep the write current, count switching over many stochastic pulses per
point, fit each device's sigmoid (I50, dI, window) and compare the counts with the twin's probabilities.

The sweep is what a bench (or the training controller) does with real devices: a coarse sweep common to
all devices locates each one's transition, then a fine sweep around each device's own I50 measures its
curve; every device has its own driver, so all of them are measured at once, one pulse per slot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import chi2

from cosim import atomic
from cosim.config import Strict
from cosim.devices.sot_mtj import model as sot_mtj
from cosim.devices.sot_mtj.model import SOTArrays, SOTParams, Timing
from cosim.devices.sot_mtj.spice import neuron_runner
from cosim.errors import ConfigError
from cosim.plots import save_png
from cosim.spice.engines import open_engine


@dataclass(frozen=True)
class Sweep:
    """Points and pulses of the two stages. The fine stage spans ±span_di nominal dI around each I50."""

    coarse_points: int = 9
    coarse_pulses: int = 20
    points: int = 11
    pulses: int = 100
    span_di: float = 4.0

    def __post_init__(self) -> None:
        for name in ("coarse_points", "coarse_pulses", "points", "pulses"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (3 if "points" in name else 1):
                raise ConfigError(f"sweep {name} must be an integer >= {3 if 'points' in name else 1}, "
                                  f"got {getattr(self, name)!r}")
        if not (math.isfinite(self.span_di) and self.span_di > 0):
            raise ConfigError(f"sweep span_di must be > 0, got {self.span_di!r}")


@dataclass
class Measurement:
    """Counts of one device population: currents and switch counts per point (points × n)."""

    currents_A: np.ndarray
    switched: np.ndarray
    pulses: np.ndarray  # per point
    stage: np.ndarray  # per point: "coarse" | "fine"
    i50_A: np.ndarray  # (n,) fitted per device
    di_A: np.ndarray  # (n,)
    energy_J: float
    circuit_time_s: float
    wall_time_s: float

    @property
    def window_A(self) -> np.ndarray:
        return sot_mtj.WINDOW_PER_DI * self.di_A


def count(runner, currents_A: np.ndarray, pulses: int) -> tuple[np.ndarray, sot_mtj.SlotRun]:
    """Apply `pulses` slots at each row of currents (points × n), in that order; switch counts per point."""
    slots = np.repeat(np.asarray(currents_A, dtype=float), pulses, axis=0)
    run = runner.run(slots)
    return run.bits.reshape(len(currents_A), pulses, -1).sum(axis=1), run


def coarse_grid(params: SOTParams, timing: Timing, points: int) -> np.ndarray:
    """Currents covering every device the preset's spread can produce (±3.5σ of I50, ±5 dI)."""
    i50, di = sot_mtj.curve_sigmoid(params, timing)
    half = 3.5 * params.ic0_rel_std * float(i50[0]) + 5.0 * float(di[0])
    return np.linspace(max(float(i50[0]) - half, 0.0), float(i50[0]) + half, points)


def measure(runner, params: SOTParams, timing: Timing, n: int, sweep: Sweep = Sweep()) -> Measurement:
    """Two-stage sweep of n devices driven by `runner` (a NeuronBank or SOTTwin) and a fit of each."""
    coarse = coarse_grid(params, timing, sweep.coarse_points)
    coarse_currents = np.repeat(coarse[:, None], n, axis=1)
    k_coarse, run_c = count(runner, coarse_currents, sweep.coarse_pulses)
    _, di_nominal = sot_mtj.curve_sigmoid(params, timing)
    rough = np.array([sot_mtj.fit_logistic(coarse, k_coarse[:, j], np.full(len(coarse), sweep.coarse_pulses))[0]
                      for j in range(n)])
    rough = np.clip(rough, coarse[0], coarse[-1])
    offsets = np.linspace(-sweep.span_di, sweep.span_di, sweep.points) * float(di_nominal[0])
    fine_currents = np.maximum(rough[None, :] + offsets[:, None], 0.0)
    k_fine, run_f = count(runner, fine_currents, sweep.pulses)
    currents = np.concatenate([coarse_currents, fine_currents])
    switched = np.concatenate([k_coarse, k_fine])
    pulses = np.concatenate([np.full(len(coarse), sweep.coarse_pulses), np.full(sweep.points, sweep.pulses)])
    fits = [sot_mtj.fit_logistic(currents[:, j], switched[:, j], pulses) for j in range(n)]
    runs = [run_c, run_f]
    return Measurement(currents, switched, pulses, np.array(["coarse"] * len(coarse) + ["fine"] * sweep.points),
                       np.array([f[0] for f in fits]), np.array([f[1] for f in fits]),
                       float(sum(r.slot_energy_J.sum() for r in runs)), float(sum(r.circuit_time_s for r in runs)),
                       float(sum(r.wall_time_s for r in runs)))


def point_table(name: str, params: SOTParams, timing: Timing, arrays: SOTArrays, m: Measurement) -> pd.DataFrame:
    """One row per device and point: measured and twin probability, binomial σ and z."""
    p_twin = sot_mtj.switch_probability(m.currents_A, arrays, timing, sot_mtj.reset_current_A(params, timing))
    n_pulses = m.pulses[:, None] * np.ones_like(m.currents_A)
    sigma = np.sqrt(p_twin * (1 - p_twin) / n_pulses)
    p_hat = m.switched / n_pulses
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sigma > 0, (p_hat - p_twin) / sigma, np.where(p_hat == p_twin, 0.0, np.inf))
    rows = []
    for j in range(arrays.n):
        for i in range(len(m.currents_A)):
            rows.append({"preset": name, "width_m": params.width_m, "instance": j, "stage": m.stage[i],
                         "current_A": m.currents_A[i, j], "pulses": int(m.pulses[i]), "switched": int(m.switched[i, j]),
                         "p_measured": p_hat[i, j], "p_twin": p_twin[i, j], "binomial_sigma": sigma[i, j], "z": z[i, j],
                         # the normal approximation behind "3σ" needs N·p(1−p) >= 5; tails are listed, not tested
                         "gaussian_ok": bool(n_pulses[i, j] * p_twin[i, j] * (1 - p_twin[i, j]) >= 5.0)})
    return pd.DataFrame(rows)


def fit_table(name: str, params: SOTParams, timing: Timing, arrays: SOTArrays, m: Measurement) -> pd.DataFrame:
    twin_i50, twin_di = sot_mtj.curve_sigmoid(params, timing, arrays)
    return pd.DataFrame({
        "preset": name, "width_m": params.width_m, "instance": np.arange(arrays.n), "i50_A": m.i50_A, "di_A": m.di_A,
        "window_A": m.window_A, "twin_i50_A": twin_i50, "twin_window_A": sot_mtj.WINDOW_PER_DI * twin_di,
        "ic0_A": arrays.ic0_A, "delta": arrays.delta,
    })


def summary_row(name: str, params: SOTParams, fits: pd.DataFrame, points: pd.DataFrame, m: Measurement,
                backend: str) -> dict:
    ok = points[points["gaussian_ok"]]
    chi_square = float((ok["z"] ** 2).sum())
    i50, window = fits["i50_A"], fits["window_A"]
    return {
        "preset": name, "width_m": params.width_m, "instances": len(fits), "backend": backend,
        "i50_mean_A": float(i50.mean()), "i50_std_A": float(i50.std(ddof=1)) if len(fits) > 1 else 0.0,
        "i50_rel_spread": float(i50.std(ddof=1) / i50.mean()) if len(fits) > 1 else 0.0,
        "window_mean_A": float(window.mean()), "window_std_A": float(window.std(ddof=1)) if len(fits) > 1 else 0.0,
        "i50_spread_in_windows": float(i50.std(ddof=1) / window.mean()) if len(fits) > 1 else 0.0,
        "twin_i50_mean_A": float(fits["twin_i50_A"].mean()), "twin_window_mean_A": float(fits["twin_window_A"].mean()),
        "points_tested": int(len(ok)), "points_beyond_3sigma": int((ok["z"].abs() > 3).sum()),
        "max_abs_z": float(ok["z"].abs().max()) if len(ok) else 0.0,
        "chi_square": chi_square, "chi_square_p_value": float(chi2.sf(chi_square, len(ok))) if len(ok) else 1.0,
        "pulses_total": int((m.pulses[:, None] * np.ones(len(fits))).sum()),
        "energy_J": m.energy_J, "circuit_time_s": m.circuit_time_s, "wall_time_s": m.wall_time_s,
    }


def resolve_width(text: str) -> list[tuple[str, SOTParams]]:
    """"all", a preset name, or a width in nm (built from the preset file's scaling laws)."""
    if str(text).lower() == "all":
        return [(name, sot_mtj.load_preset(name)) for name in sot_mtj.preset_names()]
    if str(text).lower() in {n.lower() for n in sot_mtj.preset_names()}:
        return [(str(text).lower(), sot_mtj.load_preset(text))]
    try:
        width_nm = float(str(text).lower().removesuffix("nm"))
    except ValueError:
        raise ConfigError(f"--width {text!r}: expected all, a preset ({', '.join(sot_mtj.preset_names())}) "
                          "or a width in nm such as 150") from None
    if not (math.isfinite(width_nm) and 1.0 <= width_nm <= 1e5):
        raise ConfigError(f"--width {text!r}: a width in nm must lie in [1, 100000]")
    return [(f"w{width_nm:g}", sot_mtj.width_params(width_nm * 1e-9))]


def characterize(widths: list[tuple[str, SOTParams]], out_dir: Path, instances: int = 8, sweep: Sweep = Sweep(),
                 seed: int = 0, backend: str = "spice", timing: Timing | None = None, progress=None) -> list[Path]:
    """Measure `instances` devices of every width; write CSVs and plots; return the files written."""
    if instances < 1:
        raise ConfigError(f"--instances must be >= 1, got {instances}")
    if backend not in ("spice", "batch", "twin"):
        raise ConfigError(f"backend {backend!r}: allowed spice, batch, twin")
    timing = timing or Timing()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = None if backend == "twin" else open_engine(backend, seed=seed)
    points, fits, summary, arrays_by = [], [], [], {}
    for w_index, (name, params) in enumerate(widths):
        arrays = sot_mtj.draw_instances(params, instances, seed + 1000 * w_index)
        runner = neuron_runner(backend, params, arrays, timing, engine, seed + w_index,
                               "cosim SOT-MTJ characterisation")
        m = measure(runner, params, timing, instances, sweep)
        p_tab, f_tab = point_table(name, params, timing, arrays, m), fit_table(name, params, timing, arrays, m)
        points.append(p_tab)
        fits.append(f_tab)
        summary.append(summary_row(name, params, f_tab, p_tab, m, backend))
        arrays_by[name] = (params, arrays)
        if progress is not None:
            progress(name, summary[-1])
    written = [atomic.write_text(out_dir / name, frame.to_csv(index=False)) for name, frame in (
        ("sot_points.csv", pd.concat(points, ignore_index=True)), ("sot_fits.csv", pd.concat(fits, ignore_index=True)),
        ("sot_summary.csv", pd.DataFrame(summary)))]
    written += _plots(pd.concat(points, ignore_index=True), pd.concat(fits, ignore_index=True), pd.DataFrame(summary),
                      out_dir)
    return written


def _plots(points: pd.DataFrame, fits: pd.DataFrame, summary: pd.DataFrame, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, frame in points.groupby("preset", sort=False):
        fig, ax = plt.subplots(figsize=(6, 4.2))
        colors = plt.cm.viridis(np.linspace(0, 0.9, frame["instance"].nunique()))
        for (j, dev), color in zip(frame.groupby("instance"), colors):
            fine = dev[dev["stage"] == "fine"]
            p_hat, n = fine["p_measured"], fine["pulses"]
            err = np.sqrt(np.maximum(p_hat * (1 - p_hat), 0.25 / n) / n)
            ax.errorbar(fine["current_A"] * 1e6, fine["p_measured"], yerr=err, fmt="o", ms=3, color=color, alpha=0.8)
            fit = fits[(fits["preset"] == name) & (fits["instance"] == j)].iloc[0]
            grid = np.linspace(dev["current_A"].min(), dev["current_A"].max(), 300)
            ax.plot(grid * 1e6, sot_mtj.logistic(grid, fit["i50_A"], fit["di_A"]), color=color, lw=1)
        ax.set(xlabel="write current (µA)", ylabel="switching probability",
               title=f"SOT-MTJ {name}: {frame['width_m'].iloc[0] * 1e9:g} nm, {frame['instance'].nunique()} devices "
                     f"(points ±1σ, lines fitted)")
        ax.grid(alpha=0.3)
        written.append(save_png(fig, out_dir / f"sot_probability_{name}.png"))
    if len(summary) > 1:
        width_nm = summary["width_m"] * 1e9
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        axes[0].errorbar(width_nm, summary["i50_mean_A"] * 1e6, yerr=summary["i50_std_A"] * 1e6, fmt="o-", capsize=3)
        axes[0].set(xlabel="width (nm)", ylabel="I50 (µA)", title="bias current (mean ± device spread)")
        axes[1].errorbar(width_nm, summary["window_mean_A"] * 1e6, yerr=summary["window_std_A"] * 1e6, fmt="o-",
                         capsize=3)
        axes[1].set(xlabel="width (nm)", ylabel="10–90 % window (µA)", title="programming window")
        axes[2].plot(width_nm, summary["i50_rel_spread"] * 100, "o-", label="σ(I50)/I50 (%)")
        axes[2].plot(width_nm, summary["i50_spread_in_windows"] * 100, "s--", label="σ(I50)/window (%)")
        axes[2].set(xlabel="width (nm)", title="device-to-device spread")
        axes[2].legend()
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xticks(width_nm, [f"{w:g}" for w in width_nm])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
        written.append(save_png(fig, out_dir / "sot_scaling.png"))
    return written


class Options(Strict):
    """`cosim.characterize("sot_mtj", …)`: switching probability versus write current of SOT-MTJ neurons,
    fitted sigmoids per device and width; an option left None takes Sweep's default."""

    width: str = "all"  # all, a width preset (w50, w100, w200, w400) or a width in nm
    instances: int = 8
    pulses: int | None = None
    points: int | None = None
    coarse_points: int | None = None
    coarse_pulses: int | None = None
    backend: Literal["spice", "batch", "twin"] = "spice"
    seed: int = 0


def run(options: Options, out_dir: Path, progress=None) -> list[Path]:
    """`characterize` with `options`; `progress(width, summary)` after each width: the files written."""
    o = options
    sweep = Sweep(**o.given({name: name for name in ("coarse_points", "coarse_pulses", "points", "pulses")}))
    return characterize(resolve_width(o.width), out_dir, o.instances, sweep, o.seed, o.backend, progress=progress)
