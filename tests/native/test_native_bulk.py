"""The columnar reader of flat R/V/I netlists (cosim.native.bulk) and the vectorised stamps.

The reader must give exactly what the full path gives (parse_netlist -> run_native): the
same vectors and the same netlist hash, and ngspice's numbers; and it must hand every
text outside its subset to the full parser, which accepts it or names the error.
"""

from __future__ import annotations

import numpy as np
import pytest

from cosim.errors import CosimError
from cosim.hw.crossbar import build_crossbar_read
from cosim.native import run_native
from cosim.native.bulk import read_bulk
from cosim.netlist import Dc, Op, parse_netlist


def _crossbar_text(n: int = 6, wire: float = 10.0) -> str:
    rng = np.random.default_rng(3)
    g = rng.uniform(5e-7, 5e-4, (n, n))
    u = rng.uniform(0.0, 0.5, n)
    return build_crossbar_read(g, u, wire, 100.0, 100.0).render()


def test_crossbar_through_the_columns_matches_the_full_path_and_ngspice(engine):
    text = _crossbar_text()
    bulk = read_bulk(text)
    assert bulk is not None
    circuit = parse_netlist(text)
    assert bulk.sha256() == circuit.sha256()
    fast = bulk.run(Op())
    full = run_native(circuit, Op())
    assert fast.netlist_sha256 == full.netlist_sha256
    assert fast.vectors.keys() == full.vectors.keys()
    ref = engine.run(circuit, Op())
    for key in full.vectors:
        np.testing.assert_allclose(fast.vectors[key], full.vectors[key], rtol=1e-14, atol=0)
        np.testing.assert_allclose(fast.vectors[key], ref.vectors[key], rtol=1e-12,
                                   atol=1e-18)


def test_current_sources_and_a_dc_sweep_match_ngspice(engine):
    text = ("* divider with a current source\nV1 in 0 DC 2\nR1 in mid 1000\nR2 mid 0 3e3\n"
            "I1 mid 0 1e-4\nIload 0 mid DC 2.5e-05\n.dc V1 0 2 0.5\n.end\n")
    bulk = read_bulk(text)
    assert bulk is not None and [a.kind for a in bulk.analyses] == ["dc"]
    fast = bulk.run(bulk.analyses[0])
    ref = engine.run(parse_netlist(text), bulk.analyses[0])
    np.testing.assert_allclose(fast.v("mid"), ref.v("mid"), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.i("v1"), ref.i("v1"), rtol=1e-12, atol=1e-18)
    # Closed form at V1 = 2 V: (V/R1 - 1e-4 + 2.5e-5) * (R1 || R2).
    vmid = (2 / 1e3 - 1e-4 + 2.5e-5) * (1e3 * 3e3 / 4e3)
    assert fast.v("mid")[-1] == pytest.approx(vmid, rel=1e-13)
    assert fast.netlist_sha256 == run_native(parse_netlist(text), Dc("V1", 0, 2, 0.5)) \
        .netlist_sha256


_HEAD = "* t\nV1 a 0 DC 1\n"


@pytest.mark.parametrize("body, full_accepts", [
    ("R1 a 0 1k\n", True),                         # a scale suffix
    ("R1 a 0 {2*500}\n", True),                    # an expression
    ("R1 a 0 1000 ; comment\n", True),             # an inline comment
    ("R1 a\n+ 0 1000\n", True),                    # a continuation line
    ("R1 a 0 1000\nC1 a 0 1e-12\n", True),         # another element kind
    ("R1 a 0 1000\n.options gmin=1e-12\n", True),  # another control line
    ("R1 a 0 1000\n.tran 1n 10n\n", True),         # another analysis
    ("R1 a 0 1000\nr1 a 0 2000\n", False),         # duplicate name (case-insensitive)
    ("R1 a 0 DC 1000\n", False),                   # DC in a resistor line
    ("R1 a 0 0\n", False),                         # zero resistance
    ("R1 a 0 1000\nR2 b c 1000\n", False),         # floating nodes b, c
    ("R1 a 0 1000\nR2 a 0 1e999\n", False),        # not finite
    ("R1 a 0 1000\n.end\nR9 a 0 1\n", False),      # text after .end
])
def test_text_outside_the_subset_goes_to_the_full_parser(body, full_accepts):
    text = _HEAD + body + (".end\n" if ".end" not in body else "")
    assert read_bulk(text) is None
    if full_accepts:
        parse_netlist(text)
    else:
        with pytest.raises(CosimError):   # a NetlistError, or a FloatingNodeError
            from cosim.spice import make_job

            c = parse_netlist(text)
            make_job(c, Op())


def test_cli_native_run_of_a_crossbar_file_equals_the_full_path(tmp_path, capsys):
    from cosim.cli.main import main

    path = tmp_path / "xb.cir"
    path.write_text(_crossbar_text(5))
    assert main(["netlist", "run", str(path), "--engine", "native", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    full = run_native(parse_netlist(path.read_text()), Op())
    assert out["netlist_sha256"] == parse_netlist(path.read_text()).sha256()
    for key, value in full.vectors.items():
        assert out["vectors"][key] == pytest.approx([float(value)], rel=1e-14)
