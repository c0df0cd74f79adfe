"""The M-SDC model as other dialects take it: the netlist a run simulated, rewritten for the Verilog-A family
(VACASK, Spectre: one model card, OSDI device and 1 F state capacitor per device) and the B-source family
(Xyce, LTspice: the subcircuit of device_models/msdc.lib as IR, which each dialect writes in its syntax).
"""

from __future__ import annotations

from pathlib import Path

from cosim.devices.msdc import spice as ms
from cosim.netlist import ir
from cosim.netlist.writers.base import Variant
from cosim.resources import data_file

BSOURCE_LIBRARY = "msdc_bsource.lib"


def exported_library(backend: str) -> list:
    """The toolkit's M-SDC library items, with paths relative to an exported netlist's folder."""
    items: list = [ir.OsdiLoad("msdc.osdi")] if backend == "osdi" else []
    items.append(ir.SubcircuitLibrary(ms.LIB_FILES[backend], ms.SUBCKT, ms.PINS, dict(ms.DEFAULTS),
                                      {ms.STATE_PARAM: ms.STATE_CAPACITOR}))
    return items


def bsource_subckt() -> ir.SubcircuitDef:
    """device_models/msdc.lib as IR (its `.param vt2` written inline), for dialects that write the B-source
    subcircuit in their own syntax; tests/test_export.py holds it to the shipped file in ngspice."""
    vt2 = "{(2*1.380649e-23*temp/1.602176634e-19)}"  # ngspice pastes braces unparenthesised: keep the ( )
    xc = "min(max(V(x),0),1)"
    v = "V(te,be)"
    current = (f"{{phi}}*{v}*({xc}*{{(1/ron)}}+(1-{xc})*{{(1/roff)}})"
               f"+{{((1-phi)*af)}}*(({{bf}}*{v})<50?exp({{bf}}*{v}):{{exp(50)}}*(1+{{bf}}*{v}-50))"
               f"-{{((1-phi)*ar)}}*((-{{br}}*{v})<50?exp(-{{br}}*{v}):{{exp(50)}}*(1-{{br}}*{v}-50))")
    rate = (f"{{(0.5/tau)}}*((1-V(x))*(1+tanh(({v}-{{von}})/{vt2}))-V(x)*(1-tanh(({v}+{{voff}})/{vt2})))"
            f"-{{(1/tau)}}*(V(x)-{xc})")
    return ir.SubcircuitDef(
        ms.SUBCKT, ms.PINS,
        (ir.BehavioralSource("Bi", "te", "be", "I", current), ir.BehavioralSource("Bx", "0", "x", "I", rate),
         ir.Capacitor("Cx", "x", "0", 1.0)),
        dict(ms.DEFAULTS), ic_params={ms.STATE_PARAM: "Cx"})


def variants(net: ir.Netlist, backend: str) -> dict[str, Variant]:
    """The netlist as simulated (`backend`: the model it runs) and its Verilog-A and B-source families."""
    def model_text(name: str) -> str:
        return data_file("device_models", name).read_text(encoding="utf-8")

    instances = [e for e in net.elements if isinstance(e, ir.SubcircuitInstance) and e.subckt.lower() == ms.SUBCKT]
    states = [ms.state_vector(x.name) for x in instances]
    native_files = {"msdc.va": model_text(ms.VA_FILE), ms.LIB_FILES["osdi"]: model_text(ms.LIB_FILES["osdi"])} \
        if backend == "osdi" else {ms.LIB_FILES["bsource"]: model_text(ms.LIB_FILES["bsource"])}
    native = Variant(net, native_files, {}, states)

    # Verilog-A family: per device a model card, an OSDI instance and its 1 F state capacitor.
    flat_states = {s: f"v({x.name.lower()}_x)" for s, x in zip(states, instances)}
    va = ir.Netlist(net.title)
    va.add(ir.OsdiLoad("msdc.osdi"))
    for item in net:
        if isinstance(item, (ir.OsdiLoad, ir.SubcircuitLibrary)) and _is_msdc_library(item):
            continue
        if isinstance(item, ir.SubcircuitInstance) and item.subckt.lower() == ms.SUBCKT:
            values = {**ms.DEFAULTS, **item.params}
            x0 = values.pop(ms.STATE_PARAM)
            node = f"{item.name.lower()}_x"
            model = f"m{item.name.lower()}"
            va.add(ir.Model(model, "msdc_va", values),
                   ir.OsdiDevice("N" + item.name[1:], (*item.terminals, node), model),
                   ir.Capacitor("C" + item.name[1:] + "x", node, ir.GROUND, 1.0, ic_V=x0))
        elif isinstance(item, ir.Save):
            va.add(ir.Save(tuple(flat_states.get(v, v) for v in item.vectors)))
        else:
            va.add(item)
    veriloga = Variant(va, {"msdc.va": model_text(ms.VA_FILE)}, {}, [flat_states[s] for s in states])

    # B-source family: the same instances, the subcircuit written by each dialect into BSOURCE_LIBRARY.
    subckt = bsource_subckt()
    bs = ir.Netlist(net.title)
    for item in net:
        if isinstance(item, ir.OsdiLoad) and _is_msdc_library(item):
            continue
        if isinstance(item, ir.SubcircuitLibrary) and _is_msdc_library(item):
            item = ir.SubcircuitLibrary(BSOURCE_LIBRARY, item.name, item.pins, item.params, item.ic_params)
        bs.add(item)
    bsource = Variant(bs, {}, {BSOURCE_LIBRARY: [subckt]}, states)
    for variant in (native, veriloga, bsource):
        variant.netlist.validate()
    return {"ngspice": native, "veriloga": veriloga, "bsource": bsource}


def _is_msdc_library(item) -> bool:
    if isinstance(item, ir.OsdiLoad):
        return Path(item.path).name == "msdc.osdi"
    return item.name.lower() == ms.SUBCKT
