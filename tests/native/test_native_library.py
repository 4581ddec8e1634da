"""The native engine on the netlists the project writes: shipped libraries flattened.

Reference: ngspice through cosim.spice.  Tolerance: 1e-9 relative, plus an absolute
floor of 1e-12 V and 1e-18 A.  The floors are floating-point roundoff, not model error:
a node that is a difference of equal terms (pm0 = cm0 - k * sig0 at zero common mode)
comes out 0 in one engine and ~1e-22 V in the other, and the op-amp's internal node
n1 = -a0 * V(in0) multiplies the ~1e-16 V roundoff of in0 by a0 = 1e4.  The builders
write ``reltol=1e-6`` into the readout netlist; ngspice's own answer is only that
accurate on a warm-started sweep (4.8e-7 V at n1, measured), so the reference runs ask
ngspice for ``reltol=1e-9`` (the native Newton iterates to machine precision).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cosim.cli.main import main
from cosim.native import UnsupportedElementError, flatten, run_native
from cosim.native.expr import ExpressionError, parse_expression
from cosim.native.library import shipped_library
from cosim.netlist import (
    Circuit,
    Dc,
    Diode,
    Model,
    Op,
    Resistor,
    SubCircuit,
    SubcircuitInstance,
    read_netlist,
)
from cosim.resources import data_dir

RTOL = 1e-9
ATOL_V = 1e-12
ATOL_A = 1e-18
TIGHT = {"reltol": 1e-9, "vntol": 1e-12, "abstol": 1e-18}


def _build(tmp_path, kind: str, *args: str):
    out = tmp_path / f"{kind}.cir"
    assert main(["netlist", "build", kind, *args, "-o", str(out)]) == 0
    return out


def _assert_same(ref, nat, atol_a: float = ATOL_A) -> dict[str, float]:
    """Every vector equal; returns the largest relative difference of V and of A."""
    assert set(nat.vectors) == set(ref.vectors)
    worst = {"V": 0.0, "A": 0.0}
    for k, r in ref.vectors.items():
        a, b = np.asarray(r, float), np.asarray(nat.vectors[k], float)
        unit = "A" if k.endswith("#branch") else "V"
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=atol_a if unit == "A" else ATOL_V,
                                   err_msg=k)
        big = np.abs(a) > 1e-6 * np.max(np.abs(a), initial=0.0)
        if big.any() and not k.endswith("sweep"):
            worst[unit] = max(worst[unit], float(np.max(np.abs(a - b)[big] / np.abs(a[big]))))
    return worst


@pytest.mark.parametrize("args", [(), ("--signal", "2e-6"), ("--signal=-5e-6",),
                                  ("--signal", "2e-5"), ("--channels", "2", "--signal", "1e-6")],
                         ids=["dark", "2uA", "-5uA", "saturated", "2ch"])
def test_readout_chain_operating_point_matches_ngspice(engine, tmp_path, figures, args):
    """Balanced photodiodes + TIA from readout.lib, as `netlist build readout` writes it
    (the saturated case drives the output past vmin, n1 at about -1e4 V)."""
    c = read_netlist(_build(tmp_path, "readout", *args))
    assert c.includes == ["readout.lib"] and not c.subcircuits
    c.options.update(TIGHT)
    nat = run_native(c, Op())
    worst = _assert_same(engine.run(c, Op()), nat)
    figures("max_rel_diff_V", worst["V"])
    figures("max_rel_diff_A", worst["A"])
    # KCL at the TIA input: the net photocurrent leaves through the feedback resistor.
    if args == ("--signal", "2e-6"):
        rf = 8e4
        i_f = (float(nat.v("in0")) - float(nat.v("out0"))) / rf
        assert i_f == pytest.approx(2e-6, rel=1e-3)


def test_readout_chain_ideal_opamp_matches_ngspice(engine, tmp_path):
    """Ideal op-amp (gain 1e8, rout 1 mohm): the output current is 3e-9 V across 1e-3 ohm,
    between two nodes near -0.24 V, so one ulp of either (2.8e-17 V) is 2.8e-14 A; that
    is the floor of the B-source branch current here (measured: 2.5e-14 A)."""
    c = read_netlist(_build(tmp_path, "readout", "--ideal-opamp", "--signal", "3e-6"))
    c.options.update(TIGHT)
    _assert_same(engine.run(c, Op()), run_native(c, Op()), atol_a=1e-13)


def test_readout_chain_dc_sweep_matches_ngspice(engine, tmp_path, figures, monkeypatch):
    """The netlist's own .dc of Vsig0, widened to twice full scale (saturation on both
    sides), 65 points; each point converges from the previous one by plain damped Newton,
    without the source-stepping fallback."""
    from cosim.native.mna import MnaSystem

    c = read_netlist(_build(tmp_path, "readout", "--analysis", "dc"))
    (a,) = c.analyses
    assert a.source.lower() == "vsig0"
    c.options.update(TIGHT)
    sweep = Dc(a.source, 2 * a.start, 2 * a.stop, a.stop / 16)
    calls = []
    plain = MnaSystem._newton
    monkeypatch.setattr(MnaSystem, "_newton",
                        lambda self, b, *rest: calls.append(1) or plain(self, b, *rest))
    ref, nat = engine.run(c, sweep), run_native(c, sweep)
    assert len(calls) == 65
    assert nat.axis_name == ref.axis_name
    np.testing.assert_array_equal(nat.axis, ref.axis)
    worst = _assert_same(ref, nat)
    figures("max_rel_diff_V", worst["V"])
    out = np.asarray(nat.v("out0"))
    assert 0.79 < out[0] < 0.8 and -0.8 < out[-1] < -0.79   # tanh saturation at vmax, vmin
    assert np.all(np.diff(out[16:49]) < 0)                  # inverting within full scale


def _memristor_models() -> list[str]:
    from cosim.devices.memristor import MEMRISTOR_MODELS

    return sorted(MEMRISTOR_MODELS)


@pytest.mark.parametrize("model", _memristor_models())
def test_memristor_bench_operating_point_matches_ngspice(engine, tmp_path, model):
    """`netlist build memristor-bench` writes a .tran; its operating point (drive at its
    DC value 0 V) keeps the state at x0 through Rleak/Vref in both engines."""
    c = read_netlist(_build(tmp_path, "memristor-bench", "--model", model))
    assert c.includes == ["memristors.lib"]
    c.options.update(TIGHT)
    nat = run_native(c, Op())
    _assert_same(engine.run(c, Op()), nat)
    x0 = next(e for e in c.elements if e.name.upper() == "XM1").params["x0"]
    assert float(nat.v("xm1.x")) == pytest.approx(float(x0), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("model, sweep", [("yakopcic", Dc("V1", -0.1, 0.1, 0.01)),
                                          ("vteam", Dc("V1", -0.15, 0.015, 0.015))])
def test_memristor_below_threshold_sweep_matches_ngspice_and_closed_form(engine, tmp_path,
                                                                         model, sweep):
    """Below the switching thresholds dx/dt = 0, so x = x0 and the I-V is the model's:
    Yakopcic I = a1 x0 sinh(b V); VTEAM I = V / (r_on + (r_off - r_on) x0)."""
    c = read_netlist(_build(tmp_path, "memristor-bench", "--model", model))
    c.options.update(TIGHT)
    nat = run_native(c, sweep)
    _assert_same(engine.run(c, sweep), nat)
    v = nat.axis
    i = -np.asarray(nat.i("v1"))
    p = next(e for e in c.elements if e.name.upper() == "XM1").params
    if model == "yakopcic":
        expect = 0.17 * float(p["x0"]) * np.sinh(float(p["b_per_v"]) * v)
    else:
        expect = v / (float(p["r_on_ohm"]) + (float(p["r_off_ohm"]) - float(p["r_on_ohm"]))
                      * float(p["x0"]))
    np.testing.assert_allclose(i, expect, rtol=1e-9, atol=1e-20)


def test_netlist_run_native_on_a_built_readout_matches_ngspice(tmp_path, capsys):
    """`netlist build readout -o ro.cir && netlist run ro.cir --engine native` exits 0
    and gives ngspice's vectors (the file as written: its reltol=1e-6 options)."""
    f = _build(tmp_path, "readout", "--signal", "2e-6")
    capsys.readouterr()
    results = {}
    for eng in ("native", "ngspice"):
        assert main(["netlist", "run", str(f), "--engine", eng, "--json"]) == 0
        results[eng] = json.loads(capsys.readouterr().out)
    nat, ref = results["native"]["vectors"], results["ngspice"]["vectors"]
    assert set(nat) == set(ref) and "xpd0.xp.aj" in nat
    for k in ref:
        np.testing.assert_allclose(nat[k], ref[k], rtol=RTOL,
                                   atol=ATOL_A if k.endswith("#branch") else ATOL_V,
                                   err_msg=k)
    assert main(["netlist", "run", str(f), "--engine", "native"]) == 0
    assert "(engine native)" in capsys.readouterr().out


