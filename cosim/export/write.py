"""Netlist export: a config file or a run directory → the circuit exactly as the toolkit simulates it (the
experiment's `export_circuit`) → a self-contained netlist in one dialect, the model files it needs (each
Verilog-A file with its compiled model, for the simulators that load compiled models), the dialect's run
script and a README saying what each file is and how to run it (`cosim.experiments.export_files`, which also
writes a run directory's netlists/).

Stimuli: `read`, a forward pass of the training set; `program`, a programming pulse and a verify read on
every device (circuits that keep a state); `none`, the circuit with its initial states and idle sources. Each
dialect's writer takes one model family of the circuit (`netlist.writers.base.MODEL_FAMILIES`): ngspice the
model the toolkit runs, VACASK and Spectre Verilog-A per device, Xyce and LTspice B-source subcircuits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cosim import atomic
from cosim.errors import ConfigError
from cosim.experiments.base import ExportedCircuit
from cosim.experiments.export_files import folder_files
from cosim.experiments.registry import get
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
    device_model: str  # what the netlist runs as its device model, in words


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
    exported, where = circuit(source, stimulus, model_backend)
    files, device_model = folder_files(exported, dialect, f"Exported by `cosim export` from the {where}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [atomic.write_bytes(out / name, data) if isinstance(data, bytes) else atomic.write_text(out / name, data)
               for name, data in files.items()]
    netlist_path = out / writers.writer(dialect).netlist_file
    return ExportResult(out, dialect, netlist_path, written, exported, device_model)
