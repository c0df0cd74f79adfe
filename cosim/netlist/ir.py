"""Netlist IR: typed circuit elements whose every name, number and expression is validated on creation.

No free text reaches a simulator: a SPICE netlist can run shell commands (`.control` + `shell`), so names
must be plain identifiers, numbers must be finite, expressions must be made of known tokens only and
paths of a safe alphabet. Dialect writers turn a `Netlist` into text; nothing else builds netlist text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Mapping, Union

from cosim.errors import NetlistError
from cosim.netlist.numbers import number

GROUND = "0"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATH = re.compile(r"[A-Za-z0-9_./+-]+\Z")
_TITLE = re.compile(r"[A-Za-z0-9_ .,:=()+-]*\Z")
# Expression tokens: numbers, identifiers, operators and brackets; nothing that can end a line, start a
# comment or quote text.
_EXPR_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|==|!=|&&|\|\||[-+*/^(),<>!?:{}]))"
)


def check_name(name: object, what: str = "name") -> str:
    """Return `name` if it is a plain identifier, else raise NetlistError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise NetlistError(f"invalid {what} {name!r}: allowed are [A-Za-z_][A-Za-z0-9_]*")
    return name


def check_node(node: object) -> str:
    """Nodes are identifiers or the ground node "0"."""
    if node == GROUND:
        return GROUND
    return check_name(node, "node name")


