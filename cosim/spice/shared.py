"""SharedEngine: ngspice as a shared library in this process, the fast path of the training loop.

The circuit is parsed once; each step alters sources and state capacitors, runs `tran … uic` with an
explicit tmax (or an operating point, or a DC sweep) in ngspice's background thread (so a hung run can be
stopped by a timeout), copies the requested vectors into numpy and destroys the plot. The command history that ngspice keeps is cleared
periodically so memory stays flat over long runs, and only while no background run is active: clearing it
(ngSpice_Command(NULL) frees ngspice's control structures) during a `bg_tran` crashes the process.

libngspice is one instance per process; it keeps every circuit loaded into it and simulates the current one.
Each engine's circuit carries a title unique in the process, and the engine makes it current (`setcirc`,
microseconds) before it alters or runs anything, so several engines in one process (the tiles of a layer, a
board and its read-mode circuit, a crossbar and a neuron bank) each simulate their own circuit without loading
it again (seconds for a 128×128 tile). At most RESIDENT_CIRCUITS stay loaded: past that the least recently used
one is removed, and its engine loads it again (the netlist with every alteration so far, which Engine.netlist
keeps) when it next runs; an engine's circuit is removed when the engine is garbage-collected. ngspice's random
generator is shared too: an engine's seed is set when the engine is made.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import tempfile
import sys
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from cosim.errors import NetlistError, SimulationError
from cosim.netlist import ir
from cosim.netlist.ir import check_number
from cosim.netlist.writers import ngspice
from cosim.netlist.numbers import number
from cosim.spice import install
from cosim.spice.engine import ngspice_seed, Engine, Waveforms, safer_options, with_safer_options
from cosim.spice.messages import Transcript

log = logging.getLogger(__name__)
logging.getLogger("PySpice").setLevel(logging.CRITICAL)  # it warns about every ngspice newer than 34

# Sweeps asking for more vectors than this keep every vector instead (see _simulate).
_SAVE_LIST_MAX = 256

# Circuits kept loaded in libngspice at once (module docstring): enough for a layer's tiles, a board's read-mode
# circuit and a neuron bank in one worker. Memory is the price: loading a 128×128 tile's board grew the process by
# 0.18 GB, its read-mode circuit (16 samples per sweep) by 0.58 GB (measured RSS).
RESIDENT_CIRCUITS = 16
_TITLES = itertools.count(1)
_LISTED = re.compile(r"^\s*(?:Current)?\s*(\d+)\t(.*)$")

# ngspice truncates command lines past about 1 kB (a long `alter @v1[pwl] = [...]` silently loses points);
# longer alterations are applied by reloading the circuit with the new values instead.
_MAX_COMMAND = 1000


def _library():
    """The process-wide ngspice instance (libngspice holds global state: one per process)."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = _make_library()
    return _LIBRARY


_LIBRARY = None


