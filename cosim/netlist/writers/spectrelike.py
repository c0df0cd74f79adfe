"""What the Spectre-like dialect writers (Spectre, VACASK) share: names in lower case, instances written
`name (nodes) master parameters`, switches and behavioural sources as generated Verilog-A modules, and initial
conditions collected as node voltages (a subcircuit's by its hierarchical name). Each dialect writes its own
waveforms, switches, OSDI devices, models, subcircuits and analyses."""

from __future__ import annotations

from cosim.errors import NetlistError
from cosim.netlist import ir
from cosim.netlist.numbers import number
from cosim.netlist.writers.dialect import VerilogAModules, grounded_ic, instance_ics, lower_nodes, lower_params


class SpectreLikeWriter:
    """One netlist being written; subclasses give `dialect`, the hierarchy `separator` of initial-condition
    node names, and how they write waveforms, switches and OSDI devices."""

    dialect = "Spectre-like"
    separator = "."

    def __init__(self, netlist: ir.Netlist) -> None:
        netlist.validate()
        self.net = netlist
        self.va = VerilogAModules(self.dialect)
        self.subckts = {s.name.lower(): s for s in netlist.of_type(ir.SubcircuitDef)}
        self.ics: list[tuple[str, float]] = []

    def element(self, e: ir.Element, *, top: bool, where: str = "netlist") -> str:
        name = e.name.lower()
        if isinstance(e, ir.Resistor):
            self.uses("resistor")
            return f"{name} {lower_nodes(e.nodes)} resistor r={number(e.value_ohm)}"
        if isinstance(e, ir.Capacitor):
            self.uses("capacitor")
            if top and e.ic_V is not None:
                self.ics.append(grounded_ic(e, e.ic_V))
            return f"{name} {lower_nodes(e.nodes)} capacitor c={number(e.value_F)}"
        if isinstance(e, (ir.VoltageSource, ir.CurrentSource)):
            kind = "vsource" if isinstance(e, ir.VoltageSource) else "isource"
            self.uses(kind)
            return f"{name} {lower_nodes(e.nodes)} {kind} {self.waveform(e)}"
        if isinstance(e, ir.BehavioralSource):
            module, nodes = self.va.behavioural(e, f"{e.name} ({where})")
            if e.kind != "V":
                return f"{name} {lower_nodes(nodes)} {module}"
            # A module's own branch cannot be saved; a 0 V source in series, carrying the B-source's name, makes
            # `i(name)` (`name:flow(br)`) the current ngspice reports for it: from npos through it to nneg.
            inner = f"{e.name}_out"
            ammeter = ir.VoltageSource(f"V{e.name}", e.npos, inner, ir.Dc(0.0))
            self.uses("vsource")
            return "\n".join([f"{name} {lower_nodes(ammeter.nodes)} vsource {self.waveform(ammeter)}",
                               f"{name}_src {lower_nodes((inner, *nodes[1:]))} {module}"])
        if isinstance(e, ir.Switch):
            return self.switch(e, name)
        if isinstance(e, ir.OsdiDevice):
            return self.osdi_device(e, name)
        if isinstance(e, ir.SubcircuitInstance):
            if top:
                self.instance_ics(e)
            elif self.has_ics(e.subckt):
                raise NetlistError(f"{e.name} ({where}): initial conditions inside nested subcircuits are not "
                                   f"written for {self.dialect}")
            return f"{name} {lower_nodes(e.terminals)} {e.subckt.lower()} {lower_params(e.params)}".rstrip()
        raise NetlistError(f"{where}: {e!r} has no {self.dialect} counterpart")

    def uses(self, master: str) -> None:
        """A builtin master the netlist uses (a dialect that must load its builtins records it)."""

    def has_ics(self, subckt: str) -> bool:
        d = self.subckts.get(subckt.lower())
        return d is not None and bool(instance_ics(d, {}))

    def instance_ics(self, x: ir.SubcircuitInstance) -> None:
        """The initial conditions a top-level instance's subcircuit carries, as node voltages."""
        d = self.subckts.get(x.subckt.lower())
        if d is None:
            return
        pins = {p.lower(): t for p, t in zip(d.pins, x.terminals)}
        for node, value in instance_ics(d, x.params):
            outside = pins.get(node.lower())
            self.ics.append((outside if outside is not None else f"{x.name}{self.separator}{node}", value))

    def waveform(self, e: ir.VoltageSource | ir.CurrentSource) -> str:
        raise NotImplementedError

    def switch(self, e: ir.Switch, name: str) -> str:
        raise NotImplementedError

    def osdi_device(self, e: ir.OsdiDevice, name: str) -> str:
        raise NotImplementedError
