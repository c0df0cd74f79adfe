"""Netlist export: a config file or a run directory → the board's IR exactly as the toolkit simulates it →
a self-contained netlist in one dialect, the model files it needs and a README saying how to run it.

The board comes from one small function per experiment (`HOOKS`). For the M-SDC network (eslami2024) the
devices carry their own drawn variation and, from a run directory, their trained states as initial
conditions. The stimulus is produced by the toolkit's own hardware session driving an engine that simulates
nothing and keeps the netlist it is asked to run (`_Recorder`), so the exported waveforms, step and save list
are exactly those of the training loop's transient:

- `read`: one forward pass of the training set (every sample in its own read slot, read switches closed);
- `program`: one round of program-and-verify over every device: a set pulse (programming.amplitude_V,
  programming.width_s) then a verify read, one device after another through its select switch;
- `none`: the circuit with its initial states and idle sources, no analysis.

Device models by dialect: ngspice gets the model the toolkit runs (`msdc.va` through OSDI, or the B-source
library `msdc.lib`); VACASK and Spectre get `msdc.va` with one model card and one state capacitor per device;
Xyce and LTspice get the B-source subcircuit written in their own syntax (`msdc_bsource.lib`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from cosim import atomic
from cosim.errors import ConfigError, CosimError, NetlistError
from cosim.netlist import ir
from cosim.netlist.numbers import number
from cosim.spice.engine import Engine

DIALECTS = ("ngspice", "vacask", "spectre", "xyce", "ltspice")
STIMULI = ("read", "program", "none")
NETLIST_NAMES = {"ngspice": "board.cir", "vacask": "board.sim", "spectre": "board.scs", "xyce": "board.cir",
                 "ltspice": "board.net"}
# Which model family each dialect gets: the toolkit's own, Verilog-A per device, or B-source subcircuits.
FAMILIES = {"ngspice": "ngspice", "vacask": "veriloga", "spectre": "veriloga", "xyce": "bsource",
            "ltspice": "bsource"}
EXECUTED_HERE = {"ngspice": True, "vacask": True, "spectre": False, "xyce": False, "ltspice": False}
BSOURCE_LIBRARY = "msdc_bsource.lib"


@dataclass
class Variant:
    """One model family's netlist, the files it needs verbatim, and subcircuits each dialect writes itself."""

    netlist: ir.Netlist
    files: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, list[ir.SubcircuitDef]] = field(default_factory=dict)
    state_vectors: list[str] = field(default_factory=list)  # device states, in device order


@dataclass
class Slot:
    """One hardware event of the stimulus (from the session's schedule)."""

    kind: str
    device: str
    start_s: float
    end_s: float
    read_at_s: float | None


@dataclass
class Board:
    """What an experiment hook returns: the circuit as simulated, its model families and the stimulus."""

    experiment: str
    description: list[str]
    stimulus: str
    model_backend: str
    variants: dict[str, Variant]
    slots: list[Slot]
    x0: np.ndarray
    column_vectors: list[str]  # the outputs to read (M-SDC: column currents of the sense ammeters)
    drive_vectors: list[str]  # programming driver current
    # how the README names the output and state vectors of this circuit
    output_label: str = "Column currents (A, positive into each sense ammeter), sampled at the read instants"
    state_label: str = "Device states X (V of each state node, 0..1), in device order"


@dataclass
class ExportResult:
    out_dir: Path
    dialect: str
    netlist_path: Path
    files: list[Path]
    board: Board


# --- sources: config file or run directory -----------------------------------------------------------


def load_source(path: Path) -> tuple[object, dict[str, np.ndarray], str]:
    """(validated config, recorded states, description) from an experiment file or a run directory."""
    from cosim import config as cfgmod
    from cosim.runs import load_states

    path = Path(path)
    if path.is_dir():
        config_file = path / "config.yaml"
        if not config_file.is_file():
            raise ConfigError(f"{path}: not a run directory (no config.yaml); give a run directory or a config file")
        return cfgmod.load_experiment(config_file), load_states(path), f"run directory {path.name}"
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file or run directory")
    return cfgmod.load_experiment(path), {}, f"config {path.name}"


