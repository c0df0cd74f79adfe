"""The README beside an exported netlist: what the circuit is, how to run it, and where to read the results."""

from __future__ import annotations

from typing import Sequence

from cosim.experiments.base import ExportedCircuit
from cosim.netlist.numbers import number
from cosim.netlist.writers.base import Variant, Writer


def readme(circuit: ExportedCircuit, writer: Writer, where: str, names: Sequence[str], variant: Variant) -> str:
    lines = [f"# {circuit.experiment} board, {writer.name} netlist", "",
             f"Exported by `cosim export` from the {where}.", ""]
    lines += [f"- {d}" for d in circuit.description]
    lines += ["", f"{writer.notes} Executed in cosim's tests: {'yes' if writer.executed_here else 'no'}.", "",
              "## Run", "", "```", *compile_commands(writer, names), *writer.run, "```", "",
              "## Files", ""]
    lines += [f"- `{n}`" for n in names]
    if circuit.stimulus != "none":
        lines += ["", "## Where to read the results", ""]
        if circuit.column_vectors:
            lines.append(f"{circuit.output_label}: " + _vectors(writer, circuit.column_vectors) + ".")
        if circuit.drive_vectors:
            lines.append("Programming-driver current (A): " + _vectors(writer, circuit.drive_vectors)
                         + "; a verify read's conductance is −I / V(device) at its read instant, V(device) being the voltage "
                         "from node <layer>_t<row>_<col> to node <layer>_c<row>_<col> of the device read.")
        lines.append(f"{circuit.state_label}: " + _vectors(writer, variant.state_vectors) + ".")
        reads = [s for s in circuit.slots if s.read_at_s is not None]
        if reads:
            lines += ["", "| event | device | read instant (s) |", "|---|---|---|"]
            lines += [f"| {s.kind} | {s.device or 'all'} | {number(s.read_at_s)} |" for s in reads]
    return "\n".join(lines) + "\n"


def compile_commands(writer: Writer, names: Sequence[str]) -> list[str]:
    """The dialect's compile command for each Verilog-A file of the export (every one is loaded compiled)."""
    if not writer.compile_va:
        return []
    return [writer.compile_va.format(name=n[:-3]) for n in sorted(names) if n.endswith(".va")]


def _vectors(writer: Writer, vectors: Sequence[str]) -> str:
    """ngspice vectors as the dialect's simulator names them in its output."""
    return ", ".join(f"`{writer.output_name(v)}`" for v in vectors)
