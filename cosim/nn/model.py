"""A feed-forward network of layers, and the training loop around it.

:class:`Sequential` owns the hardware hooks: one matmul backend for every product of
every layer, one weight store for every parameter (see :mod:`cosim.nn.backend`).
:class:`Trainer` adds the optimizer, the minibatch order (from an explicit numpy
Generator) and an exact, exportable training state for checkpoint and resume.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cosim.errors import ConfigError
from cosim.nn.backend import ArrayWeightStore, IdealBackend, MatmulBackend, WeightStore
from cosim.nn.layers import Layer, LayerInfo
from cosim.nn.losses import softmax_cross_entropy
from cosim.nn.optim import SGD


class Sequential:
    """Layers applied in order, computing through ``backend`` with weights from ``store``.

    Parameters
    ----------
    layers : sequence of Layer
        Unique names.
    backend : MatmulBackend, optional
        Receives every matrix product; default :class:`IdealBackend`.
    store : WeightStore, optional
        Holds every parameter; default :class:`ArrayWeightStore`.
    input_shape : tuple of int, optional
        Per-sample input shape ``(C, H, W)`` or ``(features,)``; checked against the
        layers at construction, and the default for :meth:`layer_shapes`.
    """

    def __init__(self, layers: Sequence[Layer], *, backend: MatmulBackend | None = None,
                 store: WeightStore | None = None,
                 input_shape: tuple[int, ...] | None = None) -> None:
        self.layers = list(layers)
        if not self.layers or not all(isinstance(layer, Layer) for layer in self.layers):
            raise ConfigError("Sequential needs a non-empty list of Layer objects")
        names = [layer.name for layer in self.layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"layer names must be unique; repeated: {', '.join(dupes)}")
        self.backend = IdealBackend() if backend is None else backend
        self.store = ArrayWeightStore() if store is None else store
        for hook, proto in ((self.backend, MatmulBackend), (self.store, WeightStore)):
            if not isinstance(hook, proto):
                raise ConfigError(f"{type(hook).__name__} does not implement "
                                  f"{proto.__name__} (methods: see cosim.nn.backend)")
        self.input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)
        if self.input_shape is not None:
            self.layer_shapes(self.input_shape)

    # --- parameters -----------------------------------------------------------------
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Store key -> parameter shape, in layer order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in self.layers:
            shapes.update(layer.param_shapes())
        return shapes

    def initialize(self, rng: np.random.Generator) -> None:
        """Draw every parameter from ``rng`` (layer order) and program it into the store."""
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"initialize needs a numpy Generator, got {type(rng).__name__}")
        for layer in self.layers:
            for name, value in layer.init_params(rng).items():
                self.store.set_weight(name, value)

    def layer_shapes(self, input_shape: tuple[int, ...] | None = None) -> list[LayerInfo]:
        """Per-layer shapes and operation counts per sample (see :class:`LayerInfo`).

        Parameters
        ----------
        input_shape : tuple of int, optional
            Per-sample input shape; defaults to the model's ``input_shape``.
        """
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        if shape is None:
            raise ConfigError("layer_shapes needs an input_shape (the model has none)")
        infos = []
        for layer in self.layers:
            info = layer.info(shape)
            infos.append(info)
            shape = info.output_shape
        return infos

    # --- passes ---------------------------------------------------------------------
    def forward(self, x: np.ndarray, *, keep_caches: bool = False):
        """Network output for a batch ``x`` (N, ...); with caches if ``keep_caches``."""
        x = np.asarray(x, dtype=np.float64)
        caches = []
        for layer in self.layers:
            x, cache = layer.forward(x, self.backend, self.store)
            caches.append(cache)
        return (x, caches) if keep_caches else x

    def backward(self, dout: np.ndarray, caches: list, *, input_grad: bool = False
                 ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Gradients of every parameter from the output gradient ``dout``.

        Each weighted layer makes one ``gradient`` product and, except the first layer
        (unless ``input_grad``), one ``backward`` product through the backend.

        Returns
        -------
        grads : dict
            Store key -> gradient.
        dx : ndarray or None
            Gradient with respect to the network input if ``input_grad``.
        """
        grads: dict[str, np.ndarray] = {}
        d = dout
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            d, g = layer.backward(d, caches[i], self.backend, self.store,
                                  input_grad=input_grad or i > 0)
            grads.update(g)
        return grads, d

    def loss_and_grads(self, x: np.ndarray, labels: np.ndarray, *,
                       loss: Callable = softmax_cross_entropy, input_grad: bool = False):
        """``(loss, grads, output, dx)`` for one batch."""
        out, caches = self.forward(x, keep_caches=True)
        value, dout = loss(out, labels)
        grads, dx = self.backward(dout, caches, input_grad=input_grad)
        return value, grads, out, dx

    def predict(self, x: np.ndarray, batch_size: int = 256, *,
                on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Predicted class indices (int64, shape (N,)), evaluated in batches;
        ``on_batch(samples_done)`` after each batch (a progress display)."""
        x = np.asarray(x)
        out = []
        for i in range(0, x.shape[0], batch_size):
            out.append(self.forward(x[i:i + batch_size]).argmax(axis=1))
            if on_batch is not None:
                on_batch(min(i + batch_size, x.shape[0]))
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

    def accuracy(self, x: np.ndarray, labels: np.ndarray, batch_size: int = 256, *,
                 on_batch: Callable[[int], None] | None = None) -> float:
        """Fraction of samples classified correctly (``on_batch`` as in :meth:`predict`)."""
        return float(np.mean(self.predict(x, batch_size, on_batch=on_batch)
                             == np.asarray(labels)))


class Trainer:
    """Minibatch training of ``model`` with ``optimizer``; batch order from ``rng``.

    Each epoch draws a fresh permutation of the training set from ``rng``; batches are
    consecutive slices of it (the last one may be shorter).  The full training state --
    store contents, optimizer velocities and settings, the RNG state, the current
    permutation and position -- round-trips through :meth:`state_dict` /
    :meth:`load_state_dict` as ``{"arrays": {name: ndarray}, "meta": JSON-able dict}``,
    so a run resumed from a checkpoint continues bit-identically.

    Parameters
    ----------
    model : Sequential
    optimizer : SGD
    rng : numpy.random.Generator
        Shuffling only (initialisation uses its own Generator, see ``model.initialize``).
    batch_size : int
    """

    def __init__(self, model: Sequential, optimizer: SGD, rng: np.random.Generator,
                 batch_size: int = 32) -> None:
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"Trainer needs a numpy Generator, got {type(rng).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        self.model = model
        self.optimizer = optimizer
        self.rng = rng
        self.batch_size = int(batch_size)
        self.epoch = 0
        self.step_count = 0
        self._order: np.ndarray | None = None
        self._position = 0

    def step(self, x: np.ndarray, labels: np.ndarray) -> float:
        """One optimizer step on the batch ``(x, labels)``; returns the batch loss."""
        loss, grads, _, _ = self.model.loss_and_grads(x, labels)
        self.optimizer.step(grads, self.model.store)
        self.step_count += 1
        return loss

    def next_batch(self, n_samples: int) -> np.ndarray:
        """Indices of the next minibatch of a training set of ``n_samples``."""
        if self._order is not None and self._order.shape[0] != n_samples:
            raise ConfigError(f"training set has {n_samples} samples but this trainer's "
                              f"epoch was drawn for {self._order.shape[0]}")
        if self._order is None or self._position >= n_samples:
            self._order = self.rng.permutation(n_samples)
            self._position = 0
            self.epoch += 1
        idx = self._order[self._position:self._position + self.batch_size]
        self._position += idx.shape[0]
        return idx

    def train_steps(self, x: np.ndarray, labels: np.ndarray, n_steps: int) -> list[float]:
        """``n_steps`` minibatch steps over ``(x, labels)``; returns the batch losses."""
        losses = []
        for _ in range(int(n_steps)):
            idx = self.next_batch(x.shape[0])
            losses.append(self.step(x[idx], labels[idx]))
        return losses

    def train_epoch(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Finish the current epoch (or run a whole new one); returns the mean batch loss."""
        n = x.shape[0]
        if self._order is None or self._position >= n:
            self.next_batch(n)
            self._position = 0
        remaining = -(-(n - self._position) // self.batch_size)
        return float(np.mean(self.train_steps(x, labels, remaining)))

    # --- checkpoint -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"arrays": {...}, "meta": {...}}``: everything needed to resume exactly."""
        arrays = {f"store/{k}": v for k, v in self.model.store.state_dict().items()}
        opt_arrays, opt_meta = self.optimizer.state_dict()
        arrays.update({f"optimizer/{k}": v for k, v in opt_arrays.items()})
        if self._order is not None:
            arrays["trainer/order"] = self._order.copy()
        meta = {"optimizer": opt_meta, "rng": self.rng.bit_generator.state,
                "batch_size": self.batch_size, "epoch": self.epoch,
                "step_count": self.step_count, "position": self._position,
                "has_order": self._order is not None}
        json.dumps(meta)  # must stay JSON-able for the run store
        return {"arrays": arrays, "meta": meta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        try:
            arrays, meta = state["arrays"], state["meta"]
            rng_state = meta["rng"]
        except (KeyError, TypeError):
            raise ConfigError("trainer state must be a dict with 'arrays' and 'meta' "
                              "(as returned by Trainer.state_dict)") from None
        if rng_state.get("bit_generator") != type(self.rng.bit_generator).__name__:
            raise ConfigError(f"checkpoint RNG is {rng_state.get('bit_generator')!r}, this "
                              f"trainer's is {type(self.rng.bit_generator).__name__!r}")
        store = {k[len("store/"):]: v for k, v in arrays.items() if k.startswith("store/")}
        missing = sorted(set(self.model.param_shapes()) - set(store))
        if missing:
            raise ConfigError(f"checkpoint lacks parameters {', '.join(missing)}")
        self.model.store.load_state_dict(store)
        self.optimizer.load_state_dict(
            {k[len("optimizer/"):]: v for k, v in arrays.items()
             if k.startswith("optimizer/")}, meta["optimizer"])
        self.rng.bit_generator.state = rng_state
        self.batch_size = int(meta["batch_size"])
        self.epoch = int(meta["epoch"])
        self.step_count = int(meta["step_count"])
        self._position = int(meta["position"])
        self._order = (np.array(arrays["trainer/order"], dtype=np.int64)
                       if meta["has_order"] else None)
