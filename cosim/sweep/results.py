"""A sweep's record: one run directory per point (written whole, marker first and last), and
`results.parquet`, one row per point built from those directories, which are the only record."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd

from cosim import atomic, runs
from cosim.sweep.executors import Outcome
from cosim.sweep.spec import Sweep

RESULTS_FILE = "results.parquet"
POINTS_DIR = "points"
FAILED_FILE = "failed.json"


def point_status(point_dir: Path) -> str:
    """'done' (metrics in place, no INCOMPLETE marker), 'failed', or 'missing' (absent, partial or unreadable:
    such a point is run again)."""
    if (point_dir / runs.INCOMPLETE).exists():
        return "missing"
    if _readable_json(point_dir / "metrics.json"):
        return "done"
    if _readable_json(point_dir / FAILED_FILE):
        return "failed"
    return "missing"


def _readable_json(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def write_outcome(out: Path, outcome: Outcome) -> None:
    """Write a point's run directory atomically: marker first, files by temp + rename, marker last. Every
    path stays inside the sweep folder (no symlinks followed, no `..` from a worker's file names)."""
    point_dir = runs.inside(out, Path(POINTS_DIR, outcome.point.dirname))
    if point_dir.exists():
        shutil.rmtree(point_dir)
    runs.start(point_dir)
    if outcome.files is not None:
        for name, content in outcome.files.items():
            if name == runs.INCOMPLETE:
                continue
            target = runs.inside(point_dir, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(target, content)
        atomic.write_text(runs.inside(point_dir, "wall_time_s"), f"{outcome.wall_time_s:.6f}\n")
    else:
        atomic.write_text(runs.inside(point_dir, FAILED_FILE), json.dumps(
            {"error": outcome.error, "wall_time_s": outcome.wall_time_s}, indent=2) + "\n")
    (point_dir / runs.INCOMPLETE).unlink()


def _scalar_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}


def results_frame(sweep: Sweep, out: Path) -> pd.DataFrame:
    """One row per point: axis values, seed, every metric, status, error text, wall time (from the point
    directories, which are the only record)."""
    rows = []
    for point in sweep.points:
        point_dir = out / POINTS_DIR / point.dirname
        status = point_status(point_dir)
        row = {"point": point.index, "point_id": point.id, **point.values, "seed": point.config.get("seed"),
               "status": {"done": "ok", "failed": "failed", "missing": "missing"}[status], "error": None,
               "wall_time_s": math.nan}
        if status == "done":
            row.update({k: v for k, v in _scalar_metrics(json.loads((point_dir / "metrics.json").read_text())).items()
                        if k not in row or k in ("wall_time_s",)})
            wall = point_dir / "wall_time_s"
            try:
                row["wall_time_s"] = float(wall.read_text())
            except (OSError, ValueError):
                pass
        elif status == "failed":
            failed = json.loads((point_dir / FAILED_FILE).read_text())
            row["error"], row["wall_time_s"] = failed.get("error"), failed.get("wall_time_s", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def save_results(sweep: Sweep, out: Path) -> pd.DataFrame:
    frame = results_frame(sweep, out)
    with atomic.replacing(runs.inside(out, RESULTS_FILE)) as tmp:
        frame.to_parquet(tmp, index=False)
    return frame
