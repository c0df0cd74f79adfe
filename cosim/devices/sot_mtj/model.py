"""SOT-MTJ stochastic neuron: parameters, width presets, per-instance variation and the numpy twin.

A write current I through the heavy-metal strip switches the free layer by thermal activation with rate
r(I) = min(exp(Δ·(I/Ic0 − 1))/τ0, r_max) (Néel–Brown); a pulse switches it with probability
P = 1 − exp(−H), H = ∫ r(I(t)) dt. For a rectangular pulse of width t_p that is the familiar
1 − exp(−(t_p/τ0)·exp(−Δ(1 − I/Ic0))); the twin integrates the trapezoidal pulses the circuit applies
exactly, so SPICE (device_models/sot_mtj.lib, which integrates the same rate on a node and compares it
with a random threshold) and the twin sample the same probability function and can be compared
statistically. Presets for several widths are built from scaling laws (device_models/sot_mtj_presets.yaml):
bias current ∝ width, window ∝ width^(1 − γ), spread ∝ 1/width.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy.optimize import minimize
from scipy.special import expit

from cosim.config import Strict
from cosim.devices.base import Presets
from cosim.errors import ConfigError
from cosim.limits import MAX_GAIN, MAX_TIME_S, MAX_VOLTAGE_V, MIN_TIME_S

RATE_MAX_PER_S = 1e12  # switching-rate cap (the circuit's rmax): H saturates instead of overflowing
WINDOW_PER_DI = 2.0 * math.log(9.0)  # 10–90 % window of a logistic in units of its scale dI


class SOTParams(BaseModel):
    """One device design at one width; `source` says where the numbers come from."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    width_m: float = Field(gt=0, description="heavy-metal strip width = free-layer width")
    hm_length_m: float = Field(gt=0, description="strip length between the write contacts")
    hm_thickness_m: float = Field(gt=0)
    hm_resistivity_ohm_m: float = Field(gt=0)
    jc0_A_per_m2: float = Field(gt=0, description="zero-temperature critical current density")
    delta: float = Field(gt=0, description="thermal stability factor E_b/kT")
    tau0_s: float = Field(gt=0, description="attempt time")
    ra_ohm_m2: float = Field(gt=0, description="MTJ resistance-area product")
    tmr: float = Field(gt=0, description="tunnel magnetoresistance: R_AP = R_P (1 + TMR)")
    free_layer_aspect: float = Field(ge=1, description="elliptical free layer: length / width")
    ic0_rel_std: float = Field(ge=0, lt=1, description="device-to-device spread of Ic0 (relative std)")
    delta_rel_std: float = Field(ge=0, lt=1)
    rp_rel_std: float = Field(ge=0, lt=1)
    source: str = Field(min_length=1)

    @property
    def hm_resistance_ohm(self) -> float:
        return self.hm_resistivity_ohm_m * self.hm_length_m / (self.width_m * self.hm_thickness_m)

    @property
    def ic0_A(self) -> float:
        return self.jc0_A_per_m2 * self.width_m * self.hm_thickness_m

    @property
    def free_layer_area_m2(self) -> float:
        return math.pi / 4.0 * self.width_m * self.width_m * self.free_layer_aspect

    @property
    def rp_ohm(self) -> float:
        return self.ra_ohm_m2 / self.free_layer_area_m2

    @property
    def rap_ohm(self) -> float:
        return self.rp_ohm * (1.0 + self.tmr)


