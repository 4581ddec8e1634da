"""Netlist object model: validation, deterministic rendering, parsing round trip."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.errors import NetlistError
from cosim.netlist import (
    ELEMENT_TYPES,
    Ac,
    BehavioralSource,
    Capacitor,
    CCCS,
    CCVS,
    Circuit,
    CurrentSource,
    Dc,
    Diode,
    Inductor,
    Model,
    Mosfet,
    Noise,
    Op,
    Pulse,
    Pwl,
    Resistor,
    Sine,
    SubCircuit,
    SubcircuitInstance,
    Tran,
    TrNoise,
    VCCS,
    VCVS,
    VoltageSource,
    parse_netlist,
    parse_number,
)

# One example of every element type the core supports (the registry walk below checks
# that none is missing).
EXAMPLES = {
    "R": Resistor("R1", "a", "b", 1e3),
    "C": Capacitor("C1", "b", "0", 1e-12, ic_v=0.5),
    "L": Inductor("L1", "a", "c", 1e-9),
    "V": VoltageSource("V1", "a", "0", 1.0, 1.0, Sine(0.0, 0.5, 1e6)),
    "I": CurrentSource("I1", "0", "c", 1e-6, None, Pwl((0.0, 1e-9), (0.0, 1e-6))),
    "E": VCVS("E1", "d", "0", "a", "b", 10.0),
    "G": VCCS("G1", "d", "0", "a", "b", 1e-3),
    "F": CCCS("F1", "d", "0", "V1", 2.0),
    "H": CCVS("H1", "e", "0", "V1", 50.0),
    "B": BehavioralSource("B1", "e", "0", "I", "V(a)*1e-3+V(b)^2"),
    "D": Diode("D1", "c", "0", "dmod", 2.0),
    "M": Mosfet("M1", "d", "a", "0", "0", "nmod", 1e-6, 180e-9),
    "X": SubcircuitInstance("X1", ("a", "e"), "cell", {"r": 2e3}),
}


def full_circuit() -> Circuit:
    c = Circuit("every element")
    c.add(*EXAMPLES.values())
    c.add_model(Model("dmod", "D", {"IS": 1e-14, "N": 1.0}))
    c.add_model(Model("nmod", "NMOS", {"LEVEL": 1, "VTO": 0.5, "KP": 1e-4}))
    c.add_subcircuit(SubCircuit("cell", ("p", "n"), [Resistor("R1", "p", "n", "r")],
                                params={"r": 1e3}))
    c.params["gain"] = 2.0
    c.options["method"] = "gear"
    c.initial_conditions["b"] = 0.1
    c.analyses += [Op(), Dc("V1", 0.0, 1.0, 0.1), Ac(1.0, 1e9, 10), Tran(1e-9, 1e-6, 0.0, 1e-10),
                   Noise("d", "V1", 1e3, 1e9, 5)]
    return c


def test_registry_is_complete_and_every_element_round_trips():
    assert set(ELEMENT_TYPES) == set("RCLVIEGFHBDMX") == set(EXAMPLES)
    for prefix, element in EXAMPLES.items():
        assert isinstance(element, ELEMENT_TYPES[prefix])
        assert element.render().split()[0] == element.name


def test_render_is_deterministic_and_parse_round_trips():
    a, b = full_circuit().render(), full_circuit().render()
    assert a == b
    assert hashlib.sha256(a.encode()).hexdigest() == full_circuit().sha256()
    parsed = parse_netlist(a)
    assert parsed.render() == a
    assert [e.name for e in parsed.elements] == [e.name for e in full_circuit().elements]


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-15, max_value=1e15, allow_nan=False, allow_infinity=False))
def test_numbers_render_exactly(value):
    c = Circuit("n").add(Resistor("R1", "a", "0", value))
    parsed = parse_netlist(c.render())
    assert parsed.element("R1").resistance_ohm == value  # bit-exact round trip


@pytest.mark.parametrize("text,value", [("1k", 1e3), ("2.2u", 2.2e-6), ("1meg", 1e6),
                                        ("10p", 10e-12), ("3", 3.0), ("1e-3", 1e-3),
                                        ("5nF", 5e-9), ("1.5Meg", 1.5e6)])
def test_parse_number_scale_suffixes(text, value):
    assert parse_number(text) == pytest.approx(value, rel=1e-15)


INJECTIONS = [
    lambda: Resistor("R1", "a\n.control", "0", 1.0),
    lambda: Resistor("R1", "a", "0 shell rm -rf /", 1.0),
    lambda: Resistor("R1\n.control", "a", "0", 1.0),
    lambda: Resistor("R1", "a", "0", float("nan")),
    lambda: Resistor("R1", "a", "0", float("inf")),
    lambda: Resistor("R1", "a", "0", "1\n.control\nshell touch /tmp/x\n.endc"),
    lambda: BehavioralSource("B1", "a", "0", "I", "1;shell ls"),
    lambda: BehavioralSource("B1", "a", "0", "I", "shell(1)"),
    lambda: BehavioralSource("B1", "a", "0", "V", "V(a) $ comment"),
    lambda: SubcircuitInstance("X1", ("a",), "cell", {"r": "1\n.endc"}),
    lambda: Model("m1", "D", {"IS": "1\n.control"}),
    lambda: Circuit("title\n.control"),
    lambda: Circuit("t").include("../../etc/passwd"),
    lambda: Dc("V1;shell", 0, 1, 0.1),
    lambda: Noise("out\n", "V1", 1, 10),
    lambda: Resistor("Q1", "a", "0", 1.0),  # wrong prefix for the type
]


@pytest.mark.parametrize("make", INJECTIONS)
def test_injection_and_bad_values_raise_value_error_before_text_exists(make):
    with pytest.raises(ValueError):
        make()


def test_parser_refuses_control_blocks_and_unknown_lines():
    with pytest.raises(NetlistError, match="control"):
        parse_netlist("* t\nR1 a 0 1k\n.control\nshell ls\n.endc\n.end\n")
    with pytest.raises(NetlistError, match=":2:"):
        parse_netlist("* t\nQ1 a b c npn\n.end\n")


def test_duplicate_names_are_refused_case_insensitively():
    c = Circuit("d").add(Resistor("R1", "a", "0", 1.0))
    with pytest.raises(NetlistError, match="duplicate"):
        c.add(Resistor("r1", "b", "0", 1.0))


def test_topology_finds_floating_and_dangling_nodes():
    c = Circuit("f").add(VoltageSource("V1", "a", "0", 1.0), Capacitor("C1", "a", "b", 1e-6),
                         Resistor("R1", "b", "c", 1e3))
    assert sorted(c.floating_nodes()) == ["b", "c"]
    assert c.single_connection_nodes() == ["c"]
    ok = Circuit("ok").add(VoltageSource("V1", "a", "0", 1.0), Resistor("R1", "a", "0", 1.0))
    assert ok.floating_nodes() == [] and ok.single_connection_nodes() == []


def test_include_of_shipped_library_is_inlined_and_restored(tmp_path):
    from cosim.resources import data_dir

    libs = sorted(p.name for p in data_dir("netlists").glob("*.lib"))
    if not libs:
        pytest.skip("no shipped library yet")
    c = Circuit("inc").include(libs[0]).add(Resistor("R1", "a", "0", 1.0))
    text = c.render()
    assert f"* begin include {libs[0]}" in text and ".include" not in text
    assert parse_netlist(text).includes == [libs[0]]
    assert parse_netlist(text).render() == text


def test_pulse_and_trnoise_render():
    assert Pulse(0, 1, 0, 1e-9, 1e-9, 1e-6, 2e-6).render() == \
        "PULSE(0 1 0 1e-09 1e-09 1e-06 2e-06)"
    assert TrNoise(1e-9, 1e-10).render() == "TRNOISE(1e-09 1e-10 0 0)"
    with pytest.raises(NetlistError):
        Pwl((1.0, 0.5), (0.0, 1.0))