# --- the engine that records instead of simulating ---------------------------------------------------


class _Recorder(Engine):
    """Simulates nothing: keeps the standalone netlist of the transient it is asked for and answers with
    placeholder waveforms, so a hardware session can produce its stimulus without a simulator."""

    backend = "export"

    def __init__(self, seed: int | None) -> None:
        super().__init__(seed=seed)
        self.recorded: ir.Netlist | None = None

    def _load_text(self, text: str) -> None:
        """Nothing to load."""

    def _apply_alter(self, element: ir.Element, changes: Mapping[str, object]) -> None:
        """Alterations live in the IR (Engine.netlist)."""

    def _run(self, analysis: ir.Tran, vectors: tuple[str, ...]) -> dict[str, np.ndarray]:
        if self.recorded is not None:
            raise NetlistError("an export holds one transient; the stimulus asked for a second one")
        self.recorded = self.standalone_netlist(analysis, vectors)
        return {"time": np.array([0.0, analysis.stop_s]), **{v: np.full(2, k + 1.0) for k, v in enumerate(vectors)}}


# --- eslami2024: the M-SDC board -----------------------------------------------------------------------


def _msdc_library(backend: str) -> list:
    """The toolkit's M-SDC library items, with paths relative to the export directory."""
    from cosim.devices.msdc import spice as ms

    items: list = [ir.OsdiLoad("msdc.osdi")] if backend == "osdi" else []
    items.append(ir.SubcircuitLibrary(ms.LIB_FILES[backend], ms.SUBCKT, ms.PINS, dict(ms.DEFAULTS),
                                      {ms.STATE_PARAM: ms.STATE_CAPACITOR}))
    return items


def msdc_bsource_subckt() -> ir.SubcircuitDef:
    """device_models/msdc.lib as IR (its `.param vt2` written inline), for dialects that write the B-source
    subcircuit in their own syntax; tests/test_export.py holds it to the shipped file in ngspice."""
    from cosim.devices.msdc import spice as ms

    vt2 = "{(2*1.380649e-23*temp/1.602176634e-19)}"  # ngspice pastes braces unparenthesised: keep the ( )
    xc = "min(max(V(x),0),1)"
    v = "V(te,be)"
    current = (f"{{phi}}*{v}*({xc}*{{(1/ron)}}+(1-{xc})*{{(1/roff)}})"
               f"+{{((1-phi)*af)}}*(({{bf}}*{v})<50?exp({{bf}}*{v}):{{exp(50)}}*(1+{{bf}}*{v}-50))"
               f"-{{((1-phi)*ar)}}*((-{{br}}*{v})<50?exp(-{{br}}*{v}):{{exp(50)}}*(1-{{br}}*{v}-50))")
    rate = (f"{{(0.5/tau)}}*((1-V(x))*(1+tanh(({v}-{{von}})/{vt2}))-V(x)*(1-tanh(({v}+{{voff}})/{vt2})))"
            f"-{{(1/tau)}}*(V(x)-{xc})")
    return ir.SubcircuitDef(
        ms.SUBCKT, ms.PINS,
        (ir.BehavioralSource("Bi", "te", "be", "I", current), ir.BehavioralSource("Bx", "0", "x", "I", rate),
         ir.Capacitor("Cx", "x", "0", 1.0)),
        dict(ms.DEFAULTS), ic_params={ms.STATE_PARAM: "Cx"})


