"""The ellis2023 experiment: config checks, data (digits and MNIST-format files), ledger bookkeeping, the
spice-measured read cost, `cosim train`, and the published behaviour (one read → near-binary synapses)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cosim.cli import main
from cosim.experiments import load_experiment
from cosim.devices.dw_synapse import spice as dw_spice
from cosim.errors import ConfigError
from cosim.experiments import ellis2023

CONFIG = "sweeps/ellis2023.yaml"
QUICK = ["backend=twin", "training.max_epochs=3", "training.patience=3", "data.max_train=300", "evaluation.passes=2"]


def _run(*overrides):
    return ellis2023.train(load_experiment(CONFIG, [*QUICK, *overrides]))


def test_quick_twin_run_books_every_read_at_the_per_read_cost():
    result = _run("training.reads=4")
    m = result.metrics
    for key in ("test_accuracy", "train_accuracy", "energy_J", "circuit_time_s", "wall_time_s", "pulses", "backend",
                "model_backend", "energy_per_inference_J", "time_per_inference_s", "reads", "baseline_test_accuracy",
                "near_binary_fraction"):
        assert key in m, key
    assert (m["inputs"], m["synapses"], m["reads"], m["model_backend"]) == (64, 640, 4, "numpy")
    cost = dw_spice.twin_read_cost(dw_spice.ReadCircuit())
    p = result.states["dw_p"]
    frame = result.ledger.frame()
    inference = frame[frame["phase"] == "inference"]
    # per inference: every inference row's energy over the inferences it served (validation passes included)
    assert inference["samples"].sum() == m["epochs_trained"] * m["n_validation"] + 2 * (m["n_test"] + m["n_train"])
    assert m["energy_per_inference_J"] == pytest.approx(inference["energy_J"].sum() / inference["samples"].sum(),
                                                        rel=1e-12)
    final = inference[inference["layer"].isin(["test", "train-evaluation"])]  # read at the trained probabilities
    assert final["energy_J"].sum() / final["samples"].sum() == pytest.approx(4 * cost.energy_J(p).sum(), rel=1e-12)
    assert m["time_per_inference_s"] == pytest.approx(4 * 20e-9)
    assert (m["n_train"], m["n_validation"]) == (240, 60)
    # every training and validation epoch plus the 2-pass test and train evaluations, 640 synapses × 4 reads
    n_inferences = m["epochs_trained"] * (m["n_train"] + m["n_validation"]) + 2 * (m["n_test"] + m["n_train"])
    assert m["pulses"] == frame["pulses"].sum() == n_inferences * 640 * 4
    assert m["circuit_time_s"] == pytest.approx(n_inferences * 4 * 20e-9, rel=1e-12)
    assert set(frame["phase"]) == {"read", "inference"}
    assert 0.0 < m["test_accuracy"] <= 1.0 and 0.0 < m["baseline_test_accuracy"] <= 1.0


def test_same_seed_same_numbers():
    a, b = _run("seed=3", "training.baseline=false"), _run("seed=3", "training.baseline=false")
    for key in ("test_accuracy", "train_accuracy", "energy_J", "near_binary_fraction"):
        assert a.metrics[key] == b.metrics[key]
    np.testing.assert_array_equal(a.states["dw_w"], b.states["dw_w"])


@pytest.mark.parametrize("override, message", [
    ("device.preset=Xx", "unknown domain-wall synapse preset 'Xx'; allowed: ellis2023"),
    ("data.source=/nonexistent/mnist", "not a directory"),
    ("data.pool=0", "data.pool = 0: must be 'auto' or an integer in"),
    ("data.pool=max", "data.pool"),
    ("read_circuit.r_state1_ohm=10000.0", "must differ"),
    ("training.reads=0", "training.reads"),
    ("training.patience=200", "patience must not exceed"),
    ("training.learning_rat=0.1", "unknown key 'training.learning_rat'"),
])
def test_bad_settings_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_experiment(CONFIG, [override])
    assert CONFIG in str(info.value)


def _write_idx(path, array):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.tobytes())


def test_mnist_format_files_give_the_paper_s_196_inputs(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 80).astype(np.uint8)
    images = np.zeros((80, 28, 28), dtype=np.uint8)
    for k, label in enumerate(labels):  # one bright 4×4 block per class, so the task is learnable
        images[k, 4 + 2 * label:8 + 2 * label, 10:14] = 255
    _write_idx(tmp_path / "train-images-idx3-ubyte", images[:60])
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:60])
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images[60:])
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[60:])
    cfg = load_experiment(CONFIG, [*QUICK, f"data.source={tmp_path}", "data.max_train=null"])
    split, name, shape = ellis2023.prepare_data(cfg.data, cfg.seed)
    assert shape == (14, 14) and split.x_train.shape == (48, 196) and len(split.y_val) == 12
    assert set(np.unique(split.x_train)) == {0.0, 1.0}
    m = ellis2023.train(cfg).metrics
    assert m["inputs"] == 196 and m["synapses"] == 1960 and m["image_shape"] == [14, 14]


def test_a_pool_factor_that_does_not_divide_the_images_is_refused(tmp_path):
    images = np.zeros((20, 28, 28), dtype=np.uint8)
    labels = np.arange(20, dtype=np.uint8) % 10
    for stem in ("train", "t10k"):
        _write_idx(tmp_path / f"{stem}-images-idx3-ubyte", images)
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", labels)
    for factor, shape in ((1, (28, 28)), (4, (7, 7))):
        cfg = load_experiment(CONFIG, [f"data.source={tmp_path}", f"data.pool={factor}"])
        assert ellis2023.prepare_data(cfg.data, cfg.seed)[2] == shape
    cfg = load_experiment(CONFIG, [f"data.source={tmp_path}", "data.pool=3"])
    with pytest.raises(ConfigError, match="data.pool = 3 does not divide the 28×28 images"):
        ellis2023.prepare_data(cfg.data, cfg.seed)


def test_train_command_writes_the_run_directory(tmp_path):
    out = tmp_path / "run"
    args = ["train", CONFIG, "--out", str(out), "--backend", "twin"]
    for item in QUICK[1:] + ["training.reads=2"]:
        args += ["-s", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["experiment"] == "ellis2023" and metrics["reads"] == 2 and metrics["backend"] == "twin"
    for name in ("config.yaml", "history.csv", "ledger.parquet", "states.npz", "netlists/board.cir",
                 "netlists/dw_synapse.lib", "netlists/run.sh", "netlists/README.md"):
        assert (out / name).exists(), name
    board = (out / "netlists" / "board.cir").read_text()
    assert ".include dw_synapse.lib" in board and ".tran" in board and "v(rd0) i(vrd0) i(vdd0)" in board
    assert load_experiment(out / "config.yaml").training.reads == 2


@pytest.mark.spice
def test_spice_backend_measures_the_read_in_ngspice():
    m = _run("backend=spice", "training.max_epochs=1", "training.patience=1", "training.baseline=false").metrics
    twin = dw_spice.twin_read_cost(dw_spice.ReadCircuit())
    assert (m["read_cost_source"], m["model_backend"], m["ngspice"] >= 42) == ("spice", "bsource", True)
    # the simulated read against the circuit's equations: within 0.5 % per state
    assert m["read_energy_state0_J"] == pytest.approx(twin.energy_state0_J, rel=5e-3)
    assert m["read_energy_state1_J"] == pytest.approx(twin.energy_state1_J, rel=5e-3)


def test_one_read_gives_near_binary_synapses_and_more_reads_more_accuracy():
    """The published behaviour on the digits: after training with N = 1 almost every used synapse sits at
    p < 0.1 or p > 0.9; with N = 64 far fewer do, and the accuracy is higher."""
    runs = {n: _run(f"training.reads={n}", "training.max_epochs=30", "training.patience=20", "data.max_train=null",
                    "evaluation.passes=4", "training.baseline=false").metrics for n in (1, 64)}
    assert runs[1]["near_binary_fraction"] > 0.85
    assert runs[1]["near_binary_fraction"] > runs[64]["near_binary_fraction"] + 0.15
    assert runs[64]["test_accuracy"] > runs[1]["test_accuracy"] + 0.02
