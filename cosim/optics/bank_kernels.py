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


@njit(cache=_CACHE, parallel=True)
def transfer_rows(cb, sb, delta, k, drop, through):  # pragma: no cover - compiled
    """Drop and through power transfer (rows, N) of rows of detunings ``delta`` (rows,
    N); ``cb``, ``sb``: cos and sin of the base phase (N, N); ``k``:
    :func:`ring_constants`."""
    e, f, big_a, p_t, p_a = k[0], k[1], k[2], k[3], k[4]
    rows, n = delta.shape
    for m in prange(rows):
        cd = np.cos(delta[m])
        sd = np.sin(delta[m])
        for j in range(n):
            thr = 1.0
            chain = 1.0
            acc = 0.0
            for q in range(n):
                c = cb[q, j] * cd[q] - sb[q, j] * sd[q]
                inv = 1.0 / (e - f * c)
                tt = (p_t - f * c) * inv
                acc += big_a * inv * chain
                chain *= tt * (p_a - f * c) * inv
                thr *= tt
            drop[m, j] = acc
            through[m, j] = thr


@njit(cache=_CACHE, parallel=True)
def jacobian_rows(cb, sb, delta, k, out):  # pragma: no cover - compiled
    """``out[m, j, q] = d (P_drop - P_through)[m, j] / d delta[m, q]`` (rows, N, N)."""
    e, f, big_a, p_t, p_a = k[0], k[1], k[2], k[3], k[4]
    rows, n = delta.shape
    for m in prange(rows):
        cd = np.cos(delta[m])
        sd = np.sin(delta[m])
        tt = np.empty(n)
        td = np.empty(n)
        s = np.empty(n)
        dtt = np.empty(n)
        dtd = np.empty(n)
        ds = np.empty(n)
        g = np.empty(n)
        suf = np.empty(n)
        for j in range(n):
            for q in range(n):
                c = cb[q, j] * cd[q] - sb[q, j] * sd[q]
                sn = sb[q, j] * cd[q] + cb[q, j] * sd[q]
                den = e - f * c
                inv = 1.0 / den
                tt[q] = (p_t - f * c) * inv
                td[q] = big_a * inv
                ta = (p_a - f * c) * inv
                s[q] = tt[q] * ta
                w = -sn * inv * inv
                dtt[q] = w * (f * p_t - f * e)
                dtd[q] = w * (f * big_a)
                dta = w * (f * p_a - f * e)
                ds[q] = dtt[q] * ta + tt[q] * dta
            g[n - 1] = 0.0
            for q in range(n - 2, -1, -1):
                g[q] = td[q + 1] + s[q + 1] * g[q + 1]
            suf[n - 1] = 1.0
            for q in range(n - 2, -1, -1):
                suf[q] = suf[q + 1] * tt[q + 1]
            pre_s = 1.0
            pre_t = 1.0
            for q in range(n):
                out[m, j, q] = pre_s * (dtd[q] + ds[q] * g[q]) - dtt[q] * pre_t * suf[q]
                pre_s *= s[q]
                pre_t *= tt[q]


__all__ = ["jacobian_rows", "ring_constants", "transfer_rows"]
