"""Compiled loops of the crossbar tile (numba): the row sweep that gives the transfer
matrix of a wired array (:func:`wired_sweep`, behind
:func:`cosim.hw.crossbar_tile.read_transfer`) and the TIA + ADC pass of a product
(:func:`readout_pass`).

The elimination is the one :func:`cosim.hw.crossbar_tile.read_transfer` describes
(block elimination over the rows, the row-wire nodes of each row eliminated first);
this module evaluates it with the structure of its blocks:

* each row's wire chain ``K_r`` is tridiagonal, so ``K_r^-1`` (needed in full, for
  ``A_r = N_r - D_r K_r^-1 D_r``) comes from one tridiagonal factorization and ``C``
  substitutions, O(C^2) per row instead of a dense solve;
* the Schur complements ``S_r`` of the block elimination are symmetric positive
  definite (a grounded resistive network): their inverses are taken by 2 x 2 blocks
  (:func:`_spd_inverse`), whose products go to BLAS, down to a Cholesky factorization
  in compiled loops for the small blocks;
* the right-hand side of the row inputs only has columns ``0..r`` at row ``r``, and
  only those are carried through the elimination (one BLAS product per row).

Every array of a batch is swept by one thread (numba's threads share out the arrays),
the same operations whatever the batch; no result depends on the number of threads or
on the other arrays of the batch.

The readout pass evaluates the conversions of :mod:`cosim.hw.conversion` compiled, in
the order of the tile-by-tile numpy arithmetic it replaced, so the two agree bit for
bit (tests/hw/test_crossbar_transfer.py); it draws the readout noise itself, each block
of rows from its own ziggurat stream, so the threads share out the blocks and no result
depends on their number.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cosim.hw import conversion
from cosim.hw.jitcache import KERNEL_CACHE as _CACHE
from cosim.hw.kernels import _adc_clipped, _adc_code
from cosim.hw.ziggurat import normal_next

_adc_volts = njit(cache=_CACHE, inline="always")(conversion.adc_volts)


@njit(cache=_CACHE, fastmath=True)
def _tridiagonal_inverse(diag, off, kinv, work):
    """``kinv`` = the inverse of the symmetric tridiagonal matrix K with diagonal
    ``diag`` (n) and constant off-diagonal ``off``, diagonally dominant (its LU
    factorization needs no pivoting).  All n right-hand sides of ``K X = I`` are
    substituted at once, row by row.  ``work`` (2, n) scratch: the pivots and the
    multipliers of the factorization."""
    n = diag.shape[0]
    piv = work[0]
    mul = work[1]
    piv[0] = diag[0]
    for i in range(1, n):
        mul[i] = off / piv[i - 1]
        piv[i] = diag[i] - mul[i] * off
    for i in range(n):                      # L Y = I (Y lower triangular)
        for j in range(n):
            kinv[i, j] = 0.0
        kinv[i, i] = 1.0
        if i > 0:
            m = mul[i]
            for j in range(i):
                kinv[i, j] -= m * kinv[i - 1, j]
    d = 1.0 / piv[n - 1]                    # U X = Y
    for j in range(n):
        kinv[n - 1, j] *= d
    for i in range(n - 2, -1, -1):
        d = 1.0 / piv[i]
        for j in range(n):
            kinv[i, j] = (kinv[i, j] - off * kinv[i + 1, j]) * d


@njit(cache=_CACHE, fastmath=True)
def _cholesky(s, lo):
    """Lower Cholesky factor ``lo`` of the SPD matrix ``s`` (row-oriented)."""
    n = s.shape[0]
    for i in range(n):
        for j in range(i + 1):
            acc = 0.0
            for k in range(j):
                acc += lo[i, k] * lo[j, k]
            acc = s[i, j] - acc
            if i == j:
                lo[i, i] = np.sqrt(acc)
            else:
                lo[i, j] = acc / lo[j, j]
        for j in range(i + 1, n):
            lo[i, j] = 0.0


@njit(cache=_CACHE, fastmath=True)
def _cholesky_solve(lo, b, cols):
    """``b[:, :cols] <- S^-1 b[:, :cols]`` with ``lo`` the Cholesky factor of ``S``."""
    n = lo.shape[0]
    for i in range(n):                      # L y = b
        for k in range(i):
            lik = lo[i, k]
            for c in range(cols):
                b[i, c] -= lik * b[k, c]
        d = 1.0 / lo[i, i]
        for c in range(cols):
            b[i, c] *= d
    for i in range(n - 1, -1, -1):          # L^T x = y
        for k in range(i + 1, n):
            lki = lo[k, i]
            for c in range(cols):
                b[i, c] -= lki * b[k, c]
        d = 1.0 / lo[i, i]
        for c in range(cols):
            b[i, c] *= d


@njit(cache=_CACHE, fastmath=True)
def _zt_z(z, n):
    """In place: ``z`` holds the lower-triangular Z; replace it by ``Z^T Z`` (full)."""
    tmp = np.empty(n)
    for i in range(n):                      # row i of Z^T Z = sum_k Z[k, i] Z[k, :]
        for c in range(n):
            tmp[c] = 0.0
        for k in range(i, n):
            zki = z[k, i]
            for c in range(k + 1):
                tmp[c] += zki * z[k, c]
        for c in range(i, n):               # upper part (row i, c >= i); the lower part
            z[i, c] = tmp[c]                # of later rows is still Z, read above
    for i in range(n):
        for c in range(i):
            z[i, c] = z[c, i]


@njit(cache=_CACHE, fastmath=True)
def _spd_inverse_simple(lo, out):
    """``out`` = S^-1 from the Cholesky factor ``lo`` of S (``Z = L^-1``, then
    ``S^-1 = Z^T Z``)."""
    n = lo.shape[0]
    for i in range(n):                      # Z = L^-1, lower, row by row
        for c in range(n):
            out[i, c] = 0.0
        out[i, i] = 1.0
        for k in range(i):
            lik = lo[i, k]
            for c in range(k + 1):
                out[i, c] -= lik * out[k, c]
        d = 1.0 / lo[i, i]
        for c in range(i + 1):
            out[i, c] *= d
    _zt_z(out, n)


#: Below this size an SPD inverse is done by Cholesky in compiled loops; above, by 2 x 2
#: blocks whose products go to BLAS (np.dot), about ten times faster per operation.
BLOCK_INVERSE_MIN = 24


@njit(cache=_CACHE, fastmath=True)
def _spd_inverse(s, out, lo):
    """``out`` = s^-1 of the SPD matrix ``s`` (n x n, C-contiguous); ``lo`` scratch of at
    least n x n.  With ``s = [[A, B], [B^T, D]]``: ``X = A^-1 B``, the Schur complement
    ``Sc = D - B^T X`` (SPD), and ``s^-1 = [[A^-1 + X Sc^-1 X^T, -X Sc^-1],
    [-Sc^-1 X^T, Sc^-1]]``, the two inverses again by this rule."""
    n = s.shape[0]
    if n <= BLOCK_INVERSE_MIN:
        l2 = lo[:n, :n]
        _cholesky(s, l2)
        _spd_inverse_simple(l2, out)
        return
    h = n // 2
    m = n - h
    b = np.ascontiguousarray(s[:h, h:])
    ai = np.empty((h, h))
    _spd_inverse(np.ascontiguousarray(s[:h, :h]), ai, lo)
    x = np.dot(ai, b)
    sc = np.ascontiguousarray(s[h:, h:]) - np.dot(np.ascontiguousarray(b.T), x)
    sci = np.empty((m, m))
    _spd_inverse(sc, sci, lo)
    y = np.dot(x, sci)
    out[:h, :h] = ai + np.dot(y, np.ascontiguousarray(x.T))
    out[:h, h:] = -y
    out[h:, :h] = -y.T
    out[h:, h:] = sci


@njit(cache=_CACHE, fastmath=True)
def _sweep(g, gw, g_in, g_out, out):
    """Transfer matrix (rows, cols) of one array ``g`` (rows, cols) into ``out``."""
    rows, cols = g.shape
    kdiag = np.empty(cols)
    work = np.empty((2, cols))
    kinv = np.empty((cols, cols))
    s = np.empty((cols, cols))
    lo = np.empty((cols, cols))
    sinv = np.empty((cols, cols))
    ft = np.zeros((rows, cols))             # right-hand sides, one row per row input
    for r in range(rows):
        for c in range(cols):               # the row's wire chain with its cells
            kdiag[c] = g[r, c] + 2.0 * gw
        kdiag[0] += g_in - gw
        kdiag[cols - 1] -= gw
        _tridiagonal_inverse(kdiag, -gw, kinv, work)
        # A_r = N_r - D K^-1 D, minus the rows above: gw^2 S_{r-1}^-1
        for i in range(cols):
            gi = g[r, i]
            for j in range(cols):
                s[i, j] = -gi * kinv[i, j] * g[r, j]
            n_i = gi + 2.0 * gw
            if r == 0:
                n_i -= gw
            if r == rows - 1:
                n_i += g_out - gw
            s[i, i] += n_i
        if r > 0:
            gw2 = gw * gw
            for i in range(cols):
                for j in range(cols):
                    s[i, j] -= gw2 * sinv[i, j]
            # the inputs of the rows above, through the column segments: gw S^-1 f
            # (f is kept transposed, one row per input: rows 0..r-1 are the lit ones)
            ft[:r] = np.dot(ft[:r], sinv) * gw
        for i in range(cols):               # this row's input: D K^-1 g_in e_0
            ft[r, i] = g_in * g[r, i] * kinv[i, 0]
        if r < rows - 1:
            _spd_inverse(s, sinv, lo)
    _cholesky(s, lo)                        # the last row's column nodes
    f = np.ascontiguousarray(ft.T)
    _cholesky_solve(lo, f, rows)
    for r in range(rows):
        for c in range(cols):
            out[r, c] = g_out * f[c, r]


@njit(cache=_CACHE, parallel=True)
def wired_sweep(g, gw, g_in, g_out, out):
    """Transfer matrices of a batch of arrays: ``g`` (batch, rows, cols) conductances
    (S), ``gw`` the conductance of one wire segment, ``g_in`` of a driver plus the first
    row segment, ``g_out`` of the last column segment plus a sense amplifier (S);
    ``out`` (batch, rows, cols): the column currents of each array are ``v @ out[t]``
    for row voltages ``v`` (V)."""
    for t in prange(g.shape[0]):
        _sweep(g[t], gw, g_in, g_out, out[t])


# ----------------------------------------------------------------------------- readout
@njit(cache=_CACHE, parallel=True)
def readout_pass(currents, streams, block, sigma, mi, me, z, low, step, top, high, swing,
                 unit, sample, out):
    """TIA and ADC of the column currents of a product's tiles, summed into ``out``.

    ``currents`` (lit, b, mi me): the net column currents (A) of each lit tile row
    (tile ``i`` of a tile row in columns ``i me .. (i + 1) me``).  With noise,
    ``streams`` (:func:`cosim.hw.ziggurat.normal_streams`, one per block of ``block``
    rows; no rows: no noise): rows ``k block .. (k + 1) block - 1`` draw from stream
    ``k``, row after row, in tile order (tile rows, then the tiles of a row, then their
    columns); each draw (a float32 standard normal) times ``sigma`` (A) is added to its
    current.  Per current ``i``: ``V = z i``, the ADC code of V
    (:func:`cosim.hw.conversion.adc_code`, ``low``, ``step``, ``top``), its voltage
    ``V_q``, and ``out[row, i me + c] += (V_q / z) / unit`` with the tiles added in tile
    order (the arithmetic of :meth:`cosim.hw.crossbar_tile.CrossbarTiles.matmul_padded`,
    operation for operation).  ``sample`` (r, c): receives the first lit tile's noisy
    currents of its first r rows and c columns.  Returns the counts ``(clipped_adc,
    saturated_tia, below_noise_floor)``: V outside ``[low, high)``, ``|V| > swing``,
    ``|i| < sigma``.  No result depends on the number of threads.
    """
    lit, b, _ = currents.shape
    noisy = streams.shape[0] > 0
    nblocks = (b + block - 1) // block
    sr, sc = sample.shape
    clipped = 0
    saturated = 0
    below = 0
    for k in prange(nblocks):
        sa = sb = s_c = sn = spare = np.uint64(0)
        if noisy:
            sa, sb, s_c, sn, spare = (streams[k, 0], streams[k, 1], streams[k, 2],
                                      streams[k, 3], streams[k, 4])
        for row in range(k * block, min(b, (k + 1) * block)):
            for jj in range(lit):
                for t in range(mi):
                    base = t * me
                    for c in range(me):
                        i = currents[jj, row, base + c]
                        if noisy:
                            sa, sb, s_c, sn, spare, x = normal_next(sa, sb, s_c, sn, spare)
                            i = i + sigma * np.float64(np.float32(x))
                        if jj == 0 and t == 0 and row < sr and c < sc:
                            sample[row, c] = i
                        volts = z * i
                        code = _adc_code(volts, low, step, top)
                        vq = _adc_volts(code, low, step)
                        out[row, base + c] += (vq / z) / unit
                        if _adc_clipped(volts, low, high):
                            clipped += 1
                        if abs(volts) > swing:
                            saturated += 1
                        if abs(i) < sigma:
                            below += 1
    return clipped, saturated, below
