"""A board of a user's Verilog-A devices as other dialects take it: the netlist a run simulated (ngspice: the
wrapper subcircuit, the model compiled from the `.va` shipped beside it) and the Verilog-A family (VACASK,
Spectre: per device a model card, an instance of the module and its 1 F state capacitor). There is no B-source
form of a user's model: Xyce and LTspice are refused by name.
"""

from __future__ import annotations

from cosim.devices.verilog_a import spice
from cosim.devices.verilog_a.preset import STATE_PARAM, VAModel
from cosim.netlist import ir
from cosim.netlist.writers.base import Variant


def variants(net: ir.Netlist, model: VAModel) -> dict[str, Variant]:
    """The netlist as simulated (its library exported: `<stem>.osdi` beside it) and its Verilog-A family."""
    name = spice.subckt_name(model)
    wrapper = next(d for d in net.of_type(ir.SubcircuitDef) if d.name.lower() == name)
    instances = [e for e in net.elements if isinstance(e, ir.SubcircuitInstance) and e.subckt.lower() == name]
    states = [spice.state_vector(x.name) for x in instances]
    files = {model.va_path.name: model.va_text}
    native = Variant(net, files, {}, states)

    flat_states = {s: f"v({x.name.lower()}_x)" for s, x in zip(states, instances)}
    va = ir.Netlist(net.title)
    for item in net:
        if item is wrapper:
            continue
        if isinstance(item, ir.SubcircuitInstance) and item.subckt.lower() == name:
            values = {**wrapper.params, **item.params}
            x0 = values.pop(STATE_PARAM)
            node = f"{item.name.lower()}_x"
            card = f"m{item.name.lower()}"
            va.add(spice.model_card(card, model, values),
                   ir.OsdiDevice("N" + item.name[1:], spice.port_nodes(model, *item.terminals, node), card),
                   ir.Capacitor("C" + item.name[1:] + "x", node, ir.GROUND, 1.0, ic_V=x0))
        elif isinstance(item, ir.Save):
            va.add(ir.Save(tuple(flat_states.get(v, v) for v in item.vectors)))
        else:
            va.add(item)
    veriloga = Variant(va, files, {}, [flat_states[s] for s in states])
    for variant in (native, veriloga):
        variant.netlist.validate()
    return {"ngspice": native, "veriloga": veriloga}
