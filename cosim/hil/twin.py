"""The `twin` backend: the same hardware operations and schedules as the circuit sessions, in numpy, with the
board's circuit in it.

Forward passes solve each layer's resistive network (wire segments, switches, reference column, the
transimpedance stages' virtual ground: `cosim.circuits.nodal`) for every input vector at once, hidden layers
driven by the previous layer's activations. As the operating-point reads do (`cosim.hil.opread`), each sample is
solved at its plateau and at the ramp's quadrature nodes: energy P(1)·read_s + 2·edge_s·∫₀¹P(s)ds from the solved
row currents and from every column's amplifier (gain·R_f·I² into its feedback resistor, reference column
included), the devices' share from their own voltages and currents, state drift from the devices' switching
rates at those points. A first solve holds the states of
the pass's start; the rates it gives advance every device sample by sample, and a second solve (from the
first's voltages) reads each sample at its own states at the read instant, as the transient does.

Programming and conductance reads integrate the schedule's piecewise-linear drive segment by segment (corner to
corner), vectorised over devices, each device behind its own programming path (`nodal.programming_paths`: R_prog,
the bus's leaks, two closed switches, the column's segments below it). Devices are independent while they wait
(at 0 V, drifting by their zero-bias rates), so the k-th event of every device in an operation is integrated at
once. Each segment takes as many substeps as the switching physics needs (the largest switching rate any device
can reach on it, times the segment's duration): a read plateau at 0.1 V takes one, a 50 µs reset pulse about two
hundred. A substep is an exponential midpoint step (device voltage from the series solve at the current state,
half step, solve again, full step with that voltage, exact for a held voltage: `msdc.advance_state`); energy is
Simpson's rule on each substep.
"""

from __future__ import annotations

import math
import time
from dataclasses import fields

import numpy as np
from scipy.special import exprel

from cosim.circuits import nodal
from cosim.circuits.network import Network
from cosim.devices.msdc import model as msdc
from cosim.hil import opread
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Schedule
from cosim.hil.session import ForwardResult, IdleDrift, Timing, _Session


def _subset(arrays: msdc.MSDCArrays, index) -> msdc.MSDCArrays:
    return msdc.MSDCArrays(**{f.name: np.asarray(getattr(arrays, f.name))[index] for f in fields(arrays)})


def _advanced(x: np.ndarray, on: np.ndarray, total: np.ndarray) -> np.ndarray:
    """X after a stretch with ∫P_on = on and ∫(P_on + P_off) = total (exact when the rates' ratio is constant)."""
    return np.clip(x * np.exp(-total) + on * exprel(-total), 0.0, 1.0)


# Node currents balanced to 1e-8 of the largest device current: column currents within ~1e-8 of full scale of the
# exact solve (the requirement against ngspice is 5e-3); 1e-10, the solver's default, took two more iterations.
RTOL = 1e-8


