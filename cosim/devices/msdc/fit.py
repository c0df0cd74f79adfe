"""Fit M-SDC parameters to measured sinusoidal I–V loops (Knowm Memristor Discovery format).

A run folder `<series>/<series>_<amp>_<freq>_<device>/` (e.g. `5kohm_0.8V_10Hz_M2`) holds `Memristor.csv`
(V across the memristor, current in µA) and `Resistor+Memristor.csv` (V across series R + memristor,
current in µA): no header, one period of the sine drive in time order. The applied source is reconstructed as
the best sine through the series-R + memristor voltage, the loop is replayed through `MSDCTwin.simulate_series`
for several periods, and the last period's current is compared with the measurement. The fit minimises the
per-run NRMSE = RMSE/(max I − min I) with scipy least_squares over log-parameters.

φ is held fixed (at the start value, 0.8 by default): changing φ to φ' while scaling R_on, R_off by φ'/φ and
the α's by (1 − φ)/(1 − φ') leaves I(V, X) unchanged, so I–V loops cannot identify it. Temperature is held at
298.5 K.
"""

from __future__ import annotations

import fnmatch
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from cosim.devices.msdc.model import (
    PARAM_FIELDS,
    MSDCArrays,
    MSDCParams,
    MSDCTwin,
    params_from_mapping,
    thermal_voltage_V,
    write_params_file,
)
from cosim.errors import ConfigError

MEMRISTOR_CSV = "Memristor.csv"
SOURCE_CSV = "Resistor+Memristor.csv"
CURRENT_UNITS_A = {"A": 1.0, "mA": 1e-3, "uA": 1e-6, "µA": 1e-6, "nA": 1e-9}
PLAUSIBLE_PEAK_CURRENT_A = (1e-9, 0.1)
MIN_SAMPLES = 20
RUN_NAME = re.compile(
    r"^(?P<series>\d+(?:\.\d+)?)(?P<prefix>[kM]?)ohm_(?P<amp>\d+(?:\.\d+)?)V_(?P<freq>\d+(?:\.\d+)?)Hz_(?P<device>\w+)$"
)
FIT_TEMPERATURE_K = 298.5
# Steepest physical exponential: an ideal junction (ideality factor 1), β = q/(k·T) ≈ 38.9 /V at 298.5 K.
BETA_MAX_PER_V = float(1.0 / thermal_voltage_V(FIT_TEMPERATURE_K))

# Free parameters in the order of the log-parameter vector; R_off enters as ln(R_off − R_on) so R_on < R_off,
# and one α serves both directions (α_f = α_r = alpha_A) so the fitted device carries no current at 0 V.
FREE = ("r_on_ohm", "r_off_minus_r_on_ohm", "v_on_V", "v_off_V", "tau_s", "alpha_A", "beta_f_per_V",
        "beta_r_per_V")
# Bounds keep every trial physical: resistances, voltages and times within wide ranges, β at most q/(kT).
BOUNDS = {
    "r_on_ohm": (10.0, 1e6),
    "r_off_minus_r_on_ohm": (10.0, 1e9),
    "v_on_V": (1e-3, 2.0),
    "v_off_V": (1e-3, 2.0),
    "tau_s": (1e-9, 1e3),
    "alpha_A": (1e-15, 1e-3),
    "beta_f_per_V": (1e-2, BETA_MAX_PER_V),
    "beta_r_per_V": (1e-2, BETA_MAX_PER_V),
}
_LOG_LOWER = np.log([BOUNDS[k][0] for k in FREE])
_LOG_UPPER = np.log([BOUNDS[k][1] for k in FREE])
# Start: R/φ = the data README's ON ≈ 2 kΩ / OFF ≈ 100 kΩ; Knowm's published V_on = V_off, τ and β; φ = 0.8 from
# Knowm's Xyce example; α = 0.1 µA so the exponential branch starts at the scale of the OFF currents.
INITIAL_GUESS = MSDCParams(
    r_on_ohm=1600.0, r_off_ohm=80e3, v_on_V=0.27, v_off_V=0.27, tau_s=1e-4, temperature_K=FIT_TEMPERATURE_K,
    phi=0.8, alpha_f_A=1e-7, beta_f_per_V=4.0, alpha_r_A=1e-7, beta_r_per_V=4.0,
    source="fit start: Knowm defaults (V_on, V_off, tau, beta, phi) with R_on/R_off scaled to the W-SDC data",
)


