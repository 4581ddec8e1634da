"""The wired crossbar's transfer matrix (cosim.hw.crossbar_tile.read_transfer, swept by
cosim.hw.crossbar_kernels) and what the crossbar tile builds on it: agreement with the
native MNA solver (itself checked against ngspice) and with ngspice directly, for tall,
square and wide arrays; results independent of threads and of the batch; the reuse of a
tile array's transfer while its conductances stay the same and never after they change;
the compiled readout against the same arithmetic written out in numpy."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from cosim.hw import build_crossbar_read, conversion, crossbar_solver, read_currents
from cosim.hw.crossbar_tile import READOUT_BLOCK_ROWS, CrossbarTiles, read_transfer
from cosim.hw.protocols import COUNTERS
from cosim.hw.ziggurat import normal_fill, normal_streams
from cosim.spice import make_job
from tests.helpers import attach, crossbar_tiles, hardware


def _opts(wire, drv, sense):
    return {"wire_resistance_ohm": wire, "driver_resistance_ohm": drv,
            "sense_resistance_ohm": sense}


@pytest.mark.parametrize("shape,wire,drv,sense", [
    ((12, 7), 1.48, 100.0, 100.0), ((7, 12), 1.48, 100.0, 100.0),   # tall, wide (turned)
    ((7, 12), 50.0, 100.0, 0.0), ((7, 12), 2.0, 0.0, 100.0),          # unequal ends
    ((1, 9), 1.0, 10.0, 10.0), ((9, 1), 1.0, 10.0, 10.0),            # one line
    ((64, 64), 1.48, 100.0, 100.0), ((16, 64), 1.48, 100.0, 30.0)])
def test_transfer_equals_the_native_solver(shape, wire, drv, sense):
    """1e-12 of the largest current (the tolerance of the block elimination before)."""
    rng = np.random.default_rng(sum(shape))
    g = rng.uniform(5e-7, 5e-4, (2, *shape))
    v = rng.uniform(-0.2, 0.2, (9, shape[0]))
    m_all = read_transfer(g, **_opts(wire, drv, sense))
    for t in range(2):
        ref = crossbar_solver(g[t], wire, drv, sense).solve(v)
        assert np.max(np.abs(v @ m_all[t] - ref)) <= 1e-12 * np.max(np.abs(ref))
    # the wires matter at these sizes: far from the ideal array
    assert np.max(np.abs(v @ m_all[0] - v @ g[0])) > 1e-6 * np.max(np.abs(v @ g[0]))


def test_wide_transfer_equals_ngspice(engine):
    """A wide array (swept along its columns) with different driver and sense
    resistances, against ngspice's .op of the read netlist, one run per input vector."""
    rng = np.random.default_rng(7)
    g = rng.uniform(5e-7, 5e-4, (6, 20))
    opts = _opts(2.0, 100.0, 30.0)
    m = read_transfer(g, **opts)
    v = rng.uniform(0.0, 0.2, (3, 6))
    results = engine.run_many([make_job(build_crossbar_read(g, row, **opts)) for row in v])
    ref = np.array([read_currents(r, 6, 20) for r in results])
    np.testing.assert_allclose(v @ m, ref, rtol=1e-6, atol=0)


def test_transfer_does_not_depend_on_threads_or_batch():
    rng = np.random.default_rng(3)
    g = rng.uniform(5e-7, 5e-4, (5, 24, 20))
    opts = _opts(1.48, 100.0, 100.0)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = read_transfer(g, **opts)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(read_transfer(g, **opts), one)
    assert np.array_equal(read_transfer(g[3], **opts), one[3])     # alone, not in a batch


def _tiles(**kw) -> CrossbarTiles:
    return crossbar_tiles(**kw)


