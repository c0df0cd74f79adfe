"""Spectre dialect writer (`.scs`, `simulator lang=spectre`). Not executed here (no Spectre licence); the
golden files in netlists/ pin its output.

Syntax followed (Cadence, Spectre Circuit Simulator Reference 23.1 and User Guide, chapter "Spectre
Netlists"): instances `name (nodes) master param=value`; `resistor r=`, `capacitor c=`; sources
`vsource`/`isource` with `type=dc|pwl|pulse|sine` (`wave=[t v …]`; pulse `val0 val1 delay rise fall width
period`; sine `sinedc ampl freq delay damp sinephase`); `subckt name pins` … `ends name` with a `parameters`
line; `parameters` at top level; Verilog-A by `ahdl_include "file.va"`, its modules used as masters with
their parameters on the instance; initial conditions by the `ic` statement (`ic node=value`, hierarchical
`inst.node`), honoured by `tran … skipdc=yes` (no DC analysis: the SPICE `uic`); `outputstart` is SPICE's
tstart; `save node` and `save source:p` (current into the source's first terminal, as ngspice's `i(v)`).

Spectre is case-sensitive: names are written in lower case, as ngspice reads them. Switches and behavioural
sources become the generated Verilog-A modules of `cosim.netlist.dialect`; an OSDI load of `x.osdi` becomes
`ahdl_include "x.va"` (Spectre compiles Verilog-A sources itself: the `.va` must sit beside the netlist).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from cosim.errors import NetlistError
from cosim.netlist import ir
from cosim.netlist.writers.base import Rendered, Writer
from cosim.netlist.writers.dialect import (BEHAVIOURAL_FILE, SPICE_MODEL_KINDS, lower_nodes, lower_params, solver_hint,
                                            switch_values)
from cosim.netlist.writers.spectrelike import SpectreLikeWriter
from cosim.netlist.numbers import number

def render(netlist: ir.Netlist) -> Rendered:
    """The netlist in Spectre syntax plus the generated Verilog-A file it includes."""
    return _Writer(netlist).render()


def _waveform(e) -> str:
    w = e.waveform
    if isinstance(w, ir.Dc):
        return f"type=dc dc={number(w.value)}"
    if isinstance(w, ir.Pwl):
        pairs = " ".join(f"{number(t)} {number(v)}" for t, v in zip(w.times_s, w.values))
        return f"type=pwl wave=[{pairs}]"
    if isinstance(w, ir.Pulse):
        return (f"type=pulse val0={number(w.v1)} val1={number(w.v2)} delay={number(w.delay_s)} "
                f"rise={number(w.rise_s)} fall={number(w.fall_s)} width={number(w.width_s)} period={number(w.period_s)}")
    if isinstance(w, ir.Sine):
        return (f"type=sine sinedc={number(w.offset)} ampl={number(w.amplitude)} freq={number(w.frequency_Hz)} "
                f"delay={number(w.delay_s)} damp={number(w.damping_per_s)} sinephase={number(w.phase_deg)}")
    raise NetlistError(f"{e.name}: waveform {w!r} has no Spectre counterpart")


def output_name(vector: str) -> str:
    """ngspice vector -> Spectre signal: `i(v1)` -> `v1:p`, `v(x1.x)` -> `x1.x`."""
    inner = vector[2:-1]
    return f"{inner}:p" if vector.startswith("i(") else inner


class _Writer(SpectreLikeWriter):
    dialect = "Spectre"

    def __init__(self, netlist: ir.Netlist) -> None:
        super().__init__(netlist)
        self.models = {m.name.lower(): m for m in netlist.of_type(ir.Model)}

    def render(self) -> Rendered:
        head, defs, body, analyses, saves, notes = [], [], [], [], [], []
        for item in self.net:
            if isinstance(item, ir.OsdiLoad):
                head.append(f'ahdl_include "{PurePosixPath(item.path).with_suffix(".va")}"')
            elif isinstance(item, ir.Comment):
                body.append(f"// {item.text}")
            elif isinstance(item, ir.Model):
                notes.append(self.model_note(item))
            elif isinstance(item, ir.SubcircuitDef):
                defs.append(self.subckt(item))
            elif isinstance(item, ir.Param):
                head.append(f"parameters {item.name.lower()}={number(item.value)}")
            elif isinstance(item, ir.Options):
                notes += [f"// {solver_hint(k, v, 'Spectre')}" for k, v in item.values.items()]
            elif isinstance(item, ir.Tran):
                analyses.append(self.tran(item))
            elif isinstance(item, ir.Save):
                saves.append("save " + " ".join(output_name(v) for v in item.vectors))
            elif isinstance(item, (ir.Include, ir.SubcircuitLibrary)):
                raise NetlistError(f"Spectre cannot include the ngspice file {item.path!r}; give the circuit as IR "
                                   f"elements or Verilog-A models instead")
            else:
                body.append(self.element(item, top=True))
        files = {}
        if self.va.modules:
            files[BEHAVIOURAL_FILE] = self.va.text()
            head.insert(0, f'ahdl_include "{BEHAVIOURAL_FILE}"')
        ics = ["ic " + " ".join(f"{n.lower()}={number(v)}" for n, v in self.ics)] if self.ics else []
        lines = [f"// {self.net.title}", "simulator lang=spectre", "", *notes, *head, "", *defs, "", *body, "",
                 *ics, *saves, *analyses]
        return Rendered("\n".join(lines) + "\n", files)

    def model_note(self, m: ir.Model) -> str:
        if m.kind.lower() == "sw":
            switch_values(m, "Spectre")  # refuses what the switch module cannot express
            return f"// model {m.name.lower()}: ngspice sw, written as {self.va.switch()} on each switch that uses it"
        if m.kind.lower() in SPICE_MODEL_KINDS:
            raise NetlistError(f"model {m.name}: the ngspice model kind {m.kind!r} has no Spectre counterpart here")
        return f"// model {m.name.lower()}: Verilog-A module {m.kind.lower()}, parameters written on its instances"

    def subckt(self, d: ir.SubcircuitDef) -> str:
        for m in d.models:
            self.models.setdefault(m.name.lower(), m)
        lines = [f"subckt {d.name.lower()} {' '.join(p.lower() for p in d.pins)}"]
        if d.params:
            lines.append(f"  parameters {lower_params(d.params)}")
        lines += [f"  {self.element(e, top=False, where=f'subcircuit {d.name}')}" for e in d.elements]
        lines.append(f"ends {d.name.lower()}")
        return "\n".join(lines)

    def waveform(self, e) -> str:
        return _waveform(e)

    def switch(self, e: ir.Switch, name: str) -> str:
        model = self.models.get(e.model.lower())
        if model is None or model.kind.lower() != "sw":
            raise NetlistError(f"{e.name}: switch model {e.model!r} is not an ngspice sw model in this netlist")
        return f"{name} {lower_nodes(e.nodes)} {self.va.switch()} {lower_params(switch_values(model, 'Spectre'))}"

    def osdi_device(self, e: ir.OsdiDevice, name: str) -> str:
        model = self.models.get(e.model.lower())
        if model is None:
            raise NetlistError(f"{e.name}: model {e.model!r} is not defined in this netlist")
        return f"{name} {lower_nodes(e.terminals)} {model.kind.lower()} {lower_params({**model.params, **e.params})}".rstrip()

    @staticmethod
    def tran(t: ir.Tran) -> str:
        text = f"tran1 tran stop={number(t.stop_s)} step={number(t.step_s)} maxstep={number(t.tmax_s)}"
        if t.start_s > 0:
            text += f" outputstart={number(t.start_s)}"
        return text + (" skipdc=yes" if t.uic else "")


WRITER = Writer(
    name="spectre", netlist_file="board.scs", model_family="veriloga", executed_here=False,
    run=("spectre board.scs                                   # compiles the ahdl_include'd Verilog-A",),
    notes=("Spectre syntax, not executed here (no Spectre licence). Device models are Verilog-A "
           "(`ahdl_include`); switches and neurons are the generated modules in cosim_behavioural.va; initial "
           "states are `ic` statements used by `skipdc=yes`."),
    render=render, output_name=output_name,
)
