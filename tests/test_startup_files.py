"""ngspice start-up files run commands (`shell …`): cosim never lets ngspice read one from the working folder, the
home folder or a netlist's folder. Each test plants `.spiceinit` files that touch a marker and echo a line, shows
that ngspice started the plain way runs them (so the test can fail), and that cosim's engines do not. libngspice
is one instance per process, started once: the shared engine is started in fresh processes."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cosim
from cosim.netlist import ir
from cosim.netlist.writers import ngspice
from cosim.spice import install
from cosim.spice.batch import BatchEngine

pytestmark = pytest.mark.spice

ECHO = "planted-startup-file-ran"

# Starts libngspice (in the working folder when asked to start it "naive", as cosim did before), then runs a
# 1 V source into 1 kΩ; prints the start-up messages, the working folder after the start and the current.
_SHARED = """
import contextlib, os, sys
from cosim.netlist import ir
from cosim.spice import shared
if sys.argv[1] == "naive":
    shared._startup_folder = contextlib.nullcontext
started = shared._library().transcript.text()
engine = shared.SharedEngine(num_threads=1)
engine.load(ir.Netlist("r", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "0", 1e3)]))
print(started)
print("cwd", os.getcwd())
print("current_A", -engine.tran(1e-6, 2e-6, ["i(v1)"])["i(v1)"][-1])
"""


def _plant(folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".spiceinit").write_text(f"* a start-up file that must not run\nshell touch {marker}\necho {ECHO}\n")
    return marker


def _env(**changes: str) -> dict[str, str]:
    root = str(Path(cosim.__file__).resolve().parent.parent)  # the cosim under test, whatever the working folder
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]), **changes}


def _shared(mode: str, cwd: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> str:
    proc = subprocess.run([*prefix, sys.executable, "-c", _SHARED, mode], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_shared_engine_reads_no_spiceinit_from_the_working_or_home_folder(tmp_path):
    work, home = tmp_path / "work", tmp_path / "home"
    in_work, in_home = _plant(work, tmp_path / "ran-from-work"), _plant(home, tmp_path / "ran-from-home")
    env = _env(HOME=str(home))

    out = _shared("engine", work, env)
    assert not in_work.exists() and not in_home.exists() and ECHO not in out
    assert f"cwd {work}\n" in out  # the working folder is given back after the start
    assert float(out.split("current_A")[1]) == pytest.approx(1e-3, rel=1e-9)

    out = _shared("naive", work, env)
    assert in_work.exists() and ECHO in out  # started in the working folder, libngspice runs the planted file


def _user_namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount --bind /etc/passwd /etc/passwd"], capture_output=True, timeout=30)
    return probe.returncode == 0


def test_the_shared_engine_reads_no_spiceinit_from_the_home_folder_of_the_password_database(tmp_path):
    """libngspice takes the home folder from the password database, not $HOME: the check runs in a user and mount
    namespace whose /etc/passwd gives root (the user there) a planted home folder; the real home is untouched."""
    if not _user_namespace_works():
        pytest.skip("`unshare --user --map-root-user --mount` is not available here")
    home, work = tmp_path / "home", tmp_path / "work"
    in_home = _plant(home, tmp_path / "ran-from-passwd-home")
    work.mkdir()
    lines = Path("/etc/passwd").read_text().splitlines()
    root = pwd.getpwuid(0)
    fields = f"{root.pw_name}:x:0:0:{root.pw_gecos}:{home}:{root.pw_shell}"
    (tmp_path / "passwd").write_text("\n".join([fields] + [x for x in lines if x.split(":")[2:3] != ["0"]]) + "\n")
    prefix = ("unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
              'mount --bind "$0" /etc/passwd && exec "$@"', str(tmp_path / "passwd"))

    out = _shared("engine", work, _env(), prefix)
    assert not in_home.exists() and ECHO not in out

    out = _shared("naive", work, _env(), prefix)
    assert in_home.exists() and ECHO in out  # without a .spiceinit in the working folder, the home one runs


def test_the_batch_engine_reads_no_spiceinit_from_the_working_home_or_netlist_folder(tmp_path, monkeypatch):
    work, home, folder, clean = (tmp_path / n for n in ("work", "home", "netlist", "clean"))
    in_work, in_home = _plant(work, tmp_path / "ran-from-work"), _plant(home, tmp_path / "ran-from-home")
    in_folder = _plant(folder, tmp_path / "ran-from-netlist-folder")
    clean.mkdir()
    net = ir.Netlist("r", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "0", 1e3),
                           ir.Tran(1e-6, 2e-6), ir.Save(("i(v1)",))])
    for where in (folder, clean):
        (where / "circuit.cir").write_text(ngspice.write(net))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)

    engine = BatchEngine(num_threads=1)
    engine.load(ir.Netlist("r", [item for item in net if not isinstance(item, (ir.Tran, ir.Save))]))
    assert -engine.tran(1e-6, 2e-6, ["i(v1)"])["i(v1)"][-1] == pytest.approx(1e-3, rel=1e-9)
    plots, transcript = engine.run_file(folder / "circuit.cir")
    assert plots and ECHO not in transcript.text()
    assert not in_work.exists() and not in_home.exists() and not in_folder.exists()

    # ngspice -b as a user would run it finds each planted file: the netlist's folder first, then the working
    # folder, then $HOME.
    def plain(cwd: Path, circuit: Path) -> str:
        proc = subprocess.run([install.executable(), "-b", "-r", str(tmp_path / "plain.raw"), str(circuit)], cwd=cwd,
                              capture_output=True, text=True, timeout=60)
        return proc.stdout + proc.stderr

    assert ECHO in plain(clean, folder / "circuit.cir") and in_folder.exists()
    assert ECHO in plain(work, clean / "circuit.cir") and in_work.exists()
    assert ECHO in plain(clean, clean / "circuit.cir") and in_home.exists()


@pytest.mark.parametrize("command", ["demo", "doctor"])
def test_cli_commands_run_no_spiceinit(tmp_path, command):
    """`cosim demo` (the shared engine) and `cosim doctor` (the shared library and an `ngspice -b` probe of OSDI)
    from a folder holding a planted `.spiceinit`, with a planted one in $HOME."""
    work, home = tmp_path / "work", tmp_path / "home"
    in_work, in_home = _plant(work, tmp_path / "ran-from-work"), _plant(home, tmp_path / "ran-from-home")
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", command], cwd=work, env=_env(HOME=str(home)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # doctor exits 1 when an optional tool is missing
    assert not in_work.exists() and not in_home.exists() and ECHO not in proc.stdout + proc.stderr
