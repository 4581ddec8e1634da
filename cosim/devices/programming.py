"""Array behaviour of memristive weights: pulse programming, quantization, variability,
faults, read noise and the signed-weight <-> differential-conductance mapping.

All functions are pure: arrays in, arrays out, randomness only through an explicit
``numpy.random.Generator`` ``rng``.  Conductances are in S.

Pulse programming follows the nonlinear weight-update model of NeuroSim
(``neurosim/MLP_NeuroSim_V3.0``: formula.cpp ``NonlinearWeight``/``InvNonlinearWeight``,
Cell.cpp ``RealDevice::Write``)::

    G(P) = B (1 - exp(-P / A)) + G_min,     B = (G_max - G_min) / (1 - exp(-P_max / A))
    A    = a_norm * P_max

``P`` is the pulse position on the curve (0 at G_min, P_max at G_max).  A potentiation
(LTP) pulse moves P by +1 on the LTP curve (``a_norm > 0``: concave, big steps first);
a depression (LTD) pulse moves P by -1 on the LTD curve (``a_norm < 0``: convex, so
going down the steps are big near G_max and small near G_min).  Different ``a_norm``
and ``P_max`` for LTP and LTD make the update asymmetric.  ``a_norm = inf`` is the
linear (ideal) device.  Cycle-to-cycle variation adds ``N(0, sigma_c2c) sqrt(|n|)``
with ``sigma_c2c = c2c_sigma_frac (G_max - G_min)`` per write of ``n`` pulses, then
clips to [G_min, G_max] (as NeuroSim does).

Signed weights use a differential pair: ``w = w_max (G+ - G-) / (G_max - G_min)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from cosim.errors import ConfigError

UpdateScheme = Literal["single_side", "push_pull"]
UPDATE_SCHEMES: tuple[str, ...] = ("single_side", "push_pull")


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ProgrammingParams:
    """Device population parameters for pulse programming (SI units).

    Attributes
    ----------
    g_min_s, g_max_s : float
        Conductance range (S), 0 < g_min_s < g_max_s.
    pulses_ltp, pulses_ltd : int
        Pulses from G_min to G_max (LTP) and from G_max to G_min (LTD), >= 1.
    a_ltp, a_ltd : float
        Normalised nonlinearity A / P_max of the LTP (> 0) and LTD (< 0) curves;
        ``inf`` / ``-inf`` for a linear update.
    c2c_sigma_frac : float
        Cycle-to-cycle sigma as a fraction of (G_max - G_min), per sqrt(pulse).
    d2d_sigma_frac : float
        Device-to-device relative sigma of G_min, G_max and the nonlinearity.
    read_noise_sigma_frac : float
        Relative sigma of a read: G (1 + N(0, sigma)).
    p_stuck_on, p_stuck_off : float
        Probabilities of a device stuck at G_max / G_min.
    n_levels : int
        Levels for quantization (>= 2).
    v_read_v, v_write_v, t_write_s : float
        Read voltage (V), write-pulse amplitude (V) and width (s).
    """

    g_min_s: float = 4.76e-7
    g_max_s: float = 1e-5
    pulses_ltp: int = 31
    pulses_ltd: int = 31
    a_ltp: float = 0.249748
    a_ltd: float = -0.249748
    c2c_sigma_frac: float = 0.005
    d2d_sigma_frac: float = 0.0
    read_noise_sigma_frac: float = 0.0
    p_stuck_on: float = 0.0
    p_stuck_off: float = 0.0
    n_levels: int = 32
    v_read_v: float = 0.5
    v_write_v: float = 2.0
    t_write_s: float = 8e-8

    def __post_init__(self) -> None:  # noqa: C901 - one range check per parameter
        def bad(name: str, rule: str) -> ConfigError:
            return ConfigError(f"programming parameter {name}={getattr(self, name)!r} is out "
                               f"of range: it must be {rule}")
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise ConfigError(f"programming parameter {f.name}={v!r} must be a number")
        if not 0 < self.g_min_s < self.g_max_s or not math.isfinite(self.g_max_s):
            raise bad("g_min_s", f"> 0 and below g_max_s={self.g_max_s!r} (finite)")
        for name in ("pulses_ltp", "pulses_ltd"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise bad(name, "an integer >= 1")
        if not self.a_ltp > 0:
            raise bad("a_ltp", "> 0 (concave LTP curve; inf for linear)")
        if not self.a_ltd < 0:
            raise bad("a_ltd", "< 0 (convex LTD curve; -inf for linear)")
        for name in ("c2c_sigma_frac", "d2d_sigma_frac", "read_noise_sigma_frac"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, "in [0, 1]")
        for name in ("p_stuck_on", "p_stuck_off"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, "a probability in [0, 1]")
        if self.p_stuck_on + self.p_stuck_off > 1:
            raise bad("p_stuck_on", "such that p_stuck_on + p_stuck_off <= 1")
        if int(self.n_levels) != self.n_levels or self.n_levels < 2:
            raise bad("n_levels", "an integer >= 2")
        for name in ("v_write_v", "t_write_s"):
            if not getattr(self, name) > 0:
                raise bad(name, "> 0")
        if not self.v_read_v > 0:
            raise bad("v_read_v", "> 0")

    @property
    def g_range_s(self) -> float:
        return self.g_max_s - self.g_min_s


def params_from_card(card: Any = "rram_array", **overrides: Any) -> ProgrammingParams:
    """:class:`ProgrammingParams` from a device card (default ``devices/rram_array.toml``).

    Unknown card parameters are rejected; ``overrides`` replace card values.
    """
    from cosim.devices.cards import Card, load_card

    if not isinstance(card, Card):
        card = load_card(card, kind="rram_array")
    names = {f.name for f in fields(ProgrammingParams)}
    unknown = set(card.values) - names
    if unknown:
        raise ConfigError(f"card {card.name!r} has parameter(s) {sorted(unknown)} that "
                          f"pulse programming does not know; valid: {sorted(names)}")
    values = dict(card.values)
    values.update(overrides)
    for k in ("pulses_ltp", "pulses_ltd", "n_levels"):
        if k in values and isinstance(values[k], float) and values[k].is_integer():
            values[k] = int(values[k])
    return ProgrammingParams(**values)


# --------------------------------------------------------------------------- NeuroSim curve
def _curve_b(g_range_s, p_max, a_norm):
    a = np.asarray(a_norm, dtype=float) * p_max
    return g_range_s / (-np.expm1(-p_max / a))


def _curve_terms(g_min_s, g_max_s, p_max, a_norm):
    """Shared terms of the NeuroSim curve and its inverse: G_min, G_max - G_min, the mask
    of linear devices (A = inf), A with linear entries replaced by 1, and B."""
    g_min = np.asarray(g_min_s, dtype=float)
    g_range = np.asarray(g_max_s, dtype=float) - g_min
    a_norm = np.asarray(a_norm, dtype=float)
    lin = np.isinf(a_norm)
    a_safe = np.where(lin, 1.0, a_norm)
    return g_min, g_range, lin, a_safe, _curve_b(g_range, p_max, a_safe)


def nonlinear_conductance(p, *, g_min_s, g_max_s, p_max, a_norm):
    """NeuroSim weight-update curve G(P) (S).

    Parameters
    ----------
    p : array_like
        Pulse position (dimensionless, 0..p_max).
    g_min_s, g_max_s : float or array_like
        Conductance range (S); arrays broadcast with ``p`` (device-to-device spread).
    p_max : int
        Pulses spanning the range.
    a_norm : float or array_like
        Normalised nonlinearity A/P_max (> 0 concave, < 0 convex, +-inf linear).

    Returns
    -------
    ndarray
        ``G = B (1 - exp(-P/A)) + G_min``, ``A = a_norm p_max``,
        ``B = (G_max - G_min)/(1 - exp(-p_max/A))`` (NeuroSim formula.cpp).
    """
    p = np.asarray(p, dtype=float)
    g_min, g_range, lin, a_safe, b = _curve_terms(g_min_s, g_max_s, p_max, a_norm)
    if lin.ndim == 0 and lin:                   # one linear device type
        return np.asarray(g_min + g_range * p / p_max)
    g_nl = b * (-np.expm1(-p / (a_safe * p_max))) + g_min
    if lin.ndim == 0:                           # one nonlinear device type
        return g_nl
    return np.where(lin, g_min + g_range * p / p_max, g_nl)


def inverse_nonlinear_conductance(g, *, g_min_s, g_max_s, p_max, a_norm):
    """Pulse position P of conductance ``g`` on the curve (inverse of
    :func:`nonlinear_conductance`): ``P = -A ln(1 - (G - G_min)/B)``."""
    g = np.asarray(g, dtype=float)
    g_min, g_range, lin, a_safe, b = _curve_terms(g_min_s, g_max_s, p_max, a_norm)
    if lin.ndim == 0 and lin:
        return np.asarray((g - g_min) / g_range * p_max)
    p_nl = -a_safe * p_max * np.log1p(-(g - g_min) / b)
    if lin.ndim == 0:
        return p_nl
    return np.where(lin, (g - g_min) / g_range * p_max, p_nl)


def apply_pulses(g_s, n_pulses, params: ProgrammingParams, *, rng: np.random.Generator | None
                 = None, g_min_s=None, g_max_s=None, a_ltp=None, a_ltd=None) -> np.ndarray:
    """Conductance after a write of ``n_pulses`` identical pulses (NeuroSim RealDevice).

    Parameters
    ----------
    g_s : array_like
        Present conductances (S).
    n_pulses : array_like of int
        Signed pulse counts (> 0 potentiation / LTP, < 0 depression / LTD), broadcast
        with ``g_s``.
    params : ProgrammingParams
        Population parameters.
    rng : numpy.random.Generator, optional
        Needed when ``params.c2c_sigma_frac > 0`` (cycle-to-cycle noise).
    g_min_s, g_max_s, a_ltp, a_ltd : array_like, optional
        Per-device values (from :func:`sample_d2d`); default the population's.

    Returns
    -------
    ndarray
        New conductances, clipped to [G_min, G_max] of each device.
    """
    g = np.asarray(g_s, dtype=float)
    n = np.asarray(n_pulses)
    if not np.issubdtype(n.dtype, np.integer):
        if not np.all(np.isfinite(n)) or np.any(n != np.round(n)):
            raise ConfigError("n_pulses must be whole numbers of pulses")
        n = n.astype(np.int64)
    if g.shape == n.shape and params.c2c_sigma_frac == 0 and \
            g_min_s is None and g_max_s is None and a_ltp is None and a_ltd is None and \
            math.isinf(params.a_ltp) and math.isinf(params.a_ltd):
        # one linear device type, no write noise (the idealised device): compiled
        from cosim.devices.pulse_kernels import linear_pulses

        out = np.empty(g.shape)
        linear_pulses(np.ascontiguousarray(g).reshape(-1),
                      np.ascontiguousarray(n, dtype=np.int64).reshape(-1),
                      float(params.g_min_s), float(params.g_max_s),
                      float(params.pulses_ltp), float(params.pulses_ltd), out.reshape(-1))
        return out
    gmin = params.g_min_s if g_min_s is None else np.asarray(g_min_s, dtype=float)
    gmax = params.g_max_s if g_max_s is None else np.asarray(g_max_s, dtype=float)
    altp = params.a_ltp if a_ltp is None else np.asarray(a_ltp, dtype=float)
    altd = params.a_ltd if a_ltd is None else np.asarray(a_ltd, dtype=float)
    g_c = np.clip(g, gmin, gmax)
    kw_p = dict(g_min_s=gmin, g_max_s=gmax, p_max=params.pulses_ltp, a_norm=altp)
    kw_d = dict(g_min_s=gmin, g_max_s=gmax, p_max=params.pulses_ltd, a_norm=altd)
    p_ltp = inverse_nonlinear_conductance(g_c, **kw_p)
    p_ltd = inverse_nonlinear_conductance(g_c, **kw_d)
    g_up = nonlinear_conductance(np.minimum(p_ltp + n, params.pulses_ltp), **kw_p)
    g_down = nonlinear_conductance(np.maximum(p_ltd + n, 0.0), **kw_d)
    g_new = np.where(n > 0, g_up, np.where(n < 0, g_down, g_c))
    if params.c2c_sigma_frac > 0:
        if rng is None:
            raise ConfigError("cycle-to-cycle variation is on (c2c_sigma_frac > 0): pass "
                              "rng=numpy.random.default_rng(seed)")
        sigma = params.c2c_sigma_frac * (np.asarray(gmax) - np.asarray(gmin))
        noise = rng.standard_normal(np.broadcast(g_new, n).shape) * sigma * np.sqrt(np.abs(n))
        g_new = g_new + noise
    return np.clip(g_new, gmin, gmax)


def pulse_curves(params: ProgrammingParams, n_cycles: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Potentiation/depression curve vs pulse number, noise-free.

    Starting at G_min, ``pulses_ltp`` LTP pulses then ``pulses_ltd`` LTD pulses, repeated
    ``n_cycles`` times, applied one pulse at a time through :func:`apply_pulses`.

    Returns
    -------
    pulse_index : ndarray of int, shape (m + 1,)
    g_s : ndarray, shape (m + 1,)
        Conductance after each pulse (index 0: the start).
    """
    quiet = replace(params, c2c_sigma_frac=0.0)
    seq = ([1] * params.pulses_ltp + [-1] * params.pulses_ltd) * int(n_cycles)
    g = [params.g_min_s]
    for s in seq:
        g.append(float(apply_pulses(g[-1], s, quiet)))
    return np.arange(len(g)), np.array(g)


