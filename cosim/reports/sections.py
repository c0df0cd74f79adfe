"""The sections of a report page: a run (summary first, then each figure beside its numbers), several runs
compared (with a highlighted note wherever they are not like for like), a sweep (its points and metrics
against its axes). Every energy and time figure is a `cosim.hil.summary` summary of the run's ledger."""

from __future__ import annotations

import pandas as pd
import yaml

from cosim.reports import figures, notes
from cosim.reports.load import SUMMARY_ROWS, TEXT_METRICS, Run, file_stem
from cosim.reports.page import (Block, Card, Section, ShownTable, ordered_columns, row_table, shown_table)
from cosim.reports.show import MISSING, cell, unit_of
from cosim.reports.tables import totals

# the metrics a run shows as its key figures (accuracies and the experiment's own counts), in display order
KEY_FIGURES = [(key, words) for key, words, _ in SUMMARY_ROWS
               if key not in TEXT_METRICS and unit_of(key) is None]
# (label, circuit figure, figure with peripherals) of the energy and time summary, all from `summarize`
ENERGY_ROWS = [
    ("energy per inference", "energy_per_inference_J", "energy_per_inference_with_peripherals_J"),
    ("time per inference", "time_per_inference_s", None),
    ("energy per training sample", "energy_per_training_sample_J", "energy_per_training_sample_with_peripherals_J"),
    ("training energy, total", "training_energy_J", "training_energy_with_peripherals_J"),
    ("training time, total", "training_circuit_time_s", "training_time_with_peripherals_s"),
    ("run energy (training and evaluation)", "energy_J", "energy_with_peripherals_J"),
    ("run time (training and evaluation)", "circuit_time_s", "time_with_peripherals_s"),
    # the part of the circuit energy the devices dissipate (papers quote devices' switching and read energies)
    ("device energy per inference", "device_energy_per_inference_J", None),
    ("device energy per training sample", "device_energy_per_training_sample_J", None),
    ("device energy, training", "training_device_energy_J", None),
    ("device energy, run", "device_energy_J", None),
]
CIRCUIT, WITH_PERIPHERALS = "circuit (simulated)", "with peripherals (assumed)"


def csv_name(key: str) -> str:
    """The file a table of the report is written to (key: see `run_table_key`)."""
    return f"{file_stem(key)}.csv"


def run_table_key(run: Run, table: str) -> str:
    """The key of a run's table among the report's CSVs ("A/main" and "by_phase": A_main_by_phase.csv)."""
    return f"{run.name}_{table}"


def run_section(run: Run, tables: dict[str, pd.DataFrame]) -> Section:
    """A run: described in words, its headline figures, what its peripheral figures assume, then one block per
    view of its ledger (each figure beside the table it draws), its conductance maps and its settings."""
    t = totals(run)
    peripherals = notes.books_peripherals(run)

    def csv(table: str) -> str:
        return csv_name(run_table_key(run, table))

    def ledger_table(table: str, key: str, units: tuple, title: str, frame: pd.DataFrame | None = None):
        return shown_table(ordered_columns(tables[table] if frame is None else frame, [key], units, peripherals),
                           title, csv(table))

    section = Section(f"Run {run.name}", f"run-{file_stem(run.name)}", notes.describe(run),
                      notes=[notes.peripheral_note(run)], cards=_cards(run.metrics, t, peripherals))
    section.blocks.append(Block("Summary", tables=[_energy_table(t, peripherals), _key_figures(run.metrics, t)]))
    if "history" in tables:
        section.blocks.append(Block("Training", _present(figures.accuracy_figure(run)),
                                    [shown_table(tables["history"], "per epoch", csv("history"))]))
    phase = figures.phase_figures(run, tables["by_phase"], peripherals)
    section.blocks.append(Block("Energy by phase", [phase["energy"]],
                                [ledger_table("by_phase", "phase", (None, "J"), "energy by phase")]))
    section.blocks.append(Block("Time by phase", [phase["time"]],
                                [ledger_table("by_phase", "phase", ("s",), "time by phase")]))
    if "by_epoch" in tables:
        by_epoch = tables["by_epoch"].astype({"epoch": object})
        outside = by_epoch["epoch"] < 0  # the ledger's mark of events outside the training epochs
        by_epoch.loc[outside, "epoch"] = "none"
        section.blocks.append(Block(
            "Energy and time by epoch", _present(figures.epoch_figure(run, tables["by_epoch"], peripherals)),
            [ledger_table("by_epoch", "epoch", (None, "J", "s"), "by epoch", by_epoch)],
            "Epoch “none” holds the events outside the training epochs (evaluation, and set-up where the "
            "experiment books it)." if outside.any() else ""))
    if "by_layer" in tables:
        section.blocks.append(Block("Energy and time by layer",
                                    tables=[ledger_table("by_layer", "layer", (None, "J", "s"), "by layer")]))
    if "by_device" in tables:
        devices = tables["by_device"]
        title = f"the {min(10, len(devices))} of {len(devices)} devices that took the most energy"
        section.blocks.append(Block("Devices", _present(figures.pulses_figure(run, devices)), [
            ledger_table("by_device", "device", (None, "J"), title, devices.nlargest(10, "energy_J"))]))
    maps = figures.conductance_figures(run)
    if maps:
        section.blocks.append(Block("Final conductances", maps))
    section.config = yaml.safe_dump(run.config, sort_keys=False, allow_unicode=True)
    return section


