"""Domain-wall stochastic synapses trained with the mean/variance rule (Ellis et al., arXiv 2303.01886, 2023).

One layer of positive-only binary stochastic synapses (p(w) of the published nanowire fit, per-synapse
variation) plus a real bias, trained in numpy with the rule of `cosim.training.meanvar`, beside the same layer
with real weights. The energy and time of one synapse read come from the read circuit of
`cosim.devices.dw_synapse`: simulated in ngspice at the start of the run (backend spice or batch; a short
transient of one synapse, seeded from the run's seed) or from its equations (twin). The ledger books every
read the run makes (training, validation, evaluation) at that per-read cost and the probabilities of the
moment, one row per pass over a data set, serving that many samples; an inference reads every one of the
n_in × n_out synapses N times, all synapses in parallel, the N reads of a synapse one after another. Energy
per inference is that of every inference row over the inferences they served (validation passes included).
"""

from __future__ import annotations

import time
from typing import Callable, Literal, Mapping

import numpy as np
from pydantic import Field, field_validator, model_validator

from cosim import digits
from cosim.config import Strict
from cosim.devices import registry
from cosim.devices.dw_synapse import model as dw
from cosim.devices.dw_synapse import spice as dw_spice
from cosim.errors import ConfigError
from cosim.experiments.export_files import run_netlists
from cosim.experiments.base import Experiment, ExperimentBase, ExportedCircuit, ExportSlot, RunResult
from cosim.hil.ledger import Ledger
from cosim.hil.summary import run_metrics
from cosim.limits import MAX_EPOCHS, MAX_GAIN, MAX_LEARNING_RATE, MAX_POOL, MAX_REPEATS, MAX_SAMPLES
from cosim.netlist import ir
from cosim.netlist.numbers import number
from cosim.netlist.writers.base import Variant
from cosim.resources import data_file
from cosim.spice.engine import ngspice_seed
from cosim.training import meanvar as mv


class DataSettings(Strict):
    # "digits": scikit-learn's 8×8 digits (64 inputs); otherwise a directory holding the four MNIST-format
    # IDX files (28×28, max-pooled to 14×14: the paper's 196 inputs)
    source: str = "digits"
    pool: int | Literal["auto"] = "auto"  # max-pool factor; auto: 2 for 28×28 images, else 1
    threshold: float = Field(0.5, gt=0, lt=1)  # binarisation: pixel > threshold → 1
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    max_train: int | None = Field(None, ge=10, le=MAX_SAMPLES)  # use only this many training images (quick runs)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return digits.check_source(value)

    @field_validator("pool")
    @classmethod
    def _pool(cls, value):
        if value != "auto" and not 1 <= value <= MAX_POOL:
            raise ValueError(f"must be 'auto' or an integer in [1, {MAX_POOL}]")
        return value


class DeviceSettings(Strict):
    family: Literal["dw_synapse"] = "dw_synapse"
    preset: str = "ellis2023"
    variation: dw.Variation = Field(default_factory=dw.Variation)

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        return registry.family("dw_synapse").presets.check(value)


class TrainingSettings(Strict):
    reads: int = Field(8, ge=1, le=4096)  # N: reads per synapse per inference (the paper: 1, 2, 4, … 64)
    learning_rate: float = Field(0.02, gt=0, le=MAX_LEARNING_RATE)
    batch_size: int = Field(64, ge=1, le=MAX_SAMPLES)
    max_epochs: int = Field(100, ge=1, le=MAX_EPOCHS)
    patience: int = Field(20, ge=1, le=MAX_EPOCHS)  # early stopping on the validation loss
    validation_passes: int = Field(1, ge=1, le=MAX_REPEATS)  # stochastic passes per validation
    # fixed gain on the neuron's count, z = gain·Y + b; the published rule is gain 1 (see docs/ellis2023.md)
    output_gain: float = Field(1.0, gt=0, le=MAX_GAIN)
    baseline: bool = True  # also train the same layer with real weights


class EvaluationSettings(Strict):
    passes: int = Field(16, ge=1, le=MAX_REPEATS)  # test accuracy averaged over this many stochastic passes


