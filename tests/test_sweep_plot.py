"""`cosim sweep plot`: bars over categories (presets, true/false) in the order the spec lists them, lines over
numeric axes, one bar or line per hue value, and axes in the units of the metric's name."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.ticker import EngFormatter

from cosim.cli import main
from cosim.sweep.plot import axis_label, draw
from cosim.sweep.results import RESULTS_FILE

PRESETS = ["W", "Cr", "C"]  # the spec's order; alphabetically it would be C, Cr, W


@pytest.fixture
def results() -> pd.DataFrame:
    """A sweep's results as `cosim sweep` writes them: grid over presets × reset pulse × learning rate, 2 seeds."""
    rows, point = [], 0
    for preset in PRESETS:
        for reset in (True, False):
            for rate in (0.1, 0.2, 0.4):
                for seed in (0, 1):
                    rows.append({"point": point, "device.preset": preset, "programming.reset_pulse": reset,
                                 "training.learning_rate": rate, "seed": seed, "status": "ok",
                                 "energy_J": 1e-7 * (1 + PRESETS.index(preset)) * (2 if reset else 1) + 1e-9 * seed,
                                 "test_accuracy": 0.5 + rate})
                    point += 1
    return pd.DataFrame(rows).sample(frac=1, random_state=0)  # row order must not matter: the points' does


def _joined_lines(ax) -> list:
    """Lines drawn between points (error bar caps are markers without a line)."""
    return [line for line in ax.get_lines() if len(line.get_xdata()) > 1 and line.get_linestyle() not in ("None", "")]


def test_categories_are_bars_in_the_specs_order_never_joined_by_lines(results):
    fig, ax = plt.subplots()
    draw(fig, ax, results, "device.preset", "energy_J", None, "auto")
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 1 and len(bars[0]) == 3 and not _joined_lines(ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == PRESETS
    means = [bar.get_height() for bar in bars[0]]
    assert means == pytest.approx([1.5e-7 + 5e-10, 3e-7 + 5e-10, 4.5e-7 + 5e-10])  # W, Cr, C: mean over the rest
    assert ax.get_ylabel() == "energy (J)" and isinstance(ax.yaxis.get_major_formatter(), EngFormatter)
    assert ax.yaxis.get_major_formatter()(2e-7) == "200 nJ"
    plt.close(fig)


def test_categories_with_a_hue_are_grouped_bars(results):
    fig, ax = plt.subplots()
    draw(fig, ax, results, "device.preset", "energy_J", "programming.reset_pulse", "auto")
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 and all(len(b) == 3 for b in bars) and not _joined_lines(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["programming.reset_pulse = True",
                                                                   "programming.reset_pulse = False"]
    assert bars[0][0].get_height() == pytest.approx(2 * bars[1][0].get_height(), rel=0.01)  # reset pulse doubles W
    plt.close(fig)


def test_true_false_is_a_category_too(results):
    fig, ax = plt.subplots()
    draw(fig, ax, results, "programming.reset_pulse", "test_accuracy", None, "auto")
    assert any(isinstance(c, BarContainer) for c in ax.containers) and not _joined_lines(ax)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["True", "False"]
    assert ax.yaxis.get_major_formatter()(0.5) == "50%"
    plt.close(fig)


def test_numeric_axes_are_lines_one_per_hue_value(results):
    fig, ax = plt.subplots()
    draw(fig, ax, results, "training.learning_rate", "test_accuracy", "device.preset", "auto")
    assert not any(isinstance(c, BarContainer) for c in ax.containers)
    lines = _joined_lines(ax)
    assert len(lines) == 3 and all(list(line.get_xdata()) == [0.1, 0.2, 0.4] for line in lines)
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"device.preset = {p}" for p in PRESETS]
    assert ax.get_xlabel() == "training.learning_rate"
    plt.close(fig)


def test_heatmaps_keep_the_specs_order(results):
    fig, ax = plt.subplots()
    draw(fig, ax, results, "device.preset", "energy_J", "programming.reset_pulse", "heatmap")
    assert [t.get_text() for t in ax.get_xticklabels()] == PRESETS
    assert [t.get_text() for t in ax.get_yticklabels()] == ["True", "False"]
    assert "300 nJ" in [t.get_text() for t in ax.texts]  # W with reset pulse, 2 × 150 nJ
    plt.close(fig)


def test_axis_labels_carry_the_unit_of_the_name():
    assert axis_label("energy_J") == "energy (J)" and axis_label("energy_per_inference_J") == "energy per inference (J)"
    assert axis_label("test_accuracy") == "test accuracy" and axis_label("programming.width_s") == "programming.width_s (s)"
    assert axis_label("series_ohm") == "series (Ω)"


def test_the_command_writes_the_plot(results, tmp_path):
    results.to_parquet(tmp_path / RESULTS_FILE)
    out = tmp_path / "energy.png"
    result = CliRunner().invoke(main, ["sweep", "plot", str(tmp_path), "--x", "device.preset", "--y", "energy_J",
                                       "--hue", "programming.reset_pulse", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
