"""One summary of the ledger: what a run records in metrics.json is what `cosim report` shows, for every
experiment (energy per inference once disagreed 270-560x for ellis2023, by 0.5 % for islam2024)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from cosim.cli import main
from cosim.hil.summary import RUN_METRICS

RUNS = {
    "eslami2024": ["sweeps/eslami2024.yaml", "--backend", "twin", "-s", "training.epochs=2",
                   "-s", "evaluation.repeats=1", "-s", "data.n_test=10"],
    "islam2024": ["sweeps/islam2024.yaml", "--backend", "twin", "-s", "network.hidden=4", "-s", "training.software_epochs=2",
                  "-s", "training.hil_epochs=1", "-s", "data.max_train=40", "-s", "data.max_test=20",
                  "-s", "characterization.coarse_points=4", "-s", "characterization.coarse_pulses=4",
                  "-s", "characterization.points=4", "-s", "characterization.pulses=4"],
    "islam2024-msdc": ["sweeps/islam2024.yaml", "--backend", "twin", "-s", "network.hidden=4", "-s", "network.weights=msdc",
                       "-s", "training.software_epochs=2", "-s", "training.hil_epochs=1", "-s", "data.max_train=24",
                       "-s", "data.max_test=12", "-s", "training.batch_size=12",
                       "-s", "characterization.coarse_points=4", "-s", "characterization.coarse_pulses=4",
                       "-s", "characterization.points=4", "-s", "characterization.pulses=4"],
    # tiled boards: every tile books its own rows, the periphery between tiles its own
    "eslami2024-tiles": ["sweeps/eslami2024.yaml", "--backend", "twin", "-s", "training.epochs=2",
                         "-s", "evaluation.repeats=1", "-s", "data.n_test=10", "-s", "circuit.tile=[4,2]"],
    "islam2024-msdc-tiles": ["sweeps/islam2024.yaml", "--backend", "twin", "-s", "network.hidden=4",
                             "-s", "network.weights=msdc", "-s", "crossbar.tile=[16,3]", "-s", "training.software_epochs=2",
                             "-s", "training.hil_epochs=1", "-s", "data.max_train=24", "-s", "data.max_test=12",
                             "-s", "training.batch_size=12", "-s", "characterization.coarse_points=4",
                             "-s", "characterization.coarse_pulses=4", "-s", "characterization.points=4",
                             "-s", "characterization.pulses=4"],
    "ellis2023": ["sweeps/ellis2023.yaml", "--backend", "twin", "-s", "training.max_epochs=2", "-s", "training.patience=2",
                  "-s", "data.max_train=100", "-s", "evaluation.passes=2", "-s", "training.baseline=false"],
    "ellis2023-spice": ["sweeps/ellis2023.yaml", "--backend", "spice", "-s", "training.max_epochs=2",
                        "-s", "training.patience=2", "-s", "data.max_train=100", "-s", "evaluation.passes=2",
                        "-s", "training.baseline=false", "-s", "calibration.reads=16"],
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.spice) if n.endswith("spice") else n for n in RUNS])
def test_run_metrics_equal_the_report_totals(name, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", RUNS[name][0], "--out", str(run), *RUNS[name][1:]])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    totals = pd.read_csv(tmp_path / "report" / "run_totals.csv").iloc[0]
    shared = [key for key in RUN_METRICS if key in metrics]
    assert {"energy_J", "energy_with_peripherals_J", "circuit_time_s", "pulses", "energy_per_inference_J",
            "time_per_inference_s", "training_energy_J"} <= set(shared), shared
    for key in shared:
        assert metrics[key] == pytest.approx(totals[key], rel=1e-9), key
    ledger = pd.read_parquet(run / "ledger.parquet")
    assert (ledger["tile"] != "").any() == name.endswith("tiles")
    inference = ledger[ledger["phase"] == "inference"]
    assert metrics["energy_per_inference_J"] == pytest.approx(inference["energy_J"].sum() / inference["samples"].sum(),
                                                              rel=1e-12)
    assert metrics["energy_J"] == pytest.approx(ledger["energy_J"].sum(), rel=1e-12)
