"""A report page as the templates draw it: sections of blocks, each block a figure beside the table whose
numbers it shows. Tables arrive here formatted (every cell a string in engineering units, see `show`) with
the facts a template needs to lay them out: which columns are numbers (right-aligned), how many rows the
whole table has, the CSV that holds all of them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cosim.reports.figures import Figure
from cosim.reports.show import cell, is_number, label, unit_of

COLLAPSE_ROWS = 16  # longer tables start folded (HTML) or are cut to this many rows with a link (Markdown)
# the ledger's columns in reading order; any other column follows those of its unit
ORDER = ("events", "pulses", "samples", "energy_J", "device_energy_J", "peripheral_energy_J", "energy_with_peripherals_J",
         "circuit_time_s", "peripheral_time_s", "time_with_peripherals_s", "wall_time_s")
PERIPHERAL_COLUMNS = ("peripheral_energy_J", "energy_with_peripherals_J", "peripheral_time_s", "time_with_peripherals_s")


@dataclass
class ShownTable:
    title: str
    columns: list[str]
    numeric: list[bool]
    rows: list[list[str]]
    csv: str | None = None  # the file holding every row, when there is one
    total: int = 0  # rows of the whole table (more than `rows` when cut)
    foldable: bool = True  # a long table starts folded; a summary never does

    @property
    def long(self) -> bool:
        return self.foldable and self.total > COLLAPSE_ROWS


@dataclass
class Card:
    """One headline figure: what, how much, and a second line (e.g. the figure with peripherals)."""

    label: str
    value: str
    detail: str = ""


@dataclass
class Block:
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[ShownTable] = field(default_factory=list)
    text: str = ""


@dataclass
class Section:
    title: str
    anchor: str
    description: str = ""
    warnings: list[str] = field(default_factory=list)  # the runs are not like for like: shown highlighted
    notes: list[str] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    config: str = ""  # the run's settings as YAML, shown folded

    @property
    def figures(self) -> list[Figure]:
        return [f for block in self.blocks for f in block.figures]


@dataclass
class Page:
    title: str
    lead: str
    sections: list[Section]
    files: list[str] = field(default_factory=list)  # CSVs written beside the report


def shown_table(frame: pd.DataFrame, title: str, csv: str | None = None, limit: int | None = None) -> ShownTable:
    """`frame` formatted for a page: labels for headers, engineering units in cells, the first `limit` rows."""
    head = frame if limit is None else frame.head(limit)
    numeric = [_numbers(frame[c]) for c in frame.columns]
    rows = [[cell(str(c), v) for c, v in zip(frame.columns, row)] for row in head.itertuples(index=False)]
    return ShownTable(title, [label(str(c)) for c in frame.columns], numeric, rows, csv, len(frame))


def ordered_columns(frame: pd.DataFrame, keys: list[str], units: tuple[str | None, ...],
                    peripherals: bool = True) -> pd.DataFrame:
    """The key columns, then the columns whose unit is one of `units` (None: counts and plain numbers) in
    reading order; columns about peripherals only when the run books any."""
    rest = [c for c in frame.columns if c not in keys and unit_of(c) in units
            and (peripherals or c not in PERIPHERAL_COLUMNS)]
    rank = {name: k for k, name in enumerate(ORDER)}
    rest.sort(key=lambda c: rank.get(c, len(ORDER)))
    return frame[[*keys, *rest]]


def row_table(rows: list[tuple[str, str, str]], title: str, headers: tuple[str, ...]) -> ShownTable:
    """A small table of already formatted rows (label, value, value …); every column after the first is numeric."""
    return ShownTable(title, list(headers), [False] + [True] * (len(headers) - 1), [list(r) for r in rows],
                      total=len(rows), foldable=False)


def _numbers(column: pd.Series) -> bool:
    """A column of numbers (right-aligned): every value that is there is a number, and some are."""
    values = column.dropna()
    return len(values) > 0 and all(is_number(v) for v in values)
