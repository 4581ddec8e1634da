"""Memristor checks: pinched hysteresis (ngspice vs numpy twin) and pulse-programming
curves (package model vs the NeuroSim closed form)."""

from __future__ import annotations

import numpy as np

from cosim.validate.core import CheckContext, CheckResult, register

#: 1 % RMS of the peak current: acceptance tolerance of the memristor-model issue
#: (tests/devices/test_memristor_models.py::test_ngspice_and_twin_agree_and_loop_is_pinched).
HYSTERESIS_RMS_OF_PEAK = 0.01
#: |I(V = 0)| <= 1e-3 peak: a memristor loop is pinched at the origin (Chua's fingerprint);
#: the 1e-3 allows for the interpolation between time samples (same test).
PINCH_OF_PEAK = 1e-3
#: Pulse curves are an exact closed form: only floating-point rounding may differ.
PULSE_CURVE_REL = 1e-9

_HYST_SOURCE = ("memristor-model issue acceptance: twin within 1% RMS of the peak ngspice "
                "current; loop pinched (|I(V=0)| <= 1e-3 peak), "
                "tests/devices/test_memristor_models.py")


def _pinch_current(v: np.ndarray, i: np.ndarray) -> float:
    """Largest |I| at the zero crossings of V (linear interpolation between samples)."""
    k = np.nonzero(np.sign(v[:-1]) * np.sign(v[1:]) < 0)[0]
    if not k.size:
        return 0.0
    w = v[k] / (v[k] - v[k + 1])
    return float(np.max(np.abs(i[k] + w * (i[k + 1] - i[k]))))


def _hysteresis(model_name: str):
    def check(ctx: CheckContext) -> CheckResult:
        from cosim.devices.memristor import (
            MEMRISTOR_MODELS,
            bench_circuit,
            bench_drive_from_card,
            params_from_card,
            simulate,
        )
        from cosim.spice import make_job

        m = MEMRISTOR_MODELS[model_name]
        card = ctx.card(m.card)
        params = params_from_card(card, m)
        amp, freq = bench_drive_from_card(card)
        circuit = bench_circuit(m, amp, freq, cycles=2, **params)
        res = ctx.engine.run_many([make_job(circuit)])[0]
        t = res.axis
        v = res.v("in")
        i_spice = -res.i("V1")
        x_spice = res.v("xm1.x")
        i_twin, x_twin = simulate(m, t, lambda tt: amp * np.sin(2 * np.pi * freq * tt),
                                  rtol=1e-8, **params)
        peak = float(np.max(np.abs(i_spice)))
        rel = float(np.sqrt(np.mean((i_spice - i_twin) ** 2)) / peak) if peak > 0 \
            else float("inf")
        pinch = _pinch_current(v, i_spice) / peak if peak > 0 else float("inf")
        moved = float(np.ptp(x_spice))
        passed = rel <= HYSTERESIS_RMS_OF_PEAK and pinch <= PINCH_OF_PEAK and moved > 0.02
        return CheckResult(
            f"memristor_hysteresis_{model_name}", m.card, bool(passed), rel,
            HYSTERESIS_RMS_OF_PEAK, _HYST_SOURCE,
            {"metric": "RMS(I_twin - I_ngspice) / max|I_ngspice|",
             "model": model_name, "reference": m.reference, "card": ctx.card_origin(m.card),
             "drive_amplitude_v": amp, "drive_frequency_hz": freq,
             "peak_current_a": peak, "pinch_current_of_peak": pinch,
             "pinch_threshold_of_peak": PINCH_OF_PEAK, "state_swing": moved,
             "state_swing_min": 0.02,
             "max_state_difference": float(np.max(np.abs(x_twin - x_spice)))},
            {"time_s": t, "voltage_v": v, "current_ngspice_a": i_spice,
             "current_twin_a": i_twin, "state_ngspice": x_spice, "state_twin": x_twin})
    return check


for _name, _card in (("linear_joglekar", "memristor_linear_joglekar"),
                     ("linear_biolek", "memristor_linear_biolek"),
                     ("vteam", "memristor_vteam"), ("yakopcic", "memristor_yakopcic")):
    register(f"memristor_hysteresis_{_name}", _card,
             f"{_name}: sinusoidal bench, ngspice subcircuit vs numpy twin, pinched loop"
             )(_hysteresis(_name))


def neurosim_curve(p, *, g_min_s: float, g_max_s: float, p_max: int, a_norm: float):
    """NeuroSim pulse-update curve ``G(P) = B (1 - exp(-P/A)) + G_min`` (S).

    ``A = a_norm * P_max``, ``B = (G_max - G_min) / (1 - exp(-P_max/A))``
    (neurosim/MLP_NeuroSim_V3.0: formula.cpp ``NonlinearWeight``); written out here
    independently of :mod:`cosim.devices.programming` as the check's reference.
    """
    p = np.asarray(p, dtype=float)
    if np.isinf(a_norm):
        return g_min_s + (g_max_s - g_min_s) * p / p_max
    a = a_norm * p_max
    b = (g_max_s - g_min_s) / (1 - np.exp(-p_max / a))
    return b * (1 - np.exp(-p / a)) + g_min_s


@register("memristor_pulse_curve", "rram_array",
          "LTP/LTD conductance vs pulse number (pulse by pulse) vs NeuroSim closed form")
def _pulse_curve(ctx: CheckContext) -> CheckResult:
    from cosim.devices.programming import params_from_card, pulse_curves

    pp = params_from_card(ctx.card("rram_array"))
    n, g = pulse_curves(pp, n_cycles=1)
    ltp = neurosim_curve(np.arange(pp.pulses_ltp + 1), g_min_s=pp.g_min_s,
                         g_max_s=pp.g_max_s, p_max=pp.pulses_ltp, a_norm=pp.a_ltp)
    ltd = neurosim_curve(np.arange(pp.pulses_ltd - 1, -1, -1), g_min_s=pp.g_min_s,
                         g_max_s=pp.g_max_s, p_max=pp.pulses_ltd, a_norm=pp.a_ltd)
    ref = np.concatenate([ltp, ltd])
    err = float(np.max(np.abs(g - ref)) / pp.g_range_s)
    steps = np.diff(g)
    monotonic = bool(np.all(steps[:pp.pulses_ltp] > 0) and np.all(steps[pp.pulses_ltp:] < 0))
    passed = err <= PULSE_CURVE_REL and monotonic
    return CheckResult(
        "memristor_pulse_curve", "rram_array", bool(passed), err, PULSE_CURVE_REL,
        "exact closed form (NeuroSim formula.cpp NonlinearWeight, REFERENCES 1.1): only "
        "floating-point rounding (1e-9 of the range) may differ; LTP rises and LTD falls "
        "at every pulse",
        {"metric": "max |G_model - G_closed_form| / (G_max - G_min)",
         "card": ctx.card_origin("rram_array"), "g_min_s": pp.g_min_s,
         "g_max_s": pp.g_max_s, "pulses_ltp": pp.pulses_ltp, "pulses_ltd": pp.pulses_ltd,
         "a_ltp": pp.a_ltp, "a_ltd": pp.a_ltd, "monotonic": monotonic},
        {"pulse_index": n.astype(float), "conductance_model_s": g,
         "conductance_closed_form_s": ref})
