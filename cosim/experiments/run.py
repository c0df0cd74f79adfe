"""The experiments `cosim train` runs, looked up by the `experiment:` key of a config file.

Each experiment module defines `Config` (a pydantic model whose `experiment` field is a Literal of its
name, validated like every config) and `train(cfg, progress) -> RunResult`. Modules are imported only
when their experiment is asked for, so one experiment's dependencies never slow another's start-up.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from cosim.hil.ledger import Ledger

MODULES = {
    "eslami2024": "cosim.experiments.eslami2024",
    "islam2024": "cosim.experiments.islam2024",
    "ellis2023": "cosim.experiments.ellis2023",
}
DEFAULT = "eslami2024"

# progress(epoch, record): record holds the epoch's numbers (loss, train_accuracy, …) and "epochs", the total
Progress = Callable[[int, dict], None]


@dataclass
class RunResult:
    """What a run directory records: metrics.json, history.csv, ledger.parquet, netlists/."""

    metrics: dict
    history: list[dict]
    ledger: Ledger
    netlists: dict[str, str] = field(default_factory=dict)
    # final device states by family (e.g. {"msdc_x": array}), saved as DIR/states.npz for export and resume
    states: dict[str, np.ndarray] = field(default_factory=dict)


def available() -> list[str]:
    return [name for name in MODULES if importlib.util.find_spec(MODULES[name]) is not None]


def module(name: str):
    if name not in MODULES or importlib.util.find_spec(MODULES[name]) is None:
        from cosim.errors import ConfigError

        raise ConfigError(f"experiment {name!r} is unknown; allowed: {', '.join(available())}")
    return importlib.import_module(MODULES[name])


def _checkpoint(cfg, out_dir) -> "runs.Checkpoint | None":
    """Where a run of `cfg` in `out_dir` checkpoints (None: its experiment does not)."""
    import inspect

    from cosim import config as cfgmod
    from cosim import runs

    if "checkpoint" not in inspect.signature(module(cfg.experiment).train).parameters:
        return None
    return runs.Checkpoint(Path(out_dir), runs.fingerprint(cfgmod.dump(cfg)))


def check_resumable(cfg, out_dir) -> None:
    """Refuse (ConfigError) to resume `out_dir` when its experiment does not checkpoint, or its checkpoint is
    unreadable or was saved under another config; called before anything is written."""
    checkpoint = _checkpoint(cfg, out_dir)
    if checkpoint is None:
        from cosim.errors import ConfigError

        raise ConfigError(f"experiment {cfg.experiment!r} does not checkpoint; rerun it without --resume")
    checkpoint.load()


def run_to_dir(cfg, out_dir, progress: Progress | None = None, resume: bool = False) -> dict:
    """Train `cfg` and write its run directory (what `cosim train` and every sweep point write); returns
    the metrics. The directory carries INCOMPLETE until every file is in place. Experiments whose `train`
    takes `checkpoint` checkpoint every epoch there; with `resume` they continue from that checkpoint, which
    must belong to this very config."""
    from cosim import config as cfgmod
    from cosim import runs

    experiment = module(cfg.experiment)
    if resume:
        check_resumable(cfg, out_dir)
    checkpoint = _checkpoint(cfg, out_dir)
    train = experiment.train if checkpoint is None else functools.partial(
        experiment.train, checkpoint=checkpoint, resume=resume)
    config_yaml = cfgmod.dump(cfg)
    out = runs.start(out_dir, config_yaml)
    result = train(cfg, progress)
    metrics = {**result.metrics, "experiment": cfg.experiment, "seed": cfg.seed,
               "versions": runs.versions(result.metrics.get("ngspice"), result.metrics.get("model_backend", ""))}
    runs.finish(out, config_yaml=config_yaml, metrics=metrics, history=result.history,
                ledger=result.ledger, netlists=result.netlists, states=result.states)
    return metrics
