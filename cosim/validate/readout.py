"""Photodetector + TIA readout checks: one ngspice characterization of the card chain
(DC transfer, AC/Bode, step, noise; cached in HDF5) against closed forms, the published
figures the cards cite, and the quantum limit of a photodiode."""

from __future__ import annotations

import math

import numpy as np

from cosim.validate.core import CheckContext, CheckResult, register

#: DC transimpedance vs -Rf A0 / (1 + A0): 0.1 % (readout issue acceptance).
GAIN_REL = 1e-3
#: -3 dB bandwidth vs the closed-form two-pole response: 10 % (readout issue acceptance;
#: the closed form leaves out the output resistance and the Rs Cj pole).
BANDWIDTH_REL = 0.10
#: Input-referred noise vs specification: 10 % (readout issue acceptance).
NOISE_REL = 0.10
#: Published figures the TIA card is built to reproduce: Yang et al., IEEE Solid-State
#: Circuits Letters 8:189 (2025), abstract: 2.5 GHz bandwidth, 2 pA/sqrt(Hz) input-referred
#: noise (cited in devices/tia.toml).
PUBLISHED_BANDWIDTH_HZ = 2.5e9
PUBLISHED_INPUT_NOISE_A_PER_RTHZ = 2e-12
_YANG = "Yang et al., IEEE SSC-L 8:189 (2025), abstract (cited in devices/tia.toml)"

PLANCK_J_S = 6.62607015e-34       # exact, SI 2019
LIGHT_M_PER_S = 299792458.0       # exact
ELEMENTARY_CHARGE_C = 1.602176634e-19  # exact, SI 2019


def _spec(ctx: CheckContext):
    from cosim.readout import ReadoutSpec

    return ReadoutSpec.from_cards(photodetector=ctx.card("photodetector"),
                                  tia=ctx.card("tia"), converters=ctx.card("converters"))


def _char(ctx: CheckContext):
    from cosim.readout import characterize

    return ctx.memo("readout", lambda: characterize(_spec(ctx), cache=ctx.cache,
                                                    engine=ctx.engine))


def _cards(ctx: CheckContext) -> str:
    return ", ".join(ctx.card_origin(n) for n in ("photodetector", "tia", "converters"))


@register("pd_quantum_limit", "photodetector",
          "photodiode responsivity at most q lambda / (h c) (quantum efficiency <= 1)")
def _quantum(ctx: CheckContext) -> CheckResult:
    resp = float(ctx.card("photodetector")["responsivity_a_per_w"])
    lam = float(ctx.card("optics")["wavelength0_m"])
    limit = ELEMENTARY_CHARGE_C * lam / (PLANCK_J_S * LIGHT_M_PER_S)
    eta = resp / limit
    return CheckResult(
        "pd_quantum_limit", "photodetector", bool(0 < eta <= 1.0), eta, 1.0,
        "physics: one photon gives at most one electron, so R <= q lambda / (h c) "
        f"= {limit:.4g} A/W at {lam * 1e9:g} nm (exact SI constants)",
        {"metric": "external quantum efficiency R h c / (q lambda)",
         "card": ctx.card_origin("photodetector"), "responsivity_a_per_w": resp,
         "wavelength_m": lam, "responsivity_limit_a_per_w": limit},
        {"wavelength_m": np.array([lam]), "responsivity_a_per_w": np.array([resp]),
         "limit_wavelength_m": np.linspace(0.8 * lam, 1.2 * lam, 50),
         "limit_a_per_w": np.linspace(0.8 * lam, 1.2 * lam, 50) * limit / lam})


@register("readout_dc_transfer", "readout",
          "PD/TIA DC transfer (ngspice sweep at ADC resolution): gain vs -Rf A0/(1+A0)")
def _dc(ctx: CheckContext) -> CheckResult:
    spec = _spec(ctx)
    ch = _char(ctx)
    a0 = spec.open_loop_gain
    expected = -spec.feedback_resistance_ohm * a0 / (1 + a0)
    rel = abs(ch.gain_ohm / expected - 1)
    return CheckResult(
        "readout_dc_transfer", "readout", bool(rel <= GAIN_REL), float(rel), GAIN_REL,
        "readout issue acceptance: transimpedance within 0.1% of -Rf A0/(1+A0) "
        "(tests/readout/test_readout.py)",
        {"metric": "|gain / (-Rf A0/(1+A0)) - 1|", "cards": _cards(ctx),
         "gain_ohm": ch.gain_ohm, "expected_gain_ohm": expected, "offset_v": ch.offset_v,
         "gain_v_per_w": ch.gain_ohm * spec.responsivity_a_per_w,
         "full_scale_current_a": ch.full_scale_current_a, "lsb_v": ch.lsb_v},
        {"dc_current_a": ch.dc_current_a, "dc_output_v": ch.dc_output_v,
         "dc_expected_v": ch.offset_v + expected * ch.dc_current_a})


