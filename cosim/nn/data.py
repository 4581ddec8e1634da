"""Image-classification data sets: the bundled digits, MNIST-style IDX files, CIFAR-10.

Every loader returns a :class:`Dataset`: images float64 in [0, 1] of shape (N, C, H, W),
labels int64 of shape (N,).  Files are read from local paths only (nothing is
downloaded); a missing or malformed file raises :class:`DatasetError` naming the file
and what is wrong with it.

* :func:`load_digits_dataset`: scikit-learn's bundled handwritten digits (1797 8x8
  grey images, 0..16 levels, from the UCI "Optical Recognition of Handwritten Digits"
  set); no download.  Use :func:`resize_images` to bring them to LeNet's 32x32.
* :func:`load_mnist_idx`: MNIST or Fashion-MNIST in the IDX format (LeCun et al., "THE
  MNIST DATABASE", file-format section; Fashion-MNIST uses the same files), gzip or raw.
* :func:`load_cifar10`: the CIFAR-10 "python version" pickled batches (Krizhevsky 2009,
  "Learning multiple layers of features from tiny images"; format from the CIFAR page).
  The pickles are read with a restricted unpickler that only builds dicts, lists,
  strings, numbers and numpy arrays, so a crafted file cannot run code.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cosim.errors import ConfigError, CosimError


class DatasetError(CosimError, ValueError):
    """A data file is missing or malformed (the message names the file)."""


class DatasetFileNotFoundError(DatasetError, FileNotFoundError):
    """A data file does not exist."""


@dataclass(frozen=True)
class Dataset:
    """A train/test split of labelled images.

    Attributes
    ----------
    name : str
    x_train, x_test : ndarray, float64, shape (N, C, H, W), values in [0, 1]
    y_train, y_test : ndarray, int64, shape (N,)
    num_classes : int
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int


# --- scikit-learn digits ------------------------------------------------------------