def _make_library():
    path = install.library_path()
    try:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except ImportError as exc:  # pragma: no cover - PySpice is a hard dependency
        raise SimulationError(f"PySpice is not importable: {exc}") from exc

    class QuietNgSpice(NgSpiceShared):
        """NgSpiceShared whose callbacks sort messages by meaning instead of by stream."""

        LIBRARY_PATH = path.replace("{", "{{").replace("}", "}}")

        def __init__(self) -> None:
            self.transcript = Transcript()
            self.started = threading.Event()  # the background thread of the current run has started
            self.finished = threading.Event()  # ... and has ended
            self.exited = False
            self.owner: object | None = None  # the token of the engine whose circuit is current
            self.resident: OrderedDict[str, None] = OrderedDict()  # circuit titles loaded, least recently used first
            self.orphans: set[str] = set()  # titles of garbage-collected engines' circuits, removed at the next load
            self.broken: str | None = None  # set when a background run could not be stopped
            self.interrupted = False  # a Ctrl-C arrived during a callback (see _defer_interrupts)
            self.starting = True
            super().__init__(ngspice_id=0, send_data=False)
            self.starting = False
            self._stdout.clear()

        @staticmethod
        def _send_char(message_c, ngspice_id, user_data):
            self = ffi.from_handle(user_data)
            message = ffi.string(message_c).decode("utf-8", "replace")
            stream, _, text = message.partition(" ")
            if stream not in ("stdout", "stderr"):
                stream, text = "stdout", message
            if self.starting:  # PySpice's version detection reads _stdout during __init__; later it would only grow
                self._stdout.append(text)
            self.transcript.add(stream, text)
            return 0

        @staticmethod
        def _background_thread_running(no_run, ngspice_id, user_data):
            # ngspice passes True when the background thread is *not* running (it has finished).
            self = ffi.from_handle(user_data)
            (self.finished if no_run else self.started).set()
            return 0

        @staticmethod
        def _exit(exit_status, immediate_unloading, quit_exit, ngspice_id, user_data):
            ffi.from_handle(user_data).exited = True
            return exit_status

        def usable(self) -> None:
            """Refuse commands once ngspice has exited or a run could not be stopped."""
            if self.exited:
                raise SimulationError("ngspice has exited in this process; start a new process")
            if self.broken:
                raise SimulationError(self.broken)

        def command(self, text: str) -> Transcript:
            self.usable()
            self.transcript = Transcript()
            refused = self._ngspice_shared.ngSpice_Command(text.encode("ascii")) != 0
            self.raise_interrupt()
            if refused:
                raise SimulationError(f"ngspice refused the command {text[:80]!r}", self.transcript.text())
            return self.transcript

        def commands(self, texts: list[str]) -> Transcript:
            """Several commands, one transcript; the first refused one stops the batch."""
            self.usable()
            self.transcript = Transcript()
            send = self._ngspice_shared.ngSpice_Command
            for text in texts:
                if send(text.encode("ascii")) != 0:
                    self.raise_interrupt()
                    raise SimulationError(f"ngspice refused the command {text[:80]!r}", self.transcript.text())
            self.raise_interrupt()
            return self.transcript

        def raise_interrupt(self) -> None:
            if self.interrupted:
                self.interrupted = False
                raise KeyboardInterrupt

        def running(self) -> bool:
            return bool(self._ngspice_shared.ngSpice_running())

        def clear_history(self) -> bool:
            """Free ngspice's command memory; refused (False) while a background run is active, where it would
            free the control block that run executes (a segmentation fault, docs/reliability.md)."""
            if self.running() or not self.finished.is_set():
                return False
            self._ngspice_shared.ngSpice_Command(ffi.NULL)
            return True

        def load_lines(self, text: str) -> Transcript:
            self.transcript = Transcript()
            keep = [ffi.new("char[]", line.encode("ascii")) for line in text.splitlines()] + [ffi.NULL]
            refused = self._ngspice_shared.ngSpice_Circ(ffi.new("char *[]", keep)) != 0
            self.raise_interrupt()
            if refused:
                raise SimulationError("ngspice could not load the circuit", self.transcript.text())
            return self.transcript

        def circuit_number(self, title: str) -> int | None:
            """setcirc's number of the loaded circuit whose title starts with `title` (ngspice lists the newest
            first)."""
            for line in self.command("setcirc").text().splitlines():
                match = _LISTED.match(line)
                if match and match.group(2).split(" ", 1)[0].lower() == title:
                    return int(match.group(1))
            return None

        def select(self, title: str) -> bool:
            """Make the circuit titled `title` current; False when it is not loaded. `resident` holds every title
            loaded (a title enters it before its circuit is loaded), so other titles need no listing."""
            number_ = self.circuit_number(title) if title in self.resident else None
            if number_ is None:
                self.resident.pop(title, None)
                return False
            self.command(f"setcirc {number_}")
            self.resident.move_to_end(title)
            return True

        def remove(self, title: str) -> None:
            """Remove the circuit titled `title` if it is loaded."""
            if self.select(title):
                self.command("remcirc")
            self.resident.pop(title, None)
            self.owner = None  # ngspice made another circuit current

        def make_room(self) -> None:
            """Remove garbage-collected engines' circuits, then the least recently used ones past the limit."""
            for title in list(self.orphans):
                self.orphans.discard(title)
                self.remove(title)
            while len(self.resident) >= RESIDENT_CIRCUITS:
                self.remove(next(iter(self.resident)))

        def vector(self, name: str, last_only: bool) -> np.ndarray | None:
            info = self._ngspice_shared.ngGet_Vec_Info(name.encode("ascii"))
            if info == ffi.NULL or info.v_realdata == ffi.NULL or info.v_length <= 0:
                return None
            n = info.v_length
            if last_only:
                return np.array([info.v_realdata[n - 1]])
            return np.frombuffer(ffi.buffer(info.v_realdata, n * 8), dtype=np.float64).copy()

    with _startup_folder():
        library = QuietNgSpice()
    library.finished.set()  # no background run yet
    _defer_interrupts(library)
    return library