@dataclass(frozen=True)
class LoopRun:
    """One measured period of a sine drive through a series resistor and the memristor."""

    name: str
    path: Path
    series_ohm: float
    amplitude_V: float
    frequency_Hz: float
    v_device_V: np.ndarray
    i_A: np.ndarray
    sine_coeffs_V: tuple[float, float, float]  # source = a·sin(2πk/T) + b·cos(2πk/T) + c at sample k

    @property
    def n_samples(self) -> int:
        return int(self.i_A.shape[0])

    def source_V(self, k: np.ndarray) -> np.ndarray:
        """Reconstructed source at sample indices k (periodic, so k may run over several periods)."""
        a, b, c = self.sine_coeffs_V
        phase = 2 * np.pi * np.asarray(k, dtype=float) / self.n_samples
        return a * np.sin(phase) + b * np.cos(phase) + c


# --- reading -------------------------------------------------------------------------------------------------


def _read_two_columns(path: Path) -> np.ndarray:
    """Rows of (V, I) numbers; a single all-text first line is taken as a header. Errors name file and line."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text CSV file") from None
    rows = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 2 or not cells[1]:
            raise ConfigError(f"{path}: line {line_no}: expected 2 columns (voltage, current), found {len(cells)}")
        try:
            values = [float(c) for c in cells[:2]]
        except ValueError:
            if line_no == 1 and not rows and not any(_is_number(c) for c in cells):
                continue
            raise ConfigError(f"{path}: line {line_no}: non-numeric cell in {line.strip()!r}") from None
        if not all(np.isfinite(values)):
            raise ConfigError(f"{path}: line {line_no}: non-finite value (NaN or inf) in {line.strip()!r}")
        rows.append((line_no, *values))
    if len(rows) < MIN_SAMPLES:
        raise ConfigError(f"{path}: {len(rows)} data rows; need at least {MIN_SAMPLES} samples of one period")
    return np.array(rows)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_current_scale(path: Path, rows: np.ndarray, i_A: np.ndarray, unit: str) -> None:
    """Catch a wrong current unit: a memristor loop peaks between 1 nA and 100 mA."""
    k = int(np.argmax(np.abs(i_A)))
    peak = abs(i_A[k])
    low, high = PLAUSIBLE_PEAK_CURRENT_A
    if not low <= peak <= high:
        raise ConfigError(
            f"{path}: line {int(rows[k, 0])}: peak current {rows[k, 2]:g} {unit} = {peak:.3g} A is implausible "
            f"(expected {low:g} A to {high:g} A); is the current column really in {unit}?"
        )


def _fit_sine(v: np.ndarray) -> tuple[tuple[float, float, float], np.ndarray]:
    """Least-squares one-period sine (a, b, offset) through the samples, and the residual."""
    phase = 2 * np.pi * np.arange(v.shape[0]) / v.shape[0]
    basis = np.column_stack([np.sin(phase), np.cos(phase), np.ones_like(phase)])
    coeffs, *_ = np.linalg.lstsq(basis, v, rcond=None)
    return (float(coeffs[0]), float(coeffs[1]), float(coeffs[2])), v - basis @ coeffs


def _make_run(
    name: str, path: Path, rows: np.ndarray, v_source: np.ndarray, series_ohm: float,
    amplitude_V: float | None, frequency_Hz: float, unit: str,
) -> LoopRun:
    """Reconstruct the sine source and check it is one period of the stated amplitude."""
    if not (np.isfinite(frequency_Hz) and frequency_Hz > 0 and np.isfinite(series_ohm) and series_ohm >= 0):
        raise ConfigError(
            f"{path}: need frequency_Hz > 0 and series_ohm >= 0, got {frequency_Hz!r} Hz and {series_ohm!r} ohm"
        )
    coeffs, residual = _fit_sine(v_source)
    fitted_amp = float(np.hypot(coeffs[0], coeffs[1]))
    k = int(np.argmax(np.abs(residual)))
    with np.errstate(over="ignore"):  # absurd values overflow to inf, which the check below rejects
        misfit = float(np.sqrt(np.mean(residual**2)))
    if not misfit <= 0.05 * max(fitted_amp, 1e-12):
        raise ConfigError(
            f"{path}: the source voltage is not one period of a sine (largest misfit on line {int(rows[k, 0])}); "
            "the data must hold exactly one period in time order"
        )
    if amplitude_V is not None and not (np.isfinite(amplitude_V) and amplitude_V > 0):
        raise ConfigError(f"{path}: the stated amplitude must be finite and > 0 V, got {amplitude_V!r}")
    if amplitude_V is not None and abs(fitted_amp - amplitude_V) > 0.1 * amplitude_V:
        raise ConfigError(
            f"{path}: stated amplitude {amplitude_V:g} V but the measured source sine has {fitted_amp:.3g} V"
        )
    i_A = rows[:, 2] * CURRENT_UNITS_A[unit]
    _check_current_scale(path, rows, i_A, unit)
    return LoopRun(
        name=name, path=path, series_ohm=series_ohm,
        amplitude_V=fitted_amp if amplitude_V is None else amplitude_V, frequency_Hz=frequency_Hz,
        v_device_V=rows[:, 1].copy(), i_A=i_A, sine_coeffs_V=coeffs,
    )


def _parse_run_name(name: str) -> tuple[float, float, float] | None:
    """(series Ω, amplitude V, frequency Hz) from e.g. '5kohm_0.8V_10Hz_M2', or None."""
    m = RUN_NAME.match(name)
    if m is None:
        return None
    scale = {"": 1.0, "k": 1e3, "M": 1e6}[m["prefix"]]
    return float(m["series"]) * scale, float(m["amp"]), float(m["freq"])


def _read_run_folder(
    folder: Path, series_ohm: float | None, amplitude_V: float | None, frequency_Hz: float | None, unit: str
) -> LoopRun:
    parsed = _parse_run_name(folder.name)
    if parsed is not None:
        series_ohm, amplitude_V, frequency_Hz = parsed
    elif series_ohm is None or frequency_Hz is None:
        raise ConfigError(
            f"{folder}: folder name is not '<series>ohm_<amp>V_<freq>Hz_<device>' (e.g. 5kohm_0.8V_10Hz_M1); "
            "rename it or pass series_ohm= and frequency_Hz="
        )
    mem_path = folder / MEMRISTOR_CSV
    rows = _read_two_columns(mem_path)
    i_unit = rows[:, 2] * CURRENT_UNITS_A[unit]
    src_path = folder / SOURCE_CSV
    if src_path.is_file():
        src_rows = _read_two_columns(src_path)
        _check_consistent(mem_path, src_path, rows, src_rows, i_unit, series_ohm, unit)
        v_source = src_rows[:, 1]
    else:
        v_source = rows[:, 1] + series_ohm * i_unit
    return _make_run(folder.name, mem_path, rows, v_source, series_ohm, amplitude_V, frequency_Hz, unit)


def _check_consistent(
    mem_path: Path, src_path: Path, rows: np.ndarray, src_rows: np.ndarray, i_A: np.ndarray,
    series_ohm: float, unit: str,
) -> None:
    """Both files must be the same samples, and V(R+M) − V(M) = R_s·I (catches wrong units and wrong R_s)."""
    if src_rows.shape != rows.shape:
        raise ConfigError(f"{src_path}: {src_rows.shape[0]} rows but {mem_path.name} has {rows.shape[0]}")
    mismatch = np.abs(src_rows[:, 1] - rows[:, 1] - series_ohm * i_A)
    k = int(np.argmax(mismatch))
    if mismatch[k] > 0.02 * np.max(np.abs(src_rows[:, 1])) + 1e-3:
        raise ConfigError(
            f"{mem_path}: line {int(rows[k, 0])}: V(R+M) − V(M) = {src_rows[k, 1] - rows[k, 1]:.4g} V but "
            f"R_s·I = {series_ohm * i_A[k]:.4g} V with R_s = {series_ohm:g} ohm and I in {unit}; "
            "check the current unit and the series resistance in the folder name"
        )


def read_runs(
    path: str | Path,
    *,
    amplitude_V: float | None = None,
    frequency_Hz: float | None = None,
    series_ohm: float | None = None,
    current_unit: str = "uA",
) -> list[LoopRun]:
    """Runs from a run folder, a parent folder (searched recursively) or a plain two-column V,I CSV.

    For a plain CSV (V across the memristor, current) the drive comes from the keywords: frequency_Hz and
    series_ohm are required, amplitude_V (checked against the data) is optional.
    """
    path = Path(path)
    if current_unit not in CURRENT_UNITS_A:
        raise ConfigError(f"current_unit {current_unit!r} unknown; allowed: {', '.join(CURRENT_UNITS_A)}")
    if path.is_file():
        if frequency_Hz is None or series_ohm is None:
            raise ConfigError(f"{path}: a plain V,I CSV needs frequency_Hz= and series_ohm= (drive parameters)")
        rows = _read_two_columns(path)
        v_source = rows[:, 1] + series_ohm * rows[:, 2] * CURRENT_UNITS_A[current_unit]
        return [_make_run(path.stem, path, rows, v_source, series_ohm, amplitude_V, frequency_Hz, current_unit)]
    if not path.is_dir():
        raise ConfigError(f"{path}: no such file or folder")
    if (path / MEMRISTOR_CSV).is_file():
        return [_read_run_folder(path, series_ohm, amplitude_V, frequency_Hz, current_unit)]
    folders = sorted(p.parent for p in path.rglob(MEMRISTOR_CSV))
    if not folders:
        raise ConfigError(f"{path}: no run folders (folders holding {MEMRISTOR_CSV}) found")
    return [_read_run_folder(f, series_ohm, amplitude_V, frequency_Hz, current_unit) for f in folders]


# --- simulation ----------------------------------------------------------------------------------------------


def nrmse(measured: np.ndarray, simulated: np.ndarray) -> float:
    """RMSE normalised by the measured range, max(I) − min(I)."""
    return float(np.sqrt(np.mean((simulated - measured) ** 2)) / np.ptp(measured))


def simulate_runs(sets: MSDCArrays, runs: list[LoopRun], periods: int = 3, substeps: int = 2) -> list[np.ndarray]:
    """Replay every run for every parameter set at once; returns per run an array (n_sets, T) of the last
    period's current (A). The device starts OFF (X = 0); earlier periods let it settle into the loop."""
    out: list[np.ndarray] = [np.empty(0)] * len(runs)
    for n_samples in sorted({r.n_samples for r in runs}):
        idx = [j for j, r in enumerate(runs) if r.n_samples == n_samples]
        currents = _simulate_group(sets, [runs[j] for j in idx], n_samples, periods, substeps)
        for g, j in enumerate(idx):
            out[j] = currents[:, g, :]
    return out


