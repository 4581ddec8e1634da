"""DAC/ADC checks: transfer characteristic measured code by code, INL and DNL against the
converters card."""

from __future__ import annotations

import numpy as np

from cosim.validate.core import CheckContext, CheckResult, register

#: Ramp samples per LSB for the ADC transition-level measurement (histogram-free ramp
#: test); the measured transition levels are then exact to 1/(2 x this) LSB.
RAMP_POINTS_PER_LSB = 8
#: INL rms may differ from the card's by the measurement resolution: 1/8 LSB.
INL_RMS_TOL_LSB = 1.0 / RAMP_POINTS_PER_LSB
_SOURCE = ("IEEE Std 1241 definitions (INL from transition levels, DNL = code width - 1 "
           "LSB); no missing codes means DNL > -1 LSB; INL rms equals the card's "
           "inl_rms_lsb to the ramp resolution (1/8 LSB)")


def _summary(inl: np.ndarray, dnl: np.ndarray, spec_rms: float):
    inl_rms = float(np.sqrt(np.mean(inl ** 2)))
    dev = abs(inl_rms - spec_rms)
    ok = dev <= INL_RMS_TOL_LSB and float(np.min(dnl)) > -1.0
    return inl_rms, dev, bool(ok)


@register("adc_inl_dnl", "converters",
          "ADC transfer by a fine ramp: transition levels, INL and DNL vs the card")
def _adc(ctx: CheckContext) -> CheckResult:
    from cosim.devices.converters import Adc

    card = ctx.card("converters")
    adc = Adc.from_card(card, rng=ctx.rng)
    low, high = adc.range_v
    n = 2 ** adc.bits
    lsb = adc.lsb_v
    step = lsb / RAMP_POINTS_PER_LSB
    x = low + step * (np.arange(n * RAMP_POINTS_PER_LSB) + 0.5)
    codes = adc.convert(x).codes
    # transition level k: midpoint between the last sample below code k and the first at it
    first = np.searchsorted(codes, np.arange(1, n), side="left")
    missing = int(np.sum(np.diff(np.concatenate([[0], codes])) > 1))
    levels = x[np.clip(first, 0, x.size - 1)] - step / 2
    ideal = low + lsb * np.arange(1, n)
    inl = (levels - ideal) / lsb
    dnl = np.diff(levels) / lsb - 1
    spec_rms = float(card.params["adc_inl_rms_lsb"].value) \
        if "adc_inl_rms_lsb" in card.params else 0.0
    inl_rms, dev, ok = _summary(inl, dnl, spec_rms)
    ok = ok and missing == 0 and bool(np.all(np.diff(codes) >= 0))
    return CheckResult(
        "adc_inl_dnl", "converters", ok, dev, INL_RMS_TOL_LSB, _SOURCE,
        {"metric": "|INL rms measured - card inl_rms_lsb| (LSB)",
         "card": ctx.card_origin("converters"), "bits": adc.bits,
         "full_scale_v": adc.full_scale_v, "inl_rms_lsb": inl_rms,
         "card_inl_rms_lsb": spec_rms, "max_abs_inl_lsb": float(np.max(np.abs(inl))),
         "max_abs_dnl_lsb": float(np.max(np.abs(dnl))), "missing_codes": missing,
         "ramp_points_per_lsb": RAMP_POINTS_PER_LSB},
        {"ramp_v": x[::64], "codes": codes[::64].astype(float), "inl_lsb": inl,
         "dnl_lsb": dnl})


@register("dac_inl_dnl", "converters",
          "DAC transfer over every code: INL and DNL vs the card")
def _dac(ctx: CheckContext) -> CheckResult:
    from cosim.devices.converters import Dac

    card = ctx.card("converters")
    dac = Dac.from_card(card, rng=ctx.rng)
    low, _ = dac.range_v
    n = 2 ** dac.bits
    lsb = dac.lsb_v
    codes = np.arange(n)
    out = dac.output(codes)
    ideal = low + (codes + 0.5) * lsb
    inl = (out - ideal) / lsb
    dnl = np.diff(out) / lsb - 1
    spec_rms = float(card.params["dac_inl_rms_lsb"].value) \
        if "dac_inl_rms_lsb" in card.params else 0.0
    inl_rms, dev, ok = _summary(inl, dnl, spec_rms)
    return CheckResult(
        "dac_inl_dnl", "converters", ok, dev, INL_RMS_TOL_LSB, _SOURCE,
        {"metric": "|INL rms measured - card inl_rms_lsb| (LSB)",
         "card": ctx.card_origin("converters"), "bits": dac.bits,
         "full_scale_v": dac.full_scale_v, "inl_rms_lsb": inl_rms,
         "card_inl_rms_lsb": spec_rms, "max_abs_inl_lsb": float(np.max(np.abs(inl))),
         "max_abs_dnl_lsb": float(np.max(np.abs(dnl))),
         "monotonic": bool(np.all(np.diff(out) > 0))},
        {"codes": codes[::64].astype(float), "output_v": out[::64], "inl_lsb": inl,
         "dnl_lsb": dnl})
