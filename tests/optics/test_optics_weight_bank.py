"""Microring weight bank, crosstalk, calibration and the link budget / PD interface."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.errors import ConfigError
from cosim.optics import crosstalk, mrr
from cosim.optics import weight_bank as wb
from cosim.optics.link_budget import link_budget, pd_power, pd_power_to_matvec
from cosim.optics.sources import laser_comb


@pytest.fixture(scope="module")
def bank_no_xt():
    return wb.make_weight_bank(16, 8, crosstalk=False)


def test_single_ring_weight_is_balanced_drop_minus_through(bank_no_xt):
    b = bank_no_xt
    delta = np.linspace(0, b.max_detuning_rad, 50)
    through, drop = mrr.add_drop_power_closed_form(delta, r1=b.r1, r2=b.r2, a=b.a)
    np.testing.assert_allclose(wb.detuning_to_weight(delta, b) * b.weight_scale, drop - through,
                               rtol=0, atol=1e-12)
    w = wb.detuning_to_weight(delta, b)
    assert np.all(np.diff(w) < 0)                  # monotonic branch
    assert w[0] >= 1 - 1e-12 and w[-1] <= -1 + 1e-12   # reaches [-1, 1]
    assert np.isclose(min(w[0], -w[-1]), 1.0)      # normalisation g = min(raw(0), -raw(max))


@settings(max_examples=50, deadline=None)
@given(w=st.floats(-1.0, 1.0))
def test_inverse_map_round_trip(w):
    b = wb.make_weight_bank(4, 2, crosstalk=False)
    delta = wb.weight_to_detuning(w, b)
    assert 0.0 <= delta <= b.max_detuning_rad + 1e-15
    assert abs(wb.detuning_to_weight(delta, b) - w) < 1e-11


def test_bank_reproduces_matvec_from_pd_powers_without_crosstalk(bank_no_xt):
    rng = np.random.default_rng(11)
    b = bank_no_xt
    w = rng.uniform(-1, 1, (b.n_outputs, b.n_channels))
    x = rng.uniform(0, 1, (32, b.n_channels))
    budget = link_budget(b)
    p = pd_power(x, b, wb.program_bank(w, b), budget)
    assert p.shape == (32, b.n_outputs, 2) and np.all(p >= 0)
    y = pd_power_to_matvec(p, budget)
    scale = np.abs(x) @ np.abs(w).T                     # size of each dot product
    assert np.max(np.abs(y - x @ w.T) / scale) < 1e-9


def test_pd_power_is_watts_through_the_link_budget(bank_no_xt):
    b = bank_no_xt
    budget = link_budget(b, laser_power_per_channel_w=2e-3, edge_coupler_loss_db=1.0,
                         modulator_insertion_loss_db=2.0, modulator_out_of_band_loss_db=0.1,
                         ring_pitch_m=50e-6, loss_db_per_m=100.0, splitter_excess_loss_db=0.2)
    expected_db = 1.0 + 2.0 + 0.1 * (b.n_channels - 1) + 100.0 * b.n_channels * 50e-6 \
        + 10 * np.log10(b.n_outputs) + 0.2 * 3
    assert budget.total_loss_db == pytest.approx(expected_db, rel=1e-12)
    assert budget.loss_db("fanout_split") == pytest.approx(10 * np.log10(8))
    assert budget.power_at_bank_per_channel_w == pytest.approx(2e-3 * 10 ** (-expected_db / 10))
    # one channel fully on, its ring on resonance: drop PD gets P_bank * T_drop(0)
    w = np.full((b.n_outputs, b.n_channels), -1.0)
    x = np.zeros((1, b.n_channels))
    x[0, 3] = 1.0
    detuning = wb.program_bank(w, b)
    detuning[:, 3] = 0.0
    p = pd_power(x, b, detuning, budget)
    _, drop0 = mrr.add_drop_power_closed_form(0.0, r1=b.r1, r2=b.r2, a=b.a)
    np.testing.assert_allclose(p[0, :, 0], budget.power_at_bank_per_channel_w * drop0,
                               rtol=1e-12)
    assert budget.power_at_pd_per_channel_w == pytest.approx(p[0, 0, 0], rel=1e-12)
    d = budget.as_dict()
    assert d["losses_db"]["edge_coupler"] == 1.0 and d["total_loss_db"] == budget.total_loss_db


def test_bank_output_never_exceeds_input_power():
    rng = np.random.default_rng(5)
    b = wb.make_weight_bank(12, 4)
    t = wb.bank_transfer(b, rng.uniform(-np.pi, np.pi, (4, 12)))
    assert np.all(t.drop >= 0) and np.all(t.through >= 0)
    assert np.all(t.drop + t.through <= 1 + 1e-12)


def test_crosstalk_bank_equals_explicit_ring_by_ring_propagation():
    """The vectorised N x N computation against a plain loop over rings and wavelengths."""
    rng = np.random.default_rng(2)
    b = wb.make_weight_bank(5, 2, thermal_neighbour_fraction=0.1)
    cmd = rng.uniform(0, b.max_detuning_rad, (2, 5))
    t = wb.bank_transfer(b, cmd)
    delta = cmd @ b.thermal_coupling.T
    lam = b.channel_wavelength_m
    phi = mrr.round_trip_phase(lam, wavelength0_m=1.55e-6)
    for m in range(2):
        for j in range(5):
            bus1, drop = 1.0, 0.0
            bus2_loss = 1.0
            for k in range(5):
                s = mrr.add_drop_from_phase(phi[j] - phi[k] + delta[m, k], r1=b.r1, r2=b.r2,
                                            a=b.a)
                drop += bus1 * abs(s[1, 0]) ** 2 * bus2_loss
                bus1 *= abs(s[0, 0]) ** 2
                bus2_loss *= abs(s[1, 1]) ** 2
            assert t.through[m, j] == pytest.approx(bus1, rel=1e-12)
            assert t.drop[m, j] == pytest.approx(drop, rel=1e-12)


def test_crosstalk_leak_matches_exact_add_drop_and_lorentzian_tail():
    b = wb.make_weight_bank(3, 1, channel_spacing_m=0.5e-9)
    leak = crosstalk.interchannel_drop_crosstalk(b.channel_wavelength_m, r1=b.r1, r2=b.r2, a=b.a)
    np.testing.assert_allclose(np.diag(leak), 1.0)
    fw = float(mrr.fwhm(1.55e-6, r=b.r1 * b.r2, a=b.a))
    lor = crosstalk.lorentzian_leakage(0.5e-9, fw)
    # the exact response follows the Lorentzian for spacing << FSR (within 2 %)
    assert leak[1, 2] == pytest.approx(lor, rel=0.02)
    assert leak[1, 0] == pytest.approx(lor, rel=0.02)


@pytest.mark.parametrize("kw", [dict(), dict(thermal_neighbour_fraction=0.05),
                                dict(crosstalk=False, thermal_neighbour_fraction=0.1)])
def test_jacobian_matches_finite_differences(kw):
    rng = np.random.default_rng(4)
    b = wb.make_weight_bank(6, 3, **kw)
    cmd = rng.uniform(0.1 * b.max_detuning_rad, b.max_detuning_rad, (3, 6))
    jac = wb.weight_jacobian(b, cmd)
    fd = _row_jacobian_fd(lambda c: wb.effective_weights(b, c), cmd)
    assert np.max(np.abs(jac - fd)) < 1e-6 * np.max(np.abs(jac))


def _row_jacobian_fd(f, x, h=1e-7):
    """Central differences ``(rows, N, N)`` of a row-wise map ``f`` at ``x`` (rows, N):
    ``fd[m, j, q] = d f(x)[m, j] / d x[m, q]``."""
    fd = np.zeros(x.shape + x.shape[1:])
    for q in range(x.shape[1]):
        e = np.zeros_like(x)
        e[:, q] = h
        fd[:, :, q] = (f(x + e) - f(x - e)) / (2 * h)
    return fd


def test_calibration_reduces_crosstalk_error_on_dense_default_bank():
    rng = np.random.default_rng(8)
    b = wb.make_weight_bank(16, 4)                   # card defaults: ~2 linewidths apart
    w = rng.uniform(-1, 1, (4, 16))
    res = wb.calibrate_bank(w, b)
    before = wb.effective_weights(b, wb.program_bank(w, b)) - w
    after = wb.effective_weights(b, res.detuning_rad) - w
    assert res.rms_error_before == pytest.approx(np.sqrt(np.mean(before ** 2)), rel=1e-12)
    assert res.max_error_after == pytest.approx(np.max(np.abs(after)), rel=1e-12)
    assert res.rms_error_before > 1e-2               # crosstalk matters here
    assert res.rms_error_after < 0.5 * res.rms_error_before
    assert res.max_error_after < res.max_error_before


@pytest.mark.parametrize("thermal", [0.0, 0.05])
def test_calibration_converges_when_targets_are_reachable(thermal):
    rng = np.random.default_rng(9)
    b = wb.make_weight_bank(8, 4, channel_spacing_m=0.3e-9, thermal_neighbour_fraction=thermal)
    w = rng.uniform(-0.8, 0.8, (4, 8))
    res = wb.calibrate_bank(w, b, tol=1e-10)
    assert res.max_error_before > 1e-3
    assert res.converged and res.max_error_after <= 1e-10
    np.testing.assert_allclose(wb.effective_weights(b, res.detuning_rad), w, rtol=0, atol=1e-10)


def test_thermal_crosstalk_matrix_and_inverse():
    k = crosstalk.thermal_crosstalk_matrix(4, efficiency_rad_per_w=50.0, neighbour_fraction=0.1)
    np.testing.assert_allclose(k[0], 50.0 * np.array([1, 0.1, 0.01, 0.001]))
    p = np.array([1e-3, 2e-3, 0.5e-3, 3e-3])
    phi = crosstalk.heater_phases(p, k)
    np.testing.assert_allclose(phi, k @ p)
    np.testing.assert_allclose(crosstalk.heater_powers_for_phases(phi, k), p, rtol=1e-12)
    with pytest.raises(ConfigError, match="negative heater power"):
        crosstalk.heater_powers_for_phases(np.array([1.0, 0.0, 0.0, 0.0]), k)


def test_rin_noise_statistics_and_reproducibility():
    b = wb.make_weight_bank(4, 2, crosstalk=False)
    budget = link_budget(b, rin_db_per_hz=-120.0)
    x = np.ones((20000, 4))
    cmd = wb.program_bank(np.zeros((2, 4)), b)
    p1 = pd_power(x, b, cmd, budget, rng=np.random.default_rng(3), bandwidth_hz=1e9)
    p2 = pd_power(x, b, cmd, budget, rng=np.random.default_rng(3), bandwidth_hz=1e9)
    np.testing.assert_array_equal(p1, p2)
    quiet = pd_power(x[:1], b, cmd, budget)[0]
    rel = p1 / quiet - 1
    # each PD sums 4 independent channels with equal weights: sigma / 2
    sigma = np.sqrt(10 ** (-12.0) * 1e9) / 2
    assert np.std(rel[..., 0]) == pytest.approx(sigma, rel=0.05)
    _, comb = laser_comb(4, rng=np.random.default_rng(0), bandwidth_hz=1e9, n_samples=10)
    assert comb.shape == (10, 4)


def test_bank_inputs_are_validated(bank_no_xt):
    b = bank_no_xt
    budget = link_budget(b)
    cmd = np.zeros((b.n_outputs, b.n_channels))
    with pytest.raises(ConfigError, match=r"weight .* outside the valid range \[-1, 1\]"):
        wb.program_bank(np.full((b.n_outputs, b.n_channels), 1.5), b)
    with pytest.raises(ConfigError, match="weights has shape"):
        wb.program_bank(np.zeros((b.n_channels, b.n_outputs)), b)
    with pytest.raises(ConfigError, match="inputs"):
        pd_power(-np.ones((2, b.n_channels)), b, cmd, budget)
    with pytest.raises(ConfigError, match="inputs has shape"):
        pd_power(np.ones((2, b.n_channels + 1)), b, cmd, budget)
    with pytest.raises(ConfigError, match="non-finite"):
        pd_power(np.full((2, b.n_channels), np.nan), b, cmd, budget)
    with pytest.raises(ConfigError, match="laser_power_per_channel_w"):
        link_budget(b, laser_power_per_channel_w=-1.0)
    with pytest.raises(ConfigError, match="bandwidth_hz"):
        pd_power(np.ones((2, b.n_channels)), b, cmd, budget, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="FSR"):
        wb.make_weight_bank(128, 2, channel_spacing_m=0.13e-9)


@pytest.mark.parametrize("crosstalk_on", [True, False])
def test_detuning_jacobian_matches_finite_differences_in_the_detunings(crosstalk_on):
    """The calibration's Jacobian is taken in the rings' detunings (command C^T): a
    finite difference of the applied weights in delta, through commands delta C^-T."""
    rng = np.random.default_rng(6)
    b = wb.make_weight_bank(6, 3, thermal_neighbour_fraction=0.05, crosstalk=crosstalk_on)
    delta = rng.uniform(0.1 * b.max_detuning_rad, b.max_detuning_rad, (3, 6))
    to_cmd = np.linalg.inv(b.thermal_coupling).T
    jac = wb.detuning_jacobian(b, delta)
    fd = _row_jacobian_fd(lambda d: wb.effective_weights(b, d @ to_cmd), delta)
    assert np.max(np.abs(jac - fd)) < 1e-6 * np.max(np.abs(jac))
    # and the command Jacobian is it times the coupling
    np.testing.assert_allclose(wb.weight_jacobian(b, delta @ to_cmd), jac @ b.thermal_coupling,
                               rtol=1e-12, atol=1e-15)


def test_calibration_converges_quadratically_and_never_raises_the_error():
    """Newton steps: on reachable targets the error falls at least quadratically once
    small (each iteration's max error <= C err^2); on targets beyond reach (|w| near 1)
    the damped steps never raise any row's squared error, iteration after iteration."""
    rng = np.random.default_rng(11)
    b = wb.make_weight_bank(16, 6, thermal_neighbour_fraction=0.05)
    w = rng.uniform(-0.5, 0.5, (6, 16))
    errs = [wb.calibrate_bank(w, b, tol=1e-14, max_iter=i).max_error_after for i in range(5)]
    assert errs[0] > 1e-3
    small = [e for e in errs if e < 1e-2]
    for e0, e1 in zip(small, small[1:]):
        if e1 > 1e-13:
            assert e1 <= 10 * e0 ** 2, errs
    far = rng.choice([-1.0, 1.0], (6, 16)) * rng.uniform(0.9, 1.0, (6, 16))
    rows = [np.sum((wb.effective_weights(b, wb.calibrate_bank(far, b, tol=1e-14, max_iter=i)
                                         .detuning_rad) - far) ** 2, axis=1)
            for i in range(6)]
    for before, after in zip(rows, rows[1:]):
        assert np.all(after <= before)
    assert np.all(rows[-1] < 0.9 * rows[0])          # and falls for every row


def test_calibration_of_many_rows_equals_each_row_calibrated_alone():
    """300 rows (the two-thread solve, Jacobians 128 rows at a time) give each row the
    iterates it gets alone: rows do not couple."""
    rng = np.random.default_rng(12)
    b = wb.make_weight_bank(16, 300, thermal_neighbour_fraction=0.05)
    w = rng.uniform(-0.6, 0.6, (300, 16))
    res = wb.calibrate_bank(w, b, tol=1e-13, max_iter=3)
    one = dataclasses.replace(b, n_outputs=1)
    alone = np.concatenate([wb.calibrate_bank(w[i:i + 1], one, tol=1e-13, max_iter=3)
                            .detuning_rad for i in range(300)])
    np.testing.assert_allclose(res.detuning_rad, alone, rtol=0, atol=1e-12)
    assert res.rms_error_after < 0.02 * res.rms_error_before


def test_calibration_with_a_singular_jacobian_keeps_the_row_and_goes_on():
    """A ring at resonance (delta = 0: its weight is flat in its detuning) makes its
    row's Jacobian singular: that row keeps its commands where no step lowers its
    error, the other row converges, nothing raises."""
    b = wb.make_weight_bank(4, 2, crosstalk=False)
    w = np.array([[0.3, -0.2, 0.1, 0.4], [0.2, 0.1, -0.3, 0.25]])
    start = wb.program_bank(w, b)
    start[0, 1] = 0.0
    res = wb.calibrate_bank(w, b, tol=1e-10, max_iter=20, start=start)
    err = np.abs(wb.effective_weights(b, res.detuning_rad) - w)
    assert np.all(err[1] <= 1e-10)
    assert res.max_error_after <= res.max_error_before


def test_calibration_step_of_a_singular_jacobian_fails_safely():
    """A singular J gives a NaN Newton step (never better: the row keeps its commands
    and is damped next), without failing the other rows."""
    jac = np.stack([np.eye(3), np.zeros((3, 3))])
    r = np.ones((2, 3))
    step = wb._calibration_steps(jac, r, np.zeros(2))
    np.testing.assert_allclose(step[0], -1.0)
    assert np.isnan(step[1]).all()
    damped = wb._calibration_steps(jac, r, np.array([0.0, 1e-3]))
    assert np.isfinite(damped).all()
