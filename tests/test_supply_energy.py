"""The ledger's energy against an independent integration of every source of the board.

Each operation's circuit (as the engine ran it: waveforms and initial states) is written out and run again by
`ngspice -b`, saving the current of every top-level voltage and behavioural source, whatever it is (drivers,
controls, ammeters, amplifier and activation outputs; the select lines' current sources set control levels
and are booked as switch events); ∫ −V·I of all of them by the trapezoid rule on that run's
own time points must match what the ledger booked for the operation (the transimpedance amplifiers once went
unbooked: five times the rows' energy on this board). A programmed device's own dissipation is checked the same
way, from its terminal voltages and the driver's current.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from cosim.data import patterns_3x3
from cosim.experiments import eslami2024, load_experiment
from cosim.hil.schedule import Pulses
from cosim.netlist import ir
from cosim.netlist.writers import ngspice
from cosim.spice import install, rawfile


def rerun(engine, analysis: ir.Tran, folder, nodes=()) -> tuple[dict[str, np.ndarray], list]:
    """Rerun `analysis` on the engine's circuit in a separate ngspice, saving every top-level source's current
    and voltages and `nodes`; its vectors and its sources."""
    net = engine.standalone_netlist(analysis)
    sources = [e for e in net.elements if isinstance(e, (ir.VoltageSource, ir.BehavioralSource, ir.CurrentSource))]
    nodes = sorted({n for s in sources for n in (s.npos, s.nneg)} - {ir.GROUND} | set(nodes))
    net.add(ir.Save(tuple([f"i({s.name.lower()})" for s in sources if not isinstance(s, ir.CurrentSource)]
                          + [f"v({n})" for n in nodes])))
    (folder / "board.cir").write_text(ngspice.write(net))
    (folder / ".spiceinit").write_text("set num_threads=1\n")
    proc = subprocess.run([install.executable(), "-b", "-r", "board.raw", "board.cir"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert (folder / "board.raw").exists(), proc.stdout + proc.stderr
    return rawfile.read(folder / "board.raw")[-1].vectors(), sources


def every_source_energy_J(w: dict[str, np.ndarray], sources) -> tuple[float, dict[str, float]]:
    """The energy all the sources deliver, and each source's (∫ −V·I, trapezoid rule)."""
    v = lambda n: 0.0 if n == ir.GROUND else w[f"v({n.lower()})"]  # noqa: E731
    each = {}
    for s in sources:
        if isinstance(s, ir.CurrentSource):
            # the select lines: a control level modelled as a current into a resistor, booked as switch events
            assert s.name.lower().startswith("i") and "sel" in s.name.lower(), s.name
            continue
        each[s.name] = float(np.trapezoid(-(v(s.npos) - v(s.nneg)) * w[f"i({s.name.lower()})"], w["time"]))
    return sum(each.values()), each


def booked_by(session, operation) -> tuple[float, float, ir.Tran]:
    """The energy the ledger books for `operation`, the part in the devices, and the transient it ran."""
    runs = []
    run = session.engine.run
    session.engine.run = lambda analysis, vectors: runs.append(analysis) or run(analysis, vectors)
    first = len(session.ledger.events)
    try:
        operation()
    finally:
        session.engine.run = run
    assert len(runs) == 1
    rows = session.ledger.events[first:]
    return sum(e.energy_J for e in rows), sum(e.device_energy_J for e in rows), runs[0]


@pytest.mark.spice
def test_the_ledger_books_what_every_source_delivers(tmp_path):
    session, _ = eslami2024.build(load_experiment(None, ["backend=spice"]))
    operations = {
        "set pulse": (3, lambda: session.program([3], [Pulses(1.0, 2e-6, 1, 1)])),
        "reset pulse": (20, lambda: session.program([20], [Pulses(1.0, 2e-6, 1, -1)])),
        "read": (None, lambda: session.forward(patterns_3x3().x_train[:2])),
    }
    for name, (device, operation) in operations.items():
        booked, in_devices, analysis = booked_by(session, operation)
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        point = session.network.points[device] if device is not None else None
        w, sources = rerun(session.engine, analysis, folder, (point.top_node, point.bottom_node) if point else ())
        total, each = every_source_energy_J(w, sources)
        assert booked == pytest.approx(total, rel=1e-2), (name, each)
        if point is not None:  # the programmed device carries the driver's current (the others' leaks: ~1e-4)
            v = w[f"v({point.top_node})"] - w[f"v({point.bottom_node})"]
            drive = f"i({session.network.program_source.lower()})"
            assert in_devices == pytest.approx(float(np.trapezoid(-v * w[drive], w["time"])), rel=1e-2)
            assert 0.4 * booked < in_devices < booked
        if name == "read":  # the amplifiers deliver most of a read's energy: they are booked, not left out
            amplifiers = sum(e for s, e in each.items() if s.lower().startswith("b"))
            assert amplifiers > 0.5 * total
