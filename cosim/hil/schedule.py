"""Pulse schedules: the hardware's own order and timing of reads and programming pulses, as PWL waveforms.

A schedule is built once per hardware operation and then serves every backend: the SPICE sessions turn it
into PWL sources, the twin integrates the same piecewise-linear drive, and the ledger books its slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cosim.errors import ConfigError
from cosim.limits import MIN_TIME_S
from cosim.netlist import ir


@dataclass(frozen=True)
class Pulses:
    """A programming pulse train for one device: `count` pulses of `polarity`·`amplitude_V`, `width_s` each."""

    amplitude_V: float = 1.0
    width_s: float = 5e-6
    count: int = 1
    polarity: int = 1
    gap_s: float = 1e-6

    def __post_init__(self) -> None:
        if self.polarity not in (1, -1):
            raise ConfigError(f"pulse polarity must be +1 or -1, got {self.polarity}")
        if self.count < 0:
            raise ConfigError(f"pulse count must be >= 0, got {self.count}")
        for name in ("amplitude_V", "width_s", "gap_s"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ConfigError(f"pulse {name} must be finite and > 0, got {value}")

    @property
    def phase(self) -> str:
        return "set" if self.polarity > 0 else "reset"


@dataclass
class Waveform:
    """A PWL under construction: (time, value) corners appended in order; `name` is its source's."""

    times: list[float] = field(default_factory=lambda: [0.0])
    values: list[float] = field(default_factory=lambda: [0.0])
    name: str = "waveform"

    def hold(self, t: float, value: float) -> None:
        """Ramp linearly from the last corner to `value` at time t."""
        if not t > self.times[-1]:
            raise ConfigError(f"{self.name}: a corner at t = {t:.12g} s does not come after the previous one at "
                              f"{self.times[-1]:.12g} s (schedule corners must move forward in time)")
        self.times.append(t)
        self.values.append(value)

    def pwl(self, end_s: float) -> ir.Pwl:
        times, values = list(self.times), list(self.values)
        if end_s > times[-1]:
            times.append(end_s)
            values.append(values[-1])
        return ir.Pwl(tuple(times), tuple(values))

    def sample(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.times, self.values)


@dataclass
class Slot:
    """One hardware event inside a transient: [start, end) and the read instant (plateau middle), if any."""

    kind: str  # phase: read / set / reset / verify / inference
    device: int  # -1 for array-wide events
    start_s: float
    end_s: float
    read_at_s: float | None = None
    pulses: int = 0
    switch_events: int = 0
    controller_steps: int = 0
    adc_conversions: int = 0
    samples: int = 0  # inputs this event served (the ledger's `samples`)


@dataclass
class Schedule:
    """Waveforms per source name plus the slots they realise."""

    edge_s: float
    sources: dict[str, Waveform] = field(default_factory=dict)
    slots: list[Slot] = field(default_factory=list)
    t_s: float = 0.0

    def wave(self, source: str, idle: float = 0.0) -> Waveform:
        """The waveform of `source`, starting at its `idle` level when this schedule first drives it."""
        if source not in self.sources:
            self.sources[source] = Waveform(values=[idle], name=source)
        return self.sources[source]

    def plateau(self, source: str, start: float, width: float, level: float) -> float:
        """A trapezoid on `source` starting at `start`: edge, plateau of `width`, edge. Returns its end."""
        e = self.edge_s
        if not start < start + e < start + e + width:
            raise ConfigError(f"{source}: a pulse of width {width:g} s with {e:g} s edges at t = {start:g} s is below "
                              f"the time resolution there (or not positive); widths and edges must be >= {MIN_TIME_S:g} s")
        w = self.wave(source)
        if start > w.times[-1]:
            w.hold(start, w.values[-1])
        w.hold(start + e, level)
        w.hold(start + e + width, level)
        w.hold(start + 2 * e + width, 0.0)
        return start + 2 * e + width

    @property
    def duration_s(self) -> float:
        return self.t_s
