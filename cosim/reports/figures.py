"""The figures of a report: accuracy over training, energy and time by phase and by epoch, pulses per device,
the experiment's conductance maps, runs side by side, sweep metrics against their axes.

Bars are on a linear scale with their values written on them (a log scale made a 1.9× ratio look like 10×).
Circuit figures and figures with peripherals get a panel each, each on its own scale, since assumed
peripherals can be a thousand times the circuit's own energy. A series of fewer than MIN_POINTS points is not
plotted: its table says it better."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cosim.errors import ConfigError
from cosim.experiments.registry import DEFAULT, get, validate
from cosim.reports.load import Run, file_stem
from cosim.reports.tables import SWEEP_METRICS
from cosim.sweep.plot import axis_label, draw, is_categorical, value_text
from cosim.units import eng

MIN_POINTS = 3
CIRCUIT, PERIPHERALS = "tab:blue", "tab:orange"


@dataclass
class Figure:
    name: str
    title: str
    png: bytes


def _figure(name: str, title: str, draw_on, size=(6.4, 3.6), panels: int = 1) -> Figure:
    """A PNG of `draw_on(fig, axes)` (one axis, or a list of `panels` side by side)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, panels, figsize=size, squeeze=False)
    axes = list(axes[0])
    draw_on(fig, axes[0] if panels == 1 else axes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return Figure(name, title, buffer.getvalue())


def _unit_axis(axis, unit: str) -> None:
    from matplotlib.ticker import EngFormatter, MaxNLocator

    axis.set_major_formatter(EngFormatter(unit=unit))
    axis.set_major_locator(MaxNLocator(4))


def _labelled_bars(ax, names: list[str], values, unit: str, color: str, title: str) -> None:
    """Horizontal bars on a linear scale from zero, each with its value written beside it."""
    values = np.nan_to_num(np.asarray(values, dtype=float))
    ys = np.arange(len(names))
    bars = ax.barh(ys, values, color=color)
    ax.bar_label(bars, [eng(v, unit) for v in values], padding=3, fontsize=9)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xlim(0, (values.max() if values.size and values.max() > 0 else 1.0) * 1.35)
    _unit_axis(ax.xaxis, unit)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="x")


def _circuit_and_total(name: str, title: str, names: list[str], circuit, total, unit: str,
                       peripherals: bool) -> Figure:
    """Labelled bars of a circuit figure, and beside them (when the run books peripherals) the same with them."""
    def panels(fig, axes):
        axes = axes if peripherals else [axes]
        _labelled_bars(axes[0], names, circuit, unit, CIRCUIT, "circuit (simulated)")
        if peripherals:
            _labelled_bars(axes[1], names, total, unit, PERIPHERALS, "with peripherals (assumed table)")
    return _figure(name, title, panels, (7.0 if peripherals else 5.2, _bars_height(len(names))), 2 if peripherals else 1)


def _bars_height(bars: int) -> float:
    """Inches of a figure of `bars` horizontal bars: title, axis and 0.4 in a bar."""
    return 1.3 + 0.4 * bars


def accuracy_figure(run: Run) -> Figure | None:
    """Accuracy (and loss) per epoch; stages of a run (software, then hardware-in-loop) one after another."""
    history = run.history
    if len(history) < MIN_POINTS or "train_accuracy" not in history:
        return None
    xs = np.arange(1, len(history) + 1)

    def curves(fig, ax):
        for column, marker in (("train_accuracy", "o"), ("validation_accuracy", "s"), ("test_accuracy", "^")):
            if column in history:
                ax.plot(xs, history[column], marker=marker, ms=3, label=column.replace("_", " "))
        if "stage" in history:
            stages = history["stage"].astype(str).to_numpy()
            for k in np.flatnonzero(stages[1:] != stages[:-1]):
                ax.axvline(k + 1.5, color="grey", lw=0.8)
            for stage in pd.unique(stages):
                where = np.flatnonzero(stages == stage)
                ax.text(xs[where].mean(), 1.02, stage, ha="center", va="bottom", fontsize=8,
                        transform=ax.get_xaxis_transform())
        from matplotlib.ticker import MaxNLocator, PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch" if "stage" not in history else "epoch (stages one after another)")
        ax.set_ylabel("accuracy")
        handles, names = ax.get_legend_handles_labels()
        if "loss" in history:
            twin = ax.twinx()
            handles += twin.plot(xs, history["loss"], color="grey", ls="--")
            names.append("loss")
            twin.set_ylabel("loss")
        ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(names), fontsize=8,
                  frameon=False)
        ax.grid(alpha=0.3)
    return _figure(f"{file_stem(run.name)}_accuracy", "accuracy over training", curves, (6.4, 3.8))


def phase_figures(run: Run, by_phase: pd.DataFrame, peripherals: bool) -> dict[str, Figure]:
    stem, names = file_stem(run.name), list(by_phase["phase"].astype(str))
    return {kind: _circuit_and_total(f"{stem}_{kind}_by_phase", f"{kind} by phase", names, by_phase[circuit],
                                     by_phase[total], unit, peripherals)
            for kind, circuit, total, unit in (("energy", "energy_J", "energy_with_peripherals_J", "J"),
                                               ("time", "circuit_time_s", "time_with_peripherals_s", "s"))}