def load_digits_dataset(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits, split at random.

    Parameters
    ----------
    test_fraction : float
        Fraction of the 1797 images held out for testing, in (0, 1).
    seed : int
        Seed of the numpy Generator that draws the split.

    Returns
    -------
    Dataset
        Images (N, 1, 8, 8) scaled from 0..16 to [0, 1].
    """
    try:
        frac = float(test_fraction)
    except (TypeError, ValueError):
        frac = float("nan")
    if not 0 < frac < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits  # heavy import, only when asked for

    digits = load_digits()
    x = (digits.images.astype(np.float64) / 16.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(x.shape[0])
    n_test = max(1, int(round(frac * x.shape[0])))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test], 10)


# --- IDX (MNIST, Fashion-MNIST) -------------------------------------------------------

_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped if the file is gzip (by its magic bytes, not its name)."""
    if not path.is_file():
        raise DatasetFileNotFoundError(f"{path}: file not found")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzip or raw).

    Format: two zero bytes, a type byte (0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int,
    0x0D float, 0x0E double), a byte with the number of dimensions, one big-endian
    uint32 per dimension, then the data in C order, big-endian.

    Returns
    -------
    ndarray
        The array in native byte order.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(f"{path}: {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DatasetError(f"{path}: bad IDX magic number 0x{data[:4].hex()} (expected "
                           f"0x0000TTNN with type TT in "
                           f"{', '.join(f'{t:02x}' for t in _IDX_TYPES)}); not an IDX file")
    dtype, ndim = _IDX_TYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DatasetError(f"{path}: IDX header declares {ndim} dimensions but the file "
                           f"is {len(data)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise DatasetError(f"{path}: {what}: dimensions {dims} of {dtype.itemsize}-byte "
                           f"values need {expected} data bytes, the file has {actual}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


_MNIST_PARTS = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _find_mnist_file(directory: Path, part: str) -> Path:
    for stem in _MNIST_PARTS[part]:
        for name in (stem + ".gz", stem):
            if (directory / name).is_file():
                return directory / name
    names = " or ".join(f"{s}[.gz]" for s in _MNIST_PARTS[part])
    raise DatasetFileNotFoundError(f"{directory / _MNIST_PARTS[part][0]}: file not found "
                                   f"(looked for {names} in {directory})")


def _mnist_images(path: Path) -> np.ndarray:
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise DatasetError(f"{path}: expected IDX images of unsigned bytes with 3 dimensions "
                           f"(N, H, W), got {arr.dtype} with shape {arr.shape}")
    return arr


def _mnist_labels(path: Path, num_classes: int) -> np.ndarray:
    arr = read_idx(path)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise DatasetError(f"{path}: expected IDX labels of unsigned bytes with 1 dimension, "
                           f"got {arr.dtype} with shape {arr.shape}")
    if arr.size and arr.max() >= num_classes:
        raise DatasetError(f"{path}: label {int(arr.max())} out of range 0..{num_classes - 1}")
    return arr.astype(np.int64)


def load_mnist_idx(directory_or_files: str | Path | Mapping[str, str | Path], *,
                   name: str = "mnist", num_classes: int = 10) -> Dataset:
    """MNIST or Fashion-MNIST from IDX files.

    Parameters
    ----------
    directory_or_files : path or mapping
        A directory holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally
        ``.gz``; the dotted ``train-images.idx3-ubyte`` spelling is accepted too), or a
        mapping with keys ``train_images``, ``train_labels``, ``test_images``,
        ``test_labels`` to file paths.
    name : str
        Name of the returned data set (``"mnist"``, ``"fashion-mnist"``).
    num_classes : int
        Labels must lie in ``0 .. num_classes - 1``.

    Returns
    -------
    Dataset
        Images (N, 1, H, W) scaled from 0..255 to [0, 1].
    """
    if isinstance(directory_or_files, Mapping):
        unknown = sorted(set(directory_or_files) - set(_MNIST_PARTS))
        missing = sorted(set(_MNIST_PARTS) - set(directory_or_files))
        if unknown or missing:
            raise ConfigError(f"IDX file mapping must have exactly the keys "
                              f"{sorted(_MNIST_PARTS)}; missing {missing}, unknown {unknown}")
        files = {k: Path(v) for k, v in directory_or_files.items()}
    else:
        directory = Path(directory_or_files)
        if not directory.is_dir():
            raise DatasetFileNotFoundError(f"{directory}: not a directory (expected the "
                                           f"folder holding the four IDX files)")
        files = {part: _find_mnist_file(directory, part) for part in _MNIST_PARTS}
    split = {}
    for which in ("train", "test"):
        img_path, lab_path = files[f"{which}_images"], files[f"{which}_labels"]
        images = _mnist_images(img_path)
        labels = _mnist_labels(lab_path, num_classes)
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{img_path}: {images.shape[0]} images but {lab_path} has "
                               f"{labels.shape[0]} labels; the counts must match")
        split[which] = ((images.astype(np.float64) / 255.0)[:, None, :, :], labels)
    return Dataset(name, *split["train"], *split["test"], num_classes)


# --- CIFAR-10 -----------------------------------------------------------------------

_RECONSTRUCT = np.ndarray(0).__reduce__()[0]
_SCALAR = np.int64(0).__reduce__()[0]
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,
}


class _SafeUnpickler(pickle.Unpickler):
    """Builds only containers, strings, numbers and numpy arrays; anything else refused."""

    def find_class(self, module: str, name: str):
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"


def _get(batch: dict, key: str):
    for k in (key.encode(), key):
        if k in batch:
            return batch[k]
    return None


def read_cifar_batch(path: str | Path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch: images (N, 3, 32, 32) float64 in [0, 1], labels int64.

    The batch is a pickled dict with ``data`` (N, 3072) uint8, rows holding the red,
    green and blue 32x32 planes in row-major order, and ``labels`` (N ints).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFileNotFoundError(f"{path}: file not found")
    try:
        with path.open("rb") as fh:
            batch = _SafeUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, io.UnsupportedOperation) as exc:
        raise DatasetError(f"{path}: not a readable CIFAR python batch "
                           f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    data, labels = _get(batch, "data"), _get(batch, "labels")
    if data is None or labels is None:
        keys = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in batch)
        raise DatasetError(f"{path}: CIFAR batch needs keys 'data' and 'labels', has {keys}")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        desc = (f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                else type(data).__name__)
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), "
                           f"got {desc}")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        labels = np.asarray([None])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{path}: 'labels' must be a list of integers")
    if labels.shape[0] != data.shape[0]:
        raise DatasetError(f"{path}: {data.shape[0]} images but {labels.shape[0]} labels; "
                           f"the counts must match")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetError(f"{path}: labels must lie in 0..{num_classes - 1}, got "
                           f"{int(labels.min())}..{int(labels.max())}")
    images = data.reshape(-1, 3, 32, 32).astype(np.float64) / 255.0
    return images, labels.astype(np.int64)


