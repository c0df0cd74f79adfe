"""The SOT-MTJ stochastic neuron as a device family."""

from __future__ import annotations

from pathlib import Path

from cosim.devices.sot_mtj import characterize, model, spice
from cosim.errors import ConfigError


class SOTMTJ:
    """Spin-orbit-torque MTJ neurons: width presets from scaling laws, a B-source subcircuit that draws each
    switch in ngspice, and a numpy twin sampling the same probability."""

    name = "sot_mtj"
    label = "SOT-MTJ"
    presets = model.PRESETS
    twin = True
    Variation = model.Variation
    Characterization = characterize.Options  # what `cosim characterize` takes for it
    runner = staticmethod(spice.neuron_runner)  # the neurons on a backend (twin or NeuronBank)

    def characterize(self, options: characterize.Options, out_dir: Path, progress=None) -> list[Path]:
        return characterize.run(options, out_dir, progress)

    def params(self, preset: str | None = None, file: Path | None = None) -> model.SOTParams:
        if file is not None:
            raise ConfigError("SOT-MTJ parameters come from a width preset (device.preset), not a file")
        return model.load_preset(preset)

    def draw(self, params: model.SOTParams, variation: model.Variation, shape: int, seed: int) -> model.SOTArrays:
        return model.draw_instances(params, int(shape), seed, variation.scale)

    def spice_library(self, backend: str | None = None, *, exported: bool = False) -> list:
        return [spice.library(exported)]


FAMILY = SOTMTJ()
