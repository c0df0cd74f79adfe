"""How a report shows a value: engineering units taken from the name's unit suffix (`energy_J` → "9.36 µJ"),
accuracies and fractions as percentages, counts with digit grouping, and column names in words. A column no
rule knows (a ledger column added later, say `amplifier_energy_J`) still reads well: its unit comes from its
suffix and its label from its name."""

from __future__ import annotations

import math
import numbers

import numpy as np

from cosim import units
from cosim.units import field_unit

MISSING = units.cell("", None)
# column and metric names in words (units are in the cells, so labels carry none)
LABELS = {
    "events": "events",
    "pulses": "pulses",
    "samples": "samples served",
    "energy_J": "circuit energy",
    "device_energy_J": "of which in devices",
    "peripheral_energy_J": "peripheral energy (assumed)",
    "energy_with_peripherals_J": "energy with peripherals",
    "circuit_time_s": "circuit time",
    "peripheral_time_s": "peripheral time (assumed)",
    "time_with_peripherals_s": "time with peripherals",
    "wall_time_s": "wall time (simulation)",
    "phase": "phase",
    "layer": "layer",
    "device": "device",
    "epoch": "epoch",
    "stage": "stage",
    "loss": "loss",
    "train_accuracy": "train accuracy",
    "validation_accuracy": "validation accuracy",
    "validation_loss": "validation loss",
    "test_accuracy": "test accuracy",
    "programmed": "devices programmed",
    "mean_p": "mean switching probability",
    "near_binary_fraction_all": "near-binary synapses (all)",
    "near_binary_fraction": "near-binary synapses",
    "point": "point",
    "status": "status",
    "error": "error",
    "seed": "seed",
}
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def label(name: str) -> str:
    """A column or metric name in words: `energy_J` → "circuit energy", `amplifier_energy_J` → "amplifier energy"."""
    if name in LABELS:
        return LABELS[name]
    if "." in name:  # a dotted config key (a sweep axis) reads best as the user wrote it
        return name
    unit = field_unit(name)
    return (name[: -len(unit) - 1] if unit else name).replace("_", " ")


def is_percent(name: str) -> bool:
    """Accuracies and fractions read as percentages."""
    return "accuracy" in name or "fraction" in name


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def cell(name: str, value) -> str:
    """`value` of the column or metric `name` as a report page shows it: `cosim.units.cell` (engineering
    notation in the unit the name carries, "–" for missing), with accuracies and fractions as percentages,
    yes/no, whole numbers with digit grouping and never a program's e-notation."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not is_number(value) or not math.isfinite(value):
        return units.cell(name, value)
    value = float(value)
    if is_percent(name) and 0 <= value <= 1:
        return f"{100 * value:.1f} %"
    if field_unit(name) is not None:
        return units.cell(name, value)
    return f"{value:,.0f}" if value.is_integer() else plain(value)


def plain(value: float, digits: int = 4) -> str:
    """A number without a unit: fixed point for ordinary sizes, a power of ten written out otherwise (never
    the e-notation of a program's output)."""
    if value == 0 or 1e-3 <= abs(value) < 10 ** digits:
        return f"{value:.{digits}g}"
    if 10 ** digits <= abs(value) < 1e9:
        return f"{value:,.0f}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{float(mantissa):g}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def unit_of(name: str) -> str | None:
    """The unit a column's values carry ("J", "s", …), None for counts and plain numbers."""
    return None if is_percent(name) else field_unit(name)
