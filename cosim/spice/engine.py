"""What every engine offers: load a circuit once, alter it per step, run `tran … uic` (or a DC operating point or
sweep), return numpy vectors.

Alterations go through the IR (so they are validated like the netlist itself) and are remembered, so that
the circuit as simulated can always be written out again: for a failing step, an export or a batch run.
Repeated state alterations of subcircuit instances (numbers only, the training loop's bulk) take a fast
path: the values are checked exactly as the IR checks instance parameters, without rebuilding the element.

A transient that does not converge is run once more with SAFER_OPTIONS and a 10× smaller maximum step
(docs/reliability.md says why these); an operating point or DC sweep, with SAFER_DC_OPTIONS (more Newton
iterations); if that fails too, ConvergenceError names the netlist kept on disk.
"""

from __future__ import annotations

import abc
import logging
import math
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from cosim import atomic
from cosim.errors import ConfigError, ConvergenceError, NetlistError, SimulationError, SimulationTimeout
from cosim.netlist import ir
from cosim.netlist.writers import ngspice

Waveforms = dict[str, np.ndarray]

log = logging.getLogger(__name__)

# The retry of a non-converging transient: Gear integration (L-stable: no trapezoidal ringing on stiff nodes),
# 100 Newton iterations per time point instead of ngspice's 10 (itl4), and a 10× smaller maximum step, which
# also lowers ngspice's smallest allowed step (delmin = 1e-11 × tmax) by 10×.
SAFER_OPTIONS: dict[str, float | str] = {"method": "gear", "itl4": 100.0}
SAFER_TMAX_DIVISOR = 10
# The retry of a non-converging operating point or DC sweep: 10× ngspice's Newton iteration limits for the
# operating point (itl1, default 100) and for each sweep point (itl2, default 50).
SAFER_DC_OPTIONS: dict[str, float | str] = {"itl1": 1000.0, "itl2": 500.0}


def ngspice_seed(seed: int) -> int:
    """ngspice's random seed for a run seed. ngspice takes 0 as "seed from the clock" (two runs with
    `setseed 0` or `.options seed=0` draw different numbers), so run seeds map to 1 … 2³¹ − 1."""
    return int(seed) % (2**31 - 1) + 1