def _msdc_variants(net: ir.Netlist, backend: str) -> dict[str, Variant]:
    """The recorded (as simulated) netlist and its Verilog-A and B-source families."""
    from cosim.devices.msdc import spice as ms
    from cosim.resources import data_file

    def model_text(name: str) -> str:
        return data_file("device_models", name).read_text(encoding="utf-8")

    instances = [e for e in net.elements if isinstance(e, ir.SubcircuitInstance) and e.subckt.lower() == ms.SUBCKT]
    states = [ms.state_vector(x.name) for x in instances]
    native_files = {"msdc.va": model_text(ms.VA_FILE), ms.LIB_FILES["osdi"]: model_text(ms.LIB_FILES["osdi"])} \
        if backend == "osdi" else {ms.LIB_FILES["bsource"]: model_text(ms.LIB_FILES["bsource"])}
    native = Variant(net, native_files, {}, states)

    # Verilog-A family: per device a model card, an OSDI instance and its 1 F state capacitor.
    flat_states = {s: f"v({x.name.lower()}_x)" for s, x in zip(states, instances)}
    va = ir.Netlist(net.title)
    va.add(ir.OsdiLoad("msdc.osdi"))
    for item in net:
        if isinstance(item, (ir.OsdiLoad, ir.SubcircuitLibrary)) and _is_msdc_library(item):
            continue
        if isinstance(item, ir.SubcircuitInstance) and item.subckt.lower() == ms.SUBCKT:
            values = {**ms.DEFAULTS, **item.params}
            x0 = values.pop(ms.STATE_PARAM)
            node = f"{item.name.lower()}_x"
            model = f"m{item.name.lower()}"
            va.add(ir.Model(model, "msdc_va", values),
                   ir.OsdiDevice("N" + item.name[1:], (*item.terminals, node), model),
                   ir.Capacitor("C" + item.name[1:] + "x", node, ir.GROUND, 1.0, ic_V=x0))
        elif isinstance(item, ir.Save):
            va.add(ir.Save(tuple(flat_states.get(v, v) for v in item.vectors)))
        else:
            va.add(item)
    veriloga = Variant(va, {"msdc.va": model_text(ms.VA_FILE)}, {}, [flat_states[s] for s in states])

    # B-source family: the same instances, the subcircuit written by each dialect into BSOURCE_LIBRARY.
    subckt = msdc_bsource_subckt()
    bs = ir.Netlist(net.title)
    for item in net:
        if isinstance(item, ir.OsdiLoad) and _is_msdc_library(item):
            continue
        if isinstance(item, ir.SubcircuitLibrary) and _is_msdc_library(item):
            item = ir.SubcircuitLibrary(BSOURCE_LIBRARY, item.name, item.pins, item.params, item.ic_params)
        bs.add(item)
    bsource = Variant(bs, {}, {BSOURCE_LIBRARY: [subckt]}, states)
    for variant in (native, veriloga, bsource):
        variant.netlist.validate()
    return {"ngspice": native, "veriloga": veriloga, "bsource": bsource}


def _is_msdc_library(item) -> bool:
    from cosim.devices.msdc import spice as ms

    if isinstance(item, ir.OsdiLoad):
        return Path(item.path).name == "msdc.osdi"
    return item.name.lower() == ms.SUBCKT


