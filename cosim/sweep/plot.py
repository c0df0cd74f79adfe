"""Plots of a sweep: a metric against its axes, error bars over the points that share them (e.g. seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cosim.errors import ConfigError
from cosim.plots import save_png
from cosim.sweep.results import RESULTS_FILE


def plot(out: Path, x: str, y: str, hue: str | None = None, kind: str = "line", path: Path | None = None) -> Path:
    """Metric `y` against axis `x` (mean ± std over the points that share x and hue, e.g. seeds) as lines,
    or as a heatmap over two axes (x and hue); writes a PNG."""
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
    if not pd.api.types.is_numeric_dtype(frame[y]):
        raise ConfigError(f"--y {y!r} is not numeric")
    if kind == "heatmap" and hue is None:
        raise ConfigError("a heatmap needs two axes: give --hue as the second one")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    draw(fig, ax, frame, x, y, hue, kind)
    ax.set_title(f"{Path(out).name}: {y}")
    return save_png(fig, Path(path) if path else Path(out) / f"{y}_vs_{x}{'_by_' + hue if hue else ''}.png")


def draw(fig, ax, frame: pd.DataFrame, x: str, y: str, hue: str | None, kind: str) -> None:
    """Draw `y` against `x` on `ax`: lines with mean ± std error bars per `hue`, or a heatmap of means."""
    if kind == "heatmap":
        table = frame.groupby([hue, x])[y].mean().unstack(x)
        values = table.to_numpy(dtype=float)
        image = ax.imshow(values, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(table.columns)), [str(c) for c in table.columns])
        ax.set_yticks(range(len(table.index)), [str(i) for i in table.index])
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="w", fontsize=8)
        ax.set_ylabel(hue)
        fig.colorbar(image, ax=ax, label=y)
    else:
        groups = [(None, frame)] if hue is None else list(frame.groupby(hue, sort=True))
        categorical = not pd.api.types.is_numeric_dtype(frame[x])
        for label, part in groups:
            stats = part.groupby(x, sort=True)[y].agg(["mean", "std"])
            xs = range(len(stats)) if categorical else stats.index.to_numpy(dtype=float)
            ax.errorbar(xs, stats["mean"], yerr=stats["std"].fillna(0.0), marker="o", capsize=3,
                        label=None if hue is None else f"{hue} = {label}")
            if categorical:
                ax.set_xticks(range(len(stats)), [str(v) for v in stats.index])
        if hue is not None:
            ax.legend(fontsize=8)
        ax.set_ylabel(f"{y} (mean ± std over repeats)")
        ax.grid(alpha=0.3)
    ax.set_xlabel(x)
