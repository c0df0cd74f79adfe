"""The resistive network of one crossbar layer solved in numpy: what ngspice computes for a read, without ngspice.

The network is read off the layer's own IR items (wire segments, switches in the state their control voltages
give them, the reference column, 0 V ammeters joining their nodes), so it follows the generator's topology by
construction; what lies outside the layer enters as conductances to ground (a transimpedance stage's virtual
ground, the programming bus's driver). Devices are nonlinear two-terminal elements given by a callback that
returns current and slope. The solve is a chord iteration on the node voltages: one sparse LU of the linear part
plus the devices' conductances, reused for every iteration and every input vector (many right-hand sides), and
reusable across calls (`factor`, `solve(…, factor=…)`): at read voltages the devices are close to linear, so a
few iterations reach the tolerance; when they do not shrink the imbalance fast enough the Jacobian is refactored
at the devices' present slopes (Newton).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Callable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from cosim.circuits import crossbar as xb
from cosim.circuits.network import Network
from cosim.errors import ConfigError, ConvergenceError
from cosim.netlist import ir

# device(v) -> (current, dI/dV); v of shape (inputs, devices) is V(top) − V(bottom), current flows top → bottom.
DeviceModel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

# A node tied to more than this many others (and to many times the typical count) is solved as a border of the
# sparse factor: the programming bus touches every program switch, and as a row and column of the LU it cost
# half of a 64×64 tile's factorisation and two thirds of a 128×128 one's (measured; docs/scale.md).
BORDER_DEGREE = 32


@lru_cache(maxsize=1)
def _threads():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread():
    """SuperLU's supernodes call BLAS on small blocks: a second OpenBLAS thread made the triangular solves 2–3×
    slower on the 2-core machine (measured), so factorisations and solves run on one."""
    return _threads().limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class Factor:
    """A factorised Jacobian (the linear part plus these device conductances): a sparse LU of the interior
    unknowns and a dense Schur complement for the border ones (the last `border` unknowns)."""

    lu: spla.SuperLU
    g_devices: np.ndarray
    coupling: np.ndarray  # interior × border: LU⁻¹ of the interior's columns to the border
    border_block: np.ndarray  # border × border: the inverse of the Schur complement
    border_rows: sp.csr_matrix  # border × interior: the border's rows of the Jacobian

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """x with J·x = rhs, for rhs of shape (unknowns,) or (unknowns, k) (Fortran order is the fast one)."""
        n = self.lu.shape[0]
        with _one_blas_thread():
            y = self.lu.solve(np.asfortranarray(rhs[:n]))
        if not self.border_block.size:
            return y
        tail = self.border_block @ (rhs[n:] - self.border_rows @ y)
        return np.concatenate([y - self.coupling @ tail, tail])


@dataclass(frozen=True)
class Solution:
    v: np.ndarray  # node voltages, (inputs, unknown nodes)
    i_devices: np.ndarray  # device currents, (inputs, devices)
    iterations: int
    factorisations: int
    factor: Factor  # the last one used: pass it to the next solve of the same network


@dataclass
class LayerNetwork:
    """Node indices and the linear part of one layer, ready to solve. Unknowns are numbered with the border ones
    (`BORDER_DEGREE`) last."""

    nodes: dict[str, int]  # every node name of the layer that is neither ground nor driven -> its unknown
    inputs: list[str]  # the driven nodes, in the order of the input voltages
    g_linear: sp.csc_matrix  # conductances among unknown nodes
    g_inputs: sp.csc_matrix  # unknown nodes × driven nodes: the coupling to the inputs
    g_driven: sp.csc_matrix  # driven × driven: conductances among driven nodes and from them to ground or unknowns
    incidence: sp.csc_matrix  # unknown nodes × devices: +1 at the top node, −1 at the bottom (ground omitted)
    border: int = 0  # how many unknowns (the last ones) the factor treats as a border

    def factor(self, g_devices: np.ndarray) -> Factor:
        """LU of the linear part plus a conductance per device (e.g. its slope at the operating point). The
        matrix is symmetric: a minimum-degree ordering of A + Aᵀ gives ~35 % less fill than SuperLU's default."""
        g = np.broadcast_to(np.asarray(g_devices, dtype=float), (self.incidence.shape[1],))
        jacobian = sp.csc_matrix(self.g_linear + (self.incidence @ sp.diags(g) @ self.incidence.T))
        n = jacobian.shape[0] - self.border
        with _one_blas_thread():
            lu = spla.splu(jacobian[:n, :n], permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
            coupling = lu.solve(jacobian[:n, n:].toarray()) if self.border else np.zeros((n, 0))
        rows = sp.csr_matrix(jacobian[n:, :n])
        schur = jacobian[n:, n:].toarray() - rows @ coupling
        return Factor(lu, np.array(g), coupling, np.linalg.inv(schur) if self.border else np.zeros((0, 0)), rows)

    def solve(self, v_inputs: np.ndarray, device: DeviceModel, *, factor: Factor | None = None,
              v0: np.ndarray | None = None, rtol: float = 1e-10, max_iter: int = 60) -> Solution:
        """Node voltages and device currents for the driven voltages `v_inputs` (inputs × driven nodes), starting
        from node voltages `v0` (inputs × unknowns; default: the linear solve).

        Without `factor` the Jacobian is factorised at the devices' slopes at zero bias. Converged when no node's
        current imbalance exceeds `rtol` times the largest device current, or the rounding error of the currents
        summed at that node (wires of 0.1 Ω carry ~1 A-sized terms that cancel)."""
        v_inputs = np.atleast_2d(np.asarray(v_inputs, dtype=float))
        if v_inputs.shape[1] != len(self.inputs):
            raise ConfigError(f"need {len(self.inputs)} input voltages per vector, got {v_inputs.shape[1]}")
        # Node voltages and residuals stay C-ordered (unknowns × inputs), as the sparse products read and write
        # them; only the factor's solve takes a Fortran-ordered copy (SuperLU solves those 8× faster, measured).
        rhs = -(self.g_inputs @ v_inputs.T)  # (unknowns, inputs)
        factorisations = 0
        if factor is None:
            factor = self.factor(device(np.zeros((1, self.incidence.shape[1])))[1][0])
            factorisations += 1
        v = np.ascontiguousarray(factor.solve(rhs) if v0 is None else np.asarray(v0, dtype=float).T)
        previous = np.inf
        for iteration in range(1, max_iter + 1):
            i_dev, slope = device((self._incidence_t @ v).T)
            residual = self.g_linear @ v + self.incidence @ i_dev.T - rhs
            worst = float(np.max(np.abs(residual)))
            limit = rtol * float(np.max(np.abs(i_dev)))
            if worst <= limit or self._within_rounding(v, i_dev, rhs, residual, worst, limit):
                return Solution(v.T, i_dev, iteration, factorisations, factor)
            if worst > 0.25 * previous:  # the chord contracts too slowly: Newton at the present slopes
                factor = self.factor(slope.mean(axis=0))
                factorisations += 1
            previous = worst
            v = v - factor.solve(residual)  # C-ordered, as v
        raise ConvergenceError(f"the crossbar network solve did not converge in {max_iter} iterations "
                               f"(largest current imbalance {worst:.3g} A, {rtol:g} of the largest device current)")

    def _within_rounding(self, v: np.ndarray, i_dev: np.ndarray, rhs: np.ndarray, residual: np.ndarray,
                         worst: float, limit: float) -> bool:
        """Whether every node's imbalance is within `limit` or its own rounding error (64 ulp of the currents summed
        there): what no further iteration can improve. A bound on every node's rounding error from the largest row
        sums answers first when the worst imbalance is above it (most iterations), without the per-node sums."""
        ulps = 64 * np.finfo(float).eps
        g_rows, i_rows = self._largest_row_sums
        bound = ulps * (g_rows * float(np.max(np.abs(v))) + i_rows * float(np.max(np.abs(i_dev)))
                        + float(np.max(np.abs(rhs))))
        if worst > max(limit, bound):  # worst: the largest |residual|
            return False
        noise = ulps * (self._magnitudes[0] @ np.abs(v) + self._magnitudes[1] @ np.abs(i_dev.T) + np.abs(rhs))
        return bool((np.abs(residual) <= np.maximum(limit, noise)).all())

    @cached_property
    def _incidence_t(self) -> sp.csr_matrix:
        return sp.csr_matrix(self.incidence.T)

    @cached_property
    def _magnitudes(self) -> tuple[sp.csc_matrix, sp.csc_matrix]:
        return abs(self.g_linear), abs(self.incidence)

    @cached_property
    def _largest_row_sums(self) -> tuple[float, float]:
        """The largest row sum of |G| and of |incidence|: each node's rounding error is at most these times the
        largest |v| and |i|."""
        return tuple(float(np.asarray(m.sum(axis=1)).max(initial=0.0)) for m in self._magnitudes)

    def input_currents(self, solution: Solution, v_inputs: np.ndarray) -> np.ndarray:
        """The current each driven node delivers into the network, (inputs × driven nodes)."""
        v_inputs = np.atleast_2d(np.asarray(v_inputs, dtype=float))
        return (self.g_driven @ v_inputs.T + self._inputs_t @ solution.v.T).T

    @cached_property
    def _inputs_t(self) -> sp.csr_matrix:
        return sp.csr_matrix(self.g_inputs.T)

    def voltage(self, solution: Solution, node: str) -> np.ndarray:
        """A node's voltage for every input vector."""
        if node not in self.nodes:
            raise ConfigError(f"node {node!r} is not an unknown of this network (driven, ground or absent)")
        return solution.v[:, self.nodes[node]]


def layer_network(items: Sequence, inputs: Sequence[str], devices: Sequence[str], control_V: Mapping[str, float],
                  switch_models: Mapping[str, ir.Model], to_ground: Mapping[str, float]) -> LayerNetwork:
    """The linear system of a layer's IR `items`. `inputs`: the driven nodes; `devices`: the names of the nonlinear
    two-terminal elements, in the order of the device model's columns; `control_V`: the voltage of switch control
    nodes (absent ones are at 0 V; a switch is on above its threshold); `to_ground`: extra conductances (S) from
    a node to ground. A 0 V source (an ammeter) joins its two nodes; any other source is refused. Capacitors are
    open: the network is the read's settled (DC) state."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.get(node, node) != node:
            node = parent[node]
        return node

    for item in items:
        if isinstance(item, ir.VoltageSource):
            if not (isinstance(item.waveform, ir.Dc) and item.waveform.value == 0.0):
                raise ConfigError(f"{item.name}: only 0 V sources (ammeters) can sit inside a layer network")
            a, b = find(item.npos), find(item.nneg)
            if a != b:
                parent[a if a != ir.GROUND else b] = b if a != ir.GROUND else a
    driven = {find(node): k for k, node in enumerate(inputs)}
    index: dict[str, int] = {}

    def node_of(name: str) -> int:
        """≥ 0: an unknown; −1: ground; ≤ −2: driven input −(k + 2)."""
        root = find(name)
        if root == ir.GROUND:
            return -1
        if root in driven:
            return -2 - driven[root]
        return index.setdefault(root, len(index))

    a_nodes, b_nodes, conductance = [], [], []
    wanted = {d.lower(): k for k, d in enumerate(devices)}
    pairs = np.full((len(devices), 2), -1, dtype=int)
    found = np.zeros(len(devices), dtype=bool)
    for item in items:
        if getattr(item, "name", "").lower() in wanted:
            k = wanted[item.name.lower()]
            pairs[k] = [node_of(n) for n in _conducting_nodes(item)[:2]]
            found[k] = True
            continue
        if isinstance(item, ir.Resistor):
            ends, g = (item.n1, item.n2), 1.0 / item.value_ohm
        elif isinstance(item, ir.Switch):
            model = switch_models.get(item.model.lower())
            if model is None:
                raise ConfigError(f"{item.name}: no switch model {item.model!r} given")
            on = control_V.get(item.cpos, 0.0) - control_V.get(item.cneg, 0.0) > model.params.get("vt", 0.0)
            ends, g = (item.n1, item.n2), 1.0 / model.params.get("ron" if on else "roff", 1.0 if on else 1e12)
        elif isinstance(item, (ir.VoltageSource, ir.Capacitor)):
            continue
        else:
            raise ConfigError(f"{getattr(item, 'name', item)}: not part of a resistive layer network")
        a_nodes.append(node_of(ends[0]))
        b_nodes.append(node_of(ends[1]))
        conductance.append(g)
    for node, g in to_ground.items():
        a_nodes.append(node_of(node))
        b_nodes.append(-1)
        conductance.append(float(g))
    if not found.all():
        raise ConfigError(f"devices not found in the layer: {[d for d, f in zip(devices, found) if not f][:5]}")
    if (pairs <= -2).any():
        raise ConfigError("a device terminal sits on a driven node; put a wire segment between them")
    n, m = len(index), len(inputs)
    a, b, g = np.array(a_nodes), np.array(b_nodes), np.array(conductance)
    order, border = _border_last(n, a, b, pairs)
    a, b, pairs = (np.where(z >= 0, order[np.maximum(z, 0)], z) for z in (a, b, pairs))
    rows, cols, vals = [], [], []
    for here, there in ((a, b), (b, a)):
        mine = here >= 0
        rows += [here[mine], here[mine & (there >= 0)]]
        cols += [here[mine], there[mine & (there >= 0)]]
        vals += [g[mine], -g[mine & (there >= 0)]]
    g_linear = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    to_input = [(here >= 0) & (there <= -2) for here, there in ((a, b), (b, a))]
    in_rows = np.concatenate([a[to_input[0]], b[to_input[1]]])
    in_cols = np.concatenate([-2 - b[to_input[0]], -2 - a[to_input[1]]])
    in_vals = -np.concatenate([g[to_input[0]], g[to_input[1]]])
    g_inputs = sp.csc_matrix((in_vals, (in_rows, in_cols)), shape=(n, m))
    d_rows, d_cols, d_vals = [], [], []  # the driven nodes' own conductances, and those between driven nodes
    for here, there in ((a, b), (b, a)):
        mine = here <= -2
        d_rows += [-2 - here[mine], -2 - here[mine & (there <= -2)]]
        d_cols += [-2 - here[mine], -2 - there[mine & (there <= -2)]]
        d_vals += [g[mine], -g[mine & (there <= -2)]]
    g_driven = sp.csc_matrix((np.concatenate(d_vals), (np.concatenate(d_rows), np.concatenate(d_cols))), shape=(m, m))
    d = np.arange(len(devices))
    top, bottom = pairs[:, 0] >= 0, pairs[:, 1] >= 0
    incidence = sp.csc_matrix((np.r_[np.ones(top.sum()), -np.ones(bottom.sum())],
                               (np.r_[pairs[top, 0], pairs[bottom, 1]], np.r_[d[top], d[bottom]])),
                              shape=(n, len(devices)))
    names = {node for item in items for node in _conducting_nodes(item)} | set(parent)
    nodes = {name: int(order[index[find(name)]]) for name in names if find(name) in index}
    return LayerNetwork(nodes, list(inputs), g_linear, g_inputs, g_driven, incidence, border)


def _border_last(n: int, a: np.ndarray, b: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, int]:
    """New number of each unknown (the same order, the border's moved to the end: `BORDER_DEGREE`) and the size of
    the border. a, b: the linear elements' ends; pairs: the devices' terminals."""
    ends = np.concatenate([a, b, pairs.ravel()])
    degree = np.bincount(ends[ends >= 0], minlength=n)
    hub = degree > max(BORDER_DEGREE, 8 * float(np.median(degree))) if n else np.zeros(0, dtype=bool)
    order = np.empty(n, dtype=int)
    order[np.r_[np.flatnonzero(~hub), np.flatnonzero(hub)]] = np.arange(n)
    return order, int(hub.sum())


def _conducting_nodes(item) -> tuple[str, ...]:
    """The nodes an item conducts between (a switch's control nodes are not among them)."""
    if isinstance(item, ir.Switch):
        return (item.n1, item.n2)
    return tuple(getattr(item, "terminals", None) or item.nodes)


# --- a board's crossbar layers -------------------------------------------------------------------------------


@dataclass
class CrossbarRead:
    """A board layer in read mode: read and sense switches on, program and ground switches off, every column
    held at a transimpedance stage's virtual ground (a conductance (1 + A)/R_f to ground at its summing node:
    exact for the board's op-amp of gain A), the programming bus on its driver (R_prog to 0 V)."""

    network: LayerNetwork
    devices: list[int]  # the board's device indices, in the device model's column order
    sum_nodes: list[int]  # the unknowns of the summing nodes, column order (the reference column last)
    g_sense_S: float

    def column_currents(self, solution: Solution) -> np.ndarray:
        """The current each column's ammeter measures, (inputs, columns + reference)."""
        return solution.v[:, self.sum_nodes] * self.g_sense_S


def crossbar_read(network: Network, layer: int) -> CrossbarRead:
    """The read-mode network of `network.layers[layer]`; its inputs are the layer's row input nodes. The devices
    are the elements between each cross point's top and bottom node (a model instance, or whatever stands there)."""
    xl = network.layers[layer]
    spec = network.spec
    g_sense = (1.0 + spec.neuron.opamp_gain) / spec.neuron.rf_ohm
    inputs = _row_inputs(xl)
    to_ground = {xl.sum_node(c): g_sense for c in range(xl.cols + 1)}
    to_ground[xb.PROGRAM_BUS] = 1.0 / spec.program_series_ohm
    model = spec.switch.model()
    between = {tuple(_conducting_nodes(i)[:2]): i.name for i in xl.items
               if isinstance(i, (ir.Resistor, ir.SubcircuitInstance))}
    try:
        devices = [between[(p.top_node, p.bottom_node)] for p in xl.points]
    except KeyError as missing:
        raise ConfigError(f"layer {xl.prefix}: no device between the nodes {missing}") from None
    net = layer_network(xl.items, inputs, devices, {xb.READ_ENABLE: 1.0}, {model.name.lower(): model}, to_ground)
    return CrossbarRead(net, [p.index for p in xl.points], [net.nodes[xl.sum_node(c)] for c in range(xl.cols + 1)],
                        g_sense)


def _row_inputs(layer: xb.CrossbarLayer) -> list[str]:
    """The nodes that drive the rows: the far end of each row's first wire segment (found in one pass over the
    layer's items; a search per row cost 0.4 s on a 128×128 tile)."""
    first = {f"R{layer.prefix}w{r}_0".lower(): r for r in range(layer.rows)}
    nodes: dict[int, str] = {}
    for item in layer.items:
        if isinstance(item, ir.Resistor):
            row = first.get(item.name.lower())
            if row is not None:
                nodes[row] = item.n1
    missing = [r for r in range(layer.rows) if r not in nodes]
    if missing:
        raise ConfigError(f"layer {layer.prefix}: no first wire segment of row {missing[0]}")
    return [nodes[r] for r in range(layer.rows)]


@dataclass(frozen=True)
class ProgrammingPath:
    """What one device sees while it is programmed: the driver v_src behind R_prog on the bus, the bus loaded by
    the open program switches of every other device (their leak to the grounded columns), then the device's
    closed program switch, the device, the column's segments below it (`below_ohm`) and its closed ground switch.
    As a Thevenin source: V_device = divider·v_src − I·series_ohm. The driver delivers its current through the
    bus's leaks and the divider's share of the device's, which includes the leak of the device's own open read
    switch from its top node to the grounded rows (`source_current`)."""

    divider: float
    series_ohm: float
    g_leak_through_S: float  # the driver's current per volt into the bus's leaks: 1 / (R_prog + 1/G_leak)
    below_ohm: float
    g_top_S: float  # the open read switch on the device's top node

    def source_current(self, v_src, i_device, v_device):
        """The driver's current at source voltage v_src, device current and voltage i_device, v_device."""
        top_V = v_device + i_device * self.below_ohm
        return v_src * self.g_leak_through_S + self.divider * (i_device + top_V * self.g_top_S)


def programming_paths(network: Network) -> ProgrammingPath:
    """The series path of every device while it is programmed (`ProgrammingPath`, each field an array over the
    board's devices). The bus's load is the other devices' and the reference cells' open program switches, each in
    series with its cell (~1e4 Ω against 1 GΩ: left out); the device's own open read switch loads its top node
    (~1e-5 of the driver's current) and is left out of the Thevenin source (~1e-6 of the device's voltage).
    Each layer's wires are read once: the column resistance below every device is a running sum up each column
    (read per device, a 128×128 tile took ~6 ms a device, 97 s for the tile, measured)."""
    spec = network.spec
    below = np.zeros(len(network.points))
    for layer in network.layers:
        resistors = {(i.n1, i.n2): i.value_ohm for i in layer.items if isinstance(i, ir.Resistor)}
        bottoms = {(p.row, p.col): p for p in network.points if p.layer == layer.prefix}
        for col in range(layer.cols):
            node, under_sum = f"{layer.prefix}_col{col}", 0.0
            for row in reversed(range(layer.rows)):
                above = f"{layer.prefix}_c{row}_{col}"
                under_sum += resistors[(above, node)]
                node = above
                point = bottoms.get((row, col))
                if point is not None:
                    if point.bottom_node != above:
                        raise ConfigError(f"device {point.instance}: bottom node {point.bottom_node}, expected {above}")
                    below[point.index] = under_sum
    g_prog = 1.0 / spec.program_series_ohm
    open_switches = len(network.points) - 1 + sum(xl.rows for xl in network.layers)  # reference cells: one per row
    g_leak = open_switches / spec.switch.off_ohm
    bus_ohm = 1.0 / (g_prog + g_leak)
    ones = np.ones(len(below))
    return ProgrammingPath(g_prog * bus_ohm * ones, bus_ohm + 2 * spec.switch.on_ohm + below,
                           g_prog * g_leak * bus_ohm * ones, below + spec.switch.on_ohm,
                           ones / spec.switch.off_ohm)
