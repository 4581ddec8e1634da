"""Data converters: DAC and ADC with resolution, full scale, static non-linearity,
sample rate and energy per conversion.

Pure functions do the arithmetic (:func:`quantize`, :func:`dequantize`,
:func:`nonlinearity_pattern`, :func:`static_levels`, :func:`survey_adc_energy_j`); the
frozen dataclasses :class:`Adc` and :class:`Dac` hold one converter's parameters (from
the ``converters`` device card) and call them.  Clipping is never hidden: every
conversion returns how many samples were outside the full-scale range, so a layer step
can count them.

Conventions
-----------
* Bipolar range ``[-full_scale_v/2, +full_scale_v/2]``, unipolar ``[0, full_scale_v]``.
* ``2**bits`` codes ``0 .. 2**bits - 1``; the LSB is ``full_scale_v / 2**bits`` and code
  ``k`` stands for the voltage ``low + (k + 1/2) * lsb`` (mid-tread within each bin).
* Static errors (the converters card: offset, gain error, INL, DNL; definitions of
  IEEE Std 1241 and the usual datasheet ones): for an ADC the ``2**bits - 1`` code
  transition levels ``T_k`` (ideal ``low + k * lsb``, k = 1 .. 2**bits - 1), for a DAC
  the ``2**bits`` output levels ``V_k`` (ideal ``low + (k + 1/2) lsb``), are

      P_k = P_first + offset + (k - first) lsb (1 + gain_error) + INL_k lsb (1 + gain_error)

  (``P_first`` the ideal first point): *offset* is the deviation of the first point,
  *gain error* the relative error of the slope through the first and last points, and
  *INL* the deviation from that end-point line in LSB of the actual slope (zero at both
  ends); *DNL* is the difference of consecutive INL values.  The INL pattern is
  deterministic, drawn from the card's seed (:func:`nonlinearity_pattern`): a smooth bow
  plus a code-to-code part, scaled so that max |INL| and max |DNL| equal the card's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from cosim.errors import ConfigError

Polarity = Literal["bipolar", "unipolar"]
POLARITIES: tuple[str, ...] = ("bipolar", "unipolar")


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 24:
        raise ConfigError(f"bits={bits!r}: give an integer from 1 to 24")
    return int(bits)


def _check_positive(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}={value!r}: give a finite number > 0 (SI units)")
    return float(value)


def _range(full_scale_v: float, polarity: str) -> tuple[float, float]:
    if polarity not in POLARITIES:
        raise ConfigError(f"polarity={polarity!r}: choose one of {POLARITIES}")
    fs = _check_positive(full_scale_v, "full_scale_v")
    return (-fs / 2, fs / 2) if polarity == "bipolar" else (0.0, fs)


def lsb(bits: int, full_scale_v: float) -> float:
    """Size of one code step, ``full_scale_v / 2**bits`` (V)."""
    return _check_positive(full_scale_v, "full_scale_v") / 2 ** _check_bits(bits)


def quantize(x: np.ndarray, *, bits: int, full_scale_v: float,
             polarity: Polarity = "bipolar",
             transfer_levels_v: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Codes of analog values, and how many values clipped.

    Parameters
    ----------
    x
        Analog values (V), any shape.  NaN is refused.
    bits
        Resolution, 1..24.
    full_scale_v
        Width of the input range (V).
    polarity
        "bipolar" (``[-fs/2, fs/2]``) or "unipolar" (``[0, fs]``).
    transfer_levels_v
        Optional code transition levels, shape ``(2**bits - 1,)``, increasing (V); the
        ideal ones are ``low + k * lsb`` for k = 1 .. 2**bits - 1.

    Returns
    -------
    codes : np.ndarray of int64, shape of ``x``
    clipped : int
        Number of values below the range or at/above its top (they get code 0 or
        ``2**bits - 1``).
    """
    bits = _check_bits(bits)
    low, high = _range(full_scale_v, polarity)
    x = np.asarray(x, dtype=float)
    if np.isnan(x).any():
        raise ValueError("quantize: input contains NaN; the analog value is undefined")
    n = 2 ** bits
    step = (high - low) / n
    clipped = int(np.count_nonzero((x < low) | (x >= high)))
    if transfer_levels_v is None:
        codes = np.floor((x - low) / step)
    else:
        levels = np.asarray(transfer_levels_v, dtype=float)
        if levels.shape != (n - 1,) or np.any(np.diff(levels) <= 0):
            raise ConfigError(f"transfer_levels_v: need {n - 1} strictly increasing levels "
                              f"for {bits} bits, got shape {levels.shape}")
        codes = np.searchsorted(levels, x, side="right")
    return np.clip(codes, 0, n - 1).astype(np.int64), clipped


