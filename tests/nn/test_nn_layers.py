"""cosim.nn layers, loss and models: analytic gradients against finite differences,
convolution and pooling against direct definitions, shapes and counts against published
network sizes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate

from cosim.errors import ConfigError
from cosim.nn import (LAYERS, MODELS, AvgPool2d, Conv2d, Flatten, IdealBackend, Linear,
                      MaxPool2d, ReLU, ArrayWeightStore, build_model, is_bias_name, col2im, im2col,
                      lenet5, softmax_cross_entropy, vgg, vgg_blocks_config)
from cosim.nn.layers import Layer

RTOL = 1e-6  # acceptance: analytic within 1e-6 relative of finite differences
EPS = 1e-6


def _assert_grad_close(analytic, numeric, what):
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    scale = np.max(np.abs(numeric))
    assert scale > 0, f"{what}: numeric gradient is identically zero; the check is vacuous"
    rel = np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)
    assert rel < RTOL, f"{what}: relative error {rel:.2e}"
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * scale, err_msg=what)


def _central_difference(f, arr, index_list=None):
    """d f / d arr by central differences, perturbing ``arr`` in place."""
    grad = np.zeros_like(arr)
    indices = np.ndindex(arr.shape) if index_list is None else index_list
    for idx in indices:
        old = arr[idx]
        arr[idx] = old + EPS
        fp = f()
        arr[idx] = old - EPS
        fm = f()
        arr[idx] = old
        grad[idx] = (fp - fm) / (2 * EPS)
    return grad


def _away_from_zero(rng, shape):
    """Inputs with |x| >= 0.05, so a 1e-6 perturbation never crosses a ReLU kink."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.05, 1.0, size=shape)


# One or more example configurations per registered layer kind.
EXAMPLES: dict[str, list[tuple[Layer, tuple]]] = {
    "linear": [(Linear("fc", 7, 5), (3, 7))],
    "conv2d": [(Conv2d("conv", 2, 3, 3), (2, 2, 6, 5)),
               (Conv2d("conv", 2, 3, 3, stride=2, padding=1), (2, 2, 7, 6))],
    "maxpool2d": [(MaxPool2d("pool", 2), (2, 3, 6, 6)),
                  (MaxPool2d("pool", 3, stride=2), (2, 2, 7, 7))],
    "avgpool2d": [(AvgPool2d("pool", 2), (2, 3, 6, 6)),
                  (AvgPool2d("pool", 3, stride=2), (2, 2, 7, 7))],
    "relu": [(ReLU("relu"), (2, 3, 4, 5))],
    "flatten": [(Flatten("flat"), (2, 3, 4, 5))],
}


def test_every_registered_layer_has_a_gradient_example():
    assert set(EXAMPLES) == set(LAYERS)


@pytest.mark.parametrize("kind,case", [(k, i) for k in sorted(LAYERS)
                                       for i in range(len(EXAMPLES[k]))])
def test_layer_backward_matches_finite_differences(kind, case):
    layer, x_shape = EXAMPLES[kind][case]
    rng = np.random.default_rng(123 + case)
    backend, store = IdealBackend(), ArrayWeightStore()
    for name, value in layer.init_params(rng).items():
        # non-zero biases so their gradient path is exercised with generic values
        store.set_weight(name, value + rng.normal(0, 0.1, value.shape))
    x = _away_from_zero(rng, x_shape)
    y, cache = layer.forward(x, backend, store)
    assert y.shape == (x_shape[0],) + layer.output_shape(x_shape[1:])
    upstream = rng.standard_normal(y.shape)
    dx, grads = layer.backward(upstream, cache, backend, store)

    def objective():
        return float(np.sum(upstream * layer.forward(x, backend, store)[0]))

    _assert_grad_close(dx, _central_difference(objective, x), f"{kind}: d/dx")
    assert set(grads) == set(layer.param_shapes())
    for name in grads:
        param = store._params[name]  # perturb the stored array itself
        _assert_grad_close(grads[name], _central_difference(objective, param), f"{kind}: d/d{name}")


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 3, (6, 4))
    labels = rng.integers(0, 4, 6)
    loss, d = softmax_cross_entropy(logits, labels)
    # value from the definition, computed naively
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), labels])), rel=1e-12)
    numeric = _central_difference(lambda: softmax_cross_entropy(logits, labels)[0], logits)
    _assert_grad_close(d, numeric, "softmax cross-entropy")
    # stable for huge logits
    big, _ = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert big == pytest.approx(1000.0)
    with pytest.raises(ConfigError, match="labels must lie"):
        softmax_cross_entropy(logits, np.full(6, 4))


def _model_gradient_check(model, x, labels, rng, per_param=12):
    # Generic non-zero biases: with zero biases a unit whose inputs are all zero (dead
    # ReLUs, padding) sits exactly on the ReLU kink, where no derivative exists.
    for name in model.param_shapes():
        if is_bias_name(name):
            model.store.apply_update(name, rng.normal(0, 0.1, model.store.weight(name).shape))
    _, grads, _, dx = model.loss_and_grads(x, labels, input_grad=True)

    def objective():
        return model.loss_and_grads(x, labels)[0]

    in_idx = [tuple(rng.integers(0, s) for s in x.shape) for _ in range(per_param)]
    _assert_grad_close(dx[tuple(np.array(in_idx).T)],
                       _central_difference(objective, x, in_idx)[tuple(np.array(in_idx).T)],
                       "model: d/dinput")
    for name in model.param_shapes():
        param = model.store._params[name]
        idx = list({tuple(int(rng.integers(0, s)) for s in param.shape)
                    for _ in range(per_param)})
        sel = tuple(np.array(idx).T)
        _assert_grad_close(grads[name][sel], _central_difference(objective, param, idx)[sel],
                           f"model: d/d{name}")


