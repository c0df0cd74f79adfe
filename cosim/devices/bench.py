"""A measurement bench for one two-terminal device with a state, in ngspice: a sine I–V sweep through a series
resistor (the pinched hysteresis loop) and a set/reset pulse train read after every pulse (conductance versus
pulse number). Any crossbar family's device goes on it through its own netlist builder (`Device`).

Both experiments run as single transients, wired as the measurement would be: a source, a series resistor and
the device (its set terminal towards the source, the other grounded); reads are windows at the read voltage
between programming pulses, batched into one PWL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.spice.engine import Engine


@dataclass(frozen=True)
class Device:
    """How a family puts one of its devices on the bench: the model items a netlist needs, the device
    element (name, set-side node, other node, initial state) and the vector that reads its state."""

    library: list
    element: Callable[[str, str, str, float], ir.Element]
    state_vector: Callable[[str], str]


@dataclass(frozen=True)
class SineSweep:
    amplitude_V: float = 0.8
    frequency_Hz: float = 100.0
    series_ohm: float = 5000.0
    periods: int = 2
    points_per_period: int = 400

    def __post_init__(self) -> None:
        for name in ("amplitude_V", "frequency_Hz", "series_ohm"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ConfigError(f"sine sweep {name} must be finite and > 0, got {value}")
        if self.periods < 1 or self.points_per_period < 4:
            raise ConfigError(f"sine sweep needs periods >= 1 and points_per_period >= 4, got {self.periods} "
                              f"and {self.points_per_period}")


@dataclass(frozen=True)
class PulseTrain:
    amplitude_V: float = 1.0  # Knowm's set (+) and reset (−) defaults
    width_s: float = 5e-6
    series_ohm: float = 1000.0
    pulses: int = 50  # per polarity
    read_V: float = 0.1
    read_s: float = 1e-6
    edge_s: float = 1e-8

    def __post_init__(self) -> None:
        for name in ("amplitude_V", "width_s", "series_ohm", "read_V", "read_s", "edge_s"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ConfigError(f"pulse train {name} must be finite and > 0, got {value}")
        if self.pulses < 1:
            raise ConfigError(f"pulse train pulses must be >= 1, got {self.pulses}")


def circuit(device: Device, source: ir.Waveform, series_ohm: float, x0: float, title: str) -> ir.Netlist:
    """`Vsrc` drives node `src`; `Rs` leads to the device's set terminal `te`; its other terminal is grounded."""
    net = ir.Netlist(title, list(device.library))
    net.add(
        ir.Options({"klu": True}),
        ir.VoltageSource("Vsrc", "src", "0", source),
        ir.Resistor("Rs", "src", "te", series_ohm),
        device.element("X1", "te", "0", x0),
    )
    return net


def sine_sweep(device: Device, sweep: SineSweep, engine: Engine, x0: float, title: str) -> pd.DataFrame:
    """The last period of a sine drive: time, source and device voltage, current and state."""
    period = 1.0 / sweep.frequency_Hz
    step = period / sweep.points_per_period
    state = device.state_vector("X1")
    engine.load(circuit(device, ir.Sine(0.0, sweep.amplitude_V, sweep.frequency_Hz), sweep.series_ohm, x0, title))
    w = engine.tran(step, sweep.periods * period, ["v(src)", "v(te)", "i(vsrc)", state],
                    start_s=(sweep.periods - 1) * period, tmax_s=step)
    return pd.DataFrame({
        "time_s": w["time"] - w["time"][0], "v_source_V": w["v(src)"], "v_device_V": w["v(te)"],
        "current_A": -w["i(vsrc)"], "x": w[state],
    })


def pulse_schedule(train: PulseTrain) -> tuple[ir.Pwl, np.ndarray, np.ndarray]:
    """A read before the first pulse and after each one; returns the PWL, read mid-times and pulse signs."""
    signs = np.concatenate([np.ones(train.pulses), -np.ones(train.pulses)])
    times, values, reads = [0.0], [0.0], []
    t, e = 0.0, train.edge_s

    def window(level: float, width: float) -> float:
        nonlocal t
        times.extend([t + e, t + e + width, t + 2 * e + width])
        values.extend([level, level, 0.0])
        mid = t + e + width / 2
        t += 2 * e + width
        return mid

    reads.append(window(train.read_V, train.read_s))
    for sign in signs:
        window(sign * train.amplitude_V, train.width_s)
        reads.append(window(train.read_V, train.read_s))
    return ir.Pwl(tuple(times), tuple(values)), np.array(reads), signs


def pulse_train(device: Device, train: PulseTrain, engine: Engine, x0: float, title: str,
                max_step_s: float | None = None) -> pd.DataFrame:
    """Conductance read after each set (+) then reset (−) pulse; pulse 0 is the read before any pulse.
    The step is capped at a twentieth of the shorter of pulse and read, or `max_step_s` if smaller."""
    pwl, read_times, signs = pulse_schedule(train)
    state = device.state_vector("X1")
    engine.load(circuit(device, pwl, train.series_ohm, x0, title))
    step = min(train.width_s, train.read_s) / 20
    if max_step_s is not None:
        step = min(step, max_step_s)
    w = engine.tran(step, pwl.times_s[-1], ["v(te)", "i(vsrc)", state], tmax_s=step)
    t = w["time"]
    v_dev, current, x = (np.interp(read_times, t, w[k]) for k in ("v(te)", "i(vsrc)", state))
    return pd.DataFrame({
        "pulse": np.arange(len(read_times)),
        "polarity": np.concatenate([[0], signs]).astype(int),
        "read_time_s": read_times,
        "conductance_S": -current / v_dev,
        "x": x,
    })
