"""The tables of a report: the run summary (also what `cosim train` prints), the ledger's totals and groups
(all from `cosim.hil.summary`), runs side by side, a sweep's points, a run's config."""

from __future__ import annotations

import json

import pandas as pd

from cosim.hil.summary import by_group, summarize
from cosim.reports.load import SUMMARY_ROWS, Run

# the totals the comparison of several runs shows side by side (as total_<name>)
TOTALS = ("energy_J", "energy_with_peripherals_J", "circuit_time_s", "time_with_peripherals_s", "pulses", "events")
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
    rows = []
    for run in items:
        t = totals(run)
        row = {"run": run.name, "experiment": run.metrics.get("experiment", ""), "seed": run.metrics.get("seed")}
        for key in ("preset", "backend", "test_accuracy", "accuracy_input_noise", "accuracy_conductance_error",
                    "train_accuracy"):
            if key in run.metrics:
                row[key] = run.metrics[key]
        row.update({f"total_{k}": v for k, v in t.items() if k in TOTALS})
        row.update({k: v for k, v in t.items() if k.startswith(("energy_per_", "time_per_"))})
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_summary(frame: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """One row per point: axes, status, the headline metrics, wall time and error (the sweep's table)."""
    columns = ["point", *axes, "status", *[m for m in SWEEP_METRICS if m in frame], "wall_time_s", "error"]
    return frame[[c for c in dict.fromkeys(columns) if c in frame]]


def flatten(data: dict, prefix: str = "") -> dict:
    """A nested config as dotted keys (lists as JSON), for the config table."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else value
    return out
