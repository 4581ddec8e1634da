"""cosim.nn training: the hardware hooks see everything, ideal training equals plain
numpy bit for bit, checkpoints resume exactly, LeNet-5 really learns the digits."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.errors import ConfigError
from cosim.nn import (SGD, ArrayWeightStore, Conv2d, Flatten, IdealBackend, Linear,
                      MaxPool2d, ReLU, Sequential, Trainer, lenet5, load_digits_dataset,
                      resize_images)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Multi-threaded BLAS on tiny matrices is slow on a shared 2-core machine."""
    with threadpool_limits(1, user_api="blas"):
        yield


class RecordingBackend(IdealBackend):
    """Exact products, and a log of (kind, layer, operand shapes, W or None)."""

    def __init__(self):
        self.calls = []

    def forward(self, layer_name, W, X):
        self.calls.append(("forward", layer_name, X.shape, W.copy()))
        return super().forward(layer_name, W, X)

    def backward(self, layer_name, W, dY):
        self.calls.append(("backward", layer_name, dY.shape, W.copy()))
        return super().backward(layer_name, W, dY)

    def gradient(self, layer_name, dY, X):
        self.calls.append(("gradient", layer_name, (dY.shape, X.shape), None))
        return super().gradient(layer_name, dY, X)


def test_backend_sees_every_product_of_every_lenet_layer_once_per_step():
    backend = RecordingBackend()
    model = lenet5(rng=np.random.default_rng(0), backend=backend)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (5, 1, 32, 32)), rng.integers(0, 10, 5)
    trainer = Trainer(model, SGD(lr=0.01), np.random.default_rng(2), batch_size=5)
    weighted = [i for i in model.layer_shapes() if i.weight_shape is not None]
    names = [i.name for i in weighted]
    assert names == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    for step in range(2):
        backend.calls.clear()
        stored = {n: model.store.weight(n).copy() for n in names}
        trainer.train_steps(x, y, 1)
        counts = Counter((kind, name) for kind, name, _, _ in backend.calls)
        expected = {("forward", n): 1 for n in names}
        expected.update({("gradient", n): 1 for n in names})
        # the first layer's W^T delta has no consumer and is not computed
        expected.update({("backward", n): 1 for n in names[1:]})
        assert counts == expected, f"step {step}"
        for kind, name, shapes, W in backend.calls:
            info = weighted[names.index(name)]
            rows = 5 * info.rows_per_sample
            n_out, n_in = info.weight_shape
            if kind == "forward":
                assert shapes == (rows, n_in)
            elif kind == "backward":
                assert shapes == (rows, n_out)
            else:
                assert shapes == ((rows, n_out), (rows, n_in))
            if W is not None:  # the product used the weights the store held
                np.testing.assert_array_equal(W, stored[name])
    backend.calls.clear()
    model.loss_and_grads(x, y, input_grad=True)
    assert ("backward", "conv1") in {(k, n) for k, n, _, _ in backend.calls}


class QuantizingStore(ArrayWeightStore):
    """Weights that can only take values on a grid (like discrete device levels)."""

    step = 1 / 64

    def set_weight(self, name, value):
        super().set_weight(name, np.round(np.asarray(value) / self.step) * self.step)

    def apply_update(self, name, delta):
        new = np.round((self._params[name] + delta) / self.step) * self.step
        self._params[name] = new


def test_network_computes_with_what_the_store_holds():
    store, backend = QuantizingStore(), RecordingBackend()
    model = lenet5(width=0.5, rng=np.random.default_rng(0), store=store, backend=backend)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, (4, 1, 32, 32)), rng.integers(0, 10, 4)
    trainer = Trainer(model, SGD(lr=0.05), np.random.default_rng(2), batch_size=4)
    before = {n: store.weight(n).copy() for n in store.names()}
    trainer.train_steps(x, y, 3)
    changed = [n for n in store.names() if not np.array_equal(store.weight(n), before[n])]
    assert changed, "training changed nothing; the check below would be vacuous"
    for n in store.names():
        w = store.weight(n)
        np.testing.assert_array_equal(np.round(w / store.step) * store.step, w)
    backend.calls.clear()
    model.forward(x)
    for kind, name, _, W in backend.calls:
        np.testing.assert_array_equal(W, store.weight(name))


