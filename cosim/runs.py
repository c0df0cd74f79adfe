"""Run directories: everything a run produced, written atomically, with what is needed to reproduce it.

    DIR/config.yaml      the validated experiment (reloadable)
    DIR/metrics.json     final metrics (accuracy, energy, time, pulses, backends, versions)
    DIR/history.csv      one row per epoch
    DIR/ledger.parquet   one row per hardware event
    DIR/netlists/        the circuit as simulated, with the trained device states as initial conditions and a
                         read stimulus (cosim.experiments.export_files): netlist, model files, run.sh, README.md;
                         it runs as written wherever the folder is copied
    DIR/states.npz       final device states by family (msdc_x: M-SDC state variables in device order)
A run in progress carries DIR/INCOMPLETE; it is removed only after every file is in place. Experiments
that can resume also keep DIR/checkpoint.npz (the state after the last finished epoch and the ledger so
far, in one file written atomically; no pickles, so a shared run directory cannot run code; stamped with
the config's fingerprint, so a run is never continued under another config).

Every file a run writes must stay inside its folder: a symlinked file or sub-folder is refused (a planted
`netlists -> /elsewhere` would otherwise send the run's files there). A folder that one process writes is
locked (`lock`), so a second `cosim train` or `cosim sweep` on it stops with the holder's pid.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import platform
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from cosim import atomic
from cosim.errors import ConfigError, CosimError
from cosim.version import __version__

INCOMPLETE = "INCOMPLETE"
CHECKPOINT = "checkpoint.npz"
LOCK = ".cosim.lock"
# Everything a run writes; all but the first two hold work that replacing the run would lose (`cosim train`
# refuses to, without --force). A run stopped before its first epoch finished has only those two.
RUN_FILES = ("config.yaml", INCOMPLETE, "metrics.json", "history.csv", "ledger.parquet", "states.npz", "netlists",
             CHECKPOINT)


def inside(root: Path, relative: str | Path) -> Path:
    """`root / relative`, refusing a path that leaves `root` or passes through a symlink below it."""
    root = Path(root)
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts:
        raise CosimError(f"{root}: refusing to write {relative}: outside the folder")
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            raise CosimError(f"{path} is a symlink; refusing to write through it (it could lead out of {root})")
    return path


def existing_run(out_dir: Path) -> list[str]:
    """The files of an earlier run's work that `out_dir` holds (empty: nothing a new run would lose)."""
    return [name for name in RUN_FILES[2:] if os.path.lexists(Path(out_dir) / name)]


def clear(out_dir: Path) -> None:
    """Remove an earlier run's files from `out_dir` (only those; anything else in the folder stays)."""
    for name in [n for n in RUN_FILES if os.path.lexists(Path(out_dir) / n)]:
        path = inside(out_dir, name)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextmanager
def lock(folder: Path, what: str = "cosim") -> Iterator[Path]:
    """Hold an exclusive lock on `folder` (created if needed) for the block; another holder makes this raise
    at once with its pid. The lock is the kernel's (flock), so it dies with the process that held it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = inside(folder, LOCK)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            raise CosimError(f"{folder} is in use by another {what} (pid {holder}); wait for it to finish "
                             "or use another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would let a third process lock another)


def start(out_dir: Path, config_yaml: str | None = None) -> Path:
    """Mark DIR incomplete (and record the config first, so an interrupted run can be resumed from it)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:  # refused now rather than after the training
        inside(out, name)
    atomic.write_text(inside(out, INCOMPLETE), "this run has not finished; its files may be partial\n")
    if config_yaml is not None:
        atomic.write_text(inside(out, "config.yaml"), config_yaml)
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
        raise ConfigError(f"{path}: not a readable states file ({exc})") from None


def versions(ngspice_version: int | None, model_backend: str) -> dict:
    return {"cosim": __version__, "python": platform.python_version(), "ngspice": ngspice_version,
            "model_backend": model_backend}


def finish(out_dir: Path, *, config_yaml: str, metrics: dict, history: list[dict], ledger,
           netlists: dict[str, str | bytes],
           states: dict | None = None) -> None:
    out = Path(out_dir)
    if states:
        with atomic.replacing(inside(out, "states.npz")) as tmp:
            np.savez(tmp, **states)
    atomic.write_text(inside(out, "config.yaml"), config_yaml)
    ledger.save(inside(out, "ledger.parquet"))
    with atomic.replacing(inside(out, "history.csv")) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    if netlists:
        inside(out, "netlists").mkdir(exist_ok=True)
    for name, data in netlists.items():
        path = inside(out, Path("netlists", name))
        atomic.write_bytes(path, data) if isinstance(data, bytes) else atomic.write_text(path, data)
    atomic.write_text(inside(out, "metrics.json"), json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    inside(out, INCOMPLETE).unlink(missing_ok=True)
    inside(out, CHECKPOINT).unlink(missing_ok=True)


def fingerprint(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """DIR/checkpoint.npz of a run whose config has fingerprint `config_sha256`: arrays plus JSON-able
    metadata, written atomically (a kill mid-write leaves the previous checkpoint)."""

    run_dir: Path
    config_sha256: str

    @property
    def path(self) -> Path:
        return Path(self.run_dir) / CHECKPOINT

    def save(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        blob = np.frombuffer(json.dumps({**meta, "config_sha256": self.config_sha256}).encode(), dtype=np.uint8)
        with atomic.replacing(inside(self.run_dir, CHECKPOINT)) as tmp:
            np.savez(tmp, __meta__=blob, **arrays)

    def load(self) -> tuple[dict[str, np.ndarray], dict] | None:
        """The saved arrays and metadata (None: no epoch finished yet); a file that is not a checkpoint of
        this run's config is a ConfigError naming it."""
        path = inside(self.run_dir, CHECKPOINT)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files if key != "__meta__"}
                meta = json.loads(bytes(data["__meta__"]).decode()) if "__meta__" in data.files else None
        except Exception as exc:  # zip, npy, json and pickle refusals all mean the same: not a checkpoint
            raise self.unreadable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        if not isinstance(meta, dict):
            raise self.unreadable("no metadata")
        if meta.get("config_sha256") != self.config_sha256:
            raise ConfigError(f"{path}: saved under another config than {Path(self.run_dir) / 'config.yaml'} "
                              "holds now (edited since?); restore that config, or start a new run")
        return arrays, meta

    def unreadable(self, why: str) -> ConfigError:
        return ConfigError(f"{self.path}: not a readable checkpoint ({why[:160]}); delete it to start the run "
                           "over with --resume")
