"""Typed errors that carry the facts a user needs; the CLI turns each into one line and a non-zero exit.

All live here (not spread over spice/, netlist/ and config) so that every layer can raise them and the
CLI can catch one base class without importing the layers above it.
"""

from __future__ import annotations

from pathlib import Path


class CosimError(Exception):
    """Base class: a failure explained well enough that no traceback is needed."""


class ConfigError(CosimError):
    """A config, preset or data file is wrong: the message names the file, key or line and what is allowed."""


class DataError(CosimError):
    """A data set is not installed, or its download or files fail their checksums; the message says which
    command installs it."""


class NetlistError(CosimError):
    """A netlist IR element would produce an invalid or unsafe netlist (bad name, non-finite number, ...)."""


class NgspiceNotFound(CosimError):
    """ngspice (the shared library or the executable) is missing; the message carries the install command."""


class SimulationError(CosimError):
    """ngspice rejected the circuit or a command; carries ngspice's own error lines."""

    def __init__(self, message: str, ngspice_output: str = "") -> None:
        super().__init__(message)
        self.ngspice_output = ngspice_output


class ConvergenceError(SimulationError):
    """The transient did not converge (timestep too small, singular matrix); the netlist is kept on disk."""

    def __init__(self, message: str, ngspice_output: str = "", netlist_path: Path | None = None) -> None:
        if netlist_path is not None:
            message = f"{message} (failing netlist kept at {netlist_path})"
        super().__init__(message, ngspice_output)
        self.netlist_path = netlist_path


class SimulationTimeout(SimulationError):
    """A simulation ran longer than its time limit and was stopped."""


class WorkerError(CosimError):
    """A worker process (a tile's simulator, or a Dask worker holding one) died or could not be reached."""
