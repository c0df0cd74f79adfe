"""The IR rejects anything that could produce an invalid or unsafe netlist, and writes exact numbers."""

from __future__ import annotations

import math

import pytest

from cosim.errors import NetlistError
from cosim.netlist import ir
from cosim.netlist.writers import ngspice


def rc() -> ir.Netlist:
    return ir.Netlist("rc", [
        ir.VoltageSource("V1", "in", "0", ir.Pwl((0.0, 1e-6), (0.0, 1.0))),
        ir.Resistor("R1", "in", "out", 1e3),
        ir.Capacitor("C1", "out", "0", 1e-6, ic_V=0.0),
    ])


@pytest.mark.parametrize("name", ["a\n.control", "R1 x", "R1;shell", "R'1", 'R"1', "R*", "", "1R", "R1\r"])
def test_bad_names_are_rejected(name):
    with pytest.raises(NetlistError, match="invalid"):
        ir.Resistor(name, "a", "0", 1.0)
    with pytest.raises(NetlistError, match="invalid"):
        ir.Resistor("R1", name, "0", 1.0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1k", None, True])
def test_non_finite_or_non_numbers_are_rejected(value):
    with pytest.raises(NetlistError):
        ir.Capacitor("C1", "a", "0", value)


def test_type_letter_must_match_element():
    with pytest.raises(NetlistError, match="must start with 'R'"):
        ir.Resistor("C1", "a", "0", 1.0)


@pytest.mark.parametrize("expr", ["V(a)\n.control", "1;2", "V(a)*$x", "'abc'", "V(a", "V(a))", "a # b"])
def test_bad_expressions_are_rejected(expr):
    with pytest.raises(NetlistError):
        ir.BehavioralSource("B1", "a", "0", "I", expr)


def test_paths_and_titles_cannot_break_out():
    with pytest.raises(NetlistError):
        ir.Include("/tmp/x.lib\n.control")
    with pytest.raises(NetlistError):
        ir.OsdiLoad("/tmp/a b.osdi")
    with pytest.raises(NetlistError):
        ir.Netlist("title\n.control")


def test_floating_node_is_reported_with_its_elements():
    net = rc().add(ir.Resistor("R9", "island1", "island2", 5.0))
    with pytest.raises(NetlistError, match="floating.*R9"):
        net.validate()


def test_duplicate_names_are_case_insensitive():
    with pytest.raises(NetlistError, match="duplicate"):
        rc().add(ir.Resistor("r1", "in", "0", 1.0))


def test_writer_output_is_exact_and_stable():
    text = ngspice.write(rc().add(ir.Tran(1e-6, 5e-3)))
    assert text.splitlines() == [
        "rc",
        "V1 in 0 DC 0 PWL(0.0 0.0 1e-06 1.0)",
        "R1 in out 1000.0",
        "C1 out 0 1e-06 ic=0.0",
        ".tran 1e-06 0.005 0.0 1e-06 uic",
        ".end",
    ]
    assert ngspice.number(0.1 + 0.2) == "0.3"  # 12 significant digits: cosim.netlist.numbers


def test_subcircuit_state_parameter_becomes_capacitor_ic():
    cell = ir.SubcircuitDef("cell", ("a", "b"), (
        ir.Capacitor("Cx", "x", "0", 1.0),
        ir.BehavioralSource("Bx", "0", "x", "I", "V(a,b)*1e-3"),
        ir.Resistor("R1", "a", "b", 1e3),
    ), params={"x0": 0.0}, ic_params={"x0": "Cx"})
    net = ir.Netlist("t", [cell, ir.VoltageSource("V1", "in", "0"), ir.SubcircuitInstance("X1", ("in", "0"), "cell", {"x0": 0.25})])
    text = ngspice.write(net)
    assert "Cx x 0 1.0 ic={x0}" in text and "X1 in 0 cell x0=0.25" in text
    with pytest.raises(NetlistError, match="unknown parameter"):
        ngspice.write(net.replaced("X1", bogus=1.0))


def test_a_model_inside_a_subcircuit_takes_its_parameters_by_reference():
    """Each instance gets its own model card values (how per-device variation reaches an OSDI model)."""
    cell = ir.SubcircuitDef("cell", ("a", "b"), (ir.Switch("S1", "a", "b", "a", "b", "msw"),),
                            params={"ron": 1.0}, models=(ir.Model("msw", "sw", {"vt": 0.5, "ron": ir.ParamRef("ron")}),))
    net = ir.Netlist("t", [cell, ir.VoltageSource("V1", "in", "0"), ir.SubcircuitInstance("X1", ("in", "0"), "cell", {"ron": 5.0})])
    assert ".model msw sw (vt=0.5 ron={ron})" in ngspice.write(net).splitlines()
    with pytest.raises(NetlistError, match=r"refers to \['roff'\], which are not parameters of the subcircuit"):
        ir.SubcircuitDef("cell", ("a", "b"), (ir.Resistor("R1", "a", "b", 1.0),), params={"ron": 1.0},
                         models=(ir.Model("msw", "sw", {"roff": ir.ParamRef("roff")}),))
    with pytest.raises(NetlistError, match="only a model inside a subcircuit"):
        ngspice.write(ir.Netlist("t", [ir.Model("msw", "sw", {"ron": ir.ParamRef("ron")})]))
    with pytest.raises(NetlistError, match="invalid parameter reference"):
        ir.ParamRef("ron}\n.control")
    from cosim.netlist.writers import writer

    with pytest.raises(NetlistError, match="is not a number"):  # a dialect that cannot spell it refuses it
        writer("ltspice").render(net)


def test_replaced_validates_new_values():
    with pytest.raises(NetlistError):
        rc().replaced("R1", value_ohm=float("nan"))
    assert rc().replaced("R1", value_ohm=5.0).element("R1").value_ohm == 5.0


def test_library_subcircuit_is_included_and_checked(tmp_path):
    lib = ir.SubcircuitLibrary(str(tmp_path / "cell.lib"), "cell", ("a", "b"), {"x0": 0.0}, {"x0": "Cx"})
    net = ir.Netlist("t", [lib, ir.VoltageSource("V1", "in", "0"), ir.SubcircuitInstance("X1", ("in", "0"), "cell", {"x0": 0.5})])
    assert f".include {tmp_path}/cell.lib" in ngspice.write(net)
    with pytest.raises(NetlistError, match="pins"):
        ngspice.write(net.add(ir.SubcircuitInstance("X2", ("in",), "cell")))
