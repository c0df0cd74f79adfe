"""Device instances of a user's Verilog-A model: each device's own values of the adjustable parameters, drawn
from a seed with the preset's spread (a config's `device.variation.scale` multiplies it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from cosim.devices.verilog_a.preset import VAModel
from cosim.errors import ConfigError
from cosim.limits import USER_INPUT


class Variation(BaseModel):
    """Device-to-device spread: the preset's relative stds (its `variation:`) multiplied by `scale`; 0 gives
    identical devices, 1 (the default) the preset's own spread."""

    model_config = USER_INPUT

    scale: float = Field(1.0, ge=0, le=5)


@dataclass(frozen=True)
class VAInstances:
    """n devices: `values[k]` holds device k's adjustable parameters, in `model.names` order."""

    model: VAModel
    values: np.ndarray  # (n, parameters)

    @property
    def n(self) -> int:
        return self.values.shape[0]

    def row(self, k: int) -> dict[str, float]:
        if not 0 <= k < self.n:
            raise IndexError(f"instance {k} out of range for {self.n} devices")
        return dict(zip(self.model.names, self.values[k].tolist()))

    @classmethod
    def nominal(cls, model: VAModel, n: int = 1) -> "VAInstances":
        return cls(model, np.tile(model.nominal, (n, 1)))


def draw(model: VAModel, variation: Variation, n: int, seed: int) -> VAInstances:
    """n devices: every adjustable parameter times a mean-1 lognormal factor of the preset's relative std ×
    `variation.scale` (a negative parameter keeps its sign), kept inside the parameter's declared range.
    Factors are drawn for every adjustable parameter, spread or not, so each keeps its own random stream."""
    if n < 1:
        raise ConfigError(f"need at least one device instance, got {n}")
    rng = np.random.default_rng(seed)
    values = VAInstances.nominal(model, n).values.copy()
    for k, (name, spec) in enumerate(model.adjustable.items()):
        sigma = math.sqrt(math.log1p((model.variation.get(name, 0.0) * variation.scale) ** 2))
        factors = np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma**2)
        values[:, k] = np.clip(values[:, k] * factors, *spec.range)
    return VAInstances(model, values)
