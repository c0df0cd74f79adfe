"""Experiments: an experiment is a config, a training run, the circuit it exports and its report extras.

`registry` finds them by name and validates experiment files; `run` trains one into a run directory.
"""

from cosim.experiments.registry import DEFAULT, available, get, load_experiment, validate
from cosim.experiments.run import check_resumable, run_to_dir

__all__ = ["DEFAULT", "available", "check_resumable", "get", "load_experiment", "run_to_dir", "validate"]
