"""``cosim netlist diff``: element-level differences of parsed netlists."""

from __future__ import annotations

import json

import numpy as np

from cosim.cli.main import main
from cosim.hw.crossbar import build_crossbar_read
from cosim.netlist import Resistor


def _write(path, circuit):
    path.write_text(circuit.render(), encoding="utf-8")
    return str(path)


def test_crossbars_differing_in_one_cell_report_exactly_that_element(tmp_path, capsys):
    rng = np.random.default_rng(3)
    g = rng.uniform(5e-7, 5e-4, (6, 5))
    v = rng.uniform(0, 0.5, 6)
    g2 = g.copy()
    g2[4, 2] *= 1.5
    a = _write(tmp_path / "a.cir", build_crossbar_read(g, v, 1.48, 100.0, 100.0))
    b = _write(tmp_path / "b.cir", build_crossbar_read(g2, v, 1.48, 100.0, 100.0))
    assert main(["netlist", "diff", a, b, "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert not d["identical"]
    el = d["elements"]
    assert el["added"] == [] and el["removed"] == []
    assert [c["name"] for c in el["changed"]] == ["R_r4_c2"]
    change = el["changed"][0]["fields"]
    assert list(change) == ["resistance_ohm"]
    assert change["resistance_ohm"]["old"] == float(f"{1 / g[4, 2]:.17g}") or \
        abs(change["resistance_ohm"]["old"] * g[4, 2] - 1) < 1e-12
    assert abs(change["resistance_ohm"]["new"] * g2[4, 2] - 1) < 1e-12
    for part in ("models", "subcircuits"):
        assert d[part] == {"added": [], "removed": [], "changed": []}
    for part in ("params", "options", "initial_conditions", "analyses", "includes", "title"):
        assert d[part] == {}
    # text form names the element once
    assert main(["netlist", "diff", a, b]) == 1
    text = capsys.readouterr().out
    assert text.count("R_r4_c2") == 1 and "resistance_ohm" in text


def test_identical_netlists_exit_zero(tmp_path, capsys):
    g = np.full((3, 3), 1e-4)
    a = _write(tmp_path / "a.cir", build_crossbar_read(g, np.ones(3)))
    b = _write(tmp_path / "b.cir", build_crossbar_read(g, np.ones(3)))
    assert main(["netlist", "diff", a, b]) == 0
    assert "identical" in capsys.readouterr().out


def test_added_removed_nodes_options_and_analyses(tmp_path, capsys):
    g = np.full((2, 2), 1e-4)
    c1 = build_crossbar_read(g, np.ones(2))
    c2 = build_crossbar_read(g, np.ones(2))
    c2.add(Resistor("RLEAK", "row0", "0", 1e9))
    c2.options["reltol"] = 1e-6
    c2.elements = [e for e in c2.elements if e.name != "R_r1_c1"]
    a, b = _write(tmp_path / "a.cir", c1), _write(tmp_path / "b.cir", c2)
    assert main(["netlist", "diff", a, b, "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["elements"]["added"] == ["RLEAK"]
    assert d["elements"]["removed"] == ["R_r1_c1"]
    assert d["elements"]["changed"] == []
    assert d["options"] == {"reltol": {"old": None, "new": 1e-6}}
