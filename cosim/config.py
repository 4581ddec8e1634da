"""Run configuration: a validated, frozen, serialisable tree of dataclasses.

A training run is fully described by one :class:`RunConfig`:

============  ===========================================================================
section       what it holds
============  ===========================================================================
``seed``      the master seed; every random stream of the run is spawned from it
``data``      :class:`DataConfig`: dataset, split, input size, optional subsets
``model``     :class:`ModelConfig`: network builder (``cosim.nn.MODELS``) and its width
``training``  :class:`TrainingConfig`: epochs, batch, optimizer, checkpoints, sampling
``design``    :class:`cosim.design.DesignSpec`: the accelerator (a shipped design or a
              design card file, plus dotted overrides; :mod:`cosim.design`)
``hardware``  :class:`cosim.hw.backend.HardwareConfig`: how it is simulated (engines,
              spot checks, the noise switch)
``numerics``  :class:`NumericsConfig`: numerical settings (BLAS threads)
============  ===========================================================================

The accelerator (``design``), its simulation (``hardware``) and numerical settings
(``numerics``) are kept apart.
Configs load from TOML (:func:`load_config`), take dotted overrides
(``"design.converters.adc_bits=4"``, :func:`apply_overrides`), and serialise to canonical JSON
(:meth:`RunConfig.to_json`: every field, sorted keys) which the run file stores
verbatim, so a run can always be reproduced from its file.

Unknown keys are rejected with the dotted path of the key and the list of valid keys;
wrong types and out-of-range values raise :class:`cosim.errors.ConfigError` naming the
field, the valid range and the fix.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cosim.design.model import DesignSpec
from cosim.errors import ConfigError

ResizeMethod = Literal["nearest", "bilinear", "pad"]


def _hardware_config_class():
    """A's :class:`cosim.hw.backend.HardwareConfig` (imported lazily: it pulls optics)."""
    from cosim.hw.backend import HardwareConfig

    return HardwareConfig


def _default_hardware():
    return _hardware_config_class()()


