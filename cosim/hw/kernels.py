"""Compiled inner loops of the photonic tile (numba): bank transfers, DAC,
and the pass from channel powers to ADC codes, the larger ones shared out over numba's
threads (``NUMBA_NUM_THREADS``, default all cores; no result depends on their number).

A training step of LeNet-5 at batch 64 makes about 3 million ADC conversions and draws
about 6 million standard normal numbers (laser RIN per lit input element, readout noise
per conversion).  Done as whole-array numpy passes, that is ~30 passes over every
conversion and ~15 ns per normal draw; here each is one compiled loop.  The physics is
the one written out in :mod:`cosim.hw.photonic`, its conversions the functions of
:mod:`cosim.hw.conversion`; these loops only evaluate them, in the same floating-point
operations in the same order as the step-by-step reference path
(``PhotonicTiles._matmul_reference``), so the two agree bit for bit (tested: outputs,
counters and samples).

Normal draws come from :mod:`cosim.hw.ziggurat` (SFC64 streams seeded from the caller's
``numpy.random.Generator``); the conversions (DAC levels, RIN, readout noise, ADC codes)
are the functions of :mod:`cosim.hw.conversion`, compiled here.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from cosim.hw import conversion
from cosim.hw.jitcache import KERNEL_CACHE as _CACHE
from cosim.hw.ziggurat import normal_fill, normal_fill_state

# the conversions of cosim.hw.conversion, compiled for one number at a time
_with_rin = njit(cache=_CACHE, inline="always")(conversion.with_rin)
_total_photocurrent = njit(cache=_CACHE, inline="always")(conversion.total_photocurrent_a)
_readout_sigma = njit(cache=_CACHE, inline="always")(conversion.readout_sigma_v)
_adc_code = njit(cache=_CACHE, inline="always")(conversion.adc_code)
_adc_clipped = njit(cache=_CACHE, inline="always")(conversion.adc_clipped)
_dac_magnitude = njit(cache=_CACHE, inline="always")(conversion.dac_magnitude)


class PassConstants(NamedTuple):
    """The constants of one pass of the photonic product (:func:`photonic_pass`), one
    record instead of a row of positional arguments.

    Optics: ``p_bank`` channel power at the bank (W), ``rin_sigma`` (RIN per unit power,
    averaging included).  Readout (:mod:`cosim.hw.conversion`): ``resp`` (A/W),
    ``dark2`` (2 I_dark, A), ``dark_total``, ``noise_slope``, ``noise0_sq``,
    ``noise_scale`` (readout noise), ``abs_gain`` (|Z|, ohm), ``rf`` (R_f, ohm),
    ``swing`` (V), ``twin`` (the measured DC curve ``table, x0, inv_h, last, f_end``
    as in :func:`curve_eval`, else ``ideal_gain`` (V/W) times the power difference).
    ADC: ``low``, ``high``, ``step`` (V), ``n_codes``.  Digital: ``code_scale`` and
    ``code_offset`` (the summed codes of a row to the output, sign of the pass
    included); ``first``: the product's first pass, which adds its outputs to 0 instead
    of to what ``out`` holds (so ``out`` need not be zeroed beforehand)."""

    p_bank: float
    rin_sigma: float
    resp: float
    dark2: float
    dark_total: float
    noise_slope: float
    noise0_sq: float
    noise_scale: float
    abs_gain: float
    rf: float
    swing: float
    twin: bool
    ideal_gain: float
    table: np.ndarray
    x0: float
    inv_h: float
    last: int
    f_end: float
    low: float
    high: float
    step: float
    n_codes: int
    code_scale: float
    code_offset: float
    first: bool = True

#: Numbers a job of a parallel kernel handles (inputs plus outputs) below which it runs on
#: the calling thread alone (:func:`sized`).
PARALLEL_MIN_NUMBERS = 1 << 16


def sized(kernel, numbers: int, *args):
    """``kernel(*args)``, on numba's threads for a job of at least
    :data:`PARALLEL_MIN_NUMBERS` numbers, else on the calling thread alone.

    Starting a parallel region costs the waking of the other threads (tens of
    microseconds on an idle core, a scheduler time slice on a busy one); a small job
    (the fully connected layers of LeNet-5 at batch 64: a few thousand to a few tens of
    thousands of numbers, microseconds of work) is done before they would start.  No
    kernel's result depends on the number of threads, so this changes only the speed."""
    threads = numba.get_num_threads()
    if threads == 1 or numbers >= PARALLEL_MIN_NUMBERS:
        return kernel(*args)
    numba.set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        numba.set_num_threads(threads)


