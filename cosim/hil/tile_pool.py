"""Where a tiled board's tile circuits run: in this process (serially, the default), in persistent local worker
processes, or in Dask actors. Every tile's session (its netlist, engine and states) lives in one host for the
whole run; a host runs the requests for its tiles in the order given, so a tile sees the same operations in the
same order whichever pool runs it, and the numbers come out the same bit for bit.

Local workers are started with the spawn method, each owns the tiles k with k mod workers = its number and its
own ngspice (which keeps each of its tiles' circuits loaded and switches between them, cosim.spice.shared), and
ends with the process that started it (cosim.workers.die_with). A worker that dies is a WorkerError naming it.
With a scheduler, each Dask worker holds one host as an actor (a stateful object that stays on its worker).
How many workers run the tiles changes no number, so it is an option of the command (`--tile-workers`,
`--scheduler`), set for a run with `execution`, not a setting of the experiment.
"""

from __future__ import annotations

import contextlib
import contextvars
import pickle
import traceback
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from cosim.errors import ConfigError, CosimError, WorkerError
from cosim.hil.ledger import Event

OPERATIONS = ("forward", "read_conductance", "program")


@dataclass
class Request:
    """One operation of one tile, from the states `x` of the tile's devices."""

    tile: int
    operation: str  # one of OPERATIONS: the HardwareSession method
    kwargs: dict
    x: np.ndarray


@dataclass
class Reply:
    result: Any  # what the session's method returned
    x: np.ndarray  # the tile's device states after the operation
    events: list[Event]  # the ledger rows it booked, as the tile's session named them
    devices: list[int]  # per event: the tile's own index of the device it names (-1: none)
    elapsed_s: float  # the circuit time the operation took


class TileHost:
    """The tile sessions one worker owns, and the requests it runs on them."""

    def __init__(self) -> None:
        self.sessions: dict[int, Any] = {}
        self._indices: dict[int, dict[str, int]] = {}  # per tile: device instance name -> the tile's own index

    def open(self, tile: int, opener: Callable[[], Any]) -> None:
        session = self.sessions[tile] = opener()
        self._indices[tile] = {p.instance: p.index for p in session.network.points}

    def run(self, requests: list[Request]) -> list[Reply]:
        return [self._run(r) for r in requests]

    def _run(self, request: Request) -> Reply:
        if request.operation not in OPERATIONS:
            raise ConfigError(f"a tile runs {', '.join(OPERATIONS)}, not {request.operation!r}")
        session = self.sessions[request.tile]
        session.x = np.array(request.x, dtype=float)
        started_s, first = session.t_s, len(session.ledger.events)
        result = getattr(session, request.operation)(**request.kwargs)
        events = session.ledger.events[first:]
        del session.ledger.events[first:]  # the caller's ledger keeps them
        index = self._indices[request.tile]
        return Reply(result, session.x.copy(), events, [index.get(e.device, -1) for e in events],
                     session.t_s - started_s)


class TilePool(Protocol):
    def open(self, openers: list[Callable[[], Any]]) -> None:
        """Open tile k's session (`openers[k]()`, a picklable callable) in the host that owns tile k."""

    def run(self, requests: list[Request]) -> list[Reply]:
        """Run the requests (each host its own, in the order given; hosts at once) and reply in request order."""

    def close(self) -> None: ...


class SerialPool:
    """Every tile in this process, one after another (the tiles' engines share this process's ngspice)."""

    workers = 1

    def __init__(self) -> None:
        self.host = TileHost()

    def open(self, openers: list[Callable[[], Any]]) -> None:
        for tile, opener in enumerate(openers):
            self.host.open(tile, opener)

    def run(self, requests: list[Request]) -> list[Reply]:
        return self.host.run(requests)

    def close(self) -> None:
        self.host = TileHost()


def _by_host(requests: list[Request], hosts: int) -> dict[int, list[int]]:
    """Positions of the requests each host runs (tile k lives in host k mod hosts), in request order."""
    out: dict[int, list[int]] = {}
    for position, request in enumerate(requests):
        out.setdefault(request.tile % hosts, []).append(position)
    return out


class ProcessPool:
    """`workers` persistent local processes (spawned), each a TileHost with its own ngspice."""

    def __init__(self, workers: int) -> None:
        import multiprocessing as mp
        import os

        if mp.current_process().daemon:
            raise ConfigError("tile workers cannot be started inside a daemonic worker process (a sweep point's); "
                              "run its tiles serially")
        ctx = mp.get_context("spawn")
        self.workers = int(workers)
        self._processes, self._connections = [], []
        for _ in range(self.workers):
            mine, theirs = ctx.Pipe(duplex=True)
            process = ctx.Process(target=_serve, args=(theirs, os.getpid()), daemon=True, name="cosim-tile-worker")
            process.start()
            theirs.close()
            self._processes.append(process)
            self._connections.append(mine)
        self._finalizer = weakref.finalize(self, _stop, self._processes, self._connections)

    def open(self, openers: list[Callable[[], Any]]) -> None:
        for tile, opener in enumerate(openers):
            self._send(tile % self.workers, ("open", (tile, opener)))
        for tile in range(len(openers)):  # one reply per message, in the order sent
            self._receive(tile % self.workers)

    def run(self, requests: list[Request]) -> list[Reply]:
        groups = _by_host(requests, self.workers)
        for host, positions in groups.items():
            self._send(host, ("run", ([requests[p] for p in positions],)))
        replies: list[Reply | None] = [None] * len(requests)
        failure: BaseException | None = None
        for host, positions in groups.items():  # every host's reply is read before an error is raised
            try:
                for position, reply in zip(positions, self._receive(host)):
                    replies[position] = reply
            except CosimError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return replies

    def close(self) -> None:
        self._finalizer()

    def _send(self, host: int, message: tuple) -> None:
        try:
            self._connections[host].send(message)
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
            raise self._died(host) from None

    def _receive(self, host: int) -> Any:
        try:
            kind, payload = self._connections[host].recv()
        except (EOFError, ConnectionResetError, OSError):
            raise self._died(host) from None
        if kind == "ok":
            return payload
        if isinstance(payload, CosimError):
            raise payload
        raise WorkerError(f"tile worker {host} failed: {payload}")

    def _died(self, host: int) -> WorkerError:
        process = self._processes[host]
        process.join(5)
        return WorkerError(f"tile worker {host} (pid {process.pid}) died (exit code {process.exitcode}); "
                           "its tiles' states are lost: run again")


