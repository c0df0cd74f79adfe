"""Xyce dialect writer (`.cir`). Not executed here (Xyce is not installed); the golden files in netlists/ pin
its output.

Syntax followed (Sandia, Xyce Reference Guide 7.x): SPICE element lines; `C … IC=` honoured by
`.TRAN <step> <stop> <start> <step ceiling> UIC`; behavioural sources `B… V={expr}` / `I={expr}` whose
expressions use `IF(cond, a, b)` (written for ngspice's `cond ? a : b`), `pow(x, y)` and parameters by name;
`.SUBCKT name pins PARAMS: …` and `X… sub PARAMS: …`; `.INCLUDE file`; `.PRINT TRAN V(node) I(source)` with
hierarchical names joined by `:`.

A switch is written as a B-source conductance, `I={V(a,b)*IF(V(c,d)>vt, 1/ron, 1/roff)}`: ngspice's `sw`
with vh = 0 switches abruptly at vt, while Xyce's VSWITCH model moves its resistance gradually between VOFF
and VON. Its element name is the switch's name with a `B` in front, as Xyce takes the type from the letter.
"""

from __future__ import annotations

from cosim.errors import NetlistError
from cosim.netlist import expr, ir
from cosim.netlist.writers import spicelike
from cosim.netlist.writers.dialect import switch_values
from cosim.netlist.numbers import number

def _volt(n1: str, n2: str | None) -> str:
    return f"V({n1})" if n2 is None else f"V({n1},{n2})"


def _switch(writer, e: ir.Switch, model: ir.Model) -> list[str]:
    v = switch_values(model, "Xyce")
    name = "B" + e.name
    if name.lower() in writer.names:
        raise NetlistError(f"{e.name}: the Xyce switch element {name} would clash with an element of that name")
    return [f"{name} {e.n1} {e.n2} I={{V({e.n1},{e.n2})*IF(V({e.cpos},{e.cneg})>{number(v['vt'])},"
            f"{number(1.0 / v['ron'])},{number(1.0 / v['roff'])})}}"]


def _model_note(m: ir.Model) -> None:
    switch_values(m, "Xyce")  # refuses hysteresis; the switches carry the values themselves
    return None


SPELLING = spicelike.Spelling(
    name="Xyce",
    style=expr.Style("Xyce", volt=_volt, ternary=lambda c, a, b: f"IF({c},{a},{b})",
                     name_ref=lambda n: "TIME" if n.lower() == "time" else n, current=lambda d: f"I({d})",
                     wrap_numeric_conditions=True),
    behavioural=lambda kind, text: f"{kind}={{{text}}}",
    sine="SIN",
    params_keyword="PARAMS:",
    tran_suffix="UIC",
    output=lambda vectors: ".print tran " + " ".join(spicelike.spice_vector(v) for v in vectors),
    switch=_switch,
    switch_model=_model_note,
)


WRITER = spicelike.writer(
    SPELLING, name="xyce", netlist_file="board.cir", executed_here=False,
    run=('Xyce board.cir',),
    notes=("Xyce syntax, not executed here (Xyce is not installed). The M-SDC is the B-source subcircuit in "
           "msdc_bsource.lib; switches are B-source conductances (Xyce's own switch turns on gradually)."),
)
