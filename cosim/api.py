"""cosim from Python: what the `cosim` command does, as functions that return data and raise cosim's typed
errors (`cosim.errors`) instead of exiting. `import cosim` makes them available as `cosim.load`, `cosim.train`…
(loaded on first use); `docs/api.md` is a whole session.

    cfg = cosim.load("eslami2024", {"training.epochs": 3, "programming.width_s": "1u"}, backend="twin")
    run = cosim.train(cfg, "runs/quick")          # a Run: .metrics .history .ledger .states .summary()
    again = cosim.open_run("runs/quick")
    points = cosim.run_sweep({"base": "eslami2024.yaml", "grid": {"training.noise": [0, 0.1]}}, "runs/sweep")

`run_sweep` and `experiment_names` are not called `sweep` and `experiments`: those are subpackages of cosim,
which Python puts in the package's namespace once they are imported.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal, Mapping

from pydantic import ValidationError

from cosim import runs
from cosim.config import apply_overrides, describe_error, read_settings, set_value
from cosim.errors import ConfigError, CosimError
from cosim.resources import data_file
from cosim.units import eng

if TYPE_CHECKING:  # imported when used: `import cosim` stays light
    import numpy as np
    import pandas as pd

    from cosim.experiments.base import ExperimentBase

DEFAULT_EXPERIMENT = "eslami2024"
Progress = Callable[[int, dict], None]


def experiment_names() -> list[str]:
    """The experiments cosim knows, by the name an experiment file's `experiment:` gives."""
    from cosim import experiments

    return experiments.available()


def experiment_file(name: str) -> Path:
    """The experiment file cosim ships for the experiment `name` (`sweeps/<name>.yaml`)."""
    if name not in experiment_names():
        raise ConfigError(f"experiment {name!r} is unknown; allowed: {', '.join(experiment_names())}")
    return data_file("sweeps", f"{name}.yaml")


def load(experiment: str | Path | ExperimentBase | None = None,
         overrides: Mapping[str, Any] | Iterable[str] = (), **settings: Any) -> ExperimentBase:
    """A validated experiment config: `experiment` is an experiment's name (its shipped file, the one `cosim
    train` uses; None: eslami2024), an experiment file, or a config to copy. `overrides` sets dotted keys,
    either as a mapping of typed values (`{"programming.width_s": 1e-6}`; text such as "1u" is a SPICE-style
    number where a number is expected) or as `KEY=VALUE` texts read as `-s` reads them; `settings` sets
    top-level keys (`backend="twin"`, `seed=3`). ConfigError naming the key when anything is wrong."""
    from cosim import experiments
    from cosim.experiments.base import ExperimentBase

    if isinstance(experiment, ExperimentBase):
        data, where = experiment.model_dump(mode="json"), f"{experiment.experiment} config"
    else:
        path = experiment_file(DEFAULT_EXPERIMENT if experiment is None else experiment) if (
            experiment is None or (isinstance(experiment, str) and experiment in experiment_names()
                                   and not Path(experiment).is_file())) else Path(experiment)
        data, where = read_settings(path), str(path)
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            data = set_value(data, key, value, f"override {key!r}")
    else:
        data = apply_overrides(data, overrides, "-s")
    for key, value in settings.items():
        data = set_value(data, key, value, f"setting {key!r}")
    return experiments.validate(data, where)


# --- runs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Run:
    """A finished run folder (what `cosim train` writes), loaded: its validated config, metrics.json, history.csv
    and ledger.parquet as DataFrames (one row per epoch, one per hardware event) and states.npz (final device
    states by family)."""

    path: Path
    config: ExperimentBase
    metrics: dict
    history: pd.DataFrame
    ledger: pd.DataFrame
    states: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict[str, float | int]:
        """The ledger's energy and time figures (`cosim.hil.summary.summarize`: totals, training totals, per
        inference and per training sample), the ones metrics.json and `cosim report` show."""
        from cosim.hil.summary import summarize

        return summarize(self.ledger, self.metrics.get("training_samples"))

    def __repr__(self) -> str:
        m = self.metrics
        shown = [f"{m['experiment']} on {m.get('backend', '?')}, seed {m.get('seed')}"]
        if isinstance(m.get("test_accuracy"), (int, float)):
            shown.append(f"test accuracy {m['test_accuracy']:.3f}")
        for key, label, unit in (("training_energy_J", "training energy", "J"),
                                 ("training_circuit_time_s", "training time", "s")):
            if isinstance(m.get(key), (int, float)):
                shown.append(f"{label} {eng(m[key], unit)}")
        if isinstance(m.get("pulses"), int):
            shown.append(f"{m['pulses']} pulses")
        return f"<Run {self.path}: {', '.join(shown)}>"


def open_run(path: str | Path) -> Run:
    """A finished run folder (ConfigError naming the file when one is missing, corrupt or not cosim's)."""
    from cosim import experiments
    from cosim.reports import load_run

    record = load_run(Path(path))
    config = experiments.validate(record.config, str(record.path / "config.yaml"))
    return Run(record.path, config, record.metrics, record.history, record.ledger, record.states)