def _check_int(where: str, value: Any, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or \
            (hi is not None and value > hi):
        rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ConfigError(f"{where} must be an integer {rng}, got {value!r}")


def _check_float(where: str, value: Any, lo: float, hi: float, *, lo_open: bool = False,
                 hi_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ConfigError(f"{where} must be a number in {rng}, got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """Which data, how it is split and shaped.

    Attributes
    ----------
    dataset : str
        A name of :data:`cosim.nn.data.DATASETS`: ``digits`` (scikit-learn's bundled 8x8
        handwritten digits, 1797 images, 10 classes; the default, needs no file),
        ``mnist``, ``fashion-mnist`` (IDX files, gzipped or raw) or ``cifar10`` (the
        python-version batches), the last three read from ``path``.
    path : str
        Folder of the local data files (``~`` is expanded); nothing is downloaded.
    test_fraction : float
        Held-out fraction in (0, 1) (digits only: the other sets have their own test
        split).
    val_fraction : float
        Fraction of the training images held out for validation, in [0, 0.5); 0 = no
        validation split.  Validation accuracy is recorded per epoch; choose
        hyper-parameters on it, never on the test set.
    val_limit : int
        Use only the first N validation images (0 = all).
    normalize : {"unit", "standard"}
        ``unit``: pixels scaled to [0, 1] as loaded; ``standard``: then per channel minus
        the training split's mean, over its standard deviation.  The applied statistics
        are stored in the run file.
    split_seed : int
        Seed of the train/test split (independent of the run seed, so runs with
        different seeds see the same split).
    input_size : int
        Images are resized to ``input_size x input_size`` pixels (32 for LeNet-5).
    resize : {"nearest", "bilinear", "pad"}
        Resize method (:func:`cosim.nn.data.resize_images`).
    train_limit, test_limit : int
        Use only the first N training / test images (0 = all): small runs for tests.
    """

    dataset: str = "digits"
    path: str = ""
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    split_seed: int = 0
    input_size: int = 32
    resize: ResizeMethod = "nearest"
    normalize: Literal["unit", "standard"] = "unit"
    train_limit: int = 0
    val_limit: int = 0
    test_limit: int = 0

    def __post_init__(self) -> None:
        from cosim.nn.data import DATASETS

        if self.dataset not in DATASETS:
            raise ConfigError(f"data.dataset must be one of {', '.join(DATASETS)}, got "
                              f"{self.dataset!r}")
        _check_float("data.test_fraction", self.test_fraction, 0.0, 1.0,
                     lo_open=True, hi_open=True)
        _check_float("data.val_fraction", self.val_fraction, 0.0, 0.5, hi_open=True)
        _check_int("data.val_limit", self.val_limit, 0)
        _check_int("data.split_seed", self.split_seed, 0)
        _check_int("data.input_size", self.input_size, 8, 256)
        _check_int("data.train_limit", self.train_limit, 0)
        _check_int("data.test_limit", self.test_limit, 0)


@dataclass(frozen=True)
class LayerSpec:
    """One entry of a layer-list network (``name = "layers"``), see
    :func:`cosim.nn.zoo.from_layers`.

    Attributes
    ----------
    kind : {"conv2d", "linear", "relu", "maxpool2d", "avgpool2d", "flatten"}
    out : int
        Output channels (conv2d) or features (linear); 0 for the other kinds.
    kernel, stride, padding : int
        Convolution / pooling geometry; 0 = the default (kernel 3 for conv2d, 2 for
        pooling; stride 1 for conv2d, the kernel for pooling; padding 0).
    """

    kind: str
    out: int = 0
    kernel: int = 0
    stride: int = 0
    padding: int = 0

    def __post_init__(self) -> None:
        from cosim.nn.layers import LAYERS

        if self.kind not in LAYERS:
            raise ConfigError(f"model.layers: kind must be one of {', '.join(LAYERS)}, got "
                              f"{self.kind!r}")
        for name in ("out", "kernel", "stride", "padding"):
            _check_int(f"model.layers.{name}", getattr(self, name), 0)


@dataclass(frozen=True)
class ModelConfig:
    """The network, by name from :data:`cosim.nn.MODELS`.

    Attributes
    ----------
    name : str
        A name of :data:`cosim.nn.zoo.MODELS`: ``lenet5``, ``vgg`` or ``layers`` (the
        network given by ``layers``).
    width : float
        Multiplier of every hidden width (1 = the published network), > 0.
    pool : {"max", "avg"}
        LeNet-5 pooling.
    vgg_config : str
        VGG configuration name (``cosim.nn.VGG_CONFIGS``), for ``name = "vgg"``.
    layers : list of LayerSpec
        The network for ``name = "layers"`` (``[[model.layers]]`` tables in TOML); its
        shapes are checked when the run is prepared, before the first step.
    """

    name: str = "lenet5"
    width: float = 1.0
    pool: Literal["max", "avg"] = "max"
    vgg_config: str = "vgg11"
    layers: tuple[LayerSpec, ...] = ()

    def __post_init__(self) -> None:
        _check_float("model.width", self.width, 0.0, 16.0, lo_open=True)
        from cosim.nn.zoo import MODELS, VGG_CONFIGS

        if self.name not in MODELS:
            raise ConfigError(f"model.name must be one of {', '.join(MODELS)}, got "
                              f"{self.name!r}")
        if (self.name == "layers") != bool(self.layers):
            raise ConfigError("model.layers is used exactly when model.name = 'layers'; "
                              f"got name {self.name!r} with {len(self.layers)} layers")

        if self.vgg_config not in VGG_CONFIGS:
            raise ConfigError(f"model.vgg_config must be one of {sorted(VGG_CONFIGS)}, got "
                              f"{self.vgg_config!r}")


@dataclass(frozen=True)
class TrainingConfig:
    """The training loop.

    Attributes
    ----------
    epochs : int
        Passes over the training set, >= 1.
    batch_size : int
        Minibatch size, >= 1.
    lr, momentum, weight_decay : float
        SGD settings (:class:`cosim.nn.SGD`): lr > 0, momentum in [0, 1), decay >= 0.
    lr_schedule : {"constant", "cosine"}
        Step size over the run: constant, or cosine decay from lr to 0 over all the
        run's steps (:class:`cosim.nn.SGD`).
    max_steps : int
        Stop after this many optimizer steps in total (0 = no limit, run all epochs).
    checkpoint_every_steps : int
        Also checkpoint every K steps (0 = only at epoch ends and on interrupt).
    signal_every_steps : int
        Store the hardware's sampled signals every K steps (0 = never).
    error_probe_every_steps : int
        Every K steps (and at step 1) compare each hardware product with the exact float
        product of the same operands and store the relative rms error per layer and
        phase (table ``product_errors``; 0 = never).  Costs one float matmul per product
        on those steps and changes no result.
    eval_batch_size : int
        Batch size of test-set evaluation.
    """

    epochs: int = 3
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    max_steps: int = 0
    checkpoint_every_steps: int = 0
    signal_every_steps: int = 10
    error_probe_every_steps: int = 10
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        _check_int("training.epochs", self.epochs, 1, 100_000)
        _check_int("training.batch_size", self.batch_size, 1, 1_000_000)
        _check_float("training.lr", self.lr, 0.0, 1e3, lo_open=True)
        _check_float("training.momentum", self.momentum, 0.0, 1.0, hi_open=True)
        _check_float("training.weight_decay", self.weight_decay, 0.0, 1e3)
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"training.lr_schedule={self.lr_schedule!r}: choose "
                              f"constant or cosine")
        _check_int("training.max_steps", self.max_steps, 0)
        _check_int("training.checkpoint_every_steps", self.checkpoint_every_steps, 0)
        _check_int("training.signal_every_steps", self.signal_every_steps, 0)
        _check_int("training.error_probe_every_steps", self.error_probe_every_steps, 0)
        _check_int("training.eval_batch_size", self.eval_batch_size, 1, 1_000_000)


@dataclass(frozen=True)
class NumericsConfig:
    """Numerical settings (not physics).

    Attributes
    ----------
    blas_threads : int
        BLAS threads during training; 1 makes float results bit-reproducible
        (summation order does not depend on the thread split).
    """

    blas_threads: int = 1

    def __post_init__(self) -> None:
        _check_int("numerics.blas_threads", self.blas_threads, 1, 1024)


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run depends on (see the module docstring).

    Build it from TOML with :func:`load_config`, from a nested dict with
    :meth:`from_dict`, or directly; ``hardware`` defaults to the "bplight" architecture.
    """

    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    design: DesignSpec = field(default_factory=DesignSpec)
    hardware: Any = field(default_factory=_default_hardware)
    numerics: NumericsConfig = field(default_factory=NumericsConfig)

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, 0, 2**63 - 1)
        for name, cls in (("data", DataConfig), ("model", ModelConfig),
                          ("training", TrainingConfig), ("numerics", NumericsConfig),
                          ("design", DesignSpec),
                          ("hardware", _hardware_config_class())):
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"RunConfig.{name} must be a {cls.__name__}, got "
                                  f"{type(getattr(self, name)).__name__}")

    # --- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict of every field (defaults included)."""
        return _to_plain(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, every field): the text stored in run files."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1, allow_nan=False)

    def to_toml(self) -> str:
        """The same content as TOML (fields equal to ``None`` are left out)."""
        return _dump_toml(self.to_dict())

    def digest(self) -> str:
        """sha256 of :meth:`to_json` (identifies the configuration)."""
        import hashlib

        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config",
                  legacy: bool = False) -> RunConfig:
        """Validated config from a nested dict (unknown keys rejected by dotted path).

        ``[design]`` holds ``name`` and dotted overrides (:meth:`DesignSpec.from_table`).
        ``legacy``: translate the physical keys an old run file kept in ``[hardware]``
        into the design (:func:`cosim.hw.backend.legacy_design_overrides`); otherwise
        such a key is refused naming its design value."""
        from cosim.hw.backend import MOVED_TO_DESIGN, legacy_design_overrides, moved_message

        data = dict(data)
        hardware = data.get("hardware")
        if isinstance(hardware, dict) and set(hardware) & set(MOVED_TO_DESIGN):
            if not legacy or "design" in data:
                key = sorted(set(hardware) & set(MOVED_TO_DESIGN))[0]
                raise ConfigError(f"{source}: {moved_message('hardware', key)}")
            hardware = dict(hardware)
            name, overrides = legacy_design_overrides(hardware)
            data["hardware"] = hardware
            data["design"] = {"name": name, "set": overrides}
        if "design" in data:
            try:
                spec = DesignSpec.from_table(data["design"])
            except ConfigError as exc:
                raise ConfigError(f"{source}: {exc}") from None
            data["design"] = {"name": spec.name, "set": spec.set}
        return _build(cls, data, "", source)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """Inverse of :meth:`to_json` (also reads the config of run files written before
        the design was a section of its own)."""
        return cls.from_dict(json.loads(text), source="JSON config", legacy=True)

    def replace(self, **sections) -> RunConfig:
        """A copy with whole sections or fields replaced (validated again)."""
        return dataclasses.replace(self, **sections)


