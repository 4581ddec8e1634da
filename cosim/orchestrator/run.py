"""The training run: every layer step of every minibatch through the simulated hardware.

:func:`train` builds the data, the network and the hardware (``cosim.hw.build_hardware``:
tiles, engines, the device weight store) from a :class:`cosim.config.RunConfig`, then
runs the layer steps.  Each step:

1. ``backend.set_step(step)`` tells the hardware the global step (1-based);
2. forward (``W x``), loss, backward (``W^T delta``) and gradient (``delta x^T``) products
   of every layer go through the hardware backend (optical bank or crossbar tile, PD/TIA
   readout, converters; numpy arrays in SI units cross each domain boundary);
3. the optimizer's update goes to the weight store (programming pulses on the
   memristors); the next step reads back what the devices hold;
4. what the hardware recorded (twin-vs-spice spot checks, netlists of the tiles, sampled
   signals, out-of-range counters) is buffered and committed with the next checkpoint.

A checkpoint (trainer: weights or device states, optimizer, shuffling RNG, epoch position;
backend: its RNG states) is committed atomically at every epoch end, every
``training.checkpoint_every_steps`` steps and on SIGINT (Ctrl-C) or SIGTERM (what batch
schedulers and ``kill`` send): the signal is noted, the current step finishes, the
checkpoint is written and :class:`TrainingInterrupted` is raised (a second signal aborts
at once).  ``resume=True``
continues from the latest checkpoint and gives bit-identical results to an uninterrupted
run.  Random streams: ``numpy.random.SeedSequence(seed).spawn(3)`` gives the
initialisation, shuffling and hardware Generators, in that order.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cosim.config import RunConfig
from cosim.errors import ConfigError, FileAccessError
from cosim.orchestrator.progress import Progress
from cosim.paths import unwritable_reason
from cosim.store.runs import Checkpoint, PendingWrites, RunFile, RunFileError

if TYPE_CHECKING:
    from cosim.design import Design
    from cosim.hw.protocols import Recorder
    from cosim.nn import Sequential, Trainer, WeightStore
    from cosim.nn.data import RunData


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM (``signum``) after writing a checkpoint
    (``step`` steps done)."""

    def __init__(self, step: int, path: Path, signum: int = signal.SIGINT) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name} after step {step}; checkpoint written to "
                         f"{path} (continue with --resume)")
        self.step = step
        self.path = path
        self.signum = int(signum)


@dataclass
class TrainResult:
    """What a run returns (the run file holds everything, this is a convenience).

    Attributes
    ----------
    path : Path
        The run file.
    step_metrics, epoch_metrics : dict of ndarray
        As stored in the run file.
    final_test_acc : float or None
    steps : int
        Steps done in total.
    elapsed_s : float
        Wall time of this call.
    """

    path: Path
    step_metrics: dict[str, np.ndarray]
    epoch_metrics: dict[str, np.ndarray]
    final_test_acc: float | None
    steps: int
    elapsed_s: float
    hardware_totals: dict[str, int] = field(default_factory=dict)


@dataclass
class Prepared:
    """Data, model, hardware and trainer of a run (before any step).  ``backend`` is
    the model's matmul backend and the run's :class:`cosim.hw.protocols.Recorder`."""

    config: RunConfig
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    model: Sequential
    backend: Recorder
    store: WeightStore
    trainer: Trainer
    data: RunData | None = None  # the splits' source (validation split, normalisation)
    design: Design | None = None  # the accelerator the products ran on


def load_data(config: RunConfig):
    """The run's data splits (:func:`cosim.nn.data.load_run_data` of ``config.data``)."""
    from cosim.nn.data import load_run_data

    return load_run_data(config.data)


def rng_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator,
                                    np.random.Generator]:
    """(init, shuffle, hardware) Generators of a run with ``seed``."""
    init, shuffle, hw = np.random.SeedSequence(seed).spawn(3)
    return (np.random.default_rng(init), np.random.default_rng(shuffle),
            np.random.default_rng(hw))


def build_network(config: RunConfig, in_channels: int, num_classes: int):
    """The model of the config (from the registry :data:`cosim.nn.zoo.MODELS`), without
    parameters (float defaults for its hooks); every layer shape is checked here."""
    from cosim.nn.zoo import build_model

    m = config.model
    options: dict[str, Any] = {"num_classes": num_classes, "in_channels": in_channels,
                               "input_size": config.data.input_size, "width": m.width}
    if m.name == "lenet5":
        options["pool"] = m.pool
    elif m.name == "vgg":
        options["config"] = m.vgg_config
    elif m.name == "layers":
        options["layers"] = m.layers
    return build_model(m.name, **options)


