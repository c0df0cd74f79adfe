"""No injection: text from config files, sweep specs, parameter files and API callers never lands in a
netlist outside the IR's validation. A SPICE netlist with a `.control` block runs shell commands (the first
test shows ngspice doing it), so every string-valued field is tried with newlines, `;`, quotes, `*`, `$`,
backticks and `.control`/`shell` payloads and must be refused."""

from __future__ import annotations

import re
import subprocess
import typing
from pathlib import Path

import pytest
import yaml

from cosim import experiments
from cosim.errors import ConfigError, NetlistError
from cosim.netlist import ir
from cosim.netlist.writers import ngspice

MARKER = "COSIM_INJECTED"

# Each holds a character that no field may pass through (line breaks, comment and quote characters, shell
# metacharacters, NUL) and most hold a complete attack.
PAYLOADS = [
    f"x\n.control\nshell touch {MARKER}\n.endc",
    f"x\r\n.control\r\nshell touch {MARKER}",
    f"x; shell touch {MARKER}",
    f'x" ; shell touch {MARKER}',
    f"x' ; shell touch {MARKER}",
    f"x $(touch {MARKER})",
    f"x `touch {MARKER}`",
    "x\\\nshell",
    "x\x00y",
    "x\n+ 1",
]
# Identifiers (names, nodes, models, parameters) refuse these as well: a comment star, a leading dot, spaces,
# assignments and parameter braces would all change how the line reads.
NAME_PAYLOADS = PAYLOADS + ["*x", "x*", ".control", "x y", "x=1", "{x}", "-x", "shell touch x"]


def netlist_is_safe(text: str) -> None:
    """Assert that netlist text holds only what the IR writes: a title, element and dot-directive lines of
    safe characters, and `.control` used only for one `pre_osdi PATH` line."""
    lines = text.split("\n")
    assert lines[-2:] == [".end", ""], lines[-2:]
    assert re.fullmatch(r"[A-Za-z0-9_ .,:=()+-]*", lines[0]), lines[0]
    directive = re.compile(r"\.(subckt|ends|model|param|options|include|tran|save)( [^\s;'\"`$\\]+)*")
    element = re.compile(r"[A-Za-z][A-Za-z0-9_]*( [^\s;'\"`$\\]+)+")
    comment = re.compile(r"\* [A-Za-z0-9_ .,:=()<>+-]+")
    k = 1
    while k < len(lines) - 2:
        line = lines[k]
        if line == ".control":
            assert re.fullmatch(r"pre_osdi [A-Za-z0-9_./+-]+", lines[k + 1]) and lines[k + 2] == ".endc", lines[k:k + 3]
            k += 3
            continue
        assert directive.fullmatch(line) or element.fullmatch(line) or comment.fullmatch(line), line
        assert not line.lower().startswith(("shell", ".endc", ".exec", ".control")), line
        k += 1


def test_ngspice_runs_shell_commands_from_a_control_block(tmp_path):
    """Why injection matters: raw netlist text with a `.control` block executes `shell` in batch mode."""
    from cosim.spice import install

    circuit = tmp_path / "raw.cir"
    circuit.write_text(f"raw\n.control\nshell touch {MARKER}\n.endc\nR1 a 0 1\nV1 a 0 DC 1\n.end\n")
    subprocess.run([install.executable(), "-b", str(circuit)], cwd=tmp_path, capture_output=True, timeout=60)
    assert (tmp_path / MARKER).exists()


# --- the IR ------------------------------------------------------------------------------------------------

SUB = ir.SubcircuitDef("cell", ("a", "b"), (ir.Resistor("R1", "a", "b", 1.0), ir.Capacitor("cx", "x", "0", 1.0)),
                       {"x0": 0.0}, ic_params={"x0": "cx"})

