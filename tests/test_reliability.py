"""Simulator failures and long sessions: the convergence retry, timeouts, interrupts, the command-history
hazard, a sweep worker killed mid-run, and memory that stays flat over 2000 steps."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from cosim.errors import ConfigError, ConvergenceError, SimulationTimeout
from cosim.netlist import ir
from cosim.spice.engine import with_safer_options

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def failed_dir(monkeypatch, tmp_path) -> Path:
    """Failing netlists go to this test's folder (and can be counted there)."""
    path = tmp_path / "failed"
    monkeypatch.setenv("COSIM_FAILED_DIR", str(path))
    return path


def stiff() -> ir.Netlist:
    """A node held at 0.5 V by a very steep current sink (1 mA·tanh(1e6·ΔV)) on 1 fF: with ngspice's
    defaults (trapezoidal rule, tmax 100 µs) the step shrinks below delmin ("Timestep too small"); with
    method=gear and a 10× smaller tmax it runs in ~150 points. With trap and tmax 10 µs it never finishes."""
    return ir.Netlist("stiff", [
        ir.VoltageSource("V1", "in", "0", ir.Pulse(0.0, 1.0, 1e-6, 1e-9, 1e-9, 1e-6, 2e-6)),
        ir.Resistor("R1", "in", "out", 1e3),
        ir.BehavioralSource("B1", "out", "0", "I", "1e-3*tanh(1e6*(V(out)-0.5))"),
        ir.Capacitor("C1", "out", "0", 1e-15),
    ])


def runaway() -> ir.Netlist:
    """dV/dt = exp(1000·V)/1 pF blows up in finite time: no integration method gets past it."""
    return ir.Netlist("runaway", [
        ir.BehavioralSource("B1", "0", "out", "I", "exp(1000*V(out))"),
        ir.Capacitor("C1", "out", "0", 1e-12),
    ])


def rc() -> ir.Netlist:
    return ir.Netlist("rc", [ir.VoltageSource("V1", "in", "0", ir.Dc(1.0)), ir.Resistor("R1", "in", "out", 1e3),
                             ir.Capacitor("C1", "out", "0", 1e-6, ic_V=0.0)])


def rc_works(engine) -> None:
    """The engine still simulates correctly: an RC step response after one time constant."""
    engine.load(rc())
    v = engine.tran(1e-5, 1e-3, ["v(out)"], last_only=True)["v(out)"][0]
    assert v == pytest.approx(1 - np.exp(-1.0), rel=1e-3)


STIFF_RUN = dict(step_s=1e-9, stop_s=4e-6, vectors=["v(out)"], tmax_s=1e-4)


# --- convergence -------------------------------------------------------------------------------------------


@pytest.mark.spice
@pytest.mark.parametrize("engine_name", ["shared_engine", "batch_engine"])
def test_a_stiff_step_converges_on_the_retry_with_safer_settings(engine_name, request, failed_dir):
    from cosim.spice.batch import BatchEngine

    engine = request.getfixturevalue(engine_name)
    engine.load(stiff())
    before = engine.retries
    w = engine.tran(**STIFF_RUN)
    assert engine.retries == before + 1
    # the answer is the one a run with the safer settings from the start gives
    reference = BatchEngine(seed=engine.seed, convergence_retry=False)
    reference.load(with_safer_options(stiff()))
    r = reference.tran(1e-9, 4e-6, ["v(out)"], tmax_s=1e-5)
    assert w["time"].shape == r["time"].shape
    np.testing.assert_allclose(w["v(out)"], r["v(out)"], rtol=0, atol=1e-9)
    assert w["v(out)"][-1] == pytest.approx(0.5, abs=1e-3)  # the sink holds the node at 0.5 V
    assert not list(failed_dir.glob("*.cir"))  # resolved: no failing netlist left behind
    # the safer settings were for that run only: the next identical run fails first and is retried again
    engine.tran(**STIFF_RUN)
    assert engine.retries == before + 2
    rc_works(engine)


