"""The one place an engine is made: `open_engine("spice" | "batch", seed=…, timeout_s=…)`.

`spice` is the persistent shared library (the training loop's fast path), `batch` a fresh `ngspice -b` per
run (the cross-check, and what exported netlists run as). Callers name a backend; none constructs an engine
class itself, so every engine of a run is made with the same defaults.
"""

from __future__ import annotations

from cosim.errors import ConfigError
from cosim.spice.engine import Engine

BACKENDS = ("spice", "batch")


def open_engine(backend: str, *, seed: int | None = None, timeout_s: float = 300.0,
                num_threads: int | None = None) -> Engine:
    """An engine of `backend`; `seed` sets ngspice's random draws (None: the circuit draws none)."""
    if backend == "spice":
        from cosim.spice.shared import SharedEngine

        return SharedEngine(seed=seed, timeout_s=timeout_s, num_threads=num_threads)
    if backend == "batch":
        from cosim.spice.batch import BatchEngine

        return BatchEngine(seed=seed, timeout_s=timeout_s, num_threads=num_threads)
    raise ConfigError(f"no engine for backend {backend!r}; allowed: {', '.join(BACKENDS)} (the twin runs no simulator)")
