"""Hardware-in-loop learning with SOT-MTJ stochastic neurons (Islam et al., arXiv 2305.03235; Adv. Intell.
Syst. 2024).

A 64-H-10 network on the 8×8 digits (or MNIST-format files) whose H hidden neurons are SOT-MTJ devices with
device-to-device variation. One run compares three ways on the same device instances:
  1. ideal software: trained and tested with identical ideal stochastic neurons, P = σ(a);
  2. deployed: those weights run on the physical neurons (currents through the drivers, no retraining);
  3. hardware-in-loop: trained with the physical neurons in the forward pass and each device's characterised
     sigmoid slope in the backward pass (from the weights of (1), or from scratch), then tested on them.
The physical neurons run on the chosen backend: `spice` (the neuron circuit in libngspice, a mini-batch per
transient), `batch` (the same netlists through `ngspice -b`) or `twin` (numpy, the same probabilities).
Weights are held in software (`network.weights: software`) or, with `network.weights: msdc`, the input→hidden
weights live in an M-SDC crossbar on the same backend (`cosim.training.crossbar_weights`): the pre-activations of
(2) and (3) are read from its column currents, (2) programs the software weights into it once, and (3)
programs every update that moves a device's target by more than the tolerance (program-and-verify); the
hidden→output weights and the hidden biases stay in software (docs/islam2024.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Literal, Mapping

import numpy as np
from pydantic import Field, field_validator

from cosim import digits
from cosim.config import Strict
from cosim.devices import registry
from cosim.devices.msdc import model as msdc
from cosim.devices.sot_mtj import model as sot_mtj
from cosim.devices.sot_mtj import spice as sot_spice
from cosim.devices.sot_mtj.characterize import Sweep, measure
from cosim.errors import ConfigError
from cosim.experiments import msdc_board
from cosim.experiments.export_files import run_netlists
from cosim.experiments.base import Experiment, ExperimentBase, ExportedCircuit, ExportSlot, RunResult
from cosim.experiments.msdc_board import ProgrammingConfig, TileSize, check_state
from cosim.hil.ledger import Ledger, PeripheralCosts
from cosim.hil.session import Timing
from cosim.hil.shadow import ShadowedSession
from cosim.hil.summary import run_metrics, summarize
from cosim.limits import (MAX_EPOCHS, MAX_GAIN, MAX_LAYER_SIZE, MAX_LEARNING_RATE, MAX_POOL, MAX_REPEATS,
                          MAX_RESISTANCE_OHM, MAX_SAMPLES, MAX_TIME_S, MIN_RESISTANCE_OHM, MIN_TIME_S)
from cosim.netlist import ir
from cosim.netlist.writers.base import Variant
from cosim.resources import data_file
from cosim.spice.engine import ngspice_seed
from cosim.spice.engines import open_engine
from cosim.spice.recorder import RecordingEngine
from cosim.training import stochastic_neurons as sn
from cosim.training.crossbar_weights import CrossbarWeights
from cosim.training.onchip import W_LIMIT


class DeviceSettings(Strict):
    family: Literal["sot_mtj"] = "sot_mtj"
    preset: str = "w100"  # a width preset of device_models/sot_mtj_presets.yaml
    variation_scale: float = Field(1.0, ge=0, le=5)  # multiplies the preset's device-to-device spreads
    timing: sot_mtj.Timing = Field(default_factory=sot_mtj.Timing)
    # driver range: currents are clipped to [0, I50_nom + max_drive_di·dI_nom]
    max_drive_di: float = Field(10.0, gt=0, le=MAX_GAIN)

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        return registry.family("sot_mtj").presets.check(value)


class NetworkSettings(Strict):
    hidden: int = Field(32, ge=1, le=MAX_LAYER_SIZE)  # H: physical neurons, one device each
    # where the input→hidden weights live: software, or an M-SDC crossbar (settings in `crossbar`)
    weights: Literal["software", "msdc"] = "software"


class CrossbarProgramming(ProgrammingConfig):
    """Program-and-verify of the crossbar devices (fields as in the M-SDC experiment). No reset pulse before
    programming by default: each update is a small move from a verified state. A tighter tolerance than the
    M-SDC experiment's 0.05: a unit of normalised conductance here is `weight_scale` (≈ 3.4) software weight
    units, and 0.02 costs about 12 % more deployment pulses than 0.05 (docs/islam2024.md)."""

    reset_pulse: bool = False
    tolerance: float = Field(0.02, gt=0, lt=1)  # of the conductance half-range
    # after deployment, whole-crossbar reads that re-program the devices which relaxed out of tolerance while
    # the rest were programmed (CrossbarWeights.program)
    refresh_passes: int = Field(0, ge=0, le=100)


def _default_msdc_variation() -> msdc.Variation:
    """The M-SDC experiment's shipped spreads (sweeps/eslami2024.yaml)."""
    return msdc.Variation(r_on_rel_std=0.05, r_off_rel_std=0.05, v_on_rel_std=0.02, v_off_rel_std=0.02,
                          tau_rel_std=0.05)