def _simulate_group(
    sets: MSDCArrays, group: list[LoopRun], n_samples: int, periods: int, substeps: int
) -> np.ndarray:
    """One twin holding n_sets × n_runs devices (device = set-major), so one time loop serves the whole batch."""
    n_sets, n_runs = sets.n, len(group)
    devices = MSDCArrays(**{f: np.repeat(getattr(sets, f), n_runs) for f in PARAM_FIELDS})
    k = np.arange(periods * n_samples)
    v_src = np.tile(np.column_stack([r.source_V(k) for r in group]), (1, n_sets))
    dt_s = np.tile([1.0 / (r.frequency_Hz * n_samples) for r in group], n_sets)
    r_s = np.tile([r.series_ohm for r in group], n_sets)
    twin = MSDCTwin(devices, x0=0.0)
    _, i_A, _ = twin.simulate_series(v_src, r_s, dt_s, substeps=substeps)
    return i_A[-n_samples:].T.reshape(n_sets, n_runs, n_samples)


def simulate_loop(
    params: MSDCParams, run: LoopRun, periods: int = 3, substeps: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """(device voltage, current) of the last simulated period: scores and overlay plots."""
    k = np.arange(periods * run.n_samples)
    twin = MSDCTwin(params, x0=0.0)
    _, i_A, v_dev = twin.simulate_series(
        run.source_V(k), run.series_ohm, 1.0 / (run.frequency_Hz * run.n_samples), substeps=substeps
    )
    return v_dev[-run.n_samples:, 0], i_A[-run.n_samples:, 0]


# --- fitting -------------------------------------------------------------------------------------------------


def _to_theta(p: MSDCParams) -> np.ndarray:
    values = {f: getattr(p, f) for f in PARAM_FIELDS}
    values["r_off_minus_r_on_ohm"] = p.r_off_ohm - p.r_on_ohm
    values["alpha_A"] = 0.5 * (p.alpha_f_A + p.alpha_r_A)
    return np.log([np.clip(values[k], *BOUNDS[k]) for k in FREE])


def _theta_arrays(thetas: np.ndarray, template: MSDCParams) -> MSDCArrays:
    """Rows of log-parameters → per-set arrays; φ and temperature come from the template."""
    values = dict(zip(FREE, np.exp(np.atleast_2d(thetas)).T))
    n = values["r_on_ohm"].shape[0]
    values["r_off_ohm"] = values.pop("r_off_minus_r_on_ohm") + values["r_on_ohm"]
    values["alpha_f_A"] = values["alpha_r_A"] = values.pop("alpha_A")
    values["phi"] = np.full(n, template.phi)
    values["temperature_K"] = np.full(n, template.temperature_K)
    return MSDCArrays(**values)


def _params_from_theta(theta: np.ndarray, template: MSDCParams, source: str) -> MSDCParams:
    arrays = _theta_arrays(theta, template)
    return params_from_mapping({f: float(getattr(arrays, f)[0]) for f in PARAM_FIELDS} | {"source": source},
                               where="fitted M-SDC parameters")


class _Objective:
    """Residuals (I_sim − I_meas)/(range·√T) per run, so the cost is ½·Σ NRMSE²; the Jacobian simulates all
    forward-difference steps in one batch, which is what makes the fit fast."""

    def __init__(self, runs: list[LoopRun], template: MSDCParams, substeps: int, step: float = 1e-3) -> None:
        self.runs, self.template, self.substeps, self.step = runs, template, substeps, step
        self.scale = [1.0 / (np.ptp(r.i_A) * np.sqrt(r.n_samples)) for r in runs]
        self.n_simulations = 0

    def _residuals(self, thetas: np.ndarray) -> np.ndarray:
        """(n_sets, n_residuals) for rows of log-parameters."""
        self.n_simulations += thetas.shape[0]
        currents = simulate_runs(_theta_arrays(thetas, self.template), self.runs, substeps=self.substeps)
        return np.hstack([(i - r.i_A) * s for i, r, s in zip(currents, self.runs, self.scale)])

    def fun(self, theta: np.ndarray) -> np.ndarray:
        return self._residuals(theta[None, :])[0]

    def jac(self, theta: np.ndarray) -> np.ndarray:
        signs = np.where(theta + self.step > _LOG_UPPER, -1.0, 1.0)
        thetas = np.vstack([theta, theta + np.diag(signs * self.step)])
        res = self._residuals(thetas)
        return ((res[1:] - res[0]) / (signs * self.step)[:, None]).T


@dataclass(frozen=True)
class FitResult:
    params: MSDCParams
    table: pd.DataFrame  # file, series_ohm, amplitude, frequency, used_in_fit, nrmse
    median_nrmse_fit: float
    median_nrmse_heldout: float  # NaN when nothing was held out
    params_path: Path
    table_path: Path
    summary_plot_path: Path
    elapsed_s: float
    n_simulations: int  # device-loop simulations, counting every forward-difference step
    optimizer_message: str  # scipy least_squares' reason for stopping


def _select(runs: list[LoopRun], fit_on: list[str] | None) -> list[bool]:
    """Which runs the fit uses: glob patterns on run names (case-insensitive), or all runs."""
    if fit_on is None:
        return [True] * len(runs)
    chosen = [False] * len(runs)
    for pattern in fit_on:
        hits = [j for j, r in enumerate(runs) if fnmatch.fnmatchcase(r.name.lower(), pattern.lower())]
        if not hits:
            names = ", ".join(r.name for r in runs)
            raise ConfigError(f"fit_on selector {pattern!r} matches no run; runs: {names}")
        for j in hits:
            chosen[j] = True
    return chosen


def _start_points(initial: MSDCParams, n_starts: int, seed: int) -> np.ndarray:
    """The initial guess plus (n_starts − 1) log-normal perturbations of it (σ = 0.5), reproducible from seed."""
    theta0 = _to_theta(initial)
    jitter = np.random.default_rng(seed).normal(0.0, 0.5, size=(n_starts - 1, theta0.shape[0]))
    return np.clip(np.vstack([theta0, theta0 + jitter]), _LOG_LOWER + 1e-9, _LOG_UPPER - 1e-9)


def _unique_names(runs: list[LoopRun]) -> list[str]:
    names: list[str] = []
    for r in runs:
        name = re.sub(r"[^\w.+-]", "_", r.name)
        names.append(name if name not in names else f"{name}_{len(names)}")
    return names


def fit_msdc(
    paths: str | Path | list[str | Path],
    out_dir: str | Path,
    fit_on: str | list[str] | None = None,
    seed: int = 0,
    *,
    initial: MSDCParams | None = None,
    n_starts: int = 1,
    max_nfev: int = 60,
    substeps: int = 2,
    read_options: dict | None = None,
) -> FitResult:
    """Fit one parameter set to the runs selected by `fit_on` (glob patterns on run names; None = all) and
    score every run; writes params.yaml, fit_table.csv, overlay_<run>.png per run and overlay_summary.png.

    `initial` is the start point and fixes φ (default INITIAL_GUESS). n_starts > 1 adds start points drawn
    from `seed` (see `_start_points`), runs a short fit from each and refines the best. `read_options` are
    passed to `read_runs` (drive parameters of plain CSV files).
    """
    started = time.perf_counter()
    for name, value in (("n_starts (--starts)", n_starts), ("max_nfev (--max-evaluations)", max_nfev),
                        ("substeps", substeps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    path_list = [paths] if isinstance(paths, (str, Path)) else list(paths)
    runs = [run for p in path_list for run in read_runs(p, **(read_options or {}))]
    used = _select(runs, [fit_on] if isinstance(fit_on, str) else fit_on)
    fit_runs = [r for r, u in zip(runs, used) if u]
    template = (initial or INITIAL_GUESS).model_copy(update={"temperature_K": FIT_TEMPERATURE_K})
    objective = _Objective(fit_runs, template, substeps)
    theta = _best_start(objective, _start_points(template, n_starts, seed), max_nfev)
    solution = least_squares(objective.fun, theta, jac=objective.jac, bounds=(_LOG_LOWER, _LOG_UPPER),
                             max_nfev=max_nfev)
    fitted = _params_from_theta(solution.x, template, "fit in progress")
    loops = [simulate_loop(fitted, r, substeps=substeps) for r in runs]
    names = _unique_names(runs)
    table = pd.DataFrame({
        "file": [str(r.path) for r in runs], "run": names, "series_ohm": [r.series_ohm for r in runs],
        "amplitude": [r.amplitude_V for r in runs], "frequency": [r.frequency_Hz for r in runs],
        "used_in_fit": used, "nrmse": [nrmse(r.i_A, i_sim) for r, (_, i_sim) in zip(runs, loops)],
    })
    med_fit = float(table.nrmse[table.used_in_fit].median())
    med_held = float(table.nrmse[~table.used_in_fit].median()) if not all(used) else float("nan")
    source = (
        f"fitted with cosim.devices.msdc.fit.fit_msdc(fit_on={fit_on!r}, seed={seed}, n_starts={n_starts}, "
        f"max_nfev={max_nfev}, substeps={substeps}) on {len(fit_runs)} measured loops "
        f"({', '.join(r.name for r in fit_runs)}); phi held at {template.phi:g}, T at {FIT_TEMPERATURE_K} K; "
        f"median NRMSE {med_fit:.3f} on fitted runs, {med_held:.3f} on {len(runs) - len(fit_runs)} held-out runs"
    )
    params = fitted.model_copy(update={"source": source})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params_path = write_params_file(params, out / "params.yaml")
    table_path = out / "fit_table.csv"
    table.to_csv(table_path, index=False)
    summary = _write_plots(runs, loops, names, used, table.nrmse.tolist(), out)
    return FitResult(
        params=params, table=table, median_nrmse_fit=med_fit, median_nrmse_heldout=med_held,
        params_path=params_path, table_path=table_path, summary_plot_path=summary,
        elapsed_s=time.perf_counter() - started, n_simulations=objective.n_simulations,
        optimizer_message=str(solution.message),
    )


def _best_start(objective: _Objective, starts: np.ndarray, max_nfev: int) -> np.ndarray:
    """With one start, itself; otherwise a short fit (a quarter of the budget) from each, keeping the best."""
    if starts.shape[0] == 1:
        return starts[0]
    best, best_cost = starts[0], np.inf
    for theta0 in starts:
        sol = least_squares(objective.fun, theta0, jac=objective.jac, bounds=(_LOG_LOWER, _LOG_UPPER),
                            max_nfev=max(max_nfev // 4, 2))
        if sol.cost < best_cost:
            best, best_cost = sol.x, sol.cost
    return best


# --- plots ---------------------------------------------------------------------------------------------------


def _plot_loop(ax, run: LoopRun, loop: tuple[np.ndarray, np.ndarray], score: float, used: bool) -> None:
    ax.plot(run.v_device_V, run.i_A * 1e6, ".", ms=3, color="0.3", label="measured")
    ax.plot(loop[0], loop[1] * 1e6, "-", lw=1.2, color="tab:red", label="fitted model")
    ax.set_title(f"{run.name} ({'fit' if used else 'held out'}), NRMSE {score:.3f}", fontsize=8)
    ax.set_xlabel("V across memristor (V)", fontsize=7)
    ax.set_ylabel("I (µA)", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.grid(alpha=0.3)


def _write_plots(
    runs: list[LoopRun], loops: list[tuple[np.ndarray, np.ndarray]], names: list[str], used: list[bool],
    scores: list[float], out: Path,
) -> Path:
    """overlay_<run>.png per run and overlay_summary.png (all runs in a grid); returns the summary path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for run, loop, name, u, s in zip(runs, loops, names, used, scores):
        fig, ax = plt.subplots(figsize=(4.5, 3.5))
        _plot_loop(ax, run, loop, s, u)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"overlay_{name}.png", dpi=110)
        plt.close(fig)
    cols = min(6, len(runs))
    rows = -(-len(runs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.7 * rows), squeeze=False)
    for ax, run, loop, u, s in zip(axes.ravel(), runs, loops, used, scores):
        _plot_loop(ax, run, loop, s, u)
    for ax in axes.ravel()[len(runs):]:
        ax.set_visible(False)
    fig.tight_layout()
    summary = out / "overlay_summary.png"
    fig.savefig(summary, dpi=90)
    plt.close(fig)
    return summary