# (what, builder(value), a clean value the builder accepts, field is an identifier)
FIELDS = [
    ("resistor name", lambda v: ir.Resistor("R" + v, "a", "0", 1.0), "1", True),
    ("resistor node", lambda v: ir.Resistor("R1", v, "0", 1.0), "a", True),
    ("capacitor node", lambda v: ir.Capacitor("C1", "a", v, 1e-9), "b", True),
    ("voltage source name", lambda v: ir.VoltageSource("V" + v, "a", "0"), "1", True),
    ("current source node", lambda v: ir.CurrentSource("I1", v, "0"), "a", True),
    ("behavioural source node", lambda v: ir.BehavioralSource("B1", v, "0", "I", "1"), "a", True),
    ("behavioural source kind", lambda v: ir.BehavioralSource("B1", "a", "0", v, "1"), "I", True),
    ("behavioural expression", lambda v: ir.BehavioralSource("B1", "a", "0", "I", v), "1e-3*tanh(V(a))", False),
    ("switch control node", lambda v: ir.Switch("S1", "a", "0", v, "0", "sw1"), "c", True),
    ("switch model", lambda v: ir.Switch("S1", "a", "0", "c", "0", v), "sw1", True),
    ("model name", lambda v: ir.Model(v, "sw"), "sw1", True),
    ("model kind", lambda v: ir.Model("sw1", v), "sw", True),
    ("model parameter", lambda v: ir.Model("sw1", "sw", {v: 1.0}), "vt", True),
    ("OSDI device terminal", lambda v: ir.OsdiDevice("N1", ("a", v), "m1"), "b", True),
    ("OSDI device model", lambda v: ir.OsdiDevice("N1", ("a", "b"), v), "m1", True),
    ("OSDI device parameter", lambda v: ir.OsdiDevice("N1", ("a", "b"), "m1", {v: 1.0}), "p", True),
    ("instance name", lambda v: ir.SubcircuitInstance("X" + v, ("a", "b"), "cell"), "1", True),
    ("instance terminal", lambda v: ir.SubcircuitInstance("X1", (v, "b"), "cell"), "a", True),
    ("instance subcircuit", lambda v: ir.SubcircuitInstance("X1", ("a", "b"), v), "cell", True),
    ("instance parameter", lambda v: ir.SubcircuitInstance("X1", ("a", "b"), "cell", {v: 0.5}), "x0", True),
    ("subcircuit name", lambda v: ir.SubcircuitDef(v, ("a",), (ir.Resistor("R1", "a", "0", 1.0),)), "cell2", True),
    ("subcircuit pin", lambda v: ir.SubcircuitDef("c2", (v,), (ir.Resistor("R1", v, "0", 1.0),)), "a", True),
    ("subcircuit parameter", lambda v: ir.SubcircuitDef("c2", ("a",), (ir.Resistor("R1", "a", "0", 1.0),), {v: 1.0}),
     "p", True),
    ("library path", lambda v: ir.SubcircuitLibrary(v, "cell", ("a", "b")), "models/cell.lib", False),
    ("library subcircuit", lambda v: ir.SubcircuitLibrary("cell.lib", v, ("a", "b")), "cell", True),
    ("library state capacitor", lambda v: ir.SubcircuitLibrary("cell.lib", "cell", ("a", "b"), {"x0": 0.0}, {"x0": v}),
     "cx", True),
    ("library state current source", lambda v: ir.SubcircuitLibrary("cell.lib", "cell", ("a", "b"), {"x0": 0.0},
                                                                     dc_params={"x0": ("I" + v, 1e9)}), "x", True),
    ("swept source", lambda v: ir.DcSweep("V" + v, 0.0, 1.0, 0.5), "1", True),
    ("parameter name", lambda v: ir.Param(v, 1.0), "p", True),
    ("option name", lambda v: ir.Options({v: 1.0}), "reltol", True),
    ("option value", lambda v: ir.Options({"method": v}), "gear", True),
    ("include path", lambda v: ir.Include(v), "a/b.lib", False),
    ("OSDI file path", lambda v: ir.OsdiLoad(v), "/cache/m.osdi", False),
    ("saved vector", lambda v: ir.Save((v,)), "v(a)", False),
    ("saved vector node", lambda v: ir.Save((f"v({v})",)), "a", True),
    ("netlist title", lambda v: ir.Netlist(v), "a title: (1)", False),
    ("comment", lambda v: ir.Comment(v), "crossbar layer l1: 9 rows x 4 columns, devices Xs<k>", False),
]


