"""LTspice dialect writer (`.net`). Not executed here (LTspice runs on Windows and macOS); the golden files in
netlists/ pin its output.

Syntax followed (Analog Devices, LTspice help, "LTspice Simulator" reference): SPICE element lines;
`C … ic=` honoured by `.tran <Tstep> <Tstop> <Tstart> <dTmax> uic`; `SINE(…)`; behavioural sources
`B… V=expr` / `I=expr` whose expressions use `if(cond, a, b)` (LTspice has no `? :`, and its `if` takes
x > 0.5 as true, so a condition that is not a comparison is written `abs(x)>0`), `pow(x, y)` (`^` is a
logical XOR there), `&`, `|`, `!` for logic (no `==`, `!=`: refused) and parameters by name; voltage-controlled switches `S…` with
`.model name SW(Ron= Roff= Vt= Vh=)` (Vh = 0: abrupt, as ngspice's sw); `.subckt name pins params: …` and
`X… sub params: …`; `.include file`; `.save V(node) I(source)` with hierarchical names joined by `:`.
"""

from __future__ import annotations

from cosim.netlist import expr, ir
from cosim.netlist.writers import spicelike
from cosim.netlist.writers.dialect import switch_values
from cosim.netlist.numbers import number

def _volt(n1: str, n2: str | None) -> str:
    return f"V({n1})" if n2 is None else f"V({n1},{n2})"


def _switch(writer, e: ir.Switch, model: ir.Model) -> list[str]:
    return [f"{e.name} {e.n1} {e.n2} {e.cpos} {e.cneg} {e.model}"]


def _switch_model(m: ir.Model) -> str:
    v = switch_values(m, "LTspice")
    return f".model {m.name} SW(Ron={number(v['ron'])} Roff={number(v['roff'])} Vt={number(v['vt'])} Vh=0)"


SPELLING = spicelike.Spelling(
    name="LTspice",
    style=expr.Style("LTspice", volt=_volt, ternary=lambda c, a, b: f"if({c},{a},{b})",
                     current=lambda d: f"I({d})", logical={"&&": "&", "||": "|", "!": "!"},
                     missing_ops=frozenset({"==", "!="}), wrap_numeric_conditions=True),
    behavioural=lambda kind, text: f"{kind}={text}",
    sine="SINE",
    params_keyword="params:",
    tran_suffix="uic",
    output=lambda vectors: ".save " + " ".join(spicelike.spice_vector(v) for v in vectors),
    switch=_switch,
    switch_model=_switch_model,
)


WRITER = spicelike.writer(
    SPELLING, name="ltspice", netlist_file="board.net", executed_here=False,
    run=('LTspice -b board.net                                # LTspice.exe -b board.net on Windows',),
    notes=("LTspice syntax, not executed here (LTspice runs on Windows/macOS). The M-SDC is the B-source "
           "subcircuit in msdc_bsource.lib."),
)
