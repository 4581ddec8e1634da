"""The conversions of a tile product, written once: DAC levels, laser RIN, readout noise
(TIA, shot, thermal, with averaging), ADC codes.

Plain functions of numbers: each one is the same arithmetic on a numpy array (the
step-by-step reference paths of the tiles, :mod:`cosim.hw.photonic`,
:mod:`cosim.hw.crossbar_tile`) and on one float inside a compiled loop
(:mod:`cosim.hw.kernels` compiles them with numba), so the two paths evaluate the same
floating-point operations in the same order and agree bit for bit.  They use only
arithmetic operators and ``np.rint``, ``np.floor``, ``np.sqrt``, ``np.maximum``,
``np.minimum`` (numpy ufuncs, which numba compiles for scalars), and call no other
function (numba compiles each one alone).

Sources
-------
* DAC: a ``bits``-bit converter over its full scale, ``L = 2**bits - 1`` steps:
  ``level = rint(|v| / s L) / L`` (error <= 1/(2L) of the full scale), the sign sent
  separately (sign-magnitude).
* ADC: ``2**bits`` codes over ``[low, high)``, code ``floor((v - low) / step)`` clipped
  to ``0 .. 2**bits - 1``, ``step = (high - low) / 2**bits``; a code stands for the
  middle of its step, ``low + (code + 1/2) step`` (cosim.devices.converters, the same
  arithmetic).
* Readout noise of a photonic channel: the output noise power is affine in the total
  photocurrent of the balanced pair (shot noise ``2 q I`` adds to the TIA's thermal
  and amplifier noise), measured by ngspice dark and with both detectors at full scale
  (:class:`cosim.readout.ReadoutCharacterization`), so
  ``sigma_V(I) = sqrt(sigma_dark^2 + slope (I - I_dark))``,
  ``slope = (sigma_bright^2 - sigma_dark^2) / (I_bright - I_dark)``.
* Averaging: a conversion that is the mean of ``A`` independent reads has
  ``1 / sqrt(A)`` of the noise of one read (readout noise and laser RIN alike).
* Laser RIN: each lit channel's power is multiplied by ``1 + sigma_RIN n``, ``n``
  standard normal, ``sigma_RIN = sqrt(10**(RIN/10) B)`` (:func:`cosim.optics.rin_sigma`)
  times the averaging factor; a power cannot go negative.
* Crossbar TIA: input current noise density ``i_n`` plus the feedback resistor's
  thermal noise ``4 k T / |Z|`` over the noise bandwidth ``B``,
  ``sigma_I = sqrt((i_n^2 + 4 k T / |Z|) B)``.
"""

from __future__ import annotations

import math

import numpy as np

BOLTZMANN_J_PER_K = 1.380649e-23


# ----------------------------------------------------------------------------- DAC
def dac_steps(bits: int) -> int:
    """``L = 2**bits - 1``: magnitude steps of a ``bits``-bit DAC."""
    return 2 ** int(bits) - 1


def dac_magnitude(mag, levels):
    """``rint(mag L) / L``: the DAC level of a magnitude ``mag`` in [0, 1] (``levels``
    = L, as a float)."""
    mag = mag * levels
    mag = np.rint(mag)
    return mag / levels


def dac_levels(u: np.ndarray, bits: int) -> np.ndarray:
    """Unipolar DAC: ``round(u L) / L``, ``L = 2**bits - 1``, for u in [0, 1] (clipped)."""
    return dac_magnitude(np.clip(u, 0.0, 1.0), float(dac_steps(bits)))


def signed_levels(a: np.ndarray, bits: int) -> np.ndarray:
    """Sign-magnitude quantization of a in [-1, 1] to ``2**bits - 1`` magnitude steps."""
    return np.sign(a) * dac_levels(np.abs(a), bits)


# ----------------------------------------------------------------------------- noise
def averaging_scale(averaging: int) -> float:
    """rms of the mean of ``averaging`` independent reads, per unit rms of one read."""
    return 1.0 / math.sqrt(int(averaging))


def rin_factor(n, rin_sigma):
    """``1 + sigma_RIN n`` (float64 arithmetic on float32 draws ``n``)."""
    f = n * rin_sigma
    return f + 1.0


