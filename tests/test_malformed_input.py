"""Malformed input, generated: every malformed experiment file, override and sweep spec ends in exactly one
`error:` line on stderr, a non-zero exit, no traceback, within 2 s, and nothing simulated (no experiment started,
no sweep directory prepared). The command line runs in-process (click's runner) with the two entry points to
simulation replaced by a tripwire; a few generated inputs also go through a real `python -m cosim.cli`.

Every generated input is malformed by construction: a value no setting accepts (NaN, inf, 1e13 and beyond,
text holding rich markup, a mapping), an unknown or duplicated key, an alias bomb, nesting past the limit, NUL
bytes, invalid UTF-8, a broken document, an unknown preset, a parameter file that cannot be read; sweep specs
with keys that are not dotted names, too many points, bad seeds and random ranges, or one bad point among
good ones. Valid configs and the shipped files are held to loading, below, so the limits are not too tight."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import typing
from pathlib import Path
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cosim import experiments
from cosim import limits, safe_yaml
from cosim import sweep as sweeps
from cosim.cli import console, main
from cosim.errors import ConfigError
from cosim.resources import data_dir

REFUSAL_S = 2.0


def fuzz(examples: int) -> settings:
    """The same examples on every run (a failure reproduces), no example database, no per-example deadline."""
    return settings(database=None, deadline=None, derandomize=True, max_examples=examples,
                    suppress_health_check=[HealthCheck.too_slow])


class Simulated(Exception):
    """Raised by the tripwires: the command got past validation and started an experiment or a sweep."""


def _tripwire(*args, **kwargs):
    raise Simulated("an experiment or a sweep started")


def run_cli(args: list[str]):
    with mock.patch("cosim.experiments.run_to_dir", _tripwire), mock.patch("cosim.sweep.driver.prepare", _tripwire):
        started = time.perf_counter()
        result = CliRunner().invoke(main, args)
        return result, time.perf_counter() - started


def assert_refused(result, elapsed_s: float) -> str:
    assert not isinstance(result.exception, Simulated), "the input was accepted and simulation started"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    assert elapsed_s < REFUSAL_S, f"refused after {elapsed_s:.2f} s"
    return lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Where generated files go; the first refusal of each command is made here (imports, preset tables), so
    the timed ones measure the refusal and not the start-up."""
    d = tmp_path_factory.mktemp("malformed")
    (d / "warm.yaml").write_text("nope: 1\n")
    for args in (["train", str(d / "warm.yaml")], ["sweep", str(d / "warm.yaml"), "--out", str(d / "w")],
                 *(["train", "-s", f"experiment={name}", "-s", "nope=1"] for name in experiments.available())):
        run_cli(args)
    return d


# --- what no setting accepts ------------------------------------------------------------------------------------


def _leaves(model, prefix: str = "") -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        args = typing.get_args(field.annotation) or (field.annotation,)
        nested = [a for a in args if isinstance(a, type) and hasattr(a, "model_fields")]
        out += _leaves(nested[0], f"{prefix}{name}.") if nested else [f"{prefix}{name}"]
    return out


EXPERIMENTS = experiments.available()
LEAVES = {name: [k for k in _leaves(experiments.get(name).Config) if k != "experiment"] for name in EXPERIMENTS}
DEFAULTS = {name: json.loads(json.dumps(experiments.validate({"experiment": name, "backend": "twin"}, "defaults")
                                        .model_dump(mode="json"))) for name in EXPERIMENTS}
MARKUP = st.builds(lambda a, tag, b: f"{a}{tag}{b}", st.text(max_size=6),
                   st.sampled_from(["[/]", "[bold]", "[/bold]", "[link=file:///etc/passwd]", ":warning:[/]"]),
                   st.text(max_size=6))
# above every upper bound of cosim.limits (the largest is 4 294 967 295, a seed), or not a value any setting takes
POISON = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e300, -1e300, 10**30, -10**30]),
    st.floats(min_value=1e13, max_value=1e308), st.floats(min_value=-1e308, max_value=-1e13),
    st.integers(min_value=10**13), st.integers(max_value=-10**13),
    MARKUP, st.just({"nested": 1}), st.just([[1]]), st.just([{"a": None}]),
)
NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


def _set(data: dict, key: str, value) -> dict:
    out = json.loads(json.dumps(data))
    node, parts = out, key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


