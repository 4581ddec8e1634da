"""Model builders: LeNet-5 and VGG-style networks, chosen by name from :data:`MODELS`.

LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11), 1998, Sec. II.B): 32x32 input, C1 6@5x5 -> S2 2x2 ->
C3 16@5x5 -> S4 2x2 -> C5 120 -> F6 84 -> output.  Differences from the paper, chosen
for trainability and stated here: ReLU instead of the scaled tanh; max pooling by default
(``pool="avg"`` gives the paper's averaging subsampling, without its trainable scale);
C3 connects to all six S2 maps (the paper's partial connection table is not used); C5 is a
dense layer on the flattened 16x5x5 maps (identical to a 5x5 convolution on a 5x5
input); the output is a dense layer with softmax cross-entropy instead of RBF units.
For 28x28 inputs (MNIST) C1 is zero-padded by 2 so the rest of the network is unchanged.
8x8 images (scikit-learn digits) are brought to 32x32 with
:func:`cosim.nn.data.resize_images` before they enter the network.

VGG (Simonyan and Zisserman, "Very deep convolutional networks for large-scale image
recognition", ICLR 2015, Table 1, configurations A = VGG-11, B = VGG-13, D = VGG-16,
E = VGG-19): 3x3 convolutions with padding 1, ReLU, 2x2 max pooling after each block.
For 32x32 inputs (CIFAR-10) the classifier is a stack of dense layers of widths
``hidden`` (default: none, i.e. one dense layer from the flattened features to the
classes, as in common CIFAR adaptations) instead of the paper's 4096-4096-1000 head.
Batch normalisation and dropout are not used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cosim.errors import ConfigError
from cosim.nn.backend import MatmulBackend, WeightStore
from cosim.nn.layers import POOLING, Conv2d, Flatten, Layer, Linear, MaxPool2d, ReLU
from cosim.nn.model import Sequential

POOL = "M"
"""Marker for a 2x2 max-pooling layer in a VGG configuration list."""

VGG_CONFIGS: dict[str, tuple] = {
    "vgg11": (64, POOL, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    "vgg13": (64, 64, POOL, 128, 128, POOL, 256, 256, POOL, 512, 512, POOL, 512, 512, POOL),
    "vgg16": (64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL,
              512, 512, 512, POOL),
    "vgg19": (64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512,
              POOL, 512, 512, 512, 512, POOL),
}
"""VGG layer lists (Simonyan and Zisserman 2015, Table 1): ints are 3x3 conv widths."""


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _check_width(width: float) -> float:
    try:
        w = float(width)
    except (TypeError, ValueError):
        raise ConfigError(f"width must be a positive number, got {width!r}") from None
    if not np.isfinite(w) or w <= 0:
        raise ConfigError(f"width must be a positive number, got {width!r}")
    return w


def _finish(layers: list[Layer], input_shape, backend, store, rng) -> Sequential:
    model = Sequential(layers, backend=backend, store=store, input_shape=input_shape)
    if rng is not None:
        model.initialize(rng)
    return model


def lenet5(*, num_classes: int = 10, in_channels: int = 1, input_size: int = 32,
           width: float = 1.0, pool: str = "max", rng: np.random.Generator | None = None,
           backend: MatmulBackend | None = None,
           store: WeightStore | None = None) -> Sequential:
    """LeNet-5 (see the module docstring for the exact architecture).

    Parameters
    ----------
    num_classes : int
    in_channels : int
    input_size : int
        Input height = width in pixels: 32, or 28 (C1 then pads by 2).
    width : float
        Multiplier of every hidden width (6, 16, 120, 84); 1 is the paper's network.
    pool : {"max", "avg"}
    rng : numpy.random.Generator, optional
        If given, parameters are initialised from it (He normal, zero bias).
    backend, store : optional
        Matmul backend and weight store (defaults: exact numpy, float arrays).
    """
    if input_size not in (28, 32):
        raise ConfigError(f"lenet5 input_size must be 28 or 32 pixels, got {input_size!r}; "
                          f"resize the images with cosim.nn.data.resize_images")
    if pool not in POOLING:
        raise ConfigError(f"unknown pooling {pool!r}; choose one of {sorted(POOLING)}")
    w = _check_width(width)
    c1, c3, f5, f6 = (_scaled(c, w) for c in (6, 16, 120, 84))
    pool_cls = POOLING[pool]
    layers = [
        Conv2d("conv1", in_channels, c1, 5, padding=(32 - input_size) // 2), ReLU("relu1"),
        pool_cls("pool1", 2),
        Conv2d("conv2", c1, c3, 5), ReLU("relu2"), pool_cls("pool2", 2),
        Flatten("flatten"),
        Linear("fc1", c3 * 5 * 5, f5), ReLU("relu3"),
        Linear("fc2", f5, f6), ReLU("relu4"),
        Linear("fc3", f6, num_classes),
    ]
    return _finish(layers, (in_channels, input_size, input_size), backend, store, rng)


def vgg_blocks_config(n_blocks: int, convs_per_block: int | Sequence[int] = 1,
                      base_channels: int = 64, max_channels: int = 512) -> tuple:
    """A VGG layer list of ``n_blocks`` blocks, each some 3x3 convs then a 2x2 max pool.

    Block ``b`` (from 0) has ``min(base_channels * 2**b, max_channels)`` channels, as in
    every configuration of Simonyan and Zisserman (2015), Table 1.  A 32x32 input allows
    at most 5 blocks.
    """
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 1:
        raise ConfigError(f"n_blocks must be an integer >= 1, got {n_blocks!r}")
    convs = ([convs_per_block] * n_blocks if isinstance(convs_per_block, int)
             else list(convs_per_block))
    if len(convs) != n_blocks or any(not isinstance(c, int) or c < 1 for c in convs):
        raise ConfigError(f"convs_per_block must be an integer >= 1 or {n_blocks} of them, "
                          f"got {convs_per_block!r}")
    config: list = []
    for b, n in enumerate(convs):
        config += [min(base_channels * 2 ** b, max_channels)] * n + [POOL]
    return tuple(config)


def vgg(config: str | Sequence = "vgg11", *, num_classes: int = 10, in_channels: int = 3,
        input_size: int = 32, width: float = 1.0, hidden: Sequence[int] = (),
        rng: np.random.Generator | None = None, backend: MatmulBackend | None = None,
        store: WeightStore | None = None) -> Sequential:
    """VGG-style network.

    Parameters
    ----------
    config : str or sequence
        A name in :data:`VGG_CONFIGS`, or a layer list of conv widths (int) and
        :data:`POOL` markers, e.g. from :func:`vgg_blocks_config`.
    num_classes, in_channels : int
    input_size : int
        Input height = width, pixels (32 for CIFAR-10).
    width : float
        Multiplier of every conv and hidden width.
    hidden : sequence of int
        Widths of the hidden dense layers of the classifier (each followed by ReLU).
    rng, backend, store :
        As for :func:`lenet5`.
    """
    if isinstance(config, str):
        if config not in VGG_CONFIGS:
            raise ConfigError(f"unknown VGG configuration {config!r}; choose one of "
                              f"{sorted(VGG_CONFIGS)} or pass a layer list")
        config = VGG_CONFIGS[config]
    w = _check_width(width)
    layers: list[Layer] = []
    channels, size, n_conv, n_pool = in_channels, input_size, 0, 0
    for item in config:
        if item == POOL:
            n_pool += 1
            layers.append(MaxPool2d(f"pool{n_pool}", 2))
            size //= 2
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and item > 0:
            n_conv += 1
            out = _scaled(int(item), w)
            layers += [Conv2d(f"conv{n_conv}", channels, out, 3, padding=1),
                       ReLU(f"relu{n_conv}")]
            channels = out
        else:
            raise ConfigError(f"VGG layer list entries must be positive ints or {POOL!r}, "
                              f"got {item!r}")
        if size < 1:
            raise ConfigError(f"VGG configuration pools a {input_size}x{input_size} input "
                              f"below 1x1 after {n_pool} pools; use fewer blocks")
    if n_conv == 0:
        raise ConfigError("VGG configuration has no convolution")
    layers.append(Flatten("flatten"))
    features = channels * size * size
    for i, h in enumerate(hidden, start=1):
        h = _scaled(h, w)
        layers += [Linear(f"fc{i}", features, h), ReLU(f"fc_relu{i}")]
        features = h
    layers.append(Linear(f"fc{len(hidden) + 1}", features, num_classes))
    return _finish(layers, (in_channels, input_size, input_size), backend, store, rng)


def from_layers(layers: Sequence, *, num_classes: int = 10, in_channels: int = 1,
                input_size: int = 32, width: float = 1.0,
                rng: np.random.Generator | None = None, backend: MatmulBackend | None = None,
                store: WeightStore | None = None) -> Sequential:
    """A network from a layer list, as a run config's ``[[model.layers]]`` gives it.

    Each entry has a ``kind`` from :data:`cosim.nn.layers.LAYERS` (``conv2d``,
    ``linear``, ``relu``, ``maxpool2d``, ``avgpool2d``, ``flatten``) and, as the kind
    needs them, ``out`` (output channels or features), ``kernel``, ``stride`` and
    ``padding`` (entries are mappings or objects with those attributes; missing numbers
    are 0, meaning "default").  Input sizes follow from the previous layer, so only a
    wrong order or size can fail: every shape is checked here, before any training, and
    a mismatch names the layer.  ``width`` scales every ``out`` but the last layer's,
    which must equal ``num_classes``.

    Example (LeNet-like)::

        [{"kind": "conv2d", "out": 6, "kernel": 5}, {"kind": "relu"},
         {"kind": "maxpool2d", "kernel": 2}, {"kind": "flatten"},
         {"kind": "linear", "out": 10}]
    """
    from cosim.nn.layers import LAYERS, AvgPool2d

    def field(spec, key: str) -> int:
        value = spec.get(key, 0) if isinstance(spec, dict) else getattr(spec, key, 0)
        return int(value or 0)

    if not layers:
        raise ConfigError("model.layers is empty; give at least one layer")
    w = _check_width(width)
    shape: tuple[int, ...] = (in_channels, input_size, input_size)
    built: list[Layer] = []
    counts: dict[str, int] = {}
    for i, spec in enumerate(layers):
        kind = spec.get("kind") if isinstance(spec, dict) else getattr(spec, "kind", None)
        if kind not in LAYERS:
            raise ConfigError(f"model.layers[{i}]: kind {kind!r} is unknown; choose one of "
                              f"{', '.join(LAYERS)}")
        counts[kind] = counts.get(kind, 0) + 1
        name = f"{kind}{counts[kind]}"
        last = i == len(layers) - 1
        out = field(spec, "out")
        if out and not last:
            out = _scaled(out, w)
        where = f"model.layers[{i}] ({name})"
        if kind in ("conv2d", "linear") and out < 1:
            raise ConfigError(f"{where}: give 'out', the number of output "
                              f"{'channels' if kind == 'conv2d' else 'features'}")
        if kind == "conv2d":
            if len(shape) != 3:
                raise ConfigError(f"{where}: a convolution needs (channels, height, width) "
                                  f"input, but the previous layer gives {shape}")
            layer: Layer = Conv2d(name, shape[0], out, field(spec, "kernel") or 3,
                                  stride=field(spec, "stride") or 1,
                                  padding=field(spec, "padding"))
        elif kind == "linear":
            if len(shape) != 1:
                raise ConfigError(f"{where}: a linear layer needs a flat input, but the "
                                  f"previous layer gives {shape}; add a flatten layer before it")
            layer = Linear(name, shape[0], out)
        elif kind in ("maxpool2d", "avgpool2d"):
            cls = MaxPool2d if kind == "maxpool2d" else AvgPool2d
            layer = cls(name, field(spec, "kernel") or 2, field(spec, "stride") or None)
        else:
            layer = LAYERS[kind](name)
        try:
            shape = tuple(layer.output_shape(shape))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        built.append(layer)
    if shape != (num_classes,):
        raise ConfigError(f"model.layers: the network ends with output shape {shape}, "
                          f"but the data set has {num_classes} classes; end with a linear "
                          f"layer of out = {num_classes}")
    return _finish(built, (in_channels, input_size, input_size), backend, store, rng)


MODELS: dict[str, Callable[..., Sequential]] = {"lenet5": lenet5, "vgg": vgg,
                                                "layers": from_layers}
"""Model builders by name; each takes keyword options and returns a Sequential."""


def build_model(name: str, **options) -> Sequential:
    """The model ``name`` from :data:`MODELS`, built with ``options``."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; registered: "
                          f"{', '.join(sorted(MODELS))}") from None
    return builder(**options)