def nonlinearity_metric(params: ProgrammingParams, which: Literal["ltp", "ltd"] = "ltp"
                        ) -> float:
    """Largest deviation of the normalised curve from the straight line, in units of the
    range: 0 for a linear device, toward 1 for a strongly nonlinear one (the sign is
    positive for concave curves, negative for convex ones)."""
    p_max = params.pulses_ltp if which == "ltp" else params.pulses_ltd
    a = params.a_ltp if which == "ltp" else params.a_ltd
    p = np.linspace(0, p_max, 1001)
    g = nonlinear_conductance(p, g_min_s=0.0, g_max_s=1.0, p_max=p_max, a_norm=a)
    dev = g - p / p_max
    return float(dev[np.argmax(np.abs(dev))])


# --------------------------------------------------------------------------- quantization
def quantize(g_s, n_levels: int, g_min_s: float, g_max_s: float) -> np.ndarray:
    """Nearest of ``n_levels`` evenly spaced conductances in [g_min_s, g_max_s] (S).

    The error is at most half a level, (g_max_s - g_min_s) / (2 (n_levels - 1)), for
    values inside the range; values outside are clipped first.
    """
    if int(n_levels) != n_levels or n_levels < 2:
        raise ConfigError(f"n_levels={n_levels!r} must be an integer >= 2")
    if not g_min_s < g_max_s:
        raise ConfigError(f"g_min_s={g_min_s!r} must be below g_max_s={g_max_s!r}")
    g = np.clip(np.asarray(g_s, dtype=float), g_min_s, g_max_s)
    step = (g_max_s - g_min_s) / (n_levels - 1)
    k = np.rint((g - g_min_s) / step)
    return g_min_s + k * step


