"""Shadow checks: a twin session whose forward passes are replayed, a chosen fraction of them, in ngspice on the
same board at the twin's states of the moment, so a twin run carries its own measured error against SPICE.

The twin stays the run: its states, results and ledger are the run's; the circuit reads into a ledger of its own
that is discarded, and its states are reset to the twin's before every replay. Each replay records, per layer,
the largest and the mean column-current difference as a fraction of the circuit's largest column current; the
run's metrics report the largest and mean over all checks and how many there were (`metrics`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from cosim.errors import ConfigError
from cosim.hil.schedule import Pulses
from cosim.hil.session import ForwardResult, HardwareSession


class ShadowedSession:
    """`twin` runs every operation; `open_circuit()` opens the board's circuit session (ngspice) the first time a
    forward pass is drawn for a check, each pass with probability `fraction` (draws from `seed`)."""

    def __init__(self, twin: HardwareSession, open_circuit: Callable[[], HardwareSession], fraction: float,
                 seed) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"shadow fraction must be in [0, 1], got {fraction}")
        self.twin, self.fraction = twin, float(fraction)
        self._open_circuit, self._circuit = open_circuit, None
        self._rng = np.random.default_rng(seed)
        self.errors: list[tuple[float, float]] = []  # per check: (largest, mean) relative column-current error

    def __getattr__(self, name):  # network, ledger, backend, model_backend, timing, …: the twin's
        return getattr(self.twin, name)

    @property
    def x(self) -> np.ndarray:
        return self.twin.x

    @x.setter
    def x(self, value: np.ndarray) -> None:
        self.twin.x = value

    def forward(self, inputs: np.ndarray, phase: str = "inference", epoch: int = -1) -> ForwardResult:
        before = np.array(self.twin.x)
        result = self.twin.forward(inputs, phase, epoch)
        if self.fraction > 0 and self._rng.random() < self.fraction:
            if self._circuit is None:
                self._circuit = self._open_circuit()
            self._circuit.x = before
            reference = self._circuit.forward(inputs, phase, epoch)
            self.errors.append(column_error(result, reference))
        return result

    def read_conductance(self, devices: Sequence[int], phase: str = "read", epoch: int = -1) -> np.ndarray:
        return self.twin.read_conductance(devices, phase, epoch)

    def program(self, devices: Sequence[int], pulses: Sequence[Pulses], epoch: int = -1,
                verify: bool = False) -> np.ndarray | None:
        return self.twin.program(devices, pulses, epoch, verify)

    def metrics(self) -> dict:
        """What metrics.json records: the fraction asked for, the checks made, the largest and mean error."""
        largest = max((e for e, _ in self.errors), default=None)
        mean = float(np.mean([m for _, m in self.errors])) if self.errors else None
        return {"shadow_fraction": self.fraction, "shadow_checks": len(self.errors),
                "shadow_max_rel_error": largest, "shadow_mean_rel_error": mean}


def column_error(twin: ForwardResult, circuit: ForwardResult) -> tuple[float, float]:
    """Largest and mean |I_twin − I_circuit| over every layer's columns and samples, each layer's as a fraction of
    its largest circuit column current."""
    largest, means = 0.0, []
    for ours, theirs in zip(twin.column_currents_A, circuit.column_currents_A):
        error = np.abs(ours - theirs) / np.abs(theirs).max()
        largest = max(largest, float(error.max()))
        means.append(float(error.mean()))
    return largest, float(np.mean(means))
