"""The command line: doctor, demo, and the installed package's data files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cosim.cli import main
from cosim.resources import data_dir


def test_installed_package_finds_its_data_folders():
    for kind in ("device_models", "netlists", "sweeps"):
        assert (data_dir(kind) / "README.md").is_file(), kind


@pytest.mark.spice
def test_doctor_reports_everything_and_exits_zero():
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    for word in ("ngspice program", "shared library", "KLU", "Verilog-A compiler", "OSDI", "cores"):
        assert word in result.output


@pytest.mark.spice
def test_doctor_fails_with_the_fixing_command_when_libngspice_is_missing(tmp_path):
    env = {**os.environ, "NGSPICE_LIBRARY_PATH": str(tmp_path / "libngspice-missing.so")}
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", "doctor"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 1
    assert "MISSING" in proc.stdout and "apt-get install -t bookworm-backports" in proc.stdout


@pytest.mark.spice
def test_demo_matches_ohms_law_and_energy():
    from cosim.demo import run_demo

    r = run_demo(seed=3)
    assert r.measured_A == pytest.approx(r.expected_A, rel=1e-6)
    assert r.energy_J == pytest.approx(r.expected_energy_J, rel=1e-3)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0 and "Ohm's law" in result.output


def test_missing_library_error_names_the_install_command(monkeypatch, tmp_path):
    from cosim.errors import NgspiceNotFound
    from cosim.spice import install

    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", str(tmp_path / "libngspice-missing.so"))
    with pytest.raises(NgspiceNotFound, match="apt-get install -t bookworm-backports ngspice"):
        install.library_path()


def test_every_subpackage_is_installed():
    """Every package of the source tree is importable from the installed cosim (setup.py finds them; the data
    folders it lists are mapped into the package by pyproject.toml)."""
    import importlib.util
    from pathlib import Path

    import cosim

    source = Path(__file__).resolve().parents[1] / "cosim"
    installed = Path(cosim.__file__).resolve().parent
    for init in source.rglob("__init__.py"):
        name = ".".join(("cosim", *init.parent.relative_to(source).parts))
        spec = importlib.util.find_spec(name)
        assert spec is not None and Path(spec.origin).resolve().is_relative_to(installed), name
