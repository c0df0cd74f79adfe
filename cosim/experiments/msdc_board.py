"""The M-SDC board, built in one place: eslami2024's network, islam2024's weight crossbar and their exports.

A board is a crossbar family's devices (the config's `device.family`; variation drawn from a seed) at the
cross points of a network of crossbar layers with reference columns and neurons, plus the programming driver
(`cosim.circuits.network`). `plan` draws everything a board is made of without a simulator; `network` writes
its netlist; `open_session` opens the hardware session of a backend: the numpy twin, or the circuit in an
engine of `cosim.spice.engines.open_engine`. A board with a tile size is built as tiles (cosim.circuits.tiling):
every layer split into tile circuits of at most that many rows and columns, each a one-layer board of its own
(`tile_board`) run by `cosim.hil.tiles.TiledSession` on the tile workers of the current
`cosim.hil.tile_pool.execution`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, StrictInt, field_validator

from cosim.circuits import crossbar as xb
from cosim.circuits import tiling
from cosim.circuits.network import Network, NetworkSpec, build_network
from cosim.circuits.neurons import NeuronSpec
from cosim.config import Strict, as_value_error
from cosim.devices import registry
from cosim.devices.base import CrossbarFamily
from cosim.errors import ConfigError
from cosim.hil import tile_pool
from cosim.hil.ledger import Ledger, PeripheralCosts
from cosim.hil.session import CircuitSession, HardwareSession, Timing
from cosim.hil.tiles import TiledSession
from cosim.hil.shadow import ShadowedSession
from cosim.hil.twin import TwinSession
from cosim.limits import (MAX_LAYER_SIZE, MAX_REPEATS, MAX_RESISTANCE_OHM, MAX_TIME_S, MAX_VOLTAGE_V,
                          MIN_RESISTANCE_OHM, MIN_TIME_S)
from cosim.netlist import ir
from cosim.spice.engine import Engine
from cosim.spice.engines import open_engine
from cosim.training.onchip import ConductanceScale, Programmer, states_reading

DEFAULT_FAMILY = "msdc"
_TileSide = Annotated[StrictInt, Field(ge=1, le=MAX_LAYER_SIZE)]
# A circuit's tile size [rows, columns]: a layer larger than it becomes several tile circuits; None: one circuit.
TileSize = Annotated[tuple[_TileSide, _TileSide] | None, Field(strict=False)]


def check_state(value: Any, family: str = DEFAULT_FAMILY) -> Any:
    """An as-fabricated device state: "random" or a number inside the family's state range."""
    low, high = registry.crossbar_family(family).state_range
    if value != "random" and not low <= value <= high:
        raise ValueError(f"must be 'random' or a state X in [{low:g}, {high:g}]")
    return value


def _variation_models() -> Any:
    """The variation settings of every crossbar family (a config names its family, which picks the model)."""
    models = tuple(f.Variation for f in map(registry.family, registry.names()) if isinstance(f, CrossbarFamily))
    return Union[models] if len(models) > 1 else models[0]


CrossbarVariation = _variation_models()


class BoardDevices(Strict):
    """The crossbar's devices: the family (any crossbar family of the registry), its preset or a parameter
    file, its device-to-device variation (the family's own settings) and the as-fabricated states."""

    family: str = DEFAULT_FAMILY
    preset: str = "Cr"
    # a fitted parameter set (cosim fit msdc … writes one) instead of a preset; read and checked with the config
    params_file: Annotated[Path | None, Field(strict=False)] = None
    variation: CrossbarVariation = Field(None, validate_default=True)  # the family's; None: its default (M-SDC: none)
    # As-fabricated states: "random" draws each device's state (from the seed) so that the nominal device would
    # read a conductance uniformly in the middle 4/9 of its programmable window (weights -0.44 … 0.44: for
    # M-SDC, whose conductance is linear in X, X uniform in [0.3, 0.7]); this also breaks the symmetry between
    # hidden neurons. A number sets every device to that X.
    initial_state: float | Literal["random"] = "random"

    @field_validator("family")
    @classmethod
    def _family(cls, value: str) -> str:
        with as_value_error():
            registry.crossbar_family(value)
        return value

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str, info) -> str:
        return _family_of(info).presets.check(value)

    @field_validator("params_file")
    @classmethod
    def _params_file(cls, value: Path | None, info) -> Path | None:
        if value is not None:
            with as_value_error():
                _family_of(info).params(file=value)
        return value

    @field_validator("variation", mode="before")
    @classmethod
    def _variation(cls, value: Any, info) -> Any:
        variation = _family_of(info).Variation
        if isinstance(value, variation):
            return value
        return variation() if value is None else variation.model_validate(value)

    @field_validator("initial_state")
    @classmethod
    def _state(cls, value, info):
        return check_state(value, info.data.get("family", DEFAULT_FAMILY))


