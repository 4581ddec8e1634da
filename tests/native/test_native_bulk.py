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


def test_text_output_of_the_columns_equals_the_full_parser_line_for_line(tmp_path, capsys):
    """The same circuit through the columnar reader and (one control line later) through
    the full parser prints the same lines: the same unknowns, values, order and format."""
    from cosim.cli.main import main

    text = _crossbar_text(6)
    fast = tmp_path / "fast.cir"
    full = tmp_path / "full.cir"
    fast.write_text(text)
    # gmin=1e-12 is the solver's default: the same equations, but outside the subset.
    full.write_text(text.replace(".op\n", ".options gmin=1e-12\n.op\n"))
    assert read_bulk(fast.read_text()) is not None and read_bulk(full.read_text()) is None
    outputs = []
    for path in (fast, full):
        assert main(["netlist", "run", str(path), "--engine", "native"]) == 0
        outputs.append(capsys.readouterr().out.split("\n", 1)[1])
    assert outputs[0] == outputs[1]
    assert outputs[0].count(" V\n") == 6 * 6 * 2 + 6 * 2 + 6 * 2      # every node printed


def test_layout_variants_read_by_the_columns_give_the_same_circuit():
    """Upper-case nodes, runs of spaces, trailing spaces, comments and blank lines between
    elements, lower-case "dc": the columns are those of the canonical text."""
    canonical = ("* t\nV1 in 0 DC 2\nR1 in mid 1000\nR2 mid 0 3000\nI1 mid 0 DC 0.0001\n"
                 ".op\n.end\n")
    variant = ("* t\n\nV1   IN 0 dc 2  \n* a comment\n  * an indented comment\n"
               "R1 In   MID 1e3\n   \nr2 mid 0 3000.0\nI1 MID 0 DC 1e-4 \n.op\n.end\n")
    a, b = read_bulk(canonical), read_bulk(variant)
    assert a is not None and b is not None
    for key in ("nodes", "branches", "v_name", "i_name"):
        assert list(getattr(a.table, key)) == list(getattr(b.table, key))
    for key in ("r_a", "r_c", "r_g", "v_a", "v_c", "v_value", "i_a", "i_c", "i_value"):
        np.testing.assert_array_equal(getattr(a.table, key), getattr(b.table, key))
    ra, rb = a.run(Op()), b.run(Op())
    assert ra.vectors.keys() == rb.vectors.keys()
    assert all(ra.vectors[k] == rb.vectors[k] for k in ra.vectors)
    # Closed form: V(mid) = (2 V / 1 kohm - 0.1 mA) * (1 kohm || 3 kohm).
    assert float(ra.v("mid")) == pytest.approx((2 / 1e3 - 1e-4) * 750.0, rel=1e-14)


@pytest.mark.parametrize("line", [
    "R1 a 0 1e3.5",        # not a number
    "R1 a 0 inf",          # letters float() would take
    "R1 a 0 1_000",        # an underscore float() would take
    "R1 a- 0 1000",        # a node character outside A-Za-z0-9_
    "R1 a 0 DC",           # DC without a value
    "V2 a 0 AC 1",         # a fifth word that is not DC
    "X1 a 0 1000",         # another element letter
    "R" + "x" * 64 + " a 0 1",      # a name of 65 characters
])
def test_a_line_the_columns_refuse_is_left_to_the_full_parser(line):
    assert read_bulk(f"* t\nV1 a 0 DC 1\nR0 a 0 10\n{line}\n.op\n.end\n") is None


def test_netlist_run_on_a_flat_file_imports_no_elements_builders_or_worker_pool(tmp_path):
    """`cosim netlist run --engine native` of a flat file stays on the columnar path:
    neither the element classes, the parser, the builders (which load device cards) nor
    the ngspice engine are imported."""
    import subprocess
    import sys

    path = tmp_path / "xb.cir"
    path.write_text(_crossbar_text(4))
    code = ("import sys\nfrom cosim.cli.main import main\n"
            f"assert main(['netlist', 'run', {str(path)!r}, '--engine', 'native']) == 0\n"
            "print(sorted(m for m in sys.modules if m in ('cosim.netlist.elements', "
            "'cosim.netlist.parse', 'cosim.native.library', 'cosim.cli.build_crossbar', "
            "'cosim.devices', 'cosim.spice.engine')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stderr.strip() == "[]"


def test_a_read_netlist_factorizes_like_its_circuit():
    """cosim.native.factorize and run_native take the columns of netlist text too."""
    from cosim.hw.crossbar import crossbar_ports
    from cosim.native import factorize

    text = _crossbar_text(5)
    ports = crossbar_ports(5, 5)
    u = np.random.default_rng(1).uniform(0, 0.5, (40, 5))
    fast = factorize(read_bulk(text), ports.inputs, ports.outputs).solve(u)
    full = factorize(parse_netlist(text), ports.inputs, ports.outputs).solve(u)
    np.testing.assert_allclose(fast, full, rtol=1e-14, atol=0)
    res = run_native(read_bulk(text))
    assert res.netlist_sha256 == run_native(parse_netlist(text)).netlist_sha256
