"""The crossbar network solver (cosim.circuits.nodal): against Ohm's law on a single cross point, against
ngspice on tiles with wire resistance (column currents within 1e-5 of full scale; the requirement is 0.5 %),
and the programming path's series resistance against the network's own Thevenin resistance."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.circuits import crossbar as xb
from cosim.circuits import nodal
from cosim.experiments.msdc_board import sized as msdc_board
from cosim.devices.msdc import model as msdc
from cosim.errors import ConfigError, ConvergenceError
from cosim.netlist import ir


def linear(g_S: np.ndarray):
    return lambda v: (v * g_S, np.broadcast_to(g_S, v.shape))


def device_model(board, read: nodal.CrossbarRead, x=None):
    p = msdc.MSDCArrays(**{f: np.asarray(getattr(board.arrays, f))[read.devices]
                           for f in msdc.MSDCArrays.__dataclass_fields__})
    x = board.x0[read.devices] if x is None else x
    return lambda v: msdc.current_and_slope(p, v, x)


def test_one_cross_point_follows_ohms_law_through_wires_and_switches():
    """1 row × 1 column, a linear device: the row's first segment feeds two branches, the device's (read switch,
    device, column segment, sense switch, the virtual ground's 1/((1 + A)/R_f)) and the reference column's
    (second row segment, read switch, 1/g_ref, column segment, sense switch, virtual ground). The open switches' leaks
    (1 nS each, ~1e-10 A against ~1e-5 A) are the only difference."""
    board = msdc_board((1, 1), wire_ohm=2.0)
    read = nodal.crossbar_read(board.network, 0)
    g = 1e-4
    sol = read.network.solve(np.array([[0.1]]), linear(np.array([g])))
    spec, ground = board.network.spec, 1 / read.g_sense_S
    r_device = spec.switch.on_ohm + 1 / g + 2.0 + spec.switch.on_ohm + ground
    r_ref = 2.0 + spec.switch.on_ohm + 1 / spec.g_ref_S + 2.0 + spec.switch.on_ohm + ground
    v_row = 0.1 / (1 + 2.0 / r_device + 2.0 / r_ref)
    np.testing.assert_allclose(read.column_currents(sol)[0], [v_row / r_device, v_row / r_ref], rtol=1e-7)


class ReferenceEqual:
    """Fixed resistors of the reference conductance at every cross point (for ngspice: no state)."""

    state_param, state_range = "", (0.0, 1.0)

    def __init__(self, g_S: float):
        self.g_S = g_S

    def element(self, name: str, top: str, bottom: str, index: int) -> ir.Resistor:
        return ir.Resistor("R" + name[1:], top, bottom, 1.0 / self.g_S)

    def state_vector(self, instance: str) -> str:
        return ""


@pytest.mark.spice
def test_columns_of_reference_equal_devices_read_exactly_the_reference():
    """The reference column's cells have the read switch (and the open program switch) a device's cell has, so
    a column of devices equal to the reference gives I_c − I_ref = 0 to solver precision, in the nodal solver
    and in ngspice (without wire resistance, which makes each column's position count)."""
    from cosim.circuits.network import NetworkSpec, build_network
    from cosim.spice.shared import SharedEngine

    board = msdc_board((5, 3), wire_ohm=0.0).network
    spec = NetworkSpec(layers=(5, 3), wire_ohm=0.0, g_ref_S=board.spec.g_ref_S)
    inputs = np.random.default_rng(4).uniform(0, 1, (3, 5)) * spec.read_V
    read = nodal.crossbar_read(board, 0)
    currents = read.column_currents(read.network.solve(inputs, linear(np.full(15, spec.g_ref_S))))
    # 1e-8: the 1 µΩ that stands for a zero wire (~1e-9 of the row voltage); the missing read switch was 5.6e-3
    assert np.abs(currents[:, :3] - currents[:, 3:]).max() < 1e-8 * np.abs(currents).max()
    network = build_network(spec, [], ReferenceEqual(spec.g_ref_S))
    engine = SharedEngine(seed=1)
    engine.load(network.netlist)
    held = lambda v: ir.Pwl((0.0, 1.0), (v, v))  # noqa: E731 (the board's sources are built as PWL)
    engine.alter(network.read_enable_source, waveform=held(1.0))
    for name, v in zip(network.input_sources, inputs[0]):
        engine.alter(name, waveform=held(float(v)))
    names = [f"i({network.layers[0].sense_source(c).lower()})" for c in range(4)]
    w = engine.tran(1e-7, 1e-6, names, last_only=True)  # the board's sources are PWL: their value in time
    columns = np.array([w[n][-1] for n in names])
    assert np.abs(columns).min() > 0.1 * spec.read_V * spec.g_ref_S
    assert np.abs(columns[:3] - columns[3]).max() < 1e-8 * np.abs(columns).max()


def test_a_cached_factor_gives_the_same_solution_and_a_poor_one_is_replaced():
    board = msdc_board((12, 6), wire_ohm=5.0, seed=4)
    read = nodal.crossbar_read(board.network, 0)
    device = device_model(board, read)
    v_in = np.random.default_rng(0).uniform(0, 0.1, (5, 12))
    first = read.network.solve(v_in, device)
    again = read.network.solve(v_in, device, factor=first.factor)
    assert again.factorisations == 0
    np.testing.assert_allclose(again.v, first.v, rtol=0, atol=1e-14)
    poor = read.network.factor(np.full(len(read.devices), 1e-2))  # 100× the devices' conductance
    fixed = read.network.solve(v_in, device, factor=poor)
    assert fixed.factorisations >= 1
    np.testing.assert_allclose(fixed.v, first.v, rtol=0, atol=1e-13)
    with pytest.raises(ConvergenceError, match="did not converge"):
        read.network.solve(v_in, device, factor=poor, max_iter=1)


def test_the_network_refuses_what_it_cannot_model():
    board = msdc_board((2, 2))
    layer = board.network.layers[0]
    model = board.network.spec.switch.model()
    kw = dict(inputs=["in0", "in1"], devices=[p.instance for p in layer.points], control_V={},
              switch_models={model.name.lower(): model}, to_ground={})
    with pytest.raises(ConfigError, match="ammeters"):
        nodal.layer_network([*layer.items, ir.VoltageSource("V9", "l1_c0_0", "0", ir.Dc(1.0))], **kw)
    with pytest.raises(ConfigError, match="not found"):
        nodal.layer_network(layer.items, **{**kw, "devices": [*kw["devices"], "Xnone"]})
    with pytest.raises(ConfigError, match="input voltages"):
        nodal.crossbar_read(board.network, 0).network.solve(np.zeros((1, 3)), linear(np.ones(4)))


def test_programming_series_resistance_is_the_networks_thevenin_resistance():
    """Programming mode (one program switch and the ground switches closed): the resistance the network shows the
    device between its terminals equals R_prog + 2 switches + the column segments below it, within the open
    switches' leaks."""
    board = msdc_board((5, 3), wire_ohm=7.0)
    net = board.network
    layer = net.layers[0]
    model = net.spec.switch.model()
    for point in (layer.points[0], layer.points[7], layer.points[-1]):
        # the device's row select line raised, every other column line at its idle level: only its switch closes
        control = {xb.PROGRAM_ENABLE: 1.0, point.row_select_node: xb.SELECT_V,
                   **{xb.col_select_node(layer.prefix, c): xb.SELECT_V for c in range(layer.cols) if c != point.col}}
        lnet = nodal.layer_network(layer.items, [f"in{r}" for r in range(layer.rows)], [p.instance for p in layer.points],
                                   control, {model.name.lower(): model},
                                   {xb.PROGRAM_BUS: 1.0 / net.spec.program_series_ohm})
        lu = lnet.factor(np.zeros(len(layer.points))).lu
        top, bottom = lnet.nodes[f"l1_t{point.row}_{point.col}"], lnet.nodes[f"l1_c{point.row}_{point.col}"]
        unit = np.zeros(lu.shape[0])
        unit[top], unit[bottom] = 1.0, -1.0
        v = lu.solve(unit)
        expected = net.spec.program_series_ohm + 2 * net.spec.switch.on_ohm + 7.0 * (layer.rows - point.row)
        assert nodal.programming_series_ohm(net, point.index) == pytest.approx(expected)
        # 20 open program switches (15 devices', 5 reference cells') leak 1 nS each: ~2e-5 of the 1055 Ω
        assert v[top] - v[bottom] == pytest.approx(expected, rel=3e-5)


def spice_columns(board, inputs):
    from cosim.hil.ledger import Ledger
    from cosim.hil.session import CircuitSession, Timing
    from cosim.spice.shared import SharedEngine

    session = CircuitSession(board.network, SharedEngine(seed=1), board.x0, Ledger(), "osdi",
                             Timing(read_mode="op", op_samples=len(inputs)))
    return session.forward(inputs).column_currents_A[0]


def agreement(n: int, wire_ohm: float) -> float:
    """Column-current error of the solver against ngspice's operating points (one sweep: the same held states),
    as a fraction of the largest column current."""
    board = msdc_board((n, n), wire_ohm=wire_ohm, seed=5)
    inputs = np.random.default_rng(2).uniform(0, 1, (8, n))
    read = nodal.crossbar_read(board.network, 0)
    ours = read.column_currents(read.network.solve(inputs * board.network.spec.read_V, device_model(board, read)))
    theirs = spice_columns(board, inputs)
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


@pytest.mark.spice
@pytest.mark.parametrize("wire_ohm", [0.1, 1.0, 10.0])
def test_solver_matches_ngspice_on_a_16x16_tile(wire_ohm):
    assert agreement(16, wire_ohm) < 1e-5


@pytest.mark.spice
@pytest.mark.slow
@pytest.mark.parametrize("n", [64, 128])
@pytest.mark.parametrize("wire_ohm", [0.1, 1.0, 10.0])
def test_solver_matches_ngspice_on_large_tiles(n, wire_ohm, record_property):
    error = agreement(n, wire_ohm)
    record_property("column_error_of_full_scale", error)
    assert error < 1e-5  # the requirement is 0.5 %