def check_number(value: object, what: str = "value") -> float:
    """Return `value` as a finite float, else raise NetlistError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise NetlistError(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise NetlistError(f"{what} must be finite, got {value!r}")
    return value


def check_path(path: object, what: str = "path") -> str:
    """Paths may only use [A-Za-z0-9_./+-] so they cannot break out of their directive."""
    text = str(path)
    if not _PATH.match(text):
        raise NetlistError(f"invalid {what} {text!r}: allowed characters are [A-Za-z0-9_./+-]")
    return text


def check_expression(expr: object, what: str = "expression") -> str:
    """Tokenise a behavioural expression; return it normalised (tokens joined) or raise NetlistError."""
    if not isinstance(expr, str) or not expr.strip():
        raise NetlistError(f"{what} must be a non-empty string, got {expr!r}")
    control = re.search(r"[^\t\x20-\x7e]", expr)  # a line break would be dropped as a token gap: refuse it
    if control:
        raise NetlistError(f"{what} {expr!r}: unexpected character {control.group()!r} at position {control.start()}")
    tokens, pos, depth = [], 0, 0
    while pos < len(expr):
        match = _EXPR_TOKEN.match(expr, pos)
        if match is None or match.end() == pos:
            if expr[pos:].strip() == "":
                break
            raise NetlistError(f"{what} {expr!r}: unexpected character {expr[pos]!r} at position {pos}")
        token = match.group("num") or match.group("name") or match.group("op")
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth < 0:
            raise NetlistError(f"{what} {expr!r}: unbalanced parentheses")
        tokens.append(token)
        pos = match.end()
    if depth != 0:
        raise NetlistError(f"{what} {expr!r}: unbalanced parentheses")
    return "".join(tokens)


def _check_prefix(name: str, letter: str, kind: str) -> str:
    check_name(name, f"{kind} name")
    if name[0].upper() != letter:
        raise NetlistError(f"{kind} name {name!r} must start with {letter!r} (SPICE takes the type from it)")
    return name


def _check_params(params: Mapping[str, float], what: str) -> dict[str, float]:
    return {check_name(k, f"{what} parameter name"): check_number(v, f"{what} parameter {k!r}") for k, v in params.items()}


# --- source waveforms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dc:
    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_number(self.value, "DC value"))


@dataclass(frozen=True)
class Pulse:
    v1: float
    v2: float
    delay_s: float = 0.0
    rise_s: float = 1e-9
    fall_s: float = 1e-9
    width_s: float = 1e-6
    period_s: float = 2e-6

    def __post_init__(self) -> None:
        for f in ("v1", "v2", "delay_s", "rise_s", "fall_s", "width_s", "period_s"):
            object.__setattr__(self, f, check_number(getattr(self, f), f"PULSE {f}"))
        if min(self.delay_s, self.rise_s, self.fall_s, self.width_s, self.period_s) < 0:
            raise NetlistError("PULSE times must be >= 0")


@dataclass(frozen=True)
class Pwl:
    times_s: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        times = tuple(check_number(t, "PWL time") for t in self.times_s)
        values = tuple(check_number(v, "PWL value") for v in self.values)
        if not times or len(times) != len(values):
            raise NetlistError(f"PWL needs equally many times and values (got {len(times)} and {len(values)}), at least one")
        if any(b <= a for a, b in zip(times, times[1:])) or times[0] < 0:
            raise NetlistError("PWL times must start at >= 0 and increase strictly")
        # Written with 12 significant digits, times closer than 1e-11 relative could become equal.
        if any(b - a < 1e-11 * b and number(a) == number(b) for a, b in zip(times, times[1:])):
            raise NetlistError("PWL times must differ in their 12 significant digits (cosim.netlist.numbers)")
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class Sine:
    offset: float
    amplitude: float
    frequency_Hz: float
    delay_s: float = 0.0
    damping_per_s: float = 0.0
    phase_deg: float = 0.0

    def __post_init__(self) -> None:
        for f in ("offset", "amplitude", "frequency_Hz", "delay_s", "damping_per_s", "phase_deg"):
            object.__setattr__(self, f, check_number(getattr(self, f), f"SIN {f}"))
        if self.frequency_Hz <= 0:
            raise NetlistError("SIN frequency must be > 0")


Waveform = Union[Dc, Pulse, Pwl, Sine]


# --- elements --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resistor:
    name: str
    n1: str
    n2: str
    value_ohm: float

    def __post_init__(self) -> None:
        _check_prefix(self.name, "R", "resistor")
        check_node(self.n1), check_node(self.n2)
        object.__setattr__(self, "value_ohm", check_number(self.value_ohm, f"{self.name} resistance"))
        if self.value_ohm <= 0:
            raise NetlistError(f"{self.name}: resistance must be > 0, got {self.value_ohm}")

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.n1, self.n2)


@dataclass(frozen=True)
class Capacitor:
    name: str
    n1: str
    n2: str
    value_F: float
    ic_V: float | None = None

    def __post_init__(self) -> None:
        _check_prefix(self.name, "C", "capacitor")
        check_node(self.n1), check_node(self.n2)
        object.__setattr__(self, "value_F", check_number(self.value_F, f"{self.name} capacitance"))
        if self.value_F <= 0:
            raise NetlistError(f"{self.name}: capacitance must be > 0, got {self.value_F}")
        if self.ic_V is not None:
            object.__setattr__(self, "ic_V", check_number(self.ic_V, f"{self.name} ic"))

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.n1, self.n2)


@dataclass(frozen=True)
class _Source:
    """An independent source; current is counted from npos through the source to nneg (SPICE convention)."""

    name: str
    npos: str
    nneg: str
    waveform: Waveform = field(default_factory=lambda: Dc(0.0))
    _letter = ""
    _kind = ""

    def __post_init__(self) -> None:
        _check_prefix(self.name, self._letter, self._kind)
        check_node(self.npos), check_node(self.nneg)
        _check_waveform(self.name, self.waveform)

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.npos, self.nneg)


@dataclass(frozen=True)
class VoltageSource(_Source):
    _letter = "V"
    _kind = "voltage source"


@dataclass(frozen=True)
class CurrentSource(_Source):
    _letter = "I"
    _kind = "current source"


@dataclass(frozen=True)
class BehavioralSource:
    """ngspice B-source: `kind` "I" (current from npos to nneg) or "V", value given by `expression`."""

    name: str
    npos: str
    nneg: str
    kind: str
    expression: str

    def __post_init__(self) -> None:
        _check_prefix(self.name, "B", "behavioural source")
        check_node(self.npos), check_node(self.nneg)
        if self.kind not in ("I", "V"):
            raise NetlistError(f"{self.name}: kind must be 'I' or 'V', got {self.kind!r}")
        object.__setattr__(self, "expression", check_expression(self.expression, f"{self.name} expression"))

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.npos, self.nneg)


@dataclass(frozen=True)
class Switch:
    """Voltage-controlled switch between n1 and n2, driven by V(cpos, cneg), with an `sw` model."""

    name: str
    n1: str
    n2: str
    cpos: str
    cneg: str
    model: str

    def __post_init__(self) -> None:
        _check_prefix(self.name, "S", "switch")
        for n in (self.n1, self.n2, self.cpos, self.cneg):
            check_node(n)
        check_name(self.model, "model name")

    @property
    def nodes(self) -> tuple[str, ...]:
        # The control nodes draw no current; they still belong to the circuit for connectivity.
        return (self.n1, self.n2, self.cpos, self.cneg)


@dataclass(frozen=True)
class ParamRef:
    """A model parameter that takes the value of a parameter of the subcircuit holding the model (`{name}`):
    how a Verilog-A model card inside a subcircuit gets each instance's own values (OSDI models take their
    parameters on the model card only)."""

    name: str

    def __post_init__(self) -> None:
        check_name(self.name, "parameter reference")


@dataclass(frozen=True)
class Model:
    """A `.model NAME KIND (params)` line; KIND is a SPICE model type or an OSDI module name. Inside a
    subcircuit, a parameter may be a `ParamRef` to one of the subcircuit's parameters."""

    name: str
    kind: str
    params: Mapping[str, float | ParamRef] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "model name")
        check_name(self.kind, "model kind")
        what = f"model {self.name}"
        object.__setattr__(self, "params", {
            check_name(k, f"{what} parameter name"): v if isinstance(v, ParamRef) else check_number(v, f"{what} parameter {k!r}")
            for k, v in self.params.items()})

    @property
    def references(self) -> set[str]:
        """The subcircuit parameters this model refers to (lower case)."""
        return {v.name.lower() for v in self.params.values() if isinstance(v, ParamRef)}