def with_rin(p, n, rin_sigma):
    """A lit channel's power ``p`` (W) with its RIN: ``max(p (1 + sigma_RIN n), 0)``
    (the factor as :func:`rin_factor`)."""
    f = n * rin_sigma
    f = f + 1.0
    return np.maximum(p * f, 0.0)


def total_photocurrent_a(p_drop, p_through, responsivity, dark2_a):
    """Total photocurrent of a balanced pair (A): ``R (P_d + P_t) + 2 I_dark``
    (``dark2_a`` = 2 I_dark)."""
    total = p_drop + p_through
    total = total * responsivity
    return total + dark2_a


def noise_slope(sigma_dark_v, sigma_bright_v, i_dark_a, i_bright_a) -> float:
    """Slope of the output noise power in the total photocurrent (V^2/A)."""
    return (sigma_bright_v ** 2 - sigma_dark_v ** 2) / (i_bright_a - i_dark_a)


def readout_sigma_v(total_a, dark_total_a, slope, sigma_dark_sq, scale):
    """Output noise (V rms) of a conversion at the total photocurrent ``total_a``:
    ``sqrt(max(sigma_dark^2 + slope (I - I_dark), 0)) * scale`` (``scale``: the
    averaging factor, :func:`averaging_scale`)."""
    x = total_a - dark_total_a
    x = x * slope
    x = x + sigma_dark_sq
    x = np.sqrt(np.maximum(x, 0.0))
    return x * scale


def tia_current_noise_a(input_noise_a_per_rthz: float, temperature_k: float,
                        transimpedance_ohm: float, bandwidth_hz: float) -> float:
    """Input-referred current noise (A rms) of a TIA: ``sqrt((i_n^2 + 4 k T / |Z|) B)``."""
    return math.sqrt((input_noise_a_per_rthz ** 2 + 4 * BOLTZMANN_J_PER_K * temperature_k
                      / abs(transimpedance_ohm)) * bandwidth_hz)


# ----------------------------------------------------------------------------- ADC
def adc_range(bits: int, full_scale_v: float) -> tuple[float, float, float, int]:
    """``(low, high, step, n_codes)`` of a bipolar ADC of ``full_scale_v`` (V)."""
    low, high = -full_scale_v / 2, full_scale_v / 2
    n_codes = 2 ** int(bits)
    return low, high, (high - low) / n_codes, n_codes


def adc_code(v, low, step, top):
    """The ADC code of ``v`` (V) as a float: ``floor((v - low) / step)`` clipped to
    ``0 .. top`` (``top = n_codes - 1``)."""
    code = v - low
    code = code / step
    return np.floor(np.minimum(np.maximum(code, 0.0), top))


def adc_clipped(v, low, high):
    """True where ``v`` is outside the ADC range ``[low, high)``."""
    return (v < low) | (v >= high)


def adc_volts(code, low, step):
    """The voltage a code stands for: ``low + (code + 1/2) step``."""
    return low + (code + 0.5) * step


def adc_calibration(low: float, step: float, offset_v: float, gain_ohm: float,
                    y_unit_a: float) -> tuple[float, float]:
    """The digital calibration of a readout as an affine map of the ADC code:
    ``y = (V_q - V_0) / Z / y_unit`` with ``V_q = low + (code + 1/2) step`` is
    ``y = code y_per_code + y_at_zero``; returns ``(y_per_code, y_at_zero)``.  Summed
    over ``n`` tile columns: ``y = (sum of codes) y_per_code + n y_at_zero``.
    ``offset_v`` (V), ``gain_ohm`` (V/A) the measured offset and transimpedance,
    ``y_unit_a`` the photocurrent of a unit product (A)."""
    y_per_code = step / gain_ohm / y_unit_a
    y_at_zero = (low + 0.5 * step - offset_v) / gain_ohm / y_unit_a
    return y_per_code, y_at_zero


__all__ = ["BOLTZMANN_J_PER_K", "adc_calibration", "adc_clipped", "adc_code", "adc_range",
           "adc_volts",
           "averaging_scale", "dac_levels", "dac_magnitude", "dac_steps", "noise_slope",
           "readout_sigma_v", "rin_factor", "signed_levels", "tia_current_noise_a",
           "total_photocurrent_a", "with_rin"]
