"""Where ngspice lives on this machine, what it can do, and the command that installs it when it is missing."""

from __future__ import annotations

import ctypes.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cosim.errors import NgspiceNotFound

INSTALL_HINT = (
    "run `bash scripts/setup.sh` from the cosim source tree, or on Debian 12: add the suite "
    "bookworm-backports to apt, then `sudo apt-get install -t bookworm-backports ngspice libngspice0 libngspice0-dev`"
)
_SEARCH_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib", "/usr/lib64")


def library_path() -> str:
    """Absolute path (or loader name) of libngspice; NGSPICE_LIBRARY_PATH wins when set."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        if not Path(env).exists():
            raise NgspiceNotFound(f"NGSPICE_LIBRARY_PATH={env} does not exist; unset it or {INSTALL_HINT}")
        return env
    for d in _SEARCH_DIRS:
        for name in ("libngspice.so", "libngspice.so.0"):
            if (Path(d) / name).exists():
                return str(Path(d) / name)
    found = ctypes.util.find_library("ngspice")
    if found:
        return found
    raise NgspiceNotFound(f"the ngspice shared library (libngspice) was not found; {INSTALL_HINT}")


def executable() -> str:
    """Path of the ngspice program (used by the batch engine)."""
    exe = os.environ.get("NGSPICE_EXECUTABLE") or shutil.which("ngspice")
    if not exe:
        raise NgspiceNotFound(f"the ngspice program was not found on PATH; {INSTALL_HINT}")
    return exe


@dataclass(frozen=True)
class NgspiceInfo:
    version: int
    klu: bool
    osdi: bool


@lru_cache(maxsize=1)
def executable_info() -> NgspiceInfo:
    """Version and features of the ngspice program, read from `ngspice --version`."""
    out = subprocess.run([executable(), "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"ngspice-(\d+)", out)
    version = int(match.group(1)) if match else 0
    # OSDI (Verilog-A) support arrived in ngspice 39 and is compiled in by default since; KLU is reported.
    return NgspiceInfo(version=version, klu="KLU" in out, osdi=version >= 39 and _has_osdi_command())


def _has_osdi_command() -> bool:
    exe = executable()
    probe = subprocess.run(
        [exe, "-b", "-n"], input="* probe\n.control\nhelp osdi\n.endc\n.end\n",
        capture_output=True, text=True, timeout=30,
    )
    text = probe.stdout + probe.stderr
    return "osdi" in text.lower() and "no such command" not in text.lower()