# --------------------------------------------------------------------------- variability
@dataclass(frozen=True)
class DeviceSpread:
    """Per-device parameters drawn once (device-to-device variation); arrays of one shape."""

    g_min_s: np.ndarray
    g_max_s: np.ndarray
    a_ltp: np.ndarray
    a_ltd: np.ndarray

    def kwargs(self) -> dict[str, np.ndarray]:
        """Keyword arguments for :func:`apply_pulses`."""
        return {"g_min_s": self.g_min_s, "g_max_s": self.g_max_s, "a_ltp": self.a_ltp,
                "a_ltd": self.a_ltd}


def sample_d2d(shape: tuple[int, ...], params: ProgrammingParams,
               rng: np.random.Generator) -> DeviceSpread:
    """Device-to-device spread: G_min, G_max and the LTP/LTD nonlinearities of each
    device are multiplied by ``1 + d2d_sigma_frac * N(0, 1)`` (independent draws).

    Draws that would break ``0 < G_min < G_max`` or flip a curve's sign are redrawn, so
    large sigmas give a slightly truncated Gaussian.
    """
    sigma = params.d2d_sigma_frac

    def draw(nominal: float, lower_ok) -> np.ndarray:
        out = nominal * (1 + sigma * rng.standard_normal(shape))
        for _ in range(100):
            bad = ~lower_ok(out)
            if not bad.any():
                return out
            out[bad] = nominal * (1 + sigma * rng.standard_normal(int(bad.sum())))
        raise ConfigError(f"d2d_sigma_frac={sigma!r} is too large to draw valid devices")

    g_min = draw(params.g_min_s, lambda x: x > 0)
    g_max = params.g_max_s * (1 + sigma * rng.standard_normal(shape))
    for _ in range(100):
        bad = ~(g_max > g_min)
        if not bad.any():
            break
        g_max[bad] = params.g_max_s * (1 + sigma * rng.standard_normal(int(bad.sum())))
    else:
        raise ConfigError(f"d2d_sigma_frac={sigma!r} is too large: G_max falls below G_min")
    a_ltp = np.full(shape, params.a_ltp) if math.isinf(params.a_ltp) else \
        draw(params.a_ltp, lambda x: x > 0)
    a_ltd = np.full(shape, params.a_ltd) if math.isinf(params.a_ltd) else \
        draw(params.a_ltd, lambda x: x < 0)
    return DeviceSpread(g_min, g_max, a_ltp, a_ltd)