@st.composite
def malformed_configs(draw) -> tuple[str, bytes, list[str]]:
    """(what is wrong, the file's bytes, -s overrides)"""
    name = draw(st.sampled_from(EXPERIMENTS))
    base = DEFAULTS[name]
    key = draw(st.sampled_from(LEAVES[name]))
    section = key.split(".")[0] if "." in key else None
    kind = draw(st.sampled_from(["poison", "poison", "poison", "unknown key", "duplicate key", "alias bomb", "deep nesting", "NUL byte",
                                 "not UTF-8", "broken YAML", "unknown experiment", "not a mapping", "unknown preset",
                                 "unreadable parameter file", "poison override", "poison override", "bad override key"]))
    text, overrides = _dump(base), []
    if kind == "poison":
        text = _dump(_set(base, key, draw(POISON)))
    elif kind == "unknown key":
        data = json.loads(json.dumps(base))
        node = data[section] if section and draw(st.booleans()) else data
        node[draw(NAME.filter(lambda n: n not in node) | MARKUP)] = draw(POISON | st.integers(0, 3))
        text = _dump(data)
    elif kind == "duplicate key":
        parts = key.split(".")
        lines = [f"{'  ' * i}{part}:" for i, part in enumerate(parts[:-1])]
        lines += [f"{'  ' * (len(parts) - 1)}{parts[-1]}: {value}" for value in (1, 2)]
        text = f"experiment: {name}\n" + "\n".join(lines) + "\n"
    elif kind == "alias bomb":
        fan, depth = draw(st.integers(6, 12)), draw(st.integers(5, 8))
        levels = [f"&l0 [{', '.join(['x'] * fan)}]"] + [
            f"&l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, depth)]
        text = f"experiment: {name}\n{key.split('.')[0]}: [{', '.join(levels)}]\n"
    elif kind == "deep nesting":
        n = draw(st.integers(limits.MAX_YAML_DEPTH + 1, 3000))
        text += f"{key.split('.')[0]}_: {'[' * n}{']' * n}\n"
    elif kind == "NUL byte":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + "\x00" + text[at:]
    elif kind == "not UTF-8":
        at = draw(st.integers(0, len(text)))
        return kind, text[:at].encode() + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])) \
            + text[at:].encode(), overrides
    elif kind == "broken YAML":
        text += draw(st.sampled_from(["broken: [1, 2\n", "a: b: c\n", "\t- x\n", "x: 'unterminated\n", "? [\n"]))
    elif kind == "unknown experiment":
        text = _dump({**base, "experiment": draw(MARKUP | NAME.filter(lambda n: n not in EXPERIMENTS) | POISON)})
    elif kind == "not a mapping":
        text = _dump(draw(st.lists(st.integers(), max_size=3) | st.integers() | MARKUP))
    elif kind == "unknown preset":
        preset = "device.preset" if name != "islam2024" or draw(st.booleans()) else "crossbar.preset"
        text = _dump(_set(base, preset, draw(MARKUP | st.text(max_size=8).filter(
            lambda t: t.lower() not in {"w", "cr", "c", "w50", "w100", "w200", "w400", "ellis2023"}))))
    elif kind == "unreadable parameter file":
        text = _dump(_set(DEFAULTS["eslami2024"], "device.params_file", draw(st.sampled_from(
            ["/dev/zero", "/", "no/such/params.yaml", "params\x00.yaml"]) | MARKUP)))
    elif kind == "poison override":
        overrides = [f"{key}={draw(POISON.map(json.dumps) | MARKUP)}"]
    else:  # bad override key
        overrides = [f"{draw(BAD_KEYS)}=1"]
    return kind, text.encode(), overrides


# keys that are not dotted names: a character outside [A-Za-z0-9_.], an empty part, a leading digit
BAD_KEYS = st.one_of(
    st.builds(lambda a, c, b: f"{a}{c}{b}", NAME, st.sampled_from(list("=# []/:!-+,{}'\"\\") + ["\t", "\u00e9"]), NAME),
    st.builds(lambda a, b: f"{a}..{b}", NAME, NAME), NAME.map(lambda n: f".{n}"), NAME.map(lambda n: f"{n}."),
    st.builds(lambda d, n: f"{d}{n}", st.sampled_from("0123456789"), NAME),
)


@fuzz(300)
@given(case=malformed_configs(), number=st.integers(0, 10**9))
def test_a_malformed_experiment_is_one_error_line_and_nothing_runs(folder, case, number):
    kind, content, overrides = case
    event(kind)
    path = folder / f"config-{number}.yaml"
    path.write_bytes(content)
    out = folder / f"out-{number}"
    result, elapsed = run_cli(["train", str(path), "--out", str(out), *[a for o in overrides for a in ("-s", o)]])
    assert_refused(result, elapsed)
    assert not out.exists()


