"""A network of crossbar layers and neurons, plus the programming driver: the whole board as one netlist.

For the published M-SDC demonstrator (9-3-1): layer 1 is a 9×3 crossbar, layer 2 a 3×1 crossbar, 27 + 3 = 30
memristors and 4 neurons; each layer has a reference column of fixed resistors (outside the 30) so that a
weight is w = G − g_ref, signed. Inputs enter as read voltages on `in{r}` (PWL sources `Vin{r}`, one time
slot per sample); hidden neuron outputs drive the next layer's rows through 0 V ammeters (`V{p}in{r}`) so
the energy each row delivers can be measured. One programming driver (`Vprog` through `Rprog`) reaches any
device through its program switch, closed by the device's row and column select lines (`crossbar.SELECT_V`),
with all read switches open (`read_en` low). A select line is a current source into SELECT_LINE_OHM: a node at
its level without a branch equation (a voltage source per line would add one, which ngspice walks in every
analysis after the first; docs/scale.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from cosim.circuits import crossbar as xb
from cosim.circuits.neurons import NeuronSpec, activation, transimpedance
from cosim.errors import ConfigError
from cosim.netlist import ir

IDLE = ir.Pwl((0.0, 1.0), (0.0, 0.0))  # sources that will carry PWL schedules are built as PWL
SELECT_LINE_OHM = 1.0  # a select line's driver: a current source into this resistor
SELECT_LINE_A = xb.SELECT_V / SELECT_LINE_OHM  # the driver's current of a line at SELECT_V
# The board's controls: read-mode enable, programming-mode enable, and the programming driver (source, node).
READ_ENABLE_SOURCE, PROGRAM_ENABLE_SOURCE, PROGRAM_SOURCE, PROGRAM_NODE = "Vrden", "Vpgen", "Vprog", "pdrv"


@dataclass(frozen=True)
class NetworkSpec:
    layers: tuple[int, ...] = (9, 3, 1)
    wire_ohm: float = 1.0  # per segment, rows and columns
    wire_F: float = 0.0  # per segment to ground; > 0 gives reads dynamics (simulated as transients)
    g_ref_S: float = 1e-4
    read_V: float = 0.1
    program_series_ohm: float = 1000.0
    neuron: NeuronSpec = field(default_factory=NeuronSpec)
    switch: xb.SwitchSpec = field(default_factory=xb.SwitchSpec)

    def __post_init__(self) -> None:
        if len(self.layers) < 2 or any(int(n) < 1 for n in self.layers):
            raise ConfigError(f"network.layers must list at least two positive sizes, got {self.layers}")
        for name in ("wire_ohm", "wire_F", "g_ref_S", "read_V", "program_series_ohm"):
            value = getattr(self, name)
            zero_ok = name in ("wire_ohm", "wire_F")
            if not (value >= 0 if zero_ok else value > 0) or value != value or value == float("inf"):
                raise ConfigError(f"network.{name} must be finite and {'>=' if zero_ok else '>'} 0, got {value}")

    @property
    def n_devices(self) -> int:
        return sum(a * b for a, b in zip(self.layers, self.layers[1:]))


@dataclass
class Network:
    """The board: its netlist, layers and devices, and the names of everything its sessions drive and read."""

    spec: NetworkSpec
    netlist: ir.Netlist
    layers: list[xb.CrossbarLayer]
    points: list[xb.CrossPoint]
    state_param: str = ""  # the device instances' state parameter (their initial condition)
    state_range: tuple[float, float] = (0.0, 1.0)
    # the devices' read-mode variants (`crossbar.Devices.read_variant`); None: reads run as transients only
    read_variant: Callable[[object, float], object | None] | None = None
    read_enable_source: str = READ_ENABLE_SOURCE
    program_enable_source: str = PROGRAM_ENABLE_SOURCE
    program_source: str = PROGRAM_SOURCE
    program_node: str = PROGRAM_NODE

    @property
    def input_sources(self) -> list[str]:
        return [f"Vin{r}" for r in range(self.spec.layers[0])]

    @property
    def input_nodes(self) -> list[str]:
        """The nodes the input sources drive: the first layer's rows."""
        return [f"in{r}" for r in range(self.spec.layers[0])]

    def row_sources(self, layer: int) -> list[str]:
        """The sources whose current is each row's current in `layer` (0-based)."""
        if layer == 0:
            return self.input_sources
        return [f"Vl{layer + 1}in{r}" for r in range(self.spec.layers[layer])]

    def output_nodes(self, layer: int) -> list[str]:
        return [f"l{layer + 1}_y{c}" for c in range(self.spec.layers[layer + 1])]


def select_lines(layer: xb.CrossbarLayer) -> list:
    """The layer's row and column select lines, each a PWL current source into SELECT_LINE_OHM at its idle level
    (rows at 0 V, columns at SELECT_V: every program switch open)."""
    lines = [(p.row_select_source, p.row_select_node, 0.0) for p in layer.points if p.col == 0]
    lines += [(p.col_select_source, p.col_select_node, SELECT_LINE_A) for p in layer.points if p.row == 0]
    items = []
    for source, node, idle_A in lines:
        items += [ir.CurrentSource(source, ir.GROUND, node, ir.Pwl((0.0, 1.0), (idle_A, idle_A))),
                  ir.Resistor("R" + source[1:], node, ir.GROUND, SELECT_LINE_OHM)]
    return items


def build_network(spec: NetworkSpec, library: list, devices: xb.Devices, title: str = "cosim network") -> Network:
    """The whole board: `devices` at the cross points, models from `library`."""
    net = ir.Netlist(title, list(library))
    net.add(spec.switch.model(), ir.Options({"klu": True}))
    net.add(ir.VoltageSource(READ_ENABLE_SOURCE, xb.READ_ENABLE, "0", IDLE))
    net.add(ir.VoltageSource(PROGRAM_ENABLE_SOURCE, xb.PROGRAM_ENABLE, "0", IDLE))
    net.add(ir.VoltageSource(PROGRAM_SOURCE, PROGRAM_NODE, "0", IDLE))
    net.add(ir.Resistor("Rprog", PROGRAM_NODE, xb.PROGRAM_BUS, spec.program_series_ohm))
    inputs = [f"in{r}" for r in range(spec.layers[0])]
    for r, node in enumerate(inputs):
        net.add(ir.VoltageSource(f"Vin{r}", node, "0", IDLE))
    layers, points = [], []
    for k, cols in enumerate(spec.layers[1:]):
        prefix = f"l{k + 1}"
        if k > 0:  # previous neurons drive these rows through ammeters
            previous = [f"l{k}_y{c}" for c in range(spec.layers[k])]
            inputs = [f"{prefix}_in{r}" for r in range(len(previous))]
            for r, (y, node) in enumerate(zip(previous, inputs)):
                net.add(ir.VoltageSource(f"V{prefix}in{r}", y, node, ir.Dc(0.0)))
        layer = xb.crossbar_layer(prefix, inputs, cols, devices, len(points), wire_ohm=spec.wire_ohm, g_ref_S=spec.g_ref_S,
                                  wire_F=spec.wire_F)
        net.add(*layer.items)
        for c in range(cols + 1):
            net.add(*transimpedance(prefix, c, spec.neuron))
        for c in range(cols):
            net.add(activation(prefix, c, cols, spec.neuron))
        layers.append(layer)
        points.extend(layer.points)
    for layer in layers:
        net.add(*select_lines(layer))
    net.validate()
    return Network(spec, net, layers, points, devices.state_param, tuple(devices.state_range),
                   getattr(devices, "read_variant", None))
