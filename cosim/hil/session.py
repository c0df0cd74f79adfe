"""HardwareSession: the loop's hardware side. One protocol; `spice` and `batch` run the board's netlist in
ngspice (persistent library or a fresh process per call), `twin` integrates the same equations in numpy.

Every operation is one transient holding as many events as no decision separates (all samples of a forward
pass in time slots, every selected device's pulses one after another, as the hardware would do them), and
every event is booked in the ledger with its energy (∫V·I of every source that supplies the circuit, amplifier
outputs included, and the part the devices dissipate: cosim.hil.power) and circuit time.
Forward passes of boards whose reads have no dynamics may run as DC operating points instead (`Timing.read_mode`,
cosim.hil.opread), booked the same way. Device state lives in numpy between operations and is written back as
initial conditions before each run. Between operations the periphery works (the peripheral time the operation
books) while no voltage drives the array: with `Timing.idle_drift` the states relax at zero bias over that time,
by the device family's exact zero-bias dynamics in numpy (`idle`), the same function for every backend, so the
next operation starts from the drifted states. A forward pass books one sample per input it reads, unless the session is a
stage whose inputs a later stage completes (`counts_samples=False`: a weight crossbar feeding booked neurons), so
each input counts once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np
from scipy.integrate import simpson

from cosim.circuits.network import SELECT_LINE_A, Network
from cosim.errors import ConfigError
from cosim.hil import opread, power
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Pulses, Schedule, Slot
from cosim.netlist import ir
from cosim.spice.engine import Engine


@dataclass(frozen=True)
class Timing:
    edge_s: float = 1e-8  # rise/fall of every driver
    read_s: float = 1e-6  # read plateau
    select_s: float = 1e-7  # a select switch settles before and after its device's pulses
    # Cap on the simulator's time step. None: the physics decides. Reads (forward passes, conductance reads)
    # hold every state (0.1 V moves X by ~1e-8 per µs), so only the breakpoints at the waveform corners set
    # the steps, with read_s / 2 as a cap; while programming pulses switch devices, program_step_s.
    # ngspice takes at least four steps in every PWL segment (its first step after a corner is a tenth of
    # the segment), so short pulses are always resolved.
    max_step_s: float | None = None
    # Step cap while programming: the M-SDC switching time is τ ≈ 26 µs at 1 V; 0.5 µs keeps states within
    # ~5e-5 of a 1 ns reference on 50 µs reset pulses (the 0.1 µs cap used before: ~3e-5).
    program_step_s: float = 5e-7
    # Forward passes: "op" solves each sample as DC operating points (cosim.hil.opread), "transient" runs the
    # schedule; "auto" takes op when the engine sweeps, the read path has no capacitors and the board has one
    # layer. Hidden neurons read the next layer at up to −0.1 V, where M-SDC states move ~3e-5 per µs: op reads
    # hold a sweep's states for all its samples, which put the 9-3-1 board's output currents 1e-4 of full scale
    # off the transient with 16 samples per sweep, and one sample per sweep was slower than the transient there.
    read_mode: str = "auto"
    # Solves per ramp for op reads (energy and drift quadrature); None: cosim.hil.opread.default_edges.
    edge_nodes: int | None = None
    # Samples per operating-point sweep: their states are held at the sweep's start (1: every sample exact).
    op_samples: int = 16
    # The devices relax at zero bias while the periphery works between operations (the peripheral time each
    # operation books: controller steps, switch events, conversions); False freezes them between operations.
    idle_drift: bool = True

    def __post_init__(self) -> None:
        if self.read_mode not in READ_MODES:
            raise ConfigError(f"read_mode must be one of {', '.join(READ_MODES)}, got {self.read_mode!r}")


READ_MODES = ("auto", "op", "transient")
# Per slot of an operation: the energy its supplies deliver, and the part its devices dissipate.
Energies = tuple[Sequence[float], Sequence[float]]

# (states, duration_s) -> the states after that long at zero bias (a crossbar family's `idle` on the board's devices)
IdleDrift = Callable[[np.ndarray, float], np.ndarray]


@dataclass
class ForwardResult:
    outputs_V: list[np.ndarray]  # per layer: (samples, neurons)
    column_currents_A: list[np.ndarray]  # per layer: (samples, columns + reference)
    # With capacitance in the read path: the longest time from a slot's start until every column current stays
    # within READ_SETTLED of its value at the end of the plateau (relative to the slot's largest column current).
    read_latency_s: float | None = None


# 1 %: ngspice's own tolerance (reltol 1e-3) leaves a settling column current ~0.1 % off for hundreds of ns
# (measured on a 16×8 tile at 10 Ω and 0.1 pF per segment), so a 0.1 % criterion would time the simulator.
READ_SETTLED = 1e-2


class HardwareSession(Protocol):
    backend: str
    model_backend: str
    network: Network
    x: np.ndarray  # device states, one per cross point in network.points order
    ledger: Ledger

    def forward(self, inputs: np.ndarray, phase: str = "inference", epoch: int = -1) -> ForwardResult: ...

    def read_conductance(self, devices: Sequence[int], phase: str = "read", epoch: int = -1) -> np.ndarray: ...

    def program(self, devices: Sequence[int], pulses: Sequence[Pulses], epoch: int = -1,
                verify: bool = False) -> np.ndarray | None: ...


def check_devices(devices: Sequence[int], n: int) -> list[int]:
    out = [int(d) for d in devices]
    bad = [d for d in out if not 0 <= d < n]
    if bad:
        raise ConfigError(f"device index {bad[0]} out of range: the network has {n} devices")
    return out


def check_inputs(inputs: np.ndarray, rows: int) -> np.ndarray:
    """A forward pass's inputs as a finite (samples × rows) array."""
    inputs = np.atleast_2d(np.asarray(inputs, dtype=float))
    if inputs.ndim != 2 or inputs.shape[1] != rows or not np.all(np.isfinite(inputs)):
        raise ConfigError(f"inputs must be finite with {rows} columns, got shape {inputs.shape}")
    return inputs


