"""Interrupted training runs: SIGKILL or SIGINT leaves the run directory marked incomplete, and
`cosim train --resume DIR` continues from the last finished epoch to the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cosim import runs
from cosim.cli import main

ARGS = ["-s", "training.epochs=8", "-s", "evaluation.repeats=2", "-s", "data.n_test=40"]
SAME = ["test_accuracy", "train_accuracy", "accuracy_input_noise", "accuracy_conductance_error", "pulses",
        "energy_J", "circuit_time_s", "training_energy_with_peripherals_J"]


def checkpoint_epoch(run_dir) -> int:
    try:
        saved = runs.load_checkpoint(run_dir)
    except (OSError, ValueError, KeyError):
        return 0
    return 0 if saved is None else int(saved[1]["epoch"])


def interrupt_after(run_dir, epochs: int, sig: int, backend: str) -> None:
    command = [sys.executable, "-m", "cosim.cli", "train", "--backend", backend, "--out", str(run_dir), *ARGS]
    # SIGINT back to its default disposition: a test run started in the background of a non-interactive shell
    # inherits it ignored, and Python then installs no Ctrl-C handler
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 180
    while time.time() < deadline and checkpoint_epoch(run_dir) < epochs and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    return err


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    result = CliRunner().invoke(main, ["train", "--backend", "spice", "--out", str(out), *ARGS])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.spice
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, reference, sig):
    run_dir = tmp_path / "interrupted"
    err = interrupt_after(run_dir, 3, sig, "spice")
    assert (run_dir / runs.INCOMPLETE).exists() and not (run_dir / "metrics.json").exists()
    stopped_at = checkpoint_epoch(run_dir)
    assert 3 <= stopped_at < 8
    if sig == signal.SIGINT:
        assert "cosim train --resume" in err and "Traceback" not in err
    resumed = CliRunner().invoke(main, ["train", "--resume", str(run_dir)])
    assert resumed.exit_code == 0, resumed.output
    assert not (run_dir / runs.INCOMPLETE).exists() and not (run_dir / runs.CHECKPOINT).exists()
    want = json.loads((reference / "metrics.json").read_text())
    got = json.loads((run_dir / "metrics.json").read_text())
    for key in SAME:
        assert got[key] == pytest.approx(want[key], rel=1e-9), key
    # a fresh simulator resumes from the checkpointed states: the transient solver's own round-off differs
    # (measured up to ~5e-8 relative on one state), every decision and total is the same
    np.testing.assert_allclose(runs.load_states(run_dir)["msdc_x"], runs.load_states(reference)["msdc_x"], rtol=1e-6)
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, 9))  # no epoch lost or repeated
    pd.testing.assert_frame_equal(history, pd.read_csv(reference / "history.csv"))
    ledger, ledger_ref = pd.read_parquet(run_dir / "ledger.parquet"), pd.read_parquet(reference / "ledger.parquet")
    assert len(ledger) == len(ledger_ref)
    # per event the same round-off shows on the smallest reads (~1e-13 J): up to ~3e-6 relative measured
    np.testing.assert_allclose(ledger["energy_J"], ledger_ref["energy_J"], rtol=1e-5, atol=1e-30)
    assert (ledger["phase"] == ledger_ref["phase"]).all() and (ledger["device"] == ledger_ref["device"]).all()


def test_resume_refuses_finished_runs_and_extra_options(tmp_path):
    done = tmp_path / "done"
    assert CliRunner().invoke(main, ["train", "--backend", "twin", "--out", str(done), *ARGS]).exit_code == 0
    again = CliRunner().invoke(main, ["train", "--resume", str(done)])
    assert again.exit_code == 2 and "not an interrupted run" in again.output
    mixed = CliRunner().invoke(main, ["train", "--resume", str(done), "--seed", "3"])
    assert mixed.exit_code == 2 and "drop --seed" in mixed.output
