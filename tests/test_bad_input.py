"""Bad input gets one clear error line, never a traceback: every CLI command with malformed, unknown,
mistyped and out-of-range input, and property-based tests (hypothesis) that feed random configs, overrides,
sweep specs, parameter files, CSV files and netlist IR: the only exceptions are cosim's typed errors, and
every netlist the IR lets through is well-formed text that ngspice loads or rejects with a typed error."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import typing
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cosim import config as cfgmod
from cosim import experiments
from cosim import sweep as sweeps
from cosim.cli import main
from cosim.errors import ConfigError, NetlistError, SimulationError
from cosim.netlist import ir
from cosim.netlist.writers import ngspice
from test_injection import netlist_is_safe

def fuzz(examples: int) -> settings:
    """The same examples on every run (a failure reproduces; set derandomize=False locally to explore further),
    no example database on disk, no per-example deadline (ngspice and a loaded machine set the pace)."""
    return settings(database=None, deadline=None, derandomize=True, max_examples=examples,
                    suppress_health_check=[HealthCheck.too_slow])
SHORT = ["--backend", "twin", "-s", "training.epochs=1", "-s", "evaluation.repeats=1", "-s", "data.n_test=10"]


# --- the command line --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Bad input files, a finished twin run, and corrupted copies of it."""
    d = tmp_path_factory.mktemp("bad")
    texts = {
        "malformed.yaml": "a: [1, 2\n", "list.yaml": "- 1\n- 2\n", "unknown.yaml": "foo: 1\n",
        "nested.yaml": "device: {colour: red}\n", "wrongtype.yaml": "training: {epochs: many}\n",
        "negwidth.yaml": "programming: {width_s: -1.0e-6}\n", "negwire.yaml": "circuit: {wire_ohm: -1}\n",
        "nan.yaml": "training: {learning_rate: .nan}\n", "inf.yaml": "training: {learning_rate: .inf}\n",
        "nolayers.yaml": "circuit: {layers: []}\n", "zerorows.yaml": "data: {n_test: 0}\n",
        "negseed.yaml": "seed: -1\n", "experiment.yaml": "experiment: nope\n",
        "ron.yaml": yaml.safe_dump({"r_on_ohm": 2000.0, "r_off_ohm": 1000.0, "v_on_V": 0.2, "v_off_V": 0.2,
                                    "tau_s": 1e-4, "phi": 0.8, "alpha_f_A": 1e-7, "beta_f_per_V": 4.0,
                                    "alpha_r_A": 1e-7, "beta_r_per_V": 4.0, "source": "test"}),
        "pnan.yaml": "r_on_ohm: .nan\n", "pempty.yaml": "",
        "spec_bad.yaml": "base: [\n", "spec_unknown.yaml": "base: eslami2024.yaml\nfoo: 1\n",
        "spec_empty.yaml": "base: eslami2024.yaml\ngrid: {device.preset: []}\n",
        "spec_nan.yaml": "base: eslami2024.yaml\nrandom: {n: 2, ranges: {training.noise: [.nan, 0.1]}}\n",
        "spec_seed.yaml": "base: eslami2024.yaml\nseeds: [-1]\n",
        "empty.csv": "", "text.csv": "a,b\nc,d\n", "one.csv": "0.1,1\n",
        # resource bombs, silently accepted and late-failing input (each once a traceback, a wrong run or a hang)
        "bomb.yaml": "seed: [&a [x,x,x,x,x,x,x,x,x], " + ", ".join(
            f"&{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]" for p, c in zip("abcdefgh", "bcdefghi")) + "]\n",
        "deep.yaml": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "dup.yaml": "training: {epochs: 1}\ntraining: {epochs: 2}\n", "epochs.yaml": "training: {epochs: true}\n",
        "amp.yaml": "programming: {amplitude_V: 1.0e308}\n", "std.yaml": "device: {variation: {r_on_rel_std: 1.0e200}}\n",
        "ntest.yaml": "data: {n_test: 1e12}\n", "layers.yaml": "circuit: {layers: [9, 3000000, 1]}\n",
        "tiny.yaml": "programming: {width_s: 1e-300}\n", "nulpath.yaml": 'device: {params_file: "a\\0b.yaml"}\n',
        "pnul.yaml": "r_on_ohm: 1000.0\x00\n",
        "spec_seeds.yaml": "base: eslami2024.yaml\nseeds: 100000000\n",
        "spec_points.yaml": "base: eslami2024.yaml\ngrid: {%s}\n" % ", ".join(
            f"{k}: [{', '.join(str(0.01 * i) for i in range(1, 101))}]"
            for k in ("training.noise", "training.target", "evaluation.input_noise", "evaluation.conductance_error")),
        "spec_rand.yaml": "base: eslami2024.yaml\nrandom: {n: 2, seed: -1, ranges: {training.noise: [0.0, 0.1]}}\n",
        "spec_eq.yaml": "base: eslami2024.yaml\ngrid: {'training.learning_rate=5.0 #': [0.2]}\n",
        "spec_text.yaml": "base: eslami2024.yaml\ngrid: {device.preset: ['W #x']}\n",
        "spec_preset.yaml": "base: eslami2024.yaml\ngrid: {device.preset: [W, Cr, 'x[/]']}\n",
        "spec_params.yaml": "base: eslami2024.yaml\ngrid: {device.params_file: [null, missing.yaml]}\n",
        "spicewidth.yaml": "programming: {width_s: 1uV}\n", "spicecount.yaml": "data: {n_test: 2.5u}\n",
        "spec_spice.yaml": "base: eslami2024.yaml\ngrid: {programming.width_s: [1u, 2mV]}\n",
        "spec_spice_range.yaml": "base: eslami2024.yaml\nrandom: {n: 2, ranges: {circuit.wire_ohm: [1, 10kV]}}\n",
        "nancsv.csv": "\n".join(f"{0.01 * i},nan" for i in range(30)), "afile": "x",
    }
    for name, text in texts.items():
        (d / name).write_text(text)
    for name in ("binary.yaml", "pbin.yaml", "binary.csv"):
        (d / name).write_bytes(b"\xff\xfe\x00garbage")
    v = 0.8 * np.sin(2 * np.pi * np.arange(40) / 40)
    (d / "good.csv").write_text("\n".join(f"{a - 5e3 * a / 15e3:.9g},{a / 15e3 * 1e6:.9g}" for a in v))
    (d / "nosweep").mkdir()
    (d / "badsweep").mkdir()
    (d / "badsweep" / "results.parquet").write_text("not parquet")
    (d / "emptysweep").mkdir()
    (d / "emptysweep" / "results.parquet").write_bytes(b"")
    (d / "big.yaml").write_text("# " + "x" * (2 << 20) + "\n")
    run = d / "run"
    result = CliRunner().invoke(main, ["train", "--out", str(run), *SHORT])
    assert result.exit_code == 0, result.output
    import shutil

    for name, corrupt in (("badconfig", lambda p: (p / "config.yaml").write_text("a: [")),
                          ("badmetrics", lambda p: (p / "metrics.json").write_text("{")),
                          ("badledger", lambda p: (p / "ledger.parquet").write_bytes(b"garbage")),
                          ("badstates", lambda p: (p / "states.npz").write_bytes(b"garbage")),
                          ("shortstates", lambda p: np.savez(p / "states.npz", msdc_x=np.zeros(3))),
                          ("listmetrics", lambda p: (p / "metrics.json").write_text("[]")),
                          ("textmetrics", lambda p: (p / "metrics.json").write_text(json.dumps(
                              {**json.loads((p / "metrics.json").read_text()), "test_accuracy": "high"})))):
        shutil.copytree(run, d / name)
        corrupt(d / name)
    return d


