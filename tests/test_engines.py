"""The engines against real ngspice: accuracy, agreement, flat memory and typed errors."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.errors import ConvergenceError, NetlistError, SimulationError, SimulationTimeout
from cosim.netlist import ir
from cosim.spice.messages import ERROR, INFO, WARNING, Transcript, classify

pytestmark = pytest.mark.spice

R_OHM, C_F = 1e3, 1e-6
TAU_S = R_OHM * C_F


def rc(v_in: float = 1.0) -> ir.Netlist:
    return ir.Netlist("rc", [
        ir.VoltageSource("V1", "in", "0", ir.Dc(v_in)),
        ir.Resistor("R1", "in", "out", R_OHM),
        ir.Capacitor("C1", "out", "0", C_F, ic_V=0.0),
    ])


def vm_rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_rc_charging_matches_analytic_curve(shared_engine):
    shared_engine.load(rc())
    w = shared_engine.tran(TAU_S / 200, 5 * TAU_S, ["v(out)", "i(v1)"])
    expected = 1.0 - np.exp(-w["time"] / TAU_S)
    assert np.max(np.abs(w["v(out)"] - expected)) < 1e-3 * 1.0  # 0.1 % of the 1 V step
    # The source delivers the charging current (SPICE counts it negative).
    assert np.allclose(-w["i(v1)"], np.exp(-w["time"] / TAU_S) / R_OHM, rtol=0, atol=1e-3 / R_OHM)


def test_shared_and_batch_give_the_same_waveform(shared_engine, batch_engine):
    waves = []
    for engine in (shared_engine, batch_engine):
        engine.load(rc())
        engine.alter("C1", ic_V=0.25)
        engine.alter("V1", waveform=ir.Dc(2.0))
        waves.append(engine.tran(TAU_S / 100, 3 * TAU_S, ["v(out)", "i(v1)"]))
    a, b = waves
    assert a["time"].shape == b["time"].shape
    for key in ("time", "v(out)", "i(v1)"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-15)
    assert a["v(out)"][0] == pytest.approx(0.25, abs=1e-3)  # uic starts from the altered state


def test_the_batch_engine_runs_with_a_relative_temporary_folder(batch_engine, tmp_path, monkeypatch):
    """A sweep worker points temporary folders at its scratch folder, which `--out runs/x` makes relative; ngspice
    runs inside the folder, so the raw file it writes is named absolutely (it was looked for in the wrong place)."""
    import tempfile

    monkeypatch.chdir(tmp_path)
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", "scratch")
    batch_engine.load(rc())
    assert batch_engine.tran(TAU_S / 10, TAU_S, ["v(out)"], last_only=True)["v(out)"][0] == pytest.approx(
        1 - np.exp(-1), abs=1e-3)


def test_state_carries_between_steps_by_alter(shared_engine):
    shared_engine.load(rc())
    v = 0.0
    for _ in range(3):
        shared_engine.alter("C1", ic_V=v)
        v = float(shared_engine.tran(TAU_S / 50, TAU_S, ["v(out)"], last_only=True)["v(out)"][0])
    assert v == pytest.approx(1 - np.exp(-3.0), rel=1e-3)


def test_long_pwl_is_applied_exactly(shared_engine, batch_engine):
    """Alterations longer than ngspice's command line fall back to a reload, without losing points."""
    times = np.arange(400) * 1e-6
    values = np.sin(2 * np.pi * times / 1e-4)
    net = ir.Netlist("pwl", [ir.VoltageSource("V1", "in", "0", ir.Pwl((0.0, 1e-6), (0.0, 1.0))),
                             ir.Resistor("R1", "in", "0", 1.0)])
    results = []
    for engine in (shared_engine, batch_engine):
        engine.load(net)
        engine.alter("V1", waveform=ir.Pwl(tuple(times), tuple(values)))
        results.append(engine.tran(1e-6, times[-1], ["v(in)"]))
    for w in results:  # (ngspice's first output point after uic lies just past t = 0)
        assert np.max(np.abs(np.interp(times[1:], w["time"], w["v(in)"]) - values[1:])) < 1e-9
    np.testing.assert_allclose(results[0]["v(in)"], results[1]["v(in)"], rtol=1e-9)


def test_memory_stays_flat_over_1000_steps(shared_engine):
    net = rc()
    for k in range(30):
        net.add(ir.Resistor(f"Rl{k}", "out", "0", 1e6 + k))
    shared_engine.load(net)
    for step in range(100):  # warm-up: allocator pools and first plots
        shared_engine.alter("V1", waveform=ir.Dc(0.5 + 1e-3 * step))
        shared_engine.tran(1e-5, 1e-4, ["v(out)"], last_only=True)
    before = vm_rss_mb()
    for step in range(1000):
        shared_engine.alter("C1", ic_V=(step % 10) / 10)
        shared_engine.alter("V1", waveform=ir.Dc(1.0 + 1e-3 * step))
        shared_engine.tran(1e-5, 1e-4, ["v(out)"], last_only=True)
    growth = vm_rss_mb() - before
    assert growth < 20.0, f"RSS grew by {growth:.1f} MB over 1000 steps"


