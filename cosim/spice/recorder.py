"""An engine that simulates nothing: it keeps the standalone netlist of the transient it is asked to run.

A hardware session driving it produces its stimulus without a simulator, so an exported netlist holds
exactly the loop's circuit, waveforms, time step and save list (`cosim export`).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from cosim.errors import NetlistError
from cosim.netlist import ir
from cosim.spice.engine import Engine, Waveforms


class RecordingEngine(Engine):
    """Keeps the netlist of the one transient it is asked for (`recorded`) and answers with placeholder
    waveforms; `record_circuit` keeps the circuit alone, with no analysis."""

    backend = "export"

    def __init__(self, seed: int | None) -> None:
        super().__init__(seed=seed)
        self.recorded: ir.Netlist | None = None

    def record_circuit(self) -> ir.Netlist:
        """The loaded circuit with every alteration, no analysis and no save list."""
        self.recorded = self._circuit_only(self.netlist)
        return self.recorded

    def _load_text(self, text: str) -> None:
        """Nothing to load."""

    def _apply_alter(self, element: ir.Element, changes: Mapping[str, object]) -> None:
        """Alterations live in the IR (Engine.netlist)."""

    def _run(self, analysis: ir.Tran, vectors: tuple[str, ...]) -> Waveforms:
        if self.recorded is not None:
            raise NetlistError("an export holds one transient; the stimulus asked for a second one")
        self.recorded = self.standalone_netlist(analysis, vectors)
        return {"time": np.array([0.0, analysis.stop_s]), **{v: np.full(2, k + 1.0) for k, v in enumerate(vectors)}}