@register("readout_bandwidth", "readout",
          "PD/TIA Bode plot: -3 dB bandwidth vs closed-form two-pole response and vs the "
          "published 2.5 GHz")
def _bw(ctx: CheckContext) -> CheckResult:
    from cosim.readout import closed_form_response

    spec = _spec(ctx)
    ch = _char(ctx)
    rel_cf = abs(ch.bandwidth_hz / ch.closed_form_bandwidth_hz - 1)
    rel_pub = abs(ch.bandwidth_hz / PUBLISHED_BANDWIDTH_HZ - 1)
    worst = max(rel_cf, rel_pub)
    return CheckResult(
        "readout_bandwidth", "readout", bool(worst <= BANDWIDTH_REL), float(worst),
        BANDWIDTH_REL,
        "readout issue acceptance: bandwidth within 10% of the closed-form two-pole "
        f"response; the card chain must also give the published 2.5 GHz ({_YANG}) "
        "within the same 10%",
        {"metric": "max(|f3dB / f3dB_closed_form - 1|, |f3dB / 2.5 GHz - 1|)",
         "cards": _cards(ctx), "bandwidth_hz": ch.bandwidth_hz,
         "closed_form_bandwidth_hz": ch.closed_form_bandwidth_hz,
         "published_bandwidth_hz": PUBLISHED_BANDWIDTH_HZ,
         "deviation_from_closed_form": rel_cf, "deviation_from_published": rel_pub},
        {"frequency_hz": ch.ac_frequency_hz,
         "transimpedance_ohm": np.asarray(ch.ac_transimpedance_ohm),
         "closed_form_ohm": np.asarray(closed_form_response(spec, ch.ac_frequency_hz))})


@register("readout_step", "readout",
          "PD/TIA full-scale step response: settles to half an LSB within one ADC sample")
def _step(ctx: CheckContext) -> CheckResult:
    spec = _spec(ctx)
    ch = _char(ctx)
    period = 1.0 / spec.adc_sample_rate_hz
    return CheckResult(
        "readout_step", "readout", bool(ch.settling_time_s <= period),
        float(ch.settling_time_s), period,
        "design argument: the ADC samples once per 1/adc_sample_rate_hz, so a full-scale "
        "step must settle to half an LSB of the card's ADC within one sample period",
        {"metric": "settling time to LSB/2 (s)", "cards": _cards(ctx),
         "adc_bits": spec.adc_bits, "adc_sample_rate_hz": spec.adc_sample_rate_hz,
         "step_low_a": ch.step_low_a, "step_high_a": ch.step_high_a,
         "lsb_v": ch.lsb_v},
        {"step_time_s": ch.step_time_s, "step_output_v": ch.step_output_v})


@register("readout_noise", "readout",
          "PD/TIA noise spectrum: input-referred density vs published 2 pA/sqrt(Hz) and "
          "vs sqrt(i_n^2 + 4kT/Rf)")
def _noise(ctx: CheckContext) -> CheckResult:
    spec = _spec(ctx)
    ch = _char(ctx)
    meas = ch.input_noise_density_lf_a_per_rthz
    closed = math.sqrt(spec.input_noise_current_a_per_rthz ** 2
                       + 4 * spec.kt_j / spec.feedback_resistance_ohm)
    rel_pub = abs(meas / PUBLISHED_INPUT_NOISE_A_PER_RTHZ - 1)
    rel_cf = abs(meas / closed - 1)
    worst = max(rel_pub, rel_cf)
    z = np.abs(np.asarray(ch.ac_transimpedance_ohm))
    return CheckResult(
        "readout_noise", "readout", bool(worst <= NOISE_REL), float(worst), NOISE_REL,
        f"readout issue acceptance: noise within 10%; specification 2 pA/sqrt(Hz) "
        f"input-referred ({_YANG})",
        {"metric": "max(|i_n / 2 pA - 1|, |i_n / sqrt(i_amp^2 + 4kT/Rf) - 1|), i_n the "
                   "low-frequency input-referred density from ngspice .noise",
         "cards": _cards(ctx), "input_noise_density_a_per_rthz": meas,
         "published_a_per_rthz": PUBLISHED_INPUT_NOISE_A_PER_RTHZ,
         "closed_form_a_per_rthz": closed, "output_noise_v_rms": ch.output_noise_v_rms,
         "effective_bits": ch.effective_bits, "noise_bandwidth_hz": ch.noise_bandwidth_hz},
        {"frequency_hz": ch.noise_frequency_hz,
         "output_noise_v_per_rthz": ch.output_noise_density_v_per_rthz,
         "input_noise_a_per_rthz": ch.output_noise_density_v_per_rthz
         / np.interp(ch.noise_frequency_hz, ch.ac_frequency_hz, z)})
