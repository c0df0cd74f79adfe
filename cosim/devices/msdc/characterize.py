"""Characterise M-SDC presets in ngspice on the measurement bench (`cosim.devices.bench`): a sine I–V sweep
through a series resistor (the pinched hysteresis loop) and a set/reset pulse train read after every pulse
(conductance versus pulse number)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cosim import atomic
from cosim.config import Strict
from cosim.devices import bench
from cosim.devices.bench import Device, PulseTrain, SineSweep
from cosim.devices.msdc import model as msdc, spice as msdc_spice
from cosim.plots import save_png
from cosim.spice.engine import Engine
from cosim.spice.engines import open_engine


TITLE = "msdc characterisation"


def bench_device(params: msdc.MSDCParams) -> Device:
    """An M-SDC device of `params` on the measurement bench (its TE on the set side)."""
    return Device(msdc_spice.library(), lambda name, te, be, x0: msdc_spice.instance(name, te, be, params, x0),
                  msdc_spice.state_vector)


def sine_sweep(params: msdc.MSDCParams, sweep: SineSweep, engine: Engine, x0: float = 0.0) -> pd.DataFrame:
    """The last period of a sine drive: time, source and device voltage, current and state."""
    return bench.sine_sweep(bench_device(params), sweep, engine, x0, TITLE)


def pulse_train(params: msdc.MSDCParams, train: PulseTrain, engine: Engine, x0: float = 0.0) -> pd.DataFrame:
    """Conductance read after each set (+) then reset (−) pulse; pulse 0 is the read before any pulse."""
    return bench.pulse_train(bench_device(params), train, engine, x0, TITLE)


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


class Options(Strict):
    """`cosim.characterize("msdc", …)`: a sine I–V sweep through a series resistor and a set/reset pulse train
    read after every pulse, in ngspice; an option left None takes SineSweep's or PulseTrain's default."""

    preset: str = "W"  # W, Cr, C, or all (side by side)
    amplitude_V: float | None = None
    frequency_Hz: float | None = None
    series_ohm: float | None = None
    pulse_amplitude_V: float | None = None
    pulse_width_s: float | None = None
    pulse_series_ohm: float | None = None
    pulses: int | None = None
    seed: int = 0


def run(options: Options, out_dir: Path, progress=None) -> list[Path]:
    """`characterize` with `options`: the files written."""
    o = options
    names = msdc.preset_names() if o.preset.lower() == "all" else [msdc.PRESETS.key(o.preset)]
    sweep = SineSweep(**o.given({"amplitude_V": "amplitude_V", "frequency_Hz": "frequency_Hz",
                                 "series_ohm": "series_ohm"}))
    train = PulseTrain(**o.given({"pulse_amplitude_V": "amplitude_V", "pulse_width_s": "width_s",
                                  "pulse_series_ohm": "series_ohm", "pulses": "pulses"}))
    return characterize(names, out_dir, sweep, train, seed=o.seed)