def epoch_figure(run: Run, by_epoch: pd.DataFrame, peripherals: bool) -> Figure | None:
    epochs = by_epoch[by_epoch["epoch"] >= 0]
    if len(epochs) < MIN_POINTS:
        return None

    def lines(fig, axes):
        axes = axes if peripherals else [axes]
        for ax, column, color, title in zip(axes, ("energy_J", "energy_with_peripherals_J"), (CIRCUIT, PERIPHERALS),
                                            ("circuit (simulated)", "with peripherals (assumed table)")):
            ax.plot(epochs["epoch"], epochs[column], marker="o", ms=3, color=color)
            ax.set_ylim(bottom=0)
            _unit_axis(ax.yaxis, "J")
            ax.set_xlabel("epoch")
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3)
    return _figure(f"{file_stem(run.name)}_energy_by_epoch", "energy by epoch", lines,
                   (7.0 if peripherals else 5.2, 3.4), 2 if peripherals else 1)


def pulses_figure(run: Run, by_device: pd.DataFrame) -> Figure | None:
    if len(by_device) < MIN_POINTS or by_device["pulses"].sum() == 0:
        return None

    def histogram(fig, ax):
        ax.hist(by_device["pulses"], bins=min(30, max(5, len(by_device) // 2)), color="tab:purple")
        ax.set_xlabel("programming pulses per device")
        ax.set_ylabel("devices")
        ax.grid(alpha=0.3, axis="y")
    return _figure(f"{file_stem(run.name)}_pulses_per_device", "pulses per device", histogram, (5.6, 3.4))


def conductance_figures(run: Run) -> list[Figure]:
    figures = []
    for label, matrix in _conductance_maps(run).items():
        def heatmap(fig, ax, matrix=matrix):
            image = ax.imshow(matrix * 1e6, cmap="viridis", aspect="auto")
            ax.set_xlabel("column (neuron)")
            ax.set_ylabel("row (input)")
            if max(matrix.shape) <= 16:
                ax.set_xticks(range(matrix.shape[1]))
                ax.set_yticks(range(matrix.shape[0]))
            fig.colorbar(image, ax=ax, label="conductance (µS)")
        figures.append(_figure(f"{file_stem(run.name)}_conductance_{file_stem(label)}", f"final conductances, {label}",
                               heatmap, (4.4, 4.0)))
    return figures


def _conductance_maps(run: Run) -> dict[str, np.ndarray]:
    """The experiment's own maps of final conductances (its report extras), when it offers them."""
    try:
        experiment = get(run.config.get("experiment", DEFAULT))
    except ConfigError:
        return {}
    if not run.states:
        return {}
    try:
        return experiment.report_extras(validate(run.config, str(run.path / "config.yaml")), run.states)
    except ValueError as exc:  # states that do not fit the configured board
        raise ConfigError(f"{run.path / 'states.npz'}: does not match the run's config ({exc})") from None


def comparison_figure(table: pd.DataFrame, circuit: str, total: str, unit: str, title: str,
                      peripherals: bool) -> Figure | None:
    """Runs side by side, one labelled bar each (a second panel with peripherals when any run books them)."""
    if circuit not in table or table[circuit].isna().all():
        return None
    names = list(table["run"].astype(str))
    return _circuit_and_total(f"compare_{circuit}", f"{title} by run", names, table[circuit],
                              table[total] if total in table else table[circuit], unit, peripherals)


def accuracy_comparison(table: pd.DataFrame) -> Figure | None:
    if "test_accuracy" not in table or table["test_accuracy"].isna().all():
        return None

    def bars(fig, ax):
        values = table["test_accuracy"].to_numpy(dtype=float)
        ys = np.arange(len(table))
        drawn = ax.barh(ys, np.nan_to_num(values), color=CIRCUIT)
        ax.bar_label(drawn, ["–" if np.isnan(v) else f"{100 * v:.1f} %" for v in values], padding=3, fontsize=9)
        ax.set_yticks(ys, list(table["run"].astype(str)))
        ax.invert_yaxis()
        ax.set_xlim(0, 1.2)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3, axis="x")
    return _figure("compare_test_accuracy", "test accuracy by run", bars, (5.6, _bars_height(len(table))))


def sweep_figures(frame: pd.DataFrame, axes: list[str], name: str) -> list[Figure]:
    """Every headline metric against every axis that varies (bars over categories, lines over numbers); an
    axis with fewer than MIN_POINTS numeric values is drawn as categories."""
    ok = frame[frame["status"] == "ok"]
    figures = []
    varying = [a for a in axes if a != "seed" and ok[a].nunique() > 1] if len(ok) else []
    for axis in varying:
        few = not is_categorical(ok[axis]) and ok[axis].nunique() < MIN_POINTS
        shown = ok.assign(**{axis: ok[axis].map(lambda v: value_text(axis, v))}) if few else ok
        for metric in SWEEP_METRICS:
            if metric in ok and pd.api.types.is_numeric_dtype(ok[metric]):
                hue = next((a for a in varying if a != axis), None)
                figures.append(_figure(f"{name}_{metric}_vs_{axis}".replace(".", "_"),
                                       f"{axis_label(metric)} vs {axis}, mean ± std over repeats",
                                       lambda fig, ax, m=metric, a=axis, h=hue, f=shown: draw(fig, ax, f, a, m, h, "auto"),
                                       (6.0, 3.8)))
    return figures
