"""Imports point down the layers (README, "Layout"): every cosim module belongs to a layer, imports only from
its own layer or lower ones (imports inside functions and module names in registries count too), and no two
layers' packages import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cosim

# Layer of every package or module, top to bottom; a module takes the rank of its longest listed prefix, so a
# new top-level module or package has no layer until it is listed here.
LAYERS = {
    "cosim.cli": 11,  # the command line
    "cosim.doctor": 10, "cosim.demo": 10,  # what the command line runs besides experiments
    "cosim.api": 10, "cosim": 10,  # the Python API, and the package that offers it (loaded on first use)
    "cosim.reports": 9,  # aggregates run and sweep folders
    "cosim.export": 8, "cosim.sweep": 8,  # consumers of experiments
    "cosim.experiments": 7,  # config + train + exported circuit + report extras
    "cosim.runs": 6,  # run folders, checkpoints
    "cosim.training": 5,  # learning methods
    "cosim.hil": 4,  # hardware sessions, schedules, ledger and its summary
    "cosim.circuits": 3,  # generators; node and source names
    "cosim.devices": 2,  # device families
    "cosim.spice": 1,  # ngspice engines
    "cosim.netlist": 0,  # IR and dialect writers
    # base modules: nothing of cosim above them
    **{f"cosim.{name}": -1 for name in ("errors", "units", "atomic", "input_files", "limits", "safe_yaml", "resources",
                                         "plots", "data", "digits", "datasets", "idx", "config", "registry",
                                         "workers", "version")},
}


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package folder `root`, by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(module imported, at import time?) for every import of the module, at any depth (functions too), and
    every string that names a module of the package (a registry's lazily imported module; the package's own
    name alone is a word, e.g. a folder or a key, not an import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_root = name.split(".")[0]
    top = {id(node) for node in tree.body}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        now = id(node) in top
        if isinstance(node, ast.Import):
            out += [(alias.name, now) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` imports the module itself
                full = f"{base}.{alias.name}"
                out.append((full if full in known else base, now))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known - {package_root}:
            out.append((node.value, False))
    return [(target, now) for target, now in out if target in known]


def layer(module: str, layers: dict[str, int]) -> str | None:
    """The listed package or module a module belongs to: its longest listed prefix below the top package (the
    top package itself stands only for its own __init__)."""
    parts = module.split(".")
    for k in range(len(parts), 1, -1):
        if ".".join(parts[:k]) in layers:
            return ".".join(parts[:k])
    return module if module in layers else None


def violations(root: Path, package: str, layers: dict[str, int]) -> list[str]:
    """What breaks the layering of the package folder `root`: modules without a layer, imports from a lower
    layer to a higher one, circles of imports between the listed packages, and circles of imports that run
    at import time between modules."""
    found = modules(root, package)
    known = set(found)
    edges = {name: imports(name, path, known) for name, path in found.items()}
    problems = [f"{name} has no layer: add it to LAYERS" for name in found if layer(name, layers) is None]
    units: dict[str, set[str]] = {}
    for name, targets in edges.items():
        here = layer(name, layers)
        for target, _ in targets:
            there = layer(target, layers)
            if here is None or there is None:
                continue
            if layers[there] > layers[here]:
                problems.append(f"{name} (layer {layers[here]}) imports {target} (layer {layers[there]})")
            if there != here:
                units.setdefault(here, set()).add(there)
    problems += [f"packages import each other in a circle: {' -> '.join(c)}" for c in circles(units)]
    at_import = {name: {t for t, now in targets if now and t != name} for name, targets in edges.items()}
    problems += [f"modules import each other while importing: {' -> '.join(c)}" for c in circles(at_import)]
    return problems


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle (a path back to its start) for every strongly connected group of more than one node."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                out.append(_path(graph, sorted(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def _path(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """A circle through the group's first node, found by a breadth-first search inside the group."""
    start, members = group[0], set(group)
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt in members and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return group


def test_cosim_imports_point_down_the_layers():
    root = Path(cosim.__file__).resolve().parent
    assert violations(root, "cosim", LAYERS) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


TOY_LAYERS = {"pkg.top": 2, "pkg.mid": 1, "pkg.low": 0, "pkg": -1}


def test_the_check_finds_upward_imports_unplaced_modules_and_circles(tmp_path):
    """The check is held to a small package with one fault of each kind (an upward import inside a function, a
    registry naming a higher module, a module without a layer, two packages in a circle, a circular import)."""
    root = _tree(tmp_path, {
        "__init__.py": "",
        "top/__init__.py": "",
        "top/cmd.py": "from pkg.mid import a\n",
        "mid/__init__.py": "",
        "mid/a.py": "from pkg.low import b\n\ndef later():\n    from pkg.top import cmd\n",
        "mid/c.py": "from . import d\n",
        "mid/d.py": "from pkg.mid import c\n",
        "low/__init__.py": "",
        "low/b.py": "PLUGINS = {'cmd': 'pkg.top.cmd'}\n",
        "low/e.py": "import pkg.low.f\n",
        "low/f.py": "from pkg.low import e\n",
        "stray.py": "",
    })
    problems = violations(root, "pkg", TOY_LAYERS)
    assert "pkg.stray has no layer: add it to LAYERS" in problems
    assert "pkg.mid.a (layer 1) imports pkg.top.cmd (layer 2)" in problems
    assert "pkg.low.b (layer 0) imports pkg.top.cmd (layer 2)" in problems
    assert "packages import each other in a circle: pkg.low -> pkg.top -> pkg.mid -> pkg.low" in problems
    assert "modules import each other while importing: pkg.low.e -> pkg.low.f -> pkg.low.e" in problems
    assert "modules import each other while importing: pkg.mid.c -> pkg.mid.d -> pkg.mid.c" in problems
    assert len(problems) == 6, problems


def test_a_clean_package_passes(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "", "top/__init__.py": "from pkg.mid import a\n", "mid/__init__.py": "",
        "mid/a.py": "import numpy\nfrom pkg.low import b\n\ndef later():\n    from pkg.mid import a\n",
        "low/__init__.py": "", "low/b.py": "from pkg import low\n",
    })
    assert violations(root, "pkg", TOY_LAYERS) == []


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_listed_layer_exists(name):
    root = Path(cosim.__file__).resolve().parent
    assert name in modules(root, "cosim"), f"{name} is listed in LAYERS but is no module of cosim"
