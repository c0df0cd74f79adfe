"""Plots of a sweep: a metric against its axes, mean ± std over the points that share them (e.g. seeds).

A numeric axis is drawn as lines (its values are positions on a scale); an axis of categories (presets, names,
true/false) as bars, in the order the sweep spec lists its values (the order of the points), never
alphabetically and never joined by lines. Axes carry the unit of the metric's name (`energy_J` → "energy (J)",
ticks in engineering units)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cosim.errors import ConfigError
from cosim.plots import save_png
from cosim.sweep.results import RESULTS_FILE
from cosim.units import eng, field_unit

KINDS = ("auto", "heatmap")


def plot(out: Path, x: str, y: str, hue: str | None = None, kind: str = "auto", path: Path | None = None) -> Path:
    """Metric `y` against axis `x` (mean ± std over the points that share x and hue, e.g. seeds): lines over a
    numeric axis, bars over categories; or a heatmap over two axes (x and hue). Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Path(out) / RESULTS_FILE
    if not results.is_file():
        raise ConfigError(f"{out}: no {RESULTS_FILE} (is this a sweep directory?)")
    try:
        frame = pd.read_parquet(results)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ConfigError(f"{results}: not a readable results table ({str(exc).splitlines()[0][:120]}); "
                          "rerun `cosim sweep SPEC --out DIR` to rewrite it") from None
    if "status" not in frame.columns:
        raise ConfigError(f"{results}: not a sweep results table (no 'status' column)")
    frame = frame[frame["status"] == "ok"]
    if frame.empty:
        raise ConfigError(f"{out}: no finished points to plot")
    for role, key in (("--x", x), ("--y", y), ("--hue", hue)):
        if key is not None and key not in frame.columns:
            raise ConfigError(f"{role} {key!r} is not a column of {results}; available: {', '.join(map(str, frame.columns))}")
    if not pd.api.types.is_numeric_dtype(frame[y]) or pd.api.types.is_bool_dtype(frame[y]):
        raise ConfigError(f"--y {y!r} is not numeric")
    if kind == "heatmap" and hue is None:
        raise ConfigError("a heatmap needs two axes: give --hue as the second one")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    draw(fig, ax, frame, x, y, hue, kind)
    ax.set_title(f"{Path(out).name}: {axis_label(y)}" + ("" if kind == "heatmap" else ", mean ± std over repeats"),
                 fontsize=10)
    return save_png(fig, Path(path) if path else Path(out) / f"{y}_vs_{x}{'_by_' + hue if hue else ''}.png")


def axis_label(name: str) -> str:
    """A metric or column name as an axis label with its unit: `energy_J` → "energy (J)"; a dotted config
    key as written (`programming.width_s` → "programming.width_s (s)")."""
    unit = field_unit(name.rsplit(".", 1)[-1])
    text = name if "." in name else (name[: -len(unit) - 1] if unit else name).replace("_", " ")
    return f"{text} ({'Ω' if unit == 'ohm' else unit})" if unit else text


def is_categorical(values: pd.Series) -> bool:
    """Names, presets and true/false are categories; numbers are positions on a scale."""
    return pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values)


def ordered(frame: pd.DataFrame, column: str) -> list:
    """The values of `column`: categories in the order the sweep's points list them (the spec's order),
    numbers ascending."""
    if not is_categorical(frame[column]):
        return sorted(frame[column].dropna().unique())
    rows = frame.sort_values("point", kind="stable") if "point" in frame else frame
    return list(pd.unique(rows[column]))


def draw(fig, ax, frame: pd.DataFrame, x: str, y: str, hue: str | None, kind: str) -> None:
    """Draw `y` against `x` on `ax`: lines (numeric x) or bars (categorical x) with mean ± std error bars,
    one per value of `hue`; or a heatmap of means over x and hue."""
    if kind == "heatmap":
        _heatmap(fig, ax, frame, x, y, hue)
        return
    hues = [None] if hue is None else ordered(frame, hue)
    if is_categorical(frame[x]):
        _bars(ax, frame, x, y, hue, hues)
    else:
        for value in hues:
            part = frame if hue is None else frame[frame[hue] == value]
            stats = part.groupby(x, sort=True)[y].agg(["mean", "std"])
            ax.errorbar(stats.index.to_numpy(dtype=float), stats["mean"], yerr=stats["std"].fillna(0.0), marker="o",
                        capsize=3, label=None if hue is None else f"{hue} = {value}")
        _format_axis(ax.xaxis, x)
    if hue is not None:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y" if is_categorical(frame[x]) else "both")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    _format_axis(ax.yaxis, y)


def _bars(ax, frame: pd.DataFrame, x: str, y: str, hue: str | None, hues: list) -> None:
    """Grouped bars: one group per category of x (spec order), one bar per hue value, ± std."""
    categories = ordered(frame, x)
    width = 0.8 / len(hues)
    positions = np.arange(len(categories))
    for k, value in enumerate(hues):
        part = frame if hue is None else frame[frame[hue] == value]
        stats = part.groupby(x, sort=False)[y].agg(["mean", "std"]).reindex(categories)
        ax.bar(positions + (k - (len(hues) - 1) / 2) * width, stats["mean"], width, yerr=stats["std"].fillna(0.0),
               capsize=3, label=None if hue is None else f"{hue} = {value}")
    ax.set_xticks(positions, [str(c) for c in categories])


def _heatmap(fig, ax, frame: pd.DataFrame, x: str, y: str, hue: str) -> None:
    table = frame.groupby([hue, x])[y].mean().unstack(x).reindex(index=ordered(frame, hue), columns=ordered(frame, x))
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns])
    ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, value_text(y, value), ha="center", va="center", color="w", fontsize=8)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(hue))
    bar = fig.colorbar(image, ax=ax, label=axis_label(y))
    _format_axis(bar.ax.yaxis, y)


def is_fraction(name: str) -> bool:
    return "accuracy" in name or "fraction" in name


def value_text(name: str, value: float) -> str:
    """A value of metric or axis `name` as a label: a percentage for accuracies, engineering units for a name with
    a unit, four digits otherwise."""
    if is_fraction(name) and 0 <= value <= 1:
        return f"{100 * value:.1f} %"
    unit = field_unit(name.rsplit(".", 1)[-1])
    return eng(value, unit) if unit else f"{value:.4g}"


def _format_axis(axis, name: str) -> None:
    """Ticks in engineering units when the name carries a unit (`energy_J`: 10 µJ, 20 µJ, …); accuracies and
    fractions in percent."""
    from matplotlib.ticker import EngFormatter, PercentFormatter

    unit = field_unit(name.rsplit(".", 1)[-1])
    if unit:
        axis.set_major_formatter(EngFormatter(unit="Ω" if unit == "ohm" else unit))
    elif is_fraction(name):
        axis.set_major_formatter(PercentFormatter(1.0))
