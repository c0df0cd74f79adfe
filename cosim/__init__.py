"""cosim: SPICE-level co-simulation of neuromorphic hardware that learns.

The Python API (`cosim.api`, docs/api.md): `load`, `train`, `resume`, `open_run`, `characterize`, `run_sweep`,
`report`, `experiment_names` and `Run`, imported on first use so that `import cosim` loads none of numpy,
pandas, pydantic or ngspice.
"""

from cosim.version import __version__

__all__ = ["Characterization", "Run", "__version__", "characterize", "experiment_names", "load", "open_run",
           "report", "resume", "run_sweep", "train"]


def __getattr__(name: str):
    if name in __all__:
        from cosim import api

        return getattr(api, name)
    raise AttributeError(f"module 'cosim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