def _cases():
    """(id, arguments with {d} for the files folder, fragments the error line must hold)."""
    c = []
    short = ["--out", "{d}/t", *SHORT]  # a run that got as far as starting writes under the test's folder

    def case(id, args, *fragments):
        c.append(pytest.param(args, fragments, id=id))

    # train: files, keys, types, ranges
    case("train-missing-file", ["train", "{d}/missing.yaml"], "missing.yaml", "no such file")
    case("train-folder", ["train", "{d}"], "is a directory")
    case("train-malformed-yaml", ["train", "{d}/malformed.yaml"], "malformed.yaml", "malformed YAML (line 2)")
    case("train-not-a-mapping", ["train", "{d}/list.yaml"], "list.yaml", "expected a mapping")
    case("train-binary", ["train", "{d}/binary.yaml"], "binary.yaml", "cannot read")
    case("train-unknown-key", ["train", "{d}/unknown.yaml"], "unknown.yaml", "unknown key 'foo'")
    case("train-unknown-nested-key", ["train", "{d}/nested.yaml"], "unknown key 'device.colour'")
    case("train-wrong-type", ["train", "{d}/wrongtype.yaml"], "training.epochs = 'many'",
         "not a number (SPICE style is accepted: 1u, 47k")
    case("train-spice-wrong-unit", ["train", "{d}/spicewidth.yaml"], "spicewidth.yaml",
         "programming.width_s = '1uV': the unit is s, not 'v'")
    case("train-spice-not-whole", ["train", "{d}/spicecount.yaml"], "data.n_test = '2.5u': not a whole number")
    case("train-spice-override-wrong-unit", ["train", "-s", "circuit.wire_ohm=47kV", *short],
         "circuit.wire_ohm = '47kV': the unit is ohm, not 'v'")
    case("train-spice-override-unit-on-a-ratio", ["train", "-s", "training.noise=5ms", *short],
         "training.noise = '5ms': it takes no unit, not 's'")
    case("train-negative-width", ["train", "{d}/negwidth.yaml"], "programming.width_s = -1e-06", "greater than or equal to 1e-12")
    case("train-negative-resistance", ["train", "{d}/negwire.yaml"], "circuit.wire_ohm = -1", "greater than or equal to 0")
    case("train-nan", ["train", "{d}/nan.yaml"], "training.learning_rate = nan", "finite number")
    case("train-inf", ["train", "{d}/inf.yaml"], "training.learning_rate = inf", "finite number")
    case("train-empty-layers", ["train", "{d}/nolayers.yaml"], "nolayers.yaml", "circuit.layers must start with 9")
    case("train-zero-rows", ["train", "{d}/zerorows.yaml"], "data.n_test = 0", "greater than or equal to 1")
    case("train-negative-seed", ["train", "{d}/negseed.yaml"], "seed = -1", "greater than or equal to 0")
    case("train-negative-seed-option", ["train", "--seed", "-3", *short], "--seed", "-3 is not in the range x>=0")
    case("train-unknown-experiment", ["train", "{d}/experiment.yaml"], "experiment 'nope' is unknown", "allowed: eslami2024")
    case("train-override-no-equals", ["train", "-s", "nokey", *short], "-s 'nokey'", "expected KEY=VALUE")
    case("train-override-into-a-value", ["train", "-s", "training.epochs.x=1", *short], "'epochs' is a value, not a section")
    case("train-unknown-preset", ["train", "-s", "device.preset=nope", *short], "unknown M-SDC preset 'nope'", "allowed: W, Cr, C")
    case("train-missing-params-file", ["train", "-s", "device.params_file={d}/none.yaml", *short], "none.yaml", "cannot read")
    case("train-params-ron-above-roff", ["train", "-s", "device.params_file={d}/ron.yaml", *short],
         "ron.yaml", "r_on_ohm (2000) must be below r_off_ohm (1000)")
    case("train-params-nan", ["train", "-s", "device.params_file={d}/pnan.yaml", *short], "pnan.yaml", "r_on_ohm = nan")
    case("train-params-binary", ["train", "-s", "device.params_file={d}/pbin.yaml", *short], "pbin.yaml", "not a UTF-8 text")
    case("train-params-empty", ["train", "-s", "device.params_file={d}/pempty.yaml", *short], "pempty.yaml", "expected a mapping")
    case("train-out-is-a-file", ["train", *short, "--out", "{d}/afile"], "afile", "is a file")
    case("train-out-unwritable", ["train", *short, "--out", "/proc/cosim-out"], "/proc/cosim-out")
    case("train-out-empty", ["train", *SHORT, "--out", ""], "--out", "is empty")
    case("train-alias-bomb", ["train", "{d}/bomb.yaml"], "bomb.yaml", "line 1", "more than 100000 values")
    case("train-deep-nesting", ["train", "{d}/deep.yaml"], "deep.yaml", "nested deeper than 64 levels")
    case("train-big-file", ["train", "{d}/big.yaml"], "big.yaml", "larger than 1048576 bytes")
    case("train-device-file", ["train", "/dev/zero"], "/dev/zero", "not a regular file")
    case("train-duplicate-key", ["train", "{d}/dup.yaml"], "dup.yaml", "line 2: duplicate key 'training' (first on line 1)")
    case("train-bool-for-int", ["train", "{d}/epochs.yaml"], "training.epochs = True", "valid integer")
    case("train-huge-amplitude", ["train", "{d}/amp.yaml"], "programming.amplitude_V = 1e+308", "less than or equal to 100")
    case("train-huge-variation", ["train", "{d}/std.yaml"], "device.variation.r_on_rel_std = 1e+200", "less than or equal to 3")
    case("train-float-count", ["train", "{d}/ntest.yaml"], "data.n_test = 1000000000000.0", "valid integer")
    case("train-huge-layer", ["train", "{d}/layers.yaml"], "circuit.layers.1 = 3000000", "less than or equal to 4096")
    case("train-tiny-width", ["train", "{d}/tiny.yaml"], "programming.width_s = 1e-300", "greater than or equal to 1e-12")
    case("train-params-device-file", ["train", "-s", "device.params_file=/dev/zero", *short], "device.params_file",
         "/dev/zero", "not a regular file")
    case("train-params-nul-name", ["train", "{d}/nulpath.yaml", *short], "device.params_file", "a\\x00b.yaml",
         "NUL byte")
    case("train-params-nul-content", ["train", "-s", "device.params_file={d}/pnul.yaml", *short], "pnul.yaml",
         "line 1: NUL byte")
    case("train-override-bad-key", ["train", "-s", "training.epochs =1", "-s", "a b=1", *short], "'a b' is not a dotted key")
    # sweep
    case("sweep-missing-spec", ["sweep", "{d}/nospec.yaml", "--out", "{d}/s"], "nospec.yaml", "no such file")
    case("sweep-malformed", ["sweep", "{d}/spec_bad.yaml", "--out", "{d}/s"], "spec_bad.yaml", "malformed YAML")
    case("sweep-unknown-key", ["sweep", "{d}/spec_unknown.yaml", "--out", "{d}/s"], "unknown key 'foo'", "allowed: base")
    case("sweep-empty-axis", ["sweep", "{d}/spec_empty.yaml", "--out", "{d}/s"], "grid axis 'device.preset' is empty")
    case("sweep-nan-range", ["sweep", "{d}/spec_nan.yaml", "--out", "{d}/s"], "random.ranges.training.noise.0 = nan")
    case("sweep-spice-wrong-unit", ["sweep", "{d}/spec_spice.yaml", "--out", "{d}/s"],
         "point 1 (programming.width_s='2mV')", "the unit is s, not 'v'")
    case("sweep-spice-range-wrong-unit", ["sweep", "{d}/spec_spice_range.yaml", "--out", "{d}/s"],
         "random.ranges: circuit.wire_ohm = [1, '10kV']: the unit is ohm, not 'v'")
    case("sweep-negative-seed", ["sweep", "{d}/spec_seed.yaml", "--out", "{d}/s"], "seeds: -1 is not a seed")
    case("sweep-huge-seed-count", ["sweep", "{d}/spec_seeds.yaml", "--out", "{d}/s"], "seeds must be a count in [1, 10000]")
    case("sweep-too-many-points", ["sweep", "{d}/spec_points.yaml", "--out", "{d}/s"], "makes 100000000 points; at most 10000")
    case("sweep-negative-random-seed", ["sweep", "{d}/spec_rand.yaml", "--out", "{d}/s"], "random.seed = -1")
    case("sweep-key-with-equals", ["sweep", "{d}/spec_eq.yaml", "--out", "{d}/s"],
         "grid key 'training.learning_rate=5.0 #' is not a dotted config key")
    case("sweep-text-value-not-reparsed", ["sweep", "{d}/spec_text.yaml", "--out", "{d}/s"],
         "point 0 (device.preset='W #x')", "unknown M-SDC preset 'W #x'")
    case("sweep-late-preset", ["sweep", "{d}/spec_preset.yaml", "--out", "{d}/s"],
         "point 2 (device.preset='x[/]')", "unknown M-SDC preset 'x[/]'")
    case("sweep-late-params-file", ["sweep", "{d}/spec_params.yaml", "--out", "{d}/s"], "point 1",
         "missing.yaml: cannot read: no such file")
    case("sweep-scheduler-not-an-address", ["sweep", "{d}/spec_unknown.yaml", "--out", "{d}/s", "--scheduler", "not a url"],
         "--scheduler", "neither 'local' nor a scheduler address")
    case("sweep-zero-workers", ["sweep", "{d}/spec_unknown.yaml", "--out", "{d}/s", "--workers", "0"], "must be >= 1")
    case("sweep-plot-not-a-sweep", ["sweep", "plot", "{d}/nosweep", "--x", "a", "--y", "b"], "no results.parquet")
    case("sweep-plot-corrupt-results", ["sweep", "plot", "{d}/badsweep", "--x", "a", "--y", "b"],
         "results.parquet: not a readable results table")
    # characterize
    case("characterize-unknown-preset", ["characterize", "msdc", "--preset", "nope"], "unknown M-SDC preset 'nope'")
    for option, value, fragment in (("--amplitude", "nan", "'--amplitude': 'nan': not a number (SPICE style"),
                                    ("--amplitude", "-1", "amplitude_V must be finite and > 0, got -1"),
                                    ("--frequency", "0", "frequency_Hz must be finite and > 0, got 0"),
                                    ("--series-ohm", "inf", "'--series-ohm': 'inf': not a number"),
                                    ("--pulse-width", "0", "width_s must be finite and > 0, got 0"),
                                    ("--pulse-width", "5uV", "'--pulse-width': '5uV': the unit is s, not 'v'"),
                                    ("--series-ohm", "5kHz", "'--series-ohm': '5kHz': the unit is ohm, not 'hz'"),
                                    ("--frequency", "1x", "'--frequency': '1x': unknown scale or unit 'x'"),
                                    ("--pulses", "0", "pulses must be >= 1, got 0")):
        case(f"characterize{option}={value}", ["characterize", "msdc", option, value, "--out", "{d}/c"], fragment)
    case("characterize-out-is-a-file", ["characterize", "msdc", "--out", "{d}/afile"], "is a file")
    case("characterize-sot-bad-width", ["characterize", "sot", "--width", "nope", "--out", "{d}/sot"], "--width 'nope'")
    case("characterize-sot-negative-seed", ["characterize", "sot", "--seed", "-1", "--backend", "twin", "--out", "{d}/sot"],
         "seed")
    # fit
    plain = ["--frequency", "10", "--series-ohm", "5000", "--out", "{d}/fit"]
    case("fit-missing-file", ["fit", "msdc", "{d}/none.csv"], "does not exist")
    case("fit-empty-csv", ["fit", "msdc", "{d}/empty.csv", *plain], "empty.csv", "0 data rows; need at least 20")
    case("fit-text-csv", ["fit", "msdc", "{d}/text.csv", *plain], "text.csv", "line 2: non-numeric cell")
    case("fit-nan-csv", ["fit", "msdc", "{d}/nancsv.csv", *plain], "nancsv.csv", "line 1: non-finite value")
    case("fit-one-row", ["fit", "msdc", "{d}/one.csv", *plain], "one.csv", "1 data rows")
    case("fit-binary-csv", ["fit", "msdc", "{d}/binary.csv", *plain], "binary.csv", "not a text CSV file")
    case("fit-no-drive", ["fit", "msdc", "{d}/good.csv"], "good.csv", "needs frequency_Hz= and series_ohm=")
    case("fit-zero-starts", ["fit", "msdc", "{d}/good.csv", *plain, "--starts", "0"], "n_starts (--starts) must be an integer >= 1")
    case("fit-zero-evaluations", ["fit", "msdc", "{d}/good.csv", *plain, "--max-evaluations", "0"],
         "max_nfev (--max-evaluations) must be an integer >= 1")
    case("fit-nan-amplitude", ["fit", "msdc", "{d}/good.csv", *plain, "--amplitude", "nan"],
         "'--amplitude': 'nan': not a number")
    case("fit-amplitude-wrong-unit", ["fit", "msdc", "{d}/good.csv", *plain, "--amplitude", "800mA"],
         "'--amplitude': '800mA': the unit is V, not 'a'")
    case("fit-negative-frequency", ["fit", "msdc", "{d}/good.csv", "--frequency", "-1", "--series-ohm", "5000"],
         "good.csv", "need frequency_Hz > 0", "-1.0 Hz")
    case("fit-nothing-selected", ["fit", "msdc", "{d}/good.csv", *plain, "--fit-on", "zzz"], "fit_on selector 'zzz' matches no run")
    # export and report
    case("export-missing", ["export", "{d}/none", "--dialect", "ngspice", "--out", "{d}/e"], "does not exist")
    case("export-malformed-config", ["export", "{d}/malformed.yaml", "--dialect", "ngspice", "--out", "{d}/e"], "malformed YAML")
    case("export-not-a-run", ["export", "{d}/nosweep", "--dialect", "ngspice", "--out", "{d}/e"], "not a run directory")
    case("export-bad-dialect", ["export", "{d}/run", "--dialect", "spice3", "--out", "{d}/e"], "'spice3' is not one of")
    case("export-corrupt-config", ["export", "{d}/badconfig", "--dialect", "ngspice", "--out", "{d}/e"], "config.yaml", "malformed YAML")
    case("export-short-states", ["export", "{d}/shortstates", "--dialect", "ngspice", "--out", "{d}/e"], "holds 3 M-SDC states")
    case("export-corrupt-states", ["export", "{d}/badstates", "--dialect", "ngspice", "--out", "{d}/e"], "states.npz")
    case("report-not-a-run", ["report", "{d}/nosweep", "--out", "{d}/r"], "not a run directory")
    for name in ("badconfig", "badmetrics", "badledger", "badstates", "shortstates"):
        case(f"report-{name}", ["report", f"{{d}}/{name}", "--out", "{d}/r"], name)
    case("report-metrics-a-list", ["report", "{d}/listmetrics", "--out", "{d}/r"], "metrics.json", "expected a mapping")
    case("report-metrics-text-accuracy", ["report", "{d}/textmetrics", "--out", "{d}/r"], "metrics.json",
         "test_accuracy = 'high': expected a number")
    case("report-empty-results", ["report", "{d}/emptysweep", "--out", "{d}/r"], "results.parquet", "cannot be read")
    case("demo-negative-seed", ["demo", "--seed", "-1"], "seed")
    return c