@pytest.mark.spice
@pytest.mark.parametrize("engine_name", ["shared_engine", "batch_engine"])
def test_a_circuit_that_cannot_converge_raises_after_one_retry_with_both_netlists_kept(engine_name, request,
                                                                                        failed_dir):
    engine = request.getfixturevalue(engine_name)
    engine.load(runaway())
    before = engine.retries
    with pytest.raises(ConvergenceError) as info:
        engine.tran(1e-9, 1e-3, ["v(out)"])
    message = str(info.value)
    assert "Timestep too small" in message
    assert "the retry with method=gear, itl4=100 and a 10x smaller maximum step failed too" in message
    assert "\n" not in message and engine.retries == before
    first, retry = info.value.netlist_path, info.value.retry_netlist_path
    assert first.parent == failed_dir and retry.parent == failed_dir
    assert str(first) in message and str(retry) in message
    original = first.read_text()
    assert "B1 0 out I=exp(1000*V(out))" in original and ".tran 1e-09 0.001 0.0 1e-09 uic" in original
    assert "method" not in original  # the file reproduces the failing run as it was
    safer = retry.read_text()
    assert ".options method=gear itl4=100" in safer and ".tran 1e-09 0.001 0.0 1e-10 uic" in safer
    rc_works(engine)


@pytest.mark.spice
def test_without_the_retry_the_first_failure_is_raised():
    from cosim.spice.batch import BatchEngine

    engine = BatchEngine(convergence_retry=False)
    engine.load(stiff())
    with pytest.raises(ConvergenceError) as info:
        engine.tran(**STIFF_RUN)
    assert "the retry with" not in str(info.value) and engine.retries == 0


def test_engines_refuse_a_timeout_that_is_not_a_positive_finite_number():
    from cosim.spice.batch import BatchEngine

    for bad in (0, -1.0, float("nan"), float("inf"), "10", True):
        with pytest.raises(ConfigError, match="timeout_s must be a finite number of seconds > 0"):
            BatchEngine(timeout_s=bad)


# --- hangs and interrupts ----------------------------------------------------------------------------------


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["spice", "batch"])
def test_a_hung_transient_is_stopped_by_the_timeout_and_the_engine_goes_on(backend, failed_dir):
    from cosim.spice.batch import BatchEngine
    from cosim.spice.shared import SharedEngine

    engine = (SharedEngine if backend == "spice" else BatchEngine)(num_threads=1, timeout_s=1.0)
    engine.load(stiff())
    started = time.perf_counter()
    with pytest.raises(SimulationTimeout) as info:
        engine.tran(1e-9, 4e-6, ["v(out)"], tmax_s=1e-5)  # trapezoidal ringing: the step collapses, forever
    elapsed = time.perf_counter() - started
    assert 1.0 <= elapsed < 12.0  # the timeout, plus at most the 10 s allowed for ngspice to stop
    assert engine.retries == 0  # a timeout is not retried
    kept = info.value.netlist_path
    assert kept.parent == failed_dir and kept.name.startswith("timeout-") and str(kept) in str(info.value)
    assert ".tran 1e-09 4e-06 0.0 1e-05 uic" in kept.read_text()
    engine.timeout_s = 60.0
    rc_works(engine)