def test_unknown_model_raises_simulation_error_naming_it(shared_engine, batch_engine):
    net = ir.Netlist("t", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Switch("S1", "a", "0", "a", "0", "nosuch")])
    with pytest.raises(SimulationError, match="nosuch"):
        shared_engine.load(net)
    batch_engine.load(net)
    with pytest.raises(SimulationError, match="nosuch"):
        batch_engine.tran(1e-6, 1e-5, ["v(a)"])


def test_floating_node_is_refused_before_ngspice(shared_engine):
    net = rc().add(ir.Capacitor("C9", "lost", "lost2", 1e-9))
    with pytest.raises(NetlistError, match="node 'lost' is floating"):
        shared_engine.load(net)


@pytest.mark.parametrize("engine_name", ["shared_engine", "batch_engine"])
def test_divergent_circuit_raises_convergence_error_and_keeps_netlist(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    engine.load(ir.Netlist("runaway", [
        ir.BehavioralSource("B1", "0", "out", "I", "exp(1000*V(out))"),
        ir.Capacitor("C1", "out", "0", 1e-12),
    ]))
    with pytest.raises(ConvergenceError, match="Timestep too small") as info:
        engine.tran(1e-9, 1e-3, ["v(out)"])
    kept = info.value.netlist_path
    assert kept is not None and kept.exists()
    assert "B1 0 out I=exp(1000*V(out))" in kept.read_text() and ".tran" in kept.read_text()


def test_hung_simulation_is_stopped_by_timeout():
    from cosim.spice.shared import SharedEngine

    engine = SharedEngine(num_threads=1, timeout_s=0.5)
    engine.load(rc())
    with pytest.raises(SimulationTimeout):
        engine.tran(1e-12, 10.0, ["v(out)"])  # 1e13 steps: never finishes on its own
    engine.timeout_s = 60
    assert engine.tran(1e-5, 1e-4, ["v(out)"], last_only=True)["v(out)"].shape == (1,)


def test_informational_lines_do_not_raise(shared_engine):
    net = rc()
    net.add(ir.Options({"klu": True}))  # prints "Using KLU as Direct Linear Solver" on every run
    shared_engine.load(net)
    shared_engine.tran(1e-5, 1e-4, ["v(out)"])


@pytest.mark.parametrize("line,kind", [
    ("Using KLU as Direct Linear Solver", INFO),
    ("Using SPARSE 1.3 as Direct Linear Solver", INFO),
    ("Note: Starting dynamic gmin stepping", INFO),
    ("Trying gmin =   1.0000E-03 Note: One successful gmin step", INFO),
    ("Warning: singular matrix:  check node b", WARNING),
    ("doAnalyses: TRAN:  Timestep too small; time = 3e-16", ERROR),
    ("Error on line 3 or its substitute:", ERROR),
    ("Unable to find definition of model nosuch", ERROR),
])
def test_message_classification(line, kind):
    assert classify(line) == kind


def test_error_context_lines_are_kept():
    t = Transcript()
    for line in ("Error on line 3 or its substitute:", "s1 a 0 a 0 nosuch", "Unable to find definition of model nosuch"):
        t.add("stderr", line)
    assert t.errors()[0].endswith("model nosuch")


def divider(r_ohm: float) -> ir.Netlist:
    """1 V across one resistor: i(v1) = −1 V / r_ohm."""
    return ir.Netlist(f"divider {r_ohm:g}", [ir.VoltageSource("V1", "in", "0", ir.Dc(1.0)),
                                              ir.Resistor("R1", "in", "0", r_ohm)])


def test_two_shared_engines_each_run_their_own_circuit():
    """libngspice is one per process. Engines used in turn each simulate their own circuit (with their own
    alterations), switching to it without loading it again: engine A once ran B's 10 Ω circuit (−0.1 A) while
    A.netlist still said 1 kΩ (−1 mA)."""
    from cosim.spice.engines import open_engine

    a, b = open_engine("spice"), open_engine("spice")
    a.load(divider(1e3))
    b.load(divider(10.0))
    assert a.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-1e-3, rel=1e-9)
    assert b.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-0.1, rel=1e-9)
    a.alter("R1", value_ohm=2e3)  # while b's circuit is loaded: it must not reach b's R1
    assert b.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-0.1, rel=1e-9)
    assert a.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-0.5e-3, rel=1e-9)
    c = open_engine("spice")
    c.load(rc())
    c.alter("C1", ic_V=0.5)  # an element a's and b's circuits do not have
    a.alter("R1", value_ohm=4e3)
    assert a.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-0.25e-3, rel=1e-9)
    assert c.tran(TAU_S / 100, TAU_S / 10, ["v(out)"])["v(out)"][0] == pytest.approx(0.5, abs=1e-3)
    assert a.netlist.element("R1").value_ohm == 4e3 and b.netlist.element("R1").value_ohm == 10.0
    assert (a.reloads, b.reloads, c.reloads) == (0, 0, 0)
    assert (a.switches, b.switches, c.switches) == (4, 2, 1)  # alterations switch too


