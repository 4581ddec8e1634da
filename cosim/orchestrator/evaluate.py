"""Stored weights of a run: evaluate them on any hardware, export them.

:func:`evaluate` rebuilds a run's network from its run file, loads the latest checkpoint
and measures accuracy on the test (or validation) split.  On the run's own hardware it
also restores the backend state the run had just before that checkpoint's test-set
evaluation, so it repeats the recorded figure exactly (noise included).  With other
hardware settings (``--design ideal``, ``--set design.converters.adc_bits=8`` ...) the
weights the devices held are programmed into the new hardware, which starts from the
run's seed.  :func:`stored_weights` gives those weights as float arrays (what
``cosim export`` writes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cosim.errors import ConfigError


@dataclass(frozen=True)
class EvalResult:
    """Accuracy of stored weights on one data split.

    Attributes
    ----------
    accuracy : float
    correct, total : int
    interval : (float, float)
        95 % Wilson score interval of the accuracy (binomial, ``total`` trials).
    split : {"test", "val"}
    same_hardware : bool
        True when evaluated on the run's own hardware settings (and its recorded noise
        state: the figure then equals the run's own evaluation at that checkpoint).
    architecture : str
    step, epoch : int
        Of the checkpoint the weights come from.
    after_s : float
        Retention time (s) the weight devices drifted for before the evaluation.
    """

    accuracy: float
    correct: int
    total: int
    interval: tuple[float, float]
    split: str
    same_hardware: bool
    architecture: str
    step: int
    epoch: int
    after_s: float = 0.0


def wilson_interval(correct: int, total: int, z: float = 1.959963984540054
                    ) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (E. B. Wilson, JASA 22:209, 1927);
    the default ``z`` gives 95 %."""
    if total <= 0:
        raise ConfigError("an accuracy interval needs at least one evaluated image")
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _restored(path: Path, config):
    """The run prepared with ``config`` and its latest checkpoint loaded."""
    from cosim.orchestrator.run import prepare
    from cosim.store.runs import RunFile

    run = RunFile(path)
    ck = run.checkpoint()
    if ck is None:
        raise ConfigError(f"{path} has no checkpoint yet (no step finished); nothing to "
                          "evaluate")
    prep = prepare(config, design=run.read_design())   # the design the run trained on
    prep.trainer.load_state_dict(ck.trainer)
    return prep, ck


def stored_weights(path: str | Path) -> tuple[Any, dict[str, np.ndarray]]:
    """``(config, {name: array})``: the parameters the run's latest checkpoint holds, as
    the network used them (a device store's weights are what its devices hold)."""
    from cosim.store.runs import RunFile

    path = Path(path)
    config = RunFile(path).read_config()
    prep, _ = _restored(path, config)
    store = prep.model.store
    return config, {name: np.array(store.weight(name)) for name in store.names()}


def evaluate(path: str | Path, overrides: list[str] | tuple[str, ...] = (), *,
             split: Literal["test", "val"] = "test", after_s: float = 0.0,
             on_batch: Callable[[int, int], None] | None = None) -> EvalResult:
    """Accuracy of the run's stored weights, on its own or on other hardware.

    Parameters
    ----------
    path : str or Path
        The run file.
    overrides : sequence of str
        Dotted overrides of the run's config (``design.*`` and ``hardware.*`` only: the
        network and the data stay the run's), e.g. ``["design.name=ideal"]`` (float
        arithmetic) or ``["design.converters.adc_bits=10"]``.
    split : {"test", "val"}
    after_s : float
        Retention time (s): the weight devices drift for this long after the checkpoint
        (``store.after(after_s)``, the device's drift law; :mod:`cosim.hw.policies`)
        before the evaluation.  Needs a weight store with a retention model.
    on_batch : callable, optional
        ``on_batch(images_done, images_total)`` after each evaluation batch (progress).
    """
    from cosim.config import override_config
    from cosim.orchestrator.run import prepare
    from cosim.store.runs import RunFile

    path = Path(path)
    for item in overrides:
        if not item.strip().startswith(("hardware.", "design.")):
            raise ConfigError(f"override {item!r}: evaluation changes the design or the "
                              "hardware simulation only (design.NAME=VALUE, "
                              "hardware.KEY=VALUE); the network and data are the run's")
    run_config = RunFile(path).read_config()
    config = override_config(run_config, overrides) if overrides else run_config
    same = config.hardware == run_config.hardware and config.design == run_config.design
    if same:
        prep, ck = _restored(path, config)
        if ck.evaluation is not None and split == "test":
            prep.backend.load_state_dict(ck.evaluation)
    else:
        _, weights = stored_weights(path)
        prep = prepare(config)
        for name, value in weights.items():
            prep.model.store.set_weight(name, value)
        ck = RunFile(path).checkpoint()
    if after_s:
        _let_weights_drift(prep.model.store, after_s)
    if split == "val":
        x, y = prep.data.x_val, prep.data.y_val
        if x.shape[0] == 0:
            raise ConfigError(f"{path}: the run has no validation split (data.val_fraction "
                              "was 0); evaluate on the test split")
    else:
        x, y = prep.x_test, prep.y_test
    acc = prep.model.accuracy(x, y, config.training.eval_batch_size,
                              on_batch=None if on_batch is None
                              else lambda done: on_batch(done, int(x.shape[0])))
    total = int(x.shape[0])
    correct = int(round(acc * total))
    return EvalResult(float(acc), correct, total, wilson_interval(correct, total), split,
                      same, config.design.name, ck.step, ck.epoch, float(after_s))


def _let_weights_drift(store, after_s: float) -> None:
    """``store.after(after_s)``, or a clear error for a store without retention."""
    if isinstance(after_s, bool) or not isinstance(after_s, (int, float)) or \
            not math.isfinite(after_s) or after_s < 0:
        raise ConfigError(f"--after {after_s!r}: give a retention time >= 0 in s")
    after = getattr(store, "after", None)
    if after is None:
        raise ConfigError(f"--after: the run's weights are held by a "
                          f"{type(store).__name__}, which has no retention model; evaluate "
                          "a run whose weights are on a weight device with a drift law "
                          "(a weight-device card, cosim.hw.policies.make_weight_store)")
    after(float(after_s))