class CalibrationSettings(Strict):
    reads: int = Field(64, ge=8, le=4096)  # read slots simulated to measure the per-read energy


class Config(ExperimentBase):
    """Binary stochastic domain-wall synapses and the mean/variance rule (Ellis et al. 2023)."""

    experiment: Literal["ellis2023"] = "ellis2023"
    data: DataSettings = Field(default_factory=DataSettings)
    device: DeviceSettings = Field(default_factory=DeviceSettings)
    read_circuit: dw_spice.ReadCircuit = Field(default_factory=dw_spice.ReadCircuit)
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)

    @model_validator(mode="after")
    def _split(self) -> "Config":
        if self.training.patience > self.training.max_epochs:
            raise ValueError("training.patience must not exceed training.max_epochs")
        return self


def prepare_data(settings: DataSettings, seed: int) -> tuple[mv.Split, str, tuple[int, int]]:
    """Images → pooled, binarised, flattened inputs; a seeded validation split of the training set."""
    images = digits.load(settings.source, seed)
    h, w = images.x_train.shape[1:]
    factor = (2 if (h, w) == (28, 28) else 1) if settings.pool == "auto" else settings.pool
    if h % factor or w % factor:
        raise ConfigError(f"data.pool = {factor} does not divide the {h}×{w} images of {images.name}")

    def inputs(x: np.ndarray) -> np.ndarray:
        pooled = digits.max_pool(x, factor) if factor > 1 else x
        return (digits.flatten(pooled) > settings.threshold).astype(float)

    x, y = inputs(images.x_train), images.y_train
    order = np.random.default_rng([seed, 21]).permutation(len(y))
    if settings.max_train is not None:
        order = order[:settings.max_train]
    n_val = max(1, int(round(settings.validation_fraction * len(order))))
    val, train = order[:n_val], order[n_val:]
    if len(train) < 1:
        raise ConfigError("data: no training images left after the validation split; raise data.max_train")
    split = mv.Split(x[train], y[train], x[val], y[val], inputs(images.x_test), images.y_test)
    return split, images.name, (h // factor, w // factor)


def train(cfg: Config, progress: Callable[[int, dict], None] | None = None) -> RunResult:
    """`cosim train` entry: measure the read cost, train the stochastic layer (and the baseline), evaluate."""
    started = time.perf_counter()
    split, data_name, image_shape = prepare_data(cfg.data, cfg.seed)
    n_in, n_out = split.x_train.shape[1], int(max(split.y_train.max(), split.y_test.max())) + 1
    family = registry.family(cfg.device.family)
    params = family.params(cfg.device.preset)
    devices = family.draw(params, cfg.device.variation, (n_in, n_out), cfg.seed)
    cost, _ = dw_spice.read_cost(cfg.backend, cfg.read_circuit, params, cfg.seed, cfg.calibration.reads)
    t = cfg.training
    n_reads = t.reads
    layer = mv.StochasticSynapseLayer(devices, n_reads, w_init=params.x0, gain=t.output_gain)
    ledger = Ledger()
    label = f"dw_synapse {n_in}x{n_out}"

    def book(phase: str, part: str, inferences: int, epoch: int, wall_s: float) -> None:
        """`inferences` reads of every synapse N times at the current probabilities: one row serving them all."""
        per_inference_J = n_reads * float(cost.energy_J(layer.probabilities()).sum())
        ledger.book(phase, energy_J=inferences * per_inference_J, circuit_time_s=inferences * n_reads * cost.time_s,
                    wall_time_s=wall_s, device=label, layer=part, epoch=epoch,
                    pulses=inferences * n_reads * n_in * n_out, samples=inferences)

    def on_epoch(epoch: int, record: dict) -> None:
        book("read", "train", len(split.y_train), epoch, record["wall_time_s"])
        book("inference", "validation", len(split.y_val) * t.validation_passes, epoch, 0.0)
        if progress is not None:
            progress(epoch, {"epochs": t.max_epochs, **{k: record[k] for k in
                                                        ("loss", "train_accuracy", "validation_accuracy")}})

    fit = mv.fit(layer, split, learning_rate=t.learning_rate, batch_size=t.batch_size, max_epochs=t.max_epochs,
                 patience=t.patience, rng=np.random.default_rng([cfg.seed, 31]),
                 validation_passes=t.validation_passes, on_epoch=on_epoch)
    rng = np.random.default_rng([cfg.seed, 32])
    passes = cfg.evaluation.passes
    clock = time.perf_counter()
    test_acc, test_std, test_loss = mv.evaluate(layer, split.x_test, split.y_test, passes, rng)
    book("inference", "test", len(split.y_test) * passes, -1, time.perf_counter() - clock)
    clock = time.perf_counter()
    train_acc, _, _ = mv.evaluate(layer, split.x_train, split.y_train, passes, rng)
    book("inference", "train-evaluation", len(split.y_train) * passes, -1, time.perf_counter() - clock)

    p = layer.probabilities()
    active = split.x_train.any(axis=0)  # synapses whose input is on in at least one training image
    summary = run_metrics(ledger.frame())
    metrics = {**summary,
        "test_accuracy": test_acc, "test_accuracy_std_over_passes": test_std, "test_loss": test_loss,
        "train_accuracy": train_acc,
        "validation_accuracy": fit.history[fit.best_epoch - 1]["validation_accuracy"],
        "reads": n_reads, "output_gain": t.output_gain, "passes": passes,
        "epochs_trained": len(fit.history), "best_epoch": fit.best_epoch, "stopped_early": fit.stopped_early,
        "near_binary_fraction": dw.near_binary_fraction(p[active]), "near_binary_fraction_all": dw.near_binary_fraction(p),
        "active_synapses": int(active.sum()) * n_out, "synapses": n_in * n_out,
        "mean_p": float(p.mean()),
        "energy_per_read_J": summary["energy_per_inference_J"] / (n_reads * n_in * n_out),
        "read_energy_state0_J": cost.energy_state0_J, "read_energy_state1_J": cost.energy_state1_J,
        "read_time_s": cost.time_s, "read_cost_source": cost.source,
        "data": data_name, "inputs": n_in, "image_shape": list(image_shape),
        "n_train": len(split.y_train), "n_validation": len(split.y_val), "n_test": len(split.y_test),
        "backend": cfg.backend, "model_backend": "numpy" if cfg.backend == "twin" else "bsource",
        "ngspice": cost.ngspice_version,
    }
    if t.baseline:
        metrics.update(_baseline(cfg, split, n_in, n_out))
    metrics["wall_time_s"] = time.perf_counter() - started
    states = {"dw_w": layer.w.copy(), "dw_p": p, "dw_bias": layer.b.copy(), "dw_x0": devices.x0,
              "dw_dx": devices.dx, "dw_a": devices.a, "dw_input_used": active}
    return RunResult(metrics, fit.history, ledger, run_netlists(export_circuit(cfg, states, "read", None)), states=states)


def _baseline(cfg: Config, split: mv.Split, n_in: int, n_out: int) -> dict:
    """The same layer with real weights, trained with the same optimiser, batches and early stopping."""
    t = cfg.training
    layer = mv.RealLayer(n_in, n_out)
    fit = mv.fit(layer, split, learning_rate=t.learning_rate, batch_size=t.batch_size, max_epochs=t.max_epochs,
                 patience=t.patience, rng=np.random.default_rng([cfg.seed, 33]))
    rng = np.random.default_rng([cfg.seed, 34])
    return {"baseline_test_accuracy": mv.evaluate(layer, split.x_test, split.y_test, 1, rng)[0],
            "baseline_train_accuracy": mv.evaluate(layer, split.x_train, split.y_train, 1, rng)[0],
            "baseline_best_epoch": fit.best_epoch}


def export_circuit(cfg: Config, states: Mapping[str, np.ndarray], stimulus: str,
                   model_backend: str | None) -> ExportedCircuit:
    """The domain-wall synapse layer's read circuits: one per synapse (n_in × n_out), with each synapse's
    own fit and, from a run directory, its trained control value w; `read` reads every synapse N times.
    ngspice only: the random state of a read is drawn by ngspice's TRRANDOM source."""
    if stimulus == "program":
        raise ConfigError("the domain-wall synapse circuit has no programming stimulus (the drive that sets a wall "
                          "is not modelled electrically); use --stimulus read or none")
    split, _, _ = prepare_data(cfg.data, cfg.seed)
    n_in, n_out = split.x_train.shape[1], int(max(split.y_train.max(), split.y_test.max())) + 1
    family = registry.family(cfg.device.family)
    params = family.params(cfg.device.preset)
    devices = family.draw(params, cfg.device.variation, (n_in, n_out), cfg.seed)
    w = np.full((n_in, n_out), params.x0)
    if "dw_w" in states:
        w = np.asarray(states["dw_w"], dtype=float)
        if w.shape != (n_in, n_out):
            raise ConfigError(f"states.npz holds synapses of shape {w.shape}, the configured layer is {(n_in, n_out)}")
    net = dw_spice.read_netlist(w.ravel(), devices, cfg.read_circuit, title="cosim ellis2023 synapse reads")
    local = dw_spice.library(exported=True)
    net.items = [local if isinstance(i, ir.SubcircuitLibrary) else i for i in net.items]
    n = w.size
    if stimulus == "read":
        net.add(ir.Options({"seed": ngspice_seed(cfg.seed)}), dw_spice.read_analysis(cfg.read_circuit, cfg.training.reads))
        net.add(ir.Save(tuple(v for k in range(n) for v in dw_spice.read_vectors(k))))
        what = f"{cfg.training.reads} reads of every synapse (one {cfg.read_circuit.slot_s:g} s slot each), seed {cfg.seed}"
    else:
        what = "none: the circuits only, no analysis"
    variant = Variant(net, {dw_spice.LIB_FILE: data_file("device_models", dw_spice.LIB_FILE).read_text()},
                      state_vectors=[f"v(xs{k}.st)" for k in range(n)])
    source = "the trained control values of the run" if "dw_w" in states else f"every w at x0 = {params.x0:g}"
    description = [
        f"domain-wall stochastic synapses (Ellis et al. 2023): {n_in} × {n_out} = {n} read circuits, each with "
        "its read source, sense resistor, comparator and supply",
        f"device preset {cfg.device.preset}, per-synapse fits drawn with seed {cfg.seed}; control values: {source}",
        f"stimulus: {what}",
    ]
    slots = [ExportSlot("read", "", k * cfg.read_circuit.slot_s, (k + 1) * cfg.read_circuit.slot_s, None)
             for k in range(cfg.training.reads)] if stimulus == "read" else []
    return ExportedCircuit("ellis2023", description, stimulus, "bsource", {"ngspice": variant}, slots, w.ravel(),
                 [f"v(out{k})" for k in range(n)] if stimulus == "read" else [], [],
                 output_label="Comparator outputs (V: supply when the read found the wall past its pinning site)",
                 state_label="Stored state of each synapse's read (V, 1 = wall past the pinning site), in synapse order",
                 extra_vectors=[(f"Energy of synapse k's read slot: ∫ (−v(rd<k>)·i(vrd<k>) − "
                                 f"{number(cfg.read_circuit.supply_V)} V·i(vdd<k>)) dt over the slot (the ledger's "
                                 "per-read energy, as cosim.devices.dw_synapse.spice.simulate_reads integrates it), from",
                                 [v for k in range(n) for v in dw_spice.read_vectors(k)[:3]])]
                 if stimulus == "read" else [])


EXPERIMENT = Experiment(name="ellis2023", Config=Config, train=train, export_circuit=export_circuit,
                        reference_exports=(("ngspice", "read"),),
                        title="Domain-wall stochastic synapses trained with the mean/variance rule (Ellis et al. 2023)",
                        scaled_energy="only the energy and time of one synapse read come from ngspice (one synapse read "
                                      "64 times at the start of the run); every read the ledger books (hundreds of "
                                      "millions in a run of seconds) is that per-read cost at the probabilities of "
                                      "the moment, not a simulation of its own")
