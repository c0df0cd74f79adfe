"""Characterise a user's Verilog-A device in ngspice on the measurement bench (`cosim.devices.bench`), through
the family's own netlist builder: I–V loops of a sine drive through a series resistor, a set/reset pulse
train read after every pulse, and what one read and one programming pulse do to a device in the middle of its
state range (whether reads disturb it, how far one board pulse moves it). Loops and trains start from the OFF
end of the state range (the end that reads the lower conductance).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from cosim import atomic
from cosim.config import Strict
from cosim.devices import bench
from cosim.devices.bench import Device, PulseTrain, SineSweep
from cosim.devices.verilog_a import curves, spice
from cosim.devices.verilog_a.instances import VAInstances
from cosim.devices.verilog_a.preset import VAModel
from cosim.errors import ConfigError
from cosim.netlist import ir
from cosim.plots import save_png
from cosim.spice.engine import Engine
from cosim.spice.engines import open_engine

TITLE = "verilog_a characterisation"


def bench_device(instances: VAInstances, index: int = 0) -> Device:
    """Device `index` of `instances` on the bench, its plus terminal on the set side."""
    return Device(spice.library(instances.model),
                  lambda name, top, bottom, x0: spice.instance(name, top, bottom, instances, index, x0),
                  spice.state_vector)


def off_state(model: VAModel, read_V: float) -> float:
    """The end of the state range that reads the lower conductance."""
    low, high = model.state_range
    i_low, i_high = curves.current(model, read_V, np.array([low, high]))
    return low if abs(i_low) < abs(i_high) else high


def one_pulse(device: Device, model: VAModel, train: PulseTrain, engine: Engine) -> pd.DataFrame:
    """State change from the middle of the state range after one read of each polarity and one set and one reset
    pulse (reads straight across the device, pulses through the series resistor)."""
    low, high = model.state_range
    x0 = (low + high) / 2
    rows = []
    for event, level, width, series in (("read +", train.read_V, train.read_s, 1e-6),
                                        ("read -", -train.read_V, train.read_s, 1e-6),
                                        ("set pulse", train.amplitude_V, train.width_s, train.series_ohm),
                                        ("reset pulse", -train.amplitude_V, train.width_s, train.series_ohm)):
        engine.load(bench.circuit(device, ir.Dc(level), series, x0, TITLE))
        step = width / 1000
        x = float(engine.tran(step, width, [device.state_vector("X1")], tmax_s=step,
                              last_only=True)[device.state_vector("X1")][0])
        rows.append({"event": event, "level_V": level, "width_s": width, "series_ohm": series, "x_before": x0,
                     "x_after": x, "dx": x - x0})
    return pd.DataFrame(rows)


def characterize(model: VAModel, label: str, out_dir: Path, sweep: SineSweep, frequencies_Hz: Sequence[float],
                 train: PulseTrain, seed: int = 0) -> tuple[list[Path], pd.DataFrame]:
    """Loops at each frequency, the pulse train and the one-pulse table of the preset's nominal device: CSVs and
    PNGs named after `label`; returns the files written and the one-pulse table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = open_engine("spice", seed=seed)
    device = bench_device(VAInstances.nominal(model))
    x_off = off_state(model, train.read_V)
    loops = pd.concat([bench.sine_sweep(device, SineSweep(sweep.amplitude_V, f, sweep.series_ohm, sweep.periods,
                                                          sweep.points_per_period), engine, x_off, TITLE)
                       .assign(frequency_Hz=f) for f in frequencies_Hz], ignore_index=True)
    pulses = bench.pulse_train(device, train, engine, x_off, TITLE)
    table = one_pulse(device, model, train, engine)
    written = []
    for kind, frame in (("iv", loops), ("pulses", pulses), ("one_pulse", table)):
        written.append(atomic.write_text(out_dir / f"{kind}_{label}.csv", frame.to_csv(index=False)))
    written += _plots(loops, pulses, label, sweep, train, out_dir)
    return written, table


def _plots(loops: pd.DataFrame, pulses: pd.DataFrame, label: str, sweep: SineSweep, train: PulseTrain,
           out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for f, loop in loops.groupby("frequency_Hz"):
        ax.plot(loop["v_device_V"], loop["current_A"] * 1e3, lw=1, label=f"{f / 1e3:g} kHz")
    ax.set(xlabel="device voltage, plus − minus (V)", ylabel="current (mA)",
           title=f"{label}: {sweep.amplitude_V:g} V sine through {sweep.series_ohm:g} Ω")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written = [save_png(fig, out_dir / f"iv_{label}.png")]

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for sign, marker, what in ((1, "o-", "set"), (-1, "s-", "reset")):
        part = pulses[pulses["polarity"] == sign]
        number = np.arange(1, len(part) + 1)
        ax.plot(number, part["conductance_S"] * 1e6, marker, ms=3,
                label=f"{what}: {sign * train.amplitude_V:+g} V, {train.width_s * 1e6:g} µs")
    ax.set(xlabel="pulse number", ylabel=f"conductance read at {train.read_V:g} V (µS)",
           title=f"{label}: pulses through {train.series_ohm:g} Ω, from OFF")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    written.append(save_png(fig, out_dir / f"pulses_{label}.png"))
    return written


class Options(Strict):
    """`cosim.characterize("verilog_a", …)`: I–V loops, a set/reset pulse train and what one read or pulse does
    to a Verilog-A device brought with a preset, through the family's own netlist; the defaults are the M-SDC
    board's pulses. One of `preset` (one that ships) or `file` (yours)."""

    preset: str | None = None
    file: Path | None = None
    amplitude_V: float = 1.0
    frequencies_Hz: list[float] = [5e3, 1e4, 2e4]  # one loop each
    series_ohm: float = 1e3
    pulse_amplitude_V: float = 1.0
    pulse_width_s: float = 1e-6
    pulse_series_ohm: float = 1e3
    pulses: int = 40
    read_V: float = 0.1
    seed: int = 0


def run(options: Options, out_dir: Path, progress=None) -> list[Path]:
    """`characterize` with `options`: the files written."""
    from cosim.devices.verilog_a.family import FAMILY

    o = options
    if (o.preset is None) == (o.file is None):
        raise ConfigError("characterize verilog_a: give one of preset (one that ships) or file (your preset file)")
    if not o.frequencies_Hz or not all(f > 0 for f in o.frequencies_Hz):
        raise ConfigError(f"characterize verilog_a: frequencies_Hz must be > 0, at least one; got {o.frequencies_Hz}")
    model = FAMILY.params(o.preset, o.file)
    sweep = SineSweep(o.amplitude_V, max(o.frequencies_Hz), o.series_ohm)
    train = PulseTrain(o.pulse_amplitude_V, o.pulse_width_s, o.pulse_series_ohm, o.pulses, o.read_V)
    files, _ = characterize(model, o.preset or model.path.stem, out_dir, sweep, o.frequencies_Hz, train, o.seed)
    return files
