"""Summaries of a ledger: the one place energy and time are summed.

A run's metrics.json, `cosim report` and a sweep's table all take their energy and time figures from
`summarize`, so they cannot disagree. Totals are sums over every row, circuit only and with the peripheral
table; training figures are the rows that are not inferences. Per-sample figures divide by the samples the
rows served (the ledger's `samples` column): per inference, the energy of the inference rows over the
inferences they served (an event that read for a thousand inferences counts a thousand); per training sample,
the energy of every other row over the training samples (the ledger's own count, or the count a run gives
when it trained off the hardware and its ledger holds programming only). Device energy (the part of the circuit
energy the devices dissipate) is summed the same way, over the rows that measured it; a ledger with no such row
has no device figures.
"""

from __future__ import annotations

import pandas as pd

INFERENCE = "inference"
DEVICE = "device_energy_J"
SUMMED = ["energy_J", DEVICE, "peripheral_energy_J", "circuit_time_s", "peripheral_time_s", "wall_time_s", "pulses"]
# What a run records in metrics.json (its own wall time it measures itself; counts of rows belong to reports).
RUN_METRICS = (
    "energy_J", "energy_with_peripherals_J", "circuit_time_s", "time_with_peripherals_s", "pulses",
    "training_energy_J", "training_energy_with_peripherals_J", "training_circuit_time_s",
    "training_time_with_peripherals_s", "training_samples",
    "energy_per_inference_J", "energy_per_inference_with_peripherals_J", "time_per_inference_s",
    "energy_per_training_sample_J", "energy_per_training_sample_with_peripherals_J",
    "device_energy_J", "training_device_energy_J", "device_energy_per_inference_J",
    "device_energy_per_training_sample_J",
)


def summarize(frame: pd.DataFrame, training_samples: int | None = None) -> dict[str, float | int]:
    """Totals, training totals, and per inference / per training sample figures of a ledger frame (see the
    module docstring); `training_samples` replaces the ledger's count of training samples when given."""
    inference = frame["phase"] == INFERENCE
    training, inferences = frame[~inference], frame[inference]
    out: dict[str, float | int] = {"events": int(len(frame)), **_totals(frame, ""), **_totals(training, "training_")}
    out["wall_time_s"] = float(frame["wall_time_s"].sum())
    served = int(inferences["samples"].sum())
    trained = int(training["samples"].sum()) if training_samples is None else int(training_samples)
    out["inferences"], out["training_samples"] = served, trained
    if served:
        out.update(_per_sample(inferences, served, "energy_per_inference_J", "energy_per_inference_with_peripherals_J"))
        out["time_per_inference_s"] = float(inferences["circuit_time_s"].sum()) / served
        if _measures_devices(inferences):
            out["device_energy_per_inference_J"] = float(inferences[DEVICE].sum()) / served
    if trained and len(training):
        out.update(_per_sample(training, trained, "energy_per_training_sample_J",
                               "energy_per_training_sample_with_peripherals_J"))
        if _measures_devices(training):
            out["device_energy_per_training_sample_J"] = float(training[DEVICE].sum()) / trained
    return out


def run_metrics(frame: pd.DataFrame, training_samples: int | None = None) -> dict[str, float | int]:
    """The figures of `summarize` a run records in metrics.json."""
    summary = summarize(frame, training_samples)
    return {key: summary[key] for key in RUN_METRICS if key in summary}


def by_group(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per value of `column` (phase, layer, device, epoch): events and the sums of every group."""
    summed = [c for c in SUMMED if c in frame]
    table = frame.groupby(column, sort=True)[summed].sum(min_count=1)  # a group that never measured: NaN
    table.insert(0, "events", frame.groupby(column, sort=True).size())
    table["energy_with_peripherals_J"] = table["energy_J"] + table["peripheral_energy_J"]
    table["time_with_peripherals_s"] = table["circuit_time_s"] + table["peripheral_time_s"]
    return table.reset_index()


def _totals(rows: pd.DataFrame, prefix: str) -> dict[str, float | int]:
    energy_J, time_s = float(rows["energy_J"].sum()), float(rows["circuit_time_s"].sum())
    out = {
        f"{prefix}energy_J": energy_J,
        f"{prefix}energy_with_peripherals_J": energy_J + float(rows["peripheral_energy_J"].sum()),
        f"{prefix}circuit_time_s": time_s,
        f"{prefix}time_with_peripherals_s": time_s + float(rows["peripheral_time_s"].sum()),
    }
    if _measures_devices(rows):
        out[f"{prefix}device_energy_J"] = float(rows[DEVICE].sum())
    if not prefix:
        out["pulses"] = int(rows["pulses"].sum())
    return out


def _measures_devices(rows: pd.DataFrame) -> bool:
    """Some row measured its devices' dissipation (ledgers written before the column existed have none)."""
    return DEVICE in rows and bool(rows[DEVICE].notna().any())


def _per_sample(rows: pd.DataFrame, samples: int, circuit_key: str, total_key: str) -> dict[str, float]:
    return {circuit_key: float(rows["energy_J"].sum()) / samples,
            total_key: float((rows["energy_J"] + rows["peripheral_energy_J"]).sum()) / samples}
