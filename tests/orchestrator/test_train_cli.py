"""`cosim train`, `cosim runs show`, `cosim netlist extract`: help texts and real runs."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from cosim.cli.main import main
from cosim.hw.records import CircuitRecord, compare
from cosim.netlist import read_netlist
from cosim.spice.rawfile import read_raw
from cosim.store.runs import RunFile

TINY = ["--set=model.width=0.34", "--set=data.train_limit=64", "--set=data.test_limit=32",
        "--set=training.batch_size=32", "--set=training.epochs=1", "--quiet"]


@pytest.mark.parametrize("argv, words", [
    (["train", "--help"], ["--config", "--set", "--engine", "--epochs", "--out", "--resume",
                           "--seed"]),
    (["runs", "show", "--help"], ["RUN.h5", "--json"]),
    (["netlist", "extract", "--help"], ["--layer", "--step", "--phase", "--tile", "-o"]),
    (["demo", "--help"], ["--out-dir", "--epochs", "--quick"]),
])
def test_help_texts(capsys, argv, words):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for w in words:
        assert w in out


def test_train_then_runs_show(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["train", *TINY, "--design", "ideal", "--seed", "3",
                 "--out", str(out)]) == 0
    assert "2 steps" in capsys.readouterr().out
    cfg = RunFile(out).read_config()
    assert cfg.seed == 3 and cfg.design.name == "ideal"
    # an existing run file is not overwritten by accident; --resume refuses config flags
    assert main(["train", *TINY, "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["train", "--resume", "--seed", "2", "--out", str(out)]) == 2
    assert "--resume takes its config from the run file" in capsys.readouterr().err
    assert main(["runs", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "epoch" in text and "ideal" in text
    assert main(["runs", "show", "--json", str(out)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["steps"] == 2 and data["epochs_done"] == 1
    assert data["final_test_acc"] == RunFile(out).epoch_metrics()["test_acc"][-1]
    assert main(["train", *TINY, "--set", "training.bogus=1", "--out",
                 str(tmp_path / "x.h5")]) == 2
    assert "'training.bogus'" in capsys.readouterr().err


def _extract_and_rerun(tmp_path, capsys, run, layer, step, tile):
    f = tmp_path / f"{layer}_{step}_{tile.replace(',', '_')}.cir"
    assert main(["netlist", "extract", str(run.path), "--layer", layer, "--step", str(step),
                 "--tile", tile, "-o", str(f)]) == 0
    assert "wrote" in capsys.readouterr().out
    text = f.read_text()
    sha, _ = run.find_netlist(layer, step, tile=tile)
    assert read_netlist(f).render() == text and run.netlist(sha) == text
    assert main(["netlist", "run", str(f), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["netlist_sha256"] == sha
    return sha


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice program not installed")
def test_extract_rebuilds_a_backward_product_that_plain_ngspice_reproduces(tmp_path, capsys):
    """The acceptance command: `cosim netlist extract RUN --layer conv2 --phase backward
    --step N -o x.cir && ngspice -b -r x.raw x.cir` gives the product's recorded
    outputs within the twin tolerance; steps are the global training steps of the
    metrics table, and an absent one lists the stored steps of each phase."""
    out = tmp_path / "hw.h5"
    assert main(["train", *TINY, "--design", "bplight", "--set",
                 "training.max_steps=2", "--set", "training.signal_every_steps=2",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    run = RunFile(out)
    assert run.step_metrics()["step"].tolist() == [1, 2]
    f, raw = tmp_path / "x.cir", tmp_path / "x.raw"
    assert main(["netlist", "extract", str(out), "--layer", "conv2", "--phase", "backward",
                 "--step", "2", "-o", str(f)]) == 0
    assert "conv2 backward step 2 tile 0,0" in capsys.readouterr().out
    proc = subprocess.run(["ngspice", "-b", "-r", str(raw), str(f)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sha, row = run.find_netlist("conv2", 2, "backward")
    data = run.circuit_record(row["record"])
    record = CircuitRecord("0,0", data["kind"], run.netlist(sha), data["stimulus"],
                           data["outputs"], data["tolerance"])
    name, err, ok = compare(record, read_raw(raw)[-1])
    assert name == "tia_voltage_noiseless_v" and ok and err < data["tolerance"] / 10, err
    # the recorded voltages are the run's: the noiseless ones plus its readout noise
    assert np.any(data["outputs"]["tia_voltage_v"] != data["outputs"]["tia_voltage_noiseless_v"])
    # re-run through cosim, with the comparison
    assert main(["netlist", "extract", str(out), "--layer", "conv2", "--phase", "gradient",
                 "--step", "1", "-o", str(f), "--check"]) == 0
    assert "reproduced" in capsys.readouterr().out
    assert main(["netlist", "run", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["analysis"] == "tran"
    assert main(["netlist", "extract", str(out), "--layer", "conv2", "--phase", "backward",
                 "--step", "5", "-o", str(f)]) == 2
    err_text = capsys.readouterr().err
    assert "backward at steps 1, 2" in err_text and "global training steps" in err_text
    assert main(["netlist", "extract", str(out), "--layer", "conv7", "--step", "1",
                 "-o", str(tmp_path / "x.cir")]) == 2
    assert "Layers stored: conv1, conv2, fc1" in capsys.readouterr().err


def test_extract_spot_check_netlist_that_netlist_run_reruns(tmp_path, capsys):
    out = tmp_path / "hw.h5"
    assert main(["train", *TINY, "--design", "bplight", "--set",
                 "hardware.spot_check=1.0", "--set", "training.max_steps=1",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    run = RunFile(out)
    spots = run.table("spot_checks")
    assert spots["step"].size > 0 and set(spots["step"].tolist()) == {1}
    sha = _extract_and_rerun(tmp_path, capsys, run, "conv1", 1, "spot_check")
    # the spot-check netlist is the one its twin-vs-spice record names
    assert sha in spots["netlist_sha256"]


def test_workflow_script_help_and_tiny_run(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "workflows" / "train_lenet.py"
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "--config" in out and "lenet_digits.toml" in out
    run = tmp_path / "w.h5"
    proc = subprocess.run([sys.executable, str(script), "--quiet", "--out", str(run),
                           *[a for a in TINY if a != "--quiet"],
                           "--set=design.name=ideal"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "final test accuracy" in proc.stdout
    cfg = RunFile(run).read_config()
    assert cfg.model.width == 0.34 and cfg.training.checkpoint_every_steps == 20
    assert RunFile(run).config_source()[0].startswith("# LeNet-5 on the scikit-learn digits")


CHECKPOINTED = ["--set=model.width=0.34", "--set=data.train_limit=64",
                "--set=data.test_limit=16", "--set=training.batch_size=32",
                "--set=training.epochs=1", "--set=training.checkpoint_every_steps=1",
                "--set=hardware.spot_check=0.0", "--design", "bplight",
                "--engine", "ideal",
                # the idealised DeviceWeightStore, whose checkpoint layout is checked here
                "--set=design.weight_device=idealised", "--set=design.update_policy=pulse"]


@pytest.fixture(scope="module")
def step1_checkpoint(tmp_path_factory):
    """A real bplight run of 2 steps, and a copy of its file taken while the checkpoint of
    step 1 was the latest (the run file as a killed run would leave it)."""
    import shutil

    from cosim.config import load_config
    from cosim.orchestrator import train

    d = tmp_path_factory.mktemp("ck")
    straight, partial = d / "straight.h5", d / "partial.h5"

    def copy_at_step_2(step, row):
        if step == 2:                    # step 2 computed, not yet committed
            shutil.copyfile(straight, partial)

    cfg = load_config(None, [a.removeprefix("--set=") for a in CHECKPOINTED
                             if a.startswith("--set=")]
                      + ["design.name=bplight", "hardware.electrical_engine=ideal"])
    train(cfg, straight, quiet=True, on_step=copy_at_step_2)
    assert RunFile(partial).attrs()["last_step"] == 1
    return straight, partial


def _conductance_dataset(f):
    from cosim.store.runs import _array_path

    return f["checkpoints/latest/trainer"][_array_path("store/device/fc1/g_pos_s")]


def _resume_matches(path, straight, capsys):
    assert main(["train", "--resume", "--quiet", "--out", str(path)]) == 0
    assert "2 steps" in capsys.readouterr().out
    a, b = RunFile(path).checkpoint(), RunFile(straight).checkpoint()
    for k, v in b.trainer["arrays"].items():
        assert np.array_equal(a.trainer["arrays"][k], v), k


def test_corrupt_checkpoint_is_shown_and_refused_intact_and_older_files_resume(
        step1_checkpoint, tmp_path, capsys):
    """One flipped bit in a conductance array of a real checkpoint: `runs show` names the
    dataset, `train --resume` refuses it in one line (exit 2) and leaves the file as it
    was. The intact file and one without checksums (older layout) resume exactly."""
    import hashlib
    import shutil

    import h5py

    straight, partial = step1_checkpoint
    corrupt, intact, older = (tmp_path / n for n in ("corrupt.h5", "intact.h5", "older.h5"))
    for p in (corrupt, intact, older):
        shutil.copyfile(partial, p)
    with h5py.File(corrupt, "r+") as f:
        ds = _conductance_dataset(f)
        g = ds[...]
        assert 1e-7 < g[0, 0] < 1e-3            # a conductance in S
        g.view(np.uint64)[0, 0] ^= np.uint64(1 << 30)
        ds[...] = g
        name = ds.name
    before = hashlib.sha256(corrupt.read_bytes()).hexdigest()

    assert main(["runs", "show", str(corrupt)]) == 0
    out = capsys.readouterr().out
    assert f"CORRUPT: dataset {name} (store/device/fc1/g_pos_s) does not match its " \
           f"sha256 checksum" in out
    assert main(["runs", "show", "--json", str(corrupt)]) == 0
    integ = json.loads(capsys.readouterr().out)["checkpoint_integrity"]
    assert integ["status"] == "corrupt" and name in integ["problems"][0]

    assert main(["train", "--resume", "--quiet", "--out", str(corrupt)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cosim train: error: ")
    assert f"{name} (store/device/fc1/g_pos_s) does not match its sha256 checksum" in err
    assert "refusing" in err
    assert hashlib.sha256(corrupt.read_bytes()).hexdigest() == before

    assert main(["runs", "show", str(intact)]) == 0
    ck = RunFile(intact).checkpoint()
    n = len(ck.trainer["arrays"]) + len((ck.backend or {"arrays": {}})["arrays"])
    assert f"step 1: {n} arrays match their sha256 checksums" in capsys.readouterr().out
    _resume_matches(intact, straight, capsys)

    with h5py.File(older, "r+") as f:      # strip what this version adds: older layout
        def strip(_, obj):
            for a in ("checksums", "header_sha256", "meta_sha256", "sha256"):
                if a in obj.attrs:
                    del obj.attrs[a]
        f["checkpoints"].visititems(strip)
        strip(None, f["checkpoints/latest"])
    assert main(["runs", "show", str(older)]) == 0
    assert "step 1: no checksums (older file)" in capsys.readouterr().out
    _resume_matches(older, straight, capsys)


def test_extract_from_an_older_run_file_says_it_has_no_stimulus(tmp_path, capsys):
    """A run file written before circuit records: its index rows name templates with
    their sources at DC 0; extract still writes them, and says so."""
    from cosim.store.runs import PendingWrites

    path = tmp_path / "old.h5"
    run = RunFile.create(path, "{}")
    p = PendingWrites()
    p.add("netlist_index", {"layer": "conv1", "phase": "forward", "step": 3, "tile": "0,0",
                            "sha256": "ab"})
    text = "* readout template\nV1 a 0 DC 0\nR1 a 0 1k\n.op\n.end\n"
    p.netlists["ab"] = text
    run.commit(p)
    f = tmp_path / "old.cir"
    assert main(["netlist", "extract", str(path), "--layer", "conv1", "--step", "3",
                 "-o", str(f)]) == 0
    out = capsys.readouterr().out
    assert "predates circuit records" in out and "DC 0" in out
    assert f.read_text() == text
    assert main(["netlist", "extract", str(path), "--layer", "conv1", "--step", "3",
                 "-o", str(f), "--check"]) == 2
    assert "--check needs a circuit record" in capsys.readouterr().err
