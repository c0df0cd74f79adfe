"""The M-SDC memristor as a device family: what the crossbar board and the configs ask of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cosim.devices.msdc import characterize, model, spice, variants
from cosim.netlist import ir


class MSDC:
    """Knowm's M-SDC (generalized mean metastable switch): presets W, Cr, C; OSDI or B-source model in ngspice;
    numpy twin; state X in [0, 1] on the subcircuit's capacitor."""

    name = "msdc"
    label = "M-SDC"
    presets = model.PRESETS
    twin = True
    Variation = model.Variation
    Characterization = characterize.Options  # what `cosim characterize` takes for it
    state_param = spice.STATE_PARAM
    state_range = (0.0, 1.0)

    def characterize(self, options: characterize.Options, out_dir: Path, progress=None) -> list[Path]:
        return characterize.run(options, out_dir, progress)

    def params(self, preset: str | None = None, file: Path | None = None) -> model.MSDCParams:
        return model.load_params_file(file) if file is not None else model.load_preset(preset)

    def draw(self, params: model.MSDCParams, variation: model.Variation, shape: int, seed: int) -> model.MSDCArrays:
        return model.draw_instances(params, variation, int(shape), seed)

    def spice_library(self, backend: str | None = None, *, exported: bool = False, instances: Any = None) -> list:
        if exported:
            return variants.exported_library(spice.check_backend(backend))
        return spice.library(backend)

    def model_backend(self) -> str:
        return spice.model_backend()

    def netlist_backend(self, netlist: ir.Netlist) -> str | None:
        return spice.netlist_backend(netlist)

    def spice_instance(self, name: str, top: str, bottom: str, instances: model.MSDCArrays, index: int,
                       state: float) -> ir.SubcircuitInstance:
        return spice.instance(name, top, bottom, spice.array_row(instances, index), state)

    def state_vector(self, instance: str) -> str:
        return spice.state_vector(instance)

    def read_variant(self, item: Any, hold_s: float) -> Any:
        if isinstance(item, ir.SubcircuitLibrary):
            return spice.read_library(item, hold_s)
        if isinstance(item, ir.SubcircuitInstance):
            return spice.read_instance(item, hold_s)
        return None

    def current(self, instances: Any, v_V: Any, state: Any) -> np.ndarray:
        return model.current(instances, v_V, state)

    def export_variants(self, netlist: ir.Netlist, backend: str, *, instances: Any = None) -> dict:
        return variants.variants(netlist, backend)


FAMILY = MSDC()
