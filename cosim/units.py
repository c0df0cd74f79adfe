"""SPICE-style numbers in, engineering notation out.

Users type values the way a circuit designer writes them: `1u`, `47k`, `10n`, `2.5meg`, optionally with the
unit (`1us`, `47kohm`, `10nF`). As in SPICE the scale letter is case-insensitive, `m` is milli and `meg` is
mega; `µ` is accepted for micro, and a lone `a`, `f`, `k` or `m` is a scale letter (atto, femto, kilo,
milli), never a unit. A unit, when given after the scale, must be the unit of the field it sets (a field's
unit is the suffix of its name: `width_s` takes seconds, `series_ohm` ohms). Configs read texts through
`cosim.config.Strict`, the command line's options through its `Quantity`. Output goes the other way:
`eng(9.362e-06, "J")` is `9.36 µJ`, and `cell` shows a table's value in the unit its column's name carries.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from cosim.errors import ConfigError

# SPICE scale factors (longest first where one is a prefix of another: "meg" and "mil" before "m"), as decimals
# so that a value is the float nearest to what was typed (2.2n is 2.2e-09, not 2.2 × 1e-9 = 2.2000000000000003e-09).
SCALES = {"t": "1e12", "g": "1e9", "meg": "1e6", "k": "1e3", "mil": "25.4e-6", "m": "1e-3", "u": "1e-6", "µ": "1e-6",
          "μ": "1e-6", "n": "1e-9", "p": "1e-12", "f": "1e-15", "a": "1e-18"}
# Unit words a value may carry, by the field-name suffix that means that unit.
UNITS = {"s": ("s",), "V": ("v",), "A": ("a",), "ohm": ("ohm", "ohms", "ω"), "F": ("f",), "Hz": ("hz",),
         "J": ("j",), "W": ("w",), "S": ("s",), "K": ("k",), "m": ("m",)}
_UNIT_WORDS = sorted({w for words in UNITS.values() for w in words}, key=len, reverse=True)
_NUMBER = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-zµμΩ]*)\s*\Z")
SPICE_HINT = "SPICE style is accepted: 1u, 47k, 2.5meg, 10ns"


def field_unit(name: str) -> str | None:
    """The unit a field name carries in its suffix (`width_s` → "s", `r_on_ohm` → "ohm", a dotted key by its last
    name: `programming.width_s` → "s"), or None: no unit, or a compound one the suffix alone does not name
    (`beta_f_per_V` is per volt, `hm_resistivity_ohm_m` ohm·metres)."""
    parts = name.rsplit(".", 1)[-1].split("_")
    if len(parts) < 2 or parts[-1] not in UNITS or parts[-2] == "per" or (len(parts) > 2 and parts[-2] in UNITS):
        return None
    return parts[-1]


def _split_suffix(suffix: str) -> tuple[Decimal, str]:
    """(scale, unit word) of a suffix such as "u", "us", "kohm", "meg", "Ω" (the scale first, as in SPICE)."""
    lower = suffix.lower()
    if not lower:
        return Decimal(1), ""
    for prefix in sorted(SCALES, key=len, reverse=True):
        if lower.startswith(prefix):
            rest = lower[len(prefix):]
            if rest == "" or rest in _UNIT_WORDS:
                return Decimal(SCALES[prefix]), rest
    if lower in _UNIT_WORDS:
        return Decimal(1), lower
    raise ValueError(suffix)


def exact(text: str, unit: str | None = None) -> Decimal:
    """A SPICE-style number as the decimal it spells (`1.5k` → 1500); ValueError saying what is wrong (the
    caller names the setting). `unit` as in `parse`."""
    match = _NUMBER.match(text)
    if match is None:
        raise ValueError(f"not a number ({SPICE_HINT})")
    mantissa, suffix = match.groups()
    try:
        scale, word = _split_suffix(suffix)
    except ValueError:
        raise ValueError(f"unknown scale or unit {suffix!r} "
                         f"(scales: {', '.join(k for k in SCALES if k not in ('μ',))})") from None
    if word and (unit is None or word not in UNITS[unit]):
        raise ValueError(f"the unit is {unit}, not {word!r}" if unit else f"it takes no unit, not {word!r}")
    try:
        value = Decimal(mantissa) * scale
    except ArithmeticError:  # an exponent past the decimal context's range
        value = Decimal("inf")
    if not math.isfinite(float(value)):
        raise ValueError("not a finite number")
    return value


def parse(text: str, unit: str | None = None, what: str = "value") -> float:
    """A SPICE-style number (`1u`, `47kohm`, `2.5meg`, `1e-6`) as the float nearest to it; `unit` (a key of UNITS)
    is the unit the value must be in when it names one (None: a scale letter but no unit word). ConfigError
    naming `what` otherwise."""
    if not isinstance(text, str):
        raise ConfigError(f"{what}: expected a number, got {text!r}")
    try:
        return float(exact(text, unit))
    except ValueError as exc:
        raise ConfigError(f"{what} = {text!r}: {exc}") from None


# --- output -------------------------------------------------------------------------------------------------

_PREFIXES = {4: "T", 3: "G", 2: "M", 1: "k", 0: "", -1: "m", -2: "µ", -3: "n", -4: "p", -5: "f", -6: "a"}
_SYMBOLS = {"ohm": "Ω"}


def eng(value: float | None, unit: str = "", digits: int = 3) -> str:
    """`value` in engineering notation with an SI prefix: eng(9.362e-06, "J") → "9.36 µJ"; `digits`
    significant digits (trailing zeros kept: they say how precise the figure is); zero, NaN and None plainly."""
    unit = _SYMBOLS.get(unit, unit)
    if value is None:
        return "–"
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{0 if value == 0 else value} {unit}".strip()
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")  # rounded first, so 0.99996 becomes 1.00
    exponent = int(exponent)
    group = min(max(exponent // 3, min(_PREFIXES)), max(_PREFIXES))
    shift = exponent - 3 * group
    text = f"{float(mantissa) * 10.0 ** shift:.{max(0, digits - 1 - shift)}f}"
    return f"{text} {_PREFIXES[group]}{unit}".rstrip()


def cell(name: str, value) -> str:
    """`value` as a table shows it in the column `name`: in the unit the name carries, in engineering notation
    (`energy_J` → "9.36 µJ"); a whole number as an integer ("1692"); another number to 4 significant digits;
    missing (None, NaN) as "–"; anything else as its text."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    unit = field_unit(name)
    if unit is not None:
        return eng(value, unit)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"