def eslami2024(cfg, states: Mapping[str, np.ndarray], stimulus: str, model_backend: str) -> Board:
    """The M-SDC board with the chosen stimulus (see the module docstring)."""
    from cosim.circuits.network import build_network
    from cosim.data import patterns_3x3
    from cosim.devices.msdc import spice as ms
    from cosim.hil.ledger import Ledger
    from cosim.hil.schedule import Pulses
    from cosim.hil.session import CircuitSession

    from cosim.experiments.eslami2024 import board_parts

    parts = board_parts(cfg)
    spec, arrays, x0 = parts.spec, parts.arrays, parts.x0
    if "msdc_x" in states:
        trained = np.asarray(states["msdc_x"], dtype=float)
        if trained.shape != x0.shape:
            raise ConfigError(f"states.npz holds {trained.size} M-SDC states, the configured board has {x0.size}")
        x0 = trained
    x0 = np.clip(x0, 0.0, 1.0)
    network = build_network(spec, _msdc_library(model_backend), lambda name, te, be, k: ms.instance(
        name, te, be, ms.array_row(arrays, k), float(x0[k])), title="cosim eslami2024 network")
    # No seed option: the circuit has no random source.
    recorder = _Recorder(None)
    captured: list = []

    class Session(CircuitSession):
        def _forward(self, sched, inputs):
            captured.append(sched)
            return super()._forward(sched, inputs)

        def _program(self, sched, devices, read_phase):
            captured.append(sched)
            return super()._program(sched, devices, read_phase)

    session = Session(network, recorder, x0, Ledger(cfg.peripherals), model_backend)
    n = len(x0)
    if stimulus == "read":
        session.forward(patterns_3x3(cfg.data.n_test, cfg.data.test_flips, cfg.seed).x_train, phase="inference")
        what = "one forward pass of the 20 training patterns, one 1 µs read slot each (read switches closed)"
    elif stimulus == "program":
        p = cfg.programming
        session.program(list(range(n)), [Pulses(p.amplitude_V, p.width_s, 1, 1)] * n, verify=True)
        what = (f"one program-and-verify round: a {p.amplitude_V:g} V, {p.width_s:g} s set pulse then a verify read "
                f"on each of the {n} devices in turn")
    else:
        recorder.set_initial_state(dict(zip([q.instance for q in network.points], x0.tolist())), ms.STATE_PARAM)
        recorder.recorded = Engine._circuit_only(recorder.netlist)
        what = "none: the circuit with its initial states and idle sources, no analysis"
    net = recorder.recorded
    slots = []
    for sched in captured:
        for s in sched.slots:
            device = network.points[s.device].instance if s.device >= 0 else ""
            slots.append(Slot(s.kind, device, s.start_s, s.end_s, s.read_at_s))
    columns = [f"i({layer.sense_source(c).lower()})" for layer in network.layers for c in range(layer.cols + 1)]
    source = "the trained states of the run" if "msdc_x" in states else "as-fabricated states drawn from the seed"
    description = [
        f"M-SDC on-chip training board (Eslami et al. 2024), layers {'-'.join(map(str, spec.layers))}: "
        f"{n} memristors, {sum(spec.layers[1:])} neurons, reference columns, wire {cfg.circuit.wire_ohm:g} Ω per segment",
        f"device preset {cfg.device.preset if cfg.device.params_file is None else cfg.device.params_file}, "
        f"variation drawn with seed {cfg.seed}; initial states: {source}",
        f"stimulus: {what}",
    ]
    return Board("eslami2024", description, stimulus, model_backend, _msdc_variants(net, model_backend), slots,
                 x0, columns if stimulus == "read" else [], ["i(vprog)"] if stimulus == "program" else [])


def ellis2023(cfg, states: Mapping[str, np.ndarray], stimulus: str, model_backend: str) -> Board:
    """The domain-wall synapse layer's read circuits: one per synapse (n_in × n_out), with each synapse's
    own fit and, from a run directory, its trained control value w; `read` reads every synapse N times.
    ngspice only: the random state of a read is drawn by ngspice's TRRANDOM source."""
    from cosim.devices.dw_synapse import model as dw
    from cosim.spice.engine import ngspice_seed
    from cosim.experiments.ellis2023 import prepare_data

    if stimulus == "program":
        raise ConfigError("the domain-wall synapse circuit has no programming stimulus (the drive that sets a wall "
                          "is not modelled electrically); use --stimulus read or none")
    split, _, _ = prepare_data(cfg.data, cfg.seed)
    n_in, n_out = split.x_train.shape[1], int(max(split.y_train.max(), split.y_test.max())) + 1
    params = dw.load_preset(cfg.device.preset)
    devices = dw.draw_instances(params, cfg.device.variation, (n_in, n_out), cfg.seed)
    w = np.full((n_in, n_out), params.x0)
    if "dw_w" in states:
        w = np.asarray(states["dw_w"], dtype=float)
        if w.shape != (n_in, n_out):
            raise ConfigError(f"states.npz holds synapses of shape {w.shape}, the configured layer is {(n_in, n_out)}")
    net = dw.read_netlist(w.ravel(), devices, cfg.read_circuit, title="cosim ellis2023 synapse reads")
    local = ir.SubcircuitLibrary(dw.LIB_FILE, dw.SUBCKT, dw.PINS, dict(dw.SUBCKT_DEFAULTS))
    net.items = [local if isinstance(i, ir.SubcircuitLibrary) else i for i in net.items]
    n = w.size
    if stimulus == "read":
        net.add(ir.Options({"seed": ngspice_seed(cfg.seed)}), dw.read_analysis(cfg.read_circuit, cfg.training.reads))
        net.add(ir.Save(tuple(v for k in range(n) for v in dw.read_vectors(k)[3:])))
        what = f"{cfg.training.reads} reads of every synapse (one {cfg.read_circuit.slot_s:g} s slot each), seed {cfg.seed}"
    else:
        what = "none: the circuits only, no analysis"
    from cosim.resources import data_file

    variant = Variant(net, {dw.LIB_FILE: data_file("device_models", dw.LIB_FILE).read_text()},
                      state_vectors=[f"v(xs{k}.st)" for k in range(n)])
    source = "the trained control values of the run" if "dw_w" in states else f"every w at x0 = {params.x0:g}"
    description = [
        f"domain-wall stochastic synapses (Ellis et al. 2023): {n_in} × {n_out} = {n} read circuits, each with "
        "its read source, sense resistor, comparator and supply",
        f"device preset {cfg.device.preset}, per-synapse fits drawn with seed {cfg.seed}; control values: {source}",
        f"stimulus: {what}",
    ]
    slots = [Slot("read", "", k * cfg.read_circuit.slot_s, (k + 1) * cfg.read_circuit.slot_s, None)
             for k in range(cfg.training.reads)] if stimulus == "read" else []
    return Board("ellis2023", description, stimulus, "bsource", {"ngspice": variant}, slots, w.ravel(),
                 [f"v(out{k})" for k in range(n)] if stimulus == "read" else [], [],
                 output_label="Comparator outputs (V: supply when the read found the wall past its pinning site)",
                 state_label="Stored state of each synapse's read (V, 1 = wall past the pinning site), in synapse order")


