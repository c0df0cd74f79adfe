"""The writer shared by the SPICE-family dialects other than ngspice (Xyce, LTspice): same element lines,
different spellings for behavioural expressions, switches, subcircuit parameters and output requests.

They run no Verilog-A here, so OSDI devices and loads are refused by name; M-SDC devices reach them as the
B-source subcircuit, written by `library()` into its own file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

from cosim.errors import NetlistError
from cosim.netlist import expr, ir
from cosim.netlist.writers.base import Rendered, Writer
from cosim.netlist.writers.dialect import SPICE_MODEL_KINDS, solver_hint
from cosim.netlist.numbers import number


@dataclass(frozen=True)
class Spelling:
    name: str  # dialect name for messages
    style: expr.Style  # behavioural expressions
    behavioural: Callable[[str, str], str]  # (kind, expression) -> value part of a B line
    sine: str  # keyword of the sine waveform
    params_keyword: str  # before subcircuit and instance parameters
    tran_suffix: str  # after `.tran … tmax` when uic
    output: Callable[[Sequence[str]], str]  # save/print line for ngspice vectors
    switch: Callable[["_Writer", ir.Switch, ir.Model], list[str]]  # element line(s) of a switch
    switch_model: Callable[[ir.Model], str | None]  # .model line for an sw model, None: not needed


def spice_vector(vector: str) -> str:
    """ngspice vector -> SPICE-family output name: `v(x1.x)` -> `V(x1:x)`, `i(v1)` -> `I(v1)`."""
    return vector[0].upper() + vector[1:].replace(".", ":")


def _waveform(e, sine: str) -> str:
    w = e.waveform
    if isinstance(w, ir.Dc):
        return f"DC {number(w.value)}"
    if isinstance(w, ir.Pwl):
        return "PWL(" + " ".join(f"{number(t)} {number(v)}" for t, v in zip(w.times_s, w.values)) + ")"
    if isinstance(w, ir.Pulse):
        fields = (w.v1, w.v2, w.delay_s, w.rise_s, w.fall_s, w.width_s, w.period_s)
        return "PULSE(" + " ".join(map(number, fields)) + ")"
    if isinstance(w, ir.Sine):
        fields = (w.offset, w.amplitude, w.frequency_Hz, w.delay_s, w.damping_per_s, w.phase_deg)
        return f"{sine}(" + " ".join(map(number, fields)) + ")"
    raise NetlistError(f"{e.name}: waveform {w!r} has no counterpart")


def _params(values) -> str:
    return " ".join(f"{k}={number(v)}" for k, v in values.items())


class _Writer:
    def __init__(self, netlist: ir.Netlist | None, spelling: Spelling) -> None:
        self.s = spelling
        self.net = netlist
        self.models = {m.name.lower(): m for m in netlist.of_type(ir.Model)} if netlist is not None else {}
        self.names = {e.name.lower() for e in netlist.elements} if netlist is not None else set()

    def render(self) -> Rendered:
        self.net.validate()
        head, body, tail, notes = [], [], [], []
        for item in self.net:
            if isinstance(item, ir.Model):
                line = self.model(item)
                if line:
                    head.append(line)
            elif isinstance(item, ir.SubcircuitDef):
                head.append(self.subckt(item))
            elif isinstance(item, ir.SubcircuitLibrary):
                head.append(f".include {item.path}")
            elif isinstance(item, ir.Param):
                head.append(f".param {item.name}={number(item.value)}")
            elif isinstance(item, ir.Options):
                notes += [f"* {solver_hint(k, v, self.s.name)}" for k, v in item.values.items()]
            elif isinstance(item, ir.Tran):
                uic = f" {self.s.tran_suffix}" if item.uic else ""
                tail.append(f".tran {number(item.step_s)} {number(item.stop_s)} {number(item.start_s)} "
                            f"{number(item.tmax_s)}{uic}")
            elif isinstance(item, ir.Save):
                tail.append(self.s.output(item.vectors))
            elif isinstance(item, ir.Comment):
                body.append(f"* {item.text}")
            elif isinstance(item, ir.OsdiLoad):
                raise NetlistError(f"{self.s.name} cannot load the OSDI model {item.path!r}; export the B-source "
                                   f"subcircuit family instead")
            elif isinstance(item, ir.Include):
                raise NetlistError(f"{self.s.name}: {item.path!r} is an ngspice file; give the circuit as IR instead")
            else:
                body.extend(self.element(item, "netlist"))
        lines = [self.net.title, *notes, *head, *body, *tail, ".end"]
        return Rendered("\n".join(lines) + "\n")

    def model(self, m: ir.Model) -> str | None:
        if m.kind.lower() == "sw":
            return self.s.switch_model(m)
        if m.kind.lower() not in SPICE_MODEL_KINDS:
            raise NetlistError(f"model {m.name}: {m.kind!r} is not a SPICE model kind (an OSDI module?); "
                               f"{self.s.name} cannot run it here")
        return f".model {m.name} {m.kind}({_params(m.params)})"

    def subckt(self, d: ir.SubcircuitDef) -> str:
        for m in d.models:
            self.models.setdefault(m.name.lower(), m)
        self.names |= {e.name.lower() for e in d.elements}
        keyword = f" {self.s.params_keyword} " if d.params else ""
        head = f".subckt {d.name} {' '.join(d.pins)}{keyword}{_params(d.params)}".rstrip()
        caps = {cap.lower(): param for param, cap in d.ic_params.items()}
        body = [line for m in d.models for line in [self.model(m)] if line]
        for e in d.elements:
            if isinstance(e, ir.Capacitor) and e.name.lower() in caps:
                body.append(f"{e.name} {e.n1} {e.n2} {number(e.value_F)} IC={{{caps[e.name.lower()]}}}")
            else:
                body += self.element(e, f"subcircuit {d.name}")
        return "\n".join([head, *body, f".ends {d.name}"])

    def element(self, e: ir.Element, where: str) -> list[str]:
        if isinstance(e, ir.Resistor):
            return [f"{e.name} {e.n1} {e.n2} {number(e.value_ohm)}"]
        if isinstance(e, ir.Capacitor):
            ic = "" if e.ic_V is None else f" IC={number(e.ic_V)}"
            return [f"{e.name} {e.n1} {e.n2} {number(e.value_F)}{ic}"]
        if isinstance(e, (ir.VoltageSource, ir.CurrentSource)):
            return [f"{e.name} {e.npos} {e.nneg} {_waveform(e, self.s.sine)}"]
        if isinstance(e, ir.BehavioralSource):
            tree = expr.parse(e.expression, f"{e.name} ({where})")
            text = expr.render(tree, self.s.style, f"{e.name} ({where})")
            return [f"{e.name} {e.npos} {e.nneg} {self.s.behavioural(e.kind, text)}"]
        if isinstance(e, ir.Switch):
            model = self.models.get(e.model.lower())
            if model is None or model.kind.lower() != "sw":
                raise NetlistError(f"{e.name}: switch model {e.model!r} is not an ngspice sw model in this netlist")
            return self.s.switch(self, e, model)
        if isinstance(e, ir.SubcircuitInstance):
            keyword = f" {self.s.params_keyword} " if e.params else ""
            return [f"{e.name} {' '.join(e.terminals)} {e.subckt}{keyword}{_params(e.params)}".rstrip()]
        if isinstance(e, ir.OsdiDevice):
            raise NetlistError(f"{e.name} ({where}): {self.s.name} cannot run the OSDI (Verilog-A) model "
                               f"{e.model!r} here; export the B-source subcircuit family instead")
        raise NetlistError(f"{where}: {e!r} has no {self.s.name} counterpart")


def render(netlist: ir.Netlist, spelling: Spelling) -> Rendered:
    return _Writer(netlist, spelling).render()


def library(defs: Sequence[ir.SubcircuitDef], spelling: Spelling) -> str:
    """Subcircuit definitions as a library file to `.include`."""
    writer = _Writer(None, spelling)
    blocks = [writer.subckt(d) for d in defs]
    return f"* Subcircuits written by cosim for {spelling.name}.\n" + "\n".join(blocks) + "\n"


def writer(spelling: Spelling, *, name: str, netlist_file: str, executed_here: bool, run: tuple[str, ...],
           notes: str) -> Writer:
    """The writer of a SPICE-family dialect: its spelling, the B-source model family, `spice_vector` names."""
    return Writer(name=name, netlist_file=netlist_file, model_family="bsource", executed_here=executed_here, run=run,
                  notes=notes, render=functools.partial(render, spelling=spelling),
                  library=functools.partial(library, spelling=spelling), output_name=spice_vector)
