"""Parameter sweeps: a base experiment plus axes over dotted config keys → points → one run directory per
point → `results.parquet`.

    base: eslami2024.yaml          # an experiment file (relative to the spec, or one that ships in sweeps/)
    set: {training.epochs: 10}     # fixed overrides for every point
    grid: {device.preset: [W, Cr, C], programming.reset_pulse: [true, false]}   # cartesian product
    zip: {training.noise: [0.0, 0.1], training.learning_rate: [0.2, 0.1]}       # paired lists
    random: {n: 4, seed: 0, ranges: {training.noise: [0.0, 0.2]}, log: []}      # seeded uniform samples
    seeds: 3                       # repeats: 3 → seeds 0, 1, 2; or an explicit list

Every point is validated as a full experiment before anything runs. A point's identity is the hash of its
resolved config, so a resumed sweep recognises finished points, and a point whose config did not change is
never recomputed. Workers receive the resolved config (not file paths) and send back the run directory's
files, so remote Dask workers need cosim installed and nothing else.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterator

import numpy as np
import pandas as pd
import yaml
from pydantic import (BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError, field_validator,
                      model_validator)

from cosim import atomic, runs, safe_yaml
from cosim.errors import ConfigError
from cosim.limits import MAX_SEED, MAX_SWEEP_POINTS, USER_INPUT

SPEC_FILE = "sweep.yaml"
RESULTS_FILE = "results.parquet"
POINTS_DIR = "points"
FAILED_FILE = "failed.json"
WORK_DIR = ".work"  # scratch folders of the points being run (removed after each point, and at every start)


SPEC_KEYS = "base, set, grid, zip, random, seeds"
MAX_RANDOM_BOUND = 1e300  # random range ends: their difference must stay a finite float
MAX_RANDOM_INT = 2**62  # integer range ends: numpy draws them as int64


def _check_keys(keys, where: str) -> None:
    from cosim.config import is_dotted_key, shown

    for key in keys:
        if not is_dotted_key(key):
            raise ValueError(f"{where} key {shown(key)} is not a dotted config key (names of letters, digits "
                             "and _ joined by dots, e.g. training.noise)")


class RandomAxes(BaseModel):
    model_config = USER_INPUT

    n: int = Field(ge=1, le=MAX_SWEEP_POINTS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    # [low, high]: integers draw integers, otherwise uniform floats
    ranges: dict[str, Annotated[list[StrictInt | StrictFloat], Field(min_length=2, max_length=2)]]
    log: list[str] = Field(default_factory=list)  # keys sampled log-uniformly

    @model_validator(mode="after")
    def _ranges(self) -> "RandomAxes":
        if not self.ranges:
            raise ValueError("random.ranges is empty: give at least one KEY: [low, high]")
        _check_keys(self.ranges, "random.ranges")
        for key, (low, high) in self.ranges.items():
            limit = MAX_RANDOM_INT if isinstance(low, int) and isinstance(high, int) else MAX_RANDOM_BOUND
            if not -limit <= low <= high <= limit:
                raise ValueError(f"random range of {key!r} is [{low}, {high}]: need low <= high, "
                                 f"both within ±{limit:g}")
            if key in self.log and low <= 0:
                raise ValueError(f"log-uniform range of {key!r} must be positive, got [{low}, {high}]")
        unknown = set(self.log) - set(self.ranges)
        if unknown:
            raise ValueError(f"random.log names keys without a range: {', '.join(sorted(map(str, unknown)))}")
        return self


class SweepSpec(BaseModel):
    model_config = ConfigDict(**USER_INPUT, populate_by_name=True)

    base: str
    fixed: dict[str, Any] = Field(default_factory=dict, alias="set")
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    random: RandomAxes | None = None
    seeds: int | list[int] | None = None  # a count (seeds 0 … n−1) or the seeds themselves

    @field_validator("grid", "zip")
    @classmethod
    def _non_empty(cls, axes: dict[str, list[Any]], info) -> dict[str, list[Any]]:
        for key, values in axes.items():
            if not values:
                raise ValueError(f"{info.field_name} axis {key!r} is empty: give at least one value")
        return axes

    @model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        _check_keys(self.fixed, "set")
        _check_keys(self.grid, "grid")
        _check_keys(self.zip, "zip")
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError("zip axes must be lists of the same length, got " +
                             ", ".join(f"{k}: {len(v)}" for k, v in self.zip.items()))
        if isinstance(self.seeds, int) and not 1 <= self.seeds <= MAX_SWEEP_POINTS:
            raise ValueError(f"seeds must be a count in [1, {MAX_SWEEP_POINTS}] or a list of seeds, got {self.seeds}")
        if isinstance(self.seeds, list):
            if not self.seeds:
                raise ValueError("seeds is an empty list")
            bad = [s for s in self.seeds if not 0 <= s <= MAX_SEED]
            if bad:
                raise ValueError(f"seeds: {bad[0]} is not a seed (an integer in [0, {MAX_SEED}])")
        keys = [*self.fixed, *self.grid, *self.zip, *(self.random.ranges if self.random else [])]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"keys set in more than one place: {', '.join(repeated)}")
        if "seed" in keys and self.seeds is not None:
            raise ValueError("seed is an axis and seeds is given: use one of them")
        if self.point_count() > MAX_SWEEP_POINTS:
            raise ValueError(f"the spec makes {self.point_count()} points; at most {MAX_SWEEP_POINTS} "
                             "(split it into several sweeps)")
        return self

    def seed_list(self) -> list[int] | None:
        if self.seeds is None:
            return None
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    def point_count(self) -> int:
        """Points the spec makes, counted before any is built."""
        seeds = self.seeds if isinstance(self.seeds, int) else len(self.seeds or [None])
        zipped = len(next(iter(self.zip.values()))) if self.zip else 1
        return math.prod(len(v) for v in self.grid.values()) * zipped * (self.random.n if self.random else 1) * seeds


@dataclass(frozen=True)
class Point:
    """One run of the sweep: the values of its axes and the resolved experiment config."""

    index: int
    values: dict[str, Any]
    config: dict  # the validated experiment config as plain data (what workers receive)

    @property
    def id(self) -> str:
        text = json.dumps(self.config, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def dirname(self) -> str:
        return f"p-{self.id}"


@dataclass
class Sweep:
    spec: SweepSpec
    base_path: Path
    points: list[Point] = field(default_factory=list)

    @property
    def axes(self) -> list[str]:
        return list(self.points[0].values) if self.points else []


def read_spec(path: Path) -> dict:
    path = Path(path)
    data = safe_yaml.read(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with {SPEC_KEYS}")
    return data


def _base_path(base: str, spec_path: Path) -> Path:
    try:
        candidate = spec_path.parent / base
        if candidate.is_file():
            return candidate
        from cosim.resources import data_dir

        shipped = data_dir("sweeps") / base
        if shipped.is_file():
            return shipped
    except ValueError:  # a NUL byte in the name
        pass
    raise ConfigError(f"{spec_path}: base = {base!r}: no such experiment file next to the spec or in cosim's sweeps")


def _random_values(random: RandomAxes) -> list[dict[str, Any]]:
    rng = np.random.default_rng(random.seed)
    samples = []
    for _ in range(random.n):
        sample = {}
        for key, (low, high) in random.ranges.items():
            if key in random.log:
                value = float(math.exp(rng.uniform(math.log(low), math.log(high))))
            elif isinstance(low, int) and isinstance(high, int):
                value = int(rng.integers(low, high + 1))
            else:
                value = float(rng.uniform(low, high))
            sample[key] = value
        samples.append(sample)
    return samples


def expand(spec_path: Path, data: dict | None = None) -> Sweep:
    """Validate a sweep spec and every point it makes (as a complete experiment config, presets and parameter
    files included), before anything runs. Values are set as the spec's YAML typed them, never parsed again."""
    from cosim.config import describe_error, read_settings, set_value, shown, validate

    spec_path = Path(spec_path)
    data = read_spec(spec_path) if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{spec_path}: expected a mapping with {SPEC_KEYS}")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, str(spec_path), SPEC_KEYS)) from None
    base = _base_path(spec.base, spec_path)
    settings = read_settings(base)
    for key, value in spec.fixed.items():
        settings = set_value(settings, key, value, f"{spec_path}: set")
    grid = [dict(zip(spec.grid, combo)) for combo in itertools.product(*spec.grid.values())] or [{}]
    zipped = [dict(zip(spec.zip, row)) for row in zip(*spec.zip.values())] or [{}]
    randoms = _random_values(spec.random) if spec.random else [{}]
    points = []
    for g, z, r, seed in itertools.product(grid, zipped, randoms, spec.seed_list() or [None]):
        values = {**g, **z, **r, **({"seed": seed} if seed is not None else {})}
        where = f"{spec_path} point {len(points)} ({', '.join(f'{k}={shown(v)}' for k, v in values.items()) or 'base'})"
        point = settings
        for key, value in values.items():
            point = set_value(point, key, value, where)
        points.append(Point(len(points), values, validate(point, where).model_dump(mode="json")))
    ids = [p.id for p in points]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{spec_path}: some points have identical configs (an axis repeats a value)")
    return Sweep(spec, base, points)


