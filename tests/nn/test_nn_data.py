"""cosim.nn.data: real IDX and CIFAR files written here and read back; malformed files
name the file and the fault; the bundled digits; image resizing."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import ndimage

from cosim.errors import ConfigError
from cosim.nn import (DATASETS, RESIZE_METHODS, DatasetError, DatasetFileNotFoundError,
                      load_cifar10, load_digits_dataset, load_mnist_idx, read_idx,
                      resize_images)
from tests.helpers import idx_bytes, make_cifar, make_mnist, write


def test_mnist_idx_gz_and_raw_round_trip(tmp_path):
    arrays, paths = make_mnist(tmp_path)
    for source in (tmp_path, paths):
        ds = load_mnist_idx(source)
        assert ds.x_train.shape == (5, 1, 4, 3) and ds.x_test.shape == (3, 1, 4, 3)
        assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int64
        np.testing.assert_array_equal(ds.x_train[:, 0] * 255, arrays["train_images"])
        np.testing.assert_array_equal(ds.x_test[:, 0] * 255, arrays["test_images"])
        np.testing.assert_array_equal(ds.y_train, arrays["train_labels"])
        np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
        assert 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    fashion = DATASETS["fashion-mnist"](tmp_path)
    assert fashion.name == "fashion-mnist" and fashion.x_train.shape == (5, 1, 4, 3)


@pytest.mark.parametrize("type_code,dtype", [(0x08, np.uint8), (0x09, np.int8),
                                             (0x0B, np.int16), (0x0C, np.int32),
                                             (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_every_type(tmp_path, type_code, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if dtype != np.uint8 \
        else np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    got = read_idx(write(tmp_path / "a.idx", idx_bytes(arr, type_code), gz=False))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def _expect(exc_type, path, fragment, call):
    with pytest.raises(exc_type) as info:
        call()
    msg = str(info.value)
    assert str(path) in msg, msg
    assert fragment in msg, msg


@pytest.mark.parametrize("gz", [False, True])
def test_malformed_idx_files_name_the_file(tmp_path, gz):
    arrays, paths = make_mnist(tmp_path, gz_train=gz, gz_test=gz)
    good = idx_bytes(arrays["train_images"])
    p = paths["train_images"]
    write(p, b"\x08\x03" + good[2:], gz)
    _expect(DatasetError, p, "magic", lambda: load_mnist_idx(tmp_path))
    write(p, good[:-7], gz)
    _expect(DatasetError, p, "truncated", lambda: load_mnist_idx(tmp_path))
    write(p, good + b"\x00", gz)
    _expect(DatasetError, p, "trailing", lambda: load_mnist_idx(tmp_path))
    write(p, good[:9], gz)
    _expect(DatasetError, p, "header", lambda: load_mnist_idx(tmp_path))
    write(p, idx_bytes(arrays["train_images"][:, 0, :]), gz)  # 2-d "images"
    _expect(DatasetError, p, "3 dimensions", lambda: load_mnist_idx(tmp_path))
    write(p, idx_bytes(arrays["train_images"][:4]), gz)       # 4 images, 5 labels
    _expect(DatasetError, p, "counts must match", lambda: load_mnist_idx(tmp_path))
    write(p, good, gz)
    lab = paths["train_labels"]
    write(lab, idx_bytes(np.array([1, 2, 3, 4, 12], dtype=np.uint8)), gz)
    _expect(DatasetError, lab, "out of range", lambda: load_mnist_idx(tmp_path))
    write(lab, idx_bytes(arrays["train_labels"]), gz)
    assert load_mnist_idx(tmp_path).x_train.shape[0] == 5  # repaired: loads again
    paths["test_labels"].unlink()
    _expect(DatasetFileNotFoundError, tmp_path / "t10k-labels-idx1-ubyte", "not found",
            lambda: load_mnist_idx(tmp_path))
    missing = tmp_path / "nowhere.gz"
    _expect(DatasetFileNotFoundError, missing, "not found",
            lambda: load_mnist_idx({**paths, "test_labels": missing}))


def test_corrupt_gzip_names_the_file(tmp_path):
    arrays, paths = make_mnist(tmp_path, gz_train=True)
    p = paths["train_images"]
    p.write_bytes(p.read_bytes()[:-10])
    _expect(DatasetError, p, "gzip", lambda: load_mnist_idx(tmp_path))


def test_mnist_mapping_and_directory_errors(tmp_path):
    with pytest.raises(ConfigError, match="missing"):
        load_mnist_idx({"train_images": tmp_path / "x"})
    _expect(DatasetFileNotFoundError, tmp_path / "absent", "not a directory",
            lambda: load_mnist_idx(tmp_path / "absent"))


# --- CIFAR-10 -----------------------------------------------------------------------


def test_cifar10_round_trip(tmp_path):
    batches = make_cifar(tmp_path)
    ds = load_cifar10(tmp_path)
    assert ds.x_train.shape == (12, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    assert ds.y_train.dtype == np.int64 and ds.x_train.dtype == np.float64
    first = batches["data_batch_1"]
    # row layout: 1024 red, 1024 green, 1024 blue values, each plane row-major
    for c, i, j in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:
        assert ds.x_train[0, c, i, j] * 255 == first[b"data"][0, c * 1024 + i * 32 + j]
    second = batches["data_batch_2"]  # str keys are accepted too
    np.testing.assert_array_equal(ds.y_train[3:5], second["labels"])
    labels = sum((batches[f"data_batch_{i}"].get(b"labels", batches[f"data_batch_{i}"].get(
        "labels")) for i in range(1, 6)), [])
    np.testing.assert_array_equal(ds.y_train, labels)
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][b"labels"])


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("touch exploited",))


def test_malformed_cifar_batches_name_the_file(tmp_path, monkeypatch):
    batches = make_cifar(tmp_path)
    p = tmp_path / "data_batch_3"

    def put(obj):
        p.write_bytes(pickle.dumps(obj, protocol=2))

    bad = dict(batches["data_batch_3"])
    del bad[b"data"]
    put(bad)
    _expect(DatasetError, p, "needs keys", lambda: load_cifar10(tmp_path))
    put({**batches["data_batch_3"], b"data": np.zeros((2, 3000), np.uint8)})
    _expect(DatasetError, p, "(N, 3072)", lambda: load_cifar10(tmp_path))
    put({**batches["data_batch_3"], b"labels": [1, 2, 3]})
    _expect(DatasetError, p, "counts must match", lambda: load_cifar10(tmp_path))
    put({**batches["data_batch_3"], b"labels": [1, 10]})
    _expect(DatasetError, p, "0..9", lambda: load_cifar10(tmp_path))
    put([1, 2, 3])
    _expect(DatasetError, p, "dict", lambda: load_cifar10(tmp_path))
    p.write_bytes(b"this is not a pickle")
    _expect(DatasetError, p, "not a readable CIFAR", lambda: load_cifar10(tmp_path))
    p.write_bytes(pickle.dumps(batches["data_batch_3"], protocol=2)[:-20])
    _expect(DatasetError, p, "not a readable CIFAR", lambda: load_cifar10(tmp_path))
    # a crafted pickle must not run code
    monkeypatch.chdir(tmp_path)
    put({b"data": _Exploit(), b"labels": []})
    _expect(DatasetError, p, "refusing", lambda: load_cifar10(tmp_path))
    assert not (tmp_path / "exploited").exists()
    (tmp_path / "test_batch").unlink()
    put(batches["data_batch_3"])
    _expect(DatasetFileNotFoundError, tmp_path / "test_batch", "not found",
            lambda: load_cifar10(tmp_path))


# --- digits and resizing ------------------------------------------------------------

def test_digits_dataset_split():
    a = load_digits_dataset(test_fraction=0.25, seed=3)
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.dtype == np.float64
    assert a.x_train.shape[0] + a.x_test.shape[0] == 1797
    assert a.x_test.shape[0] == round(0.25 * 1797)
    assert a.x_train.min() == 0 and a.x_train.max() == 1
    assert set(np.unique(a.y_train)) == set(range(10)) and a.y_train.dtype == np.int64
    # the split is a partition of the data set (sum of all pixels is conserved)
    from sklearn.datasets import load_digits
    total = load_digits().images.sum() / 16
    assert a.x_train.sum() + a.x_test.sum() == pytest.approx(total, rel=1e-12)
    b = load_digits_dataset(test_fraction=0.25, seed=3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    c = load_digits_dataset(test_fraction=0.25, seed=4)
    assert not np.array_equal(a.y_test, c.y_test)
    with pytest.raises(ConfigError, match="test_fraction"):
        load_digits_dataset(test_fraction=1.0)


@pytest.mark.parametrize("method", sorted(RESIZE_METHODS))
def test_every_resize_method_keeps_range_and_shape(method):
    x = np.random.default_rng(0).uniform(0, 1, (2, 3, 8, 8))
    y = resize_images(x, 32, method)
    assert y.shape == (2, 3, 32, 32)
    low = 0.0 if method == "pad" else x.min()  # padding adds zeros
    assert low <= y.min() + 1e-12 and y.max() <= x.max() + 1e-12
    const = resize_images(np.full((1, 1, 8, 8), 0.7), 32, method)
    if method == "pad":
        assert const.sum() == pytest.approx(0.7 * 64)
    else:
        np.testing.assert_allclose(const, 0.7, rtol=1e-14)


def test_resize_against_independent_references():
    x = np.random.default_rng(1).uniform(0, 1, (2, 1, 8, 8))
    np.testing.assert_array_equal(resize_images(x, 32, "nearest"),
                                  np.repeat(np.repeat(x, 4, axis=2), 4, axis=3))
    zoomed = ndimage.zoom(x, (1, 1, 4, 4), order=1, mode="nearest", grid_mode=True)
    np.testing.assert_allclose(resize_images(x, 32, "bilinear"), zoomed, atol=1e-12)
    padded = resize_images(x, 28, "pad")
    np.testing.assert_array_equal(padded[:, :, 10:18, 10:18], x)
    assert padded.sum() == pytest.approx(x.sum())
    with pytest.raises(ConfigError, match="cannot shrink"):
        resize_images(x, 4, "pad")
    with pytest.raises(ConfigError, match="unknown resize"):
        resize_images(x, 32, "cubic")
