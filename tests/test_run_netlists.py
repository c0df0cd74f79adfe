"""Netlists that run where they land: every export (and a run's netlists/, tests/test_training.py) copied to
another folder runs in plain `ngspice -b` through its run.sh and writes data; a model that does not load, or a
netlist with nothing to simulate, makes run.sh fail; the README's rebuild commands work as written; the
domain-wall read energy recomputed from an export's output is the ledger's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cosim import export as ex
from cosim.devices import registry
from cosim.devices.dw_synapse import spice as dw_spice
from cosim.experiments import available
from cosim.export.source import load_source
from cosim.resources import data_file
from cosim.spice import install, rawfile

pytestmark = pytest.mark.spice


@pytest.mark.parametrize("experiment", available())
def test_each_experiments_export_runs_copied_elsewhere(experiment, tmp_path, run_elsewhere):
    result = ex.export(data_file("netlists", f"{experiment}.yaml"), "ngspice", tmp_path / "export", "read")
    copy, proc = run_elsewhere(result.out_dir)
    shutil.rmtree(result.out_dir)  # nothing may refer to where it was written
    assert proc.returncode == 0, proc.stdout + proc.stderr + (copy / "board.log").read_text()
    waves = rawfile.read(copy / "board.raw")[-1].vectors()
    assert len(waves["time"]) > 10 and waves["time"][-1] > 0
    for vector in result.circuit.column_vectors + result.circuit.variants["ngspice"].state_vectors:
        assert np.isfinite(waves[vector]).all(), vector
    readme = (copy / "README.md").read_text()
    assert all(f"- `{p.name}`: " in readme for p in copy.iterdir() if p.name in {f.name for f in result.files})


def test_run_sh_fails_when_the_model_does_not_load_or_nothing_is_simulated(tmp_path, run_elsewhere):
    source = data_file("netlists", "eslami2024.yaml")
    folder = ex.export(source, "ngspice", tmp_path / "read", "read", "osdi").out_dir
    (folder / "msdc.osdi").write_bytes(b"not a shared library")
    copy, proc = run_elsewhere(folder)
    assert proc.returncode == 1 and "see board.log" in proc.stderr
    assert "couldn't be loaded" in (copy / "board.log").read_text()
    (folder / "msdc.osdi").unlink()
    assert run_elsewhere(folder)[1].returncode == 1
    # no analysis: ngspice itself exits 0 having written nothing; run.sh does not
    idle = ex.export(source, "ngspice", tmp_path / "none", "none", "osdi").out_dir
    plain = subprocess.run([install.executable(), "-b", "-r", "board.raw", "board.cir"], cwd=idle,
                           capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0 and not (idle / "board.raw").exists()
    assert run_elsewhere(idle)[1].returncode == 1


def test_the_readme_rebuild_commands_work_as_written(tmp_path, run_elsewhere):
    """The README's openvaf-r lines, as written, with this environment's python first on the PATH (the pip line,
    which installs the wheel this environment has, is not run)."""
    folder = ex.export(data_file("netlists", "eslami2024.yaml"), "ngspice", tmp_path / "read", "read", "osdi").out_dir
    block = (folder / "README.md").read_text().split("## Rebuild the compiled models")[1].split("```")[1]
    lines = [line for line in block.strip().splitlines() if "pip install" not in line]
    assert lines[-1] == '"$OPENVAF" --target_cpu generic msdc.va -o msdc.osdi'
    (folder / "msdc.osdi").unlink()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["sh", "-ec", "\n".join(lines)], cwd=folder, check=True, capture_output=True, timeout=120, env=env)
    assert (folder / "msdc.osdi").read_bytes()[:4] == b"\x7fELF"
    assert run_elsewhere(folder)[1].returncode == 0


def test_the_read_energy_recomputed_from_an_export_is_the_ledgers(tmp_path, run_elsewhere, record_property):
    """The domain-wall export saves v(rd<k>), i(vrd<k>), i(vdd<k>): ∫ −v(rd)·i(vrd) − Vdd·i(vdd) dt over each read
    slot, integrated here, averaged by stored state, is the per-read energy the ledger books (read_cost, the
    nominal synapse the run measures). 40 synapses (digits max-pooled by 4), 16 reads each."""
    config = tmp_path / "small.yaml"
    config.write_text(data_file("netlists", "ellis2023.yaml").read_text()
                      .replace("  pool: auto", "  pool: 4").replace("  reads: 4", "  reads: 16"))
    result = ex.export(config, "ngspice", tmp_path / "dw", "read")
    copy, proc = run_elsewhere(result.out_dir)
    assert proc.returncode == 0, proc.stderr
    w = rawfile.read(copy / "board.raw")[-1].vectors()
    cfg = load_source(config)[0]
    c, reads, t = cfg.read_circuit, cfg.training.reads, w["time"]
    energy, state = [], []
    for k in range(result.circuit.x0.size):
        power_W = -(w[f"v(rd{k})"] * w[f"i(vrd{k})"]) - c.supply_V * w[f"i(vdd{k})"]
        for j in range(reads):
            start, end = j * c.slot_s, (j + 1) * c.slot_s
            ts = np.concatenate([[start], t[(t > start) & (t < end)], [end]])
            energy.append(np.trapezoid(np.interp(ts, t, power_W), ts))
            state.append(np.interp((j + 0.5) * c.slot_s, t, w[f"v(xs{k}.st)"]) > 0.5)
    energy, state = np.array(energy), np.array(state)
    assert 0.2 < state.mean() < 0.8  # both states read, so both energies are compared
    params = registry.family(cfg.device.family).params(cfg.device.preset)
    cost, _ = dw_spice.read_cost("spice", c, params, cfg.seed, cfg.calibration.reads)
    np.testing.assert_allclose(energy[~state].mean(), cost.energy_state0_J, rtol=1e-4)
    np.testing.assert_allclose(energy[state].mean(), cost.energy_state1_J, rtol=1e-4)
    booked = np.where(state, cost.energy_state1_J, cost.energy_state0_J).mean()
    record_property("per_read_energy_rel_diff", float(energy.mean() / booked - 1))
    np.testing.assert_allclose(energy.mean(), booked, rtol=1e-4)
