"""On-chip training of a memristor network (Eslami et al. 2024): the controller side of the loop.

Each epoch: a forward pass of the training samples through the circuit (with training noise on the input
voltages), backpropagation from the *measured* neuron outputs and column currents, new target conductances,
and program-and-verify of the devices that must change (optionally starting with a reset pulse). Weights
are signed through the reference column: w = (G − g_ref) / g_half, with G the conductance read at the read
voltage. Ex-situ mode trains the same model in software and programs the result once. The devices are any
crossbar family's: what the controller needs of them (the read current at a state, the state range) it asks
the family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cosim.circuits.network import Network
from cosim.data import Dataset, add_input_noise
from cosim.devices.base import CrossbarFamily
from cosim.errors import ConfigError
from cosim.hil.schedule import Pulses
from cosim.hil.session import HardwareSession

W_LIMIT = 0.9  # targets stay inside the programmable range


@dataclass(frozen=True)
class ConductanceScale:
    """Maps weights to read conductances: G = g_ref + w·g_half."""

    g_ref_S: float
    g_half_S: float

    @classmethod
    def for_device(cls, family: CrossbarFamily, params, read_V: float, x_lo: float = 0.05,
                   x_hi: float = 0.95) -> "ConductanceScale":
        """The scale of a device with `params`: g_ref and g_half from its read conductances at the states
        x_lo and x_hi of the way through its state range (its programmable range; which end conducts more is
        the device's business)."""
        low, high = family.state_range
        states = (low + x_lo * (high - low), low + x_hi * (high - low))
        g_lo, g_hi = (float(family.current(params, read_V, x)) / read_V for x in states)
        g_half = abs(g_hi - g_lo) / 2
        if not (np.isfinite(g_half) and g_half > 0):
            raise ConfigError(f"the {family.label} device reads {g_lo:g} S and {g_hi:g} S at {read_V:g} V across its "
                              "state range: no conductance window to hold weights in")
        return cls((g_lo + g_hi) / 2, g_half)

    def weights(self, g: np.ndarray) -> np.ndarray:
        return (g - self.g_ref_S) / self.g_half_S

    def conductances(self, w: np.ndarray) -> np.ndarray:
        return self.g_ref_S + w * self.g_half_S


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)


@dataclass
class TrainState:
    """Everything the in-situ loop carries from one epoch to the next: with it (and the ledger so far) a
    run resumes exactly where it stopped."""

    epoch: int
    g_known: np.ndarray  # the controller's record of verified conductances
    w_target: np.ndarray  # the accumulated weight targets
    x: np.ndarray  # device states
    t_s: float  # circuit time
    rng_state: dict
    history: list[dict]


