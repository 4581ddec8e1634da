"""Crossbar netlists: native twin vs ngspice (read and write), ideal arrays, the CLI."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from cosim.devices import load_card
from cosim.hw import (
    build_crossbar_read,
    build_crossbar_write,
    crossbar_ports,
    crossbar_solver,
    ideal_read,
    read_currents,
    simulate_write_native,
)
from cosim.native import run_native
from cosim.spice import make_job

CARD = load_card("crossbar").values

# (size, cell, direction, wire ohm, cell I-V): all of 8x8; larger sizes sampled so that
# the ngspice runs stay short (a 64x64 op with wires takes ngspice ~10 s here).
READ_CASES = [(8, cell, d, w, "linear") for cell in ("passive", "1t1r")
              for d in ("forward", "transposed") for w in (0.1, 1.0, 10.0)]
READ_CASES += [(16, "passive", "forward", 1.0, "sinh"), (16, "1t1r", "transposed", 0.1, "sinh"),
               (32, "passive", "transposed", 10.0, "linear"),
               (64, "passive", "forward", 10.0, "linear"),
               (64, "1t1r", "transposed", 0.1, "linear")]


def _case_circuit(n, cell, direction, wire, iv, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.uniform(CARD["g_min_s"], CARD["g_max_s"], (n, n))
    v = rng.uniform(0.0, CARD["read_voltage_v"], n)
    return g, v, build_crossbar_read(g, v, wire, CARD["driver_resistance_ohm"],
                                     CARD["sense_resistance_ohm"], cell, direction, cell_iv=iv)


@pytest.fixture(scope="module")
def ngspice_reads(engine):
    circuits = [_case_circuit(*case)[2] for case in READ_CASES]
    results = engine.run_many([make_job(c) for c in circuits])
    return dict(zip(READ_CASES, zip(circuits, results)))


@pytest.mark.parametrize("case", READ_CASES, ids=lambda c: "-".join(map(str, c)))
def test_read_native_matches_ngspice(ngspice_reads, case):
    n, cell, direction, wire, iv = case
    circuit, ref = ngspice_reads[case]
    i_ref = read_currents(ref, n, n, direction)
    i_nat = read_currents(run_native(circuit), n, n, direction)
    np.testing.assert_allclose(i_nat, i_ref, rtol=1e-6, atol=0)
    # Wire and periphery resistance must matter at this size (the test can fail).
    g, v, _ = _case_circuit(*case)
    if iv == "linear" and cell == "passive":
        assert np.max(np.abs(i_ref / ideal_read(g, v, direction) - 1)) > 1e-4


@pytest.mark.parametrize("direction", ["forward", "transposed"])
@pytest.mark.parametrize("n", [8, 64])
def test_ideal_array_is_g_transpose_v(engine, n, direction):
    rng = np.random.default_rng(n)
    g = rng.uniform(CARD["g_min_s"], CARD["g_max_s"], (n, n))
    v = rng.uniform(0.0, 0.5, n)
    expect = ideal_read(g, v, direction)
    np.testing.assert_allclose(expect, (g.T @ v) if direction == "forward" else g @ v,
                               rtol=1e-15)
    c = build_crossbar_read(g, v, 0.0, 0.0, 0.0, "passive", direction)
    np.testing.assert_allclose(read_currents(run_native(c), n, n, direction), expect,
                               rtol=1e-12)
    if n == 8:
        np.testing.assert_allclose(read_currents(engine.run(c), n, n, direction), expect,
                                   rtol=1e-12)


def test_batched_native_read_equals_single_reads():
    n = 16
    g, _, _ = _case_circuit(n, "passive", "forward", 1.0, "linear")
    solver = crossbar_solver(g, 1.0, 100.0, 100.0)
    u = np.random.default_rng(5).uniform(0, 0.5, (40, n))
    batch = solver.solve(u)
    for k in (0, 17, 39):
        c = build_crossbar_read(g, u[k], 1.0, 100.0, 100.0)
        np.testing.assert_allclose(batch[k], read_currents(run_native(c), n, n), rtol=1e-12)


def test_read_netlist_names_and_determinism():
    g, v, c = _case_circuit(4, "1t1r", "forward", 1.0, "linear", seed=3)
    names = {e.name for e in c.elements}
    assert {"R_r3_c2", "M_r3_c2", "VROW0", "VCOL3", "RWR3_2", "RWC2_3"} <= names
    assert c.render() == _case_circuit(4, "1t1r", "forward", 1.0, "linear", seed=3)[2].render()
    assert crossbar_ports(4, 4, "transposed").outputs[0] == "vrow0#branch"


WRITE_KW = dict(model="vteam", x0=0.5, wire_resistance_ohm=1.0, driver_resistance_ohm=10.0,
                pulse_width_s=1e-6)


def test_write_v2_disturb_matches_ngspice(engine):
    # VTEAM defaults: v_off = 0.02 V; V = 0.05 V puts the half-selected cells at about
    # V/2 = 0.025 V, above threshold, so they are disturbed.
    rows, cols, sel = 4, 4, (1, 2)
    res = engine.run(build_crossbar_write(rows, cols, sel, 0.05, "v/2", **WRITE_KW))
    dx_ref = np.array([[res.v(f"x_r{r}_c{c}.x")[-1] for c in range(cols)]
                       for r in range(rows)]) - 0.5
    _, x = simulate_write_native(rows, cols, sel, 0.05, "v/2", **WRITE_KW)
    dx = x[-1] - 0.5
    half = np.zeros((rows, cols), bool)
    half[sel[0], :] = half[:, sel[1]] = True
    half[sel] = False
    assert np.all(dx_ref[half] > 1e-3)                 # disturb is visible
    np.testing.assert_allclose(dx[half], dx_ref[half], rtol=5e-3)
    np.testing.assert_allclose(dx[sel], dx_ref[sel], rtol=5e-3)
    assert np.all(np.abs(dx_ref[~half & (np.arange(cols) != sel[1])]) < 1e-12)
    # Wire and driver drops make the disturb depend on position (far cells see less).
    assert np.ptp(dx_ref[half]) > 0.05 * np.max(dx_ref[half])


def test_write_v3_below_threshold_has_no_disturb(engine):
    rows, cols, sel = 4, 4, (1, 2)
    res = engine.run(build_crossbar_write(rows, cols, sel, 0.05, "v/3", **WRITE_KW))
    dx_ref = np.array([[res.v(f"x_r{r}_c{c}.x")[-1] for c in range(cols)]
                       for r in range(rows)]) - 0.5
    _, x = simulate_write_native(rows, cols, sel, 0.05, "v/3", **WRITE_KW)
    dx = x[-1] - 0.5
    others = np.ones((rows, cols), bool)
    others[sel] = False
    assert np.all(dx[others] == 0.0)
    assert np.all(np.abs(dx_ref[others]) < 1e-12)
    assert dx_ref[sel] > 0.1
    assert dx[sel] == pytest.approx(dx_ref[sel], rel=5e-3)


def test_cli_netlist_runs_in_ngspice_and_native(tmp_path, capsys):
    from cosim.cli.main import main

    path = tmp_path / "xb.cir"
    args = ["netlist", "build", "crossbar", "--rows", "6", "--cols", "5", "--wire-resistance",
            "2", "--seed", "7", "--1t1r", "-o", str(path)]
    assert main(args) == 0
    text = path.read_text()
    assert main(args[:-1] + [str(tmp_path / "again.cir")]) == 0
    assert (tmp_path / "again.cir").read_text() == text
    plain = subprocess.run(["ngspice", "-b", str(path)], capture_output=True, text=True,
                           timeout=120)
    assert plain.returncode == 0 and "vcol4#branch" in plain.stdout
    capsys.readouterr()
    assert main(["netlist", "run", str(path), "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main(["netlist", "run", str(path), "--engine", "native", "--json"]) == 0
    nat = json.loads(capsys.readouterr().out)
    for c in range(5):
        key = f"vcol{c}#branch"
        assert nat["vectors"][key][0] == pytest.approx(ref["vectors"][key][0], rel=1e-6)
