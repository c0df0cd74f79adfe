"""Reports: totals are sums over ledger.parquet, several runs side by side, sweeps one row per point, and
the HTML renders in headless Chromium with every image present."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from cosim import reports
from cosim import sweep as sweeps
from cosim.errors import ConfigError
from cosim.cli import main

SHORT = ["--backend", "twin", "-s", "training.epochs=3", "-s", "evaluation.repeats=1", "-s", "data.n_test=20"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    for name, preset in (("cr", "Cr"), ("c", "C")):
        result = CliRunner().invoke(main, ["train", "--out", str(base / name), "-s", f"device.preset={preset}", *SHORT])
        assert result.exit_code == 0, result.output
    return base / "cr", base / "c"


def test_report_totals_are_sums_over_the_ledger(two_runs, tmp_path):
    run_dir = two_runs[0]
    written = reports.write([run_dir], tmp_path / "report")
    ledger = pd.read_parquet(run_dir / "ledger.parquet")
    totals = pd.read_csv(written["cr_totals"]).iloc[0]
    assert totals["energy_J"] == pytest.approx(ledger["energy_J"].sum(), rel=1e-12)
    assert totals["energy_with_peripherals_J"] == pytest.approx(
        ledger["energy_J"].sum() + ledger["peripheral_energy_J"].sum(), rel=1e-12)
    assert totals["circuit_time_s"] == pytest.approx(ledger["circuit_time_s"].sum(), rel=1e-12)
    assert totals["pulses"] == ledger["pulses"].sum()
    for table in ("cr_by_phase", "cr_by_layer", "cr_by_device", "cr_by_epoch"):
        frame = pd.read_csv(written[table])
        assert frame["energy_J"].sum() == pytest.approx(ledger.loc[ledger[
            {"cr_by_layer": "layer", "cr_by_device": "device"}.get(table, "phase")] != "", "energy_J"].sum()
            if table in ("cr_by_layer", "cr_by_device") else ledger["energy_J"].sum(), rel=1e-9), table
    phases = pd.read_csv(written["cr_by_phase"]).set_index("phase")
    assert phases.loc["set", "pulses"] == ledger.loc[ledger["phase"] == "set", "pulses"].sum()
    inference = ledger[ledger["phase"] == "inference"]
    assert totals["energy_per_inference_J"] == pytest.approx(inference["energy_J"].mean(), rel=1e-12)
    # the metrics the run reported agree with the ledger it saved
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["energy_J"] == pytest.approx(totals["energy_J"], rel=1e-9)
    md = written["report.md"].read_text()
    for png in re.findall(r"\]\(([^)]+\.png)\)", md):
        assert (tmp_path / "report" / png).stat().st_size > 2000, png
    assert "conductance" in md and "pulses per device" in md and "accuracy over training" in md


def test_report_of_two_runs_lists_both(two_runs, tmp_path):
    result = CliRunner().invoke(main, ["report", *map(str, two_runs), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    comparison = pd.read_csv(tmp_path / "r" / "comparison.csv")
    assert list(comparison["run"]) == ["cr", "c"]
    assert list(comparison["preset"]) == ["Cr", "C"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Run cr" in html and "Run c" in html and html.count("data:image/png;base64,") >= 10


def test_sweep_report_has_one_row_per_point(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": {"backend": "twin", "training.epochs": 2,
                                     "evaluation.repeats": 1, "data.n_test": 10}, "grid": {"device.preset": ["Cr", "C"]},
                                     "seeds": 2}, sort_keys=False))
    sweeps.run(spec, tmp_path / "sweep", workers=2)
    written = reports.write([tmp_path / "sweep"], tmp_path / "r")
    points = pd.read_csv(written["sweep_points"])
    assert len(points) == 4 and set(points["device.preset"]) == {"Cr", "C"} and (points["status"] == "ok").all()


def test_runs_with_the_same_folder_name_keep_their_own_sections_and_files(two_runs, tmp_path):
    """`cosim report A/main B/main`: each run is named by the shortest path suffix that tells it apart, in
    section titles and in file names (the second run's files used to replace the first's)."""
    a, b = tmp_path / "A" / "main", tmp_path / "B" / "main"
    shutil.copytree(two_runs[0], a)
    shutil.copytree(two_runs[1], b)
    result = CliRunner().invoke(main, ["report", str(a), str(b), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "r"
    for run, name in ((a, "A_main"), (b, "B_main")):
        totals = pd.read_csv(out / f"{name}_totals.csv").iloc[0]
        assert totals["energy_J"] == pytest.approx(pd.read_parquet(run / "ledger.parquet")["energy_J"].sum(), rel=1e-12)
        assert (out / f"{name}_energy_by_phase.png").stat().st_size > 2000
    assert list(pd.read_csv(out / "comparison.csv")["run"]) == ["A/main", "B/main"]
    md = (out / "report.md").read_text()
    assert "## Run A/main" in md and "## Run B/main" in md and "(A_main_energy_by_phase.png)" in md
    assert not list(out.glob("main_*"))


def test_report_labels_are_the_shortest_distinguishing_path_suffixes(tmp_path):
    paths = [tmp_path / "x" / "a" / "main", tmp_path / "y" / "a" / "main", tmp_path / "z" / "b" / "main",
             tmp_path / "other"]
    assert reports.labels(paths) == ["x/a/main", "y/a/main", "b/main", "other"]
    assert reports.labels([tmp_path / "p" / "a b", tmp_path / "q" / "a_b"]) == ["p/a b", "q/a_b"]  # same file stem
    with pytest.raises(ConfigError, match="given twice"):
        reports.labels([tmp_path / "x", tmp_path / "y" / ".." / "x"])


def test_bad_report_input_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "not a run directory (missing config.yaml" in result.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium')")
def test_html_report_renders_in_headless_chromium(two_runs, tmp_path):
    written = reports.write(list(two_runs), tmp_path / "r")
    html_path = written["report.html"].resolve()
    # every image is embedded, and each decodes to a PNG that the browser can lay out: count rendered images
    probe = tmp_path / "probe.html"
    probe.write_text(html_path.read_text().replace("</body>", """<script>
      window.addEventListener('load', () => {
        const imgs = [...document.images];
        document.title = 'images ' + imgs.length + ' broken ' + imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
      });</script></body>"""))
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
    dom = subprocess.run([*common, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], capture_output=True,
                         text=True, timeout=120)
    title = re.search(r"<title>(images \d+ broken \d+)</title>", dom.stdout)
    assert title, dom.stderr[-2000:]
    images, broken = map(int, re.findall(r"\d+", title.group(1)))
    assert images >= 10 and broken == 0
    shot = tmp_path / "report.png"
    subprocess.run([*common, "--window-size=1200,2400", f"--screenshot={shot}", html_path.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 20000
    keep = Path("/tmp/cosim-report-screenshot.png")
    shutil.copy(shot, keep)