@contextlib.contextmanager
def _startup_folder() -> Iterator[None]:
    """Start libngspice where it finds no user start-up file. Its start-up runs `.spiceinit` from the working
    folder, or else from the home folder (taken from the password database, not $HOME), and such a file can run
    shell commands (`shell …`). In a fresh private folder holding an empty `.spiceinit` of cosim's, that file is
    the one read and the home folder is never consulted; the working folder is restored afterwards.
    ngspice reads start-up files only there (`ngSpice_Init`); no later command of the engine reads them."""
    previous = os.open(".", os.O_RDONLY)
    try:
        with tempfile.TemporaryDirectory(prefix="cosim-ngspice-start-") as tmp:
            Path(tmp, ".spiceinit").write_text("* cosim: read instead of a .spiceinit of the working or home folder\n")
            os.chdir(tmp)
            try:
                yield
            finally:
                os.fchdir(previous)
    finally:
        os.close(previous)


def _defer_interrupts(library) -> None:
    """A Ctrl-C that lands while ngspice calls back into Python (its output callback) is raised inside the
    callback, where cffi reports it as unraisable and drops it: the run would go on as if nothing happened.
    Keep it instead, and raise it when the ngspice call returns (`raise_interrupt`)."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if (unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt)
                and "cffi callback" in (unraisable.err_msg or "")):
            library.interrupted = True
        else:
            previous(unraisable)

    sys.unraisablehook = hook


class SharedEngine(Engine):
    """Persistent libngspice engine (see module docstring)."""

    backend = "spice"
    can_retry = True
    can_sweep = True

    def __init__(self, *, seed: int | None = None, num_threads: int | None = None, timeout_s: float = 300.0,
                 history_limit: int = 400, convergence_retry: bool = True) -> None:
        super().__init__(seed=seed, num_threads=num_threads, timeout_s=timeout_s, convergence_retry=convergence_retry)
        self._ng = _library()
        self.history_limit = history_limit
        self._commands = 0
        self._saved: tuple[str, ...] | None = None
        self._reload_pending = False
        self._state_alters: dict[str, Mapping[str, tuple[str, float]]] = {}  # subcircuit -> (alter target, scale)
        self._token = object()  # what libngspice's owner is while this engine's circuit is current
        self._title = f"cosim-{os.getpid()}-{next(_TITLES)}"  # the circuit's title in ngspice, unique in the process
        weakref.finalize(self, self._ng.orphans.add, self._title)
        self.reloads = 0  # times this engine loaded its circuit again after it had been removed
        self.switches = 0  # times this engine made its circuit current again after another engine's had run
        self.version = self._ng.ngspice_version or 0
        self._cmd(f"set num_threads={int(self.num_threads)}")
        if seed is not None:
            self._cmd(f"setseed {ngspice_seed(seed)}")

    # --- Engine hooks --------------------------------------------------------------------------------

    def _load_text(self, text: str) -> None:
        self._ng.owner = None  # nobody's circuit until this one is in place
        self._ng.command("destroy all")
        self._ng.remove(self._title)  # this engine's earlier circuit
        self._ng.make_room()
        self._saved = None
        self._state_alters = {}
        osdi = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("pre_osdi ")]
        for path in osdi:  # in shared mode, models are loaded by command before the circuit
            self._check(self._ng.command(f"osdi {path}"), f"loading the OSDI model {path}")
        first, _, rest = _strip_control_blocks(text).partition("\n")
        self._ng.resident[self._title] = None  # from here on ngspice may hold a circuit by this title
        transcript = self._ng.load_lines(f"{self._title} {first}\n{rest}")
        self._check(transcript, "loading the circuit")
        self._ng.owner = self._token

    def _owns_circuit(self) -> bool:
        """Make this engine's circuit current; False when it is no longer loaded (it is loaded again before the
        next run)."""
        if self._ng.owner is self._token:
            return True
        if not self._reload_pending and self._ng.select(self._title):
            self._ng.owner = self._token
            self._saved = None  # the save list in force was set for another circuit
            self.switches += 1
            return True
        self._reload_pending = True  # Engine.netlist holds the circuit with every alteration
        return False

    def set_initial_state(self, values: Mapping[str, float], param: str) -> None:
        """Engine.set_initial_state in one batch: every value checked as `alter` checks it, then one ngspice
        command per instance without the per-command bookkeeping (every operation writes every state: at
        4096 devices the one-by-one path cost ~0.1 s per operation, a fifth of an operating-point read)."""
        items = [(self._element(name), check_number(value, f"{name} parameter {param!r}"))
                 for name, value in values.items()]
        commands = []
        for element, value in items:
            if type(element) is not ir.SubcircuitInstance:
                raise NetlistError(f"{element.name} is not a subcircuit instance; it has no state {param!r}")
            target = self._state_targets(element.subckt).get(param)
            if target is None:
                raise NetlistError(f"{element.name}: {param!r} is not a state parameter of {element.subckt}")
            commands.append(_state_alter(element.name.lower(), *target, value))
        for element, value in items:
            self._changes.setdefault(element.name, {})[param] = value
        self._owns_circuit()
        if not self._reload_pending:  # else the reload writes Engine.netlist, which holds the values
            self._check(self._ng.commands(commands), f"setting {len(commands)} states")
            self._commands += len(commands)
            self._count()

    def _apply_alter(self, element: ir.Element, changes: Mapping[str, object]) -> None:
        self._owns_circuit()  # another engine's circuit never receives this one's alterations
        if type(element) is ir.SubcircuitInstance:  # state capacitors (or holding sources): the bulk of every step
            targets = self._state_targets(element.subckt)
            name = element.name.lower()
            commands = []
            for field, value in changes.items():
                target = targets.get(field)
                if target is None:
                    raise NetlistError(f"{element.name}: only state parameters {sorted(targets)} can change after loading")
                commands.append(_state_alter(name, *target, value))
            if not self._reload_pending:
                for command in commands:
                    self._cmd(command)
            return
        commands = _alter_commands(element, changes, self._require())
        if self._reload_pending or any(len(c) > _MAX_COMMAND for c in commands):
            self._reload_pending = True  # Engine.netlist already holds every change
            return
        for command in commands:
            self._cmd(command)

    def _run(self, analysis: ir.Analysis, vectors: tuple[str, ...]) -> Waveforms:
        self._ready()
        return self._simulate(analysis, vectors, safer=False)

    def _ready(self) -> None:
        """Before every simulation: this engine's circuit, with every alteration, is the one loaded."""
        if not self._owns_circuit():
            self.reloads += 1
        if self._reload_pending:
            self._load_text(ngspice.write(self._circuit_only(self.netlist)))
            self._reload_pending = False

    def _run_safer(self, analysis: ir.Analysis, vectors: tuple[str, ...]) -> Waveforms:
        """Load the circuit with the retry's options for this one run; the next run reloads it without them."""
        try:
            net = with_safer_options(self._circuit_only(self.netlist), safer_options(analysis))
            self._load_text(ngspice.write(net))
            return self._simulate(analysis, vectors, safer=True)
        finally:
            self._reload_pending = True

    def _simulate(self, analysis: ir.Analysis, vectors: tuple[str, ...], safer: bool) -> Waveforms:
        # ngspice resolves each saved name against every node before an analysis: a sweep's few points are
        # cheaper to keep whole than a long save list (0.5 s per analysis for 4096 names at 22k nodes, measured);
        # a transient's hundreds of points are not.
        self._save(vectors if isinstance(analysis, ir.Tran) or len(vectors) <= _SAVE_LIST_MAX else ())
        command = "bg_" + ngspice.line(analysis).lstrip(".")
        self._ng.started.clear()
        self._ng.finished.clear()
        try:
            transcript = self._ng.command(command)
            finished = self._ng.finished.wait(self.timeout_s)
        except BaseException:  # e.g. Ctrl-C while waiting: stop the run before leaving
            self._halt()
            raise
        if not finished:
            self._halt()
            raise self._timeout(analysis, vectors, safer=safer)
        # Counted (and the command history possibly cleared) only now: clearing it while the background
        # thread is still running the transient frees the control blocks that thread is executing
        # ("doblock: Internal Error: bad block type", or a crash).
        self._count()
        errors = transcript.errors()
        if errors:
            self._ng.command("destroy all")
            raise self._failure(analysis, vectors, transcript.text(), errors, transcript.is_convergence_failure(),
                                safer=safer)
        if isinstance(analysis, ir.Tran):
            result = {"time": self._vector("time")}
        elif isinstance(analysis, ir.DcSweep):
            result = {"sweep": _sweep_values(analysis)}
        else:
            result = {}
        for v in vectors:
            result[v] = self._vector(v)
        self._ng.command("destroy all")
        return result

    def _halt(self) -> None:
        """Stop the background run; if ngspice cannot stop it, refuse every later command in this process."""
        if self._ng.finished.is_set():
            return
        # A bg_halt sent before the thread has started is lost, and ngspice then takes the run for stopped
        # while it goes on: wait for the start first.
        self._ng.started.wait(10.0)
        self._ng.command("bg_halt")
        if not self._ng.finished.wait(10.0):
            self._ng.broken = ("ngspice's background run could not be stopped after a timeout; "
                               "ngspice is unusable in this process, start a new one")
            return
        self._ng.command("destroy all")

    # --- helpers -------------------------------------------------------------------------------------

    def _state_targets(self, subckt: str) -> Mapping[str, tuple[str, float]]:
        targets = self._state_alters.get(subckt.lower())
        if targets is None:
            targets = self._state_alters[subckt.lower()] = state_targets(self._require().subcircuit(subckt))
        return targets

    def _vector(self, name: str) -> np.ndarray:
        data = self._ng.vector(name, last_only=False)
        if data is None:
            raise SimulationError(f"ngspice has no vector {name!r}; check the node or source name")
        return data

    def _save(self, vectors: tuple[str, ...]) -> None:
        """Store only the requested vectors (none: all of them): ngspice's cost grows with saved names × nodes."""
        if vectors == self._saved:
            return
        self._cmd("delete all")
        chunk: list[str] = []
        for v in vectors:
            if sum(len(c) + 1 for c in chunk) + len(v) > _MAX_COMMAND - 10:
                self._cmd("save " + " ".join(chunk))
                chunk = []
            chunk.append(v)
        if chunk:
            self._cmd("save " + " ".join(chunk))
        self._saved = vectors

    def _cmd(self, command: str) -> None:
        self._check(self._ng.command(command), command[:60])
        self._count()

    def _count(self) -> None:
        self._commands += 1
        if self._commands >= self.history_limit and self._ng.clear_history():
            self._commands = 0

    @staticmethod
    def _check(transcript: Transcript, doing: str) -> None:
        errors = transcript.errors()
        if errors:
            raise SimulationError(f"ngspice error while {doing}: {'; '.join(errors)[:500]}", transcript.text())


