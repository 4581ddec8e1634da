"""Data converters: DAC and ADC with resolution, full scale, static non-linearity,
sample rate and energy per conversion.

Pure functions do the arithmetic (:func:`quantize`, :func:`dequantize`,
:func:`random_transfer_levels`, :func:`survey_adc_energy_j`); the frozen dataclasses
:class:`Adc` and :class:`Dac` hold one converter's parameters (from the ``converters``
device card) and call them.  Clipping is never hidden: every conversion returns how
many samples were outside the full-scale range, so a layer step can count them.

Conventions
-----------
* Bipolar range ``[-full_scale_v/2, +full_scale_v/2]``, unipolar ``[0, full_scale_v]``.
* ``2**bits`` codes ``0 .. 2**bits - 1``; the LSB is ``full_scale_v / 2**bits`` and code
  ``k`` stands for the voltage ``low + (k + 1/2) * lsb`` (mid-tread within each bin).
* Static non-linearity: the ``2**bits - 1`` code transition levels move from their ideal
  places ``low + k * lsb`` (k = 1 .. 2**bits - 1) by a smooth random INL
  (see :func:`random_transfer_levels`); DNL is the difference of consecutive INL values.
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


def random_transfer_levels(bits: int, full_scale_v: float, *, inl_rms_lsb: float,
                           rng: np.random.Generator,
                           polarity: Polarity = "bipolar") -> np.ndarray:
    """Code transition levels with a random static non-linearity (V).

    Each code width is ``1 + d_k`` LSB with ``d_k`` independent normal numbers; the
    widths are rescaled so the first and last levels stay at their ideal places (no gain
    or offset error), which makes the INL a random walk pinned at both ends (a Brownian
    bridge) whose rms over the codes equals ``inl_rms_lsb``.  DNL_k = d_k after the
    rescaling.  A non-zero ``inl_rms_lsb`` requires an explicit ``rng``.
    """
    bits = _check_bits(bits)
    low, high = _range(full_scale_v, polarity)
    if not (math.isfinite(inl_rms_lsb) and inl_rms_lsb >= 0):
        raise ConfigError(f"inl_rms_lsb={inl_rms_lsb!r}: give a finite number >= 0")
    n = 2 ** bits
    step = (high - low) / n
    ideal = low + step * np.arange(1, n)
    if inl_rms_lsb == 0 or n < 3:
        return ideal
    if not isinstance(rng, np.random.Generator):
        raise ConfigError("random_transfer_levels: pass rng=np.random.default_rng(seed)")
    walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n - 2))])
    bridge = walk - np.arange(n - 1) / (n - 2) * walk[-1]   # pinned: 0 at both ends
    rms = float(np.sqrt(np.mean(bridge ** 2)))
    inl = bridge * (inl_rms_lsb / rms) if rms > 0 else bridge
    levels = ideal + inl * step
    if np.any(np.diff(levels) <= 0):
        raise ConfigError(f"inl_rms_lsb={inl_rms_lsb}: so large that code widths become "
                          "negative (missing codes); use a smaller value")
    return levels


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
        Optional non-ideal code transition levels (see :func:`random_transfer_levels`).
    """

    def convert(self, x: np.ndarray) -> Conversion:
        """Quantize analog values ``x`` (V, any shape); see :class:`Conversion`."""
        return self._convert(x)

    @classmethod
    def from_card(cls, card: str | Path | object = "converters", *,
                  rng: np.random.Generator | None = None, **overrides) -> Adc:
        """The ADC of a converters card (``adc_*`` parameters); INL needs ``rng``."""
        return _from_card(cls, "adc", card, rng, overrides)


@dataclass(frozen=True)
class Dac(_Converter):
    """Digital-to-analog converter; same parameters as :class:`Adc` (unipolar by default
    in the card).  :meth:`convert` maps wanted analog values to the nearest code and back,
    i.e. what a digital value becomes after the DAC; :meth:`output` maps codes."""

    def convert(self, x: np.ndarray) -> Conversion:
        """Analog output for wanted values ``x`` (V): quantized, with the clip count."""
        return self._convert(x)

    def output(self, codes: np.ndarray) -> np.ndarray:
        """Output voltage of integer codes (V), with the static non-linearity if any."""
        codes = np.asarray(codes)
        ideal = dequantize(codes, bits=self.bits, full_scale_v=self.full_scale_v,
                           polarity=self.polarity)
        if self.transfer_levels_v is None:
            return ideal
        low, high = self.range_v
        edges = np.concatenate([[low], self.transfer_levels_v, [high]])
        return 0.5 * (edges[codes] + edges[codes + 1])

    @classmethod
    def from_card(cls, card: str | Path | object = "converters", *,
                  rng: np.random.Generator | None = None, **overrides) -> Dac:
        """The DAC of a converters card (``dac_*`` parameters); INL needs ``rng``."""
        return _from_card(cls, "dac", card, rng, overrides)


def _from_card(cls, prefix: str, card, rng, overrides):
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
    inl = float(card.params[f"{prefix}_inl_rms_lsb"].value) \
        if f"{prefix}_inl_rms_lsb" in card.params else 0.0
    inl = float(overrides.pop("inl_rms_lsb", inl))
    unknown = set(overrides) - set(values)
    if unknown:
        raise ConfigError(f"{cls.__name__}.from_card: unknown override(s) {sorted(unknown)}; "
                          f"allowed: {sorted(values) + ['inl_rms_lsb']}")
    values.update(overrides)
    if inl > 0:
        if rng is None:
            raise ConfigError(f"{prefix}_inl_rms_lsb = {inl} in card {card.name!r}: pass "
                              "rng=np.random.default_rng(seed) to draw the non-linearity")
        values["transfer_levels_v"] = random_transfer_levels(
            values["bits"], values["full_scale_v"], inl_rms_lsb=inl, rng=rng,
            polarity=values["polarity"])
    return cls(**values)


CONVERTERS: dict[str, type[_Converter]] = {"adc": Adc, "dac": Dac}
"""Converter classes by name."""

__all__ = ["Adc", "CONVERTERS", "Conversion", "Dac", "POLARITIES", "Polarity", "dequantize",
           "lsb", "quantize", "random_transfer_levels", "survey_adc_energy_j"]
