"""Tiling of the crossbar tile (CrossbarTiles.transfers, the one crossbar tiling): the
tiles cover the matrix once, and the per-tile reads with digital accumulation of the
partial sums equal ngspice run on every tile's netlist."""

from __future__ import annotations

import numpy as np

from cosim.hw import build_crossbar_read, read_currents
from cosim.hw.crossbar_tile import CrossbarTiles
from cosim.spice import make_job

OPTS = {"wire_resistance_ohm": 2.0, "driver_resistance_ohm": 100.0,
        "sense_resistance_ohm": 100.0}


def _tiles(engine: str, rows: int = 8, cols: int = 5, **opts) -> CrossbarTiles:
    opts = {**OPTS, **opts}
    return CrossbarTiles(tile_rows=rows, tile_cols=cols, dac_bits=16, adc_bits=16,
                         electrical_engine=engine, noise=False, g_min_s=5e-7, g_max_s=5e-4,
                         read_voltage_v=0.2, adc_full_scale_v=1.0,
                         input_noise_a_per_rthz=0.0, temperature_k=300.0,
                         noise_bandwidth_hz=1e6, swing_v=1.0, **opts)


def test_crossbar_tiles_cover_the_matrix_once():
    a = np.random.default_rng(0).uniform(-1, 1, (13, 20))      # 13 outputs, 20 inputs
    t = _tiles("ideal")
    tr = t.transfers(a)
    assert tr["shape"] == (3, 3, 5, 8)          # (mi, nj, me, ne): 3 x 3 tiles, padded
    cover = np.zeros((24, 15))                  # (inputs, outputs) padded
    span = t.g_max - t.g_min
    for (i, j), (gp, gn, _, _) in tr["tiles"].items():
        cover[j * 8:(j + 1) * 8, i * 5:(i + 1) * 5] += (gp - gn) / span
    np.testing.assert_allclose(cover[:20, :13], a.T, rtol=0, atol=1e-12)
    assert np.all(cover[20:] == 0) and np.all(cover[:, 13:] == 0)


def test_tiled_twin_reads_equal_per_tile_ngspice_and_sum_digitally(engine):
    rng = np.random.default_rng(2)
    a = rng.uniform(-1, 1, (12, 20))
    v = rng.uniform(0, 0.2, (1, 20))
    t = _tiles("twin", rows=8, cols=8)
    tr = t.transfers(a)
    mi, nj, me, ne = tr["shape"]
    vp = np.zeros((1, nj * ne))
    vp[:, :20] = v
    twin = np.zeros(mi * me)
    ref = np.zeros(mi * me)
    jobs, where = [], []
    for (i, j), (gp, gn, sp, sn) in tr["tiles"].items():
        seg = vp[:, j * ne:(j + 1) * ne]
        twin[i * me:(i + 1) * me] += (sp(seg) - sn(seg))[0]
        for sign, g in ((1, gp), (-1, gn)):
            jobs.append(make_job(build_crossbar_read(g, seg[0], **OPTS)))
            where.append((i, sign, g.shape))
    for (i, sign, shape), res in zip(where, engine.run_many(jobs), strict=True):
        ref[i * me:(i + 1) * me] += sign * read_currents(res, *shape)
    np.testing.assert_allclose(twin, ref, rtol=1e-6, atol=1e-12)
    ideal = (t.g_max - t.g_min) * (v @ a.T)          # no wires: G+ - G- = span a
    assert np.max(np.abs(twin[:12] - ideal[0])) > 1e-4 * np.max(np.abs(ideal))  # wires matter
