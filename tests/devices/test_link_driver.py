"""The memristor-to-ring link driver (netlists/link.lib, cosim.devices.link_driver): its
closed-form twin against ngspice and the native engine over the conductance range, the
card design against the weight bank, the transfer's physics and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.devices.link_driver import (
    LinkDriverSpec,
    build_link_netlist,
    full_scale_detuning_rad,
    heater_power_from_result,
    link_power,
    link_transfer,
    link_weight,
    power_from_result,
)
from cosim.errors import ConfigError
from cosim.netlist import Op
from cosim.optics import heater_phase, make_weight_bank
from cosim.spice.gate import check_deck


@pytest.fixture(scope="module")
def spec():
    return LinkDriverSpec.from_cards()


@pytest.fixture(scope="module")
def grid(spec):
    """Every pair of 7 conductances spanning the rram_array card's range."""
    g = np.linspace(spec.g_min_s, spec.g_max_s, 7)
    gp, gn = np.meshgrid(g, g, indexing="ij")
    return gp, gn


def _check_against(result, spec, gp, gn):
    tw = link_transfer(gp, gn, spec)
    p_ref = tw.heater_power_w.ravel()
    p = heater_power_from_result(result, spec, gp.size)
    on = p_ref > 0
    assert on.sum() == gp.size - 1          # all but G+ - G- = gb (G+ = G_max, G- = G_min)
    np.testing.assert_allclose(p[on], p_ref[on], rtol=1e-6, atol=0)
    # the pairs at G+ - G- = gb: heater off (to 1e-6 of the full-scale power)
    assert np.all(np.abs(p[~on]) <= 1e-6 * p_ref.max())
    np.testing.assert_allclose(power_from_result(result, spec), tw.power_w.sum(), rtol=1e-6)


def test_twin_equals_ngspice_over_the_conductance_range(spec, grid, engine):
    gp, gn = grid
    circ = build_link_netlist(gp, gn, spec)
    text = circ.render()
    check_deck(text, "op")                       # the deck passes the gate
    _check_against(engine.run(circ, Op()), spec, gp, gn)


def test_twin_equals_native_engine(spec, grid):
    from cosim.native import run_native

    gp, gn = grid
    _check_against(run_native(build_link_netlist(gp, gn, spec), Op()), spec, gp, gn)


def test_ideal_limit_and_quadratic_transfer(spec):
    """For a0 -> infinity: I_h = R_t V_read (gb - G+ + G-) / R_s, and the detuning is
    eta R_h I_h^2 (cosim.optics.heater_phase)."""
    ideal = LinkDriverSpec(**{**spec.as_dict(), "open_loop_gain": 1e12})
    gp = np.array([spec.g_min_s, 3e-6, spec.g_max_s])
    gn = np.array([spec.g_max_s, 2e-6, spec.g_min_s])
    t = link_transfer(gp, gn, ideal)
    i_ref = (spec.read_feedback_resistance_ohm * spec.read_voltage_v
             * (spec.bias_conductance_s - gp + gn) / spec.sense_resistance_ohm)
    np.testing.assert_allclose(t.heater_current_a, i_ref, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(t.detuning_rad, heater_phase(
        spec.heater_resistance_ohm * i_ref ** 2,
        efficiency_rad_per_w=spec.heater_efficiency_rad_per_w), rtol=1e-9, atol=1e-18)
    # the finite gain of the card costs less than 0.1 % of the current
    real = link_transfer(gp, gn, spec).heater_current_a
    assert np.all(np.abs(real - t.heater_current_a) <= 1e-3 * t.heater_current_a.max())


def test_card_design_reaches_the_bank_detuning_range(spec):
    """The full-scale heater power gives the bank's max_detuning_rad (half a channel
    spacing) within 0.1 %, and the link weight spans the ring's weight range: +1 (and
    beyond, on resonance) at w = +1, -1 at w = -1, monotonic in between."""
    bank = make_weight_bank(1, 1)
    assert full_scale_detuning_rad(spec) == pytest.approx(bank.max_detuning_rad, rel=1e-3)
    w = np.linspace(-1, 1, 41)
    g = spec.g_min_s + spec.bias_conductance_s * np.abs(w)
    gp = np.where(w > 0, g, spec.g_min_s)
    gn = np.where(w < 0, g, spec.g_min_s)
    applied = link_weight(gp, gn, bank, spec)
    assert np.all(np.diff(applied) > 0)
    assert applied[-1] >= 1.0 and applied[0] <= -1.0 + 2e-3


def test_power_prices_heater_supply_and_read(spec):
    """The link power: V_dd (I_h + 2 i_q) plus the read power, which at I_h = 0 is the
    memristor and bias dissipation (at most V_read^2 (G+ + G- + gb))."""
    gp, gn = spec.g_max_s, spec.g_min_s            # heater off
    p0 = float(link_power(gp, gn, spec))
    vr = spec.read_voltage_v
    read = vr ** 2 * (gp + gn + spec.bias_conductance_s)
    quiescent = 2 * spec.supply_v * spec.quiescent_current_a
    assert p0 == pytest.approx(quiescent + read, rel=1e-3)
    t = link_transfer(spec.g_min_s, spec.g_max_s, spec)  # full scale
    assert float(t.power_w) > spec.supply_v * float(t.heater_current_a) > \
        float(t.heater_power_w) > 0


def test_refusals(spec):
    with pytest.raises(ConfigError, match="exceeds the read bias"):
        link_transfer(spec.g_max_s * 1.01, spec.g_min_s, spec)
    with pytest.raises(ConfigError, match="finite and > 0"):
        link_transfer(0.0, 1e-6, spec)
    with pytest.raises(ConfigError, match="saturation voltage"):
        LinkDriverSpec.from_cards(heater_resistance_ohm=5e3)
    with pytest.raises(ConfigError, match="unknown override"):
        LinkDriverSpec.from_cards(heater_ohm=5e3)
