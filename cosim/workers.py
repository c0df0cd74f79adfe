"""Worker processes and Dask clusters, as sweeps (cosim.sweep.executors) and tile pools (cosim.hil.tile_pool)
use them: local workers that end with the process that started them, the `--scheduler` address, and a Dask
client on a running scheduler or on a LocalCluster started here."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from cosim.errors import ConfigError


def check_scheduler(value: str) -> str:
    """'local', or a Dask scheduler address SCHEME://HOST:PORT (tcp, tls, ws, wss); ValueError otherwise."""
    if value == "local":
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (parts is None or port is None or parts.scheme not in ("tcp", "tls", "ws", "wss") or not parts.hostname
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(f"{value!r} is neither 'local' nor a scheduler address like tcp://HOST:PORT")
    return value


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def die_with(parent_pid: int) -> None:
    """End this worker when the process that started it ends, even by SIGKILL (a worker left running would
    work on for nobody): the kernel's parent-death signal on Linux, and a thread watching the parent pid
    elsewhere (or should the signal be lost)."""
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
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="cosim-parent-watch", daemon=True).start()


def dask_client(scheduler: str, workers: int):
    """(client, cluster): a client of the scheduler at `scheduler`, or of a LocalCluster of `workers` processes
    with one thread each started here (`local`; cluster is None otherwise). ConfigError when it cannot be
    reached; close the client, then the cluster."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise ConfigError("--scheduler needs the 'distributed' package: pip install distributed") from None
    cluster = None
    try:
        if scheduler == "local":
            cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            return Client(cluster), cluster
        return Client(scheduler, timeout="20s"), None
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ConfigError(f"--scheduler {scheduler}: cannot reach the Dask scheduler: {exc}") from None