def data_description(prep: Prepared) -> dict[str, Any]:
    """What the run file records about the data: split sizes, shape, classes and the
    normalisation applied (with its statistics)."""
    d = prep.data
    return {"dataset": prep.config.data.dataset, "train": int(d.x_train.shape[0]),
            "val": int(d.x_val.shape[0]), "test": int(d.x_test.shape[0]),
            "input_shape": [int(v) for v in d.x_train.shape[1:]],
            "num_classes": int(d.num_classes), "normalization": d.normalization}


def total_steps(config: RunConfig, n_train: int) -> int:
    """Optimizer steps of the whole run: epochs x ceil(n_train / batch), capped by
    ``training.max_steps``."""
    t = config.training
    total = t.epochs * math.ceil(n_train / t.batch_size)
    return min(total, t.max_steps) if t.max_steps else total


def prepare(config: RunConfig, *, design: Design | None = None, engine=None,
            cache=None) -> Prepared:
    """Data, model (initialised), hardware backend + store and trainer of ``config``;
    ``design``: the resolved design (default: ``config.design`` resolved from the
    cards; a resumed run passes the one its file stores)."""
    from cosim.hw.backend import build_hardware
    from cosim.nn import SGD, Trainer

    design = config.design.resolve() if design is None else design
    data = load_data(config)
    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    init_rng, shuffle_rng, hw_rng = rng_streams(config.seed)
    model = build_network(config, data.channels, data.num_classes)
    backend, store = build_hardware(config.hardware, model, hw_rng, design=design,
                                    engine=engine, cache=cache)
    model.backend, model.store = backend, store
    model.initialize(init_rng)
    t = config.training
    sgd = SGD(lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay,
              schedule=t.lr_schedule, total_steps=total_steps(config, x_tr.shape[0]))
    trainer = Trainer(model, sgd, shuffle_rng, t.batch_size)
    return Prepared(config, x_tr, y_tr, x_te, y_te, model, backend, store, trainer, data,
                    design)


@contextmanager
def _stop_flag():
    """Turn SIGINT and SIGTERM into a flag checked between steps (``flag["signum"]``: the
    first one received); a second signal aborts at once."""
    from cosim.processes import Terminated

    flag = {"signum": 0}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["signum"]:
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt
        flag["signum"] = signum

    old = {s: signal.signal(s, handler) for s in _STOP_SIGNALS}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BackendRecorder:
    """Buffers what a matmul backend reports between run-file commits.

    :meth:`drain` (after every step) moves the backend's spot checks, probed product
    errors, netlists, netlist index and (if ``keep_signals``) sampled signals and
    circuit records (the first tile's circuit of each product, with its stimulus) into
    ``pending``; :meth:`stats` (at every checkpoint) adds one ``hardware_stats`` row per
    layer and phase and resets the counters.  A backend without these methods (the
    ideal one) records nothing.  Used by :func:`train` and by :mod:`cosim.torch`.
    """

    def __init__(self, backend: Recorder, pending: PendingWrites) -> None:
        self.backend = backend
        self.pending = pending

    def drain(self, step: int, keep_signals: bool) -> None:
        b, p = self.backend, self.pending
        for rec in b.spot_checks():
            row = {"layer": rec["layer"], "phase": rec["phase"], "step": int(rec["step"]),
                   "max_abs_error": float(rec["max_abs_error"]),
                   "rel_error": float(rec["rel_error"]),
                   "netlist_sha256": rec.get("netlist_sha256", "")}
            if "noise_std_ratio" in rec:
                row["noise_std_ratio"] = float(rec["noise_std_ratio"])
            p.add("spot_checks", row)
        for rec in b.product_errors():
            p.add("product_errors", {"layer": rec["layer"], "phase": rec["phase"],
                                     "step": int(rec["step"]),
                                     "rel_rms_error": float(rec["rel_rms_error"])})
        p.netlists.update(b.netlists())
        for rec in b.tile_netlist_index():
            p.add("netlist_index", {"layer": rec["layer"], "phase": rec["phase"],
                                    "step": int(rec["step"]), "tile": str(rec["tile"]),
                                    "sha256": rec["sha256"], "record": ""})
        for rec in b.circuit_records(keep=keep_signals):
            p.add_record(rec["layer"], rec["phase"], int(rec["step"]), str(rec["tile"]),
                         rec["sha256"], rec["record"])
        signals = b.signal_samples()
        if keep_signals:
            for layer, sig in signals.items():
                if sig:
                    p.signals.append((layer, step, {k: np.asarray(v) for k, v in sig.items()}))

    def stats(self, epoch: int, step: int) -> None:
        from cosim.hw.stats import LOAD_COLUMNS

        for row in self.backend.stats_table():
            self.pending.add("hardware_stats", {
                "epoch": epoch, "step": step, "layer": row["layer"], "phase": row["phase"],
                **{k: int(row.get(k, 0)) for k in ("products", "samples", "saturated_tia",
                                                   "clipped_adc", "below_noise_floor",
                                                   "saturated_weights", "pulses", "retunes",
                                                   "calibration_iterations")},
                **{k: float(row.get(k, 0.0)) for k in LOAD_COLUMNS}})


