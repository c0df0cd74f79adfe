"""The domain-wall binary stochastic synapse as a device family."""

from __future__ import annotations

from pathlib import Path

from cosim.devices.dw_synapse import characterize, model, spice
from cosim.errors import ConfigError


class DWSynapse:
    """Nanowire synapses whose wall passes a pinning site with probability p(w): the published fit as preset,
    a read circuit whose random state ngspice draws, and its twin."""

    name = "dw_synapse"
    label = "domain-wall synapse"
    presets = model.PRESETS
    twin = True
    Variation = model.Variation
    Characterization = characterize.Options  # what `cosim characterize` takes for it

    def characterize(self, options: characterize.Options, out_dir: Path, progress=None) -> list[Path]:
        return characterize.run(options, out_dir, progress)

    def params(self, preset: str | None = None, file: Path | None = None) -> model.DWParams:
        if file is not None:
            raise ConfigError("domain-wall synapse parameters come from a preset (device.preset), not a file")
        return model.load_preset(preset)

    def draw(self, params: model.DWParams, variation: model.Variation, shape: int | tuple[int, ...],
             seed: int) -> model.DWArrays:
        return model.draw_instances(params, variation, shape if isinstance(shape, tuple) else (int(shape),), seed)

    def spice_library(self, backend: str | None = None, *, exported: bool = False) -> list:
        return [spice.library(exported)]


FAMILY = DWSynapse()
