"""What a dialect writer is: its text for a netlist, and what an exported netlist in it is called, takes and
says. A new dialect is one module defining `WRITER` plus one line in `cosim.netlist.writers.WRITERS`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from cosim.errors import NetlistError
from cosim.netlist import ir

# The device-model families a writer can take: the model cosim runs in ngspice (OSDI or B-source, with the
# toolkit's own files), Verilog-A with one model card per device, or B-source subcircuits each dialect writes.
MODEL_FAMILIES = ("ngspice", "veriloga", "bsource")


@dataclass
class Rendered:
    """A dialect's text plus the files it refers to that the writer generated (name -> text)."""

    text: str
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class Variant:
    """A circuit in one model family: its netlist, the files it needs verbatim, the subcircuits each dialect
    writes itself (file name -> definitions) and the vectors holding its device states, in device order."""

    netlist: ir.Netlist
    files: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, list[ir.SubcircuitDef]] = field(default_factory=dict)
    state_vectors: list[str] = field(default_factory=list)


def _same_name(vector: str) -> str:
    return vector


@dataclass(frozen=True)
class Writer:
    """One dialect. `render` writes a netlist's text; `library` writes subcircuit definitions as a file to
    include (dialects of the B-source family); `output_name` is how the simulator names an ngspice vector."""

    name: str
    netlist_file: str  # what an exported netlist is called
    model_family: str  # one of MODEL_FAMILIES
    executed_here: bool  # cosim's tests run the exported netlist in this simulator
    run: tuple[str, ...]  # the commands that run an exported netlist (README)
    notes: str  # what the exported netlist is, in the README
    render: Callable[[ir.Netlist], Rendered]
    # the command that compiles each Verilog-A file of an export first (`{name}`: its stem); "" when the
    # simulator compiles Verilog-A itself or loads none
    compile_va: str = ""
    library: Callable[[Sequence[ir.SubcircuitDef]], str] | None = None
    output_name: Callable[[str], str] = _same_name

    def __post_init__(self) -> None:
        if self.model_family not in MODEL_FAMILIES:
            raise NetlistError(f"writer {self.name}: model family {self.model_family!r} is not one of "
                               f"{', '.join(MODEL_FAMILIES)}")

    def write_library(self, defs: Sequence[ir.SubcircuitDef]) -> str:
        if self.library is None:
            raise NetlistError(f"the {self.name} writer writes no subcircuit library")
        return self.library(defs)
