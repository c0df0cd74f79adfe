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
Weights are held in software; weights in an M-SDC crossbar are a later step (docs/islam2024.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np
from pydantic import Field, field_validator

from cosim import digits
from cosim.config import ExperimentBase, Strict
from cosim.devices import sot_mtj
from cosim.devices.sot_characterize import Sweep, measure
from cosim.experiments import RunResult
from cosim.hil.ledger import Ledger, PeripheralCosts
from cosim.training import stochastic_neurons as sn


class DeviceSettings(Strict):
    family: Literal["sot_mtj"] = "sot_mtj"
    preset: str = "w100"  # a width preset of device_models/sot_presets.yaml
    variation_scale: float = Field(1.0, ge=0, le=5)  # multiplies the preset's device-to-device spreads
    timing: sot_mtj.Timing = Field(default_factory=sot_mtj.Timing)
    # driver range: currents are clipped to [0, I50_nom + max_drive_di·dI_nom]
    max_drive_di: float = Field(10.0, gt=0)

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        allowed = sot_mtj.preset_names()
        if value.lower() not in {a.lower() for a in allowed}:
            raise ValueError(f"unknown preset {value!r}; allowed: {', '.join(allowed)}")
        return value


class NetworkSettings(Strict):
    hidden: int = Field(32, ge=1, le=4096)  # H: physical neurons, one device each
    weights: Literal["software", "msdc"] = "software"

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: str) -> str:
        if value != "software":
            raise ValueError("weights in an M-SDC crossbar are not implemented yet (a later step, see "
                             "docs/islam2024.md); allowed: software")
        return value


class TrainingSettings(Strict):
    software_epochs: int = Field(30, ge=1)  # ideal software training (numpy); its result is the "deployed" net
    hil_epochs: int = Field(2, ge=0)  # hardware-in-loop epochs on the physical neurons
    # where hardware-in-loop training starts: the software-trained weights (fine-tuning) or the same random
    # initial weights the software training started from (hardware-in-loop from scratch)
    hil_init: Literal["software", "random"] = "software"
    batch_size: int = Field(64, ge=1, le=4096)  # inputs per transient: one slot each
    learning_rate: float = Field(0.01, gt=0)  # Adam, software training
    hil_learning_rate: float = Field(0.01, gt=0)  # Adam, hardware-in-loop training


class CharacterizationSettings(Strict):
    """The on-board measurement of every neuron's sigmoid before hardware-in-loop training."""

    coarse_points: int = Field(9, ge=3)
    coarse_pulses: int = Field(16, ge=1)
    points: int = Field(9, ge=3)
    pulses: int = Field(32, ge=1)
    span_di: float = Field(4.0, gt=0)


class EvaluationSettings(Strict):
    samples: int = Field(1, ge=1, le=1024)  # stochastic samples per inference (slots), logits averaged


class DataSettings(Strict):
    # "digits": scikit-learn's 8×8 digits (64 inputs); otherwise a directory of the four MNIST-format IDX files
    source: str = "digits"
    pool: int = Field(1, ge=1)  # max-pool factor (MNIST 28×28: 1 keeps 784 inputs, 2 gives 196)
    max_train: int | None = Field(None, ge=10)
    max_test: int | None = Field(None, ge=10)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value != "digits" and not Path(value).is_dir():
            raise ValueError(f"must be 'digits' or a directory of MNIST-format IDX files; {value!r} is not a directory")
        return value


