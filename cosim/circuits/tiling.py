"""How a network's crossbar layers split into tiles, as accelerators build large layers: a layer of R×C devices
with tiles of r×c becomes ceil(R/r)·ceil(C/c) tile circuits, each with its own row drivers, reference column and
sense path; the tiles' partial column sums are added digitally (cosim.hil.tiles runs them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from cosim.errors import ConfigError


@dataclass(frozen=True)
class Tile:
    """One tile: which rows and columns of which layer it holds, and its devices' indices in the whole network,
    in the tile's own order (column by column, as the crossbar generator numbers a layer)."""

    layer: int  # 0-based layer of the network
    prefix: str  # the layer's name in the whole network (l1, l2, …)
    row_block: int
    col_block: int
    rows: range  # the layer's rows (inputs) this tile holds
    cols: range  # the layer's columns (neurons) this tile holds
    devices: tuple[int, ...]

    @property
    def label(self) -> str:
        """How the ledger names the tile: the layer and the tile's block, e.g. l1[0,1]."""
        return f"{self.prefix}[{self.row_block},{self.col_block}]"

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.cols)


def split(layers: Sequence[int], tile: tuple[int, int]) -> list[Tile]:
    """The tiles of a network of `layers` (inputs, then each layer's neurons) with tiles of at most `tile` =
    (rows, columns): layer by layer, row block by row block, column block by column block."""
    tile_rows, tile_cols = (int(n) for n in tile)
    if tile_rows < 1 or tile_cols < 1:
        raise ConfigError(f"a tile needs at least one row and one column, got {tile_rows}×{tile_cols}")
    out, first = [], 0
    for layer, (rows, cols) in enumerate(zip(layers, layers[1:])):
        for i, r0 in enumerate(range(0, rows, tile_rows)):
            for j, c0 in enumerate(range(0, cols, tile_cols)):
                r, c = range(r0, min(r0 + tile_rows, rows)), range(c0, min(c0 + tile_cols, cols))
                devices = tuple(first + col * rows + row for col in c for row in r)
                out.append(Tile(layer, f"l{layer + 1}", i, j, r, c, devices))
        first += rows * cols
    return out