def load_cifar10(directory: str | Path, *,
                 train_batches: tuple[str, ...] = CIFAR10_TRAIN_BATCHES,
                 test_batch: str = CIFAR10_TEST_BATCH) -> Dataset:
    """CIFAR-10 from the python-version batch files in ``directory``.

    Parameters
    ----------
    directory : path
        Folder holding ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (the
        ``cifar-10-batches-py`` folder of the official archive).
    train_batches, test_batch :
        File names, to load a subset.

    Returns
    -------
    Dataset
        Images (N, 3, 32, 32) in [0, 1].
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetFileNotFoundError(f"{directory}: not a directory (expected the "
                                       f"cifar-10-batches-py folder)")
    if not train_batches:
        raise ConfigError("train_batches must name at least one batch file")
    parts = [read_cifar_batch(directory / name) for name in train_batches]
    x_test, y_test = read_cifar_batch(directory / test_batch)
    return Dataset("cifar10", np.concatenate([p[0] for p in parts]),
                   np.concatenate([p[1] for p in parts]), x_test, y_test, 10)


# --- resizing -----------------------------------------------------------------------

def _interp_matrix(n_in: int, n_out: int, method: str) -> np.ndarray:
    """(n_out, n_in) matrix mapping a line of pixels to its resized version."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # half-pixel convention
    m = np.zeros((n_out, n_in))
    if method == "nearest":
        src = np.clip(np.floor((np.arange(n_out) + 0.5) * n_in / n_out).astype(int),
                      0, n_in - 1)
        m[np.arange(n_out), src] = 1.0
    else:
        c = np.clip(centres, 0, n_in - 1)
        lo = np.floor(c).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = c - lo
        np.add.at(m, (np.arange(n_out), lo), 1 - frac)
        np.add.at(m, (np.arange(n_out), hi), frac)
    return m


def resize_images(images: np.ndarray, size: int, method: str = "nearest") -> np.ndarray:
    """Resize (N, C, H, W) images to (N, C, size, size).

    Methods (:data:`RESIZE_METHODS`):

    * ``"nearest"``: output pixel ``i`` copies input pixel ``floor((i + 1/2) H / size)``;
      8 -> 32 repeats every pixel 4x4.
    * ``"bilinear"``: linear interpolation in each axis at the half-pixel-centre position
      ``(i + 1/2) H / size - 1/2``, clamped at the borders (as OpenCV/PIL resize).
    * ``"pad"``: zero padding, centred (``size >= H``); the image keeps its pixels.

    ``nearest`` and ``bilinear`` stay within the input's value range; ``pad`` adds zeros.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4:
        raise ConfigError(f"resize_images needs (N, C, H, W) images, got shape {images.shape}")
    if method not in RESIZE_METHODS:
        raise ConfigError(f"unknown resize method {method!r}; choose one of "
                          f"{sorted(RESIZE_METHODS)}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ConfigError(f"size must be a positive integer (pixels), got {size!r}")
    return RESIZE_METHODS[method](images, int(size))


def _resize_interp(method: str) -> Callable[[np.ndarray, int], np.ndarray]:
    def resize(images: np.ndarray, size: int) -> np.ndarray:
        rows = _interp_matrix(images.shape[2], size, method)
        cols = _interp_matrix(images.shape[3], size, method)
        return np.einsum("ih,nchw,jw->ncij", rows, images, cols)
    return resize


def _pad(images: np.ndarray, size: int) -> np.ndarray:
    h, w = images.shape[2:]
    if size < h or size < w:
        raise ConfigError(f"pad cannot shrink {h}x{w} images to {size}x{size}; use "
                          f"'nearest' or 'bilinear'")
    top, left = (size - h) // 2, (size - w) // 2
    return np.pad(images, ((0, 0), (0, 0), (top, size - h - top), (left, size - w - left)))


RESIZE_METHODS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "nearest": _resize_interp("nearest"),
    "bilinear": _resize_interp("bilinear"),
    "pad": _pad,
}
"""Image resizing functions ``f(images (N, C, H, W), size) -> (N, C, size, size)``."""

DATASETS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits_dataset,
    "mnist": load_mnist_idx,
    "fashion-mnist": lambda directory_or_files, **kw: load_mnist_idx(
        directory_or_files, name="fashion-mnist", **kw),
    "cifar10": load_cifar10,
}
"""Data-set loaders by name (all but ``digits`` take a local path).  The names are the
values ``data.dataset`` of a run config accepts."""

NORMALIZATIONS = ("unit", "standard")
"""``unit``: pixel values as loaded, scaled to [0, 1]; ``standard``: then per channel
minus the training images' mean, divided by their standard deviation."""