class Config(ExperimentBase):
    """SOT-MTJ stochastic-neuron network, hardware-in-loop trained (Islam et al. 2024)."""

    experiment: Literal["islam2024"] = "islam2024"
    device: DeviceSettings = Field(default_factory=DeviceSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    characterization: CharacterizationSettings = Field(default_factory=CharacterizationSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    peripherals: PeripheralCosts = Field(default_factory=PeripheralCosts)


def load_data(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    images = digits.load(None if cfg.data.source == "digits" else cfg.data.source, cfg.seed)
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


def make_runner(cfg: Config, params: sot_mtj.SOTParams, arrays: sot_mtj.SOTArrays, backend: str | None = None):
    """The physical neurons on the configured backend."""
    backend = backend or cfg.backend
    timing = cfg.device.timing
    if backend == "twin":
        return sot_mtj.SOTTwin(params, arrays, timing, cfg.seed)
    from cosim.devices.sot_spice import NeuronBank

    if backend == "spice":
        from cosim.spice.shared import SharedEngine

        engine = SharedEngine(seed=cfg.seed)
    else:
        from cosim.spice.batch import BatchEngine

        engine = BatchEngine(seed=cfg.seed)
    return NeuronBank(params, arrays, timing, engine, seed=cfg.seed, title="cosim islam2024 SOT-MTJ neurons")


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
    params = sot_mtj.load_preset(cfg.device.preset)
    arrays = sot_mtj.draw_instances(params, cfg.network.hidden, cfg.seed, cfg.device.variation_scale)
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
    # 2. the same weights deployed on the physical neurons
    acc_deployed = sn.accuracy(mlp, x_test, y_test, devices, samples, t.batch_size)
    # 3. characterise every neuron on the board, then train with the hardware in the loop
    sweep = Sweep(**cfg.characterization.model_dump())
    clock = time.perf_counter()
    m = measure(runner, params, timing, hidden, sweep)
    ledger.book("verify", energy_J=m.energy_J, circuit_time_s=m.circuit_time_s, wall_time_s=time.perf_counter() - clock,
                device=devices.device, layer="hidden", pulses=int(m.pulses.sum()) * hidden)
    slopes = sn.Slopes(m.i50_A, m.di_A)
    hil = mlp.copy() if t.hil_init == "software" else sn.MLP.init(x_train.shape[1], hidden, n_classes, cfg.seed)
    for epoch in range(t.hil_epochs):
        report({"stage": "hil", **sn.train_epoch(hil, x_train, y_train, devices, slopes, cmap, t.batch_size,
                                                 t.hil_learning_rate, rng, t.software_epochs + epoch)})
    before = len(devices.inference_energy_J)
    acc_hil = sn.accuracy(hil, x_test, y_test, devices, samples, t.batch_size)
    per_inference_J = float(np.mean(devices.inference_energy_J[before:]))
    totals = ledger.totals()
    true_i50, true_di = sot_mtj.curve_sigmoid(params, timing, arrays)
    metrics = {
        "test_accuracy": acc_hil,
        "train_accuracy": history[-1]["train_accuracy"] if history else float("nan"),
        "accuracy_ideal_software": acc_ideal,
        "accuracy_deployed": acc_deployed,
        "accuracy_hil": acc_hil,
        "energy_J": totals["energy_J"], "circuit_time_s": totals["circuit_time_s"],
        "energy_with_peripherals_J": totals["energy_with_peripherals_J"],
        "time_with_peripherals_s": totals["time_with_peripherals_s"],
        "wall_time_s": time.perf_counter() - started,
        "pulses": totals["pulses"],
        "energy_per_inference_J": per_inference_J,
        "time_per_inference_s": samples * timing.slot_s,
        "backend": cfg.backend, "model_backend": runner.model_backend,
        "preset": cfg.device.preset, "width_m": params.width_m, "hidden": hidden, "data": b.data_name,
        "n_test": int(len(y_test)), "samples_per_inference": samples,
        "nominal_i50_A": cmap.i50_A, "nominal_window_A": cmap.di_A * sot_mtj.WINDOW_PER_DI,
        "i50_rel_spread": float(np.std(true_i50) / np.mean(true_i50)),
        "i50_spread_in_windows": float(np.std(true_i50) / np.mean(true_di * sot_mtj.WINDOW_PER_DI)),
        "characterized_i50_rmse_A": float(np.sqrt(np.mean((m.i50_A - true_i50) ** 2))),
        "ngspice": getattr(getattr(runner, "engine", None), "version", None),
    }
    netlists = {}
    if hasattr(runner, "netlist"):
        netlists["sot_neurons.cir"] = _example_netlist(runner, hil, x_test[:4], cmap, samples)
    states = {"w1": hil.w1, "b1": hil.b1, "w2": hil.w2, "b2": hil.b2, "sot_ic0_A": arrays.ic0_A,
              "sot_delta": arrays.delta, "sot_rp_ohm": arrays.rp_ohm, "sot_i50_fit_A": m.i50_A, "sot_di_fit_A": m.di_A}
    return RunResult(metrics, history, ledger, netlists, states)


def _example_netlist(bank, mlp: sn.MLP, x: np.ndarray, cmap: sn.CurrentMap, samples: int) -> str:
    """The trained board inferring a few test inputs: a file that runs as is (`ngspice -b`)."""
    from cosim.netlist import ir, ngspice
    from cosim.spice.engine import ngspice_seed

    currents = np.repeat(cmap.currents(mlp.preact(x)), samples, axis=0)
    net = bank.netlist(currents)
    timing = bank.timing
    net.add(ir.Options({"seed": float(ngspice_seed(bank.seed))}),
            ir.Tran(timing.edge_s, len(currents) * timing.slot_s, 0.0, timing.write_width_s / 4),
            ir.Save(tuple(f"v(out{k})" for k in range(bank.arrays.n))))
    return ngspice.write(net)
