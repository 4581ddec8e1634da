"""The training orchestrator: ideal == plain numpy, exact resume, interrupts, run contents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.config import load_config
from cosim.orchestrator import TrainingInterrupted, train
from cosim.store.runs import RunFile
from tests.helpers import IDEALISED_OVERRIDES

SMALL = ["model.width=0.34", "data.train_limit=96", "data.test_limit=64",
         "training.batch_size=32", "training.epochs=2", "training.signal_every_steps=2"]


def small_config(*extra):
    return load_config(None, SMALL + list(extra))


def _weights(path):
    ck = RunFile(path).checkpoint()
    return {k: v for k, v in ck.trainer["arrays"].items()}


def _same_metrics(a, b):
    ra, rb = RunFile(a), RunFile(b)
    for table, cols in (("metrics/step", ("step", "epoch", "loss", "train_acc")),
                        ("metrics/epoch", ("epoch", "train_loss", "train_acc", "test_acc"))):
        ta, tb = ra.table(table), rb.table(table)
        for c in cols:
            assert np.array_equal(ta[c], tb[c]), (table, c, ta[c], tb[c])


def _same_state(a, b):
    wa, wb = _weights(a), _weights(b)
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k
    ca, cb = RunFile(a).checkpoint(), RunFile(b).checkpoint()
    assert ca.trainer["meta"] == cb.trainer["meta"]
    assert (ca.backend or {}).get("meta") == (cb.backend or {}).get("meta")


def test_ideal_architecture_equals_plain_numpy_training_bit_for_bit(tmp_path):
    from cosim.nn import SGD, Trainer, lenet5, load_digits_dataset, resize_images

    cfg = small_config("design.name=ideal", "training.epochs=3")
    res = train(cfg, tmp_path / "ideal.h5", quiet=True)

    # plain cosim.nn training written independently: the documented RNG streams are
    # SeedSequence(seed).spawn(3) -> (init, shuffle, hardware)
    data = load_digits_dataset(0.2, 0)
    x, y = resize_images(data.x_train[:96], 32), data.y_train[:96]
    xt, yt = resize_images(data.x_test[:64], 32), data.y_test[:64]
    init, shuffle, _ = np.random.SeedSequence(0).spawn(3)
    with threadpool_limits(1, user_api="blas"):
        model = lenet5(width=0.34, rng=np.random.default_rng(init))
        trainer = Trainer(model, SGD(lr=0.05, momentum=0.9), np.random.default_rng(shuffle), 32)
        losses, accs = [], []
        for _ in range(3):                      # 96 samples / batch 32: 3 steps per epoch
            losses += trainer.train_steps(x, y, 3)
            accs.append(model.accuracy(xt, yt))
    w = _weights(res.path)
    for name, value in model.store.state_dict().items():
        assert np.array_equal(w[f"store/{name}"], value), name
    assert np.array_equal(res.epoch_metrics["test_acc"], np.array(accs))
    assert np.array_equal(res.step_metrics["loss"], np.array(losses))
    assert res.steps == 9 and trainer.step_count == 9


def test_interrupt_and_resume_is_bit_identical_on_bplight(tmp_path):
    """SIGINT mid-epoch -> checkpoint -> resume gives the uninterrupted run exactly
    (device states, noise RNG, optimizer, data order, metrics)."""
    cfg = small_config("design.name=bplight", "hardware.spot_check=0.0")
    straight = train(cfg, tmp_path / "straight.h5", quiet=True)

    def interrupt_at_4(step, row):
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted) as exc:
        train(cfg, tmp_path / "split.h5", quiet=True, on_step=interrupt_at_4)
    assert exc.value.step == 4
    split = RunFile(tmp_path / "split.h5")
    assert split.attrs()["status"] == "interrupted" and split.checkpoint().step == 4
    assert split.step_metrics()["step"].tolist() == [1, 2, 3, 4]
    resumed = train(None, tmp_path / "split.h5", resume=True, quiet=True)
    assert resumed.steps == straight.steps == 6
    _same_metrics(straight.path, resumed.path)
    _same_state(straight.path, resumed.path)
    # the hardware really was in the loop: counters per layer and phase were recorded
    stats = RunFile(resumed.path).table("hardware_stats")
    assert {"forward", "backward", "gradient"} <= set(stats["phase"].tolist())
    assert stats["samples"].sum() > 0
    assert RunFile(resumed.path).signals()  # sampled optical powers / currents / codes


def _cli(*args):
    return [sys.executable, "-m", "cosim.cli.main", *args]


def _wait_for_step(path, step, proc, timeout=60.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read()}")
        try:
            if path.exists() and RunFile(path).attrs().get("last_step", 0) >= step:
                return
        except Exception:
            pass  # replaced while being read: try again
        time.sleep(0.02)
    raise AssertionError("timed out")


CLI_COMMON = [f"--set={s}" for s in SMALL] + [
    "--set=model.width=1.0", "--set=data.train_limit=256", "--set=training.epochs=3",
    "--set=training.checkpoint_every_steps=1", "--design=ideal", "--quiet"]


@pytest.fixture(scope="module")
def straight_cli_run(tmp_path_factory):
    straight = tmp_path_factory.mktemp("straight") / "straight.h5"
    subprocess.run(_cli("train", *CLI_COMMON, "--out", str(straight)), check=True,
                   capture_output=True, timeout=300)
    return straight


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_cli_ctrl_c_and_sigkill_then_resume_match_an_uninterrupted_run(tmp_path, sig,
                                                                       straight_cli_run):
    """Real signals to a `cosim train` process: SIGINT writes a checkpoint and exits 130,
    SIGTERM (what schedulers send) likewise with 143; SIGKILL leaves the file at its last
    checkpoint, readable. Resuming any of them gives the uninterrupted run's weights and
    metrics exactly."""
    straight = straight_cli_run
    cut = tmp_path / "cut.h5"
    proc = subprocess.Popen(_cli("train", *CLI_COMMON, "--out", str(cut)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_step(cut, 2, proc)
    os.kill(proc.pid, sig)
    rc = proc.wait(timeout=60)
    total = RunFile(straight).step_metrics()["step"].size
    run = RunFile(cut)
    ck = run.checkpoint()
    assert 2 <= ck.step < total, f"the signal came too late ({ck.step} of {total} steps)"
    assert run.step_metrics()["step"].tolist() == list(range(1, ck.step + 1))
    if sig in (signal.SIGINT, signal.SIGTERM):
        assert rc == 128 + sig and run.attrs()["status"] == "interrupted"
        assert f"interrupted by {sig.name} after step {ck.step}" in proc.stderr.read()
    else:
        assert rc == -signal.SIGKILL and run.attrs()["status"] == "running"
    out = subprocess.run(_cli("train", "--resume", "--out", str(cut), "--quiet"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    _same_metrics(straight, cut)
    _same_state(straight, cut)
    assert RunFile(cut).attrs()["status"] == "complete"


def test_product_error_probe_records_every_product_and_changes_nothing(tmp_path):
    """training.error_probe_every_steps: each probed product's recorded error equals
    ||Y_hw - U A^T|| / ||U A^T|| recomputed here from the operands; probing leaves the
    run bit-identical; 4-bit converters show up as larger product errors."""
    # (the idealised device and uncoupled rings: the bounds below are those of the 16-bit
    # converters and the readout; crosstalk's margin halves the signal, see docs)
    probed = train(small_config("design.name=bplight", "hardware.spot_check=0.0",
                                "training.error_probe_every_steps=2", *IDEALISED_OVERRIDES),
                   tmp_path / "probed.h5", quiet=True)
    plain = train(small_config("design.name=bplight", "hardware.spot_check=0.0",
                               "training.error_probe_every_steps=0", *IDEALISED_OVERRIDES),
                  tmp_path / "plain.h5", quiet=True)
    _same_metrics(probed.path, plain.path)
    _same_state(probed.path, plain.path)
    errs = RunFile(probed.path).table("product_errors")
    assert sorted(set(errs["step"].tolist())) == [1, 2, 4, 6]     # step 1, then every 2nd
    assert RunFile(plain.path).table("product_errors")["step"].size == 0
    # forward of every layer, backward of every layer but the first, gradient of all
    layers = ["conv1", "conv2", "fc1", "fc2", "fc3"]
    step1 = errs["step"] == 1
    got = set(zip(errs["layer"][step1].tolist(), errs["phase"][step1].tolist()))
    assert got == ({(l, "forward") for l in layers} | {(l, "gradient") for l in layers}
                   | {(l, "backward") for l in layers[1:]})
    assert np.all(errs["rel_rms_error"] > 0)
    # forward and backward products carry their 16-bit converters' and readout's error
    # (~2 %); a weight gradient here sums thousands of tiny backpropagated errors near
    # the readout noise floor: over 16 seeds conv1's erred by 3.5 % median, 9 % at the
    # 90th percentile, 22 % at most, so its bound only catches a broken product
    grad = errs["phase"] == "gradient"
    assert np.all(errs["rel_rms_error"][~grad] < 0.05)
    assert np.all(errs["rel_rms_error"][grad] < 0.5)
    coarse = train(small_config("design.name=bplight", "hardware.spot_check=0.0",
                                "design.converters.adc_bits=4", "design.converters.dac_bits=4",
                                "training.error_probe_every_steps=2", *IDEALISED_OVERRIDES),
                   tmp_path / "coarse.h5", quiet=True)
    e4 = RunFile(coarse.path).table("product_errors")
    fwd16 = np.median(errs["rel_rms_error"][errs["phase"] == "forward"])
    fwd4 = np.median(e4["rel_rms_error"][e4["phase"] == "forward"])
    assert fwd4 > 5 * fwd16, (fwd4, fwd16)


def test_product_error_probe_value_is_the_relative_rms_error(tmp_path):
    from cosim.hw.backend import HardwareConfig, build_hardware
    from cosim.nn import lenet5

    model = lenet5(width=0.34, rng=np.random.default_rng(0))
    backend, store = build_hardware(HardwareConfig(), model, np.random.default_rng(1))
    model.backend, model.store = backend, store
    model.initialize(np.random.default_rng(2))
    W = np.array(store.weight("fc1"))
    X = np.random.default_rng(3).standard_normal((16, W.shape[1]))
    backend.set_step(7)
    y_off = backend.forward("fc1", W, X)
    assert backend.product_errors() == []                         # probe off: nothing
    backend.set_probe(True)
    y = backend.forward("fc1", W, X)
    dY = np.random.default_rng(4).standard_normal((16, W.shape[0]))
    g = backend.gradient("fc1", dY, X)
    rec = backend.product_errors()
    exact_f, exact_g = X @ W.T, dY.T @ X
    assert [(r["layer"], r["phase"], r["step"]) for r in rec] == [("fc1", "forward", 7),
                                                                 ("fc1", "gradient", 7)]
    assert rec[0]["rel_rms_error"] == pytest.approx(
        np.linalg.norm(y - exact_f) / np.linalg.norm(exact_f), rel=1e-12)
    assert rec[1]["rel_rms_error"] == pytest.approx(
        np.linalg.norm(g - exact_g) / np.linalg.norm(exact_g), rel=1e-12)
    assert backend.product_errors() == []                         # drained
    assert y_off.shape == y.shape
