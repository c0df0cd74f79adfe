"""Device families: each is one folder, one preset file and one registry line, implements the protocol, and
a family without a numpy twin refuses the twin backend when the config is read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import cosim
from cosim import experiments
from cosim.cli import main
from cosim.devices import registry
from cosim.devices.base import CrossbarFamily, DeviceFamily
from cosim.errors import ConfigError
from cosim.resources import data_dir

FAMILIES = registry.names()


@pytest.mark.parametrize("name", FAMILIES)
def test_a_family_is_one_folder_and_one_preset_file(name):
    family = registry.family(name)
    assert isinstance(family, DeviceFamily) and family.name == name
    assert (Path(cosim.__file__).parent / "devices" / name / "family.py").is_file()
    assert family.presets.path == data_dir("device_models") / f"{name}_presets.yaml"
    for preset in family.presets.names():
        params = family.params(preset.upper())  # names are case-insensitive
        assert params.source.strip(), f"{name} preset {preset} says nothing about where its numbers come from"
    with pytest.raises(ConfigError, match=f"unknown {family.label} preset 'nope'; allowed: "):
        family.params("nope")


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_is_characterised_through_the_same_call(name):
    """`cosim.characterize(name, …)` and `cosim characterize NAME` need nothing but the family: its options
    model refuses an unknown option in one line, by the family's name."""
    family = registry.family(name)
    assert issubclass(family.Characterization, cosim.config.Strict) and callable(family.characterize)
    with pytest.raises(ConfigError, match=f"characterize {name}: unknown key 'nope'"):
        cosim.characterize(name, None, nope=1)
    result = CliRunner().invoke(main, ["characterize", name, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", FAMILIES)
def test_variation_is_drawn_from_the_seed(name):
    family = registry.family(name)
    params = family.params(family.presets.names()[0])
    # every spread setting at 0.1 (a relative or absolute std, or a scale of the preset's own spread)
    variation = family.Variation.model_validate({key: 0.1 for key in family.Variation.model_fields})

    def drawn(seed: int) -> list[np.ndarray]:
        instances = family.draw(params, variation, 6, seed)
        return [np.asarray(v) for v in vars(instances).values() if np.ndim(v)]

    first, again, other = drawn(3), drawn(3), drawn(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))
    if isinstance(family, CrossbarFamily):
        assert family.spice_library(instances=family.draw(params, variation, 2, 0)), name
    else:
        assert family.spice_library(), name


def test_crossbar_families_name_and_read_their_state():
    crossbar = [registry.crossbar_family(n) for n in FAMILIES if isinstance(registry.family(n), CrossbarFamily)]
    assert {"msdc", "verilog_a"} <= {f.name for f in crossbar}
    with pytest.raises(ConfigError, match="cannot sit in a crossbar; allowed: msdc, verilog_a"):
        registry.crossbar_family("sot_mtj")
    for family in crossbar:
        params = family.params(family.presets.names()[0])
        instances = family.draw(params, family.Variation(), 2, 0)
        element = family.spice_instance("X1", "a", "b", instances, 1, 0.25)
        assert element.params[family.state_param] == 0.25
        assert family.state_vector("X1") == "v(x1.x)"
        low, high = family.state_range  # the two ends read a conductance window (which end is ON is the device's)
        ends = sorted(float(family.current(params, 0.1, state)) for state in (low, high))
        assert ends[1] > 1.5 * ends[0] > 0


def test_a_family_without_a_twin_refuses_the_twin_backend(monkeypatch, tmp_path):
    monkeypatch.setattr(registry.family("msdc"), "twin", False)
    with pytest.raises(ConfigError, match="device family 'msdc' has no numpy twin; use backend spice or batch"):
        experiments.load_experiment(None, ["backend=twin"])
    experiments.load_experiment(None, ["backend=batch"])  # the other backends are fine
    result = CliRunner().invoke(main, ["train", "--backend", "twin", "--out", str(tmp_path / "run")])
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and lines[0].endswith(
        "eslami2024.yaml: device family 'msdc' has no numpy twin; use backend spice or batch")
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_config_device_family_selects_the_family():
    with pytest.raises(ConfigError, match="device.family: unknown device family 'nope'"):
        experiments.load_experiment(None, ["device.family=nope"])
    with pytest.raises(ConfigError, match="device family 'dw_synapse' cannot sit in a crossbar"):
        experiments.load_experiment(None, ["device.family=dw_synapse"])
    with pytest.raises(ConfigError, match="device.variation.r_on_rel_std"):
        experiments.load_experiment(None, ["device.variation.r_on_rel_std=-1"])
