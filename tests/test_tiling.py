"""Tiling: digital accumulation of per-tile partial sums equals the untiled product."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.errors import ConfigError
from cosim.hw import TILE_ENGINES, TiledCrossbar, build_crossbar_read, read_currents, tile_slices
from cosim.spice import make_job


def _dyadic(rng, shape, exponent):
    # Integers below 2^12 times 2^exponent: products and their sums are exact in binary
    # floating point, so any summation order gives the same bits.
    return rng.integers(1, 4096, shape) * 2.0 ** exponent


def test_tile_slices_cover_the_matrix_once():
    sl = tile_slices(20, 13, 8, 5)
    cover = np.zeros((20, 13), int)
    for row in sl:
        for rs, cs in row:
            cover[rs, cs] += 1
    assert np.all(cover == 1)
    assert [r[0][0] for r in sl] == [slice(0, 8), slice(8, 16), slice(16, 20)]
    with pytest.raises(ConfigError):
        tile_slices(4, 4, 0, 2)


@pytest.mark.parametrize("direction", ["forward", "transposed"])
def test_ideal_tiling_is_exact(direction):
    rng = np.random.default_rng(0)
    g = _dyadic(rng, (37, 23), -24)  # up to 2.4e-4 S
    v = _dyadic(rng, (9, 37 if direction == "forward" else 23), -13)  # up to 0.5 V
    tiled = TiledCrossbar(g, 8, 6, "ideal").read(v, direction)
    np.testing.assert_array_equal(tiled, v @ (g if direction == "forward" else g.T))


@pytest.mark.parametrize("engine_name", sorted(TILE_ENGINES))
def test_every_tile_engine_with_ideal_wires_equals_untiled(engine_name):
    rng = np.random.default_rng(1)
    g = rng.uniform(5e-7, 5e-4, (20, 12))
    v = rng.uniform(0, 0.5, (5, 20))
    out = TiledCrossbar(g, 8, 8, engine_name).read(v)
    np.testing.assert_allclose(out, v @ g, rtol=1e-12)


def test_tiled_native_matches_per_tile_ngspice(engine):
    rng = np.random.default_rng(2)
    g = rng.uniform(5e-7, 5e-4, (20, 12))
    v = rng.uniform(0, 0.5, 20)
    opts = {"wire_resistance_ohm": 2.0, "driver_resistance_ohm": 100.0,
            "sense_resistance_ohm": 100.0}
    tc = TiledCrossbar(g, 8, 8, "native", opts)
    out = tc.read(v)
    jobs, where = [], []
    for i, row in enumerate(tc.slices):
        for j, (rs, cs) in enumerate(row):
            jobs.append(make_job(build_crossbar_read(tc.tile(i, j), v[rs], **opts)))
            where.append((rs, cs))
    ref = np.zeros(12)
    for (rs, cs), res in zip(where, engine.run_many(jobs)):
        ref[cs] += read_currents(res, rs.stop - rs.start, cs.stop - cs.start)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert np.max(np.abs(out / (v @ g) - 1)) > 1e-4  # wires matter: not the ideal product
