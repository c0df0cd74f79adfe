"""A run of an experiment into its run directory: what `cosim train` and every sweep point do."""

from __future__ import annotations

from pathlib import Path

from cosim import config as cfgmod
from cosim import runs
from cosim.errors import ConfigError
from cosim.experiments.base import ExperimentBase, Progress
from cosim.experiments.registry import get


def _checkpoint(cfg: ExperimentBase, out_dir) -> runs.Checkpoint | None:
    """Where a run of `cfg` in `out_dir` checkpoints (None: its experiment does not)."""
    if not get(cfg.experiment).resumable:
        return None
    return runs.Checkpoint(Path(out_dir), runs.fingerprint(cfgmod.dump(cfg)))


def check_resumable(cfg: ExperimentBase, out_dir) -> None:
    """Refuse (ConfigError) to resume `out_dir` when its experiment does not checkpoint, or its checkpoint is
    unreadable or was saved under another config; called before anything is written."""
    checkpoint = _checkpoint(cfg, out_dir)
    if checkpoint is None:
        raise ConfigError(f"experiment {cfg.experiment!r} does not checkpoint; rerun it without --resume")
    checkpoint.load()


def run_to_dir(cfg: ExperimentBase, out_dir, progress: Progress | None = None, resume: bool = False) -> dict:
    """Train `cfg` and write its run directory (what `cosim train` and every sweep point write); returns
    the metrics. The directory carries INCOMPLETE until every file is in place. Resumable experiments
    checkpoint every epoch there; with `resume` they continue from that checkpoint, which must belong to
    this very config."""
    experiment = get(cfg.experiment)
    if resume:
        check_resumable(cfg, out_dir)
    checkpoint = _checkpoint(cfg, out_dir)
    extra = {} if checkpoint is None else {"checkpoint": checkpoint, "resume": resume}
    config_yaml = cfgmod.dump(cfg)
    out = runs.start(out_dir, config_yaml)
    result = experiment.train(cfg, progress, **extra)
    metrics = {**result.metrics, "experiment": cfg.experiment, "seed": cfg.seed,
               "versions": runs.versions(result.metrics.get("ngspice"), result.metrics.get("model_backend", ""))}
    runs.finish(out, config_yaml=config_yaml, metrics=metrics, history=result.history,
                ledger=result.ledger, netlists=result.netlists, states=result.states)
    return metrics