class Timing(Strict):
    """One slot of the neuron, repeated for every sample: reset pulse, write pulse, read.

    Write line: 0 → −I_reset (edge), held reset_width_s, → +I_write (edge), held write_width_s, → 0 (edge).
    Read line: then 0 → read_V (edge), held read_width_s, → 0 (edge). Slot = 5 edges + the three widths.
    """

    write_width_s: float = Field(1e-8, ge=MIN_TIME_S, le=MAX_TIME_S)
    reset_width_s: float = Field(2e-9, ge=MIN_TIME_S, le=MAX_TIME_S)
    read_width_s: float = Field(2e-9, ge=MIN_TIME_S, le=MAX_TIME_S)
    edge_s: float = Field(2e-10, ge=MIN_TIME_S, le=MAX_TIME_S)
    # reverse current of the reset pulse, in units of the nominal Ic0: well above it, so the reset is
    # deterministic (assumed; the precessional regime is not modelled)
    reset_ratio: float = Field(2.0, ge=1.0, le=MAX_GAIN)
    read_V: float = Field(0.1, gt=0, le=1.0)
    vdd_V: float = Field(1.0, gt=0, le=MAX_VOLTAGE_V)

    @property
    def slot_s(self) -> float:
        return 5 * self.edge_s + self.reset_width_s + self.write_width_s + self.read_width_s

    @property
    def read_time_in_slot_s(self) -> float:
        """Where the sense output is sampled: the middle of the read plateau."""
        return 4 * self.edge_s + self.reset_width_s + self.write_width_s + self.read_width_s / 2


@dataclass(frozen=True)
class SOTArrays:
    """Per-instance device values, shape (n,): what differs from device to device, plus shared values."""

    ic0_A: np.ndarray
    delta: np.ndarray
    rp_ohm: np.ndarray
    hm_resistance_ohm: float
    tau0_s: float
    tmr: float

    @property
    def n(self) -> int:
        return int(self.ic0_A.shape[0])

    @property
    def rap_ohm(self) -> np.ndarray:
        return self.rp_ohm * (1.0 + self.tmr)

    @classmethod
    def nominal(cls, params: SOTParams, n: int) -> "SOTArrays":
        """n identical devices."""
        return cls(np.full(n, params.ic0_A), np.full(n, params.delta), np.full(n, params.rp_ohm),
                   params.hm_resistance_ohm, params.tau0_s, params.tmr)

    def subset(self, index: ArrayLike) -> "SOTArrays":
        index = np.asarray(index)
        return replace(self, ic0_A=self.ic0_A[index], delta=self.delta[index], rp_ohm=self.rp_ohm[index])


class Variation(Strict):
    """Device-to-device spread: the preset's own relative stds of Ic0, Δ and R_P, multiplied by `scale`."""

    scale: float = Field(1.0, ge=0, le=5)


def draw_instances(params: SOTParams, n: int, seed: int, variation_scale: float = 1.0) -> SOTArrays:
    """n devices with lognormal device-to-device spread (the preset's relative stds × variation_scale)."""
    if n < 1:
        raise ConfigError(f"need at least one device instance, got {n}")
    if not (math.isfinite(variation_scale) and variation_scale >= 0):
        raise ConfigError(f"variation_scale must be finite and >= 0, got {variation_scale}")
    rng = np.random.default_rng([seed, 53])

    def factors(rel_std: float) -> np.ndarray:
        sigma = math.sqrt(math.log1p((rel_std * variation_scale) ** 2))
        return np.exp(rng.normal(-0.5 * sigma * sigma, sigma, n))

    nominal = SOTArrays.nominal(params, n)
    return replace(nominal, ic0_A=nominal.ic0_A * factors(params.ic0_rel_std),
                   delta=nominal.delta * factors(params.delta_rel_std),
                   rp_ohm=nominal.rp_ohm * factors(params.rp_rel_std))


# --- presets ---------------------------------------------------------------------------------------------------


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: str = Field(min_length=1)
    hm_resistivity_ohm_m: float = Field(gt=0)
    hm_thickness_m: float = Field(gt=0)
    hm_length_per_width: float = Field(gt=0)
    free_layer_aspect: float = Field(ge=1)
    jc0_A_per_m2: float = Field(gt=0)
    tau0_s: float = Field(gt=0)
    ra_ohm_m2: float = Field(gt=0)
    tmr: float = Field(gt=0)


