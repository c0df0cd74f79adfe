"""What the non-ngspice dialect writers share: their result type, number and waveform access, and the
Verilog-A modules generated for elements a Verilog-A dialect has no primitive for (voltage-controlled
switches, behavioural sources).

Every writer refuses, with a NetlistError naming the element, what its dialect cannot express; nothing is
dropped silently. Solver hints that change no circuit (`klu`, the random `seed` of a circuit without random
sources) are written as comments saying so.
"""

from __future__ import annotations

from typing import Mapping

from cosim.errors import NetlistError
from cosim.netlist import expr, ir
from cosim.netlist.numbers import number

__all__ = ["VerilogAModules", "switch_values", "SWITCH_WINDOW_V", "solver_hint"]

# SPICE model kinds built into ngspice that no other dialect here shares under the same name and meaning.
SPICE_MODEL_KINDS = frozenset({"r", "c", "l", "d", "npn", "pnp", "nmos", "pmos", "njf", "pjf", "nmf", "pmf",
                               "csw", "sw", "ltra", "urc", "vdmos"})

# A Verilog-A switch turns on over vt ± SWITCH_WINDOW_V (conductance interpolated on a log scale by a tanh):
# VACASK stops with "Timestep too small" on a conductance that jumps (measured), and a ±1 mV window is
# crossed in ~10 ps on the toolkit's 10 ns control edges.
SWITCH_WINDOW_V = 1e-3
SWITCH_MODULE = "cosim_vsw"
BEHAVIOURAL_FILE = "cosim_behavioural.va"


def solver_hint(key: str, value: object, dialect: str) -> str:
    """A comment for options that do not change the circuit; NetlistError for any other option."""
    if key.lower() == "klu":
        return f"ngspice option klu (sparse solver choice) has no {dialect} counterpart here; results do not depend on it"
    if key.lower() == "seed":
        return (f"ngspice option seed={number(value)} only seeds random sources, which the netlist IR cannot "
                f"express; {dialect} needs none")
    raise NetlistError(f"option {key!r} has no {dialect} counterpart; remove it or extend the {dialect} writer")


def switch_values(model: ir.Model, dialect: str) -> dict[str, float]:
    """vt, ron, roff of an ngspice `sw` model (ngspice defaults where absent); hysteresis is refused because a
    memoryless element cannot express it."""
    values = {k.lower(): v for k, v in model.params.items()}
    unknown = set(values) - {"vt", "vh", "ron", "roff"}
    if unknown:
        raise NetlistError(f"switch model {model.name}: parameter(s) {sorted(unknown)} have no {dialect} counterpart")
    if values.get("vh", 0.0) != 0.0:
        raise NetlistError(f"switch model {model.name}: hysteresis vh={number(values['vh'])} cannot be expressed in "
                           f"{dialect} (the exported switch is memoryless); use vh=0")
    return {"vt": values.get("vt", 0.0), "ron": values.get("ron", 1.0), "roff": values.get("roff", 1e12)}


def _va_number(text: str) -> str:
    """Verilog-A divides integers as integers: every literal is written as a real."""
    return text if any(c in text for c in ".eE") else text + ".0"


