"""Long-session soak of the shared engine: many steps of alter + tran in one process.

Each step does what a training step does to the engine: write all 30 device states back (`alter … ic=`),
drive sources with new PWL waveforms, run one `tran … uic` and read the states back. On the M-SDC board
(`--circuit board`, the default: the Eslami 9-3-1 network, 30 Verilog-A devices) steps alternate between
program-and-verify of one device and a forward read of one sample; on `--circuit crossbar` (a 9×3 resistive
crossbar whose 30 cells carry a state capacitor like the M-SDC subcircuit) every step is a read. The report
compares the start (after a warm-up) with the end of the session: resident memory (VmRSS) and the median time
per step over a window of steps, as CPU time of this process (ngspice's thread included) and as wall time.
Pass: growth < 50 MB and CPU-time slowdown < 10 %. CPU time follows the machine's load less than wall time
does, but still does (shared cores and caches: 2.4 to 4.4 ms for the same crossbar step within one session
on a loaded 2-core machine), so a fresh process runs the same warm-up and window right after the session as a
control: an end slower than the start but not slower than that fresh process means the machine changed, not
the session.

    PYTHONPATH=. .venv/bin/python benchmarks/soak.py                          # 20 000 board steps
    PYTHONPATH=. .venv/bin/python benchmarks/soak.py --circuit crossbar --steps 2000   # what the tests run

Two demonstrations behind docs/reliability.md ride along:

    PYTHONPATH=. .venv/bin/python benchmarks/soak.py --race 5         # why ngspice's history is never cleared
                                                                      # while a run is active
    PYTHONPATH=. .venv/bin/python benchmarks/soak.py --retry-table    # why the convergence retry uses these settings
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

MAX_GROWTH_MB = 50.0
MAX_SLOWDOWN = 0.10

EDGE_S = 1e-8
READ_S = 1e-6
PULSE_S = 1e-6
STEP_S = 5e-7


def rss_mb() -> float:
    """Resident set size of this process (VmRSS), MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _pwl(windows: list[tuple[float, float, float]], end_s: float):
    """A PWL at 0 V with a plateau (start, width, level) per window and EDGE_S edges, held until end_s."""
    from cosim.netlist import ir

    times, values = [0.0], [0.0]
    for start, width, level in windows:
        times += [start, start + EDGE_S, start + EDGE_S + width, start + 2 * EDGE_S + width]
        values += [0.0, level, level, 0.0]
    if end_s > times[-1]:
        times.append(end_s)
        values.append(0.0)
    return ir.Pwl(tuple(times), tuple(values))


def _hold(level: float, end_s: float):
    from cosim.netlist import ir

    return ir.Pwl((0.0, end_s), (level, level))


class CrossbarSoak:
    """A 9×3 resistive crossbar of 30 subcircuit cells (resistor + 1 F state capacitor set by `x0`, the
    M-SDC subcircuit's interface) read by PWL row pulses: the training loop's commands at a resistor's cost."""

    def __init__(self, seed: int = 0, history_limit: int = 400) -> None:
        from cosim.netlist import ir
        from cosim.spice.shared import SharedEngine

        cell = ir.SubcircuitDef("cell", ("te", "be"), (
            ir.Resistor("R1", "te", "be", 1e4), ir.Capacitor("cx", "x", "0", 1.0)), {"x0": 0.0}, ic_params={"x0": "cx"})
        net = ir.Netlist("cosim soak crossbar", [cell])
        rows, cols = 9, 3
        for r in range(rows):
            net.add(ir.VoltageSource(f"Vin{r}", f"row{r}", "0", _hold(0.0, 1e-6)))
        for c in range(cols + 1):  # the last column plays the reference column
            net.add(ir.VoltageSource(f"Vcol{c}", f"col{c}", "0", ir.Dc(0.0)))
        self.instances = []
        for r in range(rows):
            for c in range(cols + 1):
                if len(self.instances) < 30:
                    name = f"X{r}_{c}"
                    net.add(ir.SubcircuitInstance(name, (f"row{r}", f"col{c}"), "cell", {"x0": 0.5}))
                    self.instances.append(name)
        self.engine = SharedEngine(seed=seed, history_limit=history_limit)
        self.engine.load(net)
        self.states = [f"v({name.lower()}.x)" for name in self.instances]
        self.inputs = [f"Vin{r}" for r in range(rows)]
        self.outputs = [f"i(vcol{c})" for c in range(cols + 1)]
        self.rng = np.random.default_rng(seed)
        self.x = self.rng.uniform(0.3, 0.7, len(self.instances))

    def step(self, k: int) -> None:
        """Write the states back, drive the rows with one random binary sample, read columns and states."""
        self.engine.set_initial_state(dict(zip(self.instances, np.clip(self.x, 0.0, 1.0).tolist())), "x0")
        end = READ_S + 4 * EDGE_S
        for name, bit in zip(self.inputs, self.rng.integers(0, 2, len(self.inputs))):
            self.engine.alter(name, waveform=_pwl([(EDGE_S, READ_S, 0.1 * float(bit))], end))
        w = self.engine.tran(STEP_S, end, [*self.outputs, *self.states], tmax_s=STEP_S, last_only=True)
        # the states drift a little, as memristor states do under reads
        self.x = np.array([w[s][-1] for s in self.states]) + self.rng.normal(0.0, 1e-3, len(self.states))


