"""The compiled loops of cosim.hw.kernels and cosim.hw.ziggurat against independent
references: numpy's own SFC64 generator, the normal distribution's CDF and tail masses
(scipy), numpy's DAC formula.  (The fused product as a whole is checked against the
step-by-step reference path in test_hw_backend.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cosim.hw import kernels, ziggurat
from cosim.hw.backend import _dac_signed
from cosim.hw.photonic import signed_levels


def test_sfc64_stream_is_numpys_sfc64():
    state = np.array([0x0123456789ABCDEF, 42, 2 ** 63 + 5, 1], dtype=np.uint64)
    ref = np.random.SFC64(0)
    st = ref.state
    st["state"]["state"] = state.copy()
    st["has_uint32"], st["uinteger"] = 0, 0
    ref.state = st
    assert np.array_equal(ziggurat.sfc64_raw(state, 5000), ref.random_raw(5000))
    # the seeding (three words, then 12 outputs discarded) is numpy's too
    seed = np.array([7, 8, 9], dtype=np.uint64)
    ours = np.array(ziggurat._sfc64_seed(seed), dtype=np.uint64)
    st["state"]["state"] = np.array([7, 8, 9, 1], dtype=np.uint64)
    ref.state = st
    ref.random_raw(12)
    assert np.array_equal(ours, ref.state["state"]["state"])


def test_ziggurat_normals_have_the_normal_distribution():
    z = ziggurat.standard_normal(np.random.default_rng(2024), 10_000_000).astype(float)
    n = z.size
    assert z.dtype == float and np.all(np.isfinite(z))
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    assert stats.kstest(z[:1_000_000], "norm").pvalue > 1e-3
    # the mass beyond the ziggurat's base (its tail algorithm) and in the layers' wedges
    for c in (0.5, 1.0, 2.0, 3.0, ziggurat.ZIGGURAT_R, 4.0, 4.5):
        p = 2 * stats.norm.sf(c)
        got = np.count_nonzero(np.abs(z) > c)
        assert abs(got - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1, (c, got, n * p)
    assert np.count_nonzero(z > 0) == pytest.approx(n / 2, abs=5 * np.sqrt(n / 4))


def test_normal_stream_is_reproducible_and_chunk_independent():
    a = ziggurat.standard_normal(np.random.default_rng(5), (300, 7))
    b = ziggurat.standard_normal(np.random.default_rng(5), (300, 7))
    assert a.dtype == np.float32 and np.array_equal(a, b)
    # drawn in pieces from one stream (as the fused product does, block by block)
    state = ziggurat.normal_stream(np.random.default_rng(5))
    parts = [np.empty(n, dtype=np.float32) for n in (1, 999, 1100)]
    for part in parts:
        ziggurat.normal_fill(state, part)
    assert np.array_equal(np.concatenate(parts), a.reshape(-1))
    # the generator advances: the next call gives other numbers
    rng = np.random.default_rng(5)
    ziggurat.standard_normal(rng, 4)
    assert not np.array_equal(ziggurat.standard_normal(rng, (300, 7)), a)


@pytest.mark.parametrize("bits", [1, 4, 16])
@pytest.mark.parametrize("layout", ["C", "transposed"])
def test_dac_kernel_equals_the_numpy_formula(bits, layout):
    """Row peaks and DAC levels of C-ordered inputs and of transposed views (the
    gradient's X.T, read in place), over several 64-row / 64-column chunks."""
    rng = np.random.default_rng(bits)
    u = rng.standard_normal((150, 133))
    if layout == "transposed":
        u = np.ascontiguousarray(u.T).T
        assert not u.flags.c_contiguous
    u[0, :3] = [0.0, -0.0, np.abs(u).max()]
    u[5] = 0.0                                          # a dark row: scale 0, zeros
    peaks = np.empty(u.shape[0])
    assert kernels.row_abs_max(u, peaks, np.zeros(0)) == u.min()
    assert np.array_equal(peaks, np.max(np.abs(u), axis=1))
    if layout != "transposed":              # the column maxima, in the same pass
        cols = np.full(u.shape[1], np.nan)
        assert kernels.row_abs_max(u, peaks, cols) == u.min()
        assert np.array_equal(cols, np.max(np.abs(u), axis=0))
    s_x = peaks.max()
    assert np.array_equal(_dac_signed(u, s_x, bits)[0], signed_levels(u / s_x, bits))
    rows = np.where(peaks > 0, peaks, 0.0)
    expect = signed_levels(u / np.where(rows > 0, rows, 1.0)[:, None], bits)
    assert np.array_equal(_dac_signed(u, rows, bits)[0], expect)
    # power-of-two full scales (dac_scale "row"): multiplied by the exact inverse, the
    # same levels as the division, also for scales near the ends of the float range
    v = u.copy()
    v[1] *= 2.0 ** -1034                # a subnormal scale (its inverse overflows)
    v[2] *= 2.0 ** 1020                 # a scale near the largest power of two
    v[4] *= 2.0 ** -1010                # a normal scale with subnormal levels
    big = np.max(np.abs(v), axis=1)
    pow2 = np.where(big > 0, np.ldexp(1.0, np.frexp(big)[1]), 0.0)
    assert pow2[2] >= 2.0 ** 1022 and pow2[1] < 2.0 ** -1022
    expect = signed_levels(v / np.where(pow2 > 0, pow2, 1.0)[:, None], bits)
    assert np.array_equal(_dac_signed(v, pow2, bits)[0], expect)
    pos = np.abs(u)
    assert np.array_equal(_dac_signed(pos, s_x, bits, signed=False)[0],
                          signed_levels(pos / s_x, bits))
    # which passes carry light: after quantization (a tiny value rounds to 0)
    assert _dac_signed(u, s_x, bits)[1] == (True, True)
    assert _dac_signed(pos, s_x, bits, signed=False)[1] == (True, False)
    tiny = np.where(u < 0, u * 1e-9, u)
    assert _dac_signed(tiny, s_x, bits)[1] == (True, False)
    assert _dac_signed(np.zeros_like(u), np.zeros(u.shape[0]), bits)[1] == (False, False)
    u[3, 4] = np.nan
    u[140, 70] = np.nan
    assert np.isnan(kernels.row_abs_max(u, peaks, np.zeros(0)))
    assert np.isnan(peaks[[3, 140]]).all() and not np.isnan(np.delete(peaks, [3, 140])).any()


def test_normal_streams_are_successive_streams_of_the_generator():
    """normal_streams(rng, n) seeds the n streams normal_stream would on n successive
    calls (the blocks of a product), and leaves rng where those calls would."""
    a, b = np.random.default_rng(12), np.random.default_rng(12)
    many = ziggurat.normal_streams(a, 5)
    one_by_one = np.stack([ziggurat.normal_stream(b) for _ in range(5)])
    assert many.dtype == np.uint64 and np.array_equal(many, one_by_one)
    assert a.bit_generator.random_raw() == b.bit_generator.random_raw()
    assert len({tuple(s) for s in many}) == 5                   # distinct streams
    assert ziggurat.normal_streams(a, 0).shape == (0, 5)


def _two_passes(u, bits):
    """Row peaks (row_abs_max), power-of-two scales, then DAC levels (dac_signed): the
    path that row_dac does in one pass."""
    peaks = np.empty(u.shape[0])
    cols = np.empty(u.shape[1])
    u_min = kernels.row_abs_max(u, peaks, cols)
    scales = np.where(peaks > 0, np.ldexp(1.0, np.frexp(peaks)[1]), 0.0)
    levels, lit = _dac_signed(u, scales, bits, signed=u_min < 0)
    return levels, scales, lit, cols, u_min


@pytest.mark.parametrize("case", ["signed", "unsigned", "zero rows", "minus zero",
                                  "minus zero signed", "nan", "inf"])
def test_row_dac_is_the_two_passes_bit_for_bit(case):
    """Peaks, scales and levels in one pass (kernels.row_dac) give the numbers of
    row_abs_max + power-of-two scales + dac_signed, bit for bit, or say they cannot
    (a NaN or infinite input; a -0.0 with no negative entry, which the two passes turn
    into +0.0)."""
    rng = np.random.default_rng(4)
    u = rng.standard_normal((150, 133))                 # 133: not a multiple of 4
    if case != "signed" and case != "minus zero signed":
        u = np.abs(u)
    if case == "zero rows":
        u[[0, 7, 149]] = 0.0
    if case.startswith("minus zero"):
        u[3, 5] = -0.0
    if case == "nan":
        u[10, 20] = np.nan
    if case == "inf":
        u[10, 20] = np.inf
    levels, scales, lit, cols, u_min = _two_passes(u, 16)
    out = np.full(u.shape, 7.0)
    got_scales = np.full(u.shape[0], 7.0)
    got_cols = np.full(u.shape[1], 7.0)
    got_min, pos, neg, exact = kernels.row_dac(u, float(2 ** 16 - 1), out, got_scales,
                                               got_cols)
    if case in ("nan", "inf", "minus zero"):
        assert not exact
        return
    assert exact
    assert np.array_equal(out.view(np.int64), levels.view(np.int64))   # -0.0 included
    assert np.array_equal(got_scales, scales) and np.array_equal(got_cols, cols)
    assert got_min == u_min and (pos, neg) == lit