@pytest.mark.parametrize("kind, args, word", [
    ("memristor-bench", (), ".tran"),
    ("readout", ("--analysis", "ac"), ".ac"),
    ("readout", ("--analysis", "noise"), ".noise"),
])
def test_native_refuses_analyses_it_lacks_in_one_line(tmp_path, capsys, kind, args, word):
    f = _build(tmp_path, kind, *args)
    capsys.readouterr()
    assert main(["netlist", "run", str(f), "--engine", "native"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"analysis {word} is not implemented by the native solver" in err
    assert "--engine ngspice" in err


def test_native_refuses_an_unsupported_element_next_to_a_library(tmp_path, capsys):
    """A diode with series resistance in a circuit that includes readout.lib: the
    refusal names the element and the parameter (exit 2, one line)."""
    c = read_netlist(_build(tmp_path, "readout"))
    c.add(Resistor("RD", "vdd", "dn", 1e3), Diode("D1", "dn", "0", "dz"))
    c.add_model(Model("dz", "D", {"is": 1e-14, "rs": 2.0}))
    f = tmp_path / "d.cir"
    f.write_text(c.render())
    capsys.readouterr()
    assert main(["netlist", "run", str(f), "--engine", "native"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "element d1: model parameter rs=2.0" in err


def test_shipped_libraries_flatten_with_their_parameter_expressions():
    """Every subcircuit of every shipped library flattens with its defaults; the
    expression values are the library's formulas evaluated in the instance's scope."""
    libs = sorted(p.name for p in data_dir("netlists").glob("*.lib"))
    assert libs == ["link.lib", "memristors.lib", "readout.lib"]
    for name in libs:
        lib = shipped_library(name)
        assert shipped_library(name) is lib                  # read once, cached
        c = Circuit("all").include(name)
        for k, sub in enumerate(lib.subcircuits):
            ports = tuple(f"n{k}_{j}" for j in range(len(sub.ports)))
            c.add(SubcircuitInstance(f"X{k}", ports, sub.name))
        flat = {e.name: e for e in flatten(c)}
        assert flat, name
    c = Circuit("pd").include("readout.lib")
    c.add(SubcircuitInstance("X1", ("a", "b", "c", "d", "e", "f", "g"), "balanced_pd",
                             {"rs": 20.0}),
          SubcircuitInstance("X2", ("a", "o", "vp", "vn", "0", "0", "0"), "tia",
                             {"gbw": 2e9, "lin": 1.0}))
    flat = {e.name: e for e in flatten(c)}
    assert flat["x1.xp.gs"].value == 1 / 20.0                # {1/rs}, rs passed down
    assert flat["x2.c1"].value == pytest.approx(1 / (6.283185307179586 * 2e9), rel=1e-15)
    assert flat["x2.g0"].value == 1e-4                       # {1/a0}, the default a0
    m = Circuit("m").include("memristors.lib")
    m.add(SubcircuitInstance("XM", ("p", "0"), "memristor_vteam", {"x0": 0.25}))
    flat = {e.name: e for e in flatten(m)}
    assert flat["xm.cx"].extra["ic"] == 0.25                  # IC={x0}
    assert flat["xm.vref"].value == 0.25                      # DC {x0}


def test_braces_inside_an_expression_are_the_parameter_value():
    assert parse_expression("{lin}*v(n1)+(1-{lin})") == parse_expression("(lin)*v(n1)+(1-(lin))")
    with pytest.raises(ExpressionError, match="expected"):
        parse_expression("{lin)*2")


def test_a_subcircuit_defined_in_the_circuit_and_in_an_include_is_refused():
    c = Circuit("dup").include("readout.lib")
    c.add_subcircuit(SubCircuit("tia", ("a", "b"), [Resistor("R1", "a", "b", 1.0)]))
    c.add(SubcircuitInstance("X1", ("a", "0"), "tia"))
    with pytest.raises(UnsupportedElementError, match="'tia' is defined twice"):
        flatten(c)

