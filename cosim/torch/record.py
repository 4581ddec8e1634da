"""Run files for bridged training: :class:`Recorder` (called per step from any training
loop) and :func:`train` (a complete loop over a labelled image set).

The run file has the layout of ``cosim train``'s (:mod:`cosim.store.runs`): step and
epoch metrics, the backend's spot checks (twin vs ngspice), product-error probes,
hardware counters per layer and phase, the tile netlists and their index, sampled
signals, and a checkpoint at every epoch end.  What the backend reports is gathered by
the orchestrator's :class:`cosim.orchestrator.run.BackendRecorder`, exactly as in
``cosim train``.  ``cosim runs show RUN.h5`` reads it; the stored config's ``model``
section is ``{"name": "torch", ...}`` (the model's class, its hardware layers and
``repr``), so ``cosim train --resume`` refuses such a file.

Checkpoint (``trainer`` group): ``store/<key>`` (weights or device states, biases),
``optimizer/<key>`` (velocities), ``torch/<key>`` (the model's other state: digital
parameters, normalisation statistics), meta with the optimizer settings and position;
``backend`` group: the backend's RNG states and counters.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cosim.errors import ConfigError
from cosim.nn.backend import bias_name
from cosim.orchestrator.progress import Progress
from cosim.orchestrator.run import BackendRecorder, TrainResult
from cosim.store.runs import Checkpoint, PendingWrites, RunFile
from cosim.torch.convert import bridge_of
from cosim.torch.layers import HardwareConv2d
from cosim.torch.optim import SGD


def run_config_json(model: nn.Module, optimizer: SGD, training: dict[str, Any]) -> str:
    """The config text a bridged run stores: seed, design, hardware (every field), numerics,
    the model (``name = "torch"``, class, hardware layers and their weight matrices,
    ``repr``) and the training settings (optimizer and loop)."""
    bridge = bridge_of(model)
    layers = {name: {"kind": "conv2d" if isinstance(layer, HardwareConv2d) else "linear",
                     "weight_shape": list(layer.matrix_shape()),
                     "bias": layer.bias is not None}
              for name, layer in bridge.layers.items()}
    _, opt_meta = optimizer.state_dict()
    opt = {k: v for k, v in opt_meta.items() if k not in ("steps", "kind")}
    cfg: dict[str, Any] = {
        "seed": bridge.seed,
        "design": {"name": bridge.design.name,
                   "set": {k: v for k, v in bridge.design.overrides}},
        "hardware": bridge.config.as_dict(),
        "model": {"name": "torch", "class": type(model).__qualname__,
                  "hardware_layers": layers, "description": repr(model)},
        "training": {"optimizer": opt_meta["kind"], **opt, **training},
    }
    if bridge.run_config is not None:
        cfg["numerics"] = bridge.run_config.to_dict()["numerics"]
    return json.dumps(cfg, sort_keys=True, indent=1, allow_nan=False)


class Recorder:
    """Writes the run file of a training loop over a converted model.

    Call :meth:`begin_step` before the forward pass of every training step,
    :meth:`end_step` after ``optimizer.step()``, :meth:`end_epoch` after evaluating at
    the end of an epoch, and :meth:`close` at the end::

        rec = Recorder("run.h5", model, opt, epochs=3, batch_size=32)
        for epoch in range(3):
            for xb, yb in batches:
                rec.begin_step()
                out = model(xb); loss = F.cross_entropy(out, yb)
                opt.zero_grad(); loss.backward(); opt.step()
                rec.end_step(loss.item(), (out.argmax(1) == yb).float().mean().item(),
                             len(yb))
            rec.end_epoch(test_acc=evaluate(model, x_test, y_test))
        rec.close()

    Parameters
    ----------
    out : str or Path
        The run file (HDF5); an existing file is refused unless ``overwrite``.
    model : torch.nn.Module
        Returned by :func:`cosim.torch.convert`.
    optimizer : cosim.torch.SGD
    training : dict, optional
        Loop settings stored with the config (e.g. ``epochs``, ``batch_size``;
        ``epochs`` is what ``cosim runs show`` reports as planned).
    data : dict, optional
        Description of the data (stored as the run's ``data`` attribute).
    overwrite : bool
    signal_every_steps : int
        Store the backend's sampled signals every K steps and at step 1 (0 = never).
    error_probe_every_steps : int
        Every K steps and at step 1, compare every product with the exact float product
        of the same operands (table ``product_errors``; 0 = never).
    progress : cosim.orchestrator.Progress, optional
        Progress display (none by default).
    """

    def __init__(self, out: str | Path, model: nn.Module, optimizer: SGD, *,
                 training: dict[str, Any] | None = None, data: dict | None = None,
                 overwrite: bool = False, signal_every_steps: int = 10,
                 error_probe_every_steps: int = 10, progress: Progress | None = None) -> None:
        if not isinstance(optimizer, SGD):
            raise ConfigError(f"Recorder needs a cosim.torch.SGD, got "
                              f"{type(optimizer).__name__}")
        for what, v in (("signal_every_steps", signal_every_steps),
                        ("error_probe_every_steps", error_probe_every_steps)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"Recorder: {what} must be an integer >= 0, got {v!r}")
        self.model = model
        self.optimizer = optimizer
        self.bridge = bridge_of(model)
        if self.bridge is not optimizer.bridge:
            raise ConfigError("Recorder: the optimizer belongs to another converted model")
        self.backend = self.bridge.backend
        self.signal_every_steps = signal_every_steps
        self.error_probe_every_steps = error_probe_every_steps
        self.progress = progress
        self.training = dict(training or {})
        self._t_created = time.perf_counter()
        self.run = RunFile.create(out, run_config_json(model, optimizer, self.training),
                                  overwrite=overwrite, data=data,
                                  design_json=self.bridge.design.to_json())
        self.pending = PendingWrites()
        self.recorder = BackendRecorder(self.backend, self.pending)
        self.step = 0
        self.epoch = 1
        self._rows: list[tuple[dict, int]] = []       # this epoch's step rows, batch sizes
        self._time_s = 0.0
        self._t0: float | None = None
        self.run.commit(self.pending, None, status="running")

    # --- per step -------------------------------------------------------------------
    def begin_step(self) -> int:
        """Tell the backend the global step (1-based) of the products that follow, and
        whether to probe them; returns that step."""
        if self._t0 is not None:
            raise ConfigError("Recorder.begin_step called twice; call end_step after each "
                              "training step")
        self.step += 1
        self._t0 = time.perf_counter()
        self.backend.set_step(self.step)
        k = self.error_probe_every_steps
        self.backend.set_probe(bool(k) and (self.step % k == 0 or self.step == 1))
        return self.step

    def end_step(self, loss: float, train_acc: float, batch_size: int = 1) -> dict:
        """Record the step's metrics and what the backend reported; returns the row."""
        if self._t0 is None:
            raise ConfigError("Recorder.end_step without begin_step")
        self.backend.set_probe(False)
        dt = time.perf_counter() - self._t0
        self._t0 = None
        self._time_s += dt
        row = {"step": self.step, "epoch": self.epoch, "loss": float(loss),
               "train_acc": float(train_acc), "time_s": dt}
        self.pending.add("metrics/step", row)
        self._rows.append((row, int(batch_size)))
        k = self.signal_every_steps
        self.recorder.drain(self.step, keep_signals=bool(k) and (self.step % k == 0
                                                                 or self.step == 1))
        if self.progress is not None:
            self.progress.step(self.step, self.epoch, float(loss), float(train_acc))
        return row

    def end_epoch(self, test_acc: float, val_acc: float | None = None, *,
                  eval_time_s: float = 0.0) -> dict:
        """Close the epoch: its metrics row (training loss and accuracy averaged over
        its steps, weighted by batch size), the hardware counters and a checkpoint,
        committed atomically.  Returns the row."""
        if not self._rows:
            raise ConfigError("Recorder.end_epoch: no step in this epoch")
        self.recorder.drain(self.step, keep_signals=False)   # (the evaluation's products)
        rows, sizes = [r for r, _ in self._rows], [n for _, n in self._rows]
        ep_row = {"epoch": self.epoch,
                  "train_loss": float(np.mean([r["loss"] for r in rows])),
                  "train_acc": float(np.average([r["train_acc"] for r in rows],
                                                weights=sizes)),
                  "test_acc": float(test_acc),
                  "time_s": float(sum(r["time_s"] for r in rows) + eval_time_s)}
        if val_acc is not None:
            ep_row["val_acc"] = float(val_acc)
        self.pending.add("metrics/epoch", ep_row)
        self.recorder.stats(self.epoch, self.step)
        self.run.commit(self.pending, self.checkpoint(), status="running")
        if self.progress is not None:
            self.progress.epoch(self.epoch, int(self.training.get("epochs", self.epoch)),
                                ep_row["train_loss"], ep_row["train_acc"],
                                ep_row["test_acc"], self.step, ep_row["time_s"])
        self._rows.clear()
        self.epoch += 1
        return ep_row

    def checkpoint(self) -> Checkpoint:
        """The state after the present step (see the module docstring)."""
        arrays = {f"store/{k}": v for k, v in self.bridge.store.state_dict().items()}
        opt_arrays, opt_meta = self.optimizer.state_dict()
        arrays.update({f"optimizer/{k}": v for k, v in opt_arrays.items()})
        mirrors = {id(p) for _, p in self.bridge.parameters()}
        for key, t in self.model.state_dict(keep_vars=True).items():
            if id(t) not in mirrors:
                arrays[f"torch/{key}"] = t.detach().cpu().numpy().copy()
        meta = {"optimizer": opt_meta, "step_count": self.step, "epoch": self.epoch,
                "bridge": "cosim.torch",
                "store_keys": [k for k in self.bridge.layers] +
                              [bias_name(k) for k, layer in self.bridge.layers.items()
                               if layer.bias is not None]}
        return Checkpoint(step=self.step, epoch=self.epoch,
                          trainer={"arrays": arrays, "meta": meta},
                          backend=self.backend.state_dict(),
                          time_s=self._time_s)

    def close(self, status: str = "complete") -> TrainResult:
        """Commit what is pending with ``status``; returns the run's :class:`TrainResult`."""
        self.recorder.drain(self.step, keep_signals=False)
        self.run.commit(self.pending, None, status=status)
        epochs = self.run.epoch_metrics()
        return TrainResult(path=self.run.path, step_metrics=self.run.step_metrics(),
                           epoch_metrics=epochs,
                           final_test_acc=(float(epochs["test_acc"][-1])
                                           if epochs["epoch"].size else None),
                           steps=self.step,
                           elapsed_s=time.perf_counter() - self._t_created,
                           hardware_totals=self.run.summary()["hardware_totals"])


def _as_tensor(a, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return t if dtype is None else t.to(dtype)


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def evaluate(model: nn.Module, x, y, batch_size: int = 256) -> float:
    """Fraction of ``x`` (N, ...) that ``model`` classifies as ``y`` (N,), in eval mode
    and without gradients (the model's mode is restored)."""
    dtype = _model_dtype(model)
    x, y = _as_tensor(x, dtype), _as_tensor(y).long()
    was_training = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for i in range(0, x.shape[0], batch_size):
                out = model(x[i:i + batch_size])
                correct += int((out.argmax(dim=1) == y[i:i + batch_size]).sum())
    finally:
        model.train(was_training)
    return correct / max(1, x.shape[0])


def _split(data, name: str):
    if isinstance(data, (tuple, list)):
        order = ("x_train", "y_train", "x_test", "y_test")
        if len(data) != 4:
            raise ConfigError("train: give data as (x_train, y_train, x_test, y_test) or "
                              "an object with those attributes (cosim.nn.data.Dataset)")
        return data[order.index(name)]
    try:
        return getattr(data, name)
    except AttributeError:
        raise ConfigError(f"train: data has no {name}; give (x_train, y_train, x_test, "
                          f"y_test) or a cosim.nn.data.Dataset") from None


def train(model: nn.Module, optimizer: SGD, data, out: str | Path, *, epochs: int,
          batch_size: int, rng: np.random.Generator,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
          eval_batch_size: int = 256, overwrite: bool = False,
          signal_every_steps: int = 10, error_probe_every_steps: int = 10,
          quiet: bool = True, on_step: Callable[[int, dict], None] | None = None
          ) -> TrainResult:
    """Train a converted model on labelled data and write the run file.

    Each epoch draws a permutation of the training set from ``rng`` and takes
    consecutive minibatches of it (the last may be shorter), as ``cosim train`` does;
    every step runs forward, loss, ``backward()`` and ``optimizer.step()`` between
    :meth:`Recorder.begin_step` and :meth:`Recorder.end_step`; every epoch ends with the
    test accuracy (:func:`evaluate`, products on the hardware too) and a checkpoint.

    Parameters
    ----------
    model : torch.nn.Module
        Returned by :func:`cosim.torch.convert`.
    optimizer : cosim.torch.SGD
    data : tuple or object
        ``(x_train, y_train, x_test, y_test)`` (numpy arrays or tensors; images (N, C,
        H, W), integer labels (N,)), or an object with those attributes such as
        :class:`cosim.nn.data.Dataset`.  Inputs are cast to the model's dtype.
    out : str or Path
        The run file.
    epochs, batch_size : int
    rng : numpy.random.Generator
        Minibatch order.
    loss_fn : callable, optional
        ``loss_fn(output, labels)``; default ``torch.nn.functional.cross_entropy``.
    eval_batch_size : int
    overwrite, signal_every_steps, error_probe_every_steps :
        As for :class:`Recorder`.
    quiet : bool
        No progress display (the default); False shows it on stderr.
    on_step : callable, optional
        ``on_step(step, row)`` after every step.

    Returns
    -------
    cosim.orchestrator.TrainResult
    """
    from threadpoolctl import threadpool_limits

    for what, v in (("epochs", epochs), ("batch_size", batch_size),
                    ("eval_batch_size", eval_batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"train: {what} must be an integer >= 1, got {v!r}")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError("train needs rng=numpy.random.default_rng(seed) (batch order)")
    loss_fn = torch.nn.functional.cross_entropy if loss_fn is None else loss_fn
    dtype = _model_dtype(model)
    x_tr = _as_tensor(_split(data, "x_train"), dtype)
    y_tr = _as_tensor(_split(data, "y_train")).long()
    x_te, y_te = _split(data, "x_test"), _split(data, "y_test")
    n = int(x_tr.shape[0])
    if n == 0 or y_tr.shape[0] != n:
        raise ConfigError(f"train: {n} training inputs and {int(y_tr.shape[0])} labels; "
                          f"give as many labels as inputs (and at least one)")
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    progress = Progress(total, label=f"{Path(out).name}: ", quiet=quiet)
    description = {"train": n, "test": int(np.shape(x_te)[0]),
                   "input_shape": [int(s) for s in x_tr.shape[1:]],
                   "dataset": str(getattr(data, "name", "user data"))}
    bridge = bridge_of(model)
    threads = (bridge.run_config.numerics.blas_threads if bridge.run_config is not None
               else 1)
    with threadpool_limits(threads, user_api="blas"):
        rec = Recorder(out, model, optimizer, overwrite=overwrite, data=description,
                       training={"epochs": epochs, "batch_size": batch_size,
                                 "eval_batch_size": eval_batch_size,
                                 "loss": getattr(loss_fn, "__name__", repr(loss_fn))},
                       signal_every_steps=signal_every_steps,
                       error_probe_every_steps=error_probe_every_steps, progress=progress)
        model.train()
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(n))
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                xb, yb = x_tr[idx], y_tr[idx]
                step = rec.begin_step()
                out_b = model(xb)
                loss = loss_fn(out_b, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                acc = float((out_b.detach().argmax(dim=1) == yb).float().mean())
                row = rec.end_step(float(loss.detach()), acc, int(yb.shape[0]))
                if on_step is not None:
                    on_step(step, row)
            t_eval = time.perf_counter()
            test_acc = evaluate(model, x_te, y_te, eval_batch_size)
            rec.end_epoch(test_acc, eval_time_s=time.perf_counter() - t_eval)
        return rec.close("complete")