@pytest.mark.parametrize("args,fragments", _cases())
def test_bad_cli_input_gets_one_error_line_and_a_nonzero_exit(files, args, fragments):
    args = [a.replace("{d}", str(files)) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code != 0
    errors = [line for line in result.stderr.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("args,fragment", [
    (["train", "{d}/unknown.yaml"], "unknown key 'foo'"),
    (["sweep", "plot", "{d}/badsweep", "--x", "a", "--y", "b"], "not a readable results table"),
])
def test_the_installed_command_prints_no_traceback(files, args, fragment):
    """The same through a real process: stderr is the one line, the exit code 2."""
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", *[a.replace("{d}", str(files)) for a in args]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and fragment in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_names_holding_markup_are_printed_as_written(tmp_path):
    """'[/]' in a folder name once aborted the run with rich's MarkupError; it is a name like any other."""
    out = tmp_path / "x[/]" / "[bold]run"
    result = CliRunner().invoke(main, ["train", "--out", str(out), *SHORT])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output.replace("\n", "") and (out / "metrics.json").is_file()


def test_usage_errors_are_one_line_and_a_bare_group_shows_its_help():
    for args, fragment in ((["train", "--nope"], "No such option '--nope'"), (["nosuch"], "No such command 'nosuch'"),
                           (["sweep", "run"], "Missing argument 'SPEC'")):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: ") and fragment in result.stderr
    for args, code in (([], 2), (["sweep"], 2), (["--help"], 0)):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == code and "Usage:" in result.output and "Commands:" in result.output


def test_a_file_name_with_a_newline_stays_on_one_error_line(tmp_path):
    path = tmp_path / "bad\nname.yaml"
    path.write_text("foo: 1\n")
    result = CliRunner().invoke(main, ["train", str(path)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "bad\\nname.yaml" in result.stderr


def test_unreadable_sweep_files_are_rerun_or_named(tmp_path):
    """A point whose files are corrupt counts as missing (the next run redoes it); a corrupt sweep record in
    DIR is a one-line ConfigError."""
    point = tmp_path / "p-0"
    point.mkdir()
    for text in ("{", "[]", ""):
        (point / "metrics.json").write_text(text)
        assert sweeps.point_status(point) == "missing"
    (point / "metrics.json").unlink()
    (point / sweeps.FAILED_FILE).write_text("{}")  # readable, but without its keys
    assert sweeps.point_status(point) == "failed"
    (point / "metrics.json").write_text('{"test_accuracy": 1.0}')
    assert sweeps.point_status(point) == "done"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": {"backend": "twin"}}))
    out = tmp_path / "out"
    out.mkdir()
    (out / sweeps.SPEC_FILE).write_text("points: [")
    with pytest.raises(ConfigError, match="unreadable sweep record"):
        sweeps.prepare(sweeps.expand(spec), spec, out, force=False)
    (out / sweeps.SPEC_FILE).write_text("- 1\n")
    with pytest.raises(ConfigError, match="not a sweep record"):
        sweeps.prepare(sweeps.expand(spec), spec, out, force=False)


# --- random configs and overrides ---------------------------------------------------------------------------


def _leaves(model, prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        args = typing.get_args(field.annotation) or (field.annotation,)
        nested = [a for a in args if isinstance(a, type) and hasattr(a, "model_fields")]
        out += _leaves(nested[0], f"{prefix}{name}.") if nested else [f"{prefix}{name}"]
    return out


KEYS = sorted({key for name in experiments.available() for key in _leaves(experiments.get(name).Config)})
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.5, 1e-9, 9, "random", "auto", "W", "Cr", "twin", "spice", "digits", "", "0.1"]),
    st.text(max_size=12),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=6), SCALARS, max_size=3))