def islam2024(cfg, states: Mapping[str, np.ndarray], stimulus: str, model_backend: str) -> Board:
    """The hidden layer's SOT-MTJ neuron circuits (`NeuronBank`), each device with its own variation; `read` is
    one training mini-batch of the first inputs, one reset/write/read slot per input, at the write currents
    the weights give (initial weights from a config, trained ones from a run directory). The netlist is the
    one the bank hands its engine (recorded by `_Recorder`). ngspice only: the switching draw is TRRANDOM."""
    from dataclasses import replace

    from cosim.devices.sot_mtj import spice as sot_spice
    from cosim.devices.sot_mtj.model import reset_current_A
    from cosim.resources import data_file
    from cosim.spice.engine import ngspice_seed
    from cosim.experiments import islam2024 as isl
    from cosim.training.stochastic_neurons import MLP

    if stimulus == "program":
        raise ConfigError("the SOT-MTJ neuron circuit has no programming stimulus: a neuron keeps no state from "
                          "one slot to the next (every slot resets it, writes it and reads it, which --stimulus "
                          "read exports); use --stimulus read or none")
    b = isl.board(cfg)
    n, timing = cfg.network.hidden, cfg.device.timing
    arrays = b.arrays
    recorded = [k for k in ("sot_ic0_A", "sot_delta", "sot_rp_ohm") if k in states]
    if recorded:
        if len(recorded) < 3:
            raise ConfigError(f"states.npz holds {', '.join(recorded)} but not all of sot_ic0_A, sot_delta, sot_rp_ohm")
        values = {k: np.asarray(states[k], dtype=float) for k in recorded}
        for key, value in values.items():
            if value.shape != (n,):
                raise ConfigError(f"states.npz {key} has shape {value.shape}, the configured layer has {n} neurons")
        arrays = replace(arrays, ic0_A=values["sot_ic0_A"], delta=values["sot_delta"], rp_ohm=values["sot_rp_ohm"])
    trained = "w1" in states and "b1" in states
    if trained:
        w1, b1 = np.asarray(states["w1"], dtype=float), np.asarray(states["b1"], dtype=float)
        if w1.shape != (b.x_train.shape[1], n) or b1.shape != (n,):
            raise ConfigError(f"states.npz holds hidden weights w1 {w1.shape}, b1 {b1.shape}; the configured "
                              f"network needs w1 {(b.x_train.shape[1], n)}, b1 {(n,)}")
    else:
        mlp = MLP.init(b.x_train.shape[1], n, b.n_classes, cfg.seed)
        w1, b1 = mlp.w1, mlp.b1
    # One transient of the loop: a mini-batch, or its first MAX_SLOTS_PER_RUN inputs when it is longer.
    k_slots = min(cfg.training.batch_size, len(b.x_train), sot_spice.MAX_SLOTS_PER_RUN)
    currents = b.cmap.currents(b.x_train[:k_slots] @ w1 + b1)
    recorder = _Recorder(cfg.seed)
    bank = sot_spice.NeuronBank(b.params, arrays, timing, recorder, seed=cfg.seed,
                                title="cosim islam2024 SOT-MTJ neurons")
    if stimulus == "read":
        bank.run(currents)
        simulated = recorder.recorded
    else:  # the circuit only: every driver idle, no analysis
        simulated = bank.netlist(np.zeros((1, n)))
    state_nodes = tuple(f"v(x{k}.m)" for k in range(n))
    net = ir.Netlist(simulated.title)
    for item in simulated:
        if isinstance(item, ir.SubcircuitLibrary):  # the shipped file, next to the netlist
            item = ir.SubcircuitLibrary(sot_spice.LIB_FILE, item.name, item.pins, item.params, item.ic_params)
        elif isinstance(item, ir.Save):  # the loop's vectors, then each neuron's switched state
            item = ir.Save(item.vectors + state_nodes)
        elif stimulus == "none" and isinstance(item, (ir.CurrentSource, ir.VoltageSource)):
            item = replace(item, waveform=ir.Dc(0.0))
        net.add(item)
    net.validate()
    library_text = data_file("device_models", sot_spice.LIB_FILE).read_text(encoding="utf-8")
    variant = Variant(net, {sot_spice.LIB_FILE: library_text}, state_vectors=list(state_nodes))
    slots = []
    if stimulus == "read":
        e = timing.edge_s  # the phases as the ledger books them (DeviceNeurons): they add up to the slot
        ends = np.cumsum([0.0, 1.5 * e + timing.reset_width_s, 2.0 * e + timing.write_width_s,
                          1.5 * e + timing.read_width_s])
        for k in range(k_slots):
            t0 = k * timing.slot_s
            for phase, start, end in zip(("reset", "set", "read"), ends[:-1], ends[1:]):
                read_at = t0 + timing.read_time_in_slot_s if phase == "read" else None
                slots.append(Slot(phase, "", t0 + start, t0 + end, read_at))
        what = (f"one training mini-batch: the first {k_slots} training inputs, one {timing.slot_s:g} s slot each "
                f"(reset at {reset_current_A(b.params, timing):g} A, write at the input's current, read at "
                f"{timing.read_V:g} V), every neuron in parallel; switching draws from ngspice seed "
                f"{ngspice_seed(cfg.seed)}, as the spice backend's first transient")
    else:
        what = "none: the circuits with idle drivers, no analysis"
    weights = "the trained hidden weights of the run" if trained else f"the initial weights drawn with seed {cfg.seed}"
    devices = "recorded by the run" if recorded else f"drawn with seed {cfg.seed}"
    description = [
        f"SOT-MTJ stochastic neurons (Islam et al. 2024), the hidden layer of a {b.x_train.shape[1]}-{n}-{b.n_classes} "
        f"network: {n} neuron circuits (device_models/{sot_spice.LIB_FILE}), each with its own write driver "
        "(PWL current source Iw<k> into node wa<k>), sharing the read line Vrd",
        f"device preset {cfg.device.preset}, variation scale {cfg.device.variation_scale:g}, per-device Ic0, Δ and "
        f"R_P {devices}; write currents from {weights}",
        f"stimulus: {what}",
    ]
    if stimulus == "read":
        description += [
            "outputs: `v(out<k>)` is vdd when neuron k switched (sampled at the read instants below); the switched "
            "state is node `v(x<k>.m)` (1 = antiparallel), saved in addition to the training loop's vectors",
            "energy of write driver k: ∫ v(wa<k>)·I dt over each slot, I the PWL current of Iw<k> (positive part: "
            "write, negative part: reset); read line: ∫ −v(rd)·i(vrd) dt",
        ]
    return Board("islam2024", description, stimulus, sot_spice.MODEL_BACKEND, {"ngspice": variant}, slots,
                 currents if stimulus == "read" else np.zeros((0, n)), [], [],
                 state_label="Switched state of each neuron (V, 1 = antiparallel), in neuron order")