def train(config: RunConfig | None, out: str | Path, *, resume: bool = False,
          source_text: str = "", overrides: tuple[str, ...] | list[str] = (),
          overwrite: bool = False, progress: Progress | None = None, quiet: bool = False,
          engine=None, cache=None, allow_design_change: bool = False,
          on_step: Callable[[int, dict], None] | None = None,
          epochs: int | None = None) -> TrainResult:
    """Train the network of ``config`` on the simulated hardware; write the run file.

    Parameters
    ----------
    config : RunConfig or None
        The run; with ``resume`` it may be None (the run file's config is used) and must
        otherwise equal the stored one.
    out : str or Path
        The run file (HDF5).
    resume : bool
        Continue ``out`` from its latest checkpoint.
    epochs : int, optional
        With ``resume``: train to this many epochs in total instead of the stored
        ``training.epochs`` (extends a finished run; the stored config is updated).  The
        result equals a straight run of ``epochs`` epochs bit for bit, so it is refused
        where it could not: a cosine learning-rate schedule (its step sizes depend on
        the run's total steps, including the steps already done), a
        ``training.max_steps`` cap, or fewer steps than already done.
    source_text, overrides :
        The TOML text and dotted overrides the config came from (stored for reference).
    overwrite : bool
        Replace an existing ``out`` when not resuming.
    progress : Progress, optional
        Progress display; default: a :class:`Progress` on stderr (``quiet`` silences it).
    engine, cache :
        Passed to ``cosim.hw.build_hardware`` (spice engine, result cache).
    allow_design_change : bool
        Resume although the design resolved from today's cards differs from the one
        the run file stores (the change is recorded in ``/design_changes``); otherwise
        such a resume is refused naming the changed values.
    on_step : callable, optional
        ``on_step(step, row)`` after each step (row: the step's metrics).

    Raises
    ------
    TrainingInterrupted
        On SIGINT or SIGTERM (its ``signum``), after the checkpoint is written.
    """
    from threadpoolctl import threadpool_limits

    t_call = time.perf_counter()
    out = Path(out)
    if resume:
        run = RunFile(out)
        run.checkpoint()    # refuses a corrupt checkpoint before anything is built
        stored = run.read_config()
        if config is not None and config.to_json() != stored.to_json():
            raise ConfigError(f"{out} was started with a different configuration; resume "
                              f"it without a config (or with the same one), or start a new "
                              f"run file")
        config = stored
        if epochs is not None and epochs != stored.training.epochs:
            config = _extended_config(stored, epochs, run)
        design, changes = resume_design(run, config, allow_change=allow_design_change)
    else:
        if epochs is not None:
            raise ConfigError("epochs= is for resume; set training.epochs in the config "
                              "of a new run")
        if config is None:
            raise ConfigError("train needs a config unless resuming")
        if out.is_dir():
            raise FileAccessError(f"run file {out}: is a directory; choose a run file path "
                                  f"(--out), e.g. {out / 'run.h5'}")
        if out.exists() and not overwrite:
            raise RunFileError(f"{out} exists; continue it with resume (--resume), or "
                               f"choose another output file (or overwrite it)")
        reason = unwritable_reason(out.parent)   # before the work, not after it
        if reason is not None:
            raise FileAccessError(f"run file {out}: cannot write to {reason}; choose a "
                                  f"writable run file path (--out)")
        design, changes = config.design.resolve(), []

    with threadpool_limits(config.numerics.blas_threads, user_api="blas"):
        prep = prepare(config, design=design, engine=engine, cache=cache)
        if not resume:   # created only once the data, model and hardware are built
            run = RunFile.create(out, config.to_json(), source_text=source_text,
                                 overrides=overrides, overwrite=overwrite,
                                 data=data_description(prep), design_json=design.to_json())
        else:
            if changes:
                ck = run.checkpoint()
                run.replace_design(design.to_json(), 0 if ck is None else ck.step, changes)
            if config is not stored:
                _check_extension(prep, run, stored)
                run.replace_config(config.to_json(),
                                   f"training.epochs={config.training.epochs}")
        return _loop(prep, run, resume=resume, progress=progress, quiet=quiet,
                     on_step=on_step, t_call=t_call)


