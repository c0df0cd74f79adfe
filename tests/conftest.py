"""Shared fixtures: engines are created once per process (libngspice is one global instance)."""

from __future__ import annotations

import pytest

from cosim.errors import NgspiceNotFound
from cosim.spice import install


def _ngspice_missing() -> str | None:
    try:
        install.library_path()
        install.executable()
    except NgspiceNotFound as exc:
        return str(exc)
    return None


_MISSING = _ngspice_missing()


def pytest_collection_modifyitems(config, items):
    if _MISSING is None:
        return
    skip = pytest.mark.skip(reason=f"ngspice is not installed: {_MISSING}")
    for item in items:
        if "spice" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_engine():
    from cosim.spice.shared import SharedEngine

    return SharedEngine(seed=7, num_threads=1)


@pytest.fixture
def batch_engine():
    from cosim.spice.batch import BatchEngine

    return BatchEngine(seed=7, num_threads=1)


@pytest.fixture
def run_elsewhere(tmp_path_factory):
    """Run a netlist folder as its README says (`sh run.sh`, plain `ngspice -b`) from a copy in another folder:
    returns the copy and the finished process."""
    import os
    import shutil
    import subprocess

    def run(folder):
        copy = tmp_path_factory.mktemp("elsewhere") / "netlists"
        shutil.copytree(folder, copy)
        proc = subprocess.run(["sh", "run.sh"], cwd=copy, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        return copy, proc

    return run
