"""Crossbar generator: R rows × C columns of any two-terminal device, with wire resistance, select switches,
a fixed reference column for signed weights, and transimpedance neurons holding columns at virtual ground.

Layout of one layer (prefix `p`):

    row driver p_in{r} ─R─ p_r{r}_0 ─R─ p_r{r}_1 ─ … ─R─ p_r{r}_C   (wire segments along each row)
    cross point (r, c): p_r{r}_c ─[read switch]─ p_t{r}_{c} ─device─ p_c{r}_{c}
                        pbus     ─[program switch, controlled by p_rsel{r} − p_csel{c}]─ p_t{r}_{c}
    column c:  p_c0_c ─R─ p_c1_c ─ … ─R─ p_col{c} ─[sense switch]─ p_cs{c} ─ ammeter V{p}s{c} ─ p_sum{c}
               p_col{c} ─[ground switch]─ 0
    reference column (index C): fixed conductance g_ref per row behind the same two switches as a device (its
    program switch never closes), so I_c − I_ref of devices equal to the reference is zero, not the drop of a
    read switch the reference lacks.
    wire capacitance (optional, `wire_F` > 0): C{p}wr{r}_{c} / C{p}wv{r}_{c} from the far node of every row and
    column segment to ground, so reads have dynamics (settling) and are simulated as transients.

Each device has two switches, as discrete-device hardware does: in read mode every read switch and every
column's sense switch is closed, so columns sit at the neurons' virtual ground; in programming mode they
open, the columns are grounded instead (the neurons never see programming currents), and one device's
program switch connects it to the shared programming bus, whose driver and series resistor live in
`network.py`. A program switch is selected as in real arrays, by a row select line and a column select line:
it closes only where its row line is raised and its column line pulled low (`SELECT_V`, below), so a layer
has rows + columns select controls instead of one per device (a voltage source per device cost a branch
equation each, which ngspice walks in every analysis: docs/scale.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cosim.netlist import ir


class Devices(Protocol):
    """What the generator places at the cross points: an element per device, and how a device family names
    and sets its state in the netlist (the board's sessions read and write states by these names)."""

    state_param: str  # the instance parameter that sets a device's state (its initial condition)
    state_range: tuple[float, float]  # the state's lowest and highest value

    def element(self, name: str, top: str, bottom: str, index: int) -> ir.Element:
        """Device `index` (in the network's flat order) named `name`, between `top` and `bottom`."""

    def state_vector(self, instance: str) -> str:
        """The vector that reads the state of the device named `instance`."""

    def read_variant(self, item: object, hold_s: float) -> object | None:
        """`item` (the devices' library or one device instance) in a read-mode circuit, where states are held
        by sources for `hold_s` instead of carried by capacitors (DC operating-point reads); None: no variant."""


SWITCH_MODEL = "selsw"
READ_ENABLE = "read_en"  # control node of all read and sense switches (1 V closed, 0 V open)
PROGRAM_ENABLE = "prog_en"  # control node of the column ground switches
PROGRAM_BUS = "pbus"
# Select lines: the program switch of device (r, c) is controlled by V(row line r) − V(column line c). Row lines
# idle at 0 V and are raised to SELECT_V; column lines idle at SELECT_V and are pulled to 0 V. Only the device
# whose row and column are both selected sees +SELECT_V (closed); every other sees 0 or −SELECT_V (open).
SELECT_V = 1.0


@dataclass(frozen=True)
class SwitchSpec:
    on_ohm: float = 10.0
    off_ohm: float = 1e9
    threshold_V: float = 0.5

    def model(self) -> ir.Model:
        return ir.Model(SWITCH_MODEL, "sw", {"vt": self.threshold_V, "vh": 0.0, "ron": self.on_ohm, "roff": self.off_ohm})


def row_select_node(layer: str, row: int) -> str:
    return f"{layer}_rsel{row}"


def col_select_node(layer: str, col: int) -> str:
    return f"{layer}_csel{col}"


@dataclass(frozen=True)
class CrossPoint:
    """Where one device sits: its netlist instance name, its terminal nodes, the select lines of its program
    switch, and the vector that reads its state."""

    layer: str
    row: int
    col: int
    index: int  # position in the network's flat device list
    instance: str
    top_node: str  # the device's terminal on the row side (switch side)
    bottom_node: str  # its terminal on the column side
    state_vector: str

    @property
    def row_select_node(self) -> str:
        return row_select_node(self.layer, self.row)

    @property
    def col_select_node(self) -> str:
        return col_select_node(self.layer, self.col)

    @property
    def row_select_source(self) -> str:
        """The source that drives the row select line (`network.py` builds it)."""
        return f"I{self.layer}rsel{self.row}"

    @property
    def col_select_source(self) -> str:
        return f"I{self.layer}csel{self.col}"


@dataclass
class CrossbarLayer:
    prefix: str
    rows: int
    cols: int
    items: list
    points: list[CrossPoint]

    def sense_source(self, col: int) -> str:
        """The 0 V source whose current is column `col`'s current (col == cols: the reference column)."""
        return f"V{self.prefix}s{col}"

    def sum_node(self, col: int) -> str:
        return f"{self.prefix}_sum{col}"


def crossbar_layer(
    prefix: str,
    input_nodes: list[str],
    cols: int,
    devices: Devices,
    first_index: int,
    *,
    wire_ohm: float,
    g_ref_S: float,
    wire_F: float = 0.0,
) -> CrossbarLayer:
    """One layer: devices at every (row, col), a reference column of fixed conductances, column ammeters, and
    `wire_F` farads to ground per wire segment when > 0."""
    ir.check_name(prefix, "layer prefix")
    rows = len(input_nodes)
    items: list = []
    points: list[CrossPoint] = []
    wire = max(wire_ohm, 1e-6)  # a zero wire would be a short; 1 µΩ keeps the node structure
    for r, node in enumerate(input_nodes):
        previous = node
        for c in range(cols + 1):
            here = f"{prefix}_r{r}_{c}"
            items.append(ir.Resistor(f"R{prefix}w{r}_{c}", previous, here, wire))
            if wire_F > 0:
                items.append(ir.Capacitor(f"C{prefix}wr{r}_{c}", here, ir.GROUND, wire_F))
            previous = here
    for c in range(cols + 1):
        for r in range(rows):
            row_node, col_node = f"{prefix}_r{r}_{c}", f"{prefix}_c{r}_{c}"
            top = f"{prefix}_t{r}_{c}"
            items.append(ir.Switch(f"S{prefix}r{r}_{c}", row_node, top, READ_ENABLE, "0", SWITCH_MODEL))
            if c == cols:  # the same switches as a device's (its program switch never closes): same path, same leak
                items.append(ir.Switch(f"S{prefix}p{r}_{c}", PROGRAM_BUS, top, ir.GROUND, ir.GROUND, SWITCH_MODEL))
                items.append(ir.Resistor(f"R{prefix}ref{r}", top, col_node, 1.0 / g_ref_S))
            else:
                index = first_index + len(points)
                name = f"X{prefix}d{r}_{c}"
                items.append(ir.Switch(f"S{prefix}p{r}_{c}", PROGRAM_BUS, top, row_select_node(prefix, r),
                                       col_select_node(prefix, c), SWITCH_MODEL))
                items.append(devices.element(name, top, col_node, index))
                points.append(CrossPoint(prefix, r, c, index, name, top, col_node, devices.state_vector(name)))
            below = f"{prefix}_c{r + 1}_{c}" if r + 1 < rows else f"{prefix}_col{c}"
            items.append(ir.Resistor(f"R{prefix}v{r}_{c}", col_node, below, wire))
            if wire_F > 0:
                items.append(ir.Capacitor(f"C{prefix}wv{r}_{c}", below, ir.GROUND, wire_F))
        col, sense = f"{prefix}_col{c}", f"{prefix}_cs{c}"
        items.append(ir.Switch(f"S{prefix}cs{c}", col, sense, READ_ENABLE, "0", SWITCH_MODEL))
        items.append(ir.Switch(f"S{prefix}cg{c}", col, "0", PROGRAM_ENABLE, "0", SWITCH_MODEL))
        items.append(ir.VoltageSource(f"V{prefix}s{c}", sense, f"{prefix}_sum{c}", ir.Dc(0.0)))
    return CrossbarLayer(prefix, rows, cols, items, points)
