"""The files of an exported circuit in one dialect: the netlist, the model files it needs (each Verilog-A file
with its compiled model, for the simulators that load compiled models), the dialect's run script and a README
saying what each file is and how to run it. `cosim export` writes them (`cosim.export`), and so does every run
into its netlists/ (`run_netlists`), so that a run's netlists run wherever the folder is copied."""

from __future__ import annotations

import tempfile
from pathlib import Path

from cosim.errors import NetlistError
from cosim.experiments.base import ExportedCircuit
from cosim.experiments.export_readme import readme
from cosim.netlist import writers
from cosim.netlist.writers.base import device_model
from cosim.spice.osdi import compile_va

RUN_ORIGIN = ("Written by `cosim train` from the trained states of this run (`cosim export` of the run directory "
              "writes the same files).")


def run_netlists(exported: ExportedCircuit) -> dict[str, str | bytes]:
    """A run directory's netlists/: the ngspice files of the run's trained circuit with the read stimulus (what
    `cosim export RUN_DIR --dialect ngspice` writes)."""
    return folder_files(exported, "ngspice", RUN_ORIGIN)[0]


def folder_files(exported: ExportedCircuit, dialect: str, origin: str) -> tuple[dict[str, str | bytes], str]:
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
