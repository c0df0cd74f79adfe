"""Writing figures: one way to save a matplotlib figure to PNG, whole or not at all (temp file, then rename)."""

from __future__ import annotations

from pathlib import Path


def save_png(fig, path: Path, dpi: int = 120) -> Path:
    """Lay out, save atomically and close `fig`; returns `path`."""
    import matplotlib.pyplot as plt

    from cosim import atomic

    path = Path(path)
    fig.tight_layout()
    try:
        with atomic.replacing(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return path
