"""The read circuit of a domain-wall synapse in SPICE, and its numpy twin.

One read of one synapse is simulated by the circuit of `read_netlist`: the nanowire's read resistance in the
state drawn by a seeded ngspice random source (the subcircuit in `device_models/dw_synapse.lib`), a sense
resistor and a comparator with a capacitive output. `simulate_reads` runs it and returns the sensed bits and
the energy of every read slot (∫V·I of the read and supply sources); `read_cost` reduces that to the energy
and time of one read, which the numpy twin (`twin_read_cost`) computes from the same circuit equations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from numpy.typing import ArrayLike
from pydantic import Field, model_validator

from cosim.config import Strict
from cosim.devices.dw_synapse.model import DWArrays, DWParams, uniform
from cosim.errors import ConfigError, SimulationError
from cosim.limits import (MAX_CAPACITANCE_F, MAX_CURRENT_A, MAX_RESISTANCE_OHM, MAX_TIME_S, MIN_CAPACITANCE_F,
                          MIN_RESISTANCE_OHM, MIN_TIME_S, USER_INPUT)
from cosim.netlist import ir
from cosim.netlist.numbers import number
from cosim.resources import data_file

LIB_FILE = "dw_synapse.lib"
SUBCKT = "dw_synapse"
PINS = ("rd", "sn")
# subcircuit defaults (the published fit, the read circuit's default resistances and slot)
SUBCKT_DEFAULTS = {"w": 4.63168, "x0": 4.63168, "dx": 2.72741, "a": 0.97813, "r0": 10000.0, "r1": 5000.0,
                   "ts": 2e-8, "td": 0.0}


class ReadCircuit(Strict):
    """The circuit that reads one synapse once per slot. Not published (the paper read its nanowires
    optically): these are documented assumptions of an electrical read, e.g. a tunnel junction on the
    nanowire's far end, read at 0.1 V through a sense resistor into a clocked comparator.

    Slot: [0, read_delay_s) reserved for the drive event that sets the state (not modelled electrically),
    then the read pulse (edges edge_s, flat top read_width_s) with the comparator enabled; its output is
    sampled at 90 % of the flat top. Energy of a read = ∫V·I of the read source and of the comparator's
    supply over the slot: the read current, the comparator's bias current while enabled and the charge of
    its output load for a "1".
    """

    r_state0_ohm: float = Field(10e3, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM,
                                description="read resistance with the wall pinned (state 0)")
    r_state1_ohm: float = Field(5e3, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM,
                                description="read resistance with the wall past the pinning site (1)")
    read_V: float = Field(0.1, gt=0, le=1.0)
    sense_ohm: float = Field(7e3, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)
    supply_V: float = Field(1.0, gt=0, le=5.0)
    bias_A: float = Field(10e-6, ge=0, le=MAX_CURRENT_A, description="comparator bias current while enabled")
    load_F: float = Field(10e-15, ge=MIN_CAPACITANCE_F, le=MAX_CAPACITANCE_F, description="comparator output load")
    output_ohm: float = Field(10e3, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM,
                              description="comparator output resistance (pull-up and pull-down)")
    slot_s: float = Field(20e-9, ge=MIN_TIME_S, le=MAX_TIME_S,
                          description="time of one read, reads of a synapse follow each other")
    read_delay_s: float = Field(4e-9, ge=0, le=MAX_TIME_S)
    read_width_s: float = Field(10e-9, ge=MIN_TIME_S, le=MAX_TIME_S)
    edge_s: float = Field(1e-9, ge=MIN_TIME_S, le=MAX_TIME_S)

    @model_validator(mode="after")
    def _consistent(self) -> "ReadCircuit":
        if self.r_state0_ohm == self.r_state1_ohm:
            raise ValueError("r_state0_ohm and r_state1_ohm must differ, else the two states cannot be told apart")
        if self.read_delay_s + 2 * self.edge_s + self.read_width_s > self.slot_s:
            raise ValueError("read_delay_s + 2·edge_s + read_width_s must fit in slot_s")
        if 5 * self.output_ohm * self.load_F > 0.9 * self.read_width_s:
            raise ValueError("the comparator output (output_ohm·load_F) must settle well within read_width_s")
        return self

    def sense_V(self, r_ohm: float) -> float:
        return self.read_V * self.sense_ohm / (self.sense_ohm + r_ohm)

    @property
    def threshold_V(self) -> float:
        return 0.5 * (self.sense_V(self.r_state0_ohm) + self.sense_V(self.r_state1_ohm))

    @property
    def smoothing_V(self) -> float:
        """Width of the comparator's tanh: 1/20 of the sense margin (a smooth step that still decides fully)."""
        return abs(self.sense_V(self.r_state1_ohm) - self.sense_V(self.r_state0_ohm)) / 20.0

    @property
    def sample_offset_s(self) -> float:
        return self.read_delay_s + self.edge_s + 0.9 * self.read_width_s


