"""A report assembled and written: report.html (one self-contained file, plots embedded), report.md (plots
beside it as PNG) and one CSV per table.

Every energy and time figure is a summary of the run's `ledger.parquet` (`cosim.hil.summary`, as the run's
metrics are); accuracies come from `metrics.json` and `history.csv`.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cosim import atomic, safe_yaml
from cosim.errors import ConfigError
from cosim.reports.figures import Figure, comparison_figures, run_figures, sweep_figures
from cosim.reports.load import Run, _read, file_stem, is_sweep, labels, load_run
from cosim.reports.tables import comparison_table, flatten, run_tables, summary_rows, sweep_summary
from cosim.sweep.driver import SPEC_FILE
from cosim.sweep.results import RESULTS_FILE


@dataclass
class Section:
    title: str
    text: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)


def run_section(run: Run) -> tuple[Section, dict[str, pd.DataFrame]]:
    tables = run_tables(run)
    versions = run.metrics.get("versions", {})
    text = (f"experiment `{run.metrics.get('experiment', '')}`, seed {run.metrics.get('seed')}, backend "
            f"`{run.metrics.get('backend', '')}`, device model `{run.metrics.get('model_backend', '')}`; versions: "
            + ", ".join(f"{k} {v}" for k, v in versions.items()))
    summary = pd.DataFrame(summary_rows(run.metrics), columns=["metric", "value"])
    shown = {"summary": summary, **{k: v for k, v in tables.items() if k not in ("by_device", "history")}}
    if "by_device" in tables:
        shown["by_device (top 10 by energy)"] = tables["by_device"].nlargest(10, "energy_J")
    shown["config"] = pd.DataFrame([{"key": k, "value": v} for k, v in flatten(run.config).items()])
    return Section(f"Run {run.name}", text, shown, run_figures(run, tables)), tables


def sweep_section(path: Path, label: str | None = None) -> Section:
    results = Path(path) / RESULTS_FILE
    frame = _read(results, pd.read_parquet)
    if not {"point", "status"} <= set(frame.columns):
        raise ConfigError(f"{results}: not a sweep results table (no 'point' and 'status' columns)")
    record = safe_yaml.read_record(Path(path) / SPEC_FILE) if (Path(path) / SPEC_FILE).is_file() else {}
    spec = record.get("spec") if isinstance(record, dict) else None
    spec = spec if isinstance(spec, dict) else {}

    def keys(section) -> list:
        return list(section) if isinstance(section, dict) else []

    random = spec.get("random")
    axes = [*keys(spec.get("grid")), *keys(spec.get("zip")), *keys(random.get("ranges") if isinstance(random, dict) else None)]
    axes += ["seed"] if spec.get("seeds") is not None else []
    axes = [a for a in axes if isinstance(a, str) and a in frame.columns]
    table = sweep_summary(frame, axes)
    counts = frame["status"].value_counts().to_dict()
    text = f"{len(frame)} points: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    label = label or Path(path).name
    return Section(f"Sweep {label}", text, {"points": table}, sweep_figures(frame, axes, file_stem(label)))


def build(paths: list[Path]) -> tuple[list[Section], dict[str, pd.DataFrame]]:
    if not paths:
        raise ConfigError("give at least one run or sweep directory")
    sections, csvs, loaded = [], {}, []
    for path in map(Path, paths):
        if not path.is_dir():
            raise ConfigError(f"{path}: no such directory")
    for path, label in zip(map(Path, paths), labels(paths)):
        if is_sweep(path):
            section = sweep_section(path, label)
            csvs[f"{label}_points"] = section.tables["points"]
        else:
            run = load_run(path)
            run.label = label
            loaded.append(run)
            section, tables = run_section(run)
            csvs.update({f"{run.name}_{name}": table for name, table in tables.items()})
        sections.append(section)
    if len(loaded) > 1:
        table = comparison_table(loaded)
        sections.insert(0, Section("Comparison", f"{len(loaded)} runs side by side", {"runs": table},
                                   comparison_figures(table)))
        csvs["comparison"] = table
    return sections, csvs


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def markdown(sections: list[Section]) -> str:
    lines = ["# cosim report", ""]
    for section in sections:
        lines += [f"## {section.title}", "", section.text, ""]
        for name, table in section.tables.items():
            lines += [f"### {name}", "", "| " + " | ".join(map(str, table.columns)) + " |",
                      "|" + "---|" * len(table.columns)]
            lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
            lines.append("")
        lines += [f"![{f.title}]({f.name}.png)" for f in section.figures] + [""]
    return "\n".join(lines)


def render_html(sections: list[Section]) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>cosim report</title><style>",
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}"
             "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}"
             "img{max-width:48%;margin:4px;border:1px solid #eee}</style></head><body><h1>cosim report</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2><p>{html.escape(section.text)}</p>")
        for name, table in section.tables.items():
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                           for row in table.itertuples(index=False))
            parts.append(f"<h3>{html.escape(name)}</h3><table><tr>{head}</tr>{body}</table>")
        for figure in section.figures:
            data = base64.b64encode(figure.png).decode()
            parts.append(f"<img alt='{html.escape(figure.title)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(paths: list[Path], out: Path) -> dict[str, Path]:
    """Write report.html, report.md, the PNGs report.md links and one CSV per table into `out`."""
    sections, csvs = build(paths)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for section in sections:
        for figure in section.figures:
            atomic.write_bytes(out / f"{figure.name}.png", figure.png)
    for name, table in csvs.items():
        written[name] = atomic.write_text(out / f"{file_stem(name)}.csv", table.to_csv(index=False))
    written["report.md"] = atomic.write_text(out / "report.md", markdown(sections))
    written["report.html"] = atomic.write_text(out / "report.html", render_html(sections))
    return written
