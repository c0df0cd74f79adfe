"""What a device family is to the rest of cosim, and the one way preset files are read.

A family lives in one folder, `cosim/devices/<name>/`, whose `family.py` defines `FAMILY`; its presets live
in `device_models/<name>_presets.yaml` (named entries, each with a `source:` saying where its numbers come
from); `cosim/devices/registry.py` lists it by name, the name a config's `device.family` gives. Code above
the devices asks the family, never a family's modules, for what it needs: parameters, variation drawn from a
seed, the SPICE model, whether a numpy twin exists. A family whose devices sit at the cross points of a
crossbar (trained by the M-SDC board) is a `CrossbarFamily` and also says how an instance is written, how its
state is named and set in a netlist, and what it conducts at a voltage and state.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel

from cosim import safe_yaml
from cosim.config import as_value_error
from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.resources import data_file


class Presets:
    """A family's preset file, `device_models/<family>_presets.yaml`: named entries, looked up by name in any
    case. `section` names the mapping that holds the entries when the file has more (SOT-MTJ: `widths`)."""

    def __init__(self, family: str, label: str, section: str | None = None) -> None:
        self.file, self.label, self.section = f"{family}_presets.yaml", label, section

    @property
    def path(self) -> Path:
        return data_file("device_models", self.file)

    def data(self) -> dict[str, Any]:
        """The whole file (read once per process)."""
        return _read(str(self.path))

    def entries(self) -> dict[str, Any]:
        data = self.data()
        entries = data.get(self.section) if self.section else data
        if not isinstance(entries, Mapping) or not entries:
            where = f"{self.path}" + (f": {self.section}" if self.section else "")
            raise ConfigError(f"{where}: expected a mapping of preset name to parameters")
        return dict(entries)

    def names(self) -> list[str]:
        return [str(name) for name in self.entries()]

    def key(self, name: str) -> str:
        """The preset's name as the file spells it; ConfigError listing the presets for an unknown one."""
        entries = self.entries()
        by_lower = {str(key).lower(): key for key in entries}
        key = by_lower.get(str(name).lower())
        if key is None:
            raise ConfigError(f"unknown {self.label} preset {name!r}; allowed: {', '.join(map(str, entries))}")
        return key

    def entry(self, name: str) -> Any:
        return self.entries()[self.key(name)]

    def check(self, name: str) -> str:
        """A preset name as a config validator checks it (ValueError, which names the config key)."""
        with as_value_error():
            self.key(name)
        return name


@functools.lru_cache(maxsize=8)
def _read(path: str) -> dict[str, Any]:
    data = safe_yaml.read(Path(path))
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping of preset name to parameters")
    return data


@runtime_checkable
class DeviceFamily(Protocol):
    """Parameters, presets with provenance, variation drawn from a seed, SPICE model, numpy twin and
    characterisation of one kind of device."""

    name: str  # the registry's key and a config's `device.family`
    label: str  # how messages name it, e.g. "M-SDC"
    presets: Presets
    twin: bool  # a numpy twin exists: the twin backend can run this family
    Variation: type[BaseModel]  # device-to-device variation settings (a config's `device.variation`)
    Characterization: type[BaseModel]  # the options of its measurement routine (`cosim characterize FAMILY`)

    def characterize(self, options: Any, out_dir: Path, progress: Callable[[str, dict], None] | None = None
                     ) -> list[Path]:
        """Measure the family's devices in ngspice as `options` (a `Characterization`) say; write CSVs and PNGs
        into `out_dir`; the files written. `progress(name, summary)` after each preset or width, if any."""

    def params(self, preset: str | None = None, file: Path | None = None) -> BaseModel:
        """A validated parameter set: a preset by name, or a parameter file."""

    def draw(self, params: BaseModel, variation: Any, shape: int | tuple[int, ...], seed: int) -> Any:
        """Per-instance parameters with device-to-device variation, reproducible from `seed`."""

    def spice_library(self, backend: str | None = None, *, exported: bool = False) -> list:
        """The IR items a netlist with this family's devices needs (model loads, subcircuit libraries);
        `exported`: file names relative to an exported netlist's folder instead of cosim's own files."""


@runtime_checkable
class CrossbarFamily(DeviceFamily, Protocol):
    """A two-terminal device with one state variable, placed at the cross points of a crossbar."""

    state_param: str  # the instance parameter that sets the state's initial condition
    state_range: tuple[float, float]  # the state's lowest and highest value

    def model_backend(self) -> str:
        """The model implementation this machine's ngspice runs (recorded with every run)."""

    def netlist_backend(self, netlist: ir.Netlist) -> str | None:
        """The model implementation a netlist includes (None: no device of this family)."""

    def spice_library(self, backend: str | None = None, *, exported: bool = False, instances: Any = None) -> list:
        """As DeviceFamily's; `instances` are the devices the netlist holds (their parameters or drawn instances),
        for a family whose model depends on them (a user's Verilog-A model: which module to load)."""

    def spice_instance(self, name: str, top: str, bottom: str, instances: Any, index: int, state: float) -> ir.Element:
        """Instance `index` of `instances` between `top` and `bottom`, starting from `state`."""

    def state_vector(self, instance: str) -> str:
        """The vector that reads an instance's state in a simulation, e.g. `v(x1.x)`."""

    def read_variant(self, item: Any, hold_s: float) -> Any:
        """The family's library or an instance in a read-mode circuit (states held by sources for `hold_s`, so
        reads can be DC operating points); None when the family has no such variant."""

    def current(self, instances: Any, v_V: Any, state: Any) -> np.ndarray:
        """Device current (A) at a voltage and state, in numpy (per instance when `instances` are many)."""

    def export_variants(self, netlist: ir.Netlist, backend: str, *, instances: Any = None) -> dict:
        """The netlist in each model family a dialect writer takes ({family: writers.Variant}); `instances` as for
        `spice_library`. A model family left out is one no dialect of it can take (refused by name on export)."""
