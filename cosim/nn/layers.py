"""CNN layers: convolution (im2col), pooling, ReLU, flatten, dense.

Layers are stateless descriptions.  Their parameters live in the weight store and their
matrix products go through the matmul backend (see :mod:`cosim.nn.backend`); both are
passed in at every call, so the same layer object runs on exact numpy or on a hardware
tile model.  Shapes: images ``(N, C, H, W)``, vectors ``(N, features)``, batch first.

``forward(x, backend, store)`` returns ``(y, cache)``; ``backward(dy, cache, backend,
store, input_grad=True)`` returns ``(dx, grads)`` where ``grads`` maps store keys to
gradients of the same shapes as the parameters, and ``dx`` is ``None`` when
``input_grad`` is False (the first layer of a network: nothing consumes its input
gradient, so its ``W^T delta`` product is not made).

Equations (standard; e.g. Goodfellow, Bengio and Courville, *Deep Learning*, 2016,
Sec. 6.5 and 9.5; im2col: Chellapilla, Puri and Simard, "High performance convolutional
neural networks for document processing", 2006):

* dense:  ``Y = X W^T + b``;  ``dX = dY W``;  ``dW = dY^T X``;  ``db = sum_rows dY``.
* conv:   the same, with ``X`` the im2col matrix of input patches, one row per
  (sample, output position), columns ordered ``(c_in, k_h, k_w)`` -- the row-major
  flattening of a weight tensor ``(C_out, C_in, k_h, k_w)`` -- and ``dX = col2im(dY W)``.
* ReLU:   ``y = max(x, 0)``, ``dx = dy * [x > 0]``.
* max pooling routes ``dy`` to the first maximum of each window; average pooling spreads
  ``dy / k^2`` over the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cosim.errors import ConfigError
from cosim.nn.backend import MatmulBackend, WeightStore, bias_name

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerInfo:
    """Shapes and operation counts of one layer, per input sample.

    Attributes
    ----------
    name, kind : str
        Layer name and registry kind (see :data:`LAYERS`).
    input_shape, output_shape : tuple of int
        Per-sample shapes (no batch axis): ``(C, H, W)`` or ``(features,)``.
    weight_shape : tuple of int or None
        ``(n_out, n_in)`` of the matrix the backend multiplies by, for dense and conv.
    rows_per_sample : int
        Matrix-vector products per sample and pass (output positions of a conv, 1 for a
        dense layer, 0 for layers without weights).
    macs : int
        Multiply-accumulates of the forward products per sample,
        ``rows_per_sample * n_in * n_out``; backward and gradient cost the same each.
    params : int
        Trainable parameters (weights + biases).
    elementwise_ops : int
        Digital operations outside the backend per sample (bias adds, ReLU comparisons,
        pooling comparisons or additions).
    """

    name: str
    kind: str
    input_shape: Shape
    output_shape: Shape
    weight_shape: Shape | None
    rows_per_sample: int
    macs: int
    params: int
    elementwise_ops: int


def _positive_int(what: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"layer name must be a Python identifier (letters, digits, _), "
                          f"got {name!r}")
    return name


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length ``(size + 2 padding - kernel) // stride + 1`` of a sliding window."""
    return (size + 2 * padding - kernel) // stride + 1


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Patches of ``x`` as rows of a matrix.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel : (k_h, k_w)
    stride, padding : int
        Window step and zero padding on each side, in pixels.

    Returns
    -------
    ndarray, shape (N * OH * OW, C * k_h * k_w), C-contiguous
        Row ``(n, oh, ow)`` holds the window whose top-left corner is input pixel
        ``(oh * stride - padding, ow * stride - padding)``, columns ordered
        ``(c, i, j)``.

    A float64 input goes through the compiled copy :func:`cosim.nn.kernels.im2col`
    (the same numbers, one pass); other dtypes through the numpy formula
    (:func:`im2col_numpy`).
    """
    if x.dtype == np.float64 and x.ndim == 4:
        from cosim.nn import kernels

        n, c, h, w = x.shape
        return kernels.im2col(x, kernel, stride, padding,
                              conv_output_size(h, kernel[0], stride, padding),
                              conv_output_size(w, kernel[1], stride, padding))
    return im2col_numpy(x, kernel, stride, padding)


def im2col_numpy(x: np.ndarray, kernel: tuple[int, int], stride: int = 1,
                 padding: int = 0) -> np.ndarray:
    """:func:`im2col` as a numpy formula (a copy of a strided window view)."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::stride, ::stride]
    n, c, oh, ow, kh, kw = windows.shape
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)


