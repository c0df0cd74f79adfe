"""Sweeps: spec validation, point expansion, local and Dask execution, failures, resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from cosim import sweep as sweeps
from cosim.cli import main
from cosim.devices.msdc import model as msdc
from cosim.errors import ConfigError

FAST = {"backend": "twin", "training.epochs": 2, "evaluation.repeats": 1, "data.n_test": 10,
        "programming.reset_pulse": False}
COMPARED = ["point", "point_id", "device.preset", "seed", "status", "test_accuracy", "train_accuracy", "energy_J",
            "circuit_time_s", "pulses"]


def write_spec(tmp_path: Path, **spec) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": FAST, **spec}, sort_keys=False))
    return path


@pytest.mark.parametrize("spec,message", [
    ({"grid": {"device.preset": []}}, "grid axis 'device.preset' is empty"),
    ({"grids": {"device.preset": ["W"]}}, "unknown key 'grids'; allowed: base, set, grid, zip, random, seeds"),
    ({"grid": {"device.presett": ["W"]}}, "unknown key 'device.presett'"),
    ({"grid": {"training.learning_rate": ["fast"]}}, "training.learning_rate = 'fast'"),
    ({"zip": {"training.noise": [0.0, 0.1], "training.learning_rate": [0.1]}}, "same length"),
    ({"seeds": 0}, "seeds must be a count in [1, 10000]"),
    ({"random": {"n": 2, "ranges": {"training.noise": [0.3, 0.1]}}}, "need low <= high"),
    ({"grid": {"training.noise": [0.1]}, "zip": {"training.noise": [0.2]}}, "more than one place: training.noise"),
    ({"base": "nowhere.yaml"}, "base = 'nowhere.yaml': no such experiment file"),
])
def test_bad_specs_name_the_key(tmp_path, spec, message):
    with pytest.raises(ConfigError) as info:
        sweeps.expand(write_spec(tmp_path, **spec))
    assert message in str(info.value)


def test_points_are_grid_times_zip_times_random_times_seeds(tmp_path):
    spec = write_spec(tmp_path, grid={"device.preset": ["W", "Cr", "C"]},
                      zip={"training.noise": [0.0, 0.1], "training.learning_rate": [0.2, 0.1]},
                      random={"n": 2, "seed": 5, "ranges": {"evaluation.input_noise": [0.0, 0.3]}}, seeds=[3, 4])
    sweep = sweeps.expand(spec)
    assert len(sweep.points) == 3 * 2 * 2 * 2
    assert sweep.axes == ["device.preset", "training.noise", "training.learning_rate", "evaluation.input_noise", "seed"]
    assert {p.config["seed"] for p in sweep.points} == {3, 4}
    assert len({p.id for p in sweep.points}) == len(sweep.points)
    again = sweeps.expand(spec)  # random samples are reproducible from their seed
    assert [p.values for p in again.points] == [p.values for p in sweep.points]
    assert all(0.0 <= p.values["evaluation.input_noise"] <= 0.3 for p in sweep.points)


def run_cli(*args: str) -> "click.testing.Result":
    return CliRunner().invoke(main, ["sweep", *args])


def test_sweep_runs_records_failures_and_resumes(tmp_path):
    params = tmp_path / "fitted.yaml"
    spec = write_spec(tmp_path, grid={"device.preset": ["Cr", "C"], "device.params_file": [None, str(params)]})
    out = tmp_path / "out"

    def lose_the_parameter_file(plan, todo) -> None:  # every point validated with it; two fail without it
        params.unlink()

    msdc.write_params_file(msdc.load_preset("Cr"), params)
    first = sweeps.run(spec, out, workers=2, on_start=lose_the_parameter_file)
    assert (first.done, first.failed, first.skipped) == (2, 2, 0)
    frame = pd.read_parquet(out / "results.parquet")
    assert len(frame) == 4 and sorted(frame["status"]) == ["failed", "failed", "ok", "ok"]
    failed = frame[frame["status"] == "failed"]
    assert failed["error"].str.contains("fitted.yaml: cannot read: no such file").all()
    assert (frame.loc[frame["status"] == "ok", "test_accuracy"] >= 0).all()
    assert len(list((out / "points").iterdir())) == 4
    # rerunning runs only what is not done (the failed points are retried, the finished ones kept)
    stamps = {p.name: (p / "metrics.json").stat().st_mtime_ns for p in (out / "points").iterdir()
              if (p / "metrics.json").exists()}
    msdc.write_params_file(msdc.load_preset("Cr"), params)
    second = sweeps.run(spec, out, workers=2, on_start=lose_the_parameter_file)
    assert (second.done, second.failed, second.skipped) == (0, 2, 2)
    assert stamps == {p.name: (p / "metrics.json").stat().st_mtime_ns for p in (out / "points").iterdir()
                      if (p / "metrics.json").exists()}
    # a changed spec is refused in the same directory unless --force
    changed = write_spec(tmp_path, grid={"device.preset": ["Cr", "W"]})
    refused = run_cli(str(changed), "--out", str(out))
    assert refused.exit_code == 2 and "different spec" in refused.output
    plot = run_cli("plot", str(out), "--x", "device.preset", "--y", "pulses")
    assert plot.exit_code == 0 and (out / "pulses_vs_device.preset.png").stat().st_size > 1000
    bad_plot = run_cli("plot", str(out), "--x", "device.preset", "--y", "nonsense")
    assert bad_plot.exit_code == 2 and "--y 'nonsense' is not a column" in bad_plot.output


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[COMPARED].sort_values("point").reset_index(drop=True)


def test_a_sweep_killed_midway_resumes_to_the_uninterrupted_result(tmp_path):
    spec = write_spec(tmp_path, grid={"device.preset": ["Cr", "C"]}, seeds=3)
    reference = sweeps.run(spec, tmp_path / "reference", workers=2).frame
    out = tmp_path / "killed"

    def finished() -> int:
        points = out / "points"
        return sum(sweeps.point_status(p) == "done" for p in points.glob("p-*")) if points.exists() else 0

    command = [sys.executable, "-m", "cosim.cli", "sweep", str(spec), "--out", str(out), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and finished() < 1:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGSTOP)  # freeze driver and worker first: no point finishes while we look
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # the point folders are the record (results.parquet is rebuilt from them, and may lag by the point that was
    # being written when the kill landed)
    kept = finished()
    assert 1 <= kept < 6, "the kill must land midway"
    resumed = sweeps.run(spec, out, workers=2)
    assert resumed.skipped == kept
    assert resumed.done == 6 - kept and resumed.failed == 0
    assert len(list((out / "points").iterdir())) == 6  # no duplicates
    pd.testing.assert_frame_equal(comparable(resumed.frame), comparable(reference))


def test_dask_local_cluster_gives_the_local_pool_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = write_spec(tmp_path, grid={"device.preset": ["Cr", "C"]}, seeds=2)
    local = sweeps.run(spec, tmp_path / "local", workers=2).frame
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = sweeps.run(spec, tmp_path / "dask", workers=2, scheduler=cluster.scheduler_address).frame
    assert (remote["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(remote), comparable(local))


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended (its parent, here init, has not reaped it yet)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_a_second_driver_is_refused_and_a_killed_driver_takes_its_workers_and_lock_along(tmp_path):
    spec = write_spec(tmp_path, grid={"device.preset": ["Cr", "C"]}, set={**FAST, "training.epochs": 400})
    out, temp = tmp_path / "out", tmp_path / "tmp"
    temp.mkdir()
    command = [sys.executable, "-m", "cosim.cli", "sweep", str(spec), "--out", str(out), "--workers", "2"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env={**os.environ, "TMPDIR": str(temp)})
    try:
        deadline = time.time() + 120
        while len(list((out / sweeps.WORK_DIR).glob("p-*/run/INCOMPLETE"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert driver.poll() is None, "the sweep ended before both workers were training"
        # a second driver on the same folder stops at once, naming the folder and the holder
        second = run_cli(str(spec), "--out", str(out))
        assert second.exit_code == 2 and second.stderr.count("\n") == 1
        assert f"{out} is in use by another cosim sweep (pid {driver.pid})" in second.stderr
        workers = children_of(driver.pid)
        assert len(workers) >= 2
        driver.kill()
        driver.wait()
        deadline = time.time() + 5
        while any(alive(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers), "workers outlived their driver by more than 5 s"
    finally:
        os.killpg(driver.pid, signal.SIGKILL) if driver.poll() is None else None
    assert (out / sweeps.WORK_DIR).exists()  # what the killed driver could not clean up ...
    quick = write_spec(tmp_path, grid={"device.preset": ["Cr", "C"]})
    rerun = run_cli(str(quick), "--out", str(out), "--workers", "2", "--force")  # ... the lock is gone with it
    assert rerun.exit_code == 0, rerun.output
    assert not (out / sweeps.WORK_DIR).exists()  # ... and the next driver removes it
    assert list(temp.iterdir()) == []  # workers' temporary files live in the scratch folders, not in TMPDIR