# --- sweep specs -------------------------------------------------------------------------------------------

SPEC = {"base": "eslami2024.yaml", "set": {"backend": "twin"}}
ESLAMI_LEAVES = [k for k in LEAVES["eslami2024"] if k not in ("backend",)]
# distinct valid values of four axes, for grids that make too many points
AXES = {"training.noise": lambda i: i / 2000, "training.target": lambda i: (i + 1) / 2000,
        "evaluation.input_noise": lambda i: i / 2000, "evaluation.conductance_error": lambda i: i / 2000}


@st.composite
def malformed_specs(draw) -> tuple[str, str]:
    """(what is wrong, the spec's text)"""
    kind = draw(st.sampled_from(["axis key", "poison value", "poison value", "bad point among good ones", "too many points",
                                 "seeds", "random", "duplicate key", "unknown key", "base", "alias bomb"]))
    spec = json.loads(json.dumps(SPEC))
    section = draw(st.sampled_from(["grid", "zip", "set"]))
    if kind == "axis key":
        spec[section] = {**spec.get(section, {}), draw(BAD_KEYS): [0.1] if section != "set" else 0.1}
    elif kind == "poison value":
        key, value = draw(st.sampled_from(ESLAMI_LEAVES)), draw(POISON)
        spec[section] = {**spec.get(section, {}), key: [value] if section != "set" else value}
    elif kind == "bad point among good ones":
        good = draw(st.lists(st.sampled_from(["W", "Cr", "C"]), min_size=1, max_size=3, unique=True))
        bad = draw(MARKUP | st.sampled_from(["nope", "W #x", "W\n", "cr "]))
        values = good[:] + [bad]
        spec["grid"] = {"device.preset": draw(st.permutations(values))}
    elif kind == "too many points":
        axes = draw(st.integers(2, 4))
        n = draw(st.integers(int(limits.MAX_SWEEP_POINTS ** (1 / axes)) + 1, 2 * int(limits.MAX_SWEEP_POINTS ** (1 / axes)) + 2))
        spec["grid"] = {key: [value(i) for i in range(n)] for key, value in list(AXES.items())[:axes]}
    elif kind == "seeds":
        spec["seeds"] = draw(st.one_of(
            st.integers(max_value=0), st.integers(min_value=limits.MAX_SWEEP_POINTS + 1), st.floats(allow_nan=True),
            st.booleans(), MARKUP,
            st.lists(st.integers(0, 5), max_size=3).flatmap(lambda ok: st.one_of(
                st.integers(max_value=-1), st.integers(min_value=limits.MAX_SEED + 1), st.booleans(), st.floats(0, 5))
                .map(lambda bad: ok + [bad]))))
    elif kind == "random":
        good = {"n": 2, "seed": 0, "ranges": {"training.noise": [0.0, 0.1]}}
        field, value = draw(st.sampled_from([
            ("n", st.integers(max_value=0) | st.integers(min_value=limits.MAX_SWEEP_POINTS + 1) | st.floats()),
            ("seed", st.integers(max_value=-1) | st.integers(min_value=limits.MAX_SEED + 1) | MARKUP),
            ("ranges", st.one_of(st.just({}), st.builds(lambda k: {k: [0.0, 0.1]}, BAD_KEYS),
                                 st.tuples(st.floats(0.1, 1), st.floats(0, 0.099)).map(
                                     lambda r: {"training.noise": list(r)}),
                                 st.sampled_from([float("nan"), float("inf"), 1e308, -1e308]).map(
                                     lambda x: {"training.noise": [0.0, x] if x > 0 else [x, 0.0]}),
                                 st.just({"training.noise": [0.1]}))),
            ("log", st.just(["training.noise"]) | st.just(["evaluation.repeats"]))]).flatmap(
            lambda fv: st.tuples(st.just(fv[0]), fv[1])))
        spec["random"] = {**good, field: value}
    elif kind == "duplicate key":
        return kind, _dump(spec) + draw(st.sampled_from(["base: eslami2024.yaml\n", "set: {backend: twin}\n",
                                                          "grid: {training.noise: [0.1, 0.2], training.noise: [0.3]}\n"]))
    elif kind == "unknown key":
        spec[draw(NAME.filter(lambda n: n not in ("base", "set", "grid", "zip", "random", "seeds")) | MARKUP)] = 1
    elif kind == "base":
        spec["base"] = draw(st.sampled_from(["nowhere.yaml", "/dev/zero", "/", "", "a\x00b.yaml"]) | MARKUP | POISON)
    else:  # alias bomb
        levels = ["&l0 [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]"] + [
            f"&l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 6)]
        return kind, f"base: eslami2024.yaml\ngrid: {{training.noise: [{', '.join(levels)}]}}\n"
    return kind, _dump(spec)


@fuzz(200)
@given(case=malformed_specs(), number=st.integers(0, 10**9))
def test_a_malformed_sweep_spec_is_one_error_line_and_no_point_runs(folder, case, number):
    kind, text = case
    event(kind)
    path = folder / f"spec-{number}.yaml"
    path.write_text(text)
    out = folder / f"sweep-{number}"
    result, elapsed = run_cli(["sweep", str(path), "--out", str(out), "--workers", "1"])
    assert_refused(result, elapsed)
    assert not out.exists()


@fuzz(5)
@given(case=malformed_configs(), number=st.integers(0, 10**9))
def test_malformed_experiments_through_a_real_process(folder, case, number):
    """The installed entry point: stderr is the one line, exit code 2, no run directory. The time bound here
    includes starting Python and importing cosim."""
    kind, content, overrides = case
    path = folder / f"process-{number}.yaml"
    path.write_bytes(content)
    out = folder / f"process-out-{number}"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cosim.cli", "train", str(path), "--out", str(out),
                           *[a for o in overrides for a in ("-s", o)]], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - started < 30
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and not out.exists()