def resume_design(run: RunFile, config: RunConfig, *, allow_change: bool = False
                  ) -> tuple[Design, list]:
    """The design a resumed run continues on, and the changes accepted.

    The run file's stored design is compared with ``config.design`` resolved from
    today's cards: equal -> the stored one; different -> refused naming the values
    (:class:`cosim.errors.ConfigError`), unless ``allow_change`` (then today's design,
    with the list of ``[name, stored, now]`` to record).  When today's cards cannot be
    read (a run file copied to a machine without them) the stored design is used.  A
    file written before designs were stored resumes on the resolved design."""
    from cosim.errors import CardError

    stored = run.read_design()
    try:
        current = config.design.resolve()
    except CardError:
        if stored is None:
            raise
        return stored, []
    if stored is None:
        return current, []
    diff = stored.differences(current)
    if not diff:
        return stored, []
    if not allow_change:
        shown = "; ".join(f"{k}: {a!r} in the run file, {b!r} now" for k, a, b in diff[:3])
        more = f" (and {len(diff) - 3} more)" if len(diff) > 3 else ""
        raise ConfigError(f"{run.path}: the design changed since the run started: {shown}"
                          f"{more}; restore the card, or resume with --allow-design-change "
                          f"to continue on the changed design (the change is recorded)")
    return current, [[k, a, b] for k, a, b in diff]


def _extended_config(stored: RunConfig, epochs: int, run: RunFile) -> RunConfig:
    """The stored config with ``training.epochs = epochs`` (refused where the extended
    run could not equal a straight run of that length)."""
    from cosim.config import override_config

    t = stored.training
    why = None
    if t.lr_schedule != "constant":
        why = (f"its learning-rate schedule is {t.lr_schedule!r}, which anneals over the "
               f"run's total steps: the steps already done used step sizes of a "
               f"{t.epochs}-epoch run, so the result could not equal a straight "
               f"{epochs}-epoch run")
    elif t.max_steps:
        why = (f"training.max_steps = {t.max_steps} caps the run's length; more epochs "
               f"would not change it")
    if why is not None:
        raise ConfigError(f"{run.path}: cannot extend to {epochs} epochs: {why}; start a "
                          f"new run with --epochs {epochs} instead")
    return override_config(stored, [f"training.epochs={int(epochs)}"])


def _check_extension(prep: Prepared, run: RunFile, stored: RunConfig) -> None:
    """Refuse an epoch count whose steps end before the checkpoint's."""
    ck = run.checkpoint()
    done = ck.step if ck is not None else 0
    total = total_steps(prep.config, prep.x_train.shape[0])
    if total < done:
        raise ConfigError(f"{run.path}: --epochs {prep.config.training.epochs} means "
                          f"{total} steps, but {done} are already done (the run file "
                          f"holds {stored.training.epochs} planned epochs); give at least "
                          f"{math.ceil(done * prep.config.training.epochs / total)}")


