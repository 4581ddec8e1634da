"""Compiled loops of the weight bank with crosstalk (numba): the N x N ring-wavelength
response of many bank rows and its derivative, without the (rows, N, N) temporaries of
whole-array numpy.

The physics is that of :mod:`cosim.optics.weight_bank` (module docstring there): for
row ``m`` and wavelength ``j`` the phase of ring ``k`` is ``phi = base[k, j] +
delta[m, k]`` (cos and sin by the addition theorem), and each ring's power
transmissions are the closed forms of Bogaerts et al. 2012 (Eq. 8-9), ratios of
functions linear in ``cos phi``:

    Tt = (P_t - F cos phi) / (E - F cos phi)      (through, bus 1)
    Td = A / (E - F cos phi)                      (drop)
    Ta = (P_a - F cos phi) / (E - F cos phi)      (along bus 2, add -> drop)

with ``E = 1 + (r1 r2 a)^2``, ``F = 2 r1 r2 a``, ``A = (1 - r1^2)(1 - r2^2) a``,
``P_t = r2^2 a^2 + r1^2``, ``P_a = r1^2 a^2 + r2^2``; then ``P_through[j] = prod_k
Tt[k, j]`` and ``P_drop[j] = sum_k Td[k, j] prod_{l<k} Tt[l, j] Ta[l, j]``.  The
derivative follows :func:`cosim.optics.weight_bank.weight_jacobian` (prefix and suffix
products, no division).  Rows are independent: they are shared out over numba's
threads.  tests/optics/test_optics_weight_bank.py checks these against the explicit
ring-by-ring propagation and finite differences.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cosim.hw.jitcache import KERNEL_CACHE as _CACHE


def ring_constants(r1: float, r2: float, a: float) -> np.ndarray:
    """``(E, F, A, P_t, P_a)`` of the closed forms (module docstring)."""
    return np.array([1.0 + (r1 * r2 * a) ** 2, 2.0 * r1 * r2 * a,
                     (1.0 - r1 * r1) * (1.0 - r2 * r2) * a, r2 * r2 * a * a + r1 * r1,
                     r1 * r1 * a * a + r2 * r2])


#: Rows of a bank a thread of :func:`transfer_rows` and :func:`jacobian_rows` takes at a
#: time (its scratch arrays are allocated once per chunk).
_CHUNK_ROWS = 32


@njit(cache=_CACHE, parallel=True)
def transfer_rows(cb, sb, delta, k, drop, through):  # pragma: no cover - compiled
    """Drop and through power transfer (rows, N) of rows of detunings ``delta`` (rows,
    N); ``cb``, ``sb``: cos and sin of the base phase (N, N); ``k``:
    :func:`ring_constants`.  The rings are taken in order (ring ``q`` outer), the
    wavelengths ``j`` side by side (inner, contiguous in ``cb[q]``: the loop
    vectorizes); each wavelength's sums and products run over the rings in order."""
    e, f, big_a, p_t, p_a = k[0], k[1], k[2], k[3], k[4]
    rows, n = delta.shape
    for t in prange((rows + _CHUNK_ROWS - 1) // _CHUNK_ROWS):
        thr = np.empty(n)
        chain = np.empty(n)
        acc = np.empty(n)
        for m in range(t * _CHUNK_ROWS, min(rows, (t + 1) * _CHUNK_ROWS)):
            thr[:] = 1.0
            chain[:] = 1.0
            acc[:] = 0.0
            for q in range(n):
                cq = np.cos(delta[m, q])
                sq = np.sin(delta[m, q])
                for j in range(n):
                    c = cb[q, j] * cq - sb[q, j] * sq
                    inv = 1.0 / (e - f * c)
                    tt = (p_t - f * c) * inv
                    acc[j] += big_a * inv * chain[j]
                    chain[j] *= tt * (p_a - f * c) * inv
                    thr[j] *= tt
            for j in range(n):
                drop[m, j] = acc[j]
                through[m, j] = thr[j]


@njit(cache=_CACHE, parallel=True)
def jacobian_rows(cb, sb, delta, k, scale, out):  # pragma: no cover - compiled
    """``out[m, j, q] = d (P_drop - P_through)[m, j] / d delta[m, q] / scale`` (rows,
    N, N).

    Per ring ``q`` (outer) and wavelength ``j`` (inner, vectorized): the ring's
    transmissions and their derivatives; then the suffix sums ``G`` and products of the
    through port, and the prefix products, each over the rings in order for every
    wavelength side by side (cosim.optics.weight_bank.detuning_jacobian)."""
    e, f, big_a, p_t, p_a = k[0], k[1], k[2], k[3], k[4]
    rows, n = delta.shape
    for t in prange((rows + _CHUNK_ROWS - 1) // _CHUNK_ROWS):
        tt = np.empty((n, n))               # [q, j]
        td = np.empty((n, n))
        s = np.empty((n, n))
        dtt = np.empty((n, n))
        dtd = np.empty((n, n))
        ds = np.empty((n, n))
        g = np.empty((n, n))
        suf = np.empty((n, n))
        pre_s = np.empty(n)
        pre_t = np.empty(n)
        o = np.empty((n, n))                # out[m] transposed: [q, j]
        for m in range(t * _CHUNK_ROWS, min(rows, (t + 1) * _CHUNK_ROWS)):
            for q in range(n):
                cq = np.cos(delta[m, q])
                sq = np.sin(delta[m, q])
                for j in range(n):
                    c = cb[q, j] * cq - sb[q, j] * sq
                    sn = sb[q, j] * cq + cb[q, j] * sq
                    den = e - f * c
                    inv = 1.0 / den
                    ttq = (p_t - f * c) * inv
                    ta = (p_a - f * c) * inv
                    tt[q, j] = ttq
                    td[q, j] = big_a * inv
                    s[q, j] = ttq * ta
                    w = -sn * inv * inv
                    dttq = w * (f * p_t - f * e)
                    dtt[q, j] = dttq
                    dtd[q, j] = w * (f * big_a)
                    dta = w * (f * p_a - f * e)
                    ds[q, j] = dttq * ta + ttq * dta
            g[n - 1, :] = 0.0
            suf[n - 1, :] = 1.0
            for q in range(n - 2, -1, -1):
                for j in range(n):
                    g[q, j] = td[q + 1, j] + s[q + 1, j] * g[q + 1, j]
                    suf[q, j] = suf[q + 1, j] * tt[q + 1, j]
            pre_s[:] = 1.0
            pre_t[:] = 1.0
            for q in range(n):
                for j in range(n):
                    o[q, j] = (pre_s[j] * (dtd[q, j] + ds[q, j] * g[q, j]) -
                               dtt[q, j] * pre_t[j] * suf[q, j]) / scale
                    pre_s[j] *= s[q, j]
                    pre_t[j] *= tt[q, j]
            out[m] = o.T


__all__ = ["jacobian_rows", "ring_constants", "transfer_rows"]