def _family_of(info) -> CrossbarFamily:
    """The family a BoardDevices being validated names (the default one while `family` itself is refused)."""
    return registry.crossbar_family(info.data.get("family", DEFAULT_FAMILY))


class ProgrammingConfig(Strict):
    """Program-and-verify of the board's devices (`onchip.Programmer`)."""

    amplitude_V: float = Field(1.0, gt=0, le=MAX_VOLTAGE_V)
    width_s: float = Field(1e-6, ge=MIN_TIME_S, le=MAX_TIME_S)
    min_width_s: float = Field(1e-7, ge=MIN_TIME_S, le=MAX_TIME_S)
    series_ohm: float = Field(1000.0, ge=MIN_RESISTANCE_OHM, le=MAX_RESISTANCE_OHM)
    max_pulses: int = Field(50, ge=1, le=MAX_REPEATS)
    tolerance: float = Field(0.05, gt=0, lt=1)  # of the conductance half-range
    reset_pulse: bool = True
    reset_amplitude_V: float = Field(1.0, gt=0, le=MAX_VOLTAGE_V)
    reset_width_s: float = Field(5e-5, ge=MIN_TIME_S, le=MAX_TIME_S)
    # devices programmed to convergence together (onchip.Programmer.group); None: all in one group
    group: int | None = Field(None, ge=1, le=MAX_REPEATS)


@dataclass(frozen=True)
class Board:
    """What a board is made of, drawn from a config and its seeds (no simulator involved)."""

    family: CrossbarFamily
    spec: NetworkSpec
    scale: ConductanceScale
    instances: Any  # the device instances with their variation
    x0: np.ndarray  # as-fabricated states
    tile: tuple[int, int] | None = None  # built as tiles of at most (rows, columns); None: one circuit


def plan(family: CrossbarFamily, params, variation, layers: tuple[int, ...], *, read_V: float, wire_ohm: float,
         series_ohm: float, switch_on_ohm: float, v_scale_V: float, draw_seed: int, state_seed: list[int],
         initial_state: float | str, rf_ohm: float | str = "auto", wire_F: float = 0.0,
         tile: tuple[int, int] | None = None, switch_off_ohm: float = xb.SwitchSpec().off_ohm) -> Board:
    """A board of `layers` with devices of `params` (variation drawn from `draw_seed`, as-fabricated states
    from `state_seed`), built as tiles of `tile` (rows, columns) when given. Weights map to conductances through
    the device's read conductance; the neurons' transimpedance is 1/g_half ("auto"), so one unit of weight on a
    full read voltage moves a neuron's input by read_V."""
    scale = ConductanceScale.for_device(family, params, read_V)
    spec = NetworkSpec(
        layers=tuple(layers), wire_ohm=wire_ohm, wire_F=wire_F, g_ref_S=scale.g_ref_S, read_V=read_V,
        program_series_ohm=series_ohm,
        neuron=NeuronSpec(rf_ohm=1.0 / scale.g_half_S if rf_ohm == "auto" else rf_ohm, v_out_V=read_V,
                          v_scale_V=v_scale_V),
        switch=xb.SwitchSpec(on_ohm=switch_on_ohm, off_ohm=switch_off_ohm),
    )
    n = spec.n_devices
    instances = family.draw(params, variation, n, draw_seed)
    low, high = family.state_range
    if initial_state == "random":
        # fractions 0.3 … 0.7 of the range, moved to where the nominal device reads that fraction of the way
        # between its conductances at 0.05 and 0.95 of the range (the window of ConductanceScale.for_device)
        x = np.random.default_rng(state_seed).uniform(low + 0.3 * (high - low), low + 0.7 * (high - low), n)
        g_a, g_b = (family.current(params, read_V, low + f * (high - low)) / read_V for f in (0.05, 0.95))
        g = g_a + ((x - low) / (high - low) - 0.05) / 0.9 * (g_b - g_a)
        x0 = states_reading(family, params, g, read_V, x)
    else:
        x0 = np.full(n, float(initial_state))
    return Board(family, spec, scale, instances, x0, None if tile is None else tuple(tile))