def _nest(items: dict) -> dict:
    data: dict = {}
    for key, value in items.items():
        node, parts = data, key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return data


def _set(data: dict, key: str, value) -> dict:
    """A deep copy of `data` with the dotted `key` set (skipped where a value stands in the way)."""
    out = json.loads(json.dumps(data))
    node, parts = out, key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return out
    node[parts[-1]] = value
    return out


def _mutate(data: dict, changes) -> dict:
    for key, value in changes:
        data = _set(data, key, value)
    return data


# Every experiment's defaults as plain data (what a config file holds); mutations of them are near-valid.
DEFAULTS = {name: json.loads(json.dumps(experiments.validate({"experiment": name}, "defaults").model_dump(mode="json")))
            for name in experiments.available()}
PLAUSIBLE = st.one_of(st.floats(-1.0, 2.0), st.integers(0, 40), st.floats(1e-9, 1e4), SCALARS)
JUNK_CONFIGS = st.builds(
    lambda experiment, items: {**_nest(items), **({} if experiment is None else {"experiment": experiment})},
    st.one_of(st.none(), st.sampled_from(experiments.available()), st.sampled_from(["nope", 5, [1], ""])),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), VALUES, max_size=6),
)
NEAR_CONFIGS = st.one_of([
    st.builds(_mutate, st.just(data), st.lists(st.tuples(st.sampled_from(_leaves(experiments.get(name).Config)),
                                                         PLAUSIBLE), max_size=2))
    for name, data in DEFAULTS.items()])
