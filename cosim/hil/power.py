"""Power from a simulation's vectors: what every supply delivers and what the devices dissipate.

A supply is every voltage-type source of the board that can deliver energy: the input drivers, the programming
driver, and each neuron's transimpedance amplifier and activation outputs (an amplifier holding its column at
virtual ground delivers R_f·I² into its feedback resistor: five times the energy of the rows on the M-SDC board).
Not supplies: 0 V ammeters (no voltage) and the control sources (read and program enable, select lines), which
drive only switch control inputs and draw no current. Current sources are not part of the boards; the read-mode
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
class DeviceSwitch:
    """A switch on a device's top node: the node on its other side and its control nodes."""

    other: str
    cpos: str
    cneg: str


@dataclass(frozen=True)
class DevicePaths:
    """Every device's terminals and the switches that feed its top node, read off the netlist."""

    tops: list[str]
    bottoms: list[str]
    switches: list[list[DeviceSwitch]]
    on_ohm: float
    off_ohm: float
    threshold_V: float

    @classmethod
    def of(cls, network: Network, netlist: ir.Netlist | None = None) -> "DevicePaths":
        netlist = netlist or network.netlist
        tops = [p.top_node for p in network.points]
        by_top: dict[str, list[DeviceSwitch]] = {t: [] for t in tops}
        for e in netlist.elements:
            if isinstance(e, ir.Switch):
                for here, other in ((e.n1, e.n2), (e.n2, e.n1)):
                    if here in by_top:
                        by_top[here].append(DeviceSwitch(other, e.cpos, e.cneg))
        sw = network.spec.switch
        return cls(tops, [p.bottom_node for p in network.points], [by_top[t] for t in tops], sw.on_ohm, sw.off_ohm,
                   sw.threshold_V)

    def vectors(self) -> list[str]:
        nodes = set(self.tops) | set(self.bottoms)
        nodes |= {n for group in self.switches for s in group for n in (s.other, s.cpos, s.cneg)}
        return [f"v({n})" for n in sorted(nodes - {ir.GROUND})]

    def power(self, w: Vectors) -> np.ndarray:
        """Σ over devices of V(top) − V(bottom) times the current their switches bring in."""
        total = 0.0
        for top, bottom, group in zip(self.tops, self.bottoms, self.switches):
            v_top = _v(w, top)
            current = 0.0
            for s in group:
                closed = (_v(w, s.cpos) - _v(w, s.cneg)) > self.threshold_V
                current = current + (_v(w, s.other) - v_top) / np.where(closed, self.on_ohm, self.off_ohm)
            total = total + (v_top - _v(w, bottom)) * current
        return total
