"""The two hardware hooks of the CNN: the matmul backend and the weight store.

Every matrix product of every layer goes through ONE object, the *matmul backend*, so
that a hardware tile (photonic MRR bank, memristor crossbar) can replace exact
arithmetic without touching the layers.  A layer with weight matrix ``W`` of shape
``(n_out, n_in)`` (a convolution after im2col: ``n_in = C_in * k_h * k_w``) makes exactly
three kinds of product per training step:

==========  =============================  ===========================================
method      product                        shapes
==========  =============================  ===========================================
forward     ``Y  = X @ W.T``   (W x)       X (rows, n_in), W (n_out, n_in) -> (rows, n_out)
backward    ``dX = dY @ W``    (W^T delta)  dY (rows, n_out), W -> (rows, n_in)
gradient    ``dW = dY.T @ X``  (delta x^T)  dY (rows, n_out), X (rows, n_in) -> (n_out, n_in)
==========  =============================  ===========================================

``rows`` is the batch size for a dense layer and ``batch * output positions`` for a
convolution.  Biases, activations and pooling are digital and stay outside the backend.

Every weight the network uses comes from the *weight store*, and every weight change
goes to it: the optimizer computes an update ``delta`` and calls
``store.apply_update(name, delta)``; layers read ``store.weight(name)`` at every use.
A device store (memristor conductances) therefore decides what the network really
computes with: ``weight(name)`` after an update is whatever the devices hold, not
``W + delta``.

Parameter names: the weight matrix of layer ``"conv1"`` is stored under ``"conv1"``, its
bias vector under ``"conv1.bias"`` (see :func:`bias_name`); a device store that keeps
biases digital can tell them apart with :func:`is_bias_name`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from cosim.errors import ConfigError

BIAS_SUFFIX = ".bias"


def bias_name(layer_name: str) -> str:
    """The store key of the bias vector of layer ``layer_name``."""
    return layer_name + BIAS_SUFFIX


def is_bias_name(name: str) -> bool:
    """True when store key ``name`` is a bias vector (not a weight matrix)."""
    return name.endswith(BIAS_SUFFIX)


@runtime_checkable
class MatmulBackend(Protocol):
    """What a hardware tile implements to take over the products of the network."""

    def forward(self, layer_name: str, W: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``X @ W.T``: X (rows, n_in), W (n_out, n_in) -> (rows, n_out)."""

    def backward(self, layer_name: str, W: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """``dY @ W``: dY (rows, n_out), W (n_out, n_in) -> (rows, n_in)."""

    def gradient(self, layer_name: str, dY: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``dY.T @ X``: dY (rows, n_out), X (rows, n_in) -> (n_out, n_in)."""


class IdealBackend:
    """Exact float products with numpy: the reference accuracy (engine ``ideal``)."""

    def forward(self, layer_name: str, W: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``X @ W.T``: X (rows, n_in), W (n_out, n_in) -> (rows, n_out)."""
        return X @ W.T

    def backward(self, layer_name: str, W: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """``dY @ W``: dY (rows, n_out), W (n_out, n_in) -> (rows, n_in)."""
        return dY @ W

    def gradient(self, layer_name: str, dY: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``dY.T @ X``: dY (rows, n_out), X (rows, n_in) -> (n_out, n_in)."""
        return dY.T @ X


@runtime_checkable
class WeightStore(Protocol):
    """Holds the parameters the network computes with (floats, or device states)."""

    def names(self) -> list[str]:
        """Store keys, sorted."""

    def weight(self, name: str) -> np.ndarray:
        """The parameter the network must use now (read-only view)."""

    def set_weight(self, name: str, value: np.ndarray) -> None:
        """Initialise (program) parameter ``name`` to ``value``."""

    def apply_update(self, name: str, delta: np.ndarray) -> None:
        """Apply the optimizer's update ``delta`` (same shape as the parameter)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to restore the store exactly, as named arrays."""

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned."""


class ArrayWeightStore:
    """Default store: plain float64 arrays, ``apply_update`` adds ``delta`` in place."""

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] = {}

    def names(self) -> list[str]:
        """Store keys, sorted."""
        return sorted(self._params)

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def weight(self, name: str) -> np.ndarray:
        """The stored parameter (a read-only view; change it with apply_update)."""
        try:
            view = self._params[name].view()
        except KeyError:
            raise ConfigError(f"weight store has no parameter {name!r}; it holds: "
                              f"{', '.join(self.names()) or 'nothing'} (initialise the "
                              f"model first)") from None
        view.flags.writeable = False
        return view

    def set_weight(self, name: str, value: np.ndarray) -> None:
        """Store a float64 copy of ``value`` under ``name``."""
        arr = np.array(value, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"parameter {name!r}: initial value has non-finite entries")
        self._params[name] = arr

    def apply_update(self, name: str, delta: np.ndarray) -> None:
        """``W <- W + delta``, in place."""
        param = self._params.get(name)
        if param is None:
            raise ConfigError(f"weight store has no parameter {name!r} to update")
        delta = np.asarray(delta)
        if delta.shape != param.shape:
            raise ConfigError(f"update of {name!r} has shape {delta.shape}, the parameter "
                              f"has shape {param.shape}")
        param += delta

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all parameters, by name."""
        return {name: self._params[name].copy() for name in self.names()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Replace all parameters with copies of ``state``."""
        self._params = {name: np.array(value, dtype=np.float64, copy=True)
                        for name, value in state.items()}