CONFIGS = st.one_of(JUNK_CONFIGS, NEAR_CONFIGS, NEAR_CONFIGS)


@fuzz(300)
@given(CONFIGS)
def test_random_configs_validate_or_raise_config_error_and_round_trip(data):
    try:
        cfg = experiments.validate(data, "fuzz")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz: ")
        event("refused")
        return
    event(f"valid {cfg.experiment}")
    again = experiments.validate(yaml.safe_load(cfgmod.dump(cfg)), "round trip")  # what a run directory records
    assert again == cfg


@fuzz(150)
@given(st.lists(st.builds(lambda k, v: f"{k}={v}", st.one_of(st.sampled_from(KEYS), st.text(max_size=12)),
                          st.one_of(st.text(max_size=12), SCALARS.map(json.dumps))), max_size=4)
       | st.lists(st.text(max_size=20), max_size=3))
def test_random_overrides_validate_or_raise_config_error(overrides):
    try:
        experiments.load_experiment(None, overrides)
    except ConfigError:
        event("refused")
    else:
        event("valid")


SMALL_BOARD = st.fixed_dictionaries({
    "backend": st.just("twin"),
    "seed": st.integers(0, 2**32 - 1),
    "circuit": st.fixed_dictionaries({"layers": st.lists(st.integers(1, 4), min_size=1, max_size=2).map(lambda h: [9, *h]),
                                      "wire_ohm": st.floats(0, 1e3), "read_V": st.floats(1e-3, 0.25),
                                      "switch_on_ohm": st.floats(1e-3, 1e4)}),
    "device": st.fixed_dictionaries({"preset": st.sampled_from(["W", "Cr", "C", "w", "X"]),
                                     "initial_state": st.one_of(st.just("random"), st.floats(0, 1)),
                                     "variation": st.fixed_dictionaries({"r_on_rel_std": st.floats(0, 3),
                                                                         "r_off_rel_std": st.floats(0, 3)})}),
    "programming": st.fixed_dictionaries({"series_ohm": st.floats(1e-3, 1e7)}),
})


