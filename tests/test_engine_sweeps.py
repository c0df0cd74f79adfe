"""Operating points and DC sweeps: the IR items, their ngspice text, and both engines running them with the
transient's error handling (typed errors, the kept netlist, the retry)."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.errors import ConvergenceError, NetlistError, SimulationError
from cosim.netlist import ir
from cosim.netlist.writers import ngspice, writer


def divider() -> ir.Netlist:
    return ir.Netlist("divider", [
        ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "b", 1e3), ir.Resistor("R2", "b", "0", 1e3),
        ir.CurrentSource("I1", "0", "b", ir.Dc(0.0)),
        ir.BehavioralSource("B1", "c", "0", "V", "2*temper"), ir.Resistor("R3", "c", "0", 1.0)])


def test_analyses_are_validated_and_written_for_ngspice():
    assert ngspice.line(ir.Op()) == ".op"
    assert ngspice.line(ir.DcSweep("V1", 0.0, 2.0, 0.5)) == ".dc v1 0.0 2.0 0.5"
    assert ngspice.line(ir.DcSweep(ir.SWEEP_TEMPERATURE, 0, 3, 1)) == ".dc temp 0.0 3.0 1.0"
    assert ir.DcSweep("V1", 0.0, 2.0, 0.5).points == 5
    for bad in (lambda: ir.DcSweep("R1", 0, 1, 1), lambda: ir.DcSweep("V1", 0, 1, 0),
                lambda: ir.DcSweep("V1", 0, 1, -1), lambda: ir.DcSweep("V1", 0, float("nan"), 1)):
        with pytest.raises(NetlistError):
            bad()


def test_other_dialects_refuse_sweeps_by_name():
    for dialect in ("spectre", "vacask", "xyce", "ltspice"):
        with pytest.raises(NetlistError):
            writer(dialect).render(divider().add(ir.Op()))


def test_a_library_can_hold_a_state_by_a_scaled_current_source():
    lib = ir.SubcircuitLibrary("cell.lib", "cell", ("a", "b"), {"x0": 0.0}, dc_params={"x0": ("Ix", 1e9)})
    assert lib.dc_params == {"x0": ("Ix", 1e9)}
    for bad in ({"y": ("Ix", 1.0)}, {"x0": ("Vx", 1.0)}, {"x0": ("Ix", float("inf"))}, {"x0": "Ix"}):
        with pytest.raises(NetlistError):
            ir.SubcircuitLibrary("cell.lib", "cell", ("a", "b"), {"x0": 0.0}, dc_params=bad)


@pytest.mark.spice
@pytest.mark.parametrize("engine_kind", ["shared", "batch"])
def test_operating_points_and_sweeps_in_both_engines(engine_kind, shared_engine, batch_engine):
    engine = shared_engine if engine_kind == "shared" else batch_engine
    engine.load(divider())
    assert engine.op(["v(b)", "i(v1)"]) == pytest.approx({"v(b)": 0.5, "i(v1)": -5e-4}, rel=1e-9)
    w = engine.dc(ir.DcSweep("V1", 0.0, 2.0, 0.5), ["v(b)"])
    np.testing.assert_allclose(w["sweep"], [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(w["v(b)"], w["sweep"] / 2, rtol=1e-9, atol=1e-15)
    w = engine.dc(ir.DcSweep(ir.SWEEP_TEMPERATURE, 0.0, 3.0, 1.0), ["v(c)"])  # expressions read it as temper
    np.testing.assert_allclose(w["v(c)"], [0, 2, 4, 6], rtol=1e-9, atol=1e-12)
    engine.alter("I1", waveform=ir.Dc(1e-3))  # alterations reach the next analysis, as for transients
    assert engine.op(["v(b)"])["v(b)"] == pytest.approx(1.0, rel=1e-9)


def contradiction() -> ir.Netlist:
    """No operating point exists: the source pushes node a away from whichever side it is on."""
    return ir.Netlist("no solution", [
        ir.VoltageSource("V1", "s", "0", ir.Dc(0.0)), ir.Resistor("R1", "s", "0", 1.0),
        ir.Resistor("R2", "a", "0", 1.0), ir.BehavioralSource("B1", "0", "a", "I", "V(a) > 0.5 ? -1 : 1")])


@pytest.mark.spice
@pytest.mark.parametrize("engine_kind", ["shared", "batch"])
@pytest.mark.parametrize("analysis", [ir.Op(), ir.DcSweep("V1", 0.0, 1.0, 1.0)], ids=["op", "dc"])
def test_a_sweep_that_cannot_converge_raises_after_the_retry_with_both_netlists_kept(engine_kind, analysis, tmp_path,
                                                                                    monkeypatch):
    from cosim.spice.batch import BatchEngine
    from cosim.spice.shared import SharedEngine

    monkeypatch.setenv("COSIM_FAILED_DIR", str(tmp_path))
    engine = (SharedEngine if engine_kind == "shared" else BatchEngine)(seed=1)
    engine.load(contradiction())
    with pytest.raises(ConvergenceError, match="itl1=1000, itl2=500") as caught:
        engine.run(analysis, ["v(a)"])
    kept = sorted(tmp_path.glob("*.cir"))
    assert caught.value.netlist_path in kept and caught.value.retry_netlist_path in kept and len(kept) == 2
    assert ".options itl1=1000 itl2=500" in caught.value.retry_netlist_path.read_text()
    assert ngspice.line(analysis) in caught.value.netlist_path.read_text()
    engine.load(divider())  # the engine goes on
    assert engine.op(["v(b)"])["v(b)"] == pytest.approx(0.5)


@pytest.mark.spice
def test_an_unknown_swept_source_is_a_typed_error(shared_engine):
    shared_engine.load(divider())
    with pytest.raises(SimulationError, match="not in the circuit"):
        shared_engine.dc(ir.DcSweep("V9", 0.0, 1.0, 1.0), ["v(b)"])


def test_the_recording_and_transient_only_engines_refuse_sweeps():
    from cosim.spice.recorder import RecordingEngine

    recorder = RecordingEngine(None)
    recorder.load(divider())
    with pytest.raises(SimulationError, match="transients only"):
        recorder.op(["v(b)"])
