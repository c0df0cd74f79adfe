"""Input→hidden weights held in an M-SDC crossbar (one layer, rows = inputs, columns = hidden neurons, plus the
reference column), for the stochastic-neuron network of `stochastic_neurons`.

A weight in software units is w = weight_scale·(G − g_ref)/g_half, with G the device's conductance read at
read_V (`onchip.ConductanceScale`). The inputs x ∈ [0, 1] are applied as row voltages x·read_V and each column's
pre-activation is read from the measured column currents:

    a_c = weight_scale·(I_c − I_ref)/(read_V·g_half) + b_c

(I_ref: the reference column's current; b_c: a per-neuron bias held by the driver in software). With linear
devices this is exactly x·W + b, the software path's pre-activation, so the write current the neuron driver
makes of it, I = I50 + a·dI, is a fixed current gain k = dI·weight_scale/(read_V·g_half) on I_c − I_ref plus a
bias current. The controller keeps the full-precision weights (the network's w1, clipped to the programmable
range) and programs a device with program-and-verify (`onchip.Programmer`) only once its target has moved by
more than the programming tolerance; every read and pulse is booked in the session's ledger.

The crossbar may be built as tiles (`crossbar.tile`, cosim.hil.tiles): the session then reads each tile and adds
the tiles' partial sums digitally; its column currents keep I_c − I_ref the sum the tiles measured, and device
indices are the whole crossbar's, so nothing here changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.hil.session import HardwareSession
from cosim.training.onchip import W_LIMIT, ConductanceScale, Programmer


@dataclass
class ProgrammingStats:
    devices: int  # devices that needed programming (each counted once)
    rms_error: float  # RMS of (verified − target) over all weights, in software weight units
    refreshes: int = 0  # whole-crossbar reads after programming that found devices to program again


def _passes(refresh_passes: int) -> int:
    if refresh_passes < 0:
        raise ValueError(f"refresh_passes must be >= 0, got {refresh_passes}")
    return int(refresh_passes)


class CrossbarWeights:
    """The first layer's weights in a crossbar session (rows × cols devices, layer 0 of its network)."""

    def __init__(self, session: HardwareSession, scale: ConductanceScale, programmer: Programmer,
                 weight_scale: float, refresh_passes: int = 0) -> None:
        layer = session.network.layers[0]
        self.session, self.scale, self.programmer = session, scale, programmer
        self.weight_scale = float(weight_scale)
        self.refresh_passes = _passes(refresh_passes)
        self.rows, self.cols = layer.rows, layer.cols
        self.read_V = session.network.spec.read_V
        self.index = np.empty((self.rows, self.cols), dtype=int)
        for p in session.network.points[: self.rows * self.cols]:
            self.index[p.row, p.col] = p.index
        self.g_known: np.ndarray | None = None  # the controller's record of verified conductances

    @property
    def limit(self) -> float:
        """The largest |w| the devices are programmed to (software units)."""
        return W_LIMIT * self.weight_scale

    @property
    def current_gain(self) -> float:
        """Pre-activation units per ampere of I_c − I_ref."""
        return self.weight_scale / (self.read_V * self.scale.g_half_S)

    def known_weights(self) -> np.ndarray:
        """The verified weights (rows × cols, software units), from the last conductances read."""
        if self.g_known is None:
            raise RuntimeError("read or program the crossbar first")
        return self.weight_scale * self.scale.weights(self.g_known[self.index])

    def read_all(self, epoch: int = -1) -> np.ndarray:
        """Read every device's conductance (the controller's starting record); returns the weights."""
        n = len(self.session.x)
        self.g_known = np.full(n, np.nan)
        devices = self.index.reshape(-1)
        self.g_known[devices] = self.session.read_conductance(devices, phase="read", epoch=epoch)
        return self.known_weights()

    def program(self, w: np.ndarray, epoch: int = -1, refresh_passes: int | None = None) -> ProgrammingStats:
        """Program-and-verify the devices whose verified weight is off `w` (clipped to ±limit) by more than the
        tolerance; returns how many needed it and the RMS error left over all weights.

        A device verified early relaxes at zero bias while the rest of the crossbar is programmed (one device
        after another on the programming bus), so on a large crossbar the weights it holds at the end are no
        longer those verified. Each refresh pass (`refresh_passes`, default the crossbar's) reads every device
        again and programs those that drifted out of tolerance; touching up a device near its target takes a
        pulse or two, so each pass is far shorter than the one before and the drift it leaves smaller."""
        if self.g_known is None:
            self.read_all(epoch)
        passes = self.refresh_passes if refresh_passes is None else _passes(refresh_passes)
        target = np.clip(np.asarray(w, dtype=float), -self.limit, self.limit) / self.weight_scale
        programmed = np.zeros(self.index.shape, dtype=bool)
        refreshes = 0
        for attempt in range(1 + passes):
            if attempt > 0:
                self.read_all(epoch)  # what the devices hold now
            change = np.abs(target - self.scale.weights(self.g_known[self.index])) > self.programmer.tolerance
            if not change.any():
                break
            refreshes += attempt > 0
            programmed |= change
            devices = self.index[change]
            self.g_known = self.programmer.program(devices, self.scale.conductances(target[change]), self.g_known,
                                                   epoch)
        error = self.known_weights() - target * self.weight_scale
        return ProgrammingStats(int(programmed.sum()), float(np.sqrt(np.mean(error ** 2))), refreshes)

    def preact(self, mlp, x: np.ndarray, *, phase: str = "read", epoch: int = -1) -> np.ndarray:
        """Pre-activations of inputs x (B × rows) from the column currents the crossbar measures."""
        currents = self.session.forward(x, phase=phase, epoch=epoch).column_currents_A[0]
        return self.current_gain * (currents[:, :-1] - currents[:, -1:]) + mlp.b1

    def update(self, mlp, epoch: int = -1) -> ProgrammingStats:
        """After a training step: keep the controller's weights inside the programmable range and program the
        devices whose targets moved by more than the tolerance."""
        np.clip(mlp.w1, -self.limit, self.limit, out=mlp.w1)
        return self.program(mlp.w1, epoch, refresh_passes=0)
