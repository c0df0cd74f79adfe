"""SOT-MTJ neuron: presets and width scaling, the probability function, energies, fits and the twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.devices.sot_mtj import model as s
from cosim.errors import ConfigError

TIMING = s.Timing()


def test_presets_geometry_from_the_preset_file():
    p = s.load_preset("W100")  # case-insensitive
    assert p.hm_resistance_ohm == pytest.approx(2e-6 * 3 / 5e-9)  # resistivity × 3 squares / thickness
    assert p.ic0_A == pytest.approx(5e11 * 100e-9 * 5e-9)
    assert p.delta == pytest.approx(40.0)
    assert p.rap_ohm == pytest.approx(2 * p.rp_ohm)
    assert s.load_preset("w400").delta == pytest.approx(80.0)  # 40·(400/100)^0.5
    assert s.load_preset("w50").ic0_rel_std == pytest.approx(0.10)  # 5 % · (100/50)
    with pytest.raises(ConfigError, match="allowed: w50, w100, w200, w400"):
        s.load_preset("w75")
    assert s.width_params(100e-9).ic0_A == pytest.approx(p.ic0_A)
    with pytest.raises(ConfigError):
        s.width_params(-1.0)


def test_published_trends_follow_from_the_presets():
    """Bias current and window grow with width; the device-to-device spread shrinks (relative and in windows)."""
    rows = []
    for name in s.preset_names():
        p = s.load_preset(name)
        arrays = s.draw_instances(p, 64, seed=3)
        i50, di = s.curve_sigmoid(p, TIMING, arrays)
        rows.append((p.width_m, i50.mean(), (di * s.WINDOW_PER_DI).mean(), i50.std() / i50.mean(),
                     i50.std() / (di * s.WINDOW_PER_DI).mean()))
    rows.sort()
    for a, b in zip(rows, rows[1:]):
        assert b[1] > a[1] and b[2] > a[2]  # I50, window grow
        assert b[3] < a[3] and b[4] < a[4]  # spreads shrink


def test_hazard_of_a_long_rectangular_pulse_is_the_thermal_activation_formula():
    p = s.load_preset("w100")
    arrays = s.SOTArrays.nominal(p, 1)
    sharp = s.Timing().model_copy(update={"edge_s": 1e-15})  # an ideal rectangle: edges below what a config may set
    i = np.array([[0.8, 0.9, 0.95, 1.0]]).T * p.ic0_A
    expected = 1 - np.exp(-(sharp.write_width_s / p.tau0_s) * np.exp(-p.delta * (1 - i / p.ic0_A)))
    got = s.switch_probability(i, arrays, sharp, s.reset_current_A(p, sharp))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_ramps_are_integrated_exactly():
    """H of the trapezoid (ramp from −I_reset, plateau, ramp to 0) equals a fine numerical integral."""
    p = s.load_preset("w50")
    arrays = s.SOTArrays.nominal(p, 1)
    t = s.Timing(edge_s=2e-9)  # long edges so that they matter
    i_reset = s.reset_current_A(p, t)
    for i_w in (0.7 * p.ic0_A, 0.95 * p.ic0_A, 1.6 * p.ic0_A):  # the last one reaches the rate cap
        times = np.linspace(0, 2 * t.edge_s + t.write_width_s, 400001)
        current = np.interp(times, [0, t.edge_s, t.edge_s + t.write_width_s, 2 * t.edge_s + t.write_width_s],
                            [-i_reset, i_w, i_w, 0.0])
        numeric = np.trapezoid(s.switching_rate_per_s(current[:, None], arrays)[:, 0], times)
        assert s.hazard(np.array([[i_w]]), arrays, t, i_reset)[0, 0] == pytest.approx(numeric, rel=1e-5)


def test_probability_limits():
    p = s.load_preset("w100")
    arrays = s.SOTArrays.nominal(p, 1)
    i_reset = s.reset_current_A(p, TIMING)
    assert s.switch_probability(np.array([[0.0]]), arrays, TIMING, i_reset)[0, 0] < 1e-9
    assert s.switch_probability(np.array([[3 * p.ic0_A]]), arrays, TIMING, i_reset)[0, 0] == 1.0


def test_slot_energies_integrate_the_waveforms():
    p = s.load_preset("w200")
    arrays = s.draw_instances(p, 2, seed=1)
    i_reset = s.reset_current_A(p, TIMING)
    r_ref, _ = s.sense_reference(p, TIMING)
    i_w = 0.9 * p.ic0_A
    write, reset, read = s.slot_energy_J(np.array([[i_w, i_w]]), np.array([[True, False]]), arrays, TIMING, i_reset,
                                         r_ref)
    e, tr, tw = TIMING.edge_s, TIMING.reset_width_s, TIMING.write_width_s
    corners = np.cumsum([0, e, tr, e, tw, e])
    times = np.linspace(0, corners[-1], 2_000_001)
    current = np.interp(times, corners, [0, -i_reset, -i_reset, i_w, i_w, 0])
    power = current ** 2 * p.hm_resistance_ohm
    assert write[0, 0] == pytest.approx(np.trapezoid(np.where(current > 0, power, 0), times), rel=1e-5)
    assert reset[0, 0] == pytest.approx(np.trapezoid(np.where(current < 0, power, 0), times), rel=1e-5)
    v = TIMING.read_V
    plateau = TIMING.read_width_s + 2 * e / 3
    assert read[0, 0] == pytest.approx(v * v * plateau / (arrays.rap_ohm[0] + r_ref))
    assert read[0, 1] == pytest.approx(v * v * plateau / (arrays.rp_ohm[1] + r_ref))


def test_variation_draws_the_preset_spread():
    p = s.load_preset("w50")
    arrays = s.draw_instances(p, 20000, seed=0)
    assert np.std(arrays.ic0_A) / np.mean(arrays.ic0_A) == pytest.approx(p.ic0_rel_std, rel=0.03)
    assert np.mean(arrays.ic0_A) == pytest.approx(p.ic0_A, rel=0.005)
    same = s.draw_instances(p, 5, seed=0, variation_scale=0.0)
    assert np.all(same.ic0_A == p.ic0_A) and np.all(same.delta == p.delta)
    np.testing.assert_array_equal(s.draw_instances(p, 5, seed=9).delta, s.draw_instances(p, 5, seed=9).delta)
    with pytest.raises(ConfigError):
        s.draw_instances(p, 0, seed=0)


def test_logistic_fit_recovers_known_parameters():
    rng = np.random.default_rng(4)
    i50, di = 230e-6, 4.3e-6
    currents = i50 + di * np.linspace(-4, 4, 11)
    n = np.full(11, 400)
    k = rng.binomial(n, s.logistic(currents, i50, di))
    got_i50, got_di = s.fit_logistic(currents, k, n)
    assert got_i50 == pytest.approx(i50, abs=0.15 * di)
    assert got_di == pytest.approx(di, rel=0.1)
    with pytest.raises(ConfigError):
        s.fit_logistic(currents, k[:3], n)


def test_logistic_describes_the_device_curve():
    """The published model (a logistic) fits the thermal-activation curve to a few percent in probability."""
    p = s.load_preset("w100")
    arrays = s.SOTArrays.nominal(p, 1)
    (i50,), (di,) = s.curve_sigmoid(p, TIMING, arrays)
    grid = np.linspace(i50 - 5 * di, i50 + 5 * di, 201)
    exact = s.switch_probability(grid[:, None], arrays, TIMING, s.reset_current_A(p, TIMING))[:, 0]
    assert np.max(np.abs(exact - s.logistic(grid, i50, di))) < 0.05
    assert di * s.WINDOW_PER_DI == pytest.approx(2 * math.log(9) * di)


def test_twin_samples_its_probabilities():
    p = s.load_preset("w100")
    arrays = s.draw_instances(p, 4, seed=2)
    twin = s.SOTTwin(p, arrays, TIMING, seed=1)
    i50, di = s.curve_sigmoid(p, TIMING, arrays)
    currents = np.tile(i50 + di * np.array([-1.5, -0.5, 0.5, 1.5]), (4000, 1))
    run = twin.run(currents)
    prob = twin.probabilities(currents[:1])[0]
    sigma = np.sqrt(prob * (1 - prob) / 4000)
    assert np.all(np.abs(run.bits.mean(axis=0) - prob) < 4 * sigma)
    assert run.circuit_time_s == pytest.approx(4000 * TIMING.slot_s)
    assert run.slot_energy_J.shape == (4000,)
    with pytest.raises(ConfigError):
        twin.run(np.zeros((3, 5)))