# --- plain numpy reference of a small CNN, written without cosim.nn ------------------

def _reference_training(x, y, init_seed, shuffle_seed, n_steps, batch, lr, mu):
    """conv 3x3 (1->2) - ReLU - maxpool 2 - flatten - dense 18->5 - ReLU - dense 5->3."""
    rng = np.random.default_rng(init_seed)
    p = {"conv": rng.standard_normal((2, 9)) * np.sqrt(2 / 9), "conv.bias": np.zeros(2),
         "fc1": rng.standard_normal((5, 18)) * np.sqrt(2 / 18), "fc1.bias": np.zeros(5),
         "fc2": rng.standard_normal((3, 5)) * np.sqrt(2 / 5), "fc2.bias": np.zeros(3)}
    vel = {k: np.zeros_like(v) for k, v in p.items()}
    shuffle = np.random.default_rng(shuffle_seed)
    order, pos = None, 0
    for _ in range(n_steps):
        if order is None or pos >= len(x):
            order, pos = shuffle.permutation(len(x)), 0
        idx = order[pos:pos + batch]
        pos += len(idx)
        xb, yb = x[idx], y[idx]
        n = len(xb)
        # conv as patches x W^T
        cols = np.empty((n, 6, 6, 1, 3, 3))
        for a in range(6):
            for b in range(6):
                cols[:, a, b] = xb[:, :, a:a + 3, b:b + 3]
        cols = cols.reshape(n * 36, 9)
        z1 = (cols @ p["conv"].T + p["conv.bias"]).reshape(n, 6, 6, 2).transpose(0, 3, 1, 2)
        a1 = np.where(z1 > 0, z1, 0.0)
        pooled = np.empty((n, 2, 3, 3))
        arg = np.empty((n, 2, 3, 3), dtype=int)
        for a in range(3):
            for b in range(3):
                win = a1[:, :, 2 * a:2 * a + 2, 2 * b:2 * b + 2].reshape(n, 2, 4)
                arg[:, :, a, b] = win.argmax(axis=2)
                pooled[:, :, a, b] = win.max(axis=2)
        h0 = pooled.reshape(n, 18)
        z2 = h0 @ p["fc1"].T + p["fc1.bias"]
        h1 = np.where(z2 > 0, z2, 0.0)
        logits = h1 @ p["fc2"].T + p["fc2.bias"]
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        d3 = e / e.sum(axis=1, keepdims=True)
        d3[np.arange(n), yb] -= 1.0
        d3 = d3 / n
        g = {"fc2": d3.T @ h1, "fc2.bias": d3.sum(axis=0)}
        d2 = np.where(z2 > 0, d3 @ p["fc2"], 0.0)
        g["fc1"], g["fc1.bias"] = d2.T @ h0, d2.sum(axis=0)
        dpool = (d2 @ p["fc1"]).reshape(n, 2, 3, 3)
        da1 = np.zeros_like(a1)
        for a in range(3):
            for b in range(3):
                r, c = np.divmod(arg[:, :, a, b], 2)
                ni, ci = np.meshgrid(np.arange(n), np.arange(2), indexing="ij")
                da1[ni, ci, 2 * a + r, 2 * b + c] = dpool[:, :, a, b]
        dz1 = np.where(z1 > 0, da1, 0.0)
        drows = dz1.transpose(0, 2, 3, 1).reshape(-1, 2)
        g["conv"], g["conv.bias"] = drows.T @ cols, drows.sum(axis=0)
        for k in sorted(g):
            vel[k] = mu * vel[k] + g[k]
            p[k] += -lr * vel[k]
    return p, vel


def _small_model():
    layers = [Conv2d("conv", 1, 2, 3), ReLU("r1"), MaxPool2d("pool", 2), Flatten("flat"),
              Linear("fc1", 18, 5), ReLU("r2"), Linear("fc2", 5, 3)]
    return Sequential(layers, input_shape=(1, 8, 8))