class _Session:
    """What every backend shares: the hardware schedules, state bookkeeping and ledger booking."""

    backend = "abstract"

    def __init__(self, network: Network, x0: np.ndarray, ledger: Ledger, model_backend: str, timing: Timing,
                 counts_samples: bool = True, idle: IdleDrift | None = None) -> None:
        self.network, self.ledger, self.timing, self.model_backend = network, ledger, timing, model_backend
        self.counts_samples, self.idle = counts_samples, idle
        self.x = np.array(x0, dtype=float)
        if self.x.shape != (len(network.points),):
            raise ConfigError(f"need one initial state per device ({len(network.points)}), got shape {self.x.shape}")
        self.t_s = 0.0  # circuit time, continuous across operations

    # --- operations ------------------------------------------------------------------------------------

    def forward(self, inputs: np.ndarray, phase: str = "inference", epoch: int = -1) -> ForwardResult:
        """Read every sample through the network, one time slot per sample; returns neuron outputs and
        column currents at the middle of each read plateau."""
        spec, t = self.network.spec, self.timing
        inputs = check_inputs(inputs, spec.layers[0])
        sched = Schedule(t.edge_s)
        neurons = sum(spec.layers[1:])
        sources = self.network.input_sources
        for row in inputs:
            start = sched.t_s
            for r, value in enumerate(row):
                end = sched.plateau(sources[r], start, t.read_s, float(value) * spec.read_V)
            sched.slots.append(Slot(phase, -1, start, end, start + t.edge_s + t.read_s / 2, adc_conversions=neurons,
                                    samples=int(self.counts_samples)))
            sched.t_s = end
        enable = sched.wave(self.network.read_enable_source)
        enable.values[0] = 1.0
        enable.hold(sched.t_s, 1.0)
        result, energies, wall = self._forward(sched, inputs)
        self._book(sched, *energies, wall, epoch)
        return result

    def read_conductance(self, devices: Sequence[int], phase: str = "read", epoch: int = -1) -> np.ndarray:
        """Connect each device in turn to the programming driver at the read voltage; G = I / V(device)."""
        devices = check_devices(devices, len(self.x))
        sched = Schedule(self.timing.edge_s)
        for d in devices:
            self._select_slot(sched, d, lambda start, d=d: self._read_pulse(sched, start, phase, d))
        self._programming_mode(sched)
        g, energies, wall = self._program(sched, devices, phase)
        self._book(sched, *energies, wall, epoch)
        return g

    def program(self, devices: Sequence[int], pulses: Sequence[Pulses], epoch: int = -1,
                verify: bool = False) -> np.ndarray | None:
        """Apply pulses[k] to devices[k], one device after another; with `verify`, read each one right after
        its pulses (in the same transient) and return the conductances read."""
        devices = check_devices(devices, len(self.x))
        if len(pulses) != len(devices):
            raise ConfigError(f"need one pulse train per device: {len(devices)} devices, {len(pulses)} trains")
        sched = Schedule(self.timing.edge_s)
        for d, p in zip(devices, pulses):
            def body(start: float, d=d, p=p) -> float:
                for _ in range(p.count):
                    end = sched.plateau(self.network.program_source, start, p.width_s, p.polarity * p.amplitude_V)
                    sched.slots.append(Slot(p.phase, d, start, end, pulses=1))
                    start = end + p.gap_s
                return self._read_pulse(sched, start, "verify", d) if verify else start
            self._select_slot(sched, d, body)
        self._programming_mode(sched)
        g, energies, wall = self._program(sched, devices, "verify" if verify else None)
        self._book(sched, *energies, wall, epoch)
        return g

    # --- for backends ----------------------------------------------------------------------------------

    # Both return, with their results, the slots' energies (what the supplies deliver, what the devices
    # dissipate) and the wall time they took.
    def _forward(self, sched: Schedule, inputs: np.ndarray) -> tuple[ForwardResult, Energies, float]:
        raise NotImplementedError

    def _program(self, sched: Schedule, devices: list[int], read_phase: str | None) -> tuple[np.ndarray | None, Energies, float]:
        raise NotImplementedError

    # --- schedule pieces -------------------------------------------------------------------------------

    def _programming_mode(self, sched: Schedule) -> None:
        """Columns grounded (not at the neurons) for the whole operation."""
        wave = sched.wave(self.network.program_enable_source)
        wave.values[0] = 1.0
        wave.hold(sched.t_s, 1.0)

    def _select_slot(self, sched: Schedule, device: int, body) -> None:
        """Close the device's program switch (raise its row select line, pull its column line low), run
        `body(start) -> end`, open it again."""
        t = self.timing
        start, first = sched.t_s, len(sched.slots)
        point = self.network.points[device]
        # (line, idle level, selected level), in the drivers' amperes
        lines = ((sched.wave(point.row_select_source), 0.0, SELECT_LINE_A),
                 (sched.wave(point.col_select_source, idle=SELECT_LINE_A), SELECT_LINE_A, 0.0))
        for wave, idle, selected in lines:
            if start > wave.times[-1]:
                wave.hold(start, idle)
            wave.hold(start + t.edge_s, selected)
        end = body(start + t.edge_s + t.select_s)
        for wave, idle, selected in lines:
            wave.hold(end + t.select_s, selected)
            wave.hold(end + t.select_s + t.edge_s, idle)
        sched.t_s = end + t.select_s + t.edge_s
        if len(sched.slots) > first:  # the controller chose this device and switched it in and out once
            sched.slots[first].switch_events += 2
            sched.slots[first].controller_steps += 1

    def _read_pulse(self, sched: Schedule, start: float, phase: str, device: int) -> float:
        end = sched.plateau(self.network.program_source, start, self.timing.read_s, self.network.spec.read_V)
        sched.slots.append(Slot(phase, device, start, end, start + self.timing.edge_s + self.timing.read_s / 2,
                                adc_conversions=1))
        return end

    def _book(self, sched: Schedule, energies: Sequence[float], device_energies: Sequence[float], wall_s: float,
              epoch: int) -> None:
        """One ledger row per slot: its energies, its circuit time, and its share of the run's wall time; then the
        devices idle for the peripheral time the rows book (`idle`)."""
        total = max(sched.t_s, 1e-30)
        idle_s = 0.0
        for s, energy, device_energy in zip(sched.slots, energies, device_energies):
            point = self.network.points[s.device] if s.device >= 0 else None
            idle_s += self.ledger.book(
                s.kind, energy_J=energy, circuit_time_s=s.end_s - s.start_s,
                wall_time_s=wall_s * (s.end_s - s.start_s) / total,
                device=point.instance if point else "", layer=point.layer if point else "", epoch=epoch,
                pulses=s.pulses, controller_steps=s.controller_steps, switch_events=s.switch_events,
                adc_conversions=s.adc_conversions, samples=s.samples, device_energy_J=device_energy,
            ).peripheral_time_s
        self.t_s += sched.t_s
        if self.idle is not None and idle_s > 0:
            self.x = self.idle(self.x, idle_s)


