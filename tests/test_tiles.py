"""Tiled crossbars: the tiling, a tiled board against the same board in one circuit (twin and ngspice), tiles on
worker processes and on Dask against the serial run, bit for bit, and what the ledger books per tile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cosim.circuits import tiling
from cosim.errors import ConfigError, WorkerError
from cosim.experiments.msdc_board import open_session, sized
from cosim.hil import tile_pool
from cosim.hil.ledger import Ledger
from cosim.hil.schedule import Pulses
from cosim.hil.session import Timing
from cosim.hil.summary import summarize

INPUTS = np.random.default_rng(0).uniform(0, 1, (5, 16))


def test_tiles_hold_every_device_once_in_the_generators_order():
    board = sized((16, 8, 3), seed=1)
    tiles = tiling.split((16, 8, 3), (6, 5))
    assert [t.label for t in tiles] == ["l1[0,0]", "l1[0,1]", "l1[1,0]", "l1[1,1]", "l1[2,0]", "l1[2,1]",
                                        "l2[0,0]", "l2[1,0]"]
    assert [t.shape for t in tiles] == [(6, 5), (6, 3), (6, 5), (6, 3), (4, 5), (4, 3), (6, 3), (2, 3)]
    devices = [d for t in tiles for d in t.devices]
    assert sorted(devices) == list(range(len(board.network.points)))
    for t in tiles:
        points = [board.network.points[d] for d in t.devices]
        assert {p.layer for p in points} == {t.prefix}
        # the tile's own order is its generator's: column by column, rows within a column
        assert [(p.col, p.row) for p in points] == [(c, r) for c in t.cols for r in t.rows]
    with pytest.raises(ConfigError, match="at least one row"):
        tiling.split((4, 4), (0, 2))


def boards(layers, tile, **kw):
    return sized(layers, seed=3, tile=None, **kw).board, sized(layers, seed=3, tile=tile, **kw).board


@pytest.mark.parametrize("layers,tile", [((16, 8), (6, 5)), ((16, 8, 3), (5, 2))])
def test_a_tiled_board_on_the_twin_equals_the_board_in_one_piece(layers, tile):
    """The twin's wires and periphery are ideal: tiles change nothing but the order of the sums."""
    whole, tiled = boards(layers, tile)
    a, b = (open_session(board, Ledger(), "twin", "t") for board in (whole, tiled))
    for _ in range(2):  # the states the first pass leaves are read by the second
        ra, rb = a.forward(INPUTS), b.forward(INPUTS)
        for ia, ib in zip(ra.column_currents_A, rb.column_currents_A):
            np.testing.assert_allclose(ib, ia, rtol=0, atol=1e-12 * np.abs(ia).max())
        for ya, yb in zip(ra.outputs_V, rb.outputs_V):
            np.testing.assert_allclose(yb, ya, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-12)
    devices = [0, 40, 7, 127]
    pulses = [Pulses(1.0, 2e-6, 2, 1), Pulses(1.0, 2e-6, 1, -1), Pulses(1.0, 1e-6, 1, 1), Pulses(0.8, 3e-6, 1, -1)]
    # the twin takes substeps for the fastest device it integrates at once: on tiles it groups other devices, so
    # programming agrees to its integration accuracy (~1e-5 of the state), not to the last bit
    np.testing.assert_allclose(b.program(devices, pulses, verify=True), a.program(devices, pulses, verify=True),
                               rtol=1e-5)
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-5)