def test_unchanged_tile_arrays_are_reused_and_changed_ones_recomputed():
    """13 outputs x 20 inputs on 8 x 5 tiles: 3 x 3 tiles, 18 arrays.  Loading the same
    weights again computes nothing; changing one weight recomputes exactly the array it
    changed (one of its tile's pair), and every transfer equals a fresh tile's."""
    a = np.random.default_rng(0).uniform(-1, 1, (13, 20))
    t = _tiles()
    first = np.stack(t.transfers(a)["readers"])
    assert (t.arrays_computed, t.arrays_reused) == (18, 0)
    again = np.stack(t.transfers(a)["readers"])
    assert (t.arrays_computed, t.arrays_reused) == (18, 18)
    assert np.array_equal(again, first)
    b = a.copy()
    b[7, 11] = 0.5 if a[7, 11] > 0 else -0.5        # same sign: one array of the pair
    changed = np.stack(t.transfers(b)["readers"])
    assert (t.arrays_computed, t.arrays_reused) == (19, 35)
    fresh = np.stack(_tiles().transfers(b)["readers"])
    assert np.array_equal(changed, fresh)
    # output 7 is in tile column 7 // 5 = 1, input 11 in tile row 11 // 8 = 1; the
    # readers hold the tiles of a tile row side by side (2, nj, ne, mi me)
    diff = np.argwhere(changed != first)
    assert {(s, j) for s, j, _, _ in diff} == {(0 if b[7, 11] > 0 else 1, 1)}
    assert {c // 5 for *_, c in diff} == {1}


def test_the_transfer_cache_stays_within_its_memory():
    """With room for 4 arrays of 8 x 5 only the last 4 computed stay: loading the same
    18 arrays again takes those 4 and recomputes the other 14, bit for bit."""
    a = np.random.default_rng(2).uniform(-1, 1, (13, 20))
    t = _tiles()
    t.transfer_cache_bytes = 4 * 8 * 5 * 8
    first = np.stack(t.transfers(a)["readers"])
    assert len(t.transfer_cache) == 4
    again = np.stack(t.transfers(a)["readers"])
    assert (t.arrays_computed, t.arrays_reused) == (18 + 14, 4)
    assert len(t.transfer_cache) == 4
    assert np.array_equal(again, first)


def test_a_product_after_programming_uses_the_new_weights():
    """Programming the store's devices (a weight update) must reach the next product:
    its result equals that of a fresh backend (empty caches) given the programmed
    weights, and differs from the product before."""
    m = attach(_mlp(), hardware("electronic", noise=False, tile_rows=8, tile_cols=4,
                                dac_scale="call"))
    be, store = m.backend, m.store
    x = np.random.default_rng(4).standard_normal((6, 10))
    w0 = np.array(store.weight("fc1"))
    y0 = be.forward("fc1", w0, x)
    store.apply_update("fc1", np.full(w0.shape, 0.05 * store.w_max("fc1")))
    w1 = np.array(store.weight("fc1"))
    assert not np.array_equal(w1, w0)
    y1 = be.forward("fc1", w1, x)
    fresh = attach(_mlp(), hardware("electronic", noise=False, tile_rows=8, tile_cols=4,
                                    dac_scale="call"))
    assert fresh.store.w_max("fc1") == store.w_max("fc1")
    y_ref = fresh.backend.forward("fc1", w1, x)
    assert np.array_equal(y1, y_ref)
    assert not np.array_equal(y1, y0)


def _mlp():
    from cosim.nn import Linear, Sequential

    m = Sequential([Linear("fc1", 10, 6)], input_shape=(10,))
    m.initialize(np.random.default_rng(0))
    return m


def _readout_noise(rng, b: int, per_row: int) -> np.ndarray:
    """The readout noise of a product of ``b`` rows with ``per_row`` lit conversions
    each (b, per_row), as the crossbar tile draws it: one ziggurat stream per block of
    READOUT_BLOCK_ROWS rows, row after row, each row's draws in tile order."""
    block = READOUT_BLOCK_ROWS
    streams = normal_streams(rng, -(-b // block))
    noise = np.empty((b, per_row), dtype=np.float32)
    for k, state in enumerate(streams):
        normal_fill(state, noise[k * block:(k + 1) * block].reshape(-1))
    return noise.astype(np.float64)


def _readout_reference(t: CrossbarTiles, u, transfers, rng, counts, samples):
    """The readout of cosim.hw.crossbar_tile as it was written tile by tile in numpy,
    its noise drawn by :func:`_readout_noise`."""
    mi, nj, me, ne = transfers["shape"]
    b, k = u.shape
    v = np.zeros((b, nj * ne))
    v[:, :k] = u * t.v_read
    out = np.zeros((b, mi * me))
    low, high, step, n_codes = conversion.adc_range(t.adc_bits, t.adc_fs_v)
    lit = [(i, j) for (i, j) in transfers["tiles"] if v[:, j * ne:(j + 1) * ne].any()]
    noise = _readout_noise(rng, b, len(lit) * me) if t.noise else None
    for n, (i, j) in enumerate(lit):
        _, _, sp, sn = transfers["tiles"][(i, j)]
        vt = v[:, j * ne:(j + 1) * ne]
        i_net = sp(vt) - sn(vt)
        if t.noise:
            i_net = i_net + t.sigma_i_a * noise[:, n * me:(n + 1) * me]
        volts = t.z_ohm * i_net
        codes = conversion.adc_code(volts, low, step, float(n_codes - 1))
        vq = conversion.adc_volts(codes, low, step)
        counts["clipped_adc"] += int(np.count_nonzero(conversion.adc_clipped(volts, low,
                                                                             high)))
        counts["samples"] += volts.size
        counts["saturated_tia"] += int(np.count_nonzero(np.abs(volts) > t.swing_v))
        counts["below_noise_floor"] += int(np.count_nonzero(np.abs(i_net) < t.sigma_i_a))
        out[:, i * me:(i + 1) * me] += (vq / t.z_ohm) / (t.v_read * (t.g_max - t.g_min))
        if "tia_voltage_v" not in samples:
            r, c = min(b, 8), min(me, 16)
            samples["row_voltage_v"] = vt[:r, :c].copy()
            samples["column_current_a"] = i_net[:r, :c].copy()
            samples["tia_voltage_v"] = volts[:r, :c].copy()
            samples["adc_codes"] = codes[:r, :c].astype(np.int64)
    return out


@pytest.mark.parametrize("noise", [False, True])
def test_compiled_readout_equals_the_numpy_arithmetic(noise):
    """Bit for bit: outputs, counters and sampled signals, with noise drawn in the same
    order.  The TIA swing is made small so that outputs saturate, the noise large so
    that noisy outputs also clip at the ADC edges, and a dark tile row is skipped; 70
    rows take three noise streams, the last one partly."""
    t = _tiles(noise=noise, input_noise_a_per_rthz=5e-7, swing_v=0.05)
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (13, 20))
    u = rng.uniform(-1, 1, (70, 20))
    u[:, 8:16] = 0.0                                  # tile row 1 dark
    tr = t.transfers(a)
    got_counts, want_counts = dict.fromkeys(COUNTERS, 0), dict.fromkeys(COUNTERS, 0)
    got_samples, want_samples = {}, {}
    got = t.matmul_padded(u, tr, rng=np.random.default_rng(9), counts=got_counts,
                          samples=got_samples)
    want = _readout_reference(t, u, tr, np.random.default_rng(9), want_counts,
                              want_samples)
    assert np.array_equal(got, want)
    assert got_counts == want_counts
    assert got_counts["saturated_tia"] > 0 and got_counts["below_noise_floor"] > 0
    assert (got_counts["clipped_adc"] > 0) == noise
    assert got_samples.keys() == want_samples.keys()
    for key in want_samples:
        assert np.array_equal(got_samples[key], want_samples[key]), key


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one thread only")
def test_readout_does_not_depend_on_threads():
    """The noise streams belong to blocks of rows, not to threads: one thread and two
    give the same outputs and counters bit for bit (3,000 rows: a job large enough for
    numba's threads, kernels.PARALLEL_MIN_NUMBERS)."""
    from cosim.hw import kernels

    t = _tiles(noise=True, input_noise_a_per_rthz=5e-7)
    rng = np.random.default_rng(4)
    tr = t.transfers(rng.uniform(-1, 1, (13, 20)))
    u = rng.uniform(-1, 1, (3000, 20))
    assert 2 * u.shape[0] * 3 * 15 >= kernels.PARALLEL_MIN_NUMBERS
    results = []
    threads = numba.get_num_threads()
    try:
        for n in (1, 2):
            numba.set_num_threads(n)
            counts = dict.fromkeys(COUNTERS, 0)
            results.append((t.matmul_padded(u, tr, rng=np.random.default_rng(5),
                                            counts=counts), counts))
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(results[0][0], results[1][0]) and results[0][1] == results[1][1]


def test_readout_noise_has_the_closed_form_rms():
    """Noisy minus quiet outputs of the same product, in current: zero mean, standard
    deviation ``sigma_I`` (conversion.tia_current_noise_a) within 3 % over 20,000
    conversions, neighbouring columns and rows uncorrelated."""
    quiet = _tiles(noise=False, input_noise_a_per_rthz=2e-9)
    noisy = _tiles(noise=True, input_noise_a_per_rthz=2e-9)
    rng = np.random.default_rng(6)
    a = rng.uniform(-0.5, 0.5, (5, 8))
    u = rng.uniform(-0.5, 0.5, (4000, 8))
    unit = noisy.v_read * (noisy.g_max - noisy.g_min)
    lsb = conversion.adc_range(16, 1.0)[2] / abs(noisy.z_ohm)
    assert noisy.sigma_i_a > 20 * lsb                   # the noise spans many ADC steps
    d = (noisy.matmul_padded(u, noisy.transfers(a), rng=np.random.default_rng(7),
                             counts=dict.fromkeys(COUNTERS, 0))
         - quiet.matmul_padded(u, quiet.transfers(a), rng=None,
                               counts=dict.fromkeys(COUNTERS, 0))) * unit
    assert abs(d.mean()) < 4 * noisy.sigma_i_a / np.sqrt(d.size)
    assert d.std() == pytest.approx(noisy.sigma_i_a, rel=0.03)
    assert abs(np.corrcoef(d[:, 0], d[:, 1])[0, 1]) < 0.05
    assert abs(np.corrcoef(d[:-1, 2], d[1:, 2])[0, 1]) < 0.05
