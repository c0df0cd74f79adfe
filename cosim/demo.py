"""A small built-in simulation: read a 4×2 resistive crossbar in ngspice and check it against Ohm's law.

It exercises the whole path a real run takes (IR → netlist → shared ngspice → vectors → energy from the
waveforms) in well under a second, so a fresh install can be trusted before a long experiment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cosim.netlist import ir
from cosim.spice.engines import open_engine

READ_V = 0.1
READ_WIDTH_S = 1e-6
RISE_S = 1e-8


@dataclass
class DemoResult:
    measured_A: np.ndarray
    expected_A: np.ndarray
    energy_J: float
    expected_energy_J: float
    circuit_time_s: float
    wall_time_s: float


def crossbar(conductance_S: np.ndarray, inputs: np.ndarray) -> ir.Netlist:
    """Rows driven by read pulses, one resistor per cross point, columns held at 0 V by ammeter sources."""
    rows, cols = conductance_S.shape
    net = ir.Netlist("cosim demo crossbar")
    for r in range(rows):
        v = float(inputs[r]) * READ_V
        pulse = ir.Pwl((0.0, RISE_S, READ_WIDTH_S - RISE_S, READ_WIDTH_S), (0.0, v, v, 0.0))
        net.add(ir.VoltageSource(f"Vrow{r}", f"row{r}", "0", pulse))
    for c in range(cols):
        net.add(ir.VoltageSource(f"Vcol{c}", f"col{c}", "0", ir.Dc(0.0)))
    for r in range(rows):
        for c in range(cols):
            net.add(ir.Resistor(f"Rx{r}_{c}", f"row{r}", f"col{c}", 1.0 / conductance_S[r, c]))
    return net


def run_demo(seed: int = 0) -> DemoResult:
    rng = np.random.default_rng(seed)
    g = rng.uniform(1 / 100e3, 1 / 2e3, size=(4, 2))  # 2 kΩ … 100 kΩ, the Knowm W-SDC range
    x = np.array([1.0, 0.0, 1.0, 1.0])
    start = time.perf_counter()
    engine = open_engine("spice", seed=seed, num_threads=1)
    engine.load(crossbar(g, x))
    vectors = [f"i(vcol{c})" for c in range(2)] + [f"i(vrow{r})" for r in range(4)] + [f"v(row{r})" for r in range(4)]
    w = engine.tran(RISE_S / 4, READ_WIDTH_S, vectors)
    t = w["time"]
    mid = np.searchsorted(t, READ_WIDTH_S / 2)
    measured = np.array([w[f"i(vcol{c})"][mid] for c in range(2)])
    # Energy delivered by the row drivers: the integral of V·I (SPICE counts source current negative).
    power = -sum(w[f"v(row{r})"] * w[f"i(vrow{r})"] for r in range(4))
    energy = float(np.trapezoid(power, t))
    # A trapezoid pulse of width W with ramps r delivers V²·G·(W − 4r/3).
    expected_energy = float(((x * READ_V) ** 2 @ g.sum(axis=1)) * (READ_WIDTH_S - 4 * RISE_S / 3))
    return DemoResult(measured, (x * READ_V) @ g, energy, expected_energy, READ_WIDTH_S, time.perf_counter() - start)
