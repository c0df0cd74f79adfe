"""Reports: totals are sums over ledger.parquet, several runs side by side, sweeps one row per point, and
the HTML renders in headless Chromium with every image present."""

from __future__ import annotations

import html as html_text
import json
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
from cosim.cli import main
from cosim.errors import ConfigError
from cosim.reports import figures, notes, render
from cosim.reports.load import Run
from cosim.reports.page import Block, Page, Section, ordered_columns, shown_table
from cosim.reports.show import cell, label
from cosim.reports.tables import run_tables

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


# --- what the page says and how it shows numbers ---------------------------------------------------------------


def _run(name: str, experiment: str = "eslami2024", backend: str = "spice", peripheral_J: float = 0.0,
         data: dict | None = None, peripherals: dict | None = None, epochs: int = 5) -> Run:
    """A run as a report loads it, made up: `epochs` epochs of one set pulse each and an inference."""
    rows = [{"phase": "set", "energy_J": 1e-9 * (e + 1), "peripheral_energy_J": peripheral_J, "circuit_time_s": 1e-6,
             "peripheral_time_s": 1e-6 if peripheral_J else 0.0, "wall_time_s": 0.01, "pulses": 1, "samples": 4,
             "device": "d0", "layer": "l1", "epoch": e} for e in range(epochs)]
    rows.append({"phase": "inference", "energy_J": 2e-11, "peripheral_energy_J": peripheral_J, "circuit_time_s": 1e-6,
                 "peripheral_time_s": 0.0, "wall_time_s": 0.01, "pulses": 0, "samples": 1, "device": "", "layer": "",
                 "epoch": -1})
    config = {"experiment": experiment, "seed": 0, "backend": backend, "data": data or {"n_test": 100},
              **({"peripherals": peripherals} if peripherals else {})}
    metrics = {"experiment": experiment, "seed": 0, "backend": backend, "test_accuracy": 0.9}
    history = pd.DataFrame({"epoch": range(1, epochs + 1), "train_accuracy": [0.5 + 0.1 * e for e in range(epochs)]})
    return Run(Path(name), config, metrics, history, pd.DataFrame(rows), label=name)


def test_values_read_in_engineering_units_and_new_ledger_columns_need_no_code():
    assert cell("energy_J", 9.362e-06) == "9.36 µJ" and cell("circuit_time_s", 7.524e-3) == "7.52 ms"
    assert cell("test_accuracy", 0.7906) == "79.1 %" and cell("pulses", 180305920) == "180,305,920"
    assert cell("loss", 1.2e-5) == "1.2×10⁻⁵" and cell("energy_J", float("nan")) == "–"
    # a column the report has never heard of: its unit from its suffix, its label from its name
    assert cell("amplifier_energy_J", 2.5e-12) == "2.50 pJ" and label("amplifier_energy_J") == "amplifier energy"
    phases = pd.DataFrame({"phase": ["read", "set"], "events": [3, 4], "energy_J": [1e-9, 2e-9],
                           "amplifier_energy_J": [5e-12, 6e-12], "device_dissipation_J": [1e-10, 2e-10],
                           "circuit_time_s": [1e-6, 2e-6], "peripheral_energy_J": [0.0, 0.0]})
    energy = ordered_columns(phases, ["phase"], (None, "J"), peripherals=False)
    assert list(energy.columns) == ["phase", "events", "energy_J", "amplifier_energy_J", "device_dissipation_J"]
    shown = shown_table(energy, "energy by phase")
    assert shown.columns == ["phase", "events", "circuit energy", "amplifier energy", "device dissipation"]
    assert shown.rows[1] == ["set", "4", "2.00 nJ", "6.00 pJ", "200 pJ"] and shown.numeric == [False, True, True, True, True]


