"""Behavioural expressions (ngspice B-source syntax, as the IR accepts them) parsed into a small tree, so that
each dialect writer can render them in its own syntax or refuse what it cannot express, by name.

Grammar, loosest binding first: `c ? a : b` (right-associative), `||`, `&&`, `== !=`, `< > <= >=`, `+ -`,
`* /`, unary `- + !`, power `^ **` (right-associative), then atoms: numbers, names (subcircuit parameters or
`time`), `f(args)`, `V(node)`, `V(node, node)`, `I(source)`, `( … )` and `{ … }` (ngspice's parameter braces,
which every other dialect writes as plain parentheses). ngspice pastes the text of `{a/b}` into a behavioural
expression without parentheses (`x/{a/b}` is x/a/b, measured with `listing expand`), so a brace around an
operator expression is refused: `{(a/b)}` means the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

from cosim.errors import NetlistError
from cosim.netlist import ir

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|<=|>=|==|!=|&&|\|\||[-+*/^(),<>!?:{}]))"
)

# Functions whose meaning is the same in ngspice, Verilog-A, Xyce and LTspice (ln: natural logarithm).
FUNCTIONS = {"exp": 1, "ln": 1, "sqrt": 1, "abs": 1, "tanh": 1, "sinh": 1, "cosh": 1, "sin": 1, "cos": 1,
             "tan": 1, "atan": 1, "min": 2, "max": 2, "pow": 2}


@dataclass(frozen=True)
class Num:
    text: str


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Volt:
    n1: str
    n2: str | None = None


@dataclass(frozen=True)
class Curr:
    device: str


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple


@dataclass(frozen=True)
class Unary:
    op: str
    x: object


@dataclass(frozen=True)
class Binary:
    op: str
    a: object
    b: object


@dataclass(frozen=True)
class Ternary:
    cond: object
    a: object
    b: object


@dataclass(frozen=True)
class Group:
    x: object
    brace: bool = False


Node = Union[Num, Name, Volt, Curr, Call, Unary, Binary, Ternary, Group]

_LEVELS = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/")]


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.where = where
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise NetlistError(f"{where}: unexpected character {text[pos]!r} in expression {text!r}")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def fail(self, message: str) -> NetlistError:
        return NetlistError(f"{self.where}: {message}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise self.fail(f"expected {value!r}, got {token[1] if token else 'the end'!r}")
        self.i += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "op" and token[1] in values

    def parse(self) -> Node:
        node = self.ternary()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def ternary(self) -> Node:
        cond = self.binary(0)
        if self.at("?"):
            self.take("?")
            a = self.ternary()
            self.take(":")
            return Ternary(cond, a, self.ternary())
        return cond

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.at(*_LEVELS[level]):
            op = self.take()[1]
            node = Binary(op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.at("-", "+", "!"):
            op = self.take()[1]
            return Unary(op, self.unary())
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.at("^", "**"):
            self.take()
            return Binary("**", base, self.unary())  # right-associative, binds tighter than unary minus
        return base

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("expression ends too early")
        kind, text = token
        if kind == "num":
            self.i += 1
            return Num(text)
        if kind == "op" and text in "({":
            self.i += 1
            inner = self.ternary()
            self.take(")" if text == "(" else "}")
            return Group(inner, brace=text == "{")
        if kind != "name":
            raise self.fail(f"unexpected {text!r}")
        self.i += 1
        if not self.at("("):
            return Name(text)
        self.take("(")
        if text.lower() == "v":
            nodes = [self.node()]
            if self.at(","):
                self.take(",")
                nodes.append(self.node())
            self.take(")")
            return Volt(*nodes)
        if text.lower() == "i":
            device = self.take()[1]
            self.take(")")
            return Curr(ir.check_name(device, "current reference"))
        args = [self.ternary()]
        while self.at(","):
            self.take(",")
            args.append(self.ternary())
        self.take(")")
        return Call(text, tuple(args))

    def node(self) -> str:
        kind, text = self.take()
        if kind not in ("name", "num"):
            raise self.fail(f"expected a node name, got {text!r}")
        return ir.check_node(text)


def parse(expression: str, where: str = "expression") -> Node:
    """The tree of an IR expression; NetlistError naming `where` for anything outside the grammar."""
    return _Parser(expression, where).parse()


def walk(node: Node):
    """Every sub-node, depth first."""
    yield node
    children: tuple = ()
    if isinstance(node, (Unary, Group)):
        children = (node.x,)
    elif isinstance(node, Binary):
        children = (node.a, node.b)
    elif isinstance(node, Ternary):
        children = (node.cond, node.a, node.b)
    elif isinstance(node, Call):
        children = node.args
    for child in children:
        yield from walk(child)


def voltage_nodes(node: Node) -> list[str]:
    """Nodes read by V(…) in the order they first appear (ground excluded)."""
    seen: dict[str, None] = {}
    for n in walk(node):
        if isinstance(n, Volt):
            for x in (n.n1, n.n2):
                if x is not None and x != ir.GROUND:
                    seen.setdefault(x, None)
    return list(seen)


@dataclass(frozen=True)
class Style:
    """How one dialect spells the parts of an expression that differ between simulators."""

    name: str
    volt: Callable[[str, str | None], str]
    ternary: Callable[[str, str, str], str]
    power: Callable[[str, str], str] = lambda a, b: f"pow({a},{b})"
    number: Callable[[str], str] = lambda text: text
    name_ref: Callable[[str], str] = lambda name: name
    current: Callable[[str], str] | None = None
    logical: dict[str, str] | None = None  # "&&", "||", "!" -> spelling; None: not expressible
    functions: dict[str, str] | None = None  # renames, e.g. {"ln": "log"}
    missing_ops: frozenset = frozenset()  # operators the dialect has no (documented) spelling for
    # True when the dialect's conditional may not test ngspice's `x != 0` (LTspice's `if` tests x > 0.5;
    # Xyce documents `IF` with comparisons): conditions that are not already 0/1 are written as abs(x)>0
    wrap_numeric_conditions: bool = False


def render(node: Node, style: Style, where: str) -> str:
    """Text of `node` in `style`; NetlistError naming `where` when the dialect cannot express a part."""

    def r(n: Node) -> str:
        if isinstance(n, Num):
            return style.number(n.text)
        if isinstance(n, Name):
            return style.name_ref(n.name)
        if isinstance(n, Volt):
            return style.volt(n.n1, n.n2)
        if isinstance(n, Curr):
            if style.current is None:
                raise NetlistError(f"{where}: {style.name} cannot read the current I({n.device}) in an expression")
            return style.current(n.device)
        if isinstance(n, Call):
            fn = n.fn.lower()
            if fn not in FUNCTIONS:
                raise NetlistError(f"{where}: function {n.fn!r} has no agreed meaning across dialects; "
                                   f"allowed: {', '.join(sorted(FUNCTIONS))}")
            if len(n.args) != FUNCTIONS[fn]:
                raise NetlistError(f"{where}: {n.fn} takes {FUNCTIONS[fn]} argument(s), got {len(n.args)}")
            if fn == "pow":
                return style.power(r(n.args[0]), r(n.args[1]))
            fn = (style.functions or {}).get(fn, fn)
            return f"{fn}(" + ",".join(r(a) for a in n.args) + ")"
        if isinstance(n, Group):
            if n.brace and not isinstance(n.x, (Num, Name, Call, Group, Volt, Curr)):
                raise NetlistError(f"{where}: {{…}} holds an operator expression; ngspice pastes it into the "
                                   f"expression without parentheses, so write {{(…)}} to fix its meaning")
            return f"({r(n.x)})"
        if isinstance(n, Unary):
            if n.op == "!":
                return _logical("!", style, where) + f"({r(n.x)})"
            inner = r(n.x)
            return f"{n.op}({inner})" if inner[:1] in "-+" else f"{n.op}{inner}"  # never `--x`
        if isinstance(n, Binary):
            if n.op == "**":
                return style.power(r(n.a), r(n.b))
            if n.op in style.missing_ops:
                raise NetlistError(f"{where}: {style.name} has no operator {n.op!r} in expressions")
            op = _logical(n.op, style, where) if n.op in ("&&", "||") else n.op
            right = r(n.b)
            return f"{r(n.a)}{op}({right})" if right[:1] in "-+" else f"{r(n.a)}{op}{right}"
        if isinstance(n, Ternary):
            cond = r(n.cond)
            if style.wrap_numeric_conditions and not _boolean(n.cond):
                cond = f"abs({cond})>0"
            return style.ternary(cond, r(n.a), r(n.b))
        raise NetlistError(f"{where}: cannot render {n!r}")  # pragma: no cover - the parser makes no other nodes

    return r(node)


def _boolean(n: Node) -> bool:
    """True when `n` can only be 0 or 1 (a comparison or logic)."""
    while isinstance(n, Group):
        n = n.x
    return (isinstance(n, Binary) and n.op in ("<", ">", "<=", ">=", "==", "!=", "&&", "||")) or \
        (isinstance(n, Unary) and n.op == "!")


def _logical(op: str, style: Style, where: str) -> str:
    if style.logical is None or op not in style.logical:
        raise NetlistError(f"{where}: {style.name} has no logical operator {op!r} in expressions")
    return style.logical[op]
