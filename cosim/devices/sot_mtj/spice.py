"""SPICE binding of the SOT-MTJ neuron: the shipped subcircuit and a bank of neurons run as slots.

Every neuron has its own write driver (a PWL current source into its heavy-metal strip) and shares one
read line. A run applies K slots (reset, write, read; `sot_mtj.Timing`) to all neurons at once in one
transient, which is how the hardware runs a mini-batch: one sample per slot, every neuron in parallel.
Outputs are the sense voltages sampled in the middle of each read; energy is ∫V·I of the driving sources
(write sources: v(wa)·I; read line: v(rd)·i(vrd)) from the simulated waveforms.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.integrate import cumulative_trapezoid

from cosim.devices.sot_mtj.model import (RATE_MAX_PER_S, SlotRun, SOTArrays, SOTParams, SOTTwin, Timing,
                                         reset_current_A, sense_reference)
from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.resources import data_file

SUBCKT = "sot_neuron"
PINS = ("wa", "wb", "rd", "out")
LIB_FILE = "sot_mtj.lib"
MODEL_BACKEND = "bsource"
# Subcircuit defaults as written in device_models/sot_mtj.lib.
DEFAULTS = {
    "rhm": 1200.0, "ic0": 2.5e-4, "delta": 40.0, "tau0": 1e-9, "rmax": RATE_MAX_PER_S,
    "irth": 1.25e-4, "tclr": 1e-11, "rp": 1000.0, "rap": 2000.0, "rref": 1414.2, "vth": 0.05, "vrdmin": 0.025,
    "vdd": 1.0, "ts": 1.5e-8, "td": 2e-10, "ch": 1e-18,
}
# Largest number of slots per transient: longer runs are split (memory and the command history stay small).
MAX_SLOTS_PER_RUN = 256
# DAC resolution of the write drivers (0.1 nA = 10 decimals of an ampere); schedule times are rounded to
# 1 fs (`_t`): short netlist numbers.
CURRENT_DECIMALS = 10


def library(exported: bool = False) -> ir.SubcircuitLibrary:
    """The subcircuit library; `exported`: the file name as an exported netlist beside it includes it."""
    path = LIB_FILE if exported else str(data_file("device_models", LIB_FILE))
    return ir.SubcircuitLibrary(path, SUBCKT, PINS, dict(DEFAULTS))


def instance_params(params: SOTParams, arrays: SOTArrays, k: int, timing: Timing) -> dict[str, float]:
    """Subcircuit parameters of instance k: its own Ic0, Δ and R_P; the shared strip, timing and sense stage."""
    if not 0 <= k < arrays.n:
        raise IndexError(f"instance {k} out of range for {arrays.n} devices")
    r_ref, v_th = sense_reference(params, timing)
    return {
        "rhm": arrays.hm_resistance_ohm, "ic0": float(arrays.ic0_A[k]), "delta": float(arrays.delta[k]),
        "tau0": arrays.tau0_s, "irth": 0.5 * params.ic0_A, "rp": float(arrays.rp_ohm[k]),
        "rap": float(arrays.rap_ohm[k]), "rref": r_ref, "vth": v_th, "vrdmin": 0.5 * timing.read_V,
        "vdd": timing.vdd_V, "ts": _t(timing.slot_s), "td": _t(timing.edge_s + timing.reset_width_s / 2),
    }


def _t(value: float) -> float:
    return round(float(value), 15)


def write_waveform(currents_A: np.ndarray, timing: Timing, i_reset_A: float) -> ir.Pwl:
    """One neuron's write line over K slots: reset trapezoid, then the write trapezoid at each slot's current.

    The random draw of the slot changes in the middle of the reset plateau (the instance's td), while the
    reset holds the device parallel, so each write meets a fresh threshold.
    """
    e, T = timing.edge_s, timing.slot_s
    reset_end = e + timing.reset_width_s
    write_end = 2 * e + timing.reset_width_s + timing.write_width_s
    times, values = [0.0], [0.0]
    for k, i in enumerate(np.round(np.asarray(currents_A, dtype=float), CURRENT_DECIMALS)):
        t0 = k * T
        corners = ((e, -i_reset_A), (reset_end, -i_reset_A), (reset_end + e, float(i)), (write_end, float(i)),
                   (write_end + e, 0.0))
        for dt, v in (((0.0, 0.0),) if k else ()) + corners:
            times.append(_t(t0 + dt))
            values.append(v)
    times.append(_t(len(currents_A) * T))
    values.append(0.0)
    return ir.Pwl(tuple(times), tuple(values))


def read_waveform(n_slots: int, timing: Timing) -> ir.Pwl:
    e, T = timing.edge_s, timing.slot_s
    start = 3 * e + timing.reset_width_s + timing.write_width_s
    times, values = [0.0], [0.0]
    for k in range(n_slots):
        t0 = k * T + start
        for dt, v in ((0.0, 0.0), (e, timing.read_V), (e + timing.read_width_s, timing.read_V),
                      (2 * e + timing.read_width_s, 0.0)):
            times.append(_t(t0 + dt))
            values.append(v)
    return ir.Pwl(tuple(times), tuple(values))


class NeuronBank:
    """n SOT-MTJ neurons on one board (see module docstring), simulated by a cosim engine."""

    def __init__(self, params: SOTParams, arrays: SOTArrays, timing: Timing, engine, *, seed: int = 0,
                 title: str = "cosim SOT-MTJ neuron bank") -> None:
        self.params, self.arrays, self.timing, self.engine = params, arrays, timing, engine
        self.i_reset_A = reset_current_A(params, timing)
        self.title = title
        self.seed = int(seed)
        self.runs = 0
        self.last_netlist: ir.Netlist | None = None
        self._instances = [ir.SubcircuitInstance(f"X{k}", (f"wa{k}", "0", "rd", f"out{k}"), SUBCKT,
                                                 instance_params(params, arrays, k, timing)) for k in range(arrays.n)]
        self._vectors = [f"v(out{k})" for k in range(arrays.n)] + [f"v(wa{k})" for k in range(arrays.n)] + ["i(vrd)"]

    @property
    def model_backend(self) -> str:
        return MODEL_BACKEND

    def netlist(self, currents_A: np.ndarray) -> ir.Netlist:
        """The board for one run: K slots of write currents (K × n), every element through the IR."""
        currents = np.asarray(currents_A, dtype=float)
        if currents.ndim != 2 or currents.shape[1] != self.arrays.n or currents.shape[0] < 1:
            raise ConfigError(f"write currents must have shape (slots, {self.arrays.n}), got {currents.shape}")
        if not np.all(np.isfinite(currents)) or np.any(currents < 0):
            raise ConfigError("write currents must be finite and >= 0 A (the reset pulse is added by the bank)")
        net = ir.Netlist(self.title, [library(), ir.Options({"method": "gear"})])
        net.add(ir.Comment("write drivers: current sources Iw<k> into wa<k>, one per neuron (their reset and write "
                           "pulses are the stimulus)"))
        for k in range(self.arrays.n):
            waveform = write_waveform(currents[:, k], self.timing, self.i_reset_A)
            net.add(ir.CurrentSource(f"Iw{k}", "0", f"wa{k}", waveform))
        net.add(ir.Comment("read line Vrd, shared, and the SOT-MTJ neurons X<k>"),
                ir.VoltageSource("Vrd", "rd", "0", read_waveform(len(currents), self.timing)), *self._instances)
        return net

    def run(self, currents_A: np.ndarray) -> SlotRun:
        """Apply K slots (split into runs of at most MAX_SLOTS_PER_RUN) and read every neuron after each."""
        currents = np.asarray(currents_A, dtype=float)
        return SlotRun.concatenate([self._run_once(currents[s:s + MAX_SLOTS_PER_RUN])
                                    for s in range(0, len(currents), MAX_SLOTS_PER_RUN)])

    def _run_once(self, currents: np.ndarray) -> SlotRun:
        started = time.perf_counter()
        net = self.netlist(currents)
        if getattr(self.engine, "backend", "") == "batch":
            # a fresh process starts from `.options seed`: a new seed per run gives fresh random draws
            self.engine.seed = self.seed * 100003 + self.runs
        self.engine.load(net)
        self.last_netlist = net
        self.runs += 1
        t, n, K = self.timing, self.arrays.n, len(currents)
        w = self.engine.tran(t.edge_s, K * t.slot_s, self._vectors, tmax_s=t.write_width_s / 4)
        time_s = w["time"]
        bounds = np.arange(K + 1) * t.slot_s  # slot boundaries are breakpoints of every source

        def per_slot(power_W: np.ndarray) -> np.ndarray:
            return np.diff(np.interp(bounds, time_s, cumulative_trapezoid(power_W, time_s, initial=0.0)))

        reads = np.arange(K) * t.slot_s + t.read_time_in_slot_s
        out = np.stack([np.interp(reads, time_s, w[f"v(out{k})"]) for k in range(n)], axis=1)
        write, reset = np.empty((K, n)), np.empty((K, n))
        for k, source in enumerate(net.of_type(ir.CurrentSource)):
            current = np.interp(time_s, source.waveform.times_s, source.waveform.values)
            power = w[f"v(wa{k})"] * current  # ∫V·I of the write driver, split by the sign of its current
            write[:, k] = per_slot(np.where(current > 0, power, 0.0))
            reset[:, k] = per_slot(np.where(current < 0, power, 0.0))
        read_line = net.element("Vrd").waveform
        read = per_slot(-np.interp(time_s, read_line.times_s, read_line.values) * w["i(vrd)"])  # i into npos
        return SlotRun(out > 0.5 * t.vdd_V, out, write, reset, read, K * t.slot_s, time.perf_counter() - started)


def neuron_runner(backend: str, params: SOTParams, arrays: SOTArrays, timing: Timing, engine, seed: int,
                  title: str) -> "NeuronBank | SOTTwin":
    """The neurons on a backend, the one place that chooses: the numpy twin, or a NeuronBank on `engine`
    (the engine `open_engine(backend)` made; None for the twin)."""
    if backend == "twin":
        return SOTTwin(params, arrays, timing, seed)
    return NeuronBank(params, arrays, timing, engine, seed=seed, title=title)
