"""M-SDC parameter validation, presets, numpy twin physics and device-to-device variation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from cosim.devices.msdc.model import (
    MSDCArrays,
    MSDCParams,
    MSDCTwin,
    Variation,
    advance_state,
    conductance,
    current,
    draw_instances,
    dxdt,
    load_params_file,
    load_preset,
    params_from_mapping,
    preset_names,
    series_device_voltage_V,
    write_params_file,
    x_from_resistance,
)
from cosim.errors import ConfigError

# Knowm's published defaults plus the φ, α, β of their Xyce example (REFERENCE.md §2).
KNOWM = dict(
    r_on_ohm=500.0, r_off_ohm=1500.0, v_on_V=0.27, v_off_V=0.27, tau_s=1e-4, temperature_K=298.5, phi=0.8,
    alpha_f_A=8e-4, beta_f_per_V=4.0, alpha_r_A=8e-4, beta_r_per_V=4.0, source="Knowm defaults",
)
PRESETS = ["W", "Cr", "C"]


# --- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "key"),
    [
        ({"r_on_ohm": 2000.0}, "r_off_ohm"),  # R_on > R_off
        ({"r_on_ohm": 1500.0}, "r_off_ohm"),  # R_on = R_off
        ({"tau_s": 0.0}, "tau_s"),
        ({"tau_s": -1e-6}, "tau_s"),
        ({"phi": 1.2}, "phi"),
        ({"phi": -0.1}, "phi"),
        ({"v_on_V": float("nan")}, "v_on_V"),
        ({"r_off_ohm": float("inf")}, "r_off_ohm"),
        ({"alpha_f_A": -1e-9}, "alpha_f_A"),
        ({"temperature_K": 0.0}, "temperature_K"),
        ({"bogus_key": 1.0}, "bogus_key"),
    ],
)
def test_invalid_params_name_the_key(update, key):
    data = KNOWM | update
    with pytest.raises(ValidationError, match=key):
        MSDCParams(**data)
    with pytest.raises(ConfigError, match=key) as info:
        params_from_mapping(data, where="my.yaml")
    assert "my.yaml" in str(info.value) and "allowed" in str(info.value)


def test_params_are_frozen():
    p = MSDCParams(**KNOWM)
    with pytest.raises(ValidationError):
        p.tau_s = 1.0


# --- presets and files ---------------------------------------------------------------------------------------


def test_presets_load_case_insensitively_with_sources():
    assert preset_names() == PRESETS
    for name in PRESETS:
        p = load_preset(name.lower())
        assert p == load_preset(name.upper()) == load_preset(name)
        assert len(p.source) > 40


def test_unknown_preset_lists_allowed_names():
    with pytest.raises(ConfigError, match="W, Cr, C"):
        load_preset("Ti")


def test_presets_order_as_documented():
    """C is the high-resistance fast binary switcher, W the low-resistance incremental one, Cr in between."""
    w, cr, c = (load_preset(n) for n in PRESETS)
    assert w.r_on_ohm < cr.r_on_ohm < c.r_on_ohm
    assert w.r_off_ohm < cr.r_off_ohm < c.r_off_ohm
    assert w.tau_s > cr.tau_s > c.tau_s


def test_params_file_round_trip(tmp_path):
    p = load_preset("W")
    path = write_params_file(p, tmp_path / "w.yaml")
    assert load_params_file(path) == p


def test_params_file_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("r_on_ohm: 5\nr_off_ohm: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*r_on_ohm"):
        load_params_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_params_file(tmp_path / "missing.yaml")


# --- physics -------------------------------------------------------------------------------------------------


def test_x_from_resistance_end_points():
    p = MSDCParams(**KNOWM)
    x = x_from_resistance(p, [500.0, 1500.0, 100.0, 1e6, 750.0])
    np.testing.assert_allclose(x, [1.0, 0.0, 1.0, 0.0, 0.5], atol=1e-12)
    np.testing.assert_allclose(1.0 / conductance(p, x[4]), 750.0, rtol=1e-12)


def test_current_matches_equation():
    p = MSDCParams(**KNOWM)
    v, x = 0.3, 0.4
    g = x / 500.0 + (1 - x) / 1500.0
    expected = 0.8 * v * g + 0.2 * (8e-4 * np.exp(4 * v) - 8e-4 * np.exp(-4 * v))
    assert current(p, v, x) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", PRESETS)
def test_pulses_move_conductance_the_right_way(name):
    """Knowm's set/reset pulses (±1 V, 5 µs) raise and lower the conductance of a half-set device."""
    p = load_preset(name)
    g0 = conductance(p, 0.5)
    up, down = MSDCTwin(p, 0.5), MSDCTwin(p, 0.5)
    up.step(1.0, 5e-6)
    down.step(-1.0, 5e-6)
    assert up.conductance()[0] > g0 * 1.001
    assert down.conductance()[0] < g0 / 1.001


