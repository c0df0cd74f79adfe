"""The SOT-MTJ neuron circuit in ngspice against the numpy twin: probabilities (binomial 3σ), the integrated
hazard, the state/sense chain, energies, seeds and the batch engine."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.devices.sot_mtj import model as s
from cosim.devices.sot_mtj import spice as sp
from cosim.netlist.writers import ngspice

pytestmark = pytest.mark.spice
TIMING = s.Timing()


def _devices(n: int, seed: int = 1):
    p = s.load_preset("w100")
    arrays = s.draw_instances(p, n, seed)
    i50, di = s.curve_sigmoid(p, TIMING, arrays)
    return p, arrays, i50, di


@pytest.fixture(scope="module")
def sampled():
    """Six devices, each at its own current (P from ~0.1 to ~0.9), 150 pulses each, in one SPICE run. A new
    engine re-seeds ngspice, so the draws do not depend on which tests ran before."""
    from cosim.spice.shared import SharedEngine

    p, arrays, i50, di = _devices(6)
    currents = np.tile(i50 + di * np.array([-2.0, -1.2, -0.4, 0.4, 1.2, 2.0]), (150, 1))
    bank = sp.NeuronBank(p, arrays, TIMING, SharedEngine(seed=7), seed=7)
    return p, arrays, currents, bank.run(currents), bank


def test_spice_probabilities_agree_with_the_twin_within_3_sigma(sampled):
    p, arrays, currents, run, _ = sampled
    prob = s.switch_probability(currents[:1], arrays, TIMING, s.reset_current_A(p, TIMING))[0]
    n = len(currents)
    assert np.all(n * prob * (1 - prob) >= 5)  # the normal approximation behind "3σ" holds at every point
    z = (run.bits.mean(axis=0) - prob) / np.sqrt(prob * (1 - prob) / n)
    assert np.all(np.abs(z) < 3), z


def test_sense_output_is_binary_and_energies_match_the_twin(sampled):
    p, arrays, currents, run, _ = sampled
    assert set(np.unique(run.out_V)) <= {0.0, TIMING.vdd_V}
    r_ref, _ = s.sense_reference(p, TIMING)
    write, reset, read = s.slot_energy_J(currents, run.bits, arrays, TIMING, s.reset_current_A(p, TIMING), r_ref)
    np.testing.assert_allclose(run.write_J, write, rtol=0.01)  # ∫V·I of the drivers from the waveforms
    np.testing.assert_allclose(run.reset_J, reset, rtol=0.01)
    np.testing.assert_allclose(run.read_J, read.sum(axis=1), rtol=0.01)
    assert run.circuit_time_s == pytest.approx(len(currents) * TIMING.slot_s)


def test_integrated_hazard_and_state_follow_the_equations(shared_engine):
    """h at the end of each write equals the twin's H (to 0.5 %); the state is U > exp(−h), and the read sees it."""
    p, arrays, i50, di = _devices(3, seed=4)
    currents = np.tile(i50 + di * np.array([-1.0, 0.0, 1.5]), (6, 1))
    bank = sp.NeuronBank(p, arrays, TIMING, shared_engine)
    shared_engine.load(bank.netlist(currents))
    vectors = [f"v(x{k}.{node})" for k in range(3) for node in ("h", "u")] + [f"v(out{k})" for k in range(3)]
    w = shared_engine.tran(TIMING.edge_s, 6 * TIMING.slot_s, vectors, tmax_s=TIMING.write_width_s / 4)
    slots = np.arange(6) * TIMING.slot_s
    end_of_write = slots + 3 * TIMING.edge_s + TIMING.reset_width_s + TIMING.write_width_s
    reads = slots + TIMING.read_time_in_slot_s
    expected = s.hazard(currents[:1], arrays, TIMING, s.reset_current_A(p, TIMING))[0]
    for k in range(3):
        h = np.interp(end_of_write, w["time"], w[f"v(x{k}.h)"])
        np.testing.assert_allclose(h, expected[k], rtol=5e-3)
        u = np.interp(reads, w["time"], w[f"v(x{k}.u)"])
        out = np.interp(reads, w["time"], w[f"v(out{k})"])
        np.testing.assert_array_equal(out > 0.5, u > np.exp(-h))
        assert len(np.unique(u)) == 6  # a fresh draw every slot


def test_same_seed_same_draws(shared_engine):
    from cosim.spice.shared import SharedEngine

    p, arrays, i50, _ = _devices(3)
    currents = np.tile(i50, (40, 1))
    first = sp.NeuronBank(p, arrays, TIMING, SharedEngine(seed=3)).run(currents)
    again = sp.NeuronBank(p, arrays, TIMING, SharedEngine(seed=3)).run(currents)
    np.testing.assert_array_equal(first.bits, again.bits)
    assert 0.2 < first.bits.mean() < 0.8


def test_batch_engine_runs_the_same_circuit_with_fresh_draws_per_run(batch_engine):
    p, arrays, i50, _ = _devices(2)
    bank = sp.NeuronBank(p, arrays, TIMING, batch_engine, seed=5)
    currents = np.tile(i50, (60, 1))
    a, b = bank.run(currents), bank.run(currents)
    assert not np.array_equal(a.bits, b.bits)  # each ngspice process gets its own seed
    both = np.concatenate([a.bits, b.bits])
    assert abs(both.mean() - 0.5) < 3 * np.sqrt(0.25 / both.size) + 0.05  # logistic I50 ≈ 50 % (±5 % shape)


def test_netlist_is_written_through_the_ir(sampled):
    *_, bank = sampled
    text = ngspice.write(bank.last_netlist)
    assert ".include " in text and "sot_mtj.lib" in text
    assert text.count("sot_neuron ") == 6 and "TRRANDOM" not in text  # the random source lives in the library
    assert ".options method=gear" in text
