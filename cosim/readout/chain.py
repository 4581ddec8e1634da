"""Readout chain netlists: balanced photodiode pairs into TIAs (netlists/readout.lib).

:class:`ReadoutSpec` gathers the parameters of the photodetector, TIA and ADC cards;
:func:`build_readout_chain` turns it into a :class:`~cosim.netlist.Circuit` with
``n_channels`` independent channels.  Building needs no ngspice.

Nodes of channel ``k`` (0-based)::

    pp{k}, pm{k}   optical power on the plus / minus detector (V, 1 V = 1 W)
    in{k}          TIA input (the summing node of the balanced pair)
    out{k}         TIA output (V); the ADC input
    nzp{k} nzm{k}  shot-noise drive of the plus / minus detector
    nzv{k} nzi{k} nzf{k}  TIA voltage, current and feedback-resistor noise drives

and shared ``vdd``/``vss`` (TIA supplies ``Vdd``/``Vss``), ``vbp``/``vbn`` (photodiode
bias sources ``Vbp``/``Vbn``).  Drives:

* ``"signal"``: per channel a source ``Vsig{k}`` whose voltage is the net photocurrent
  ``I(plus) - I(minus)`` in A (1 V = 1 A) and ``Vcm{k}``, the common-mode optical power
  per detector (W): ``P(plus) = Pcm + Isig/(2R)``, ``P(minus) = Pcm - Isig/(2R)`` (VCVS),
  so the total detected power stays ``2 Pcm`` over a sweep, as drop + through ports of a
  lossless ring.  Used by the characterization (DC sweep, AC, noise, step).
* ``"pwl"``: per channel sources ``Vpp{k}``, ``Vpm{k}`` on ``pp{k}``, ``pm{k}`` with PWL
  waveforms of optical power (W) written by the optical domain.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from cosim.devices.cards import Card, load_card
from cosim.errors import ConfigError
from cosim.netlist import (
    VCVS,
    Circuit,
    Pwl,
    Resistor,
    SubcircuitInstance,
    TrNoise,
    VoltageSource,
)

BOLTZMANN_J_PER_K = 1.380649e-23   # exact, SI 2019
ELEMENTARY_CHARGE_C = 1.602176634e-19  # exact, SI 2019

NoiseMode = Literal["off", "ac", "tran", "trnoise"]
NOISE_MODES: tuple[str, ...] = ("off", "ac", "tran", "trnoise")
Drive = Literal["signal", "pwl"]
DRIVES: tuple[str, ...] = ("signal", "pwl")

#: Resistance of the .noise generator resistors (its value only sets a scale).
NOISE_GENERATOR_OHM = 1e3
#: Solver settings used by every readout run: tight enough that a transient, sampled
#: after settling, agrees with the DC sweep to about 0.1 LSB at 16 bits.
NUMERICS: dict[str, float] = {"reltol": 1e-6, "abstol": 1e-15, "vntol": 1e-9}
#: Open-loop gain and output resistance of the "ideal" op-amp (gbw is kept).
IDEAL_OPEN_LOOP_GAIN = 1e8
IDEAL_OUTPUT_RESISTANCE_OHM = 1e-3


def _cards(value, default: str) -> Card:
    if value is None:
        return load_card(default)
    if isinstance(value, Card):
        return value
    return load_card(value, kind=default)


@dataclass(frozen=True)
class ReadoutSpec:
    """Parameters of one readout channel (balanced PD pair + TIA + ADC), SI units.

    Build it from device cards with :meth:`from_cards`; :meth:`ideal` gives the same
    chain with an ideal op-amp (noiseless, unlimited output, gain ``1e8``, zero output
    resistance; the gain-bandwidth product is kept so the bandwidth stays finite).
    """

    responsivity_a_per_w: float
    dark_current_a: float
    junction_capacitance_f: float
    series_resistance_ohm: float
    bias_v: float
    feedback_resistance_ohm: float
    feedback_capacitance_f: float
    gbw_hz: float
    open_loop_gain: float
    input_capacitance_f: float
    output_resistance_ohm: float
    input_noise_current_a_per_rthz: float
    input_noise_voltage_v_per_rthz: float
    output_high_v: float
    output_low_v: float
    supply_positive_v: float
    supply_negative_v: float
    quiescent_current_a: float
    temperature_k: float
    adc_bits: int
    adc_full_scale_v: float
    adc_sample_rate_hz: float
    ideal_opamp: bool = False

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "ideal_opamp":
                if not isinstance(value, bool):
                    raise ConfigError(f"ReadoutSpec.ideal_opamp={value!r}: give True or False")
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ConfigError(f"ReadoutSpec.{name}={value!r}: give a finite number")
        positive = ("responsivity_a_per_w", "dark_current_a", "junction_capacitance_f",
                    "series_resistance_ohm", "feedback_resistance_ohm",
                    "feedback_capacitance_f", "gbw_hz", "open_loop_gain",
                    "output_resistance_ohm", "temperature_k", "adc_full_scale_v",
                    "adc_sample_rate_hz")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"ReadoutSpec.{name}={getattr(self, name)!r} must be > 0")
        for name in ("input_capacitance_f", "input_noise_current_a_per_rthz",
                     "input_noise_voltage_v_per_rthz", "quiescent_current_a", "bias_v"):
            if getattr(self, name) < 0:
                raise ConfigError(f"ReadoutSpec.{name}={getattr(self, name)!r} must be >= 0")
        if not self.output_low_v < 0 < self.output_high_v:
            raise ConfigError(f"output swing [{self.output_low_v}, {self.output_high_v}] V "
                              "must contain 0 V (the signal reference)")
        if not self.supply_negative_v <= self.output_low_v < self.output_high_v \
                <= self.supply_positive_v:
            raise ConfigError("output swing must lie inside the supplies "
                              f"[{self.supply_negative_v}, {self.supply_positive_v}] V")
        if not isinstance(self.adc_bits, int) or not 1 <= self.adc_bits <= 24:
            raise ConfigError(f"ReadoutSpec.adc_bits={self.adc_bits!r}: give 1..24")
        if self.adc_full_scale_v / 2 > min(self.output_high_v, -self.output_low_v):
            raise ConfigError(f"ADC range +-{self.adc_full_scale_v / 2} V exceeds the TIA "
                              f"output swing [{self.output_low_v}, {self.output_high_v}] V; "
                              "lower adc_full_scale_v")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_cards(cls, photodetector: str | Path | Card | None = None,
                   tia: str | Path | Card | None = None,
                   converters: str | Path | Card | None = None,
                   **overrides) -> ReadoutSpec:
        """Spec from the shipped cards (or given card names/paths), then ``overrides``."""
        pd, amp, conv = (_cards(photodetector, "photodetector"), _cards(tia, "tia"),
                         _cards(converters, "converters"))
        values = {}
        for card, names in (
            (pd, ("responsivity_a_per_w", "dark_current_a", "junction_capacitance_f",
                  "series_resistance_ohm", "bias_v")),
            (amp, ("feedback_resistance_ohm", "feedback_capacitance_f", "gbw_hz",
                   "open_loop_gain", "input_capacitance_f", "output_resistance_ohm",
                   "input_noise_current_a_per_rthz", "input_noise_voltage_v_per_rthz",
                   "output_high_v", "output_low_v", "supply_positive_v",
                   "supply_negative_v", "quiescent_current_a", "temperature_k")),
            (conv, ("adc_bits", "adc_full_scale_v", "adc_sample_rate_hz")),
        ):
            for name in names:
                values[name] = float(card[name]) if name != "adc_bits" else int(card[name])
        unknown = set(overrides) - set(values) - {"ideal_opamp"}
        if unknown:
            raise ConfigError(f"ReadoutSpec.from_cards: unknown override(s) {sorted(unknown)}")
        values.update(overrides)
        return cls(**values)

    def ideal(self) -> ReadoutSpec:
        """The same chain with an ideal op-amp (see the class docstring)."""
        return replace(self, ideal_opamp=True)

    def with_values(self, **changes) -> ReadoutSpec:
        return replace(self, **changes)

    # ------------------------------------------------------------------ derived figures
    @property
    def lsb_v(self) -> float:
        """ADC step (V)."""
        return self.adc_full_scale_v / 2 ** self.adc_bits

    @property
    def full_scale_current_a(self) -> float:
        """Net photocurrent that drives the output to the ADC range edge, fs/2 / Rf (A)."""
        return self.adc_full_scale_v / 2 / self.feedback_resistance_ohm

    @property
    def input_capacitance_total_f(self) -> float:
        """Capacitance at the TIA input: two junctions plus the amplifier input (F)."""
        return 2 * self.junction_capacitance_f + self.input_capacitance_f

    @property
    def kt_j(self) -> float:
        return BOLTZMANN_J_PER_K * self.temperature_k

    def as_dict(self) -> dict:
        return asdict(self)


def closed_form_response(spec: ReadoutSpec, frequency_hz: np.ndarray) -> np.ndarray:
    """Transimpedance Z(f) (V/A) of the standard second-order TIA model.

    Single-pole op-amp ``A(s) = A0 / (1 + s A0 / wt)`` (wt = 2 pi gbw), feedback
    ``Rf || Cf``, input capacitance ``Cin`` (two junctions + amplifier input)::

        Z(s) = -Rf / [ (1 + 1/A0) + s (Rf Cf (1 + 1/A0) + 1/wt + Rf Cin / A0)
                       + s^2 Rf (Cin + Cf) / wt ]

    (KCL at the input node with ``v_out = -A v_in``; e.g. Graeme, "Photodiode
    Amplifiers", McGraw-Hill 1996, ch. 2).  The photodiode series resistance and the
    output resistance are neglected.
    """
    a0 = IDEAL_OPEN_LOOP_GAIN if spec.ideal_opamp else spec.open_loop_gain
    rf, cf, cin = spec.feedback_resistance_ohm, spec.feedback_capacitance_f, \
        spec.input_capacitance_total_f
    wt = 2 * math.pi * spec.gbw_hz
    s = 2j * math.pi * np.asarray(frequency_hz, dtype=float)
    den = (1 + 1 / a0) + s * (rf * cf * (1 + 1 / a0) + 1 / wt + rf * cin / a0) \
        + s ** 2 * rf * (cin + cf) / wt
    return -rf / den


def closed_form_bandwidth_hz(spec: ReadoutSpec) -> float:
    """-3 dB frequency of :func:`closed_form_response` (Hz), solved in closed form.

    With ``Z = Z0 / (1 + a s + b s^2)``: ``|den|^2 = (1 - b w^2)^2 + a^2 w^2`` equals
    ``2 |den(0)|^2`` at ``w^2 = [-(a^2 - 2b) + sqrt((a^2 - 2b)^2 + 4 b^2)] / (2 b^2)``
    (after normalising den(0) to 1).
    """
    a0 = IDEAL_OPEN_LOOP_GAIN if spec.ideal_opamp else spec.open_loop_gain
    rf, cf, cin = spec.feedback_resistance_ohm, spec.feedback_capacitance_f, \
        spec.input_capacitance_total_f
    wt = 2 * math.pi * spec.gbw_hz
    d0 = 1 + 1 / a0
    a = (rf * cf * (1 + 1 / a0) + 1 / wt + rf * cin / a0) / d0
    b = rf * (cin + cf) / wt / d0
    c = a * a - 2 * b
    w2 = (-c + math.sqrt(c * c + 4 * b * b)) / (2 * b * b)
    return math.sqrt(w2) / (2 * math.pi)


# ---------------------------------------------------------------------- netlist building
def _pd_params(spec: ReadoutSpec, nzpsd: float) -> dict[str, float]:
    return {"resp": spec.responsivity_a_per_w, "idark": spec.dark_current_a,
            "cj": spec.junction_capacitance_f, "rs": spec.series_resistance_ohm,
            "nzpsd": nzpsd}


def _tia_params(spec: ReadoutSpec, nzpsd: float) -> dict[str, float]:
    ideal = spec.ideal_opamp
    return {
        "a0": IDEAL_OPEN_LOOP_GAIN if ideal else spec.open_loop_gain,
        "gbw": spec.gbw_hz, "vmax": spec.output_high_v, "vmin": spec.output_low_v,
        "lin": 1.0 if ideal else 0.0,
        "rout": IDEAL_OUTPUT_RESISTANCE_OHM if ideal else spec.output_resistance_ohm,
        "cin": max(spec.input_capacitance_f, 1e-21),
        "rf": spec.feedback_resistance_ohm, "cf": spec.feedback_capacitance_f,
        "en": 0.0 if ideal else spec.input_noise_voltage_v_per_rthz,
        "in": 0.0 if ideal else spec.input_noise_current_a_per_rthz,
        "kt": spec.kt_j, "nzpsd": nzpsd, "iq": spec.quiescent_current_a,
    }


def build_readout_chain(spec: ReadoutSpec | None = None, n_channels: int = 1, *,  # noqa: C901 - argument checks
                        drive: Drive = "signal",
                        signal_a: float | np.ndarray = 0.0,
                        common_mode_w: float | np.ndarray = 0.0,
                        ac_channel: int | None = 0,
                        pwl_times_s: np.ndarray | None = None,
                        pwl_plus_w: np.ndarray | None = None,
                        pwl_minus_w: np.ndarray | None = None,
                        noise: NoiseMode = "off",
                        noise_step_s: float | None = None,
                        noise_samples: np.ndarray | None = None,
                        title: str | None = None) -> Circuit:
    """Netlist of ``n_channels`` balanced-PD + TIA channels.

    Parameters
    ----------
    spec
        Chain parameters (default: ``ReadoutSpec.from_cards()``).
    n_channels
        Number of independent channels (>= 1).
    drive
        "signal" (sources ``Vsig{k}`` in A and ``Vcm{k}`` in W, see the module docstring)
        or "pwl" (optical power waveforms on both detectors).
    signal_a, common_mode_w
        DC net photocurrent (A) and common-mode power per detector (W) for
        ``drive="signal"``; scalars or shape ``(n_channels,)``.
    ac_channel
        Channel whose ``Vsig`` carries the AC stimulus (magnitude 1 A), or None.
    pwl_times_s
        Shape ``(n_points,)``, strictly increasing times (s), for ``drive="pwl"``.
    pwl_plus_w, pwl_minus_w
        Shape ``(n_points, n_channels)``: optical power (W) on the plus and minus
        detectors at those times; ``pwl_minus_w=None`` leaves the minus detector dark.
    noise
        "off" (noise drives grounded), "ac" (generator resistors for ``.noise``), "tran"
        (PWL unit-variance noise waveforms from ``noise_samples``: reproducible, but
        ngspice searches a PWL linearly at every time step, so the run time grows with
        the square of the number of samples) or "trnoise" (ngspice ``TRNOISE(1
        noise_step_s)`` sources: fast, but drawn by ngspice's own generator, which
        ngspice 39 does not let a netlist seed, so runs are not reproducible).
    noise_step_s, noise_samples
        For ``noise="tran"``: the time between noise samples (s) and the samples,
        shape ``(n_steps, n_channels, 5)`` of standard normal numbers (drawn by the caller
        from an explicit ``np.random.Generator``); the waveform holds sample ``j`` at
        ``t = j * noise_step_s`` and interpolates linearly, giving a one-sided PSD of
        ``2 * noise_step_s`` V^2/Hz well below ``1/noise_step_s``.

    Returns
    -------
    Circuit
        With ``readout.lib`` included and the solver options :data:`NUMERICS`; no analysis.
    """
    spec = ReadoutSpec.from_cards() if spec is None else spec
    if isinstance(n_channels, bool) or not isinstance(n_channels, int) or n_channels < 1:
        raise ConfigError(f"n_channels={n_channels!r}: give a positive integer")
    if drive not in DRIVES:
        raise ConfigError(f"drive={drive!r}: choose one of {DRIVES}")
    if noise not in NOISE_MODES:
        raise ConfigError(f"noise={noise!r}: choose one of {NOISE_MODES}")
    n = n_channels
    c = Circuit(title or f"readout chain: {n} balanced PD + TIA channel(s)"
                f"{' (ideal op-amp)' if spec.ideal_opamp else ''}, noise {noise}")
    c.include("readout.lib")
    c.options.update(NUMERICS)
    c.add(VoltageSource("Vdd", "vdd", "0", spec.supply_positive_v),
          VoltageSource("Vss", "vss", "0", spec.supply_negative_v),
          VoltageSource("Vbp", "vbp", "0", spec.bias_v),
          VoltageSource("Vbn", "vbn", "0", -spec.bias_v))

    if drive == "signal":
        sig = np.broadcast_to(np.asarray(signal_a, dtype=float), (n,))
        cm = np.broadcast_to(np.asarray(common_mode_w, dtype=float), (n,))
        if np.any(cm < 0) or np.any(np.abs(sig) > 2 * spec.responsivity_a_per_w * cm * (1 + 1e-12)):
            raise ConfigError("drive='signal': common_mode_w must be >= |signal_a| / (2 R) so "
                              "that neither detector sees negative power")
        if ac_channel is not None and not 0 <= ac_channel < n:
            raise ConfigError(f"ac_channel={ac_channel!r}: give 0..{n - 1} or None")
        g = 0.5 / spec.responsivity_a_per_w
        for k in range(n):
            c.add(VoltageSource(f"Vsig{k}", f"sig{k}", "0", float(sig[k]),
                                1.0 if ac_channel == k else None),
                  VoltageSource(f"Vcm{k}", f"cm{k}", "0", float(cm[k])),
                  VCVS(f"Epp{k}", f"pp{k}", f"cm{k}", f"sig{k}", "0", g),
                  VCVS(f"Epm{k}", f"pm{k}", f"cm{k}", f"sig{k}", "0", -g))
    else:
        if pwl_times_s is None or pwl_plus_w is None:
            raise ConfigError("drive='pwl' needs pwl_times_s and pwl_plus_w")
        times = np.asarray(pwl_times_s, dtype=float)
        plus = np.asarray(pwl_plus_w, dtype=float)
        minus = np.zeros_like(plus) if pwl_minus_w is None else np.asarray(pwl_minus_w, float)
        if times.ndim != 1 or plus.shape != (times.size, n) or minus.shape != plus.shape:
            raise ConfigError(f"PWL inputs: times shape {times.shape}, plus {plus.shape}, "
                              f"minus {minus.shape}; need (n_points,) and (n_points, {n})")
        if np.any(plus < 0) or np.any(minus < 0) or not np.all(np.isfinite(plus)) \
                or not np.all(np.isfinite(minus)):
            raise ConfigError("optical powers must be finite and >= 0 W")
        t = tuple(float(v) for v in times)
        for k in range(n):
            c.add(VoltageSource(f"Vpp{k}", f"pp{k}", "0", float(plus[0, k]), None,
                                Pwl(t, tuple(plus[:, k].tolist()))),
                  VoltageSource(f"Vpm{k}", f"pm{k}", "0", float(minus[0, k]), None,
                                Pwl(t, tuple(minus[:, k].tolist()))))

    kinds = ("p", "m", "v", "i", "f")
    if noise == "off":
        nzpsd = 1.0
        nz = {(k, s): "0" for k in range(n) for s in kinds}
    elif noise == "ac":
        nzpsd = 4 * spec.kt_j * NOISE_GENERATOR_OHM
        nz = {(k, s): f"nz{s}{k}" for k in range(n) for s in kinds}
        for (k, s), node in nz.items():
            c.add(Resistor(f"Rnz{s}{k}", node, "0", NOISE_GENERATOR_OHM))
    else:
        if noise_step_s is None or (noise == "tran" and noise_samples is None):
            raise ConfigError(f"noise={noise!r} needs noise_step_s"
                              + (" and noise_samples" if noise == "tran" else ""))
        if not (isinstance(noise_step_s, (int, float)) and noise_step_s > 0):
            raise ConfigError(f"noise_step_s={noise_step_s!r}: give a time > 0 s")
        samples = np.zeros((2, n, 5)) if noise == "trnoise" else \
            np.asarray(noise_samples, dtype=float)
        if samples.ndim != 3 or samples.shape[1:] != (n, 5) or samples.shape[0] < 2:
            raise ConfigError(f"noise_samples shape {samples.shape}: need (n_steps >= 2, "
                              f"{n}, 5)")
        nzpsd = 2 * float(noise_step_s)
        nz = {(k, s): f"nz{s}{k}" for k in range(n) for s in kinds}
        if noise == "trnoise":
            for (k, s), node in nz.items():
                c.add(VoltageSource(f"Vnz{s}{k}", node, "0", 0.0, None,
                                    TrNoise(1.0, float(noise_step_s))))
        tn = tuple(float(v) for v in np.arange(samples.shape[0]) * noise_step_s)
        for k in range(n if noise == "tran" else 0):
            for j, s in enumerate(kinds):
                c.add(VoltageSource(f"Vnz{s}{k}", nz[(k, s)], "0", float(samples[0, k, j]),
                                    None, Pwl(tn, tuple(samples[:, k, j].tolist()))))

    pd = _pd_params(spec, nzpsd)
    amp = _tia_params(spec, nzpsd)
    for k in range(n):
        c.add(SubcircuitInstance(f"Xpd{k}", (f"in{k}", "vbp", "vbn", f"pp{k}", f"pm{k}",
                                             nz[(k, "p")], nz[(k, "m")]), "balanced_pd", pd),
              SubcircuitInstance(f"Xtia{k}", (f"in{k}", f"out{k}", "vdd", "vss",
                                              nz[(k, "v")], nz[(k, "i")], nz[(k, "f")]),
                                 "tia", amp))
    return c


__all__ = ["BOLTZMANN_J_PER_K", "DRIVES", "Drive", "ELEMENTARY_CHARGE_C", "IDEAL_OPEN_LOOP_GAIN",
           "NOISE_MODES", "NUMERICS", "NoiseMode", "ReadoutSpec", "build_readout_chain",
           "closed_form_bandwidth_hz", "closed_form_response"]
