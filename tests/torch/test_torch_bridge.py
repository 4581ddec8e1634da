"""PyTorch bridge (cosim.torch): converted models against independent references.

* ideal tiles: a ResNet-style model built here (residual blocks, batch norm, strided and
  1x1 shortcut convolutions) gives plain torch's forward, loss and every gradient within
  1e-5 relative (float32) and to rounding in float64;
* the autograd.Function's gradients against finite differences of its own forward, with
  the weights perturbed in the weight store (so the forward is shown to read the store);
* cosim.torch.SGD on ideal tiles follows torch.optim.SGD step for step;
* bplight tiles: every product of every layer goes through the tile backend, weights
  are what the devices hold, a torch optimizer is refused; a small CNN trained on the
  digits lands within 3 points of the same CNN trained in float by torch;
* the run file holds metrics, counters, product errors, netlists and spot checks.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn
from torch.nn import functional as F

import cosim.torch as ct
from cosim.config import RunConfig
from cosim.design import IDEALISED_VALUES, DesignSpec, load_design
from cosim.errors import ConfigError
from cosim.hw.backend import HardwareConfig
from cosim.store.runs import RunFile, RunFileError

IDEAL = "ideal"

#: The bplight design with its idealised choices (the 16-bit linear weight device with the
#: direct pulse update, no ring crosstalk): the bridge's mechanics and the bounds of the
#: tests that use it, free of the shipped design's device and crosstalk margin.
IDEALISED = dict(IDEALISED_VALUES)


@pytest.fixture(autouse=True, scope="module")
def _one_thread_each():
    """One torch thread and one numba thread in this module.  On a loaded 2-core machine
    their thread pools spin against each other: the digits training took 64 s with
    the defaults and 7 s with one thread each (results do not depend on it)."""
    import numba

    saved = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    yield
    torch.set_num_threads(saved[0])
    numba.set_num_threads(saved[1])


class Block(nn.Module):
    """Basic residual block (He et al. 2016, Fig. 2): two 3x3 convolutions with batch
    norm; a strided 1x1 convolution on the shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class TinyResNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = Block(8, 8, 1)
        self.layer2 = Block(8, 16, 2)
        self.head = nn.Sequential(nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, classes))

    def forward(self, x):
        x = self.layer2(self.layer1(F.relu(self.stem(x))))
        return self.head(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _resnet(dtype=torch.float32) -> TinyResNet:
    torch.manual_seed(0)
    return TinyResNet().to(dtype)


def _batch(dtype=torch.float32, n: int = 6):
    g = torch.Generator().manual_seed(1)
    return (torch.randn(n, 3, 12, 12, generator=g, dtype=dtype),
            torch.randint(0, 10, (n,), generator=g))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _loss_and_grads(model, x, y):
    x = x.clone().requires_grad_(True)
    out = model(x)
    loss = F.cross_entropy(out, y)
    loss.backward()
    return out.detach(), loss.detach(), x.grad, {n: p.grad for n, p in model.named_parameters()}


def test_import_cosim_does_not_import_torch():
    code = ("import sys, cosim, cosim.nn, cosim.hw.backend, cosim.orchestrator, "
            "cosim.store.runs; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_ideal_resnet_equals_plain_torch_forward_and_gradients(dtype, tol):
    plain = _resnet(dtype)
    hw = ct.convert(plain, IDEAL)
    names = sorted(ct.bridge_of(hw).layers)
    assert names == ["head.0", "head.2", "layer1.conv1", "layer1.conv2", "layer2.conv1",
                     "layer2.conv2", "layer2.shortcut.0", "stem"]
    assert not any(isinstance(m, ct.HardwareLayer) for m in plain.modules())  # a copy
    x, y = _batch(dtype)
    out_p, loss_p, dx_p, g_p = _loss_and_grads(plain, x, y)
    out_h, loss_h, dx_h, g_h = _loss_and_grads(hw, x, y)
    assert _rel(out_h, out_p) < tol
    assert abs(float(loss_h - loss_p)) <= tol * abs(float(loss_p))
    assert _rel(dx_h, dx_p) < tol
    assert g_h.keys() == g_p.keys()          # same parameter names and shapes
    for name in g_p:
        assert g_h[name].shape == g_p[name].shape
        assert _rel(g_h[name], g_p[name]) < tol, name
        torch.testing.assert_close(g_h[name], g_p[name], rtol=tol,
                                   atol=tol * float(g_p[name].abs().max()))


def test_bplight_resnet_runs_forward_backward_and_an_update():
    """Every product of every converted layer on the photonic tiles (probed against the
    exact product of the same operands), then one device update."""
    plain = _resnet()
    hw = ct.convert(plain, load_design("bplight", IDEALISED))
    bridge = ct.bridge_of(hw)
    x, y = _batch(n=16)
    bridge.backend.set_probe(True)
    out, loss, dx, grads = _loss_and_grads(hw, x, y)
    bridge.backend.set_probe(False)
    assert _rel(out, plain(x).detach()) < 0.03            # programming + readout errors
    assert math.isfinite(float(loss)) and torch.isfinite(dx).all()
    assert all(torch.isfinite(g).all() for g in grads.values())
    errors = {(e["layer"], e["phase"]): e["rel_rms_error"]
              for e in bridge.backend.product_errors()}
    assert set(errors) == {(name, phase) for name in bridge.layers
                           for phase in ("forward", "backward", "gradient")}
    assert max(errors.values()) < 0.05, errors
    before = {k: np.array(bridge.store.weight(k)) for k in bridge.layers}
    ct.SGD(hw, lr=0.05).step()
    for k, w in before.items():
        assert not np.array_equal(np.array(bridge.store.weight(k)), w), k
    hw(x)                                                   # mirrors in sync again


def test_gradients_match_finite_differences_of_the_store_weights():
    """Central differences (float64, ideal tiles) of the loss with weight entries
    perturbed *in the store* and with the input perturbed."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
                          nn.Linear(3 * 3 * 3, 4)).double()
    hw = ct.convert(model, IDEAL)
    bridge = ct.bridge_of(hw)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 2, 5, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, 1])

    def loss(xx=x):
        with torch.no_grad():
            return float(F.cross_entropy(hw(xx), y))

    xr = x.clone().requires_grad_(True)
    F.cross_entropy(hw(xr), y).backward()
    h = 1e-6
    rng = np.random.default_rng(0)
    for name in ("0", "3"):
        W = np.array(bridge.store.weight(name))
        grad = hw.get_submodule(name).weight.grad.reshape(W.shape).numpy()
        for i, j in zip(rng.integers(0, W.shape[0], 4), rng.integers(0, W.shape[1], 4)):
            e = np.zeros_like(W)
            e[i, j] = h
            bridge.store.apply_update(name, e)
            bridge.sync()
            up = loss()
            bridge.store.apply_update(name, -2 * e)
            bridge.sync()
            down = loss()
            bridge.store.apply_update(name, e)
            bridge.sync()
            assert (up - down) / (2 * h) == pytest.approx(grad[i, j], rel=1e-6, abs=1e-9)
    for idx in [(0, 0, 2, 2), (1, 1, 0, 4), (2, 0, 4, 1)]:
        e = torch.zeros_like(x)
        e[idx] = h
        fd = (loss(x + e) - loss(x - e)) / (2 * h)
        assert fd == pytest.approx(float(xr.grad[idx]), rel=1e-6, abs=1e-9)


def test_cosim_sgd_on_ideal_tiles_follows_torch_sgd():
    plain = _resnet()
    hw = ct.convert(plain, IDEAL)
    ref_opt = torch.optim.SGD(plain.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    opt = ct.SGD(hw, lr=0.05, momentum=0.9, weight_decay=1e-3)
    assert set(opt.params()) >= {"stem", "stem.bias", "head.2.bias", "layer1.bn1.weight"}
    for step in range(4):
        x, y = _batch(n=8)
        for m, o in ((plain, ref_opt), (hw, opt)):
            o.zero_grad()
            F.cross_entropy(m(x), y).backward()
            o.step()
    ref = dict(plain.named_parameters())
    for name, p in hw.named_parameters():
        assert _rel(p.detach(), ref[name].detach()) < 1e-5, name
    for name, t in plain.named_buffers():       # batch-norm statistics run in torch
        torch.testing.assert_close(dict(hw.named_buffers())[name], t)


@pytest.fixture(scope="module")
def bplight_lenet():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    return model, ct.convert(model, load_design("bplight", IDEALISED))


def test_bplight_every_product_on_the_tiles_and_weights_on_the_devices(bplight_lenet):
    plain, hw = bplight_lenet
    bridge = ct.bridge_of(hw)
    conv, fc = hw[0], hw[4]
    # programming is not exact: the mirrors hold what the devices hold, not the floats
    w_dev = np.array(bridge.store.weight("0"))
    w_float = plain[0].weight.detach().double().numpy().reshape(4, 9)
    assert not np.array_equal(w_dev, w_float)
    assert np.abs(w_dev - w_float).max() < 0.05 * np.abs(w_float).max()
    np.testing.assert_array_equal(conv.weight.detach().numpy().reshape(4, 9),
                                  w_dev.astype(np.float32))
    x = torch.from_numpy(np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32))
    y = torch.arange(16) % 10
    bridge.backend.stats.reset()
    out = hw(x)
    assert _rel(out.detach(), plain(x).detach()) < 0.05       # close to float, not equal
    assert not torch.equal(out, plain(x))
    opt = ct.SGD(hw, lr=0.1, momentum=0.0)
    opt.zero_grad()
    F.cross_entropy(out, y).backward()
    grad = fc.weight.grad.double().numpy()
    before = np.array(bridge.store.weight("4"))
    opt.step()
    table = {(r["layer"], r["phase"]): r["products"] for r in bridge.backend.stats.as_table()
             if r["phase"] != "update"}          # (update rows: the pulses applied)
    # the first layer's input gradient is not needed, so its backward product is not made
    assert table == {("0", "forward"): 1, ("4", "forward"): 1, ("4", "gradient"): 1,
                     ("4", "backward"): 1, ("0", "gradient"): 1}
    after = np.array(bridge.store.weight("4"))
    assert not np.allclose(after, before - 0.1 * grad, rtol=0, atol=1e-9)   # pulses
    assert np.corrcoef((after - before).ravel(), -grad.ravel())[0, 1] > 0.9
    np.testing.assert_array_equal(fc.weight.detach().numpy(), after.astype(np.float32))
    # a torch optimizer on the float mirrors is refused at the next forward
    torch.optim.SGD(hw.parameters(), lr=0.1).step()
    with pytest.raises(ConfigError, match="changed outside the store"):
        hw(x)
    bridge.sync()
    hw(x)


def test_convert_checks_and_shared_layers():
    with pytest.raises(ConfigError, match="no nn.Linear or nn.Conv2d"):
        ct.convert(nn.Sequential(nn.ReLU()), IDEAL)
    with pytest.raises(ConfigError, match="groups=2"):
        ct.convert(nn.Conv2d(2, 2, 3, groups=2), IDEAL)
    with pytest.raises(ConfigError, match="a cosim.design.Design, a design name or file"):
        ct.convert(nn.Linear(2, 2), {"architecture": "ideal"})
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    hw = ct.convert(model, RunConfig(seed=5, design=DesignSpec("ideal")))
    assert hw[0] is hw[2] and isinstance(hw[0], ct.HardwareLinear)
    assert ct.bridge_of(hw).seed == 5 and list(ct.bridge_of(hw).layers) == ["0"]
    x = torch.randn(2, 3)
    torch.testing.assert_close(hw(x), model(x), rtol=1e-6, atol=1e-7)
    with pytest.raises(ConfigError, match="already has hardware layers"):
        ct.convert(hw, IDEAL)
    root = ct.convert(nn.Linear(3, 2), IDEAL)          # a bare layer is converted too
    assert isinstance(root, ct.HardwareLinear)


def _digits16():
    from cosim.nn.data import load_digits_dataset, resize_images

    d = load_digits_dataset(0.2, seed=0)
    return (resize_images(d.x_train, 16, "bilinear").astype(np.float32), d.y_train,
            resize_images(d.x_test, 16, "bilinear").astype(np.float32), d.y_test)


def _digits_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


EPOCHS, BATCH, LR = 5, 32, 0.05


def _float_accuracy(data) -> float:
    """The same CNN, initialisation and batch order, trained by torch alone (SGD with
    momentum and the cosine step size of cosim.nn.SGD, per step)."""
    x_tr, y_tr, x_te, y_te = data
    model = _digits_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    total = EPOCHS * math.ceil(len(x_tr) / BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total)))
    x, y = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    rng = np.random.default_rng(1)
    for _ in range(EPOCHS):
        order = torch.from_numpy(rng.permutation(len(x)))
        for s in range(0, len(x), BATCH):
            idx = order[s:s + BATCH]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
    return ct.evaluate(model, x_te, y_te)


@pytest.mark.slow
def test_bplight_cnn_trains_on_digits_within_3_points_of_float(tmp_path, figures):
    """16x16 digits (1437 training, 360 test images), 5 epochs, cosine step size.  Gaps
    (float - bplight) measured for torch seeds 0-3: 0.6, -0.6, 1.1, 0.0 points."""
    data = _digits16()
    float_acc = _float_accuracy(data)
    assert float_acc > 0.93, float_acc
    total = EPOCHS * math.ceil(len(data[0]) / BATCH)
    hw = ct.convert(_digits_cnn(), "bplight")
    opt = ct.SGD(hw, lr=LR, momentum=0.9, schedule="cosine", total_steps=total)
    res = ct.train(hw, opt, data, tmp_path / "digits.h5", epochs=EPOCHS, batch_size=BATCH,
                   rng=np.random.default_rng(1))
    figures("float_acc", float_acc)
    figures("bplight_acc", res.final_test_acc)
    assert res.final_test_acc >= float_acc - 0.03, (float_acc, res.final_test_acc)
    assert res.steps == total and res.epoch_metrics["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert res.hardware_totals["products"] > 3 * total
    run = RunFile(res.path)
    s = run.summary()
    assert s["status"] == "complete" and s["model"] == "torch"
    assert s["design"]["name"] == "bplight" and s["epochs_planned"] == EPOCHS
    assert set(s["hardware_per_layer"]) == {"0", "3", "7"}
    assert set(s["product_error_median"]["3"]) == {"forward", "backward", "gradient"}
    assert s["product_error_median"]["7"]["forward"] < 0.05
    assert s["checkpoint_integrity"]["status"] == "ok"
    ck = run.checkpoint()
    arrays = ck.trainer["arrays"]
    assert ck.step == total and any(k.startswith("store/device/0/") for k in arrays)
    np.testing.assert_array_equal(arrays["store/7"].astype(np.float32),
                                  hw[7].weight.detach().numpy())    # the mirror = store
    assert "optimizer/7" in ck.trainer["arrays"] and ck.backend is not None
    assert json.loads(run.config_json())["design"]["name"] == "bplight"
    with pytest.raises(RunFileError, match="PyTorch model"):
        run.read_config()


def test_recorder_writes_spot_checks_and_netlists(tmp_path, engine):
    """Spot checks (twin vs ngspice) and netlists of a bridged loop, step by step."""
    torch.manual_seed(0)
    hw = ct.convert(nn.Sequential(nn.Flatten(), nn.Linear(16, 5)),
                    "bplight", hardware=HardwareConfig(spot_check=1.0), engine=engine)
    opt = ct.SGD(hw, lr=0.05)
    rec = ct.Recorder(tmp_path / "r.h5", hw, opt, training={"epochs": 1},
                      signal_every_steps=1)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        x, y = torch.rand(8, 1, 4, 4, generator=g), torch.randint(0, 5, (8,), generator=g)
        rec.begin_step()
        opt.zero_grad()
        out = hw(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        rec.end_step(loss.item(), 0.0, 8)
    rec.end_epoch(test_acc=ct.evaluate(hw, x, y))
    res = rec.close()
    run = RunFile(res.path)
    spots = run.table("spot_checks")
    assert spots["step"].tolist()[:2] == [1, 2] and set(spots["layer"]) == {"1"}
    assert np.all(spots["rel_error"] < 0.05)
    sha, row = run.find_netlist("1", 2)
    assert row["phase"] == "forward" and ".end" in run.netlist(sha).lower()
    assert set(run.signals("1")["1"]) == {1, 2}
    stats = run.table("hardware_stats")
    assert set(stats["phase"]) - {"update"} == {"forward", "gradient"}
    assert res.step_metrics["step"].tolist() == [1, 2]