class BoardSoak:
    """The Eslami 9-3-1 board (30 M-SDC devices, default experiment config) in a SharedEngine."""

    def __init__(self, seed: int = 0, history_limit: int = 400) -> None:
        from cosim.experiments import eslami2024, msdc_board
        from cosim.spice.shared import SharedEngine

        parts = eslami2024.board(eslami2024.Config(seed=seed))
        self.network = msdc_board.network(parts, "cosim soak board")
        self.engine = SharedEngine(seed=seed, history_limit=history_limit)
        self.engine.load(self.network.netlist)
        self.instances = [p.instance for p in self.network.points]
        self.states = [p.state_vector for p in self.network.points]
        self.inputs = self.network.input_sources
        self.outputs = [f"v({n})" for n in self.network.output_nodes(len(parts.spec.layers) - 2)]
        self.x = np.array(parts.x0, dtype=float)
        self.rng = np.random.default_rng(seed)
        self.idle: set[str] = set()

    def _drive(self, waves: dict, end_s: float) -> None:
        from cosim.netlist import ir

        for source in self.idle - set(waves):  # sources used in the last step go back to their idle level
            level = self.network.netlist.element(source).waveform.values[0]
            self.engine.alter(source, waveform=ir.Pwl((0.0, end_s), (level, level)))
        for source, wave in waves.items():
            self.engine.alter(source, waveform=wave)
        self.idle = set(waves)

    def step(self, k: int) -> None:
        """One training-like step: program-and-verify device k mod 30 (even k) or a forward read (odd k)."""
        from cosim.netlist import ir

        self.engine.set_initial_state(dict(zip(self.instances, np.clip(self.x, 0.0, 1.0).tolist())), "x0")
        if k % 2 == 0:
            device = (k // 2) % len(self.instances)
            amplitude = float(self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.6, 1.0))
            pulse_at, read_at = 2e-7, 2e-7 + PULSE_S + 3 * EDGE_S
            end = read_at + READ_S + 2e-7
            point = self.network.points[device]  # its row select line raised, its column line pulled low
            column = _pwl([(1e-7, end - 2e-7, -1.0)], end)
            self._drive({"Vpgen": _hold(1.0, end),
                         point.row_select_source: _pwl([(1e-7, end - 2e-7, 1.0)], end),
                         point.col_select_source: ir.Pwl(column.times_s, tuple(1.0 + v for v in column.values)),
                         "Vprog": _pwl([(pulse_at, PULSE_S, amplitude), (read_at, READ_S, 0.1)], end)}, end)
            vectors = ["i(vprog)", "v(pdrv)", *self.states]
        else:
            end = READ_S + 4 * EDGE_S
            sample = self.rng.integers(0, 2, len(self.inputs))
            waves = {name: _pwl([(EDGE_S, READ_S, 0.1 * float(bit))], end) for name, bit in zip(self.inputs, sample)}
            waves["Vrden"] = _hold(1.0, end)
            self._drive(waves, end)
            vectors = [*self.outputs, *self.states]
        w = self.engine.tran(STEP_S, end, vectors, tmax_s=STEP_S, last_only=True)
        self.x = np.array([w[s][-1] for s in self.states])


@dataclass
class SoakReport:
    circuit: str
    steps: int
    window: int
    rss_start_MB: float
    rss_end_MB: float
    growth_MB: float
    step_ms_start: float  # median CPU time per step over the first window after warm-up
    step_ms_end: float  # median CPU time per step over the last window
    slowdown: float  # step_ms_end / step_ms_start - 1
    wall_ms_start: float  # the same medians in wall time
    wall_ms_end: float
    wall_s: float
    retries: int
    stdout_lines_kept: int  # lines PySpice's message list holds at the end (0: nothing accumulates)

    @property
    def passed(self) -> bool:
        return self.growth_MB < MAX_GROWTH_MB and self.slowdown < MAX_SLOWDOWN


