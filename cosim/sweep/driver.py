"""The sweep driver: expand the spec, keep the points a folder already holds, run the rest on an executor and
record each as it finishes (`cosim sweep`). One driver per folder at a time; rerunning resumes."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from cosim import atomic, runs, safe_yaml
from cosim.errors import ConfigError, CosimError
from cosim.sweep.executors import DaskExecutor, LocalExecutor
from cosim.sweep.results import POINTS_DIR, point_status, save_results, write_outcome
from cosim.sweep.spec import Point, Sweep, expand, read_spec

SPEC_FILE = "sweep.yaml"
WORK_DIR = ".work"  # scratch folders of the points being run (removed after each point, and at every start)


def _fingerprint(sweep: Sweep) -> str:
    return json.dumps([p.config for p in sweep.points], sort_keys=True)


def prepare(sweep: Sweep, spec_path: Path, out: Path, force: bool, data: dict | None = None) -> list[Point]:
    """Create or check DIR; return the points still to run (missing, partial or failed). `data`: the spec, when
    it was given as data rather than read from `spec_path`."""
    out.mkdir(parents=True, exist_ok=True)
    record = runs.inside(out, SPEC_FILE)
    spec = read_spec(spec_path) if data is None else data
    current = {"spec": spec, "base": str(sweep.base_path), "points": json.loads(_fingerprint(sweep))}
    if record.is_file():
        try:
            previous = safe_yaml.read_record(record)
        except ConfigError as exc:
            raise ConfigError(f"unreadable sweep record ({exc}); use another --out") from None
        if not isinstance(previous, dict):
            raise ConfigError(f"{record}: not a sweep record (expected a mapping); use another --out")
        if previous.get("points") != current["points"] and not force:
            raise ConfigError(f"{out} holds a sweep with a different spec (or base experiment); use another --out, "
                              "or --force to run the new spec there (finished points with unchanged configs are kept)")
    atomic.write_text(record, yaml.safe_dump(current, sort_keys=False))
    return [p for p in sweep.points if point_status(runs.inside(out, Path(POINTS_DIR, p.dirname))) != "done"]


@dataclass
class Summary:
    done: int
    failed: int
    skipped: int  # finished before this invocation (resume)
    frame: pd.DataFrame
    axes: list[str]


def run(spec_path: Path, out: Path, *, workers: int, scheduler: str | None = None, fail_fast: bool = False,
        force: bool = False, on_start=None, on_outcome=None, data: dict | None = None) -> Summary:
    """Run the points of `spec_path` that `out` does not hold yet; record each as it finishes.
    `on_start(sweep, todo)` is called once the points are known, `on_outcome(outcome)` after each point.
    `data`: the spec itself (a mapping; its base is looked up next to `spec_path`) instead of reading the file."""
    out = Path(out)
    sweep = expand(spec_path, data)
    with runs.lock(out, "cosim sweep"):  # one driver per folder: a second one would run every point again
        todo = prepare(sweep, spec_path, out, force, data)
        skipped = len(sweep.points) - len(todo)
        save_results(sweep, out)
        work_root = runs.inside(out, WORK_DIR)
        shutil.rmtree(work_root, ignore_errors=True)  # left by a driver that was killed
        if on_start:
            on_start(sweep, todo)
        executor = DaskExecutor(scheduler, workers) if scheduler else LocalExecutor(workers, work_root)
        done = failed = 0
        outcomes = executor.run(todo)
        try:
            for outcome in outcomes:
                write_outcome(out, outcome)
                save_results(sweep, out)
                done, failed = done + (outcome.error is None), failed + (outcome.error is not None)
                if on_outcome:
                    on_outcome(outcome)
                if outcome.error is not None and fail_fast:
                    raise CosimError(f"point {outcome.point.index} failed ({outcome.error}); stopped (--fail-fast)")
        finally:
            outcomes.close()  # stops the points still running
            executor.close()
            shutil.rmtree(work_root, ignore_errors=True)
        return Summary(done, failed, skipped, save_results(sweep, out), sweep.axes)
