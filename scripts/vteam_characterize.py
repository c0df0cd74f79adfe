"""Characterise the VTEAM preset (device_models/vteam.yaml) in ngspice: the figures and tables of docs/vteam.md.

    .venv/bin/python scripts/vteam_characterize.py [--out docs/vteam]

iv_loop.png: sine drives (1 V through 1 kΩ, from x = 1) at three frequencies, current against device voltage.
pulses.png: conductance read at 0.1 V after each of 40 set then 40 reset pulses at the board's defaults
(±1 V, 1 µs, through 1 kΩ). Printed: the published parameter set against the scaled preset (state moved by
one read and by one pulse), the conductance curve's landmarks, and the agreement with the published equations
on the test's pulse protocol at several maximum time steps (the board programs with 500 ns). The circuits and
the reference are those of the validation harness, tests/test_vteam_model.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_vteam_model import (PULSE_S, PULSE_V, READ_V, SERIES_OHM, circuit, compare, preset_values,  # noqa: E402
                              pulse_train)

from cosim.netlist import ir  # noqa: E402
from cosim.plots import save_png  # noqa: E402
from cosim.spice.shared import SharedEngine  # noqa: E402

LOOP_FREQUENCIES_HZ = (5e3, 1e4, 2e4)
PULSES = 40
RESET_S = 50e-6  # the board's initial reset pulse (ProgrammingConfig.reset_width_s)


def iv_loops(engine: SharedEngine) -> dict[float, dict[str, np.ndarray]]:
    loops = {}
    for freq in LOOP_FREQUENCIES_HZ:
        engine.load(circuit(ir.Sine(0.0, PULSE_V, freq), 1.0))
        loops[freq] = engine.tran(1 / freq / 2000, 2 / freq, ["v(top)", "i(v1)", "v(x)"], tmax_s=1 / freq / 2000)
    return loops


def pulse_reads(engine: SharedEngine) -> tuple[np.ndarray, np.ndarray]:
    """Device conductance and state at the middle of the read after each pulse (PULSES set, then PULSES reset)."""
    engine.load(circuit(pulse_train(PULSES), 1.0))
    w = engine.tran(2e-9, 8 * PULSES * PULSE_S, ["v(top)", "i(v1)", "v(x)"], tmax_s=2e-9)
    t_read = (4 * np.arange(2 * PULSES) + 2.5) * PULSE_S
    g = np.interp(t_read, w["time"], -w["i(v1)"]) / np.interp(t_read, w["time"], w["v(top)"])
    return g, np.interp(t_read, w["time"], w["v(x)"])


def one_step(engine: SharedEngine, params: dict | None, level_V: float, series_ohm: float | None, x0: float = 0.5,
             duration_s: float = PULSE_S) -> float:
    """x after `duration_s` at `level_V` (set polarity) from x0."""
    engine.load(circuit(ir.Dc(level_V), x0, params=params, series_ohm=series_ohm))
    return float(engine.tran(1e-9, duration_s, ["v(x)"], tmax_s=1e-9, last_only=True)["v(x)"][0])


def published_against_scaled(engine: SharedEngine) -> str:
    rows = ["| parameter set | read +0.1 V, 1 µs | read −0.1 V, 1 µs | set pulse +1 V, 1 µs, 1 kΩ "
            "| reset pulse −1 V, 1 µs, 1 kΩ |", "|---|---|---|---|---|"]
    for label, params in (("published (module defaults)", {}), ("scaled (vteam.yaml)", None)):
        cells = [one_step(engine, params, level, None) - 0.5 for level in (READ_V, -READ_V)]
        cells += [one_step(engine, params, level, SERIES_OHM) - 0.5 for level in (PULSE_V, -PULSE_V)]
        rows.append(f"| {label} | " + " | ".join("0" if abs(c) < 1e-12 else f"{c:+.3g}" for c in cells) + " |")
    return "Δx from x = 0.5 (x = 0 is ON):\n\n" + "\n".join(rows)


def step_sensitivity(engine: SharedEngine) -> str:
    """The test's pulse protocol (10 set, 10 reset pulses with reads) against the reference, per tmax."""
    pwl = pulse_train()
    rows = ["| tmax | max \\|Δx\\| | max \\|ΔI\\| / max \\|I\\| |", "|---|---|---|"]
    for tmax in (5e-7, 5e-8, 5e-9, 1e-9):
        dx, di, _ = compare(engine, pwl, lambda t: np.interp(t, pwl.times_s, pwl.values), np.array(pwl.times_s),
                            tmax, 1.0)
        rows.append(f"| {tmax * 1e9:g} ns | {dx:.2g} | {di:.2g} |")
    return "\n".join(rows)


def plot_loops(loops: dict[float, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    for freq, w in loops.items():
        ax.plot(w["v(top)"], -w["i(v1)"] * 1e3, lw=1, label=f"{freq / 1e3:g} kHz")
    ax.set_xlabel("device voltage, plus − minus (V)")
    ax.set_ylabel("current (mA)")
    ax.set_title("VTEAM preset: 1 V sine through 1 kΩ, from OFF")
    p = preset_values()  # plus − minus is the paper's −v: the dead zone von <= v <= voff, mirrored
    ax.axvspan(-p["voff"], -p["von"], color="0.9", zorder=0, label="dead zone (no switching)")
    ax.legend(fontsize=8)
    save_png(fig, path)


def plot_pulses(g: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    n = np.arange(1, PULSES + 1)
    ax.plot(n, g[:PULSES] * 1e6, "o-", ms=3, label="set: +1 V, 1 µs (from OFF)")
    ax.plot(n, g[PULSES:] * 1e6, "s-", ms=3, label="reset: −1 V, 1 µs (after the set train)")
    ax.set_xlabel("pulse number")
    ax.set_ylabel("conductance read at 0.1 V (µS)")
    ax.set_title("VTEAM preset at the board's default pulses (1 kΩ series)")
    ax.legend(fontsize=8)
    save_png(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/vteam"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    engine = SharedEngine(num_threads=1)
    plot_loops(iv_loops(engine), out / "iv_loop.png")
    g, x = pulse_reads(engine)
    plot_pulses(g, out / "pulses.png")
    print(published_against_scaled(engine))
    print("\nset train from OFF, conductance read after pulse 1, 5, 10, 20, 40 (µS):",
          ", ".join(f"{g[k - 1] * 1e6:.1f}" for k in (1, 5, 10, 20, 40)), f"(x = {x[PULSES - 1]:.3f} after 40)")
    print("reset train, conductance read after pulse 1, 5, 10, 20, 40 (µS):",
          ", ".join(f"{g[PULSES + k - 1] * 1e6:.1f}" for k in (1, 5, 10, 20, 40)), f"(x = {x[-1]:.3f} after 40)")
    reset_x = one_step(engine, None, -PULSE_V, SERIES_OHM, x0=0.0, duration_s=RESET_S)
    print(f"the board's initial reset pulse (-1 V, {RESET_S * 1e6:g} us, 1 kOhm) from x = 0: x = {reset_x:.4f}")
    print("\nagreement with the published equations, 10 set + 10 reset pulses with reads, by maximum step:\n")
    print(step_sensitivity(engine))
    print(f"\nwrote {out / 'iv_loop.png'} and {out / 'pulses.png'}")


if __name__ == "__main__":
    main()
