"""A two-terminal device with one state that a user brings as a Verilog-A model and a small preset file, as a
crossbar family: the M-SDC board trains it like its own memristors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cosim.devices.base import Presets
from cosim.devices.verilog_a import characterize, curves, instances as inst, spice, variants
from cosim.devices.verilog_a.preset import FAMILY as NAME, STATE_PARAM, VAModel, load
from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.resources import data_file


class VerilogA:
    """Presets are preset files (device_models/README.md, "Bring your own Verilog-A model"): cosim's own by
    name from device_models/verilog_a_presets.yaml (`device.preset`), a user's by path (`device.params_file`).
    The model runs in ngspice as OSDI (compiled with openvaf-r); there is no numpy twin, so the current the
    controller needs is measured in ngspice (`curves`)."""

    name = NAME
    label = "Verilog-A"
    presets = Presets(NAME, "Verilog-A")
    twin = False
    Variation = inst.Variation
    Characterization = characterize.Options  # what `cosim characterize` takes for it
    state_param = STATE_PARAM
    # The board's state range is a family's (cosim.devices.base.CrossbarFamily): presets whose module keeps its
    # state in other units are refused by `params` with a line saying so.
    state_range = (0.0, 1.0)

    def characterize(self, options: characterize.Options, out_dir: Path, progress=None) -> list[Path]:
        return characterize.run(options, out_dir, progress)

    def params(self, preset: str | None = None, file: Path | None = None) -> VAModel:
        if file is not None:
            model = load(Path(file))
        else:
            key = self.presets.key(preset)
            entry = self.presets.entry(key)
            if not isinstance(entry, Mapping) or set(entry) != {"file"} or not isinstance(entry["file"], str):
                raise ConfigError(f"{self.presets.path}: {key}: expected {{file: <a preset file beside it>}}")
            model = load(data_file("device_models", entry["file"]))
        if model.state_range != self.state_range:
            low, high = model.state_range
            raise ConfigError(f"{model.path}: state.range: [{low:g}, {high:g}]: the board trains states in [0, 1]; "
                              "write the module's state normalised to that range (e.g. x = w/D)")
        return model

    def draw(self, params: VAModel, variation: inst.Variation, shape: int, seed: int) -> inst.VAInstances:
        return inst.draw(params, variation, int(shape), seed)

    def spice_library(self, backend: str | None = None, *, exported: bool = False, instances: Any = None) -> list:
        _check_backend(backend)
        return spice.library(_model(instances), exported=exported)

    def model_backend(self) -> str:
        return "osdi"

    def netlist_backend(self, netlist: ir.Netlist) -> str | None:
        return spice.netlist_backend(netlist)

    def spice_instance(self, name: str, top: str, bottom: str, instances: inst.VAInstances, index: int,
                       state: float) -> ir.SubcircuitInstance:
        return spice.instance(name, top, bottom, instances, index, state)

    def state_vector(self, instance: str) -> str:
        return spice.state_vector(instance)

    def read_variant(self, item: Any, hold_s: float) -> Any:
        """No read-mode variant (states held by sources for operating-point reads): the board reads a user's
        devices with transients."""
        return None

    def current(self, instances: Any, v_V: Any, state: Any) -> np.ndarray:
        return curves.current(instances, v_V, state)

    def export_variants(self, netlist: ir.Netlist, backend: str, *, instances: Any = None) -> dict:
        _check_backend(backend)
        return variants.variants(netlist, _model(instances))


def _model(instances: Any) -> VAModel:
    if isinstance(instances, VAModel):
        return instances
    if isinstance(instances, inst.VAInstances):
        return instances.model
    raise ConfigError("a verilog_a netlist needs the devices it holds (their preset says which model to load)")


def _check_backend(backend: str | None) -> None:
    if backend not in (None, "osdi"):
        raise ConfigError(f"the verilog_a family runs as OSDI in ngspice only; model backend {backend!r} is not one")


FAMILY = VerilogA()
