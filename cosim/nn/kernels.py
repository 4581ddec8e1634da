"""Compiled loops of the layers (numba): im2col, its adjoint col2im, and max pooling.

numpy builds an im2col matrix by copying a 6-d strided view whose innermost axis is
the kernel width (3 for VGG), so its copy loop runs three elements at a time; col2im
went through a transposed copy of the whole matrix and ``k_h k_w`` passes over the
image.  Here each is one loop over the output, shared out over numba's threads by
image row (no result depends on their number).  They compute exactly what the numpy
formulas of :mod:`cosim.nn.layers` define: im2col and pooling only copy numbers, and
col2im adds the patch entries of each pixel in the same order, ``(i, j)`` of the
kernel, starting from 0.0 -- bit for bit the same results (tested against the numpy
formulas).  Imported on first use, so that ``import cosim.nn`` does not load numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from cosim.hw.jitcache import KERNEL_CACHE as _CACHE


@njit(cache=_CACHE, parallel=True)
def im2col_into(x, kh, kw, stride, padding, out):
    """``out[(n, oh, ow), (c, i, j)] = x[n, c, oh s + i - p, ow s + j - p]`` (0 outside
    the image): :func:`cosim.nn.layers.im2col` of ``x`` (N, C, H, W) into ``out``
    (N OH OW, C kh kw), C-contiguous."""
    n, c, h, w = x.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    for r in prange(n * oh):
        b = r // oh
        y = r % oh
        for xo in range(ow):
            row = out[r * ow + xo]
            col = 0
            for ch in range(c):
                for i in range(kh):
                    hi = y * stride + i - padding
                    inside = 0 <= hi < h
                    for j in range(kw):
                        wj = xo * stride + j - padding
                        v = 0.0
                        if inside and 0 <= wj < w:
                            v = x[b, ch, hi, wj]
                        row[col] = v
                        col += 1


@njit(cache=_CACHE, parallel=True)
def col2im_into(cols, kh, kw, stride, padding, out):
    """The adjoint of :func:`im2col_into`: ``out[n, c, h, w]`` (N, C, H, W) the sum of
    the entries of ``cols`` (N OH OW, C kh kw) that im2col took from pixel ``(h, w)``,
    added in the order ``(i, j)`` of the kernel onto 0.0 (the order of
    :func:`cosim.nn.layers.col2im`)."""
    n, c, h, w = out.shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    for r in prange(n * h):
        b = r // h
        hh = r % h
        for ww in range(w):
            for ch in range(c):
                acc = 0.0
                for i in range(kh):
                    t = hh + padding - i
                    if t < 0 or t % stride != 0 or t // stride >= oh:
                        continue
                    y = t // stride
                    for j in range(kw):
                        u = ww + padding - j
                        if u < 0 or u % stride != 0 or u // stride >= ow:
                            continue
                        acc += cols[(b * oh + y) * ow + u // stride, (ch * kh + i) * kw + j]
                out[b, ch, hh, ww] = acc


@njit(cache=_CACHE, parallel=True)
def max_pool_into(x, k, stride, y, arg):
    """Max pooling of ``x`` (N, C, H, W) over ``k x k`` windows into ``y`` (N, C, OH,
    OW), and ``arg`` (N C OH OW,) the index ``i k + j`` of the window entry taken: the
    first maximum, or the first NaN (``numpy.argmax`` of the window's im2col row)."""
    n, c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    for r in prange(n * c):
        b = r // c
        ch = r % c
        for yo in range(oh):
            for xo in range(ow):
                best = x[b, ch, yo * stride, xo * stride]
                at = 0
                if best == best:
                    for q in range(1, k * k):
                        v = x[b, ch, yo * stride + q // k, xo * stride + q % k]
                        if v != v:
                            best = v
                            at = q
                            break
                        if v > best:
                            best = v
                            at = q
                y[b, ch, yo, xo] = best
                arg[(r * oh + yo) * ow + xo] = at


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int, padding: int,
           oh: int, ow: int) -> np.ndarray:
    """:func:`im2col_into` into a new array (float64 ``x``)."""
    n, c = x.shape[:2]
    out = np.empty((n * oh * ow, c * kernel[0] * kernel[1]))
    im2col_into(x, kernel[0], kernel[1], stride, padding, out)
    return out


def col2im(cols: np.ndarray, x_shape: tuple, kernel: tuple[int, int], stride: int,
           padding: int) -> np.ndarray:
    """:func:`col2im_into` into a new array (float64 ``cols``)."""
    out = np.empty(x_shape)
    col2im_into(cols, kernel[0], kernel[1], stride, padding, out)
    return out
