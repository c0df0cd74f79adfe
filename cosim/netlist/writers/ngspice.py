"""ngspice dialect writer: the one place that turns the netlist IR into ngspice text."""

from __future__ import annotations

from functools import singledispatch

from cosim.errors import NetlistError
from cosim.netlist import ir
from cosim.netlist.numbers import number
from cosim.netlist.writers.base import Rendered, Writer


def waveform(w: ir.Waveform) -> str:
    if isinstance(w, ir.Dc):
        return f"DC {number(w.value)}"
    if isinstance(w, ir.Pulse):
        fields = (w.v1, w.v2, w.delay_s, w.rise_s, w.fall_s, w.width_s, w.period_s)
        return "DC 0 PULSE(" + " ".join(map(number, fields)) + ")"
    if isinstance(w, ir.Pwl):
        pairs = " ".join(f"{number(t)} {number(v)}" for t, v in zip(w.times_s, w.values))
        return f"DC 0 PWL({pairs})"
    if isinstance(w, ir.Sine):
        fields = (w.offset, w.amplitude, w.frequency_Hz, w.delay_s, w.damping_per_s, w.phase_deg)
        return "DC 0 SIN(" + " ".join(map(number, fields)) + ")"
    raise NetlistError(f"unsupported waveform {w!r}")


def params(values: dict[str, float | ir.ParamRef]) -> str:
    return " ".join(f"{k}={{{v.name}}}" if isinstance(v, ir.ParamRef) else f"{k}={number(v)}" for k, v in values.items())


@singledispatch
def line(item: object) -> str:
    raise NetlistError(f"the ngspice writer cannot express {item!r}")


@line.register
def _(e: ir.Resistor) -> str:
    return f"{e.name} {e.n1} {e.n2} {number(e.value_ohm)}"


@line.register
def _(e: ir.Capacitor) -> str:
    ic = "" if e.ic_V is None else f" ic={number(e.ic_V)}"
    return f"{e.name} {e.n1} {e.n2} {number(e.value_F)}{ic}"


@line.register(ir.VoltageSource)
@line.register(ir.CurrentSource)
def _(e) -> str:
    return f"{e.name} {e.npos} {e.nneg} {waveform(e.waveform)}"


@line.register
def _(e: ir.BehavioralSource) -> str:
    return f"{e.name} {e.npos} {e.nneg} {e.kind}={e.expression}"


@line.register
def _(e: ir.Switch) -> str:
    return f"{e.name} {e.n1} {e.n2} {e.cpos} {e.cneg} {e.model}"


@line.register
def _(e: ir.OsdiDevice) -> str:
    return " ".join([e.name, *e.terminals, e.model, params(e.params)]).rstrip()


@line.register
def _(e: ir.SubcircuitInstance) -> str:
    return " ".join([e.name, *e.terminals, e.subckt, params(e.params)]).rstrip()


@line.register
def _(d: ir.Model) -> str:
    # The space before `(` matters: ngspice 46 ignores the first parameter of an OSDI (Verilog-A) model card
    # written `KIND(p1=…` (tests/test_vteam_model.py); built-in kinds such as `sw` read it either way.
    return f".model {d.name} {d.kind} ({params(d.params)})"


@line.register
def _(d: ir.Param) -> str:
    return f".param {d.name}={number(d.value)}"


@line.register
def _(d: ir.Options) -> str:
    parts = [k if v is True else f"{k}={v if isinstance(v, str) else _option_number(v)}" for k, v in d.values.items()]
    return ".options " + " ".join(parts)


def _option_number(value: float) -> str:
    """Integral option values as integers: ngspice rejects `seed=0.0` ("Cannot convert … to seed value")."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else number(value)


@line.register
def _(d: ir.Include) -> str:
    return f".include {d.path}"


@line.register
def _(d: ir.SubcircuitLibrary) -> str:
    return f".include {d.path}"


@line.register
def _(d: ir.OsdiLoad) -> str:
    return f".control\npre_osdi {d.path}\n.endc"


@line.register
def _(d: ir.Tran) -> str:
    tail = " uic" if d.uic else ""
    return f".tran {number(d.step_s)} {number(d.stop_s)} {number(d.start_s)} {number(d.tmax_s)}{tail}"


@line.register
def _(d: ir.Op) -> str:
    return ".op"


@line.register
def _(d: ir.DcSweep) -> str:
    source = "temp" if d.source == ir.SWEEP_TEMPERATURE else d.source.lower()
    return f".dc {source} {number(d.start)} {number(d.stop)} {number(d.step)}"


@line.register
def _(d: ir.Save) -> str:
    return ".save " + " ".join(d.vectors)


@line.register
def _(d: ir.SubcircuitDef) -> str:
    head = " ".join([".subckt", d.name, *d.pins, params(d.params)]).rstrip()
    body = [line(m) for m in d.models] + [_subckt_element(d, e) for e in d.elements]
    return "\n".join([head, *body, f".ends {d.name}"])


def _subckt_element(d: ir.SubcircuitDef, e: ir.Element) -> str:
    """Inside a subcircuit, a capacitor named in `ic_params` takes its initial condition from that parameter."""
    for param, cap in d.ic_params.items():
        if isinstance(e, ir.Capacitor) and e.name.lower() == cap.lower():
            return f"{e.name} {e.n1} {e.n2} {number(e.value_F)} ic={{{param}}}"
    return line(e)


def write(netlist: ir.Netlist, *, num_threads: int | None = None) -> str:
    """The whole netlist as ngspice text: title, OSDI loads, directives, elements, `.end`.

    `num_threads` sets ngspice's OpenMP thread count before the circuit is parsed (`pre_set`), for `ngspice -b -n`,
    which reads no `.spiceinit` that could set it; without it, ngspice's spinit decides (8 in ngspice 46)."""
    netlist.validate()
    threads = []
    if num_threads is not None:
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise NetlistError(f"num_threads must be a whole number >= 1, got {num_threads!r}")
        threads = [f".control\npre_set num_threads={num_threads}\n.endc"]
    first = [i for i in netlist if isinstance(i, ir.OsdiLoad)]
    rest = [i for i in netlist if not isinstance(i, ir.OsdiLoad)]
    return "\n".join([netlist.title, *threads, *map(line, first), *map(line, rest), ".end", ""])


WRITER = Writer(
    name="ngspice", netlist_file="board.cir", model_family="ngspice", executed_here=True,
    run=('ngspice -b -r board.raw board.cir',),
    compile_va="openvaf-r --target_cpu generic {name}.va -o {name}.osdi",
    notes="The circuit, waveforms, time step and save list of the toolkit's own transient for this step, "
           "with the model paths relative to this folder.",
    render=lambda netlist: Rendered(write(netlist)),
)