# One function per experiment: hook(cfg, states, stimulus, model_backend) -> Board.
HOOKS: dict[str, Callable[..., Board]] = {
    "eslami2024": eslami2024,
    "islam2024": islam2024,
    "ellis2023": ellis2023,
}


# --- writing -----------------------------------------------------------------------------------------


def render(dialect: str, netlist: ir.Netlist):
    """The dialect's text and generated files for `netlist` (a cosim.netlist.dialect.Rendered)."""
    from cosim.netlist.writers.dialect import Rendered

    if dialect == "ngspice":
        from cosim.netlist.writers import ngspice

        return Rendered(ngspice.write(netlist))
    return _writer(dialect).render(netlist)


def _writer(dialect: str):
    import importlib

    return importlib.import_module(f"cosim.netlist.writers.{dialect}")


def _check(dialect: str, stimulus: str) -> None:
    if dialect not in DIALECTS:
        raise ConfigError(f"unknown dialect {dialect!r}; allowed: {', '.join(DIALECTS)}")
    if stimulus not in STIMULI:
        raise ConfigError(f"unknown stimulus {stimulus!r}; allowed: {', '.join(STIMULI)}")


def board(source: Path, stimulus: str = "read", model_backend: str | None = None) -> tuple[Board, str]:
    """The board of a config file or run directory with `stimulus` (and the source's description)."""
    from cosim.devices.msdc import spice as msdc_spice

    if stimulus not in STIMULI:
        raise ConfigError(f"unknown stimulus {stimulus!r}; allowed: {', '.join(STIMULI)}")
    cfg, states, where = load_source(Path(source))
    hook = HOOKS.get(cfg.experiment)
    if hook is None:
        raise CosimError(f"export has no circuit for experiment {cfg.experiment!r}; known: {', '.join(HOOKS)}")
    backend = model_backend or msdc_spice.model_backend()
    if backend not in msdc_spice.BACKENDS:
        raise ConfigError(f"unknown M-SDC model backend {backend!r}; allowed: {', '.join(msdc_spice.BACKENDS)}")
    return hook(cfg, states, stimulus, backend), where


