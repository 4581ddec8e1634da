"""The HDF5 run store: round trip of every table and checkpoint, atomic commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from cosim.store.runs import (TABLES, Checkpoint, PendingWrites, RunFile, RunFileError)


def _pending(step0: int, n: int) -> PendingWrites:
    p = PendingWrites()
    for s in range(step0, step0 + n):
        p.add("metrics/step", {"step": s, "epoch": 1, "loss": 1.0 / s, "train_acc": 0.5,
                               "time_s": 0.01})
    p.add("spot_checks", {"layer": "fc1", "phase": "forward", "step": step0,
                          "max_abs_error": 1e-6, "rel_error": 2e-6, "netlist_sha256": "ab"})
    p.add("netlist_index", {"layer": "fc1", "phase": "forward", "step": step0, "tile": "0,0",
                            "sha256": "ab"})
    p.netlists["ab"] = "* tile\nR1 a 0 1k\n.end\n"
    p.signals.append(("fc1", step0, {"tia_voltage_v": np.arange(6.0).reshape(2, 3)}))
    return p


def test_round_trip_tables_checkpoint_and_big_int_meta(tmp_path):
    path = tmp_path / "run.h5"
    run = RunFile.create(path, '{"seed": 1}', source_text="seed = 1\n", overrides=["x=1"])
    rng = np.random.default_rng(123)
    rng.random(5)
    arrays = {"store/conv1": rng.random((4, 3)), "store/conv1.bias": np.zeros(4),
              "trainer/order": np.arange(10, dtype=np.int64),
              "mask": np.array([True, False]), "scalar": np.float64(2.5)}
    meta = {"rng": rng.bit_generator.state, "epoch": 2, "nested": {"a": [1, 2.5]}}
    ck = Checkpoint(step=3, epoch=1, trainer={"arrays": arrays, "meta": meta},
                    backend={"arrays": {}, "meta": {"rng": rng.bit_generator.state}},
                    time_s=0.5)
    run.commit(_pending(1, 3), ck, status="running")
    run.commit(_pending(4, 2), None)

    back = RunFile(path)
    assert back.config_json() == '{"seed": 1}'
    assert back.config_source() == ("seed = 1\n", ["x=1"])
    st = back.step_metrics()
    assert st["step"].tolist() == [1, 2, 3, 4, 5]
    assert np.array_equal(st["loss"], 1.0 / np.arange(1, 6))
    got = back.checkpoint()
    assert (got.step, got.epoch, got.time_s) == (3, 1, 0.5)
    for k, v in arrays.items():
        assert np.array_equal(got.trainer["arrays"][k], v)
        assert np.asarray(got.trainer["arrays"][k]).dtype == np.asarray(v).dtype
    # 128-bit PCG64 state integers survive exactly
    assert got.trainer["meta"] == meta
    r2 = np.random.default_rng()
    r2.bit_generator.state = got.backend["meta"]["rng"]
    assert np.array_equal(r2.random(4), rng.random(4))
    assert back.netlist("ab").startswith("* tile")
    sha, row = back.find_netlist("fc1", 4)
    assert sha == "ab" and row["tile"] == "0,0"
    assert back.table("spot_checks")["step"].tolist() == [1, 4]
    sig = back.signals("fc1")
    assert np.array_equal(sig["fc1"][1]["tia_voltage_v"], np.arange(6.0).reshape(2, 3))
    assert back.attrs()["status"] == "running" and back.attrs()["last_step"] == 3


def test_errors_name_what_exists(tmp_path):
    path = tmp_path / "run.h5"
    run = RunFile.create(path, "{}")
    run.commit(_pending(1, 1))
    with pytest.raises(RunFileError, match=r"no netlist for layer 'conv9'.*fc1/forward@1"):
        run.find_netlist("conv9", 1)
    with pytest.raises(RunFileError, match="tiles of fc1 at step 1: 0,0"):
        run.find_netlist("fc1", 1, tile="7")
    with pytest.raises(RunFileError, match="exists"):
        RunFile.create(path, "{}")
    with pytest.raises(RunFileError, match="does not exist"):
        RunFile(tmp_path / "nope.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="not a cosim run file"):
        RunFile(other)
    with pytest.raises(RunFileError, match="unknown table"):
        run.table("bogus")
    assert set(TABLES) >= {"metrics/step", "metrics/epoch", "spot_checks"}


def test_checkpoint_replacement_does_not_grow_the_file(tmp_path):
    path = tmp_path / "run.h5"
    run = RunFile.create(path, "{}")
    big = {"arrays": {"w": np.ones((200, 200))}, "meta": {}}
    sizes = []
    for step in range(1, 7):
        run.commit(PendingWrites(), Checkpoint(step=step, epoch=1, trainer=big))
        sizes.append(path.stat().st_size)
    assert sizes[-1] <= sizes[1] * 1.05, sizes


_KILL_LOOP = r"""
import sys, numpy as np
from cosim.store.runs import RunFile, PendingWrites, Checkpoint
run = RunFile.create(sys.argv[1], "{}")
step = 0
while True:
    step += 1
    p = PendingWrites()
    p.add("metrics/step", {"step": step, "epoch": 1, "loss": 1.0, "train_acc": 0.0,
                           "time_s": 0.0})
    w = np.full((300, 300), float(step))
    run.commit(p, Checkpoint(step=step, epoch=1, trainer={"arrays": {"w": w}, "meta": {}}))
    print(step, flush=True)
"""


def test_sigkill_during_commits_leaves_a_readable_consistent_file(tmp_path):
    """A process killed at arbitrary moments of a commit loop never corrupts the file."""
    path = tmp_path / "run.h5"
    delays = [0.05, 0.11, 0.17, 0.23, 0.31]
    for i, delay in enumerate(delays):
        if path.exists():
            path.unlink()
        proc = subprocess.Popen([sys.executable, "-c", _KILL_LOOP, str(path)],
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()            # at least one commit done
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        run = RunFile(path)               # opens: never half-written
        ck = run.checkpoint()
        st = run.step_metrics()
        assert ck is not None and ck.step >= 1
        assert st["step"].tolist() == list(range(1, ck.step + 1))
        assert np.all(ck.trainer["arrays"]["w"] == ck.step)
    # a later commit removes the dead process's temporary file
    run.commit(PendingWrites())
    assert not list(tmp_path.glob(".run.h5.tmp-*"))


def test_config_of_a_file_from_before_dac_scale_reads_as_one_scale_per_product(tmp_path):
    """Run files written before hardware.dac_scale existed ran with one DAC full scale
    per product: their config (and so a resume) must say "call", not the new default."""
    import json

    from cosim.config import RunConfig

    new = json.loads(RunConfig().to_json())
    assert new["hardware"]["dac_scale"] == "row"
    old = json.loads(RunConfig().to_json())
    del old["hardware"]["dac_scale"]
    assert RunFile.create(tmp_path / "old.h5", json.dumps(old)).read_config() \
        .hardware.dac_scale == "call"
    assert RunFile.create(tmp_path / "new.h5", json.dumps(new)).read_config() \
        .hardware.dac_scale == "row"
    assert RunFile(tmp_path / "old.h5").summary()["dac_scale"] == "call"
