"""Passive components: unitarity, passivity, closed forms, the registry, card defaults."""

import inspect
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.devices import load_card
from cosim.errors import ConfigError
from cosim.optics import components as comp
from cosim.optics import crosstalk, mrr, sources, weight_bank
from cosim.optics.link_budget import link_budget as make_link_budget
from cosim.optics.registry import COMPONENTS, get_component

LAM = np.linspace(1.545e-6, 1.555e-6, 7)


def _is_unitary(t, tol=1e-12):
    eye = np.eye(t.shape[-1])
    return np.max(np.abs(np.conj(np.swapaxes(t, -1, -2)) @ t - eye)) < tol


def _max_singular_value(t):
    return np.linalg.svd(t, compute_uv=False).max()


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_every_registered_component(name):
    """Each component: a (..., n_out, n_in) complex matrix, vectorised over wavelength and
    over a batch axis, finite, and passive (no port combination gains power)."""
    f = get_component(name)
    t = f(LAM)
    assert t.ndim == 3 and t.shape[0] == LAM.size and np.iscomplexobj(t)
    assert np.all(np.isfinite(t))
    assert _max_singular_value(t) <= 1 + 1e-12
    batch = f(LAM[None, :].repeat(3, axis=0))
    assert batch.shape == (3,) + t.shape
    np.testing.assert_array_equal(batch[1], t)
    for k, lam in enumerate(LAM):   # vectorised result == one wavelength at a time
        np.testing.assert_allclose(f(lam), t[k], rtol=0, atol=1e-15)


def test_unknown_component_name_lists_the_registry():
    with pytest.raises(ConfigError, match="registered: .*mrr_add_drop"):
        get_component("mmr_add_drop")


@settings(max_examples=50, deadline=None)
@given(kappa2=st.floats(0.0, 1.0))
def test_lossless_coupler_is_unitary(kappa2):
    assert _is_unitary(comp.directional_coupler(LAM, power_coupling=kappa2))


@settings(max_examples=50, deadline=None)
@given(theta=st.floats(-7, 7), phi=st.floats(-7, 7), kappa2=st.floats(0.0, 1.0))
def test_lossless_mzi_is_unitary(theta, phi, kappa2):
    assert _is_unitary(comp.mzi(LAM, theta_rad=theta, phi_rad=phi, power_coupling=kappa2))


@settings(max_examples=50, deadline=None)
@given(theta=st.floats(-7, 7), phi=st.floats(-7, 7), loss_dc=st.floats(0, 3),
       loss_ps=st.floats(0, 3), kappa2=st.floats(0, 1),
       field=st.lists(st.complex_numbers(max_magnitude=10, allow_nan=False,
                                         allow_infinity=False), min_size=2, max_size=2))
def test_lossy_mzi_never_gains_power(theta, phi, loss_dc, loss_ps, kappa2, field):
    t = comp.mzi(1.55e-6, theta_rad=theta, phi_rad=phi, power_coupling=kappa2,
                 coupler_loss_db=loss_dc, phase_shifter_loss_db=loss_ps)
    e = np.array(field)
    assert np.sum(np.abs(t @ e) ** 2) <= np.sum(np.abs(e) ** 2) * (1 + 1e-12) + 1e-300


