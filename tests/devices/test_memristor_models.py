"""Memristor models: ngspice subcircuits (netlists/memristors.lib) against their numpy
twins (cosim.devices.memristor) under sinusoidal drive, and the pinched-hysteresis
fingerprints (pinch at the origin, lobe area shrinking with frequency)."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from cosim.devices import load_card
from cosim.devices.memristor import (
    MEMRISTOR_MODELS,
    bench_circuit,
    bench_drive_from_card,
    get_model,
    params_from_card,
    simulate,
    simulate_batch,
)
from cosim.errors import ConfigError
from cosim.netlist import Circuit, Op, Pwl, SubcircuitInstance, Tran, VoltageSource, \
    parse_netlist
from cosim.resources import data_file

MODELS = sorted(MEMRISTOR_MODELS)


def _lib_defaults(subckt: str) -> dict[str, float]:
    """The params: defaults of one .subckt of memristors.lib (continuation lines joined)."""
    text = data_file("netlists", "memristors.lib").read_text()
    joined = re.sub(r"\n\+", " ", text)
    line = next(ln for ln in joined.splitlines() if ln.lower().startswith(f".subckt {subckt} "))
    head, _, params = line.partition("params:")
    assert head.split()[2:] == ["p", "n"]
    return {k: float(v) for k, v in (kv.split("=") for kv in params.split())}


@pytest.mark.parametrize("name", MODELS)
def test_registry_card_and_subcircuit_share_defaults(name):
    m = get_model(name)
    card = load_card(m.card)
    assert card.model == m.subckt
    assert params_from_card(card) == dict(m.defaults)
    lib = _lib_defaults(m.subckt)
    assert set(lib) == set(m.defaults)
    for k, v in m.defaults.items():
        assert lib[k] == pytest.approx(v, rel=1e-15), k
    # every card entry is either a model parameter or a bench setting
    assert set(card.values) - set(m.defaults) == {"bench_amplitude_v", "bench_frequency_hz"}


def _loop_metrics(t, v, i, f):
    """Lobe areas |int I dV| of the two half periods of the last full period, and the
    largest |I| interpolated at the zero crossings of V."""
    period = 1.0 / f
    t_end = t[-1]
    start = t_end - period
    areas = []
    for a, b in ((start, start + period / 2), (start + period / 2, t_end)):
        sel = (t >= a - 1e-12 * period) & (t <= b + 1e-12 * period)
        areas.append(abs(np.trapezoid(i[sel], v[sel])))
    k = np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)[0]
    w = v[k] / (v[k] - v[k + 1])
    i_cross = i[k] + w * (i[k + 1] - i[k])
    return sum(areas), float(np.max(np.abs(i_cross))) if k.size else 0.0


@pytest.fixture(scope="module")
def bench_runs(engine):
    """Each model at 1x, 2x and 4x its card's bench frequency, two cycles, in ngspice."""
    items, keys = [], []
    for name in MODELS:
        amp, f0 = bench_drive_from_card(MEMRISTOR_MODELS[name].card)
        for mult in (1, 2, 4):
            c = bench_circuit(name, amp, f0 * mult, cycles=2)
            from cosim.spice import make_job
            items.append(make_job(c))
            keys.append((name, mult, amp, f0 * mult))
    results = engine.run_many(items)
    return dict(zip(keys, results))


@pytest.mark.parametrize("name", MODELS)
def test_ngspice_and_twin_agree_and_loop_is_pinched(name, bench_runs):
    area = []
    for (n, mult, amp, f), res in sorted(bench_runs.items()):
        if n != name:
            continue
        t = res.axis
        v = res.v("in")
        i_spice = -res.i("V1")
        peak = np.max(np.abs(i_spice))
        # the twin on the same time grid, driven by the exact sinusoid of the SIN source
        i_twin, x_twin = simulate(name, t, lambda tt: amp * np.sin(2 * np.pi * f * tt),
                                  rtol=1e-8)
        rms = np.sqrt(np.mean((i_spice - i_twin) ** 2))
        assert rms <= 0.01 * peak, f"{name} at {f:g} Hz: rms {rms:.3g} A vs peak {peak:.3g} A"
        # the state did move (a visible loop), so the agreement is not trivial
        x_spice = res.v("xm1.x")
        assert np.ptp(x_spice) > 0.02
        np.testing.assert_allclose(x_twin, x_spice, atol=0.03)
        a, i_zero = _loop_metrics(t, v, i_spice, f)
        assert i_zero <= 1e-3 * peak, f"{name}: loop not pinched ({i_zero:.3g} A at V = 0)"
        area.append(a)
    assert len(area) == 3
    assert area[0] > area[1] > area[2] > 0, f"{name}: lobe areas {area} do not shrink"