# --- running ------------------------------------------------------------------------------------------


def execute_point(config: dict, work_dir: Path | None = None) -> dict:
    """Run one point in a worker: train into a scratch run directory and return its files (so the driver
    writes them, wherever the worker is) plus the wall time. Local workers get `work_dir` from the driver,
    which removes it whatever happens to the worker; remote ones use a temporary folder of their own."""
    import tempfile

    from cosim.experiments import run as experiments
    from cosim.config import validate

    started = time.perf_counter()
    cfg = validate(config, "sweep point")
    with tempfile.TemporaryDirectory(prefix="cosim-point-") if work_dir is None else nullcontext(work_dir) as tmp:
        run_dir = Path(tmp) / "run"
        experiments.run_to_dir(cfg, run_dir)
        files = {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
    return {"files": files, "wall_time_s": time.perf_counter() - started}


@dataclass
class Outcome:
    point: Point
    files: dict[str, bytes] | None = None
    error: str | None = None
    wall_time_s: float = 0.0


def point_status(point_dir: Path) -> str:
    """'done' (metrics in place, no INCOMPLETE marker), 'failed', or 'missing' (absent, partial or unreadable:
    such a point is run again)."""
    if (point_dir / runs.INCOMPLETE).exists():
        return "missing"
    if _readable_json(point_dir / "metrics.json"):
        return "done"
    if _readable_json(point_dir / FAILED_FILE):
        return "failed"
    return "missing"


def _readable_json(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def write_outcome(out: Path, outcome: Outcome) -> None:
    """Write a point's run directory atomically: marker first, files by temp + rename, marker last. Every
    path stays inside the sweep folder (no symlinks followed, no `..` from a worker's file names)."""
    point_dir = runs.inside(out, Path(POINTS_DIR, outcome.point.dirname))
    if point_dir.exists():
        shutil.rmtree(point_dir)
    runs.start(point_dir)
    if outcome.files is not None:
        for name, content in outcome.files.items():
            if name == runs.INCOMPLETE:
                continue
            target = runs.inside(point_dir, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(target, content)
        atomic.write_text(runs.inside(point_dir, "wall_time_s"), f"{outcome.wall_time_s:.6f}\n")
    else:
        atomic.write_text(runs.inside(point_dir, FAILED_FILE), json.dumps(
            {"error": outcome.error, "wall_time_s": outcome.wall_time_s}, indent=2) + "\n")
    (point_dir / runs.INCOMPLETE).unlink()


def _scalar_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}


def results_frame(sweep: Sweep, out: Path) -> pd.DataFrame:
    """One row per point: axis values, seed, every metric, status, error text, wall time (from the point
    directories, which are the only record)."""
    rows = []
    for point in sweep.points:
        point_dir = out / POINTS_DIR / point.dirname
        status = point_status(point_dir)
        row = {"point": point.index, "point_id": point.id, **point.values, "seed": point.config.get("seed"),
               "status": {"done": "ok", "failed": "failed", "missing": "missing"}[status], "error": None,
               "wall_time_s": math.nan}
        if status == "done":
            row.update({k: v for k, v in _scalar_metrics(json.loads((point_dir / "metrics.json").read_text())).items()
                        if k not in row or k in ("wall_time_s",)})
            wall = point_dir / "wall_time_s"
            try:
                row["wall_time_s"] = float(wall.read_text())
            except (OSError, ValueError):
                pass
        elif status == "failed":
            failed = json.loads((point_dir / FAILED_FILE).read_text())
            row["error"], row["wall_time_s"] = failed.get("error"), failed.get("wall_time_s", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def save_results(sweep: Sweep, out: Path) -> pd.DataFrame:
    frame = results_frame(sweep, out)
    with atomic.replacing(runs.inside(out, RESULTS_FILE)) as tmp:
        frame.to_parquet(tmp, index=False)
    return frame


def _fingerprint(sweep: Sweep) -> str:
    return json.dumps([p.config for p in sweep.points], sort_keys=True)


def prepare(sweep: Sweep, spec_path: Path, out: Path, force: bool) -> list[Point]:
    """Create or check DIR; return the points still to run (missing, partial or failed)."""
    out.mkdir(parents=True, exist_ok=True)
    record = runs.inside(out, SPEC_FILE)
    current = {"spec": read_spec(spec_path), "base": str(sweep.base_path), "points": json.loads(_fingerprint(sweep))}
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


class Executor:
    """Runs points and yields outcomes as they finish; subclasses decide where the workers are."""

    def run(self, points: list[Point]) -> Iterator[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


class LocalExecutor(Executor):
    """N worker processes, a fresh one per point (its own ngspice, nothing carried between points); a worker
    that dies marks only its own point failed. Each point works in a scratch folder under `work_root` that
    this driver creates and removes, so a killed worker leaves nothing behind; workers die with the driver."""

    def __init__(self, workers: int, work_root: Path) -> None:
        self.workers = max(1, int(workers))
        self.work_root = Path(work_root)

    def run(self, points: list[Point]) -> Iterator[Outcome]:
        import multiprocessing as mp
        import os

        ctx = mp.get_context("spawn")
        queue, running = list(points), {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    point = queue.pop(0)
                    work = self._scratch(point)
                    receiver, sender = ctx.Pipe(duplex=False)
                    process = ctx.Process(target=_process_main, args=(point.config, str(work), sender, os.getpid()),
                                          daemon=True)
                    process.start()
                    sender.close()
                    running[point.index] = (point, process, receiver, time.perf_counter(), work)
                ready = mp.connection.wait([entry[2] for entry in running.values()], timeout=1.0)
                for index in [i for i, entry in running.items() if entry[2] in ready]:
                    point, process, receiver, started, work = running.pop(index)
                    try:
                        kind, payload = receiver.recv()
                    except (EOFError, OSError):
                        process.join(5)
                        kind, payload = "error", f"worker process died (exit code {process.exitcode})"
                    process.join(5)
                    receiver.close()
                    shutil.rmtree(work, ignore_errors=True)
                    elapsed = time.perf_counter() - started
                    if kind == "ok":
                        yield Outcome(point, payload["files"], None, payload["wall_time_s"])
                    else:
                        yield Outcome(point, None, payload, elapsed)
        finally:
            for _, process, receiver, _, work in running.values():
                process.kill()
                process.join(5)
                receiver.close()
                shutil.rmtree(work, ignore_errors=True)

    def _scratch(self, point: Point) -> Path:
        work = runs.inside(self.work_root, point.dirname)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        return work


def _process_main(config: dict, work_dir: str, sender, driver_pid: int) -> None:
    import tempfile

    _die_with(driver_pid)
    tempfile.tempdir = work_dir  # whatever the point puts in temporary folders goes where the driver cleans up
    try:
        result = ("ok", execute_point(config, Path(work_dir)))
    except BaseException as exc:  # reported to the driver as the point's error
        result = ("error", _one_line(exc))
    sender.send(result)
    sender.close()


def _die_with(driver_pid: int) -> None:
    """End this worker when the driver process ends, even by SIGKILL (a worker left running would train on
    for nobody): the kernel's parent-death signal on Linux, and a thread watching the parent pid elsewhere
    (or should the signal be lost)."""
    import os
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == driver_pid:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != driver_pid:  # the driver died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="cosim-driver-watch", daemon=True).start()


class DaskExecutor(Executor):
    """Points as tasks on a Dask distributed cluster: an existing scheduler (`tcp://host:port`) or a
    LocalCluster started here (`local`); the task is the same function the local executor runs."""

    def __init__(self, scheduler: str, workers: int) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - distributed is a dependency
            raise ConfigError("--scheduler needs the 'distributed' package: pip install distributed") from None
        self.cluster = None
        try:
            if scheduler == "local":
                self.cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                            dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot reach the Dask scheduler: {exc}") from None

    def run(self, points: list[Point]) -> Iterator[Outcome]:
        from distributed import as_completed

        submitted = {}
        for point in points:
            future = self.client.submit(execute_point, point.config, key=f"cosim-point-{point.id}-{time.time_ns()}",
                                        pure=False, retries=0)
            submitted[future] = (point, time.perf_counter())
        try:
            for future in as_completed(list(submitted)):
                point, started = submitted[future]
                try:
                    payload = future.result()
                except Exception as exc:  # a failing point (or a killed worker) is recorded, the sweep goes on
                    yield Outcome(point, None, _one_line(exc), time.perf_counter() - started)
                else:
                    yield Outcome(point, payload["files"], None, payload["wall_time_s"])
        finally:
            self.client.cancel([f for f in submitted if not f.done()])

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@dataclass
class Summary:
    done: int
    failed: int
    skipped: int  # finished before this invocation (resume)
    frame: pd.DataFrame
    axes: list[str]


def run(spec_path: Path, out: Path, *, workers: int, scheduler: str | None = None, fail_fast: bool = False,
        force: bool = False, on_start=None, on_outcome=None) -> Summary:
    """Run the points of `spec_path` that `out` does not hold yet; record each as it finishes.
    `on_start(sweep, todo)` is called once the points are known, `on_outcome(outcome)` after each point."""
    out = Path(out)
    sweep = expand(spec_path)
    with runs.lock(out, "cosim sweep"):  # one driver per folder: a second one would run every point again
        todo = prepare(sweep, spec_path, out, force)
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
                    from cosim.errors import CosimError

                    raise CosimError(f"point {outcome.point.index} failed ({outcome.error}); stopped (--fail-fast)")
        finally:
            outcomes.close()  # stops the points still running
            executor.close()
            shutil.rmtree(work_root, ignore_errors=True)
        return Summary(done, failed, skipped, save_results(sweep, out), sweep.axes)


# --- plots -------------------------------------------------------------------------------------------


def plot(out: Path, x: str, y: str, hue: str | None = None, kind: str = "line", path: Path | None = None) -> Path:
    """Metric `y` against axis `x` (mean ± std over the points that share x and hue, e.g. seeds) as lines,
    or as a heatmap over two axes (x and hue); writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Path(out) / RESULTS_FILE
    if not results.is_file():
        raise ConfigError(f"{out}: no {RESULTS_FILE} (is this a sweep directory?)")
    try:
        frame = pd.read_parquet(results)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ConfigError(f"{results}: not a readable results table ({str(exc).splitlines()[0][:120]}); "
                          "rerun `cosim sweep SPEC --out DIR` to rewrite it") from None
    if "status" not in frame.columns:
        raise ConfigError(f"{results}: not a sweep results table (no 'status' column)")
    frame = frame[frame["status"] == "ok"]
    if frame.empty:
        raise ConfigError(f"{out}: no finished points to plot")
    for role, key in (("--x", x), ("--y", y), ("--hue", hue)):
        if key is not None and key not in frame.columns:
            raise ConfigError(f"{role} {key!r} is not a column of {results}; available: {', '.join(map(str, frame.columns))}")
    if not pd.api.types.is_numeric_dtype(frame[y]):
        raise ConfigError(f"--y {y!r} is not numeric")
    if kind == "heatmap" and hue is None:
        raise ConfigError("a heatmap needs two axes: give --hue as the second one")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    draw(fig, ax, frame, x, y, hue, kind)
    ax.set_title(f"{Path(out).name}: {y}")
    from cosim.plots import save_png

    return save_png(fig, Path(path) if path else Path(out) / f"{y}_vs_{x}{'_by_' + hue if hue else ''}.png")


def draw(fig, ax, frame: pd.DataFrame, x: str, y: str, hue: str | None, kind: str) -> None:
    """Draw `y` against `x` on `ax`: lines with mean ± std error bars per `hue`, or a heatmap of means."""
    if kind == "heatmap":
        table = frame.groupby([hue, x])[y].mean().unstack(x)
        values = table.to_numpy(dtype=float)
        image = ax.imshow(values, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns])
        ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="w", fontsize=8)
        ax.set_ylabel(hue)
        fig.colorbar(image, ax=ax, label=y)
    else:
        groups = [(None, frame)] if hue is None else list(frame.groupby(hue, sort=True))
        categorical = not pd.api.types.is_numeric_dtype(frame[x])
        for label, part in groups:
            stats = part.groupby(x, sort=True)[y].agg(["mean", "std"])
            xs = range(len(stats)) if categorical else stats.index.to_numpy(dtype=float)
            ax.errorbar(xs, stats["mean"], yerr=stats["std"].fillna(0.0), marker="o", capsize=3,
                        label=None if hue is None else f"{hue} = {label}")
            if categorical:
                ax.set_xticks(range(len(stats)), [str(v) for v in stats.index])
        if hue is not None:
            ax.legend(fontsize=8)
        ax.set_ylabel(f"{y} (mean ± std over repeats)")
        ax.grid(alpha=0.3)
    ax.set_xlabel(x)
