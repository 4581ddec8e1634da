"""DAC/ADC: quantization arithmetic, clipping count, static non-linearity, energy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.devices import load_card
from cosim.devices.converters import (
    CONVERTERS,
    Adc,
    Dac,
    dequantize,
    lsb,
    nonlinearity_pattern,
    quantize,
    static_levels,
    survey_adc_energy_j,
)
from cosim.errors import ConfigError


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 20), fs=st.floats(1e-3, 10.0),
       u=st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=1, max_size=50),
       polarity=st.sampled_from(["bipolar", "unipolar"]))
def test_roundtrip_error_is_at_most_half_an_lsb(bits, fs, u, polarity):
    low = -fs / 2 if polarity == "bipolar" else 0.0
    x = low + np.asarray(u) * fs
    codes, clipped = quantize(x, bits=bits, full_scale_v=fs, polarity=polarity)
    back = dequantize(codes, bits=bits, full_scale_v=fs, polarity=polarity)
    assert clipped == 0
    assert np.all(np.abs(back - x) <= lsb(bits, fs) / 2 * (1 + 1e-9))
    assert np.all(np.diff(codes[np.argsort(x)]) >= 0)   # monotone


def test_clip_count_exact():
    x = np.array([-0.7, -0.5, 0.0, 0.49, 0.5, 3.0, -0.5000001])
    codes, clipped = quantize(x, bits=8, full_scale_v=1.0)
    assert clipped == 4
    assert codes.min() == 0 and codes.max() == 255
    assert codes[0] == 0 and codes[5] == 255


def test_ideal_codes_match_floor_formula():
    x = np.linspace(-0.49, 0.49, 1001)
    codes, _ = quantize(x, bits=10, full_scale_v=1.0)
    assert np.array_equal(codes, np.floor((x + 0.5) * 1024).astype(int))


@pytest.mark.parametrize(("bits", "inl", "dnl"), [(12, 0.8, 0.3), (16, 2.0, 0.5), (8, 1.0, 0.9)])
def test_nonlinearity_pattern_is_seeded_pinned_and_has_the_card_maxima(bits, inl, dnl):
    n = 2 ** bits - 1
    a = nonlinearity_pattern(n, inl_max_lsb=inl, dnl_max_lsb=dnl, seed=3)
    assert np.array_equal(a, nonlinearity_pattern(n, inl_max_lsb=inl, dnl_max_lsb=dnl,
                                                  seed=3))
    assert not np.array_equal(a, nonlinearity_pattern(n, inl_max_lsb=inl,
                                                      dnl_max_lsb=dnl, seed=4))
    assert a[0] == 0 and abs(a[-1]) < 1e-12
    assert np.max(np.abs(a)) == pytest.approx(inl, abs=1e-12)
    assert np.max(np.abs(np.diff(a))) == pytest.approx(dnl, abs=1e-12)


def test_static_levels_follow_the_offset_gain_and_inl_definitions():
    bits, fs = 10, 1.0
    step = fs / 2 ** bits
    t = static_levels(bits, fs, kind="adc", offset_lsb=3.0, gain_error=0.01,
                      inl_max_lsb=1.0, dnl_max_lsb=0.4, seed=5)
    assert t[0] == pytest.approx(-0.5 + step + 3 * step, abs=1e-15)   # offset: first level
    slope = (t[-1] - t[0]) / (t.size - 1)
    assert slope / step - 1 == pytest.approx(0.01, rel=1e-9)          # gain: end points
    inl = (t - (t[0] + slope * np.arange(t.size))) / slope
    assert np.max(np.abs(inl)) == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.diff(t) > 0)
    above, _ = quantize(t + 1e-12, bits=bits, full_scale_v=fs, transfer_levels_v=t)
    below, _ = quantize(t - 1e-12, bits=bits, full_scale_v=fs, transfer_levels_v=t)
    assert np.array_equal(above, np.arange(1, 2 ** bits))
    assert np.array_equal(below, np.arange(2 ** bits - 1))
    dac = static_levels(4, 1.0, kind="dac", offset_lsb=-1.0, polarity="unipolar")
    assert np.allclose(dac, (np.arange(16) + 0.5 - 1.0) / 16, atol=1e-15)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"inl_max_lsb": 1.0, "dnl_max_lsb": 1.0}, "missing"),
    ({"inl_max_lsb": 0.1, "dnl_max_lsb": 0.9}, "too small"),
    ({"inl_max_lsb": -1.0, "dnl_max_lsb": 0.1}, "inl_max_lsb"),
])
def test_impossible_nonlinearity_is_refused(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        nonlinearity_pattern(4095, seed=0, **kwargs)


def test_card_converters_carry_the_card_errors():
    card = load_card("converters")
    adc = Adc.from_card(card)
    assert adc.transfer_levels_v.shape == (2 ** adc.bits - 1,)
    assert (adc.transfer_levels_v[0] - (adc.range_v[0] + adc.lsb_v)) / adc.lsb_v == \
        pytest.approx(card["adc_offset_lsb"], abs=1e-6)
    ideal = Adc.from_card(card, offset_lsb=0, gain_error=0, inl_max_lsb=0, dnl_max_lsb=0)
    assert ideal.transfer_levels_v is None
    with pytest.raises(ConfigError, match="unknown override"):
        Adc.from_card(card, inl_rms_lsb=0.5)


@pytest.mark.parametrize(("bits", "fs_hz", "expected_j"), [
    (16, 100e6, 3.1e-9), (16, 1e9, 42e-9), (8, 1e9, 0.64e-12), (4, 1e8, 0.19e-15),
    (12, 500e6, 59e-12),
])
def test_survey_energy_matches_published_table(bits, fs_hz, expected_j):
    # REFERENCES section 5.1 table (two significant figures).
    assert survey_adc_energy_j(bits, fs_hz) == pytest.approx(expected_j, rel=0.03)


def test_card_energy_is_the_survey_fit():
    adc = Adc.from_card()
    assert adc.energy_per_conversion_j == pytest.approx(
        survey_adc_energy_j(adc.bits, adc.sample_rate_hz), rel=0.01)


@pytest.mark.parametrize("name", sorted(CONVERTERS))
def test_every_converter_from_card_converts(name):
    ideal = {"offset_lsb": 0, "gain_error": 0, "inl_max_lsb": 0, "dnl_max_lsb": 0}
    conv = CONVERTERS[name].from_card(**ideal)
    low, high = conv.range_v
    x = np.linspace(low - 0.1, high + 0.1, 501)
    out = conv.convert(x)
    inside = (x >= low) & (x < high)
    assert out.clipped == int(np.count_nonzero(~inside))
    assert np.all(np.abs(out.values[inside] - x[inside]) <= conv.lsb_v / 2 * (1 + 1e-9))
    assert out.energy_j == pytest.approx(x.size * conv.energy_per_conversion_j)
    # with the card's errors: off by at most offset + gain x range + INL + 1/2 LSB
    card = load_card("converters")
    real = CONVERTERS[name].from_card(card).convert(x)
    bound = (abs(card[f"{name}_offset_lsb"]) + abs(card[f"{name}_gain_error"]) * 2 ** conv.bits
             + card[f"{name}_inl_max_lsb"] + 0.5 + 1e-6) * conv.lsb_v
    err = (real.values - x) if name == "dac" else (out.values - real.values)
    assert np.all(np.abs(err[inside][5:-5]) <= bound) and np.any(real.values != out.values)


def test_dac_output_is_its_output_level():
    dac = Dac.from_card(bits=4, inl_max_lsb=0.3, dnl_max_lsb=0.3)
    codes = np.arange(16)
    v = dac.output(codes)
    assert np.all(np.diff(v) > 0) and np.array_equal(v, dac.output_levels_v)
    assert np.array_equal(dac.convert(dequantize(codes, bits=4, full_scale_v=dac.full_scale_v,
                                                 polarity="unipolar")).values, v)


@pytest.mark.parametrize("kwargs", [
    {"bits": 0}, {"bits": 30}, {"full_scale_v": -1.0}, {"sample_rate_hz": 0.0},
    {"energy_per_conversion_j": float("nan")}, {"polarity": "both"},
])
def test_bad_parameters_are_refused(kwargs):
    base = {"bits": 8, "full_scale_v": 1.0, "sample_rate_hz": 1e6,
            "energy_per_conversion_j": 1e-12}
    base.update(kwargs)
    with pytest.raises(ConfigError):
        Adc(**base)
