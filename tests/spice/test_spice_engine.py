"""The ngspice engine: closed-form checks, error classification, robustness of the pool."""

from __future__ import annotations

import math
import os
import signal
import threading
import time

import numpy as np
import pytest

from cosim.cli.build_rc import build_rc_lowpass
from cosim.netlist import (
    Ac,
    BehavioralSource,
    Capacitor,
    Circuit,
    Diode,
    Model,
    Op,
    Resistor,
    Tran,
    VoltageSource,
)
from cosim.spice import (
    ConvergenceError,
    FloatingNodeError,
    SpiceCrashError,
    SpiceEngine,
    SpiceError,
    SpiceSyntaxError,
    SpiceTimeoutError,
    UnknownModelError,
)

R, C = 1e3, 1e-6
TAU = R * C


def test_rc_step_response_matches_exponential(engine):
    res = engine.run(build_rc_lowpass(R, C, "tran"))
    t, v = res.axis, res.v("out")
    assert res.kind == "tran" and t[-1] == pytest.approx(5 * TAU)
    expected = 1 - np.exp(-t / TAU)
    # within 0.1 % of the final value at every output point
    assert np.max(np.abs(v - expected)) < 1e-3


def test_rc_ac_corner_frequency(engine):
    circuit = build_rc_lowpass(R, C, "tran")
    f3 = 1 / (2 * math.pi * TAU)
    # a grid that does not contain f3 itself: the corner is found by interpolation
    res = engine.run(circuit, Ac(f3 / 37, f3 * 53, 200))
    f, mag = res.axis.real, np.abs(res.v("out"))
    target = 1 / math.sqrt(2)
    k = int(np.argmax(mag < target))
    # interpolate in log-frequency between the bracketing points
    lf = np.interp(target, [mag[k], mag[k - 1]], [np.log(f[k]), np.log(f[k - 1])])
    assert abs(np.exp(lf) - f3) / f3 < 1e-3
    assert np.max(np.abs(mag - 1 / np.sqrt(1 + (f / f3) ** 2))) < 1e-9


def test_divider_operating_point_exact(engine):
    c = Circuit("div").add(VoltageSource("V1", "in", "0", 1.0), Resistor("R1", "in", "mid", 3e3),
                           Resistor("R2", "mid", "0", 1e3))
    res = engine.run(c, Op())
    assert abs(float(res.v("mid")) - 0.25) < 1e-9
    assert abs(float(res.i("V1")) - (-1.0 / 4e3)) < 1e-12  # SPICE sign: into n_pos
    assert res.v("mid").flags.writeable is False  # results are immutable


def test_result_has_every_node_and_branch(engine):
    res = engine.run(build_rc_lowpass(R, C, "tran"))
    assert set(res.node_voltages) == {"in", "out"}
    assert set(res.branch_currents) == {"v1#branch"}


