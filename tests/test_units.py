"""SPICE-style numbers in (`1u`, `47kohm`, `2.5meg`) and engineering notation out (`9.36 µJ`)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from cosim.errors import ConfigError
from cosim.units import eng, field_unit, parse


@pytest.mark.parametrize("text, unit, value", [
    ("1u", "s", 1e-6), ("1us", "s", 1e-6), ("1µs", "s", 1e-6), ("47k", "ohm", 47e3), ("47kohm", "ohm", 47e3),
    ("47kΩ", "ohm", 47e3), ("2.5meg", None, 2.5e6), ("2.5MEG", None, 2.5e6), ("10n", "F", 1e-8), ("10nF", "F", 1e-8),
    ("1e-6", "s", 1e-6), ("-3.3m", "V", -3.3e-3), ("5v", "V", 5.0), (" 1.5 ", "s", 1.5), ("1mil", "m", 25.4e-6),
    ("1f", "F", 1e-15),  # as in SPICE, a lone f is femto
    ("1M", None, 1e-3),  # ... and M is milli
    ("100p", "J", 1e-10), ("2G", "Hz", 2e9), ("3T", None, 3e12), (".5a", "A", 0.5e-18),
])
def test_spice_numbers_parse_as_in_spice(text, unit, value):
    assert parse(text, unit) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text, unit, message", [
    ("1uV", "s", "the unit is s, not 'v'"),
    ("1us", None, "it takes no unit"),
    ("1x", "s", "unknown scale or unit 'x'"),
    ("abc", "s", "not a number"),
    ("", "s", "not a number"),
    ("1e400", "s", "not a finite number"),
    ("1 u s", "s", "not a number"),
])
def test_bad_spice_numbers_are_one_clear_error(text, unit, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse(text, unit, what="programming.width_s")
    assert "programming.width_s" in str(info.value) and "\n" not in str(info.value)


def test_field_names_carry_their_unit():
    assert field_unit("width_s") == "s"
    assert field_unit("r_on_ohm") == "ohm"
    assert field_unit("amplitude_V") == "V"
    assert field_unit("g_ref_S") == "S"
    assert field_unit("learning_rate") is None
    assert field_unit("epochs") is None


@pytest.mark.parametrize("value, unit, text", [
    (9.362e-06, "J", "9.36 µJ"), (7.524e-3, "s", "7.52 ms"), (0.99996, "V", "1.00 V"), (999.96e-6, "s", "1.00 ms"),
    (1.716e-11, "J", "17.2 pJ"), (0.0, "J", "0 J"), (-3.3e-3, "V", "-3.30 mV"), (123456.0, "ohm", "123 kΩ"),
    (1.0, "", "1.00"), (47e3, "ohm", "47.0 kΩ"), (3.66e-4, "J", "366 µJ"), (2.4, "s", "2.40 s"),
])
def test_engineering_notation(value, unit, text):
    assert eng(value, unit) == text


def test_engineering_notation_of_missing_and_non_finite_values():
    assert eng(None, "J") == "–"
    assert eng(float("nan"), "J") == "nan J"
    assert eng(float("inf"), "s") == "inf s"


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.floats(min_value=1e-17, max_value=1e14, allow_nan=False, allow_infinity=False), st.booleans())
def test_what_eng_writes_parses_back_within_its_precision(magnitude, negative):
    value = -magnitude if negative else magnitude
    text = eng(value, "s", digits=6).replace("µ", "u").replace("M", "meg")  # SI M is SPICE's meg
    assert math.isclose(parse(text.replace(" ", ""), "s"), value, rel_tol=1e-5)


@pytest.mark.parametrize("name, value, text", [
    ("energy_J", 1.822e-08, "18.2 nJ"), ("programming.width_s", 2e-6, "2.00 µs"), ("wall_time_s", 0.918, "918 ms"),
    ("pulses", 29.0, "29"), ("pulses", 1692, "1692"), ("test_accuracy", 0.85, "0.85"), ("training.noise", 0.125, "0.125"),
    ("status", "ok", "ok"), ("error", None, "–"), ("pulses", float("nan"), "–"), ("reset_pulse", True, "True"),
    ("r_on_ohm", 47e3, "47.0 kΩ"),
])
def test_table_cells_show_a_column_in_its_unit(name, value, text):
    from cosim.units import cell

    assert cell(name, value) == text


def test_the_run_summary_shows_energies_and_times_in_engineering_notation():
    from cosim.reports import summary_rows

    rows = dict(summary_rows({"test_accuracy": 1.0, "training_energy_J": 9.362e-07, "training_circuit_time_s": 7.524e-3,
                              "energy_per_inference_J": 1.716e-11, "pulses": 1692, "backend": "spice",
                              "wall_time_s": 23.94}))
    assert rows == {"test accuracy": "1.000", "training energy, circuit": "936 nJ", "training time, circuit": "7.52 ms",
                    "energy per inference": "17.2 pJ", "pulses (programming, writes or reads booked)": "1692",
                    "backend": "spice", "wall time": "23.9 s"}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.decimals(min_value=-1e6, max_value=1e6, places=4, allow_nan=False, allow_infinity=False),
       st.sampled_from([("f", -15), ("p", -12), ("n", -9), ("u", -6), ("m", -3), ("", 0), ("k", 3), ("meg", 6), ("g", 9)]))
def test_a_spice_number_is_the_float_nearest_to_what_it_spells(mantissa, scale):
    """`2.2n` is 2.2e-09 (the float nearest to 2.2·10⁻⁹), not 2.2 × 1e-9 = 2.2000000000000003e-09."""
    letter, exponent = scale
    assert parse(f"{mantissa}{letter}") == float(f"{mantissa}e{exponent}")
