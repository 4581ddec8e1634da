"""Optimizers: compute an update and hand it to the weight store.

An optimizer never writes a parameter itself: it calls ``store.apply_update(name,
delta)`` and the store (float arrays, or memristor devices) decides what the new
weight is.  Momentum therefore integrates the *requested* updates; a device store that
applies them imperfectly shows up in the weights the network then reads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cosim.errors import ConfigError
from cosim.nn.backend import WeightStore


def _non_negative(what: str, value: Any, upper: float = np.inf) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or v >= upper:
        raise ConfigError(f"{what} must be in [0, {upper}), got {value!r}")
    return v


class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum and L2 weight decay.

    Per parameter, with gradient ``g``, velocity ``v`` (zeros at start)::

        g <- g + weight_decay * W
        v <- momentum * v + g
        delta = -lr * v                    -> store.apply_update(name, delta)

    (Sutskever et al., "On the importance of initialization and momentum in deep
    learning", ICML 2013, Eq. 1, in the form PyTorch's ``torch.optim.SGD`` uses.)

    The step size of step ``t`` (0-based, :meth:`current_lr`) is ``lr`` (schedule
    ``"constant"``) or ``lr (1 + cos(pi t / T)) / 2`` (``"cosine"`` over ``T =
    total_steps``; Loshchilov & Hutter, SGDR, ICLR 2017, Eq. 5 without restarts, with
    eta_min = 0), which lets the final weights settle instead of ending on a full-size
    noisy step.

    Parameters
    ----------
    lr : float
        Learning rate, > 0 (dimensionless step per unit gradient).
    momentum : float
        In [0, 1).
    weight_decay : float
        L2 coefficient, >= 0; applied to weight matrices and biases alike.
    schedule : {"constant", "cosine"}
    total_steps : int
        T of the cosine schedule, >= 1 (ignored by "constant").
    """

    SCHEDULES = ("constant", "cosine")

    def __init__(self, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0, schedule: str = "constant",
                 total_steps: int = 0) -> None:
        self.lr = _non_negative("SGD lr", lr)
        if self.lr == 0:
            raise ConfigError("SGD lr must be > 0, got 0")
        self.momentum = _non_negative("SGD momentum", momentum, upper=1.0)
        self.weight_decay = _non_negative("SGD weight_decay", weight_decay)
        if schedule not in self.SCHEDULES:
            raise ConfigError(f"SGD schedule {schedule!r}: choose one of "
                              f"{', '.join(self.SCHEDULES)}")
        if schedule == "cosine" and (isinstance(total_steps, bool) or not isinstance(
                total_steps, (int, np.integer)) or total_steps < 1):
            raise ConfigError(f"SGD cosine schedule needs total_steps >= 1, got "
                              f"{total_steps!r}")
        self.schedule = schedule
        self.total_steps = int(total_steps)
        self.velocity: dict[str, np.ndarray] = {}
        self.steps = 0

    def current_lr(self) -> float:
        """The step size of the next step (see the class docstring)."""
        if self.schedule == "constant":
            return self.lr
        t = min(self.steps, self.total_steps)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * t / self.total_steps))

    def step(self, grads: dict[str, np.ndarray], store: WeightStore) -> None:
        """Update every parameter in ``grads`` (in sorted key order) through ``store``."""
        lr = self.current_lr()
        for name in sorted(grads):
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * store.weight(name)
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = np.zeros_like(g, dtype=np.float64)
            v *= self.momentum
            v += g
            store.apply_update(name, -lr * v)
        self.steps += 1

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)``: velocities by parameter name, and JSON-able settings."""
        arrays = {name: v.copy() for name, v in sorted(self.velocity.items())}
        meta = {"kind": "sgd", "lr": self.lr, "momentum": self.momentum,
                "weight_decay": self.weight_decay, "steps": self.steps,
                "schedule": self.schedule, "total_steps": self.total_steps}
        return arrays, meta

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (settings included)."""
        if meta.get("kind") != "sgd":
            raise ConfigError(f"optimizer state is of kind {meta.get('kind')!r}, not 'sgd'")
        self.__init__(meta["lr"], meta["momentum"], meta["weight_decay"],
                      meta.get("schedule", "constant"), meta.get("total_steps", 0))
        self.velocity = {name: np.array(v, dtype=np.float64, copy=True)
                         for name, v in arrays.items()}
        self.steps = int(meta["steps"])


OPTIMIZERS = {"sgd": SGD}
"""Optimizer classes by name."""
