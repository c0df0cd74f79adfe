"""Energy / latency / accuracy reports of run and sweep directories: report.html (one self-contained file,
plots embedded), report.md (plots beside it as PNG) and CSV tables.

Every energy and time figure is an aggregate of the run's `ledger.parquet` (there is no second
bookkeeping); accuracies come from `metrics.json` and `history.csv`. The summary printed at the end of
`cosim train` and `cosim sweep` is built here too.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cosim import atomic, input_files, runs, safe_yaml
from cosim.errors import ConfigError
from cosim.limits import MAX_RECORD_BYTES
from cosim.hil.summary import SUMMED, by_group, summarize

# (metric, label, format) in display order; a run shows the rows its experiment reports
SUMMARY_ROWS = [
    ("test_accuracy", "test accuracy", "{:.3f}"),
    ("accuracy_input_noise", "accuracy, input noise", "{:.3f}"),
    ("accuracy_conductance_error", "accuracy, conductance error", "{:.3f}"),
    ("accuracy_ideal_software", "accuracy, ideal software", "{:.3f}"),
    ("accuracy_deployed", "accuracy, software-trained then deployed", "{:.3f}"),
    ("baseline_test_accuracy", "accuracy, real-weight baseline", "{:.3f}"),
    ("train_accuracy", "train accuracy", "{:.3f}"),
    ("reads", "reads per synapse", "{}"),
    ("near_binary_fraction", "near-binary synapses", "{:.3f}"),
    ("training_energy_J", "training energy, circuit", "{:.3e} J"),
    ("training_energy_with_peripherals_J", "training energy, with peripherals", "{:.3e} J"),
    ("training_circuit_time_s", "training time, circuit", "{:.3e} s"),
    ("training_time_with_peripherals_s", "training time, with peripherals", "{:.3e} s"),
    ("energy_per_inference_J", "energy per inference", "{:.3e} J"),
    ("time_per_inference_s", "time per inference", "{:.3e} s"),
    ("pulses", "pulses (programming, writes or reads booked)", "{}"),
    ("backend", "backend", "{}"),
    ("model_backend", "device model", "{}"),
    ("wall_time_s", "wall time", "{:.1f} s"),
]
TEXT_METRICS = ("experiment", "backend", "model_backend", "preset")
NUMBER_METRICS = tuple(key for key, _, _ in SUMMARY_ROWS if key not in TEXT_METRICS) + ("training_samples", "seed")
LEDGER_TEXT = ("phase", "layer", "device")
# the totals the comparison of several runs shows side by side (as total_<name>)
TOTALS = ("energy_J", "energy_with_peripherals_J", "circuit_time_s", "time_with_peripherals_s", "pulses", "events")
SWEEP_METRICS = ("test_accuracy", "accuracy_deployed", "energy_J", "circuit_time_s", "pulses", "energy_per_inference_J")


def summary_rows(metrics: dict) -> list[tuple[str, str]]:
    rows = []
    for key, label, fmt in SUMMARY_ROWS:
        value = metrics.get(key)
        if value is not None:
            rows.append((label, fmt.format(value) if isinstance(value, (int, float)) else str(value)))
    return rows


# --- loading --------------------------------------------------------------------------------------------


@dataclass
class Run:
    path: Path
    config: dict
    metrics: dict
    history: pd.DataFrame
    ledger: pd.DataFrame
    states: dict = field(default_factory=dict)
    label: str = ""  # how the report names it (see `labels`); the folder's name by default

    @property
    def name(self) -> str:
        return self.label or self.path.name


def load_run(path: Path) -> Run:
    """A finished run directory; a missing, corrupt or wrongly typed file is a ConfigError naming it."""
    path = Path(path)
    if (path / runs.INCOMPLETE).exists():
        raise ConfigError(f"{path}: the run did not finish (it carries {runs.INCOMPLETE}); its files may be partial")
    missing = [n for n in ("config.yaml", "metrics.json", "ledger.parquet") if not (path / n).is_file()]
    if missing:
        raise ConfigError(f"{path}: not a run directory (missing {', '.join(missing)})")
    config = safe_yaml.read_record(path / "config.yaml")
    if not isinstance(config, dict):
        raise ConfigError(f"{path / 'config.yaml'}: expected a mapping of settings")
    metrics = _read(path / "metrics.json", lambda p: json.loads(input_files.read_text(p, MAX_RECORD_BYTES, "metrics file")))
    history = _read(path / "history.csv", pd.read_csv) if (path / "history.csv").is_file() else pd.DataFrame()
    ledger = _read(path / "ledger.parquet", pd.read_parquet)
    if "samples" not in ledger.columns and "phase" in ledger.columns:  # written before rows counted samples
        ledger["samples"] = (ledger["phase"] == "inference").astype(int)  # one inference row per input, as then
    plotted = ["epoch", "train_accuracy", "validation_accuracy", "test_accuracy", "loss"]
    return Run(path, config, _checked_metrics(metrics, path / "metrics.json"),
               _checked_columns(history, path / "history.csv", ["epoch"] if "train_accuracy" in history else [], plotted),
               _checked_columns(ledger, path / "ledger.parquet", [*LEDGER_TEXT, *SUMMED, "epoch"],
                                [*SUMMED, "epoch", "samples"]),
               runs.load_states(path))


def _read(path: Path, reader):
    """A run file through `reader`; a corrupt one is a ConfigError naming it."""
    try:
        return reader(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # json, pandas and pyarrow errors are ValueErrors
        raise ConfigError(f"{path}: cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def _checked_metrics(metrics, path: Path) -> dict:
    """metrics.json as reports use it: a mapping whose known metrics are numbers or text, as cosim writes them."""
    from cosim.config import shown

    if not isinstance(metrics, dict):
        raise ConfigError(f"{path}: expected a mapping of metrics, got {type(metrics).__name__}")
    for key, value in metrics.items():
        if value is None:
            continue
        if key in NUMBER_METRICS and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"{path}: {key} = {shown(value)}: expected a number")
        if key in TEXT_METRICS and not isinstance(value, str):
            raise ConfigError(f"{path}: {key} = {shown(value)}: expected text")
        if key == "versions" and not isinstance(value, dict):
            raise ConfigError(f"{path}: versions = {shown(value)}: expected a mapping of names to versions")
    return metrics


def _checked_columns(frame: pd.DataFrame, path: Path, required: list[str], numbers: list[str]) -> pd.DataFrame:
    """A table with the columns a report reads: `required` ones present, `numbers` ones (when present) numeric."""
    absent = [c for c in required if c not in frame.columns]
    if absent:
        raise ConfigError(f"{path}: not a table cosim wrote (no column {', '.join(absent)})")
    wrong = [c for c in numbers if c in frame.columns and not pd.api.types.is_numeric_dtype(frame[c])]
    if wrong:
        raise ConfigError(f"{path}: column {wrong[0]} holds values that are not numbers")
    return frame


# --- tables ---------------------------------------------------------------------------------------------


def totals(run: Run) -> dict:
    """The run's ledger summarised (the figures its metrics.json recorded, and the counts behind them)."""
    return summarize(run.ledger, run.metrics.get("training_samples"))