class _Placed:
    """The board's devices as the crossbar generator places them (`cosim.circuits.crossbar.Devices`)."""

    def __init__(self, board: Board, x0: np.ndarray, layout_only: bool) -> None:
        self.board, self.x0, self.layout_only = board, x0, layout_only
        self.state_param, self.state_range = board.family.state_param, board.family.state_range

    def element(self, name: str, top: str, bottom: str, index: int) -> ir.Element:
        if self.layout_only:  # the twin needs the board's layout only: a resistor stands where the device would be
            return ir.Resistor("R" + name[1:], top, bottom, 1e4)
        return self.board.family.spice_instance(name, top, bottom, self.board.instances, index, float(self.x0[index]))

    def state_vector(self, instance: str) -> str:
        return self.board.family.state_vector(instance)

    def read_variant(self, item: object, hold_s: float) -> object | None:
        return None if self.layout_only else self.board.family.read_variant(item, hold_s)


@dataclass(frozen=True)
class Sized:
    """A board of any size and its netlist (see `sized`)."""

    board: Board
    network: Network

    @property
    def arrays(self) -> Any:
        return self.board.instances

    @property
    def x0(self) -> np.ndarray:
        return self.board.x0


def sized(layers: tuple[int, ...], *, wire_ohm: float = 1.0, wire_F: float = 0.0, preset: str = "Cr",
          spread: float = 0.05, seed: int = 0, read_V: float = 0.1, family: str = DEFAULT_FAMILY,
          switch_on_ohm: float = xb.SwitchSpec().on_ohm, tile: tuple[int, int] | None = None) -> Sized:
    """A board of `layers` (e.g. (64, 64): one 64×64 crossbar and 64 neurons) without an experiment config
    (eslami2024's fixes 9 inputs), for scale studies and the solvers' tests: the board's layout and conductance
    scale, R_on and R_off spread by `spread` (relative std), states uniform in [0.3, 0.7] of the range; built as
    tiles of `tile` when given (the network is then the whole board's layout)."""
    devices = registry.crossbar_family(family)
    variation = devices.Variation(r_on_rel_std=spread, r_off_rel_std=spread)
    board = plan(devices, devices.params(preset), variation, tuple(layers), read_V=read_V, wire_ohm=wire_ohm,
                 wire_F=wire_F, series_ohm=1000.0, switch_on_ohm=switch_on_ohm, v_scale_V=0.1,
                 draw_seed=seed, state_seed=[seed, 1], initial_state="random", tile=tile)
    return Sized(board, network(board, "cosim msdc board", layout_only=tile is not None))


def network(board: Board, title: str, *, library: list | None = None, x0: np.ndarray | None = None,
            layout_only: bool = False) -> Network:
    """The board's netlist: its devices at states `x0` (default: as fabricated) with the family's model
    `library` (default: the one this machine runs); `layout_only`: resistors in their place (for the twin)."""
    if layout_only:
        return build_network(board.spec, [], _Placed(board, board.x0, True))
    library = board.family.spice_library(instances=board.instances) if library is None else library
    return build_network(board.spec, library, _Placed(board, board.x0 if x0 is None else x0, False), title=title)


