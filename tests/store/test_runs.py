"""The HDF5 run store: round trip of every table and checkpoint, atomic commits."""

from __future__ import annotations

import os
import re
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
    with pytest.raises(RunFileError, match=r"no netlist for layer 'conv9'.*Layers stored: fc1"):
        run.find_netlist("conv9", 1)
    with pytest.raises(RunFileError, match="forward at steps 1; tiles at step 1: 0,0"):
        run.find_netlist("fc1", 1, tile="7")
    with pytest.raises(RunFileError, match=r"step 0\. Stored for fc1 \(global training steps, "
                                           r"1-based\): forward at steps 1\."):
        run.find_netlist("fc1", 0)
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


def test_circuit_records_round_trip_and_an_older_index_gets_the_record_column(tmp_path):
    """A file written before circuit records (index rows without ``record``) reads as
    before; rows appended to it later keep the columns aligned, and a record's arrays
    come back exactly, under the path its index row names."""
    from cosim.hw.records import CircuitRecord

    path = tmp_path / "run.h5"
    run = RunFile.create(path, "{}")
    run.commit(_pending(1, 1))                       # the older layout: no record column
    assert "record" not in run.table("netlist_index")
    assert "record" not in run.find_netlist("fc1", 1)[1]
    rec = CircuitRecord("0,0", "readout_pwl", "* t\nR1 a 0 1k\n.end\n",
                        {"optical_power_w": np.full((2, 3, 2), 1e-4),
                         "symbol_period_s": np.array(1.6e-7)},
                        {"tia_voltage_v": np.arange(6.0).reshape(2, 3),
                         "adc_codes": np.arange(6).reshape(2, 3)}, tolerance=1e-5)
    p = PendingWrites()
    p.add_record("fc1", "backward", 2, "0,0", "cd", rec)
    run.commit(p)
    idx = run.table("netlist_index")
    assert idx["record"].tolist() == ["", "circuit_records/fc1/backward/2/0,0"]
    assert idx["step"].tolist() == [1, 2] and idx["phase"].tolist() == ["forward", "backward"]
    sha, row = run.find_netlist("fc1", 2, "backward")
    assert sha == "cd" and run.netlist("cd") == rec.template
    back = run.circuit_record(row["record"])
    assert back["kind"] == "readout_pwl" and back["tolerance"] == 1e-5
    assert back["template_sha256"] == "cd"
    for part in ("stimulus", "outputs"):
        want = getattr(rec, part)
        assert set(back[part]) == set(want)
        for k, v in want.items():
            assert back[part][k].dtype == v.dtype and np.array_equal(back[part][k], v)
    with pytest.raises(RunFileError, match="no circuit record"):
        run.circuit_record("circuit_records/fc1/forward/9/0,0")


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


def test_config_of_a_file_from_before_designs_reads_into_the_design(tmp_path):
    """Run files written before designs kept the physical settings in ``hardware``
    (translated into design overrides); those written before ``dac_scale`` existed ran
    with one DAC full scale per product: their config (and so a resume) says "call"."""
    import json

    from cosim.config import RunConfig

    old = json.loads(RunConfig().to_json())
    old.pop("design")
    old["hardware"].update(architecture="bplight", dac_bits=16, adc_bits=12, tile_rows=64,
                           tile_cols=64, laser_power_per_channel_w=None,
                           wire_resistance_ohm=None, cards={})
    scaled = dict(old, hardware=dict(old["hardware"], dac_scale="row"))
    for name, cfg, want in (("old.h5", old, "call"), ("new.h5", scaled, "row")):
        read = RunFile.create(tmp_path / name, json.dumps(cfg)).read_config()
        design = read.design.resolve()
        assert design["dac_scale"] == want and design["converters.adc_bits"] == 12
        summary = RunFile(tmp_path / name).summary()["design"]
        assert summary["dac_scale"] == want and not summary["stored"]


def _keyed_dataset(f, group: str, key: str):
    import json

    from cosim.store.runs import _array_path

    g = f[f"checkpoints/latest/{group}"]
    assert key in json.loads(g.attrs["keys"])
    return g[_array_path(key)]


def _tamper(path, how):
    with h5py.File(path, "r+") as f:
        how(f)


