"""The SOT-MTJ hardware-in-loop experiment: config validation, the three-way comparison, the ledger, and
`cosim train` end to end on the twin and (briefly) in SPICE."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cosim import config as cfgmod
from cosim.cli import main
from cosim.devices import sot_mtj as s
from cosim.errors import ConfigError
from cosim.resources import data_file
from cosim.training import islam2024
from cosim.training import stochastic_neurons as sn

SMALL = ["backend=twin", "network.hidden=16", "training.software_epochs=20", "training.hil_epochs=3",
         "data.max_train=600", "data.max_test=150", "characterization.pulses=24"]


def _cfg(*overrides: str):
    return cfgmod.load_experiment(data_file("sweeps", "islam2024.yaml"), [*SMALL, *overrides])


def test_the_shipped_experiment_file_validates():
    cfg = cfgmod.load_experiment(data_file("sweeps", "islam2024.yaml"))
    assert isinstance(cfg, islam2024.Config)
    assert cfg.backend == "spice" and cfg.device.preset == "w100" and cfg.network.hidden == 32


@pytest.mark.parametrize("override, message", [
    ("device.preset=w75", "unknown preset 'w75'; allowed: w50, w100, w200, w400"),
    ("network.weights=msdc", "not implemented yet"),
    ("device.timing.write_width_s=-1", "device.timing.write_width_s"),
    ("data.source=/no/such/dir", "not a directory"),
    ("training.hil_init=later", "training.hil_init"),
    ("device.colour=red", "unknown key 'device.colour'"),
])
def test_bad_settings_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        _cfg(override)


def test_hardware_in_loop_recovers_what_deployment_loses():
    """Large variation (w50: I50 spread 0.85 window): the software weights lose accuracy on the devices;
    hardware-in-loop training on the same devices wins it back."""
    result = islam2024.train(_cfg("device.preset=w50", "training.hil_epochs=4"))
    m = result.metrics
    assert m["accuracy_ideal_software"] > 0.8
    assert m["accuracy_deployed"] < m["accuracy_ideal_software"] - 0.2
    assert m["accuracy_hil"] > m["accuracy_ideal_software"] - 0.05
    for key in ("test_accuracy", "train_accuracy", "energy_J", "circuit_time_s", "wall_time_s", "pulses", "backend",
                "model_backend", "energy_per_inference_J", "time_per_inference_s"):
        assert key in m
    assert m["test_accuracy"] == m["accuracy_hil"]
    assert [r["stage"] for r in result.history] == ["software"] * 20 + ["hil"] * 4


def test_ledger_books_slots_and_one_row_per_inference():
    cfg = _cfg("evaluation.samples=2")
    result = islam2024.train(cfg)
    frame = result.ledger.frame()
    slot = cfg.device.timing.slot_s
    n_test, hidden = 150, 16
    inference = frame[frame["phase"] == "inference"]
    assert len(inference) == 2 * n_test  # deployed and hardware-in-loop evaluations
    np.testing.assert_allclose(inference["circuit_time_s"], 2 * slot)
    train_slots = 3 * 600  # hardware-in-loop epochs × training inputs
    assert frame.loc[frame["phase"] == "set", "pulses"].sum() == train_slots * hidden
    training_time = frame.loc[frame["phase"].isin(["set", "reset", "read"]), "circuit_time_s"].sum()
    assert training_time == pytest.approx(train_slots * slot)
    m = result.metrics
    assert m["energy_per_inference_J"] == pytest.approx(inference["energy_J"].iloc[n_test:].mean())
    assert m["time_per_inference_s"] == pytest.approx(2 * slot)
    # an inference writes, resets and reads every hidden neuron: bounded by the driver range
    p = s.load_preset("w100")
    per_slot_max = hidden * 2 * (cfg.device.timing.reset_ratio * p.ic0_A) ** 2 * p.hm_resistance_ohm * slot
    assert 0 < m["energy_per_inference_J"] < 2 * per_slot_max


def test_device_slopes_are_each_devices_own():
    cmap = sn.CurrentMap(100e-6, 2e-6, 140e-6)
    slopes = sn.Slopes(np.array([100e-6, 104e-6]), np.array([2e-6, 4e-6]))
    d = slopes.derivative(np.array([[0.0, 0.0]]), cmap)[0]
    assert d[0] == pytest.approx(0.25)
    z = (100e-6 - 104e-6) / 4e-6
    assert d[1] == pytest.approx(np.exp(-z) / (1 + np.exp(-z)) ** 2 * 0.5)
    assert slopes.derivative(np.array([[30.0, -80.0]]), cmap).tolist() == [[0.0, 0.0]]  # clipped drivers


def test_cosim_train_twin_writes_the_run_directory(tmp_path):
    result = CliRunner().invoke(main, ["train", str(data_file("sweeps", "islam2024.yaml")), "--out", str(tmp_path),
                                       *sum((["-s", o] for o in SMALL), [])])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["experiment"] == "islam2024" and metrics["backend"] == "twin"
    assert len(pd.read_csv(tmp_path / "history.csv")) == 23
    assert (tmp_path / "ledger.parquet").is_file() and (tmp_path / "states.npz").is_file()


@pytest.mark.spice
@pytest.mark.parametrize("backend", ["spice", "batch"])
def test_cosim_train_runs_the_circuit(tmp_path, backend):
    tiny = [f"backend={backend}", "network.hidden=4", "training.software_epochs=3", "training.hil_epochs=1", "data.max_train=48",
            "data.max_test=16", "training.batch_size=24", "characterization.coarse_points=5",
            "characterization.coarse_pulses=4", "characterization.points=4", "characterization.pulses=6"]
    result = CliRunner().invoke(main, ["train", str(data_file("sweeps", "islam2024.yaml")), "--out", str(tmp_path),
                                       *sum((["-s", o] for o in tiny), [])])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["backend"] == backend and metrics["model_backend"] == "bsource"
    if backend == "spice":
        assert metrics["ngspice"] >= 42
    netlist = (tmp_path / "netlists" / "sot_neurons.cir").read_text()
    assert "sot_neuron" in netlist and ".tran" in netlist and ".options seed=1" in netlist  # run seed 0 → ngspice seed 1
    frame = pd.read_parquet(tmp_path / "ledger.parquet")
    assert (frame["energy_J"] > 0).all()


def _write_idx(path, array):
    import struct

    path.write_bytes(bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def test_mnist_format_files_run_with_pooling(tmp_path):
    """The MNIST route (28×28 IDX files, max-pooled to 14×14): two blob classes the network must separate."""
    rng = np.random.default_rng(0)

    def images(n):
        y = rng.integers(0, 2, n).astype(np.uint8)
        x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(y):
            x[i, 4:12, 4:12] += 180 if label == 0 else 0
            x[i, 16:24, 16:24] += 180 if label == 1 else 0
        return x, y

    x, y = images(300)
    xt, yt = images(60)
    for name, array in (("train-images-idx3-ubyte", x), ("train-labels-idx1-ubyte", y),
                        ("t10k-images-idx3-ubyte", xt), ("t10k-labels-idx1-ubyte", yt)):
        _write_idx(tmp_path / name, array)
    cfg = _cfg(f"data.source={tmp_path}", "data.pool=2", "training.software_epochs=5", "training.hil_epochs=1")
    m = islam2024.train(cfg).metrics
    assert m["data"].startswith("MNIST-format files") and m["n_test"] == 60
    assert m["accuracy_ideal_software"] > 0.9 and m["accuracy_hil"] > 0.9