@pytest.mark.parametrize("what,build,clean,identifier", FIELDS, ids=[f[0] for f in FIELDS])
def test_every_ir_string_field_refuses_injection(what, build, clean, identifier):
    build(clean)  # the field accepts a normal value (so the refusals below are about the payloads)
    for payload in NAME_PAYLOADS if identifier else PAYLOADS:
        with pytest.raises(NetlistError):
            build(payload)


def test_identifiers_cannot_be_empty_or_start_with_a_digit():
    for bad in ("", "1x", "x.y", "ä"):
        with pytest.raises(NetlistError):
            ir.check_name(bad)


def test_the_writer_refuses_anything_that_is_not_an_ir_item():
    net = ir.Netlist("t", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "0", 1.0)])
    net.items.append(f".control\nshell touch {MARKER}\n.endc")  # bypassing add(): the writer still refuses
    with pytest.raises(NetlistError):
        ngspice.write(net)
    with pytest.raises(NetlistError):
        ir.Netlist("t").add(f"R2 a 0 1\n.control\nshell touch {MARKER}")


@pytest.mark.spice
def test_engine_calls_refuse_injected_names_parameters_and_vectors(shared_engine):
    shared_engine.load(ir.Netlist("t", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "0", 1.0),
                                        SUB, ir.SubcircuitInstance("X1", ("a", "0"), "cell")]))
    for payload in NAME_PAYLOADS:
        with pytest.raises(NetlistError):
            shared_engine.alter(payload, value_ohm=2.0)
        with pytest.raises(NetlistError):
            shared_engine.alter("X1", **{payload: 0.5})
        with pytest.raises(NetlistError):
            shared_engine.set_initial_state({"X1": 0.5}, payload)
        with pytest.raises(NetlistError):
            shared_engine.tran(1e-6, 1e-5, [f"v({payload})"])
        with pytest.raises(NetlistError):
            shared_engine.tran(1e-6, 1e-5, [payload])
    for payload in PAYLOADS:  # fields other than values are validated like the element itself
        with pytest.raises(NetlistError):
            shared_engine.alter("R1", n1=payload)
    w = shared_engine.tran(1e-6, 1e-5, ["v(a)"], last_only=True)  # the engine is unharmed
    assert w["v(a)"][0] == pytest.approx(1.0)


@pytest.mark.spice
def test_no_payload_in_any_field_makes_ngspice_run_a_command(tmp_path, monkeypatch):
    """End to end: every payload in every IR field is refused before a file is written, and the netlists
    that are written for the clean values run without creating the marker."""
    from cosim.spice.batch import BatchEngine

    monkeypatch.chdir(tmp_path)
    refused = 0
    for what, build, clean, identifier in FIELDS:
        for payload in NAME_PAYLOADS if identifier else PAYLOADS:
            try:
                build(payload)
            except NetlistError:
                refused += 1
    assert refused == sum(len(NAME_PAYLOADS if f[3] else PAYLOADS) for f in FIELDS)
    engine = BatchEngine()
    engine.load(ir.Netlist("clean", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "0", 1.0)]))
    engine.tran(1e-6, 1e-5, ["v(a)"])
    assert not list(tmp_path.rglob(f"*{MARKER}*"))


# --- experiment configs, sweep specs and parameter files -----------------------------------------------------


def _string_leaves(model, prefix: str = "") -> list[str]:
    """Dotted keys of every field of a pydantic config that accepts text (str, Path or a Literal of str)."""
    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        args = typing.get_args(annotation) or (annotation,)
        nested = [a for a in args if isinstance(a, type) and hasattr(a, "model_fields")]
        if nested:
            out += _string_leaves(nested[0], key + ".")
            continue
        flat = [a for arg in args for a in (typing.get_args(arg) or (arg,))]
        if any(a in (str, Path) or isinstance(a, str) for a in flat):
            out.append(key)
    return out


def _nested(key: str, value) -> dict:
    data: dict = {}
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return data


