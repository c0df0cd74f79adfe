"""The board circuit, the hardware sessions (spice, batch, twin) and the ledger they fill."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.experiments import load_experiment
from cosim.data import patterns_3x3
from cosim.errors import ConfigError
from cosim.hil.ledger import Ledger, PeripheralCosts
from cosim.hil.schedule import Pulses
from cosim.hil.summary import summarize
from cosim.experiments import eslami2024


def cfg(**over):
    return load_experiment(None, [f"{k}={v}" for k, v in over.items()])


def test_ledger_books_peripherals_from_the_table():
    ledger = Ledger(PeripheralCosts(controller_step_J=1.0, switch_J=0.5, adc_J=0.25, controller_step_s=0.5,
                                    switch_s=0.0, adc_s=0.0))
    ledger.book("set", energy_J=1e-9, circuit_time_s=5e-6, wall_time_s=0.1, controller_steps=1, switch_events=2,
                adc_conversions=4, pulses=1)
    totals = summarize(ledger.frame())
    assert totals["energy_with_peripherals_J"] == pytest.approx(1e-9 + 1.0 + 2 * 0.5 + 4 * 0.25)
    assert totals["time_with_peripherals_s"] == pytest.approx(5e-6 + 0.5)
    with pytest.raises(ConfigError, match="phase"):
        ledger.book("write", energy_J=0, circuit_time_s=0, wall_time_s=0)


def test_summary_divides_by_the_samples_each_row_served():
    """A row that read for many inputs serves that many: per inference is energy over inferences, not the
    mean of rows (a batch row of 1000 inferences made the report 270-560 times its run's figure)."""
    ledger = Ledger(PeripheralCosts(controller_step_J=0.0, switch_J=0.0, adc_J=1.0, controller_step_s=0.0,
                                    switch_s=0.0, adc_s=0.0))
    ledger.book("inference", energy_J=1000.0, circuit_time_s=10.0, wall_time_s=0.0, samples=1000, adc_conversions=1)
    ledger.book("inference", energy_J=2.0, circuit_time_s=0.02, wall_time_s=0.0, samples=1)
    ledger.book("inference", energy_J=0.5, circuit_time_s=0.01, wall_time_s=0.0)  # a stage of those inputs
    ledger.book("read", energy_J=30.0, circuit_time_s=1.0, wall_time_s=0.0, samples=10)
    ledger.book("set", energy_J=6.0, circuit_time_s=2.0, wall_time_s=0.0, pulses=3)
    s = summarize(ledger.frame())
    assert (s["inferences"], s["training_samples"], s["events"], s["pulses"]) == (1001, 10, 5, 3)
    assert s["energy_per_inference_J"] == pytest.approx(1002.5 / 1001)
    assert s["energy_per_inference_with_peripherals_J"] == pytest.approx(1003.5 / 1001)
    assert s["time_per_inference_s"] == pytest.approx(10.03 / 1001)
    assert s["energy_per_training_sample_J"] == pytest.approx(36.0 / 10)
    assert (s["training_energy_J"], s["energy_J"], s["energy_with_peripherals_J"]) == (36.0, 1038.5, 1039.5)
    assert summarize(ledger.frame(), training_samples=4)["energy_per_training_sample_J"] == pytest.approx(9.0)
    assert "energy_per_inference_J" not in summarize(ledger.frame().iloc[3:])  # no inference: no such figure


def test_summary_sums_device_energy_over_the_rows_that_measured_it():
    ledger = Ledger(PeripheralCosts(adc_J=0.0))
    ledger.book("inference", energy_J=10.0, circuit_time_s=1.0, wall_time_s=0.0, samples=4, device_energy_J=2.0)
    ledger.book("set", energy_J=6.0, circuit_time_s=1.0, wall_time_s=0.0, pulses=1, samples=3, device_energy_J=3.0)
    ledger.book("read", energy_J=1.0, circuit_time_s=1.0, wall_time_s=0.0)  # a backend that does not measure it
    s = summarize(ledger.frame())
    assert (s["device_energy_J"], s["training_device_energy_J"]) == (5.0, 3.0)
    assert s["device_energy_per_inference_J"] == pytest.approx(0.5)
    assert s["device_energy_per_training_sample_J"] == pytest.approx(1.0)
    assert "device_energy_J" not in summarize(ledger.frame().iloc[2:])  # nothing measured: no device figure


def test_ledger_round_trips_through_parquet(tmp_path):
    ledger = Ledger()
    ledger.book("read", energy_J=2e-12, circuit_time_s=1e-6, wall_time_s=1e-3, device="Xl1d0_0", layer="l1")
    path = ledger.save(tmp_path / "ledger.parquet")
    again = Ledger.load(path)
    assert again.frame().equals(ledger.frame())


def test_board_has_30_memristors_and_4_neurons():
    session, _ = eslami2024.build(cfg(backend="twin"))
    net = session.network
    assert len(net.points) == 30
    assert [layer.cols for layer in net.layers] == [3, 1]  # 3 hidden + 1 output neuron
    assert len({p.instance for p in net.points}) == 30


@pytest.mark.spice
def test_spice_read_matches_device_equation():
    from cosim.devices.msdc import model as msdc

    session, board = eslami2024.build(cfg(backend="spice"))
    arrays = board.instances
    devices = [0, 13, 29]
    g = session.read_conductance(devices)
    v = session.network.spec.read_V
    expected = msdc.current(arrays, v, session.x)[devices] / v
    np.testing.assert_allclose(g, expected, rtol=5e-3)  # switch and series drops are the difference
    rows = session.ledger.frame()
    assert list(rows["phase"]) == ["read"] * 3 and (rows["energy_J"] > 0).all()


@pytest.mark.spice
def test_set_pulse_raises_and_reset_lowers_conductance():
    session, _ = eslami2024.build(cfg(backend="spice"))
    before = session.read_conductance([0, 1])
    after = session.program([0, 1], [Pulses(1.0, 2e-6, 2, 1), Pulses(1.0, 2e-6, 2, -1)], verify=True)
    assert after[0] > before[0] and after[1] < before[1]
    frame = session.ledger.frame()
    assert set(frame["phase"]) == {"read", "set", "reset", "verify"} and frame["pulses"].sum() == 4


@pytest.mark.spice
def test_backends_agree_on_programming_and_reads():
    results = {}
    for backend in ("spice", "batch", "twin"):
        session, _ = eslami2024.build(cfg(backend=backend))
        g = session.program([3, 20], [Pulses(1.0, 1e-6, 3, 1), Pulses(1.0, 1e-6, 2, -1)], verify=True)
        out = session.forward(patterns_3x3().x_train[:4]).column_currents_A[0]
        results[backend] = (g, session.x.copy(), out, summarize(session.ledger.frame())["energy_J"])
    for other in ("batch", "twin"):
        g, x, out, energy = results[other]
        tol = 1e-6 if other == "batch" else 2e-2
        np.testing.assert_allclose(g, results["spice"][0], rtol=tol)
        np.testing.assert_allclose(x, results["spice"][1], rtol=tol, atol=1e-6)
        np.testing.assert_allclose(out, results["spice"][2], rtol=tol)
        assert energy == pytest.approx(results["spice"][3], rel=tol)


@pytest.mark.spice
def test_select_lines_close_only_the_program_switch_where_they_cross():
    """Raising a row select line and pulling a column line low programs that device alone: its neighbours on the
    same row and the same column move only as much as their own reads move them."""
    session, _ = eslami2024.build(cfg(backend="spice"))
    net = session.network
    target = next(p for p in net.points if p.layer == "l1" and p.row == 4 and p.col == 1)
    neighbours = [p.index for p in net.points if p.layer == "l1" and (p.row == 4) != (p.col == 1)]
    before = session.x.copy()
    session.program([target.index], [Pulses(1.0, 5e-6, 4, 1)])
    moved = np.abs(session.x - before)
    assert moved[target.index] > 0.05
    assert moved[neighbours].max() < 1e-4, moved[neighbours]
    frame = session.ledger.frame()
    assert frame["switch_events"].sum() == 2 and frame["device"].iloc[0] == target.instance
