"""Netlists the parser once read silently wrong, against what ngspice itself does.

For each case the raw text is first run by the ngspice program (``ngspice -b``, outside
the project's engine) to show what ngspice makes of it; the parser must then either give
ngspice's answer through the project's engine or refuse, naming the token.  Also: the
gate in front of ngspice, and circuits ngspice only "solves" by gmin stepping.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from cosim.errors import NetlistError
from cosim.netlist import Circuit, CurrentSource, Op, Resistor, parse_netlist, read_netlist
from cosim.resources import data_dir
from cosim.spice import DeckRefusedError, FloatingNodeError, SpiceSyntaxError
from cosim.spice.gate import check_deck

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None,
                                reason="the ngspice program is needed as the reference")


def ngspice_print(tmp_path, deck: str, commands: str) -> dict[str, float] | str:
    """Run ``deck`` (no .end) with a control block in the ngspice program itself; the
    printed ``name = value`` pairs, or ngspice's whole output when it printed none."""
    path = tmp_path / "raw.cir"
    path.write_text(deck + ".control\n" + commands + "\n.endc\n.end\n")
    out = subprocess.run(["ngspice", "-b", str(path)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    found = {m.group(1).lower(): float(m.group(2)) for m in re.finditer(
        r"^(\S+)\s+=\s+([-+0-9.eE]+)", out.stdout, re.MULTILINE)}
    return found or (out.stdout + out.stderr)


# ------------------------------------------------------------------ silently-wrong cases
def test_instance_multiplier_is_refused_not_dropped(tmp_path, engine):
    deck = "* m\nV1 a 0 1\nR1 a b 1k m=2\nR2 b 0 1k\n"
    ref = ngspice_print(tmp_path, deck, "op\nprint v(b)")
    assert ref["v(b)"] == pytest.approx(2 / 3, rel=1e-6)  # ngspice: two 1k in parallel
    with pytest.raises(NetlistError, match="m=2"):
        parse_netlist(deck + ".op\n.end\n")
    # without the multiplier the engine agrees with ngspice
    res = engine.run(deck.replace(" m=2", "") + ".op\n.end\n")
    assert float(res.v("b")) == pytest.approx(0.5, rel=1e-12)


def test_second_dc_value_is_refused(tmp_path):
    deck = "* dc\nV1 a 0 2 DC 1\nR1 a 0 1k\n"
    ref = ngspice_print(tmp_path, deck, "op\nprint v(a)")
    assert ref["v(a)"] == pytest.approx(2.0)  # ngspice takes the first value
    with pytest.raises(NetlistError, match="two DC values"):
        parse_netlist(deck + ".op\n.end\n")


def test_ac_phase_is_refused_and_phase_zero_matches_ngspice(tmp_path, engine):
    deck = "* ac\nV1 a 0 DC 0 AC 1 90\nR1 a b 1k\nR2 b 0 1k\n"
    ref = ngspice_print(tmp_path, deck, "ac lin 1 1k 1k\nprint vp(b)")
    assert ref["vp(b)"] == pytest.approx(1.5707963, rel=1e-6)  # ngspice keeps the phase
    with pytest.raises(NetlistError, match="AC phase '90'"):
        parse_netlist(deck + ".ac lin 1 1k 1k\n.end\n")
    zero = deck.replace("AC 1 90", "AC 1 0")
    ref0 = ngspice_print(tmp_path, zero, "ac lin 1 1k 1k\nprint vm(b)")
    res = engine.run(zero + ".ac lin 1 1k 1k\n.end\n")
    assert abs(complex(res.v("b")[0])) == pytest.approx(ref0["vm(b)"], rel=1e-6)


def test_unclosed_include_block_is_refused():
    text = Circuit("inc").include("readout.lib").add(
        Resistor("R1", "a", "0", 1e3)).render()
    cut = text.replace("* end include readout.lib\n", "")
    with pytest.raises(NetlistError, match="not closed"):
        parse_netlist(cut)
    assert parse_netlist(text).includes == ["readout.lib"]


def test_edit_inside_include_block_is_refused():
    text = Circuit("inc").include("memristors.lib").add(
        Resistor("R1", "a", "0", 1e3)).render()
    lines = text.split("\n")
    k = next(i for i, ln in enumerate(lines) if ln.startswith("+ mu_v"))
    lines[k] = lines[k].replace("1e-14", "1e-13")
    with pytest.raises(NetlistError, match=f"<netlist>:{k + 1}: .*differs"):
        parse_netlist("\n".join(lines))
    lines.insert(k, "R99 x 0 1k")  # an added element inside the markers
    with pytest.raises(NetlistError, match="differs"):
        parse_netlist("\n".join(lines))


def test_include_must_resolve_to_a_shipped_library(tmp_path):
    shipped = data_dir("netlists") / "memristors.lib"
    body = "V1 a 0 1\nR1 a 0 1k\n.op\n.end\n"
    missing = tmp_path / "nowhere" / "memristors.lib"
    deck = f"* inc\n.include {missing}\n"
    ref = ngspice_print(tmp_path, deck + "V1 a 0 1\nR1 a 0 1k\n", "op\nprint v(a)")
    assert isinstance(ref, str) and "memristors.lib" in ref  # ngspice fails on it
    with pytest.raises(NetlistError, match="no such file"):
        parse_netlist(deck + body)
    # the shipped file by its path, and an identical copy beside the netlist, are read
    assert parse_netlist(f"* inc\n.include {shipped}\n" + body).includes == ["memristors.lib"]
    (tmp_path / "memristors.lib").write_bytes(shipped.read_bytes())
    (tmp_path / "n.cir").write_text("* inc\n.include memristors.lib\n" + body)
    assert read_netlist(tmp_path / "n.cir").includes == ["memristors.lib"]
    # an altered copy is not the shipped library
    (tmp_path / "memristors.lib").write_text(shipped.read_text().replace("1e-14", "2e-14"))
    with pytest.raises(NetlistError, match="not a shipped library"):
        read_netlist(tmp_path / "n.cir")


def test_text_after_end_is_refused():
    with pytest.raises(NetlistError, match="after .end"):
        parse_netlist("* t\nV1 a 0 1\nR1 a 0 1k\n.op\n.end\nR2 a 0 1k\n")


@pytest.mark.parametrize("line", [".ac dec", ".ac dec 10", ".dc V1 0", ".tran", ".tran 1n",
                                  ".noise v(a)", ".noise v(a) V1 dec x 1 10", ".dc V1 0 1 x",
                                  ".ac dec 10 1 10 extra", ".tran 1n 1u uic 0"])
def test_short_or_garbled_analysis_lines_are_named(line):
    with pytest.raises(NetlistError, match=r"<netlist>:4: .*the form is '\."):
        parse_netlist(f"* t\nV1 a 0 1\nR1 a 0 1k\n{line}\n.end\n")


@pytest.mark.parametrize("line,token", [
    ("D1 a 0 dm 1 off", "off"),
    ("M1 a a 0 0 nm W=1u L=1u AD=1p", "AD"),
    ("L1 a 0 1n m=2", "m=2"),
    ("I1 0 a TRNOISE(1m 1n 1 1)", "TRNOISE"),
    ("V1 a 0 SIN(0 1 1k) PULSE(0 1 0 1n 1n 1u 2u)", "two waveforms"),
])
def test_other_unsupported_tokens_are_named(line, token):
    text = f"* t\n.model dm D()\n.model nm NMOS()\nR9 a 0 1k\n{line}\n.op\n.end\n"
    with pytest.raises(NetlistError, match=re.escape(token)):
        parse_netlist(text)


# ------------------------------------------------------------------ floating nodes
def test_current_sources_in_series_are_refused_like_native_and_info(tmp_path, engine):
    deck = "* float\nI1 0 a 1m\nI2 a 0 2m\n"
    ref = ngspice_print(tmp_path, deck, "op\nprint v(a)")
    # ngspice alone returns a number set by gmin, not by the circuit
    assert isinstance(ref, dict) and "v(a)" in ref
    c = Circuit("float").add(CurrentSource("I1", "0", "a", 1e-3),
                             CurrentSource("I2", "a", "0", 2e-3))
    assert c.floating_nodes() == ["a"]
    with pytest.raises(FloatingNodeError, match="node.s. a have no DC path"):
        engine.run(c, Op())
    with pytest.raises(FloatingNodeError):
        engine.run(deck + ".op\n.end\n")
    from cosim.errors import CosimError
    from cosim.native import run_native

    with pytest.raises(CosimError, match="no DC path|singular"):
        run_native(c, Op())


def test_floating_capacitor_node_runs_in_a_transient_from_initial_conditions(engine):
    from cosim.netlist import Capacitor, Tran

    c = Circuit("int").add(CurrentSource("I1", "0", "a", 1e-6),
                           Capacitor("C1", "a", "0", 1e-9, ic_v=0.0))
    res = engine.run(c, Tran(1e-6, 1e-4, uic=True))
    # an ideal integrator: V = I t / C
    assert float(res.v("a")[-1]) == pytest.approx(1e-6 * 1e-4 / 1e-9, rel=1e-3)
    with pytest.raises(FloatingNodeError):
        engine.run(c, Op())


# ------------------------------------------------------------------ the gate itself
GOOD = "* t\nV1 a 0 DC 1\nR1 a 0 1000\n.op\n.end\n"


@pytest.mark.parametrize("bad,reason", [
    ("* t\nV1 a 0 1\n.control\nshell touch x\n.endc\n.op\n.end\n", "dot command '.control'"),
    ("* t\nV1 a 0 1\n*#shell touch x\n.op\n.end\n", "'\\*#'"),
    ("*ng_script\nshell touch x\n", "'\\*#' and '\\*ng_script'"),
    ("* t\nV1 a 0 1\n.exec shell touch x\n.op\n.end\n", "'.exec'"),
    ("* t\nV1 a 0 1\n.include /etc/passwd\n.op\n.end\n", "only shipped libraries"),
    ("* t\nV1 a 0 1\n.lib ../netlists/../../etc/passwd\n.op\n.end\n", "only shipped"),
    ("* t\nA1 a 0 filesrc\n.op\n.end\n", "element letter 'A'"),
    ("* t\nR1 a 0 1k shell\n.op\n.end\n", "control word"),
    ("V1 a 0 1\n.op\n.end\n", "first line"),
    ("* t\nR1 a 0 1k\t\n.end\n", "'\\\\t'"),
    ("* t\nR1 a 0 1k\r\n.end\n", "'\\\\r'"),
    ("* t\u00b5\nR1 a 0 1k\n.end\n", "U\\+00B5"),
    ("   \n", "empty"),
])
def test_gate_refuses_what_the_core_never_renders(bad, reason):
    with pytest.raises(DeckRefusedError, match=reason) as info:
        check_deck(bad)
    assert isinstance(info.value, SpiceSyntaxError)


@pytest.mark.parametrize("module", __import__("cosim.cli.netlist_cmd", fromlist=["x"])
                         .BUILDER_MODULES)
def test_gate_passes_every_builder_and_the_parser_round_trips(module):
    """Every registered netlist builder renders text the gate passes, and the parser reads
    it back to the same text (so `netlist build` files run unchanged)."""
    import argparse
    import importlib

    from cosim.spice.engine import make_job

    mod = importlib.import_module(module)
    parser = argparse.ArgumentParser()
    mod.add_arguments(parser)
    circuit = mod.build(parser.parse_args([]))
    text = circuit.render()
    assert check_deck(text) == text
    assert parse_netlist(text).render() == text
    for analysis in circuit.analyses:
        job = make_job(circuit, analysis)
        assert check_deck(job.text, job.kind) == job.text


def test_gate_passes_what_the_core_renders():
    assert check_deck(GOOD, "op") == GOOD
    with pytest.raises(DeckRefusedError, match="analysis kind"):
        check_deck(GOOD, "shell")
    shipped = data_dir("netlists") / "readout.lib"
    assert check_deck(f"* t\n.include {shipped}\nR1 a 0 1k\n.op\n.end\n")
    for name in ("memristors.lib", "readout.lib"):
        check_deck(Circuit("t").include(name).add(Resistor("R1", "a", "0", 1e3)).render())


def test_the_worker_gates_text_that_bypasses_the_engine(tmp_path, engine):
    """A request written straight to a worker's pipe is checked inside the worker."""
    marker = tmp_path / "marker"
    w = engine._checkout()
    try:
        w.conn.send((f"* t\nV1 a 0 1\n.control\nshell touch {marker}\n.endc\n.end\n", "op"))
        reply = w.conn.recv()
        w.conn.send(("* t\u2028.control\u2028shell touch x\u2028.endc", "op"))
        reply2 = w.conn.recv()
        w.conn.send(("not a pair",))
        reply3 = w.conn.recv()
    finally:
        engine._idle.put(w)
    assert reply["error"] == reply2["error"] == reply3["error"] == "DeckRefusedError"
    assert "refused before ngspice" in reply["reason"]
    assert not marker.exists()
    assert float(engine.run(GOOD).v("a")) == 1.0  # the worker still serves
