"""The `twin` backend: the same hardware operations and schedules as the circuit sessions, integrated in
numpy with the M-SDC equations (cosim.devices.msdc). Columns sit at ideal virtual ground (each column's
amplifier delivering R_f·I² into its feedback resistor, booked with the rows' energy) and wires are ideal; the
programming path is the driver's series resistor plus the select switch's on-resistance.

Programming and reads integrate the schedule's piecewise-linear drive segment by segment (corner to corner),
vectorised over devices: devices are independent while they wait, so the k-th event of every device in an
operation is integrated at once. Each segment takes as many substeps as the switching physics needs (the
largest switching rate any device can reach on it, times the segment's duration): a read plateau at 0.1 V
takes one, a 50 µs reset pulse about two hundred. A substep is an exponential midpoint step (device voltage
from the series solve at the current state, half step, solve again, full step with that voltage, exact for
a held voltage: `msdc.advance_state`); energy is Simpson's rule on each substep.
"""

from __future__ import annotations

import math
import time
from dataclasses import fields

import numpy as np
from scipy.special import exprel

from cosim.circuits.network import Network
from cosim.devices.msdc import model as msdc
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Schedule
from cosim.hil.session import ForwardResult, Timing, _Session


def _subset(arrays: msdc.MSDCArrays, index) -> msdc.MSDCArrays:
    return msdc.MSDCArrays(**{f.name: np.asarray(getattr(arrays, f.name))[index] for f in fields(arrays)})


