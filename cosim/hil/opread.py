"""Forward passes as DC operating points: a few ngspice solves per input vector instead of a transient.

A read holds every state closely (the board has no line capacitance), so a transient spends ~20 time points per
sample on ramps and plateaus whose solutions are operating points of the same circuit. Here the board is turned
into its read-mode circuit (`read_netlist`): device states held by sources (the devices' read-mode libraries),
the control sources at their read levels, and each input row driven by a behavioural source that picks the
sample's voltage by the circuit temperature. One DC sweep over the temperature then solves every point of a
chunk of samples; `temper` is read by the row sources only (the device models take their temperature as a
parameter), and unlike a swept index node it adds no matrix entries that couple all rows (an index node raised
the KLU fill-in of a 64×64 tile from 285k to 430k non-zeros and the factor time ~3×, measured).

Per chunk: point 0 has every input at 0 V; sample k is solved at its plateau and at `edges` scaled inputs s·v.
- currents and neuron outputs: the plateau solve. The read-mode device holds its state for `hold_s` by one
  backward-Euler step (V(x) = x_held + hold_s·dX/dt), so the plateau solve sits at the state of the read
  instant (the plateau's middle) even where the state moves fast (a hidden layer reading at −0.1 V moves an
  M-SDC Cr device by ~3e-5 per µs);
- energy of a slot (every supply's, amplifier outputs included, and the devices' dissipation, cosim.hil.power):
  P(1)·read_s + 2·edge_s·∫₀¹ P(s) ds (rise and fall are the same ramp), the integral by a
  Gauss–Radau rule for the weight s² (P = s²·Q(s): no current flows at zero input) with its fixed node at
  s = 1: exact for Q of degree ≤ 2·edges;
- state drift: each point's rate dX/dt integrated over the slot, the ramps by the interpolating rule on
  {0, edge nodes, 1}; states advance slot by slot.
The states held in a chunk are those of its start: the drift of earlier samples in the same chunk does not
reach later samples' solves (it does reach the states after the chunk). `samples` per chunk trades this for
speed: 1 makes every sample exact (one analysis each), more solve many samples per analysis (docs/scale.md
gives the measured differences).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy.special import roots_jacobi

from cosim.circuits import crossbar as xb
from cosim.circuits.network import Network
from cosim.errors import ConfigError
from cosim.hil import power
from cosim.netlist import ir
from cosim.netlist.numbers import number
from cosim.spice.engine import Engine

LEVEL_OHM = 1.0  # a level is a current source into 1 Ω: a node at the sample's voltage, without a branch


@dataclass(frozen=True)
class EdgeRule:
    """Scaled inputs s at which a ramp is solved, with the weights of ∫₀¹ P(s) ds (on s and the plateau) and of
    ∫₀¹ r(s) ds (on 0, s and the plateau)."""

    nodes: tuple[float, ...]  # interior nodes, increasing; the plateau (s = 1) is not among them
    power_weights: np.ndarray  # on (*nodes, 1)
    rate_weights: np.ndarray  # on (0, *nodes, 1)

    @property
    def points(self) -> int:
        """Solves per sample: the edge nodes and the plateau."""
        return len(self.nodes) + 1


@lru_cache(maxsize=8)
def edge_rule(edges: int) -> EdgeRule:
    """The ramp quadrature with `edges` interior nodes: the zeros of the Jacobi polynomial for the weight
    s²(1 − s) (Gauss–Radau for the weight s², node fixed at 1), rounded as the netlist writes them."""
    if edges < 0:
        raise ConfigError(f"edge nodes must be >= 0, got {edges}")
    t = roots_jacobi(edges, 1.0, 2.0)[0] if edges else np.array([])
    nodes = tuple(float(number((v + 1.0) / 2.0)) for v in t)
    s = np.array([*nodes, 1.0])
    # ∫ s²·Q: exact for Q = 1, s, …, s^edges on these nodes (weights on P = s²·Q).
    q_weights = np.linalg.solve(np.vander(s, increasing=True).T, 1.0 / (np.arange(len(s)) + 3.0))
    r_nodes = np.array([0.0, *s])
    r_weights = np.linalg.solve(np.vander(r_nodes, increasing=True).T, 1.0 / (np.arange(len(r_nodes)) + 1.0))
    return EdgeRule(nodes, q_weights / s**2, r_weights)


def default_edges(network: Network) -> int:
    """One edge node for a single layer: its devices are nearly linear at read voltages (P(s)/s² nearly constant;
    a 16×8 M-SDC tile: 1.2e-6 of a slot's energy with none, 6e-8 with one). Four when neuron outputs drive further
    layers: the saturating tanh on their ramps needs them (a 16-8-4 board, 4 samples, against a 0.25 ns-step
    transient: states after the pass within 9e-7 / 2.4e-7 / 4e-8 / 1.1e-8 with 1 / 2 / 3 / 4 nodes)."""
    return 1 if len(network.layers) == 1 else 4


def hold_time(read_s: float, edge_s: float) -> float:
    """From the middle of the rise to the middle of the plateau: the state drift up to a read's sampling instant,
    taking the rise at half weight (its rates lie between the zero-input and the plateau rates)."""
    return (edge_s + read_s) / 2.0


def unsupported(network: Network) -> str | None:
    """Why the board's reads cannot be solved as operating points, or None when they can."""
    caps = [e.name for e in network.netlist.elements if isinstance(e, ir.Capacitor)]
    if caps:
        return f"the read path has capacitors ({caps[0]}, …): reads have dynamics, use transients"
    for lib in network.netlist.of_type(ir.SubcircuitLibrary):
        if lib.ic_params and (network.read_variant is None or network.read_variant(lib, 1.0) is None):
            return f"no read-mode variant of the {lib.name} library ({lib.path})"
    if network.netlist.of_type(ir.SubcircuitDef):
        return "the board defines subcircuits inline; only library devices have read-mode variants"
    return None


def read_netlist(network: Network, edges: int, samples: int, hold_s: float) -> ir.Netlist:
    """The board in read mode, for `samples` samples per sweep and states held for `hold_s` (module docstring)."""
    why = unsupported(network)
    if why:
        raise ConfigError(f"reads cannot be solved as operating points: {why}")
    if samples < 1:
        raise ConfigError(f"samples per operating-point sweep must be >= 1, got {samples}")
    rule = edge_rule(edges)
    inputs = {name.lower() for name in network.input_sources}
    held = {lib.name.lower() for lib in network.netlist.of_type(ir.SubcircuitLibrary) if lib.ic_params}
    items: list = []
    for item in network.netlist:
        if isinstance(item, ir.SubcircuitLibrary):
            item = network.read_variant(item, hold_s) or item
        elif isinstance(item, ir.SubcircuitInstance) and item.subckt.lower() in held:
            item = network.read_variant(item, hold_s)
        elif isinstance(item, ir.VoltageSource) and item.name.lower() in inputs:
            continue  # replaced by the level-selecting sources below
        elif isinstance(item, ir.VoltageSource) and not isinstance(item.waveform, ir.Dc):
            item = replace(item, waveform=ir.Dc(1.0 if item.npos == xb.READ_ENABLE else 0.0))
        elif isinstance(item, ir.CurrentSource) and isinstance(item.waveform, ir.Pwl):  # select lines: idle
            item = replace(item, waveform=ir.Dc(item.waveform.values[0]))
        items.append(item)
    for r, name in enumerate(network.input_sources):
        levels = [f"lv{r}_{k}" for k in range(samples)]
        for k, node in enumerate(levels):
            items += [ir.CurrentSource(_level(r, k), ir.GROUND, node, ir.Dc(0.0)),
                      ir.Resistor(f"Rlv{r}_{k}", node, ir.GROUND, LEVEL_OHM)]
        source = next(e for e in network.netlist.elements if e.name.lower() == name.lower())
        items.append(ir.BehavioralSource("B" + name[1:], source.npos, source.nneg, "V",
                                         f"({_select(levels, rule.points)})*({_scale(rule)})"))
    return ir.Netlist(network.netlist.title + " read mode", items)


def _level(row: int, sample: int) -> str:
    return f"Ilv{row}_{sample}"


def _select(levels: list[str], points: int) -> str:
    """V(level of the sample that temperature index T belongs to): T = 1 + k·points + j is sample k."""
    chain = [f"temper<{number(1 + (k + 1) * points - 0.5)}?V({node}):" for k, node in enumerate(levels[:-1])]
    return "".join(chain) + f"V({levels[-1]})"


def _scale(rule: EdgeRule) -> str:
    """The input scale at temperature index T: 0 at T = 0, then the edge nodes and 1 for every sample."""
    j = f"(temper-1-{rule.points}*floor((temper-1)/{rule.points}))"
    chain = [f"{j}<{number(i + 0.5)}?{number(s)}:" for i, s in enumerate(rule.nodes)]
    return f"temper<0.5?0:{''.join(chain)}1"


@dataclass
class OpRead:
    """One pass's results: per layer outputs and column currents (samples × …), slot energies, new states."""

    outputs_V: list[np.ndarray]
    column_currents_A: list[np.ndarray]
    energies_J: np.ndarray  # per sample: what every supply delivers (cosim.hil.power)
    device_energies_J: np.ndarray  # per sample: what the devices dissipate
    x: np.ndarray
    wall_s: float


def solve(engine: Engine, network: Network, meter: power.Meter, x: np.ndarray, inputs: np.ndarray, read_s: float,
          edge_s: float, edges: int, samples: int) -> OpRead:
    """Read every row of `inputs` (samples × rows, in units of the read voltage) through the loaded read-mode
    circuit (`read_netlist(network, edges, samples, hold_time(read_s, edge_s))`, measured by `meter`, its
    `power.Meter`), starting from states `x`."""
    spec, rule = network.spec, edge_rule(edges)
    n_layers = len(spec.layers) - 1
    columns = [[layer.sense_source(c).lower() for c in range(layer.cols + 1)] for layer in network.layers]
    outputs = [network.output_nodes(k) for k in range(n_layers)]
    states = [p.state_vector for p in network.points]
    power_vectors = meter.vectors
    vectors = list(dict.fromkeys([f"i({c})" for layer in columns for c in layer]
                                 + [f"v({y})" for layer in outputs for y in layer] + power_vectors + states))
    instances = [p.instance for p in network.points]
    x = np.asarray(x, dtype=float)
    outs: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
    cols: list[list[np.ndarray]] = [[] for _ in range(n_layers)]
    energies, device_energies, wall = [], [], 0.0
    hold_s = hold_time(read_s, edge_s)
    for first in range(0, len(inputs), samples):
        chunk = inputs[first:first + samples]
        # Held as the netlist writes them (12 significant digits, as transients' initial conditions are), so
        # that (V(x) − x)/hold_s is the rate alone.
        x = np.array([float(number(v)) for v in np.clip(x, *network.state_range)])
        engine.set_initial_state(dict(zip(instances, x.tolist())), network.state_param)
        for k, row in enumerate(chunk):
            for r, value in enumerate(row):
                engine.alter(_level(r, k), waveform=ir.Dc(float(value) * spec.read_V))
        started = time.perf_counter()
        w = engine.dc(ir.DcSweep(ir.SWEEP_TEMPERATURE, 0.0, float(len(chunk) * rule.points), 1.0), vectors)
        wall += time.perf_counter() - started
        at = lambda v: w[v][1:].reshape(len(chunk), rule.points)  # noqa: E731 (samples × points)
        points = {v: at(v) for v in power_vectors}
        for watts, out in ((meter.supply_power(points), energies), (meter.device_power(points), device_energies)):
            out.append(read_s * watts[:, -1] + 2.0 * edge_s * (watts @ rule.power_weights))
        for k in range(n_layers):
            cols[k].append(np.stack([at(f"i({c})")[:, -1] for c in columns[k]], 1))
            outs[k].append(np.stack([at(f"v({y})")[:, -1] for y in outputs[k]], 1))
        held = np.stack([w[v] for v in states], 1)  # points × devices
        rate = (held - x) / hold_s
        ramp = np.concatenate([np.broadcast_to(rate[:1], (len(chunk), 1, len(x))),
                               rate[1:].reshape(len(chunk), rule.points, len(x))], 1)
        drift = read_s * ramp[:, -1] + 2.0 * edge_s * np.einsum("j,kjd->kd", rule.rate_weights, ramp)
        x = np.clip(x + drift.sum(0), *network.state_range)
    return OpRead([np.concatenate(o) for o in outs], [np.concatenate(c) for c in cols], np.concatenate(energies),
                  np.concatenate(device_energies), x, wall)
