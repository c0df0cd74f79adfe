"""Knowm M-SDC memristor: the generalized mean metastable switch model (Molter & Nugent 2016) in numpy.

V = V(TE) − V(BE), V_T = k·T/q, σ(z) = 1/(1 + e^−z):

    P_on  = (1/τ)·σ((V − V_on)/V_T)
    P_off = (1/τ)·(1 − σ((V + V_off)/V_T)) = (1/τ)·σ(−(V + V_off)/V_T)
    dX/dt = (1 − X)·P_on − X·P_off
    G(X)  = X/R_on + (1 − X)/R_off
    I     = φ·V·G(X) + (1 − φ)·(α_f·e^{β_f·V} − α_r·e^{−β_r·V})

Parameter sets are validated pydantic models (`MSDCParams`); presets W, Cr and C live in
`device_models/msdc_presets.yaml`. `MSDCTwin` integrates many devices at once: it is the reference the SPICE
model is checked against and the fast path for arrays too large for SPICE.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import yaml
from numpy.typing import ArrayLike
from pydantic import ConfigDict, Field, ValidationError, model_validator
from scipy.special import expit, exprel

from cosim import safe_yaml
from cosim.config import Strict
from cosim.devices.base import Presets
from cosim.errors import ConfigError
from cosim.limits import (MAX_CURRENT_A, MAX_EXPONENT_PER_V, MAX_REL_STD, MAX_RESISTANCE_OHM, MAX_TEMPERATURE_K,
                          MAX_TIME_CONSTANT_S, MAX_VOLTAGE_V, MIN_RESISTANCE_OHM, MIN_TEMPERATURE_K, MIN_TIME_S)

BOLTZMANN_J_PER_K = 1.380649e-23
ELEMENTARY_CHARGE_C = 1.602176634e-19

# Allowed range of every parameter, quoted in error messages.
ALLOWED_RANGES = {
    "r_on_ohm": f"a number, {MIN_RESISTANCE_OHM:g} <= r_on_ohm < r_off_ohm",
    "r_off_ohm": f"a number, r_on_ohm < r_off_ohm <= {MAX_RESISTANCE_OHM:g}",
    "v_on_V": f"a number, 0 < v_on_V <= {MAX_VOLTAGE_V:g} V",
    "v_off_V": f"a number, 0 < v_off_V <= {MAX_VOLTAGE_V:g} V",
    "tau_s": f"a number, {MIN_TIME_S:g} <= tau_s <= {MAX_TIME_CONSTANT_S:g} s",
    "temperature_K": f"a number, {MIN_TEMPERATURE_K:g} <= temperature_K <= {MAX_TEMPERATURE_K:g} K",
    "phi": "a number, 0 <= phi <= 1",
    "alpha_f_A": f"a number, 0 <= alpha_f_A <= {MAX_CURRENT_A:g} A",
    "beta_f_per_V": f"a number, 0 <= beta_f_per_V <= {MAX_EXPONENT_PER_V:g} 1/V",
    "alpha_r_A": f"a number, 0 <= alpha_r_A <= {MAX_CURRENT_A:g} A",
    "beta_r_per_V": f"a number, 0 <= beta_r_per_V <= {MAX_EXPONENT_PER_V:g} 1/V",
    "source": "non-empty text saying where the numbers come from",
}


class MSDCParams(Strict):
    """One M-SDC parameter set; `source` records where the numbers come from (fit, datasheet, choice)."""

    model_config = ConfigDict(frozen=True)

    r_on_ohm: float = Field(ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM,
                            description="resistance of the memristive branch with all switches ON")
    r_off_ohm: float = Field(ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM,
                             description="resistance of the memristive branch with all switches OFF")
    v_on_V: float = Field(gt=0, le=MAX_VOLTAGE_V, description="voltage at which a switch turns ON at rate 1/(2τ)")
    v_off_V: float = Field(gt=0, le=MAX_VOLTAGE_V, description="magnitude of the negative voltage turning switches OFF")
    tau_s: float = Field(ge=MIN_TIME_S, le=MAX_TIME_CONSTANT_S, description="switching time constant")
    temperature_K: float = Field(298.5, ge=MIN_TEMPERATURE_K, le=MAX_TEMPERATURE_K)
    phi: float = Field(ge=0, le=1, description="share of the current through the memristive branch")
    alpha_f_A: float = Field(ge=0, le=MAX_CURRENT_A, description="forward Schottky-like saturation current")
    beta_f_per_V: float = Field(ge=0, le=MAX_EXPONENT_PER_V)
    alpha_r_A: float = Field(ge=0, le=MAX_CURRENT_A, description="reverse Schottky-like saturation current")
    beta_r_per_V: float = Field(ge=0, le=MAX_EXPONENT_PER_V)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _on_below_off(self) -> MSDCParams:
        if not self.r_on_ohm < self.r_off_ohm:
            raise ValueError(f"r_on_ohm ({self.r_on_ohm:g}) must be below r_off_ohm ({self.r_off_ohm:g})")
        return self


PARAM_FIELDS = tuple(name for name in MSDCParams.model_fields if name != "source")


@dataclass(frozen=True)
class MSDCArrays:
    """Per-instance parameters, one numpy array of shape (n,) per field (device-to-device variation)."""

    r_on_ohm: np.ndarray
    r_off_ohm: np.ndarray
    v_on_V: np.ndarray
    v_off_V: np.ndarray
    tau_s: np.ndarray
    temperature_K: np.ndarray
    phi: np.ndarray
    alpha_f_A: np.ndarray
    beta_f_per_V: np.ndarray
    alpha_r_A: np.ndarray
    beta_r_per_V: np.ndarray

    @property
    def n(self) -> int:
        return int(self.r_on_ohm.shape[0])

    @classmethod
    def from_params(cls, params: MSDCParams, n: int) -> MSDCArrays:
        """n identical instances of one parameter set."""
        return cls(**{name: np.full(n, float(getattr(params, name))) for name in PARAM_FIELDS})


ParamsLike = Union[MSDCParams, MSDCArrays]


def _describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if key:
            allowed = ALLOWED_RANGES.get(key, "one of " + ", ".join(ALLOWED_RANGES))
            message = err["msg"].removeprefix("Value error, ")
            parts.append(f"{key} = {err.get('input')!r}: {message} (allowed: {allowed})")
        else:
            parts.append(f"{err['msg']} (allowed: {ALLOWED_RANGES['r_on_ohm']})")
    return "; ".join(parts)


def params_from_mapping(data: Mapping[str, Any], where: str) -> MSDCParams:
    """Validate a mapping into MSDCParams; a bad value becomes a ConfigError naming `where`, key and range."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of M-SDC parameters, got {type(data).__name__}")
    try:
        return MSDCParams.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_describe_validation_error(exc)}") from None