def col2im(cols: np.ndarray, x_shape: Shape, kernel: tuple[int, int], stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """Adjoint of :func:`im2col`: sum every patch entry back onto its input pixel.

    Parameters
    ----------
    cols : ndarray, shape (N * OH * OW, C * k_h * k_w)
    x_shape : (N, C, H, W) of the original input.
    kernel, stride, padding : as for :func:`im2col`.

    Returns
    -------
    ndarray, shape x_shape

    Each pixel is the sum of its patch entries added in kernel order ``(i, j)`` onto
    0.0; float64 ``cols`` go through the compiled :func:`cosim.nn.kernels.col2im`
    (the same additions in the same order), other dtypes through the numpy formula
    (:func:`col2im_numpy`).
    """
    if cols.dtype == np.float64:
        from cosim.nn import kernels

        return kernels.col2im(cols, tuple(x_shape), kernel, stride, padding)
    return col2im_numpy(cols, x_shape, kernel, stride, padding)


def col2im_numpy(cols: np.ndarray, x_shape: Shape, kernel: tuple[int, int],
                 stride: int = 1, padding: int = 0) -> np.ndarray:
    """:func:`col2im` as a numpy formula (``k_h k_w`` strided additions)."""
    n, c, h, w = x_shape
    kh, kw = kernel
    oh = conv_output_size(h, kh, stride, padding)
    ow = conv_output_size(w, kw, stride, padding)
    cols = np.ascontiguousarray(cols.reshape(n, oh, ow, c, kh, kw).transpose(4, 5, 0, 3, 1, 2))
    out = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += cols[i, j]
    if padding:
        out = out[:, :, padding:padding + h, padding:padding + w]
    return out


class Layer:
    """Base class: a named, stateless layer (see the module docstring for the protocol)."""

    kind: ClassVar[str] = "layer"

    def __init__(self, name: str) -> None:
        self.name = _check_name(name)

    # --- parameters -----------------------------------------------------------------
    def param_shapes(self) -> dict[str, Shape]:
        """Store keys and shapes of this layer's parameters (empty if none)."""
        return {}

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameter values drawn from ``rng``."""
        return {}

    # --- shapes ---------------------------------------------------------------------
    def output_shape(self, input_shape: Shape) -> Shape:
        """Per-sample output shape for a per-sample ``input_shape``."""
        return tuple(input_shape)

    def info(self, input_shape: Shape) -> LayerInfo:
        """Shapes and operation counts per sample, see :class:`LayerInfo`."""
        out = self.output_shape(input_shape)
        return LayerInfo(self.name, self.kind, tuple(input_shape), out, None, 0, 0, 0,
                         self._elementwise_ops(tuple(input_shape), out))

    def _elementwise_ops(self, input_shape: Shape, output_shape: Shape) -> int:
        return 0

    def _check_input(self, x: np.ndarray, ndim: int) -> None:
        if x.ndim != ndim:
            raise ConfigError(f"layer {self.name!r} ({self.kind}) expects a {ndim}-d input "
                              f"(batch first), got shape {x.shape}")

    # --- passes ---------------------------------------------------------------------
    def forward(self, x: np.ndarray, backend: MatmulBackend,
                store: WeightStore) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, cache: Any, backend: MatmulBackend,
                 store: WeightStore, input_grad: bool = True
                 ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _he_normal(rng: np.random.Generator, shape: Shape, fan_in: int) -> np.ndarray:
    """He et al. 2015 ("Delving deep into rectifiers") init: N(0, 2 / fan_in)."""
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


class Linear(Layer):
    """Dense layer ``y = x W^T + b``; W (out_features, in_features) in the store."""

    kind = "linear"

    def __init__(self, name: str, in_features: int, out_features: int) -> None:
        super().__init__(name)
        self.in_features = _positive_int(f"{name}: in_features", in_features)
        self.out_features = _positive_int(f"{name}: out_features", out_features)

    def param_shapes(self) -> dict[str, Shape]:
        return {self.name: (self.out_features, self.in_features),
                bias_name(self.name): (self.out_features,)}

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {self.name: _he_normal(rng, (self.out_features, self.in_features),
                                      self.in_features),
                bias_name(self.name): np.zeros(self.out_features)}

    def output_shape(self, input_shape: Shape) -> Shape:
        if tuple(input_shape) != (self.in_features,):
            raise ConfigError(f"layer {self.name!r} (linear) expects per-sample input shape "
                              f"({self.in_features},), got {tuple(input_shape)}")
        return (self.out_features,)

    def info(self, input_shape: Shape) -> LayerInfo:
        out = self.output_shape(input_shape)
        macs = self.in_features * self.out_features
        return LayerInfo(self.name, self.kind, tuple(input_shape), out,
                         (self.out_features, self.in_features), 1, macs,
                         macs + self.out_features, self.out_features)

    def forward(self, x, backend, store):
        self._check_input(x, 2)
        self.output_shape(x.shape[1:])
        W = store.weight(self.name)
        y = backend.forward(self.name, W, x) + store.weight(bias_name(self.name))
        return y, x

    def backward(self, dy, cache, backend, store, input_grad=True):
        x = cache
        grads = {self.name: backend.gradient(self.name, dy, x),
                 bias_name(self.name): dy.sum(axis=0)}
        dx = backend.backward(self.name, store.weight(self.name), dy) if input_grad else None
        return dx, grads


class Conv2d(Layer):
    """2-D convolution (cross-correlation) by im2col; W stored as (C_out, C_in*k*k)."""

    kind = "conv2d"

    def __init__(self, name: str, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0) -> None:
        super().__init__(name)
        self.in_channels = _positive_int(f"{name}: in_channels", in_channels)
        self.out_channels = _positive_int(f"{name}: out_channels", out_channels)
        self.kernel_size = _positive_int(f"{name}: kernel_size", kernel_size)
        self.stride = _positive_int(f"{name}: stride", stride)
        self.padding = _positive_int(f"{name}: padding", padding, minimum=0)

    @property
    def n_in(self) -> int:
        """Columns of the im2col matrix, ``C_in * k * k``."""
        return self.in_channels * self.kernel_size ** 2

    def param_shapes(self) -> dict[str, Shape]:
        return {self.name: (self.out_channels, self.n_in),
                bias_name(self.name): (self.out_channels,)}

    def init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {self.name: _he_normal(rng, (self.out_channels, self.n_in), self.n_in),
                bias_name(self.name): np.zeros(self.out_channels)}

    def output_shape(self, input_shape: Shape) -> Shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ConfigError(f"layer {self.name!r} (conv2d) expects per-sample input "
                              f"(C={self.in_channels}, H, W), got {input_shape}")
        _, h, w = input_shape
        oh = conv_output_size(h, self.kernel_size, self.stride, self.padding)
        ow = conv_output_size(w, self.kernel_size, self.stride, self.padding)
        if oh < 1 or ow < 1:
            raise ConfigError(f"layer {self.name!r} (conv2d): input {h}x{w} is smaller than "
                              f"the {self.kernel_size}x{self.kernel_size} kernel with "
                              f"padding {self.padding}; use a larger input or fewer layers")
        return (self.out_channels, oh, ow)

    def info(self, input_shape: Shape) -> LayerInfo:
        out = self.output_shape(input_shape)
        rows = out[1] * out[2]
        return LayerInfo(self.name, self.kind, tuple(input_shape), out,
                         (self.out_channels, self.n_in), rows,
                         rows * self.n_in * self.out_channels,
                         self.n_in * self.out_channels + self.out_channels,
                         rows * self.out_channels)

    def forward(self, x, backend, store):
        self._check_input(x, 4)
        _, oh, ow = self.output_shape(x.shape[1:])
        k = (self.kernel_size, self.kernel_size)
        cols = im2col(x, k, self.stride, self.padding)
        rows = backend.forward(self.name, store.weight(self.name), cols)
        rows = rows + store.weight(bias_name(self.name))
        n = x.shape[0]
        y = np.ascontiguousarray(rows.reshape(n, oh, ow, self.out_channels)
                                 .transpose(0, 3, 1, 2))
        return y, (cols, x.shape)

    def backward(self, dy, cache, backend, store, input_grad=True):
        cols, x_shape = cache
        drows = dy.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)
        grads = {self.name: backend.gradient(self.name, drows, cols),
                 bias_name(self.name): drows.sum(axis=0)}
        if not input_grad:
            return None, grads
        dcols = backend.backward(self.name, store.weight(self.name), drows)
        k = (self.kernel_size, self.kernel_size)
        return col2im(dcols, x_shape, k, self.stride, self.padding), grads


class _Pool2d(Layer):
    def __init__(self, name: str, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__(name)
        self.kernel_size = _positive_int(f"{name}: kernel_size", kernel_size)
        self.stride = _positive_int(f"{name}: stride",
                                    self.kernel_size if stride is None else stride)

    def output_shape(self, input_shape: Shape) -> Shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ConfigError(f"layer {self.name!r} ({self.kind}) expects per-sample input "
                              f"(C, H, W), got {input_shape}")
        c, h, w = input_shape
        oh = conv_output_size(h, self.kernel_size, self.stride, 0)
        ow = conv_output_size(w, self.kernel_size, self.stride, 0)
        if oh < 1 or ow < 1:
            raise ConfigError(f"layer {self.name!r} ({self.kind}): input {h}x{w} is smaller "
                              f"than the {self.kernel_size}x{self.kernel_size} window")
        return (c, oh, ow)

    def _windows(self, x: np.ndarray) -> tuple[np.ndarray, Shape]:
        self._check_input(x, 4)
        c, oh, ow = self.output_shape(x.shape[1:])
        n = x.shape[0]
        flat = x.reshape(n * c, 1, x.shape[2], x.shape[3])
        k = (self.kernel_size, self.kernel_size)
        return im2col(flat, k, self.stride, 0), (n, c, oh, ow)

    def _unwindows(self, dcols: np.ndarray, x_shape: Shape) -> np.ndarray:
        n, c, h, w = x_shape
        k = (self.kernel_size, self.kernel_size)
        return col2im(dcols, (n * c, 1, h, w), k, self.stride, 0).reshape(x_shape)


class MaxPool2d(_Pool2d):
    """Max pooling over ``k x k`` windows (stride defaults to ``k``)."""

    kind = "maxpool2d"

    def _elementwise_ops(self, input_shape, output_shape):
        return int(np.prod(output_shape)) * (self.kernel_size ** 2 - 1)

    def forward(self, x, backend, store):
        if x.dtype != np.float64 or x.ndim != 4:
            cols, out_shape = self._windows(x)
            arg = cols.argmax(axis=1)
            y = cols[np.arange(cols.shape[0]), arg].reshape(out_shape)
            return y, (arg, x.shape, cols.shape)
        # the same in one compiled pass: the first maximum of each window's im2col row
        from cosim.nn import kernels

        self._check_input(x, 4)
        c, oh, ow = self.output_shape(x.shape[1:])
        y = np.empty((x.shape[0], c, oh, ow))
        arg = np.empty(y.size, dtype=np.intp)
        kernels.max_pool_into(x, self.kernel_size, self.stride, y, arg)
        return y, (arg, x.shape, (y.size, self.kernel_size ** 2))

    def backward(self, dy, cache, backend, store, input_grad=True):
        if not input_grad:
            return None, {}
        arg, x_shape, cols_shape = cache
        dcols = np.zeros(cols_shape, dtype=dy.dtype)
        dcols[np.arange(cols_shape[0]), arg] = dy.reshape(-1)
        return self._unwindows(dcols, x_shape), {}


class AvgPool2d(_Pool2d):
    """Average pooling over ``k x k`` windows (stride defaults to ``k``)."""

    kind = "avgpool2d"

    def _elementwise_ops(self, input_shape, output_shape):
        return int(np.prod(output_shape)) * self.kernel_size ** 2

    def forward(self, x, backend, store):
        cols, out_shape = self._windows(x)
        return cols.mean(axis=1).reshape(out_shape), x.shape

    def backward(self, dy, cache, backend, store, input_grad=True):
        if not input_grad:
            return None, {}
        x_shape = cache
        area = self.kernel_size ** 2
        dcols = np.repeat(dy.reshape(-1, 1) / area, area, axis=1)
        return self._unwindows(dcols, x_shape), {}


class ReLU(Layer):
    """Rectifier ``max(x, 0)``, elementwise, any shape."""

    kind = "relu"

    def _elementwise_ops(self, input_shape, output_shape):
        return int(np.prod(input_shape))

    def forward(self, x, backend, store):
        mask = x > 0
        return np.where(mask, x, 0.0), mask

    def backward(self, dy, cache, backend, store, input_grad=True):
        if not input_grad:
            return None, {}
        return np.where(cache, dy, 0.0), {}


class Flatten(Layer):
    """``(N, C, H, W) -> (N, C*H*W)`` in C order."""

    kind = "flatten"

    def output_shape(self, input_shape: Shape) -> Shape:
        return (int(np.prod(input_shape)),)

    def forward(self, x, backend, store):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dy, cache, backend, store, input_grad=True):
        if not input_grad:
            return None, {}
        return dy.reshape(cache), {}


LAYERS: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Linear, Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten)
}
"""Layer classes by kind."""

POOLING: dict[str, type[_Pool2d]] = {"max": MaxPool2d, "avg": AvgPool2d}
"""Pooling layer classes by the names model builders accept."""