def train(config: ExperimentBase | str | Path | None = None, out: str | Path | None = None, *,
          backend: Literal["spice", "batch", "twin"] | None = None, force: bool = False,
          progress: bool | Progress = False, tile_workers: int | None = None, scheduler: str | None = None) -> Run:
    """Train `config` (a config from `load`, or what `load` takes) into the run folder `out` and return the Run.
    `out` None: a new folder under the system's temporary folder (`cosim-<experiment>-…`, kept; `run.path`
    says where). A folder that holds an earlier run is refused unless `force` (which replaces the run's
    files, nothing else). `backend` overrides the config's; `progress`: True prints a line per epoch, a
    function `progress(epoch, record)` gets each epoch's numbers. A tiled board's tiles (`circuit.tile`,
    `crossbar.tile`) run on `tile_workers` local processes, or on the Dask workers of `scheduler` (an address
    or "local"); the numbers are the same as serially (cosim.hil.tile_pool)."""
    from cosim import experiments
    from cosim.experiments.base import ExperimentBase
    from cosim.hil import tile_pool

    cfg = config if isinstance(config, ExperimentBase) else load(config)
    if backend is not None:
        cfg = load(cfg, backend=backend)
    out = Path(tempfile.mkdtemp(prefix=f"cosim-{cfg.experiment}-")) if out is None else Path(out)
    with runs.lock(out, "cosim train"):
        existing = runs.existing_run(out)
        if existing and not force:
            raise CosimError(f"{out} already holds a run ({', '.join(existing)}); use another --out, --force "
                             "(force=True) to replace it, or --resume (cosim.resume) to continue an interrupted one")
        runs.clear(out)
        with tile_pool.execution(tile_workers, scheduler):
            experiments.run_to_dir(cfg, out, _progress(progress))
    return open_run(out)


def resume(path: str | Path, *, progress: bool | Progress = False, tile_workers: int | None = None,
           scheduler: str | None = None) -> Run:
    """Continue the interrupted run in `path` from its last finished epoch, with the config it recorded (its
    tiles on `tile_workers` or `scheduler`, as `train`)."""
    from cosim import experiments
    from cosim.hil import tile_pool

    path = Path(path)
    if not (path / runs.INCOMPLETE).exists():
        raise CosimError(f"{path} is not an interrupted run (no {runs.INCOMPLETE} marker): nothing to resume")
    cfg = load(path / "config.yaml")
    with runs.lock(path, "cosim train"):
        experiments.check_resumable(cfg, path)
        with tile_pool.execution(tile_workers, scheduler):
            experiments.run_to_dir(cfg, path, _progress(progress), resume=True)
    return open_run(path)


def _progress(progress: bool | Progress) -> Progress | None:
    if callable(progress):
        return progress
    if not progress:
        return None

    def show(epoch: int, record: dict) -> None:
        numbers = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in record.items()
                            if k in ("loss", "train_accuracy", "validation_accuracy") and isinstance(v, float))
        print(f"epoch {epoch}/{record.get('epochs', '?')}: {numbers}", flush=True)

    return show


# --- sweeps and reports ---------------------------------------------------------------------------------------


def run_sweep(spec: str | Path | Mapping[str, Any], out: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, fail_fast: bool = False, force: bool = False) -> pd.DataFrame:
    """Run the points of a sweep spec (a file, or the spec itself as a mapping, whose `base` is found next to
    the current folder or among cosim's sweeps/) that `out` does not hold yet, and return the results table:
    one row per point with its axis values, status, metrics and wall time (`out/results.parquet`). `workers`:
    local processes (default: one per core); `scheduler`: a Dask scheduler address or "local"."""
    from cosim import sweep as sweeps

    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    path, data = (Path(spec), None) if isinstance(spec, (str, Path)) else (Path("sweep spec"), dict(spec))
    summary = sweeps.run(path, Path(out), workers=workers or os.cpu_count() or 1, scheduler=scheduler,
                         fail_fast=fail_fast, force=force, data=data)
    return summary.frame


def report(paths: str | Path | Iterable[str | Path], out: str | Path) -> dict[str, Path]:
    """Write the energy / latency / accuracy report of run and sweep folders into `out` (report.html,
    report.md, PNGs, CSVs); returns the files written by name."""
    from cosim import reports

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    return reports.write([Path(p) for p in paths], Path(out))


# --- device characterisation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Characterization:
    """What a characterisation wrote into `out`: its files (CSVs and PNGs); `tables` reads the CSVs back."""

    family: str
    out: Path
    files: list[Path]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        import pandas as pd

        return {p.stem: pd.read_csv(p) for p in self.files if p.suffix == ".csv"}


def characterize(family: str, out: str | Path | None = None, *, progress: Callable[[str, dict], None] | None = None,
                 **options: Any) -> Characterization:
    """Characterise a device family's models into `out` (None: a new folder under the system's temporary
    folder). The options are those of the family's `Characterization` model (e.g.
    `cosim.devices.msdc.characterize.Options`); values may be SPICE-style text (`pulse_width_s="5u"`).
    `progress(name, summary)` is called after each preset or width where the family reports one."""
    from cosim.devices import registry

    chosen = registry.family(family)
    try:
        settings = chosen.Characterization.model_validate(options)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, f"characterize {chosen.name}")) from None
    out = Path(tempfile.mkdtemp(prefix=f"cosim-characterize-{chosen.name}-")) if out is None else Path(out)
    return Characterization(chosen.name, out, chosen.characterize(settings, out, progress))
