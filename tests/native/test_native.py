"""Native MNA twin against ngspice, closed-form circuits and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.native import (
    NativeSingularMatrixError,
    UnsupportedElementError,
    factorize,
    run_native,
    solve_op,
)
from cosim.native.expr import FUNCTIONS, evaluate, parse_expression, resolve, template
from cosim.netlist import (
    Capacitor,
    Circuit,
    Dc,
    Diode,
    Model,
    Op,
    Resistor,
    Tran,
    VoltageSource,
    parse_netlist,
)
from cosim.spice import make_job

# Every element kind the twin stamps: R, V, I, E, G, F, H, L, B (V and I), D, NMOS, PMOS,
# a subcircuit with a parameter and an internal voltage source.
MIXED = """* native twin reference circuit
.param rr=2k
.options reltol=1e-9 vntol=1e-14 abstol=1e-18
.model dd D(is=1e-14 n=1.5)
.model nm NMOS(vto=0.5 kp=1e-4 lambda=0.02)
.model pm PMOS(vto=-0.6 kp=5e-5)
.subckt sub a b params: rv=1k
V1 a m DC 0.5
R1 m b {rv}
E1 e 0 m 0 2
R2 e 0 1k
.ends sub
V1 in 0 DC 1
X1 in 0 sub rv=3k
L1 in q 1e-9
R3 q 0 10
B1 w 0 V=v(q)*0.5
Rb w 0 {rr}
H1 h 0 V1 2
Rh h 0 1
G1 in g2 w 0 1e-3
Rg g2 0 1k
F1 0 f V1 0.5
Rf f 0 100
I1 0 ii DC 1e-3
D1 ii 0 dd
R5 ii 0 10k
Vdd vdd 0 DC 1.8
M1 dr g3 0 0 nm W=2e-6 L=1e-6
Rd vdd dr 5k
Vg g3 0 DC 1.2
M2 dp vdd2 vdd vdd pm W=2e-6 L=1e-6
Vg2 vdd2 0 DC 0.3
Rp dp 0 20k
Bs ss 0 I=1e-4*sinh(1.9*v(in,w))
Rs ss 0 1k
.op
.end
"""


def _assert_same(ref, nat, rtol, atol=1e-15):
    assert set(ref.vectors) == set(nat.vectors)
    for k in ref.vectors:
        np.testing.assert_allclose(nat.vectors[k], ref.vectors[k], rtol=rtol, atol=atol,
                                   err_msg=k)


def test_op_of_every_element_kind_matches_ngspice(engine):
    c = parse_netlist(MIXED)
    ref = engine.run(c)
    nat = run_native(c)
    _assert_same(ref, nat, rtol=1e-9)
    # KCL at node "ii": source current = diode current + resistor current.
    v = float(nat.v("ii"))
    i_d = 1e-14 * (np.exp(v / (1.5 * 1.38064852e-23 * 300.15 / 1.6021766208e-19)) - 1) \
        + 1e-12 * v
    assert i_d + v / 10e3 == pytest.approx(1e-3, rel=1e-12)


@pytest.mark.parametrize("sweep", [Dc("Vg", 0.0, 1.8, 0.1), Dc("I1", 0.0, 2e-3, 1e-4)])
def test_dc_sweep_matches_ngspice(engine, sweep):
    c = parse_netlist(MIXED)
    ref = engine.run(c, sweep)
    nat = run_native(c, sweep)
    assert nat.axis_name == ref.axis_name
    np.testing.assert_array_equal(nat.axis, ref.axis)
    _assert_same(ref, nat, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_expression_function_matches_ngspice_and_its_derivative(engine, name):
    n_args = len(FUNCTIONS[name][1])
    args = ", ".join(["v(a)*0.5+0.4"] + ["0.3"] * (n_args - 1))
    text = f"* f\nV1 a 0 DC 0.37\nB1 b 0 I={name}({args})\nR1 b 0 1\n.op\n.end\n"
    c = parse_netlist(text)
    assert float(run_native(c).v("b")) == pytest.approx(float(engine.run(c).v("b")),
                                                         rel=1e-12, abs=1e-15)
    tree = resolve(parse_expression(f"{name}({args})"), {}, lambda n: n, lambda s: s)
    t, consts, variables = template(tree)
    k = np.array(consts, float).reshape(-1, 1)
    x = np.array([[0.37]])
    h = 1e-6
    _, grad = evaluate(t, k, x)
    fd = (evaluate(t, k, x + h)[0] - evaluate(t, k, x - h)[0]) / (2 * h)
    np.testing.assert_allclose(grad[0], fd, rtol=1e-6, atol=1e-9)


def test_divider_closed_form_and_sign_convention():
    c = Circuit("divider").add(VoltageSource("V1", "in", "0", 3.0),
                               Resistor("R1", "in", "out", 2e3), Resistor("R2", "out", "0", 1e3))
    x = solve_op(c)
    assert x["out"] == pytest.approx(1.0, rel=1e-14)
    assert x["v1#branch"] == pytest.approx(-1e-3, rel=1e-14)  # delivering: negative


def test_batch_solve_is_superposition_and_matches_ngspice(engine):
    rng = np.random.default_rng(1)
    c = Circuit("ladder")
    els = [VoltageSource("VA", "a", "0", 0.0), VoltageSource("VB", "b", "0", 0.0),
           VoltageSource("VC", "c", "0", 0.25)]
    for k in range(6):
        els.append(Resistor(f"R{k}", "a" if k < 3 else "b", f"n{k % 3}",
                            float(rng.uniform(1e2, 1e4))))
        els.append(Resistor(f"RQ{k}", f"n{k % 3}", "c" if k % 2 else "0",
                            float(rng.uniform(1e2, 1e4))))
    c.add(*els)
    outs = ["n0", "n1", "va#branch", "vc#branch"]
    s = factorize(c, ["VA", "VB"], outs)
    u = rng.uniform(-1, 1, (50, 2))
    y = s.solve(u)                       # transfer-matrix path (batch > inputs)
    y_direct = s.solve_full(u)[:, [s.names.index(o) for o in outs]]
    np.testing.assert_allclose(y, y_direct, rtol=1e-12, atol=1e-18)
    M, off = s.transfer()
    np.testing.assert_allclose(s.solve(u[0]), M @ u[0] + off, rtol=1e-12)
    # One vector checked against ngspice with the sources set in the netlist.
    c2 = Circuit("ladder").add(VoltageSource("VA", "a", "0", float(u[7, 0])),
                               VoltageSource("VB", "b", "0", float(u[7, 1])),
                               *[e for e in els if not e.name.startswith(("VA", "VB"))])
    ref = engine.run(c2, Op())
    np.testing.assert_allclose(y[7], [float(ref[o]) for o in outs], rtol=1e-10)


def test_unsupported_and_singular_are_refused():
    c = Circuit("t").add(VoltageSource("V1", "a", "0", 1.0), Resistor("R1", "a", "0", 1e3))
    with pytest.raises(UnsupportedElementError, match="tran"):
        run_native(c, Tran(1e-6, 1e-3))
    d = Circuit("d").add(VoltageSource("V1", "a", "0", 1.0), Diode("D1", "a", "0", "dz"))
    d.add_model(Model("dz", "D", {"bv": 5.0}))
    with pytest.raises(UnsupportedElementError, match="bv"):
        solve_op(d)
    f = Circuit("f").add(VoltageSource("V1", "a", "0", 1.0), Resistor("R1", "a", "0", 1e3),
                         Capacitor("C1", "a", "fl", 1e-12))
    with pytest.raises(NativeSingularMatrixError, match="fl"):
        solve_op(f)
    with pytest.raises(UnsupportedElementError, match="VX"):
        factorize(c, ["VX"])


def test_run_native_hash_is_the_ngspice_job_hash():
    c = parse_netlist(MIXED)
    assert run_native(c).netlist_sha256 == make_job(c).sha256


def test_dc_sweep_over_the_point_limit_is_refused_before_anything_is_allocated():
    """MAX_DC_POINTS + 1 points: refused at once, the message naming the sweep, the
    count, the limit, the constant and the fix; exactly MAX_DC_POINTS points run."""
    import time

    from cosim.errors import ResourceLimitError
    from cosim.native import solver

    assert solver.MAX_DC_POINTS == 1_000_000
    c = Circuit("divider")
    c.add(VoltageSource("V1", "in", "0", 1.0), Resistor("R1", "in", "out", 1e3),
          Resistor("R2", "out", "0", 3e3))
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as exc:
        run_native(c, Dc("V1", 0.0, 1e6, 1.0))
    assert time.perf_counter() - t0 < 1.0
    msg = str(exc.value)
    for part in (".dc V1 0 1000000 1: ", "1,000,001 sweep points", "limit of 1,000,000",
                 "cosim.native.solver.MAX_DC_POINTS", "larger step"):
        assert part in msg, (part, msg)
    with pytest.raises(ResourceLimitError, match="1e\\+300 sweep points"):
        run_native(c, Dc("V1", 0.0, 1.0, 1e-300))            # would never finish before

    res = run_native(c, Dc("V1", 0.0, 999_999.0, 1.0))       # exactly at the limit
    assert res.axis.shape == (1_000_000,)
    np.testing.assert_allclose(res.v("out"), 0.75 * res.axis, rtol=1e-12)


def test_native_netlist_run_refuses_a_dc_sweep_over_the_limit(tmp_path, capsys, monkeypatch):
    """The limit is read when a sweep runs: one point under a patched limit runs from
    `cosim netlist run --engine native`, one over it exits 2 with the message."""
    from cosim.cli.main import main
    from cosim.native import solver

    monkeypatch.setattr(solver, "MAX_DC_POINTS", 11)
    f = tmp_path / "d.cir"
    for step, rc in (("0.1", 0), ("0.09", 2)):             # 11 points, then 12
        f.write_text(f"* d\nV1 in 0 1\nR1 in out 1k\nR2 out 0 1k\n.dc V1 0 1 {step}\n.end\n")
        assert main(["netlist", "run", str(f), "--engine", "native", "--json"]) == rc
    err = capsys.readouterr().err
    assert "12 sweep points, more than the native solver's limit of 11" in err