def test_mzi_matches_closed_form():
    theta, phi = 1.1, -0.4
    s, c = np.sin(theta / 2), np.cos(theta / 2)
    expected = 1j * np.exp(0.5j * theta) * np.array(
        [[np.exp(1j * phi) * s, c], [np.exp(1j * phi) * c, -s]])
    np.testing.assert_allclose(comp.mzi(1.55e-6, theta_rad=theta, phi_rad=phi), expected,
                               rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(length=st.floats(0, 1e-2), loss=st.floats(0, 1000), lam=st.floats(1.5e-6, 1.6e-6))
def test_straight_loss_and_phase(length, loss, lam):
    t = comp.straight(lam, length_m=length, loss_db_per_m=loss)[0, 0]
    assert abs(abs(t) ** 2 - 10 ** (-loss * length / 10)) < 1e-12
    n = comp.effective_index(lam)
    assert abs(np.exp(1j * 2 * np.pi * n * length / lam) * abs(t) - t) < 1e-9


def test_group_index_from_phase_derivative():
    """n_g = (lambda^2 / 2 pi L) |d phi / d lambda| by central finite difference."""
    length, lam, h = 1e-3, 1.553e-6, 1e-12
    phase = lambda x: 2 * np.pi * comp.effective_index(x) * length / x  # noqa: E731
    dphi = (phase(lam + h) - phase(lam - h)) / (2 * h)
    ng_measured = -lam ** 2 * dphi / (2 * np.pi * length)
    # first-order dispersion model: n_g is exact at lambda0, O((lambda-lambda0)/lambda0) off it
    assert abs(ng_measured / comp.NG - 1) < 5e-3
    lam = 1.55e-6
    dphi = (phase(lam + h) - phase(lam - h)) / (2 * h)
    assert abs(-lam ** 2 * dphi / (2 * np.pi * length) / comp.NG - 1) < 1e-6


@pytest.mark.parametrize("n", [1, 2, 8, 64])
def test_fanout_tree_splits_evenly_with_excess_loss(n):
    excess = 0.05
    t = comp.fanout_tree(1.55e-6, n_outputs=n, excess_loss_db=excess)
    assert t.shape == (n, 1)
    expected = 10 ** (-np.log2(n) * excess / 10) / n
    np.testing.assert_allclose(np.abs(t[:, 0]) ** 2, expected, rtol=1e-12)


def test_fanout_tree_rejects_non_power_of_two():
    with pytest.raises(ConfigError, match="power of 2"):
        comp.fanout_tree(1.55e-6, n_outputs=6)


def test_cascade_is_matrix_product_in_signal_order_and_checks_ports():
    a = comp.y_splitter(1.55e-6)
    b = comp.mzi(1.55e-6, theta_rad=0.3, phi_rad=0.2)
    np.testing.assert_allclose(comp.cascade(a, b), b @ a)
    with pytest.raises(ConfigError, match="input ports"):
        comp.cascade(b, comp.straight(1.55e-6))


def test_thermo_optic_phase_is_linear_in_power():
    p = np.array([0.0, 1e-3, 2e-3])
    t = comp.thermo_optic_phase_shifter(1.55e-6, heater_power_w=p, efficiency_rad_per_w=100.0)
    np.testing.assert_allclose(np.angle(t[:, 0, 0]), 100.0 * p, atol=1e-15)
    with pytest.raises(ConfigError, match="heater_power_w"):
        comp.heater_phase(-1e-3)


def test_wdm_demux_conserves_power_when_lossless():
    lam = np.linspace(1.5494e-6, 1.5509e-6, 301)
    t = comp_demux = COMPONENTS["wdm_demux"](lam, loss_db_per_m=0.0)
    np.testing.assert_allclose(np.sum(np.abs(t[..., 0]) ** 2, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(COMPONENTS["wdm_mux"](lam, loss_db_per_m=0.0),
                               np.swapaxes(comp_demux, -1, -2))
    # each channel goes mostly to its own port
    chans = np.array(weight_bank.WAVELENGTH0_M + np.array([-3e-10, 0, 3e-10, 6e-10]))
    on = np.abs(COMPONENTS["wdm_demux"](chans, loss_db_per_m=0.0)[..., 0]) ** 2
    assert np.all(np.argmax(on, axis=-1) == np.arange(4))


def test_validation_messages_name_the_argument():
    with pytest.raises(ConfigError, match=r"power_coupling .* outside the valid range \[0, 1\]"):
        comp.directional_coupler(1.55e-6, power_coupling=1.5)
    with pytest.raises(ConfigError, match="loss_db"):
        comp.phase_shifter(1.55e-6, loss_db=-1.0)
    with pytest.raises(ConfigError, match="non-finite"):
        comp.straight(np.array([1.55e-6, np.inf]))


# Function defaults must equal the device card (the card carries the provenance).
_CARD_DEFAULTS = [
    ("optics", "neff", comp.straight, "neff"),
    ("optics", "ng", comp.straight, "ng"),
    ("optics", "loss_db_per_m", comp.straight, "loss_db_per_m"),
    ("optics", "wavelength0_m", comp.straight, "wavelength0_m"),
    ("optics", "radius_m", mrr.mrr_add_drop, "radius_m"),
    ("optics", "self_coupling", mrr.mrr_add_drop, "r1"),
    ("optics", "self_coupling", mrr.mrr_add_drop, "r2"),
    ("optics", "modulator_self_coupling", mrr.mrr_modulator, "r"),
    ("optics", "modulator_shift_m_per_v", mrr.mrr_modulator, "shift_m_per_v"),
    ("optics", "y_excess_loss_db", comp.y_splitter, "excess_loss_db"),
    ("optics", "heater_efficiency_rad_per_w", comp.heater_phase, "efficiency_rad_per_w"),
    ("optics", "thermal_neighbour_fraction", crosstalk.thermal_crosstalk_matrix,
     "neighbour_fraction"),
    ("optics", "channel_spacing_m", weight_bank.make_weight_bank, "channel_spacing_m"),
    ("optics", "detuning_fraction_of_spacing", weight_bank.make_weight_bank,
     "detuning_fraction_of_spacing"),
    ("optics", "edge_coupler_loss_db", make_link_budget, "edge_coupler_loss_db"),
    ("optics", "modulator_insertion_loss_db", make_link_budget,
     "modulator_insertion_loss_db"),
    ("optics", "modulator_out_of_band_loss_db", make_link_budget,
     "modulator_out_of_band_loss_db"),
    ("optics", "ring_pitch_m", make_link_budget, "ring_pitch_m"),
    ("laser", "power_per_channel_w", sources.laser_comb, "power_per_channel_w"),
    ("laser", "rin_db_per_hz", sources.laser_comb, "rin_db_per_hz"),
]


@pytest.mark.parametrize("card,key,func,kwarg", _CARD_DEFAULTS,
                         ids=[f"{c}.{k}->{f.__name__}.{a}" for c, k, f, a in _CARD_DEFAULTS])
def test_function_defaults_match_device_card(card, key, func, kwarg):
    default = inspect.signature(func).parameters[kwarg].default
    assert default == load_card(card)[key]


@pytest.mark.parametrize("card", ["optics", "laser"])
def test_card_values_have_provenance(card):
    c = load_card(card)
    for p in c.params.values():
        assert p.source or p.assumption


def test_import_is_light():
    code = ("import sys, cosim.optics; "
            "print(','.join(m for m in ('PySpice', 'h5py', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""
