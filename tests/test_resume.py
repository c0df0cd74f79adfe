"""Interrupted training runs: SIGKILL or SIGINT leaves the run directory marked incomplete, and
`cosim train --resume DIR` continues from the last finished epoch to the uninterrupted result, bit for bit
(every file except the wall times). A checkpoint that is corrupt, or that belongs to another config, is
refused with one line naming it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cosim import experiments
from cosim import runs
from cosim.cli import main
from cosim.experiments import load_experiment
from cosim.resources import data_file


def checkpoint_epoch(run_dir: Path) -> int:
    """The last epoch checkpointed in `run_dir` (0: none yet), read without checking the config."""
    try:
        with np.load(run_dir / runs.CHECKPOINT, allow_pickle=False) as data:
            return int(json.loads(bytes(data["__meta__"]).decode())["epoch"])
    except (OSError, ValueError, KeyError, EOFError):
        return 0


def cosim(*args: str) -> subprocess.Popen:
    # SIGINT back to its default disposition: a test run started in the background of a non-interactive shell
    # inherits it ignored, and Python then installs no Ctrl-C handler
    return subprocess.Popen([sys.executable, "-m", "cosim.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err


def interrupted_run(run_dir: Path, args: list[str], kills: list[tuple[int, int]]) -> list[int]:
    """Train into `run_dir`, sending kills[i][1] once epoch kills[i][0] is checkpointed, then `--resume`
    after each interruption and once more to the end. Returns the epoch each interruption left behind."""
    stopped = []
    process = cosim("train", "--out", str(run_dir), *args)
    for epoch, sig in kills:
        deadline = time.time() + 300
        while checkpoint_epoch(run_dir) < epoch and process.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be interrupted"
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
        assert (run_dir / runs.INCOMPLETE).exists() and not (run_dir / "metrics.json").exists(), (process.returncode, err)
        if sig == signal.SIGINT:
            assert process.returncode == 130 and "cosim train --resume" in err and "Traceback" not in err
        stopped.append(checkpoint_epoch(run_dir))
        process = cosim("train", "--resume", str(run_dir))
    finish(process)
    return stopped


def assert_same_run(got: Path, want: Path) -> None:
    """Every file of the two runs is identical, except for wall times."""
    assert not (got / runs.INCOMPLETE).exists() and not (got / runs.CHECKPOINT).exists()
    ledger, ledger_want = pd.read_parquet(got / "ledger.parquet"), pd.read_parquet(want / "ledger.parquet")
    pd.testing.assert_frame_equal(ledger.drop(columns="wall_time_s"), ledger_want.drop(columns="wall_time_s"),
                                  check_exact=True)
    states, states_want = runs.load_states(got), runs.load_states(want)
    assert states.keys() == states_want.keys()
    for key in states:
        assert np.array_equal(states[key], states_want[key]), key
    metrics, metrics_want = (json.loads((d / "metrics.json").read_text()) for d in (got, want))
    metrics.pop("wall_time_s")
    metrics_want.pop("wall_time_s")
    assert metrics == metrics_want
    files = sorted(str(p.relative_to(want)) for p in want.rglob("*") if p.is_file())
    assert files == sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file())
    for name in files:
        if name.endswith((".csv", ".yaml", ".cir")):
            assert (got / name).read_bytes() == (want / name).read_bytes(), name


def reference_run(tmp_path_factory, args: list[str]) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    finish(cosim("train", "--out", str(out), *args))
    return out


SHORT = ["-s", "training.epochs=6"]  # the default experiment (spice backend), fewer epochs


@pytest.fixture(scope="module")
def short_reference(tmp_path_factory):
    return reference_run(tmp_path_factory, SHORT)


@pytest.mark.spice
def test_a_run_killed_twice_resumes_to_the_uninterrupted_result_bit_for_bit(tmp_path, short_reference):
    run_dir = tmp_path / "interrupted"
    stopped = interrupted_run(run_dir, SHORT, [(2, signal.SIGKILL), (4, signal.SIGINT)])
    assert 2 <= stopped[0] < 4 <= stopped[1] < 6, stopped
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, 7))  # no epoch lost or repeated
    assert_same_run(run_dir, short_reference)


def test_the_twin_backend_resumes_bit_for_bit_too(tmp_path_factory, tmp_path):
    args = ["--backend", "twin", "-s", "training.epochs=12", "-s", "evaluation.repeats=1", "-s", "data.n_test=10"]
    reference = reference_run(tmp_path_factory, args)
    run_dir = tmp_path / "interrupted"
    stopped = interrupted_run(run_dir, args, [(4, signal.SIGKILL)])
    assert 4 <= stopped[0] < 12
    assert_same_run(run_dir, reference)


@pytest.mark.spice
@pytest.mark.slow
def test_the_default_run_killed_at_several_epochs_resumes_bit_for_bit(tmp_path_factory, tmp_path):
    """The main job as it ships (30 epochs), killed with SIGKILL after epochs 9, 18 and 27."""
    reference = reference_run(tmp_path_factory, [])
    run_dir = tmp_path / "interrupted"
    stopped = interrupted_run(run_dir, [], [(9, signal.SIGKILL), (18, signal.SIGKILL), (27, signal.SIGKILL)])
    assert 9 <= stopped[0] < 18 <= stopped[1] < 27 <= stopped[2] < 30, stopped
    assert_same_run(run_dir, reference)


# --- refusals ------------------------------------------------------------------------------------------


class Stop(Exception):
    pass


@pytest.fixture
def interrupted(tmp_path) -> Path:
    """A twin run stopped after its second epoch: INCOMPLETE, config.yaml and a checkpoint of epoch 2."""
    cfg = load_experiment(data_file("sweeps", "eslami2024.yaml"),
                          ["backend=twin", "training.epochs=5", "evaluation.repeats=1", "data.n_test=10"])

    def stop_after_two(epoch: int, record: dict) -> None:
        if epoch == 2:
            raise Stop

    run_dir = tmp_path / "run"
    with pytest.raises(Stop):
        experiments.run_to_dir(cfg, run_dir, stop_after_two)
    assert checkpoint_epoch(run_dir) == 2
    return run_dir


def resave(path: Path, **changes) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    np.savez(path, **arrays)


def edit_config(run_dir: Path) -> None:
    text = (run_dir / "config.yaml").read_text()
    assert "learning_rate: 0.2" in text
    (run_dir / "config.yaml").write_text(text.replace("learning_rate: 0.2", "learning_rate: 0.3"))


CORRUPTIONS = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "not a readable checkpoint"),
    "garbage": (lambda p: p.write_bytes(b"\x93NUMPY garbage" * 50), "not a readable checkpoint"),
    "pickled-object-array": (lambda p: resave(p, x=np.array([{"a": 1}, None], dtype=object)),
                             "not a readable checkpoint"),
    "no-metadata": (lambda p: np.savez(p, x=np.zeros(30)), "not a readable checkpoint"),
    "wrong-shape": (lambda p: resave(p, x=np.zeros(7)), "x has shape (7,)"),
    "config-edited": (lambda p: edit_config(p.parent), "saved under another config"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_resume_refuses_a_corrupt_checkpoint_or_a_changed_config_in_one_line(interrupted, kind):
    corrupt, message = CORRUPTIONS[kind]
    checkpoint = interrupted / runs.CHECKPOINT
    corrupt(checkpoint)
    before = checkpoint.read_bytes()
    result = CliRunner().invoke(main, ["train", "--resume", str(interrupted)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(checkpoint) in lines[0], result.stderr
    assert message in lines[0]
    assert checkpoint.read_bytes() == before and (interrupted / runs.INCOMPLETE).exists()  # nothing touched


def test_resume_refuses_finished_runs_and_extra_options(tmp_path):
    done = tmp_path / "done"
    args = ["--backend", "twin", "-s", "training.epochs=2", "-s", "evaluation.repeats=1", "-s", "data.n_test=10"]
    assert CliRunner().invoke(main, ["train", "--out", str(done), *args]).exit_code == 0
    again = CliRunner().invoke(main, ["train", "--resume", str(done)])
    assert again.exit_code == 2 and "not an interrupted run" in again.output
    mixed = CliRunner().invoke(main, ["train", "--resume", str(done), "--seed", "3"])
    assert mixed.exit_code == 2 and "drop --seed" in mixed.output
