"""`cosim characterize sot`: the two-stage current sweep, the per-device fits, the files and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cosim.cli import main
from cosim.devices.sot_mtj import characterize as c
from cosim.devices.sot_mtj import model as s
from cosim.errors import ConfigError


def test_sweep_fits_each_device_close_to_its_true_curve():
    p = s.load_preset("w50")  # the largest spread: the fine sweep must follow each device
    arrays = s.draw_instances(p, 6, seed=2)
    twin = s.SOTTwin(p, arrays, s.Timing(), seed=0)
    m = c.measure(twin, p, s.Timing(), 6, c.Sweep(pulses=200))
    true_i50, true_di = s.curve_sigmoid(p, s.Timing(), arrays)
    assert np.all(np.abs(m.i50_A - true_i50) < 0.3 * true_di)
    np.testing.assert_allclose(m.di_A, true_di, rtol=0.25)
    fine = m.stage == "fine"
    (_,), (di_nominal,) = s.curve_sigmoid(p, s.Timing())
    # each device's fine sweep (±4 nominal dI) is centred on it: its I50 lies in the sweep's central half
    assert np.all(np.abs(m.currents_A[fine].mean(axis=0) - true_i50) < 2 * di_nominal)


def test_characterize_writes_tables_and_plots_with_the_published_trends(tmp_path):
    widths = c.resolve_width("all")
    files = c.characterize(widths, tmp_path, instances=12, sweep=c.Sweep(coarse_pulses=10, points=5, pulses=40),
                           backend="twin")
    names = {f.name for f in files}
    assert {"sot_points.csv", "sot_fits.csv", "sot_summary.csv", "sot_scaling.png"} <= names
    assert {f"sot_probability_{w}.png" for w, _ in widths} <= names
    summary = pd.read_csv(tmp_path / "sot_summary.csv").sort_values("width_m")
    assert summary["i50_mean_A"].is_monotonic_increasing and summary["window_mean_A"].is_monotonic_increasing
    assert summary["i50_rel_spread"].is_monotonic_decreasing
    points = pd.read_csv(tmp_path / "sot_points.csv")
    assert len(points) == 4 * 12 * (9 + 5)
    assert {"p_measured", "p_twin", "binomial_sigma", "z", "gaussian_ok"} <= set(points.columns)


def test_resolve_width():
    assert [n for n, _ in c.resolve_width("W200")] == ["w200"]
    (name, params), = c.resolve_width("150nm")
    assert name == "w150" and params.width_m == pytest.approx(150e-9)
    with pytest.raises(ConfigError, match="expected all, a preset"):
        c.resolve_width("wide")
    with pytest.raises(ConfigError):
        c.Sweep(points=2)


def test_cli_characterize_sot(tmp_path):
    result = CliRunner().invoke(main, ["characterize", "sot", "--width", "w100", "--instances", "2", "--pulses", "20",
                                       "--points", "5", "--backend", "twin", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sot_fits.csv").is_file() and (tmp_path / "sot_probability_w100.png").is_file()
    bad = CliRunner().invoke(main, ["characterize", "sot", "--width", "huge", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "expected all, a preset" in bad.output


@pytest.mark.spice
def test_cli_characterize_sot_in_spice(tmp_path):
    result = CliRunner().invoke(main, ["characterize", "sot", "--width", "w200", "--instances", "2", "--pulses", "30",
                                       "--points", "5", "--coarse-pulses", "8", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "sot_summary.csv")
    assert summary.loc[0, "backend"] == "spice"
    fits = pd.read_csv(tmp_path / "sot_fits.csv")
    assert np.all(np.abs(fits["i50_A"] - fits["twin_i50_A"]) < 0.5 * fits["twin_window_A"])