@dataclass(frozen=True)
class OsdiDevice:
    """A Verilog-A (OSDI) device instance: `N<name> nodes... model params`."""

    name: str
    terminals: tuple[str, ...]
    model: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_prefix(self.name, "N", "OSDI device")
        object.__setattr__(self, "terminals", tuple(check_node(n) for n in self.terminals))
        if not self.terminals:
            raise NetlistError(f"{self.name}: an OSDI device needs at least one terminal")
        check_name(self.model, "model name")
        object.__setattr__(self, "params", _check_params(self.params, self.name))

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.terminals


@dataclass(frozen=True)
class SubcircuitInstance:
    name: str
    terminals: tuple[str, ...]
    subckt: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_prefix(self.name, "X", "subcircuit instance")
        object.__setattr__(self, "terminals", tuple(check_node(n) for n in self.terminals))
        check_name(self.subckt, "subcircuit name")
        object.__setattr__(self, "params", _check_params(self.params, self.name))

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.terminals


Element = Union[
    Resistor, Capacitor, VoltageSource, CurrentSource, BehavioralSource, Switch, OsdiDevice, SubcircuitInstance
]
_ELEMENT_TYPES = (Resistor, Capacitor, VoltageSource, CurrentSource, BehavioralSource, Switch, OsdiDevice, SubcircuitInstance)


@dataclass(frozen=True)
class SubcircuitDef:
    """`.subckt NAME pins params ... .ends`.

    `ic_params` maps a parameter to the capacitor whose initial condition it sets (`ic={param}`): that is how
    device state is carried between simulations, by instance parameter in a file and by `alter` in memory.
    """

    name: str
    pins: tuple[str, ...]
    elements: tuple[Element, ...]
    params: Mapping[str, float] = field(default_factory=dict)
    models: tuple[Model, ...] = ()
    ic_params: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "subcircuit name")
        object.__setattr__(self, "pins", tuple(check_node(p) for p in self.pins))
        if GROUND in self.pins or not self.pins:
            raise NetlistError(f"subcircuit {self.name}: pins must be named nodes, at least one, not ground")
        object.__setattr__(self, "params", _check_params(self.params, f"subcircuit {self.name}"))
        object.__setattr__(self, "elements", tuple(self.elements))
        for e in self.elements:
            if not isinstance(e, _ELEMENT_TYPES):
                raise NetlistError(f"subcircuit {self.name}: {e!r} is not a netlist element")
        for m in self.models:
            if not isinstance(m, Model):
                raise NetlistError(f"subcircuit {self.name}: {m!r} is not a model")
            unknown = m.references - {p.lower() for p in self.params}
            if unknown:
                raise NetlistError(f"subcircuit {self.name}: model {m.name} refers to {sorted(unknown)}, which are not "
                                   "parameters of the subcircuit")
        caps = {e.name.lower(): e for e in self.elements if isinstance(e, Capacitor)}
        for param, cap in self.ic_params.items():
            if param not in self.params:
                raise NetlistError(f"subcircuit {self.name}: ic parameter {param!r} is not one of its parameters")
            if check_name(cap, "capacitor name").lower() not in caps:
                raise NetlistError(f"subcircuit {self.name}: ic capacitor {cap!r} is not one of its capacitors")
        _check_connected(self.elements, set(self.pins), f"subcircuit {self.name}")