def _strip_control_blocks(text: str) -> str:
    """Drop `.control` blocks (the writer only emits `pre_osdi` there, which shared mode runs as a command)."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip().lower() == ".control":
            inside = True
        elif line.strip().lower() == ".endc":
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def state_targets(definition: ir.SubcircuitDef | ir.SubcircuitLibrary) -> dict[str, tuple[str, float]]:
    """State parameter -> (the ngspice element it is altered on, scale): a capacitor's ic, or the dc value of a
    holding current source (a library's dc_params)."""
    targets = {param: (f"c.{{}}.{cap.lower()}", 1.0) for param, cap in definition.ic_params.items()}
    for param, (source, scale) in getattr(definition, "dc_params", {}).items():
        targets[param] = (f"i.{{}}.{source.lower()}", scale)
    return targets


def _state_alter(instance: str, target: str, scale: float, value: float) -> str:
    key = "ic" if target.startswith("c.") else "dc"
    return f"alter {target.format(instance)} {key}={number(value * scale)}"


def _sweep_values(sweep: ir.DcSweep) -> np.ndarray:
    """The values ngspice steps through (start + k·step, the last one not past stop)."""
    return sweep.start + sweep.step * np.arange(sweep.points)


def _alter_commands(element: ir.Element, changes: Mapping[str, object], netlist: ir.Netlist) -> list[str]:
    """Translate IR field changes into ngspice `alter` commands."""
    name = element.name.lower()
    commands = []
    for field, value in changes.items():
        if isinstance(element, ir.SubcircuitInstance):
            targets = state_targets(netlist.subcircuit(element.subckt))
            if field not in targets:
                raise NetlistError(f"{element.name}: only state parameters {sorted(targets)} can change after loading")
            commands.append(_state_alter(name, *targets[field], value))
        elif isinstance(element, ir.Resistor) and field == "value_ohm":
            commands.append(f"alter {name} resistance={number(value)}")
        elif isinstance(element, ir.Capacitor) and field in ("ic_V", "value_F"):
            key = "ic" if field == "ic_V" else "capacitance"
            commands.append(f"alter {name} {key}={number(value)}")
        elif isinstance(element, (ir.VoltageSource, ir.CurrentSource)) and field == "waveform":
            commands.append(_waveform_alter(element, value))
        else:
            raise NetlistError(f"{element.name}: {field!r} cannot be altered in a loaded circuit")
    return commands


def _waveform_alter(element, waveform: ir.Waveform) -> str:
    if type(waveform) is not type(element.waveform):
        raise NetlistError(
            f"{element.name}: a loaded {type(element.waveform).__name__} source cannot become "
            f"{type(waveform).__name__}; build the circuit with the waveform kind you will use"
        )
    name = element.name.lower()
    if isinstance(waveform, ir.Dc):
        return f"alter {name} dc={number(waveform.value)}"
    if isinstance(waveform, ir.Pwl):
        values = " ".join(f"{number(t)} {number(v)}" for t, v in zip(waveform.times_s, waveform.values))
        return f"alter @{name}[pwl] = [ {values} ]"
    if isinstance(waveform, ir.Pulse):
        w = waveform
        values = " ".join(map(number, (w.v1, w.v2, w.delay_s, w.rise_s, w.fall_s, w.width_s, w.period_s)))
        return f"alter @{name}[pulse] = [ {values} ]"
    w = waveform
    values = " ".join(map(number, (w.offset, w.amplitude, w.frequency_Hz, w.delay_s, w.damping_per_s, w.phase_deg)))
    return f"alter @{name}[sin] = [ {values} ]"
