"""The electronic design's backward product read from the forward arrays the other way
round (``backward_weights = "transposed_read"``, cosim.hw.crossbar_tile): the backward
transfer of every tile against ngspice's ``.op`` of the array's read netlist driven from
its columns (``build_crossbar_read(..., direction="transposed")``), with equal driver and
sense resistances (the forward transfer transposed, by reciprocity) and unequal ones
(the turned arrays eliminated); the backward state's own netlists (spot check, spice
engine) against the same reads; the design vocabulary and the energy model's copies."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.hw import build_crossbar_read, read_currents
from cosim.hw.crossbar_tile import CrossbarTiles
from cosim.hw.protocols import COUNTERS
from cosim.spice import make_job
from tests.helpers import crossbar_tiles


def _tiles(**kw) -> CrossbarTiles:
    return crossbar_tiles(**{"backward_weights": "transposed_read", **kw})


def _backward(t: CrossbarTiles, w: np.ndarray):
    """(forward state, backward state) of the weights ``w`` (m, k) on ``t``."""
    fwd = t.load(w, 1.0, "forward")
    return fwd, t.load(w.T, 1.0, "backward", transpose_of=fwd)


@pytest.mark.parametrize("drv,sense", [(100.0, 100.0), (100.0, 30.0), (0.0, 100.0)])
def test_backward_transfer_equals_ngspice_driven_from_the_columns(engine, drv, sense):
    """7 outputs x 11 inputs on 8 x 5 tiles (2 x 2 tiles, partial ones included): for
    every tile and both arrays of its pair, the backward currents for column voltages
    ``v`` equal ngspice's row currents of that tile's forward array read transposed."""
    t = _tiles(driver_resistance_ohm=drv, sense_resistance_ohm=sense)
    w = np.random.default_rng(5).uniform(-1, 1, (7, 11))
    fwd, back = _backward(t, w)
    assert back.state["shape"] == (2, 2, 8, 5)
    mi, nj, me, ne = fwd.state["shape"]
    rng = np.random.default_rng(6)
    jobs, want = [], []
    for (i, j), (gp, gn, _, _) in fwd.state["tiles"].items():
        v = rng.uniform(-0.2, 0.2, me)                       # one voltage per column
        for s, g in enumerate((gp, gn)):
            jobs.append(make_job(build_crossbar_read(
                g, v, wire_resistance_ohm=2.0, driver_resistance_ohm=drv,
                sense_resistance_ohm=sense, direction="transposed")))
            # the backward readers of tile row i hold tile (j, i)'s transfer at j
            got = v @ back.state["readers"][s][i][:, j * ne:(j + 1) * ne]
            want.append(got)
            # and its solver, in the turned netlist's order
            turned_g, solve = back.state["tiles"][(j, i)][s], back.state["tiles"][(j, i)][2 + s]
            np.testing.assert_allclose(solve(v[None, ::-1])[0, ::-1], got, rtol=1e-12,
                                       atol=1e-12 * np.max(np.abs(got)))
            assert np.array_equal(turned_g, g[::-1, ::-1].T)
    results = engine.run_many(jobs)
    for res, got, (gp, _, _, _) in zip(results, want,
                                       [x for x in fwd.state["tiles"].values()
                                        for _ in range(2)], strict=True):
        ref = read_currents(res, *gp.shape, direction="transposed")
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.max(np.abs(ref)))
    # the wires matter here: the backward transfer is not the ideal array's
    gp = fwd.state["tiles"][(0, 0)][0]
    v = np.full(me, 0.2)
    assert np.max(np.abs(v @ back.state["readers"][0][0][:, :ne] - v @ gp.T)) > \
        1e-4 * np.max(np.abs(v @ gp.T))


def test_equal_ends_reuse_the_forward_transfer_and_unequal_ones_do_not():
    """Equal driver and sense resistances: the backward state computes no array (the
    forward transfers transposed, bit for bit); unequal: it eliminates its 2 x 4
    turned arrays."""
    w = np.random.default_rng(7).uniform(-1, 1, (7, 11))
    t = _tiles()
    fwd, back = _backward(t, w)
    assert (t.arrays_computed, t.arrays_reused) == (8, 0)
    m = fwd.state["readers"][0][1][:, 5:]         # tile (1, 1): ne=8 rows, me=5 cols
    assert np.array_equal(back.state["readers"][0][1][:, 8:], m.T)
    t2 = _tiles(sense_resistance_ohm=30.0)
    _backward(t2, w)
    assert t2.arrays_computed == 16


def test_backward_without_a_forward_state_reads_the_forward_arrays():
    """A backward load offered no forward state (e.g. after a resume) builds the
    forward arrays of ``a.T`` and reads them the other way: the same readers."""
    w = np.random.default_rng(8).uniform(-1, 1, (7, 11))
    _, back = _backward(_tiles(), w)
    alone = _tiles().load(w.T, 1.0, "backward")
    for a, b in zip(back.state["readers"], alone.state["readers"], strict=True):
        assert np.array_equal(a, b)


def test_backward_spot_check_and_spice_engine_agree_with_the_twin(engine):
    """The backward state's own netlists (the turned arrays, inputs and outputs
    reversed): the spot check's native solver equals ngspice, and a product on the
    spice engine equals the twin's within half an ADC step of the product's output."""
    w = np.random.default_rng(9).uniform(-1, 1, (7, 11))
    u = np.random.default_rng(10).uniform(-1, 1, (3, 7))
    twin = _tiles()
    _, back = _backward(twin, w)
    circuits = twin.circuits(back, u, {}, spot=True)
    np.testing.assert_allclose(circuits.spot.twin, circuits.spot.spice, rtol=1e-6,
                               atol=1e-6 * np.max(np.abs(circuits.spot.spice)))
    rec = circuits.records[0]
    v = rec.stimulus["row_voltage_v"]
    np.testing.assert_allclose(rec.outputs["column_current_a"],
                               v @ read_transfer_of(twin, rec.stimulus["conductance_s"]),
                               rtol=1e-12, atol=1e-12 * np.max(np.abs(v)) * 5e-4)
    spice = _tiles(electrical_engine="spice", spice_engine=engine)
    _, back_spice = _backward(spice, w)
    y_twin = twin.matmul(u, back, rng=None, counts=dict.fromkeys(COUNTERS, 0))
    y_spice = spice.matmul(u, back_spice, rng=None, counts=dict.fromkeys(COUNTERS, 0))
    lsb = 2.0 / 2 ** 16 * 8          # one ADC step in product units, times the tiles
    assert y_twin.shape == (3, 11)
    assert np.max(np.abs(y_twin - y_spice)) <= lsb
    # each output in its place: with ideal wires and periphery the backward product is
    # u @ w up to the ADC steps of the two tile columns summed
    plain = _tiles(wire_resistance_ohm=0.0, driver_resistance_ohm=0.0,
                   sense_resistance_ohm=0.0)
    _, back_plain = _backward(plain, w)
    y_plain = plain.matmul(u, back_plain, rng=None, counts=dict.fromkeys(COUNTERS, 0))
    assert np.max(np.abs(y_plain - u @ w)) <= 2 * lsb


def read_transfer_of(t: CrossbarTiles, g: np.ndarray) -> np.ndarray:
    from cosim.hw.crossbar_tile import read_transfer

    return read_transfer(g, **t._options())


def test_design_vocabulary_and_energy_copies():
    """Tiles that cannot be read transposed refuse ``transposed_read`` naming the fix;
    the energy model prices one weight copy for it and two for ``transposed_copy``
    (twice the write energy of an update)."""
    from cosim.design import load_design
    from cosim.energy import evaluate
    from cosim.errors import ConfigError

    with pytest.raises(ConfigError, match="backward_weights=transposed_copy"):
        load_design("bplight", ["backward_weights=transposed_read"])
    with pytest.raises(ConfigError, match="choose one of"):
        _tiles(backward_weights="mirrored")
    read_design = load_design("electronic")
    assert read_design["backward_weights"] == "transposed_read"
    read = evaluate("lenet5", design=read_design)
    copy = evaluate("lenet5", design=load_design("electronic",
                                                 ["backward_weights=transposed_copy"]))
    assert read["design.component.copies"].value == 1
    assert copy["design.component.copies"].value == 2
    key = "design.layer.fc1.update.write_energy"
    assert copy[key].value == pytest.approx(2 * read[key].value, rel=1e-12)
