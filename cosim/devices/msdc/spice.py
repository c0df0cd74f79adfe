"""SPICE binding of the M-SDC memristor: which model backend ngspice runs, and the IR items a netlist needs.

Two implementations of the same equations ship in `device_models/`: `msdc.va` (Verilog-A, compiled to OSDI
and wrapped by the subcircuit in `msdc_osdi.lib`) and `msdc.lib` (B-sources, for an ngspice without OSDI).
Both define `.subckt msdc te be` with the same parameters; the state X is the voltage of the internal node
`x` on the 1 F capacitor `cx`, set by the instance parameter `x0` in a file and by `alter c.<inst>.cx ic=…`
in a loaded circuit (the IR's `ic_params`). Record `model_backend()` with every run: the backends agree
numerically (tests/test_msdc_spice.py) but differ in speed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Union

import numpy as np

from cosim.devices.msdc.model import PARAM_FIELDS, MSDCArrays, MSDCParams
from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.resources import data_file

BACKENDS = ("osdi", "bsource")
BACKEND_ENV = "COSIM_MSDC_BACKEND"
SUBCKT = "msdc"
PINS = ("te", "be")
STATE_PARAM = "x0"
STATE_CAPACITOR = "cx"
STATE_NODE = "x"
VA_FILE = "msdc.va"
LIB_FILES = {"osdi": "msdc_osdi.lib", "bsource": "msdc.lib"}
# Read-mode variants (DC operating points of reads): the state is held by a Norton source `Ix` of x0/th
# amperes into th ohm, so V(x) = x0 + th·dX/dt: a backward-Euler step of th seconds from x0
# (device_models/msdc_osdi_read.lib says why).
READ_LIB_FILES = {"osdi": "msdc_osdi_read.lib", "bsource": "msdc_read.lib"}
HOLD_SOURCE = "Ix"
HOLD_PARAM = "th"

# MSDCParams field -> subcircuit parameter (same order as the .subckt lines).
SPICE_NAMES = {
    "r_on_ohm": "ron",
    "r_off_ohm": "roff",
    "v_on_V": "von",
    "v_off_V": "voff",
    "tau_s": "tau",
    "temperature_K": "temp",
    "phi": "phi",
    "alpha_f_A": "af",
    "beta_f_per_V": "bf",
    "alpha_r_A": "ar",
    "beta_r_per_V": "br",
}
# The subcircuit defaults: Knowm's published model defaults (REFERENCE §2), start state X = 0.
DEFAULTS = {
    "ron": 500.0, "roff": 1500.0, "von": 0.27, "voff": 0.27, "tau": 1e-4, "temp": 298.5,
    "phi": 0.8, "af": 8e-4, "bf": 4.0, "ar": 8e-4, "br": 4.0, STATE_PARAM: 0.0,
}
assert set(SPICE_NAMES) == set(PARAM_FIELDS), "SPICE_NAMES must cover every MSDCParams field"

ParamsRow = Union[MSDCParams, Mapping[str, Any]]


def model_backend() -> str:
    """The backend to use: "osdi" when this ngspice runs Verilog-A models, else "bsource"; $COSIM_MSDC_BACKEND
    (osdi | bsource) overrides the choice."""
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise ConfigError(f"${BACKEND_ENV} = {forced!r}: allowed values are {', '.join(BACKENDS)}")
        return forced
    from cosim.spice.osdi import ngspice_loads_osdi

    return "osdi" if ngspice_loads_osdi() else "bsource"


def check_backend(backend: str | None) -> str:
    """`backend`, checked (None: `model_backend()`)."""
    if backend is None:
        return model_backend()
    if backend not in BACKENDS:
        raise ConfigError(f"unknown M-SDC model backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    return backend


def library(backend: str | None = None, *, portable: bool = False) -> list[ir.OsdiLoad | ir.SubcircuitLibrary]:
    """The directives a netlist with M-SDC instances needs, for `backend` (default: `model_backend()`).

    For "osdi" the Verilog-A source is compiled once (cached by content hash); `portable` compiles for a
    generic CPU, for netlists shipped to other machines.
    """
    backend = check_backend(backend)
    items: list[ir.OsdiLoad | ir.SubcircuitLibrary] = []
    if backend == "osdi":
        from cosim.spice.osdi import compile_va

        items.append(ir.OsdiLoad(str(compile_va(data_file("device_models", VA_FILE), portable=portable))))
    path = data_file("device_models", LIB_FILES[backend])
    items.append(ir.SubcircuitLibrary(str(path), SUBCKT, PINS, dict(DEFAULTS), {STATE_PARAM: STATE_CAPACITOR}))
    return items


def read_library(library: ir.SubcircuitLibrary, hold_s: float) -> ir.SubcircuitLibrary | None:
    """The read-mode variant of an M-SDC library item (same subcircuit, pins and parameters, plus the hold time
    th; the state held by a source instead of a capacitor), None when `library` is not an M-SDC library. Its
    instances need th = `hold_s` (`read_instance`)."""
    if library.name.lower() != SUBCKT:
        return None
    for backend, name in LIB_FILES.items():
        if library.path.endswith("/" + name) or library.path == name:
            path = library.path[: len(library.path) - len(name)] + READ_LIB_FILES[backend]
            return ir.SubcircuitLibrary(path, library.name, library.pins, {**library.params, HOLD_PARAM: 1e-9},
                                        dc_params={STATE_PARAM: (HOLD_SOURCE, 1.0 / hold_s)})
    return None


def read_instance(instance: ir.SubcircuitInstance, hold_s: float) -> ir.SubcircuitInstance:
    """An instance of the read-mode library, holding its state for `hold_s` seconds (see read_library)."""
    return ir.SubcircuitInstance(instance.name, instance.terminals, instance.subckt,
                                 {**instance.params, HOLD_PARAM: hold_s})


def netlist_backend(netlist: ir.Netlist) -> str | None:
    """Which M-SDC backend a netlist uses (from the library it includes), None when it has no M-SDC model."""
    for lib in netlist.of_type(ir.SubcircuitLibrary):
        if lib.name.lower() == SUBCKT:
            for backend, name in LIB_FILES.items():
                if lib.path.endswith("/" + name) or lib.path == name:
                    return backend
    return None


def subckt_params(params: ParamsRow) -> dict[str, float]:
    """MSDCParams (or a mapping with its field names, `source` ignored) -> subcircuit parameters."""
    if isinstance(params, MSDCParams):
        values = {name: getattr(params, name) for name in PARAM_FIELDS}
    elif isinstance(params, Mapping):
        values = {k: v for k, v in params.items() if k != "source"}
        unknown = set(values) - set(SPICE_NAMES)
        if unknown:
            raise ConfigError(f"unknown M-SDC parameter(s) {sorted(unknown)}; allowed: {', '.join(SPICE_NAMES)}")
    else:
        raise ConfigError(f"M-SDC parameters must be MSDCParams or a mapping, got {type(params).__name__}")
    return {SPICE_NAMES[k]: float(v) for k, v in values.items()}


def array_row(arrays: MSDCArrays, k: int) -> dict[str, float]:
    """Instance k of per-device arrays (from `draw_instances`) as a mapping of MSDCParams field names."""
    if not 0 <= k < arrays.n:
        raise IndexError(f"instance {k} out of range for {arrays.n} devices")
    return {name: float(np.asarray(getattr(arrays, name))[k]) for name in PARAM_FIELDS}


def instance(
    name: str, te: str, be: str, params_row: ParamsRow | None = None, x0: float = 0.0
) -> ir.SubcircuitInstance:
    """One M-SDC device `name` (must start with X) between `te` and `be`, starting from state `x0`."""
    x0 = ir.check_number(x0, f"{name} x0")
    if not 0.0 <= x0 <= 1.0:
        raise ConfigError(f"{name}: initial state x0 must lie in [0, 1], got {x0!r}")
    values = subckt_params(params_row) if params_row is not None else {}
    return ir.SubcircuitInstance(name, (te, be), SUBCKT, {**values, STATE_PARAM: x0})


def instances_from_arrays(
    names: list[str], nodes: list[tuple[str, str]], arrays: MSDCArrays, x0: Any = 0.0
) -> list[ir.SubcircuitInstance]:
    """One instance per device of `arrays`: names[k] between nodes[k] = (te, be), state x0 (scalar or per device)."""
    if len(names) != arrays.n or len(nodes) != arrays.n:
        raise ValueError(f"need {arrays.n} names and node pairs, got {len(names)} and {len(nodes)}")
    x = np.broadcast_to(np.asarray(x0, dtype=float), (arrays.n,))
    return [instance(n, te, be, array_row(arrays, k), float(x[k])) for k, (n, (te, be)) in enumerate(zip(names, nodes))]


def state_vector(instance_name: str) -> str:
    """The vector holding an instance's state X, e.g. `v(x1.x)`."""
    return f"v({ir.check_name(instance_name, 'instance name').lower()}.{STATE_NODE})"
