"""BatchEngine: a fresh `ngspice -b -r` process per run, in a temporary folder.

Slower than the shared library, but it runs exactly the file a user could run by hand, which makes it
the cross-check for the shared engine and for exported netlists.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Mapping

from cosim.errors import SimulationError, SimulationTimeout
from cosim.netlist import ir
from cosim.netlist.writers import ngspice
from cosim.spice import install, rawfile
from cosim.spice.engine import Engine, Waveforms
from cosim.spice.messages import Transcript


class BatchEngine(Engine):
    backend = "batch"
    can_retry = True
    can_sweep = True

    def __init__(self, *, seed: int | None = None, num_threads: int | None = None, timeout_s: float = 300.0,
                 convergence_retry: bool = True) -> None:
        super().__init__(seed=seed, num_threads=num_threads, timeout_s=timeout_s, convergence_retry=convergence_retry)
        self.executable = install.executable()

    def _load_text(self, text: str) -> None:
        """Nothing to load ahead: each run writes the whole circuit."""

    def _apply_alter(self, element: ir.Element, changes: Mapping[str, object]) -> None:
        """Alterations live in the IR (see Engine.netlist) and are written with the next run."""

    def run_file(self, circuit: Path, timeout_s: float | None = None) -> tuple[list[rawfile.Plot], Transcript]:
        """Run a netlist file as `ngspice -b -n -r` would from a shell; return its plots and messages.

        `-n`: no `.spiceinit` is read, from the netlist's folder, $SPICE_USERINIT_DIR, the working folder or
        $HOME alike; such a file can run shell commands. ngspice's own spinit is still read (code models,
        `num_threads=8`): the engine's netlists set their thread count themselves (`ngspice.write`)."""
        circuit = Path(circuit).resolve()
        with tempfile.TemporaryDirectory(prefix="cosim-batch-") as tmp:
            raw = Path(tmp).resolve() / "out.raw"  # absolute: ngspice runs in tmp, which may be given relative ($TMPDIR)
            try:
                proc = subprocess.run(
                    [self.executable, "-b", "-n", "-r", str(raw), str(circuit)],
                    cwd=tmp, capture_output=True, text=True, timeout=timeout_s or self.timeout_s,
                )
            except subprocess.TimeoutExpired as exc:
                raise SimulationTimeout(f"ngspice -b on {circuit.name} did not finish within {exc.timeout:g} s") from exc
            transcript = Transcript()
            for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
                for line in text.splitlines():
                    transcript.add(stream, line)
            if not raw.exists():
                errors = transcript.errors() or [f"exit code {proc.returncode}, no raw file written"]
                transcript.lines.append(("error", "; ".join(errors)))
                return [], transcript
            try:
                return rawfile.read(raw), transcript
            except SimulationError:
                if transcript.errors():  # a failed analysis leaves a header without data: its messages say why
                    return [], transcript
                raise

    def _run(self, analysis: ir.Analysis, vectors: tuple[str, ...]) -> Waveforms:
        return self._simulate(analysis, vectors, safer=False)

    def _run_safer(self, analysis: ir.Analysis, vectors: tuple[str, ...]) -> Waveforms:
        return self._simulate(analysis, vectors, safer=True)

    def _simulate(self, analysis: ir.Analysis, vectors: tuple[str, ...], safer: bool) -> Waveforms:
        net = self.standalone_netlist(analysis, vectors, safer=safer)
        with tempfile.TemporaryDirectory(prefix="cosim-net-") as tmp:
            circuit = Path(tmp) / "circuit.cir"
            circuit.write_text(ngspice.write(net, num_threads=int(self.num_threads)))
            try:
                plots, transcript = self.run_file(circuit)
            except SimulationTimeout:
                raise self._timeout(analysis, vectors, safer=safer) from None
            errors = transcript.errors()
            if errors or not plots:
                raise self._failure(analysis, vectors, transcript.text(), errors, transcript.is_convergence_failure(),
                                    safer=safer)
        plot = plots[-1]
        found = plot.vectors()
        missing = [v for v in vectors if v not in found]
        if missing:
            raise SimulationError(f"ngspice wrote no vector {missing}; check the node or source names")
        values = {v: found[v] for v in vectors}
        if isinstance(analysis, ir.Tran):
            return {"time": found["time"], **values}
        if isinstance(analysis, ir.DcSweep):  # the scale vector comes first
            return {"sweep": plot.data[:, 0].real.copy(), **values}
        return values
