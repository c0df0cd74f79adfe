"""Domain-wall stochastic synapse: the published switching curve, variation, and the SPICE read circuit
(sampled frequencies against p(w), energies against the twin's equations, seeding)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pydantic import ValidationError

from cosim.devices.dw_synapse import model as dw
from cosim.devices.dw_synapse import spice as dw_spice
from cosim.errors import ConfigError
from cosim.netlist.writers import ngspice
from cosim.spice.engine import ngspice_seed

PARAMS = dw.load_preset("ellis2023")


def test_preset_is_the_published_fit():
    assert (PARAMS.x0, PARAMS.dx, PARAMS.a) == (4.63168, 2.72741, 0.97813)
    assert PARAMS.d == pytest.approx(0.02187, abs=1e-12)
    with pytest.raises(ConfigError, match="allowed: ellis2023"):
        dw.load_preset("nope")


def test_probability_curve_limits_midpoint_slope_and_inverse():
    x0, dx, a = PARAMS.x0, PARAMS.dx, PARAMS.a
    assert dw.probability(x0, x0, dx, a) == pytest.approx(1 - a + a / 2, abs=1e-12)
    assert dw.probability(x0 - 30, x0, dx, a) == pytest.approx(1 - a, abs=1e-12)
    assert dw.probability(x0 + 30, x0, dx, a) == pytest.approx(1.0, abs=1e-12)
    w = np.linspace(2.0, 7.0, 11)
    h = 1e-6
    numeric = (dw.probability(w + h, x0, dx, a) - dw.probability(w - h, x0, dx, a)) / (2 * h)
    np.testing.assert_allclose(dw.probability_slope(w, x0, dx, a), numeric, rtol=1e-7, atol=1e-10)
    p = dw.probability(w, x0, dx, a)
    np.testing.assert_allclose(dw.control_for(p, x0, dx, a), w, rtol=1e-9)
    with pytest.raises(ConfigError, match="strictly between"):
        dw.control_for(0.01, x0, dx, a)


def test_variation_is_reproducible_and_has_the_asked_spread():
    var = dw.Variation(x0_std=0.1, dx_rel_std=0.05, a_std=0.01)
    one, two = dw.draw_instances(PARAMS, var, (200, 10), 3), dw.draw_instances(PARAMS, var, (200, 10), 3)
    np.testing.assert_array_equal(one.x0, two.x0)
    assert one.shape == (200, 10)
    # 2000 draws: the sample std is within 5 % of the asked one (its standard error is 1.6 %)
    assert np.std(one.x0) == pytest.approx(0.1, rel=0.05)
    assert np.std(np.log(one.dx / PARAMS.dx)) == pytest.approx(0.05, rel=0.05)
    assert 0.5 <= one.a.min() and one.a.max() <= 1.0
    none = dw.draw_instances(PARAMS, dw.Variation(), (3, 2), 0)
    assert np.all(none.x0 == PARAMS.x0) and np.all(none.a == PARAMS.a)


def test_read_circuit_settings_are_checked():
    with pytest.raises(ValidationError, match="must differ"):
        dw_spice.ReadCircuit(r_state0_ohm=5e3, r_state1_ohm=5e3)
    with pytest.raises(ValidationError, match="fit in slot_s"):
        dw_spice.ReadCircuit(slot_s=10e-9)
    with pytest.raises(ValidationError, match="extra"):
        dw_spice.ReadCircuit(resistance=1.0)


def test_twin_read_energy_by_hand():
    c = dw_spice.ReadCircuit()
    cost = dw_spice.twin_read_cost(c)
    pulse = 0.1 ** 2 * (10e-9 + 2e-9 / 3)  # V²·s of the trapezoidal read pulse
    bias = 1.0 * 10e-6 * 11e-9
    assert cost.energy_state0_J == pytest.approx(pulse / 17e3 + bias, rel=1e-12)
    assert cost.energy_state1_J == pytest.approx(pulse / 12e3 + bias + 10e-15, rel=1e-12)
    assert cost.energy_J(0.25) == pytest.approx(0.75 * cost.energy_state0_J + 0.25 * cost.energy_state1_J)
    assert cost.time_s == 20e-9


def test_read_netlist_is_valid_ngspice_text():
    net = dw_spice.read_netlist([4.0, 5.0], dw.uniform(PARAMS, (2,)), dw_spice.ReadCircuit())
    text = ngspice.write(net)
    assert "Xs1 rd1 sn1 dw_synapse w=5.0 x0=4.63168" in text
    assert text.count("TRRANDOM") == 0  # the random source lives in the shipped library
    assert "TRRANDOM(1 {ts} {td} 0.5 0.5)" in open(net.items[0].path).read()
    with pytest.raises(ConfigError, match="3 control values for 2 devices"):
        dw_spice.read_netlist([1.0, 2.0, 3.0], dw.uniform(PARAMS, (2,)), dw_spice.ReadCircuit())


# Control values around the midpoint: p from 0.08 to 0.94
OFFSETS = np.array([-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0])
N_READS = 400


@pytest.fixture(scope="module")
def spice_reads():
    from cosim.spice.shared import SharedEngine

    w = PARAMS.x0 + OFFSETS
    record = dw_spice.simulate_reads(SharedEngine(seed=11), w, dw.uniform(PARAMS, (w.size,)), dw_spice.ReadCircuit(), N_READS)
    return w, record


@pytest.mark.spice
def test_spice_read_frequencies_match_p_within_binomial_error(spice_reads):
    w, record = spice_reads
    p = dw.probability(w, PARAMS.x0, PARAMS.dx, PARAMS.a)
    freq = record.sensed.mean(axis=1)
    sigma = np.sqrt(p * (1 - p) / N_READS)
    assert np.all(np.abs(freq - p) < 3 * sigma), (freq, p, sigma)
    assert np.all(np.diff(freq) > 0)  # and rise with w, as p does
    # the sense stage reads exactly the state the random source drew, in every slot
    np.testing.assert_array_equal(record.sensed, record.stored)


@pytest.mark.spice
def test_spice_read_energy_matches_the_twin_per_state(spice_reads):
    _, record = spice_reads
    twin = dw_spice.twin_read_cost(dw_spice.ReadCircuit())
    ones, zeros = record.energy_J[record.sensed], record.energy_J[~record.sensed]
    # ∫V·I of the simulated waveforms against the circuit's equations: within 0.5 %, slot by slot
    np.testing.assert_allclose(zeros, twin.energy_state0_J, rtol=5e-3)
    np.testing.assert_allclose(ones, twin.energy_state1_J, rtol=5e-3)


@pytest.mark.spice
def test_spice_reads_follow_the_seed():
    from cosim.spice.shared import SharedEngine

    w, dev, c = [PARAMS.x0], dw.uniform(PARAMS, (1,)), dw_spice.ReadCircuit()
    a = dw_spice.simulate_reads(SharedEngine(seed=5), w, dev, c, 40).sensed
    b = dw_spice.simulate_reads(SharedEngine(seed=5), w, dev, c, 40).sensed
    other = dw_spice.simulate_reads(SharedEngine(seed=6), w, dev, c, 40).sensed
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, other)
    # run seed 0 maps to ngspice seed 1 (ngspice takes 0 as "seed from the clock")
    assert [ngspice_seed(s) for s in (0, 5, -1)] == [1, 6, 2 ** 31 - 1]
    first = dw_spice.simulate_reads(SharedEngine(seed=0), w, dev, c, 40).sensed
    np.testing.assert_array_equal(first, dw_spice.simulate_reads(SharedEngine(seed=0), w, dev, c, 40).sensed)


@pytest.mark.spice
def test_batch_and_spice_measure_the_same_read_cost():
    c = dw_spice.ReadCircuit()
    spice, net = dw_spice.read_cost("spice", c, PARAMS, 2, 32)
    batch, _ = dw_spice.read_cost("batch", c, PARAMS, 2, 32)
    assert (spice.source, batch.source) == ("spice", "batch")
    assert batch.energy_state0_J == pytest.approx(spice.energy_state0_J, rel=1e-4)
    assert batch.energy_state1_J == pytest.approx(spice.energy_state1_J, rel=1e-4)
    assert re.search(r"^\.options seed=3(\.0)?$", ngspice.write(net), re.M)  # run seed 2 → ngspice seed 3
