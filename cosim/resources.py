"""Find the data that ships with cosim (device models, reference netlists, experiment specs).

In the source tree they live at the top level (`device_models/`, `netlists/`, `sweeps/`); an installed
package carries them as `cosim.device_models`, `cosim.netlists` and `cosim.sweeps`.
"""

from __future__ import annotations

import os
from pathlib import Path

from cosim.errors import ConfigError

KINDS = ("device_models", "netlists", "sweeps")


def data_dir(kind: str) -> Path:
    if kind not in KINDS:
        raise ConfigError(f"unknown data folder {kind!r}; allowed: {', '.join(KINDS)}")
    package = Path(__file__).resolve().parent
    for candidate in (package / kind, package.parent / kind):  # installed, then source tree
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"cosim's {kind} folder is missing from this installation; reinstall with `pip install .`")


def data_file(kind: str, name: str) -> Path:
    path = data_dir(kind) / name
    if not path.is_file():
        available = sorted(p.name for p in data_dir(kind).iterdir() if p.is_file())
        raise ConfigError(f"no file {name!r} in cosim's {kind}; available: {', '.join(available)}")
    return path


def cache_root() -> Path:
    """Where cosim keeps what it builds or installs once (compiled models, data sets): $COSIM_CACHE_DIR, else
    $XDG_CACHE_HOME/cosim, else ~/.cache/cosim."""
    base = os.environ.get("COSIM_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cosim"
    return Path(base)
