"""Weight devices (cosim.devices.weight_device): the VTEAM pulse table against the
memristor_vteam subcircuit in ngspice, the tabulated response against its table, the
cards of every pulse model."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.devices import load_card
from cosim.devices.cards import CARD_KINDS
from cosim.devices.memristor import params_from_card
from cosim.devices.weight_device import (
    PULSE_MODELS,
    load_weight_device,
    memristor_pulse_tables,
    pulse_train,
)
from cosim.errors import ConfigError
from cosim.netlist import Circuit, Pwl, SubcircuitInstance, Tran, VoltageSource


@pytest.mark.parametrize("name", [n for k in PULSE_MODELS for n in CARD_KINDS[k]])
def test_every_weight_device_card_loads_with_a_monotonic_response(name):
    d = load_weight_device(name)
    p = d.params
    assert 0 < p.g_min_s < p.g_max_s
    g = np.full(p.pulses_ltp + 1, p.g_min_s)
    quiet = d.params.__class__(**{**p.__dict__, "c2c_sigma_frac": 0.0})
    from dataclasses import replace

    q = replace(d, params=quiet)
    for k in range(1, g.size):
        g[k] = q.apply(g[k - 1], 1)
    assert np.all(np.diff(g) > 0)
    g_down = [q.apply(g[-1], -1)]
    assert g_down[0] < g[-1]


def test_vteam_table_matches_ngspice_subcircuit(engine):
    """The LTP and LTD pulse tables of weight_vteam (numpy twin of the VTEAM ODE) against
    an ngspice transient of memristor_vteam under the same PWL pulse train: the state at
    the end of every pulse period agrees within half the table's smallest step (measured:
    0.0024 and 0.00017 of the state range for LTP and LTD, half-steps 0.0040 and
    0.0023), so every table entry is the one ngspice gives."""
    card = load_card("weight_vteam")
    mparams = params_from_card(load_card(str(card["memristor_card"])), "vteam")
    kw = dict(width_s=card["pulse_width_s"], edge_s=card["pulse_edge_s"],
              gap_s=card["pulse_gap_s"])
    tables = memristor_pulse_tables("vteam", mparams, pulses_ltp=int(card["pulses_ltp"]),
                                    pulses_ltd=int(card["pulses_ltd"]),
                                    ltp_amplitude_v=card["ltp_amplitude_v"],
                                    ltd_amplitude_v=card["ltd_amplitude_v"], **kw)
    for amp, n, x0, x_table in ((card["ltp_amplitude_v"], int(card["pulses_ltp"]), 1.0,
                                 tables.x_ltp),
                                (card["ltd_amplitude_v"], int(card["pulses_ltd"]), 0.0,
                                 tables.x_ltd)):
        t, v, ends = pulse_train(amp, n, **kw)
        c = Circuit(f"vteam pulse train {amp} V")
        c.include("memristors.lib")
        c.add(VoltageSource("V1", "in", "0", 0.0, None, Pwl(tuple(t), tuple(v))),
              SubcircuitInstance("XM1", ("in", "0"), "memristor_vteam",
                                 {**mparams, "x0": x0}))
        c.options["method"] = "gear"
        c.options["reltol"] = 1e-4
        step = float(kw["edge_s"]) / 4
        c.analyses.append(Tran(step, float(t[-1]), max_step_s=step, uic=True))
        res = engine.run(c)
        x_spice = np.interp(t[ends], res.axis, res.v("xm1.x"))
        assert np.ptp(x_table) > 0.9                  # the train sweeps the window
        err = np.max(np.abs(x_spice - x_table[1:]))
        half_step = 0.5 * np.min(np.abs(np.diff(x_table)))
        assert err < half_step, f"{amp} V: max state error {err:.4g} > {half_step:.4g}"


def test_table_response_follows_the_table_and_bounds():
    """Without noise, k pulses from G_min give table entry k (LTP) and from the top
    entry k of the LTD table; a pulse never moves against its sign."""
    from dataclasses import replace

    d = load_weight_device("weight_vteam")
    q = replace(d, params=replace(d.params, c2c_sigma_frac=0.0))
    p = q.params
    g = p.g_min_s + p.g_range_s * q.table_ltp
    for k in (1, 5, 17, p.pulses_ltp):
        assert q.apply(p.g_min_s, k) == pytest.approx(g[k], rel=1e-12)
    top = p.g_min_s + p.g_range_s * q.table_ltd
    for k in (1, 9, p.pulses_ltd):
        assert q.apply(p.g_max_s, -k) == pytest.approx(top[k], rel=1e-12)
    # past the LTP table's end (a device at G_max): LTP leaves it, LTD lowers it
    assert q.apply(p.g_max_s, 3) == p.g_max_s
    assert q.apply(p.g_max_s, -1) < p.g_max_s
    with pytest.raises(ConfigError, match="whole numbers"):
        q.apply(p.g_min_s, 0.5)


def test_bad_weight_device_names():
    with pytest.raises(ConfigError, match="not a weight device card.*weight_rram_realdevice"):
        load_weight_device("rram_array")
    with pytest.raises(ConfigError, match="amplitude|n_pulses|pulse"):
        pulse_train(0.3, 0, width_s=1e-9, edge_s=1e-9, gap_s=1e-9)
