"""Domain-wall binary stochastic synapse (Ellis et al., arXiv 2303.01886, 2023): the switching curve, its
presets and per-synapse variation.

A synapse is a magnetic nanowire whose domain wall passes a pinning site (read "1") or not ("0"); the
probability of a "1" is set by the control variable w:

    p(w) = d + a·σ(dx·(w − x0)),   d = 1 − a,   σ(z) = 1/(1 + e^−z)

with the published hardware fit x0 = 4.63168, dx = 2.72741, a = 0.97813 (preset "ellis2023") and x0, dx, a
drawn per synapse for device-to-device variation. Its read circuit (SPICE and twin) is `spice.py` beside
this file; the twin of the random source is numpy's binomial sampling in `cosim.training.meanvar`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.special import expit

from cosim.config import Strict
from cosim.devices.base import Presets
from cosim.errors import ConfigError
from cosim.limits import MAX_CONTROL_STD


class DWParams(BaseModel):
    """One fitted switching curve; `source` says where the numbers come from."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    x0: float = Field(description="control value of the sigmoid's midpoint")
    dx: float = Field(gt=0, description="slope of the sigmoid per unit of control")
    a: float = Field(gt=0, le=1, description="amplitude; the floor probability is d = 1 − a")
    source: str = Field(min_length=1)

    @property
    def d(self) -> float:
        return 1.0 - self.a


class Variation(Strict):
    """Device-to-device spread of the fit (not published: assumptions, default none). x0 gets an absolute
    Gaussian std, dx a log-normal relative std, a an absolute Gaussian std (clipped to [0.5, 1])."""

    x0_std: float = Field(0.0, ge=0, le=MAX_CONTROL_STD)
    dx_rel_std: float = Field(0.0, ge=0, le=1)
    a_std: float = Field(0.0, ge=0, le=0.5)


@dataclass(frozen=True)
class DWArrays:
    """Per-synapse fit parameters, all of one shape (e.g. (n_in, n_out) for a layer)."""

    x0: np.ndarray
    dx: np.ndarray
    a: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x0.shape

    def flat(self) -> "DWArrays":
        return DWArrays(self.x0.ravel(), self.dx.ravel(), self.a.ravel())


PRESETS = Presets("dw_synapse", "domain-wall synapse")


def load_preset(name: str) -> DWParams:
    """A preset by name (case-insensitive), e.g. "ellis2023"."""
    key = PRESETS.key(name)
    try:
        return DWParams(**PRESETS.entry(key))
    except (TypeError, ValidationError) as exc:
        why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "expected a mapping of parameters"
        raise ConfigError(f"{PRESETS.file}: preset {key!r} is invalid: {why}") from None


def uniform(params: DWParams, shape: tuple[int, ...]) -> DWArrays:
    """Every synapse exactly on the fit (no variation)."""
    return DWArrays(np.full(shape, params.x0), np.full(shape, params.dx), np.full(shape, params.a))


def draw_instances(params: DWParams, variation: Variation, shape: tuple[int, ...], seed: int) -> DWArrays:
    """Per-synapse fits drawn reproducibly from `seed` around the nominal one."""
    rng = np.random.default_rng([seed, 11])
    x0 = params.x0 + variation.x0_std * rng.standard_normal(shape)
    dx = params.dx * np.exp(variation.dx_rel_std * rng.standard_normal(shape))
    a = np.clip(params.a + variation.a_std * rng.standard_normal(shape), 0.5, 1.0)
    return DWArrays(x0, dx, a)


def probability(w: ArrayLike, x0: ArrayLike, dx: ArrayLike, a: ArrayLike) -> np.ndarray:
    """p(w) = (1 − a) + a·σ(dx·(w − x0))."""
    a = np.asarray(a, dtype=float)
    return (1.0 - a) + a * expit(np.asarray(dx) * (np.asarray(w, dtype=float) - np.asarray(x0)))


def probability_slope(w: ArrayLike, x0: ArrayLike, dx: ArrayLike, a: ArrayLike) -> np.ndarray:
    """dp/dw = a·dx·σ·(1 − σ): what the learning rule's gradient passes through."""
    s = expit(np.asarray(dx) * (np.asarray(w, dtype=float) - np.asarray(x0)))
    return np.asarray(a) * np.asarray(dx) * s * (1.0 - s)


def control_for(p: ArrayLike, x0: ArrayLike, dx: ArrayLike, a: ArrayLike) -> np.ndarray:
    """The w giving probability p (inverse of `probability`, p strictly inside (1 − a, 1))."""
    a = np.asarray(a, dtype=float)
    s = (np.asarray(p, dtype=float) - (1.0 - a)) / a
    if np.any((s <= 0) | (s >= 1)):
        raise ConfigError("control_for: p must lie strictly between the device's floor 1 − a and 1")
    return np.asarray(x0) + np.log(s / (1.0 - s)) / np.asarray(dx)


def near_binary_fraction(p: ArrayLike, low: float = 0.1, high: float = 0.9) -> float:
    """Share of synapses with p < low or p > high (the 'binary' synapses one read per synapse produces)."""
    p = np.asarray(p, dtype=float)
    return float(np.mean((p < low) | (p > high))) if p.size else math.nan
