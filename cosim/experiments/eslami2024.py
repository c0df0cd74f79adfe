"""The M-SDC on-chip training experiment (Eslami et al. 2024) from a validated config: build the board,
open a hardware session on the chosen backend, train, evaluate clean / noisy / with conductance error."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from cosim import runs
from cosim.circuits import crossbar as xb
from cosim.circuits.network import Network, NetworkSpec, build_network
from cosim.circuits.neurons import NeuronSpec
from cosim.config import OnchipExperiment
from cosim.experiments.run import RunResult
from cosim.data import Dataset, add_input_noise, patterns_3x3
from cosim.devices.msdc import model as msdc, spice as msdc_spice
from cosim.hil.ledger import Ledger
from cosim.hil.summary import run_metrics
from cosim.hil.session import CircuitSession, HardwareSession
from cosim.hil.twin import TwinSession
from cosim.training import onchip


Config = OnchipExperiment


@dataclass
class Outcome:
    metrics: dict
    history: onchip.History
    ledger: Ledger
    session: HardwareSession
    arrays: msdc.MSDCArrays  # the device instances (with their variation)
    data: Dataset


def device_params(cfg: OnchipExperiment) -> msdc.MSDCParams:
    if cfg.device.params_file is not None:
        return msdc.load_params_file(cfg.device.params_file)
    return msdc.load_preset(cfg.device.preset)


@dataclass(frozen=True)
class BoardParts:
    """What the board is made of, drawn from the config and its seed (no simulator involved)."""

    spec: NetworkSpec
    scale: onchip.ConductanceScale
    arrays: msdc.MSDCArrays  # the device instances with their variation
    x0: np.ndarray  # as-fabricated states


def board_parts(cfg: OnchipExperiment) -> BoardParts:
    params = device_params(cfg)
    c = cfg.circuit
    scale = onchip.ConductanceScale.for_device(params, c.read_V)
    spec = NetworkSpec(
        layers=tuple(c.layers), wire_ohm=c.wire_ohm, g_ref_S=scale.g_ref_S, read_V=c.read_V,
        program_series_ohm=cfg.programming.series_ohm,
        neuron=NeuronSpec(rf_ohm=1.0 / scale.g_half_S if c.rf_ohm == "auto" else c.rf_ohm, v_out_V=c.read_V,
                          v_scale_V=c.v_scale_V),
        switch=xb.SwitchSpec(on_ohm=c.switch_on_ohm),
    )
    n = spec.n_devices
    arrays = msdc.draw_instances(params, cfg.device.variation, n, cfg.seed)
    rng = np.random.default_rng([cfg.seed, 1])
    x0 = rng.uniform(0.3, 0.7, n) if cfg.device.initial_state == "random" else np.full(n, float(cfg.device.initial_state))
    return BoardParts(spec, scale, arrays, x0)


def build(cfg: OnchipExperiment, backend: str | None = None) -> tuple[HardwareSession, onchip.ConductanceScale, msdc.MSDCArrays]:
    """The board and a session on it; device variation and initial states are drawn from the seed."""
    parts = board_parts(cfg)
    spec, scale, arrays, x0 = parts.spec, parts.scale, parts.arrays, parts.x0
    ledger = Ledger(cfg.peripherals)
    backend = backend or cfg.backend
    if backend == "twin":
        network = build_network(spec, [], lambda *a: _placeholder(*a))
        return TwinSession(network, arrays, x0, ledger), scale, arrays
    library = msdc_spice.library()
    network = build_network(spec, library, lambda name, te, be, k: msdc_spice.instance(
        name, te, be, msdc_spice.array_row(arrays, k), float(x0[k])), title="cosim eslami2024 network")
    from cosim.spice.engines import open_engine

    engine = open_engine(backend, seed=cfg.seed)
    session = CircuitSession(network, engine, x0, ledger, msdc_spice.netlist_backend(network.netlist) or "")
    return session, scale, arrays


def _placeholder(name: str, te: str, be: str, index: int):
    """The twin needs the board's layout only; a resistor stands where the device would be."""
    from cosim.netlist import ir

    return ir.Resistor("R" + name[1:], te, be, 1e4)


