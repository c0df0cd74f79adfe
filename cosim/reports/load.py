"""Run and sweep folders as a report reads them: checked on the way in (a missing, corrupt or wrongly typed
file is one ConfigError naming it), and each named so that no two collide in titles or file names."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cosim import input_files, runs, safe_yaml
from cosim.config import shown
from cosim.errors import ConfigError
from cosim.hil.summary import SUMMED
from cosim.limits import MAX_RECORD_BYTES
from cosim.sweep.results import RESULTS_FILE
from cosim.units import eng


def _in(unit: str):
    """Format a quantity in engineering notation: 9.36 µJ, 7.52 ms."""
    return functools.partial(eng, unit=unit)


# (metric, label, format) in display order; a run shows the rows its experiment reports. Accuracies are fractions,
# counts integers, energies and times in engineering notation.
SUMMARY_ROWS = [
    ("test_accuracy", "test accuracy", "{:.3f}".format),
    ("accuracy_input_noise", "accuracy, input noise", "{:.3f}".format),
    ("accuracy_conductance_error", "accuracy, conductance error", "{:.3f}".format),
    ("accuracy_ideal_software", "accuracy, ideal software", "{:.3f}".format),
    ("accuracy_deployed", "accuracy, software-trained then deployed", "{:.3f}".format),
    ("baseline_test_accuracy", "accuracy, real-weight baseline", "{:.3f}".format),
    ("train_accuracy", "train accuracy", "{:.3f}".format),
    ("reads", "reads per synapse", "{}".format),
    ("near_binary_fraction", "near-binary synapses", "{:.3f}".format),
    ("training_energy_J", "training energy, circuit", _in("J")),
    ("training_energy_with_peripherals_J", "training energy, with peripherals", _in("J")),
    ("training_circuit_time_s", "training time, circuit", _in("s")),
    ("training_time_with_peripherals_s", "training time, with peripherals", _in("s")),
    ("energy_per_inference_J", "energy per inference", _in("J")),
    ("time_per_inference_s", "time per inference", _in("s")),
    ("pulses", "pulses (programming, writes or reads booked)", "{}".format),
    ("backend", "backend", "{}".format),
    ("model_backend", "device model", "{}".format),
    ("wall_time_s", "wall time", _in("s")),
]
TEXT_METRICS = ("experiment", "backend", "model_backend", "preset")
NUMBER_METRICS = tuple(key for key, _, _ in SUMMARY_ROWS if key not in TEXT_METRICS) + ("training_samples", "seed")
LEDGER_TEXT = ("phase", "layer", "device")


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


def is_sweep(path: Path) -> bool:
    return (Path(path) / RESULTS_FILE).is_file()


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
