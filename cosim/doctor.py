"""`cosim doctor`: what this machine's simulator can do, and the exact command that fixes what is missing."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cosim.errors import CosimError
from cosim.spice import install, osdi

MIN_VERSION = 39


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool
    fix: str = ""


def run_checks() -> list[Check]:
    checks: list[Check] = []
    try:
        exe = install.executable()
        info = install.executable_info()
        checks.append(Check("ngspice program", info.version >= MIN_VERSION, f"ngspice-{info.version} at {exe}",
                            True, install.INSTALL_HINT))
    except CosimError as exc:
        checks.append(Check("ngspice program", False, str(exc), True, install.INSTALL_HINT))
        info = None
    try:
        lib = install.library_path()
        version = _shared_version()
        checks.append(Check("ngspice shared library", version >= MIN_VERSION, f"ngspice-{version} at {lib}", True,
                            install.INSTALL_HINT))
    except CosimError as exc:
        checks.append(Check("ngspice shared library", False, str(exc), True, install.INSTALL_HINT))
    backports = "on Debian 12 use ngspice 46 from bookworm-backports: bash scripts/setup.sh"
    checks.append(Check("KLU solver", bool(info and info.klu), "yes" if info and info.klu else
                        "no (sparse 1.3 solver: slower on large arrays)", False, backports))
    compiler = osdi.compiler()
    checks.append(Check("Verilog-A compiler", compiler is not None, compiler or "no (openvaf-r not found)", False,
                        osdi.COMPILER_HINT))
    loads = info is not None and osdi.ngspice_loads_osdi()
    checks.append(Check("OSDI (Verilog-A) models", loads, "yes" if loads else
                        "no (device models fall back to B-source subcircuits)", False, backports))
    checks.append(Check("cores", True, str(os.cpu_count() or 1), False))
    return checks


def _shared_version() -> int:
    from cosim.spice.engines import open_engine

    return open_engine("spice", num_threads=1).version