@pytest.mark.spice
def test_an_interrupt_while_waiting_stops_the_background_run(monkeypatch):
    from cosim.spice.shared import SharedEngine

    engine = SharedEngine(num_threads=1, timeout_s=60.0)
    engine.load(stiff())
    finished = engine._ng.finished
    real_wait = finished.wait
    calls = []

    def interrupted(timeout=None):
        calls.append(timeout)
        if len(calls) == 1:
            raise KeyboardInterrupt  # Ctrl-C right after the run was started (its thread may not be up yet)
        return real_wait(timeout)

    monkeypatch.setattr(finished, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.tran(1e-9, 4e-6, ["v(out)"], tmax_s=1e-5)
    monkeypatch.undo()
    assert len(calls) == 2 and engine._ng.finished.is_set()  # the engine halted the run before letting go
    assert not engine._ng.running() and engine._ng.broken is None
    rc_works(engine)


@pytest.mark.spice
def test_a_ctrl_c_that_lands_in_an_ngspice_callback_is_not_lost():
    """ngspice reports progress and output through Python callbacks; a SIGINT arriving during a call runs its
    handler in the first callback, where cffi used to print and drop the KeyboardInterrupt."""
    from cosim.spice.shared import SharedEngine

    engine = SharedEngine(num_threads=1)
    engine.load(rc())
    timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
    started = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            engine._ng.command("tran 1e-8 1e-3 0 1e-8 uic")  # a foreground run of ~0.5 s, with progress callbacks
    finally:
        timer.cancel()
    assert time.perf_counter() - started > 0.1  # the signal came during the call, not before it
    engine._ng.command("destroy all")
    rc_works(engine)


# --- the command history -----------------------------------------------------------------------------------


@pytest.mark.spice
def test_command_history_is_cleared_only_between_runs(monkeypatch):
    from cosim.spice.shared import SharedEngine

    engine = SharedEngine(num_threads=1, history_limit=2)  # a clear after almost every command
    ng = engine._ng
    real_clear = ng.clear_history
    while_running = []

    def spy() -> bool:
        while_running.append(ng.running() or not ng.finished.is_set())
        return real_clear()

    monkeypatch.setattr(ng, "clear_history", spy)
    engine.load(rc())
    for step in range(300):
        engine.alter("C1", ic_V=(step % 10) / 10)
        engine.tran(1e-5, 1e-4, ["v(out)"], last_only=True)
    assert len(while_running) >= 300 and not any(while_running)
    assert ng._stdout == []  # no message list grows with the session
    monkeypatch.undo()
    # and the library itself refuses to clear while a background run is active
    engine.load(stiff())
    ng.finished.clear()
    ng.command("bg_tran 1e-09 4e-06 0 1e-05 uic")  # the hanging run
    try:
        time.sleep(0.2)
        assert ng.running() and ng.clear_history() is False
    finally:
        engine._halt()
    assert not ng.running() and ng.clear_history() is True
    rc_works(engine)


def _load_soak():
    spec = importlib.util.spec_from_file_location("cosim_soak", ROOT / "benchmarks" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.spice
def test_memory_stays_flat_over_2000_steps_of_alter_and_tran():
    """benchmarks/soak.py at 2000 steps on the crossbar (the 20 000-step board run is the benchmark)."""
    report = _load_soak().soak(steps=2000, window=500, warmup=100, circuit="crossbar")
    # measured: +0.2 to +1.6 MB over 2000 steps; 10 MB leaves room for allocator noise, a leak of 5 kB/step fails
    assert report.growth_MB < 10.0, report
    # the same step takes 2.4 to 4.2 ms CPU with the load of a shared 2-core machine: only a 3x slowdown fails
    # here (the 10 % claim is the benchmark's, with its fresh-process control)
    assert report.step_ms_end < 3.0 * report.step_ms_start, report
    assert report.retries == 0 and report.stdout_lines_kept == 0


# --- sweeps ------------------------------------------------------------------------------------------------


FAST = {"backend": "twin", "training.epochs": 1, "evaluation.repeats": 1, "data.n_test": 10,
        "programming.reset_pulse": False}


def test_a_killed_sweep_worker_fails_only_its_point_and_the_point_reruns(tmp_path):
    """SIGKILL to a worker in the middle of its training: its point fails, the driver removes the worker's
    scratch folder at once, the other point finishes, and a rerun runs only the killed point."""
    from cosim import sweep as sweeps

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": {**FAST, "training.epochs": 8},
                                    "grid": {"device.preset": ["Cr", "C"]}}))
    out = tmp_path / "out"
    killed: list[Path] = []
    stop = threading.Event()

    def kill_the_first_worker_while_it_trains() -> None:
        while not stop.is_set():
            training = list((out / sweeps.WORK_DIR).glob("p-*/run/INCOMPLETE"))
            children = [p for p in multiprocessing.active_children() if p.pid]
            if training and children:
                os.kill(children[0].pid, signal.SIGKILL)
                killed.append(training[0].parent.parent)
                return
            time.sleep(0.01)

    gone_when_reported = []

    def on_outcome(outcome) -> None:
        if outcome.error:
            gone_when_reported.append(not (out / sweeps.WORK_DIR / outcome.point.dirname).exists())

    killer = threading.Thread(target=kill_the_first_worker_while_it_trains, daemon=True)
    killer.start()
    try:
        summary = sweeps.run(spec, out, workers=1, on_outcome=on_outcome)
    finally:
        stop.set()
        killer.join(5)
    assert len(killed) == 1 and killed[0].name == f"p-{summary.frame.loc[0, 'point_id']}"
    assert (summary.done, summary.failed) == (1, 1)
    frame = summary.frame.set_index("point")
    assert frame.loc[0, "status"] == "failed" and frame.loc[0, "error"] == "worker process died (exit code -9)"
    assert frame.loc[1, "status"] == "ok" and 0 <= frame.loc[1, "test_accuracy"] <= 1
    assert gone_when_reported == [True] and not (out / sweeps.WORK_DIR).exists()
    again = sweeps.run(spec, out, workers=1)  # the killed point runs again; the finished one is kept
    assert (again.skipped, again.done, again.failed) == (1, 1, 0)
    assert (again.frame["status"] == "ok").all()