def run(cfg: OnchipExperiment, progress: Callable[[int, dict], None] | None = None,
        checkpoint: runs.Checkpoint | None = None, resume: bool = False) -> Outcome:
    started = time.perf_counter()
    session, scale, arrays = build(cfg)
    data = patterns_3x3(cfg.data.n_test, cfg.data.test_flips, cfg.seed)
    model = onchip.Model(session.network, scale)
    p = cfg.programming
    programmer = onchip.Programmer(session, scale, p.amplitude_V, p.width_s, p.min_width_s, p.max_pulses,
                                   p.tolerance, p.reset_pulse, p.reset_amplitude_V, p.reset_width_s)
    rng = np.random.default_rng([cfg.seed, 2])
    trainer = onchip.train_insitu if cfg.training.mode == "insitu" else onchip.train_exsitu
    t = cfg.training
    noise = onchip.TrainingNoise(t.noise, t.noise_on, arrays, cfg.circuit.read_V)
    extra = {}
    if cfg.training.mode == "insitu" and checkpoint is not None:
        extra["checkpoint"] = lambda state: save_checkpoint(checkpoint, state, session.ledger)
        extra["resume"] = load_checkpoint(checkpoint, session.ledger, len(session.x)) if resume else None
    history = trainer(session, model, programmer, data, epochs=t.epochs, learning_rate=t.learning_rate,
                      noise=noise, target=t.target, rng=rng, progress=progress, **extra)
    metrics = evaluate(cfg, session, arrays, data, rng)
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
    return Outcome(metrics, history, session.ledger, session, arrays, data)


def train(cfg: OnchipExperiment, progress: Callable[[int, dict], None] | None = None,
          checkpoint: runs.Checkpoint | None = None, resume: bool = False) -> RunResult:
    """`cosim train` entry: run (checkpointing every epoch into `checkpoint`, resuming from it with
    `resume`), and record the board with its trained states as initial conditions."""
    report = None if progress is None else (lambda epoch, record: progress(epoch, {**record, "epochs": cfg.training.epochs}))
    outcome = run(cfg, report, checkpoint, resume)
    netlists = {}
    engine = getattr(outcome.session, "engine", None)
    if engine is not None:
        from cosim.netlist.writers import ngspice

        for point, x in zip(outcome.session.network.points, outcome.session.x):
            engine.alter(point.instance, x0=float(min(max(x, 0.0), 1.0)))
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


def evaluate(cfg: OnchipExperiment, session: HardwareSession, arrays: msdc.MSDCArrays, data: Dataset,
             rng: np.random.Generator) -> dict:
    """Clean test accuracy; mean accuracy under input noise; mean accuracy under conductance error."""
    e = cfg.evaluation
    return {
        "test_accuracy": onchip.accuracy(session, data.x_test, data.y_test),
        "accuracy_input_noise": accuracy_with_input_noise(session, data, e.input_noise, e.repeats, rng),
        "accuracy_conductance_error": accuracy_with_conductance_error(
            session, arrays, data, cfg.circuit.read_V, e.conductance_error, e.repeats, rng),
    }


def accuracy_with_input_noise(session: HardwareSession, data: Dataset, level: float, repeats: int,
                              rng: np.random.Generator) -> float:
    return float(np.mean([onchip.accuracy(session, add_input_noise(data.x_test, level, rng), data.y_test)
                          for _ in range(repeats)]))


def accuracy_with_conductance_error(session: HardwareSession, arrays: msdc.MSDCArrays, data: Dataset, read_V: float,
                                    level: float, repeats: int, rng: np.random.Generator) -> float:
    """Mean test accuracy with every conductance off by a fresh relative error of std `level`; the trained
    states are restored afterwards."""
    trained = session.x.copy()
    scores = []
    try:
        for _ in range(repeats):
            session.x = onchip.conductance_error_states(arrays, trained, read_V, level, rng)
            scores.append(onchip.accuracy(session, data.x_test, data.y_test))
    finally:
        session.x = trained
    return float(np.mean(scores))


def conductance_maps(cfg: OnchipExperiment, states: dict) -> dict[str, np.ndarray]:
    """Read conductance (S) of every device from a run's final states, one rows × columns map per crossbar
    (the device instances and their variation are redrawn from the config's seed, as the run drew them)."""
    x = states.get("msdc_x")
    if x is None:
        return {}
    arrays = board_parts(cfg).arrays
    g = msdc.current(arrays, cfg.circuit.read_V, np.clip(x, 0.0, 1.0)) / cfg.circuit.read_V
    maps, k = {}, 0
    for index, (rows, cols) in enumerate(zip(cfg.circuit.layers, cfg.circuit.layers[1:]), start=1):
        maps[f"layer {index} ({rows}×{cols})"] = g[k:k + rows * cols].reshape(cols, rows).T
        k += rows * cols
    return maps