@pytest.mark.spice
@fuzz(40)
@given(SMALL_BOARD)
def test_valid_random_boards_write_well_formed_netlists(data):
    from cosim.experiments import eslami2024, msdc_board

    try:
        parts = eslami2024.board(experiments.validate(data, "fuzz"))
    except ConfigError:
        event("refused (unknown preset)")
        return
    event("written")
    network = msdc_board.network(parts, "fuzz board")
    netlist_is_safe(ngspice.write(network.netlist))


# --- random sweep specs, parameter files and CSV files -------------------------------------------------------

AXIS_KEYS = st.one_of(st.sampled_from(["device.preset", "training.noise", "training.epochs", "seed", "backend",
                                       "circuit.read_V", "data.n_test"]), st.text(max_size=8))
SPECS = st.fixed_dictionaries({"base": st.one_of(st.just("eslami2024.yaml"), st.text(max_size=10), st.integers())}, optional={
    "set": st.dictionaries(AXIS_KEYS, SCALARS, max_size=2),
    "grid": st.dictionaries(AXIS_KEYS, st.lists(SCALARS, max_size=3), max_size=2) | SCALARS,
    "zip": st.dictionaries(AXIS_KEYS, st.lists(SCALARS, max_size=3), max_size=2),
    "random": st.fixed_dictionaries({"n": st.integers(-1, 3), "ranges": st.dictionaries(
        AXIS_KEYS, st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-3, 3), max_size=3), max_size=2)},
        optional={"seed": st.integers(), "log": st.lists(AXIS_KEYS, max_size=2)}),
    "seeds": st.one_of(st.integers(-2, 3), st.lists(st.integers(-2, 5), max_size=3), st.text(max_size=3)),
    "extra": SCALARS,
})


NEAR_SPECS = st.fixed_dictionaries({"base": st.just("eslami2024.yaml"), "set": st.just({"backend": "twin"})}, optional={
    "grid": st.dictionaries(st.sampled_from(["device.preset", "training.noise", "programming.tolerance"]),
                            st.lists(st.sampled_from(["W", "Cr", "C", "X", 0.0, 0.05, 0.1, 2.0, -1]), min_size=1,
                                     max_size=3, unique=True), max_size=2),
    "zip": st.integers(1, 3).flatmap(lambda n: st.dictionaries(
        st.sampled_from(["training.learning_rate", "training.epochs"]),
        st.lists(st.one_of(st.floats(-0.5, 1.0), st.integers(-1, 5)), min_size=n, max_size=n), max_size=2)),
    "random": st.fixed_dictionaries({"n": st.integers(0, 3), "ranges": st.dictionaries(
        st.sampled_from(["training.noise", "evaluation.input_noise", "circuit.read_V"]),
        st.tuples(st.floats(-0.1, 0.3), st.floats(-0.1, 0.3)), min_size=1, max_size=2)},
        optional={"seed": st.integers(0, 9), "log": st.lists(st.just("circuit.read_V"), max_size=1)}),
    "seeds": st.one_of(st.integers(-1, 3), st.lists(st.integers(-1, 5), min_size=1, max_size=3, unique=True)),
})


@fuzz(150)
@given(SPECS | NEAR_SPECS)
def test_random_sweep_specs_expand_or_raise_config_error(spec):
    spec_path = Path(sweeps.__file__).resolve().parents[1] / "sweeps" / "fuzz-spec.yaml"  # never written
    try:
        sweep = sweeps.expand(spec_path, spec)
    except ConfigError:
        event("refused")
        return
    event("expanded")
    assert len({p.id for p in sweep.points}) == len(sweep.points) >= 1
    for point in sweep.points:  # every point is a complete, valid experiment
        experiments.validate(point.config, "point")


