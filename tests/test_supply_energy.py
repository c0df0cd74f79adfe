"""The ledger's energy against an independent integration of every source of the board.

Each operation's circuit (as the engine ran it: waveforms and initial states) is written out and run again by
`ngspice -b`, saving the current of every top-level voltage and behavioural source, whatever it is (drivers,
controls, ammeters, amplifier and activation outputs); ∫ −V·I of all of them by the trapezoid rule on that run's
own time points must match what the ledger booked for the operation. The transimpedance amplifiers once went
unbooked: five times the rows' energy on this board.
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


def every_source_energy_J(engine, analysis: ir.Tran, folder) -> tuple[float, dict[str, float]]:
    """Rerun `analysis` on the engine's circuit in a separate ngspice; the energy all its sources deliver, and
    each source's."""
    net = engine.standalone_netlist(analysis)
    sources = [e for e in net.elements if isinstance(e, (ir.VoltageSource, ir.BehavioralSource, ir.CurrentSource))]
    nodes = sorted({n for s in sources for n in (s.npos, s.nneg)} - {ir.GROUND})
    net.add(ir.Save(tuple([f"i({s.name.lower()})" for s in sources if not isinstance(s, ir.CurrentSource)]
                          + [f"v({n})" for n in nodes])))
    (folder / "board.cir").write_text(ngspice.write(net))
    (folder / ".spiceinit").write_text("set num_threads=1\n")
    proc = subprocess.run([install.executable(), "-b", "-r", "board.raw", "board.cir"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert (folder / "board.raw").exists(), proc.stdout + proc.stderr
    w = rawfile.read(folder / "board.raw")[-1].vectors()
    v = lambda n: 0.0 if n == ir.GROUND else w[f"v({n.lower()})"]  # noqa: E731
    each = {}
    for s in sources:
        assert not isinstance(s, ir.CurrentSource), "the board has no current sources"
        each[s.name] = float(np.trapezoid(-(v(s.npos) - v(s.nneg)) * w[f"i({s.name.lower()})"], w["time"]))
    return sum(each.values()), each


def booked_by(session, operation) -> tuple[float, ir.Tran]:
    """The energy the ledger books for `operation`, and the transient the session ran for it."""
    runs = []
    run = session.engine.run
    session.engine.run = lambda analysis, vectors: runs.append(analysis) or run(analysis, vectors)
    first = len(session.ledger.events)
    try:
        operation()
    finally:
        session.engine.run = run
    assert len(runs) == 1
    return sum(e.energy_J for e in session.ledger.events[first:]), runs[0]


@pytest.mark.spice
def test_the_ledger_books_what_every_source_delivers(tmp_path):
    session, _ = eslami2024.build(load_experiment(None, ["backend=spice"]))
    operations = {
        "set pulse": lambda: session.program([3], [Pulses(1.0, 2e-6, 1, 1)]),
        "reset pulse": lambda: session.program([20], [Pulses(1.0, 2e-6, 1, -1)]),
        "read": lambda: session.forward(patterns_3x3().x_train[:2]),
    }
    for name, operation in operations.items():
        booked, analysis = booked_by(session, operation)
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        total, each = every_source_energy_J(session.engine, analysis, folder)
        assert booked == pytest.approx(total, rel=1e-2), (name, each)
        if name == "read":  # the amplifiers deliver most of a read's energy: they are booked, not left out
            amplifiers = sum(e for s, e in each.items() if s.lower().startswith("b"))
            assert amplifiers > 0.5 * total
