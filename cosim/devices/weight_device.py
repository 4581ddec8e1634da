"""Weight devices: what one memristor of a weight pair does under pulses and over time.

A :class:`WeightDevice` bundles, for one device type, everything a weight store needs:

* the **pulse response**: how many pulses span the window and how the conductance moves
  per potentiation (LTP) or depression (LTD) pulse, with its bounds ``G_min``/``G_max``,
  nonlinearity and LTP/LTD asymmetry, cycle-to-cycle (c2c) and device-to-device (d2d)
  variation.  Two pulse models (:data:`PULSE_MODELS`, one per card kind):

  ``neurosim`` (card kind ``weight_neurosim``)
      The analytic NeuroSim curve ``G(P) = B (1 - exp(-P/A)) + G_min`` of
      :mod:`cosim.devices.programming`, with the population card it names
      (``devices/rram_array.toml``: NeuroSim MLP V3.0 RealDevice).
  ``memristor_ode`` (card kind ``weight_memristor_ode``)
      A response *table* obtained by integrating a memristor state equation
      (:mod:`cosim.devices.memristor`, the numpy twin of the ngspice subcircuit) under
      a train of rectangular pulses with linear edges (:func:`pulse_train`): from
      ``x`` at the OFF end, ``pulses_ltp`` ON-switching pulses give the LTP table; from
      the ON end, ``pulses_ltd`` OFF-switching pulses the LTD table
      (:func:`memristor_pulse_tables`).  A device's position on a table is found by
      inverse interpolation, ``n`` pulses move it ``n`` entries (linear in between).
      So "pulses -> memristor dynamics" holds: the table *is* the ODE's response, and a
      test checks it against the subcircuit in ngspice.

* **endurance**: the window closes with the device's cumulative pulse count ``N``,
  ``G_max,eff = G_min + (G_max - G_min) f(N)``, ``f(N) = exp(-N / endurance_pulses)``
  (:func:`endurance_window_fraction`);

* **retention (drift)**: after a write at time ``t_w`` the conductance read at time
  ``t`` is ``G (max(t - t_w, t0) / t0)^-nu`` (:func:`drift_factor`; power law of
  Ielmini et al., IEEE TED 54(2):308, 2007), with ``nu`` drawn per device from
  ``N(drift_nu_mean, drift_nu_sigma)`` truncated at 0 (:func:`sample_drift_nu`).

Every function here is pure (arrays in SI units in and out, randomness only through an
explicit ``numpy.random.Generator``).  The weight stores that use a device live in
:mod:`cosim.hw.policies`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from cosim.devices.programming import ProgrammingParams, apply_pulses, params_from_card
from cosim.errors import ConfigError


# --------------------------------------------------------------------------- device
@dataclass(frozen=True)
class WeightDevice:
    """One weight-device type (see the module docstring).

    Attributes
    ----------
    name : str
        Card name (or a description for devices built in code).
    params : ProgrammingParams
        Window ``g_min_s``/``g_max_s`` (S), pulses per window, NeuroSim nonlinearities
        ``a_ltp``/``a_ltd`` (unused with tables), c2c and d2d sigmas, read noise, faults.
    table_ltp, table_ltd : ndarray or None
        ``memristor_ode`` devices: normalised conductance ``u = (G - G_min)/(G_max -
        G_min)`` after ``k`` pulses, ``k = 0..pulses``; ``table_ltp`` starts at 0 and
        rises, ``table_ltd`` starts at 1 and falls.  None for the analytic curve.
    endurance_pulses : float
        Pulses after which the window has closed to 1/e (``inf``: no wear).
    drift_nu_mean, drift_nu_sigma : float
        Drift exponent distribution (0, 0: no drift).
    drift_t0_s : float
        Reference time of the drift law (s).
    """

    name: str
    params: ProgrammingParams
    table_ltp: np.ndarray | None = None
    table_ltd: np.ndarray | None = None
    endurance_pulses: float = math.inf
    drift_nu_mean: float = 0.0
    drift_nu_sigma: float = 0.0
    drift_t0_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.endurance_pulses > 0:
            raise ConfigError(f"weight device {self.name!r}: endurance_pulses="
                              f"{self.endurance_pulses!r} must be > 0 (inf for no wear)")
        if not (self.drift_nu_mean >= 0 and self.drift_nu_sigma >= 0):
            raise ConfigError(f"weight device {self.name!r}: drift_nu_mean and "
                              "drift_nu_sigma must be >= 0")
        if not self.drift_t0_s > 0:
            raise ConfigError(f"weight device {self.name!r}: drift_t0_s must be > 0 s")
        if (self.table_ltp is None) != (self.table_ltd is None):
            raise ConfigError("a tabulated weight device needs both table_ltp and table_ltd")

    @property
    def has_drift(self) -> bool:
        return self.drift_nu_mean > 0 or self.drift_nu_sigma > 0

    @property
    def has_wear(self) -> bool:
        return math.isfinite(self.endurance_pulses)

    def apply(self, g_s, n_pulses, rng: np.random.Generator | None = None, *,
              g_min_s=None, g_max_s=None, a_ltp=None, a_ltd=None) -> np.ndarray:
        """Conductances (S) after ``n_pulses`` signed pulses (> 0 LTP, < 0 LTD).

        ``g_min_s``/``g_max_s`` (per device: d2d spread, endurance) default to the
        population's; ``a_ltp``/``a_ltd`` apply to the analytic curve only.  Noise and
        clipping as :func:`cosim.devices.programming.apply_pulses` (NeuroSim).
        """
        if self.table_ltp is None:
            return apply_pulses(g_s, n_pulses, self.params, rng=rng, g_min_s=g_min_s,
                                g_max_s=g_max_s, a_ltp=a_ltp, a_ltd=a_ltd)
        return apply_table_pulses(g_s, n_pulses, self.table_ltp, self.table_ltd, self.params,
                                  rng=rng, g_min_s=g_min_s, g_max_s=g_max_s)


def device_from_params(params: ProgrammingParams, name: str = "programming parameters"
                       ) -> WeightDevice:
    """A :class:`WeightDevice` with the analytic curve of ``params`` and no wear or drift
    (what ``cosim.hw.weights.DeviceWeightStore`` models)."""
    if not isinstance(params, ProgrammingParams):
        raise ConfigError("device_from_params needs ProgrammingParams")
    return WeightDevice(name=name, params=params)


# --------------------------------------------------------------------------- endurance
def endurance_window_fraction(n_pulses, endurance_pulses: float) -> np.ndarray:
    """Fraction of the conductance window left after ``n_pulses`` cumulative pulses:
    ``exp(-N / endurance_pulses)`` (1 for ``endurance_pulses = inf``)."""
    n = np.asarray(n_pulses, dtype=float)
    if not math.isfinite(endurance_pulses):
        return np.ones_like(n)
    return np.exp(-n / float(endurance_pulses))


def worn_g_max(g_min_s, g_max_s, n_pulses, endurance_pulses: float) -> np.ndarray:
    """Upper bound (S) of devices that have taken ``n_pulses`` pulses:
    ``G_min + (G_max - G_min) f(N)``; exactly ``G_max`` where ``f = 1``."""
    f = endurance_window_fraction(n_pulses, endurance_pulses)
    g_min = np.asarray(g_min_s, dtype=float)
    g_max = np.asarray(g_max_s, dtype=float)
    return np.where(f < 1.0, g_min + (g_max - g_min) * f, g_max)


# --------------------------------------------------------------------------- drift
def drift_factor(elapsed_s, nu, t0_s: float) -> np.ndarray:
    """Power-law drift ``(max(t, t0) / t0)^-nu`` of a conductance ``t`` seconds after its
    write (Ielmini et al., IEEE TED 54(2):308, 2007): 1 up to ``t0``, then falling."""
    t = np.maximum(np.asarray(elapsed_s, dtype=float), t0_s)
    nu = np.asarray(nu, dtype=float)
    return np.where(nu == 0, 1.0, (t / t0_s) ** (-nu))


def sample_drift_nu(shape: tuple[int, ...], device: WeightDevice,
                    rng: np.random.Generator) -> np.ndarray:
    """Per-device drift exponents ``max(0, N(drift_nu_mean, drift_nu_sigma))``; no draw
    when ``drift_nu_sigma = 0``."""
    if device.drift_nu_sigma == 0:
        return np.full(shape, float(device.drift_nu_mean))
    nu = device.drift_nu_mean + device.drift_nu_sigma * rng.standard_normal(shape)
    return np.maximum(nu, 0.0)


# --------------------------------------------------------------------------- tables
def apply_table_pulses(g_s, n_pulses, table_ltp, table_ltd, params: ProgrammingParams, *,
                       rng: np.random.Generator | None = None, g_min_s=None, g_max_s=None
                       ) -> np.ndarray:
    """Conductances after signed pulse counts on a tabulated response.

    ``u = (G - G_min)/(G_max - G_min)`` per device; the position on the LTP table is the
    inverse interpolation of ``u`` (the LTD table likewise, counted from its depressed
    end); ``n`` pulses move the position by ``n`` (bounded by the table), the new ``u`` is
    the table interpolated there, never moving against the pulse.  Then c2c noise
    ``N(0, c2c_sigma_frac (G_max - G_min)) sqrt(|n|)`` and clipping to the bounds, as
    NeuroSim's RealDevice::Write.
    """
    g = np.asarray(g_s, dtype=float)
    n = np.asarray(n_pulses)
    if not np.issubdtype(n.dtype, np.integer):
        if not np.all(np.isfinite(n)) or np.any(n != np.round(n)):
            raise ConfigError("n_pulses must be whole numbers of pulses")
        n = n.astype(np.int64)
    g, n = np.broadcast_arrays(g, n)
    gmin = np.broadcast_to(params.g_min_s if g_min_s is None else np.asarray(g_min_s,
                                                                             dtype=float),
                           g.shape)
    gmax = np.broadcast_to(params.g_max_s if g_max_s is None else np.asarray(g_max_s,
                                                                             dtype=float),
                           g.shape)
    span = gmax - gmin
    u = np.clip((g - gmin) / span, 0.0, 1.0)
    up = np.asarray(table_ltp, dtype=float)
    down = np.asarray(table_ltd, dtype=float)[::-1]      # ascending: depressed end first
    k_up, k_down = np.arange(up.size, dtype=float), np.arange(down.size, dtype=float)
    p_up = np.interp(u, up, k_up)
    p_down = np.interp(u, down, k_down)
    u_up = np.maximum(np.interp(np.minimum(p_up + n, k_up[-1]), k_up, up), u)
    u_down = np.minimum(np.interp(np.maximum(p_down + n, 0.0), k_down, down), u)
    u_new = np.where(n > 0, u_up, np.where(n < 0, u_down, u))
    g_new = gmin + span * u_new
    if params.c2c_sigma_frac > 0:
        if rng is None:
            raise ConfigError("cycle-to-cycle variation is on (c2c_sigma_frac > 0): pass "
                              "rng=numpy.random.default_rng(seed)")
        g_new = g_new + rng.standard_normal(g.shape) * params.c2c_sigma_frac * span \
            * np.sqrt(np.abs(n))
    return np.clip(g_new, gmin, gmax)


def pulse_train(amplitude_v: float, n_pulses: int, *, width_s: float, edge_s: float,
                gap_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corners of ``n_pulses`` rectangular pulses with linear edges (a PWL source).

    Each period is ``edge_s`` rise, ``width_s`` at ``amplitude_v``, ``edge_s`` fall and
    ``gap_s`` at 0 V.  Returns ``(t_s, v_v, period_end_index)``: the corner times and
    voltages (starting at t = 0, 0 V) and the index of each period's end in them.
    """
    if int(n_pulses) != n_pulses or n_pulses < 1:
        raise ConfigError(f"n_pulses={n_pulses!r} must be an integer >= 1")
    for name, v in (("width_s", width_s), ("edge_s", edge_s), ("gap_s", gap_s)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ConfigError(f"pulse {name}={v!r} must be a positive time in s")
    period = 2 * edge_s + width_s + gap_s
    offsets = np.array([edge_s, edge_s + width_s, 2 * edge_s + width_s, period])
    levels = np.array([amplitude_v, amplitude_v, 0.0, 0.0])
    starts = period * np.arange(int(n_pulses))
    t = np.concatenate([[0.0], (starts[:, None] + offsets[None, :]).ravel()])
    v = np.concatenate([[0.0], np.tile(levels, int(n_pulses))])
    return t, v, 4 * np.arange(1, int(n_pulses) + 1)


@dataclass(frozen=True)
class PulseTables:
    """Integrated pulse response of a memristor (:func:`memristor_pulse_tables`).

    ``x_ltp``/``x_ltd``: state after ``k`` pulses (k = 0..pulses); ``g_ltp_s``/``g_ltd_s``
    the chord conductance there (S); ``g_off_s``/``g_on_s`` the conductances at the OFF
    and ON ends of the state range (the window).
    """

    x_ltp: np.ndarray
    x_ltd: np.ndarray
    g_ltp_s: np.ndarray
    g_ltd_s: np.ndarray
    g_off_s: float
    g_on_s: float


_X_ENDS = {"vteam": (1.0, 0.0), "linear_joglekar": (0.0, 1.0),
           "linear_biolek": (0.0, 1.0), "yakopcic": (0.0, 1.0)}
"""Model -> (x at the OFF end, x at the ON end) of its state range."""


def memristor_pulse_tables(model: str, params: Mapping[str, float], *, pulses_ltp: int,
                           pulses_ltd: int, ltp_amplitude_v: float, ltd_amplitude_v: float,
                           width_s: float, edge_s: float, gap_s: float,
                           v_read_v: float = 0.01) -> PulseTables:
    """Integrate a memristor model (:func:`cosim.devices.memristor.simulate`) under
    potentiation pulses from its OFF end and depression pulses from its ON end.

    The drive is the PWL pulse train of :func:`pulse_train` (the integrator steps on
    its corners, so the waveform is exact); the state starts at the end of the range
    (``x0``, also the state-node leak reference, as in the subcircuit).  Conductance is
    the chord ``I(v_read_v, x) / v_read_v``.
    """
    from cosim.devices.memristor import get_model, simulate

    m = get_model(model)
    x_off, x_on = _X_ENDS[m.name]
    pr = {k: v for k, v in params.items() if k != "x0"}
    out = []
    for amp, n, x0 in ((ltp_amplitude_v, pulses_ltp, x_off), (ltd_amplitude_v, pulses_ltd,
                                                                x_on)):
        t, v, ends = pulse_train(amp, n, width_s=width_s, edge_s=edge_s, gap_s=gap_s)
        _, x = simulate(m, t, v, x0=x0, **pr)
        out.append(np.concatenate([[x0], x[ends]]))
    g = [np.asarray(m.conductance(x, v_read_v, **pr), dtype=float) for x in out]
    g_off = float(m.conductance(x_off, v_read_v, **pr))
    g_on = float(m.conductance(x_on, v_read_v, **pr))
    return PulseTables(out[0], out[1], g[0], g[1], g_off, g_on)


# --------------------------------------------------------------------------- cards
def _common(card) -> dict[str, float]:
    return {"endurance_pulses": float(card["endurance_pulses"]),
            "drift_nu_mean": float(card["drift_nu_mean"]),
            "drift_nu_sigma": float(card["drift_nu_sigma"]),
            "drift_t0_s": float(card["drift_t0_s"])}


def _neurosim_device(card) -> WeightDevice:
    """``weight_neurosim`` card: the population card's NeuroSim parameters."""
    params = params_from_card(str(card["population_card"]))
    return WeightDevice(name=card.name, params=params, **_common(card))


def _memristor_ode_device(card) -> WeightDevice:
    """``weight_memristor_ode`` card: tables from integrating the memristor model."""
    tables = _tables_of(card)
    g_lo, g_hi = sorted((tables.g_off_s, tables.g_on_s))
    span = g_hi - g_lo
    up = (tables.g_ltp_s - g_lo) / span
    down = (tables.g_ltd_s - g_lo) / span
    for name, tab, sign in (("LTP", up, 1), ("LTD", down, -1)):
        if not np.all(sign * np.diff(tab) > 0):
            raise ConfigError(f"weight device {card.name!r}: the integrated {name} table is "
                              f"not strictly monotonic (a pulse that does not move the "
                              f"state: raise |amplitude| or the width, or lower pulses)")
    params = ProgrammingParams(
        g_min_s=g_lo, g_max_s=g_hi, pulses_ltp=int(card["pulses_ltp"]),
        pulses_ltd=int(card["pulses_ltd"]), a_ltp=math.inf, a_ltd=-math.inf,
        c2c_sigma_frac=float(card["c2c_sigma_frac"]),
        d2d_sigma_frac=float(card["d2d_sigma_frac"]), read_noise_sigma_frac=0.0,
        n_levels=int(card["pulses_ltp"]) + 1)
    return WeightDevice(name=card.name, params=params, table_ltp=up, table_ltd=down,
                        **_common(card))


def _tables_of(card) -> PulseTables:
    from cosim.devices.memristor import params_from_card as memristor_params

    mcard = str(card["memristor_card"])
    from cosim.devices.cards import load_card

    mc = load_card(mcard)
    model = str(mc.model).removeprefix("memristor_")
    return _cached_tables(model, tuple(sorted(memristor_params(mc).items())),
                          int(card["pulses_ltp"]), int(card["pulses_ltd"]),
                          float(card["ltp_amplitude_v"]), float(card["ltd_amplitude_v"]),
                          float(card["pulse_width_s"]), float(card["pulse_edge_s"]),
                          float(card["pulse_gap_s"]))


@functools.lru_cache(maxsize=16)
def _cached_tables(model, params, pulses_ltp, pulses_ltd, ltp_v, ltd_v, width, edge, gap):
    return memristor_pulse_tables(model, dict(params), pulses_ltp=pulses_ltp,
                                  pulses_ltd=pulses_ltd, ltp_amplitude_v=ltp_v,
                                  ltd_amplitude_v=ltd_v, width_s=width, edge_s=edge,
                                  gap_s=gap)


PULSE_MODELS: Mapping[str, Callable[[Any], WeightDevice]] = MappingProxyType({
    "weight_neurosim": _neurosim_device,
    "weight_memristor_ode": _memristor_ode_device,
})
"""Card kind -> builder of the :class:`WeightDevice` (one line per pulse model)."""


def load_weight_device(card: Any) -> WeightDevice:
    """The :class:`WeightDevice` of a weight-device card (shipped name, path or Card).

    Shipped: ``weight_rram_realdevice`` (NeuroSim RealDevice + endurance + drift),
    ``weight_vteam`` (VTEAM pulse tables).  A user's .toml file is read as the kind its
    ``[card] model`` names (``neurosim`` or ``memristor_ode``).
    """
    from cosim.devices.cards import Card, card_kind, load_card

    if isinstance(card, WeightDevice):
        return card
    if not isinstance(card, Card):
        text = str(card)
        if text.endswith(".toml"):
            from cosim.devices.cards import parse_card
            from cosim.paths import read_user_text

            raw = parse_card(read_user_text(text, "weight device card"), text)
            kind = f"weight_{raw.model}"
            if kind not in PULSE_MODELS:
                raise ConfigError(f"{text}: [card] model = {raw.model!r} is not a weight "
                                  f"device pulse model; give one of "
                                  f"{', '.join(k.removeprefix('weight_') for k in PULSE_MODELS)}")
            card = load_card(text, kind=kind)
        else:
            kind = card_kind(text)
            if kind not in PULSE_MODELS:
                weights = [n for k in PULSE_MODELS for n in _cards_of(k)]
                raise ConfigError(f"{text!r} is not a weight device card; give one of "
                                  f"{', '.join(weights)} or a .toml file")
            card = load_card(text, kind=kind)
    kind = card.kind or f"weight_{card.model}"
    if kind not in PULSE_MODELS:
        raise ConfigError(f"card {card.name!r} (kind {kind!r}) is not a weight device card")
    return PULSE_MODELS[kind](card)


def _cards_of(kind: str) -> tuple[str, ...]:
    from cosim.devices.cards import CARD_KINDS

    return CARD_KINDS.get(kind, ())


def with_overrides(device: WeightDevice, **values: Any) -> WeightDevice:
    """``device`` with some fields (or ProgrammingParams fields) replaced."""
    own = {k: v for k, v in values.items() if k in WeightDevice.__dataclass_fields__}
    prog = {k: v for k, v in values.items() if k not in own}
    if prog:
        own["params"] = replace(device.params, **prog)
    return replace(device, **own)