class TwinSession(_Session):
    """`substeps` sets the accuracy: substeps per segment grow as substeps × 12 × (switching rate × duration),
    at least one per hold and two per ramp (8: states within ~1e-5 of a 16× finer integration)."""

    backend = "twin"

    def __init__(self, network: Network, params: msdc.MSDCArrays, x0: np.ndarray, ledger: Ledger,
                 timing: Timing = Timing(), substeps: int = 8, counts_samples: bool = True) -> None:
        super().__init__(network, x0, ledger, "numpy", timing, counts_samples)
        if substeps < 1:
            raise ValueError(f"substeps must be >= 1, got {substeps}")
        self.params = params
        self.substeps = substeps
        self._layers: list[tuple[np.ndarray, msdc.MSDCArrays, np.ndarray, np.ndarray]] | None = None

    # --- forward pass ------------------------------------------------------------------------------------

    def _layer_views(self):
        """Per layer: device indices, their parameters, their rows and columns (fixed by the board)."""
        if self._layers is None:
            self._layers, first = [], 0
            for layer in self.network.layers:
                idx = np.arange(first, first + layer.rows * layer.cols)
                points = self.network.points[first: idx[-1] + 1]
                self._layers.append((idx, _subset(self.params, idx), np.array([pt.row for pt in points]),
                                     np.array([pt.col for pt in points])))
                first = idx[-1] + 1
        return self._layers

    def _forward(self, sched: Schedule, inputs: np.ndarray) -> tuple[ForwardResult, list[float], float]:
        started = time.perf_counter()
        spec, t = self.network.spec, self.timing
        # A trapezoid of plateau W and edges e delivers V²·G·(W + 2e/3) into a linear load; the read voltages
        # sit far below the switching thresholds, where the devices are close to linear.
        duration = t.read_s + 2 * t.edge_s / 3
        outs, currents, energies, device_energies = [], [], np.zeros(len(inputs)), np.zeros(len(inputs))
        v_rows = inputs * spec.read_V
        for layer, (idx, p, rows, cols) in zip(self.network.layers, self._layer_views()):
            x = self.x[idx]
            i_dev = np.empty((len(inputs), len(idx)))
            for k, v in enumerate(v_rows):
                i_dev[k] = msdc.current(p, v[rows], x)
                x = msdc.advance_state(p, x, v[rows], duration)
            self.x[idx] = x
            i_col = np.stack([i_dev[:, cols == c].sum(1) for c in range(layer.cols)], 1)
            i_ref = v_rows.sum(1) * spec.g_ref_S
            currents.append(np.column_stack([i_col, i_ref]))
            y = spec.neuron.activation(spec.neuron.rf_ohm * (i_col - i_ref[:, None]))
            device_energy = (v_rows[:, rows] * i_dev).sum(1) * duration
            device_energies += device_energy
            energies += device_energy + (v_rows ** 2).sum(1) * spec.g_ref_S * duration
            # every column's amplifier (reference included) delivers R_f·I² into its feedback resistor
            energies += spec.neuron.rf_ohm * (currents[-1] ** 2).sum(1) * duration
            outs.append(y)
            v_rows = y
        return ForwardResult(outs, currents), (energies, device_energies), time.perf_counter() - started

    # --- programming and reads ---------------------------------------------------------------------------

    def _program(self, sched: Schedule, devices: list[int], read_phase: str | None):
        started = time.perf_counter()
        r_series = self.network.spec.program_series_ohm + self.network.spec.switch.on_ohm
        drive = sched.wave(self.network.program_source)
        times = np.asarray(drive.times, dtype=float)
        slots = sched.slots
        energies, device_energies = np.zeros(len(slots)), np.zeros(len(slots))
        g_read = np.full(len(slots), np.nan)
        queues: dict[int, list[int]] = {}  # each device's events, in time order
        for k, s in enumerate(slots):
            queues.setdefault(s.device, []).append(k)
        for r in range(max((len(q) for q in queues.values()), default=0)):
            # The r-th event of every device: one vectorised integration per event shape.
            groups: dict[tuple[int, int], list[tuple[int, list[float]]]] = {}
            for q in queues.values():
                if len(q) <= r:
                    continue
                k = q[r]
                s = slots[k]
                inside = times[(times > s.start_s) & (times < s.end_s)].tolist()
                corners = [s.start_s, *inside, s.end_s]
                at = -1
                if s.read_at_s is not None and s.start_s < s.read_at_s < s.end_s:
                    if s.read_at_s in inside:
                        at = corners.index(s.read_at_s)
                    else:
                        at = int(np.searchsorted(corners, s.read_at_s))
                        corners.insert(at, s.read_at_s)
                groups.setdefault((len(corners), at), []).append((k, corners))
            for (_, at), members in groups.items():
                ks = [k for k, _ in members]
                corners = np.array([c for _, c in members])
                devs = np.array([slots[k].device for k in ks])
                e, e_device, g = self._integrate(devs, corners, drive.sample(corners), r_series, at)
                energies[ks], device_energies[ks] = e, e_device
                if at >= 0:
                    g_read[ks] = g
        g = [g_read[k] for k, s in enumerate(slots) if s.kind == read_phase]
        result = np.array(g) if read_phase is not None else None
        return result, (energies, device_energies), time.perf_counter() - started

    def _integrate(self, devs: np.ndarray, t: np.ndarray, v: np.ndarray, r_s: float, read_at: int):
        """Drive devices `devs` with sources `v` at corners `t` (both shape (m, corners)) through `r_s`; update
        their states, return the energy each source delivers, the energy each device dissipates and the
        conductance I/V at corner `read_at`."""
        p = _subset(self.params, devs)
        pc = msdc.MSDCArrays(**{f.name: getattr(p, f.name)[:, None] for f in fields(p)})  # per node column
        x = self.x[devs].copy()
        energy, device_energy = np.zeros(len(devs)), np.zeros(len(devs))
        g = None
        v_nodes = None
        for j in range(t.shape[1] - 1):
            if j == read_at:
                g = self._conductance(p, v[:, j], r_s, x)
            v0, v1, h = v[:, j], v[:, j + 1], t[:, j + 1] - t[:, j]
            n = self._substeps(p, v0, v1, h)
            dt = (h / n)[:, None]
            for q in range(n):
                v_src = v0[:, None] + (v1 - v0)[:, None] * ((q + _NODES) / n)  # (m, 3)
                # Predictor with the state held over the substep, corrector with the predicted state path.
                x_nodes = np.broadcast_to(x[:, None], v_src.shape)
                v_nodes = msdc.series_device_voltage_V(pc, v_src, r_s, x_nodes, v_nodes)
                x_new = _advance(pc, x, v_nodes, dt)
                x_nodes = x[:, None] + (x_new - x)[:, None] * _NODES
                v_nodes = msdc.series_device_voltage_V(pc, v_src, r_s, x_nodes, v_nodes)
                x_new = _advance(pc, x, v_nodes, dt)
                i_nodes = msdc.current(pc, v_nodes, x_nodes)
                energy += dt[:, 0] * ((v_src * i_nodes) @ _WEIGHTS)
                device_energy += dt[:, 0] * ((v_nodes * i_nodes) @ _WEIGHTS)
                x = x_new
        if read_at == t.shape[1] - 1:
            g = self._conductance(p, v[:, -1], r_s, x)
        self.x[devs] = x
        return energy, device_energy, g

    @staticmethod
    def _conductance(p: msdc.MSDCArrays, v_src: np.ndarray, r_s: float, x: np.ndarray) -> np.ndarray:
        v_dev = msdc.series_device_voltage_V(p, v_src, r_s, x)
        return msdc.current(p, v_dev, x) / v_dev

    def _substeps(self, p: msdc.MSDCArrays, v0: np.ndarray, v1: np.ndarray, h: np.ndarray) -> int:
        """Substeps for one segment, from the switching it can do: the device voltage lies between 0 and the
        source, so the rate is at most P_on(max) + P_off(min) (`folds`: e-folds over the segment); on a ramp,
        also from the voltage swept where the rates are not negligible (`sweep`, in thermal voltages)."""
        hi = np.maximum(np.maximum(v0, v1), 0.0)
        lo = np.minimum(np.minimum(v0, v1), 0.0)
        p_on, _ = msdc.switching_rates_per_s(p, hi)
        _, p_off = msdc.switching_rates_per_s(p, lo)
        folds = float(np.max((p_on + p_off) * h))
        vt = msdc.thermal_voltage_V(p.temperature_K)
        on_from, off_from = p.v_on_V - _ACTIVE * vt, -(p.v_off_V - _ACTIVE * vt)
        swept = np.maximum(hi - np.maximum(on_from, np.minimum(v0, v1)), 0.0) \
            + np.maximum(np.minimum(off_from, np.maximum(v0, v1)) - lo, 0.0)
        sweep = float(np.max(swept / vt))
        return max(1, math.ceil(self.substeps * (_PER_FOLD * folds + _PER_SWEEP * sweep)))


# Three-point Gauss–Legendre nodes and weights on [0, 1]: rate and power integrals over a substep.
_NODES = np.array([0.5 - math.sqrt(15) / 10, 0.5, 0.5 + math.sqrt(15) / 10])
_WEIGHTS = np.array([5 / 18, 8 / 18, 5 / 18])
_ACTIVE = 10.0  # thermal voltages below a threshold where switching starts to count
_PER_FOLD = 1.5  # substeps per unit of `substeps` and per e-fold of switching
_PER_SWEEP = 0.02  # substeps per unit of `substeps` and per thermal voltage swept in the active range


def _advance(p: msdc.MSDCArrays, x: np.ndarray, v_nodes: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """State after a substep of dt whose device voltage at the Gauss nodes is v_nodes: with A = ∫P_on and
    S = ∫(P_on + P_off) by Gauss quadrature, X' = X·e^−S + A·(1 − e^−S)/S, exact for a held voltage."""
    p_on, p_off = msdc.switching_rates_per_s(p, v_nodes)
    a = (p_on @ _WEIGHTS) * dt[:, 0]
    s = ((p_on + p_off) @ _WEIGHTS) * dt[:, 0]
    return np.clip(x * np.exp(-s) + a * exprel(-s), 0.0, 1.0)