@dataclass(frozen=True)
class SubcircuitLibrary:
    """A subcircuit defined in a shipped library file (`.include`d): the IR knows its interface only.

    Device models written by hand in `device_models/*.lib` are trusted sources; declaring their pins,
    parameters and state capacitors here lets instances be validated and state be altered like any other.
    """

    path: str
    name: str
    pins: tuple[str, ...]
    params: Mapping[str, float] = field(default_factory=dict)
    ic_params: Mapping[str, str] = field(default_factory=dict)
    # State parameters held by an independent current source instead (a read-mode variant, where the state must
    # not move): parameter -> (source name, scale); the source's dc value is the parameter times the scale.
    dc_params: Mapping[str, tuple[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_path(self.path, "library path"))
        check_name(self.name, "subcircuit name")
        object.__setattr__(self, "pins", tuple(check_node(p) for p in self.pins))
        object.__setattr__(self, "params", _check_params(self.params, f"subcircuit {self.name}"))
        for param, cap in self.ic_params.items():
            if param not in self.params:
                raise NetlistError(f"subcircuit {self.name}: ic parameter {param!r} is not one of its parameters")
            check_name(cap, "capacitor name")
        held = {}
        for param, spec in self.dc_params.items():
            if param not in self.params:
                raise NetlistError(f"subcircuit {self.name}: dc parameter {param!r} is not one of its parameters")
            if not isinstance(spec, tuple) or len(spec) != 2:
                raise NetlistError(f"subcircuit {self.name}: dc parameter {param!r} needs (source name, scale)")
            source, scale = spec
            _check_prefix(source, "I", "state current source")
            held[param] = (source, check_number(scale, f"subcircuit {self.name} dc scale of {param!r}"))
        object.__setattr__(self, "dc_params", held)


# --- directives ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    value: float

    def __post_init__(self) -> None:
        check_name(self.name, "parameter name")
        object.__setattr__(self, "value", check_number(self.value, f"parameter {self.name}"))


@dataclass(frozen=True)
class Options:
    """`.options`: True gives a bare flag (`klu`), numbers and identifiers give `key=value`."""

    values: Mapping[str, float | str | bool]

    def __post_init__(self) -> None:
        checked: dict[str, float | str | bool] = {}
        for key, value in self.values.items():
            check_name(key, "option name")
            if value is True:
                checked[key] = True
            elif isinstance(value, str):
                checked[key] = check_name(value, f"option {key} value")
            else:
                checked[key] = check_number(value, f"option {key}")
        object.__setattr__(self, "values", checked)


@dataclass(frozen=True)
class Include:
    path: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_path(self.path, "include path"))


@dataclass(frozen=True)
class OsdiLoad:
    """Load a compiled Verilog-A model (`pre_osdi` before the circuit is parsed)."""

    path: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_path(self.path, "OSDI file path"))


@dataclass(frozen=True)
class Tran:
    step_s: float
    stop_s: float
    start_s: float = 0.0
    tmax_s: float | None = None
    uic: bool = True

    def __post_init__(self) -> None:
        for f in ("step_s", "stop_s", "start_s"):
            object.__setattr__(self, f, check_number(getattr(self, f), f"tran {f}"))
        tmax = self.step_s if self.tmax_s is None else check_number(self.tmax_s, "tran tmax_s")
        object.__setattr__(self, "tmax_s", tmax)
        if self.step_s <= 0 or self.stop_s <= 0 or tmax <= 0:
            raise NetlistError("tran step, stop and tmax must be > 0")
        if not 0 <= self.start_s < self.stop_s:
            raise NetlistError("tran start must be in [0, stop)")


@dataclass(frozen=True)
class Op:
    """`.op`: the DC operating point (capacitors open, so state capacitors must be held by sources)."""


# ngspice sweeps a source by name, or the circuit temperature: expressions read it as `temper` without a node.
SWEEP_TEMPERATURE = "TEMP"