def open_session(board: Board, ledger: Ledger, backend: str, title: str, *, seed: int | None = None,
                 timing: Timing = Timing(), timeout_s: float = 300.0, counts_samples: bool = True,
                 engine: Engine | None = None, shadow_fraction: float = 0.0) -> HardwareSession:
    """The board's hardware session on `backend`, the one place that chooses: the numpy twin, or the circuit in
    `engine` (default: a new engine of the backend, seeded with `seed`; None: the circuit draws no random
    numbers); a board with a tile size: its tiles, each on `backend` with an engine of its own. With
    `timing.idle_drift` the devices relax at zero bias for the peripheral time between operations (the family's
    `idle`; on a tiled board the tiled session drifts every tile's devices, the tiles themselves do not). On the
    twin, `shadow_fraction` of the forward passes are replayed in ngspice (`cosim.hil.shadow`) from the twin's
    states, so the replaying circuit does not drift on its own."""
    if shadow_fraction > 0 and backend == "twin":
        if board.tile is not None:
            raise ConfigError("shadow checks replay one circuit; a tiled board cannot take them (set tile: null)")
        twin = open_session(board, ledger, backend, title, timing=timing, counts_samples=counts_samples)
        circuit = functools.partial(open_session, board, Ledger(ledger.peripherals), "spice", f"{title} shadow",
                                    seed=seed, timing=replace(timing, idle_drift=False), timeout_s=timeout_s,
                                    counts_samples=False)
        return ShadowedSession(twin, circuit, shadow_fraction, [0 if seed is None else seed, 41])
    idle = functools.partial(board.family.idle, board.instances) if timing.idle_drift else None
    if board.tile is not None:
        if engine is not None:
            raise ConfigError("a tiled board opens an engine per tile; it cannot run in a given engine")
        if backend == "twin" and not board.family.twin:
            raise ConfigError(f"device family {board.family.name!r} has no numpy twin; use backend spice or batch")
        tiles = tiling.split(board.spec.layers, board.tile)
        tile_timing = replace(timing, idle_drift=False)
        openers = [functools.partial(open_tile, tile_board(board, t), ledger.peripherals, backend,
                                     f"{title} tile {t.prefix} {t.row_block},{t.col_block}", seed, tile_timing,
                                     timeout_s)
                   for t in tiles]
        return TiledSession(network(board, title, layout_only=True), tiles, openers, tile_pool.open_pool(len(tiles)),
                            board.x0, ledger, backend=backend, counts_samples=counts_samples,
                            model_backend="numpy" if backend == "twin" else board.family.model_backend(), idle=idle)
    if backend == "twin":
        if not board.family.twin:
            raise ConfigError(f"device family {board.family.name!r} has no numpy twin; use backend spice or batch")
        return TwinSession(network(board, title, layout_only=True), board.instances, board.x0, ledger, timing,
                           counts_samples=counts_samples, idle=idle)
    net = network(board, title)
    engine = engine or open_engine(backend, seed=seed, timeout_s=timeout_s)
    return CircuitSession(net, engine, board.x0, ledger, board.family.netlist_backend(net.netlist) or "", timing,
                          counts_samples, idle)


def tile_board(board: Board, tile: tiling.Tile) -> Board:
    """One tile of `board` as a board of its own: its devices (instances and states), one layer of the tile's
    shape whose column stage outputs z = R_f·(I_c − I_ref) (the activation follows once the tiles are summed)."""
    spec = replace(board.spec, layers=tile.shape, neuron=replace(board.spec.neuron, activate=False))
    index = np.array(tile.devices)
    # a crossbar family's instances: a dataclass of per-device arrays, as `draw` returns them
    instances = type(board.instances)(**{f.name: np.asarray(getattr(board.instances, f.name))[index]
                                         for f in fields(board.instances)})
    return replace(board, spec=spec, instances=instances, x0=board.x0[index], tile=None)


def open_tile(board: Board, peripherals: PeripheralCosts, backend: str, title: str, seed: int | None,
              timing: Timing, timeout_s: float) -> HardwareSession:
    """A tile's session, as a tile worker opens it: the tile's board (`tile_board`) on `backend`, booking into a
    ledger of its own with the run's peripheral costs and counting no samples (the tiled session does)."""
    return open_session(board, Ledger(peripherals), backend, title, seed=seed, timing=timing, timeout_s=timeout_s,
                        counts_samples=False)


def programmer(session: HardwareSession, board: Board, p: ProgrammingConfig) -> Programmer:
    """Program-and-verify of the board's devices with the settings `p`."""
    return Programmer(session, board.scale, p.amplitude_V, p.width_s, p.min_width_s, p.max_pulses, p.tolerance,
                      p.reset_pulse, p.reset_amplitude_V, p.reset_width_s, p.group)


def conductance_maps(board: Board, x: np.ndarray, read_V: float) -> dict[str, np.ndarray]:
    """Read conductance (S) of every device at states `x`, one rows × columns map per crossbar layer."""
    low, high = board.family.state_range
    g = board.family.current(board.instances, read_V, np.clip(x, low, high)) / read_V
    layers = board.spec.layers
    maps, k = {}, 0
    for index, (rows, cols) in enumerate(zip(layers, layers[1:]), start=1):
        maps[f"layer {index} ({rows}×{cols})"] = g[k:k + rows * cols].reshape(cols, rows).T
        k += rows * cols
    return maps
