"""cosim.hw.conversion: each conversion gives the same bits on a numpy array (the
reference paths) and compiled for one number (cosim.hw.kernels), and the ADC functions
are the converters of cosim.devices.converters."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.devices.converters import dequantize, quantize
from cosim.hw import conversion, kernels


def test_adc_functions_are_the_converters_bit_for_bit():
    rng = np.random.default_rng(0)
    for bits, fs in ((4, 1.0), (16, 1.28), (24, 2.0)):
        v = rng.uniform(-0.7, 0.7, 20000) * fs
        low, high, step, n_codes = conversion.adc_range(bits, fs)
        codes = conversion.adc_code(v, low, step, float(n_codes - 1))
        ref, clipped = quantize(v, bits=bits, full_scale_v=fs)
        assert np.array_equal(codes, ref.astype(float))
        assert int(np.count_nonzero(conversion.adc_clipped(v, low, high))) == clipped > 0
        assert np.array_equal(conversion.adc_volts(codes, low, step),
                              dequantize(ref, bits=bits, full_scale_v=fs))


@pytest.mark.parametrize("name,args", [
    ("with_rin", lambda r, n: (r.uniform(0, 1e-3, n), r.standard_normal(n).astype(np.float32)
                               .astype(float), 0.003)),
    ("total_photocurrent_a", lambda r, n: (r.uniform(0, 1e-3, n), r.uniform(0, 1e-3, n),
                                           0.9, 2e-9)),
    ("readout_sigma_v", lambda r, n: (r.uniform(0, 2e-3, n), 1e-8, 3e-6, 7e-9, 0.25)),
    ("adc_code", lambda r, n: (r.uniform(-0.8, 0.8, n), -0.64, 1.28 / 65536, 65535.0)),
    ("adc_clipped", lambda r, n: (r.uniform(-0.8, 0.8, n), -0.64, 0.64)),
    ("dac_magnitude", lambda r, n: (r.uniform(0, 1, n), 65535.0)),
])
def test_compiled_conversion_equals_the_array_form(name, args):
    """The kernel's compiled function on each element gives the numpy form's bits."""
    from numba import njit

    fn = getattr(conversion, name)
    a = args(np.random.default_rng(1), 5000)
    compiled = njit(fn)
    whole = np.asarray(fn(*a))
    one_by_one = np.array([compiled(*[x[i] if isinstance(x, np.ndarray) else x for x in a])
                           for i in range(5000)])
    assert np.array_equal(whole.astype(float), one_by_one.astype(float))


def test_kernels_compile_the_conversion_functions():
    assert kernels._adc_code.py_func is conversion.adc_code
    assert kernels._readout_sigma.py_func is conversion.readout_sigma_v
    assert kernels._with_rin.py_func is conversion.with_rin