# --- physics -------------------------------------------------------------------------------------------------


def thermal_voltage_V(temperature_K: ArrayLike) -> np.ndarray:
    return BOLTZMANN_J_PER_K * np.asarray(temperature_K, dtype=float) / ELEMENTARY_CHARGE_C


def switching_rates_per_s(p: ParamsLike, v_V: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(P_on, P_off); expit keeps the sigmoids overflow-free at any drive."""
    v = np.asarray(v_V, dtype=float)
    vt = thermal_voltage_V(p.temperature_K)
    p_on = expit((v - p.v_on_V) / vt) / p.tau_s
    p_off = expit(-(v + p.v_off_V) / vt) / p.tau_s
    return p_on, p_off


def dxdt(p: ParamsLike, v_V: ArrayLike, x: ArrayLike) -> np.ndarray:
    p_on, p_off = switching_rates_per_s(p, v_V)
    x = np.asarray(x, dtype=float)
    return (1.0 - x) * p_on - x * p_off


def conductance(p: ParamsLike, x: ArrayLike) -> np.ndarray:
    """Conductance G(X) of the memristive branch, S."""
    x = np.asarray(x, dtype=float)
    return x / p.r_on_ohm + (1.0 - x) / p.r_off_ohm


def current(p: ParamsLike, v_V: ArrayLike, x: ArrayLike) -> np.ndarray:
    """Device current, A (positive from TE to BE)."""
    v = np.asarray(v_V, dtype=float)
    diode = p.alpha_f_A * np.exp(p.beta_f_per_V * v) - p.alpha_r_A * np.exp(-p.beta_r_per_V * v)
    return p.phi * v * conductance(p, x) + (1.0 - p.phi) * diode


def current_and_slope(p: ParamsLike, v: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """I(V, X) and dI/dV, shared by the Newton solve so the exponentials are evaluated once."""
    g = conductance(p, x)
    fwd = p.alpha_f_A * np.exp(p.beta_f_per_V * v)
    rev = p.alpha_r_A * np.exp(-p.beta_r_per_V * v)
    i = p.phi * v * g + (1.0 - p.phi) * (fwd - rev)
    di_dv = p.phi * g + (1.0 - p.phi) * (p.beta_f_per_V * fwd + p.beta_r_per_V * rev)
    return i, di_dv


def x_from_resistance(p: ParamsLike, r_ohm: ArrayLike) -> np.ndarray:
    """Start state from a resistance of the memristive branch: X0 = R_on(R − R_off)/(R(R_on − R_off)), in [0, 1]."""
    r = np.asarray(r_ohm, dtype=float)
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ConfigError(f"resistance must be finite and > 0 ohm, got {r_ohm!r}")
    x = p.r_on_ohm * (r - p.r_off_ohm) / (r * (p.r_on_ohm - p.r_off_ohm))
    return np.clip(x, 0.0, 1.0)


def advance_state(p: ParamsLike, x: ArrayLike, v_V: ArrayLike, dt_s: ArrayLike) -> np.ndarray:
    """State after dt with V held: dX/dt = a − (a+b)X is linear in X, so the step is exact and stays in [0, 1].

    X(t+dt) = X·e^{−s·dt} + a·dt·(1 − e^{−s·dt})/(s·dt), s = a + b; exprel keeps it exact as s·dt → 0.
    """
    a, b = switching_rates_per_s(p, v_V)
    s_dt = (a + b) * dt_s
    x_new = np.asarray(x, dtype=float) * np.exp(-s_dt) + a * dt_s * exprel(-s_dt)
    return np.clip(x_new, 0.0, 1.0)


def zero_bias_states(p: ParamsLike, x: ArrayLike, duration_s: float) -> np.ndarray:
    """States after `duration_s` at 0 V: X relaxes exponentially towards X∞ = P_on(0)/(P_on(0) + P_off(0)) with
    time constant 1/(P_on(0) + P_off(0)) (0.73 s for the presets), exactly (`advance_state` at V = 0)."""
    return advance_state(p, x, 0.0, duration_s)


def series_device_voltage_V(
    p: ParamsLike,
    v_source_V: ArrayLike,
    r_series_ohm: ArrayLike,
    x: ArrayLike,
    v_guess_V: ArrayLike | None = None,
    tol_V: float = 1e-12,
) -> np.ndarray:
    """Device voltage V solving V_src = V + R_s·I(V, X), vectorised.

    f(V) = V + R_s·I(V) − V_src rises with slope >= 1 (I rises with V), so the root lies between 0 and
    V_src − R_s·I(0, X). Newton steps leaving that bracket are replaced by bisection, which makes the solve
    converge for any parameters; 200 iterations bound even pure bisection below tol_V.
    """
    v_src = np.asarray(v_source_V, dtype=float)
    r_s = np.asarray(r_series_ohm, dtype=float)
    x = np.asarray(x, dtype=float)
    bound = v_src - r_s * current(p, 0.0, x)
    lo, hi = np.minimum(0.0, bound), np.maximum(0.0, bound)
    v = 0.5 * (lo + hi) if v_guess_V is None else np.clip(v_guess_V, lo, hi)
    for _ in range(200):
        i, di_dv = current_and_slope(p, v, x)
        f = v + r_s * i - v_src
        above = f > 0
        hi = np.where(above, v, hi)
        lo = np.where(above, lo, v)
        v_new = v - f / (1.0 + r_s * di_dv)
        v_new = np.where((v_new < lo) | (v_new > hi), 0.5 * (lo + hi), v_new)
        converged = np.all(np.abs(v_new - v) <= tol_V)
        v = v_new
        if converged:
            break
    return v


# --- twin ----------------------------------------------------------------------------------------------------


def _step_durations(n_samples: int, n: int, dt_s: ArrayLike | None, t_s: ArrayLike | None) -> np.ndarray:
    """Durations of the n_samples − 1 steps, shape (n_samples − 1, n)."""
    if (dt_s is None) == (t_s is None):
        raise ValueError("give exactly one of dt_s (step, scalar or one per device) or t_s (sample times)")
    if t_s is not None:
        t = np.asarray(t_s, dtype=float)
        if t.shape != (n_samples,):
            raise ValueError(f"t_s must have shape ({n_samples},), got {t.shape}")
        h = np.diff(t)[:, None]
    else:
        h = np.asarray(dt_s, dtype=float)
        if h.ndim > 1 or (h.ndim == 1 and h.shape[0] != n):
            raise ValueError(f"dt_s must be a scalar or have shape ({n},), got {h.shape}")
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise ValueError("time steps must be finite and > 0 (t_s strictly increasing)")
    return np.broadcast_to(h, (max(n_samples - 1, 0), n))


class MSDCTwin:
    """Vectorised numpy integrator of n M-SDC devices; state `x` has shape (n,).

    Drives are samples at times t_0 … t_{T−1}; x[k] and I[k] are state and current at t_k (x[0] is the state
    before the call). A drive that varies within a step is taken at its midpoint value (V_k + V_{k+1})/2, so a
    sampled sine is integrated to second order; rectangular pulses are best applied with `step`.
    """

    def __init__(self, params: ParamsLike, x0: ArrayLike = 0.0, n: int | None = None) -> None:
        if isinstance(params, MSDCParams):
            params = MSDCArrays.from_params(params, n if n is not None else max(np.size(x0), 1))
        elif n is not None and n != params.n:
            raise ValueError(f"n = {n} disagrees with the {params.n} instances in params")
        x = np.asarray(x0, dtype=float)
        if not np.all(np.isfinite(x)) or np.any((x < 0) | (x > 1)):
            raise ConfigError(f"initial state x0 must lie in [0, 1], got {x0!r}")
        self.params = params
        self.x = np.broadcast_to(x, (params.n,)).copy()

    @property
    def n(self) -> int:
        return self.params.n

    def conductance(self) -> np.ndarray:
        return conductance(self.params, self.x)

    def current(self, v_V: ArrayLike) -> np.ndarray:
        return current(self.params, v_V, self.x)

    def step(self, v_V: ArrayLike, dt_s: ArrayLike) -> np.ndarray:
        """Hold v for dt (exact for any dt) and return the new state."""
        self.x = advance_state(self.params, self.x, v_V, dt_s)
        return self.x.copy()

    def _drive(self, v: ArrayLike, name: str) -> np.ndarray:
        arr = np.asarray(v, dtype=float)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] not in (1, self.n) or arr.shape[0] < 1:
            raise ValueError(f"{name} must have shape (T,) or (T, {self.n}), got {np.shape(v)}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains non-finite values")
        return np.broadcast_to(arr, (arr.shape[0], self.n))

    def simulate(
        self, v_V: ArrayLike, dt_s: ArrayLike | None = None, *, t_s: ArrayLike | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Device voltage drive, shape (T,) or (T, n) → (x, current), both shape (T, n)."""
        v = self._drive(v_V, "v_V")
        h = _step_durations(v.shape[0], self.n, dt_s, t_s)
        x = np.empty(v.shape)
        x[0] = self.x
        for k in range(v.shape[0] - 1):
            x[k + 1] = advance_state(self.params, x[k], 0.5 * (v[k] + v[k + 1]), h[k])
        self.x = x[-1].copy()
        return x, current(self.params, v, x)

    def simulate_series(
        self,
        v_source_V: ArrayLike,
        r_series_ohm: ArrayLike,
        dt_s: ArrayLike | None = None,
        *,
        t_s: ArrayLike | None = None,
        substeps: int = 4,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Source → series resistor → device: returns (x, current, device voltage), each shape (T, n).

        Each sample interval is split into `substeps` pieces with the source interpolated linearly. A piece
        is an exponential midpoint step: solve V at the current state, advance X half a piece, solve V again
        and advance the whole piece with it. That keeps the threshold "clamp" (V pinned where switching just
        tracks the drive) accurate with few substeps; see docs/msdc_fit.md for the convergence check.
        """
        if substeps < 1:
            raise ValueError(f"substeps must be >= 1, got {substeps}")
        v_src = self._drive(v_source_V, "v_source_V")
        r_s = np.broadcast_to(np.asarray(r_series_ohm, dtype=float), (self.n,))
        if not np.all(np.isfinite(r_s)) or np.any(r_s < 0):
            raise ValueError("r_series_ohm must be finite and >= 0")
        h = _step_durations(v_src.shape[0], self.n, dt_s, t_s) / substeps
        p = self.params
        x = np.empty(v_src.shape)
        v_dev = np.empty(v_src.shape)
        x[0] = self.x
        v_dev[0] = series_device_voltage_V(p, v_src[0], r_s, x[0])
        state, v_guess = x[0].copy(), v_dev[0]
        for k in range(v_src.shape[0] - 1):
            for j in range(substeps):
                v_mid_src = v_src[k] + (v_src[k + 1] - v_src[k]) * ((j + 0.5) / substeps)
                v_guess = series_device_voltage_V(p, v_mid_src, r_s, state, v_guess)
                x_half = advance_state(p, state, v_guess, 0.5 * h[k])
                v_guess = series_device_voltage_V(p, v_mid_src, r_s, x_half, v_guess)
                state = advance_state(p, state, v_guess, h[k])
            x[k + 1] = state
            v_dev[k + 1] = series_device_voltage_V(p, v_src[k + 1], r_s, state, v_guess)
            v_guess = v_dev[k + 1]
        self.x = state.copy()
        return x, current(p, v_dev, x), v_dev


# --- variation -----------------------------------------------------------------------------------------------


class Variation(Strict):
    """Relative standard deviations of device-to-device variation (0 = none).

    Each varied parameter is multiplied by a lognormal factor with mean 1 and the given relative std, so values
    stay positive; pairs with R_on >= R_off are redrawn (the joint lognormal conditioned on R_on < R_off).
    """

    model_config = ConfigDict(frozen=True)

    r_on_rel_std: float = Field(0.0, ge=0, le=MAX_REL_STD)
    r_off_rel_std: float = Field(0.0, ge=0, le=MAX_REL_STD)
    v_on_rel_std: float = Field(0.0, ge=0, le=MAX_REL_STD)
    v_off_rel_std: float = Field(0.0, ge=0, le=MAX_REL_STD)
    tau_rel_std: float = Field(0.0, ge=0, le=MAX_REL_STD)


_VARIED = (
    ("r_on_ohm", "r_on_rel_std"),
    ("r_off_ohm", "r_off_rel_std"),
    ("v_on_V", "v_on_rel_std"),
    ("v_off_V", "v_off_rel_std"),
    ("tau_s", "tau_rel_std"),
)


def _lognormal_factors(rng: np.random.Generator, rel_std: float, n: int) -> np.ndarray:
    """Mean-1 lognormal factors; drawn even for rel_std = 0 so each parameter keeps its own random stream."""
    sigma = np.sqrt(np.log1p(rel_std**2))
    return np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma**2)


def draw_instances(params: MSDCParams, variation: Variation, n: int, seed: int) -> MSDCArrays:
    """n device instances drawn reproducibly from `seed` (numpy default_rng)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    values = {name: np.full(n, float(getattr(params, name))) for name in PARAM_FIELDS}
    for name, std_key in _VARIED:
        values[name] = values[name] * _lognormal_factors(rng, getattr(variation, std_key), n)
    for _ in range(1000):
        bad = values["r_on_ohm"] >= values["r_off_ohm"]
        if not bad.any():
            return MSDCArrays(**values)
        values["r_on_ohm"][bad] = params.r_on_ohm * _lognormal_factors(rng, variation.r_on_rel_std, bad.sum())
        values["r_off_ohm"][bad] = params.r_off_ohm * _lognormal_factors(rng, variation.r_off_rel_std, bad.sum())
    raise ConfigError(
        f"variation too wide: R_on >= R_off in {int(bad.sum())} of {n} instances after 1000 redraws; "
        "reduce r_on_rel_std / r_off_rel_std"
    )


# --- presets and parameter files -----------------------------------------------------------------------------


PRESETS = Presets("msdc", "M-SDC")


def preset_names() -> list[str]:
    return PRESETS.names()


def load_preset(name: str) -> MSDCParams:
    """Preset by name, case-insensitive ("W", "Cr", "C")."""
    key = PRESETS.key(name)
    return params_from_mapping(PRESETS.entry(key), where=f"{PRESETS.path}: preset {key}")


def load_params_file(path: str | Path) -> MSDCParams:
    """A YAML file holding one parameter set as a mapping (the format `write_params_file` and the fitter write).
    Read once per version of the file: a sweep validates it for each of up to thousands of points."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        info = None  # the reader names the problem
    if info is None:
        return _params_file(str(path), 0, -1)
    return _params_file(str(path), info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=16)
def _params_file(path: str, mtime_ns: int, size: int) -> MSDCParams:
    return params_from_mapping(safe_yaml.read(Path(path)), where=path)


def write_params_file(params: MSDCParams, path: str | Path) -> Path:
    path = Path(path)
    data = {name: float(getattr(params, name)) for name in PARAM_FIELDS}
    data["source"] = params.source
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100, allow_unicode=True), encoding="utf-8")
    return path