def test_runs_are_compared_with_a_note_for_each_reason_they_are_not_like_for_like():
    alike = [_run("a", peripheral_J=1e-6), _run("b", backend="batch", peripheral_J=1e-6)]
    assert notes.comparability(alike) == []  # in-process and batch ngspice are one simulator
    found = notes.comparability([_run("a"), _run("b", experiment="islam2024")])
    assert len(found) == 1 and found[0].startswith("Different experiments: a (Eslami et al. 2024); b (Islam et al. 2024)")
    found = notes.comparability([_run("a"), _run("b", backend="twin"), _run("c", backend="batch")])
    assert found == [found[0]] and "a and c on ngspice" in found[0] and "b on numpy twin" in found[0]
    found = notes.comparability([_run("e", peripheral_J=1e-6), _run("i")])
    assert len(found) == 1 and "e adds the assumed peripheral table, i books no peripheral events" in found[0]
    found = notes.comparability([_run("a", peripheral_J=1e-6), _run("b", peripheral_J=1e-6, peripherals={"adc_J": 2e-9})])
    assert len(found) == 1 and "different peripheral tables" in found[0]
    found = notes.comparability([_run("a"), _run("b", data={"n_test": 10})])
    assert len(found) == 1 and found[0].startswith("Different data") and "n_test 10" in found[0]
    # different experiments have different data anyway: one note, not two
    assert len(notes.comparability([_run("a"), _run("b", experiment="ellis2023", data={"pool": 1})])) == 1


def test_the_peripheral_note_states_the_assumed_table_or_that_there_is_none():
    booked = notes.peripheral_note(_run("a", peripheral_J=1e-6, peripherals={"adc_J": 2e-9}))
    assert "assumed" in booked and "PeripheralCosts" in booked and "ADC conversion 2.00 nJ" in booked
    assert "controller step 210 nJ and 21.0 µs" in booked  # defaults where the run's config gives none
    assert "99.8 %" in booked  # 6 µJ of peripherals beside 15 nJ + 20 pJ of circuit energy
    assert "books no peripheral events" in notes.peripheral_note(_run("b"))


def test_a_run_that_scales_one_simulated_read_says_so():
    scaled = notes.peripheral_note(_run("e", experiment="ellis2023"))
    assert "only the energy and time of one synapse read come from ngspice" in scaled
    assert "one synapse read" not in notes.peripheral_note(_run("e", experiment="ellis2023", backend="twin"))
    assert notes.peripheral_note(_run("m")).endswith("come from the simulated waveforms (ngspice).")


def test_short_series_are_not_plotted_and_bars_are_linear_with_their_values_written():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    short = _run("s", epochs=2)
    tables = run_tables(short)
    assert figures.accuracy_figure(short) is None and figures.epoch_figure(short, tables["by_epoch"], False) is None
    long = _run("l", epochs=3)
    assert figures.accuracy_figure(long) is not None
    assert figures.epoch_figure(long, run_tables(long)["by_epoch"], False) is not None
    fig, ax = plt.subplots()
    figures._labelled_bars(ax, ["read", "set"], [1.0e-9, 1.9e-9], "J", "tab:blue", "circuit")
    assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0
    assert [t.get_text() for t in ax.texts] == ["1.00 nJ", "1.90 nJ"]
    plt.close(fig)


def test_a_run_page_puts_the_summary_first_and_each_figure_beside_its_table(two_runs, tmp_path):
    written = reports.write([two_runs[0]], tmp_path / "r")
    html = written["report.html"].read_text()
    body = html[html.index("<main>"):]
    cards, note, phase = body.index('class="cards"'), body.index('class="note"'), body.index("<h3>Energy by phase</h3>")
    assert cards < note < body.index("<h3>Summary</h3>") < phase < body.index('<details class="config">')
    block = body[phase:body.index("<h3>", phase + 1)]
    assert 'class="pair"' in block and block.index("<img") < block.index("<table>")  # the figure beside its numbers
    assert "overflow:auto" in html and 'class="num"' in html
    assert "On-chip training of an M-SDC memristor network" in html and "numpy twin" in html
    for raw in ("`", "by_phase</h3>", "e-0"):
        assert raw not in body[:body.index('<details class="config">')], raw
    md = written["report.md"].read_text()
    assert md.index("- test accuracy") < md.index("### Summary") < md.index("### Energy by phase")
    assert not re.search(r"<[a-zA-Z/]", md) and "e-0" not in md[:md.index("```yaml")]
    assert "| phase | events | pulses | circuit energy |" in md and "|---|---:|---:|---:|" in md