@pytest.mark.parametrize("name", ["vteam", "yakopcic"])
def test_operating_point_keeps_state_below_threshold(name, engine):
    """Below the switching thresholds an .op read sees x = x0 (the leak to the x0
    reference holds it), so DC reads of a crossbar are meaningful."""
    m = get_model(name)
    c = Circuit("dc read")
    c.include("memristors.lib")
    v_read = 0.01
    c.add(VoltageSource("V1", "in", "0", v_read),
          SubcircuitInstance("XM1", ("in", "0"), m.subckt, {"x0": 0.5}))
    res = engine.run(c, Op())
    assert float(np.ravel(res.v("xm1.x"))[0]) == pytest.approx(0.5, abs=1e-9)
    expected = float(m.current(v_read, 0.5))
    assert float(-np.ravel(res.i("V1"))[0]) == pytest.approx(expected, rel=1e-6)


def test_joglekar_bias_frees_a_state_at_the_boundary():
    """At x = 1 the plain Joglekar window is zero in both directions (terminal state);
    the window bias lets a reverse drive move the state off the boundary."""
    t = np.linspace(0, 1.0, 201)
    v = -np.ones_like(t)
    _, x_plain = simulate("linear_joglekar", t, v, x0=1.0, window_bias=0.0)
    _, x_biased = simulate("linear_joglekar", t, v, x0=1.0)
    assert x_plain[-1] == pytest.approx(1.0, abs=1e-9)
    assert x_biased[-1] < 0.5


@pytest.mark.parametrize("name", MODELS)
def test_current_is_odd_in_voltage_at_fixed_state_and_zero_at_zero(name):
    m = get_model(name)
    v = np.linspace(-1, 1, 41)
    i = m.current(v, 0.4)
    np.testing.assert_allclose(i, -i[::-1], atol=1e-15)
    assert m.current(0.0, 0.4) == 0.0


@pytest.mark.parametrize("name", MODELS)
def test_dxdt_matches_finite_difference_of_the_integrator(name):
    """One short constant-voltage step of simulate() against the Euler estimate dxdt*dt."""
    m = get_model(name)
    amp, f = bench_drive_from_card(m.card)
    dt = 1e-6 / f
    x0 = 0.4
    t = np.array([0.0, dt])
    _, x = simulate(name, t, np.full(2, amp), x0=x0)
    expected = float(m.dxdt(amp, x0, x0=x0)) * dt
    assert x[1] - x0 == pytest.approx(expected, rel=1e-3)


def test_parameter_validation_names_value_and_range():
    with pytest.raises(ConfigError, match="r_off_ohm"):
        get_model("linear_biolek").params(r_off_ohm=50.0)
    with pytest.raises(ConfigError, match="no parameter"):
        get_model("vteam").params(not_a_param=1.0)
    with pytest.raises(ConfigError, match="x0"):
        get_model("yakopcic").params(x0=1.5)
    with pytest.raises(ConfigError, match="unknown memristor model"):
        get_model("hp")
    with pytest.raises(ConfigError, match="amplitude_v"):
        bench_circuit("vteam", -1.0, 1e6)


def test_cli_builder_writes_the_bench(tmp_path):
    from cosim.cli import build_memristor

    parser = argparse.ArgumentParser()
    build_memristor.add_arguments(parser)
    args = parser.parse_args(["--model", "yakopcic", "--amplitude", "0.4", "--frequency",
                              "200", "--cycles", "3"])
    c = build_memristor.build(args)
    text = c.render()
    assert text == bench_circuit("yakopcic", 0.4, 200.0, 3).render()
    assert parse_netlist(text).render() == text
    assert "memristor_yakopcic" in text and "SIN(0 0.4 200" in text
    # a user card overrides parameters
    card = tmp_path / "my.toml"
    card.write_text(load_card("memristor_yakopcic").path.read_text().replace(
        "value = 0.11", "value = 0.2"))
    args = parser.parse_args(["--model", "yakopcic", "--card", str(card)])
    assert "x0=0.2" in build_memristor.build(args).render()


# --------------------------------------------------------------------------- fast twin