def run_tables(run: Run) -> dict[str, pd.DataFrame]:
    ledger = run.ledger
    tables = {
        "totals": pd.DataFrame([totals(run)]),
        "by_phase": by_group(ledger, "phase"),
        "by_layer": by_group(ledger[ledger["layer"] != ""], "layer") if (ledger["layer"] != "").any() else pd.DataFrame(),
        "by_device": by_group(ledger[ledger["device"] != ""], "device") if (ledger["device"] != "").any() else pd.DataFrame(),
        "by_epoch": by_group(ledger, "epoch"),
        "history": run.history,
    }
    return {name: table for name, table in tables.items() if not table.empty}


def comparison_table(items: list[Run]) -> pd.DataFrame:
    rows = []
    for run in items:
        t = totals(run)
        row = {"run": run.name, "experiment": run.metrics.get("experiment", ""), "seed": run.metrics.get("seed")}
        for key in ("preset", "backend", "test_accuracy", "accuracy_input_noise", "accuracy_conductance_error",
                    "train_accuracy"):
            if key in run.metrics:
                row[key] = run.metrics[key]
        row.update({f"total_{k}": v for k, v in t.items() if k in TOTALS})
        row.update({k: v for k, v in t.items() if k.startswith(("energy_per_", "time_per_"))})
        rows.append(row)
    return pd.DataFrame(rows)


