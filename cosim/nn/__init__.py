"""numpy CNN: layers, losses, optimizer, LeNet-5 / VGG, training loop and data loaders.

Every matrix product of every layer goes through one pluggable *matmul backend* and every
parameter lives in one pluggable *weight store* (:mod:`cosim.nn.backend`), so hardware
tile models replace exact arithmetic and device states replace float weights without
touching the layers.  Defaults (:class:`IdealBackend`, :class:`ArrayWeightStore`) give
plain float64 numpy training.

Example::

    import numpy as np
    from cosim.nn import SGD, Trainer, lenet5, load_digits_dataset, resize_images

    data = load_digits_dataset(test_fraction=0.2, seed=0)
    x_train = resize_images(data.x_train, 32)            # 8x8 -> 32x32, nearest
    model = lenet5(rng=np.random.default_rng(0))
    trainer = Trainer(model, SGD(lr=0.05, momentum=0.9), np.random.default_rng(1), 32)
    trainer.train_epoch(x_train, data.y_train)
    model.accuracy(resize_images(data.x_test, 32), data.y_test)

The data loaders (:mod:`cosim.nn.data`) import scikit-learn only when the digits are
asked for.
"""

from cosim.nn.backend import (
    ArrayWeightStore,
    IdealBackend,
    MatmulBackend,
    WeightStore,
    bias_name,
    is_bias_name,
)
from cosim.nn.data import (
    DATASETS,
    RESIZE_METHODS,
    Dataset,
    DatasetError,
    DatasetFileNotFoundError,
    load_cifar10,
    load_digits_dataset,
    load_mnist_idx,
    read_cifar_batch,
    read_idx,
    resize_images,
)
from cosim.nn.layers import (
    LAYERS,
    POOLING,
    AvgPool2d,
    Conv2d,
    Flatten,
    Layer,
    LayerInfo,
    Linear,
    MaxPool2d,
    ReLU,
    col2im,
    im2col,
)
from cosim.nn.losses import LOSSES, softmax, softmax_cross_entropy
from cosim.nn.model import Sequential, Trainer
from cosim.nn.optim import OPTIMIZERS, SGD
from cosim.nn.zoo import MODELS, POOL, VGG_CONFIGS, build_model, lenet5, vgg, vgg_blocks_config

__all__ = [
    "ArrayWeightStore", "IdealBackend", "MatmulBackend", "WeightStore", "bias_name",
    "is_bias_name", "DATASETS", "RESIZE_METHODS", "Dataset", "DatasetError",
    "DatasetFileNotFoundError", "load_cifar10", "load_digits_dataset", "load_mnist_idx",
    "read_cifar_batch", "read_idx", "resize_images", "LAYERS", "POOLING", "AvgPool2d",
    "Conv2d", "Flatten", "Layer", "LayerInfo", "Linear", "MaxPool2d", "ReLU", "col2im",
    "im2col", "LOSSES", "softmax", "softmax_cross_entropy", "Sequential", "Trainer",
    "OPTIMIZERS", "SGD", "MODELS", "POOL", "VGG_CONFIGS", "build_model", "lenet5", "vgg",
    "vgg_blocks_config",
]