class CircuitSession(_Session):
    """The `spice` and `batch` backends: the same code, with a SharedEngine or a BatchEngine."""

    def __init__(self, network: Network, engine: Engine, x0: np.ndarray, ledger: Ledger, model_backend: str,
                 timing: Timing = Timing(), counts_samples: bool = True, idle: IdleDrift | None = None) -> None:
        super().__init__(network, x0, ledger, model_backend, timing, counts_samples, idle)
        self.engine = engine
        self.backend = engine.backend
        engine.load(network.netlist)
        self._busy_sources: set[str] = set()
        self._built_waveforms = {e.name.lower(): e.waveform for e in network.netlist.elements
                                 if isinstance(e, (ir.VoltageSource, ir.CurrentSource))}
        self._instances = [p.instance for p in network.points]
        self._states = [p.state_vector for p in network.points]
        why = opread.unsupported(network) if engine.can_sweep else f"the {engine.backend} engine runs transients only"
        if timing.read_mode == "op" and why:
            raise ConfigError(f"read_mode op: {why}")
        auto_op = len(network.layers) == 1
        self.read_mode = "op" if not why and (timing.read_mode == "op" or auto_op and timing.read_mode == "auto") \
            else "transient"
        self._edges = opread.default_edges(network) if timing.edge_nodes is None else timing.edge_nodes
        self._has_capacitors = any(isinstance(e, ir.Capacitor) for e in network.netlist.elements)
        # Op reads run the read-mode circuit in a second engine of the same kind; `engine` keeps the board (its
        # netlist is the circuit as programmed). Both share the process's one simulator (`_read_circuit`).
        self._reader: Engine | None = None
        self._meter = power.Meter.of(network)
        self._read_meter: power.Meter | None = None  # the read-mode circuit's (op reads)

    def _forward(self, sched: Schedule, inputs: np.ndarray) -> tuple[ForwardResult, Energies, float]:
        if self.read_mode == "op":
            t = self.timing
            reader = self._read_circuit()
            r = opread.solve(reader, self.network, self._read_meter, self.x, inputs, t.read_s, t.edge_s, self._edges,
                             t.op_samples)
            self.engine.busy_s += r.wall_s  # the board engine's count covers this session's simulations
            self.x = r.x
            return ForwardResult(r.outputs_V, r.column_currents_A), (r.energies_J, r.device_energies_J), r.wall_s
        spec, net = self.network.spec, self.network
        n_layers = len(spec.layers) - 1
        columns = [layer.sense_source(c).lower() for layer in net.layers for c in range(layer.cols + 1)]
        outputs = [y for layer in range(n_layers) for y in net.output_nodes(layer)]
        w, wall = self._run(sched, [f"i({c})" for c in columns] + [f"v({n})" for n in outputs] + self._meter.vectors,
                            step_s=self.timing.read_s / 2)
        at = np.array([s.read_at_s for s in sched.slots])
        sample = {k: np.interp(at, w["time"], w[k]) for k in [f"i({c})" for c in columns] + [f"v({n})" for n in outputs]}
        currents = [np.stack([sample[f"i({layer.sense_source(c).lower()})"] for c in range(layer.cols + 1)], 1)
                    for layer in net.layers]
        outs = [np.stack([sample[f"v({n})"] for n in net.output_nodes(k)], 1) for k in range(n_layers)]
        latency = None
        if self._has_capacitors:
            latency = _read_latency(sched, w["time"], np.stack([w[f"i({c})"] for c in columns], 1), self.timing)
        return ForwardResult(outs, currents, latency), self._energies(sched, w), wall

    def _program(self, sched: Schedule, devices: list[int], read_phase: str | None) -> tuple[np.ndarray | None, Energies, float]:
        nodes = []
        for d in devices:
            p = self.network.points[d]
            nodes += [f"v({p.top_node})", f"v({p.bottom_node})"]
        pulsed = any(s.pulses for s in sched.slots)
        step_s = min(self.timing.read_s / 2, self.timing.program_step_s) if pulsed else self.timing.read_s / 2
        drive_i = f"i({self.network.program_source.lower()})"
        w, wall = self._run(sched, [drive_i, *nodes, *self._meter.vectors], step_s=step_s)
        energies = self._energies(sched, w)
        if read_phase is None:
            return None, energies, wall
        reads = {s.device: s.read_at_s for s in sched.slots if s.kind == read_phase}
        g = np.empty(len(devices))
        for k, d in enumerate(devices):
            p = self.network.points[d]
            v = w[f"v({p.top_node})"] - w[f"v({p.bottom_node})"]
            g[k] = -np.interp(reads[d], w["time"], w[drive_i]) / np.interp(reads[d], w["time"], v)
        return g, energies, wall

    def _energies(self, sched: Schedule, w: dict[str, np.ndarray]) -> Energies:
        """Per slot: ∫ of every supply's power and of the devices' dissipation (cosim.hil.power)."""
        t = w["time"]
        return (_slot_energies(sched, t, self._meter.supply_power(w)),
                _slot_energies(sched, t, self._meter.device_power(w)))

    @property
    def read_engine(self) -> Engine:
        """The engine that runs forward passes: the read-mode circuit's in op mode, else the board's."""
        return self._read_circuit() if self.read_mode == "op" else self.engine

    def _read_circuit(self) -> Engine:
        """The engine holding the read-mode circuit. It and the board's engine share one simulator, which keeps
        both circuits loaded; each makes its own current before it runs (SharedEngine)."""
        if self._reader is None:
            e, t = self.engine, self.timing
            self._reader = type(e)(seed=e.seed, num_threads=e.num_threads, timeout_s=e.timeout_s,
                                   convergence_retry=e.convergence_retry)
            circuit = opread.read_netlist(self.network, self._edges, t.op_samples, opread.hold_time(t.read_s, t.edge_s))
            self._reader.load(circuit)
            self._read_meter = power.Meter.of(self.network, circuit)
        return self._reader

    def _run(self, sched: Schedule, vectors: list[str], step_s: float) -> tuple[dict[str, np.ndarray], float]:
        """Write states and waveforms, run one transient, read the states back."""
        # Every state moved in the last run (reads too): write them all back as initial conditions.
        low, high = self.network.state_range
        self.engine.set_initial_state(dict(zip(self._instances, np.clip(self.x, low, high).tolist())),
                                      self.network.state_param)
        end = sched.t_s
        used = set(sched.sources)
        # Sources the last operation drove go back to the waveform they were built with, so that every source
        # this run does not drive is in the same state whatever ran before (a resumed run, on a freshly loaded
        # circuit, then takes exactly the time steps of an uninterrupted one: an idle waveform ending at an
        # earlier operation's end put a breakpoint inside later runs).
        for source in self._busy_sources - used:
            self.engine.alter(source, waveform=self._built_waveforms[source.lower()])
        for source, wave in sched.sources.items():
            self.engine.alter(source, waveform=wave.pwl(end))
        self._busy_sources = used
        states = self._states
        if self.timing.max_step_s is not None:
            step_s = min(step_s, self.timing.max_step_s)
        started = time.perf_counter()
        w = self.engine.tran(step_s, end, list(dict.fromkeys(vectors + states)), tmax_s=step_s)
        wall = time.perf_counter() - started
        self.x = np.array([w[s][-1] for s in states])
        return w, wall


