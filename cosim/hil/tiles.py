"""A tiled board's hardware session: every layer split into tile circuits (cosim.circuits.tiling), each its own
netlist, engine (or twin) and states, combined digitally, behind the same HardwareSession protocol as one
circuit: device indices stay those of the whole network (`network`, the untiled board's layout).

A forward pass reads layer by layer. The tiles of a layer read their rows at once; each tile's column stage
outputs its partial sum z = R_f·(I_c − I_ref) over its own rows and reference column, converted by its ADC (one
conversion per column and sample, booked by the tile). The periphery adds the row blocks' partial sums of each
column and applies the neurons' activation to the total (digital operations), and the activations drive the
next layer's rows through DACs (one drive per row of every tile that row feeds; ideal: the rows sit at the
activation's voltage). Reported column currents are the tiles' summed currents, given against the first column
block's reference column (I_c − I_ref is then exactly the summed partial differences the activation saw).
Programming and conductance reads run only the tiles holding the devices asked for, tile after tile (one
controller, one device at a time, as on one circuit).

What the ledger books: every tile's own rows (its energy, ADC conversions, pulses and switch events), named
with the whole network's device and layer and the tile's label (`tile`, e.g. "l1[0,1]"); per layer and forward
pass, one row outside the tiles with the digital operations and DAC drives, and the samples the pass served.
The tiles of a layer read at once, so a forward's tile rows book their share of the time the layer takes: for
every sample, the circuit times and the peripheral times of the layer's tiles are scaled to sum to the longest
of them, and summed times stay the tiled hardware's latency. Programming is one device at a time, its times add.
A tile's devices evolve only while its own circuit runs: an operation on other tiles leaves its states as they
are (one circuit integrates every device over every operation, e.g. the zero-bias decay of M-SDC states).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from cosim.circuits.network import Network
from cosim.circuits.tiling import Tile
from cosim.errors import ConfigError
from cosim.hil.ledger import Event, Ledger
from cosim.hil.schedule import Pulses
from cosim.hil.session import ForwardResult, check_devices, check_inputs
from cosim.hil.tile_pool import Reply, Request, TilePool


class TiledSession:
    """`openers[k]()` opens tile k's session (a HardwareSession of a one-layer board of tile k's shape whose column
    stage outputs z, counting no samples) in the pool's host of tile k."""

    def __init__(self, network: Network, tiles: list[Tile], openers: list[Callable[[], Any]], pool: TilePool,
                 x0: np.ndarray, ledger: Ledger, *, backend: str, model_backend: str,
                 counts_samples: bool = True) -> None:
        self.network, self.tiles, self.pool, self.ledger = network, tiles, pool, ledger
        self.backend, self.model_backend, self.counts_samples = backend, model_backend, counts_samples
        self._x = np.array(x0, dtype=float)
        n = len(network.points)
        if self._x.shape != (n,):
            raise ConfigError(f"need one initial state per device ({n}), got shape {self._x.shape}")
        self._devices = [np.array(tile.devices) for tile in tiles]
        self._tile_of, self._local = np.full(n, -1), np.full(n, -1)
        for k, devices in enumerate(self._devices):
            self._tile_of[devices] = k
            self._local[devices] = np.arange(len(devices))
        if (self._tile_of < 0).any():
            raise ConfigError("the tiles do not hold every device of the network")
        self.t_s = 0.0  # circuit time, continuous across operations
        pool.open(openers)

    @property
    def x(self) -> np.ndarray:
        """Device states, one per cross point of the whole network (in network.points order)."""
        return self._x

    @x.setter
    def x(self, value: np.ndarray) -> None:
        value = np.array(value, dtype=float)
        if value.shape != self._x.shape:
            raise ConfigError(f"need one state per device ({len(self._x)}), got shape {value.shape}")
        self._x = value

    def close(self) -> None:
        self.pool.close()

    # --- operations ------------------------------------------------------------------------------------

    def forward(self, inputs: np.ndarray, phase: str = "inference", epoch: int = -1) -> ForwardResult:
        spec = self.network.spec
        u = check_inputs(inputs, spec.layers[0])  # a layer's row voltages, in units of the read voltage
        samples = len(u)
        outputs, currents = [], []
        for k, cols in enumerate(spec.layers[1:]):
            tiles = [(n, t) for n, t in enumerate(self.tiles) if t.layer == k]
            replies = self._run([self._request(n, t, "forward", inputs=u[:, t.rows.start:t.rows.stop], phase=phase,
                                               epoch=epoch) for n, t in tiles])
            z, difference, reference = np.zeros((samples, cols)), np.zeros((samples, cols)), np.zeros(samples)
            for (_, tile), reply in zip(tiles, replies):  # in tile order: the same sums on every pool
                read = reply.result.column_currents_A[0]
                z[:, tile.cols.start:tile.cols.stop] += reply.result.outputs_V[0]
                difference[:, tile.cols.start:tile.cols.stop] += read[:, :-1] - read[:, -1:]
                if tile.col_block == 0:
                    reference += read[:, -1]
            y = spec.neuron.activation(z)
            outputs.append(y)
            currents.append(np.column_stack([difference + reference[:, None], reference]))
            _share_concurrent_time([reply.events for reply in replies])
            self._book(tiles, replies)
            self.t_s += max(reply.elapsed_s for reply in replies)
            row_blocks = 1 + max(t.row_block for _, t in tiles)
            last = k == len(spec.layers) - 2
            feeds = 0 if last else 1 + max(t.col_block for t in self.tiles if t.layer == k + 1)
            # per sample and column: the row blocks' partial sums added, then the activation; per sample, every
            # activation drives its row in each tile of the next layer that holds it
            self.ledger.book(phase, energy_J=0.0, circuit_time_s=0.0, wall_time_s=0.0, epoch=epoch,
                             digital_ops=samples * cols * row_blocks, dac_drives=samples * cols * feeds,
                             samples=samples if last and self.counts_samples else 0)
            u = y / spec.read_V
        return ForwardResult(outputs, currents)

    def read_conductance(self, devices: Sequence[int], phase: str = "read", epoch: int = -1) -> np.ndarray:
        devices = check_devices(devices, len(self._x))
        return self._per_tile(devices, "read_conductance", lambda positions: {"phase": phase, "epoch": epoch})

    def program(self, devices: Sequence[int], pulses: Sequence[Pulses], epoch: int = -1,
                verify: bool = False) -> np.ndarray | None:
        devices = check_devices(devices, len(self._x))
        if len(pulses) != len(devices):
            raise ConfigError(f"need one pulse train per device: {len(devices)} devices, {len(pulses)} trains")
        return self._per_tile(devices, "program", lambda positions: {
            "pulses": [pulses[p] for p in positions], "epoch": epoch, "verify": verify})

    # --- helpers ---------------------------------------------------------------------------------------

    def _per_tile(self, devices: list[int], operation: str, kwargs) -> np.ndarray | None:
        """Run `operation` on the tiles holding `devices` (tile after tile, each its devices in the order given);
        the conductances it returns, in the order of `devices`."""
        positions: dict[int, list[int]] = {}
        for position, device in enumerate(devices):
            positions.setdefault(int(self._tile_of[device]), []).append(position)
        order = sorted(positions)
        replies = self._run([self._request(n, self.tiles[n], operation, devices=[int(self._local[devices[p]])
                                                                                  for p in positions[n]],
                                           **kwargs(positions[n])) for n in order])
        self._book([(n, self.tiles[n]) for n in order], replies)
        self.t_s += sum(reply.elapsed_s for reply in replies)
        if all(reply.result is None for reply in replies):
            return None
        g = np.empty(len(devices))
        for n, reply in zip(order, replies):
            g[positions[n]] = reply.result
        return g

    def _request(self, n: int, tile: Tile, operation: str, **kwargs) -> Request:
        return Request(n, operation, kwargs, self._x[self._devices[n]])

    def _run(self, requests: list[Request]) -> list[Reply]:
        replies = self.pool.run(requests)
        for request, reply in zip(requests, replies):
            self._x[self._devices[request.tile]] = reply.x
        return replies

    def _book(self, tiles: list[tuple[int, Tile]], replies: list[Reply]) -> None:
        """The tiles' ledger rows, named as in the whole network, tile after tile."""
        for (_, tile), reply in zip(tiles, replies):
            for event, local in zip(reply.events, reply.devices):
                point = self.network.points[tile.devices[local]] if local >= 0 else None
                event.device = point.instance if point else ""
                event.layer = point.layer if point else ""
                event.tile = tile.label
                self.ledger.events.append(event)


def _share_concurrent_time(events: list[list[Event]]) -> None:
    """Tiles that read at once: the i-th rows of every tile (one per sample) book shares of the longest circuit
    time and of the longest peripheral time among them, in proportion to their own."""
    for rows in zip(*events):
        for field in ("circuit_time_s", "peripheral_time_s"):
            times = [getattr(e, field) for e in rows]
            total = sum(times)
            if total > 0:
                for e, t in zip(rows, times):
                    setattr(e, field, t * max(times) / total)
