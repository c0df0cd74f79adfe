"""The reference exports under netlists/: each experiment's `reference_exports`, written from its source
config netlists/<experiment>.yaml (every value spelled out) with the OSDI model backend, so they do not depend
on the machine. Regenerate them with `python -m cosim.export.references` when an export changes."""

from __future__ import annotations

from pathlib import Path

from cosim.experiments.registry import available, get
from cosim.export.write import export
from cosim.resources import data_dir, data_file


def write_references(root: Path | None = None) -> list[Path]:
    """Write every experiment's reference exports into `root` (default: cosim's netlists/)."""
    root = Path(root) if root is not None else data_dir("netlists")
    out = []
    for name in available():
        for dialect, stimulus in get(name).reference_exports:
            target = root / name / f"{dialect}-{stimulus}"
            out.append(export(data_file("netlists", f"{name}.yaml"), dialect, target, stimulus, "osdi").out_dir)
    return out


if __name__ == "__main__":
    for path in write_references():
        print(f"wrote {path}")