def test_lenet5_end_to_end_gradient():
    rng = np.random.default_rng(7)
    model = lenet5(input_size=28, width=0.5, pool="avg", rng=rng)
    x = rng.uniform(0, 1, (2, 1, 28, 28))
    _model_gradient_check(model, x, np.array([3, 7]), rng)


def test_small_vgg_end_to_end_gradient():
    rng = np.random.default_rng(8)
    model = vgg(vgg_blocks_config(2, [2, 1], base_channels=3), in_channels=2, input_size=8,
                hidden=(6,), num_classes=4, rng=rng)
    x = rng.uniform(0, 1, (2, 2, 8, 8))
    _model_gradient_check(model, x, np.array([0, 3]), rng)


def test_conv_matches_direct_cross_correlation():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8))
    layer = Conv2d("c", 3, 4, 3, stride=2, padding=1)
    store = ArrayWeightStore()
    for name, value in layer.init_params(rng).items():
        store.set_weight(name, value + 0.3)
    y, _ = layer.forward(x, IdealBackend(), store)
    kernel = store.weight("c").reshape(4, 3, 3, 3)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for n in range(2):
        for o in range(4):
            full = correlate(xp[n], kernel[o], mode="valid")[0]  # sums over channels
            np.testing.assert_allclose(y[n, o], full[::2, ::2] + store.weight("c.bias")[o],
                                       rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(4)
    for shape, k, s, p in [((2, 3, 7, 6), (3, 3), 1, 0), ((1, 2, 9, 9), (3, 2), 2, 1)]:
        x = rng.standard_normal(shape)
        cols = im2col(x, k, s, p)
        a = rng.standard_normal(cols.shape)
        # <im2col(x), a> == <x, col2im(a)>
        assert np.sum(cols * a) == pytest.approx(np.sum(x * col2im(a, shape, k, s, p)),
                                                 rel=1e-12)


def test_pooling_matches_direct_loops():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 7, 7))
    mx, _ = MaxPool2d("m", 3, stride=2).forward(x, IdealBackend(), ArrayWeightStore())
    av, _ = AvgPool2d("a", 3, stride=2).forward(x, IdealBackend(), ArrayWeightStore())
    for i in range(3):
        for j in range(3):
            window = x[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            np.testing.assert_array_equal(mx[:, :, i, j], window.max(axis=(2, 3)))
            np.testing.assert_allclose(av[:, :, i, j], window.mean(axis=(2, 3)), rtol=1e-14)


def test_lenet5_has_the_published_parameter_count():
    # 61,706 trainable parameters: LeNet-5 with fully connected C3 (156 + 2,416 + 48,120
    # + 10,164 + 850), as in the PyTorch LeNet-5 tutorials / torchsummary.
    infos = lenet5().layer_shapes()
    assert sum(i.params for i in infos) == 61_706
    assert [i.output_shape for i in infos if i.kind == "conv2d"] == [(6, 28, 28), (16, 10, 10)]
    assert lenet5(input_size=28).layer_shapes()[0].output_shape == (6, 28, 28)


def test_vgg16_imagenet_shapes_match_published_counts():
    # Keras applications VGG16 (include_top=True, 224x224x3, 1000 classes):
    # 138,357,544 parameters; the conv part alone (include_top=False): 14,714,688.
    model = vgg("vgg16", num_classes=1000, input_size=224, hidden=(4096, 4096))
    infos = model.layer_shapes()
    assert sum(i.params for i in infos) == 138_357_544
    assert sum(i.params for i in infos if i.kind == "conv2d") == 14_714_688
    # MACs from the definition: H*W*C_in*9*C_out per conv, in*out per dense layer
    macs, (c, h) = 0, (3, 224)
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                 512, 512, 512, "M"):
        if item == "M":
            h //= 2
        else:
            macs += h * h * c * 9 * item
            c = item
    macs += 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert sum(i.macs for i in infos) == macs
    assert macs == pytest.approx(15.47e9, rel=1e-3)  # the commonly quoted ~15.5 GMACs
    convs = [i for i in infos if i.kind == "conv2d"]
    assert convs[0].weight_shape == (64, 27) and convs[0].rows_per_sample == 224 * 224


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_builds_and_runs(name):
    options = {"lenet5": {"width": 0.5},
               "vgg": {"config": vgg_blocks_config(3, base_channels=4)},
               "layers": {"layers": [{"kind": "conv2d", "out": 3, "kernel": 5},
                                     {"kind": "relu"}, {"kind": "avgpool2d", "kernel": 4},
                                     {"kind": "flatten"}, {"kind": "linear", "out": 10}]},
               }[name]
    model = build_model(name, rng=np.random.default_rng(0), **options)
    x = np.random.default_rng(1).uniform(0, 1, (2,) + model.input_shape)
    out = model.forward(x)
    assert out.shape == (2, 10) and np.all(np.isfinite(out))
    assert model.layer_shapes()[-1].output_shape == (10,)


def test_vgg_configs_and_errors():
    assert vgg_blocks_config(5, [1, 1, 2, 2, 2]) == (64, "M", 128, "M", 256, 256, "M",
                                                      512, 512, "M", 512, 512, "M")
    assert len([i for i in vgg("vgg11").layer_shapes() if i.kind == "conv2d"]) == 8
    with pytest.raises(ConfigError, match="below 1x1"):
        vgg(vgg_blocks_config(6))
    with pytest.raises(ConfigError, match="unknown VGG"):
        vgg("vgg12")
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("resnet")
    with pytest.raises(ConfigError, match="28 or 32"):
        lenet5(input_size=8)
    with pytest.raises(ConfigError, match="expects per-sample input"):
        lenet5().layer_shapes((3, 32, 32))
