"""SPICE-style numbers (`1u`, `47k`, `2.5meg`, with or without their unit) wherever a value is typed: experiment
files, `-s` overrides, sweep specs, parameter files and the command line's options; read once, in the unit the
setting's name carries (`cosim.config.Strict`, `cosim.units`)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner

from cosim import experiments
from cosim import sweep as sweeps
from cosim.cli import main
from cosim.errors import ConfigError

SHORT = ["--backend", "twin", "-s", "training.epochs=1", "-s", "evaluation.repeats=1", "-s", "data.n_test=10"]


def test_an_override_of_1u_trains_with_exactly_1e_minus_6_and_the_run_records_it(tmp_path):
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "run"), *SHORT, "-s", "programming.width_s=1u",
                                       "-s", "circuit.wire_ohm=2.2", "-s", "programming.series_ohm=1kohm"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "run" / "config.yaml").read_text()
    assert "  width_s: 1.0e-06\n" in text and "  series_ohm: 1000.0\n" in text
    recorded = yaml.safe_load(text)
    assert recorded["programming"]["width_s"] == 1e-6  # exactly: the float nearest to 1e-6
    assert experiments.load_experiment(tmp_path / "run" / "config.yaml").programming.width_s == 1e-6


def test_an_experiment_file_takes_spice_numbers_with_units(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("programming: {width_s: 1us, reset_width_s: 50u, series_ohm: 4.7k, amplitude_V: 800mV}\n"
                    "circuit: {wire_ohm: 2.2ohm, read_V: 100m, rf_ohm: auto}\n"
                    "device: {variation: {r_on_rel_std: 5m}}\n"
                    "peripherals: {adc_J: 1nJ, adc_s: 1us}\n"
                    "training: {epochs: 1k}\n")
    cfg = experiments.load_experiment(path)
    p = cfg.programming
    assert (p.width_s, p.reset_width_s, p.series_ohm, p.amplitude_V) == (1e-6, 5e-5, 4700.0, 0.8)
    assert (cfg.circuit.wire_ohm, cfg.circuit.read_V, cfg.circuit.rf_ohm) == (2.2, 0.1, "auto")
    assert cfg.device.variation.r_on_rel_std == 0.005
    assert (cfg.peripherals.adc_J, cfg.peripherals.adc_s) == (1e-9, 1e-6)
    assert cfg.training.epochs == 1000 and isinstance(cfg.training.epochs, int)


@pytest.mark.parametrize("setting, message", [
    ("programming: {width_s: 1uV}", "programming.width_s = '1uV': the unit is s, not 'v'"),
    ("circuit: {wire_ohm: 1uF}", "circuit.wire_ohm = '1uF': the unit is ohm, not 'f'"),
    ("training: {noise: 5mV}", "training.noise = '5mV': it takes no unit, not 'v'"),
    ("training: {epochs: 2.5u}", "training.epochs = '2.5u': not a whole number"),
    ("training: {epochs: 1.5}", "training.epochs = 1.5: Input should be a valid integer"),
    ("circuit: {rf_ohm: automatic}", "circuit.rf_ohm = 'automatic': not a number (SPICE style is accepted: 1u, 47k, "
                                     "2.5meg, 10ns); or 'auto'"),
    ("programming: {width_s: 2s}", "programming.width_s = 2.0: Input should be less than or equal to 1"),
])
def test_a_spice_number_in_the_wrong_unit_or_out_of_range_is_one_error_naming_the_key(tmp_path, setting, message):
    path = tmp_path / "exp.yaml"
    path.write_text(setting + "\n")
    with pytest.raises(ConfigError) as info:
        experiments.load_experiment(path)
    assert str(info.value) == f"{path}: {message}"


def test_sweep_grids_zips_and_random_ranges_take_spice_numbers(tmp_path):
    spec = {"base": "eslami2024.yaml", "set": {"backend": "twin", "programming.series_ohm": "2k"},
            "grid": {"programming.width_s": ["1u", "2us", 3e-6]},
            "zip": {"circuit.wire_ohm": ["1", "10ohm"], "training.epochs": ["1", 2]},
            "random": {"n": 2, "seed": 0, "ranges": {"circuit.read_V": ["50m", "100mV"]}}}
    sweep = sweeps.expand(tmp_path / "spec.yaml", spec)
    assert len(sweep.points) == 12
    widths = sorted({p.config["programming"]["width_s"] for p in sweep.points})
    assert widths == [1e-6, 2e-6, 3e-6] and {p.config["programming"]["series_ohm"] for p in sweep.points} == {2000.0}
    # the results table records axis values as the numbers the points ran with
    assert sorted({p.values["programming.width_s"] for p in sweep.points}) == widths
    assert {p.values["circuit.wire_ohm"] for p in sweep.points} == {1.0, 10.0}
    assert {p.values["training.epochs"] for p in sweep.points} == {1, 2}
    assert all(0.05 <= p.values["circuit.read_V"] <= 0.1 for p in sweep.points)
    assert all(p.config["circuit"]["read_V"] == p.values["circuit.read_V"] for p in sweep.points)


def test_a_parameter_file_takes_spice_numbers(tmp_path):
    from cosim.devices.msdc import model as msdc

    w = msdc.load_preset("W").model_dump()
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({**w, "r_on_ohm": "2kohm", "tau_s": "100us", "source": "test"}))
    params = msdc.load_params_file(path)
    assert (params.r_on_ohm, params.tau_s) == (2000.0, 1e-4)
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump({**w, "r_on_ohm": "2kV", "source": "test"}))
    with pytest.raises(ConfigError, match=r"wrong.yaml: r_on_ohm = '2kV': the unit is ohm, not 'v' \(allowed: a number"):
        msdc.load_params_file(path)


def test_command_line_options_take_spice_numbers_in_their_unit(tmp_path):
    """`cosim characterize msdc` hands the options to the API as the numbers they spell."""
    seen = {}

    def record(family, out, **options):
        seen.update(options, family=family)
        raise ConfigError("stop")

    with mock.patch("cosim.api.characterize", record):
        result = CliRunner().invoke(main, ["characterize", "msdc", "--pulse-width", "5us", "--series-ohm", "4.7k",
                                           "--amplitude", "800mV", "--frequency", "1kHz", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "error: stop" in result.stderr
    assert (seen["pulse_width_s"], seen["series_ohm"], seen["amplitude_V"], seen["frequency_Hz"]) == (
        5e-6, 4700.0, 0.8, 1000.0)
    assert (seen["pulse_series_ohm"], seen["pulse_amplitude_V"]) == (1000.0, 1.0)  # the defaults, typed as 1k and 1