def library(exported: bool = False) -> ir.SubcircuitLibrary:
    """The subcircuit library; `exported`: the file name as an exported netlist beside it includes it."""
    path = LIB_FILE if exported else str(data_file("device_models", LIB_FILE))
    return ir.SubcircuitLibrary(path, SUBCKT, PINS, dict(SUBCKT_DEFAULTS))


def read_netlist(w: Sequence[float], devices: DWArrays, circuit: ReadCircuit,
                 title: str = "cosim domain-wall synapse reads") -> ir.Netlist:
    """K synapses (control values `w`, fits `devices` flattened to K), each with its own read source, sense
    resistor, comparator and supply so that every read's energy can be told apart. Node and source names
    carry the synapse index k: rd{k}, sn{k}, out{k}; Vrd{k}, Vdd{k}; instance Xs{k}."""
    w = np.asarray(w, dtype=float).ravel()
    dev = devices.flat()
    if dev.x0.size != w.size:
        raise ConfigError(f"read_netlist: {w.size} control values for {dev.x0.size} devices")
    c = circuit
    pulse = dict(delay_s=c.read_delay_s, rise_s=c.edge_s, fall_s=c.edge_s, width_s=c.read_width_s,
                 period_s=c.slot_s)
    net = ir.Netlist(title)
    net.add(library(), ir.Comment("comparator enable, shared by every read circuit (read pulses: the stimulus)"),
            ir.VoltageSource("Ven", "en", ir.GROUND, ir.Pulse(0.0, 1.0, **pulse)),
            ir.Comment("per synapse k: read source Vrd<k>, synapse Xs<k>, sense resistor Rs<k>, comparator "
                       "(supply Vdd<k>, bias, output stage) and its load Cout<k>"))
    vth, vsm, vdd = c.threshold_V, c.smoothing_V, c.supply_V
    sign = 1.0 if c.sense_V(c.r_state1_ohm) > c.sense_V(c.r_state0_ohm) else -1.0
    for k in range(w.size):
        decision = f"0.5*(1+tanh({number(sign)}*(V(sn{k})-{number(vth)})/{number(vsm)}))*V(en)"
        net.add(
            ir.VoltageSource(f"Vrd{k}", f"rd{k}", ir.GROUND, ir.Pulse(0.0, c.read_V, **pulse)),
            ir.SubcircuitInstance(f"Xs{k}", (f"rd{k}", f"sn{k}"), SUBCKT, {
                "w": float(w[k]), "x0": float(dev.x0[k]), "dx": float(dev.dx[k]), "a": float(dev.a[k]),
                "r0": c.r_state0_ohm, "r1": c.r_state1_ohm, "ts": c.slot_s, "td": 0.0}),
            ir.Resistor(f"Rs{k}", f"sn{k}", ir.GROUND, c.sense_ohm),
            ir.VoltageSource(f"Vdd{k}", f"vdd{k}", ir.GROUND, ir.Dc(vdd)),
            ir.BehavioralSource(f"Bbias{k}", f"vdd{k}", ir.GROUND, "I", f"{number(c.bias_A)}*V(en)"),
            ir.BehavioralSource(f"Bup{k}", f"vdd{k}", f"out{k}", "I",
                                f"max({decision}*{number(vdd)}-V(out{k}),0)/{number(c.output_ohm)}"),
            ir.BehavioralSource(f"Bdn{k}", f"out{k}", ir.GROUND, "I",
                                f"max(V(out{k})-{decision}*{number(vdd)},0)/{number(c.output_ohm)}"),
            ir.Capacitor(f"Cout{k}", f"out{k}", ir.GROUND, c.load_F, ic_V=0.0),
        )
    return net


def read_vectors(k: int) -> tuple[str, ...]:
    return (f"v(rd{k})", f"i(vrd{k})", f"i(vdd{k})", f"v(out{k})", f"v(xs{k}.st)")


def read_analysis(circuit: ReadCircuit, n_reads: int) -> ir.Tran:
    """A transient over n_reads slots, fine enough (edge/4) to integrate the read pulse's edges."""
    step = circuit.edge_s / 4
    return ir.Tran(step, n_reads * circuit.slot_s, 0.0, step)


@dataclass(frozen=True)
class ReadRecord:
    """What a simulation of K synapses over n_reads slots gave, each array (K, n_reads)."""

    sensed: np.ndarray  # comparator output bits
    stored: np.ndarray  # the state drawn by the random source (v(Xs.st)), the truth the sense stage reads
    energy_J: np.ndarray  # ∫V·I of the synapse's read source and comparator supply over the slot
    slot_s: float