class CrossbarSettings(Strict):
    """The M-SDC crossbar holding the input→hidden weights when network.weights is msdc (ignored otherwise):
    inputs × hidden devices plus a reference column, on the run's backend."""

    preset: str = "Cr"  # an M-SDC preset of device_models/msdc_presets.yaml
    variation: msdc.Variation = Field(default_factory=_default_msdc_variation)
    # as-fabricated states: "random" draws X uniformly in [0.3, 0.7] per device (from the seed); a number sets all
    initial_state: float | Literal["random"] = "random"
    read_V: float = Field(0.1, gt=0, le=0.25)  # row voltage of a full-scale input (pixel value 1)
    read_s: float = Field(1e-6, ge=MIN_TIME_S, le=MAX_TIME_S)  # read plateau of a forward pass and of a conductance read
    # Board wiring (docs/islam2024.md measures what larger values do to the pre-activations).
    wire_ohm: float = Field(0.01, ge=0, le=MAX_RESISTANCE_OHM)  # per crossbar segment
    switch_on_ohm: float = Field(0.3, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)  # read, sense, ground and select switches (low-resistance analogue switches)
    # Open switches: every device's program switch leaks into the one programming bus, so a conductance read
    # (the driver's current over the device's voltage) carries (devices − 1)/switch_off_ohm on top of the device's:
    # at 1 GΩ, 3 % of a device's conductance on this 64×32 crossbar (measured in ngspice and the twin alike), which
    # program-and-verify writes into every weight. Low-leakage switches (1 TΩ) leave 3e-5.
    switch_off_ohm: float = Field(1e12, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)
    # software weight per unit of normalised conductance (G − g_ref)/g_half; "auto": the largest |weight| of the
    # software-trained network divided by 0.9 (the programmable range), so those weights fit unclipped
    weight_scale: float | Literal["auto"] = "auto"
    programming: CrossbarProgramming = Field(default_factory=CrossbarProgramming)
    # true: the devices relax at zero bias over the peripheral time between operations (cosim.hil.session.Timing).
    # Off here: this flow programs the weights once and then reads them for every input, and the reads' conversions
    # idle the crossbar for seconds over a run, far beyond the 0.73 s relaxation of M-SDC states (on the twin,
    # test_msdc_weights_train_like_software_weights_on_the_twin's run fell from 0.958 to 0.630 test accuracy with it
    # on): the documented results (docs/islam2024.md) hold the states between operations.
    idle_drift: bool = False
    # [rows, columns]: a crossbar larger than this becomes several tile circuits, partial sums added digitally
    # (cosim.hil.tiles); None: one circuit
    tile: TileSize = None
    # On the twin backend: the fraction of the crossbar's forward passes replayed in ngspice, their error recorded
    # in metrics.json (cosim.hil.shadow; 0: no ngspice needed, as for eslami2024's circuit.shadow_fraction)
    shadow_fraction: float = Field(0.0, ge=0, le=1)

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        return registry.family("msdc").presets.check(value)

    @field_validator("initial_state")
    @classmethod
    def _state(cls, value):
        return check_state(value)

    @field_validator("weight_scale")
    @classmethod
    def _scale(cls, value):
        if value != "auto" and not 0 < value <= MAX_GAIN:
            raise ValueError(f"must be 'auto' or a number in (0, {MAX_GAIN:g}]")
        return value


