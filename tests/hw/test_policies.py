"""Update policies (cosim.hw.policies) on closed-form cases: one weight on a linear,
noise-free device driven by a constant update, whose trajectory each policy's paper
gives in closed form; plus bit-identity of the "pulse" policy with DeviceWeightStore,
checkpoint round trips, endurance and drift against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.devices.programming import ProgrammingParams, params_from_card
from cosim.devices.weight_device import WeightDevice, device_from_params, load_weight_device
from cosim.errors import ConfigError
from cosim.hw.policies import UPDATE_POLICIES, DevicePair, make_weight_store
from cosim.hw.weights import DeviceWeightStore

P = 100                 # pulses per window
W0 = -0.5               # initial weight; w_max = 2 * 0.5 = 1, eps = 1 / P
EPS = 1.0 / P


def _linear(**kw) -> WeightDevice:
    params = ProgrammingParams(pulses_ltp=P, pulses_ltd=P, a_ltp=math.inf, a_ltd=-math.inf,
                               c2c_sigma_frac=0.0)
    return WeightDevice(name="linear", params=params, **kw)


def _store(policy, device=None, **params):
    s = make_weight_store(device or _linear(), policy, params, np.random.default_rng(0),
                          headroom=2.0)
    s.set_weight("fc", np.array([[W0]]))
    assert s.w_max("fc") == 1.0
    return s


@pytest.mark.parametrize("m", [0.3, 2.0])
def test_pulse_policy_rounds_each_update(m):
    """Direct update: w_k = w_0 + k round(m) eps; an update below half a step is lost."""
    s = _store("pulse")
    for k in range(1, 31):
        s.apply_update("fc", np.array([[m * EPS]]))
        assert s.weight("fc")[0, 0] == pytest.approx(W0 + k * round(m) * EPS, abs=1e-12)


def test_mixed_precision_transfers_whole_steps_and_keeps_the_rest():
    """Nandakumar et al. 2018: after k updates of 0.37 eps the devices took
    floor(0.37 k) steps (one transfer each time the accumulator crosses eps) and
    chi = 0.37 k eps - floor(0.37 k) eps."""
    s = _store("mixed-precision")
    for k in range(1, 61):
        s.apply_update("fc", np.array([[0.37 * EPS]]))
        n = math.floor(0.37 * k)
        assert s.weight("fc")[0, 0] == pytest.approx(W0 + n * EPS, abs=1e-12)
        assert s.accumulator("fc")[0, 0] == pytest.approx((0.37 * k - n) * EPS, abs=1e-12)
        assert s.pulses_applied == n
    # the direct policy loses the same updates entirely
    d = _store("pulse")
    for _ in range(60):
        d.apply_update("fc", np.array([[0.37 * EPS]]))
    assert d.weight("fc")[0, 0] == W0 and d.pulses_applied == 0


@pytest.mark.parametrize("lr,gamma", [(1.0, 0.0), (2.0, 0.5)])
def test_tiki_taka_trajectory(lr, gamma):
    """Gokmen & Haensch 2020 with one column, a transfer after every update and
    delta = eps: A_k = k eps, C_k = C_0 + lr eps k (k + 1) / 2, W = C + gamma A."""
    s = _store("tiki-taka", transfer_every=1, transfer_lr=lr, gamma=gamma)
    for k in range(1, 8):
        s.apply_update("fc", np.array([[EPS]]))
        a = k * EPS
        c = W0 + lr * EPS * k * (k + 1) / 2
        assert s._held("fc", "A")[0, 0] == pytest.approx(a, abs=1e-12)
        assert s._held("fc", "C")[0, 0] == pytest.approx(c, abs=1e-12)
        assert s.weight("fc")[0, 0] == pytest.approx(c + gamma * a, abs=1e-12)


def test_tiki_taka_transfers_columns_cyclically():
    """transfer_every = 2, one column per transfer: column j moves on transfers
    j, j + n_cols, ...; A is not reset."""
    device = _linear()
    s = make_weight_store(device, "tiki-taka", {"transfer_every": 2, "transfer_columns": 1},
                          np.random.default_rng(0), headroom=2.0)
    s.set_weight("fc", np.full((2, 3), W0))
    for _ in range(4):
        s.apply_update("fc", np.full((2, 3), EPS))
    # transfers after updates 2 (column 0, A = 2 eps) and 4 (column 1, A = 4 eps)
    expected = np.array([W0 + 2 * EPS, W0 + 4 * EPS, W0])
    np.testing.assert_allclose(s.weight("fc"), np.tile(expected, (2, 1)), atol=1e-12)
    np.testing.assert_allclose(s._held("fc", "A"), 4 * EPS, atol=1e-12)


@pytest.mark.parametrize("card", ["rram_array", "ideal", "faulty"])
def test_pulse_policy_equals_device_weight_store(card):
    """Same device and seed: the "pulse" policy is DeviceWeightStore bit for bit."""
    if card == "ideal":
        params = ProgrammingParams(pulses_ltp=65535, pulses_ltd=65535, a_ltp=math.inf,
                                   a_ltd=-math.inf, c2c_sigma_frac=0.0)
    elif card == "faulty":
        params = params_from_card("rram_array", d2d_sigma_frac=0.1, p_stuck_on=0.1,
                                  p_stuck_off=0.05)
    else:
        params = params_from_card("rram_array")
    a = DeviceWeightStore(params, np.random.default_rng(3), headroom=2.0)
    b = make_weight_store(device_from_params(params), "pulse", None, np.random.default_rng(3),
                          headroom=2.0)
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 4))
    for s in (a, b):
        s.set_weight("fc", w)
    for _ in range(15):
        d = rng.normal(size=(5, 4)) * 0.1
        a.apply_update("fc", d)
        b.apply_update("fc", d)
    assert np.array_equal(a.weight("fc"), b.weight("fc"))
    assert a.pulses_applied == b.pulses_applied > 0


@pytest.mark.parametrize("policy", sorted(UPDATE_POLICIES))
def test_state_round_trip_continues_bit_identically(policy):
    """Every policy on the RealDevice card with drift and wear: state_dict, load into a
    fresh store, continue both: the same weights, bit for bit."""
    device = load_weight_device("weight_rram_realdevice")
    rng = np.random.default_rng(5)
    w, b = rng.normal(size=(4, 6)), rng.normal(size=4)
    deltas = [rng.normal(size=(4, 6)) * 0.05 for _ in range(12)]
    s = make_weight_store(device, policy, None, np.random.default_rng(0))
    s.set_weight("fc", w)
    s.set_weight("fc.bias", b)
    for d in deltas[:6]:
        s.apply_update("fc", d)
    s.after(10.0)
    state = s.state_dict()
    assert {"fc", "fc.bias"} <= set(state)
    t = make_weight_store(device, policy, None, np.random.default_rng(99))
    t.load_state_dict(state)
    assert np.array_equal(t.weight("fc"), s.weight("fc"))
    for d in deltas[6:]:
        s.apply_update("fc", d)
        t.apply_update("fc", d)
    s.after(100.0)
    t.after(100.0)
    assert np.array_equal(t.weight("fc"), s.weight("fc"))
    assert np.array_equal(t.weight("fc.bias"), s.weight("fc.bias"))
    assert t.pulses_applied == s.pulses_applied
    other = next(p for p in UPDATE_POLICIES if p != policy)
    with pytest.raises(ConfigError, match="update policy"):
        make_weight_store(device, other, None, np.random.default_rng(0)).load_state_dict(state)


def test_endurance_window_closes_as_the_model_says():
    """A device that has taken N pulses saturates at G_min + (G_max - G_min)
    exp(-N / endurance_pulses) (the count before a write sets that write's bound)."""
    n_e = 500.0
    device = _linear(endurance_pulses=n_e)
    p = device.params
    pair = DevicePair.program(np.zeros((1, 1)), 1.0, device, np.random.default_rng(0), 0.0)
    rng = np.random.default_rng(0)
    zero = np.zeros((1, 1), dtype=np.int64)
    pair.pulse(np.full((1, 1), 3 * P), zero, device, rng, 0.0)      # fresh: full window
    assert pair.g_pos_s[0, 0] == p.g_max_s
    total = 3 * P
    for _ in range(4):
        pair.pulse(np.full((1, 1), -2 * P), zero, device, rng, 0.0)  # down to G_min
        pair.pulse(np.full((1, 1), 2 * P), zero, device, rng, 0.0)   # up to the worn top
        total += 4 * P
        bound = p.g_min_s + p.g_range_s * math.exp(-(total - 2 * P) / n_e)
        assert pair.g_pos_s[0, 0] == pytest.approx(bound, rel=1e-12)
        assert pair.n_pos[0, 0] == total
    assert pair.n_neg[0, 0] == 0 and pair.g_neg_s[0, 0] == p.g_min_s


def test_drift_follows_the_power_law_and_a_write_restarts_it():
    """G(t) = G(t_w) ((t - t_w)/t0)^-nu per device (Ielmini et al. 2007); with one nu
    the weight scales by the same factor; a written device starts again."""
    nu, t0 = 0.05, 1.0
    device = _linear(drift_nu_mean=nu, drift_t0_s=t0)
    s = make_weight_store(device, "pulse", None, np.random.default_rng(0),
                          scheme="single_side")
    w0 = np.array([[0.5, -0.25], [0.125, 0.0]])
    s.set_weight("fc", w0)
    np.testing.assert_array_equal(s.weight("fc"), np.array(s.weight("fc")))
    s.after(0.5)                                   # below t0: no change
    np.testing.assert_allclose(s.weight("fc"), w0, atol=1e-15)
    for t in (1.0, 86400.0, 365.25 * 86400.0):
        s.after(t - s.clock_s)
        np.testing.assert_allclose(s.weight("fc"), w0 * (t / t0) ** -nu, rtol=1e-12,
                                   atol=1e-15)
    # writing one weight restarts its drift; the others keep drifting from their write
    before = np.array(s.weight("fc"))
    s.apply_update("fc", np.array([[10 * s.step_weight("fc"), 0], [0, 0]]))
    w_new = np.array(s.weight("fc"))
    assert w_new[0, 0] == pytest.approx(before[0, 0] + 10 * s.step_weight("fc"), abs=1e-12)
    s.after(1000.0)
    t = 365.25 * 86400.0
    assert s.weight("fc")[1, 0] == pytest.approx(w0[1, 0] * ((t + 1000) / t0) ** -nu,
                                                 rel=1e-12)
    # weight (0, 0): its G+ was written 1000 s ago, its G- (not pulsed) a year before
    st = s.state_dict()
    gp, gn = st["device/fc/C/g_pos_s"][0, 0], st["device/fc/C/g_neg_s"][0, 0]
    assert st["device/fc/C/t_pos_s"][0, 0] == t and st["device/fc/C/t_neg_s"][0, 0] == 0
    expected = s.w_max("fc") * (gp * 1000.0 ** -nu - gn * ((t + 1000) / t0) ** -nu) \
        / device.params.g_range_s
    assert s.weight("fc")[0, 0] == pytest.approx(expected, rel=1e-12)
    assert gp * (t / t0) ** -nu != pytest.approx(gp * 1000.0 ** -nu)   # the restart matters


def test_drift_spread_lowers_accuracy_as_the_closed_form_predicts():
    """Inference after 1 s, 1 day and 1 year of retention: a linear digits classifier on
    RealDevice weights with per-device nu.  The store's accuracy equals the accuracy of
    the closed-form drifted weights, and it falls with time."""
    from cosim.nn.data import load_digits_dataset

    ds = load_digits_dataset()
    x_tr, y_tr = ds.x_train.reshape(len(ds.x_train), -1), ds.y_train
    x_te, y_te = ds.x_test.reshape(len(ds.x_test), -1), ds.y_test
    onehot = np.eye(10)[y_tr]
    a = np.c_[x_tr, np.ones(len(x_tr))]
    coef = np.linalg.solve(a.T @ a + 1e-1 * np.eye(a.shape[1]), a.T @ onehot)
    w, b = coef[:-1].T, coef[-1]
    device = load_weight_device("weight_rram_realdevice")
    from dataclasses import replace

    device = replace(device, drift_nu_sigma=0.05)     # a strong spread: a visible effect
    s = make_weight_store(device, "pulse", None, np.random.default_rng(0))
    s.set_weight("fc", w)
    st = s.state_dict()
    g = {k: st[f"device/fc/C/{k}"] for k in ("g_pos_s", "g_neg_s", "nu_pos", "nu_neg")}
    accs = []
    for t in (1.0, 86400.0, 365.25 * 86400.0):
        s.after(t - s.clock_s)
        r = t / device.drift_t0_s
        w_t = s.w_max("fc") * (g["g_pos_s"] * r ** -g["nu_pos"] - g["g_neg_s"]
                               * r ** -g["nu_neg"]) / device.params.g_range_s
        np.testing.assert_allclose(s.weight("fc"), w_t, rtol=1e-12, atol=1e-15)
        acc = float(np.mean(np.argmax(x_te @ np.array(s.weight("fc")).T + b, 1) == y_te))
        assert acc == float(np.mean(np.argmax(x_te @ w_t.T + b, 1) == y_te))
        accs.append(acc)
    assert accs[0] > accs[2] + 0.05, accs


def test_registry_and_errors():
    device = _linear()
    for name in UPDATE_POLICIES:
        s = make_weight_store(device, name, None, np.random.default_rng(0))
        s.set_weight("fc", np.ones((2, 2)))
        s.apply_update("fc", np.full((2, 2), 0.1))
        assert s.weight("fc").shape == (2, 2)
    with pytest.raises(ConfigError, match="unknown update policy 'sgd'.*mixed-precision"):
        make_weight_store(device, "sgd", None, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="no setting.*transfer_lr"):
        make_weight_store(device, "tiki-taka", {"lr": 1}, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="transfer_every"):
        make_weight_store(device, "tiki-taka", {"transfer_every": 0}, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="after"):
        make_weight_store(device, "pulse", None, np.random.default_rng(0)).after(-1.0)


def _realdevice_quiet() -> WeightDevice:
    """The NeuroSim RealDevice curve (nonlinear, 31 pulses) without c2c noise, wear or
    drift: the step a pulse gives depends on where the device sits."""
    return WeightDevice(name="realdevice-quiet",
                        params=params_from_card("rram_array", c2c_sigma_frac=0.0))


@pytest.mark.parametrize("verify", [True, False])
def test_mixed_precision_read_back_keeps_the_sum_of_updates(verify):
    """With the read-back transfer the accumulator holds exactly what the devices have
    not taken: chi + W_held = W_0 + sum(delta) after every update (while nothing
    saturates), whatever the step of the nonlinear device.  The paper's open-loop
    transfer (chi -= n eps) breaks this identity on the same device by whole fractions
    of a step."""
    rng = np.random.default_rng(5)
    s = make_weight_store(_realdevice_quiet(), "mixed-precision", {"verify": verify},
                          np.random.default_rng(0), headroom=2.0)
    w0 = rng.uniform(-0.5, 0.5, (6, 5))
    w0[0, 0] = 0.5
    s.set_weight("fc", w0)
    eps = s.step_weight("fc")
    total = w0.copy()
    worst = 0.0
    for _ in range(200):
        d = rng.normal(0.0, 0.3 * eps, w0.shape)
        s.apply_update("fc", d)
        total += d
        worst = max(worst, float(np.max(np.abs(s.accumulator("fc") + s.weight("fc")
                                                - total))))
    if verify:
        assert worst < 1e-12
        assert np.max(np.abs(s.accumulator("fc"))) < 4 * eps   # transfers happened
    else:
        assert worst > 0.1 * eps


def test_mixed_precision_refresh_reprograms_full_pairs_and_keeps_the_weight():
    """Refresh (Nandakumar et al. 2020): a pair with a device above the threshold is
    reset and reprogrammed to its weight, one device at G_min; pairs below it are left
    alone; the weight read back is unchanged by the refresh (noise-free device)."""
    dev = _linear()
    s = make_weight_store(dev, "mixed-precision", {"refresh_threshold": 0.5},
                          np.random.default_rng(0), headroom=2.0)
    s.set_weight("fc", np.array([[0.5, -0.2]]))           # w_max = 1, pair 0 at 0.5 / 0
    pair = s._pairs["fc"]["C"]
    p = dev.params
    # push both devices of pair 0 up by 0.4 of the window (same weight 0.5)
    pair.g_pos_s[0, 0] += 0.4 * p.g_range_s
    pair.g_neg_s[0, 0] += 0.4 * p.g_range_s
    s._cache.clear()
    before = np.array(s.weight("fc"))
    s.apply_update("fc", np.array([[0.0, -EPS]]))          # one step on pair 1 only
    after = np.array(s.weight("fc"))
    assert after[0, 0] == pytest.approx(before[0, 0], abs=1e-12)
    assert pair.g_neg_s[0, 0] == pytest.approx(p.g_min_s, rel=1e-12)
    assert pair.g_pos_s[0, 0] == pytest.approx(p.g_min_s + 0.5 * p.g_range_s, rel=1e-12)
    assert s._counters["fc.refreshed"] == 1
    assert after[0, 1] == pytest.approx(-0.2 - EPS, abs=1e-12)  # pair 1 not refreshed
    assert pair.n_pos[0, 0] > 0 and pair.n_neg[0, 0] > 0     # reset + program pulses

