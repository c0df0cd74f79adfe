"""Netlist export: a config file or a run directory → the circuit exactly as the toolkit simulates it (the
experiment's `export_circuit`) → a self-contained netlist in one dialect, the model files it needs and a
README saying how to run it.

Stimuli: `read`, a forward pass of the training set; `program`, a programming pulse and a verify read on
every device (circuits that keep a state); `none`, the circuit with its initial states and idle sources. Each
dialect's writer takes one model family of the circuit (`netlist.writers.base.MODEL_FAMILIES`): ngspice the
model the toolkit runs, VACASK and Spectre Verilog-A per device, Xyce and LTspice B-source subcircuits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cosim import atomic
from cosim.errors import ConfigError, NetlistError
from cosim.experiments.base import ExportedCircuit
from cosim.experiments.registry import get
from cosim.export.readme import readme
from cosim.export.source import load_source
from cosim.netlist import writers

STIMULI = ("read", "program", "none")


@dataclass
class ExportResult:
    out_dir: Path
    dialect: str
    netlist_path: Path
    files: list[Path]
    circuit: ExportedCircuit


def circuit(source: Path, stimulus: str = "read", model_backend: str | None = None) -> tuple[ExportedCircuit, str]:
    """The circuit of a config file or run directory with `stimulus` (and the source's description);
    `model_backend` chooses the device model of ngspice's family (default: the one this machine runs)."""
    if stimulus not in STIMULI:
        raise ConfigError(f"unknown stimulus {stimulus!r}; allowed: {', '.join(STIMULI)}")
    cfg, states, where = load_source(Path(source))
    return get(cfg.experiment).export_circuit(cfg, states, stimulus, model_backend), where


def export(source: Path, dialect: str, out_dir: Path, stimulus: str = "read",
           model_backend: str | None = None) -> ExportResult:
    """Write the netlist, its model files and README.md into `out_dir` (files written whole, then renamed)."""
    writer = writers.writer(dialect)
    exported, where = circuit(source, stimulus, model_backend)
    if writer.model_family not in exported.variants:
        possible = [d for d in writers.names() if writers.writer(d).model_family in exported.variants]
        raise NetlistError(f"the {exported.experiment} circuit cannot be written for {dialect}: {exported.unavailable}; "
                           f"dialects: {', '.join(possible)}")
    variant = exported.variants[writer.model_family]
    rendered = writer.render(variant.netlist)
    files = {writer.netlist_file: rendered.text, **variant.files, **rendered.files}
    for name, defs in variant.libraries.items():
        files[name] = writer.write_library(defs)
    files["README.md"] = readme(exported, writer, where, sorted(files), variant)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [atomic.write_text(out / name, text) for name, text in files.items()]
    return ExportResult(out, dialect, out / writer.netlist_file, written, exported)