class TrainingSettings(Strict):
    software_epochs: int = Field(30, ge=1, le=MAX_EPOCHS)  # ideal software training (numpy); its result is the "deployed" net
    hil_epochs: int = Field(2, ge=0, le=MAX_EPOCHS)  # hardware-in-loop epochs on the physical neurons
    # where hardware-in-loop training starts: the software-trained weights (fine-tuning) or the same random
    # initial weights the software training started from (hardware-in-loop from scratch)
    hil_init: Literal["software", "random"] = "software"
    batch_size: int = Field(64, ge=1, le=4096)  # inputs per transient: one slot each
    learning_rate: float = Field(0.01, gt=0, le=MAX_LEARNING_RATE)  # Adam, software training
    hil_learning_rate: float = Field(0.01, gt=0, le=MAX_LEARNING_RATE)  # Adam, hardware-in-loop training
    # hardware-in-loop epochs see the first N training images only (None: all of them); software training uses
    # the whole training set. A budget for large sets: each hardware-in-loop input is a crossbar read and updates
    # that reprogram devices, while software epochs are numpy.
    hil_max_train: int | None = Field(None, ge=1, le=MAX_SAMPLES)


class CharacterizationSettings(Strict):
    """The on-board measurement of every neuron's sigmoid before hardware-in-loop training."""

    coarse_points: int = Field(9, ge=3, le=MAX_REPEATS)
    coarse_pulses: int = Field(16, ge=1, le=MAX_REPEATS)
    points: int = Field(9, ge=3, le=MAX_REPEATS)
    pulses: int = Field(32, ge=1, le=MAX_REPEATS)
    span_di: float = Field(4.0, gt=0, le=MAX_GAIN)


class EvaluationSettings(Strict):
    samples: int = Field(1, ge=1, le=1024)  # stochastic samples per inference (slots), logits averaged


class DataSettings(Strict):
    # "digits": scikit-learn's 8×8 digits (64 inputs); otherwise a directory of the four MNIST-format IDX files
    source: str = "digits"
    pool: int = Field(1, ge=1, le=MAX_POOL)  # max-pool factor (MNIST 28×28: 1 keeps 784 inputs, 2 gives 196)
    max_train: int | None = Field(None, ge=10, le=MAX_SAMPLES)
    max_test: int | None = Field(None, ge=10, le=MAX_SAMPLES)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return digits.check_source(value)