def dequantize(codes: np.ndarray, *, bits: int, full_scale_v: float,
               polarity: Polarity = "bipolar") -> np.ndarray:
    """Voltage each code stands for: ``low + (code + 1/2) * lsb`` (V).

    Codes outside ``0 .. 2**bits - 1`` are refused (a DAC cannot produce them).
    """
    bits = _check_bits(bits)
    low, high = _range(full_scale_v, polarity)
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() > 2 ** bits - 1):
        raise ValueError(f"dequantize: codes must lie in 0..{2 ** bits - 1}, got "
                         f"{codes.min()}..{codes.max()}")
    return low + (codes.astype(float) + 0.5) * (high - low) / 2 ** bits


def nonlinearity_pattern(n_points: int, *, inl_max_lsb: float, dnl_max_lsb: float,
                         seed: int) -> np.ndarray:
    """A deterministic INL pattern (LSB) over ``n_points`` transition or output levels,
    zero at both ends, with ``max |INL| = inl_max_lsb`` and ``max |DNL| = dnl_max_lsb``
    exactly (DNL_k = INL_{k+1} - INL_k).

    The pattern is ``c b_k + s e_k``: ``b`` a smooth bow (three half-sine harmonics with
    normal amplitudes, max |b| = 1), ``e`` independent code-to-code errors (uniform in
    [-1/2, 1/2]), both from ``numpy.random.default_rng(seed)``; ``s`` and ``c`` are
    solved for the two maxima (the bow dominates the INL, the code-to-code part the DNL,
    as in measured converters).  Refused: ``dnl_max_lsb >= 1`` (missing codes, a
    non-monotonic converter) and an ``inl_max_lsb`` too small to hold the code-to-code
    part (below about ``dnl_max_lsb / 2``).
    """
    for name, v in (("inl_max_lsb", inl_max_lsb), ("dnl_max_lsb", dnl_max_lsb)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                or not math.isfinite(v) or v < 0:
            raise ConfigError(f"{name}={v!r}: give a finite number >= 0 (LSB)")
    if dnl_max_lsb >= 1:
        raise ConfigError(f"dnl_max_lsb={dnl_max_lsb}: a DNL of 1 LSB or more means missing "
                          "codes (a non-monotonic transfer); give a value below 1")
    n = int(n_points)
    if n < 3 or (inl_max_lsb == 0 and dnl_max_lsb == 0):
        if inl_max_lsb > 0 or dnl_max_lsb > 0:
            raise ConfigError(f"nonlinearity_pattern: {n} points have no inner level to "
                              "move; use a converter of 2 bits or more")
        return np.zeros(max(n, 0))
    rng = np.random.default_rng(int(seed))
    x = np.arange(n) / (n - 1)
    bow = sum(a * np.sin((h + 1) * np.pi * x) for h, a in enumerate(rng.standard_normal(3)))
    bow = bow / np.max(np.abs(bow))
    e = rng.uniform(-0.5, 0.5, n)
    e[0] = e[-1] = 0.0
    s, c = 0.0, 0.0
    for _ in range(50):      # fixed point of the two maxima (weakly coupled): converges fast
        d_e = np.diff(e)
        s = dnl_max_lsb / np.max(np.abs(d_e + c / max(s, 1e-300) * np.diff(bow))) \
            if s > 0 else dnl_max_lsb / np.max(np.abs(d_e))
        if np.max(np.abs(s * e)) > inl_max_lsb:
            raise ConfigError(f"inl_max_lsb={inl_max_lsb}: too small for dnl_max_lsb="
                              f"{dnl_max_lsb} (the code-to-code part alone reaches "
                              f"{np.max(np.abs(s * e)):.3g} LSB); give a larger INL")
        lo, hi = 0.0, 2.0 * inl_max_lsb + 1.0
        for _ in range(100):         # max |c b + s e| is convex and increasing for c > 0
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if np.max(np.abs(mid * bow + s * e)) < inl_max_lsb else (lo, mid)
        c = 0.5 * (lo + hi)
        inl = c * bow + s * e
        if abs(np.max(np.abs(np.diff(inl))) - dnl_max_lsb) < 1e-12 \
                and abs(np.max(np.abs(inl)) - inl_max_lsb) < 1e-12:
            return inl
    raise ConfigError(f"inl_max_lsb={inl_max_lsb}, dnl_max_lsb={dnl_max_lsb}: not both "
                      f"reachable over {n} levels (with few codes an INL this large needs "
                      f"larger code-to-code steps); give a smaller INL or more bits")


def static_levels(bits: int, full_scale_v: float, *, kind: Literal["adc", "dac"],
                  offset_lsb: float = 0.0, gain_error: float = 0.0,
                  inl_max_lsb: float = 0.0, dnl_max_lsb: float = 0.0, seed: int = 0,
                  polarity: Polarity = "bipolar") -> np.ndarray:
    """Transition levels of an ADC (``2**bits - 1``) or output levels of a DAC
    (``2**bits``), V, with offset, gain error and the INL/DNL of
    :func:`nonlinearity_pattern` (formula in the module docstring)."""
    bits = _check_bits(bits)
    low, high = _range(full_scale_v, polarity)
    for name, v in (("offset_lsb", offset_lsb), ("gain_error", gain_error)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                or not math.isfinite(v):
            raise ConfigError(f"{name}={v!r}: give a finite number")
    if not -0.5 < gain_error < 0.5:
        raise ConfigError(f"gain_error={gain_error}: give a fraction between -0.5 and 0.5")
    n = 2 ** bits
    step = (high - low) / n
    count, first = (n - 1, low + step) if kind == "adc" else (n, low + 0.5 * step)
    inl = nonlinearity_pattern(count, inl_max_lsb=inl_max_lsb, dnl_max_lsb=dnl_max_lsb,
                               seed=seed)
    k = np.arange(count)
    return first + offset_lsb * step + (k + inl) * step * (1.0 + gain_error)


def survey_adc_energy_j(bits: int, sample_rate_hz: float) -> float:
    """Best-case ADC energy per conversion from the Murmann-survey Pareto fit (J).

    ``FOM_S = min(302.739 - 6.4608 ln(fs), 180.14)`` dB,
    ``SNDR = 6.02 N + 1.76`` dB (coded as ``20 N log10 2 + 10 log10 1.5``),
    ``E = 1 / (2 * 10**((FOM_S - SNDR)/10))``.
    Source: Accelergy-Project/accelergy-adc-plug-in, adc_data/model.yaml and model.py
    (fit of B. Murmann, "ADC Performance Survey 1997-2023"); an optimistic bound, valid
    up to about 16 GS/s.
    """
    bits = _check_bits(bits)
    fs = _check_positive(sample_rate_hz, "sample_rate_hz")
    if fs > math.exp(23.5):
        raise ConfigError(f"sample_rate_hz={fs:g}: the survey fit is valid up to "
                          f"{math.exp(23.5):.3g} Hz")
    fom = min(302.739 - 6.4608 * math.log(fs), 180.14)
    sndr = bits * 20 * math.log10(2) + 10 * math.log10(1.5)
    return 1.0 / (2 * 10 ** ((fom - sndr) / 10))


@dataclass(frozen=True)
class Conversion:
    """Result of converting a batch: codes, the values they stand for, clip count, energy."""

    codes: np.ndarray
    values: np.ndarray
    clipped: int
    energy_j: float


@dataclass(frozen=True)
class _Converter:
    bits: int
    full_scale_v: float
    sample_rate_hz: float
    energy_per_conversion_j: float
    polarity: Polarity = "bipolar"
    transfer_levels_v: np.ndarray | None = field(default=None, repr=False, compare=False)
    output_levels_v: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", _check_bits(self.bits))
        _range(self.full_scale_v, self.polarity)
        _check_positive(self.sample_rate_hz, "sample_rate_hz")
        e = self.energy_per_conversion_j
        if not (isinstance(e, (int, float)) and math.isfinite(e) and e >= 0):
            raise ConfigError(f"energy_per_conversion_j={e!r}: give a finite number >= 0")
        if self.transfer_levels_v is not None:
            levels = np.array(self.transfer_levels_v, dtype=float)
            if levels.shape != (2 ** self.bits - 1,) or np.any(np.diff(levels) <= 0):
                raise ConfigError("transfer_levels_v: need 2**bits - 1 increasing levels")
            levels.setflags(write=False)
            object.__setattr__(self, "transfer_levels_v", levels)
        if self.output_levels_v is not None:
            out = np.array(self.output_levels_v, dtype=float)
            if out.shape != (2 ** self.bits,):
                raise ConfigError("output_levels_v: need 2**bits output levels")
            out.setflags(write=False)
            object.__setattr__(self, "output_levels_v", out)

    @property
    def lsb_v(self) -> float:
        return lsb(self.bits, self.full_scale_v)

    @property
    def range_v(self) -> tuple[float, float]:
        return _range(self.full_scale_v, self.polarity)

    @property
    def conversion_time_s(self) -> float:
        return 1.0 / self.sample_rate_hz

    def _convert(self, x: np.ndarray) -> Conversion:
        codes, clipped = quantize(x, bits=self.bits, full_scale_v=self.full_scale_v,
                                  polarity=self.polarity,
                                  transfer_levels_v=self.transfer_levels_v)
        values = dequantize(codes, bits=self.bits, full_scale_v=self.full_scale_v,
                            polarity=self.polarity)
        return Conversion(codes, values, clipped, codes.size * self.energy_per_conversion_j)


@dataclass(frozen=True)
class Adc(_Converter):
    """Analog-to-digital converter.

    Parameters
    ----------
    bits
        Resolution (1..24).
    full_scale_v
        Input range width (V); bipolar ``[-fs/2, fs/2]`` by default.
    sample_rate_hz
        Conversions per second.
    energy_per_conversion_j
        Energy of one conversion (J), e.g. :func:`survey_adc_energy_j`.
    polarity
        "bipolar" or "unipolar".
    transfer_levels_v
        Optional non-ideal code transition levels, shape ``(2**bits - 1,)`` (V; see
        :func:`static_levels`, which :meth:`from_card` uses).
    """

    def convert(self, x: np.ndarray) -> Conversion:
        """Quantize analog values ``x`` (V, any shape); see :class:`Conversion`."""
        return self._convert(x)

    @classmethod
    def from_card(cls, card: str | Path | object = "converters", **overrides) -> Adc:
        """The ADC of a converters card (``adc_*`` parameters, with its offset, gain
        error, INL and DNL); ``overrides`` replace card values (``bits=8``,
        ``inl_max_lsb=0`` ...)."""
        return _from_card(cls, "adc", card, overrides)


@dataclass(frozen=True)
class Dac(_Converter):
    """Digital-to-analog converter; same parameters as :class:`Adc` (unipolar by default
    in the card), with ``output_levels_v`` (shape ``(2**bits,)``, V) for a non-ideal
    transfer.  :meth:`convert` maps wanted analog values to the nearest code and to
    what the DAC puts out for it; :meth:`output` maps codes."""

    def convert(self, x: np.ndarray) -> Conversion:
        """Analog output for wanted values ``x`` (V): quantized, with the clip count."""
        c = self._convert(x)
        if self.output_levels_v is None:
            return c
        return Conversion(c.codes, self.output(c.codes), c.clipped, c.energy_j)

    def output(self, codes: np.ndarray) -> np.ndarray:
        """Output voltage of integer codes (V), with the static errors if any."""
        codes = np.asarray(codes)
        ideal = dequantize(codes, bits=self.bits, full_scale_v=self.full_scale_v,
                           polarity=self.polarity)
        return ideal if self.output_levels_v is None else self.output_levels_v[codes]

    @classmethod
    def from_card(cls, card: str | Path | object = "converters", **overrides) -> Dac:
        """The DAC of a converters card (``dac_*`` parameters, with its static errors);
        ``overrides`` as for :meth:`Adc.from_card`."""
        return _from_card(cls, "dac", card, overrides)


#: Static-error parameters of each converter in the card (``adc_`` / ``dac_`` + name).
STATIC_ERRORS: tuple[str, ...] = ("offset_lsb", "gain_error", "inl_max_lsb", "dnl_max_lsb",
                                  "nonlinearity_seed")


def _from_card(cls, prefix: str, card, overrides):
    from cosim.devices.cards import Card, load_card

    if not isinstance(card, Card):
        card = load_card(card, kind="converters")
    values = {
        "bits": int(card[f"{prefix}_bits"]),
        "full_scale_v": float(card[f"{prefix}_full_scale_v"]),
        "sample_rate_hz": float(card[f"{prefix}_sample_rate_hz"]),
        "energy_per_conversion_j": float(card[f"{prefix}_energy_per_conversion_j"]),
        "polarity": "bipolar" if prefix == "adc" else "unipolar",
    }
    if prefix == "adc" and values["energy_per_conversion_j"] == 0:   # 0: the survey fit
        values["energy_per_conversion_j"] = survey_adc_energy_j(values["bits"],
                                                                values["sample_rate_hz"])
    errors = {k: float(card[f"{prefix}_{k}"]) for k in STATIC_ERRORS
              if f"{prefix}_{k}" in card.params}
    unknown = set(overrides) - set(values) - set(STATIC_ERRORS)
    if unknown:
        raise ConfigError(f"{cls.__name__}.from_card: unknown override(s) {sorted(unknown)}; "
                          f"allowed: {sorted(values) + list(STATIC_ERRORS)}")
    errors.update({k: float(v) for k, v in overrides.items() if k in STATIC_ERRORS})
    values.update({k: v for k, v in overrides.items() if k not in STATIC_ERRORS})
    seed = int(errors.pop("nonlinearity_seed", 0))
    if any(errors.values()):
        levels = static_levels(values["bits"], values["full_scale_v"], kind=prefix,
                               seed=seed, polarity=values["polarity"], **errors)
        values["transfer_levels_v" if prefix == "adc" else "output_levels_v"] = levels
    return cls(**values)


CONVERTERS: dict[str, type[_Converter]] = {"adc": Adc, "dac": Dac}
"""Converter classes by name."""

__all__ = ["Adc", "CONVERTERS", "Conversion", "Dac", "POLARITIES", "Polarity",
           "STATIC_ERRORS", "dequantize", "lsb", "nonlinearity_pattern", "quantize",
           "static_levels", "survey_adc_energy_j"]