class _Scaling(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    source: str = Field(min_length=1)
    w_ref_m: float = Field(gt=0)
    delta_ref: float = Field(gt=0)
    delta_exponent: float
    ic0_rel_std_ref: float = Field(ge=0, lt=1)
    delta_rel_std_ref: float = Field(ge=0, lt=1)
    rp_rel_std_ref: float = Field(ge=0, lt=1)
    spread_exponent: float

    @model_validator(mode="after")
    def _exponents(self) -> "_Scaling":
        if not 0 <= self.delta_exponent <= 3 or not 0 <= self.spread_exponent <= 3:
            raise ValueError("delta_exponent and spread_exponent must lie in [0, 3]")
        return self


def build_params(base: _Base, scaling: _Scaling, width_m: float, name: str = "") -> SOTParams:
    """The device at one width from the reference design and the scaling laws (see the preset file)."""
    ratio = width_m / scaling.w_ref_m
    spread = ratio ** (-scaling.spread_exponent)
    return SOTParams(
        width_m=width_m, hm_length_m=base.hm_length_per_width * width_m, hm_thickness_m=base.hm_thickness_m,
        hm_resistivity_ohm_m=base.hm_resistivity_ohm_m, jc0_A_per_m2=base.jc0_A_per_m2,
        delta=scaling.delta_ref * ratio ** scaling.delta_exponent, tau0_s=base.tau0_s, ra_ohm_m2=base.ra_ohm_m2,
        tmr=base.tmr, free_layer_aspect=base.free_layer_aspect,
        ic0_rel_std=min(scaling.ic0_rel_std_ref * spread, 0.5),
        delta_rel_std=min(scaling.delta_rel_std_ref * spread, 0.5),
        rp_rel_std=min(scaling.rp_rel_std_ref * spread, 0.5),
        source=f"preset {name or width_m}: width {width_m * 1e9:g} nm from the scaling laws of {PRESETS.file}; "
               + base.source,
    )


PRESETS = Presets("sot_mtj", "SOT-MTJ", section="widths")


def _presets() -> tuple[_Base, _Scaling, dict[str, float]]:
    """The preset file's reference design, scaling laws and named widths, validated."""
    return _validated(str(PRESETS.path))


@functools.lru_cache(maxsize=4)
def _validated(path: str) -> tuple[_Base, _Scaling, dict[str, float]]:
    data = PRESETS.data()
    if not isinstance(data, Mapping) or not {"base", "scaling", "widths"} <= set(data):
        raise ConfigError(f"{path}: expected the sections base, scaling and widths")
    try:
        base, scaling = _Base.model_validate(data["base"]), _Scaling.model_validate(data["scaling"])
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(map(str, err['loc']))} = {err.get('input')!r}: {err['msg']}") from None
    widths = data["widths"]
    if not isinstance(widths, Mapping) or not widths:
        raise ConfigError(f"{path}: widths must map preset names to widths in metres")
    for key, value in widths.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{path}: widths.{key} = {value!r}: expected a width in metres > 0")
    return base, scaling, {str(k): float(v) for k, v in widths.items()}


def preset_names() -> list[str]:
    return list(_presets()[2])


def load_preset(name: str) -> SOTParams:
    """A width preset by name (case-insensitive), e.g. "w100"."""
    base, scaling, widths = _presets()
    key = PRESETS.key(name)
    return build_params(base, scaling, widths[key], key)


def width_params(width_m: float) -> SOTParams:
    """A device of any width from the preset file's reference design and scaling laws."""
    if not (isinstance(width_m, (int, float)) and math.isfinite(width_m) and width_m > 0):
        raise ConfigError(f"width must be a finite number of metres > 0, got {width_m!r}")
    base, scaling, _ = _presets()
    return build_params(base, scaling, float(width_m), f"w{width_m * 1e9:g}")


# --- physics ---------------------------------------------------------------------------------------------------


