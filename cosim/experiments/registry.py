"""The experiments by name (one line each; the module defines EXPERIMENT), and an experiment file read,
overridden and validated against its experiment's Config."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from cosim.config import apply_overrides, describe_error, read_settings
from cosim.errors import ConfigError
from cosim.experiments.base import ExperimentBase
from cosim.registry import Registry

EXPERIMENTS = Registry({
    "eslami2024": "cosim.experiments.eslami2024",
    "islam2024": "cosim.experiments.islam2024",
    "ellis2023": "cosim.experiments.ellis2023",
}, "EXPERIMENT", "experiment {name!r} is unknown")
DEFAULT = "eslami2024"
available = EXPERIMENTS.names
get = EXPERIMENTS.get  # the experiment called `name`: an Experiment (ConfigError listing them if unknown)


def validate(data: Any, where: str) -> ExperimentBase:
    """Settings (plain data) validated as the experiment their `experiment:` key names (default: DEFAULT)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(data).__name__}")
    kind = data.get("experiment", DEFAULT)
    if not isinstance(kind, str):
        raise ConfigError(f"{where}: experiment must be a name; allowed: {', '.join(available())}")
    try:
        model = get(kind).Config
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, where)) from None


def load_experiment(path: Path | None, overrides: Iterable[str] = ()) -> ExperimentBase:
    """Read, override and validate an experiment file (None: the built-in default experiment)."""
    data, where = ({}, "built-in default experiment") if path is None else (read_settings(path), str(path))
    return validate(apply_overrides(data, overrides), where)
