"""``cosim runs compare``: differing settings, final metrics, overlaid curves in HTML."""

from __future__ import annotations

import json
import shutil

import pytest

from cosim.cli.main import main
from cosim.config import load_config
from cosim.orchestrator import train
from cosim.store.compare import compare_runs, flatten
from cosim.store.runs import RunFile

TINY = ["model.width=0.34", "data.train_limit=64", "data.test_limit=32",
        "training.batch_size=32", "training.epochs=1", "design.name=ideal"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    a = train(load_config(None, TINY + ["training.lr=0.05"]), d / "a.h5", quiet=True).path
    b = train(load_config(None, TINY + ["training.lr=0.02", "training.epochs=2"]),
              d / "b.h5", quiet=True).path
    return a, b


def test_flatten_gives_dotted_keys():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}}) == \
        {"a.b": 1, "a.c.d": [1, 2], "e": {}}


def test_compare_names_exactly_the_changed_settings_and_the_final_metrics(two_runs, tmp_path,
                                                                          capsys):
    a, b = two_runs
    out = tmp_path / "cmp.html"
    assert main(["runs", "compare", str(a), str(b), "-o", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["differences"] == {"training.epochs": [1, 2], "training.lr": [0.05, 0.02]}
    for row, path in zip(data["runs"], (a, b)):
        ep = RunFile(path).epoch_metrics()
        assert row["label"] == path.stem and row["epochs_done"] == ep["epoch"].size
        assert row["final_test_acc"] == float(ep["test_acc"][-1])
        assert row["final_train_loss"] == float(ep["train_loss"][-1])
    page = out.read_text()
    assert "training.lr" in page and "data:image/png;base64," in page
    assert (tmp_path / "cmp_files" / "curves.png").read_bytes()[:4] == b"\x89PNG"

    assert main(["runs", "compare", str(a), str(b), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "training.lr" in text and "0.0500" in text and "0.0200" in text
    assert "test acc" in text and f"report: {out}" in text


def test_same_config_has_no_differences_and_one_file_is_refused(two_runs, tmp_path, capsys):
    a, _ = two_runs
    copy = tmp_path / "copy.h5"
    shutil.copy(a, copy)
    assert compare_runs([a, copy]).differences == {}
    assert main(["runs", "compare", str(a)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least two run files" in err