MSDC_FIELDS = ["r_on_ohm", "r_off_ohm", "v_on_V", "v_off_V", "tau_s", "temperature_K", "phi", "alpha_f_A",
               "beta_f_per_V", "alpha_r_A", "beta_r_per_V", "source"]


def _preset_w() -> dict:
    from cosim.devices.msdc import model as msdc

    return msdc.load_preset("W").model_dump()


@fuzz(200)
@given(st.dictionaries(st.one_of(st.sampled_from(MSDC_FIELDS), st.text(max_size=6)), SCALARS, max_size=13)
       | st.fixed_dictionaries({k: st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 5)
                                for k in MSDC_FIELDS[:-1]}, optional={"source": st.text(max_size=5)})
       | st.builds(_mutate, st.builds(_preset_w), st.lists(st.tuples(st.sampled_from(MSDC_FIELDS + ["extra"]),
                                                                     PLAUSIBLE), max_size=2))
       | VALUES)
def test_random_parameter_sets_are_valid_or_raise_config_error(data):
    from cosim.devices.msdc import model as msdc

    try:
        params = msdc.params_from_mapping(data, "fuzz.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.yaml: ")
        event("refused")
        return
    event("valid")
    values = [getattr(params, f) for f in msdc.PARAM_FIELDS]
    assert all(math.isfinite(v) for v in values) and 0 < params.r_on_ohm < params.r_off_ohm


CELL = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                 st.text(alphabet=" ,.-+eE0123456789nainfxX\t;\"'", max_size=8))


def _loop_rows(n: int, amplitude_V: float = 0.8, series_ohm: float = 5e3) -> list[str]:
    """One period of a sine through series_ohm into a 10 kΩ device: rows 'V_device, I_µA'."""
    v = amplitude_V * np.sin(2 * np.pi * np.arange(n) / n)
    i = v / (series_ohm + 1e4)
    return [f"{a - series_ohm * b:.9g},{b * 1e6:.9g}" for a, b in zip(v, i)]


def _damage(rows: list[str], edits) -> list[str]:
    rows = list(rows)
    for index, cell in edits:
        if rows:
            rows[index % len(rows)] = cell
    return rows


ROWS = st.one_of(
    st.lists(st.lists(CELL, min_size=0, max_size=3).map(",".join), max_size=60),
    st.builds(_damage, st.integers(1, 80).map(_loop_rows),
              st.lists(st.tuples(st.integers(0, 100), st.lists(CELL, max_size=3).map(",".join)), max_size=2)),
)


@fuzz(120)
@given(ROWS, st.sampled_from(["A", "mA", "uA"]), st.floats(allow_nan=True, allow_infinity=True) | st.just(10.0),
       st.floats(allow_nan=True, allow_infinity=True) | st.just(5e3))
def test_random_csv_files_read_or_raise_config_error(rows, unit, frequency, series):
    from cosim.devices.msdc.fit import read_runs

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loop.csv"
        path.write_text("\n".join(rows))
        try:
            runs = read_runs(path, frequency_Hz=frequency, series_ohm=series, current_unit=unit)
        except ConfigError as exc:
            assert str(exc).startswith(str(path))
            event("refused")
            return
    event("read")
    for run in runs:
        assert np.all(np.isfinite(run.i_A)) and np.all(np.isfinite(run.v_device_V)) and run.n_samples >= 20


# --- random netlist IR --------------------------------------------------------------------------------------

NODES = st.one_of(st.sampled_from(["0", "a", "b", "c", "x1"]), st.text(max_size=4))
NAMES = st.one_of(st.sampled_from(["1", "2", "3", "a"]), st.text(max_size=4))
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(1e-12, 1e6), st.integers(-3, 3),
                    st.text(max_size=3), st.none())
WAVES = st.one_of(
    st.builds(lambda v: ("Dc", (v,)), NUMBERS),
    st.builds(lambda a: ("Pulse", tuple(a)), st.lists(NUMBERS, min_size=2, max_size=7)),
    st.builds(lambda t, v: ("Pwl", (tuple(t), tuple(v))), st.lists(NUMBERS, max_size=4), st.lists(NUMBERS, max_size=4)),
    st.builds(lambda a: ("Sine", tuple(a)), st.lists(NUMBERS, min_size=3, max_size=6)),
)
EXPRESSIONS = st.one_of(st.sampled_from(["1e-3*V(a)", "V(a,b)/1e3", "tanh(V(a))", "(V(a)>0.5)?1e-6:0", "I(V1)",
                                         "{x0}", "exp(", "1+", "V(a"]), st.text(max_size=12))
ELEMENTS = st.one_of(
    st.tuples(st.just("R"), NAMES, NODES, NODES, NUMBERS),
    st.tuples(st.just("C"), NAMES, NODES, NODES, NUMBERS, NUMBERS),
    st.tuples(st.just("V"), NAMES, NODES, NODES, WAVES),
    st.tuples(st.just("I"), NAMES, NODES, NODES, WAVES),
    st.tuples(st.just("B"), NAMES, NODES, NODES, st.sampled_from(["I", "V", "Q"]), EXPRESSIONS),
    st.tuples(st.just("S"), NAMES, NODES, NODES, NODES, NODES, st.sampled_from(["sw1", "nosuch", "a b"])),
    st.tuples(st.just("X"), NAMES, st.lists(NODES, max_size=3), st.sampled_from(["cell", "nosuch"]),
              st.dictionaries(st.sampled_from(["x0", "r", "bad key"]), NUMBERS, max_size=2)),
)