# --- the limits leave real use valid ----------------------------------------------------------------------------


def _number_settings():
    """(experiment, dotted key, default) of every numeric setting of every experiment."""
    for name in EXPERIMENTS:
        for key in LEAVES[name]:
            default = experiments.validate(DEFAULTS[name], "defaults")
            for part in key.split("."):
                default = getattr(default, part)
            if not isinstance(default, bool) and isinstance(default, (int, float)):
                yield name, key, default


def test_every_number_setting_refuses_huge_values_booleans_and_text(folder):
    """Each numeric setting of each experiment has an upper bound and strict types; booleans take booleans;
    text is a number only when it spells one (SPICE style), in the setting's unit."""
    for name, key, default in _number_settings():
        for bad in (1e300, -1e300, 10**30, True, "1e300", "one", "1x", "nan", "1uV" if key.endswith("_s") else "1us"):
            with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
                experiments.validate(_set(DEFAULTS[name], key, bad), "test")


def test_every_number_setting_takes_its_value_in_spice_style():
    """The default of each numeric setting, typed as SPICE text (plain, and scaled to micro with its unit word
    where its name carries one; an integer with a scale letter), validates to the very same number."""
    from decimal import Decimal

    from cosim.units import UNITS, field_unit

    checked = 0
    for name, key, default in _number_settings():
        unit = field_unit(key)
        texts = [repr(default)]
        if isinstance(default, float) and unit:
            texts.append(f"{Decimal(repr(default)) * 1000000}u{UNITS[unit][0]}")
        if isinstance(default, int) and default % 1000 == 0 and default:
            texts.append(f"{default // 1000}k")
        for text in texts:
            cfg = experiments.validate(_set(DEFAULTS[name], key, text), "test")
            for part in key.split("."):
                cfg = getattr(cfg, part)
            assert cfg == default and type(cfg) is type(default), (key, text, cfg)
            checked += 1
    assert checked > 60


def test_the_shipped_experiments_and_sweeps_load_unchanged():
    for path in sorted(data_dir("sweeps").glob("*.yaml")):
        if path.name.endswith("_sweep.yaml"):
            points = len(sweeps.expand(path).points)
            assert points == {"eslami2024_sweep.yaml": 90, "islam2024_sweep.yaml": 36, "ellis2023_sweep.yaml": 35,
                              "eslami2024_vteam_sweep.yaml": 12}[path.name]
        else:
            experiments.load_experiment(path)


def test_sizes_real_use_needs_stay_valid(tmp_path):
    """784-input layers, MNIST's 60 000 / 10 000 images, a 10 000-point sweep, 1 ps to 1 s pulses, 100 V."""
    experiments.validate({"circuit": {"layers": [9, 784, 10]}, "data": {"n_test": 10_000}}, "test")
    experiments.validate({"experiment": "islam2024", "data": {"max_train": 60_000, "max_test": 10_000},
                     "network": {"hidden": 4096}}, "test")
    experiments.validate({"programming": {"width_s": 1e-12, "reset_width_s": 1.0, "amplitude_V": 100}}, "test")
    spec = {**SPEC, "grid": {key: [value(i) for i in range(10)] for key, value in AXES.items()}}
    assert len(sweeps.expand(tmp_path / "spec.yaml", spec).points) == limits.MAX_SWEEP_POINTS
    spec["grid"]["training.noise"].append(0.5)
    with pytest.raises(ConfigError, match="makes 11000 points; at most 10000"):
        sweeps.expand(tmp_path / "spec.yaml", spec)