@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("x0", [0.0, 0.5, 1.0])
def test_read_voltage_barely_disturbs(name, x0):
    """A 0.1 V read moves X by < 1e-4 per µs (Knowm's read voltage)."""
    twin = MSDCTwin(load_preset(name), x0)
    twin.step(0.1, 1e-6)
    assert abs(twin.x[0] - x0) < 1e-4


@pytest.mark.parametrize("name", PRESETS)
def test_large_drives_keep_state_bounded_without_warnings(name):
    p = load_preset(name)
    t = np.linspace(0.0, 1e-3, 2001)
    v = 5.0 * np.sign(np.sin(2 * np.pi * 3e3 * t))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin = MSDCTwin(p, np.linspace(0, 1, 5))
        x, i = twin.simulate(v, t_s=t)
        for dt in (1e-9, 1e-3, 1e3):
            for drive in (5.0, -5.0):
                x_step = twin.step(drive, dt)
                assert np.all((x_step >= 0) & (x_step <= 1))
    assert np.all((x >= 0) & (x <= 1)) and np.all(np.isfinite(i))


def test_exact_step_matches_ode_for_held_voltage():
    p = load_preset("W")
    for v in (-0.3, 0.0, 0.2, 0.4, 1.0):
        ref = solve_ivp(lambda t, x: dxdt(p, v, x), (0, 3e-4), [0.3], rtol=1e-11, atol=1e-13).y[0, -1]
        assert advance_state(p, 0.3, v, 3e-4) == pytest.approx(ref, abs=1e-8)


def test_sine_drive_matches_fine_ode_reference():
    """Midpoint-voltage exact steps agree with scipy solve_ivp on the continuous drive to 1e-3 in X."""
    p = load_preset("W")
    f_hz = 100.0
    t = np.linspace(0.0, 2.0 / f_hz, 801)
    drive = lambda tt: 0.6 * np.sin(2 * np.pi * f_hz * tt)  # noqa: E731
    ref = solve_ivp(lambda tt, x: dxdt(p, drive(tt), x), (0, t[-1]), [0.2], t_eval=t, method="LSODA",
                    rtol=1e-10, atol=1e-12, max_step=t[1] - t[0]).y[0]
    x, _ = MSDCTwin(p, 0.2).simulate(drive(t), t_s=t)
    assert np.max(np.abs(x[:, 0] - ref)) < 1e-3
    assert np.ptp(ref) > 0.2  # the drive really switches the device


def test_series_solve_satisfies_kirchhoff():
    p = load_preset("W")
    v_src = np.array([-0.8, -0.1, 0.0, 0.05, 0.8, 5.0])
    x = np.array([0.0, 0.3, 0.5, 1.0, 0.7, 1.0])
    v = series_device_voltage_V(p, v_src, 5e3, x)
    np.testing.assert_allclose(v + 5e3 * current(p, v, x), v_src, atol=1e-10)


