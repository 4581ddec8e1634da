"""DAC/ADC checks: the converters of the card, with their static errors, measured the way
a converter is characterised on a bench, and compared with the card's figures.

* ADC: a **code-density (histogram) test** (IEEE Std 1241, linear-ramp histogram): a
  ramp of evenly spaced samples, ``HISTOGRAM_SAMPLES_PER_LSB`` per LSB, overdriving the
  range, is converted; the number of samples that fell in each code gives its width,
  and the running count the transition levels ``T_k``.  From them: offset (first
  transition), gain error (slope through the end transitions), INL (deviation from that
  end-point line, in LSB of the actual slope) and DNL (code width - 1 LSB).
* DAC: every code is put out and its level read: the same four figures from the
  output levels.

Each measured figure is compared with the card's (``*_offset_lsb``, ``*_gain_error``,
``*_inl_max_lsb``, ``*_dnl_max_lsb``); an ideal converter fails wherever the card states
non-zero errors.
"""

from __future__ import annotations

import numpy as np

from cosim.validate.core import CheckContext, CheckResult, register

#: Ramp samples per LSB of the ADC histogram test: a transition level is located to
#: half a sample spacing, a code width to one spacing.
HISTOGRAM_SAMPLES_PER_LSB = 16
#: ADC tolerance (LSB): the histogram's resolution, two sample spacings.
ADC_TOL_LSB = 2.0 / HISTOGRAM_SAMPLES_PER_LSB
#: DAC tolerance (LSB): the levels are read exactly (floating point only).
DAC_TOL_LSB = 1e-6
_SOURCE = ("IEEE Std 1241 (code-density test; offset, gain error, end-point INL, DNL); "
           "each figure equal to the converters card's within the measurement resolution "
           "({tol:g} LSB; gain error over the full range in LSB)")


def static_figures(points_v: np.ndarray, ideal_first_v: float, lsb_v: float) -> dict:
    """Offset (LSB), gain error (fraction), INL and DNL (LSB) of measured transition or
    output levels ``points_v`` (V, increasing), the ideal first one ``ideal_first_v``."""
    n = points_v.size
    slope = (points_v[-1] - points_v[0]) / (n - 1)
    inl = (points_v - (points_v[0] + slope * np.arange(n))) / slope
    dnl = np.diff(points_v) / slope - 1.0
    return {"offset_lsb": float((points_v[0] - ideal_first_v) / lsb_v),
            "gain_error": float(slope / lsb_v - 1.0),
            "inl_max_lsb": float(np.max(np.abs(inl))),
            "dnl_max_lsb": float(np.max(np.abs(dnl))), "inl": inl, "dnl": dnl}


def _compare(prefix: str, card, measured: dict, n_points: int) -> tuple[float, dict]:
    """Largest deviation from the card (LSB; the gain error as LSB over the range)."""
    want = {k: float(card[f"{prefix}_{k}"]) if f"{prefix}_{k}" in card.params else 0.0
            for k in ("offset_lsb", "gain_error", "inl_max_lsb", "dnl_max_lsb")}
    dev = {k: abs(measured[k] - want[k]) * ((n_points - 1) if k == "gain_error" else 1.0)
           for k in want}
    details = {}
    for k in want:
        details[f"{k}_measured"] = measured[k]
        details[f"{k}_card"] = want[k]
    return max(dev.values()), details


@register("adc_inl_dnl", "converters",
          "ADC of the card by a code-density (histogram) test: offset, gain, INL, DNL")
def _adc(ctx: CheckContext) -> CheckResult:
    from cosim.devices.converters import Adc

    card = ctx.card("converters")
    adc = Adc.from_card(card)
    low, high = adc.range_v
    n = 2 ** adc.bits
    lsb = adc.lsb_v
    dx = lsb / HISTOGRAM_SAMPLES_PER_LSB
    start = low - 0.1 * (high - low)          # overdrive by 10 % of the range each side
    m = int(round(1.2 * (high - low) / dx))
    codes = adc.convert(start + dx * (np.arange(m) + 0.5)).codes
    hist = np.bincount(codes, minlength=n)
    missing = int(np.count_nonzero(hist[1:-1] == 0))
    levels = start + dx * np.cumsum(hist)[:-1]        # T_k, k = 1 .. n-1
    fig = static_figures(levels, low + lsb, lsb)
    value, details = _compare("adc", card, fig, n - 1)
    ok = value <= ADC_TOL_LSB and missing == 0
    return CheckResult(
        "adc_inl_dnl", "converters", ok, value, ADC_TOL_LSB, _SOURCE.format(tol=ADC_TOL_LSB),
        {"metric": "largest |measured - card| of offset, gain error, max|INL|, max|DNL| "
                   "(LSB)", "card": ctx.card_origin("converters"), "bits": adc.bits,
         "full_scale_v": adc.full_scale_v, **details, "missing_codes": missing,
         "histogram_samples_per_lsb": HISTOGRAM_SAMPLES_PER_LSB},
        {"codes": np.arange(n, dtype=float)[::64], "histogram": hist[::64].astype(float),
         "inl_lsb": fig["inl"], "dnl_lsb": fig["dnl"]})


@register("dac_inl_dnl", "converters",
          "DAC of the card over every code: offset, gain, INL, DNL")
def _dac(ctx: CheckContext) -> CheckResult:
    from cosim.devices.converters import Dac

    card = ctx.card("converters")
    dac = Dac.from_card(card)
    low, _ = dac.range_v
    n = 2 ** dac.bits
    lsb = dac.lsb_v
    out = dac.output(np.arange(n))
    fig = static_figures(out, low + 0.5 * lsb, lsb)
    value, details = _compare("dac", card, fig, n)
    ok = value <= DAC_TOL_LSB and bool(np.all(np.diff(out) > 0))
    return CheckResult(
        "dac_inl_dnl", "converters", ok, value, DAC_TOL_LSB, _SOURCE.format(tol=DAC_TOL_LSB),
        {"metric": "largest |measured - card| of offset, gain error, max|INL|, max|DNL| "
                   "(LSB)", "card": ctx.card_origin("converters"), "bits": dac.bits,
         "full_scale_v": dac.full_scale_v, **details,
         "monotonic": bool(np.all(np.diff(out) > 0))},
        {"codes": np.arange(n, dtype=float)[::64], "output_v": out[::64],
         "inl_lsb": fig["inl"], "dnl_lsb": fig["dnl"]})
