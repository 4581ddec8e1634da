"""Array behaviour: NeuroSim pulse curves, quantization, variability, faults, read noise
and the differential weight mapping (cosim.devices.programming)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from cosim.devices import programming as pg
from cosim.errors import ConfigError

P = pg.params_from_card("rram_array")


def _closed_form(p, g_min, g_max, p_max, a_norm):
    a = a_norm * p_max
    b = (g_max - g_min) / (1 - math.exp(-p_max / a))
    return b * (1 - np.exp(-np.asarray(p, float) / a)) + g_min


def test_card_is_neurosim_realdevice():
    assert (P.g_min_s, P.g_max_s, P.pulses_ltp, P.pulses_ltd) == (4.76e-7, 1e-5, 31, 31)
    assert P.c2c_sigma_frac == 0.005


@pytest.mark.parametrize("a_ltp,a_ltd", [(0.249748, -0.249748), (1.0, -0.3), (5.0, -5.0),
                                         (math.inf, -math.inf)])
def test_pulse_curves_follow_the_closed_form_and_are_monotonic(a_ltp, a_ltd):
    p = replace(P, a_ltp=a_ltp, a_ltd=a_ltd, pulses_ltd=25)
    k, g = pg.pulse_curves(p)
    up, down = g[: p.pulses_ltp + 1], g[p.pulses_ltp:]
    assert np.all(np.diff(up) > 0) and np.all(np.diff(down) < 0)
    assert up[0] == pytest.approx(p.g_min_s) and up[-1] == pytest.approx(p.g_max_s)
    assert down[-1] == pytest.approx(p.g_min_s, abs=1e-18)
    n = np.arange(p.pulses_ltp + 1)
    if math.isinf(a_ltp):
        np.testing.assert_allclose(up, p.g_min_s + (p.g_max_s - p.g_min_s) * n / p.pulses_ltp,
                                   rtol=1e-12)
    else:
        np.testing.assert_allclose(up, _closed_form(n, p.g_min_s, p.g_max_s, p.pulses_ltp,
                                                    a_ltp), rtol=1e-10)
        # LTD walks the convex curve down from P = pulses_ltd
        m = np.arange(p.pulses_ltd, -1, -1)
        np.testing.assert_allclose(down, _closed_form(m, p.g_min_s, p.g_max_s, p.pulses_ltd,
                                                      a_ltd), rtol=1e-10, atol=1e-18)


def test_nonlinearity_parameter_changes_shape_as_the_formula_says():
    """Smaller |A| = more nonlinear: first LTP step grows, the deviation from linear grows;
    LTD is convex (big steps near G_max), so the update is asymmetric."""
    first_steps, devs = [], []
    for a in (10.0, 1.0, 0.25, 0.1):
        p = replace(P, a_ltp=a)
        k, g = pg.pulse_curves(p)
        first_steps.append(g[1] - g[0])
        devs.append(pg.nonlinearity_metric(p, "ltp"))
        # closed form of the first step: B (1 - exp(-1/A))
        assert g[1] - g[0] == pytest.approx(
            _closed_form(1, P.g_min_s, P.g_max_s, P.pulses_ltp, a) - P.g_min_s, rel=1e-10)
    assert all(x < y for x, y in zip(first_steps, first_steps[1:]))
    assert all(0 < x < y for x, y in zip(devs, devs[1:]))
    assert pg.nonlinearity_metric(P, "ltd") < 0
    k, g = pg.pulse_curves(P)
    ltp_steps = np.diff(g[: P.pulses_ltp + 1])
    ltd_steps = -np.diff(g[P.pulses_ltp:])
    assert ltp_steps[0] > ltp_steps[-1] and ltd_steps[0] > ltd_steps[-1]


def test_quantization_error_is_at_most_half_a_level():
    rng = np.random.default_rng(1)
    g = rng.uniform(P.g_min_s, P.g_max_s, 10000)
    for n in (2, 5, 32, 256):
        q = pg.quantize(g, n, P.g_min_s, P.g_max_s)
        half = (P.g_max_s - P.g_min_s) / (2 * (n - 1))
        assert np.max(np.abs(q - g)) <= half * (1 + 1e-12)
        assert len(np.unique(np.round(q / half))) <= n
        np.testing.assert_array_equal(pg.quantize(q, n, P.g_min_s, P.g_max_s), q)


def test_d2d_is_reproducible_and_has_the_requested_sigma():
    p = replace(P, d2d_sigma_frac=0.1)
    s1 = pg.sample_d2d((200, 100), p, np.random.default_rng(7))
    s2 = pg.sample_d2d((200, 100), p, np.random.default_rng(7))
    np.testing.assert_array_equal(s1.g_max_s, s2.g_max_s)
    np.testing.assert_array_equal(s1.a_ltd, s2.a_ltd)
    n = s1.g_max_s.size
    for arr, nominal in ((s1.g_max_s, p.g_max_s), (s1.g_min_s, p.g_min_s), (s1.a_ltp, p.a_ltp)):
        rel = arr / nominal - 1
        # std of a sample std is sigma/sqrt(2n); 5 of those
        assert abs(rel.std() - 0.1) < 5 * 0.1 / math.sqrt(2 * n)
        assert abs(rel.mean()) < 5 * 0.1 / math.sqrt(n)
    assert np.all(s1.g_max_s > s1.g_min_s) and np.all(s1.a_ltd < 0)


def test_c2c_noise_is_seeded_and_scales_with_sqrt_pulses():
    p = replace(P, c2c_sigma_frac=0.01)
    g0 = np.full(40000, 0.5 * (P.g_min_s + P.g_max_s))
    quiet = pg.apply_pulses(g0, 4, replace(p, c2c_sigma_frac=0.0))
    a = pg.apply_pulses(g0, 4, p, rng=np.random.default_rng(3))
    b = pg.apply_pulses(g0, 4, p, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    expected = 0.01 * (P.g_max_s - P.g_min_s) * math.sqrt(4)
    assert abs((a - quiet).std() / expected - 1) < 5 / math.sqrt(2 * g0.size)
    with pytest.raises(ConfigError, match="rng"):
        pg.apply_pulses(g0, 1, p)


def test_faults_are_stuck_and_have_the_requested_rates():
    rng = np.random.default_rng(11)
    on, off = pg.fault_masks((300, 300), 0.05, 0.02, rng)
    assert not np.any(on & off)
    n = on.size
    for mask, prob in ((on, 0.05), (off, 0.02)):
        assert abs(mask.mean() - prob) < 5 * math.sqrt(prob * (1 - prob) / n)
    p = replace(P, p_stuck_on=0.05, p_stuck_off=0.05, c2c_sigma_frac=0.0)
    w = np.random.default_rng(2).uniform(-1, 1, (50, 40))
    st = pg.ArrayState.from_weights(w, 1.0, p, np.random.default_rng(5))
    assert np.all(st.g_pos_s[st.stuck_on_pos] == p.g_max_s)
    assert np.all(st.g_neg_s[st.stuck_off_neg] == p.g_min_s)
    st2 = st.apply_pulses(np.full(w.shape, -10), np.full(w.shape, 10), p)
    assert np.all(st2.g_pos_s[st.stuck_on_pos] == p.g_max_s)   # stuck-on does not move down
    assert np.all(st2.g_neg_s[st.stuck_off_neg] == p.g_min_s)  # stuck-off does not move up
    free = ~(st.stuck_on_pos | st.stuck_off_pos)
    assert np.all(st2.g_pos_s[free] <= st.g_pos_s[free])


def test_read_noise_statistics_and_seed():
    g = np.full(50000, 5e-6)
    r1 = pg.read_conductance(g, 0.0289, np.random.default_rng(4))
    r2 = pg.read_conductance(g, 0.0289, np.random.default_rng(4))
    np.testing.assert_array_equal(r1, r2)
    rel = r1 / g - 1
    assert abs(rel.std() - 0.0289) < 5 * 0.0289 / math.sqrt(2 * g.size)
    np.testing.assert_array_equal(pg.read_conductance(g, 0.0), g)


def test_weight_mapping_round_trips():
    w = np.linspace(-0.7, 0.7, 29).reshape(29, 1) * np.ones((1, 3))
    gp, gn = pg.weights_to_conductances(w, 0.7, P.g_min_s, P.g_max_s)
    assert np.all(np.minimum(gp, gn) == pytest.approx(P.g_min_s))
    assert np.all((gp >= P.g_min_s) & (gp <= P.g_max_s * (1 + 1e-12)))
    np.testing.assert_allclose(pg.conductances_to_weights(gp, gn, 0.7, P.g_min_s, P.g_max_s),
                               w, atol=1e-15)
    st = pg.ArrayState.from_weights(w, 0.7, replace(P, c2c_sigma_frac=0.0))
    np.testing.assert_allclose(st.weights(0.7, P), w, atol=1e-15)
    with pytest.raises(ConfigError, match="w_max"):
        pg.weights_to_conductances(np.array([1.5]), 1.0, P.g_min_s, P.g_max_s)


@pytest.mark.parametrize("scheme", pg.UPDATE_SCHEMES)
def test_update_schemes_move_the_weight_the_right_way(scheme):
    p = replace(P, a_ltp=math.inf, a_ltd=-math.inf, c2c_sigma_frac=0.0)
    w = np.zeros(4)
    st = pg.ArrayState.from_weights(w, 1.0, p)
    st = st.apply_pulses(np.full(4, 10), np.full(4, 10), p)   # mid-range start
    w0 = st.weights(1.0, p)
    dw = np.array([0.2, -0.2, 0.0, 3.0 / 31])
    n_pos, n_neg = pg.weight_update_pulses(dw, 1.0, p, scheme)
    w1 = st.apply_pulses(n_pos, n_neg, p).weights(1.0, p)
    # linear device: the realised change equals dw rounded to whole pulse steps
    np.testing.assert_allclose(w1 - w0, np.rint(dw * 31) / 31, atol=1e-12)


def test_params_validation():
    with pytest.raises(ConfigError, match="g_min_s"):
        replace(P, g_min_s=2e-5)
    with pytest.raises(ConfigError, match="a_ltd"):
        replace(P, a_ltd=0.5)
    with pytest.raises(ConfigError, match="p_stuck_on"):
        replace(P, p_stuck_on=0.7, p_stuck_off=0.7)
    with pytest.raises(ConfigError, match="scheme"):
        pg.weight_update_pulses(np.zeros(1), 1.0, P, "bogus")


def test_linear_device_update_compiled_equals_the_numpy_formulas():
    """The idealised device (linear curves, no write noise) is updated by compiled loops
    (cosim.devices.pulse_kernels); they give the numpy formulas' numbers bit for bit:
    pulse counts of the push-pull scheme, and conductances after pulses that move,
    saturate at either end, or do nothing, from states inside and outside the range."""
    lin = replace(P, a_ltp=math.inf, a_ltd=-math.inf, c2c_sigma_frac=0.0,
                  pulses_ltp=65535, pulses_ltd=65535)
    rng = np.random.default_rng(5)
    w_max = 0.37
    dw = rng.standard_normal(5000) * 1e-3
    dw[:4] = [0.0, -0.0, 2 * w_max, -2 * w_max]
    dw[4:8] = 0.5 * w_max / lin.pulses_ltp * np.array([1, 3, -1, -3])   # ties of rint
    n_pos, n_neg = pg.weight_update_pulses(dw, w_max, lin, "push_pull")
    steps = np.rint(np.abs(dw) / w_max * lin.pulses_ltp).astype(np.int64)
    half, rest = (steps + 1) // 2, steps - (steps + 1) // 2
    sign = np.sign(dw)
    assert np.array_equal(n_pos, np.where(sign > 0, half, np.where(sign < 0, -rest, 0)))
    assert np.array_equal(n_neg, np.where(sign > 0, -rest, np.where(sign < 0, half, 0)))
    assert n_pos.dtype == n_neg.dtype == np.int64

    g = rng.uniform(lin.g_min_s, lin.g_max_s, 5000)
    g[:3] = [lin.g_min_s / 2, lin.g_max_s * 2, lin.g_min_s]       # outside, at the edge
    n = rng.integers(-70000, 70000, 5000)
    n[3:6] = [0, lin.pulses_ltp, -lin.pulses_ltd]
    fast = pg.apply_pulses(g, n, lin)
    # the same population through the numpy formulas (per-device values given)
    slow = pg.apply_pulses(g, n, lin, g_min_s=lin.g_min_s, g_max_s=lin.g_max_s,
                           a_ltp=math.inf, a_ltd=-math.inf)
    assert np.array_equal(fast, slow)
    assert fast.min() >= lin.g_min_s and fast.max() <= lin.g_max_s
    assert np.array_equal(pg.apply_pulses(g.reshape(50, 100), n.reshape(50, 100), lin),
                          slow.reshape(50, 100))