def export(source: Path, dialect: str, out_dir: Path, stimulus: str = "read",
           model_backend: str | None = None) -> ExportResult:
    """Write the netlist, its model files and README.md into `out_dir` (files written whole, then renamed)."""
    _check(dialect, stimulus)
    b, where = board(source, stimulus, model_backend)
    if FAMILIES[dialect] not in b.variants:
        raise NetlistError(f"the {b.experiment} circuit cannot be written for {dialect}: its random source "
                           f"(ngspice TRRANDOM) has no equivalent there; dialects: {', '.join(d for d in DIALECTS if FAMILIES[d] in b.variants)}")
    variant = b.variants[FAMILIES[dialect]]
    rendered = render(dialect, variant.netlist)
    files = {NETLIST_NAMES[dialect]: rendered.text, **variant.files, **rendered.files}
    for name, defs in variant.libraries.items():
        files[name] = _writer(dialect).library(defs)
    files["README.md"] = readme(b, dialect, where, sorted(files), variant)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        written.append(atomic.write_text(out / name, text))
    return ExportResult(out, dialect, out / NETLIST_NAMES[dialect], written, b)


# --- README ------------------------------------------------------------------------------------------


_RUN = {
    "ngspice": ["openvaf-r --target_cpu generic msdc.va -o msdc.osdi   # only when the netlist loads msdc.osdi",
                "ngspice -b -r board.raw board.cir"],
    "vacask": ["openvaf-r msdc.va -o msdc.osdi",
               "openvaf-r cosim_behavioural.va -o cosim_behavioural.osdi",
               "vacask board.sim                                    # writes tran1.raw"],
    "spectre": ["spectre board.scs                                   # compiles the ahdl_include'd Verilog-A"],
    "xyce": ["Xyce board.cir"],
    "ltspice": ["LTspice -b board.net                                # LTspice.exe -b board.net on Windows"],
}
_NOTES = {
    "ngspice": "The circuit, waveforms, time step and save list of the toolkit's own transient for this step, "
               "with the model paths relative to this folder.",
    "vacask": "VACASK's own syntax. Switches and the neurons' op-amps and activations are the generated Verilog-A "
              "modules in cosim_behavioural.va; every device has its own msdc_va model card and a 1 F state "
              "capacitor whose initial voltage is its state X (`ic` of the transient).",
    "spectre": "Spectre syntax, not executed here (no Spectre licence). Device models are Verilog-A "
               "(`ahdl_include`); switches and neurons are the generated modules in cosim_behavioural.va; initial "
               "states are `ic` statements used by `skipdc=yes`.",
    "xyce": "Xyce syntax, not executed here (Xyce is not installed). The M-SDC is the B-source subcircuit in "
            "msdc_bsource.lib; switches are B-source conductances (Xyce's own switch turns on gradually).",
    "ltspice": "LTspice syntax, not executed here (LTspice runs on Windows/macOS). The M-SDC is the B-source "
               "subcircuit in msdc_bsource.lib.",
}


