"""Neuron circuits: a transimpedance stage per column (op-amp with feedback resistor, holding the column at
virtual ground) and an activation stage that compares the column with the layer's reference column.

    out_c = −R_f · I_c                          (transimpedance, ideal op-amp of gain A)
    z_c   = out_ref − out_c = R_f · (I_c − I_ref)  (signed pre-activation, volts)
    y_c   = v_out · tanh(z_c / v_scale)          (activation; y drives the next layer's rows)

A tile of a larger layer (`activate=False`) outputs z_c itself: its partial sum, converted and added to the other
tiles' digitally, and activated once the whole column is summed.
"""

from __future__ import annotations

from dataclasses import dataclass

from cosim.netlist import ir
from cosim.netlist.numbers import number


@dataclass(frozen=True)
class NeuronSpec:
    rf_ohm: float = 1000.0
    opamp_gain: float = 1e5
    v_out_V: float = 0.1  # activation amplitude: the next layer reads at most at this voltage
    v_scale_V: float = 0.05
    activate: bool = True  # False: the stage outputs z (a tile's partial sum; the activation follows digitally)

    def activation(self, z_V):
        """The activation as numpy evaluates it (the twin and the trainer use the same function)."""
        import numpy as np

        if not self.activate:
            return np.asarray(z_V)
        return self.v_out_V * np.tanh(np.asarray(z_V) / self.v_scale_V)


def transimpedance(prefix: str, col: int, spec: NeuronSpec) -> list:
    """Op-amp (B-source of gain −A on the summing node) with feedback resistor; output node `{prefix}_out{col}`."""
    s, o = f"{prefix}_sum{col}", f"{prefix}_out{col}"
    return [
        ir.Resistor(f"R{prefix}f{col}", s, o, spec.rf_ohm),
        ir.BehavioralSource(f"B{prefix}op{col}", o, "0", "V", f"{number(-spec.opamp_gain)}*V({s})"),
    ]


def activation(prefix: str, col: int, ref_col: int, spec: NeuronSpec) -> ir.BehavioralSource:
    """y = v_out·tanh((out_ref − out_c)/v_scale) on node `{prefix}_y{col}` (y = out_ref − out_c without `activate`)."""
    z = f"(V({prefix}_out{ref_col})-V({prefix}_out{col}))"
    expr = f"{number(spec.v_out_V)}*tanh({z}/{number(spec.v_scale_V)})" if spec.activate else z
    return ir.BehavioralSource(f"B{prefix}act{col}", f"{prefix}_y{col}", "0", "V", expr)