def reset_current_A(params: SOTParams, timing: Timing) -> float:
    """Magnitude of the reset pulse (the same for every instance: one driver design)."""
    return timing.reset_ratio * params.ic0_A


def _rate_integral(i_A: np.ndarray, ic0: np.ndarray, delta: np.ndarray, tau0: float) -> np.ndarray:
    """∫_0^I r(i) di with the rate cap, A·/s (I ≥ 0)."""
    i_cap = ic0 * (1.0 + np.log(RATE_MAX_PER_S * tau0) / delta)  # where the uncapped rate reaches the cap
    below = np.minimum(i_A, i_cap)
    scale = ic0 / (delta * tau0)
    uncapped = scale * (np.exp(delta * (below / ic0 - 1.0)) - np.exp(-delta))
    return uncapped + RATE_MAX_PER_S * np.maximum(i_A - i_cap, 0.0)


def switching_rate_per_s(i_A: ArrayLike, arrays: SOTArrays) -> np.ndarray:
    """Thermal-activation rate at a forward current (0 for I ≤ 0), capped at RATE_MAX_PER_S."""
    i = np.asarray(i_A, dtype=float)
    rate = np.exp(np.minimum(arrays.delta * (i / arrays.ic0_A - 1.0), 700.0)) / arrays.tau0_s
    return np.where(i > 0, np.minimum(rate, RATE_MAX_PER_S), 0.0)


def hazard(i_write_A: ArrayLike, arrays: SOTArrays, timing: Timing, i_reset_A: float) -> np.ndarray:
    """Integrated hazard H of one slot's write pulse (plateau plus both ramps, exactly), shape (..., n).

    A linear ramp from 0 to I over a time D adds (D/I)·∫_0^I r(i) di. The rising ramp starts at −I_reset,
    so its forward part lasts edge·I/(I + I_reset).
    """
    i = np.maximum(np.asarray(i_write_A, dtype=float), 0.0)
    e = timing.edge_s
    ramps_s = e * i / (i + i_reset_A) + e
    safe = np.where(i > 0, i, 1.0)
    ramp = np.where(i > 0, ramps_s / safe * _rate_integral(i, arrays.ic0_A, arrays.delta, arrays.tau0_s), 0.0)
    return timing.write_width_s * switching_rate_per_s(i, arrays) + ramp


def switch_probability(i_write_A: ArrayLike, arrays: SOTArrays, timing: Timing, i_reset_A: float) -> np.ndarray:
    """P(switch) of one slot at a write current, per instance: 1 − exp(−H)."""
    return -np.expm1(-hazard(i_write_A, arrays, timing, i_reset_A))


def sense_reference(params: SOTParams, timing: Timing) -> tuple[float, float]:
    """(R_ref, V_th) of the sense divider, from the nominal device: R_ref = √(R_P·R_AP) maximises the
    difference between the two divider levels; V_th sits at the divider level of the mean resistance."""
    r_ref = math.sqrt(params.rp_ohm * params.rap_ohm)
    r_mid = 0.5 * (params.rp_ohm + params.rap_ohm)
    return r_ref, timing.read_V * r_ref / (r_mid + r_ref)


