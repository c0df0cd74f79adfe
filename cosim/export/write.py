"""Netlist export: a config file or a run directory → the circuit exactly as the toolkit simulates it (the
experiment's `export_circuit`) → a self-contained netlist in one dialect, the model files it needs (each
Verilog-A file with its compiled model, for the simulators that load compiled models), the dialect's run
script and a README saying what each file is and how to run it. A run directory's netlists/ is the same
folder for its trained circuit (`run_netlists`), so it runs wherever it is copied.

Stimuli: `read`, a forward pass of the training set; `program`, a programming pulse and a verify read on
every device (circuits that keep a state); `none`, the circuit with its initial states and idle sources. Each
dialect's writer takes one model family of the circuit (`netlist.writers.base.MODEL_FAMILIES`): ngspice the
model the toolkit runs, VACASK and Spectre Verilog-A per device, Xyce and LTspice B-source subcircuits.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from cosim import atomic
from cosim.errors import ConfigError, NetlistError
from cosim.experiments.base import ExperimentBase, ExportedCircuit
from cosim.experiments.registry import get
from cosim.export.readme import readme
from cosim.export.source import load_source
from cosim.netlist import writers
from cosim.netlist.writers.base import device_model
from cosim.spice.osdi import compile_va

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
    files, device_model = export_files(exported, dialect, f"Exported by `cosim export` from the {where}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [atomic.write_bytes(out / name, data) if isinstance(data, bytes) else atomic.write_text(out / name, data)
               for name, data in files.items()]
    netlist_path = out / writers.writer(dialect).netlist_file
    return ExportResult(out, dialect, netlist_path, written, exported, device_model)


def run_netlists(cfg: ExperimentBase, states: Mapping[str, np.ndarray], model_backend: str | None = None
                 ) -> dict[str, str | bytes]:
    """The files of a run directory's netlists/: the ngspice export of the trained circuit with the read
    stimulus (what `cosim export RUN_DIR --dialect ngspice` writes), runnable wherever the folder is copied."""
    exported = get(cfg.experiment).export_circuit(cfg, states, "read", model_backend)
    origin = ("Written by `cosim train` from the trained states of this run (`cosim export` of the run directory "
              "writes the same files).")
    return export_files(exported, "ngspice", origin)[0]


def export_files(exported: ExportedCircuit, dialect: str, origin: str) -> tuple[dict[str, str | bytes], str]:
    """The files of `exported` in `dialect` (name -> text or bytes): the netlist, its model files (Verilog-A
    beside its compiled .osdi for the simulators that load compiled models), the dialect's run script if it has
    one, README.md (which starts with `origin`); and the device model in words."""
    writer = writers.writer(dialect)
    if writer.model_family not in exported.variants:
        possible = [d for d in writers.names() if writers.writer(d).model_family in exported.variants]
        raise NetlistError(f"the {exported.experiment} circuit cannot be written for {dialect}: {exported.unavailable}; "
                           f"dialects: {', '.join(possible)}")
    variant = exported.variants[writer.model_family]
    rendered = writer.render(variant.netlist)
    files: dict[str, str | bytes] = {writer.netlist_file: rendered.text, **variant.files, **rendered.files}
    for name, defs in variant.libraries.items():
        files[name] = writer.write_library(defs)
    if writer.loads_osdi:
        files.update(compiled_models(files))
    if writer.run_script:
        files["run.sh"] = writer.run_script
    model = device_model(writer.model_family, exported.model_backend)
    files["README.md"] = readme(exported, writer, origin, sorted([*files, "README.md"]), variant, model)
    return files, model


def compiled_models(files: dict[str, str | bytes]) -> dict[str, bytes]:
    """Each Verilog-A file of an export compiled for any x86-64 CPU (`name.osdi`), to ship beside it."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            if name.endswith(".va"):
                source = Path(folder) / name
                source.write_text(str(text), encoding="utf-8")
                out[name[:-3] + ".osdi"] = compile_va(source, portable=True).read_bytes()
    return out
