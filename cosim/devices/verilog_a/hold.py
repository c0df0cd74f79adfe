"""What a user's devices do while the board idles (no voltage across them): the family has no equations in
numpy, so the zero-bias hold is simulated in ngspice: every device between two grounded pins, its state starting
where the board left it, held for the idle time. The hold circuit of a set of devices is loaded once per process
into the persistent library (a board idles after every operation); each hold only sets the states."""

from __future__ import annotations

import numpy as np

from cosim.devices.verilog_a.instances import VAInstances
from cosim.devices.verilog_a.preset import STATE_PARAM
from cosim.devices.verilog_a.spice import instance, library, state_vector
from cosim.errors import ConfigError
from cosim.netlist import ir

STEPS = 256  # time steps per hold, at least
_MAX_CACHED = 8  # hold circuits kept loaded per process (one per board's device set)
_engines: dict[tuple, object] = {}


def hold_netlist(devices: VAInstances) -> ir.Netlist:
    """Device k as instance `X<k>` with both pins on ground."""
    net = ir.Netlist("cosim verilog_a zero-bias hold", library(devices.model))
    low = devices.model.state_range[0]
    for k in range(devices.n):
        net.add(instance(f"X{k}", ir.GROUND, ir.GROUND, devices, k, low))
    return net


def zero_bias_states(devices: VAInstances, state: np.ndarray, duration_s: float) -> np.ndarray:
    """The states after `duration_s` at zero bias (ngspice's own integration of the model), clipped to its range."""
    low, high = devices.model.state_range
    x = np.clip(np.broadcast_to(np.asarray(state, dtype=float), (devices.n,)), low, high)
    engine = _engine(devices)
    engine.set_initial_state({f"X{k}": value for k, value in enumerate(x.tolist())}, STATE_PARAM)
    vectors = [state_vector(f"X{k}") for k in range(devices.n)]
    # Steps of at most 1/256 of the hold: on msdc.va held 1 s (1.4 time constants) ngspice lands 7.6e-7 from the
    # exact relaxation (1/64: 1.2e-5, 1/4: 1.1e-3; its error falls with the step squared); 0.1 s: 2e-9.
    w = engine.tran(duration_s / STEPS, duration_s, vectors, tmax_s=duration_s / STEPS, last_only=True)
    out = np.array([w[name][-1] for name in vectors])
    if not np.all(np.isfinite(out)):
        raise ConfigError(f"{devices.model.path}: the model's state at zero bias is not finite after {duration_s:g} s")
    return np.clip(out, low, high)


def _engine(devices: VAInstances):
    from cosim.spice.engines import open_engine

    key = (devices.model.key, devices.values.shape, devices.values.tobytes())
    if key not in _engines:
        if len(_engines) >= _MAX_CACHED:
            _engines.clear()
        engine = open_engine("spice")
        engine.load(hold_netlist(devices))
        _engines[key] = engine
    return _engines[key]