def test_the_ledger_books_every_tile_and_the_digital_periphery():
    _, tiled = boards((16, 8, 3), (5, 2))
    session = open_session(tiled, Ledger(), "twin", "t")
    session.forward(INPUTS)
    session.program([0, 130], [Pulses(1.0, 1e-6, 1, 1)] * 2)
    frame = session.ledger.frame()
    reads = frame[frame["phase"] == "inference"]
    layer1 = [t for t in tiling.split((16, 8, 3), (5, 2)) if t.layer == 0]
    for tile in tiling.split((16, 8, 3), (5, 2)):
        rows = reads[reads["tile"] == tile.label]
        assert len(rows) == len(INPUTS) and (rows["adc_conversions"] == len(tile.cols)).all()
        assert (rows["energy_J"] > 0).all() and (rows["device"] == "").all() and (rows["layer"] == "").all()
    periphery = reads[reads["tile"] == ""]
    # layer 1: 4 row blocks added per column and activated, every activation drives its row in the 2 tiles of layer 2
    # holding it;
    # layer 2: 2 row blocks, no next layer; the inferences are counted once, by the last layer
    assert list(periphery["digital_ops"]) == [5 * 8 * 4, 5 * 3 * 2]
    assert list(periphery["dac_drives"]) == [5 * 8 * 2, 0] and list(periphery["samples"]) == [0, 5]
    # the tiles of a layer read at once: a slot of each layer, whatever the number of tiles
    slot = Timing().read_s + 2 * Timing().edge_s
    summary = summarize(frame)
    assert summary["inferences"] == 5
    assert summary["time_per_inference_s"] == pytest.approx(2 * slot, rel=1e-12)
    assert reads.groupby("tile")["circuit_time_s"].sum()[layer1[0].label] == pytest.approx(5 * slot / len(layer1))
    programmed = frame[frame["phase"] == "set"]
    names = {p.index: p.instance for p in session.network.points}
    assert list(programmed["device"]) == [names[0], names[130]] and list(programmed["layer"]) == ["l1", "l2"]
    assert list(programmed["tile"]) == ["l1[0,0]", "l2[0,0]"] and programmed["switch_events"].sum() == 4


@pytest.mark.spice
def test_a_tiled_layer_in_ngspice_equals_the_layer_in_one_circuit_with_ideal_wires_and_periphery():
    """Wires of 0 Ω (the generator's 1 µΩ) and switches of 1 mΩ, op-amps of gain 1e8: the tile boundary then
    changes nothing that reaches the currents. (With the default 10 Ω sense switch and gain 1e5, each column's
    sense path carries a tile's part of the column current instead of all of it, which moved the currents by
    ~1e-4 of full scale on this layer.)"""
    whole, tiled = boards((16, 8), (6, 5), wire_ohm=0.0, switch_on_ohm=1e-3)
    ideal = [replace(b, spec=replace(b.spec, neuron=replace(b.spec.neuron, opamp_gain=1e8))) for b in (whole, tiled)]
    a, b = (open_session(board, Ledger(), "spice", "t", timing=Timing(read_mode="transient")) for board in ideal)
    ra, rb = a.forward(INPUTS), b.forward(INPUTS)
    ia, ib = ra.column_currents_A[0], rb.column_currents_A[0]
    full = np.abs(ia).max()
    np.testing.assert_allclose(ib, ia, rtol=0, atol=1e-5 * full)  # measured 1.1e-6
    np.testing.assert_allclose(ib[:, :-1] - ib[:, -1:], ia[:, :-1] - ia[:, -1:], rtol=0, atol=1e-5 * full)
    np.testing.assert_allclose(rb.outputs_V[0], ra.outputs_V[0], rtol=0, atol=1e-5 * whole.spec.neuron.v_out_V)
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-8)


def tiled_run(workers, scheduler=None):
    """A forward pass, programming with verify, conductance reads and a second pass on a 12×6 layer in 4 tiles."""
    with tile_pool.execution(workers, scheduler):
        board = sized((12, 6), seed=3, tile=(6, 4)).board
        session = open_session(board, Ledger(), "spice", "t")
        first = session.forward(INPUTS[:, :12])
        g = session.program([0, 30, 7, 50, 71], [Pulses(1.0, 1e-6, 2, 1), Pulses(1.0, 1e-6, 1, -1)] * 2
                            + [Pulses(1.0, 2e-6, 1, 1)], verify=True)
        read = session.read_conductance([3, 40])
        second = session.forward(INPUTS[:, :12])
        return {"pool": type(session.pool).__name__, "first": first.column_currents_A + first.outputs_V, "g": g,
                "read": read, "second": second.column_currents_A + second.outputs_V, "x": session.x.copy(),
                "t_s": session.t_s, "ledger": session.ledger.frame().drop(columns="wall_time_s")}