def test_series_sweep_matches_fine_reference():
    """simulate_series on a sampled sine through 5 kΩ agrees with solve_ivp + brentq to 1e-3 in X."""
    p = load_preset("W")
    f_hz, r_s = 10.0, 5e3
    t = np.linspace(0.0, 1.0 / f_hz, 401)
    src = lambda tt: 0.8 * np.sin(2 * np.pi * f_hz * tt)  # noqa: E731

    def rhs(tt, x):
        v = brentq(lambda vv: vv + r_s * current(p, vv, x[0]) - src(tt), -2.0, 2.0, xtol=1e-14)
        return [dxdt(p, v, x[0])]

    ref = solve_ivp(rhs, (0, t[-1]), [0.0], t_eval=t, method="LSODA", rtol=1e-9, atol=1e-11,
                    max_step=t[1] - t[0]).y[0]
    x, i, v = MSDCTwin(p, 0.0).simulate_series(src(t), r_s, t_s=t)
    assert np.max(np.abs(x[:, 0] - ref)) < 1e-3
    np.testing.assert_allclose(v[:, 0] + r_s * i[:, 0], src(t), atol=1e-9)
    assert ref.max() > 0.3  # it switched (partly) ON


def test_twin_runs_per_device_parameters_and_steps():
    """Each instance keeps its own parameters and step: a batch equals the devices run one by one."""
    arrays = draw_instances(load_preset("W"), Variation(r_on_rel_std=0.2, tau_rel_std=0.3), 3, seed=4)
    dt = np.array([1e-5, 2e-5, 5e-5])
    src = 0.8 * np.sin(np.linspace(0, 2 * np.pi, 101))
    _, i_batch, _ = MSDCTwin(arrays, 0.1).simulate_series(src, 5e3, dt)
    for k in range(3):
        single = MSDCArrays(**{f: getattr(arrays, f)[k:k + 1] for f in arrays.__dataclass_fields__})
        _, i_one, _ = MSDCTwin(single, 0.1).simulate_series(src, 5e3, dt[k])
        np.testing.assert_allclose(i_batch[:, k], i_one[:, 0], rtol=1e-9, atol=1e-15)


def test_twin_rejects_bad_inputs():
    p = load_preset("W")
    with pytest.raises(ConfigError, match="x0"):
        MSDCTwin(p, 1.5)
    twin = MSDCTwin(p, 0.5, n=2)
    with pytest.raises(ValueError, match="exactly one"):
        twin.simulate(np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        twin.simulate(np.zeros((5, 3)), 1e-6)


# --- variation -----------------------------------------------------------------------------------------------


VAR = Variation(r_on_rel_std=0.1, r_off_rel_std=0.1, v_on_rel_std=0.05, v_off_rel_std=0.05, tau_rel_std=0.2)


def test_variation_reproducible_from_seed_and_different_across_seeds():
    p = load_preset("W")
    a, b, c = (draw_instances(p, VAR, 500, seed=s) for s in (7, 7, 8))
    for field in ("r_on_ohm", "r_off_ohm", "v_on_V", "v_off_V", "tau_s"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.allclose(getattr(a, field), getattr(c, field))
    np.testing.assert_array_equal(a.phi, np.full(500, p.phi))


def test_zero_variation_gives_identical_instances():
    p = load_preset("Cr")
    arrays = draw_instances(p, Variation(), 50, seed=3)
    for field in arrays.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(arrays, field), np.full(50, getattr(p, field)))


def test_variation_statistics_positive_and_ordered():
    """Lognormal factors: mean 1, requested relative std, positive values, R_on < R_off kept."""
    p = load_preset("W")
    arrays = draw_instances(p, VAR, 20000, seed=0)
    rel = arrays.tau_s / p.tau_s
    assert rel.mean() == pytest.approx(1.0, abs=0.01)
    assert rel.std() == pytest.approx(0.2, abs=0.01)
    wide = draw_instances(p, Variation(r_on_rel_std=3.0, r_off_rel_std=3.0), 2000, seed=1)
    assert np.all(wide.r_on_ohm > 0) and np.all(wide.r_on_ohm < wide.r_off_ohm)
