"""What an export starts from: an experiment file, or a run directory (its config and recorded states)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cosim.errors import ConfigError
from cosim.experiments.base import ExperimentBase
from cosim.experiments.registry import load_experiment
from cosim.runs import load_states


def load_source(path: Path) -> tuple[ExperimentBase, dict[str, np.ndarray], str]:
    """(validated config, recorded states, description) from an experiment file or a run directory."""
    path = Path(path)
    if path.is_dir():
        config_file = path / "config.yaml"
        if not config_file.is_file():
            raise ConfigError(f"{path}: not a run directory (no config.yaml); give a run directory or a config file")
        return load_experiment(config_file), load_states(path), f"run directory {path.name}"
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file or run directory")
    return load_experiment(path), {}, f"config {path.name}"
