"""Writing figures: one way to save a matplotlib figure to PNG, whole or not at all (temp file, then rename)."""

from __future__ import annotations

from pathlib import Path


def save_png(fig, path: Path, dpi: int = 120) -> Path:
    """Lay out, save atomically and close `fig`; returns `path`."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path