# --- figures --------------------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    title: str
    png: bytes


def _figure(name: str, title: str, draw, size=(6.4, 4.0)) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    draw(fig, ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return Figure(name, title, buffer.getvalue())


def run_figures(run: Run, tables: dict[str, pd.DataFrame]) -> list[Figure]:
    figures = []
    prefix = file_stem(run.name)
    history = run.history
    if not history.empty and "train_accuracy" in history:
        def accuracy(fig, ax):
            ax.plot(history["epoch"], history["train_accuracy"], marker="o", label="train accuracy")
            for extra in ("validation_accuracy", "test_accuracy"):
                if extra in history:
                    ax.plot(history["epoch"], history[extra], marker="s", label=extra.replace("_", " "))
            if "loss" in history:
                twin = ax.twinx()
                twin.plot(history["epoch"], history["loss"], color="grey", ls="--", label="loss")
                twin.set_ylabel("loss")
            ax.set_xlabel("epoch")
            ax.set_ylabel("accuracy")
            ax.legend(loc="lower right", fontsize=8)
            ax.grid(alpha=0.3)
        figures.append(_figure(f"{prefix}_accuracy", "accuracy over training", accuracy))
    phase = tables["by_phase"]
    for name, circuit, total, label in (("energy", "energy_J", "energy_with_peripherals_J", "energy (J)"),
                                        ("time", "circuit_time_s", "time_with_peripherals_s", "time (s)")):
        def bars(fig, ax, circuit=circuit, total=total, label=label):
            xs = np.arange(len(phase))
            ax.bar(xs - 0.2, phase[circuit], 0.4, label="circuit")
            ax.bar(xs + 0.2, phase[total], 0.4, label="with peripherals")
            ax.set_xticks(xs, phase["phase"])
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.legend(fontsize=8)
        figures.append(_figure(f"{prefix}_{name}_by_phase", f"{name} by phase", bars))
    epochs = tables["by_epoch"]
    epochs = epochs[epochs["epoch"] >= 0]
    if len(epochs) > 1:
        def per_epoch(fig, ax):
            ax.plot(epochs["epoch"], epochs["energy_J"], marker="o", label="circuit")
            ax.plot(epochs["epoch"], epochs["energy_with_peripherals_J"], marker="s", label="with peripherals")
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel("energy (J)")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        figures.append(_figure(f"{prefix}_energy_by_epoch", "energy by epoch", per_epoch))
    devices = tables.get("by_device")
    if devices is not None and devices["pulses"].sum() > 0:
        def pulses(fig, ax):
            ax.hist(devices["pulses"], bins=min(30, max(5, len(devices) // 2)), color="tab:purple")
            ax.set_xlabel("programming pulses per device")
            ax.set_ylabel("devices")
        figures.append(_figure(f"{prefix}_pulses_per_device", "pulses per device", pulses))
    for label, matrix in _conductance_maps(run).items():
        def heatmap(fig, ax, matrix=matrix):
            image = ax.imshow(matrix * 1e6, cmap="viridis", aspect="auto")
            ax.set_xlabel("column (neuron)")
            ax.set_ylabel("row (input)")
            ax.set_xticks(range(matrix.shape[1]))
            ax.set_yticks(range(matrix.shape[0]))
            fig.colorbar(image, ax=ax, label="conductance (µS)")
        safe = "".join(ch if ch.isalnum() else "_" for ch in label)
        figures.append(_figure(f"{prefix}_conductance_{safe}", f"final conductances, {label}", heatmap, (4.8, 4.4)))
    return figures


def _conductance_maps(run: Run) -> dict[str, np.ndarray]:
    """The experiment's own map of final conductances, when it offers one."""
    from cosim.experiments import run as experiments
    from cosim.config import validate

    name = run.config.get("experiment", experiments.DEFAULT)
    try:
        module = experiments.module(name)
    except ConfigError:
        return {}
    if not run.states or not hasattr(module, "conductance_maps"):
        return {}
    try:
        return module.conductance_maps(validate(run.config, str(run.path / "config.yaml")), run.states)
    except ValueError as exc:  # states that do not fit the configured board
        raise ConfigError(f"{run.path / 'states.npz'}: does not match the run's config ({exc})") from None


def comparison_figures(table: pd.DataFrame) -> list[Figure]:
    figures = []
    for column, label, log in (("test_accuracy", "test accuracy", False),
                               ("total_energy_with_peripherals_J", "energy with peripherals (J)", True),
                               ("total_energy_J", "circuit energy (J)", True),
                               ("total_time_with_peripherals_s", "time with peripherals (s)", True)):
        if column not in table:
            continue

        def bars(fig, ax, column=column, label=label, log=log):
            ax.bar(range(len(table)), table[column], color="tab:blue")
            ax.set_xticks(range(len(table)), table["run"], rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(label)
            if log:
                ax.set_yscale("log")
        figures.append(_figure(f"compare_{column}", f"{label} by run", bars))
    return figures


def sweep_figures(frame: pd.DataFrame, axes: list[str], name: str) -> list[Figure]:
    from cosim.sweep.spec import draw

    ok = frame[frame["status"] == "ok"]
    figures = []
    varying = [a for a in axes if a != "seed" and ok[a].nunique() > 1] if len(ok) else []
    for axis in varying:
        for metric in SWEEP_METRICS:
            if metric in ok and pd.api.types.is_numeric_dtype(ok[metric]):
                hue = next((a for a in varying if a != axis), None)
                figures.append(_figure(f"{name}_{metric}_vs_{axis}".replace(".", "_"), f"{metric} vs {axis}",
                                       lambda fig, ax, m=metric, a=axis, h=hue: draw(fig, ax, ok, a, m, h, "line")))
    return figures


# --- assembling ---------------------------------------------------------------------------------------------


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
    shown["config"] = pd.DataFrame([{"key": k, "value": v} for k, v in _flatten(run.config).items()])
    return Section(f"Run {run.name}", text, shown, run_figures(run, tables)), tables


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else value
    return out


def is_sweep(path: Path) -> bool:
    from cosim.sweep.spec import RESULTS_FILE

    return (Path(path) / RESULTS_FILE).is_file()


def sweep_summary(frame: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """One row per point: axes, status, the headline metrics, wall time and error (the sweep's table)."""
    columns = ["point", *axes, "status", *[m for m in SWEEP_METRICS if m in frame], "wall_time_s", "error"]
    return frame[[c for c in dict.fromkeys(columns) if c in frame]]


def sweep_section(path: Path, label: str | None = None) -> Section:
    from cosim.sweep.spec import RESULTS_FILE, SPEC_FILE

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


def file_stem(label: str) -> str:
    """`label` as part of a file name: letters, digits, '-', '_' and '.' kept, anything else '_'."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)


def labels(paths: list[Path]) -> list[str]:
    """One distinct name per directory, for section titles and file names: the folder's own name, with as
    many parent folders as it takes to tell it from the others (`A/main`, `B/main`); a numbered suffix
    where even the whole paths give the same file name. The same directory twice is refused."""
    resolved = [Path(p).resolve() for p in paths]
    for k, path in enumerate(resolved):
        if path in resolved[:k]:
            raise ConfigError(f"{paths[k]}: given twice")
    parts = [path.parts[1:] or (path.anchor,) for path in resolved]
    depth = [1] * len(paths)

    def name(k: int) -> str:
        return "/".join(parts[k][-depth[k]:])

    while True:
        clashes: dict[str, list[int]] = {}
        for k in range(len(paths)):
            clashes.setdefault(file_stem(name(k)), []).append(k)
        longer = [k for group in clashes.values() if len(group) > 1 for k in group if depth[k] < len(parts[k])]
        if not longer:
            break
        for k in longer:
            depth[k] += 1
    names, seen = [], {}
    for k in range(len(paths)):
        stem = file_stem(name(k))
        seen[stem] = seen.get(stem, 0) + 1
        names.append(name(k) if seen[stem] == 1 else f"{name(k)}-{seen[stem]}")
    return names


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
