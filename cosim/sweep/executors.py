"""Where sweep points run: local worker processes (one per point, each with its own ngspice) or a Dask
cluster. Workers receive the resolved config (not file paths) and send back the run directory's files, so
remote Dask workers need cosim installed and nothing else."""

from __future__ import annotations

import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cosim import runs
from cosim.experiments.registry import validate
from cosim.experiments.run import run_to_dir
from cosim.sweep.spec import Point
from cosim.workers import dask_client, die_with, one_line


def execute_point(config: dict, work_dir: Path | None = None) -> dict:
    """Run one point in a worker: train into a scratch run directory and return its files (so the driver
    writes them, wherever the worker is) plus the wall time. Local workers get `work_dir` from the driver,
    which removes it whatever happens to the worker; remote ones use a temporary folder of their own."""
    import tempfile

    started = time.perf_counter()
    cfg = validate(config, "sweep point")
    with tempfile.TemporaryDirectory(prefix="cosim-point-") if work_dir is None else nullcontext(work_dir) as tmp:
        run_dir = Path(tmp) / "run"
        run_to_dir(cfg, run_dir)
        files = {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
    return {"files": files, "wall_time_s": time.perf_counter() - started}


@dataclass
class Outcome:
    point: Point
    files: dict[str, bytes] | None = None
    error: str | None = None
    wall_time_s: float = 0.0


class Executor:
    """Runs points and yields outcomes as they finish; subclasses decide where the workers are."""

    def run(self, points: list[Point]) -> Iterator[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        pass


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

    die_with(driver_pid)
    tempfile.tempdir = work_dir  # whatever the point puts in temporary folders goes where the driver cleans up
    try:
        result = ("ok", execute_point(config, Path(work_dir)))
    except BaseException as exc:  # reported to the driver as the point's error
        result = ("error", one_line(exc))
    sender.send(result)
    sender.close()


class DaskExecutor(Executor):
    """Points as tasks on a Dask distributed cluster: an existing scheduler (`tcp://host:port`) or a
    LocalCluster started here (`local`); the task is the same function the local executor runs."""

    def __init__(self, scheduler: str, workers: int) -> None:
        self.client, self.cluster = dask_client(scheduler, workers)

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
                    yield Outcome(point, None, one_line(exc), time.perf_counter() - started)
                else:
                    yield Outcome(point, payload["files"], None, payload["wall_time_s"])
        finally:
            self.client.cancel([f for f in submitted if not f.done()])

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