def failed_netlist_dir() -> Path:
    """Where failing netlists are kept for the user to inspect ($COSIM_FAILED_DIR, default a temp folder)."""
    base = os.environ.get("COSIM_FAILED_DIR") or Path(os.environ.get("TMPDIR", "/tmp")) / "cosim-failed"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Engine(abc.ABC):
    """Common state of the shared-library and batch engines."""

    backend: str = "abstract"

    # Engines that can run a transient again with SAFER_OPTIONS (see _run_safer).
    can_retry = False
    # Engines that run operating points and DC sweeps (op(), dc()), not only transients.
    can_sweep = False

    def __init__(self, *, seed: int | None = None, num_threads: int | None = None, timeout_s: float = 300.0,
                 convergence_retry: bool = True) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < math.inf:
            raise ConfigError(f"timeout_s must be a finite number of seconds > 0, got {timeout_s!r}")
        self.seed = seed
        # One thread by default: with more, ngspice's OpenMP workers spin against its background thread and
        # OSDI steps become erratic (3 ms to 600 ms measured on 2 cores); parallelism is across processes.
        self.num_threads = num_threads or 1
        self.timeout_s = float(timeout_s)
        self._netlist: ir.Netlist | None = None
        self._changes: dict[str, dict[str, object]] = {}
        self._elements: dict[str, ir.Element] = {}  # lower-case name -> element of the loaded netlist
        self._vectors_checked: dict[tuple, tuple[str, ...]] = {}
        self.steps = 0
        self.loads = 0  # circuits loaded so far (a reload replaces what the simulator held)
        self.busy_s = 0.0  # wall time spent inside simulations (for "how much time is ours" measurements)
        self.convergence_retry = bool(convergence_retry)
        self.retries = 0  # transients that converged only on the retry with SAFER_OPTIONS

    # --- circuit -----------------------------------------------------------------------------------

    def load(self, netlist: ir.Netlist) -> None:
        """Validate and load `netlist`; previous circuits and alterations are forgotten."""
        if not isinstance(netlist, ir.Netlist):
            raise NetlistError(f"load() takes a Netlist, got {type(netlist).__name__}")
        netlist.validate()
        self._netlist = netlist
        self._changes = {}
        self._elements = {e.name.lower(): e for e in netlist.elements}
        self._load_text(ngspice.write(self._circuit_only(netlist)))
        self.loads += 1

    @property
    def netlist(self) -> ir.Netlist:
        """The circuit as it will be simulated next: the loaded netlist with every alteration applied."""
        net = self._require()
        return net.with_changes(self._changes) if self._changes else net

    def alter(self, name: str, **changes: object) -> None:
        """Change fields of one element (`value_ohm`, `ic_V`, `waveform`, …) or a subcircuit instance's
        state parameters before the next run."""
        element = self._element(name)
        if type(element) is ir.SubcircuitInstance and changes:
            # Instance parameters are numbers: check them as the IR does (finite numbers, plain names) without
            # rebuilding the instance; Engine.netlist applies them through the IR when it is asked for.
            values = ir._check_params(changes, element.name)
            self._apply_alter(element, values)
            self._changes.setdefault(element.name, {}).update(values)
            return
        merged = {**self._changes.get(element.name, {}), **changes}
        ir._apply_changes(element, merged)  # validates the values exactly as the IR would
        self._apply_alter(element, changes)
        self._changes[element.name] = merged

    def set_initial_state(self, values: Mapping[str, float], param: str) -> None:
        """Set one state parameter (e.g. a memristor's x0) on many subcircuit instances at once."""
        for name, value in values.items():
            self.alter(name, **{param: value})

    def _element(self, name: str) -> ir.Element:
        element = self._elements.get(name.lower()) if isinstance(name, str) else None
        if element is None or self._netlist is None:
            return self._require().element(name)  # raises the IR's error for unknown names
        return element

    # --- simulation --------------------------------------------------------------------------------

    def tran(
        self,
        step_s: float,
        stop_s: float,
        vectors: Sequence[str],
        *,
        tmax_s: float | None = None,
        start_s: float = 0.0,
        last_only: bool = False,
    ) -> Waveforms:
        """Run a transient from the stored state (`uic`) and return `time` plus the requested vectors."""
        result = self.run(ir.Tran(step_s, stop_s, start_s, tmax_s, uic=True), vectors)
        if last_only:
            return {k: v[-1:] for k, v in result.items()}
        return result

    def op(self, vectors: Sequence[str]) -> dict[str, float]:
        """The DC operating point (capacitors open): the requested vectors as numbers."""
        return {k: float(v[0]) for k, v in self.run(ir.Op(), vectors).items()}

    def dc(self, sweep: ir.DcSweep, vectors: Sequence[str]) -> Waveforms:
        """A DC sweep: `sweep` (the swept values) plus the requested vectors, one entry per point."""
        if not isinstance(sweep, ir.DcSweep):
            raise NetlistError(f"dc() takes an ir.DcSweep, got {type(sweep).__name__}")
        return self.run(sweep, vectors)

    def run(self, analysis: ir.Analysis, vectors: Sequence[str]) -> Waveforms:
        """Run one analysis on the loaded circuit, with the convergence retry, timeout and typed errors."""
        if not isinstance(analysis, ir.ANALYSIS_TYPES):
            raise NetlistError(f"run() takes an analysis ({', '.join(t.__name__ for t in ir.ANALYSIS_TYPES)}), "
                               f"got {type(analysis).__name__}")
        if not isinstance(analysis, ir.Tran) and not self.can_sweep:
            raise SimulationError(f"the {self.backend} engine runs transients only")
        key = tuple(vectors)
        checked = self._vectors_checked.get(key)
        if checked is None:  # the same lists come back every step: check each list once
            checked = tuple(dict.fromkeys(ir.check_vector(v) for v in vectors))
            if len(self._vectors_checked) > 256:
                self._vectors_checked.clear()
            self._vectors_checked[key] = checked
        vectors = checked
        self._require()
        started = time.perf_counter()
        try:
            try:
                result = self._run(analysis, vectors)
            except ConvergenceError as first:
                if not (self.convergence_retry and self.can_retry):
                    raise
                result = self._retry(analysis, vectors, first)
        finally:
            self.busy_s += time.perf_counter() - started
        self.steps += 1
        return result

    # --- for subclasses ----------------------------------------------------------------------------

    @abc.abstractmethod
    def _load_text(self, text: str) -> None: ...

    @abc.abstractmethod
    def _apply_alter(self, element: ir.Element, changes: Mapping[str, object]) -> None: ...

    @abc.abstractmethod
    def _run(self, analysis: ir.Analysis, vectors: tuple[str, ...]) -> Waveforms: ...

    def _run_safer(self, analysis: ir.Analysis, vectors: tuple[str, ...]) -> Waveforms:
        """Run `analysis` once with safer_options(analysis) added to the circuit (engines with can_retry = True)."""
        raise NotImplementedError

    def _retry(self, analysis: ir.Analysis, vectors: tuple[str, ...], first: ConvergenceError) -> Waveforms:
        """The one retry of a non-converging run; ConvergenceError (keeping the first netlist) if it fails."""
        safer = safer_analysis(analysis)
        try:
            result = self._run_safer(safer, vectors)
        except SimulationError as second:
            kept = getattr(second, "netlist_path", None)
            error = ConvergenceError(
                f"{getattr(first, 'summary', first)}; the retry with {describe_safer(analysis)} failed too: "
                f"{getattr(second, 'summary', str(second))}"
                + (f" (retry netlist kept at {kept})" if kept else ""),
                first.ngspice_output, first.netlist_path)
            error.summary, error.retry_netlist_path = getattr(first, "summary", str(first)), kept
            raise error from None
        self.retries += 1
        log.warning("%s did not converge (%s); it converged on the retry with %s", analysis_name(analysis),
                    getattr(first, "summary", first), describe_safer(analysis))
        if first.netlist_path is not None:  # the failure is resolved: nothing for the user to inspect
            first.netlist_path.unlink(missing_ok=True)
        return result

    def _require(self) -> ir.Netlist:
        if self._netlist is None:
            raise NetlistError("no circuit loaded: call load(netlist) first")
        return self._netlist

    @staticmethod
    def _circuit_only(netlist: ir.Netlist) -> ir.Netlist:
        """Analyses and save lists are the engine's business, not the loaded circuit's."""
        out = ir.Netlist(netlist.title)
        out.items = [i for i in netlist if not isinstance(i, (*ir.ANALYSIS_TYPES, ir.Save))]  # already validated
        return out

    def standalone_netlist(self, analysis: ir.Analysis, vectors: Sequence[str] = (), *,
                           safer: bool = False) -> ir.Netlist:
        """The current circuit plus an analysis (and save list): a file that reproduces the next run; with
        `safer`, the circuit carries the convergence retry's options (safer_options)."""
        net = self._circuit_only(self.netlist)
        if safer:
            net = with_safer_options(net, safer_options(analysis))
        options = {"seed": ngspice_seed(self.seed)} if self.seed is not None else {}
        if options:
            net.add(ir.Options(options))
        net.add(ir.Comment("analysis: the transient of this operation and the vectors it saves"), analysis)
        if vectors:
            net.add(ir.Save(tuple(vectors)))
        return net

    def keep_netlist(self, analysis: ir.Analysis, vectors: Sequence[str], *, safer: bool = False, kind: str = "failed") -> Path:
        """Write the netlist that reproduces the next run to failed_netlist_dir() and return its path."""
        path = failed_netlist_dir() / f"{kind}-{os.getpid()}-{time.time_ns()}.cir"
        return atomic.write_text(path, ngspice.write(self.standalone_netlist(analysis, vectors, safer=safer)))

    def _failure(self, analysis: ir.Analysis, vectors: Sequence[str], output: str, errors: list[str],
                 convergence: bool, *, safer: bool = False) -> SimulationError:
        """The typed error for a failed run, with a netlist that reproduces it kept on disk."""
        path = self.keep_netlist(analysis, vectors, safer=safer)
        summary = "; ".join(errors)[:500] or "no output written"
        if convergence:
            error = ConvergenceError(f"ngspice did not converge: {summary}", output, path)
        else:
            error = SimulationError(f"ngspice failed: {summary} (netlist kept at {path})", output)
            error.netlist_path = path
        error.summary = f"ngspice {'did not converge' if convergence else 'failed'}: {summary}"
        return error

    def _timeout(self, analysis: ir.Analysis, vectors: Sequence[str], *, safer: bool = False) -> SimulationTimeout:
        """The typed error for a run stopped at timeout_s, with its netlist kept on disk."""
        path = self.keep_netlist(analysis, vectors, safer=safer, kind="timeout")
        what = analysis_name(analysis)
        error = SimulationTimeout(f"{what} did not finish within {self.timeout_s:g} s and was stopped "
                                  f"(netlist kept at {path})")
        error.netlist_path = path
        error.summary = f"{what} did not finish within {self.timeout_s:g} s"
        return error