BAD = {
    "syntax": ("* bad expression\nV1 a 0 1\nR1 a b {1+}\nR2 b 0 1k\n.op\n.end\n",
               SpiceSyntaxError, "Expression err"),
    "unknown model": ("* unknown model\nV1 a 0 1\nR1 a b 1k\nD1 b 0 nosuch\n.op\n.end\n",
                      UnknownModelError, "can't find model 'nosuch'"),
    # floating inside a subcircuit: only ngspice sees it (top-level ones are refused
    # before the run, see test_netlist_strict.py)
    "floating node": ("* floating\n.subckt s p n\nC1 p q 1u\nR1 q r 1k\n.ends s\n"
                      "V1 a 0 1\nX1 a 0 s\n.op\n.end\n", FloatingNodeError, "singular matrix"),
    "no convergence": ("* diodes\nV1 a 0 1\nD1 a b dd\nD2 b 0 dd\n"
                       ".model dd D(IS=1e-30 N=0.01)\n.op\n.end\n",
                       ConvergenceError, "Timestep too small"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_failures_raise_the_right_spice_error_with_ngspice_lines(engine, case):
    text, cls, ngspice_says = BAD[case]
    with pytest.raises(cls) as info:
        engine.run(text)
    err = info.value
    assert any(ngspice_says in line for line in err.ngspice_lines), err.ngspice_lines
    assert err.netlist.startswith("* ")  # the netlist travels with the error
    assert ngspice_says in str(err)
    # the engine keeps working after every failure
    ok = engine.run("* ok\nV1 a 0 2\nR1 a 0 1k\n.op\n.end\n")
    assert float(ok.v("a")) == 2.0


def test_informational_gmin_lines_are_not_errors(engine):
    # a stiff diode clamp that needs gmin stepping but has a sound solution
    c = Circuit("clamp").add(VoltageSource("V1", "a", "0", 5.0), Resistor("R1", "a", "b", 1.0),
                             Diode("D1", "b", "0", "dd"))
    c.add_model(Model("dd", "D", {"IS": 1e-14, "N": 1.0}))
    res = engine.run(c, Op())
    vb = float(res.v("b"))
    i = (5.0 - vb) / 1.0
    assert i == pytest.approx(1e-14 * (math.exp(vb / 0.025852) - 1), rel=0.05)


def test_tran_with_behavioural_source(engine):
    # B-source current I = V(a)/R into a capacitor: same as an RC
    c = Circuit("b-rc").add(VoltageSource("V1", "in", "0", 1.0),
                            BehavioralSource("B1", "in", "out", "I", "(V(in)-V(out))/1000"),
                            Capacitor("C1", "out", "0", 1e-6, ic_v=0.0))
    res = engine.run(c, Tran(1e-5, 3e-3, max_step_s=5e-6, uic=True))
    assert np.max(np.abs(res.v("out") - (1 - np.exp(-res.axis / TAU)))) < 1e-3


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
def test_thousand_runs_parent_memory_flat():
    c = Circuit("div").add(VoltageSource("V1", "in", "0", 1.0), Resistor("R1", "in", "mid", 3e3),
                           Resistor("R2", "mid", "0", 1e3))
    with SpiceEngine(workers=2, max_runs_per_worker=300) as eng:
        for _ in range(100):  # warm-up: imports, first workers
            eng.run(c, Op())
        before = _rss_kib()
        for k in range(1000):
            res = eng.run(c, Op())
            assert float(res.v("mid")) == 0.25
        after = _rss_kib()
        assert eng.runs == 1100
    growth_mib = (after - before) / 1024
    assert growth_mib < 10, f"parent RSS grew {growth_mib:.1f} MiB over 1000 runs"


def _long_tran() -> Circuit:
    c = build_rc_lowpass(R, C, "tran")
    c.analyses.clear()
    c.analyses.append(Tran(1e-9, 10.0, max_step_s=1e-9))  # far too long to finish
    return c


def test_killed_worker_gives_exception_and_next_run_works():
    with SpiceEngine(workers=1, timeout_s=60) as eng:
        eng.run("* warm\nV1 a 0 1\nR1 a 0 1\n.op\n.end\n")
        (pid,) = eng.worker_pids()
        killer = threading.Timer(0.5, os.kill, args=(pid, signal.SIGKILL))
        killer.start()
        t0 = time.monotonic()
        with pytest.raises(SpiceCrashError):
            eng.run(_long_tran())
        assert time.monotonic() - t0 < 30
        res = eng.run("* after\nV1 a 0 3\nR1 a 0 1\n.op\n.end\n")
        assert float(res.v("a")) == 3.0
        assert eng.worker_pids() != [pid]


def test_hang_ends_at_timeout_and_next_run_works():
    with SpiceEngine(workers=1) as eng:
        t0 = time.monotonic()
        with pytest.raises(SpiceTimeoutError):
            eng.run(_long_tran(), timeout_s=1.0)
        assert time.monotonic() - t0 < 10
        assert float(eng.run("* after\nV1 a 0 4\nR1 a 0 1\n.op\n.end\n").v("a")) == 4.0


def test_run_many_keeps_order_and_isolates_failures(engine):
    from cosim.spice import make_job

    jobs = [make_job(f"* d{k}\nV1 a 0 {k}\nR1 a 0 1k\n.op\n.end\n") for k in range(1, 7)]
    jobs.insert(3, make_job(BAD["unknown model"][0]))
    out = engine.run_many(jobs, return_exceptions=True)
    assert isinstance(out[3], UnknownModelError)
    values = [float(r.v("a")) for i, r in enumerate(out) if i != 3]
    assert values == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_spice_errors_are_picklable():
    import pickle

    err = SpiceSyntaxError("bad", ["line 1"], "* n\n.end\n")
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, SpiceError) and back.ngspice_lines == ("line 1",)