def slot_energy_J(i_write_A: ArrayLike, switched: ArrayLike, arrays: SOTArrays, timing: Timing, i_reset_A: float,
                  r_ref_ohm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(write, reset, read) energy of each slot and device, what the circuit's sources deliver, shape (..., n):
    ∫ I²·R_HM over the positive and the negative parts of the write line's trapezoids, and
    ∫ V²/(R_MTJ + R_ref) over the read pulse."""
    i = np.maximum(np.asarray(i_write_A, dtype=float), 0.0)
    r, e, ir = arrays.hm_resistance_ohm, timing.edge_s, i_reset_A
    rise_s = e * i / (i + ir)  # the part of the −I_reset → +I ramp above zero
    write = r * i * i * (rise_s / 3.0 + timing.write_width_s + e / 3.0)
    reset = r * ir * ir * (e / 3.0 + timing.reset_width_s + (e - rise_s) / 3.0)
    r_mtj = np.where(np.asarray(switched, dtype=bool), arrays.rap_ohm, arrays.rp_ohm)
    read = timing.read_V ** 2 * (timing.read_width_s + 2.0 * e / 3.0) / (r_mtj + r_ref_ohm)
    return write, reset, read


@dataclass
class SlotRun:
    """K slots applied to n neurons: outputs and the energy each source delivered, per slot."""

    bits: np.ndarray  # (K, n) bool: the sense output was high (the free layer switched)
    out_V: np.ndarray  # (K, n) sense output voltages at the read instants
    write_J: np.ndarray  # (K, n) write pulses (positive strip current)
    reset_J: np.ndarray  # (K, n) reset pulses (negative strip current)
    read_J: np.ndarray  # (K,) read line (all neurons read at once)
    circuit_time_s: float
    wall_time_s: float

    @property
    def slot_energy_J(self) -> np.ndarray:
        """(K,) everything the slot cost: write and reset of every neuron plus the read."""
        return self.write_J.sum(axis=1) + self.reset_J.sum(axis=1) + self.read_J

    @staticmethod
    def concatenate(parts: list["SlotRun"]) -> "SlotRun":
        return SlotRun(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                         ("bits", "out_V", "write_J", "reset_J", "read_J")),
                       float(sum(p.circuit_time_s for p in parts)), float(sum(p.wall_time_s for p in parts)))


# --- logistic fits -----------------------------------------------------------------------------------------------


def logistic(i_A: ArrayLike, i50_A: ArrayLike, di_A: ArrayLike) -> np.ndarray:
    """The published neuron model P(I) = 1 / (1 + exp(−(I − I50)/dI))."""
    return expit((np.asarray(i_A, dtype=float) - i50_A) / di_A)


def fit_logistic(currents_A: ArrayLike, successes: ArrayLike, trials: ArrayLike) -> tuple[float, float]:
    """Binomial maximum-likelihood fit of (I50, dI) to switching counts at several currents."""
    i = np.asarray(currents_A, dtype=float)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if i.ndim != 1 or i.shape != k.shape or i.shape != n.shape or len(i) < 2 or np.any(n <= 0):
        raise ConfigError("fit_logistic needs equally long 1-D arrays of currents, successes and trials > 0")
    p = (k + 0.5) / (n + 1.0)
    span = max(float(np.ptp(i)), 1e-12)
    # start: least squares on the logit, with a fallback when the points do not straddle the transition
    slope, intercept = np.polyfit(i, np.log(p / (1 - p)), 1) if np.ptp(p) > 0 else (0.0, 0.0)
    i50 = -intercept / slope if slope > 0 else float(np.mean(i))
    di = 1.0 / slope if slope > 0 else span / 4
    i50 = float(np.clip(i50, i.min() - span, i.max() + span))
    di = float(np.clip(di, span / 1e3, span))

    def nll(theta: np.ndarray) -> float:
        z = (i - theta[0] * span) / (np.exp(theta[1]) * span)
        return float(np.sum(n * np.logaddexp(0, -z) + (n - k) * z))

    result = minimize(nll, np.array([i50 / span, math.log(di / span)]), method="Nelder-Mead",
                      options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 2000})
    return float(result.x[0] * span), float(math.exp(result.x[1]) * span)


def curve_sigmoid(params: SOTParams, timing: Timing, arrays: SOTArrays | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(I50, dI) of the logistic closest (least squares in probability) to each device's exact curve."""
    arrays = arrays or SOTArrays.nominal(params, 1)
    i_reset = reset_current_A(params, timing)
    i50s, dis = [], []
    for k in range(arrays.n):
        one = arrays.subset([k])
        grid = np.linspace(0.5, 1.3, 801) * float(one.ic0_A[0])
        p = switch_probability(grid[:, None], one, timing, i_reset)[:, 0]
        lo, hi = np.interp([0.1, 0.9], p, grid)
        i50 = float(np.interp(0.5, p, grid))
        di = (hi - lo) / WINDOW_PER_DI

        def err(theta: np.ndarray) -> float:
            return float(np.sum((logistic(grid, theta[0], abs(theta[1])) - p) ** 2))

        theta = minimize(err, np.array([i50, di]), method="Nelder-Mead",
                         options={"xatol": di * 1e-6, "fatol": 1e-12, "maxiter": 2000}).x
        i50s.append(float(theta[0]))
        dis.append(abs(float(theta[1])))
    return np.array(i50s), np.array(dis)


# --- twin ------------------------------------------------------------------------------------------------------


class SOTTwin:
    """n devices sampled in numpy with the circuit's probability function and energies."""

    backend = "twin"

    def __init__(self, params: SOTParams, arrays: SOTArrays, timing: Timing, seed: int) -> None:
        self.params, self.arrays, self.timing = params, arrays, timing
        self.i_reset_A = reset_current_A(params, timing)
        self.r_ref_ohm, _ = sense_reference(params, timing)
        self.rng = np.random.default_rng([seed, 97])

    def probabilities(self, currents_A: ArrayLike) -> np.ndarray:
        return switch_probability(currents_A, self.arrays, self.timing, self.i_reset_A)

    @property
    def model_backend(self) -> str:
        return "numpy"

    def run(self, currents_A: ArrayLike) -> SlotRun:
        """K slots × n devices, as `NeuronBank.run` (same probabilities, analytic energies)."""
        started = time.perf_counter()
        i = np.asarray(currents_A, dtype=float)
        if i.ndim != 2 or i.shape[1] != self.arrays.n:
            raise ConfigError(f"write currents must have shape (slots, {self.arrays.n}), got {i.shape}")
        bits = self.rng.random(i.shape) < self.probabilities(i)
        write, reset, read = slot_energy_J(i, bits, self.arrays, self.timing, self.i_reset_A, self.r_ref_ohm)
        return SlotRun(bits, bits * self.timing.vdd_V, write, reset, read.sum(axis=1), len(i) * self.timing.slot_s,
                       time.perf_counter() - started)


def preset_table(timing: Timing | None = None) -> list[dict]:
    """Every width preset's derived values (what `python -m cosim.devices.sot_mtj.model` prints)."""
    timing = timing or Timing()
    rows = []
    for name in preset_names():
        p = load_preset(name)
        (i50,), (di,) = curve_sigmoid(p, timing)
        nominal = SOTArrays.nominal(p, 1)
        r_ref, _ = sense_reference(p, timing)
        write, reset, read = slot_energy_J(np.array([[i50]]), np.array([[False]]), nominal, timing,
                                           reset_current_A(p, timing), r_ref)
        rows.append({"preset": name, "width_nm": p.width_m * 1e9, "R_HM_ohm": p.hm_resistance_ohm,
                     "Ic0_uA": p.ic0_A * 1e6, "delta": p.delta, "R_P_ohm": p.rp_ohm, "R_AP_ohm": p.rap_ohm,
                     "I50_uA": i50 * 1e6, "dI_uA": di * 1e6, "window_uA": di * WINDOW_PER_DI * 1e6,
                     "Ic0_spread_pct": p.ic0_rel_std * 100, "delta_spread_pct": p.delta_rel_std * 100,
                     "reset_uA": reset_current_A(p, timing) * 1e6, "slot_write_pJ_at_I50": write[0, 0] * 1e12,
                     "slot_reset_pJ": reset[0, 0] * 1e12, "slot_read_pJ_parallel": read[0, 0] * 1e12})
    return rows


if __name__ == "__main__":
    table = preset_table()
    print(" | ".join(table[0]))
    for row in table:
        print(" | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