class Model:
    """The controller's model of the network, used for backpropagation (and for ex-situ training)."""

    def __init__(self, network: Network, scale: ConductanceScale) -> None:
        self.spec, self.scale = network.spec, scale
        self.shapes = list(zip(network.spec.layers, network.spec.layers[1:]))

    def split(self, w_flat: np.ndarray) -> list[np.ndarray]:
        """Flat device order (layer by layer, column-major as the crossbar generator numbers them) → matrices."""
        out, k = [], 0
        for rows, cols in self.shapes:
            out.append(w_flat[k:k + rows * cols].reshape(cols, rows).T)
            k += rows * cols
        return out

    @staticmethod
    def join(mats: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([m.T.reshape(-1) for m in mats])

    def preactivation(self, u_V: np.ndarray, w: np.ndarray) -> np.ndarray:
        return self.spec.neuron.rf_ohm * (u_V @ (w * self.scale.g_half_S))

    def forward(self, x: np.ndarray, w_flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Software forward pass: inputs per layer (volts) and outputs per layer (volts)."""
        u, us, ys = x * self.spec.read_V, [], []
        for w in self.split(w_flat):
            us.append(u)
            u = self.spec.neuron.activation(self.preactivation(u, w))
            ys.append(u)
        return us, ys

    def gradient(self, us: list[np.ndarray], ys: list[np.ndarray], labels: np.ndarray, w_flat: np.ndarray,
                 target: float) -> tuple[np.ndarray, float]:
        """Gradient of the mean squared error on y_out/v_out with respect to the weights, from layer inputs
        `us` and outputs `ys` (measured on the hardware, or from `forward`)."""
        n = self.spec.neuron
        t = np.where(labels[:, None] == 1, target, -target)
        err = ys[-1] / n.v_out_V - t
        loss = float(0.5 * np.mean(np.sum(err**2, axis=1)))
        ws = self.split(w_flat)
        grads = [None] * len(ws)
        delta = err / n.v_out_V
        for k in reversed(range(len(ws))):
            y = ys[k]
            slope = (n.v_out_V / n.v_scale_V) * (1.0 - (y / n.v_out_V) ** 2)  # tanh' from the measured output
            delta = delta * slope
            grads[k] = n.rf_ohm * self.scale.g_half_S * us[k].T @ delta / len(labels)
            if k:
                delta = delta @ (n.rf_ohm * self.scale.g_half_S * ws[k]).T
        return self.join(grads), loss


def predict(y_out: np.ndarray) -> np.ndarray:
    return (y_out[:, 0] > 0).astype(int)


@dataclass
class Programmer:
    """Program-and-verify: one pulse per device per round, verified in the same transient; the pulse width
    halves whenever the error changes sign (so it settles instead of oscillating).

    `group` bounds how many devices share a round. A round pulses its devices one after another on the
    programming bus, and between two of its own pulses a device relaxes at zero bias for the whole round: on a
    crossbar of thousands of devices that wait (tens of ms) undoes more than the tolerance, and the loop chases
    the drift instead of converging. With a group, the devices are programmed `group` at a time, each group to
    convergence before the next starts. None: all devices in one group."""

    session: HardwareSession
    scale: ConductanceScale
    amplitude_V: float
    width_s: float
    min_width_s: float
    max_pulses: int
    tolerance: float
    reset_pulse: bool
    reset_amplitude_V: float
    reset_width_s: float
    group: int | None = None

    def __post_init__(self) -> None:
        if self.group is not None and self.group < 1:
            raise ValueError(f"programming group must be >= 1 device (or None), got {self.group}")

    def program(self, devices: np.ndarray, g_target: np.ndarray, g_known: np.ndarray, epoch: int) -> np.ndarray:
        """Bring devices[k] to g_target[k]; returns the verified conductances of all devices (g_known updated)."""
        g_known = g_known.copy()
        devices = np.asarray(devices, dtype=int)
        g_target = np.asarray(g_target, dtype=float)
        size = devices.size if self.group is None else self.group
        for start in range(0, devices.size, max(size, 1)):
            self._converge(devices[start:start + size], g_target[start:start + size], g_known, epoch)
        return g_known

    def _converge(self, devices: np.ndarray, g_target: np.ndarray, g_known: np.ndarray, epoch: int) -> None:
        """Program-and-verify one group of devices, updating g_known in place."""
        if self.reset_pulse:
            reset = Pulses(self.reset_amplitude_V, self.reset_width_s, 1, -1)
            g_known[devices] = self.session.program(list(devices), [reset] * len(devices), epoch, verify=True)
        width = np.full(len(devices), self.width_s)
        last_sign = np.zeros(len(devices))
        active = np.ones(len(devices), dtype=bool)
        tol = self.tolerance * self.scale.g_half_S
        for _ in range(self.max_pulses):
            err = g_target - g_known[devices]
            active &= np.abs(err) > tol
            if not active.any():
                break
            idx = np.flatnonzero(active)
            sign = np.sign(err[idx])
            flipped = (last_sign[idx] != 0) & (sign != last_sign[idx])
            width[idx[flipped]] = np.maximum(width[idx[flipped]] / 2, self.min_width_s)
            last_sign[idx] = sign
            pulses = [Pulses(self.amplitude_V, float(width[i]), 1, int(s)) for i, s in zip(idx, sign)]
            g_known[devices[idx]] = self.session.program(list(devices[idx]), pulses, epoch, verify=True)


@dataclass(frozen=True)
class TrainingNoise:
    """Noise injected into the training forward passes: on the inputs (std relative to full scale), or on
    the conductances (relative std; the simulated devices are perturbed for that pass only)."""

    level: float
    kind: str  # "input" | "conductance"
    family: CrossbarFamily | None = None
    instances: object = None  # the devices' per-instance parameters
    read_V: float = 0.1

    def forward(self, session: HardwareSession, x: np.ndarray, rng: np.random.Generator, epoch: int):
        if self.level <= 0:
            return x, session.forward(x, phase="read", epoch=epoch)
        if self.kind == "input":
            x = add_input_noise(x, self.level, rng)
            return x, session.forward(x, phase="read", epoch=epoch)
        kept = session.x.copy()
        session.x = conductance_error_states(self.family, self.instances, kept, self.read_V, self.level, rng)
        perturbed = session.x.copy()
        try:
            measured = session.forward(x, phase="read", epoch=epoch)
        finally:
            session.x = kept + (session.x - perturbed)  # keep what the reads themselves did to the devices
        return x, measured


def train_insitu(session: HardwareSession, model: Model, programmer: Programmer, data: Dataset, *, epochs: int,
                 learning_rate: float, noise: TrainingNoise, target: float, rng: np.random.Generator,
                 progress: Callable[[int, dict], None] | None = None, resume: TrainState | None = None,
                 checkpoint: Callable[[TrainState], None] | None = None) -> History:
    """Hardware-in-the-loop training: measure, backpropagate, program, repeat. `checkpoint` receives the
    state after every epoch; `resume` continues from such a state."""
    n = len(session.x)
    if resume is None:
        history = History()
        g_known = session.read_conductance(range(n), phase="read", epoch=0)
        # The controller accumulates updates in its own memory and programs a device only once its target has
        # moved by more than the programming tolerance (updates smaller than one pulse are not lost).
        w_target = model.scale.weights(g_known)
        first = 1
    else:
        history = History(list(resume.history))
        g_known, w_target = resume.g_known.copy(), resume.w_target.copy()
        session.x, session.t_s = resume.x.copy(), resume.t_s
        rng.bit_generator.state = resume.rng_state
        first = resume.epoch + 1
    for epoch in range(first, epochs + 1):
        x, measured = noise.forward(session, data.x_train, rng, epoch)
        us = [x * model.spec.read_V] + measured.outputs_V[:-1]
        w = model.scale.weights(g_known)
        grad, loss = model.gradient(us, measured.outputs_V, data.y_train, w, target)
        w_target = np.clip(w_target - learning_rate * grad, -W_LIMIT, W_LIMIT)
        change = np.flatnonzero(np.abs(w_target - w) > programmer.tolerance)
        g_known = programmer.program(change, model.scale.conductances(w_target[change]), g_known, epoch)
        accuracy = float(np.mean(predict(measured.outputs_V[-1]) == data.y_train))
        record = {"epoch": epoch, "loss": loss, "train_accuracy": accuracy, "programmed": int(change.size)}
        history.epochs.append(record)
        if checkpoint:
            checkpoint(TrainState(epoch, g_known.copy(), w_target.copy(), session.x.copy(), float(session.t_s),
                                  rng.bit_generator.state, list(history.epochs)))
        if progress:
            progress(epoch, record)
    return history


def train_exsitu(session: HardwareSession, model: Model, programmer: Programmer, data: Dataset, *, epochs: int,
                 learning_rate: float, noise: TrainingNoise, target: float, rng: np.random.Generator,
                 progress: Callable[[int, dict], None] | None = None) -> History:
    """Train the software model, then program every device once to its final target."""
    history = History()
    n = len(session.x)
    w = rng.uniform(-0.2, 0.2, size=n)
    for epoch in range(1, epochs + 1):
        x = data.x_train
        w_used = w
        if noise.level > 0 and noise.kind == "input":
            x = add_input_noise(x, noise.level, rng)
        elif noise.level > 0:  # relative conductance noise, expressed in weight units
            g = model.scale.conductances(w)
            w_used = model.scale.weights(g * (1.0 + rng.normal(0.0, noise.level, size=n)))
        us, ys = model.forward(x, w_used)
        grad, loss = model.gradient(us, ys, data.y_train, w_used, target)
        w = np.clip(w - learning_rate * grad, -W_LIMIT, W_LIMIT)
        record = {"epoch": epoch, "loss": loss, "train_accuracy": float(np.mean(predict(ys[-1]) == data.y_train)),
                  "programmed": 0}
        history.epochs.append(record)
        if progress:
            progress(epoch, record)
    g_known = session.read_conductance(range(n), phase="read", epoch=epochs)
    programmer.program(np.arange(n), model.scale.conductances(w), g_known, epochs)
    return history


def accuracy(session: HardwareSession, x: np.ndarray, y: np.ndarray, epoch: int = -1) -> float:
    out = session.forward(x, phase="inference", epoch=epoch).outputs_V[-1]
    return float(np.mean(predict(out) == y))


def conductance_error_states(family: CrossbarFamily, instances, x: np.ndarray, read_V: float, rel_error: float,
                             rng: np.random.Generator) -> np.ndarray:
    """States whose read conductance is off by a relative Gaussian error of std `rel_error`, each on its own
    device's conductance curve (`states_reading`)."""
    g = family.current(instances, read_V, x) / read_V
    g_noisy = g * (1.0 + rng.normal(0.0, rel_error, size=g.shape))
    return states_reading(family, instances, g_noisy, read_V, x, g)


def states_reading(family: CrossbarFamily, instances, g_S: np.ndarray, read_V: float, x: np.ndarray,
                   g_at_x: np.ndarray | None = None) -> np.ndarray:
    """The states at which devices read conductances `g_S` (an error beyond a device's window reads as its
    end), starting from states `x` (which read `g_at_x`; a state that already reads its target within 1e-9 of
    the window stays as it is). A step along the line through the conductances at the ends of the state range
    is exact for a device whose conductance is linear in its state (M-SDC); where it misses by more than that
    (VTEAM's 1/R(x) is not linear), bisection on the device's curve finds the state."""
    low, high = family.state_range
    x = np.asarray(x, dtype=float)
    g = family.current(instances, read_V, x) / read_V if g_at_x is None else g_at_x
    g_ends = [family.current(instances, read_V, np.full_like(x, end)) for end in (high, low)]
    slope = (g_ends[0] - g_ends[1]) / read_V / (high - low)
    target = np.clip(g_S, np.minimum(*g_ends) / read_V, np.maximum(*g_ends) / read_V)
    tolerance = 1e-9 * np.max(np.abs(g_ends) / read_V)
    states = np.where(np.abs(g - target) <= tolerance, x, np.clip(x + (g_S - g) / slope, low, high))
    miss = np.abs(family.current(instances, read_V, states) / read_V - target) > tolerance
    if miss.any():
        rising = slope > 0
        below, above = np.full_like(states, low), np.full_like(states, high)
        for _ in range(60):  # the range halves each time: 2^-60 of it
            middle = (below + above) / 2
            low_side = (family.current(instances, read_V, middle) / read_V < target) == rising
            below, above = np.where(low_side, middle, below), np.where(low_side, above, middle)
        states = np.where(miss, (below + above) / 2, states)
    return np.clip(states, low, high)
