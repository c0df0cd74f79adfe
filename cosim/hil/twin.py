"""The `twin` backend: the same hardware operations and schedules as the circuit sessions, integrated in
numpy with the M-SDC equations (cosim.devices.msdc). Columns sit at ideal virtual ground and wires are
ideal; the programming path is the driver's series resistor plus the select switch's on-resistance.
"""

from __future__ import annotations

import time
from dataclasses import fields

import numpy as np

from cosim.circuits.network import Network
from cosim.devices import msdc
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Schedule
from cosim.hil.session import ForwardResult, Timing, _Session


def _subset(arrays: msdc.MSDCArrays, index) -> msdc.MSDCArrays:
    return msdc.MSDCArrays(**{f.name: np.asarray(getattr(arrays, f.name))[index] for f in fields(arrays)})


class TwinSession(_Session):
    backend = "twin"

    def __init__(self, network: Network, params: msdc.MSDCArrays, x0: np.ndarray, ledger: Ledger,
                 timing: Timing = Timing(), substeps: int = 8) -> None:
        super().__init__(network, x0, ledger, "numpy", timing)
        self.params = params
        self.substeps = substeps

    def _forward(self, sched: Schedule, inputs: np.ndarray) -> tuple[ForwardResult, list[float], float]:
        started = time.perf_counter()
        spec, t = self.network.spec, self.timing
        # A trapezoid of plateau W and edges e delivers V²·G·(W + 2e/3) into a linear load; the read voltages
        # sit far below the switching thresholds, where the devices are close to linear.
        duration = t.read_s + 2 * t.edge_s / 3
        outs, currents, energies = [], [], np.zeros(len(inputs))
        v_rows = inputs * spec.read_V
        first = 0
        for layer in self.network.layers:
            idx = np.arange(first, first + layer.rows * layer.cols)
            p = _subset(self.params, idx)
            rows = np.array([pt.row for pt in self.network.points[first: idx[-1] + 1]])
            x = self.x[idx]
            i_dev = np.empty((len(inputs), len(idx)))
            for k, v in enumerate(v_rows):
                i_dev[k] = msdc.current(p, v[rows], x)
                x = msdc.advance_state(p, x, v[rows], duration)
            self.x[idx] = x
            cols = np.array([pt.col for pt in self.network.points[first: idx[-1] + 1]])
            i_col = np.stack([i_dev[:, cols == c].sum(1) for c in range(layer.cols)], 1)
            i_ref = v_rows.sum(1) * spec.g_ref_S
            currents.append(np.column_stack([i_col, i_ref]))
            y = spec.neuron.activation(spec.neuron.rf_ohm * (i_col - i_ref[:, None]))
            energies += (v_rows * np.stack([i_dev[:, rows == r].sum(1) for r in range(layer.rows)], 1)).sum(1) * duration
            energies += (v_rows ** 2).sum(1) * spec.g_ref_S * duration
            outs.append(y)
            v_rows = y
            first = idx[-1] + 1
        return ForwardResult(outs, currents), list(energies), time.perf_counter() - started

    def _program(self, sched: Schedule, devices: list[int], read_phase: str | None):
        started = time.perf_counter()
        r_series = self.network.spec.program_series_ohm + self.network.spec.switch.on_ohm
        drive = sched.wave("Vprog")
        energies, g = [], []
        for s in sched.slots:
            d = s.device
            p = _subset(self.params, [d])
            grid = np.union1d(np.linspace(s.start_s, s.end_s, 2 + 20 * self.substeps),
                              [c for c in drive.times if s.start_s <= c <= s.end_s])
            v_src = drive.sample(grid)
            twin = msdc.MSDCTwin(p, x0=self.x[[d]])
            x, i, v_dev = twin.simulate_series(v_src, r_series, t_s=grid, substeps=self.substeps)
            self.x[d] = twin.x[0]
            power = v_src * i[:, 0]
            energies.append(float(np.sum(0.5 * (power[1:] + power[:-1]) * np.diff(grid))))
            if s.kind == read_phase:
                k = np.argmin(np.abs(grid - s.read_at_s))
                g.append(i[k, 0] / v_dev[k, 0])
        result = np.array(g) if read_phase is not None else None
        return result, energies, time.perf_counter() - started