def _present(figure) -> list:
    return [figure] if figure is not None else []


def _cards(metrics: dict, t: dict, peripherals: bool) -> list[Card]:
    cards = []
    if isinstance(metrics.get("test_accuracy"), (int, float)):
        cards.append(Card("test accuracy", cell("test_accuracy", metrics["test_accuracy"])))
    for words, circuit, total in ENERGY_ROWS[:5]:
        if circuit in t:
            detail = f"{cell(total, t[total])} with peripherals" if peripherals and total in t else ""
            cards.append(Card(words, cell(circuit, t[circuit]), detail))
    return cards


def _energy_table(t: dict, peripherals: bool) -> ShownTable:
    headers = ("", CIRCUIT, WITH_PERIPHERALS) if peripherals else ("", CIRCUIT)
    rows = [(words, cell(circuit, t.get(circuit)), *([cell(total, t.get(total)) if total else MISSING]
                                                      if peripherals else []))
            for words, circuit, total in ENERGY_ROWS if circuit in t]
    return row_table(rows, "energy and time", headers)


def _key_figures(metrics: dict, t: dict) -> ShownTable:
    rows = [(words, cell(key, metrics[key])) for key, words in KEY_FIGURES if metrics.get(key) is not None]
    rows += [(words, cell(key, t[key])) for key, words in (("events", "ledger events"), ("inferences", "inferences served"),
                                                           ("training_samples", "training samples"))]
    return row_table(rows, "key figures", ("", "value"))


def comparison_section(runs: list[Run], table: pd.DataFrame) -> Section:
    """Runs side by side: the same figures as a run's summary, one column per run, and a note per reason
    they are not like for like."""
    warnings = notes.comparability(runs)
    peripherals = any(notes.books_peripherals(r) for r in runs)
    section = Section(f"Comparison of {len(runs)} runs", "comparison",
                      "The same figures for each run, from its own ledger. " + (
                          "Read the notes first: these runs are not like for like." if warnings else
                          "The runs are like for like: same experiment, simulator, data and peripheral table."),
                      warnings=warnings)
    section.blocks.append(Block("Runs", text="", tables=[_runs_table(runs)]))
    shown = [figures.accuracy_comparison(table),
             figures.comparison_figure(table, "time_per_inference_s", "time_per_inference_s", "s",
                                       "time per inference", False),
             figures.comparison_figure(table, "energy_per_inference_J", "energy_per_inference_with_peripherals_J", "J",
                                       "energy per inference", peripherals),
             figures.comparison_figure(table, "training_energy_J", "training_energy_with_peripherals_J", "J",
                                       "training energy", peripherals)]
    section.blocks.append(Block("Side by side", tables=[_side_by_side(runs)]))
    section.blocks.append(Block("Charts", [f for f in shown if f is not None]))
    return section


def _runs_table(runs: list[Run]) -> ShownTable:
    rows = [(r.name, notes.title(r), notes.device(r) or MISSING, notes.backend(r),
             str(r.metrics.get("seed", MISSING))) for r in runs]
    return ShownTable("runs", ["run", "experiment", "device", "simulated with", "seed"],
                      [False, False, False, False, True], [list(row) for row in rows], total=len(rows), foldable=False)


def _side_by_side(runs: list[Run]) -> ShownTable:
    """One row per figure, one column per run."""
    all_totals = [totals(r) for r in runs]
    rows = []
    for key, words in KEY_FIGURES:
        if any(r.metrics.get(key) is not None for r in runs):
            rows.append([words, *(cell(key, r.metrics.get(key)) for r in runs)])
    for words, circuit, total in ENERGY_ROWS:
        rows.append([f"{words}, circuit", *(cell(circuit, t.get(circuit)) for t in all_totals)])
        if total and any(notes.books_peripherals(r) for r in runs):
            rows.append([f"{words}, with peripherals", *(cell(total, t.get(total)) for t in all_totals)])
    shares = [notes.peripheral_share(t) for t in all_totals]
    rows.append(["peripheral share of the energy", *(MISSING if x is None else f"{100 * x:.1f} %" for x in shares)])
    return ShownTable("side by side", ["", *(r.name for r in runs)], [False] + [True] * len(runs), rows,
                      total=len(rows), foldable=False)


def sweep_section(label: str, frame: pd.DataFrame, table: pd.DataFrame, axes: list[str]) -> Section:
    counts = frame["status"].value_counts().to_dict()
    section = Section(f"Sweep {label}", f"sweep-{file_stem(label)}",
                      f"{len(frame)} points over {', '.join(a for a in axes if a != 'seed') or 'no axes'}"
                      f"{' with repeats over seeds' if 'seed' in axes else ''}: "
                      + ", ".join(f"{n} {status}" for status, n in counts.items()) + ".",
                      cards=[Card(f"points {status}", str(n)) for status, n in counts.items()])
    plotted = figures.sweep_figures(frame, axes, file_stem(label))
    if plotted:
        section.blocks.append(Block("Metrics against the axes", plotted))
    section.blocks.append(Block("Points", tables=[shown_table(table, "points", csv_name(f"{label}_points"))]))
    return section