def analysis_name(analysis: ir.Analysis) -> str:
    return {ir.Tran: "transient", ir.Op: "operating point", ir.DcSweep: "DC sweep"}[type(analysis)]


def safer_analysis(analysis: ir.Analysis) -> ir.Analysis:
    """The retry's analysis: a transient with a SAFER_TMAX_DIVISOR times smaller maximum step; others unchanged."""
    if not isinstance(analysis, ir.Tran):
        return analysis
    return ir.Tran(analysis.step_s, analysis.stop_s, analysis.start_s, analysis.tmax_s / SAFER_TMAX_DIVISOR,
                   uic=analysis.uic)


def safer_options(analysis: ir.Analysis) -> dict[str, float | str]:
    return dict(SAFER_OPTIONS) if isinstance(analysis, ir.Tran) else dict(SAFER_DC_OPTIONS)


def with_safer_options(netlist: ir.Netlist, options: Mapping[str, float | str] = SAFER_OPTIONS) -> ir.Netlist:
    """`netlist` with `options` replacing whatever it set for the same keys."""
    out = ir.Netlist(netlist.title)
    for item in netlist:
        if isinstance(item, ir.Options):
            kept = {k: v for k, v in item.values.items() if k.lower() not in options}
            if not kept:
                continue
            item = ir.Options(kept)
        out.items.append(item)
    out.items.append(ir.Options(dict(options)))
    return out


def describe_safer(analysis: ir.Analysis | None = None) -> str:
    chosen = safer_options(analysis) if analysis is not None else SAFER_OPTIONS
    options = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in chosen.items())
    if analysis is None or isinstance(analysis, ir.Tran):
        return f"{options} and a {SAFER_TMAX_DIVISOR}x smaller maximum step"
    return options
