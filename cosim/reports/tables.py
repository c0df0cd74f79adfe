"""The tables of a report, as its CSV files hold them (plain numbers in SI units): the run summary (also what
`cosim train` prints), the ledger's totals and groups (all from `cosim.hil.summary`), runs side by side, a
sweep's points."""

from __future__ import annotations

import pandas as pd

from cosim.hil.summary import by_group, summarize
from cosim.reports.load import SUMMARY_ROWS, TEXT_METRICS, Run
from cosim.units import field_unit

# the metrics of metrics.json a comparison lists beside the ledger's summary (accuracies, counts)
RUN_KEY_METRICS = tuple(key for key, _, _ in SUMMARY_ROWS if key not in TEXT_METRICS and field_unit(key) is None)
SWEEP_METRICS = ("test_accuracy", "accuracy_deployed", "energy_J", "circuit_time_s", "pulses", "energy_per_inference_J")


def summary_rows(metrics: dict) -> list[tuple[str, str]]:
    """(label, formatted value) of every summary metric the run recorded, in display order."""
    rows = []
    for key, label, fmt in SUMMARY_ROWS:
        value = metrics.get(key)
        if value is not None:
            rows.append((label, fmt(value) if isinstance(value, (int, float)) else str(value)))
    return rows


def totals(run: Run) -> dict:
    """The run's ledger summarised (the figures its metrics.json recorded, and the counts behind them)."""
    return summarize(run.ledger, run.metrics.get("training_samples"))


def run_tables(run: Run) -> dict[str, pd.DataFrame]:
    ledger = run.ledger
    tables = {
        "totals": pd.DataFrame([totals(run)]),
        "by_phase": by_group(ledger, "phase"),
        "by_layer": by_group(ledger[ledger["layer"] != ""], "layer") if (ledger["layer"] != "").any() else pd.DataFrame(),
        "by_device": by_group(ledger[ledger["device"] != ""], "device") if (ledger["device"] != "").any() else pd.DataFrame(),
        "by_epoch": by_group(ledger, "epoch"),
        "history": run.history,
    }
    return {name: table for name, table in tables.items() if not table.empty}


def comparison_table(items: list[Run]) -> pd.DataFrame:
    """One row per run: what it is, its key metrics and its ledger's summary (as in its totals.csv)."""
    rows = []
    for run in items:
        row = {"run": run.name, **{key: run.metrics.get(key) for key in ("experiment", "seed", "preset", "backend",
                                                                          "model_backend")}}
        row.update({key: value for key, value in run.metrics.items()
                    if key in RUN_KEY_METRICS and isinstance(value, (int, float))})
        row.update(totals(run))
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_summary(frame: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """One row per point: axes, status, the headline metrics, wall time and error (the sweep's table)."""
    columns = ["point", *axes, "status", *[m for m in SWEEP_METRICS if m in frame], "wall_time_s", "error"]
    return frame[[c for c in dict.fromkeys(columns) if c in frame]]