# one parameter per model varied device by device in the batch tests (x0 always is)
_PER_DEVICE = {"linear_joglekar": ("r_off_ohm", (12e3, 16e3, 20e3, 14e3)),
               "linear_biolek": ("r_off_ohm", (800.0, 1e3, 1.2e3, 900.0)),
               "vteam": ("k_off_m_per_s", (3e-4, 5e-4, 8e-4, 4e-4)),
               "yakopcic": ("a_p_per_s", (3000.0, 4000.0, 5000.0, 3500.0))}


@pytest.mark.parametrize("name", MODELS)
def test_batch_equals_per_device_simulate(name):
    """simulate_batch (numpy, all devices at once) against simulate (one device, float
    loop): per-device drives, initial states and a per-device parameter."""
    m = get_model(name)
    amp, f = bench_drive_from_card(m.card)
    t = np.linspace(0.0, 1.0 / f, 301)
    amps = amp * np.array([0.6, 1.0, 1.2, 0.9])
    v = np.sin(2 * np.pi * f * t)[:, None] * amps
    x0 = np.array([0.2, 0.5, 0.8, 0.35])
    key, values = _PER_DEVICE.get(name, ("x0", x0))
    i_b, x_b = simulate_batch(name, t, v, x0=x0, rtol=1e-8, atol=1e-11, **{key: values})
    assert i_b.shape == x_b.shape == (t.size, 4)
    assert np.ptp(x_b, axis=0).max() > 0.02  # the states move: the comparison is not trivial
    for d in range(4):
        i_s, x_s = simulate(name, t, v[:, d], x0=x0[d], rtol=1e-8, atol=1e-11,
                            **{key: values[d]})
        np.testing.assert_allclose(x_b[:, d], x_s, rtol=0, atol=1e-9)
        np.testing.assert_allclose(i_b[:, d], i_s, rtol=0, atol=1e-9 * np.abs(i_s).max())
    # a 1-D drive is shared by every device
    i_1, x_1 = simulate_batch(name, t, v[:, 1], x0=x0, rtol=1e-8, atol=1e-11)
    _, x_s = simulate(name, t, v[:, 1], x0=x0[2], rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(x_1[:, 2], x_s, rtol=0, atol=1e-9)


def _joglekar_closed_form(flux_v_s, x0, r_on, r_off, k):
    """x(t) of the linear-drift model with the p = 1 Joglekar window and no bias:
    dx/dt = k v 4x(1-x)/(r_off - (r_off - r_on) x) integrates to
    G(x) = (r_off ln x - r_on ln(1 - x))/4 = G(x0) + k Phi(t), Phi = int v dt; G is
    increasing, so x follows by bisection."""
    def g(x):
        return (r_off * np.log(x) - r_on * np.log1p(-x)) / 4.0
    target = g(x0) + k * flux_v_s
    lo, hi = np.zeros_like(target), np.ones_like(target)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = g(mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def test_integrator_matches_the_closed_form_flux_solution():
    """Without window bias and with p = 1 the linear-drift state is a closed-form function
    of the flux: simulate (callable and sampled drive) and simulate_batch must follow it
    (the 1e-12 s^-1 leak changes x by < 1e-11 here)."""
    m = get_model("linear_joglekar")
    pr = m.params(window_bias=0.0, p=1.0)
    k = pr["mu_v_m2_per_v_s"] * pr["r_on_ohm"] / pr["d_m"] ** 2
    f, x0 = 1.0, 0.3
    t = np.linspace(0.0, 2.0, 801)
    amp = 1.0
    # callable sinusoid: flux A (1 - cos wt) / w
    w = 2 * np.pi * f
    _, x = simulate("linear_joglekar", t, lambda tt: amp * np.sin(w * tt), x0=x0,
                    window_bias=0.0, p=1.0)
    ref = _joglekar_closed_form(amp * (1 - np.cos(w * t)) / w, x0, pr["r_on_ohm"],
                                pr["r_off_ohm"], k)
    assert np.ptp(ref) > 0.2
    np.testing.assert_allclose(x, ref, rtol=0, atol=1e-8)
    # sampled (piecewise-linear) drives: the flux is the exact trapezoid sum
    amps = np.array([0.5, 1.0, 1.5])
    v = np.sin(w * t)[:, None] * amps
    flux = np.concatenate([np.zeros((1, 3)), np.cumsum(0.5 * (v[1:] + v[:-1])
                                                       * np.diff(t)[:, None], axis=0)])
    ref = _joglekar_closed_form(flux, x0, pr["r_on_ohm"], pr["r_off_ohm"], k)
    _, xb = simulate_batch("linear_joglekar", t, v, x0=x0, window_bias=0.0, p=1.0,
                           rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(xb, ref, rtol=0, atol=1e-8)
    _, xs = simulate("linear_joglekar", t, v[:, 2], x0=x0, window_bias=0.0, p=1.0)
    np.testing.assert_allclose(xs, ref[:, 2], rtol=0, atol=1e-8)


def test_stiff_programming_pulse_agrees_with_ngspice(engine):
    """A VTEAM SET pulse held long after the state reached the ON boundary: there the
    window makes the ODE stiff (|df/dx| h >> 1 on 20 ns output steps), the regime of
    the implicit fallback.  The twin must follow an independent tight Radau solution of
    the same ODE, and agree with ngspice (same PWL drive) to 1% RMS of peak current.
    (ngspice's own state is off by ~1e-2 during the ~5 ns switching transient, whatever
    its TMAX, so x is checked against the reference integrator.)"""
    from scipy.integrate import solve_ivp

    m = get_model("vteam")
    times, values = (0.0, 1e-9, 1e-6), (0.0, -0.3, -0.3)
    c = Circuit("vteam set pulse")
    c.include("memristors.lib")
    c.add(VoltageSource("V1", "in", "0", 0.0, None, Pwl(times, values)),
          SubcircuitInstance("XM1", ("in", "0"), m.subckt, dict(m.params(x0=1.0))))
    c.options["method"] = "gear"
    c.options["reltol"] = 1e-4
    res = engine.run(c, Tran(20e-9, 1e-6, max_step_s=20e-9, uic=True))
    t = res.axis
    i_spice, x_spice = -res.i("V1"), res.v("xm1.x")
    # the stiffness the test is about: state at the boundary, |df/dx| h >> 1
    dfdx = (m.dxdt(-0.3, 1e-6, x0=1.0) - m.dxdt(-0.3, 0.0, x0=1.0)) / 1e-6
    assert abs(dfdx) * 20e-9 > 100
    i_twin, x_twin = simulate("vteam", t, lambda tt: np.interp(tt, times, values), x0=1.0,
                              rtol=1e-8)
    assert x_spice[-1] < 0.01 and x_twin[-1] < 0.01     # switched ON
    pr = m.params(x0=1.0)
    ref = solve_ivp(lambda tt, y: m.dxdt(np.interp(tt, times, values), y, **pr),
                    (0.0, 1e-6), [1.0], method="Radau", t_eval=t, rtol=1e-10, atol=1e-13,
                    first_step=1e-12).y[0]
    np.testing.assert_allclose(x_twin, ref, rtol=0, atol=1e-6)
    peak = np.max(np.abs(i_spice))
    assert np.sqrt(np.mean((i_twin - i_spice) ** 2)) <= 0.01 * peak
    # the batch path through the same stiff stretch, on a coarse sampled grid
    tg = np.linspace(0.0, 1e-6, 51)
    vg = np.interp(tg, times, values)
    _, xb = simulate_batch("vteam", tg, vg, x0=np.array([1.0, 0.5]), rtol=1e-8)
    _, xs = simulate("vteam", tg, vg, x0=0.5, rtol=1e-8)
    np.testing.assert_allclose(xb[:, 1], xs, rtol=0, atol=1e-9)
    assert xb[-1].max() < 0.01


def test_batch_validation_names_the_device_and_shape():
    t = np.linspace(0, 1e-3, 11)
    with pytest.raises(ConfigError, match=r"r_off_ohm=50.0 \(device 1\)"):
        simulate_batch("linear_biolek", t, np.zeros(11), r_off_ohm=[1e3, 50.0, 2e3])
    with pytest.raises(ConfigError, match="inconsistent numbers of devices"):
        simulate_batch("vteam", t, np.zeros((11, 3)), x0=[0.1, 0.2])
    with pytest.raises(ConfigError, match="v_t has shape"):
        simulate_batch("vteam", t, np.zeros((10, 3)))
    with pytest.raises(ConfigError, match="x0"):
        simulate_batch("yakopcic", t, np.zeros(11), x0=[0.5, 1.5])
    with pytest.raises(ConfigError, match="rtol"):
        simulate("yakopcic", t, np.zeros(11), rtol=0.0)
