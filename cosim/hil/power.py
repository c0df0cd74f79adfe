"""Power from a simulation's vectors: what every supply delivers and what the devices dissipate.

A supply is every voltage-type source of the board that can deliver energy: the input drivers, the programming
driver, and each neuron's transimpedance amplifier and activation outputs (an amplifier holding its column at
virtual ground delivers R_f·I² into its feedback resistor: five times the energy of the rows on the M-SDC board).
Not supplies: 0 V ammeters (no voltage) and the control sources (read and program enable, select lines), which
drive only switch control inputs and draw no current, and the select lines' current sources (a control level
modelled as a current into a resistor; the peripheral table books them as switch events). The read-mode
circuit's level sources (cosim.hil.opread) only encode the samples' voltages.

A device dissipates V(top) − V(bottom) times the current the switches on its top node bring it (its read switch
and its program switch, each at the resistance its control voltage gives it), so the figures compare with papers
that quote the devices' own switching or read energy rather than what the drivers deliver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from cosim.circuits.network import Network
from cosim.netlist import ir

Vectors = Mapping[str, np.ndarray]


def supplies(netlist: ir.Netlist) -> list[ir.VoltageSource | ir.BehavioralSource]:
    """The netlist's top-level sources that can deliver energy (module docstring): voltage-type sources, not 0 V
    ammeters, with a node that some conducting element (or an ammeter) touches."""
    conducting: set[str] = set()
    for e in netlist.elements:
        if isinstance(e, ir.Switch):
            conducting.update((e.n1, e.n2))
        elif _is_ammeter(e) or not isinstance(e, (ir.VoltageSource, ir.BehavioralSource, ir.CurrentSource)):
            conducting.update(getattr(e, "nodes", ()))
    conducting.discard(ir.GROUND)
    return [e for e in netlist.elements
            if (isinstance(e, ir.VoltageSource) and not _is_ammeter(e) or isinstance(e, ir.BehavioralSource)
                and e.kind == "V") and {e.npos, e.nneg} & conducting]


def _is_ammeter(e) -> bool:
    return isinstance(e, ir.VoltageSource) and isinstance(e.waveform, ir.Dc) and e.waveform.value == 0.0


def _v(w: Vectors, node: str):
    return 0.0 if node == ir.GROUND else w[f"v({node})"]


def supply_vectors(sources) -> list[str]:
    nodes = {n for s in sources for n in (s.npos, s.nneg) if n != ir.GROUND}
    return [f"i({s.name.lower()})" for s in sources] + [f"v({n})" for n in sorted(nodes)]


def supply_power(w: Vectors, sources) -> np.ndarray:
    """Σ −V·I over `sources`: the power they deliver (SPICE counts a source's current from + through it to −)."""
    return sum(-(_v(w, s.npos) - _v(w, s.nneg)) * w[f"i({s.name.lower()})"] for s in sources)


@dataclass(frozen=True)
class Meter:
    """What the energies of a circuit's operations are measured from: its supplies, and every device's terminals
    with the switches that feed its top node (read off the netlist, as index arrays into `nodes`)."""

    supplies: list
    nodes: list[str]  # the nodes the device power needs (ground excluded)
    device_terminals: np.ndarray  # devices × 2: top, bottom (−1: ground)
    switches: np.ndarray  # switches × 4: top, other side, control +, control − (−1: ground)
    switch_device: np.ndarray  # the device each switch feeds
    on_ohm: float
    off_ohm: float
    threshold_V: float

    @classmethod
    def of(cls, network: Network, netlist: ir.Netlist | None = None) -> "Meter":
        """The meter of `netlist` (default: the board's own), whose devices are the board's cross points."""
        netlist = netlist or network.netlist
        index: dict[str, int] = {}

        def at(node: str) -> int:
            return -1 if node == ir.GROUND else index.setdefault(node, len(index))

        device_of = {p.top_node: k for k, p in enumerate(network.points)}
        terminals = np.array([(at(p.top_node), at(p.bottom_node)) for p in network.points], dtype=int).reshape(-1, 2)
        switches, owners = [], []
        for e in netlist.elements:
            if isinstance(e, ir.Switch):
                for here, other in ((e.n1, e.n2), (e.n2, e.n1)):
                    if here in device_of:
                        switches.append((at(here), at(other), at(e.cpos), at(e.cneg)))
                        owners.append(device_of[here])
        sw = network.spec.switch
        return cls(supplies(netlist), list(index), terminals, np.array(switches, dtype=int).reshape(-1, 4),
                   np.array(owners, dtype=int), sw.on_ohm, sw.off_ohm, sw.threshold_V)

    @property
    def vectors(self) -> list[str]:
        return supply_vectors(self.supplies) + [f"v({n})" for n in self.nodes]

    def supply_power(self, w: Vectors) -> np.ndarray:
        return supply_power(w, self.supplies)

    def device_power(self, w: Vectors) -> np.ndarray:
        """Σ over devices of V(top) − V(bottom) times the current their switches bring in (each at the resistance
        its control voltage gives it)."""
        if not self.nodes:
            return np.zeros(())
        v = np.stack([np.asarray(w[f"v({n})"], dtype=float) for n in self.nodes])
        v = np.concatenate([v, np.zeros((1,) + v.shape[1:])])  # index −1: ground
        top, other, cpos, cneg = self.switches.T
        closed = (v[cpos] - v[cneg]) > self.threshold_V
        into_top = (v[other] - v[top]) / np.where(closed, self.on_ohm, self.off_ohm)
        current = np.zeros((len(self.device_terminals),) + v.shape[1:])
        np.add.at(current, self.switch_device, into_top)
        return ((v[self.device_terminals[:, 0]] - v[self.device_terminals[:, 1]]) * current).sum(0)
