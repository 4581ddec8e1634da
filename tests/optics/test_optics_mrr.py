"""Microring models against the closed forms of Bogaerts et al., Laser Photonics Rev. 6(1)
2012 (REFERENCES 2.1), and figures of merit measured off the computed spectrum."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from cosim.errors import ConfigError
from cosim.optics import mrr

LAM0 = 1.55e-6
RING = dict(radius_m=10e-6, neff=2.34, ng=4.24, wavelength0_m=LAM0)


def _full_fsr_grid(n=4001):
    fsr = mrr.free_spectral_range(LAM0, radius_m=RING["radius_m"], ng=RING["ng"])
    return np.linspace(LAM0 - 0.6 * fsr, LAM0 + 0.6 * fsr, n)


@pytest.mark.parametrize("r,loss_db_per_m", [(0.99, 200.0), (0.95, 300.0), (0.9, 5000.0),
                                             (0.999, 0.0)])
def test_all_pass_equals_closed_form_over_full_fsr(r, loss_db_per_m):
    lam = _full_fsr_grid()
    t = mrr.mrr_all_pass(lam, r=r, loss_db_per_m=loss_db_per_m, **RING)[..., 0, 0]
    phi = mrr.round_trip_phase(lam, **RING)
    a = mrr.round_trip_amplitude(radius_m=RING["radius_m"], loss_db_per_m=loss_db_per_m)
    expected = mrr.all_pass_power_closed_form(phi, r=r, a=a)
    assert np.max(np.abs(np.abs(t) ** 2 - expected)) < 1e-12


@pytest.mark.parametrize("r1,r2,loss_db_per_m", [(0.99, 0.99, 200.0), (0.98, 0.95, 300.0),
                                                 (0.9, 0.97, 2000.0), (0.995, 0.99, 0.0)])
def test_add_drop_equals_closed_form_over_full_fsr(r1, r2, loss_db_per_m):
    lam = _full_fsr_grid()
    s = mrr.mrr_add_drop(lam, r1=r1, r2=r2, loss_db_per_m=loss_db_per_m, **RING)
    phi = mrr.round_trip_phase(lam, **RING)
    a = mrr.round_trip_amplitude(radius_m=RING["radius_m"], loss_db_per_m=loss_db_per_m)
    through, drop = mrr.add_drop_power_closed_form(phi, r1=r1, r2=r2, a=a)
    assert np.max(np.abs(np.abs(s[..., 0, 0]) ** 2 - through)) < 1e-12
    assert np.max(np.abs(np.abs(s[..., 1, 0]) ** 2 - drop)) < 1e-12


@settings(max_examples=60, deadline=None)
@given(r1=st.floats(0.5, 0.999), r2=st.floats(0.5, 0.999), a=st.floats(0.5, 1.0),
       phi=st.floats(-4.0, 4.0))
def test_add_drop_closed_form_property(r1, r2, a, phi):
    s = mrr.add_drop_from_phase(phi, r1=r1, r2=r2, a=a)
    through, drop = mrr.add_drop_power_closed_form(phi, r1=r1, r2=r2, a=a)
    assert abs(abs(s[0, 0]) ** 2 - through) < 1e-12
    assert abs(abs(s[1, 0]) ** 2 - drop) < 1e-12
    # passivity: output power never exceeds input power, for any input
    assert np.linalg.svd(s, compute_uv=False).max() <= 1 + 1e-12


@settings(max_examples=40, deadline=None)
@given(r1=st.floats(0.3, 0.999), r2=st.floats(0.3, 0.999), phi=st.floats(-4.0, 4.0))
def test_lossless_add_drop_is_unitary(r1, r2, phi):
    s = mrr.add_drop_from_phase(phi, r1=r1, r2=r2, a=1.0)
    assert np.max(np.abs(s.conj().T @ s - np.eye(2))) < 1e-12


@settings(max_examples=40, deadline=None)
@given(r=st.floats(0.3, 0.999), phi=st.floats(-4.0, 4.0))
def test_lossless_all_pass_has_unit_modulus(r, phi):
    t = mrr.all_pass_from_phase(phi, r=r, a=1.0)[0, 0]
    assert abs(abs(t) - 1.0) < 1e-12


def _resonances(power, lam_lo, lam_hi, n=20001):
    """Wavelengths of local minima of ``power`` refined by bounded minimisation."""
    lam = np.linspace(lam_lo, lam_hi, n)
    p = power(lam)
    idx = np.where((p[1:-1] < p[:-2]) & (p[1:-1] < p[2:]))[0] + 1
    out = []
    step = lam[1] - lam[0]
    for i in idx:
        res = minimize_scalar(lambda x: power(np.array(x)), bounds=(lam[i] - step,
                              lam[i] + step), method="bounded",
                              options={"xatol": 1e-18})
        out.append(res.x)
    return np.array(out)


@pytest.mark.parametrize("r,loss_db_per_m", [(0.99, 200.0), (0.97, 300.0)])
def test_all_pass_figures_of_merit_measured_from_spectrum(r, loss_db_per_m):
    a = float(mrr.round_trip_amplitude(radius_m=RING["radius_m"], loss_db_per_m=loss_db_per_m))

    def power(lam):
        return np.abs(mrr.mrr_all_pass(lam, r=r, loss_db_per_m=loss_db_per_m,
                                       **RING)[..., 0, 0]) ** 2

    fsr_formula = float(mrr.free_spectral_range(LAM0, radius_m=RING["radius_m"], ng=RING["ng"]))
    res = _resonances(power, LAM0 - 1.3 * fsr_formula, LAM0 + 1.3 * fsr_formula)
    assert len(res) >= 2
    lam_res = res[np.argmin(np.abs(res - LAM0))]
    k = np.searchsorted(res, lam_res)
    fsr_measured = np.diff(res).mean()
    fsr_expected = float(mrr.free_spectral_range(lam_res, radius_m=RING["radius_m"],
                                                 ng=RING["ng"]))
    assert abs(fsr_measured / fsr_expected - 1) < 0.01
    # FWHM: full width where the dip 1 - T falls to half its depth
    t_min = power(np.array(lam_res))
    half = lambda x: (1 - power(np.array(x))) - (1 - t_min) / 2  # noqa: E731
    lo = brentq(half, lam_res - fsr_measured / 2, lam_res, xtol=1e-20)
    hi = brentq(half, lam_res, lam_res + fsr_measured / 2, xtol=1e-20)
    fwhm_measured = hi - lo
    fwhm_expected = float(mrr.fwhm(lam_res, radius_m=RING["radius_m"], ng=RING["ng"], r=r, a=a))
    assert abs(fwhm_measured / fwhm_expected - 1) < 0.01
    q_expected = float(mrr.loaded_q(lam_res, radius_m=RING["radius_m"], ng=RING["ng"], r=r, a=a))
    assert abs((lam_res / fwhm_measured) / q_expected - 1) < 0.01
    # extinction ratio: maximum between two resonances over the minimum
    nxt = res[k + 1] if k + 1 < len(res) else res[k - 1]
    t_max = -minimize_scalar(lambda x: -power(np.array(x)),
                             bounds=tuple(sorted((lam_res, nxt))), method="bounded",
                             options={"xatol": 1e-18}).fun
    er_expected = mrr.all_pass_extinction_ratio(r=r, a=a)
    assert abs((t_max / t_min) / er_expected - 1) < 0.01


def test_add_drop_drop_port_fwhm_and_fsr_measured():
    r1, r2, loss = 0.99, 0.98, 200.0
    a = float(mrr.round_trip_amplitude(radius_m=RING["radius_m"], loss_db_per_m=loss))

    def neg_drop(lam):
        return -np.abs(mrr.mrr_add_drop(lam, r1=r1, r2=r2, loss_db_per_m=loss,
                                        **RING)[..., 1, 0]) ** 2

    fsr_formula = float(mrr.free_spectral_range(LAM0, radius_m=RING["radius_m"], ng=RING["ng"]))
    peaks = _resonances(neg_drop, LAM0 - 1.3 * fsr_formula, LAM0 + 1.3 * fsr_formula)
    lam_res = peaks[np.argmin(np.abs(peaks - LAM0))]
    fsr_expected = float(mrr.free_spectral_range(lam_res, radius_m=RING["radius_m"],
                                                 ng=RING["ng"]))
    assert abs(np.diff(peaks).mean() / fsr_expected - 1) < 0.01
    d_max = -neg_drop(np.array(lam_res))
    half = lambda x: -neg_drop(np.array(x)) - d_max / 2  # noqa: E731
    width = (brentq(half, lam_res, lam_res + fsr_expected / 2, xtol=1e-20)
             - brentq(half, lam_res - fsr_expected / 2, lam_res, xtol=1e-20))
    expected = float(mrr.fwhm(lam_res, radius_m=RING["radius_m"], ng=RING["ng"], r=r1 * r2, a=a))
    assert abs(width / expected - 1) < 0.01


def test_critical_coupling_extinguishes_through_port():
    a = float(mrr.round_trip_amplitude(radius_m=10e-6, loss_db_per_m=200.0))
    t = mrr.all_pass_from_phase(0.0, r=a, a=a)[0, 0]
    assert abs(t) ** 2 < 1e-20


def test_modulator_shifts_resonance_by_pm_per_volt():
    lam = np.linspace(1.5495e-6, 1.5505e-6, 20001)
    shift = 250e-12

    def resonance(v):
        p = np.abs(mrr.mrr_modulator(lam, voltage_v=v, shift_m_per_v=shift)[..., 0, 0]) ** 2
        return lam[np.argmin(p)]

    moved = resonance(0.4) - resonance(0.0)
    assert abs(moved - 0.4 * shift) <= 2 * (lam[1] - lam[0])


def test_ring_inputs_are_validated():
    with pytest.raises(ConfigError, match="r1"):
        mrr.add_drop_from_phase(0.0, r1=1.2, r2=0.9)
    with pytest.raises(ConfigError, match="wavelength_m"):
        mrr.mrr_all_pass(1550.0)
    with pytest.raises(ConfigError, match="non-finite"):
        mrr.add_drop_from_phase(np.nan)
    with pytest.raises(ConfigError, match="radius_m"):
        mrr.mrr_add_drop(LAM0, radius_m=-1e-6)