class Config(ExperimentBase):
    """SOT-MTJ stochastic-neuron network, hardware-in-loop trained (Islam et al. 2024)."""

    experiment: Literal["islam2024"] = "islam2024"
    device: DeviceSettings = Field(default_factory=DeviceSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    crossbar: CrossbarSettings = Field(default_factory=CrossbarSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    characterization: CharacterizationSettings = Field(default_factory=CharacterizationSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    peripherals: PeripheralCosts = Field(default_factory=PeripheralCosts)


def load_data(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    images = digits.load(cfg.data.source, cfg.seed)
    x_train, x_test = images.x_train, images.x_test
    if cfg.data.pool > 1:
        x_train, x_test = digits.max_pool(x_train, cfg.data.pool), digits.max_pool(x_test, cfg.data.pool)
    x_train, x_test = digits.flatten(x_train), digits.flatten(x_test)
    y_train, y_test = images.y_train, images.y_test
    if cfg.data.max_train is not None:
        x_train, y_train = x_train[:cfg.data.max_train], y_train[:cfg.data.max_train]
    if cfg.data.max_test is not None:
        x_test, y_test = x_test[:cfg.data.max_test], y_test[:cfg.data.max_test]
    return x_train, y_train, x_test, y_test, images.name


NEURONS_TITLE = "cosim islam2024 SOT-MTJ neurons"


def make_runner(cfg: Config, params: sot_mtj.SOTParams, arrays: sot_mtj.SOTArrays, backend: str | None = None):
    """The physical neurons on the configured backend."""
    backend = backend or cfg.backend
    engine = None if backend == "twin" else open_engine(backend, seed=cfg.seed)
    return registry.family("sot_mtj").runner(backend, params, arrays, cfg.device.timing, engine, cfg.seed,
                                             NEURONS_TITLE)


@dataclass
class Board:
    """The data, the device instances and the drivers' current map of one configured run."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    data_name: str
    params: sot_mtj.SOTParams
    arrays: sot_mtj.SOTArrays
    cmap: sn.CurrentMap

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def board(cfg: Config) -> Board:
    """Data split, device instances (variation drawn from the seed) and the nominal current map."""
    x_train, y_train, x_test, y_test, data_name = load_data(cfg)
    family = registry.family(cfg.device.family)
    params = family.params(cfg.device.preset)
    arrays = family.draw(params, sot_mtj.Variation(scale=cfg.device.variation_scale), cfg.network.hidden, cfg.seed)
    i50_nom, di_nom = (float(v[0]) for v in sot_mtj.curve_sigmoid(params, cfg.device.timing))
    cmap = sn.CurrentMap(i50_nom, di_nom, i50_nom + cfg.device.max_drive_di * di_nom)
    return Board(x_train, y_train, x_test, y_test, data_name, params, arrays, cmap)


def train_software(cfg: Config, b: Board, rng: np.random.Generator,
                   report: Callable[[dict], None] = lambda record: None) -> tuple[sn.MLP, sn.IdealNeurons]:
    """Ideal software training: the same network with identical ideal neurons, P = σ(a); returns the
    network and its neurons (whose random stream the ideal evaluation continues)."""
    t = cfg.training
    ideal = sn.IdealNeurons(cfg.seed)
    mlp = sn.MLP.init(b.x_train.shape[1], cfg.network.hidden, b.n_classes, cfg.seed)
    for epoch in range(t.software_epochs):
        report({"stage": "software", **sn.train_epoch(mlp, b.x_train, b.y_train, ideal, None, None, t.batch_size,
                                                      t.learning_rate, rng, epoch)})
    return mlp, ideal


def train(cfg: Config, progress: Callable[[int, dict], None] | None = None) -> RunResult:
    """`cosim train` entry point (see the module docstring for the three ways compared)."""
    started = time.perf_counter()
    b = board(cfg)
    x_train, y_train, x_test, y_test = b.x_train, b.y_train, b.x_test, b.y_test
    params, arrays, cmap, timing = b.params, b.arrays, b.cmap, cfg.device.timing
    hidden, n_classes = cfg.network.hidden, b.n_classes
    ledger = Ledger(cfg.peripherals)
    runner = make_runner(cfg, params, arrays)
    devices = sn.DeviceNeurons(runner, cmap, ledger)
    rng = np.random.default_rng([cfg.seed, 5])
    t, samples = cfg.training, cfg.evaluation.samples
    total_epochs = t.software_epochs + t.hil_epochs
    history: list[dict] = []

    def report(record: dict) -> None:
        history.append(record)
        if progress is not None:
            progress(len(history), {**record, "epochs": total_epochs})

    # 1. ideal software
    mlp, ideal = train_software(cfg, b, rng, report)
    acc_ideal = sn.accuracy(mlp, x_test, y_test, ideal, samples)
    # 2. the same weights deployed on the physical neurons (programmed into the crossbar first, with msdc)
    weights, deploy, marks = None, None, {"start": len(ledger.events)}
    if cfg.network.weights == "msdc":
        weights = build_crossbar_weights(cfg, b.x_train.shape[1], ledger, mlp)
        deploy = weights.program(mlp.w1)
        marks["deployed"] = len(ledger.events)
    acc_deployed = sn.accuracy(mlp, x_test, y_test, devices, samples, t.batch_size, weights)
    # 3. characterise every neuron on the board, then train with the hardware in the loop
    sweep = Sweep(**cfg.characterization.model_dump())
    clock = time.perf_counter()
    m = measure(runner, params, timing, hidden, sweep)
    ledger.book("verify", energy_J=m.energy_J, circuit_time_s=m.circuit_time_s, wall_time_s=time.perf_counter() - clock,
                device=devices.device, layer="hidden", pulses=int(m.pulses.sum()) * hidden)
    slopes = sn.Slopes(m.i50_A, m.di_A)
    hil = mlp.copy() if t.hil_init == "software" else sn.MLP.init(x_train.shape[1], hidden, n_classes, cfg.seed)
    marks["hil"] = len(ledger.events)
    if weights is not None:
        weights.update(hil, t.software_epochs)  # the starting weights: clipped to the range, programmed if needed
    x_hil, y_hil = x_train[:t.hil_max_train], y_train[:t.hil_max_train]
    for epoch in range(t.hil_epochs):
        report({"stage": "hil", **sn.train_epoch(hil, x_hil, y_hil, devices, slopes, cmap, t.batch_size,
                                                 t.hil_learning_rate, rng, t.software_epochs + epoch, weights)})
    marks["test"] = len(ledger.events)
    acc_hil = sn.accuracy(hil, x_test, y_test, devices, samples, t.batch_size, weights)
    true_i50, true_di = sot_mtj.curve_sigmoid(params, timing, arrays)
    metrics = {
        "test_accuracy": acc_hil,
        "train_accuracy": history[-1]["train_accuracy"] if history else float("nan"),
        "accuracy_ideal_software": acc_ideal,
        "accuracy_deployed": acc_deployed,
        "accuracy_hil": acc_hil,
        "backend": cfg.backend, "model_backend": runner.model_backend,
        "preset": cfg.device.preset, "width_m": params.width_m, "hidden": hidden, "data": b.data_name,
        "n_train": int(len(y_train)), "n_hil_train": int(len(y_hil)), "n_test": int(len(y_test)),
        "samples_per_inference": samples,
        "nominal_i50_A": cmap.i50_A, "nominal_window_A": cmap.di_A * sot_mtj.WINDOW_PER_DI,
        "i50_rel_spread": float(np.std(true_i50) / np.mean(true_i50)),
        "i50_spread_in_windows": float(np.std(true_i50) / np.mean(true_di * sot_mtj.WINDOW_PER_DI)),
        "characterized_i50_rmse_A": float(np.sqrt(np.mean((m.i50_A - true_i50) ** 2))),
        "ngspice": getattr(getattr(runner, "engine", None), "version", None),
        "weights": cfg.network.weights,
    }
    states = {"w1": hil.w1, "b1": hil.b1, "w2": hil.w2, "b2": hil.b2, "sot_ic0_A": arrays.ic0_A,
              "sot_delta": arrays.delta, "sot_rp_ohm": arrays.rp_ohm, "sot_i50_fit_A": m.i50_A, "sot_di_fit_A": m.di_A}
    frame = ledger.frame()
    metrics.update(run_metrics(frame))
    if weights is not None:
        metrics.update(crossbar_metrics(frame, marks, weights, deploy, cmap))
        metrics["model_backend"] = f"{runner.model_backend}+msdc:{weights.session.model_backend}"
        if isinstance(weights.session, ShadowedSession):
            metrics.update(weights.session.metrics())
        states.update({"msdc_x": np.asarray(weights.session.x, dtype=float), "w1_programmed": weights.known_weights()})
    netlists = run_netlists(export_circuit(cfg, states, "read", None)) if hasattr(runner, "netlist") else {}
    metrics["wall_time_s"] = time.perf_counter() - started
    return RunResult(metrics, history, ledger, netlists, states)


def crossbar_board(cfg: Config, n_inputs: int) -> msdc_board.Board:
    """The M-SDC crossbar of `cfg.crossbar`: n_inputs rows, one column per hidden neuron, plus the reference
    column. Device variation is drawn from a seed of [seed, 31], as-fabricated states from [seed, 32]."""
    c = cfg.crossbar
    family = registry.crossbar_family("msdc")
    return msdc_board.plan(family, family.params(c.preset), c.variation, (n_inputs, cfg.network.hidden),
                           read_V=c.read_V, wire_ohm=c.wire_ohm, series_ohm=c.programming.series_ohm,
                           switch_on_ohm=c.switch_on_ohm, switch_off_ohm=c.switch_off_ohm, v_scale_V=c.read_V,
                           draw_seed=int(np.random.default_rng([cfg.seed, 31]).integers(2**31)),
                           state_seed=[cfg.seed, 32], initial_state=c.initial_state, tile=c.tile)


def build_crossbar_weights(cfg: Config, n_inputs: int, ledger: Ledger, trained: sn.MLP | None = None,
                           backend: str | None = None) -> CrossbarWeights:
    """The crossbar of `crossbar_board` on the run's backend, as a `CrossbarWeights`; "auto" weight scale
    comes from `trained`'s first layer. Its reads book no samples: the neurons they feed complete the inputs.
    With spice, the crossbar and the neuron bank share this process's ngspice: each engine loads its own
    circuit again when the other ran. No seed: the crossbar draws no random numbers."""
    c = cfg.crossbar
    parts = crossbar_board(cfg, n_inputs)
    session = msdc_board.open_session(parts, ledger, backend or cfg.backend, "cosim islam2024 weight crossbar",
                                      timing=Timing(read_s=c.read_s, idle_drift=c.idle_drift),
                                      timeout_s=CROSSBAR_TIMEOUT_S, counts_samples=False,
                                      shadow_fraction=c.shadow_fraction)
    if c.weight_scale != "auto":
        weight_scale = float(c.weight_scale)
    elif trained is not None and np.abs(trained.w1).max() > 0:
        weight_scale = float(np.abs(trained.w1).max()) / W_LIMIT
    else:
        raise ConfigError("crossbar.weight_scale 'auto' needs trained weights; give a number > 0")
    return CrossbarWeights(session, parts.scale, msdc_board.programmer(session, parts, c.programming), weight_scale,
                           refresh_passes=c.programming.refresh_passes)


CROSSBAR_TIMEOUT_S = 3600.0  # one transient programs up to every device of the crossbar


def crossbar_metrics(frame, marks: dict[str, int], weights, deploy, cmap: sn.CurrentMap) -> dict:
    """Programming and read costs of the crossbar, summarised from the ledger rows between the run's marks
    (positions in the ledger): deployment (programming the software weights), hardware-in-loop training
    (forward reads and update programming) and its share of every inference (its reads are part of the
    inferences the neurons complete, which count the samples)."""
    layer = weights.session.network.layers[0].prefix

    def programming(rows) -> dict:
        return summarize(rows[rows["layer"] == layer])

    def reads(rows):  # forward passes: array-wide rows, no device, no layer (the neurons' say "hidden")
        return rows[(rows["layer"] == "") & (rows["device"] == "")]

    deploy_rows = programming(frame.iloc[marks["start"]:marks["deployed"]])
    hil_rows = programming(frame.iloc[marks["hil"]:marks["test"]])
    crossbar_inference = summarize(reads(frame[frame["phase"] == "inference"]))
    inferences = summarize(frame)["inferences"]
    return {
        "crossbar_devices": int(weights.rows * weights.cols),
        "crossbar_weight_scale": weights.weight_scale,
        "crossbar_current_gain": weights.current_gain * cmap.di_A,  # write-current amperes per I_c − I_ref ampere
        "deploy_programmed_devices": deploy.devices,
        "deploy_refresh_passes": deploy.refreshes,
        "deploy_weight_rms_error": deploy.rms_error,
        "deploy_programming_pulses": deploy_rows["pulses"],
        "deploy_programming_energy_J": deploy_rows["energy_J"],
        "deploy_programming_time_s": deploy_rows["circuit_time_s"],
        "hil_programming_pulses": hil_rows["pulses"],
        "hil_programming_energy_J": hil_rows["energy_J"],
        "hil_programming_time_s": hil_rows["circuit_time_s"],
        "hil_crossbar_read_energy_J": summarize(reads(frame.iloc[marks["hil"]:marks["test"]]))["energy_J"],
        "programming_pulses": deploy_rows["pulses"] + hil_rows["pulses"],
        "programming_energy_J": deploy_rows["energy_J"] + hil_rows["energy_J"],
        "crossbar_energy_per_inference_J": crossbar_inference["energy_J"] / inferences,
        "crossbar_time_per_inference_s": crossbar_inference["circuit_time_s"] / inferences,
    }


def export_circuit(cfg: Config, states: Mapping[str, np.ndarray], stimulus: str,
                   model_backend: str | None) -> ExportedCircuit:
    """The hidden layer's SOT-MTJ neuron circuits (`NeuronBank`), each device with its own variation; `read` is
    one training mini-batch of the first inputs, one reset/write/read slot per input, at the write currents
    the weights give (initial weights from a config, trained ones from a run directory). The netlist is the
    one the bank hands its engine (a recording engine). ngspice only: the switching draw is TRRANDOM."""
    if stimulus == "program":
        raise ConfigError("the SOT-MTJ neuron circuit has no programming stimulus: a neuron keeps no state from "
                          "one slot to the next (every slot resets it, writes it and reads it, which --stimulus "
                          "read exports); use --stimulus read or none")
    b = board(cfg)
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
        mlp = sn.MLP.init(b.x_train.shape[1], n, b.n_classes, cfg.seed)
        w1, b1 = mlp.w1, mlp.b1
    # One transient of the loop: a mini-batch, or its first MAX_SLOTS_PER_RUN inputs when it is longer.
    k_slots = min(cfg.training.batch_size, len(b.x_train), sot_spice.MAX_SLOTS_PER_RUN)
    currents = b.cmap.currents(b.x_train[:k_slots] @ w1 + b1)
    recorder = RecordingEngine(cfg.seed)
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
                slots.append(ExportSlot(phase, "", t0 + start, t0 + end, read_at))
        what = (f"one training mini-batch: the first {k_slots} training inputs, one {timing.slot_s:g} s slot each "
                f"(reset at {sot_mtj.reset_current_A(b.params, timing):g} A, write at the input's current, read at "
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
    return ExportedCircuit("islam2024", description, stimulus, sot_spice.MODEL_BACKEND, {"ngspice": variant}, slots,
                 currents if stimulus == "read" else np.zeros((0, n)), [], [],
                 state_label="Switched state of each neuron (V, 1 = antiparallel), in neuron order")


EXPERIMENT = Experiment(name="islam2024", Config=Config, train=train, export_circuit=export_circuit,
                        reference_exports=(("ngspice", "read"),),
                        title="Hardware-in-loop learning with SOT-MTJ stochastic neurons (Islam et al. 2024)")
