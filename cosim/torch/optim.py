"""The optimizer of a converted model: :class:`cosim.nn.SGD` on the gradients autograd
produced, with every weight update going through the weight store."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from cosim.errors import ConfigError
from cosim.nn.optim import SGD as _CosimSGD
from cosim.torch.convert import bridge_of


class _StepStore:
    """The store :class:`cosim.nn.SGD` updates: the bridge's weight store for the
    hardware layers' keys, the torch parameters themselves (digital) for the rest."""

    def __init__(self, store, digital: dict[str, nn.Parameter]) -> None:
        self.store = store
        self.digital = digital

    def weight(self, name: str) -> np.ndarray:
        param = self.digital.get(name)
        if param is None:
            return self.store.weight(name)
        return param.detach().cpu().numpy().astype(np.float64)

    def apply_update(self, name: str, delta: np.ndarray) -> None:
        param = self.digital.get(name)
        if param is None:
            self.store.apply_update(name, delta)
            return
        with torch.no_grad():
            param.add_(torch.as_tensor(delta, dtype=param.dtype, device=param.device))


class SGD:
    """:class:`cosim.nn.SGD` (momentum, weight decay, constant or cosine step size) for a
    model converted by :func:`cosim.torch.convert`.

    :meth:`step` takes the gradients the last ``backward()`` left in ``.grad`` -- for a
    hardware layer, the weight gradient the tile backend computed (``dY.T @ X`` in
    :class:`cosim.torch.layers.TileProduct`) -- and hands each update to the weight
    store (``store.apply_update``: programming pulses on the memristors for a device
    store), then copies what the store holds back into the layers' mirror parameters.
    Parameters of other modules (normalisation, embeddings, ...) are digital: the same
    rule updates them in place.  Never use a torch optimizer on a converted model: the
    layers refuse to compute with weights changed outside the store.

    Parameters
    ----------
    model : torch.nn.Module
        A model returned by :func:`cosim.torch.convert`.
    lr, momentum, weight_decay, schedule, total_steps :
        As for :class:`cosim.nn.SGD` (``lr`` > 0, ``momentum`` in [0, 1),
        ``weight_decay`` >= 0 on every parameter, ``schedule`` "constant" or "cosine"
        over ``total_steps``).

    Attributes
    ----------
    optimizer : cosim.nn.SGD
        The rule itself (velocities, step count, step size).
    bridge : cosim.torch.Bridge
    """

    def __init__(self, model: nn.Module, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0, schedule: str = "constant",
                 total_steps: int = 0) -> None:
        self.bridge = bridge_of(model)
        self.optimizer = _CosimSGD(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                   schedule=schedule, total_steps=total_steps)
        self.hardware: dict[str, nn.Parameter] = dict(self.bridge.parameters())
        mirrors = {id(p) for p in self.hardware.values()}
        self.digital: dict[str, nn.Parameter] = {}
        for name, param in model.named_parameters():
            if id(param) in mirrors or not param.requires_grad:
                continue
            if name in self.hardware:
                raise ConfigError(f"parameter {name!r} has the name of a hardware-layer "
                                  f"store key; rename the module")
            self.digital[name] = param
        self._store = _StepStore(self.bridge.store, self.digital)

    def params(self) -> dict[str, nn.Parameter]:
        """Every parameter this optimizer updates, by name (store keys first)."""
        return {**self.hardware, **self.digital}

    def current_lr(self) -> float:
        """The step size of the next step."""
        return self.optimizer.current_lr()

    def zero_grad(self) -> None:
        """Forget the gradients of every parameter (``.grad = None``)."""
        for param in self.params().values():
            param.grad = None

    def gradients(self) -> dict[str, np.ndarray]:
        """Float64 copies of the present gradients, by name, shaped as stored (a
        convolution's weight gradient as (C_out, C_in k_h k_w))."""
        grads = {}
        for name, param in self.params().items():
            if param.grad is None:
                continue
            g = param.grad.detach().cpu().numpy().astype(np.float64)
            if name in self.hardware:
                g = g.reshape(np.shape(self.bridge.store.weight(name)))
            grads[name] = g
        return grads

    def step(self) -> None:
        """One update of every parameter that has a gradient (see the class docstring)."""
        grads = self.gradients()
        if not grads:
            raise ConfigError("SGD.step: no parameter has a gradient; call loss.backward() "
                              "before step()")
        bad = sorted(name for name, g in grads.items() if not np.all(np.isfinite(g)))
        if bad:
            raise ConfigError(f"SGD.step: non-finite gradients of {', '.join(bad)}: the "
                              f"training diverged; lower the learning rate")
        self.optimizer.step(grads, self._store)
        self.bridge.sync()

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)`` of :meth:`cosim.nn.SGD.state_dict` (velocities, settings)."""
        return self.optimizer.state_dict()

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.optimizer.load_state_dict(arrays, meta)
