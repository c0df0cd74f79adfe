"""The one spelling of a number in every netlist, library file and engine command: 12 significant digits.

Values numpy derives (drawn device parameters, device states) can differ in the last bit between CPUs and numpy
builds (its SIMD exp/log paths differ), so all 17 digits of a float differ from machine to machine; 12 digits do
not, except for a value that lies on a rounding boundary (about one number in 10^4 differs in its last written
digit), which is why tests compare golden files with a relative tolerance (tests/test_export.py). Rounding to 12
digits moves a value by at most 5e-12 relative, far below anything a circuit resolves. The engines use the same
function for `alter` and `tran`, so the training loop simulates exactly the numbers an exported netlist holds.
"""

from __future__ import annotations

from cosim.errors import NetlistError

SIGNIFICANT_DIGITS = 12


def number(value: float) -> str:
    """`value` rounded to SIGNIFICANT_DIGITS, written as the shortest text that reads back as that rounded float
    (`1000.0`, `2.74254222418e-05`; no SPICE suffixes, so no 'm' vs 'M')."""
    try:
        value = float(value)
    except TypeError:  # e.g. a model parameter taken from a subcircuit's, which this dialect cannot spell
        raise NetlistError(f"{value!r} is not a number") from None
    return repr(float(f"{value:.{SIGNIFICANT_DIGITS}g}"))