def simulate_reads(engine, w: Sequence[float], devices: DWArrays, circuit: ReadCircuit, n_reads: int) -> ReadRecord:
    """Load the read circuit of K synapses into `engine` (SharedEngine or BatchEngine) and read each n_reads
    times; the random states come from the engine's seed."""
    if n_reads < 1:
        raise ConfigError(f"n_reads must be >= 1, got {n_reads}")
    w = np.asarray(w, dtype=float).ravel()
    engine.load(read_netlist(w, devices, circuit))
    vectors = [v for k in range(w.size) for v in read_vectors(k)]
    analysis = read_analysis(circuit, n_reads)
    out = engine.tran(analysis.step_s, analysis.stop_s, vectors, tmax_s=analysis.tmax_s)
    t = out["time"]
    bounds = np.arange(n_reads + 1) * circuit.slot_s
    samples = np.arange(n_reads) * circuit.slot_s + circuit.sample_offset_s
    sensed, stored, energy = [], [], []
    for k in range(w.size):
        rd, i_rd, i_dd, v_out, st = (out[v] for v in read_vectors(k))
        power_W = -(rd * i_rd) - circuit.supply_V * i_dd  # SPICE counts source current into its + node
        cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (power_W[1:] + power_W[:-1]) * np.diff(t))])
        energy.append(np.diff(np.interp(bounds, t, cumulative)))
        sensed.append(np.interp(samples, t, v_out) > 0.5 * circuit.supply_V)
        stored.append(np.interp(samples, t, st) > 0.5)
    return ReadRecord(np.array(sensed), np.array(stored), np.array(energy), circuit.slot_s)


@dataclass(frozen=True)
class ReadCost:
    """Energy of one read in each state, and the time of one read; `source` says how it was obtained."""

    energy_state0_J: float
    energy_state1_J: float
    time_s: float
    source: str  # "spice" | "batch" (simulated read circuit) | "twin" (its equations in numpy)
    reads_simulated: int = 0
    ngspice_version: int | None = None

    def energy_J(self, p: ArrayLike) -> np.ndarray:
        """Expected energy of one read of a synapse with probability p."""
        p = np.asarray(p, dtype=float)
        return (1.0 - p) * self.energy_state0_J + p * self.energy_state1_J


def twin_read_cost(circuit: ReadCircuit) -> ReadCost:
    """The read circuit's energy from its equations: read current over the trapezoidal pulse (each edge
    contributes edge/3 of V²), comparator bias over the enable window, C·V² from the supply for a "1"."""
    c = circuit
    pulse_V2s = c.read_V ** 2 * (c.read_width_s + 2 * c.edge_s / 3)
    bias_J = c.supply_V * c.bias_A * (c.read_width_s + c.edge_s)
    e0 = pulse_V2s / (c.sense_ohm + c.r_state0_ohm) + bias_J
    e1 = pulse_V2s / (c.sense_ohm + c.r_state1_ohm) + bias_J + c.load_F * c.supply_V ** 2
    return ReadCost(e0, e1, c.slot_s, "twin")


def read_cost(backend: Literal["spice", "batch", "twin"], circuit: ReadCircuit, params: DWParams, seed: int,
              n_reads: int = 64) -> tuple[ReadCost, ir.Netlist]:
    """Measure the energy and time of one read on `backend` (one nominal synapse at p ≈ 0.5, n_reads slots),
    and the netlist that does it (with its analysis and the ngspice seed of `seed`). Results are cached
    per process."""
    key = (backend, circuit.model_dump_json(), params.model_dump_json(), int(seed), int(n_reads))
    if key not in _COST_CACHE:
        _COST_CACHE[key] = _measure(backend, circuit, params, seed, n_reads)
    return _COST_CACHE[key]


_COST_CACHE: dict[tuple, tuple[ReadCost, ir.Netlist]] = {}


def _measure(backend: str, circuit: ReadCircuit, params: DWParams, seed: int, n_reads: int) -> tuple[ReadCost, ir.Netlist]:
    devices = uniform(params, (1,))
    w = [params.x0]
    analysis = read_analysis(circuit, n_reads)
    if backend == "twin":
        net = read_netlist(w, devices, circuit)
        from cosim.spice.engine import ngspice_seed

        net.add(ir.Options({"seed": ngspice_seed(seed)}), analysis, ir.Save(read_vectors(0)))
        return twin_read_cost(circuit), net
    from cosim.spice.engines import open_engine

    # spice sets ngspice's random seed (`setseed`) for this measurement; batch writes `.options seed=N`
    engine = open_engine(backend, seed=seed)
    record = simulate_reads(engine, w, devices, circuit, n_reads)
    bits, energy = record.sensed[0], record.energy_J[0]
    if bits.all() or not bits.any():
        raise SimulationError(f"the read circuit gave only {'ones' if bits.any() else 'zeros'} in {n_reads} reads "
                              "at p ≈ 0.5; cannot measure both states (more reads, or check the sense stage)")
    if not np.array_equal(record.sensed, record.stored):
        raise SimulationError("the read circuit's comparator disagreed with the stored state; "
                              "check the read circuit settings (sense margin, output settling)")
    if backend == "spice":
        version = engine.version
    else:
        from cosim.spice.install import executable_info

        version = executable_info().version
    cost = ReadCost(float(energy[~bits].mean()), float(energy[bits].mean()), circuit.slot_s, backend, n_reads, version)
    return cost, engine.standalone_netlist(analysis, read_vectors(0))