def _element(spec):
    kind, name, *rest = spec
    name = kind + name
    if kind == "R":
        return ir.Resistor(name, *rest)
    if kind == "C":
        return ir.Capacitor(name, *rest)
    if kind in "VI":
        n1, n2, (wave, args) = rest
        waveform = getattr(ir, wave)(*args)
        return (ir.VoltageSource if kind == "V" else ir.CurrentSource)(name, n1, n2, waveform)
    if kind == "B":
        return ir.BehavioralSource(name, *rest)
    if kind == "S":
        return ir.Switch(name, *rest)
    terminals, subckt, params = rest
    return ir.SubcircuitInstance(name, tuple(terminals), subckt, params)


CELL_DEF = ir.SubcircuitDef("cell", ("te", "be"), (ir.Resistor("R1", "te", "be", 1e3), ir.Capacitor("cx", "x", "0", 1.0)),
                            {"x0": 0.0, "r": 1e3}, ic_params={"x0": "cx"})
SWITCH_MODEL = ir.Model("sw1", "sw", {"vt": 0.5, "ron": 1.0, "roff": 1e6})


def _netlist(specs, title) -> ir.Netlist | None:
    """The netlist the IR accepts from these element specs, or None when it refuses them (NetlistError only)."""
    try:
        net = ir.Netlist(title, [CELL_DEF, SWITCH_MODEL])
        for spec in specs:
            net.add(_element(spec))
        net.validate()
        return net
    except NetlistError:
        return None


# Mostly valid elements on a few shared nodes: circuits that reach ngspice (loops of sources, shorted or
# floating parts, missing models and wild values included).
GOOD_NODES = st.sampled_from(["0", "a", "b", "c"])
GOOD_NUMBERS = st.one_of(st.floats(1e-15, 1e9), st.floats(-1e3, 1e3), st.sampled_from([0.0, 1e-300, 1e300]))
GOOD_WAVES = st.one_of(
    st.builds(lambda v: ("Dc", (v,)), GOOD_NUMBERS),
    st.builds(lambda a: ("Pulse", tuple(a)), st.lists(st.floats(0, 2e-6), min_size=7, max_size=7)),
    st.builds(lambda n, v: ("Pwl", (tuple(k * 1e-7 for k in range(n)), tuple(v[:n]) + (0.0,) * (n - len(v[:n])))),
              st.integers(1, 6), st.lists(GOOD_NUMBERS, max_size=6)),
    st.builds(lambda a, f: ("Sine", (a, a, f)), GOOD_NUMBERS, st.floats(1.0, 1e9)),
)
GOOD_ELEMENTS = st.one_of(
    st.tuples(st.just("R"), st.sampled_from("123456"), GOOD_NODES, GOOD_NODES, GOOD_NUMBERS),
    st.tuples(st.just("C"), st.sampled_from("123456"), GOOD_NODES, GOOD_NODES, GOOD_NUMBERS, GOOD_NUMBERS | st.none()),
    st.tuples(st.just("V"), st.sampled_from("123"), GOOD_NODES, GOOD_NODES, GOOD_WAVES),
    st.tuples(st.just("I"), st.sampled_from("123"), GOOD_NODES, GOOD_NODES, GOOD_WAVES),
    st.tuples(st.just("B"), st.sampled_from("123"), GOOD_NODES, GOOD_NODES, st.sampled_from(["I", "V"]),
              st.sampled_from(["1e-3*V(a)", "V(a,b)/1e3", "tanh(V(b))", "(V(a)>0.5)?1e-6:0", "I(V1)", "exp(V(c))",
                               "1/V(a)", "sqrt(V(b))", "V(a)*V(a)*1e6"])),
    st.tuples(st.just("S"), st.sampled_from("12"), GOOD_NODES, GOOD_NODES, GOOD_NODES, GOOD_NODES,
              st.sampled_from(["sw1", "nosuch"])),
    st.tuples(st.just("X"), st.sampled_from("123"), st.lists(GOOD_NODES, min_size=2, max_size=2),
              st.just("cell"), st.dictionaries(st.sampled_from(["x0", "r"]), GOOD_NUMBERS, max_size=2)),
)
TITLES = st.one_of(st.just("fuzz"), st.text(max_size=10))


@fuzz(400)
@given(st.lists(ELEMENTS | GOOD_ELEMENTS, max_size=6), TITLES)
def test_random_ir_is_refused_or_written_as_well_formed_text_in_every_dialect(specs, title):
    from cosim.netlist import writers

    net = _netlist(specs, title)
    if net is None:
        event("refused by the IR")
        return
    event("written")
    netlist_is_safe(ngspice.write(net))
    for dialect in ("xyce", "ltspice", "spectre", "vacask"):
        try:
            writers.writer(dialect).render(net)
        except NetlistError:
            pass


@pytest.mark.spice
@fuzz(80)
@given(st.lists(GOOD_ELEMENTS, min_size=1, max_size=6))
def test_random_ir_that_passes_validation_loads_and_runs_or_raises_a_typed_error(specs):
    from cosim.spice.shared import SharedEngine

    net = _netlist(specs, "fuzz")
    if net is None:
        event("refused by the IR")
        return
    engine = SharedEngine(num_threads=1, timeout_s=3.0)
    try:
        engine.load(net)
        nodes = [n for n in net.nodes() if n != "0"][:3]
        w = engine.tran(1e-7, 1e-6, [f"v({n})" for n in nodes], tmax_s=1e-7)
    except SimulationError as exc:
        event(f"ngspice refused: {type(exc).__name__}")
        return
    event("simulated")
    assert w["time"][-1] == pytest.approx(1e-6, rel=1e-6)