def _loop(prep: Prepared, run: RunFile, *, resume: bool, progress, quiet: bool, on_step,  # noqa: C901 - the training loop
          t_call: float) -> TrainResult:
    config, model, trainer, backend = prep.config, prep.model, prep.trainer, prep.backend
    t = config.training
    n = prep.x_train.shape[0]
    spe = math.ceil(n / t.batch_size)
    total = total_steps(config, n)

    steps_hist: dict[str, list] = {k: [] for k in ("step", "epoch", "loss", "train_acc",
                                                   "time_s")}
    done = 0
    if resume:
        ck = run.checkpoint()
        if ck is not None:
            trainer.load_state_dict(ck.trainer)
            # an extended run (resume with more epochs) keeps its schedule, only its
            # recorded length changes (constant schedule; see _extended_config)
            trainer.optimizer.total_steps = total
            if ck.backend is not None:
                backend.load_state_dict(ck.backend)
            done = ck.step
        for k, v in run.step_metrics().items():
            steps_hist[k] = v.tolist()
        if len(steps_hist["step"]) != done:
            raise RunFileError(f"{run.path}: {len(steps_hist['step'])} step rows but the "
                               f"checkpoint is at step {done}; the file is inconsistent")

    pending = PendingWrites()
    rec = BackendRecorder(backend, pending)
    if progress is None:
        progress = Progress(total, label=f"{run.path.name}: ", quiet=quiet, initial=done)
    if resume:
        progress.message(f"resuming at step {done}/{total}")
    run.commit(pending, None, status="running")

    def checkpoint(status: str, epoch: int, evaluation: dict | None = None) -> None:
        rec.stats(epoch, done)
        ck = Checkpoint(step=done, epoch=epoch, trainer=trainer.state_dict(),
                        backend=backend.state_dict(),
                        time_s=float(sum(steps_hist["time_s"])), evaluation=evaluation)
        run.commit(pending, ck, status=status)

    with _stop_flag() as flag:
        while done < total:
            step = done + 1
            epoch = (step - 1) // spe + 1
            t0 = time.perf_counter()
            backend.set_step(step)
            probe = t.error_probe_every_steps
            backend.set_probe(bool(probe) and (step % probe == 0 or step == 1))
            idx = trainer.next_batch(n)
            xb, yb = prep.x_train[idx], prep.y_train[idx]
            loss, grads, outp, _ = model.loss_and_grads(xb, yb)
            trainer.optimizer.step(grads, model.store)
            trainer.step_count += 1
            backend.set_probe(False)        # (not the test-set evaluation)
            acc = float(np.mean(outp.argmax(axis=1) == yb))
            dt = time.perf_counter() - t0
            done = step
            row = {"step": step, "epoch": epoch, "loss": float(loss), "train_acc": acc,
                   "time_s": dt}
            for k, v in row.items():
                steps_hist[k].append(v)
            pending.add("metrics/step", row)
            sig_every = t.signal_every_steps
            rec.drain(step, keep_signals=bool(sig_every) and (step % sig_every == 0
                                                             or step == 1))
            progress.step(step, epoch, float(loss), acc)
            if on_step is not None:
                on_step(step, row)
            epoch_end = step % spe == 0 or step == total
            if epoch_end:
                t_eval = time.perf_counter()
                evaluation = copy.deepcopy(backend.state_dict())  # what cosim eval repeats
                test_acc = model.accuracy(prep.x_test, prep.y_test, t.eval_batch_size)
                val_acc = None
                if prep.data is not None and prep.data.x_val.shape[0]:
                    val_acc = model.accuracy(prep.data.x_val, prep.data.y_val,
                                             t.eval_batch_size)
                rec.drain(step, keep_signals=False)
                sel = [i for i, e in enumerate(steps_hist["epoch"]) if e == epoch]
                ep_row = {"epoch": epoch,
                          "train_loss": float(np.mean([steps_hist["loss"][i] for i in sel])),
                          "train_acc": float(np.average(
                              [steps_hist["train_acc"][i] for i in sel],
                              weights=[_batch_len(steps_hist["step"][i], spe, n,
                                                  t.batch_size) for i in sel])),
                          "test_acc": float(test_acc),
                          "time_s": float(sum(steps_hist["time_s"][i] for i in sel)
                                          + time.perf_counter() - t_eval)}
                if val_acc is not None:  # a column only in runs with a validation split
                    ep_row["val_acc"] = float(val_acc)
                pending.add("metrics/epoch", ep_row)
                checkpoint("complete" if step == total else "running", epoch, evaluation)
                progress.epoch(epoch, t.epochs, ep_row["train_loss"], ep_row["train_acc"],
                               ep_row["test_acc"], step, ep_row["time_s"])
            elif t.checkpoint_every_steps and step % t.checkpoint_every_steps == 0:
                checkpoint("running", epoch)
            if flag["signum"] and done < total:
                if not epoch_end:
                    checkpoint("interrupted", epoch)
                else:
                    run.commit(pending, None, status="interrupted")
                progress.message(f"interrupted after step {done}; checkpoint written")
                progress.close()
                raise TrainingInterrupted(done, run.path, flag["signum"])
    if done == total and run.attrs().get("status") != "complete":
        run.commit(pending, None, status="complete")
    epochs = run.epoch_metrics()
    summary = run.summary()
    return TrainResult(path=run.path, step_metrics=run.step_metrics(), epoch_metrics=epochs,
                       final_test_acc=(float(epochs["test_acc"][-1]) if epochs["epoch"].size
                                       else None),
                       steps=done, elapsed_s=time.perf_counter() - t_call,
                       hardware_totals=summary["hardware_totals"])


def _batch_len(step: int, spe: int, n: int, batch_size: int) -> int:
    """Samples in the batch of global step ``step`` (the last batch of an epoch is short)."""
    pos = (step - 1) % spe
    return min(batch_size, n - pos * batch_size)