@dataclass(frozen=True)
class RunData:
    """The images a training run uses: train, validation and test splits.

    Attributes
    ----------
    x_train, x_val, x_test : ndarray, float64, shape (N, C, H, W)
    y_train, y_val, y_test : ndarray, int64, shape (N,)
        ``x_val`` is empty when no validation split was asked for.
    num_classes : int
    normalization : dict
        ``{"method": ..., "mean": [per channel], "std": [per channel]}`` as applied
        (mean 0 and std 1 for ``unit``); stored in the run file.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    normalization: dict

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])


def load_run_data(data) -> RunData:
    """The splits a run config's ``data`` section describes (:class:`cosim.config.DataConfig`).

    Order of work: load (digits split by ``split_seed``; the other sets come with their
    own test split), draw the validation split from the training images
    (``val_fraction``, seeded by ``split_seed``), apply ``train_limit`` / ``val_limit`` /
    ``test_limit``, resize to ``input_size``, normalise (statistics of the training split).
    Nothing is downloaded: the files sit under ``data.path``.
    """
    name = data.dataset
    if name not in DATASETS:
        raise ConfigError(f"data.dataset {name!r} is unknown; choose one of "
                          f"{', '.join(DATASETS)}")
    if name == "digits":
        ds = load_digits_dataset(test_fraction=data.test_fraction, seed=data.split_seed)
    else:
        if not data.path:
            raise ConfigError(f"data.dataset = {name!r} reads local files: set data.path to "
                              "the folder that holds them (e.g. --set data.path=~/data/"
                              f"{name}); nothing is downloaded")
        ds = DATASETS[name](Path(data.path).expanduser())
    x_tr, y_tr = ds.x_train, ds.y_train
    x_va, y_va = x_tr[:0], y_tr[:0]
    if data.val_fraction:
        n = x_tr.shape[0]
        n_val = max(1, int(round(data.val_fraction * n)))
        if n_val >= n:
            raise ConfigError(f"data.val_fraction {data.val_fraction} leaves no training "
                              f"images of {n}; lower it")
        order = np.random.default_rng([data.split_seed, 1]).permutation(n)
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        x_tr, y_tr, x_va, y_va = x_tr[train], y_tr[train], x_tr[val], y_tr[val]
    if data.train_limit:
        x_tr, y_tr = x_tr[:data.train_limit], y_tr[:data.train_limit]
    if getattr(data, "val_limit", 0):
        x_va, y_va = x_va[:data.val_limit], y_va[:data.val_limit]
    if data.test_limit:
        x_te, y_te = ds.x_test[:data.test_limit], ds.y_test[:data.test_limit]
    else:
        x_te, y_te = ds.x_test, ds.y_test
    if data.input_size != x_tr.shape[-1] or data.input_size != x_tr.shape[-2]:
        x_tr, x_va, x_te = (resize_images(x, data.input_size, data.resize)
                            for x in (x_tr, x_va, x_te))
    channels = x_tr.shape[1]
    mean, std = np.zeros(channels), np.ones(channels)
    if data.normalize == "standard":
        mean = x_tr.mean(axis=(0, 2, 3))
        std = x_tr.std(axis=(0, 2, 3))
        std = np.where(std > 0, std, 1.0)
        shift, scale = mean[None, :, None, None], std[None, :, None, None]
        x_tr, x_va, x_te = ((x - shift) / scale for x in (x_tr, x_va, x_te))
    elif data.normalize != "unit":
        raise ConfigError(f"data.normalize {data.normalize!r}: choose one of "
                          f"{', '.join(NORMALIZATIONS)}")
    norm = {"method": data.normalize, "mean": [float(v) for v in mean],
            "std": [float(v) for v in std]}
    return RunData(x_tr, y_tr, x_va, y_va, x_te, y_te, ds.num_classes, norm)