CIRCUITS = {"board": BoardSoak, "crossbar": CrossbarSoak}


def soak(steps: int = 20000, window: int = 1000, warmup: int = 200, seed: int = 0, history_limit: int = 400,
         circuit: str = "board", progress=None) -> SoakReport:
    """Run `warmup + steps` steps; measure RSS after the warm-up and at the end, and step times per window."""
    if steps < 2 * window:
        raise ValueError(f"steps ({steps}) must be at least two windows ({2 * window})")
    board = CIRCUITS[circuit](seed, history_limit)
    for k in range(warmup):
        board.step(k)
    rss_start = rss_mb()
    cpu, wall = np.empty(steps), np.empty(steps)
    started = time.perf_counter()
    for k in range(steps):
        c0, t0 = time.process_time(), time.perf_counter()
        board.step(warmup + k)
        cpu[k], wall[k] = time.process_time() - c0, time.perf_counter() - t0
        if progress is not None and (k + 1) % 1000 == 0:
            recent = slice(max(0, k + 1 - window), k + 1)
            progress(k + 1, rss_mb(), float(np.median(cpu[recent])) * 1e3, float(np.median(wall[recent])) * 1e3)
    elapsed = time.perf_counter() - started
    rss_end = rss_mb()
    start_ms, end_ms = (float(np.median(cpu[part])) * 1e3 for part in (slice(0, window), slice(-window, None)))
    return SoakReport(circuit, steps, window, rss_start, rss_end, rss_end - rss_start, start_ms, end_ms,
                      end_ms / start_ms - 1, float(np.median(wall[:window])) * 1e3,
                      float(np.median(wall[-window:])) * 1e3, elapsed, board.engine.retries,
                      len(board.engine._ng._stdout))


# --- the hazard the shared engine avoids ---------------------------------------------------------------------

_RACE = """
import sys
from PySpice.Spice.NgSpice.Shared import ffi
from cosim.netlist import ir
from cosim.spice.shared import SharedEngine
engine = SharedEngine(num_threads=1)
engine.load(ir.Netlist("rc", [ir.VoltageSource("V1", "in", "0", ir.Dc(1.0)), ir.Resistor("R1", "in", "out", 1e3),
                              ir.Capacitor("C1", "out", "0", 1e-6, ic_V=0.0)]))
ng = engine._ng
for k in range(int(sys.argv[1])):
    engine.alter("C1", ic_V=(k % 10) / 10)
    ng.finished.clear()
    ng.command("bg_tran 1e-6 1e-4 0 1e-6 uic")
    ng._ngspice_shared.ngSpice_Command(ffi.NULL)  # clear the command memory while the run is active
    ng.finished.wait(10)
    ng.command("destroy all")
print("survived", flush=True)
"""


def race(processes: int, steps: int) -> list[int]:
    """Run `processes` fresh interpreters that clear ngspice's command memory right after each `bg_tran`
    (what the engine must never do); return their exit codes (-11: segmentation fault)."""
    codes = []
    for _ in range(processes):
        proc = subprocess.run([sys.executable, "-c", _RACE, str(steps)], capture_output=True, text=True, timeout=900)
        codes.append(proc.returncode)
    return codes


def retry_table(timeout_s: float = 4.0) -> list[tuple[str, str, str]]:
    """The stiff test circuit of tests/test_reliability.py under each integration setting and two maximum steps
    (BatchEngine, no retry): which settings get through, and how many time points they take."""
    from cosim.errors import ConvergenceError, SimulationError, SimulationTimeout
    from cosim.netlist import ir
    from cosim.spice.batch import BatchEngine

    def stiff(options: dict) -> ir.Netlist:
        items = [ir.VoltageSource("V1", "in", "0", ir.Pulse(0.0, 1.0, 1e-6, 1e-9, 1e-9, 1e-6, 2e-6)),
                 ir.Resistor("R1", "in", "out", 1e3),
                 ir.BehavioralSource("B1", "out", "0", "I", "1e-3*tanh(1e6*(V(out)-0.5))"),
                 ir.Capacitor("C1", "out", "0", 1e-15)]
        return ir.Netlist("stiff", items + ([ir.Options(options)] if options else []))

    rows = []
    for label, options in (("trap (ngspice default)", {}), ("method=gear", {"method": "gear"}),
                           ("itl4=100", {"itl4": 100.0}), ("method=gear itl4=100", {"method": "gear", "itl4": 100.0})):
        cells = []
        for tmax in (1e-4, 1e-5):
            engine = BatchEngine(timeout_s=timeout_s, convergence_retry=False)
            engine.load(stiff(options))
            try:
                w = engine.tran(1e-9, 4e-6, ["v(out)"], tmax_s=tmax)
                cells.append(f"ok, {len(w['time'])} points")
            except SimulationTimeout:
                cells.append(f"no end within {timeout_s:g} s")
            except ConvergenceError:
                cells.append("timestep too small")
            except SimulationError as exc:
                cells.append(f"error: {str(exc)[:40]}")
        rows.append((label, *cells))
    return rows


