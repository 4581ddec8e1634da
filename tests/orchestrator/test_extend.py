"""``cosim train --resume --epochs N``: a finished run extended to N epochs equals a
straight N-epoch run bit for bit; refused where it could not (cosine schedule)."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.cli.main import main
from cosim.config import load_config
from cosim.errors import ConfigError
from cosim.orchestrator import train
from cosim.store.runs import RunFile

TINY = ["model.width=0.34", "data.train_limit=64", "data.test_limit=32",
        "training.batch_size=32", "design.name=bplight", "hardware.spot_check=0.0",
        "training.signal_every_steps=1"]


def _same_run(a, b):
    ra, rb = RunFile(a), RunFile(b)
    for table in ("metrics/step", "metrics/epoch", "hardware_stats", "product_errors"):
        ta, tb = ra.table(table), rb.table(table)
        assert sorted(ta) == sorted(tb), table
        for col in ta:
            # the retune counters too: a resumed run rebuilds the weight states its
            # checkpoint says were loaded without counting a retune
            if col != "time_s":
                assert np.array_equal(ta[col], tb[col]), (table, col)
    ca, cb = ra.checkpoint(), rb.checkpoint()
    assert (ca.step, ca.epoch) == (cb.step, cb.epoch)
    for part in ("trainer", "backend", "evaluation"):
        sa, sb = getattr(ca, part), getattr(cb, part)
        assert sa["meta"] == sb["meta"], part
        assert sorted(sa["arrays"]) == sorted(sb["arrays"]), part
        for k in sa["arrays"]:
            assert np.array_equal(sa["arrays"][k], sb["arrays"][k]), (part, k)
    assert ra.read_config() == rb.read_config()
    assert ra.attrs()["status"] == rb.attrs()["status"] == "complete"


def test_finished_run_extended_to_2_epochs_equals_a_straight_2_epoch_run(tmp_path, capsys):
    straight = train(load_config(None, TINY + ["training.epochs=2"]), tmp_path / "s.h5",
                     quiet=True)
    one = tmp_path / "e.h5"
    assert main(["train", *(f"--set={o}" for o in TINY), "--epochs", "1", "--quiet",
                 "--out", str(one)]) == 0
    assert RunFile(one).attrs()["status"] == "complete"
    assert main(["train", "--resume", "--epochs", "2", "--quiet", "--out", str(one)]) == 0
    assert f"{straight.steps} steps" in capsys.readouterr().out
    _same_run(straight.path, one)
    assert RunFile(one).config_source()[1][-1] == "training.epochs=2"


def test_extension_is_refused_where_it_could_not_be_exact(tmp_path, capsys):
    cos = tmp_path / "cos.h5"
    train(load_config(None, TINY + ["training.epochs=1", "training.lr_schedule=cosine",
                                    "design.name=ideal"]), cos, quiet=True)
    before = cos.read_bytes()
    assert main(["train", "--resume", "--epochs", "2", "--out", str(cos)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "learning-rate schedule is 'cosine'" in err
    assert "start a new run with --epochs 2" in err
    assert cos.read_bytes() == before                  # the file is untouched

    two = tmp_path / "two.h5"
    train(load_config(None, TINY + ["training.epochs=2", "design.name=ideal"]),
          two, quiet=True)
    with pytest.raises(ConfigError, match=r"4 are already done.*give at least 2"):
        train(None, two, resume=True, epochs=1, quiet=True)
    assert main(["train", "--resume", "--set", "training.lr=0.1", "--out", str(two)]) == 2
    assert "except --epochs" in capsys.readouterr().err