@dataclass(frozen=True)
class DcSweep:
    """`.dc SOURCE start stop step`: one DC solve per value, each starting from the previous solution."""

    source: str  # an independent source's name, or SWEEP_TEMPERATURE
    start: float
    stop: float
    step: float

    def __post_init__(self) -> None:
        if self.source != SWEEP_TEMPERATURE:
            check_name(self.source, "swept source")
            if self.source[0].upper() not in "VI":
                raise NetlistError(f"swept source {self.source!r} must be a V or I source, or {SWEEP_TEMPERATURE}")
        for f in ("start", "stop", "step"):
            object.__setattr__(self, f, check_number(getattr(self, f), f"dc {f}"))
        if self.step == 0 or (self.stop - self.start) * self.step < 0:
            raise NetlistError(f"dc step {self.step:g} does not lead from {self.start:g} to {self.stop:g}")

    @property
    def points(self) -> int:
        return int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1


Analysis = Union[Tran, Op, DcSweep]
ANALYSIS_TYPES = (Tran, Op, DcSweep)


_HIER = r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*"  # a name, or instance.name: no empty segments
_VECTOR = re.compile(rf"(?:[vV]\((?P<n1>{_HIER})(?:,(?P<n2>{_HIER}))?\)|[iI]\((?P<src>{_HIER})\))\Z")


def check_vector(vector: object) -> str:
    """Vectors are `v(node)`, `v(a,b)` or `i(source)`; hierarchical names use dots (`v(x1.x)`)."""
    if not isinstance(vector, str) or not _VECTOR.match(vector):
        raise NetlistError(f"invalid vector {vector!r}: use v(node), v(node1,node2) or i(source)")
    for part in re.split(r"[(),]", vector)[1:]:
        for seg in filter(None, part.split(".")):
            if seg != GROUND:
                check_name(seg, "vector name segment")
    return vector.lower()


@dataclass(frozen=True)
class Save:
    vectors: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "vectors", tuple(check_vector(v) for v in self.vectors))


Directive = Union[Param, Options, Include, OsdiLoad, Tran, Op, DcSweep, Save, Model, SubcircuitDef, SubcircuitLibrary]
_DIRECTIVE_TYPES = (Param, Options, Include, OsdiLoad, Tran, Op, DcSweep, Save, Model, SubcircuitDef, SubcircuitLibrary)


def _check_waveform(name: str, waveform: object) -> None:
    if not isinstance(waveform, (Dc, Pulse, Pwl, Sine)):
        raise NetlistError(f"{name}: waveform must be Dc, Pulse, Pwl or Sine, got {waveform!r}")


def _check_connected(elements: Iterable[Element], anchors: set[str], where: str) -> None:
    """Raise when some node has no path (through any element) to ground or to one of `anchors`."""
    parent: dict[str, str] = {}

    def find(n: str) -> str:
        while parent.setdefault(n, n) != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    users: dict[str, list[str]] = {}
    for element in elements:
        nodes = element.nodes
        for n in nodes:
            users.setdefault(n, []).append(element.name)
        for n in nodes[1:]:
            parent[find(n)] = find(nodes[0])
    roots = {find(a) for a in anchors | {GROUND} if a in users or a == GROUND}
    for node, names in users.items():
        if find(node) not in roots:
            raise NetlistError(
                f"{where}: node {node!r} is floating: no path to ground through any element "
                f"(it connects only {', '.join(names)})"
            )