def work_array(buffers: dict, key, shape: tuple, dtype=np.float64) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` kept in ``buffers`` under ``key`` and reused
    from call to call (a fresh large array costs a page fault per 4 kB); its contents
    are valid until the next call with the same key and shape."""
    buf = buffers.get(key)
    if buf is None or buf.shape != tuple(shape) or buf.dtype != dtype:
        buf = buffers[key] = np.empty(shape, dtype=dtype)
    return buf


# ----------------------------------------------------------------------------- products
@njit(cache=_CACHE)
def bank_input_powers(u, sign, p_bank, rin_state, rin_sigma, out, draws):
    """Channel powers at the bank (W) of one block of rows of one pass.

    ``u`` (rows, k) inputs in [-1, 1]; ``out`` (nj, rows_out, ne), ``rows_out >= rows``,
    tile column ``j`` of input column ``col = j ne + c`` (``nj ne >= k``).
    ``p = max(sign u[r, col], 0) p_bank`` (0 for the padding channels of the last tile
    column and for the rows beyond ``rows``); a lit channel (``p > 0``) carries the
    laser RIN, ``p (1 + rin_sigma n)`` clipped at 0 (:func:`cosim.hw.conversion.
    with_rin`), with ``n`` the next number of the RIN stream ``rin_state``
    (:func:`cosim.hw.ziggurat.normal_stream`, as float32; drawn for lit channels only,
    in row-major order of ``u``: on a dark channel the factor multiplies nothing).
    Without RIN (``rin_state.size == 0``): ``p``.  ``draws``: scratch (float32, at least
    ``rows k + 1``) for the block's RIN numbers, drawn in one go (which channels are lit
    is data: drawing them one by one inside the loop costs a mispredicted branch each).
    """
    nj, rows_out, ne = out.shape
    rows, k = u.shape
    noisy = rin_state.size > 0
    lit = 0
    if noisy:
        for r in range(rows):
            for col in range(k):
                p = max(sign * u[r, col], 0.0)
                p *= p_bank
                lit += p > 0.0
        normal_fill(rin_state, draws[:lit])
    draws[lit] = 0.0                    # read (and discarded) after the last lit channel
    i = 0
    for r in range(rows):
        for j in range(nj):
            for cc in range(ne):
                col = j * ne + cc
                if col >= k:
                    out[j, r, cc] = 0.0
                    continue
                p = max(sign * u[r, col], 0.0)
                p *= p_bank
                if noisy:           # branch-free: the factor is taken only when lit
                    on = p > 0.0
                    noisy_p = _with_rin(p, float(draws[i]), rin_sigma)
                    p = noisy_p if on else p
                    i += on
                out[j, r, cc] = p
    out[:, rows:, :] = 0.0


@njit(cache=_CACHE)
def signs_present(u):
    """``(any u > 0, any u < 0)``: which passes of the product carry light."""
    pos = False
    neg = False
    for v in u.reshape(-1):
        pos |= v > 0.0
        neg |= v < 0.0
        if pos and neg:
            break
    return pos, neg


@njit(cache=_CACHE)
def _curve_search(x, table, f_end):
    """``np.interp`` by bisection over the rows of ``table`` (see :func:`curve_eval`)."""
    n = table.shape[0]
    if x < table[0, 0]:
        return table[0, 2]
    if x >= table[n - 1, 1]:
        return f_end
    a, b = 0, n                     # table[a, 0] <= x < table[b, 0]
    while b - a > 1:
        mid = (a + b) // 2
        if table[mid, 0] <= x:
            a = mid
        else:
            b = mid
    v = x - table[a, 0]
    v *= table[a, 3]
    v += table[a, 2]
    return v


@njit(cache=_CACHE, inline="always")
def curve_eval(x, table, x0, inv_h, last, f_end):
    """``np.interp(x, xp, fp)`` of one value on a uniform grid, bit for bit.

    ``table`` (n - 1, 4): per segment ``xp_j, xp_{j+1}, fp_j, slope_j`` (one cache line
    per lookup); ``x0 = xp[0]``, ``inv_h = (n - 1) / (xp[-1] - xp[0])``, ``last = n - 2``,
    ``f_end = fp[-1]``.  The segment comes from ``(x - x0) inv_h``; numpy's formula
    ``slope_j (x - xp_j) + fp_j`` applies; when the guess is off by rounding, or ``x``
    is beyond the grid (``fp[0]`` below, ``fp[-1]`` at and above the end), bisection.
    """
    t = x - x0
    t *= inv_h
    if t < 0.0:
        t = 0.0
    elif t > last:
        t = last
    j = int(t)
    lo = table[j, 0]
    if lo <= x < table[j, 1]:
        v = x - lo
        v *= table[j, 3]
        v += table[j, 2]
        return v
    return _curve_search(x, table, f_end)


@njit(cache=_CACHE)
def curve_eval_array(x, table, x0, inv_h, last, f_end):
    """:func:`curve_eval` of every element of the 1-d array ``x``."""
    out = np.empty(x.size)
    for i in range(x.size):
        out[i] = curve_eval(x[i], table, x0, inv_h, last, f_end)
    return out


@njit(cache=_CACHE)
def convert_block(q, q0, rows, m, noise_state, out, r0, counts, sample_p, sample_v,  # noqa: C901 - compiled kernel, one loop
                  sample_codes, k, row_scale):
    """Readout and ADC of one block of rows, added into ``out[r0 + row, :m]``.

    ``q`` (nj, rows_q >= q0 + rows, 2 m): drop then through powers (W) of the real
    outputs per tile column, the block's ``rows`` rows from row ``q0``; ``noise_state``: the
    readout-noise stream (:func:`cosim.hw.ziggurat.normal_stream`, one number per
    conversion in (row, tile column, output) order, as float32) or empty for no noise; ``k`` the
    :class:`PassConstants`.  Per conversion, in the reference's order: ``I = R (P_d -
    P_t)``; the noise sigma at the total photocurrent ``R (P_d + P_t) + 2 I_dark``
    (:func:`cosim.hw.conversion.readout_sigma_v`); the TIA output ``V`` (measured DC
    curve, or ``ideal_gain (P_d - P_t)``; ``table ... f_end`` as in
    :func:`curve_eval`); the counters
    ``below_noise_floor`` (``|I| |Z| < sigma``: the signal at the TIA output below its
    noise), ``saturated_tia`` (``|I| R_f >
    swing``), then noise ``V += sigma n``, ``clipped_adc`` (``V`` outside ``[low,
    high)``); the code ``clip(floor((V - low) / step), 0, n_codes - 1)``.  The codes of
    the tile columns are summed and mapped to the output, ``sum code_scale +
    code_offset``, added into ``out`` (to 0 on the product's first pass,
    ``k.first``), which is then multiplied by ``row_scale[r0 +
    row]`` when ``row_scale`` is not empty (the product's digital rescaling, given on
    its last pass).  ``counts``: [samples, saturated_tia, clipped_adc,
    below_noise_floor] (added).  Signal samples of tile column 0 at the product's rows
    ``r0 + row < sr`` and outputs ``< sc``: ``sample_p`` (sr, sc, 2) the drop and
    through powers, ``sample_v`` the TIA output, ``sample_codes`` the ADC code.
    """
    nj = q.shape[0]
    resp, twin, table, x0, inv_h = k.resp, k.twin, k.table, k.x0, k.inv_h
    last, f_end, low, high, step = k.last, k.f_end, k.low, k.high, k.step
    top = float(k.n_codes - 1)
    noisy = noise_state.size > 0
    if noisy:
        a, b, c, n = noise_state[0], noise_state[1], noise_state[2], noise_state[3]
        sp = noise_state[4]
    else:
        a, b, c, n = np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0)
        sp = np.uint64(0)
    sr, sc = sample_v.shape
    v = np.empty(m)                 # TIA outputs of one row of one tile column
    noise = np.zeros(m, dtype=np.float32)   # their readout-noise numbers
    acc = np.empty(m)               # codes summed over the tile columns
    below = 0
    sat = 0
    clipped = 0
    for row in range(rows):
        acc[:] = 0.0
        for j in range(nj):
            qr = q[j, q0 + row]
            if noisy:
                a, b, c, n, sp = normal_fill_state(a, b, c, n, sp, noise)
            if twin:                # the measured DC curve: table lookups without branches
                miss = False
                for o in range(m):
                    x = qr[o] - qr[m + o]
                    x *= resp
                    t = x - x0
                    t *= inv_h
                    seg = int(min(max(t, 0.0), last))
                    lo = table[seg, 0]
                    miss |= (x < lo) | (x >= table[seg, 1])
                    vo = x - lo
                    vo *= table[seg, 3]
                    vo += table[seg, 2]
                    v[o] = vo
                if miss:            # off by rounding, or beyond the grid: as curve_eval
                    for o in range(m):
                        diff = qr[o] - qr[m + o]
                        v[o] = curve_eval(diff * resp, table, x0, inv_h, last, f_end)
            # the rest without branches, so that it vectorizes
            for o in range(m):
                pd = qr[o]
                pt = qr[m + o]
                diff = pd - pt
                total = _total_photocurrent(pd, pt, resp, k.dark2)
                sigma = _readout_sigma(total, k.dark_total, k.noise_slope, k.noise0_sq,
                                       k.noise_scale)
                vo = v[o] if twin else k.ideal_gain * diff
                a_net = abs(diff * resp)
                below += a_net * k.abs_gain < sigma
                sat += a_net * k.rf > k.swing
                vo += sigma * noise[o]
                clipped += _adc_clipped(vo, low, high)
                acc[o] += _adc_code(vo, low, step, top)
                v[o] = vo
            if j == 0 and r0 + row < sr:
                for o in range(sc):
                    sample_p[r0 + row, o, 0] = qr[o]
                    sample_p[r0 + row, o, 1] = qr[m + o]
                    sample_v[r0 + row, o] = v[o]
                    sample_codes[r0 + row, o] = _adc_code(v[o], low, step, top)
        scaled = row_scale.size > 0
        f = row_scale[r0 + row] if scaled else 1.0
        for o in range(m):
            s = acc[o]
            s *= k.code_scale
            s += k.code_offset
            s += 0.0 if k.first else out[r0 + row, o]
            if scaled:
                s *= f
            out[r0 + row, o] = s
    if noisy:
        noise_state[0], noise_state[1], noise_state[2], noise_state[3] = a, b, c, n
        noise_state[4] = sp
    counts[0] += rows * nj * m
    counts[1] += sat
    counts[2] += clipped
    counts[3] += below


@njit(cache=_CACHE)
def _row_products(p, both, q, rows):
    """``q[j, r] = p[j, r] @ both[j]`` for the first ``rows`` rows, each as the
    one-row loop of :func:`_tile_products` computes it (the channels ``c`` in order,
    one multiply and one add each), bit for bit; the loops run
    channel by channel over all the rows, so that each row of ``both[j]`` is read
    once for all of them (a group of one-row blocks: the tile columns of a wide
    product, whose ``both[j]`` does not stay in cache from one row to the next)."""
    nj, _, ne = p.shape
    w = both.shape[2]
    for j in range(nj):
        for r in range(rows):
            q[j, r, :] = 0.0
        # four channels at a time, added one after the other as the one-row loop does;
        # a dark channel's product (a zero: powers and transfers are >= 0) leaves the
        # sum unchanged, so it need not be skipped
        c4 = ne - ne % 4
        for c in range(0, c4, 4):
            t0, t1, t2, t3 = both[j, c], both[j, c + 1], both[j, c + 2], both[j, c + 3]
            for r in range(rows):
                p0, p1, p2, p3 = p[j, r, c], p[j, r, c + 1], p[j, r, c + 2], p[j, r, c + 3]
                acc = q[j, r]
                for o in range(w):
                    v = acc[o]
                    v += p0 * t0[o]
                    v += p1 * t1[o]
                    v += p2 * t2[o]
                    v += p3 * t3[o]
                    acc[o] = v
        for c in range(c4, ne):
            col = both[j, c]
            for r in range(rows):
                pv = p[j, r, c]
                acc = q[j, r]
                for o in range(w):
                    acc[o] += pv * col[o]


@njit(cache=_CACHE)
def _tile_products(p, both, q, rows):
    """``q[j, :rows] = p[j, :rows] @ both[j]`` for every tile column ``j``: BLAS, or
    for a block of one row a loop that skips dark channels (a single row gains nothing
    from BLAS and pays its call overhead per tile column; from two rows on BLAS is
    faster: 10 rows x 64 channels x 32 outputs measured 8x)."""
    nj, _, ne = p.shape
    if rows >= 2:
        for j in range(nj):
            np.dot(p[j], both[j], q[j])
        return
    w = both.shape[2]
    for j in range(nj):
        for r in range(rows):
            acc = q[j, r]
            acc[:] = 0.0
            for c in range(ne):
                pv = p[j, r, c]
                if pv != 0.0:
                    for o in range(w):
                        acc[o] += pv * both[j, c, o]


@njit(cache=_CACHE, parallel=True)
def bank_columns(drop, through, m, out):
    """The transfers of each tile column side by side, as the optical product takes
    them: ``out[j, c, o] = drop[o // me, j, o % me, c]`` and ``out[j, c, m + o] =
    through[...]`` for the ``m`` real outputs ``o`` (``drop``, ``through`` (mi, nj, me,
    ne); ``out`` (nj, ne, 2 m)), shared out over the threads by tile column."""
    mi, nj, me, ne = drop.shape
    for j in prange(nj):
        for o in range(m):
            ti = o // me
            r = o % me
            for c in range(ne):
                out[j, c, o] = drop[ti, j, r, c]
                out[j, c, m + o] = through[ti, j, r, c]


@njit(cache=_CACHE, parallel=True)
def photonic_pass(u, sign, bounds, both, rin_states, read_states, p_buf, q_buf, d_buf,
                  out, tallies, sample_p, sample_v, sample_codes, k, row_scale, group):
    """One pass of the photonic product over blocks of rows of ``u``, the blocks shared
    out over the threads (consecutive blocks to each thread).

    Block ``i`` (rows ``bounds[i]`` to ``bounds[i + 1]``) draws its RIN from
    ``rin_states[i]`` and its readout noise from ``read_states[i]``
    (:func:`normal_streams`; arrays of width 0: no noise) and adds its counters into
    ``tallies[i]``, so the result does not depend on the number of threads.  Per block
    (``block``: the largest block's rows): :func:`bank_input_powers` into the thread's
    ``p_buf[t]`` (nj, block, ne), its RIN numbers drawn into ``d_buf[t]`` (float32,
    ``block k + 1``); the optical product ``q[j] = p[j] @ both[j]`` into
    ``q_buf[t]`` (nj, block, 2 m) for each tile column ``j`` (``both`` (nj, ne, 2 m):
    drop then through transfers of the real outputs); :func:`convert_block` into
    ``out``.  ``k``: the pass's :class:`PassConstants`; ``row_scale``: as in
    :func:`convert_block`.

    ``group > 1`` (every block is one row; ``p_buf`` and ``q_buf`` then hold ``group``
    rows): up to ``group`` consecutive blocks of a thread have their channel powers
    side by side and their optical product in one :func:`_row_products` (the same
    numbers as one block at a time, which reads all of ``both`` once per row); each
    block keeps its own streams, counters and conversion.
    """
    nblocks = tallies.shape[0]
    threads = p_buf.shape[0]
    m = both.shape[2] // 2
    for t in prange(threads):
        p = p_buf[t]
        q = q_buf[t]
        d = d_buf[t]
        i = t * nblocks // threads
        end = (t + 1) * nblocks // threads
        while i < end:
            if group == 1:
                r0 = bounds[i]
                r1 = bounds[i + 1]
                bank_input_powers(u[r0:r1], sign, k.p_bank, rin_states[i], k.rin_sigma,
                                  p, d)
                _tile_products(p, both, q, r1 - r0)
                convert_block(q, 0, r1 - r0, m, read_states[i], out, r0, tallies[i],
                              sample_p, sample_v, sample_codes, k, row_scale)
                i += 1
                continue
            # one-row blocks: up to `group` of them share one pass over both[j]
            n = min(group, end - i)
            g0 = bounds[i]
            for b in range(n):
                r0 = bounds[i + b]
                bank_input_powers(u[r0:r0 + 1], sign, k.p_bank, rin_states[i + b],
                                  k.rin_sigma, p[:, b:b + 1], d)
            _row_products(p, both, q, n)
            for b in range(n):
                convert_block(q, b, 1, m, read_states[i + b], out, g0 + b,
                              tallies[i + b], sample_p, sample_v, sample_codes, k,
                              row_scale)
            i += n


# ----------------------------------------------------------------------------- rings
def ring_coefficients(bank) -> np.ndarray:
    """The constants of :func:`ring_transfers` for a weight bank's rings (complex[9]):
    the inverse map's ``E, F, A, P, g`` (:func:`cosim.optics.weight_to_detuning`), the
    round trip ``a``, and the couplers' products of :func:`cosim.optics.weight_bank.
    _ring_powers_cs`: ``C1_11 C2_00``, ``C2_00 C1_10``, ``C1_00``, ``C1_01``,
    ``C1_10``, ``C1_11`` and ``a |C2_10|^2``."""
    from cosim.optics import directional_coupler
    from cosim.optics.weight_bank import WAVELENGTH0_M

    r1, r2, a = bank.r1, bank.r2, bank.a
    c1 = directional_coupler(WAVELENGTH0_M, power_coupling=1.0 - r1 * r1)
    c2 = directional_coupler(WAVELENGTH0_M, power_coupling=1.0 - r2 * r2)
    return np.array([1 + (r1 * r2 * a) ** 2, 2 * r1 * r2 * a,
                     (1 - r1 * r1) * (1 - r2 * r2) * a, r2 * r2 * a * a + r1 * r1,
                     bank.weight_scale, a, c1[1, 1] * c2[0, 0], c2[0, 0] * c1[1, 0],
                     c1[0, 0], c1[0, 1], c1[1, 0], c1[1, 1], a * abs(c2[1, 0]) ** 2],
                    dtype=complex)


@njit(cache=_CACHE, inline="always")
def _ring_cos(w, k):
    """``cos delta`` of the inverse map for weight ``w`` in [-1, 1], clipped to [-1, 1]
    (``k``: :func:`ring_coefficients`; :func:`cosim.optics.weight_to_detuning`)."""
    raw = k[4].real * w
    c = (raw * k[0].real - k[2].real + k[3].real) / (k[1].real * (1.0 + raw))
    return min(max(c, -1.0), 1.0)


@njit(cache=_CACHE, inline="always")
def _ring(w, k):
    """(drop, through) power transfer of a ring holding weight ``w`` in [-1, 1] alone on
    its channel: the detuning of the inverse map, ``cos delta = c`` (clipped to
    [-1, 1]) on the branch [0, pi] (``sin delta = sqrt(1 - c^2)``), then the add-drop
    ring's loop closure at that round-trip phase (``k``: :func:`ring_coefficients`)."""
    c = _ring_cos(w, k)
    s = math.sqrt(max(1.0 - c * c, 0.0))
    g = complex(k[5].real * c, k[5].real * s)
    g = g / (1.0 - k[6] * g)
    u_in = k[7] * g
    s_t = k[8] + k[9] * u_in
    x = k[10] + k[11] * u_in
    through = s_t.real * s_t.real + s_t.imag * s_t.imag
    drop = k[12].real * (x.real * x.real + x.imag * x.imag)
    return drop, through


@njit(cache=_CACHE, parallel=True)
def ring_transfers(w, k, drop, through):
    """``drop[i], through[i]`` of the rings holding the weights ``w[i]`` (flat arrays;
    :func:`_ring`), shared out over the threads."""
    for i in prange(w.size):
        drop[i], through[i] = _ring(w[i], k)


@njit(cache=_CACHE, parallel=True)
def ring_columns(a_raw, scale, k, ne, out, cos_delta):
    """Bank transfers of a weight state in one pass, in the layout of the fused product:
    each ring holds ``a = clip(a_raw[o, col] / scale, -1, 1)`` (``a_raw`` (m, k), any
    layout) alone on its channel (:func:`_ring`); ``out`` (nj, ne, 2 m), ``out[j, c,
    o]`` / ``out[j, c, m + o]`` the drop / through transfer at ``col = j ne + c``
    (columns beyond ``k``: weight 0).  ``cos_delta`` (nj, ne, m): the cosine of each
    ring's detuning (:func:`_ring_cos`), 1 (no detuning) for the padding rings, so
    that ``sum arccos(cos_delta)`` is the real rings' total detuning.  Shared out over
    the threads by tile column; returns ``(how many |a_raw / scale| > 1, how many
    are NaN)``."""
    nj = out.shape[0]
    m, kk = a_raw.shape
    over = 0
    nan = 0
    for j in prange(nj):
        for c in range(ne):
            col = j * ne + c
            for o in range(m):
                a = 0.0
                cd = 1.0
                if col < kk:
                    a = a_raw[o, col] / scale
                    over += abs(a) > 1.0
                    nan += a != a
                    a = min(max(a, -1.0), 1.0)
                    cd = _ring_cos(a, k)
                cos_delta[j, c, o] = cd
                out[j, c, o], out[j, c, m + o] = _ring(a, k)
    return over, nan


@njit(cache=_CACHE, parallel=True)
def transposed_columns(both, m, ne_t, zero_drop, zero_through, out):
    """The transfers of the transposed copy of a weight state from the state's own
    (each ring's transfer is a function of its weight alone): ``both`` (nj, ne, 2 m)
    of the state ``a`` (m, k) in the fused product's layout; ``out`` (nj_t, ne_t, 2 k)
    that of ``a.T`` (k, m) with ``ne_t`` channels a tile column, the padding rings
    (inputs beyond ``m``) at the transfers of weight 0.  Shared out over the threads
    by tile column."""
    nj, ne, _ = both.shape
    nj_t = out.shape[0]
    k = out.shape[2] // 2
    for jt in prange(nj_t):
        for ct in range(ne_t):
            o = jt * ne_t + ct                 # the input of a.T = an output of a
            for ot in range(k):                # an output of a.T = an input of a
                if o < m:
                    j = ot // ne
                    c = ot - j * ne
                    out[jt, ct, ot] = both[j, c, o]
                    out[jt, ct, k + ot] = both[j, c, m + o]
                else:
                    out[jt, ct, ot] = zero_drop
                    out[jt, ct, k + ot] = zero_through


@njit(cache=_CACHE, parallel=True)
def level_columns(a_raw, scale, levels, table, ne, out, heat):
    """Bank transfers of the gradient's weight pattern in one pass, in the layout of the
    fused product: each entry ``a = a_raw[o, col] / scale`` of ``a_raw`` (m, k) takes
    the sign-magnitude DAC level ``sign(a) rint(min(|a|, 1) levels)``
    (:func:`cosim.hw.photonic.signed_levels`), whose transfers are looked up in the
    table of all levels (index ``level + levels``; ``table`` (2 levels + 1, 3): drop,
    through and a third per-level quantity side by side, one cache line a lookup):
    ``out`` (nj, ne, 2 m), ``out[j, c, o]`` / ``out[j, c, m + o]`` the drop / through
    transfer at ``col = j ne + c`` (columns beyond ``k``: level 0).  ``heat[j]``: the
    sum of ``table[:, 2]`` (e.g. the heater phase) over tile
    column ``j``'s rings (padding included), one entry per column so that the caller's
    total does not depend on the number of threads.  Read down the columns of
    ``a_raw`` (the gradient's pattern is the transpose of a C-ordered array), shared
    out over the threads by tile column; returns how many ``|a| > 1`` (saturated)."""
    nj = out.shape[0]
    m, k = a_raw.shape
    lv = int(levels)
    over = 0
    for j in prange(nj):
        h = 0.0
        for c in range(ne):
            col = j * ne + c
            for o in range(m):
                idx = lv
                if col < k:
                    a = a_raw[o, col] / scale
                    mag = abs(a)
                    over += mag > 1.0
                    mag = np.rint(min(mag, 1.0) * levels)
                    idx = lv + (int(mag) if a > 0.0 else -int(mag))
                out[j, c, o] = table[idx, 0]
                out[j, c, m + o] = table[idx, 1]
                h += table[idx, 2]
        heat[j] = h
    return over


# ----------------------------------------------------------------------------- DAC
@njit(cache=_CACHE, inline="always")
def _column_major(x):
    """True for a 2-d array laid out column by column (e.g. the transpose of a
    C-contiguous array): its loops then run down the columns."""
    return x.shape[0] > 1 and x.shape[1] > 1 and x.strides[0] < x.strides[1]


@njit(cache=_CACHE, parallel=True)
def row_abs_max(x, out, col_out):
    """``out[i] = max_j |x[i, j]|`` of a 2-d array, C-ordered or column-major (NaN for
    a row holding a NaN); returns ``min x`` (NaN if x holds a NaN), in one pass shared
    out over the threads (in chunks of 64 rows of the C-ordered array: ``x``, or
    ``x.T`` whose column maxima are the row maxima of ``x``).  ``col_out`` (cols,) of a
    C-ordered ``x`` receives the column maxima ``max_i |x[i, j]|`` in the same pass (an
    empty ``col_out``: not wanted)."""
    if _column_major(x):
        rows = x.shape[1]           # of x.T, C-ordered
        part = np.zeros(((rows + 63) // 64, x.shape[0]))
        lows = np.full(part.shape[0], np.inf)
        _row_abs_max_c(x.T, np.empty(rows), lows, part)
        _max_down(part, out)
    else:
        chunks = (x.shape[0] + 63) // 64
        lows = np.full(chunks, np.inf)
        part = np.zeros((chunks if col_out.size > 0 else 0, x.shape[1]))
        _row_abs_max_c(x, out, lows, part)
        if col_out.size > 0:
            _max_down(part, col_out)
    lo = np.inf
    for t in range(lows.size):
        if np.isnan(lows[t]):
            return np.nan
        lo = min(lo, lows[t])
    return lo


@njit(cache=_CACHE, inline="always")
def _max_nan(big, a):
    """``max(big, a)`` for ``a >= 0``, NaN once either is NaN."""
    return a if (a > big or a != a) else big


@njit(cache=_CACHE)
def _max_down(part, out):
    """``out[j] = max_t part[t, j]`` (NaN where any is NaN)."""
    out[:] = 0.0
    for t in range(part.shape[0]):
        for j in range(part.shape[1]):
            out[j] = _max_nan(out[j], part[t, j])


@njit(cache=_CACHE, inline="always")
def _row_stats(r):
    """``(max |r|, min r, any NaN)`` of a 1-d array, with four running maxima and minima
    (a maximum or minimum does not depend on the order it is taken in, so this equals
    the one-by-one loop; four independent chains run ~2.5x faster than one)."""
    b0 = b1 = b2 = b3 = 0.0
    l0 = l1 = l2 = l3 = np.inf
    nan = False
    n = r.size
    n4 = n - n % 4
    for j in range(0, n4, 4):
        v0, v1, v2, v3 = r[j], r[j + 1], r[j + 2], r[j + 3]
        a0, a1, a2, a3 = abs(v0), abs(v1), abs(v2), abs(v3)
        b0 = a0 if a0 > b0 else b0
        b1 = a1 if a1 > b1 else b1
        b2 = a2 if a2 > b2 else b2
        b3 = a3 if a3 > b3 else b3
        l0 = v0 if v0 < l0 else l0
        l1 = v1 if v1 < l1 else l1
        l2 = v2 if v2 < l2 else l2
        l3 = v3 if v3 < l3 else l3
        nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
    for j in range(n4, n):
        v0 = r[j]
        a0 = abs(v0)
        b0 = a0 if a0 > b0 else b0
        l0 = v0 if v0 < l0 else l0
        nan |= v0 != v0
    b0 = b1 if b1 > b0 else b0
    b2 = b3 if b3 > b2 else b2
    l0 = l1 if l1 < l0 else l0
    l2 = l3 if l3 < l2 else l2
    return (b2 if b2 > b0 else b0), (l2 if l2 < l0 else l0), nan


@njit(cache=_CACHE, inline="always")
def _row_stats_cols(r, col_max, with_cols):
    """:func:`_row_stats` of the row ``r``, and, ``with_cols``, ``col_max[j] =
    max(col_max[j], |r[j]|)`` (NaN kept) for the column maxima."""
    if with_cols:
        for j in range(r.size):
            col_max[j] = _max_nan(col_max[j], abs(r[j]))
    return _row_stats(r)


@njit(cache=_CACHE, parallel=True)
def _row_abs_max_c(x, out, lows, col_part):
    """:func:`row_abs_max` of a C-ordered ``x`` in chunks of 64 rows (``lows``: the
    minimum of each chunk; ``col_part`` (chunks, cols), if not empty: each chunk's
    column maxima, NaN where the column holds a NaN)."""
    rows, cols = x.shape
    with_cols = col_part.shape[0] > 0
    for t in prange(lows.size):
        lo = np.inf
        for i in range(t * 64, min(rows, t * 64 + 64)):
            r = x[i]
            big, low, nan = _row_stats_cols(r, col_part[t] if with_cols else r,
                                            with_cols)
            out[i] = np.nan if nan else big
            lo = np.nan if (nan or lo != lo) else min(lo, low)
        lows[t] = lo


@njit(cache=_CACHE, inline="always")
def _dac_level(v, s, inv, levels, signed):
    """The DAC level of ``v`` over the full scale ``s`` (0 for ``s == 0``).  ``inv``:
    ``1 / s`` when that is exact (:func:`_exact_inverse`), the multiplication then
    giving the quotient bit for bit; else 0, and ``|v|`` is divided by ``s``."""
    mag = abs(v)
    if inv != 0.0:
        mag *= inv
    else:
        mag /= s
    mag = _dac_magnitude(mag, levels)
    mag = math.copysign(mag, v) if signed else mag
    return 0.0 if s == 0.0 else mag


@njit(cache=_CACHE, inline="always")
def _exact_inverse(s):
    """``1 / s`` if ``s`` is a power of two whose inverse is a normal number (then
    ``x * (1 / s)`` rounds the same exact value as ``x / s``: equal bit for bit, and a
    multiplication is several times cheaper than a division), else 0.  The DAC full
    scale of ``dac_scale = "row"`` is a power of two."""
    if not (2.2250738585072014e-308 <= s <= 4.49423283715579e+307):
        return 0.0
    return 1.0 / s if math.frexp(s)[0] == 0.5 else 0.0


@njit(cache=_CACHE, parallel=True)
def row_dac(x, levels, out, scales, col_out):
    """Row peaks, full scales and DAC levels of a C-ordered 2-d ``x`` in one pass (the
    ``dac_scale = "row"`` case of :func:`row_abs_max` then :func:`dac_signed`): per row
    ``scales[i]`` = the smallest power of two above ``max_j |x[i, j]|`` (0 for an
    all-zero row) and ``out[i, j]`` its signed DAC levels (:func:`_dac_level`, the
    sign kept), each row read once while it is in cache; ``col_out`` (cols,), if not
    empty, receives the column maxima ``max_i |x[i, j]|``.  Shared out over the
    threads in chunks of 64 rows.  Returns ``(min x, any level > 0, any level < 0,
    exact)``: ``exact`` is False when the two-pass path would give other numbers (a
    row holding a NaN or an infinity, or a -0.0 level with no negative entry, which
    the two-pass path makes +0.0); the caller then takes that path."""
    rows, cols = x.shape
    chunks = (rows + 63) // 64
    with_cols = col_out.size > 0
    lows = np.full(chunks, np.inf)
    pos = np.zeros(chunks, dtype=np.int64)
    neg = np.zeros(chunks, dtype=np.int64)
    bad = np.zeros(chunks, dtype=np.int64)       # rows not finite
    negzero = np.zeros(chunks, dtype=np.int64)   # -0.0 levels
    part = np.zeros((chunks if with_cols else 0, cols))
    for t in prange(chunks):
        lo = np.inf
        p = 0
        n = 0
        z = 0
        nonfinite = 0
        for i in range(t * 64, min(rows, t * 64 + 64)):
            r = x[i]
            big, low, nan = _row_stats_cols(r, part[t] if with_cols else r, with_cols)
            lo = min(lo, low)
            if nan or not big < np.inf:
                nonfinite += 1
                scales[i] = 0.0
                continue
            sc = math.ldexp(1.0, math.frexp(big)[1]) if big > 0.0 else 0.0
            scales[i] = sc
            f = _exact_inverse(sc)
            o_row = out[i]
            for j in range(cols):
                o = _dac_level(r[j], sc, f, levels, True)
                o_row[j] = o
                p += o > 0.0
                n += o < 0.0
                z += (o == 0.0) & (math.copysign(1.0, o) < 0.0)
        lows[t] = lo
        pos[t] = p
        neg[t] = n
        negzero[t] = z
        bad[t] = nonfinite
    if with_cols:
        _max_down(part, col_out)
    lo = np.inf
    for t in range(chunks):
        lo = min(lo, lows[t])
    exact = bad.sum() == 0 and (negzero.sum() == 0 or lo < 0.0)
    return lo, pos.sum() > 0, neg.sum() > 0, exact


@njit(cache=_CACHE, parallel=True)
def dac_signed(x, s_rows, levels, signed, out):
    """``out[i, j] = copysign(rint(|x[i, j]| / s_rows[i] * levels) / levels, x[i, j])``
    (sign only when ``signed``; else the magnitude) for a 2-d ``x``, C-ordered or
    column-major, into the C-contiguous ``out``: the DAC levels of each row of ``x``
    over its full scale ``s_rows[i]``, one pass shared out over the threads.  A row
    with ``s_rows[i] == 0`` is all zero and gives zeros.  Returns ``(any out > 0, any
    out < 0)``: which optical passes the levels need."""
    rows, cols = x.shape
    column_major = _column_major(x)
    inv = np.empty(rows)
    for i in range(rows):
        inv[i] = _exact_inverse(s_rows[i])
    # a transposed view goes 64 columns at a time per thread (row by row of that
    # block, which stays in cache), else a row per thread
    parts = (cols + 63) // 64 if column_major else rows
    pos = np.zeros(parts, dtype=np.int64)
    neg = np.zeros(parts, dtype=np.int64)
    for t in prange(parts):
        p = 0
        n = 0
        if column_major:
            j0 = t * 64
            j1 = min(cols, j0 + 64)
            for i in range(rows):           # the block of x (64 of its columns)
                s = s_rows[i]               # stays in cache from row to row
                f = inv[i]
                for j in range(j0, j1):
                    o = _dac_level(x[i, j], s, f, levels, signed)
                    out[i, j] = o
                    p += o > 0.0
                    n += o < 0.0
        else:
            s = s_rows[t]
            f = inv[t]
            for j in range(cols):
                o = _dac_level(x[t, j], s, f, levels, signed)
                out[t, j] = o
                p += o > 0.0
                n += o < 0.0
        pos[t] = p
        neg[t] = n
    return pos.sum() > 0, neg.sum() > 0
