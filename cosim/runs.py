"""Run directories: everything a run produced, written atomically, with what is needed to reproduce it.

    DIR/config.yaml      the validated experiment (reloadable)
    DIR/metrics.json     final metrics (accuracy, energy, time, pulses, backends, versions)
    DIR/history.csv      one row per epoch
    DIR/ledger.parquet   one row per hardware event
    DIR/netlists/        the circuit as simulated, with the trained device states as initial conditions
    DIR/states.npz       final device states by family (msdc_x: M-SDC state variables in device order)
A run in progress carries DIR/INCOMPLETE; it is removed only after every file is in place. Experiments
that can resume also keep DIR/checkpoint.npz (the state after the last finished epoch and the ledger so
far, in one file written atomically; no pickles, so a shared run directory cannot run code).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd

from cosim import __version__

INCOMPLETE = "INCOMPLETE"
CHECKPOINT = "checkpoint.npz"


def atomic_write_text(path: Path, text: str) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def start(out_dir: Path, config_yaml: str | None = None) -> Path:
    """Mark DIR incomplete (and record the config first, so an interrupted run can be resumed from it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / INCOMPLETE, "this run has not finished; its files may be partial\n")
    if config_yaml is not None:
        atomic_write_text(out / "config.yaml", config_yaml)
    return out


def load_states(run_dir: Path) -> dict:
    """The final device states a run recorded (empty when it recorded none)."""
    path = Path(run_dir) / "states.npz"
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as exc:
        from cosim.errors import ConfigError

        raise ConfigError(f"{path}: not a readable states file ({exc})") from None


def versions(ngspice_version: int | None, model_backend: str) -> dict:
    return {"cosim": __version__, "python": platform.python_version(), "ngspice": ngspice_version,
            "model_backend": model_backend}


def finish(out_dir: Path, *, config_yaml: str, metrics: dict, history: list[dict], ledger, netlists: dict[str, str],
           states: dict | None = None) -> None:
    out = Path(out_dir)
    if states:
        tmp = out / f".states.{os.getpid()}.tmp.npz"
        np.savez(tmp, **states)
        tmp.replace(out / "states.npz")
    atomic_write_text(out / "config.yaml", config_yaml)
    ledger.save(out / "ledger.parquet")
    tmp = out / f".history.csv.{os.getpid()}.tmp"
    pd.DataFrame(history).to_csv(tmp, index=False)
    tmp.replace(out / "history.csv")
    (out / "netlists").mkdir(exist_ok=True)
    for name, text in netlists.items():
        atomic_write_text(out / "netlists" / name, text)
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    (out / INCOMPLETE).unlink(missing_ok=True)
    (out / CHECKPOINT).unlink(missing_ok=True)


def save_checkpoint(out_dir: Path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Arrays plus JSON-able metadata, atomically (a kill mid-write leaves the previous checkpoint)."""
    out = Path(out_dir)
    tmp = out / f".checkpoint.{os.getpid()}.tmp.npz"
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp, __meta__=blob, **arrays)
    tmp.replace(out / CHECKPOINT)


def load_checkpoint(out_dir: Path) -> tuple[dict[str, np.ndarray], dict] | None:
    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "__meta__"}
        meta = json.loads(bytes(data["__meta__"]).decode())
    return arrays, meta
