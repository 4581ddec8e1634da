"""Every workflow script runs on its reduced setting (--quick) in a subprocess, through
the public API, and writes what it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
SCRIPTS = sorted(p.name for p in WORKFLOWS.glob("*.py"))


def _run(args, cwd, timeout=240):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize("script", SCRIPTS)
def test_workflow_help(script, tmp_path):
    r = _run([WORKFLOWS / script, "--help"], tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "usage:" in r.stdout


def test_sweep_wire_resistance_quick(tmp_path):
    from cosim.sweep import SweepFile

    r = _run([WORKFLOWS / "sweep_wire_resistance.py", "--quick", "--out", tmp_path / "w"],
             tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    with SweepFile(tmp_path / "w" / "ir_drop.h5") as f:
        assert f.status() == ["ok"] * 6
        err = f.results()["ir_drop_max_rel_error"].reshape(2, 3)
        assert np.all(err[:, 0] < 1e-12) and np.all(np.diff(err, axis=1) > 0)
        assert np.all(f.results()["twin_vs_spice_max_rel_error"] < 1e-9)
    with SweepFile(tmp_path / "w" / "accuracy.h5") as f:
        assert f.status() == ["ok"] * 3
        acc = f.results()["final_test_acc"]
        assert np.all((acc >= 0) & (acc <= 1))
    assert (tmp_path / "w" / "ir_drop.png").stat().st_size > 0
    assert (tmp_path / "w" / "accuracy.png").stat().st_size > 0
    # a second run finds every point done
    r2 = _run([WORKFLOWS / "sweep_wire_resistance.py", "--quick", "--out", tmp_path / "w"],
              tmp_path)
    assert r2.returncode == 0 and "0 points run, 6 already done" in r2.stdout


def test_monte_carlo_variability_quick(tmp_path):
    from cosim.sweep import SweepFile

    r = _run([WORKFLOWS / "monte_carlo_variability.py", "--quick", "--out", tmp_path / "m"],
             tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    with SweepFile(tmp_path / "m" / "accuracy.h5") as f:
        assert f.status() == ["ok"] * 4
        assert f.coords()["sample"].tolist() == [0, 1, 0, 1]
    with SweepFile(tmp_path / "m" / "devices.h5") as f:
        res, c = f.results(), f.coords()
        # more write noise never lowers the error at zero device-to-device spread
        sel = c["d2d_sigma_frac"] == 0.0
        order = np.argsort(c["c2c_sigma_frac"][sel])
        assert np.all(np.diff(res["error_rms_frac"][sel][order]) > 0)


def test_train_vgg_quick(tmp_path):
    r = _run([WORKFLOWS / "train_vgg.py", "--quick", "--quiet", "--out", tmp_path / "v.h5"],
             tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    from cosim.store.runs import RunFile

    s = RunFile(tmp_path / "v.h5").summary()
    assert 0 <= s["final_test_acc"] <= 1


def test_validate_devices_quick(tmp_path):
    r = _run([WORKFLOWS / "validate_devices.py", "--quick", "--out", tmp_path / "val"],
             tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2/2 checks passed" in r.stdout
    assert (tmp_path / "val" / "summary.json").is_file()


@pytest.mark.skipif(not (WORKFLOWS / "train_lenet.py").exists(), reason="no train_lenet.py")
def test_train_lenet_runs(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('[data]\ntrain_limit = 32\ntest_limit = 16\n[model]\nwidth = 0.25\n'
                   '[training]\nepochs = 1\nbatch_size = 16\nsignal_every_steps = 0\n')
    r = _run([WORKFLOWS / "train_lenet.py", "--config", cfg, "--quiet", "--out",
              tmp_path / "l.h5"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "final test accuracy" in r.stdout


def test_train_vgg_on_cifar_batches_quick(tmp_path):
    """The --cifar path on CIFAR-10 python batches (the real format, written here with
    random pixels): 3-channel VGG on the hardware backend, limits applied."""
    import pickle
    import re

    rng = np.random.default_rng(0)
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    for name, n in [(f"data_batch_{i}", 20) for i in range(1, 6)] + [("test_batch", 20)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)]}
        (cifar / name).write_bytes(pickle.dumps(batch, protocol=2))
    r = _run([WORKFLOWS / "train_vgg.py", "--cifar", cifar, "--quick", "--quiet",
              "--out", tmp_path / "c.h5", "--set", "training.lr_schedule=cosine"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"on CIFAR-10 \((\d+) train / (\d+) test images\), bplight: \d+ steps, "
                  r"final test accuracy ([0-9.]+)", r.stdout)
    assert m, r.stdout
    assert (int(m[1]), int(m[2])) == (32, 16)          # --quick limits of 100 / 20 images
    assert float(m[3]) * 16 == pytest.approx(round(float(m[3]) * 16), abs=1e-3)
    # the run file of the main path: 3-channel inputs, checkpoints, spot checks
    from cosim.store.runs import RunFile

    run = RunFile(tmp_path / "c.h5")
    assert json.loads(run.config_attrs()["data"])["input_shape"] == [3, 32, 32]
    assert run.checkpoint() is not None
    bad = _run([WORKFLOWS / "train_vgg.py", "--cifar", tmp_path / "nowhere", "--quick"],
               tmp_path)
    assert bad.returncode == 2 and "nowhere" in bad.stderr
