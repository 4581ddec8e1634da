"""Crosstalk with the bank calibrated in the loop, the memristor-to-ring link in the
photonic tile, their retune counters and their price (issue 17, items 3 and 4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from cosim.design import load_design
from cosim.optics.weight_bank import (
    calibrate_bank,
    effective_weights,
    make_weight_bank,
    program_bank,
)


def _tiles(**kw):
    from cosim.hw.backend import readout_characterization
    from cosim.hw.photonic import PhotonicTiles

    return PhotonicTiles(tile_rows=16, tile_cols=4, dac_bits=16, adc_bits=16,
                         optical_engine="twin", electrical_engine="ideal", noise=False,
                         characterization=readout_characterization(load_design("bplight")),
                         laser_power_per_channel_w=None, **kw)


def _applied(tiles, state, m, k):
    """(drop - through) / g of the loaded tile grid, back in the (m, k) layout."""
    drop, through = state
    mi, nj, me, ne = drop.shape
    w = ((drop - through) / tiles.g).transpose(0, 2, 1, 3).reshape(mi * me, nj * ne)
    return w[:m, :k]


def test_warm_start_from_the_solution_needs_no_iteration_and_beats_a_cold_start():
    bank = make_weight_bank(12, 5, thermal_neighbour_fraction=0.05)
    rng = np.random.default_rng(1)
    w = rng.uniform(-0.5, 0.5, (5, 12))
    cold = calibrate_bank(w, bank, tol=1e-9, max_iter=50)
    assert cold.converged and cold.iterations >= 2
    again = calibrate_bank(w, bank, tol=1e-9, max_iter=50, start=cold.detuning_rad)
    assert again.iterations == 0 and again.max_error_before <= 1e-9
    # a small update, warm-started from the previous state moved by the single-ring map
    w2 = w + rng.normal(0, 0.01, w.shape)
    start = cold.detuning_rad + program_bank(w2, bank) - program_bank(w, bank)
    warm = calibrate_bank(w2, bank, tol=1e-9, max_iter=50, start=start)
    fresh = calibrate_bank(w2, bank, tol=1e-9, max_iter=50)
    assert warm.converged and warm.max_error_before < fresh.max_error_before / 5
    assert warm.iterations <= fresh.iterations
    np.testing.assert_allclose(effective_weights(bank, warm.detuning_rad), w2, atol=1e-9)
    with pytest.raises(Exception, match="detuning_rad"):
        calibrate_bank(w, bank, start=np.zeros((5, 3)))


@pytest.mark.parametrize("calibration", ["none", "in_loop"])
def test_tile_with_crosstalk_applies_the_calibrated_weights(calibration):
    """Each tile's rows, recomputed independently on a bank of the tile's channels
    (cosim.optics), give the applied weights; calibrated they equal the targets within
    the tolerance, uncalibrated they miss by far; the report says so."""
    tiles = _tiles(crosstalk=True, calibration=calibration, calibration_max_iter=20,
                   calibration_tol=1e-6, thermal_neighbour_fraction=0.05)
    rng = np.random.default_rng(2)
    m, k = 6, 21                              # 2 x 2 tiles of 4 x 16, padded
    a = rng.uniform(-0.4, 0.4, (m, k))
    loaded = tiles.load(a, 1.0, "forward")
    got = _applied(tiles, loaded.state, m, k)
    err = float(np.max(np.abs(got - a)))
    rep = loaded.retune
    assert rep["retunes"] == 1
    assert rep["calibration_residual"] >= err - 1e-12
    if calibration == "in_loop":
        assert err < 1e-6 and rep["calibration_iterations"] >= 1
    else:
        assert err > 0.05 and rep["calibration_iterations"] == 0
    # the same rows through an independent bank of 16 channels: the same transfers
    bank = make_weight_bank(16, 4, thermal_neighbour_fraction=0.05)
    drop, through = loaded.state
    cmd_row = np.clip(np.pad(a, ((0, 2), (0, 11))), -1, 1)[:4, :16]
    if calibration == "none":
        eff = effective_weights(bank, program_bank(cmd_row, bank))
        np.testing.assert_allclose((drop[0, 0] - through[0, 0]) / tiles.g, eff, atol=1e-12)
    # heater power: the commands' own-heater phases over the optics card's efficiency
    assert rep["heater_power_w"] > 0


def test_warm_start_in_the_tile_cuts_iterations_for_a_small_update():
    tiles = _tiles(crosstalk=True, calibration="in_loop", calibration_max_iter=30,
                   calibration_tol=1e-8, thermal_neighbour_fraction=0.05)
    rng = np.random.default_rng(3)
    a = rng.uniform(-0.4, 0.4, (4, 16))
    first = tiles.load(a, 1.0, "forward").retune["calibration_iterations"]
    second = tiles.load(a + 1e-3 * rng.standard_normal(a.shape), 1.0,
                        "forward").retune["calibration_iterations"]
    assert second < first


def test_link_driver_applies_the_target_weights_and_reports_its_power():
    """weight_link = driver: the pre-distorted conductances give, through the link's
    closed-form circuit and the ring, the target weights; the link power equals
    link_power of pairs found independently by root finding on link_weight."""
    from cosim.devices.link_driver import LinkDriverSpec, link_power, link_weight

    spec = LinkDriverSpec.from_cards()
    tiles = _tiles(link=spec)
    a = np.array([[-0.99, -0.5, 0.0, 0.3], [0.7, 1.0, -0.2, 0.05]])
    loaded = tiles.load(a, 1.0, "forward")
    got = _applied(tiles, loaded.state, *a.shape)
    np.testing.assert_allclose(got, a, atol=1e-9)
    assert loaded.saturated == 0
    mid = 0.5 * (spec.g_min_s + spec.g_max_s)
    gb = spec.bias_conductance_s
    total = 0.0
    for w in a.ravel():
        d = brentq(lambda d, w=w: float(link_weight(mid + d / 2, mid - d / 2, tiles.bank,
                                                    spec)) - w,
                   -gb, gb * (1 - 1e-12), xtol=1e-18)
        total += float(link_power(mid + d / 2, mid - d / 2, spec))
    assert loaded.retune["link_power_w"] == pytest.approx(total, rel=1e-6)
    # the gradient's pattern goes through the DACs, not the link
    assert "link_power_w" not in tiles.load(a, 1.0, "gradient").retune


def test_hardware_stats_combine_retunes():
    from cosim.hw.stats import HardwareStats

    st = HardwareStats()
    st.add_load("fc1", "forward", {"retunes": 1, "calibration_iterations": 3,
                                   "calibration_residual": 2e-4, "heater_power_w": 0.5})
    st.add_load("fc1", "forward", {"retunes": 1, "calibration_iterations": 1,
                                   "calibration_residual": 1e-4, "heater_power_w": 0.25})
    row = st.as_table()[0]
    assert (row["retunes"], row["calibration_iterations"]) == (2, 4)
    assert row["calibration_residual"] == 2e-4 and row["heater_power_w"] == 0.75
    again = HardwareStats()
    again.load_state(st.state())
    assert again.as_table() == st.as_table()


def test_spacing_scan_is_consistent_and_monotone():
    """The uncalibrated crosstalk error falls as the channels move apart; the reported
    spacing reaches the target and the next denser grid point does not (checked by
    calibrate_bank directly)."""
    from cosim.optics.spacing import spacing_scan

    target = 1e-3
    r = spacing_scan(8, 4, target=target, rng=np.random.default_rng(0), max_iter=3,
                     points=8, lowest_fraction=0.1)
    finite = np.isfinite(r.residual_before)
    assert np.all(np.diff(r.residual_before[finite]) < 0)
    assert r.required_m is not None
    i = int(np.flatnonzero(r.spacings_m == r.required_m)[0])
    assert i > 0 and np.all(r.residual_after[i:] <= target)
    w = np.random.default_rng(0).uniform(-0.5, 0.5, (4, 8))
    for s, ok in ((r.spacings_m[i], True), (r.spacings_m[i - 1], False)):
        try:
            bank = make_weight_bank(8, 4, channel_spacing_m=float(s))
        except Exception:
            assert not ok
            continue
        res = calibrate_bank(w, bank, tol=target, max_iter=3)
        assert (res.max_error_after <= target) == ok


def test_energy_prices_retunes_from_a_run():
    """retune_energy = retunes x mean heater power x settling time, the settling time
    added to the phase latency, link energy = link power x latency."""
    from cosim.energy.components import design_components
    from cosim.energy.model import PhaseCounts, _pass
    from cosim.energy.quantity import leaf
    from cosim.hw.backend import readout_characterization

    design = load_design("bplight")
    c, _ = design_components(design, readout_characterization(design))
    base = PhaseCounts(leaf(100.0, "1", "t"), leaf(640.0, "1", "t"), leaf(64.0, "1", "t"),
                       leaf(64.0, "1", "t"))
    t0, lat0, _ = _pass(c, base, "bplight")
    pc = PhaseCounts(base.symbols, base.reads, base.inputs, base.outputs,
                     retunes=leaf(0.5, "1", "t"), heater_power=leaf(0.2, "W", "t"),
                     link_power=leaf(0.1, "W", "t"))
    t1, lat1, _ = _pass(c, pc, "bplight")
    tau = float(design["thermal_settling_time_s"])
    assert lat1.value == pytest.approx(lat0.value + 0.5 * tau)
    assert t1["retune_energy"].value == pytest.approx(0.5 * 0.2 * tau)
    assert t1["link_energy"].value == pytest.approx(0.1 * lat1.value)
    assert "retune_energy" not in t0


def test_gradient_pattern_at_a_fraction_of_full_scale_gives_the_exact_product():
    """With crosstalk and in-loop calibration the gradient pattern (entries up to +-1,
    beyond what coupled rings reach) is loaded at half scale and the outputs doubled:
    the product equals u @ a.T to the converters' resolution, while at full scale the
    unreachable entries leave a residual of order 0.1 and more."""
    from cosim.hw.protocols import COUNTERS

    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (4, 16))
    a[0, 3] = 1.0
    u = rng.uniform(0, 1, (7, 16))
    for frac, good in ((0.5, True), (1.0, False)):
        tiles = _tiles(crosstalk=True, calibration="in_loop", calibration_max_iter=10,
                       calibration_tol=1e-6, thermal_neighbour_fraction=0.05,
                       pattern_fraction=frac)
        loaded = tiles.load(a, 1.0, "gradient")
        y = tiles.matmul(u, loaded, rng=None, counts=dict.fromkeys(COUNTERS, 0),
                         row_scale=np.ones(u.shape[0]))
        err = np.max(np.abs(y - u @ a.T))
        if good:
            assert loaded.retune["calibration_residual"] < 1e-6 and err < 1e-3
        else:
            assert loaded.retune["calibration_residual"] > 0.05 and err > 1e-2
