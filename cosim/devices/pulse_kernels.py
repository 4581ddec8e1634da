"""Compiled pulse update of linear weight devices (numba): :func:`cosim.devices.
programming.apply_pulses` and :func:`~cosim.devices.programming.weight_update_pulses` of
a population with one conductance range, linear LTP and LTD curves (``a_norm = inf``) and
no cycle-to-cycle noise (the idealised 16-bit device), in one loop per array instead of
some twenty whole-array numpy passes.

Each loop evaluates the numpy formulas of :mod:`cosim.devices.programming` element by
element, the same floating-point operations in the same order (``np.minimum`` and
``np.maximum`` with numpy's NaN rules), so both give the same numbers bit for bit (tested
against the numpy path).  Imported on first use: ``import cosim`` does not load numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cosim.hw.jitcache import KERNEL_CACHE as _CACHE


@njit(cache=_CACHE)
def linear_pulses(g, n, g_min, g_max, p_ltp, p_ltd, out):
    """Conductances after ``n`` (int64, signed) pulses on linear devices holding ``g``
    (both 1-d, same size) into ``out``: clip ``g`` to ``[g_min, g_max]``, its pulse
    position ``(g - g_min) / (g_max - g_min) P_max`` on the LTP (``P_max = p_ltp``) and
    LTD (``p_ltd``) line, moved by ``n`` and held within ``[0, P_max]``, back to
    ``g_min + (g_max - g_min) P / P_max``; clipped to ``[g_min, g_max]``."""
    g_range = g_max - g_min
    for i in range(g.size):
        gc = np.minimum(np.maximum(g[i], g_min), g_max)
        k = n[i]
        x = gc - g_min
        x = x / g_range
        if k > 0:
            p = np.minimum(x * p_ltp + float(k), p_ltp)
            new = g_min + g_range * p / p_ltp
        elif k < 0:
            p = np.maximum(x * p_ltd + float(k), 0.0)
            new = g_min + g_range * p / p_ltd
        else:
            new = gc
        out[i] = np.minimum(np.maximum(new, g_min), g_max)


@njit(cache=_CACHE)
def push_pull_pulses(dw, w_max, p_ltp, n_pos, n_neg):
    """Signed pulse counts of the ``push_pull`` scheme (``weight_update_pulses``) for the
    weight changes ``dw`` (1-d, finite) into ``n_pos``, ``n_neg`` (int64): ``steps =
    rint(|dw| / w_max P_ltp)``, half of them (rounded up) potentiate the device on the
    side of the change's sign, the rest depress the other."""
    for i in range(dw.size):
        d = dw[i]
        steps = np.int64(np.rint(abs(d) / w_max * p_ltp))
        half = (steps + 1) // 2
        rest = steps - half
        if d > 0:
            n_pos[i] = half
            n_neg[i] = -rest
        elif d < 0:
            n_pos[i] = -rest
            n_neg[i] = half
        else:
            n_pos[i] = 0
            n_neg[i] = 0
