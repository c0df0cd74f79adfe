"""A network whose hidden neurons are stochastic binary devices, trained with the hardware in the loop.

Forward: pre-activations a = x·W1 + b1 (weights held in software, or W1 in an M-SDC crossbar whose measured
column currents give x·W1: `crossbar_weights.CrossbarWeights`) become write currents
I = I50_nom + a·dI_nom (the drivers map one unit of pre-activation to the nominal device's sigmoid scale);
each physical neuron k gives one binary sample h_k per input (one slot); logits z = h·W2 + b2 and softmax
cross-entropy. Backward: dL/dh reaches a through the derivative of device k's own characterised sigmoid,
P_k(I) = σ((I − I50_k)/dI_k), so dP_k/da = σ'((I − I50_k)/dI_k)·dI_nom/dI_k (a straight-through estimator
with each device's slope). Ideal software is the same network with identical ideal neurons, P = σ(a).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from cosim.hil.ledger import Ledger


@dataclass(frozen=True)
class CurrentMap:
    """Pre-activation → write current, clipped to what the drivers can give, [0, i_max_A]."""

    i50_A: float
    di_A: float
    i_max_A: float

    def currents(self, a: np.ndarray) -> np.ndarray:
        return np.clip(self.i50_A + np.asarray(a, dtype=float) * self.di_A, 0.0, self.i_max_A)

    def inside(self, a: np.ndarray) -> np.ndarray:
        """Where the driver is not clipping (elsewhere the current, hence the output, ignores a)."""
        i = self.i50_A + np.asarray(a, dtype=float) * self.di_A
        return (i > 0.0) & (i < self.i_max_A)


@dataclass(frozen=True)
class Slopes:
    """Each device's characterised logistic (I50_k, dI_k), used for the backward pass."""

    i50_A: np.ndarray
    di_A: np.ndarray

    @classmethod
    def ideal(cls, cmap: CurrentMap, n: int) -> "Slopes":
        return cls(np.full(n, cmap.i50_A), np.full(n, cmap.di_A))

    def derivative(self, a: np.ndarray, cmap: CurrentMap) -> np.ndarray:
        p = expit((cmap.currents(a) - self.i50_A) / self.di_A)
        return p * (1.0 - p) * (cmap.di_A / self.di_A) * cmap.inside(a)