@pytest.mark.parametrize("name", experiments.available())
def test_every_config_text_field_refuses_payloads(name):
    """Presets are looked up and parameter files read while the config is validated, so no text field
    accepts a payload (a parameter file whose name holds one is read by Python, below)."""
    config = experiments.get(name).Config
    leaves = _string_leaves(config)
    assert "experiment" in leaves and "backend" in leaves
    accepted = set()
    for key in leaves:
        for payload in PAYLOADS:
            data = {"experiment": name, **_nested(key, payload)} if key != "experiment" else {"experiment": payload}
            try:
                experiments.validate(data, "test")
            except ConfigError:
                continue
            accepted.add(key)
    assert not accepted, sorted(accepted)


def test_a_payload_preset_name_is_refused_when_the_config_is_validated():
    for payload in PAYLOADS:
        with pytest.raises(ConfigError, match="unknown M-SDC preset"):
            experiments.validate({"device": {"preset": payload}}, "test")


def _board_text(cfg) -> str:
    from cosim.experiments import eslami2024, msdc_board

    parts = eslami2024.board(cfg)
    network = msdc_board.network(parts, "injection check")
    return ngspice.write(network.netlist)


def test_a_parameter_file_with_payloads_in_its_name_and_source_builds_a_clean_netlist(tmp_path):
    """The file name and its free-text `source` may hold anything; only validated numbers reach the netlist."""
    from cosim.devices.msdc import model as msdc

    params = msdc.load_preset("W").model_copy(update={"source": PAYLOADS[0]})
    path = tmp_path / f"p{PAYLOADS[0].replace(chr(0), '')}.yaml"
    msdc.write_params_file(params, path)
    cfg = experiments.validate({"device": {"params_file": str(path)}}, "test")
    text = _board_text(cfg)
    netlist_is_safe(text)
    assert MARKER not in text and "shell" not in text
    # a payload as a parameter name is an unknown key; as a value, not a number
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), PAYLOADS[2]: 1.0}))
    with pytest.raises(ConfigError, match="Extra inputs are not permitted"):
        msdc.load_params_file(path)
    path.write_text(yaml.safe_dump({**msdc.load_preset("W").model_dump(), "r_on_ohm": PAYLOADS[0]}))
    with pytest.raises(ConfigError, match="r_on_ohm"):
        msdc.load_params_file(path)


def test_overrides_with_payload_keys_or_values_are_refused():
    for payload in PAYLOADS:
        for override in (f"{payload}=1", f"device.{payload}=1", f"training.epochs={payload}",
                         f"backend={payload}", f"training.mode={payload}"):
            with pytest.raises(ConfigError):
                experiments.load_experiment(None, [override])


def test_sweep_specs_with_payloads_are_refused_before_any_point_runs(tmp_path):
    from cosim import sweep as sweeps

    for k, payload in enumerate(PAYLOADS):
        spec = tmp_path / f"spec{k}.yaml"
        for data in ({"base": payload}, {"base": "eslami2024.yaml", "grid": {payload: [1]}},
                     {"base": "eslami2024.yaml", "set": {"backend": payload}},
                     {"base": "eslami2024.yaml", "zip": {"training.mode": [payload]}}):
            spec.write_text(yaml.safe_dump(data))
            with pytest.raises(ConfigError):
                sweeps.expand(spec)
        # a preset name is looked up while every point is validated
        spec.write_text(yaml.safe_dump({"base": "eslami2024.yaml", "set": {"backend": "twin"},
                                        "grid": {"device.preset": [payload]}}))
        with pytest.raises(ConfigError, match="unknown M-SDC preset"):
            sweeps.expand(spec)


def test_payloads_in_measured_csv_files_are_refused(tmp_path):
    from cosim.devices.msdc.fit import read_runs

    for k, payload in enumerate(PAYLOADS):
        rows = [f"{0.01 * i},{i}" for i in range(30)]
        rows[5] = f"0.05,{payload}"
        path = tmp_path / f"run{k}.csv"
        path.write_text("\n".join(rows) + "\n")
        with pytest.raises(ConfigError, match=r"line \d+"):
            read_runs(path, frequency_Hz=10.0, series_ohm=5e3)
