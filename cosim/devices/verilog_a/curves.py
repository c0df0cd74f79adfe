"""What a user's device conducts at a voltage and state: measured in ngspice, since the family has no equations
in numpy. The board's controller needs it to map weights to conductances (the device read at both ends of its
state range) and to put conductance error and noise on the devices (the state that reads a given conductance).

For each distinct device (the model, its fixed values and one instance's adjustable values: one device when
there is no variation, each instance when there is) and each voltage asked for, the current is measured once
per process in one `ngspice -b` run: every device at GRID_POINTS states across the state range, its state port
held by a voltage source (so the state cannot move while it is read) and the voltage across plus and minus.
Between grid states the current is interpolated with a monotone cubic (PCHIP), which keeps a monotone curve
monotone; tests/test_verilog_a.py holds it to VTEAM's own equation.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from cosim.devices.verilog_a.instances import VAInstances
from cosim.devices.verilog_a.preset import VAModel
from cosim.devices.verilog_a.spice import model_card, port_nodes
from cosim.errors import ConfigError
from cosim.netlist import ir

GRID_POINTS = 129
DEVICES_PER_RUN = 64  # distinct devices measured in one ngspice run (64 × 129 device instances)
_MAX_CACHED = 100_000  # curves kept per process before the cache starts over

_curves: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # (model key, volts, row) -> (currents, slopes) on the grid


def current(devices: VAModel | VAInstances, v_V, x) -> np.ndarray:
    """Current (A) from plus to minus at the voltage `v_V` (one value per call) across them and states `x`
    (clipped to the state range): per instance for VAInstances (x one value or one per device), and of the
    preset's nominal device, in the shape of `x`, for a VAModel."""
    if isinstance(devices, VAModel):
        model, rows = devices, devices.nominal[None, :]
    else:
        model, rows = devices.model, devices.values
    volts = np.unique(np.asarray(v_V, dtype=float))
    if volts.size != 1 or not np.isfinite(volts[0]):
        raise ConfigError(f"the verilog_a family measures its current at one finite voltage per call, got {v_V!r}")
    v = float(volts[0])
    low, high = model.state_range
    x = np.clip(np.asarray(x, dtype=float), low, high)
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    currents, slopes = measured(model, v, unique)
    if isinstance(devices, VAModel):
        which = np.zeros(x.shape, dtype=int)
    else:
        x = np.broadcast_to(x, (devices.n,))
        which = inverse.reshape(-1)
    return _hermite(currents, slopes, which, x, low, high)


def grid(model: VAModel) -> np.ndarray:
    return np.linspace(*model.state_range, GRID_POINTS)


def measured(model: VAModel, v: float, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Currents on the state grid and their PCHIP slopes, (rows, GRID_POINTS) each; measured once per process."""
    keys = [(model.key, v, tuple(row.tolist())) for row in rows]
    missing = [k for k, key in enumerate(keys) if key not in _curves]
    if len(_curves) + len(missing) > _MAX_CACHED:
        _curves.clear()
        missing = list(range(len(keys)))
    for start in range(0, len(missing), DEVICES_PER_RUN):
        chunk = missing[start:start + DEVICES_PER_RUN]
        currents = _measure(model, v, rows[chunk])
        slopes = PchipInterpolator(grid(model), currents, axis=1).derivative()(grid(model))
        for k, i_row, s_row in zip(chunk, currents, slopes):
            _curves[keys[k]] = (i_row, s_row)
    return (np.array([_curves[key][0] for key in keys]), np.array([_curves[key][1] for key in keys]))


def measurement_netlist(model: VAModel, v: float, rows: np.ndarray) -> ir.Netlist:
    """Each device of `rows` at every grid state: `Vd<k>_<j>` drives plus at `v` (minus grounded), `Vs<j>`
    holds the state port at state j."""
    net = ir.Netlist("cosim verilog_a current at the read voltage", [ir.OsdiLoad(str(model.osdi))])
    for j, state in enumerate(grid(model)):
        net.add(ir.VoltageSource(f"Vs{j}", f"s{j}", ir.GROUND, ir.Dc(float(state))))
    for k, row in enumerate(rows):
        net.add(model_card(f"m{k}", model, dict(zip(model.names, row.tolist()))))
        for j in range(GRID_POINTS):
            node = f"d{k}_{j}"
            net.add(ir.VoltageSource(f"Vd{k}_{j}", node, ir.GROUND, ir.Dc(v)),
                    ir.OsdiDevice(f"N{k}_{j}", port_nodes(model, node, ir.GROUND, f"s{j}"), f"m{k}"))
    return net


def _measure(model: VAModel, v: float, rows: np.ndarray) -> np.ndarray:
    from cosim.spice.engines import open_engine

    engine = open_engine("batch")
    engine.load(measurement_netlist(model, v, rows))
    vectors = [f"i(vd{k}_{j})" for k in range(len(rows)) for j in range(GRID_POINTS)]
    w = engine.tran(1e-9, 2e-9, vectors, tmax_s=1e-9, last_only=True)
    currents = -np.array([w[name][-1] for name in vectors]).reshape(len(rows), GRID_POINTS)
    if not np.all(np.isfinite(currents)):
        raise ConfigError(f"{model.path}: the model's current at {v:g} V is not finite at some state")
    return currents


def _hermite(currents: np.ndarray, slopes: np.ndarray, which: np.ndarray, x: np.ndarray, low: float,
             high: float) -> np.ndarray:
    """Cubic Hermite interpolation of curve `which[k]` at x[k], on the uniform grid (PCHIP's own evaluation)."""
    h = (high - low) / (GRID_POINTS - 1)
    t = (x - low) / h
    i = np.clip(np.floor(t).astype(int), 0, GRID_POINTS - 2)
    s = t - i
    y0, y1 = currents[which, i], currents[which, i + 1]
    d0, d1 = slopes[which, i] * h, slopes[which, i + 1] * h
    s2, s3 = s * s, s * s * s
    return (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * d0 + (3 * s2 - 2 * s3) * y1 + (s3 - s2) * d1
