"""The Python API (`cosim.api`, offered by `import cosim`): docs/api.md runs as written, and each function
validates its input and raises cosim's typed errors."""

from __future__ import annotations

import doctest
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cosim
from cosim.errors import ConfigError, CosimError

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"training.epochs": 2, "evaluation.repeats": 1, "data.n_test": 10}


@pytest.mark.spice
def test_the_api_page_runs_as_written(tmp_path, monkeypatch):
    """Every example of docs/api.md, in an empty folder, prints what the page says."""
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False, report=True,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 35  # the page is read (an unreadable layout would run nothing)


def test_import_cosim_loads_the_api_only_when_used():
    code = ("import sys, cosim; heavy = ('numpy', 'pandas', 'pydantic', 'PySpice', 'cosim.api'); "
            "print(sorted(m for m in heavy if m in sys.modules)); cosim.experiment_names(); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert out[0] == "[]"
    assert "cosim.api" in out[1] and "pydantic" in out[1]
    assert {"load", "train", "open_run", "run_sweep", "Run"} <= set(dir(cosim))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cosim.nope


def test_load_takes_a_name_a_file_or_a_config_and_validates_every_override(tmp_path):
    shipped = ROOT / "sweeps" / "eslami2024.yaml"
    assert cosim.load("eslami2024") == cosim.load(shipped) == cosim.load()
    cfg = cosim.load("eslami2024", {"programming.width_s": "1u", "circuit.layers": [9, 4, 1]}, seed=3)
    assert cfg.programming.width_s == 1e-6 and cfg.circuit.layers == (9, 4, 1) and cfg.seed == 3
    copy = cosim.load(cfg, ["training.epochs=7"], backend="twin")
    assert (copy.training.epochs, copy.backend, copy.programming.width_s) == (7, "twin", 1e-6)
    assert cfg.training.epochs == 30 and cfg.backend == "spice"  # the original is unchanged
    other = tmp_path / "mine.yaml"
    other.write_text("experiment: islam2024\nbackend: twin\n")
    assert cosim.load(other).experiment == "islam2024"
    for bad, message in (({"programming.width_s": "1uV"}, "programming.width_s = '1uV': the unit is s"),
                         ({"device.colour": "red"}, "unknown key 'device.colour'"),
                         ({"training.epochs": True}, "training.epochs = True"),
                         (["training.epochs"], "expected KEY=VALUE"),
                         ({"a b": 1}, "'a b' is not a dotted key")):
        with pytest.raises(ConfigError, match=message):
            cosim.load("eslami2024", bad)
    with pytest.raises(ConfigError, match="backend = 'gpu'"):
        cosim.load(backend="gpu")
    with pytest.raises(ConfigError, match="no such file"):
        cosim.load("nope")


def test_train_open_run_and_the_command_line_give_the_same_run(tmp_path):
    """`cosim train` trains through the API: the same config gives the same metrics, ledger and states."""
    cfg = cosim.load("eslami2024", QUICK, backend="twin")
    run = cosim.train(cfg, tmp_path / "api")
    result = CliRunner().invoke(cosim_cli(), ["train", "--out", str(tmp_path / "cli"), "--backend", "twin",
                                              *[a for k, v in QUICK.items() for a in ("-s", f"{k}={v}")]])
    assert result.exit_code == 0, result.output
    cli = cosim.open_run(tmp_path / "cli")
    timing = ("wall_time_s", "versions")
    assert {k: v for k, v in cli.metrics.items() if k not in timing} == {
        k: v for k, v in run.metrics.items() if k not in timing}
    assert cli.config == run.config == cfg
    assert cli.ledger.drop(columns="wall_time_s").equals(run.ledger.drop(columns="wall_time_s"))
    assert all((cli.states[k] == run.states[k]).all() for k in run.states)
    assert repr(run).startswith(f"<Run {tmp_path / 'api'}: eslami2024 on twin, seed 0, test accuracy ")
    assert run.summary()["pulses"] == run.metrics["pulses"] == int(run.ledger.pulses.sum())
    with pytest.raises(CosimError, match="already holds a run"):
        cosim.train(cfg, tmp_path / "api")
    again = cosim.train(cfg, tmp_path / "api", force=True)
    assert again.metrics["test_accuracy"] == run.metrics["test_accuracy"]


def cosim_cli():
    from cosim.cli import main

    return main


def test_train_without_a_folder_writes_a_new_one_in_the_temporary_folder():
    run = cosim.train(cosim.load("eslami2024", QUICK), backend="twin")
    try:
        assert run.path.parent == Path(tempfile.gettempdir()) and run.path.name.startswith("cosim-eslami2024-")
        assert (run.path / "metrics.json").is_file() and run.config.backend == "twin"
    finally:
        shutil.rmtree(run.path)


def test_progress_prints_a_line_per_epoch(tmp_path, capsys):
    cosim.train(cosim.load("eslami2024", QUICK, backend="twin"), tmp_path / "run", progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"] and "loss" in lines[0]


def test_errors_are_typed_and_name_what_is_wrong(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a run directory"):
        cosim.open_run(tmp_path / "empty")
    with pytest.raises(CosimError, match="not an interrupted run"):
        cosim.resume(tmp_path / "empty")
    with pytest.raises(ConfigError, match="unknown device family 'memristor'"):
        cosim.characterize("memristor")
    with pytest.raises(ConfigError, match="characterize dw_synapse: unknown key 'width'"):
        cosim.characterize("dw_synapse", tmp_path / "c", width="w100")
    with pytest.raises(ConfigError, match="characterize msdc: unknown key 'colour'"):
        cosim.characterize("msdc", tmp_path / "c", colour="red")
    with pytest.raises(ConfigError, match="characterize msdc: pulse_width_s = '5uV': the unit is s"):
        cosim.characterize("msdc", tmp_path / "c", pulse_width_s="5uV")
    with pytest.raises(ConfigError, match="unknown M-SDC preset 'X'"):
        cosim.characterize("msdc", tmp_path / "c", preset="X")
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        cosim.run_sweep({"base": "eslami2024.yaml"}, tmp_path / "s", workers=0)
    with pytest.raises(ConfigError, match="sweep spec: base = 'none.yaml': no such experiment file"):
        cosim.run_sweep({"base": "none.yaml"}, tmp_path / "s")
    with pytest.raises(ConfigError, match=r"sweep spec point 1 \(programming.width_s='2mV'\)"):
        cosim.run_sweep({"base": "eslami2024.yaml", "grid": {"programming.width_s": ["1u", "2mV"]}}, tmp_path / "s")
    assert not (tmp_path / "s").exists()  # refused before anything was written


def test_characterize_sot_on_the_twin_returns_its_tables(tmp_path):
    summaries = []
    result = cosim.characterize("sot_mtj", tmp_path, width="w100", instances=2, backend="twin", pulses=20, points=5,
                                coarse_points=5, coarse_pulses=10, progress=lambda name, s: summaries.append(name))
    assert summaries == ["w100"] and result.family == "sot_mtj" and result.out == tmp_path
    assert set(result.tables) == {"sot_points", "sot_fits", "sot_summary"}
    assert len(result.tables["sot_fits"]) == 2 and all(p.is_file() for p in result.files)


@pytest.mark.spice
def test_every_family_characterises_through_one_call_and_the_generic_command(tmp_path):
    """The domain-wall synapse has no command of its own in the CLI: `cosim characterize dw_synapse -s …` is
    built from its Characterization options. Its read circuit in ngspice reads "1" as often as p(w) says."""
    from click.testing import CliRunner

    from cosim.cli import main

    result = CliRunner().invoke(main, ["characterize", "dw_synapse", "-s", "reads=400", "-s", "points=5",
                                       "--out", str(tmp_path / "dw")])
    assert result.exit_code == 0, result.output
    curve = pd.read_csv(tmp_path / "dw" / "probability_ellis2023.csv")
    assert len(curve) == 4 and (curve["sense_errors"] == 0).all()  # p = 2 % is below the preset's floor d
    assert (curve["z"].abs() < 4).all()  # binomial: 400 reads per point
    assert (tmp_path / "dw" / "probability_ellis2023.png").stat().st_size > 0
    bad = CliRunner().invoke(main, ["characterize", "dw_synapse", "-s", "reads=3", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "reads" in bad.output and "Traceback" not in bad.output
    assert "dw_synapse" in CliRunner().invoke(main, ["characterize", "--help"]).output


def test_a_sweep_spec_file_and_the_same_spec_as_a_mapping_make_the_same_sweep(tmp_path):
    """The mapping finds the folder the file's sweep wrote complete: the same points, none run again."""
    spec = {"base": "eslami2024.yaml", "set": {"backend": "twin", **QUICK}, "grid": {"circuit.wire_ohm": ["1", "2"]}}
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec))
    from_file = cosim.run_sweep(path, tmp_path / "sweep", workers=1)
    assert from_file["circuit.wire_ohm"].tolist() == [1.0, 2.0] and set(from_file.status) == {"ok"}
    finished = {p: (p / "metrics.json").stat().st_mtime_ns for p in (tmp_path / "sweep" / "points").iterdir()}
    from_mapping = cosim.run_sweep(spec, tmp_path / "sweep", workers=1)
    assert from_mapping.point_id.tolist() == from_file.point_id.tolist() and set(from_mapping.status) == {"ok"}
    assert {p: (p / "metrics.json").stat().st_mtime_ns for p in finished} == finished
