"""`cosim characterize msdc` and `cosim fit msdc` from the command line."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from cosim.cli import main


@pytest.mark.spice
def test_characterize_all_presets_writes_loops_and_pulse_curves(tmp_path):
    result = CliRunner().invoke(main, ["characterize", "msdc", "--preset", "all", "--pulses", "10", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for preset in ("W", "Cr", "C"):
        loop = pd.read_csv(tmp_path / f"iv_{preset}.csv")
        pulses = pd.read_csv(tmp_path / f"pulses_{preset}.csv")
        assert (tmp_path / f"iv_{preset}.png").stat().st_size > 10_000
        # Pinched loop: the current crosses zero where the voltage does.
        assert abs(loop["current_A"].iloc[(loop["v_device_V"].abs()).idxmin()]) < 0.05 * loop["current_A"].abs().max()
        g = pulses["conductance_S"].to_numpy()
        assert g[10] > g[0] and g[20] < g[10]  # ten set pulses raise it, ten reset pulses lower it
    assert (tmp_path / "pulses.png").stat().st_size > 10_000


def test_characterize_unknown_preset_is_one_line():
    result = CliRunner().invoke(main, ["characterize", "msdc", "--preset", "Zr"])
    assert result.exit_code == 2 and "unknown M-SDC preset 'Zr'" in result.output and "Traceback" not in result.output


def test_fit_bad_csv_names_file_and_line(tmp_path):
    bad = tmp_path / "loop.csv"
    bad.write_text("0.1,1.0\n0.2,nan\n")
    result = CliRunner().invoke(main, ["fit", "msdc", str(bad), "--amplitude", "0.8", "--frequency", "10",
                                       "--series-ohm", "5000", "--out", str(tmp_path / "fit")])
    assert result.exit_code == 2
    assert "loop.csv" in result.output and "line 2" in result.output
