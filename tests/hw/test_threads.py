"""Results do not depend on how the compiled kernels are shared out over threads: small
jobs on the calling thread alone (cosim.hw.kernels.sized), large ones on all of numba's
threads, one thread or two, all give the same numbers bit for bit, and equal the
step-by-step reference path of the photonic product."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.design import load_design
from cosim.hw import kernels
from cosim.hw.backend import HardwareConfig, build_hardware
from cosim.hw.conversion import signed_levels
from cosim.nn import Linear, Sequential

COUNTERS = ("samples", "saturated_tia", "clipped_adc", "below_noise_floor")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


def _tiles(n_in: int, n_out: int):
    model = Sequential([Linear("fc", n_in, n_out)], input_shape=(n_in,))
    model.initialize(np.random.default_rng(0))
    design = load_design("bplight", ["tile_rows=64", "tile_cols=16",
                                     "converters.dac_bits=16", "converters.adc_bits=16"])
    backend, _ = build_hardware(HardwareConfig(noise=True), model,
                                np.random.default_rng(1), design=design)
    return backend.tiles


def _product(tiles, path, u, tr, m, threads, min_numbers, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_NUMBERS", min_numbers)
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        counts = dict.fromkeys(COUNTERS, 0)
        samples = {}
        y = getattr(tiles, path)(u, tr, rng=np.random.default_rng(3), counts=counts,
                                 samples=samples, outputs=m)
    finally:
        numba.set_num_threads(before)
    assert numba.get_num_threads() == before
    return y, counts, samples


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_fused_product_is_the_same_on_one_thread_two_threads_and_the_reference(
        monkeypatch):
    """300 rows x 150 inputs -> 20 outputs (3 tile columns, about 40k numbers a pass),
    noise on: parallel (threshold 0) on 2 threads, parallel on 1 thread, on the calling
    thread alone (threshold above the job), and the reference path all agree."""
    tiles = _tiles(150, 20)
    rng = np.random.default_rng(11)
    u = signed_levels(np.clip(rng.standard_normal((300, 150)) / 2, -1, 1), 16)
    a = signed_levels(np.clip(rng.standard_normal((20, 150)) / 2, -1, 1), 16)
    tr = tiles.transfers(a)
    runs = [_product(tiles, "_matmul_fast", u, tr, 20, t, n, monkeypatch)
            for t, n in ((2, 0), (1, 0), (2, 1 << 40))]
    runs.append(_product(tiles, "_matmul_reference", u, tr, 20, 2, 0, monkeypatch))
    y0, c0, s0 = runs[0]
    assert c0["samples"] == 300 * 3 * 20 * 2
    for y, c, s in runs[1:]:
        assert np.array_equal(y, y0) and c == c0
        assert set(s) == set(s0) and all(np.array_equal(s[k], s0[k]) for k in s0)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("layout", ["C", "transposed"])
def test_dac_and_row_peaks_are_the_same_on_any_thread_count(layout, monkeypatch):
    """The DAC pass and the row peaks of a (700, 300) array (C-ordered or a transposed
    view) on 2 threads, 1 thread and the calling thread alone: equal bit for bit, and
    equal to the numpy formula."""
    from cosim.hw.backend import _dac_signed

    x = np.random.default_rng(5).standard_normal((700, 300) if layout == "C" else (300, 700))
    x = x if layout == "C" else x.T
    results = []
    for threads, min_numbers in ((2, 0), (1, 0), (2, 1 << 40)):
        monkeypatch.setattr(kernels, "PARALLEL_MIN_NUMBERS", min_numbers)
        numba.set_num_threads(threads)
        try:
            peaks = np.empty(x.shape[0])
            low = kernels.sized(kernels.row_abs_max, x.size, x, peaks, np.zeros(0))
            levels, lit = _dac_signed(x, peaks, 12)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        results.append((peaks, low, levels, lit))
    for peaks, low, levels, lit in results:
        assert np.array_equal(peaks, np.abs(x).max(axis=1)) and low == x.min()
        want = np.sign(x) * np.rint(np.abs(x) / peaks[:, None] * 4095) / 4095
        assert np.array_equal(levels, want) and lit == (True, True)


@pytest.mark.parametrize("b,n_in,n_out", [(12, 150, 20), (48, 1100, 1900)])
def test_grouped_one_row_blocks_equal_one_block_at_a_time(b, n_in, n_out, monkeypatch):
    """Products cut into one-row blocks (fewer than 16 rows, or rows wider than a
    block) share a pass over the transfers in groups of rows; outputs, counters and
    samples equal the block-by-block computation bit for bit, on 1 and 2 threads."""
    from cosim.hw import photonic

    tiles = _tiles(n_in, n_out)
    rng = np.random.default_rng(12)
    u = signed_levels(np.clip(rng.standard_normal((b, n_in)) / 2, -1, 1), 16)
    a = signed_levels(np.clip(rng.standard_normal((n_out, n_in)) / 2, -1, 1), 16)
    tr = tiles.transfers(a)
    if n_in == 1100:                            # rows wider than a block: 1-row blocks
        assert photonic.row_blocks(b, -(-n_in // 64) * 2 * n_out).size == b + 1
    runs = []
    for group_rows in (1, photonic._GROUP_ROWS):
        monkeypatch.setattr(photonic, "_GROUP_ROWS", group_rows)
        runs += [_product(tiles, "_matmul_fast", u, tr, n_out, t, 0, monkeypatch)
                 for t in (1, 2)]
    y0, c0, s0 = runs[0]
    assert c0["samples"] == b * -(-n_in // 64) * n_out * 2
    for y, c, s in runs[1:]:
        assert np.array_equal(y, y0) and c == c0
        assert all(np.array_equal(s[k], s0[k]) for k in s0)
