"""M-SDC boards of any size, for scale studies and the solvers' tests: the eslami2024 board's layout and
conductance scale (g_ref between the read conductances at X = 0.05 and 0.95, R_f = 1/g_half), with device
variation and random initial states drawn from a seed, without an experiment config (which fixes 9 inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.circuits.crossbar import SwitchSpec
from cosim.circuits.network import Network, NetworkSpec, build_network
from cosim.circuits.neurons import NeuronSpec
from cosim.devices import msdc, msdc_spice


@dataclass
class Board:
    network: Network
    arrays: msdc.MSDCArrays  # the device instances, in network.points order
    x0: np.ndarray  # their initial states


def msdc_board(layers: tuple[int, ...], *, wire_ohm: float = 1.0, wire_F: float = 0.0, preset: str = "Cr",
               spread: float = 0.05, seed: int = 0, read_V: float = 0.1, backend: str | None = None) -> Board:
    """A board of `layers` (e.g. (64, 64): one 64×64 crossbar and 64 neurons) with M-SDC devices of `preset`,
    R_on and R_off spread by `spread` (relative std), states uniform in [0.3, 0.7]; `backend` as msdc_spice."""
    params = msdc.load_preset(preset)
    g_lo, g_hi = (float(msdc.current(params, read_V, x)) / read_V for x in (0.05, 0.95))
    spec = NetworkSpec(layers=tuple(layers), wire_ohm=wire_ohm, wire_F=wire_F, g_ref_S=(g_lo + g_hi) / 2,
                       read_V=read_V, neuron=NeuronSpec(rf_ohm=2 / (g_hi - g_lo), v_out_V=read_V, v_scale_V=0.1),
                       switch=SwitchSpec())
    arrays = msdc.draw_instances(params, msdc.Variation(r_on_rel_std=spread, r_off_rel_std=spread),
                                 spec.n_devices, seed)
    x0 = np.random.default_rng([seed, 1]).uniform(0.3, 0.7, spec.n_devices)
    network = build_network(spec, msdc_spice.library(backend), lambda name, te, be, k: msdc_spice.instance(
        name, te, be, msdc_spice.array_row(arrays, k), float(x0[k])), title="cosim msdc board")
    return Board(network, arrays, x0)
