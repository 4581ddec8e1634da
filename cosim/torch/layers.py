"""Hardware layers for PyTorch models: every product of a layer on the tile backend.

A converted ``nn.Linear`` or ``nn.Conv2d`` (:func:`cosim.torch.convert`) becomes a
:class:`HardwareLinear` or :class:`HardwareConv2d`.  Its three matrix products go
through the bridge's :class:`cosim.nn.backend.MatmulBackend` inside one
``torch.autograd.Function`` (:class:`TileProduct`), with W (n_out, n_in) read from the
weight store at every use:

==========  ============================  ===============================================
pass        product                       where
==========  ============================  ===============================================
forward     ``Y = X @ W.T``               ``TileProduct.forward`` -> ``backend.forward``
backward    ``dX = dY @ W``               ``TileProduct.backward`` -> ``backend.backward``
gradient    ``dW = dY.T @ X``             ``TileProduct.backward`` -> ``backend.gradient``
==========  ============================  ===============================================

``X`` has one row per sample (dense; leading axes flattened) or per sample and output
position (convolution: the im2col matrix of ``torch.nn.functional.unfold``, columns
ordered ``(c_in, k_h, k_w)``, so W is the weight tensor ``(C_out, C_in, k_h, k_w)``
flattened row-major to ``(C_out, C_in k_h k_w)``, the layout of
:class:`cosim.nn.layers.Conv2d`; autograd of ``unfold`` sums the patch gradients back,
i.e. ``fold``).  Products are computed in float64 numpy and returned in the dtype of the
operand they replace.  The bias is added digitally by torch, as in :mod:`cosim.nn`.

The layer's ``weight`` and ``bias`` are ``nn.Parameter`` *mirrors* of the store: they
carry the gradients autograd produces (so ``model.parameters()``, ``.grad`` and
gradient clipping work as usual) and hold a copy of what the store holds, refreshed by
:meth:`Bridge.sync` after every update of :class:`cosim.torch.SGD`.  The forward product
never uses the mirror's value; a mirror that no longer equals the store (changed by a
torch optimizer, ``load_state_dict`` or an in-place edit) stops the next forward with a
:class:`cosim.errors.ConfigError`, so a float copy can never silently stand in for the
weights the devices hold.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from cosim.errors import ConfigError

if TYPE_CHECKING:
    from cosim.torch.convert import Bridge


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous float64 numpy copy of tensor ``t``."""
    return np.array(t.detach().cpu().numpy(), dtype=np.float64, order="C", copy=True)


def _to_torch(a: np.ndarray, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A new tensor holding a copy of ``a``."""
    return torch.tensor(np.asarray(a), dtype=dtype, device=device)


class TileProduct(torch.autograd.Function):
    """``Y = X @ W.T`` on the tile backend, with ``dX = dY @ W`` and ``dW = dY.T @ X``
    on the same backend in the backward pass (module docstring).

    ``apply(x, weight, layer)``: ``x`` (rows, n_in); ``weight`` the layer's mirror
    parameter (any shape holding n_out x n_in entries; only its gradient is used);
    ``layer`` a :class:`HardwareLayer`.  Returns (rows, n_out).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, layer: HardwareLayer):
        bridge = layer.bridge
        X = _to_numpy(x)
        Y = bridge.backend.forward(layer.cosim_name, bridge.store.weight(layer.cosim_name), X)
        ctx.layer = layer
        ctx.X = X                  # the gradient streams the very array the forward did
        ctx.x_kind = (x.dtype, x.device)
        ctx.w_kind = (weight.dtype, weight.device)
        ctx.weight_shape = weight.shape
        return _to_torch(Y, x.dtype, x.device)

    @staticmethod
    @once_differentiable          # the backend's products are not differentiable again
    def backward(ctx, dy: torch.Tensor):
        layer = ctx.layer
        bridge, name = layer.bridge, layer.cosim_name
        dY = _to_numpy(dy)
        dx = dw = None
        if ctx.needs_input_grad[1]:
            dW = bridge.backend.gradient(name, dY, ctx.X)
            dw = _to_torch(dW, *ctx.w_kind).reshape(ctx.weight_shape)
        if ctx.needs_input_grad[0]:
            dX = bridge.backend.backward(name, bridge.store.weight(name), dY)
            dx = _to_torch(dX, *ctx.x_kind)
        return dx, dw, None


class HardwareLayer(nn.Module):
    """Common part of :class:`HardwareLinear` and :class:`HardwareConv2d`.

    Attributes
    ----------
    bridge : Bridge
        Backend, store and settings shared by every layer of the converted model.
    cosim_name : str
        Store key of the weight matrix (the bias is under ``cosim_name + ".bias"``).
    weight, bias : nn.Parameter
        Mirrors of the store (module docstring); ``bias`` may be None.
    """

    def __init__(self, bridge: Bridge, cosim_name: str, weight: torch.Tensor,
                 bias: torch.Tensor | None) -> None:
        super().__init__()
        self.bridge = bridge       # a plain attribute: shared by every layer, not owned
        self.cosim_name = cosim_name
        self.weight = nn.Parameter(weight.detach().clone())
        if bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = nn.Parameter(bias.detach().clone())

    def matrix_shape(self) -> tuple[int, int]:
        """``(n_out, n_in)`` of the weight matrix the backend multiplies by."""
        return (int(self.weight.shape[0]), int(math.prod(self.weight.shape[1:])))

    def _product(self, rows: torch.Tensor) -> torch.Tensor:
        self.bridge.check_in_sync(self)
        return TileProduct.apply(rows, self.weight, self)


