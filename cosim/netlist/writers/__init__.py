"""Netlist dialect writers, by name: one line per dialect (its module defines WRITER, a `base.Writer`).
Modules are imported when a dialect is first asked for: the engines need only ngspice's."""

from __future__ import annotations

from cosim.registry import Registry

WRITERS = Registry({
    "ngspice": "cosim.netlist.writers.ngspice",
    "vacask": "cosim.netlist.writers.vacask",
    "spectre": "cosim.netlist.writers.spectre",
    "xyce": "cosim.netlist.writers.xyce",
    "ltspice": "cosim.netlist.writers.ltspice",
}, "WRITER", "unknown dialect {name!r}")
names = WRITERS.names
writer = WRITERS.get  # the writer of a dialect: a base.Writer (ConfigError listing the dialects if unknown)