def _serve(connection, parent_pid: int) -> None:
    """A local tile worker: open tiles and run requests until told to stop or the parent ends."""
    from cosim.workers import die_with

    die_with(parent_pid)
    host = TileHost()
    while True:
        try:
            kind, payload = connection.recv()
        except (EOFError, OSError):
            return
        if kind == "stop":
            return
        try:
            reply = ("ok", getattr(host, kind)(*payload))
        except BaseException as exc:  # the caller raises it: a cosim error as itself, anything else as text
            reply = ("error", _portable(exc))
        connection.send(reply)


def _portable(exc: BaseException) -> BaseException | str:
    """A cosim error that pickles goes back as itself; anything else as its traceback."""
    if isinstance(exc, CosimError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001 (an exception that does not survive pickling)
            pass
    return "".join(traceback.format_exception(exc)).strip()


def _stop(processes, connections) -> None:
    for connection in connections:
        with contextlib.suppress(OSError, ValueError):
            connection.send(("stop", ()))
    for process in processes:
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)
    for connection in connections:
        connection.close()


class DaskPool:
    """A TileHost actor on each of `workers` Dask workers of the cluster at `scheduler` ("local": a LocalCluster
    of that many processes started here; an address: its first `workers` workers)."""

    def __init__(self, scheduler: str, workers: int) -> None:
        from cosim.workers import dask_client

        self.client, self.cluster = dask_client(scheduler, workers)
        try:
            addresses = sorted(self.client.scheduler_info()["workers"])[:max(1, workers)]
            if not addresses:
                raise ConfigError(f"--scheduler {scheduler}: the cluster has no workers")
            self.actors = [self.client.submit(TileHost, actor=True, workers=[a], pure=False).result()
                           for a in addresses]
        except BaseException:
            self.close()
            raise
        self.addresses, self.workers = addresses, len(addresses)

    def open(self, openers: list[Callable[[], Any]]) -> None:
        futures = [(tile % self.workers, self.actors[tile % self.workers].open(tile, opener))
                   for tile, opener in enumerate(openers)]
        for host, future in futures:
            self._result(host, future)

    def run(self, requests: list[Request]) -> list[Reply]:
        groups = _by_host(requests, self.workers)
        futures = {host: self.actors[host].run([requests[p] for p in positions]) for host, positions in groups.items()}
        replies: list[Reply | None] = [None] * len(requests)
        for host, positions in groups.items():
            for position, reply in zip(positions, self._result(host, futures[host])):
                replies[position] = reply
        return replies

    def _result(self, host: int, future) -> Any:
        try:
            return future.result()
        except CosimError:
            raise
        except Exception as exc:  # a lost worker, or a failure inside it
            from cosim.workers import one_line

            raise WorkerError(f"tile worker {self.addresses[host]} failed: {one_line(exc)}") from exc

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# --- how a run's tiles are executed -------------------------------------------------------------------------


@dataclass(frozen=True)
class Execution:
    # tile workers; None: serially in this process, or with a scheduler every worker of its cluster (a
    # LocalCluster: one per core)
    workers: int | None = None
    scheduler: str | None = None  # a Dask scheduler address or "local": the workers are Dask workers


_EXECUTION: contextvars.ContextVar[tuple[Execution, list]] = contextvars.ContextVar(
    "cosim_tile_execution", default=(Execution(), []))


@contextlib.contextmanager
def execution(workers: int | None = None, scheduler: str | None = None) -> Iterator[Execution]:
    """Run the tiles of the boards opened inside on `workers` local processes, or on Dask workers with
    `scheduler` (`Execution`); the pools opened inside are closed on leaving."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"tile workers must be a whole number >= 1, got {workers!r}")
    if scheduler is not None:
        from cosim.workers import check_scheduler

        try:
            check_scheduler(scheduler)
        except ValueError as exc:
            raise ConfigError(f"--scheduler: {exc}") from None
    pools: list = []
    token = _EXECUTION.set((Execution(workers, scheduler), pools))
    try:
        yield _EXECUTION.get()[0]
    finally:
        _EXECUTION.reset(token)
        for pool in pools:
            pool.close()


def open_pool(tiles: int) -> TilePool:
    """The pool the current execution asks for, for a board of `tiles` tiles (no more workers than tiles)."""
    import os

    settings, pools = _EXECUTION.get()
    if settings.scheduler is not None:
        wanted = settings.workers or (os.cpu_count() or 1 if settings.scheduler == "local" else tiles)
        pool: TilePool = DaskPool(settings.scheduler, min(wanted, tiles))
    elif min(settings.workers or 1, tiles) > 1:
        pool = ProcessPool(min(settings.workers, tiles))
    else:
        return SerialPool()
    pools.append(pool)
    return pool
