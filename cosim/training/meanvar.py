"""The mean/variance learning rule for binary stochastic synapses (Ellis et al., arXiv 2303.01886, 2023).

One layer, positive-only stochastic synapses of probability p_ij = p(w_ij) and a real bias b_i. Each synapse
is read N times; for an input x the neuron's output is the sampled count

    q_ij = x_j·p_ij,   Y_i = Σ_j Binomial(N, q_ij)/N,
    μ_i = Σ_j q_ij,    s_i = sqrt(Σ_j q_ij(1 − q_ij)/N + 1e-4),   ε_i = (Y_i − μ_i)/s_i  (held constant)
    z_i = g·(μ_i + ε_i·s_i) + b_i

so the forward value is the hardware's own sample (z = g·Y + b) while the gradient flows through the mean and
the standard deviation of the output distribution. g is a fixed output gain (the neuron scaling its count);
the published rule has g = 1, the default. Cross-entropy on z, Adam. The gradients are written out
here (no autodiff) and checked against finite differences in tests/test_meanvar.py. `RealLayer` is the
baseline: the same layer with ordinary real weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cosim.devices.dw_synapse import model as dw

VARIANCE_FLOOR = 1e-4


# --- the rule's pieces ---------------------------------------------------------------------------------


def output_stats(x: np.ndarray, p: np.ndarray, n_reads: int) -> tuple[np.ndarray, np.ndarray]:
    """μ (B, K) and s (B, K) of the sampled output for inputs x (B, J) and probabilities p (J, K)."""
    mu = x @ p
    var = (mu - (x * x) @ (p * p)) / n_reads
    return mu, np.sqrt(np.maximum(var, 0.0) + VARIANCE_FLOOR)


def output_stats_backward(x: np.ndarray, p: np.ndarray, n_reads: int, s: np.ndarray, g_mu: np.ndarray,
                          g_s: np.ndarray) -> np.ndarray:
    """dL/dp (J, K) from dL/dμ and dL/ds (B, K): dμ/dp_jk = x_j, ds/dp_jk = x_j(1 − 2x_j·p_jk)/(2sN)."""
    h = g_s / (2.0 * s * n_reads)
    return x.T @ g_mu + x.T @ h - 2.0 * p * ((x * x).T @ h)


def sample_output(x: np.ndarray, p: np.ndarray, n_reads: int, rng: np.random.Generator) -> np.ndarray:
    """Y (B, K) = Σ_j Binomial(N, x_j·p_jk)/N: N reads of every synapse, counted by the neuron."""
    q = x[:, :, None] * p[None, :, :]
    return rng.binomial(n_reads, q).sum(axis=1) / n_reads


def softmax_cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits z (B, K) for labels y (B,), and its gradient dL/dz."""
    shifted = z - z.max(axis=1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    grad = np.exp(log_prob)
    grad[rows, y] -= 1.0
    return float(-log_prob[rows, y].mean()), grad / len(y)


# --- layers --------------------------------------------------------------------------------------------


@dataclass
class StochasticSynapseLayer:
    """J → K positive-only binary stochastic synapses (one device fit each) read N times, plus a real bias."""

    devices: dw.DWArrays  # shape (J, K)
    n_reads: int
    w: np.ndarray = None  # control variables (J, K); default: every synapse at the nominal midpoint
    b: np.ndarray = None
    w_init: float | None = None
    gain: float = 1.0
    # the N → ∞ limit, z = g·μ + b without sampling: the continuous positive-only layer the rule approaches
    exact_mean: bool = False

    def __post_init__(self) -> None:
        if self.n_reads < 1:
            raise ValueError(f"n_reads must be >= 1, got {self.n_reads}")
        if self.w is None:
            start = float(np.mean(self.devices.x0)) if self.w_init is None else self.w_init
            self.w = np.full(self.devices.shape, start)
        if self.b is None:
            self.b = np.zeros(self.devices.shape[1])

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {"w": self.w, "b": self.b}

    def probabilities(self) -> np.ndarray:
        d = self.devices
        return dw.probability(self.w, d.x0, d.dx, d.a)

    def forward(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
        p = self.probabilities()
        mu, s = output_stats(x, p, self.n_reads)
        if self.exact_mean:
            eps = np.zeros_like(mu)
        else:
            y = sample_output(x, p, self.n_reads, rng)
            eps = (y - mu) / s  # a constant for the backward pass
        z = self.gain * (mu + eps * s) + self.b
        return z, (x, p, s, eps)

    def backward(self, cache: tuple, g_z: np.ndarray) -> dict[str, np.ndarray]:
        x, p, s, eps = cache
        g_mu = self.gain * g_z
        g_p = output_stats_backward(x, p, self.n_reads, s, g_mu, g_mu * eps)
        d = self.devices
        return {"w": g_p * dw.probability_slope(self.w, d.x0, d.dx, d.a), "b": g_z.sum(axis=0)}


@dataclass
class RealLayer:
    """The baseline: the same J → K layer with real weights (any sign) and a real bias."""

    n_in: int
    n_out: int
    w: np.ndarray = None
    b: np.ndarray = None

    def __post_init__(self) -> None:
        if self.w is None:
            self.w = np.zeros((self.n_in, self.n_out))
        if self.b is None:
            self.b = np.zeros(self.n_out)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {"w": self.w, "b": self.b}

    def forward(self, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
        return x @ self.w + self.b, (x,)

    def backward(self, cache: tuple, g_z: np.ndarray) -> dict[str, np.ndarray]:
        (x,) = cache
        return {"w": x.T @ g_z, "b": g_z.sum(axis=0)}


class Adam:
    """Adam (Kingma & Ba) on a layer's parameter dict, updated in place."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.beta1 ** self.t, 1.0 - self.beta2 ** self.t
        for k, g in grads.items():
            self.m[k] = self.beta1 * self.m[k] + (1.0 - self.beta1) * g
            self.v[k] = self.beta2 * self.v[k] + (1.0 - self.beta2) * g * g
            params[k] -= self.lr * (self.m[k] / c1) / (np.sqrt(self.v[k] / c2) + self.eps)


# --- training ------------------------------------------------------------------------------------------


@dataclass
class Split:
    """Inputs (n, J) and integer labels (n,) for training, validation and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def evaluate(layer, x: np.ndarray, y: np.ndarray, passes: int, rng: np.random.Generator,
             batch_size: int = 1024) -> tuple[float, float, float]:
    """Accuracy averaged over `passes` stochastic passes (its std over passes) and the mean loss."""
    accs, losses = [], []
    for _ in range(passes):
        correct, loss = 0, 0.0
        for start in range(0, len(y), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            z, _ = layer.forward(xb, rng)
            correct += int((z.argmax(axis=1) == yb).sum())
            loss += softmax_cross_entropy(z, yb)[0] * len(yb)
        accs.append(correct / len(y))
        losses.append(loss / len(y))
    return float(np.mean(accs)), float(np.std(accs)), float(np.mean(losses))


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_validation_loss: float = np.inf
    stopped_early: bool = False


def fit(layer, split: Split, *, learning_rate: float, batch_size: int, max_epochs: int, patience: int,
        rng: np.random.Generator, validation_passes: int = 1,
        on_epoch: Callable[[int, dict], None] | None = None) -> FitResult:
    """Adam with mini-batches; early stopping on the validation loss (patience in epochs); the parameters
    of the best epoch are restored at the end."""
    optimiser = Adam(layer.params, learning_rate)
    result = FitResult()
    best = {k: v.copy() for k, v in layer.params.items()}
    since_best = 0
    n = len(split.y_train)
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        order = rng.permutation(n)
        loss_sum, correct = 0.0, 0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            z, cache = layer.forward(split.x_train[idx], rng)
            loss, g_z = softmax_cross_entropy(z, split.y_train[idx])
            optimiser.step(layer.params, layer.backward(cache, g_z))
            loss_sum += loss * len(idx)
            correct += int((z.argmax(axis=1) == split.y_train[idx]).sum())
        val_acc, _, val_loss = evaluate(layer, split.x_val, split.y_val, validation_passes, rng)
        record = {"epoch": epoch, "loss": loss_sum / n, "train_accuracy": correct / n,
                  "validation_loss": val_loss, "validation_accuracy": val_acc,
                  "wall_time_s": time.perf_counter() - started}
        if isinstance(layer, StochasticSynapseLayer):
            p = layer.probabilities()
            record.update({"near_binary_fraction_all": dw.near_binary_fraction(p), "mean_p": float(p.mean())})
        result.history.append(record)
        if val_loss < result.best_validation_loss:
            result.best_validation_loss, result.best_epoch, since_best = val_loss, epoch, 0
            best = {k: v.copy() for k, v in layer.params.items()}
        else:
            since_best += 1
        if on_epoch is not None:
            on_epoch(epoch, record)
        if since_best >= patience:
            result.stopped_early = True
            break
    for k, v in best.items():
        layer.params[k][...] = v
    return result