class VerilogAModules:
    """Verilog-A modules generated for one netlist: one per distinct behavioural expression, one switch."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.modules: dict[str, str] = {}  # module name -> source
        self._by_body: dict[str, str] = {}

    def switch(self) -> str:
        """The switch module: I = V·g, g from 1/roff to 1/ron across vt ± vw."""
        if SWITCH_MODULE not in self.modules:
            self.modules[SWITCH_MODULE] = "\n".join([
                "// Voltage-controlled switch: conductance from 1/roff to 1/ron across vt +- vw (log scale),",
                "// the memoryless equivalent of an ngspice sw model with vh = 0.",
                f"module {SWITCH_MODULE}(p, n, cp, cn);",
                "  inout p, n, cp, cn;",
                "  electrical p, n, cp, cn;",
                "  parameter real vt = 0.0;",
                "  parameter real ron = 1.0 from (0:inf);",
                "  parameter real roff = 1e12 from (0:inf);",
                f"  parameter real vw = {number(SWITCH_WINDOW_V)} from (0:inf);",
                "  real s;",
                "  analog begin",
                "    s = 0.5 * (1.0 + tanh((V(cp, cn) - vt) / vw));",
                "    I(p, n) <+ V(p, n) * exp(s * ln(roff / ron) - ln(roff));",
                "  end",
                "endmodule",
            ])
        return SWITCH_MODULE

    def behavioural(self, e: ir.BehavioralSource, where: str | None = None) -> tuple[str, tuple[str, ...]]:
        """(module name, instance nodes) for a B-source: ports p, n (its terminals) then one per node it reads."""
        where = where or e.name
        tree = expr.parse(e.expression, where)
        refs = [n for n in expr.voltage_nodes(tree) if n.lower() not in (e.npos.lower(), e.nneg.lower())]
        ports = {e.npos.lower(): "p", e.nneg.lower(): "n"}
        ports.update({n.lower(): f"a{k}" for k, n in enumerate(refs)})

        def port(node: str) -> str | None:
            return None if node == ir.GROUND else ports[node.lower()]

        def volt(n1: str, n2: str | None) -> str:
            a, b = port(n1), (port(n2) if n2 is not None else None)
            if a is None and b is None:
                return "0.0"
            if a is None:
                return f"(-V({b}))"
            return f"V({a})" if b is None else f"V({a}, {b})"

        def name_ref(name: str) -> str:
            if name.lower() == "time":
                return "$abstime"
            raise NetlistError(f"{where}: the expression reads {name!r}; a {self.dialect} behavioural module takes "
                               f"numbers, node voltages and time only")

        style = expr.Style(self.dialect, volt=volt, ternary=lambda c, a, b: f"(({c}) ? ({a}) : ({b}))",
                           number=_va_number, name_ref=name_ref, logical={"&&": "&&", "||": "||", "!": "!"})
        body = expr.render(tree, style, where)
        pins = ["p", "n"] + [f"a{k}" for k in range(len(refs))]
        quantity = "V" if e.kind == "V" else "I"
        contribution = f"{quantity}(p, n) <+ {body};"
        key = f"{len(pins)}:{contribution}"
        name = self._by_body.get(key)
        if name is None:
            name = self._by_body[key] = f"cosim_b{len(self._by_body)}"
            self.modules[name] = "\n".join([
                f"// Behavioural {'voltage' if e.kind == 'V' else 'current'} source, first used by {e.name}: "
                f"{e.kind}={e.expression}",
                f"module {name}({', '.join(pins)});",
                f"  inout {', '.join(pins)};",
                f"  electrical {', '.join(pins)};",
                f"  analog {contribution}",
                "endmodule",
            ])
        return name, (e.npos, e.nneg, *refs)

    def text(self) -> str:
        header = ("// Verilog-A modules generated by cosim for elements this dialect has no primitive for.\n"
                  '`include "disciplines.vams"\n')
        return header + "\n\n".join(self.modules.values()) + "\n"


def instance_ics(definition: ir.SubcircuitDef, params: Mapping[str, float]) -> list[tuple[str, float]]:
    """(local node, initial voltage) for every capacitor of a subcircuit that carries one (by `ic_params` or a
    fixed `ic_V`), for one instance with `params`; NetlistError when the capacitor is not grounded."""
    caps_by_param = {cap.lower(): param for param, cap in definition.ic_params.items()}
    out = []
    for e in definition.elements:
        if not isinstance(e, ir.Capacitor):
            continue
        param = caps_by_param.get(e.name.lower())
        if param is not None:
            value = params.get(param, definition.params[param])
        elif e.ic_V is not None:
            value = e.ic_V
        else:
            continue
        out.append(grounded_ic(e, value, f"subcircuit {definition.name}"))
    return out


def grounded_ic(cap: ir.Capacitor, value: float, where: str = "netlist") -> tuple[str, float]:
    """A capacitor's initial voltage as a node voltage; only a grounded capacitor can be written that way."""
    if cap.n2 == ir.GROUND and cap.n1 != ir.GROUND:
        return cap.n1, float(value)
    if cap.n1 == ir.GROUND and cap.n2 != ir.GROUND:
        return cap.n2, -float(value)
    raise NetlistError(f"{where}: {cap.name} has an initial condition but is not connected to ground; only node "
                       f"voltages can carry initial conditions in this dialect")


def lower_nodes(nodes) -> str:
    """`(a b c)` in lower case: the Spectre-like dialects' terminal lists."""
    return "(" + " ".join(n.lower() for n in nodes) + ")"


def lower_params(values) -> str:
    """`k=v …` with lower-case names: the Spectre-like dialects' parameter lists."""
    return " ".join(f"{k.lower()}={number(v)}" for k, v in values.items())