class IdealNeurons:
    """Ideal software neurons: h ~ Bernoulli(σ(a)), identical, no variation, no cost."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 211])

    def sample(self, a: np.ndarray, *, epoch: int = -1) -> np.ndarray:
        return self.rng.random(a.shape) < expit(a)

    def infer(self, a: np.ndarray, samples: int) -> np.ndarray:
        return self.rng.random((samples,) + a.shape) < expit(a)[None]


class DeviceNeurons:
    """Physical neurons behind a runner (`NeuronBank` in SPICE or `SOTTwin`); every run goes to the ledger.

    A training run of B inputs is B slots (all neurons in parallel): booked as one reset, one set (write)
    and one read row per run, the read serving the B inputs. An inference of one input is `samples` slots:
    one inference row per input.
    """

    def __init__(self, runner, cmap: CurrentMap, ledger: Ledger, device: str = "sot") -> None:
        self.runner, self.cmap, self.ledger = runner, cmap, ledger
        self.device = f"{device}[0:{runner.arrays.n}]"
        timing = runner.timing
        e = timing.edge_s
        self._phase_s = {"reset": 1.5 * e + timing.reset_width_s, "set": 2.0 * e + timing.write_width_s,
                         "read": 1.5 * e + timing.read_width_s}  # adds up to the slot period

    def sample(self, a: np.ndarray, *, epoch: int = -1) -> np.ndarray:
        run = self.runner.run(self.cmap.currents(a))
        k, n = run.bits.shape
        for phase, energy in (("reset", run.reset_J.sum()), ("set", run.write_J.sum()), ("read", run.read_J.sum())):
            self.ledger.book(phase, energy_J=float(energy), circuit_time_s=k * self._phase_s[phase],
                             wall_time_s=run.wall_time_s if phase == "set" else 0.0, device=self.device,
                             layer="hidden", epoch=epoch, pulses=k * n if phase != "read" else k,
                             samples=k if phase == "read" else 0)
        return run.bits

    def infer(self, a: np.ndarray, samples: int) -> np.ndarray:
        """(samples, B, n) outputs: each input held for `samples` consecutive slots."""
        b, n = a.shape
        run = self.runner.run(np.repeat(self.cmap.currents(a), samples, axis=0))
        per_input = run.slot_energy_J.reshape(b, samples).sum(axis=1)
        wall = run.wall_time_s / max(b, 1)
        for energy in per_input:
            self.ledger.book("inference", energy_J=float(energy), circuit_time_s=samples * self.runner.timing.slot_s,
                             wall_time_s=wall, device=self.device, layer="hidden", pulses=samples * n, samples=1)
        return run.bits.reshape(b, samples, n).transpose(1, 0, 2)


@dataclass
class MLP:
    """n_in → n_hidden stochastic binary neurons → n_out linear outputs, trained with Adam."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    _m: list = field(default_factory=list)
    _v: list = field(default_factory=list)
    _t: int = 0

    @classmethod
    def init(cls, n_in: int, n_hidden: int, n_out: int, seed: int, input_scale: float = 2.0) -> "MLP":
        rng = np.random.default_rng([seed, 101])
        return cls(rng.normal(0.0, input_scale / np.sqrt(n_in), (n_in, n_hidden)), np.zeros(n_hidden),
                   rng.normal(0.0, 1.0 / np.sqrt(n_hidden), (n_hidden, n_out)), np.zeros(n_out))

    def copy(self) -> "MLP":
        return MLP(self.w1.copy(), self.b1.copy(), self.w2.copy(), self.b2.copy())

    def preact(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w1 + self.b1

    def logits(self, h: np.ndarray) -> np.ndarray:
        return h @ self.w2 + self.b2

    def step(self, x: np.ndarray, y: np.ndarray, h: np.ndarray, slope: np.ndarray,
             learning_rate: float) -> tuple[float, float]:
        """One Adam step from a sampled forward pass; returns (loss, accuracy) of that pass."""
        h = h.astype(float)
        z = self.logits(h)
        z = z - z.max(axis=1, keepdims=True)
        log_q = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        loss = float(-log_q[rows, y].mean())
        dz = np.exp(log_q)
        dz[rows, y] -= 1.0
        dz /= len(y)
        da = (dz @ self.w2.T) * slope
        grads = (x.T @ da, da.sum(axis=0), h.T @ dz, dz.sum(axis=0))
        self._adam(grads, learning_rate)
        return loss, float(np.mean(z.argmax(axis=1) == y))

    def _adam(self, grads, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        params = (self.w1, self.b1, self.w2, self.b2)
        if not self._m:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
        self._t += 1
        for p, g, m, v in zip(params, grads, self._m, self._v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= lr * (m / (1 - beta1 ** self._t)) / (np.sqrt(v / (1 - beta2 ** self._t)) + eps)


def train_epoch(mlp: MLP, x: np.ndarray, y: np.ndarray, neurons, slopes: Slopes | None, cmap: CurrentMap | None,
                batch_size: int, learning_rate: float, rng: np.random.Generator, epoch: int, weights=None) -> dict:
    """One pass over the training set in shuffled mini-batches; `slopes` None means ideal σ'(a). `weights`
    (a `CrossbarWeights`) measures the pre-activations on the crossbar and programs each update into it;
    None keeps the first layer in software."""
    order = rng.permutation(len(y))
    losses, accs, sizes, programmed = [], [], [], 0
    started = time.perf_counter()
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        a = mlp.preact(x[idx]) if weights is None else weights.preact(mlp, x[idx], phase="read", epoch=epoch)
        h = neurons.sample(a, epoch=epoch)
        if slopes is None:
            p = expit(a)
            slope = p * (1 - p)
        else:
            slope = slopes.derivative(a, cmap)
        loss, acc = mlp.step(x[idx], y[idx], h, slope, learning_rate)
        if weights is not None:
            programmed += weights.update(mlp, epoch).devices
        losses.append(loss)
        accs.append(acc)
        sizes.append(len(idx))
    w = np.asarray(sizes, dtype=float)
    record = {"epoch": epoch, "loss": float(np.average(losses, weights=w)),
              "train_accuracy": float(np.average(accs, weights=w)), "wall_time_s": time.perf_counter() - started}
    if weights is not None:
        record["programmed"] = programmed  # device programmings (program-and-verify) this epoch
    return record


def accuracy(mlp: MLP, x: np.ndarray, y: np.ndarray, neurons, samples: int = 1, batch_size: int = 64,
             weights=None) -> float:
    """Test accuracy with each input's logits averaged over `samples` stochastic samples of the neurons (the
    pre-activations read once per input from `weights`, a `CrossbarWeights`, when given)."""
    correct = 0
    for s in range(0, len(y), batch_size):
        xs = x[s:s + batch_size]
        a = mlp.preact(xs) if weights is None else weights.preact(mlp, xs, phase="inference")
        h = neurons.infer(a, samples).astype(float)  # (samples, B, n)
        z = np.mean([mlp.logits(hs) for hs in h], axis=0)
        correct += int(np.sum(z.argmax(axis=1) == y[s:s + batch_size]))
    return correct / len(y)
