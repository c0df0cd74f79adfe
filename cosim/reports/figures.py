"""The figures of a report: accuracy over training, energy and time by phase and by epoch, pulses per device,
the experiment's conductance maps, runs side by side, sweep metrics against their axes."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cosim.errors import ConfigError
from cosim.experiments.registry import DEFAULT, get, validate
from cosim.reports.load import Run, file_stem
from cosim.reports.tables import SWEEP_METRICS
from cosim.sweep.plot import draw


@dataclass
class Figure:
    name: str
    title: str
    png: bytes


def _figure(name: str, title: str, draw, size=(6.4, 4.0)) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    draw(fig, ax)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return Figure(name, title, buffer.getvalue())


def run_figures(run: Run, tables: dict[str, pd.DataFrame]) -> list[Figure]:
    figures = []
    prefix = file_stem(run.name)
    history = run.history
    if not history.empty and "train_accuracy" in history:
        def accuracy(fig, ax):
            ax.plot(history["epoch"], history["train_accuracy"], marker="o", label="train accuracy")
            for extra in ("validation_accuracy", "test_accuracy"):
                if extra in history:
                    ax.plot(history["epoch"], history[extra], marker="s", label=extra.replace("_", " "))
            if "loss" in history:
                twin = ax.twinx()
                twin.plot(history["epoch"], history["loss"], color="grey", ls="--", label="loss")
                twin.set_ylabel("loss")
            ax.set_xlabel("epoch")
            ax.set_ylabel("accuracy")
            ax.legend(loc="lower right", fontsize=8)
            ax.grid(alpha=0.3)
        figures.append(_figure(f"{prefix}_accuracy", "accuracy over training", accuracy))
    phase = tables["by_phase"]
    for name, circuit, total, label in (("energy", "energy_J", "energy_with_peripherals_J", "energy (J)"),
                                        ("time", "circuit_time_s", "time_with_peripherals_s", "time (s)")):
        def bars(fig, ax, circuit=circuit, total=total, label=label):
            xs = np.arange(len(phase))
            ax.bar(xs - 0.2, phase[circuit], 0.4, label="circuit")
            ax.bar(xs + 0.2, phase[total], 0.4, label="with peripherals")
            ax.set_xticks(xs, phase["phase"])
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.legend(fontsize=8)
        figures.append(_figure(f"{prefix}_{name}_by_phase", f"{name} by phase", bars))
    epochs = tables["by_epoch"]
    epochs = epochs[epochs["epoch"] >= 0]
    if len(epochs) > 1:
        def per_epoch(fig, ax):
            ax.plot(epochs["epoch"], epochs["energy_J"], marker="o", label="circuit")
            ax.plot(epochs["epoch"], epochs["energy_with_peripherals_J"], marker="s", label="with peripherals")
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel("energy (J)")
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
        figures.append(_figure(f"{prefix}_energy_by_epoch", "energy by epoch", per_epoch))
    devices = tables.get("by_device")
    if devices is not None and devices["pulses"].sum() > 0:
        def pulses(fig, ax):
            ax.hist(devices["pulses"], bins=min(30, max(5, len(devices) // 2)), color="tab:purple")
            ax.set_xlabel("programming pulses per device")
            ax.set_ylabel("devices")
        figures.append(_figure(f"{prefix}_pulses_per_device", "pulses per device", pulses))
    for label, matrix in _conductance_maps(run).items():
        def heatmap(fig, ax, matrix=matrix):
            image = ax.imshow(matrix * 1e6, cmap="viridis", aspect="auto")
            ax.set_xlabel("column (neuron)")
            ax.set_ylabel("row (input)")
            ax.set_xticks(range(matrix.shape[1]))
            ax.set_yticks(range(matrix.shape[0]))
            fig.colorbar(image, ax=ax, label="conductance (µS)")
        safe = "".join(ch if ch.isalnum() else "_" for ch in label)
        figures.append(_figure(f"{prefix}_conductance_{safe}", f"final conductances, {label}", heatmap, (4.8, 4.4)))
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


def comparison_figures(table: pd.DataFrame) -> list[Figure]:
    figures = []
    for column, label, log in (("test_accuracy", "test accuracy", False),
                               ("total_energy_with_peripherals_J", "energy with peripherals (J)", True),
                               ("total_energy_J", "circuit energy (J)", True),
                               ("total_time_with_peripherals_s", "time with peripherals (s)", True)):
        if column not in table:
            continue

        def bars(fig, ax, column=column, label=label, log=log):
            ax.bar(range(len(table)), table[column], color="tab:blue")
            ax.set_xticks(range(len(table)), table["run"], rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(label)
            if log:
                ax.set_yscale("log")
        figures.append(_figure(f"compare_{column}", f"{label} by run", bars))
    return figures


def sweep_figures(frame: pd.DataFrame, axes: list[str], name: str) -> list[Figure]:
    ok = frame[frame["status"] == "ok"]
    figures = []
    varying = [a for a in axes if a != "seed" and ok[a].nunique() > 1] if len(ok) else []
    for axis in varying:
        for metric in SWEEP_METRICS:
            if metric in ok and pd.api.types.is_numeric_dtype(ok[metric]):
                hue = next((a for a in varying if a != axis), None)
                figures.append(_figure(f"{name}_{metric}_vs_{axis}".replace(".", "_"), f"{metric} vs {axis}",
                                       lambda fig, ax, m=metric, a=axis, h=hue: draw(fig, ax, ok, a, m, h, "line")))
    return figures