# --- files and folders -------------------------------------------------------------------------------------


def test_atomic_writes_from_many_threads_to_one_file_never_collide(tmp_path):
    """Temp names are unique per process, thread and call: concurrent writers of one file each replace it
    whole (a fixed temp name made one writer rename the other's half-written file, or fail)."""
    from cosim import atomic

    target = tmp_path / "results.txt"
    texts = [f"writer {k}\n" * 20000 for k in range(8)]
    errors = []

    def write(text: str) -> None:
        try:
            for _ in range(25):
                atomic.write_text(target, text)
        except Exception as exc:  # collected: the assertion below shows them
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and target.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["results.txt"]  # no temp file left behind
    with pytest.raises(RuntimeError):  # a failed write leaves the old file and no temp file
        with atomic.replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert target.read_text() in texts and [p.name for p in tmp_path.iterdir()] == ["results.txt"]


TRAIN = ["train", "--backend", "twin", "-s", "training.epochs=2", "-s", "evaluation.repeats=1", "-s", "data.n_test=10"]


def train(out: Path, *extra: str):
    from click.testing import CliRunner

    from cosim.cli import main

    return CliRunner().invoke(main, [*TRAIN, "--out", str(out), *extra])


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_train_refuses_to_overwrite_a_run_unless_forced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert train(empty).exit_code == 0  # an empty folder is fine
    first = (empty / "metrics.json").read_text()
    refused = one_error_line(train(empty))
    assert f"{empty} already holds a run" in refused and "--force" in refused
    assert (empty / "metrics.json").read_text() == first
    (empty / "notes.txt").write_text("mine")
    (empty / "netlists").mkdir()  # what an earlier run on another backend left: the twin writes no netlists
    (empty / "netlists" / "old.cir").write_text("* old")
    assert train(empty, "--force").exit_code == 0
    assert (empty / "notes.txt").read_text() == "mine"  # only the run's own files are replaced
    assert not (empty / "netlists").exists() and (empty / "metrics.json").read_text() != first
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    (interrupted / "INCOMPLETE").write_text("")
    (interrupted / "config.yaml").write_text("")
    assert train(interrupted).exit_code == 0  # stopped before its first epoch finished: nothing to lose
    (interrupted / "INCOMPLETE").write_text("")
    (interrupted / "checkpoint.npz").write_bytes(b"")  # an interrupted run with finished epochs is kept
    assert "--resume" in one_error_line(train(interrupted))


def test_a_second_train_on_a_locked_folder_is_refused_with_the_holders_pid(tmp_path):
    from cosim import runs

    out = tmp_path / "run"
    with runs.lock(out, "cosim train"):
        line = one_error_line(train(out))
    assert f"{out} is in use by another cosim train (pid {os.getpid()})" in line
    assert not (out / "metrics.json").exists()
    assert train(out).exit_code == 0  # released with its holder


def test_a_planted_symlink_never_sends_run_files_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "run"
    out.mkdir()
    (out / "netlists").symlink_to(outside, target_is_directory=True)
    assert "already holds a run" in one_error_line(train(out))
    line = one_error_line(train(out, "--force"))
    assert f"{out / 'netlists'} is a symlink" in line
    (out / "netlists").unlink()
    (out / "history.csv").symlink_to(outside / "history.csv")
    assert "is a symlink" in one_error_line(train(out, "--force"))
    assert list(outside.iterdir()) == []


def test_a_planted_symlink_in_a_sweep_folder_is_refused(tmp_path):
    from click.testing import CliRunner

    from cosim import sweep as sweeps
    from cosim.cli import main

    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": FAST}))
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "points").symlink_to(outside, target_is_directory=True)
    line = one_error_line(CliRunner().invoke(main, ["sweep", str(spec), "--out", str(out)]))
    assert f"{out / 'points'} is a symlink" in line
    (out / "points").unlink()
    (out / "points").mkdir()
    point = sweeps.expand(spec).points[0]
    (out / "points" / point.dirname).symlink_to(outside, target_is_directory=True)
    line = one_error_line(CliRunner().invoke(main, ["sweep", str(spec), "--out", str(out)]))
    assert f"{out / 'points' / point.dirname} is a symlink" in line
    assert list(outside.iterdir()) == []
