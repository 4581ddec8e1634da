"""Your own data and network through `cosim train`: IDX and CIFAR-10 files written here,
validation splits, normalisation, layer-list networks checked before the first step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cosim.cli.main import main
from cosim.config import load_config
from cosim.errors import ConfigError
from cosim.nn.data import load_run_data
from cosim.store.runs import RunFile
from tests.helpers import make_cifar, make_mnist

QUICK = ["--set=training.batch_size=4", "--set=training.epochs=1", "--quiet",
         "--design", "ideal"]


def _data_attrs(path) -> dict:
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f["config"].attrs["data"])


def test_mnist_idx_files_train_lenet5_at_28_pixels(tmp_path, capsys):
    arrays, _ = make_mnist(tmp_path, n_train=12, n_test=6, h=28, w=28)
    out = tmp_path / "mnist.h5"
    assert main(["train", *QUICK, "--set=data.dataset=mnist",
                 f"--set=data.path={tmp_path}", "--set=data.input_size=28",
                 "--set=model.width=0.34", "--out", str(out)]) == 0
    data = _data_attrs(out)
    assert data == {"dataset": "mnist", "train": 12, "val": 0, "test": 6,
                    "input_shape": [1, 28, 28], "num_classes": 10,
                    "normalization": {"method": "unit", "mean": [0.0], "std": [1.0]}}
    assert RunFile(out).epoch_metrics()["test_acc"].size == 1


def test_truncated_idx_file_is_one_line_naming_it(tmp_path, capsys):
    _, paths = make_mnist(tmp_path, n_train=12, n_test=6, h=28, w=28, gz_train=False)
    raw = paths["train_images"].read_bytes()
    paths["train_images"].write_bytes(raw[:-100])
    out = tmp_path / "bad.h5"
    code = main(["train", *QUICK, "--set=data.dataset=mnist", f"--set=data.path={tmp_path}",
                 "--set=data.input_size=28", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "train-images-idx3-ubyte" in err and len(err.strip().splitlines()) == 1


def test_mnist_without_a_path_says_what_to_set(tmp_path, capsys):
    code = main(["train", *QUICK, "--set=data.dataset=mnist", "--out",
                 str(tmp_path / "x.h5")])
    assert code == 2 and "set data.path" in capsys.readouterr().err


def test_cifar10_batches_train_vgg11_with_three_channels(tmp_path):
    make_cifar(tmp_path, sizes=(4, 4, 4, 4, 4), n_test=4)
    out = tmp_path / "cifar.h5"
    assert main(["train", *QUICK, "--set=data.dataset=cifar10", f"--set=data.path={tmp_path}",
                 "--set=model.name=vgg", "--set=model.vgg_config=vgg11",
                 "--set=model.width=0.0625", "--out", str(out)]) == 0
    data = _data_attrs(out)
    assert data["input_shape"] == [3, 32, 32] and data["train"] == 20


def test_validation_split_and_standard_normalisation(tmp_path):
    config = load_config(None, ["data.val_fraction=0.2", "data.normalize=standard"])
    d = load_run_data(config.data)
    plain = load_run_data(load_config(None, []).data)
    n = plain.x_train.shape[0]
    assert d.x_val.shape[0] == round(0.2 * n) and d.x_train.shape[0] + d.x_val.shape[0] == n
    # the validation images come out of the training split, never out of the test split
    raw = load_run_data(load_config(None, ["data.val_fraction=0.2"]).data)
    both = np.concatenate([raw.x_train, raw.x_val]).reshape(n, -1)
    assert sorted(map(bytes, both.astype(np.float32))) == sorted(
        map(bytes, plain.x_train.reshape(n, -1).astype(np.float32)))
    # standardised with the training split's statistics (recomputed here)
    mean, std = raw.x_train.mean(), raw.x_train.std()
    assert d.normalization["mean"] == [pytest.approx(mean, rel=1e-12)]
    np.testing.assert_allclose(d.x_test, (raw.x_test - mean) / std, rtol=1e-12)
    assert abs(d.x_train.mean()) < 1e-12 and d.x_train.std() == pytest.approx(1.0)


def test_validation_accuracy_is_recorded_per_epoch(tmp_path, capsys):
    out = tmp_path / "val.h5"
    assert main(["train", *QUICK, "--set=data.val_fraction=0.25", "--set=data.train_limit=24",
                 "--set=data.test_limit=8", "--set=model.width=0.34", "--out",
                 str(out)]) == 0
    epochs = RunFile(out).epoch_metrics()
    assert epochs["val_acc"].shape == epochs["test_acc"].shape == (1,)
    assert 0.0 <= float(epochs["val_acc"][0]) <= 1.0
    assert _data_attrs(out)["val"] == round(0.25 * 1438)
    assert main(["runs", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "validation 360" in shown and "val acc" in shown
    # a run without a validation split has no such column
    plain = tmp_path / "plain.h5"
    assert main(["train", *QUICK, "--set=data.train_limit=8", "--set=data.test_limit=8",
                 "--set=model.width=0.34", "--out", str(plain)]) == 0
    assert "val_acc" not in RunFile(plain).epoch_metrics()


LAYERS_TOML = """
[data]
train_limit = 16
test_limit = 8
input_size = 16

[model]
name = "layers"
layers = [
  {kind = "conv2d", out = 4, kernel = 3, padding = 1},
  {kind = "relu"},
  {kind = "maxpool2d", kernel = 2},
  {kind = "flatten"},
  {kind = "linear", out = 10},
]
"""


def test_a_layer_list_network_trains(tmp_path):
    cfg = tmp_path / "net.toml"
    cfg.write_text(LAYERS_TOML)
    out = tmp_path / "net.h5"
    assert main(["train", "--config", str(cfg), *QUICK, "--out", str(out)]) == 0
    config = RunFile(out).read_config()
    assert [s.kind for s in config.model.layers][:2] == ["conv2d", "relu"]


@pytest.mark.parametrize("change,fragment", [
    ('{kind = "flatten"},\n', "model.layers[3] (linear1): a linear layer needs a flat input"),
    ('{kind = "linear", out = 10}', "ends with output shape (7,)"),
    ('kernel = 3, padding = 1', "model.layers[0] (conv2d1): layer 'conv2d1' (conv2d): input"),
])
def test_a_shape_mismatch_is_refused_before_the_first_step(tmp_path, capsys, change,
                                                           fragment):
    text = LAYERS_TOML.replace(change, {
        '{kind = "flatten"},\n': "",
        '{kind = "linear", out = 10}': '{kind = "linear", out = 7}',
        'kernel = 3, padding = 1': 'kernel = 40',
    }[change])
    cfg = tmp_path / "net.toml"
    cfg.write_text(text)
    out = tmp_path / "net.h5"
    code = main(["train", "--config", str(cfg), *QUICK, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists(), err
    assert fragment in err


def test_unknown_names_are_refused_with_the_registry():
    with pytest.raises(ConfigError, match="model.name must be one of lenet5, vgg, layers"):
        load_config(None, ["model.name=resnet"])
    with pytest.raises(ConfigError, match="digits, mnist, fashion-mnist, cifar10"):
        load_config(None, ["data.dataset=imagenet"])
    with pytest.raises(ConfigError, match="exactly when model.name = 'layers'"):
        load_config(None, ["model.name=layers"])