def test_ideal_training_equals_plain_numpy_bit_for_bit():
    data_rng = np.random.default_rng(11)
    x, y = data_rng.uniform(-1, 1, (20, 1, 8, 8)), data_rng.integers(0, 3, 20)
    ref_p, ref_v = _reference_training(x, y, init_seed=3, shuffle_seed=4, n_steps=7,
                                       batch=6, lr=0.1, mu=0.9)
    model = _small_model()
    model.initialize(np.random.default_rng(3))
    opt = SGD(lr=0.1, momentum=0.9)
    losses = Trainer(model, opt, np.random.default_rng(4), batch_size=6).train_steps(x, y, 7)
    assert losses[-1] < losses[0]
    assert set(model.store.names()) == set(ref_p)
    for name, ref in ref_p.items():
        assert np.array_equal(model.store.weight(name), ref), name
        assert np.array_equal(opt.velocity[name], ref_v[name]), name


def _json_round_trip(state):
    return {"arrays": {k: np.array(v) for k, v in state["arrays"].items()},
            "meta": json.loads(json.dumps(state["meta"]))}


def test_checkpoint_resume_is_bit_identical():
    data_rng = np.random.default_rng(21)
    x, y = data_rng.uniform(0, 1, (22, 1, 32, 32)), data_rng.integers(0, 10, 22)

    def fresh(init_seed, shuffle_seed, **schedule):
        model = lenet5(width=0.5, rng=np.random.default_rng(init_seed))
        return Trainer(model, SGD(lr=0.03, momentum=0.8, weight_decay=1e-4, **schedule),
                       np.random.default_rng(shuffle_seed), batch_size=8)

    a = fresh(0, 1, schedule="cosine", total_steps=8)    # the schedule is state too
    a.train_steps(x, y, 4)                      # crosses an epoch boundary (3 steps/epoch)
    checkpoint = _json_round_trip(a.state_dict())
    a.train_steps(x, y, 4)
    b = fresh(99, 98)                           # different init and shuffle: all overwritten
    b.load_state_dict(checkpoint)
    b.train_steps(x, y, 4)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["meta"] == sb["meta"]
    assert sorted(sa["arrays"]) == sorted(sb["arrays"])
    for k in sa["arrays"]:
        assert np.array_equal(sa["arrays"][k], sb["arrays"][k]), k
    assert a.epoch == 3 and a.step_count == 8
    with pytest.raises(ConfigError, match="'arrays' and 'meta'"):
        b.load_state_dict({"weights": {}})


def test_cosine_schedule_steps_follow_the_closed_form():
    """Each update is -lr_t v with lr_t = lr (1 + cos(pi t / T)) / 2 (momentum 0: v = g)."""
    store = ArrayWeightStore()
    store.set_weight("w", np.zeros(3))
    opt = SGD(lr=0.2, momentum=0.0, schedule="cosine", total_steps=5)
    g = np.array([1.0, -2.0, 0.5])
    for t in range(7):                           # beyond T the step stays at 0
        before = store.weight("w").copy()
        opt.step({"w": g}, store)
        lr_t = 0.2 * 0.5 * (1 + np.cos(np.pi * min(t, 5) / 5))
        assert np.allclose(store.weight("w") - before, -lr_t * g, rtol=1e-15, atol=1e-18)
    assert SGD(lr=0.2).current_lr() == 0.2                 # constant by default
    with pytest.raises(ConfigError, match="total_steps >= 1"):
        SGD(lr=0.1, schedule="cosine")
    with pytest.raises(ConfigError, match="constant, cosine"):
        SGD(lr=0.1, schedule="step")


def test_lenet5_learns_the_digits():
    data = load_digits_dataset(test_fraction=0.2, seed=0)
    x_train = resize_images(data.x_train, 32, "nearest")
    x_test = resize_images(data.x_test, 32, "nearest")
    model = lenet5(rng=np.random.default_rng(0))
    trainer = Trainer(model, SGD(lr=0.02, momentum=0.9), np.random.default_rng(1), 32)
    chance = model.accuracy(x_test, data.y_test)
    losses = [trainer.train_epoch(x_train, data.y_train) for _ in range(2)]
    accuracy = model.accuracy(x_test, data.y_test)
    assert chance < 0.3
    assert losses[1] < losses[0]
    assert accuracy > 0.90, f"test accuracy {accuracy:.3f} after 2 epochs"
