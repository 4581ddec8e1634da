"""Fuzzing every way text reaches ngspice: no payload may ever run, no refusal may be a
traceback.

Each case builds a circuit with one field set to an injection payload (a ``.control`` /
``shell`` block, a ``*#`` command comment, an ``.include`` of a system file), joined with
one of the characters Python's ``str.splitlines`` breaks on or another control character,
either at construction or by mutating a valid object afterwards (including frozen
elements, through ``object.__setattr__``).  Then the circuit is rendered and run by real
ngspice workers.  A case passes when the payload's marker file was never written and the
circuit either ran or was refused with a :class:`cosim.errors.CosimError`.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cosim.errors import CosimError
from cosim.netlist import (
    Circuit,
    Model,
    Op,
    Resistor,
    SubCircuit,
    SubcircuitInstance,
    VoltageSource,
    parse_netlist,
)
from cosim.netlist.analysis import Dc, Noise, Tran
from cosim.spice import SpiceEngine
from cosim.spice.engine import Job, make_job

#: Every character ``str.splitlines`` treats as a line boundary, then other controls.
LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
               "\u2029"]
CONTROLS = ["\x00", "\t", "\x1b", "\x7f", "\x08", "\u200b", "\ufeff", " "]
SEPARATORS = LINE_BREAKS + CONTROLS

#: (field kind, setter) pairs: how a payload is put into a circuit.
FIELDS = [
    "title", "title_mutated", "element_name", "node", "value_expr", "model_name",
    "model_type", "model_param_key", "model_param_value", "subckt_name",
    "subckt_name_mutated", "subckt_port", "subckt_port_mutated", "subckt_param_key",
    "subckt_param_key_mutated", "subckt_param_value", "instance_param_key", "param_key",
    "param_value", "option_key", "option_value", "ic_node", "include", "include_mutated",
    "frozen_node", "frozen_name", "frozen_value", "frozen_model_type", "dc_source",
    "noise_output", "tran_frozen", "raw_text", "raw_job", "elements_list",
]


def _valid_elements() -> dict[str, object]:
    """One valid instance of every element class, by SPICE letter."""
    from cosim.netlist.elements import (
        CCCS,
        CCVS,
        VCCS,
        VCVS,
        BehavioralSource,
        Capacitor,
        CurrentSource,
        Diode,
        Inductor,
        Mosfet,
    )

    return {
        "R": Resistor("R9", "a", "0", 1e3), "C": Capacitor("C9", "a", "0", 1e-12),
        "L": Inductor("L9", "a", "f", 1e-9), "V": VoltageSource("V9", "c", "0", 1.0),
        "I": CurrentSource("I9", "a", "0", 1e-3), "E": VCVS("E9", "d", "0", "a", "0", 1.0),
        "G": VCCS("G9", "a", "0", "a", "0", 1e-3), "F": CCCS("F9", "a", "0", "V1", 1.0),
        "H": CCVS("H9", "e", "0", "V1", 1.0),
        "B": BehavioralSource("B9", "a", "0", "I", "1e-3"),
        "D": Diode("D9", "a", "0", "dm"), "M": Mosfet("M9", "a", "a", "0", "0", "nm"),
        "X": SubcircuitInstance("X9", ("a", "0"), "div", {}),
    }


#: Every (letter, field) of every element class: each is fuzzed at construction
#: (dataclasses.replace) and by mutation of a valid, frozen instance.
ELEMENT_FIELDS = sorted(
    (letter, f.name) for letter, inst in _valid_elements().items()
    for f in dataclasses.fields(inst))
FIELDS += [f"elem:{letter}:{name}:{how}" for letter, name in ELEMENT_FIELDS
           for how in ("new", "mutated")]


def _payloads(marker: str) -> list[str]:
    return [
        f"{{sep}}.control{{sep}}shell touch {marker}{{sep}}.endc{{sep}}",
        f"{{sep}}*#shell touch {marker}{{sep}}",
        "{sep}.include /etc/passwd{sep}",
        f"{{sep}}.exec shell touch {marker}{{sep}}",
        f"{{sep}}shell touch {marker}",
        "{sep}*ng_script{sep}",
        "{sep}.lib /etc/hostname{sep}",
    ]


def _base_circuit() -> Circuit:
    c = Circuit(title="fuzz")
    c.add(VoltageSource("V1", "a", "0", 1.0), Resistor("R1", "a", "b", 1e3),
          Resistor("R2", "b", "0", 1e3))
    return c


def _with_subckt(c: Circuit) -> SubCircuit:
    sub = SubCircuit("div", ("p", "n"), params={"r": 1e3})
    sub.add(Resistor("R1", "p", "n", "{r}"))
    c.add_subcircuit(sub)
    c.add(SubcircuitInstance("X1", ("b", "0"), "div", {"r": 2e3}))
    return sub


def _build(field: str, payload: str) -> tuple[Circuit | str | Job, object]:
    """A circuit (or raw text, or a Job) carrying ``payload`` in ``field``."""
    c = _base_circuit()
    analysis: object = Op()
    if field == "title":
        c = Circuit(title=payload)
        c.add(VoltageSource("V1", "a", "0", 1.0), Resistor("R1", "a", "0", 1e3))
    elif field == "title_mutated":
        c.title = payload
    elif field == "element_name":
        c.add(Resistor("R" + payload, "a", "0", 1e3))
    elif field == "node":
        c.add(Resistor("R9", payload, "0", 1e3))
    elif field == "value_expr":
        c.add(Resistor("R9", "a", "0", payload))
    elif field == "model_name":
        c.add_model(Model(payload, "D", {}))
    elif field == "model_type":
        c.add_model(Model("dm", payload, {}))
    elif field == "model_param_key":
        c.add_model(Model("dm", "D", {payload: 1.0}))
    elif field == "model_param_value":
        c.add_model(Model("dm", "D", {"is": payload}))
    elif field == "subckt_name":
        c.add_subcircuit(SubCircuit(payload, ("p",)))
    elif field == "subckt_name_mutated":
        _with_subckt(c).name = payload
    elif field == "subckt_port":
        c.add_subcircuit(SubCircuit("s2", (payload,)))
    elif field == "subckt_port_mutated":
        _with_subckt(c).ports = ("p", payload)
    elif field == "subckt_param_key":
        c.add_subcircuit(SubCircuit("s2", ("p",), params={payload: 1.0}))
    elif field == "subckt_param_key_mutated":
        _with_subckt(c).params[payload] = 1.0
    elif field == "subckt_param_value":
        _with_subckt(c).params["r"] = payload
    elif field == "instance_param_key":
        _with_subckt(c)
        c.add(SubcircuitInstance("X2", ("b", "0"), "div", {payload: 1.0}))
    elif field == "param_key":
        c.params[payload] = 1.0
    elif field == "param_value":
        c.params["p1"] = payload
    elif field == "option_key":
        c.options[payload] = 1.0
    elif field == "option_value":
        c.options["reltol"] = payload
    elif field == "ic_node":
        c.initial_conditions[payload] = 0.0
    elif field == "include":
        c.include(payload)
    elif field == "include_mutated":
        c.includes.append(payload)
    elif field == "frozen_node":
        object.__setattr__(c.elements[1], "n_neg", payload)
    elif field == "frozen_name":
        object.__setattr__(c.elements[1], "name", payload)
    elif field == "frozen_value":
        object.__setattr__(c.elements[1], "resistance_ohm", payload)
    elif field == "frozen_model_type":
        m = Model("dm", "D", {})
        c.add_model(m)
        object.__setattr__(m, "type", payload)
    elif field == "dc_source":
        analysis = Dc(payload, 0.0, 1.0, 0.5)
    elif field == "noise_output":
        analysis = Noise(payload, "V1", 1.0, 10.0, 2)
    elif field == "tran_frozen":
        analysis = Tran(1e-6, 1e-5)
        object.__setattr__(analysis, "kind", payload)
    elif field == "raw_text":
        return f"* raw\nV1 a 0 1\nR1 a 0 {payload}\n.op\n.end\n", None
    elif field == "raw_job":
        text = f"* raw\nV1 a 0 1\nR1 a 0 1k{payload}\n.op\n.end\n"
        return Job(text, "op", "0" * 64), None
    elif field == "elements_list":
        c.elements.append(payload)  # type: ignore[arg-type]
    elif field.startswith("elem:"):
        _, letter, name, how = field.split(":")
        _with_subckt(c)
        c.add_model(Model("dm", "D", {}))
        c.add_model(Model("nm", "NMOS", {}))
        inst = _valid_elements()[letter]
        if how == "new":
            inst = dataclasses.replace(inst, **{name: payload})
        else:
            object.__setattr__(inst, name, payload)
        c.add(inst)
    else:  # pragma: no cover - the FIELDS list and this function go together
        raise AssertionError(field)
    return c, analysis


@pytest.fixture(scope="module")
def fuzz_engine():
    with SpiceEngine(workers=1, timeout_s=30) as eng:
        yield eng


@pytest.fixture(scope="module")
def marker_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("markers")


def _attempt(engine: SpiceEngine, obj, analysis) -> str:
    """'ran' or 'refused'; anything but a CosimError propagates (and fails the test)."""
    try:
        job = obj if isinstance(obj, Job) else make_job(obj, analysis)
        engine.run_job(job)
    except CosimError:
        return "refused"
    return "ran"


FUZZ_EXAMPLES = int(os.environ.get("COSIM_FUZZ_EXAMPLES", "5000"))
FUZZ_SECONDS = 240.0  # the bound the suite keeps to; a run far below it is normal


def test_fuzz_no_injection_and_no_traceback(fuzz_engine, marker_dir, figures):
    marker = marker_dir / "marker"
    payloads = _payloads(str(marker))
    outcomes: dict[str, int] = {"ran": 0, "refused": 0}
    start = time.monotonic()

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(field=st.sampled_from(FIELDS), template=st.sampled_from(payloads),
           sep=st.sampled_from(SEPARATORS),
           noise=st.text(alphabet=st.sampled_from([c for c in SEPARATORS if len(c) == 1]
                                                    + list("ab.*#$;{}()=+ -_1")),
                         max_size=6))
    def case(field, template, sep, noise):
        payload = template.format(sep=sep) + noise
        try:
            obj, analysis = _build(field, payload)
        except CosimError:
            outcomes["refused"] += 1
            return
        outcomes[_attempt(fuzz_engine, obj, analysis)] += 1
        assert not marker.exists(), f"payload ran: field {field!r}, payload {payload!r}"

    case()
    elapsed = time.monotonic() - start
    figures("cases", sum(outcomes.values()))
    figures("refused with a cosim error", outcomes["refused"])
    figures("ran", outcomes["ran"])
    figures("markers written", int(marker.exists()))
    figures("seconds", round(elapsed, 1))
    assert not marker.exists()
    assert sum(outcomes.values()) >= min(FUZZ_EXAMPLES, 5000) * 0.95, outcomes
    assert elapsed < FUZZ_SECONDS, f"fuzzing took {elapsed:.0f} s"
    # Every payload carries a line break, a control word or a command comment, so none
    # of them may run.
    assert outcomes["ran"] == 0, outcomes


def test_fuzz_valid_circuits_still_run(fuzz_engine):
    """The gate refuses payloads, not circuits: every field set to a valid value runs."""
    c = _base_circuit()
    _with_subckt(c)
    c.params["p1"] = 2.0
    c.options["reltol"] = 1e-4
    c.include("memristors.lib")
    res = fuzz_engine.run(c, Op())
    assert float(res.v("b")) == pytest.approx(1.0 * (2e3 / 3) / (1e3 + 2e3 / 3), rel=1e-9)


@pytest.mark.parametrize("sep", LINE_BREAKS)
def test_every_line_break_in_a_title_is_refused(sep, fuzz_engine, marker_dir):
    marker = marker_dir / f"title-{ord(sep[0]):x}"
    payload = f"x{sep}.control{sep}shell touch {marker}{sep}.endc"
    with pytest.raises(CosimError):
        Circuit(title=payload)
    c = _base_circuit()
    c.title = payload  # mutated after construction
    with pytest.raises(CosimError):
        fuzz_engine.run(c, Op())
    job = Job(f"* {payload}\nV1 a 0 1\nR1 a 0 1k\n.op\n.end\n", "op", "0" * 64)
    with pytest.raises(CosimError):
        fuzz_engine.run_job(job)
    assert not marker.exists()


def test_raw_text_is_parsed_before_it_runs(fuzz_engine, marker_dir):
    marker = marker_dir / "raw"
    text = f"* t\nV1 a 0 1\nR1 a 0 1k\n.control\nshell touch {marker}\n.endc\n.op\n.end\n"
    with pytest.raises(CosimError):
        parse_netlist(text)
    with pytest.raises(CosimError):
        fuzz_engine.run(text)
    assert not marker.exists()


def test_valid_elements_of_every_class_run(fuzz_engine):
    """Without a payload, the fuzz circuit with one element of every class runs, so the
    refusals above come from the payloads, not from a broken base circuit."""
    from cosim.netlist.elements import ELEMENT_TYPES

    elements = _valid_elements()
    assert set(elements) == set(ELEMENT_TYPES)
    for letter, inst in elements.items():
        c = _base_circuit()
        _with_subckt(c)
        c.add_model(Model("dm", "D", {}))
        c.add_model(Model("nm", "NMOS", {}))
        c.add(inst)
        for k, node in enumerate(sorted(set(inst.nodes) - {"0", "a"})):
            c.add(Resistor(f"R8{k}", node, "0", 1e3))  # every new node gets a DC path
        fuzz_engine.run(c, Op())