# --------------------------------------------------------------------------- building
def _type_hints(cls) -> dict[str, Any]:
    if cls is RunConfig:
        hints = typing.get_type_hints(cls)
        hints["hardware"] = _hardware_config_class()
        return hints
    return typing.get_type_hints(cls, include_extras=False)


def _fmt_path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _build(cls, data: Any, prefix: str, source: str):
    where = prefix or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: {where} must be a table of keys, got {data!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{source}: unknown key {_fmt_path(prefix, unknown[0])!r}"
                          + (f" (and {', '.join(unknown[1:])})" if unknown[1:] else "")
                          + f"; valid keys of {where}: {', '.join(names)}")
    hints = _type_hints(cls)
    kwargs = {}
    for name in names:
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], _fmt_path(prefix, name), source)
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {where}: {exc}") from None


def _coerce(tp, value: Any, path: str, source: str):  # noqa: C901 - one branch per annotation kind
    """Check ``value`` against the annotation ``tp``; return the value to construct with."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path, source)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise ConfigError(f"{source}: {path} must be one of "
                              f"{', '.join(repr(a) for a in allowed)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, path, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{source}: {path} has the wrong type: {value!r} ({'; '.join(errors)})")
    if origin is dict:
        key_t, val_t = typing.get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {path} must be a table, got {value!r}")
        return {_coerce(key_t, k, f"{path} key", source):
                _coerce(val_t, v, f"{path}.{k}", source) for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {path} must be an array, got {value!r}")
        args = typing.get_args(tp)
        item_t = args[0] if args else Any
        return tuple(_coerce(item_t, v, f"{path}[{i}]", source) for i, v in enumerate(value))
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {path} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: {path} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: {path} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: {path} must be a string, got {value!r}")
        return value
    return value


def _to_plain(obj):
    if dataclasses.is_dataclass(obj):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_plain(v) for v in obj]
    return obj


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()
                               if x is not None) + "}"
    raise ConfigError(f"cannot write {v!r} as TOML")


def _dump_toml(d: dict) -> str:
    """Top-level scalars, then one ``[section]`` per nested table (deeper: inline)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items()
             if v is not None and not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()
                                       if vv is not None]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- loading