def assert_same(a, b):
    for key in ("first", "second"):
        for u, v in zip(a[key], b[key]):
            np.testing.assert_array_equal(u, v)
    for key in ("g", "read", "x"):
        np.testing.assert_array_equal(a[key], b[key])
    assert a["t_s"] == b["t_s"]
    assert a["ledger"].equals(b["ledger"])


@pytest.mark.spice
def test_tiles_on_two_local_workers_give_the_serial_numbers_bit_for_bit():
    serial, parallel = tiled_run(None), tiled_run(2)
    assert (serial["pool"], parallel["pool"]) == ("SerialPool", "ProcessPool")
    assert_same(serial, parallel)


@pytest.mark.spice
@pytest.mark.slow
def test_tiles_on_a_local_dask_cluster_give_the_serial_numbers_bit_for_bit():
    serial, dask = tiled_run(None), tiled_run(2, "local")
    assert dask["pool"] == "DaskPool"
    assert_same(serial, dask)


def test_a_tile_worker_that_dies_is_one_clear_error():
    with tile_pool.execution(2):
        session = open_session(sized((8, 4), seed=1, tile=(4, 4)).board, Ledger(), "twin", "t")
        session.forward(INPUTS[:, :8])
        victim = session.pool._processes[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(5)
        with pytest.raises(WorkerError, match=r"tile worker 1 \(pid \d+\) died \(exit code -9\)"):
            session.forward(INPUTS[:, :8])


def test_tile_workers_end_with_the_process_that_started_them(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from cosim.experiments.msdc_board import open_session, sized\n"
        "from cosim.hil import tile_pool\n"
        "from cosim.hil.ledger import Ledger\n"
        "if __name__ == '__main__':\n"
        "    with tile_pool.execution(2):\n"
        "        s = open_session(sized((8, 4), tile=(4, 4)).board, Ledger(), 'twin', 't')\n"
        "        print(*[p.pid for p in s.pool._processes], flush=True)\n"
        "        time.sleep(60)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2
        parent.kill()
        parent.wait(10)
        deadline = time.time() + 5
        while any(Path(f"/proc/{pid}").exists() and _running(pid) for pid in workers) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(Path(f"/proc/{pid}").exists() and _running(pid) for pid in workers)
    finally:
        if parent.poll() is None:
            parent.kill()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_tile_execution_settings_are_checked():
    with pytest.raises(ConfigError, match="tile workers must be a whole number >= 1"):
        with tile_pool.execution(0):
            pass
    with pytest.raises(ConfigError, match="--scheduler"):
        with tile_pool.execution(2, "not an address"):
            pass
    with tile_pool.execution(4):  # no more workers than tiles: one tile runs in this process
        session = open_session(sized((8, 4), tile=(8, 4)).board, Ledger(), "twin", "t")
        assert type(session.pool).__name__ == "SerialPool"


def test_train_runs_a_tiled_board_on_tile_workers_to_the_serial_numbers(tmp_path):
    import json

    from click.testing import CliRunner

    from cosim.cli import main

    args = ["train", "--backend", "twin", "-s", "training.epochs=2", "-s", "evaluation.repeats=1", "-s", "data.n_test=10",
            "-s", "circuit.tile=[4,2]"]
    metrics = []
    for name, extra in (("serial", []), ("workers", ["--tile-workers", "2"])):
        result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output
        metrics.append({k: v for k, v in json.loads((tmp_path / name / "metrics.json").read_text()).items()
                        if k != "wall_time_s"})
    assert metrics[0] == metrics[1]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "bad"), "--tile-workers", "0"])
    assert result.exit_code == 2 and "--tile-workers" in result.output


def test_a_tiled_board_refuses_to_export_as_one_circuit(tmp_path):
    from cosim.experiments import eslami2024
    from cosim.experiments import load_experiment

    cfg = load_experiment(None, ["circuit.tile=[4,2]"])
    assert cfg.circuit.tile == (4, 2)
    with pytest.raises(ConfigError, match="circuit.tile: a tiled board is many circuits"):
        eslami2024.export_circuit(cfg, {}, "read", "osdi")
    with pytest.raises(ConfigError, match="circuit.tile"):
        load_experiment(None, ["circuit.tile=[0,2]"])