def _flip_bit(f):
    ds = _keyed_dataset(f, "trainer", "store/device/fc1/g_pos_s")
    a = ds[...]
    a.view(np.uint64)[1, 2] ^= np.uint64(1 << 30)   # one bit of one conductance
    ds[...] = a


def _stored_as_float32(f):
    ds = _keyed_dataset(f, "trainer", "store/device/fc1/g_pos_s")
    a, name, attrs = ds[...], ds.name, dict(ds.attrs)
    del f[name]
    f.create_dataset(name, data=a.astype(np.float32))   # rounded to single precision
    f[name].attrs.update(attrs)


def _swap_datasets(f):
    a = _keyed_dataset(f, "trainer", "store/device/fc1/g_pos_s")
    b = _keyed_dataset(f, "trainer", "store/device/fc1/g_neg_s")
    va, vb = a[...], b[...]
    a[...], b[...] = vb, va


def _edit_meta(f):
    import json

    g = f["checkpoints/latest/trainer"]
    meta = json.loads(g.attrs["meta"])
    meta["epoch"] = 7
    g.attrs["meta"] = json.dumps(meta)


def _edit_step(f):
    f["checkpoints/latest"].attrs["step"] = 2


@pytest.mark.parametrize("how, names", [
    (_flip_bit, r"dataset /checkpoints/latest/trainer/arrays/store/device/fc1/g_pos_s "
               r"\(store/device/fc1/g_pos_s\)"),
    (_stored_as_float32, r"\(store/device/fc1/g_pos_s\)"),
    (_swap_datasets, r"\(store/device/fc1/g_neg_s\).*\(and 1 more\)"),
    (_edit_meta, r"keys/meta of /checkpoints/latest/trainer"),
    (_edit_step, r"step/epoch/time_s/has_backend of /checkpoints/latest"),
])
def test_an_altered_checkpoint_is_refused_naming_what_changed(tmp_path, how, names):
    """Every checkpoint array, the keys/meta attributes and the step attributes carry a
    sha256 written with them; any change after the commit is named, not read."""
    from cosim.store.runs import CheckpointIntegrityError

    path = tmp_path / "run.h5"
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-4, (3, 4))
    state = {"arrays": {"store/device/fc1/g_pos_s": g, "store/device/fc1/g_neg_s": g[::-1],
                        "trainer/order": np.arange(5), "scalar": np.float64(0.5)},
             "meta": {"epoch": 1, "rng": rng.bit_generator.state}}
    run = RunFile.create(path, "{}")
    run.commit(_pending(1, 1), Checkpoint(step=1, epoch=1, trainer=state,
                                          backend={"arrays": {}, "meta": {}}))
    check = run.verify_checkpoint()
    assert (check.status, check.arrays, check.problems) == ("ok", 4, ())
    assert np.array_equal(run.checkpoint().trainer["arrays"]["store/device/fc1/g_pos_s"], g)

    _tamper(path, how)
    check = RunFile(path).verify_checkpoint()
    assert check.status == "corrupt"
    assert re.search(names, check.describe()), check.describe()
    with pytest.raises(CheckpointIntegrityError, match=names) as exc:
        RunFile(path).checkpoint()
    assert "\n" not in str(exc.value) and "refusing" in str(exc.value)
    assert isinstance(exc.value, RunFileError)
    assert RunFile(path).checkpoint(verify=False).step in (1, 2)   # forensics still work


def test_a_checkpoint_from_before_checksums_reads_unchecked(tmp_path):
    path = tmp_path / "run.h5"
    run = RunFile.create(path, "{}")
    run.commit(_pending(1, 1), Checkpoint(step=1, epoch=1,
                                          trainer={"arrays": {"w": np.ones(3)}, "meta": {}}))

    def strip(f):          # the layout written before checkpoints carried checksums
        ck = f["checkpoints/latest"]
        for name in ("checksums", "header_sha256"):
            del ck.attrs[name]
        del ck["trainer"].attrs["meta_sha256"]
        del ck["trainer/arrays/w"].attrs["sha256"]

    _tamper(path, strip)
    check = RunFile(path).verify_checkpoint()
    assert check.status == "no_checksums" and check.describe() == "no checksums (older file)"
    assert np.array_equal(RunFile(path).checkpoint().trainer["arrays"]["w"], np.ones(3))
    assert RunFile(path).summary()["checkpoint_integrity"]["text"] == \
        "no checksums (older file)"
