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
    quantize,
    random_transfer_levels,
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


def test_random_inl_is_seeded_pinned_and_has_requested_rms():
    a = random_transfer_levels(12, 1.0, inl_rms_lsb=0.8, rng=np.random.default_rng(3))
    b = random_transfer_levels(12, 1.0, inl_rms_lsb=0.8, rng=np.random.default_rng(3))
    c = random_transfer_levels(12, 1.0, inl_rms_lsb=0.8, rng=np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    step = 1.0 / 4096
    ideal = -0.5 + step * np.arange(1, 4096)
    inl = (a - ideal) / step
    assert abs(inl[0]) < 1e-9 and abs(inl[-1]) < 1e-9
    assert np.sqrt(np.mean(inl ** 2)) == pytest.approx(0.8, rel=1e-9)
    dnl = np.diff(a) / step - 1
    assert dnl.min() > -1            # no missing codes
    above, _ = quantize(a + 1e-12, bits=12, full_scale_v=1.0, transfer_levels_v=a)
    below, _ = quantize(a - 1e-12, bits=12, full_scale_v=1.0, transfer_levels_v=a)
    assert np.array_equal(above, np.arange(1, 4096)) and np.array_equal(below, np.arange(4095))


def test_inl_needs_an_explicit_rng():
    card = load_card("converters").with_values(adc_inl_rms_lsb=0.5)
    with pytest.raises(ConfigError, match="rng"):
        Adc.from_card(card)
    adc = Adc.from_card(card, rng=np.random.default_rng(0))
    assert adc.transfer_levels_v.shape == (2 ** adc.bits - 1,)


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
    conv = CONVERTERS[name].from_card()
    low, high = conv.range_v
    x = np.linspace(low - 0.1, high + 0.1, 501)
    out = conv.convert(x)
    inside = (x >= low) & (x < high)
    assert out.clipped == int(np.count_nonzero(~inside))
    assert np.all(np.abs(out.values[inside] - x[inside]) <= conv.lsb_v / 2 * (1 + 1e-9))
    assert out.energy_j == pytest.approx(x.size * conv.energy_per_conversion_j)


def test_dac_output_with_nonlinearity_is_bin_centre():
    dac = Dac.from_card(bits=4, inl_rms_lsb=0.3, rng=np.random.default_rng(1))
    codes = np.arange(16)
    v = dac.output(codes)
    assert np.all(np.diff(v) > 0)
    c2, _ = quantize(v, bits=4, full_scale_v=dac.full_scale_v, polarity="unipolar",
                     transfer_levels_v=dac.transfer_levels_v)
    assert np.array_equal(c2, codes)


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
