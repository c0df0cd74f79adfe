"""What the commands print when their output is piped or logged: whole values, never cut or wrapped to a
terminal's 80 columns, and with --json one JSON document on stdout (progress and messages on stderr)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import cosim as cosim_package
from cosim.hil.summary import summarize
from cosim.resources import data_file

ISLAM = ["--backend", "twin", "-s", "training.software_epochs=2", "-s", "training.hil_epochs=1",
         "-s", "network.hidden=4", "-s", "data.max_train=40", "-s", "data.max_test=20"]


def cosim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`cosim ARGS` in a process whose stdout and stderr are pipes, as in a script or a log (no COLUMNS)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    here = str(Path(cosim_package.__file__).resolve().parents[1])  # the cosim under test, from any folder
    env["PYTHONPATH"] = os.pathsep.join([here, *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([sys.executable, "-m", "cosim.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _same(a, b) -> bool:
    """JSON values equal, NaN (written as null) included."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return b is None
    return a == b


def test_piped_output_keeps_every_line_and_value_whole(tmp_path):
    out = tmp_path / "a-folder-with-a-name-long-enough-to-pass-eighty-columns-on-its-own" / "run"
    done = cosim("train", str(data_file("sweeps", "islam2024.yaml")), "--out", str(out), *ISLAM, cwd=tmp_path)
    assert f"→ {out} (islam2024, backend twin, seed 0)" in done.stdout.splitlines()[0]
    assert "…" not in done.stdout
    assert "accuracy, software-trained then deployed" in done.stdout


def test_train_json_is_the_runs_metrics(tmp_path):
    done = cosim("train", str(data_file("sweeps", "islam2024.yaml")), "--out", str(tmp_path / "run"), "--json", *ISLAM,
                 cwd=tmp_path)
    document = json.loads(done.stdout)
    assert document["run"] == str(tmp_path / "run")
    assert _same(json.loads((tmp_path / "run" / "metrics.json").read_text()), document["metrics"])
    assert "cosim train" in done.stderr  # the progress went to stderr


def test_sweep_table_and_sweep_json_hold_every_point_whole(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": {
        "backend": "twin", "training.epochs": 2, "evaluation.repeats": 1, "data.n_test": 10},
        "grid": {"device.preset": ["Cr", "C"], "programming.reset_pulse": [True, False]}}))
    done = cosim("sweep", str(spec), "--out", str(tmp_path / "sweep"), "--workers", "2", cwd=tmp_path)
    headers = [line for line in done.stdout.splitlines() if "point" in line and "status" in line]
    assert len(headers) == 1, done.stdout  # one line: not wrapped
    header = headers[0]
    for column in ("device.preset", "programming.reset_pulse", "test_accuracy", "energy_per_inference_J", "wall_time_s"):
        assert column in header, column
    assert "…" not in done.stdout
    again = cosim("sweep", str(spec), "--out", str(tmp_path / "sweep"), "--json", cwd=tmp_path)  # resumed: all done
    document = json.loads(again.stdout)
    assert (document["done"], document["failed"], document["skipped"]) == (0, 0, 4)
    results = pd.read_parquet(tmp_path / "sweep" / "results.parquet")
    assert [p["device.preset"] for p in document["points"]] == list(results["device.preset"])
    assert [p["energy_J"] for p in document["points"]] == list(results["energy_J"])
    assert [p["programming.reset_pulse"] for p in document["points"]] == [True, False, True, False]


def test_report_json_has_each_runs_totals_and_the_files_written(tmp_path):
    cosim("train", str(data_file("sweeps", "islam2024.yaml")), "--out", str(tmp_path / "run"), *ISLAM, cwd=tmp_path)
    done = cosim("report", str(tmp_path / "run"), "--out", str(tmp_path / "report"), "--json", cwd=tmp_path)
    document = json.loads(done.stdout)
    (run,) = document["runs"]
    ledger = pd.read_parquet(tmp_path / "run" / "ledger.parquet")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    expected = summarize(ledger, metrics.get("training_samples"))
    assert run["run"] == "run" and run["experiment"] == "islam2024" and run["totals"].keys() == expected.keys()
    for key, value in expected.items():
        assert run["totals"][key] == pytest.approx(value, rel=1e-12), key
    assert run["totals"]["energy_J"] == pytest.approx(metrics["energy_J"], rel=1e-9)
    assert {"report.html", "report.md", "run_totals"} <= set(document["files"])
    assert all(Path(path).is_file() for path in document["files"].values())
    assert done.stderr == ""
