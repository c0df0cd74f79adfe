"""A report assembled and written: report.html (one self-contained file, plots embedded, drawn by the
Jinja2 template templates/report.html.j2 with autoescaping on), report.md (the same content in the same
order, plots beside it as PNG, templates/report.md.j2) and one CSV per table, in plain SI numbers.

Every energy and time figure is a summary of the run's `ledger.parquet` (`cosim.hil.summary`, as the run's
metrics are); accuracies come from `metrics.json` and `history.csv`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cosim import atomic, safe_yaml
from cosim.errors import ConfigError
from cosim.reports import notes
from cosim.reports.load import Run, _read, is_sweep, labels, load_run
from cosim.reports.page import COLLAPSE_ROWS, Page
from cosim.reports.sections import comparison_section, csv_name, run_section, run_table_key, sweep_section
from cosim.reports.tables import comparison_table, run_tables, sweep_summary, totals
from cosim.sweep.driver import SPEC_FILE
from cosim.sweep.results import RESULTS_FILE


@dataclass
class Sweep:
    label: str
    path: Path
    frame: pd.DataFrame


@dataclass
class Report:
    page: Page
    csvs: dict[str, pd.DataFrame]  # file stem → table
    runs: list[Run] = field(default_factory=list)
    sweeps: list[Sweep] = field(default_factory=list)

    def summary(self) -> dict:
        """What the report found, as plain data: each run's ledger totals, each sweep's point counts."""
        return {"runs": [{"run": r.name, "path": str(r.path), "experiment": notes.experiment_name(r),
                          "totals": totals(r)} for r in self.runs],
                "sweeps": [{"sweep": s.label, "path": str(s.path), "points": len(s.frame),
                            "status": {str(k): int(v) for k, v in s.frame["status"].value_counts().items()}}
                           for s in self.sweeps]}


def sweep_axes(path: Path, frame: pd.DataFrame) -> list[str]:
    """The sweep's axes, in the order its spec lists them (grid, zip, random ranges, then seed)."""
    record = safe_yaml.read_record(path / SPEC_FILE) if (path / SPEC_FILE).is_file() else {}
    spec = record.get("spec") if isinstance(record, dict) else None
    spec = spec if isinstance(spec, dict) else {}

    def keys(section) -> list:
        return list(section) if isinstance(section, dict) else []

    random = spec.get("random")
    axes = [*keys(spec.get("grid")), *keys(spec.get("zip")), *keys(random.get("ranges") if isinstance(random, dict) else None)]
    axes += ["seed"] if spec.get("seeds") is not None else []
    return [a for a in axes if isinstance(a, str) and a in frame.columns]


def _load_sweep(path: Path, label: str) -> Sweep:
    results = path / RESULTS_FILE
    frame = _read(results, pd.read_parquet)
    if not {"point", "status"} <= set(frame.columns):
        raise ConfigError(f"{results}: not a sweep results table (no 'point' and 'status' columns)")
    return Sweep(label, path, frame)


def build(paths: list[Path]) -> Report:
    """Load every run and sweep folder and lay out the page: several runs are compared first, then each
    run and sweep has its section."""
    if not paths:
        raise ConfigError("give at least one run or sweep directory")
    for path in map(Path, paths):
        if not path.is_dir():
            raise ConfigError(f"{path}: no such directory")
    report = Report(Page("", "", []), {})
    for path, label in zip(map(Path, paths), labels(paths)):
        if is_sweep(path):
            sweep = _load_sweep(path, label)
            axes = sweep_axes(path, sweep.frame)
            table = sweep_summary(sweep.frame, axes)
            report.csvs[f"{label}_points"] = table
            report.sweeps.append(sweep)
            report.page.sections.append(sweep_section(label, sweep.frame, table, axes))
        else:
            run = load_run(path)
            run.label = label
            tables = run_tables(run)
            report.csvs.update({run_table_key(run, name): table for name, table in tables.items()})
            report.runs.append(run)
            report.page.sections.append(run_section(run, tables))
    if len(report.runs) > 1:
        table = comparison_table(report.runs)
        report.csvs["comparison"] = table
        report.page.sections.insert(0, comparison_section(report.runs, table))
    report.page.title, report.page.lead = _heading(report)
    report.page.files = [csv_name(name) for name in report.csvs]
    return report


def _heading(report: Report) -> tuple[str, str]:
    runs, sweeps = report.runs, report.sweeps
    if len(runs) == 1 and not sweeps:
        return notes.title(runs[0]), f"Report of the run in {runs[0].path}, written by cosim."
    if len(sweeps) == 1 and not runs:
        return f"Sweep {sweeps[0].label}", f"Report of the sweep in {sweeps[0].path}, written by cosim."
    parts = [f"{len(runs)} runs" if runs else "", f"{len(sweeps)} sweep{'s' if len(sweeps) > 1 else ''}" if sweeps else ""]
    what = " and ".join(p for p in parts if p)
    title = f"Comparison of {what}" if len(runs) > 1 else f"Report of {what}"
    return title, "Written by cosim from " + ", ".join(str(p) for p in [*(r.path for r in runs), *(s.path for s in sweeps)]) + "."


def _environment(autoescape: bool):
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("cosim.reports", "templates"), autoescape=autoescape,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["png"] = lambda figure: "data:image/png;base64," + base64.b64encode(figure.png).decode()
    env.filters["md"] = markdown_text
    env.filters["md_cell"] = lambda text: markdown_text(text).replace("|", "\\|")
    env.filters["fence"] = lambda text: "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    env.globals["collapse_rows"] = COLLAPSE_ROWS
    return env


def markdown_text(text: str) -> str:
    """Text from run folders (labels, values) that Markdown shows as written: its markup characters escaped."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", str(text))


def html(page: Page) -> str:
    return _environment(True).get_template("report.html.j2").render(page=page)


def markdown(page: Page) -> str:
    return _environment(False).get_template("report.md.j2").render(page=page)


def save(report: Report, out: Path) -> dict[str, Path]:
    """Write report.html, report.md, the PNGs report.md links and one CSV per table into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for section in report.page.sections:
        for figure in section.figures:
            atomic.write_bytes(out / f"{figure.name}.png", figure.png)
    for name, table in report.csvs.items():
        written[name] = atomic.write_text(out / csv_name(name), table.to_csv(index=False))
    written["report.md"] = atomic.write_text(out / "report.md", markdown(report.page))
    written["report.html"] = atomic.write_text(out / "report.html", html(report.page))
    return written


def write(paths: list[Path], out: Path) -> dict[str, Path]:
    """The report of `paths` written into `out` (see `save`)."""
    return save(build(paths), out)