@dataclass
class Netlist:
    """A whole circuit: a title, elements and directives, validated as they are added."""

    title: str = "cosim circuit"
    items: list[Element | Directive] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or "\n" in self.title or not _TITLE.match(self.title):
            raise NetlistError(f"invalid title {self.title!r}: allowed characters are [A-Za-z0-9_ .,:=()+-]")
        items, self.items = list(self.items), []
        self.add(*items)

    def add(self, *items: Element | Directive) -> "Netlist":
        keys = self._key_index()
        for item in items:
            if not isinstance(item, _ELEMENT_TYPES + _DIRECTIVE_TYPES):
                raise NetlistError(f"{item!r} is not a netlist element or directive")
            key = _key(item)
            if key is not None and key in keys:
                raise NetlistError(f"duplicate name {item.name!r} (SPICE names are case-insensitive)")
            self.items.append(item)
            if key is not None:
                keys.add(key)
            self.__dict__["_key_cache"] = (self.items, len(self.items), keys)
        return self

    def _key_index(self) -> set[tuple[str, str]]:
        """The names in use, kept between add() calls while `items` is the same list and only add() grew it
        (a netlist of thousands of devices is built item by item: rescanning every time is quadratic)."""
        cached = self.__dict__.get("_key_cache")
        if cached is not None and cached[0] is self.items and cached[1] == len(self.items):
            return cached[2]
        return self._keys()

    def _keys(self) -> set[tuple[str, str]]:
        return {k for k in (_key(i) for i in self.items) if k is not None}

    @property
    def elements(self) -> list[Element]:
        return [i for i in self.items if isinstance(i, _ELEMENT_TYPES)]

    def of_type(self, kind: type | tuple[type, ...]) -> list:
        return [i for i in self.items if isinstance(i, kind)]

    def element(self, name: str) -> Element:
        for e in self.elements:
            if e.name.lower() == name.lower():
                return e
        raise NetlistError(f"no element named {name!r} in the netlist")

    def subcircuit(self, name: str) -> SubcircuitDef | SubcircuitLibrary:
        for s in self.of_type((SubcircuitDef, SubcircuitLibrary)):
            if s.name.lower() == name.lower():
                return s
        raise NetlistError(f"no subcircuit named {name!r} in the netlist")

    def nodes(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.elements:
            seen.update(dict.fromkeys(e.nodes))
        return list(seen)

    def validate(self) -> None:
        """Whole-circuit checks: references resolve and no node floats."""
        for m in self.of_type(Model):
            if m.references:
                raise NetlistError(f"model {m.name}: only a model inside a subcircuit can take values from parameters "
                                   f"({sorted(m.references)})")
        subckts = {s.name.lower(): s for s in self.of_type((SubcircuitDef, SubcircuitLibrary))}
        for x in self.of_type(SubcircuitInstance):
            definition = subckts.get(x.subckt.lower())
            if definition is None:
                raise NetlistError(f"{x.name}: unknown subcircuit {x.subckt!r}")
            if len(x.terminals) != len(definition.pins):
                raise NetlistError(f"{x.name}: {x.subckt} has {len(definition.pins)} pins, got {len(x.terminals)} nodes")
            unknown = set(x.params) - set(definition.params)
            if unknown:
                raise NetlistError(f"{x.name}: unknown parameter(s) {sorted(unknown)} for {x.subckt}; allowed: {sorted(definition.params)}")
        _check_connected(self.elements, set(), "netlist")

    def replaced(self, name: str, **changes: object) -> "Netlist":
        """A copy with one element's fields (or a subcircuit instance's parameters) changed."""
        out = Netlist(self.title)
        found = False
        for item in self.items:
            if _key(item) is not None and _key(item)[1] == name.lower() and isinstance(item, _ELEMENT_TYPES):
                item = _apply_changes(item, changes)
                found = True
            out.items.append(item)
        if not found:
            raise NetlistError(f"no element named {name!r} in the netlist")
        return out

    def with_changes(self, changes: Mapping[str, Mapping[str, object]]) -> "Netlist":
        """A copy with many elements changed at once ({name: {field: value}}), in one pass over the items."""
        wanted = {name.lower(): fields for name, fields in changes.items()}
        out, found = Netlist(self.title), set()
        for item in self.items:
            if isinstance(item, _ELEMENT_TYPES) and item.name.lower() in wanted:
                found.add(item.name.lower())
                item = _apply_changes(item, wanted[item.name.lower()])
            out.items.append(item)
        missing = sorted(set(wanted) - found)
        if missing:
            raise NetlistError(f"no element named {missing[0]!r} in the netlist")
        return out

    def __iter__(self) -> Iterator[Element | Directive]:
        return iter(self.items)


def _key(item: object) -> tuple[str, str] | None:
    if isinstance(item, _ELEMENT_TYPES):
        return ("element", item.name.lower())
    if isinstance(item, (Model, SubcircuitDef, SubcircuitLibrary, Param)):
        return (type(item).__name__, item.name.lower())
    return None


def _apply_changes(element: Element, changes: Mapping[str, object]) -> Element:
    if isinstance(element, SubcircuitInstance):
        return replace(element, params={**element.params, **changes})
    allowed = set(element.__dataclass_fields__) - {"name"}
    unknown = set(changes) - allowed
    if unknown:
        raise NetlistError(f"{element.name}: cannot change {sorted(unknown)}; allowed: {sorted(allowed)}")
    return replace(element, **changes)