class TwinSession(_Session):
    """`substeps` sets the accuracy of programming: substeps per segment grow as substeps × 12 × (switching rate ×
    duration), at least one per hold and two per ramp (8: states within ~1e-5 of a 16× finer integration)."""

    backend = "twin"

    def __init__(self, network: Network, params: msdc.MSDCArrays, x0: np.ndarray, ledger: Ledger,
                 timing: Timing = Timing(), substeps: int = 8, counts_samples: bool = True,
                 idle: IdleDrift | None = None) -> None:
        super().__init__(network, x0, ledger, "numpy", timing, counts_samples, idle)
        if substeps < 1:
            raise ValueError(f"substeps must be >= 1, got {substeps}")
        self.params = params
        self.substeps = substeps
        self._edges = opread.default_edges(network) if timing.edge_nodes is None else timing.edge_nodes
        self._reads: list[tuple[nodal.CrossbarRead, msdc.MSDCArrays]] | None = None
        self._paths: nodal.ProgrammingPath | None = None

    # --- forward pass ------------------------------------------------------------------------------------

    def _layer_reads(self) -> list[tuple[nodal.CrossbarRead, msdc.MSDCArrays]]:
        """Per layer: its read-mode network and its devices' parameters (fixed by the board)."""
        if self._reads is None:
            reads = [nodal.crossbar_read(self.network, k) for k in range(len(self.network.layers))]
            self._reads = [(r, _subset(self.params, r.devices)) for r in reads]
        return self._reads

    def _forward(self, sched: Schedule, inputs: np.ndarray) -> tuple[ForwardResult, Energies, float]:
        started = time.perf_counter()
        spec, t = self.network.spec, self.timing
        rule = opread.edge_rule(self._edges)
        scale = np.array([*rule.nodes, 1.0])  # the points of every sample: the ramp's nodes and the plateau
        n, points = len(inputs), len(scale)
        gain = spec.neuron.opamp_gain / (1.0 + spec.neuron.opamp_gain)  # out = −A/(1 + A)·R_f·I at virtual ground
        v_in = (inputs * spec.read_V)[:, None, :] * scale[None, :, None]  # (samples, points, rows)
        v_zero = np.zeros((1, inputs.shape[1]))  # every input at 0 V: the ramps' start
        outs, currents, energies, device_energies = [], [], np.zeros(n), np.zeros(n)
        for read, p in self._layer_reads():
            net = read.network
            flat = v_in.reshape(n * points, -1)
            x = self.x[read.devices]
            # Factorised once per pass at the present states (a factor kept from an earlier operation would make
            # the last bits of a result depend on the session's history: a resumed run would not repeat them).
            held = net.solve(np.concatenate([v_zero, flat]), lambda v: msdc.current_and_slope(p, v, x), rtol=RTOL)
            on, off = msdc.switching_rates_per_s(p, held.v @ net.incidence)
            x, at_read = self._drift(x, on, off, rule, n)
            own = np.repeat(at_read, points, axis=0)
            solved = net.solve(flat, lambda v: msdc.current_and_slope(p, v, own), factor=held.factor,
                               v0=held.v[1:], rtol=RTOL)
            self.x[read.devices] = x
            i_cols = read.column_currents(solved).reshape(n, points, -1)
            power = (v_in * net.input_currents(solved, flat).reshape(v_in.shape)).sum(-1)  # (samples, points)
            # every column's amplifier (reference included) delivers gain·R_f·I² into its feedback resistor
            power += gain * spec.neuron.rf_ohm * (i_cols ** 2).sum(-1)
            v_dev = (solved.v @ net.incidence).reshape(n, points, -1)
            device_power = (v_dev * solved.i_devices.reshape(v_dev.shape)).sum(-1)
            energies += t.read_s * power[:, -1] + 2.0 * t.edge_s * (power @ rule.power_weights)
            device_energies += t.read_s * device_power[:, -1] + 2.0 * t.edge_s * (device_power @ rule.power_weights)
            y = spec.neuron.activation(gain * spec.neuron.rf_ohm * (i_cols[..., :-1] - i_cols[..., -1:]))
            currents.append(i_cols[:, -1])
            outs.append(y[:, -1])
            v_in, v_zero = y, spec.neuron.activation(gain * spec.neuron.rf_ohm * self._zero_columns(read, held))
        return ForwardResult(outs, currents), (list(energies), list(device_energies)), time.perf_counter() - started

    @staticmethod
    def _zero_columns(read: nodal.CrossbarRead, held: nodal.Solution) -> np.ndarray:
        """I_c − I_ref with every input at 0 V (the first vector of the held solve): the next layer's ramp start."""
        i = read.column_currents(held)[:1]
        return i[:, :-1] - i[:, -1:]

    def _drift(self, x: np.ndarray, on: np.ndarray, off: np.ndarray, rule: opread.EdgeRule, n: int):
        """States after each sample's slot, sample by sample, and each sample's state at its read instant (the
        plateau's middle), from the switching rates at the zero point (row 0 of `on`, `off`) and at each sample's
        points (the rest, sample-major); the ramps by the interpolating rule on (0, nodes, 1)."""
        t = self.timing
        devices = on.shape[1]

        def per_slot(rate):
            ramp = np.concatenate([np.broadcast_to(rate[:1], (n, 1, devices)), rate[1:].reshape(n, -1, devices)], 1)
            edge = t.edge_s * np.einsum("j,kjd->kd", rule.rate_weights, ramp)
            return edge + 0.5 * t.read_s * ramp[:, -1], 2.0 * edge + t.read_s * ramp[:, -1]

        (on_read, on_slot), (total_read, total_slot) = per_slot(on), per_slot(on + off)
        at_read = np.empty((n, devices))
        for k in range(n):
            at_read[k] = _advanced(x, on_read[k], total_read[k])
            x = _advanced(x, on_slot[k], total_slot[k])
        return x, at_read

    # --- programming and reads ---------------------------------------------------------------------------

    def _programming_paths(self) -> nodal.ProgrammingPath:
        """Every device's programming path (`nodal.programming_paths`: fields are arrays over the board's devices)."""
        if self._paths is None:
            self._paths = nodal.programming_paths(self.network)
        return self._paths

    def _program(self, sched: Schedule, devices: list[int], read_phase: str | None):
        started = time.perf_counter()
        drive = sched.wave(self.network.program_source)
        times = np.asarray(drive.times, dtype=float)
        slots = sched.slots
        energies, device_energies = np.zeros(len(slots)), np.zeros(len(slots))
        g_read = np.full(len(slots), np.nan)
        driven = np.zeros(len(self.x))  # how long each device is driven; it waits at 0 V for the rest
        queues: dict[int, list[int]] = {}  # each device's events, in time order
        for k, s in enumerate(slots):
            queues.setdefault(s.device, []).append(k)
            driven[s.device] += s.end_s - s.start_s
        for r in range(max((len(q) for q in queues.values()), default=0)):
            # The r-th event of every device: one vectorised integration per event shape.
            groups: dict[tuple[int, int], list[tuple[int, list[float]]]] = {}
            for q in queues.values():
                if len(q) <= r:
                    continue
                k = q[r]
                s = slots[k]
                # the drive's corners strictly inside the slot (`times` increases: Waveform.hold)
                inside = times[np.searchsorted(times, s.start_s, "right"):np.searchsorted(times, s.end_s)].tolist()
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
                e, e_device, g = self._integrate(devs, corners, drive.sample(corners), at)
                energies[ks], device_energies[ks] = e, e_device
                if at >= 0:
                    g_read[ks] = g
        on, off = msdc.switching_rates_per_s(self.params, 0.0)
        waiting = max(sched.t_s, 0.0) - driven
        self.x = _advanced(self.x, on * waiting, (on + off) * waiting)
        g = [g_read[k] for k, s in enumerate(slots) if s.kind == read_phase]
        result = np.array(g) if read_phase is not None else None
        return result, (energies, device_energies), time.perf_counter() - started

    def _integrate(self, devs: np.ndarray, t: np.ndarray, v: np.ndarray, read_at: int):
        """Drive devices `devs` by the driver's voltages `v` at corners `t` (both shape (m, corners)), each through
        its programming path; update their states, return the energy the driver delivers to each, the energy each
        device dissipates and the conductance the driver measures (its current over the device's voltage) at
        corner `read_at`."""
        p = _subset(self.params, devs)
        pc = msdc.MSDCArrays(**{f.name: getattr(p, f.name)[:, None] for f in fields(p)})  # per node column
        paths = self._programming_paths()
        path = nodal.ProgrammingPath(**{f.name: getattr(paths, f.name)[devs][:, None] for f in fields(paths)})
        x = self.x[devs].copy()
        energy, device_energy = np.zeros(len(devs)), np.zeros(len(devs))
        g = None
        v_nodes = None
        for j in range(t.shape[1] - 1):
            if j == read_at:
                g = self._conductance(pc, path, v[:, j:j + 1], x[:, None])
            v0, v1, h = v[:, j], v[:, j + 1], t[:, j + 1] - t[:, j]
            n = self._substeps(p, v0, v1, h)
            dt = (h / n)[:, None]
            for q in range(n):
                v_src = v0[:, None] + (v1 - v0)[:, None] * ((q + _NODES) / n)  # (m, 3)
                # Predictor with the state held over the substep, corrector with the predicted state path.
                x_nodes = np.broadcast_to(x[:, None], v_src.shape)
                v_nodes = msdc.series_device_voltage_V(pc, path.divider * v_src, path.series_ohm, x_nodes, v_nodes)
                x_new = _advance(pc, x, v_nodes, dt)
                x_nodes = x[:, None] + (x_new - x)[:, None] * _NODES
                v_nodes = msdc.series_device_voltage_V(pc, path.divider * v_src, path.series_ohm, x_nodes, v_nodes)
                x_new = _advance(pc, x, v_nodes, dt)
                i_nodes = msdc.current(pc, v_nodes, x_nodes)
                i_source = path.source_current(v_src, i_nodes, v_nodes)
                energy += dt[:, 0] * ((v_src * i_source) @ _WEIGHTS)
                device_energy += dt[:, 0] * ((v_nodes * i_nodes) @ _WEIGHTS)
                x = x_new
        if read_at == t.shape[1] - 1:
            g = self._conductance(pc, path, v[:, -1:], x[:, None])
        self.x[devs] = x
        return energy, device_energy, g

    @staticmethod
    def _conductance(p: msdc.MSDCArrays, path: nodal.ProgrammingPath, v_src: np.ndarray, x: np.ndarray) -> np.ndarray:
        """What the driver measures: its current over the device's voltage (arguments are columns, (m, 1))."""
        v_dev = msdc.series_device_voltage_V(p, path.divider * v_src, path.series_ohm, x)
        return (path.source_current(v_src, msdc.current(p, v_dev, x), v_dev) / v_dev)[:, 0]

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