class HardwareLinear(HardwareLayer):
    """``nn.Linear`` with ``x W^T`` (and its backward products) on the tile backend.

    Input ``(*, in_features)`` -> output ``(*, out_features)``; W (out_features,
    in_features) in the store under ``cosim_name``.
    """

    def __init__(self, bridge: Bridge, cosim_name: str, source: nn.Linear) -> None:
        super().__init__(bridge, cosim_name, source.weight, source.bias)
        self.in_features = int(source.in_features)
        self.out_features = int(source.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ConfigError(f"layer {self.cosim_name!r} (linear) expects inputs of "
                              f"{self.in_features} features, got shape {tuple(x.shape)}")
        y = self._product(x.reshape(-1, self.in_features))
        y = y.reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (f"{self.cosim_name!r}, in_features={self.in_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


def _pair(value, what: str, name: str) -> tuple[int, int]:
    v = (value, value) if isinstance(value, int) else tuple(value)
    if len(v) != 2 or not all(isinstance(i, int) and i >= 0 for i in v):
        raise ConfigError(f"layer {name!r} (conv2d): {what}={value!r} is not a pair of "
                          f"non-negative integers")
    return int(v[0]), int(v[1])


def conv_padding(source: nn.Conv2d, name: str) -> tuple[int, int]:
    """Symmetric zero padding ``(p_h, p_w)`` of ``source`` (``"valid"`` -> 0; ``"same"``
    -> ``dilation (k - 1) / 2`` when that is a whole number); anything im2col with
    ``unfold`` cannot express is refused with the reason and the fix."""
    fix = ("; keep this layer out of the conversion (convert a model without it) or "
           "change the layer")
    if source.groups != 1:
        raise ConfigError(f"layer {name!r} (conv2d): groups={source.groups} is not "
                          f"supported, only groups=1 maps onto one weight matrix{fix}")
    if source.padding_mode != "zeros":
        raise ConfigError(f"layer {name!r} (conv2d): padding_mode={source.padding_mode!r} "
                          f"is not supported, only 'zeros'{fix}")
    if source.padding == "valid":
        return (0, 0)
    if source.padding == "same":
        pads = []
        for k, d in zip(source.kernel_size, source.dilation):
            if (d * (k - 1)) % 2:
                raise ConfigError(f"layer {name!r} (conv2d): padding='same' with kernel "
                                  f"{source.kernel_size} and dilation {source.dilation} "
                                  f"pads unevenly; give an explicit padding{fix}")
            pads.append(d * (k - 1) // 2)
        return (pads[0], pads[1])
    return _pair(source.padding, "padding", name)


class HardwareConv2d(HardwareLayer):
    """``nn.Conv2d`` (groups 1, zero padding) as im2col + a product on the tile backend.

    Input ``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``.  The im2col matrix
    ``unfold(x)`` (N L, C_in k_h k_w), L = H_out W_out, is the streamed input; the
    store holds W as (C_out, C_in k_h k_w) under ``cosim_name``.
    """

    def __init__(self, bridge: Bridge, cosim_name: str, source: nn.Conv2d) -> None:
        super().__init__(bridge, cosim_name, source.weight, source.bias)
        self.in_channels = int(source.in_channels)
        self.out_channels = int(source.out_channels)
        self.kernel_size = _pair(source.kernel_size, "kernel_size", cosim_name)
        self.stride = _pair(source.stride, "stride", cosim_name)
        self.padding = conv_padding(source, cosim_name)
        self.dilation = _pair(source.dilation, "dilation", cosim_name)

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """``(H_out, W_out)`` for an ``h x w`` input (as ``nn.Conv2d``)."""
        out = []
        for size, k, s, p, d in zip((h, w), self.kernel_size, self.stride, self.padding,
                                    self.dilation):
            out.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
        return out[0], out[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(f"layer {self.cosim_name!r} (conv2d) expects inputs (N, "
                              f"{self.in_channels}, H, W), got shape {tuple(x.shape)}")
        n = x.shape[0]
        oh, ow = self.output_size(x.shape[2], x.shape[3])
        if oh < 1 or ow < 1:
            raise ConfigError(f"layer {self.cosim_name!r} (conv2d): input "
                              f"{x.shape[2]}x{x.shape[3]} is smaller than the kernel "
                              f"{self.kernel_size} with padding {self.padding}")
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, padding=self.padding,
                        stride=self.stride)                    # (N, C_in k_h k_w, L)
        rows = cols.transpose(1, 2).reshape(n * oh * ow, -1)   # (N L, C_in k_h k_w)
        y = self._product(rows)                                # (N L, C_out)
        y = y.reshape(n, oh * ow, self.out_channels).transpose(1, 2)
        y = y.reshape(n, self.out_channels, oh, ow)
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return (f"{self.cosim_name!r}, {self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None}")