def _vector_in(dialect: str, vector: str) -> str:
    """How a simulator names an ngspice vector in its output."""
    return vector if dialect == "ngspice" else _writer(dialect).output_name(vector)


def readme(b: Board, dialect: str, where: str, names: Sequence[str], variant: Variant) -> str:
    lines = [f"# {b.experiment} board, {dialect} netlist", "",
             f"Exported by `cosim export` from the {where}.", ""]
    lines += [f"- {d}" for d in b.description]
    lines += ["", f"{_NOTES[dialect]} Executed in cosim's tests: {'yes' if EXECUTED_HERE[dialect] else 'no'}.", "",
              "## Run", "", "```", *[c for c in _RUN[dialect] if "msdc.osdi" not in c or "msdc.va" in names], "```", "", "## Files", ""]
    lines += [f"- `{n}`" for n in names]
    if b.stimulus != "none":
        lines += ["", "## Where to read the results", ""]
        if b.column_vectors:
            lines.append(f"{b.output_label}: " + ", ".join(f"`{_vector_in(dialect, v)}`" for v in b.column_vectors) + ".")
        if b.drive_vectors:
            lines.append("Programming-driver current (A): " + ", ".join(f"`{_vector_in(dialect, v)}`" for v in b.drive_vectors)
                         + "; a verify read's conductance is −I / V(device) at its read instant, V(device) being the voltage "
                         "from node <layer>_t<row>_<col> to node <layer>_c<row>_<col> of the device read.")
        lines.append(f"{b.state_label}: " + ", ".join(f"`{_vector_in(dialect, v)}`" for v in variant.state_vectors) + ".")
        reads = [s for s in b.slots if s.read_at_s is not None]
        if reads:
            lines += ["", "| event | device | read instant (s) |", "|---|---|---|"]
            lines += [f"| {s.kind} | {s.device or 'all'} | {number(s.read_at_s)} |" for s in reads]
    return "\n".join(lines) + "\n"


# --- reference exports (netlists/) ---------------------------------------------------------------------


# experiment -> (its source config in netlists/, with every value spelled out; the exports written from it)
REFERENCES = {
    "eslami2024": ("eslami2024.yaml", [(d, "read") for d in DIALECTS] + [("ngspice", "program"), ("vacask", "program")]),
    "ellis2023": ("ellis2023.yaml", [("ngspice", "read")]),
    "islam2024": ("islam2024.yaml", [("ngspice", "read")]),
}


def write_references(root: Path | None = None) -> list[Path]:
    """Regenerate the golden exports under netlists/ (osdi model backend, so they do not depend on the machine)."""
    from cosim.resources import data_dir, data_file

    root = Path(root) if root is not None else data_dir("netlists")
    out = []
    for experiment, (source, exports) in REFERENCES.items():
        for dialect, stimulus in exports:
            target = root / experiment / f"{dialect}-{stimulus}"
            out.append(export(data_file("netlists", source), dialect, target, stimulus, "osdi").out_dir)
    return out


if __name__ == "__main__":  # python -m cosim.export.write: regenerate netlists/
    for path in write_references():
        print(f"wrote {path}")
