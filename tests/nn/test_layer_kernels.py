"""The compiled im2col, col2im and max pooling (cosim.nn.kernels) give the numbers of the
numpy formulas of cosim.nn.layers bit for bit, and col2im is im2col's adjoint."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.nn.layers import MaxPool2d, col2im, col2im_numpy, im2col, im2col_numpy

CASES = [((2, 3, 8, 8), 3, 1, 1), ((3, 2, 9, 7), 3, 2, 1), ((2, 1, 12, 12), 5, 1, 0),
         ((2, 4, 6, 6), 2, 2, 0), ((1, 2, 7, 5), 3, 2, 2)]


@pytest.mark.parametrize("shape,k,stride,pad", CASES)
def test_im2col_and_col2im_equal_the_numpy_formulas(shape, k, stride, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    cols = im2col(x, (k, k), stride, pad)
    assert cols.flags.c_contiguous
    assert np.array_equal(cols, im2col_numpy(x, (k, k), stride, pad))
    d = rng.standard_normal(cols.shape)
    back = col2im(d, shape, (k, k), stride, pad)
    assert np.array_equal(back, col2im_numpy(d, shape, (k, k), stride, pad))
    # adjoint: <im2col(x), d> = <x, col2im(d)>
    assert np.isclose(np.vdot(cols, d), np.vdot(x, back), rtol=1e-12)


@pytest.mark.parametrize("k,stride", [(2, 2), (3, 2), (2, 1)])
def test_max_pool_equals_argmax_of_the_windows_with_ties_and_nan(k, stride):
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((3, 2, 9, 9)), 1)      # ties within windows
    x[0, 0, 0, 1] = np.nan
    pool = MaxPool2d("p", k, stride)
    y, (arg, x_shape, cols_shape) = pool.forward(x, None, None)
    n, c, h, w = x.shape
    win = im2col_numpy(x.reshape(n * c, 1, h, w), (k, k), stride, 0)
    want_arg = win.argmax(axis=1)
    assert np.array_equal(arg, want_arg) and cols_shape == win.shape
    assert np.array_equal(y.reshape(-1), win[np.arange(win.shape[0]), want_arg],
                          equal_nan=True)
    dy = rng.standard_normal(y.shape)
    dx, _ = pool.backward(dy, (arg, x_shape, cols_shape), None, None)
    dcols = np.zeros(win.shape)
    dcols[np.arange(win.shape[0]), want_arg] = dy.reshape(-1)
    assert np.array_equal(dx, col2im_numpy(dcols, (n * c, 1, h, w), (k, k), stride,
                                           0).reshape(x.shape))
