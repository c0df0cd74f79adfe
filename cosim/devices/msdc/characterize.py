"""Characterise M-SDC presets in ngspice: a sine I–V sweep through a series resistor (the pinched hysteresis
loop) and a set/reset pulse train read after every pulse (conductance versus pulse number).

Both experiments run as single transients, built as the measurement would be wired: a source, a series
resistor and the device; reads are 0.1 V windows between programming pulses, batched into one PWL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cosim import atomic
from cosim.devices.msdc import model as msdc, spice as msdc_spice
from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.plots import save_png
from cosim.spice.engine import Engine
from cosim.spice.engines import open_engine


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


def _circuit(params: msdc.MSDCParams, source: ir.Waveform, series_ohm: float, x0: float) -> ir.Netlist:
    net = ir.Netlist("msdc characterisation", msdc_spice.library())
    net.add(
        ir.Options({"klu": True}),
        ir.VoltageSource("Vsrc", "src", "0", source),
        ir.Resistor("Rs", "src", "te", series_ohm),
        msdc_spice.instance("X1", "te", "0", params, x0),
    )
    return net


def sine_sweep(params: msdc.MSDCParams, sweep: SineSweep, engine: Engine, x0: float = 0.0) -> pd.DataFrame:
    """The last period of a sine drive: time, source and device voltage, current and state."""
    if sweep.amplitude_V <= 0 or sweep.frequency_Hz <= 0 or sweep.series_ohm < 0:
        raise ConfigError("sine sweep needs amplitude > 0, frequency > 0 and series resistance >= 0")
    period = 1.0 / sweep.frequency_Hz
    step = period / sweep.points_per_period
    engine.load(_circuit(params, ir.Sine(0.0, sweep.amplitude_V, sweep.frequency_Hz), sweep.series_ohm, x0))
    w = engine.tran(step, sweep.periods * period, ["v(src)", "v(te)", "i(vsrc)", "v(x1.x)"],
                    start_s=(sweep.periods - 1) * period, tmax_s=step)
    return pd.DataFrame({
        "time_s": w["time"] - w["time"][0], "v_source_V": w["v(src)"], "v_device_V": w["v(te)"],
        "current_A": -w["i(vsrc)"], "x": w["v(x1.x)"],
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


def pulse_train(params: msdc.MSDCParams, train: PulseTrain, engine: Engine, x0: float = 0.0) -> pd.DataFrame:
    """Conductance read after each set (+) then reset (−) pulse; pulse 0 is the read before any pulse."""
    pwl, read_times, signs = pulse_schedule(train)
    engine.load(_circuit(params, pwl, train.series_ohm, x0))
    step = min(train.width_s, train.read_s) / 20
    w = engine.tran(step, pwl.times_s[-1], ["v(te)", "i(vsrc)", "v(x1.x)"], tmax_s=step)
    t = w["time"]
    v_dev, current, x = (np.interp(read_times, t, w[k]) for k in ("v(te)", "i(vsrc)", "v(x1.x)"))
    return pd.DataFrame({
        "pulse": np.arange(len(read_times)),
        "polarity": np.concatenate([[0], signs]).astype(int),
        "read_time_s": read_times,
        "conductance_S": -current / v_dev,
        "x": x,
    })


def characterize(presets: list[str], out_dir: Path, sweep: SineSweep, train: PulseTrain, seed: int = 0) -> list[Path]:
    """Run both experiments for each preset; write CSVs and plots; return the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine("spice", seed=seed)
    written: list[Path] = []
    loops, trains = {}, {}
    for name in presets:
        params = msdc.load_preset(name)
        loops[name] = sine_sweep(params, sweep, engine)
        trains[name] = pulse_train(params, train, engine)
        for kind, frame in (("iv", loops[name]), ("pulses", trains[name])):
            path = out_dir / f"{kind}_{name}.csv"
            atomic.write_text(path, frame.to_csv(index=False))
            written.append(path)
    written += _plots(loops, trains, sweep, train, out_dir)
    return written


def _plots(loops: dict, trains: dict, sweep: SineSweep, train: PulseTrain, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, loop in loops.items():
        fig, ax = plt.subplots(figsize=(5, 4))
        ax.plot(loop["v_device_V"], loop["current_A"] * 1e6)
        ax.set(xlabel="device voltage (V)", ylabel="current (µA)",
               title=f"M-SDC {name}: {sweep.amplitude_V:g} V, {sweep.frequency_Hz:g} Hz, {sweep.series_ohm:g} Ω series")
        ax.grid(alpha=0.3)
        written.append(save_png(fig, out_dir / f"iv_{name}.png"))
    fig, axes = plt.subplots(1, len(trains), figsize=(4.5 * len(trains), 3.8), squeeze=False)
    for ax, (name, frame) in zip(axes[0], trains.items()):
        colors = np.where(frame["polarity"] >= 0, "tab:red", "tab:blue")
        ax.scatter(frame["pulse"], frame["conductance_S"] * 1e6, c=colors, s=10)
        ax.set(xlabel="pulse number", ylabel="conductance (µS)", title=f"{name}: ±{train.amplitude_V:g} V, "
               f"{train.width_s * 1e6:g} µs")
        ax.grid(alpha=0.3)
    fig.suptitle("set (red) then reset (blue) pulses, read at "
                 f"{train.read_V:g} V after each")
    written.append(save_png(fig, out_dir / "pulses.png"))
    return written