def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
                ) -> RunConfig:
    """A :class:`RunConfig` from a TOML file (or defaults) plus dotted overrides.

    Parameters
    ----------
    path : str or Path, optional
        TOML file; ``None`` = all defaults.
    overrides : sequence of str
        ``"section.key=value"`` items, value in TOML syntax (bare words are strings),
        applied in order after the file.
    """
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        from cosim.paths import read_user_text

        text = read_user_text(path, "config file")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    data = apply_overrides(data, overrides)
    config = RunConfig.from_dict(data, source=source + (" + overrides" if overrides else ""))
    return _design_checked(config, source)


def _design_checked(config: RunConfig, source: str) -> RunConfig:
    """``config`` once its design resolves (unknown design values and cards are refused
    here, before any work, naming the value)."""
    try:
        config.design.resolve()
    except ConfigError as exc:
        raise ConfigError(f"{source}: design: {exc}") from None
    return config


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"design.converters.adc_bits=4"`` -> (["hardware", "adc_bits"], 4)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value "
                          f"(e.g. design.converters.adc_bits=4)")
    key, raw = item.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"override {item!r}: empty key part in {key!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: a string (e.g. design.name=electronic)
    return parts, value


def apply_overrides(data: dict[str, Any], overrides) -> dict[str, Any]:
    """A deep copy of ``data`` with each dotted override set (see :func:`parse_override`)."""
    out = json.loads(json.dumps(data)) if data else {}
    for item in overrides:
        parts, value = parse_override(item)
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {item!r}: {p!r} is a value, not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def override_config(config: RunConfig, overrides) -> RunConfig:
    """``config`` with dotted overrides applied (validated again)."""
    return _design_checked(RunConfig.from_dict(apply_overrides(config.to_dict(), overrides),
                                               source="config + overrides"),
                           "config + overrides")