def probe(circuit: str, window: int, warmup: int, seed: int) -> dict:
    """A fresh process's median step (CPU and wall ms) over `window` steps after `warmup`: the control."""
    proc = subprocess.run([sys.executable, __file__, "--probe", "--circuit", circuit, "--window", str(window),
                           "--warmup", str(warmup), "--seed", str(seed)], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the fresh-process probe failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--circuit", choices=sorted(CIRCUITS), default="board")
    parser.add_argument("--window", type=int, default=1000, help="Steps per timing window (start and end).")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="Also write the report as JSON to this file.")
    parser.add_argument("--race", type=int, metavar="N", help="Instead: N processes that clear the history "
                        "during runs (3000 steps each); prints how many crashed.")
    parser.add_argument("--retry-table", action="store_true", help="Instead: the stiff circuit under each "
                        "integration setting (what the convergence retry is built on).")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)  # the fresh-process control
    args = parser.parse_args()
    if args.probe:
        report = soak(2 * args.window, args.window, args.warmup, args.seed, circuit=args.circuit)
        print(json.dumps({"cpu_ms": report.step_ms_start, "wall_ms": report.wall_ms_start}))
        return 0
    if args.retry_table:
        print(f"{'settings':26s}{'tmax 100 us':>24s}{'tmax 10 us':>24s}")
        for label, a, b in retry_table():
            print(f"{label:26s}{a:>24s}{b:>24s}")
        return 0
    if args.race:
        codes = race(args.race, 3000)
        crashed = sum(c != 0 for c in codes)
        print(f"clearing ngspice's command memory during bg_tran: {crashed} of {len(codes)} processes crashed "
              f"within 3000 steps (exit codes {codes})")
        return 0
    window = min(args.window, args.steps // 2)

    def progress(k: int, rss: float, cpu_ms: float, wall_ms: float) -> None:
        print(f"  step {k:6d}: RSS {rss:7.1f} MB, median step {cpu_ms:6.2f} ms CPU, {wall_ms:6.2f} ms wall", flush=True)

    report = soak(args.steps, window, args.warmup, args.seed, circuit=args.circuit, progress=progress)
    what = "the 30-device M-SDC board" if args.circuit == "board" else "a 30-cell resistive crossbar"
    print(f"soak: {report.steps} steps of alter + tran on {what} in one SharedEngine ({report.wall_s:.0f} s)")
    print(f"{'':22s}{'start':>12s}{'end':>12s}{'change':>12s}{'limit':>10s}")
    print(f"{'RSS (MB)':22s}{report.rss_start_MB:12.1f}{report.rss_end_MB:12.1f}{report.growth_MB:+12.1f}"
          f"{MAX_GROWTH_MB:>10.0f}")
    print(f"{'median step, CPU (ms)':22s}{report.step_ms_start:12.2f}{report.step_ms_end:12.2f}"
          f"{report.slowdown * 100:+11.1f}%{MAX_SLOWDOWN * 100:>9.0f}%")
    print(f"{'median step, wall (ms)':22s}{report.wall_ms_start:12.2f}{report.wall_ms_end:12.2f}"
          f"{(report.wall_ms_end / report.wall_ms_start - 1) * 100:+11.1f}%{'-':>10s}")
    control = probe(args.circuit, window, args.warmup, args.seed)
    print(f"{'fresh process, after':22s}{'':12s}{control['cpu_ms']:12.2f}  CPU ms ({control['wall_ms']:.2f} wall): the "
          f"session's end is {(report.step_ms_end / control['cpu_ms'] - 1) * 100:+.1f}% against it")
    print(f"convergence retries: {report.retries}; PySpice message lines kept: {report.stdout_lines_kept}")
    print("PASS" if report.passed else "FAIL")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({**asdict(report), "passed": report.passed, "fresh_process": control}, out, indent=2)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