def test_circuits_past_the_resident_limit_are_loaded_again_with_their_alterations(monkeypatch):
    """At most RESIDENT_CIRCUITS stay in libngspice: the least recently used engine's circuit is removed and
    loaded again (with its alterations) when that engine runs next; a collected engine's circuit is removed."""
    import gc

    from cosim.spice import shared
    from cosim.spice.engines import open_engine

    monkeypatch.setattr(shared, "RESIDENT_CIRCUITS", 2)
    a, b, c = (open_engine("spice") for _ in range(3))
    a.load(divider(1e3))
    a.alter("R1", value_ohm=2e3)
    b.load(divider(10.0))
    c.load(divider(100.0))  # removes a's circuit, the least recently used
    assert a._title not in a._ng.resident and len(a._ng.resident) == 2
    assert a.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-0.5e-3, rel=1e-9)
    assert a.reloads == 1
    assert c.tran(1e-6, 1e-5, ["i(v1)"])["i(v1)"][-1] == pytest.approx(-1e-2, rel=1e-9)
    assert c.reloads == 0 and b.reloads == 0
    title = c._title
    del c
    gc.collect()
    d = open_engine("spice")
    d.load(divider(50.0))  # the collected engine's circuit goes first
    listed = d._ng.command("setcirc").text()
    assert title not in listed and a._title in listed and d._title in listed


def test_open_engine_makes_the_engine_of_a_backend():
    from cosim.errors import ConfigError
    from cosim.spice.batch import BatchEngine
    from cosim.spice.engines import open_engine
    from cosim.spice.shared import SharedEngine

    assert isinstance(open_engine("spice", seed=3), SharedEngine)
    batch = open_engine("batch", seed=3, timeout_s=10.0)
    assert isinstance(batch, BatchEngine) and batch.seed == 3 and batch.timeout_s == 10.0
    with pytest.raises(ConfigError, match="twin"):
        open_engine("twin")


@pytest.mark.spice
def test_states_written_in_one_batch_reach_each_engines_own_circuit():
    """set_initial_state writes many states in one batch: each instance's state capacitor holds its value
    (v(x) at the first time point), also after another engine's circuit ran; bad values and elements are one
    NetlistError each and change nothing."""
    from cosim.spice.engines import open_engine

    cell = ir.SubcircuitDef("cell", ("a", "b"), (ir.Resistor("R1", "a", "b", 1.0),
                                                 ir.Capacitor("cx", "x", "0", 1.0, ic_V=0.0),
                                                 ir.Resistor("rx", "x", "0", 1e12)), {"x0": 0.0}, ic_params={"x0": "cx"})

    def board(n: int) -> ir.Netlist:
        return ir.Netlist("cells", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), cell]
                          + [ir.SubcircuitInstance(f"X{k}", ("a", "0"), "cell") for k in range(n)])

    a, b = open_engine("spice"), open_engine("spice")
    a.load(board(3))
    b.load(board(2))
    a.set_initial_state({"X0": 0.25, "X1": 0.5, "X2": 0.75}, "x0")  # while b's circuit is current
    b.set_initial_state({"X0": 0.1, "X1": 0.2}, "x0")
    first = lambda e, n: [e.tran(1e-9, 1e-8, [f"v(x{k}.x)" for k in range(n)])[f"v(x{k}.x)"][0] for k in range(n)]  # noqa: E731
    assert first(a, 3) == pytest.approx([0.25, 0.5, 0.75], abs=1e-9)
    assert first(b, 2) == pytest.approx([0.1, 0.2], abs=1e-9)
    assert a.netlist.element("X2").params["x0"] == 0.75
    for bad, param in (({"X0": float("nan")}, "x0"), ({"X0": "0.5"}, "x0"), ({"V1": 0.5}, "x0"),
                       ({"X0": 0.5}, "ron"), ({"X9": 0.5}, "x0")):
        with pytest.raises(NetlistError):
            a.set_initial_state(bad, param)
    assert first(a, 3) == pytest.approx([0.25, 0.5, 0.75], abs=1e-9)