def _read_latency(sched: Schedule, t: np.ndarray, currents: np.ndarray, timing: Timing) -> float:
    """READ_SETTLED settling time of the column currents (time × columns), the worst slot (ForwardResult)."""
    worst = 0.0
    for s in sched.slots:
        end = s.start_s + timing.edge_s + timing.read_s  # the plateau's end: the settled value
        final = np.array([np.interp(end, t, c) for c in currents.T])
        inside = (t >= s.start_s) & (t <= end)
        off = np.abs(currents[inside] - final).max(1) > READ_SETTLED * max(np.abs(final).max(), 1e-30)
        times = t[inside]
        if off.any():  # settled after the last point still off, at most one time step later
            last = int(np.flatnonzero(off)[-1])
            worst = max(worst, (times[last + 1] if last + 1 < len(times) else end) - s.start_s)
    return worst


def _slot_energies(sched: Schedule, t: np.ndarray, watts: np.ndarray) -> list[float]:
    """∫ watts dt over each slot, piece by piece between the schedule's corners (where every drive is linear in
    time and the power smooth), by Simpson's rule on the simulator's time points in the piece. ngspice takes only
    3–8 points on a 10 ns ramp, where the power grows as t²: the trapezoid rule on them was 3e-4 of a read's
    energy high, Simpson's 3e-8 (against a 1e-10 s step; docs/scale.md)."""
    corners = np.unique(np.concatenate([np.asarray(w.times) for w in sched.sources.values()]
                                       + [[0.0, sched.t_s]]))
    corners = corners[corners <= t[-1]]
    edges = np.interp(corners, t, watts)
    # The simulator lands on every corner (a breakpoint); its first output point may follow t = 0.
    if t[0] > corners[0] and len(t) > 1:
        edges[0] = watts[0] + (watts[1] - watts[0]) * (corners[0] - t[0]) / (t[1] - t[0])
    pieces = np.searchsorted(corners, t, side="right") - 1
    tol = 1e-6 * np.diff(corners).min(initial=np.inf)
    energy = np.zeros(len(corners))
    for k, (a, b) in enumerate(zip(corners[:-1], corners[1:])):
        inside = (pieces == k) & (t > a + tol) & (t < b - tol)
        times, values = np.r_[a, t[inside], b], np.r_[edges[k], watts[inside], edges[k + 1]]
        energy[k + 1] = simpson(values, x=times) if len(times) > 2 else 0.5 * (values[0] + values[1]) * (b - a)
    cumulative = np.cumsum(energy)
    return [float(np.interp(s.end_s, corners, cumulative) - np.interp(s.start_s, corners, cumulative))
            for s in sched.slots]