def test_long_tables_fold_in_html_and_are_cut_with_a_link_in_markdown():
    frame = pd.DataFrame({"epoch": range(40), "energy_J": [1e-9] * 40})
    page = Page("t", "lead", [Section("S", "s", blocks=[Block("B", tables=[shown_table(frame, "per epoch", "x.csv")])])])
    assert '<details class="long"><summary>per epoch: 40 rows</summary>' in render.html(page)
    md = render.markdown(page)
    assert md.count("| 1.00 nJ |") == 16 and "First 16 of 40 rows; all of them in [x.csv](x.csv)." in md


def test_text_from_run_folders_is_shown_as_written(two_runs, tmp_path):
    """A folder name full of markup is text on the page, in HTML (autoescaped) and Markdown (escaped)."""
    odd = tmp_path / "a<i>b*c|d"
    shutil.copytree(two_runs[0], odd)
    written = reports.write([odd], tmp_path / "r")
    html = written["report.html"].read_text()
    assert "a&lt;i&gt;b*c|d" in html and "a<i>b" not in html
    md = written["report.md"].read_text()
    assert "## Run a\\<i\\>b\\*c\\|d" in md and "a<i>" not in md


def test_the_templates_ship_with_the_installed_package():
    from importlib.resources import files

    for name in ("report.html.j2", "report.md.j2"):
        assert (files("cosim.reports") / "templates" / name).is_file(), name


# --- the page in a browser ---------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
THREE = {
    "eslami": ["sweeps/eslami2024.yaml", *SHORT],
    "islam": ["sweeps/islam2024.yaml", "--backend", "twin", "-s", "training.software_epochs=3", "-s", "network.hidden=8",
              "-s", "data.max_train=200", "-s", "data.max_test=100"],
    "ellis": ["sweeps/ellis2023.yaml", "--backend", "twin", "-s", "training.max_epochs=4", "-s", "training.patience=2",
              "-s", "data.max_train=200", "-s", "evaluation.passes=2"],
}
# measured in the page once it has loaded: written into the DOM, which --dump-dom prints
PROBE = """<script>
window.addEventListener('load', () => {
  const root = document.documentElement, body = document.body.cloneNode(true);
  body.querySelectorAll('details.config, script').forEach(e => e.remove());
  const probe = document.createElement('pre');
  probe.id = 'probe';
  probe.textContent = JSON.stringify({scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    images: document.images.length, broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length,
    text: body.textContent});
  document.body.appendChild(probe);
});
</script>"""


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """A short run of each experiment (twin backend, seconds each)."""
    base = tmp_path_factory.mktemp("three")
    for name, args in THREE.items():
        result = CliRunner().invoke(main, ["train", args[0], "--out", str(base / name), *args[1:]])
        assert result.exit_code == 0, result.output
    return [base / name for name in THREE]


def _in_chromium(page: Path, tmp_path: Path) -> dict:
    """The page laid out by headless Chromium in a 1400 px wide window: its widths, its images and its text."""
    probe = tmp_path / f"probe-{page.parent.name}.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    shutil.copy(page, tmp_path / page.name)
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000",
                           "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=60)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(html_text.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package 'chromium')")
def test_every_experiments_report_and_a_comparison_lay_out_in_a_1400_px_browser(three_runs, tmp_path):
    pages = {run.name: reports.write([run], tmp_path / run.name)["report.html"] for run in three_runs}
    pages["comparison"] = reports.write(three_runs, tmp_path / "comparison")["report.html"]
    for name, page in pages.items():
        seen = _in_chromium(page, tmp_path)
        assert seen["clientWidth"] >= 1300, (name, seen["clientWidth"])  # laid out at the window's width
        assert seen["scrollWidth"] <= seen["clientWidth"], (name, "the page scrolls sideways")
        assert seen["images"] >= (3 if name != "comparison" else 12) and seen["broken"] == 0, (name, seen["images"])
        text = seen["text"]
        assert "`" not in text, name
        raw = re.findall(r"(?<![\w/.-])[-+]?\d+(?:\.\d+)?[eE][-+]?\d+(?!\w)", text)
        assert not raw, (name, raw[:5])
    comparison = _in_chromium(pages["comparison"], tmp_path)["text"]
    assert "Not like for like. Different experiments" in comparison and "Different simulators" not in comparison
    assert "eslami adds the assumed peripheral table, islam and ellis book no peripheral events" in comparison
