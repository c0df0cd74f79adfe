"""The M-SDC on-chip training experiment (Eslami et al. 2024): its config, the run (build the board, open a
hardware session on the chosen backend, train, evaluate clean / noisy / with conductance error), the board
it exports and the conductance maps its report draws."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Callable, Literal, Mapping

import numpy as np
from pydantic import Field, StrictInt, field_validator, model_validator

from cosim import limits, runs
from cosim.config import Strict
from cosim.data import Dataset, add_input_noise, patterns_3x3
from cosim.devices import registry
from cosim.errors import ConfigError
from cosim.experiments import msdc_board
from cosim.experiments.base import Experiment, ExperimentBase, ExportedCircuit, ExportSlot, RunResult
from cosim.experiments.msdc_board import BoardDevices, ProgrammingConfig, TileSize
from cosim.hil.ledger import Ledger, PeripheralCosts
from cosim.hil.schedule import Pulses
from cosim.hil.session import CircuitSession, HardwareSession
from cosim.hil.summary import run_metrics
from cosim.limits import (MAX_EPOCHS, MAX_LEARNING_RATE, MAX_REPEATS, MAX_RESISTANCE_OHM, MAX_SAMPLES, MAX_VOLTAGE_V,
                          MIN_RESISTANCE_OHM)
from cosim.netlist.writers import ngspice
from cosim.spice.recorder import RecordingEngine
from cosim.training import onchip

TITLE = "cosim eslami2024 network"


class CircuitConfig(Strict):
    layers: Annotated[tuple[Annotated[StrictInt, Field(ge=1, le=limits.MAX_LAYER_SIZE)], ...],
                      Field(strict=False, max_length=limits.MAX_LAYERS)] = (9, 3, 1)
    wire_ohm: float = Field(1.0, ge=0, le=MAX_RESISTANCE_OHM)
    read_V: float = Field(0.1, gt=0, le=0.25)
    # Transimpedance gain; "auto" = 1/g_half, so one unit of weight on a full read voltage moves the neuron
    # input by read_V (signals neither vanish nor saturate through the layers).
    rf_ohm: float | Literal["auto"] = "auto"
    v_scale_V: float = Field(0.1, gt=0, le=MAX_VOLTAGE_V)
    switch_on_ohm: float = Field(10.0, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)
    # [rows, columns]: layers larger than this become several tile circuits, partial sums added digitally
    # (cosim.hil.tiles); None: the whole network is one circuit
    tile: TileSize = None

    @field_validator("rf_ohm")
    @classmethod
    def _rf(cls, value):
        if value != "auto" and not MIN_RESISTANCE_OHM <= value <= MAX_RESISTANCE_OHM:
            raise ValueError(f"must be 'auto' or a resistance in [{MIN_RESISTANCE_OHM:g}, {MAX_RESISTANCE_OHM:g}] ohm")
        return value


class TrainingConfig(Strict):
    mode: Literal["insitu", "exsitu"] = "insitu"
    epochs: int = Field(30, ge=1, le=MAX_EPOCHS)
    learning_rate: float = Field(0.2, gt=0, le=MAX_LEARNING_RATE)
    noise: float = Field(0.1, ge=0, le=1)  # training-noise level (relative std)
    # where the noise goes: "conductance" perturbs every device's conductance for each training pass (the
    # paper's robustness claim is about device variation); "input" perturbs the input voltages
    noise_on: Literal["conductance", "input"] = "conductance"
    target: float = Field(0.8, gt=0, le=1)  # output target ±target·v_out


class EvaluationConfig(Strict):
    input_noise: float = Field(0.25, ge=0, le=1)
    conductance_error: float = Field(0.1, ge=0, le=1)
    repeats: int = Field(5, ge=1, le=MAX_REPEATS)


class DataConfig(Strict):
    n_test: int = Field(100, ge=1, le=MAX_SAMPLES)
    test_flips: int = Field(2, ge=0, le=4)


class Config(ExperimentBase):
    """On-chip training of the M-SDC memristor network (Eslami et al. 2024)."""

    experiment: Literal["eslami2024"] = "eslami2024"
    device: BoardDevices = Field(default_factory=BoardDevices)
    circuit: CircuitConfig = Field(default_factory=CircuitConfig)
    programming: ProgrammingConfig = Field(default_factory=ProgrammingConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    peripherals: PeripheralCosts = Field(default_factory=PeripheralCosts)

    @model_validator(mode="after")
    def _layers(self) -> "Config":
        layers = self.circuit.layers
        if len(layers) < 2 or layers[0] != 9:
            raise ValueError("circuit.layers must start with 9 inputs (3×3 images) and list at least one more layer")
        devices = sum(a * b for a, b in zip(layers, layers[1:]))
        if devices > limits.MAX_DEVICES:
            raise ValueError(f"circuit.layers {list(layers)} make {devices} devices; at most {limits.MAX_DEVICES}")
        return self


@dataclass
class Outcome:
    metrics: dict
    history: onchip.History
    ledger: Ledger
    session: HardwareSession
    board: msdc_board.Board  # the device instances (with their variation)
    data: Dataset


def board(cfg: Config) -> msdc_board.Board:
    """What the board is made of: devices drawn from the seed, as-fabricated states from [seed, 1]."""
    family = registry.crossbar_family(cfg.device.family)
    params = family.params(cfg.device.preset, cfg.device.params_file)
    c = cfg.circuit
    return msdc_board.plan(family, params, cfg.device.variation, c.layers, read_V=c.read_V, wire_ohm=c.wire_ohm,
                           series_ohm=cfg.programming.series_ohm, switch_on_ohm=c.switch_on_ohm,
                           v_scale_V=c.v_scale_V, rf_ohm=c.rf_ohm, draw_seed=cfg.seed, state_seed=[cfg.seed, 1],
                           initial_state=cfg.device.initial_state, tile=c.tile)


def build(cfg: Config, backend: str | None = None) -> tuple[HardwareSession, msdc_board.Board]:
    """The board and a session on it (the config's backend unless given)."""
    parts = board(cfg)
    session = msdc_board.open_session(parts, Ledger(cfg.peripherals), backend or cfg.backend, TITLE, seed=cfg.seed)
    return session, parts


def run(cfg: Config, progress: Callable[[int, dict], None] | None = None,
        checkpoint: runs.Checkpoint | None = None, resume: bool = False) -> Outcome:
    started = time.perf_counter()
    session, parts = build(cfg)
    data = patterns_3x3(cfg.data.n_test, cfg.data.test_flips, cfg.seed)
    model = onchip.Model(session.network, parts.scale)
    programmer = msdc_board.programmer(session, parts, cfg.programming)
    rng = np.random.default_rng([cfg.seed, 2])
    trainer = onchip.train_insitu if cfg.training.mode == "insitu" else onchip.train_exsitu
    t = cfg.training
    noise = onchip.TrainingNoise(t.noise, t.noise_on, parts.family, parts.instances, cfg.circuit.read_V)
    extra = {}
    if cfg.training.mode == "insitu" and checkpoint is not None:
        extra["checkpoint"] = lambda state: save_checkpoint(checkpoint, state, session.ledger)
        extra["resume"] = load_checkpoint(checkpoint, session.ledger, len(session.x)) if resume else None
    history = trainer(session, model, programmer, data, epochs=t.epochs, learning_rate=t.learning_rate,
                      noise=noise, target=t.target, rng=rng, progress=progress, **extra)
    metrics = evaluate(cfg, session, parts, data, rng)
    metrics.update({
        "train_accuracy": history.epochs[-1]["train_accuracy"],
        "backend": session.backend,
        "model_backend": session.model_backend,
        "preset": cfg.device.preset if cfg.device.params_file is None else str(cfg.device.params_file),
    })
    # ex-situ training passes the samples through the software model: the ledger holds the programming only
    software_samples = None if t.mode == "insitu" else t.epochs * len(data.y_train)
    metrics.update(run_metrics(session.ledger.frame(), software_samples))
    metrics["wall_time_s"] = time.perf_counter() - started
    return Outcome(metrics, history, session.ledger, session, parts, data)


def train(cfg: Config, progress: Callable[[int, dict], None] | None = None,
          checkpoint: runs.Checkpoint | None = None, resume: bool = False) -> RunResult:
    """`cosim train` entry: run (checkpointing every epoch into `checkpoint`, resuming from it with
    `resume`), and record the board with its trained states as initial conditions."""
    report = None if progress is None else (lambda epoch, record: progress(epoch, {**record, "epochs": cfg.training.epochs}))
    outcome = run(cfg, report, checkpoint, resume)
    netlists = {}
    engine = getattr(outcome.session, "engine", None)
    if engine is not None:
        low, high = outcome.board.family.state_range
        for point, x in zip(outcome.session.network.points, outcome.session.x):
            engine.alter(point.instance, **{outcome.board.family.state_param: float(min(max(x, low), high))})
        netlists["board.cir"] = ngspice.write(engine.netlist)
    metrics = {**outcome.metrics, "ngspice": getattr(engine, "version", None)}
    return RunResult(metrics, outcome.history.epochs, outcome.ledger, netlists,
                     states={"msdc_x": np.asarray(outcome.session.x, dtype=float)})


def save_checkpoint(checkpoint: runs.Checkpoint, state: onchip.TrainState, ledger: Ledger) -> None:
    """Every number the next epoch depends on, exactly: arrays as float64, the rest as JSON (whose floats
    round-trip bit for bit)."""
    checkpoint.save({"g_known": state.g_known, "w_target": state.w_target, "x": state.x},
                    {"epoch": state.epoch, "t_s": state.t_s, "rng_state": state.rng_state,
                     "history": state.history, "ledger": [vars(e) for e in ledger.events]})


def load_checkpoint(checkpoint: runs.Checkpoint, ledger: Ledger, n_devices: int) -> onchip.TrainState | None:
    """The state after the last finished epoch (None: no epoch finished); the ledger gets its rows back.
    A checkpoint of the wrong shape or with missing entries is a ConfigError naming the file."""
    from cosim.hil.ledger import Event

    saved = checkpoint.load()
    if saved is None:
        return None
    arrays, meta = saved
    try:
        vectors = {}
        for name in ("g_known", "w_target", "x"):
            value = arrays[name]
            if value.shape != (n_devices,) or value.dtype != np.float64:
                raise ValueError(f"{name} has shape {value.shape} and type {value.dtype}, not ({n_devices},) float64")
            vectors[name] = value
        np.random.default_rng().bit_generator.state = meta["rng_state"]  # refuses a state that is not PCG64's
        events = [Event(**row) for row in meta["ledger"]]
        state = onchip.TrainState(int(meta["epoch"]), vectors["g_known"], vectors["w_target"], vectors["x"],
                                  float(meta["t_s"]), meta["rng_state"], list(meta["history"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise checkpoint.unreadable(f"{type(exc).__name__}: {exc}") from None
    ledger.events = events
    return state


def evaluate(cfg: Config, session: HardwareSession, parts: msdc_board.Board, data: Dataset,
             rng: np.random.Generator) -> dict:
    """Clean test accuracy; mean accuracy under input noise; mean accuracy under conductance error."""
    e = cfg.evaluation
    return {
        "test_accuracy": onchip.accuracy(session, data.x_test, data.y_test),
        "accuracy_input_noise": accuracy_with_input_noise(session, data, e.input_noise, e.repeats, rng),
        "accuracy_conductance_error": accuracy_with_conductance_error(
            session, parts, data, cfg.circuit.read_V, e.conductance_error, e.repeats, rng),
    }


def accuracy_with_input_noise(session: HardwareSession, data: Dataset, level: float, repeats: int,
                              rng: np.random.Generator) -> float:
    return float(np.mean([onchip.accuracy(session, add_input_noise(data.x_test, level, rng), data.y_test)
                          for _ in range(repeats)]))


def accuracy_with_conductance_error(session: HardwareSession, parts: msdc_board.Board, data: Dataset,
                                    read_V: float, level: float, repeats: int, rng: np.random.Generator) -> float:
    """Mean test accuracy with every conductance off by a fresh relative error of std `level`; the trained
    states are restored afterwards."""
    trained = session.x.copy()
    scores = []
    try:
        for _ in range(repeats):
            session.x = onchip.conductance_error_states(parts.family, parts.instances, trained, read_V, level, rng)
            scores.append(onchip.accuracy(session, data.x_test, data.y_test))
    finally:
        session.x = trained
    return float(np.mean(scores))


def conductance_maps(cfg: Config, states: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Read conductance (S) of every device from a run's final states, one rows × columns map per crossbar
    (the device instances and their variation are redrawn from the config's seed, as the run drew them)."""
    x = states.get("msdc_x")
    return {} if x is None else msdc_board.conductance_maps(board(cfg), x, cfg.circuit.read_V)


def export_circuit(cfg: Config, states: Mapping[str, np.ndarray], stimulus: str,
                   model_backend: str | None) -> ExportedCircuit:
    """The board as the loop simulates it (each device's drawn variation; a run's trained states, or the
    as-fabricated ones), driven by the toolkit's own session on an engine that records the transient:
    `read`, one forward pass of the training set; `program`, a set pulse and a verify read on every device,
    one after another; `none`, the circuit alone."""
    if cfg.circuit.tile is not None:
        raise ConfigError("circuit.tile: a tiled board is many circuits and does not export as one; export it "
                          "untiled (-s circuit.tile=null)")
    parts = board(cfg)
    backend = model_backend or parts.family.model_backend()
    library = parts.family.spice_library(backend, exported=True, instances=parts.instances)
    x0 = parts.x0
    if "msdc_x" in states:
        trained = np.asarray(states["msdc_x"], dtype=float)
        if trained.shape != x0.shape:
            raise ConfigError(f"states.npz holds {trained.size} M-SDC states, the configured board has {x0.size}")
        x0 = trained
    x0 = np.clip(x0, *parts.family.state_range)
    network = msdc_board.network(parts, TITLE, library=library, x0=x0)
    recorder = RecordingEngine(None)  # no seed option: the circuit has no random source
    captured: list = []

    class Recording(CircuitSession):
        """The session, keeping each operation's schedule (the stimulus's events)."""

        def _forward(self, sched, inputs):
            captured.append(sched)
            return super()._forward(sched, inputs)

        def _program(self, sched, devices, read_phase):
            captured.append(sched)
            return super()._program(sched, devices, read_phase)

    session = Recording(network, recorder, x0, Ledger(cfg.peripherals), backend)
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
        recorder.record_circuit()
        what = "none: the circuit with its initial states and idle sources, no analysis"
    slots = [ExportSlot(s.kind, network.points[s.device].instance if s.device >= 0 else "", s.start_s, s.end_s,
                        s.read_at_s) for sched in captured for s in sched.slots]
    spec = parts.spec
    columns = [f"i({layer.sense_source(c).lower()})" for layer in network.layers for c in range(layer.cols + 1)]
    source = "the trained states of the run" if "msdc_x" in states else "as-fabricated states drawn from the seed"
    description = [
        f"on-chip training board of Eslami et al. (2024), layers {'-'.join(map(str, spec.layers))}: "
        f"{n} {parts.family.label} devices, {sum(spec.layers[1:])} neurons, reference columns, wire "
        f"{cfg.circuit.wire_ohm:g} Ω per segment",
        f"device preset {cfg.device.preset if cfg.device.params_file is None else cfg.device.params_file}, "
        f"variation drawn with seed {cfg.seed}; initial states: {source}",
        f"stimulus: {what}",
    ]
    drive = [f"i({network.program_source.lower()})"] if stimulus == "program" else []
    variants = parts.family.export_variants(recorder.recorded, backend, instances=parts.instances)
    return ExportedCircuit("eslami2024", description, stimulus, backend, variants, slots, x0,
                           columns if stimulus == "read" else [], drive,
                           unavailable=f"its {parts.family.label} devices come in the model families "
                                       f"{', '.join(variants)} only")


EXPERIMENT = Experiment(
    name="eslami2024", Config=Config, train=train, export_circuit=export_circuit, report_extras=conductance_maps,
    reference_exports=(*((d, "read") for d in ("ngspice", "vacask", "spectre", "xyce", "ltspice")),
                       ("ngspice", "program"), ("vacask", "program")),
    resumable=True,
    title="On-chip training of an M-SDC memristor network on 3×3 patterns (Eslami et al. 2024)",
)
