"""Netlist dialect writers, by name: one line per dialect (its module defines WRITER, a `base.Writer`).

Modules are imported when a dialect is first asked for: the engines need only ngspice's.
"""

from __future__ import annotations

import importlib

from cosim.errors import ConfigError
from cosim.netlist.writers.base import Writer

WRITERS = {
    "ngspice": "cosim.netlist.writers.ngspice",
    "vacask": "cosim.netlist.writers.vacask",
    "spectre": "cosim.netlist.writers.spectre",
    "xyce": "cosim.netlist.writers.xyce",
    "ltspice": "cosim.netlist.writers.ltspice",
}


def names() -> list[str]:
    return list(WRITERS)


def writer(dialect: str) -> Writer:
    """The writer of `dialect`; ConfigError listing the dialects for an unknown one."""
    if not isinstance(dialect, str) or dialect not in WRITERS:
        raise ConfigError(f"unknown dialect {dialect!r}; allowed: {', '.join(WRITERS)}")
    return importlib.import_module(WRITERS[dialect]).WRITER
