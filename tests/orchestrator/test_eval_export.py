"""`cosim eval`, `cosim export` and `cosim train --seeds`: stored weights measured again,
written out, and accuracy statistics over seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from cosim.cli.main import main
from cosim.config import load_config
from cosim.nn.data import load_run_data
from cosim.nn.zoo import lenet5
from cosim.orchestrator.evaluate import evaluate, wilson_interval
from cosim.orchestrator.seeds import seed_statistics
from cosim.store.runs import RunFile

SMALL = ["--set=model.width=0.34", "--set=data.train_limit=96", "--set=data.test_limit=120",
         "--set=training.batch_size=16", "--set=training.epochs=2", "--quiet",
         # the idealised store (no retention model), as these tests were written for
         "--set=design.weight_device=idealised", "--set=design.update_policy=pulse"]


@pytest.fixture(scope="module")
def bplight_run(tmp_path_factory):
    """A short noisy bplight run (twin engines, ngspice spot checks)."""
    out = tmp_path_factory.mktemp("eval") / "run.h5"
    assert main(["train", *SMALL, "--seed", "5", "--out", str(out)]) == 0
    return out


def test_eval_repeats_the_recorded_accuracy_exactly(bplight_run, capsys):
    recorded = float(RunFile(bplight_run).epoch_metrics()["test_acc"][-1])
    r = evaluate(bplight_run)
    assert r.same_hardware and r.accuracy == recorded and r.total == 120
    assert main(["eval", str(bplight_run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] == recorded and out["correct"] == round(recorded * 120)


def test_export_and_float_evaluation_agree_with_an_independent_forward(bplight_run,
                                                                       tmp_path):
    npz = tmp_path / "w.npz"
    assert main(["export", str(bplight_run), "-o", str(npz)]) == 0
    saved = np.load(npz)
    meta = json.loads(str(saved["__meta__"]))
    assert meta["model"] == "lenet5" and meta["step"] == 12
    # the exported weights, put into a plain float LeNet-5, classify the test split
    config = RunFile(bplight_run).read_config()
    model = lenet5(width=config.model.width, rng=np.random.default_rng(0))
    for name in model.store.names():
        model.store.set_weight(name, saved[name])
    data = load_run_data(config.data)
    expected = model.accuracy(data.x_test, data.y_test)
    r = evaluate(bplight_run, ["design.name=ideal"])
    assert not r.same_hardware and r.architecture == "ideal"
    assert r.accuracy == expected


def test_eval_refuses_what_it_cannot_change(bplight_run):
    from cosim.errors import ConfigError

    with pytest.raises(ConfigError, match="the design or the hardware simulation only"):
        evaluate(bplight_run, ["model.width=1"])
    with pytest.raises(ConfigError, match="no validation split"):
        evaluate(bplight_run, split="val")


@pytest.mark.parametrize("k,n", [(0, 10), (4, 64), (97, 100), (360, 360), (1, 1)])
def test_wilson_interval_matches_scipy(k, n):
    ref = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)


def test_seed_statistics_closed_form():
    x = [0.9, 0.95, 0.92, 0.97]
    s = seed_statistics(x)
    half = 3.182446305284263 * np.std(x, ddof=1) / 2  # t(0.975, 3) = 3.1824...
    assert s["mean"] == pytest.approx(np.mean(x)) and s["n"] == 4
    assert s["ci_high"] - s["mean"] == pytest.approx(half, rel=1e-9)


def test_train_seeds_writes_paired_runs_and_statistics(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert main(["train", *SMALL, "--set=training.epochs=1", "--design", "bplight",
                 "--seeds", "2", "--seed", "3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    summary = json.loads((tmp_path / "s_seeds.json").read_text())
    assert summary["seeds"] == [3, 4] and len(summary["files"]) == 4
    for seed in (3, 4):
        hw = RunFile(tmp_path / f"s_seed{seed}.h5").read_config()
        fl = RunFile(tmp_path / f"s_seed{seed}_float.h5").read_config()
        assert hw.seed == fl.seed == seed and fl.design.name == "ideal"
    diff = np.subtract(summary["hardware"], summary["float"])
    assert summary["difference_stats"]["mean"] == pytest.approx(diff.mean())
    assert "bplight - float" in text and "95 % interval" in text
    assert load_config(None, []).seed == 0  # the flag did not change the defaults


def test_eval_after_lets_the_weight_devices_drift(bplight_run, monkeypatch, capsys):
    """``cosim eval --after SECONDS``: a store without retention is refused (exit 2); on
    weight devices with a drift law the accuracy is that of the closed-form drifted
    weights W (t / t0)^-nu (one nu: every weight scales, the digital biases do not)."""
    import math

    import cosim.hw.backend as hwb
    from cosim.devices.programming import ProgrammingParams
    from cosim.devices.weight_device import WeightDevice
    from cosim.hw.policies import make_weight_store

    assert main(["eval", str(bplight_run), "--after", "86400"]) == 2
    assert "no retention model" in capsys.readouterr().err

    nu, t = 0.2, 365.25 * 86400.0
    device = WeightDevice("drifting", ProgrammingParams(
        pulses_ltp=65535, pulses_ltd=65535, a_ltp=math.inf, a_ltd=-math.inf,
        c2c_sigma_frac=0.0), drift_nu_mean=nu)
    original = hwb.build_hardware

    def with_drifting_store(config, model, rng, *, design=None, **kw):
        backend, store = original(config, model, rng, design=design, **kw)
        if design.tile != "ideal":
            return backend, store
        return backend, make_weight_store(device, "pulse", None, np.random.default_rng(0))

    monkeypatch.setattr(hwb, "build_hardware", with_drifting_store)
    r = evaluate(bplight_run, ["design.name=ideal"], after_s=t)
    assert r.after_s == t
    # the closed form: a float LeNet-5 with the stored weights scaled by (t / 1 s)^-nu
    monkeypatch.setattr(hwb, "build_hardware", original)
    npz = RunFile(bplight_run).read_config()
    from cosim.orchestrator.evaluate import stored_weights

    _, weights = stored_weights(bplight_run)
    model = lenet5(width=npz.model.width, rng=np.random.default_rng(0))
    for name in model.store.names():
        w = weights[name]
        model.store.set_weight(name, w if name.endswith("bias") else w * t ** -nu)
    data = load_run_data(npz.data)
    assert r.accuracy == model.accuracy(data.x_test, data.y_test)
    undrifted = evaluate(bplight_run, ["design.name=ideal"]).accuracy
    assert r.accuracy != undrifted
