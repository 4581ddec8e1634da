"""cached_run: a second identical characterization runs no ngspice and gives equal arrays."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.netlist import Ac, Capacitor, Circuit, Op, Resistor, Tran, VoltageSource
from cosim.spice import SpiceEngine, SpiceError, make_job
from cosim.store import ResultCache, cached_run, engine_ngspice_version


@pytest.fixture(scope="module")
def engine():
    with SpiceEngine(workers=1) as eng:
        yield eng


def rc(r_ohm: float = 1e3) -> Circuit:
    c = Circuit("rc lowpass")
    c.add(VoltageSource("V1", "in", "0", 1.0, 1.0), Resistor("R1", "in", "out", r_ohm),
          Capacitor("C1", "out", "0", 1e-9))
    return c


def assert_equal_results(a, b) -> None:
    assert (a.kind, a.axis_name, a.ngspice_version, a.netlist_sha256) == \
        (b.kind, b.axis_name, b.ngspice_version, b.netlist_sha256)
    assert list(a.vectors) == list(b.vectors)
    for name in a.vectors:
        x, y = a.vectors[name], b.vectors[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x, y), name


def test_second_run_reads_the_cache(engine, tmp_path):
    cache = ResultCache(tmp_path)
    analysis = Ac(1e3, 1e8, points=10)
    before = engine.runs
    first = cached_run(rc(), analysis, cache=cache, engine=engine)
    assert engine.runs == before + 1
    second = cached_run(rc(), analysis, cache=cache, engine=engine)
    assert engine.runs == before + 1             # no ngspice run
    assert_equal_results(first, second)
    assert np.iscomplexobj(second.v("out"))
    # Physics check of what came back: |H| = 1/sqrt(1 + (w R C)^2).
    w = 2 * np.pi * second.axis
    expected = 1 / np.sqrt(1 + (w * 1e3 * 1e-9) ** 2)
    assert np.allclose(np.abs(second.v("out")), expected, rtol=1e-6)
    assert cache.info()["hits"] == 1 and cache.info()["entries"] == 1

    # A changed netlist is a miss, then a hit.
    cached_run(rc(2e3), analysis, cache=cache, engine=engine)
    assert engine.runs == before + 2
    cached_run(rc(2e3), analysis, cache=cache, engine=engine)
    assert engine.runs == before + 2
    # A changed analysis is a miss.
    op = cached_run(rc(), Op(), cache=cache, engine=engine)
    assert engine.runs == before + 3
    assert op.v("out").shape == () and op.v("out") == pytest.approx(1.0)


def test_hit_from_a_fresh_engine_and_cache_object(engine, tmp_path):
    """A new process-like situation: new engine, new cache object, same directory."""
    tran = Tran(1e-8, 2e-6)
    first = cached_run(rc(), tran, cache=ResultCache(tmp_path), engine=engine)
    with SpiceEngine(workers=1) as fresh:
        assert engine_ngspice_version(fresh) == first.ngspice_version
        again = cached_run(rc(), tran, cache=ResultCache(tmp_path), engine=fresh)
        assert fresh.runs == 0
    assert_equal_results(first, again)
    # The stored result equals an independent, uncached ngspice run.
    direct = engine.run(rc(), tran)
    assert_equal_results(direct, again)


def test_text_input_and_failures_are_not_cached(engine, tmp_path):
    cache = ResultCache(tmp_path)
    text = make_job(rc(), Op()).text
    a = cached_run(text, cache=cache, engine=engine)
    b = cached_run(rc(), Op(), cache=cache, engine=engine)   # same rendered text: a hit
    assert cache.info()["hits"] == 1
    assert_equal_results(a, b)
    bad = "* bad\nV1 a 0 1\nR1 a 0 1\nX1 a 0 nosuchsubckt\n.op\n.end\n"
    with pytest.raises(SpiceError):
        cached_run(bad, cache=cache, engine=engine)
    assert cache.info()["entries"] == 1