def test_sweep_values_are_set_as_typed_and_never_parsed_again(tmp_path):
    """A text value stays text ('W #x' is not W, '0.1 #x' is not a number), a number stays a number; a text
    that spells a number in SPICE style is that number (once, by the config)."""
    path = tmp_path / "params.yaml"
    from cosim.devices.msdc import model as msdc

    msdc.write_params_file(msdc.load_preset("W"), path)
    sweep = sweeps.expand(tmp_path / "spec.yaml", {**SPEC, "grid": {"device.params_file": [str(path)],
                                                                   "training.noise": [0.05]}})
    assert sweep.points[0].config["device"]["params_file"] == str(path)
    for text in ("W #x", "W\n", "[W]"):
        with pytest.raises(ConfigError, match="unknown M-SDC preset"):
            sweeps.expand(tmp_path / "spec.yaml", {**SPEC, "grid": {"device.preset": [text]}})
    with pytest.raises(ConfigError, match=r"training.noise = '0.1 #x': not a number \(SPICE style is accepted"):
        sweeps.expand(tmp_path / "spec.yaml", {**SPEC, "grid": {"training.noise": ["0.1 #x"]}})
    # a number typed as SPICE text is a number: the point's config and its recorded axis value hold it
    sweep = sweeps.expand(tmp_path / "spec.yaml", {**SPEC, "grid": {"training.noise": ["0.1", "50m"]}})
    assert [p.values["training.noise"] for p in sweep.points] == [0.1, 0.05]
    assert [p.config["training"]["noise"] for p in sweep.points] == [0.1, 0.05]


# --- the YAML loader and the console ----------------------------------------------------------------------------


def test_yaml_reads_numbers_as_yaml_1_2_and_merges_without_duplicates():
    assert safe_yaml.parse("a: 1e-6\nb: 5E3\nc: 1.0e+2\nd: x1e3\n", "t") == {"a": 1e-6, "b": 5e3, "c": 100.0, "d": "x1e3"}
    assert safe_yaml.parse("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 5\n", "t")["c"] == {"x": 5, "y": 2}
    for text, message in (("a: 1\nb: {c: 1, c: 2}\n", "line 2: duplicate key 'c' (first on line 2)"),
                          ("a: &a [*a]\n", "refers to the collection that contains it"),
                          ("a: " + "9" * 5000 + "\n", "malformed YAML: Exceeds the limit"),
                          ("a: 2024-13-45\n", "malformed YAML: month must be in 1..12"),
                          ("a: !!python/object:os.system x\n", "could not determine a constructor")):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            safe_yaml.parse(text, "t")


def test_the_console_prints_user_text_as_written():
    """Markup and emoji codes in names and values are text, in plain prints and in table cells alike."""
    from rich.table import Table

    table = Table()
    table.add_column("[bold]value[/]")
    table.add_row("x[/] :warning: [link=file:///etc/passwd]y[/link]")
    with console.capture() as captured:
        console.print("runs/x[/] [red]no[/] :smile:", soft_wrap=True)
        console.print(table, width=200)
    text = captured.get()
    assert "runs/x[/] [red]no[/] :smile:" in text and "[bold]value[/]" in text
    assert "x[/] :warning: [link=file:///etc/passwd]y[/link]" in text


def test_a_schedule_names_the_pulse_that_cannot_advance_time():
    """Below the config's bounds (an API caller): the message names the source, the width and the time."""
    from cosim.hil.schedule import Schedule, Waveform

    with pytest.raises(ConfigError, match=r"Vprog: a pulse of width 1e-300 s with 1e-09 s edges at t = 0.001 s is below "
                                          r"the time resolution there .* must be >= 1e-12 s"):
        Schedule(1e-9).plateau("Vprog", 1e-3, 1e-300, 1.0)
    wave = Waveform(name="Vsel3")
    wave.hold(1e-6, 1.0)
    with pytest.raises(ConfigError, match=r"Vsel3: a corner at t = 1e-06 s does not come after the previous one"):
        wave.hold(1e-6, 0.0)
