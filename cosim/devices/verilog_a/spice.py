"""SPICE binding of a user's Verilog-A device: the subcircuit that wraps the compiled module for the board.

The subcircuit has two pins, `plus` and `minus` (a set pulse drives plus above minus), and holds the OSDI
device with its ports wired by the preset's roles, a model card whose adjustable parameters come from the
subcircuit's (each instance carries its own values: device-to-device variation) and the 1 F capacitor `Cx` on
the state port, node `x`, whose initial condition is the instance parameter STATE_PARAM: the state is set by
`alter c.<instance>.cx ic=…` between runs, as the M-SDC family's is.
"""

from __future__ import annotations

from cosim.devices.verilog_a.instances import VAInstances
from cosim.devices.verilog_a.preset import STATE_PARAM, VAModel
from cosim.errors import ConfigError
from cosim.netlist import ir

PINS = ("plus", "minus")
STATE_NODE = "x"
STATE_CAPACITOR = "Cx"
MODEL_CARD = "mdev"


def subckt_name(model: VAModel) -> str:
    return f"va_{model.module.lower()}"


def port_nodes(model: VAModel, plus: str, minus: str, state: str) -> tuple[str, ...]:
    """The nodes of an OSDI instance of the module, in its port order, for the three roles."""
    roles = {model.plus: plus, model.minus: minus, model.state_port: state}
    return tuple(roles[port] for port in model.ports)


def model_card(name: str, model: VAModel, values: dict[str, float | ir.ParamRef]) -> ir.Model:
    """A model card of the module: its fixed parameters and `values` for the adjustable ones."""
    return ir.Model(name, model.module, {**model.fixed, **values})


def subckt(model: VAModel) -> ir.SubcircuitDef:
    """The wrapper every board device instantiates (defaults: the preset's values, state at the range's low end)."""
    params = {**dict(zip(model.names, model.nominal.tolist())), STATE_PARAM: model.state_range[0]}
    return ir.SubcircuitDef(
        subckt_name(model), PINS,
        (ir.OsdiDevice("N1", port_nodes(model, *PINS, STATE_NODE), MODEL_CARD),
         ir.Capacitor(STATE_CAPACITOR, STATE_NODE, ir.GROUND, 1.0)),
        params, models=(model_card(MODEL_CARD, model, {n: ir.ParamRef(n) for n in model.names}),),
        ic_params={STATE_PARAM: STATE_CAPACITOR})


def library(model: VAModel, *, exported: bool = False) -> list:
    """The compiled model's load and the wrapper; `exported`: the model as `<stem>.osdi` beside the netlist
    (compiled there from the `.va` file shipped with it)."""
    from cosim.spice.osdi import ngspice_loads_osdi

    if not exported and not ngspice_loads_osdi():
        raise ConfigError("this ngspice cannot run Verilog-A (OSDI) models, which the verilog_a family needs "
                          "(ngspice 46 from bookworm-backports: `bash scripts/setup.sh`; `cosim doctor` says more)")
    return [ir.OsdiLoad(f"{model.va_path.stem}.osdi" if exported else str(model.osdi)), subckt(model)]


def instance(name: str, top: str, bottom: str, instances: VAInstances, index: int, state: float
             ) -> ir.SubcircuitInstance:
    """Device `index` of `instances` between `top` (plus) and `bottom` (minus), starting from `state`."""
    state = ir.check_number(state, f"{name} state")
    low, high = instances.model.state_range
    if not low <= state <= high:
        raise ConfigError(f"{name}: state {state!r} lies outside the model's state range [{low:g}, {high:g}]")
    return ir.SubcircuitInstance(name, (top, bottom), subckt_name(instances.model),
                                 {**instances.row(index), STATE_PARAM: state})


def state_vector(instance_name: str) -> str:
    return f"v({ir.check_name(instance_name, 'instance name').lower()}.{STATE_NODE})"


def netlist_backend(netlist: ir.Netlist) -> str | None:
    """"osdi" when the netlist holds this family's wrapper, else None."""
    wrappers = [d for d in netlist.of_type(ir.SubcircuitDef) if STATE_PARAM in d.ic_params]
    return "osdi" if wrappers else None