def fault_masks(shape: tuple[int, ...], p_stuck_on: float, p_stuck_off: float,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint boolean masks of devices stuck at G_max (on) and at G_min (off).

    Each device is independently stuck-on with probability ``p_stuck_on`` and stuck-off
    with ``p_stuck_off`` (one uniform draw per device, so the two never overlap).
    """
    if not (0 <= p_stuck_on <= 1 and 0 <= p_stuck_off <= 1 and p_stuck_on + p_stuck_off <= 1):
        raise ConfigError(f"fault probabilities p_stuck_on={p_stuck_on!r}, p_stuck_off="
                          f"{p_stuck_off!r} must be in [0, 1] with a sum <= 1")
    u = rng.random(shape)
    stuck_on = u < p_stuck_on
    stuck_off = (u >= p_stuck_on) & (u < p_stuck_on + p_stuck_off)
    return stuck_on, stuck_off


def apply_faults(g_s, stuck_on, stuck_off, g_min_s, g_max_s) -> np.ndarray:
    """Conductances with stuck devices forced to G_max (stuck-on) or G_min (stuck-off)."""
    g = np.asarray(g_s, dtype=float)
    g = np.where(stuck_on, g_max_s, g)
    return np.where(stuck_off, g_min_s, g)


def read_conductance(g_s, sigma_frac: float, rng: np.random.Generator | None = None
                     ) -> np.ndarray:
    """One noisy read: ``G (1 + N(0, sigma_frac))`` (NeuroSim ``RealDevice::Read``).

    ``sigma_frac = 0`` returns ``G`` unchanged and needs no ``rng``.
    """
    g = np.asarray(g_s, dtype=float)
    if sigma_frac < 0:
        raise ConfigError(f"read-noise sigma_frac={sigma_frac!r} must be >= 0")
    if sigma_frac == 0:
        return g.copy()
    if rng is None:
        raise ConfigError("read noise is on: pass rng=numpy.random.default_rng(seed)")
    return g * (1 + sigma_frac * rng.standard_normal(g.shape))


# --------------------------------------------------------------------------- weight mapping
def weights_to_conductances(w, w_max: float, g_min_s: float, g_max_s: float
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Signed weights -> differential pair (G+, G-) (S).

    ``G+ = G_min + (G_max - G_min) max(w, 0)/w_max``, ``G- = G_min + (G_max - G_min)
    max(-w, 0)/w_max``; one device of the pair sits at G_min.  Weights must lie in
    [-w_max, w_max].
    """
    w = np.asarray(w, dtype=float)
    if not w_max > 0:
        raise ConfigError(f"w_max={w_max!r} must be > 0")
    if not g_min_s < g_max_s:
        raise ConfigError(f"g_min_s={g_min_s!r} must be below g_max_s={g_max_s!r}")
    if np.any(np.abs(w) > w_max * (1 + 1e-12)) or not np.all(np.isfinite(w)):
        raise ConfigError(f"weights span [{w.min()!r}, {w.max()!r}], outside [-w_max, w_max] "
                          f"= [-{w_max!r}, {w_max!r}]; clip them or raise w_max")
    scale = (g_max_s - g_min_s) / w_max
    return g_min_s + scale * np.clip(w, 0, w_max), g_min_s + scale * np.clip(-w, 0, w_max)


def conductances_to_weights(g_pos_s, g_neg_s, w_max: float, g_min_s: float, g_max_s: float
                            ) -> np.ndarray:
    """Differential pair -> signed weights: ``w = w_max (G+ - G-)/(G_max - G_min)``."""
    if not w_max > 0 or not g_min_s < g_max_s:
        raise ConfigError("need w_max > 0 and g_min_s < g_max_s")
    return w_max * (np.asarray(g_pos_s, dtype=float) - np.asarray(g_neg_s, dtype=float)) \
        / (g_max_s - g_min_s)


def weight_update_pulses(dw, w_max: float, params: ProgrammingParams,
                         scheme: UpdateScheme = "single_side") -> tuple[np.ndarray, np.ndarray]:
    """Signed pulse counts (n+, n-) for the G+ and G- devices that realise ``dw``.

    A weight change ``dw`` is ``round(|dw|/w_max * pulses_ltp)`` pulse steps: one
    device spans w in [0, w_max] with ``pulses_ltp`` pulses (NeuroSim likewise
    truncates the normalised update to whole pulses).

    ``single_side``: dw > 0 potentiates G+, dw < 0 potentiates G- (LTP only).
    ``push_pull``: dw > 0 potentiates G+ and depresses G-, dw < 0 the reverse; each side
    takes half the steps (rounded), so the pair moves by about the same amount.
    """
    if scheme not in UPDATE_SCHEMES:
        raise ConfigError(f"unknown update scheme {scheme!r}; choose one of {UPDATE_SCHEMES}")
    dw = np.asarray(dw, dtype=float)
    if scheme == "push_pull" and dw.size and np.isfinite(dw).all():
        from cosim.devices.pulse_kernels import push_pull_pulses

        n_pos, n_neg = np.empty(dw.shape, np.int64), np.empty(dw.shape, np.int64)
        push_pull_pulses(np.ascontiguousarray(dw).reshape(-1), float(w_max),
                         float(params.pulses_ltp), n_pos.reshape(-1), n_neg.reshape(-1))
        return n_pos, n_neg
    steps = np.rint(np.abs(dw) / w_max * params.pulses_ltp).astype(np.int64)
    sign = np.sign(dw).astype(np.int64)
    if scheme == "single_side":
        n_pos = np.where(sign > 0, steps, 0)
        n_neg = np.where(sign < 0, steps, 0)
        return n_pos, n_neg
    half = (steps + 1) // 2
    rest = steps - half
    n_pos = np.where(sign > 0, half, -rest)
    n_neg = np.where(sign > 0, -rest, half)
    return np.where(sign == 0, 0, n_pos), np.where(sign == 0, 0, n_neg)


# --------------------------------------------------------------------------- array state
@dataclass(frozen=True)
class ArrayState:
    """Device state of a signed-weight array: the differential conductances and faults.

    Attributes
    ----------
    g_pos_s, g_neg_s : ndarray, shape (out, in)
        Conductances (S) of the G+ and G- devices.
    stuck_on_pos, stuck_off_pos, stuck_on_neg, stuck_off_neg : ndarray of bool
        Fault masks of the G+ and G- devices.
    spread_pos, spread_neg : DeviceSpread or None
        Per-device parameters (device-to-device variation), or None for nominal devices.
    """

    g_pos_s: np.ndarray
    g_neg_s: np.ndarray
    stuck_on_pos: np.ndarray
    stuck_off_pos: np.ndarray
    stuck_on_neg: np.ndarray
    stuck_off_neg: np.ndarray
    spread_pos: DeviceSpread | None = None
    spread_neg: DeviceSpread | None = None

    @staticmethod
    def from_weights(w, w_max: float, params: ProgrammingParams,
                     rng: np.random.Generator | None = None, *, quantized: bool = False
                     ) -> ArrayState:
        """Program weights ``w`` (ideal target conductances, optionally quantized to
        ``params.n_levels``), drawing d2d spread and faults from ``rng`` when the
        parameters ask for them; faulty devices take their stuck value."""
        w = np.asarray(w, dtype=float)
        g_pos, g_neg = weights_to_conductances(w, w_max, params.g_min_s, params.g_max_s)
        if quantized:
            g_pos = quantize(g_pos, params.n_levels, params.g_min_s, params.g_max_s)
            g_neg = quantize(g_neg, params.n_levels, params.g_min_s, params.g_max_s)
        need_rng = params.d2d_sigma_frac > 0 or params.p_stuck_on > 0 or params.p_stuck_off > 0
        if need_rng and rng is None:
            raise ConfigError("device variation or faults are on: pass "
                              "rng=numpy.random.default_rng(seed)")
        spread_pos = spread_neg = None
        if params.d2d_sigma_frac > 0:
            spread_pos = sample_d2d(w.shape, params, rng)
            spread_neg = sample_d2d(w.shape, params, rng)
            g_pos = np.clip(g_pos, spread_pos.g_min_s, spread_pos.g_max_s)
            g_neg = np.clip(g_neg, spread_neg.g_min_s, spread_neg.g_max_s)
        if params.p_stuck_on > 0 or params.p_stuck_off > 0:
            on_p, off_p = fault_masks(w.shape, params.p_stuck_on, params.p_stuck_off, rng)
            on_n, off_n = fault_masks(w.shape, params.p_stuck_on, params.p_stuck_off, rng)
        else:
            on_p = off_p = on_n = off_n = np.zeros(w.shape, dtype=bool)
        state = ArrayState(g_pos, g_neg, on_p, off_p, on_n, off_n, spread_pos, spread_neg)
        return state.with_faults_at(params)

    def with_faults_at(self, params: ProgrammingParams) -> ArrayState:
        """This state with stuck devices at their nominal/per-device G_max or G_min."""
        def limits(spread):
            if spread is None:
                return params.g_min_s, params.g_max_s
            return spread.g_min_s, spread.g_max_s
        lo_p, hi_p = limits(self.spread_pos)
        lo_n, hi_n = limits(self.spread_neg)
        return replace(
            self,
            g_pos_s=apply_faults(self.g_pos_s, self.stuck_on_pos, self.stuck_off_pos, lo_p, hi_p),
            g_neg_s=apply_faults(self.g_neg_s, self.stuck_on_neg, self.stuck_off_neg, lo_n, hi_n))

    def weights(self, w_max: float, params: ProgrammingParams) -> np.ndarray:
        """Signed weights the devices hold: w_max (G+ - G-)/(G_max - G_min) (nominal)."""
        return conductances_to_weights(self.g_pos_s, self.g_neg_s, w_max, params.g_min_s,
                                       params.g_max_s)

    def apply_pulses(self, n_pos, n_neg, params: ProgrammingParams,
                     rng: np.random.Generator | None = None) -> ArrayState:
        """New state after signed pulse counts on the G+ and G- devices; stuck devices
        do not move."""
        kp = {} if self.spread_pos is None else self.spread_pos.kwargs()
        kn = {} if self.spread_neg is None else self.spread_neg.kwargs()
        gp = apply_pulses(self.g_pos_s, n_pos, params, rng=rng, **kp)
        gn = apply_pulses(self.g_neg_s, n_neg, params, rng=rng, **kn)
        return replace(self, g_pos_s=gp, g_neg_s=gn).with_faults_at(params)

    def read(self, params: ProgrammingParams, rng: np.random.Generator | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Noisy read of (G+, G-) with ``params.read_noise_sigma_frac``."""
        s = params.read_noise_sigma_frac
        return read_conductance(self.g_pos_s, s, rng), read_conductance(self.g_neg_s, s, rng)
