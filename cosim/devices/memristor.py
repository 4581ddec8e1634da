"""Memristor models: the numpy twins of the subcircuits in ``netlists/memristors.lib``.

Each model is a pair of pure functions of the applied voltage ``v`` (V, across the
device, positive at port ``p``), the normalised state ``x`` (dimensionless) and the
model's keyword parameters (SI units):

* ``current(v, x, **params)`` -> device current (A), flowing p -> n for v > 0;
* ``dxdt(v, x, **params)``    -> state derivative (1/s).

They are the *same* equations as the behavioural subcircuits (same smoothing of sign
steps, same window-noise bias, same state-node leak), so an ngspice transient of a
subcircuit and :func:`simulate` of its twin agree to integration accuracy; that is a
tested property (tests/devices/test_memristor_models.py).  :func:`simulate_batch` integrates
many devices at once (per-device drives, initial states and parameters); see the
"Choice of integrator" comment below for the scheme and why.

Models (registry :data:`MEMRISTOR_MODELS`, chosen by name):

``linear_joglekar``
    Linear ion drift, Strukov et al., Nature 453:80 (2008); Joglekar window
    (Joglekar & Wolf, Eur. J. Phys. 30:661, 2009)::

        I     = V / (R_on x + R_off (1 - x))
        dx/dt = mu_v R_on / D^2 * I * [1 - (2x - 1)^(2p) + b_w (theta(V)(1 - x) + theta(-V) x)]
              - (x - x0) / R_leak

    ``b_w`` (``window_bias``) is a small bias toward the interior: it vanishes at the
    boundary the drive pushes toward, so the state cannot stick at 0 or 1 (the
    "terminal state problem"; the Technion Verilog-A code uses ``p_window_noise`` for
    the same purpose).
``linear_biolek``
    Linear ion drift with the Biolek window (Biolek et al., Radioengineering 18(2),
    2009)::

        dx/dt = mu_v R_on / D^2 * I * [1 - (x - theta(-V))^(2p)] - (x - x0) / R_leak
``vteam``
    VTEAM, Kvatinsky et al., IEEE TCAS-II 62(8):786 (2015), with the state normalised
    as x = w/D (x = 0 is ON)::

        I     = V / (R_on + (R_off - R_on) x)
        dx/dt = k_off/D (V/v_off - 1)^a_off (1 - x^(2p))      V > v_off > 0
              + k_on/D  (V/v_on  - 1)^a_on  (1 - (1 - x)^(2p))  V < v_on < 0
              - (x - x0) / R_leak

    The polynomial window (exponent ``p``) replaces the hard clamp of x to [0, 1] used
    by MemTorch's VTEAM, so that SPICE sees smooth equations.
``yakopcic``
    Yakopcic et al., IEEE EDL 32(10):1436 (2011); IEEE TCAD 32(8):1201 (2013)::

        I     = a1 x sinh(b V) (V >= 0),  a2 x sinh(b V) (V < 0)
        g(V)  = A_p (e^V - e^V_p) (V > V_p);  -A_n (e^-V - e^V_n) (V < -V_n);  0 otherwise
        f(x)  = eta V >= 0:  x >= x_p ? exp(-alpha_p (x - x_p)) ((x_p - x)/(1 - x_p) + 1) : 1
                eta V <  0:  x <= 1 - x_n ? exp(alpha_n (x + x_n - 1)) x / (1 - x_n) : 1
        dx/dt = eta g(V) f(x) - (x - x0) / R_leak

Here ``theta(V) = (1 + tanh(V / v_smooth_v)) / 2`` is the smooth unit step used in both
forms, and ``R_leak`` (``r_leak_ohm``, 1e12) is the state-node leak of the subcircuit
(a 1 F capacitor holds x, so the leak time constant is 1e12 s).

Default parameters are the published sets of ``devices/memristor_<name>.toml``; use
:func:`params_from_card` to read one (with its provenance) and pass it as keywords.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace
from typing import Any

import numpy as np

from cosim.errors import ConfigError

ArrayLike = float | np.ndarray

# --------------------------------------------------------------------------- kernels
#
# Each model's state equation is written once, as a *kernel factory*
# ``factory(ops, **params) -> (drive, rate)`` with dx/dt = rate(drive(v), x):
# ``drive(v)`` (always numpy) returns the list of voltage-only factors (gates, smooth
# steps), so an integrator computes them for all stage voltages of a step, or of the
# whole time grid, in one vectorised call; ``rate`` is the state-dependent rest, on
# numpy arrays (ops = _NP, per-device parameter arrays allowed) or on Python floats
# (ops = _PY, math functions: ten times less overhead per call, which is what makes the
# single-device integrator fast).  Constants are folded once per factory call.


_NP = SimpleNamespace(exp=np.exp, where=np.where)
"""Elementary functions on numpy arrays."""


def _py_where(cond: bool, a: float, b: float) -> float:
    return a if cond else b


_PY = SimpleNamespace(exp=math.exp, where=_py_where)
"""Elementary functions on Python floats (single device)."""


# --------------------------------------------------------------------------- linear drift


def _linear_current(v, x, *, r_on_ohm, r_off_ohm, **_):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    return v / (r_on_ohm * x + r_off_ohm * (1.0 - x))


def _joglekar_rate(ops, *, r_on_ohm, r_off_ohm, d_m, mu_v_m2_per_v_s, p, window_bias,
                   v_smooth_v, r_leak_ohm, x0):
    k = mu_v_m2_per_v_s * r_on_ohm / d_m**2
    dr = r_on_ohm - r_off_ohm

    def drive(v):
        th = 0.5 * (1.0 + np.tanh(v / v_smooth_v))
        # k v;  bias = window_bias (th (1 - x) + (1 - th) x) = b_th + b_x x
        return [k * v, window_bias * th, window_bias * (1.0 - 2.0 * th)]

    def rate(d, x):
        kv, b_th, b_x = d
        u = 2.0 * x - 1.0
        return kv / (r_off_ohm + dr * x) * (1.0 - (u * u) ** p + b_th + b_x * x) \
            - (x - x0) / r_leak_ohm
    return drive, rate


def _biolek_rate(ops, *, r_on_ohm, r_off_ohm, d_m, mu_v_m2_per_v_s, p, v_smooth_v,
                 r_leak_ohm, x0):
    k = mu_v_m2_per_v_s * r_on_ohm / d_m**2
    dr = r_on_ohm - r_off_ohm

    def drive(v):
        step_neg = 1.0 - 0.5 * (1.0 + np.tanh(v / v_smooth_v))  # stp(-i): i, v same sign
        return [k * v, step_neg]

    def rate(d, x):
        kv, step_neg = d
        u = x - step_neg
        return kv / (r_off_ohm + dr * x) * (1.0 - (u * u) ** p) - (x - x0) / r_leak_ohm
    return drive, rate


def _check_linear(pr: Mapping[str, Any]) -> None:
    _require(pr, "r_on_ohm", pr["r_on_ohm"] > 0, "> 0")
    _require(pr, "r_off_ohm", pr["r_off_ohm"] > pr["r_on_ohm"], "> r_on_ohm")
    _require(pr, "d_m", pr["d_m"] > 0, "> 0")
    _require(pr, "mu_v_m2_per_v_s", pr["mu_v_m2_per_v_s"] > 0, "> 0")
    _require(pr, "p", pr["p"] >= 1, ">= 1")
    _require(pr, "v_smooth_v", pr["v_smooth_v"] > 0, "> 0")


def _check_joglekar(pr: Mapping[str, Any]) -> None:
    _check_linear(pr)
    wb = pr["window_bias"]
    _require(pr, "window_bias", (wb >= 0) & (wb <= 0.1), "in [0, 0.1]")


# --------------------------------------------------------------------------- VTEAM


def _vteam_current(v, x, *, r_on_ohm, r_off_ohm, **_):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    return v / (r_on_ohm + (r_off_ohm - r_on_ohm) * x)


def _vteam_rate(ops, *, r_on_ohm, r_off_ohm, d_m, k_on_m_per_s, k_off_m_per_s, alpha_on,
                alpha_off, v_on_v, v_off_v, p, r_leak_ohm, x0):
    c_off = k_off_m_per_s / d_m
    c_on = k_on_m_per_s / d_m

    def drive(v):
        return [c_off * np.maximum(v / v_off_v - 1.0, 0.0) ** alpha_off,
                c_on * np.maximum(v / v_on_v - 1.0, 0.0) ** alpha_on]

    def rate(d, x):
        g_off, g_on = d
        y = 1.0 - x
        return g_off * (1.0 - (x * x) ** p) + g_on * (1.0 - (y * y) ** p) \
            - (x - x0) / r_leak_ohm
    return drive, rate


def _check_vteam(pr: Mapping[str, Any]) -> None:
    _require(pr, "r_on_ohm", pr["r_on_ohm"] > 0, "> 0")
    _require(pr, "r_off_ohm", pr["r_off_ohm"] > pr["r_on_ohm"], "> r_on_ohm")
    _require(pr, "d_m", pr["d_m"] > 0, "> 0")
    _require(pr, "k_on_m_per_s", pr["k_on_m_per_s"] < 0, "< 0 (ON switching lowers x)")
    _require(pr, "k_off_m_per_s", pr["k_off_m_per_s"] > 0, "> 0")
    _require(pr, "alpha_on", pr["alpha_on"] >= 1, ">= 1")
    _require(pr, "alpha_off", pr["alpha_off"] >= 1, ">= 1")
    _require(pr, "v_on_v", pr["v_on_v"] < 0, "< 0")
    _require(pr, "v_off_v", pr["v_off_v"] > 0, "> 0")
    _require(pr, "p", pr["p"] >= 1, ">= 1")


# --------------------------------------------------------------------------- Yakopcic


def _yakopcic_current(v, x, *, a1_a, a2_a, b_per_v, **_):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    return np.where(v >= 0, a1_a, a2_a) * x * np.sinh(b_per_v * v)


def _yakopcic_rate(ops, *, a1_a, a2_a, b_per_v, v_p_v, v_n_v, a_p_per_s, a_n_per_s, x_p,
                   x_n, alpha_p, alpha_n, eta, r_leak_ohm, x0):
    exp, where = ops.exp, ops.where
    e_p = np.exp(v_p_v)
    e_n = np.exp(v_n_v)

    def drive(v):
        g = a_p_per_s * np.maximum(np.exp(v) - e_p, 0.0) \
            - a_n_per_s * np.maximum(np.exp(-v) - e_n, 0.0)
        return [eta * g, np.where(eta * v >= 0, 1.0, 0.0)]   # eta g(V); 1 where eta V >= 0

    def rate(d, x):
        eta_g, positive = d
        f_pos = where(x >= x_p, exp(-alpha_p * (x - x_p)) * ((x_p - x) / (1 - x_p) + 1), 1.0)
        f_neg = where(x <= 1 - x_n, exp(alpha_n * (x + x_n - 1)) * x / (1 - x_n), 1.0)
        return eta_g * where(positive, f_pos, f_neg) - (x - x0) / r_leak_ohm
    return drive, rate


def _check_yakopcic(pr: Mapping[str, Any]) -> None:
    for k in ("a1_a", "a2_a", "b_per_v", "a_p_per_s", "a_n_per_s"):
        _require(pr, k, pr[k] > 0, "> 0")
    _require(pr, "v_p_v", pr["v_p_v"] >= 0, ">= 0")
    _require(pr, "v_n_v", pr["v_n_v"] >= 0, ">= 0")
    _require(pr, "x_p", (pr["x_p"] >= 0) & (pr["x_p"] < 1), "in [0, 1)")
    _require(pr, "x_n", (pr["x_n"] >= 0) & (pr["x_n"] < 1), "in [0, 1)")
    _require(pr, "alpha_p", pr["alpha_p"] >= 0, ">= 0")
    _require(pr, "alpha_n", pr["alpha_n"] >= 0, ">= 0")
    _require(pr, "eta", (pr["eta"] == 1) | (pr["eta"] == -1), "+1 or -1")


# --------------------------------------------------------------------------- registry


def _require(pr: Mapping[str, Any], key: str, ok: Any, rule: str) -> None:
    ok = np.asarray(ok)
    if ok.all():
        return
    value = pr[key]
    where = ""
    if ok.ndim:
        bad = int(np.flatnonzero(~ok)[0])
        value = np.broadcast_to(np.asarray(value), ok.shape)[bad]
        where = f" (device {bad})"
    raise ConfigError(f"memristor parameter {key}={float(value)!r}{where} is out of range: "
                      f"it must be {rule}; fix the value (card or keyword argument)")


@dataclass(frozen=True)
class MemristorModel:
    """One memristor model: its equations, default parameters and subcircuit name.

    Attributes
    ----------
    name : str
        Registry name (``"vteam"``).
    subckt : str
        Subcircuit in ``netlists/memristors.lib`` (``"memristor_vteam"``); its ``params:``
        have the same names and defaults as :attr:`defaults`.
    card : str
        Shipped device card with the published parameter set (``"memristor_vteam"``).
    defaults : Mapping[str, float]
        Default parameters (SI units), equal to the card's and the subcircuit's.
    x_meaning : str
        What x = 0 and x = 1 mean for this model.
    reference : str
        The paper the equations come from.
    """

    name: str
    subckt: str
    card: str
    defaults: Mapping[str, float]
    x_meaning: str
    reference: str
    _current: Callable[..., Any] = field(repr=False)
    _rate: Callable[..., tuple[Callable, Callable]] = field(repr=False)
    _check: Callable[[Mapping[str, Any]], None] = field(repr=False)

    def _dxdt(self, v: ArrayLike, x: ArrayLike, **params: Any) -> np.ndarray:
        """dx/dt (1/s) on numpy arrays with already validated ``params`` (no checks)."""
        drive, rate = self._rate(_NP, **params)
        return np.asarray(rate(drive(np.asarray(v, dtype=float)), np.asarray(x, dtype=float)))

    def _validate(self, merged: Mapping[str, Any]) -> None:
        x0 = merged["x0"]
        _require(merged, "x0", (x0 >= 0.0) & (x0 <= 1.0), "in [0, 1]")
        _require(merged, "r_leak_ohm", merged["r_leak_ohm"] >= 1e6, ">= 1e6 ohm")
        self._check(merged)

    def _unknown(self, overrides: Mapping[str, Any]) -> None:
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ConfigError(f"memristor model {self.name!r} has no parameter(s) "
                              f"{sorted(unknown)}; valid: {sorted(self.defaults)}")

    def params(self, **overrides: float) -> dict[str, float]:
        """Defaults merged with ``overrides``, validated (ConfigError on a bad value)."""
        self._unknown(overrides)
        merged = dict(self.defaults)
        for k, v in overrides.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(float(v)):
                raise ConfigError(f"memristor parameter {k}={v!r} must be a finite number")
            merged[k] = float(v)
        self._validate(merged)
        return merged

    def params_batch(self, n_devices: int, **overrides: Any) -> dict[str, float | np.ndarray]:
        """Defaults merged with per-device ``overrides``, validated element-wise.

        Parameters
        ----------
        n_devices : int
            Number of devices.
        **overrides : float or array_like, shape (n_devices,)
            A scalar applies to every device; an array gives one value per device.

        Returns
        -------
        dict
            Scalars as float, per-device values as float arrays of shape (n_devices,).
        """
        self._unknown(overrides)
        merged: dict[str, float | np.ndarray] = dict(self.defaults)
        for k, v in overrides.items():
            try:
                a = np.asarray(v)
                bad_type = a.dtype == bool or not np.issubdtype(a.dtype, np.number)
                a = a.astype(float)
            except (TypeError, ValueError):
                bad_type = True
            if bad_type or not np.all(np.isfinite(a)):
                raise ConfigError(f"memristor parameter {k}={v!r} must be finite number(s)")
            if a.ndim == 0:
                merged[k] = float(a)
            elif a.shape == (n_devices,):
                merged[k] = a.copy()
            else:
                raise ConfigError(f"memristor parameter {k} has shape {a.shape}; give a "
                                  f"scalar or one value per device, shape ({n_devices},)")
        self._validate(merged)
        return merged

    def current(self, v: ArrayLike, x: ArrayLike, **params: float) -> np.ndarray:
        """Device current (A) at voltage ``v`` (V) and state ``x`` (broadcast shapes)."""
        return self._current(v, x, **self.params(**params))

    def dxdt(self, v: ArrayLike, x: ArrayLike, **params: float) -> np.ndarray:
        """State derivative dx/dt (1/s) at voltage ``v`` (V) and state ``x``."""
        return self._dxdt(v, x, **self.params(**params))

    def conductance(self, x: ArrayLike, v_read_v: float = 0.1, **params: float) -> np.ndarray:
        """Chord conductance I(v_read, x)/v_read (S) at a read voltage ``v_read_v`` (V)."""
        if not v_read_v:
            raise ConfigError("v_read_v must be non-zero to define a chord conductance")
        return self.current(v_read_v, x, **params) / v_read_v


_COMMON = {"r_leak_ohm": 1e12}

MEMRISTOR_MODELS: Mapping[str, MemristorModel] = MappingProxyType({
    "linear_joglekar": MemristorModel(
        name="linear_joglekar", subckt="memristor_linear_joglekar",
        card="memristor_linear_joglekar",
        defaults=MappingProxyType({
            "r_on_ohm": 100.0, "r_off_ohm": 16e3, "d_m": 10e-9, "mu_v_m2_per_v_s": 1e-14,
            "p": 1.0, "window_bias": 1e-3, "v_smooth_v": 1e-3, **_COMMON,
            "x0": (16e3 - 11e3) / (16e3 - 100.0)}),
        x_meaning="x = w/D; x = 1 ON (R_on), x = 0 OFF (R_off); positive current raises x",
        reference="Strukov et al., Nature 453:80 (2008); Joglekar & Wolf, Eur. J. Phys. "
                  "30:661 (2009)",
        _current=_linear_current, _rate=_joglekar_rate, _check=_check_joglekar),
    "linear_biolek": MemristorModel(
        name="linear_biolek", subckt="memristor_linear_biolek", card="memristor_linear_biolek",
        defaults=MappingProxyType({
            "r_on_ohm": 100.0, "r_off_ohm": 1e3, "d_m": 16e-9, "mu_v_m2_per_v_s": 40e-15,
            "p": 7.0, "v_smooth_v": 1e-3, **_COMMON, "x0": 0.076}),
        x_meaning="x = w/D; x = 1 ON (R_on), x = 0 OFF (R_off); positive current raises x",
        reference="Strukov et al., Nature 453:80 (2008); Biolek et al., Radioengineering "
                  "18(2):210 (2009)",
        _current=_linear_current, _rate=_biolek_rate, _check=_check_linear),
    "vteam": MemristorModel(
        name="vteam", subckt="memristor_vteam", card="memristor_vteam",
        defaults=MappingProxyType({
            "r_on_ohm": 50.0, "r_off_ohm": 1e3, "d_m": 3e-9, "k_on_m_per_s": -10.0,
            "k_off_m_per_s": 5e-4, "alpha_on": 3.0, "alpha_off": 1.0, "v_on_v": -0.2,
            "v_off_v": 0.02, "p": 10.0, **_COMMON, "x0": 0.0}),
        x_meaning="x = w/D; x = 0 ON (R_on), x = 1 OFF (R_off); V > v_off raises x",
        reference="Kvatinsky et al., IEEE TCAS-II 62(8):786 (2015)",
        _current=_vteam_current, _rate=_vteam_rate, _check=_check_vteam),
    "yakopcic": MemristorModel(
        name="yakopcic", subckt="memristor_yakopcic", card="memristor_yakopcic",
        defaults=MappingProxyType({
            "a1_a": 0.17, "a2_a": 0.17, "b_per_v": 0.05, "v_p_v": 0.16, "v_n_v": 0.15,
            "a_p_per_s": 4000.0, "a_n_per_s": 4000.0, "x_p": 0.3, "x_n": 0.5,
            "alpha_p": 1.0, "alpha_n": 5.0, "eta": 1.0, **_COMMON, "x0": 0.11}),
        x_meaning="x in [0, 1]; current a x sinh(bV), x = 1 most conductive; V > V_p "
                  "raises x (eta = 1)",
        reference="Yakopcic et al., IEEE EDL 32(10):1436 (2011); IEEE TCAD 32(8):1201 "
                  "(2013)",
        _current=_yakopcic_current, _rate=_yakopcic_rate, _check=_check_yakopcic),
})
"""Memristor models by name: ``linear_joglekar``, ``linear_biolek``, ``vteam``,
``yakopcic``."""


def get_model(model: str | MemristorModel) -> MemristorModel:
    """The registered model called ``model`` (or ``model`` itself if already one)."""
    if isinstance(model, MemristorModel):
        return model
    try:
        return MEMRISTOR_MODELS[model]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown memristor model {model!r}; choose one of "
                          f"{sorted(MEMRISTOR_MODELS)}") from None


def params_from_card(card: Any, model: str | MemristorModel | None = None) -> dict[str, float]:
    """Model keyword parameters from a device card.

    Parameters
    ----------
    card : cosim.devices.Card or str or path
        A loaded card, or a card name / TOML path for :func:`cosim.devices.load_card`.
    model : str or MemristorModel, optional
        The model; by default the card's ``[card] model`` (e.g. ``"memristor_vteam"``).

    Returns
    -------
    dict
        The card's values of the model's parameters (other card entries, such as the
        bench drive settings ``bench_*``, are left out), validated.
    """
    from cosim.devices.cards import Card, load_card

    if not isinstance(card, Card):
        card = load_card(card, kind=None if model is None else get_model(model).card)
    if model is None:
        if not card.model:
            raise ConfigError(f"card {card.name!r} names no model; pass model=... "
                              f"(one of {sorted(MEMRISTOR_MODELS)})")
        name = card.model.removeprefix("memristor_")
        model = get_model(name)
    model = get_model(model)
    values = {k: v for k, v in card.values.items() if k in model.defaults}
    return model.params(**values)


def bench_drive_from_card(card: Any) -> tuple[float, float]:
    """(amplitude_v, frequency_hz) of the sinusoidal test bench stored in a card."""
    from cosim.devices.cards import Card, load_card

    if not isinstance(card, Card):
        card = load_card(card)
    return float(card["bench_amplitude_v"]), float(card["bench_frequency_hz"])

# --------------------------------------------------------------------------- integrator
#
# Choice of integrator (both simulate and simulate_batch).  The state ODE is integrated
# interval by interval on the output grid t_s, with the explicit Dormand-Prince 5(4)
# pair (the tableau of scipy's RK45) and 2**j equal substeps per interval:
#
# * stepping on the grid means a sampled drive is piecewise linear *within* each step
#   (its corners are step boundaries, as SPICE breakpoints are for a PWL source), no
#   interpolation of x is needed for the output, and a switching event cannot be
#   stepped over: every step samples the drive at 7 points of its interval, including
#   both ends;
# * the substep count is chosen per device and per interval: at least as many as keep
#   the state change per substep below _DX_MAX = 0.05 at the rate |dx/dt| at the start
#   of the interval (so a switching event is split from the first try), at least
#   h / max_step_s, and refined by the embedded error estimate: a device whose local
#   error on any substep exceeds atol + rtol * |x| redoes the interval with more
#   substeps (the count grows by the usual factor ratio**(1/5) / 0.9, rounded up to a
#   power of two); a comfortable margin lets the next interval start with half as many;
# * a 5th-order pair rather than RK4: its error estimate comes free (7 stages, the last
#   reused as the next step's first), and at 1000 points per drive period one substep
#   per interval already meets rtol 1e-9 for the smooth stretches;
# * where the drive pins the state against a window (VTEAM or Yakopcic held beyond
#   threshold for many output steps) the ODE becomes stiff: |df/dx| * h >> 1 and an
#   explicit method would need thousands of substeps for stability alone.  A device
#   that still fails with 2**_J_EXPLICIT = 64 substeps is integrated over that interval
#   by scipy's implicit Radau (L-stable, same tolerances; a diagonal Jacobian for a
#   batch, since devices are independent).  At the bench drives (1000 points per period)
#   this fallback is never needed.
#
# The single-device path runs the loop on Python floats (the rate kernels with math
# functions), the batch path on numpy arrays with per-device substep counts, grouped
# by count; both take the same decisions, so a batch agrees with per-device calls to
# rounding.

_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_C_ARR = np.array(_C)
_A21 = 1 / 5
_A31, _A32 = 3 / 40, 9 / 40
_A41, _A42, _A43 = 44 / 45, -56 / 15, 32 / 9
_A51, _A52, _A53, _A54 = 19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729
_A61, _A62, _A63, _A64, _A65 = 9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656
_B1, _B3, _B4, _B5, _B6 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
_E1, _E3, _E4, _E5, _E6, _E7 = (71 / 57600, -71 / 16695, 71 / 1920, -17253 / 339200,
                                22 / 525, -1 / 40)

_DX_MAX = 0.05
"""Largest state change per substep allowed by the rate criterion."""
_J_EXPLICIT = 6
"""log2 of the most explicit substeps per output interval before the Radau fallback."""
_SHRINK = (0.9 / 2) ** 5
"""Error ratio below which the next interval starts with half as many substeps."""


def _dp5_step(f, x, k1, vs, h):
    """One Dormand-Prince 5(4) step of ``dx/dt = f(v, x)`` (floats or arrays).

    ``k1 = f(vs[0], x)``; ``vs`` holds the drive factors at the 7 stage times
    ``t + c h``.
    Returns the 5th-order state, ``f`` at the end point (first stage of the next step)
    and the local error estimate (difference to the embedded 4th-order solution).
    """
    k2 = f(vs[1], x + h * (_A21 * k1))
    k3 = f(vs[2], x + h * (_A31 * k1 + _A32 * k2))
    k4 = f(vs[3], x + h * (_A41 * k1 + _A42 * k2 + _A43 * k3))
    k5 = f(vs[4], x + h * (_A51 * k1 + _A52 * k2 + _A53 * k3 + _A54 * k4))
    k6 = f(vs[5], x + h * (_A61 * k1 + _A62 * k2 + _A63 * k3 + _A64 * k4 + _A65 * k5))
    x_new = x + h * (_B1 * k1 + _B3 * k3 + _B4 * k4 + _B5 * k5 + _B6 * k6)
    k7 = f(vs[6], x_new)
    err = h * (_E1 * k1 + _E3 * k3 + _E4 * k4 + _E5 * k5 + _E6 * k6 + _E7 * k7)
    return x_new, k7, err


def _grow(ratio: float) -> int:
    """log2 of the substep-count increase after a rejected try with error ``ratio``."""
    if not math.isfinite(ratio):
        return 2
    return max(1, math.ceil(math.log2(ratio ** 0.2 / 0.9)))


def _check_times(t_s: Any) -> np.ndarray:
    t = np.asarray(t_s, dtype=float)
    if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ConfigError("t_s must be a 1-D array of at least 2 strictly increasing finite "
                          "times in s")
    return t


def _check_tolerances(rtol: Any, atol: Any, max_step_s: Any) -> None:
    for name, val in (("rtol", rtol), ("atol", atol)):
        if isinstance(val, bool) or not isinstance(val, (int, float)) \
                or not (math.isfinite(val) and val > 0):
            raise ConfigError(f"{name}={val!r} must be a positive finite number")
    if max_step_s is not None and (isinstance(max_step_s, bool)
                                   or not isinstance(max_step_s, (int, float))
                                   or not max_step_s > 0):
        raise ConfigError(f"max_step_s={max_step_s!r} must be a positive time in s")


def _substep_floor(t: np.ndarray, max_step_s: float | None) -> np.ndarray:
    """Per interval, log2 of the fewest substeps that keep each one <= max_step_s."""
    h = np.diff(t)
    if max_step_s is None:
        return np.zeros(h.size, dtype=int)
    q = h / float(max_step_s)
    return np.where(q > 1, np.ceil(np.log2(np.maximum(q, 1.0))), 0).astype(int)


def _eval_drive(v_fun: Callable, times: np.ndarray) -> np.ndarray:
    """A drive function at an array of times: one vectorised call if ``v_fun`` accepts
    arrays (returns the same shape), else one call per time."""
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(v_fun(times), dtype=float)
        if out.shape != times.shape:
            raise ValueError
    except (TypeError, ValueError):
        out = np.array([float(v_fun(tt)) for tt in times.ravel()]).reshape(times.shape)
    if not np.all(np.isfinite(out)):
        raise ConfigError("the drive v_t(t) returned a non-finite voltage; it must give "
                          "finite voltages in V over the whole of t_s")
    return out


def _radau(drive: Callable, f_np: Callable, v_of_t: Callable, t_a: float, t_b: float,
           x_a: np.ndarray, rtol: float, atol: float, max_step: float, what: str
           ) -> np.ndarray:
    """Stiff fallback: scipy Radau over one interval for independent devices."""
    import scipy.sparse as sp
    from scipy.integrate import solve_ivp

    m = x_a.size
    sol = solve_ivp(lambda tt, y: np.broadcast_to(f_np(drive(v_of_t(tt)), y), y.shape),
                    (t_a, t_b), x_a, method="Radau", rtol=rtol, atol=atol,
                    max_step=max_step, jac_sparsity=sp.identity(m, format="csc") if m > 1
                    else None)
    if not sol.success or not np.all(np.isfinite(sol.y[:, -1])):
        raise RuntimeError(f"memristor {what}: stiff integration failed over "
                           f"[{t_a:.6g}, {t_b:.6g}] s ({sol.message})")
    return sol.y[:, -1]


def simulate(model: str | MemristorModel, t_s: np.ndarray,
             v_t: np.ndarray | Callable[[float], float], x0: float | None = None, *,
             rtol: float = 1e-9, atol: float = 1e-12, max_step_s: float | None = None,
             **params: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Integrate one device's state under a voltage drive.

    The state equation is the model's (module docstring), including the leak to
    ``x0``.  Integration: Dormand-Prince 5(4) on the output grid with adaptive
    substeps per interval and a Radau fallback where stiff (see the comment block
    "Choice of integrator" in this module); on the Python-float fast path.

    Parameters
    ----------
    model : str or MemristorModel
        Registry name or model.
    t_s : ndarray, shape (n,)
        Increasing output times (s); integration starts at ``t_s[0]`` from ``x0``.
    v_t : ndarray, shape (n,), or callable
        Device voltage (V): samples at ``t_s`` (linearly interpolated in between, as a
        SPICE PWL source does) or a function ``v(t)`` of time in s (e.g. the exact
        sinusoid of a SIN source).  A function is first called once with an array of
        all the times it is needed at; if it does not return an array of that shape
        (or raises TypeError/ValueError), it is called once per time.
    x0 : float, optional
        Initial state in [0, 1]; default the model's (card's) ``x0``.  It is also the
        reference of the state-node leak, as in the subcircuit.
    rtol, atol : float
        Local error tolerance per substep: ``|err| <= atol + rtol * |x|``.
    max_step_s : float, optional
        Largest substep (s); by default substeps are at most one output interval and
        set by the rate and the error estimate.
    **params
        Model parameters (defaults from the model).

    Returns
    -------
    i_t : ndarray, shape (n,)
        Device current (A) at ``t_s``.
    x_t : ndarray, shape (n,)
        State at ``t_s``.
    """
    m = get_model(model)
    if x0 is not None:
        params["x0"] = x0
    pr = m.params(**params)
    t = _check_times(t_s)
    _check_tolerances(rtol, atol, max_step_s)
    h_arr = np.diff(t)
    drive, f = m._rate(_PY, **pr)
    _, f_np = m._rate(_NP, **pr)

    def factors(v: np.ndarray) -> list:
        """Drive factors of voltages of shape (..., 7) as nested lists [...][stage]."""
        return np.stack(np.broadcast_arrays(*drive(v)), axis=-1).tolist()

    if callable(v_t):
        v_fun = v_t
        v_out = _eval_drive(v_fun, t)
        table = factors(_eval_drive(v_fun, t[:-1, None] + _C_ARR[None, :] * h_arr[:, None]))

        def substages(k: int, n: int) -> list:
            fr = (np.arange(n)[:, None] + _C_ARR[None, :]) / n
            return factors(_eval_drive(v_fun, t[k] + fr * h_arr[k]))

        def v_of_t(k: int) -> Callable[[float], float]:
            return lambda tt: float(v_fun(tt))
    else:
        v_out = np.asarray(v_t, dtype=float)
        if v_out.shape != t.shape or not np.all(np.isfinite(v_out)):
            raise ConfigError(f"v_t has shape {v_out.shape}; give finite voltages in V with "
                              f"the shape of t_s {t.shape} (or a callable v(t))")
        dv = np.diff(v_out)
        table = factors(v_out[:-1, None] + _C_ARR[None, :] * dv[:, None])

        def substages(k: int, n: int) -> list:
            fr = (np.arange(n)[:, None] + _C_ARR[None, :]) / n
            return factors(v_out[k] + fr * dv[k])

        def v_of_t(k: int) -> Callable[[float], float]:
            return lambda tt: v_out[k] + (tt - t[k]) / h_arr[k] * dv[k]

    x_t = _integrate_single(f, drive, f_np, t.tolist(), table, substages, v_of_t,
                            pr["x0"], float(rtol), float(atol),
                            _substep_floor(t, max_step_s).tolist(), max_step_s, m.name)
    with np.errstate(all="ignore"):
        i_t = np.asarray(m._current(v_out, x_t, **pr))
    return i_t, x_t


def _integrate_single(f, drive, f_np, t, table, substages, v_of_t, x0, rtol, atol, j_floor,
                      max_step_s, what) -> np.ndarray:
    """The float loop of :func:`simulate` (see "Choice of integrator")."""
    n_int = len(t) - 1
    xs = [x0] * (n_int + 1)
    x = x0
    k1 = f(table[0][0], x)
    j = 0
    errors = (OverflowError, ZeroDivisionError, ValueError)
    for k in range(n_int):
        h = t[k + 1] - t[k]
        q = h * abs(k1) / _DX_MAX
        if q > 1.0:
            j = max(j, math.ceil(math.log2(q)) if math.isfinite(q) else _J_EXPLICIT)
        j = max(j, j_floor[k])
        while True:
            if j > _J_EXPLICIT:
                ms = min(h, max_step_s) if max_step_s else h
                x = float(_radau(drive, f_np, v_of_t(k), t[k], t[k + 1], np.array([x]), rtol,
                                 atol, ms, what)[0])
                k1 = f(table[k][6], x)
                j = _J_EXPLICIT
                break
            n = 1 << j
            hs = h / n
            xi, ki, worst = x, k1, 0.0
            try:
                for vs in (table[k],) if n == 1 else substages(k, n):
                    xn, ki, e = _dp5_step(f, xi, ki, vs, hs)
                    r = abs(e) / (atol + rtol * max(abs(xi), abs(xn)))
                    if r > worst:
                        worst = r
                    elif r != r:
                        worst = math.inf
                    xi = xn
            except errors:
                worst = math.inf
            if worst <= 1.0:
                x, k1 = xi, ki
                if worst < _SHRINK and j > 0:
                    j -= 1
                break
            j += _grow(worst)
        xs[k + 1] = x
    return np.array(xs)


def simulate_batch(model: str | MemristorModel, t_s: np.ndarray, v_t: np.ndarray,
                   x0: float | np.ndarray | None = None, *, rtol: float = 1e-6,
                   atol: float = 1e-9, max_step_s: float | None = None,
                   **params: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integrate many independent devices at once (numpy, vectorised over devices).

    Same equations, integrator and step decisions as :func:`simulate`, taken per device
    (devices needing the same substep count are stepped together), so each column
    equals ``simulate`` of that device to rounding.

    Parameters
    ----------
    model : str or MemristorModel
        Registry name or model (one model for the whole batch).
    t_s : ndarray, shape (n_t,)
        Increasing output times (s), shared by all devices.
    v_t : ndarray, shape (n_t, n_devices) or (n_t,)
        Device voltages (V) sampled at ``t_s``, linear in between; a 1-D drive is
        applied to every device.
    x0 : float or ndarray, shape (n_devices,), optional
        Initial states in [0, 1] (and leak references); default the model's ``x0``.
    rtol, atol, max_step_s : float
        As in :func:`simulate`.  The default tolerances are looser than simulate's
        (1e-9, 1e-12): still 100 times tighter than the ngspice reference (reltol
        1e-4), and every kink of the equations (thresholds, window branches) crossed by
        some device costs extra substeps at tight tolerances.  Pass simulate's values
        to reproduce its results.
    **params : float or ndarray, shape (n_devices,)
        Model parameters, one value for all or one per device (device-to-device
        variability).

    Returns
    -------
    i_t : ndarray, shape (n_t, n_devices)
        Device currents (A).
    x_t : ndarray, shape (n_t, n_devices)
        States.

    The number of devices is the largest of v_t's second dimension, the size of
    ``x0`` and of the parameter arrays; all of them must be 1 (scalar) or that number.
    """
    m = get_model(model)
    t = _check_times(t_s)
    _check_tolerances(rtol, atol, max_step_s)
    v = np.asarray(v_t, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != t.size or not np.all(np.isfinite(v)):
        raise ConfigError(f"v_t has shape {np.shape(v_t)}; give finite voltages in V of "
                          f"shape (n_t, n_devices) or (n_t,) with n_t = {t.size}")
    if x0 is not None:
        params["x0"] = x0
    sizes = {v.shape[1]} | {int(np.size(a)) for a in params.values()}
    n_dev = max(sizes)
    if not sizes <= {1, n_dev}:
        raise ConfigError(f"simulate_batch: inconsistent numbers of devices {sorted(sizes)} "
                          f"in v_t (second axis), x0 and the parameter arrays")
    if v.shape[1] not in (1, n_dev):
        raise ConfigError(f"v_t has {v.shape[1]} columns for {n_dev} devices")
    params = {k: (np.ravel(a)[0] if np.ndim(a) and np.size(a) == 1 else a)
              for k, a in params.items()}
    pr = m.params_batch(n_dev, **params)
    x_start = np.broadcast_to(np.asarray(pr["x0"], dtype=float), (n_dev,)).copy()
    x_t = _integrate_batch(m, pr, t, v, x_start, float(rtol), float(atol),
                           _substep_floor(t, max_step_s), max_step_s)
    with np.errstate(all="ignore"):
        i_t = np.asarray(m._current(v, x_t, **pr))
    return np.broadcast_to(i_t, x_t.shape).copy(), x_t


def _subset(pr: Mapping[str, Any], sel: np.ndarray) -> dict[str, Any]:
    return {k: (a[sel] if isinstance(a, np.ndarray) else a) for k, a in pr.items()}


def _integrate_batch(m: MemristorModel, pr: Mapping[str, Any], t: np.ndarray, v: np.ndarray,
                     x0: np.ndarray, rtol: float, atol: float, j_floor: np.ndarray,
                     max_step_s: float | None) -> np.ndarray:
    """The numpy loop of :func:`simulate_batch` (see "Choice of integrator").

    Per interval, devices are grouped by their substep exponent j; the common case (one
    group holding every device) runs without any indexing.
    """
    n_t, n_dev = t.size, x0.size
    shared_v = v.shape[1] == 1
    all_dev = np.arange(n_dev)
    kernel_all = m._rate(_NP, **pr)
    out = np.empty((n_t, n_dev))
    out[0] = x0
    x = x0.copy()
    with np.errstate(all="ignore"):
        k1 = np.broadcast_to(kernel_all[1](kernel_all[0](v[0]), x), (n_dev,)).copy()
    j_dev = np.zeros(n_dev, dtype=int)
    stage_c = _C_ARR[:, None]
    for k in range(n_t - 1):
        t_k = float(t[k])
        h = float(t[k + 1]) - t_k
        vk, dv = v[k], v[k + 1] - v[k]
        with np.errstate(all="ignore"):
            q = (h / _DX_MAX) * np.abs(k1)
            if not q.max() <= 1.0:   # also catches NaN
                j_rate = np.where(np.isfinite(q), np.ceil(np.log2(np.maximum(q, 1.0))),
                                  _J_EXPLICIT).astype(int)
                j_dev = np.maximum(j_dev, np.where(q > 1.0, j_rate, 0))
        if j_floor[k]:
            j_dev = np.maximum(j_dev, j_floor[k])
        pending, j_pend = all_dev, j_dev.copy()
        while pending.size:
            next_sel, next_j = [], []
            j_lo, j_hi = int(j_pend.min()), int(j_pend.max())
            groups = [j_lo] if j_lo == j_hi else [int(j) for j in np.unique(j_pend)]
            for j in groups:
                whole = pending.size == n_dev and j_lo == j_hi
                sel = all_dev if whole else pending[j_pend == j]
                drive, f = kernel_all if whole else m._rate(_NP, **_subset(pr, sel))
                vk_s = vk if shared_v or whole else vk[sel]
                dv_s = dv if shared_v or whole else dv[sel]
                if j > _J_EXPLICIT:
                    ms = min(h, max_step_s) if max_step_s else h
                    # the loop's values bound now (the drive is only used inside _radau)
                    def v_of(tt, vk_s=vk_s, dv_s=dv_s, t_k=t_k, h=h):
                        return vk_s + (tt - t_k) / h * dv_s
                    x[sel] = _radau(drive, f, v_of, t_k, float(t[k + 1]), x[sel], rtol, atol,
                                    ms, m.name)
                    with np.errstate(all="ignore"):
                        k1[sel] = np.broadcast_to(f(drive(vk_s + 1.0 * dv_s), x[sel]),
                                                  (sel.size,))
                    j_dev[sel] = _J_EXPLICIT
                    continue
                n = 1 << j
                hs = h / n
                xi = x if whole else x[sel]
                ki = k1 if whole else k1[sel]
                worst = None
                with np.errstate(all="ignore"):
                    for s in range(n):
                        fac = drive(vk_s + ((s + stage_c) / n) * dv_s)
                        vs = [[a[c] if np.ndim(a) else a for a in fac] for c in range(7)]
                        xn, ki, e = _dp5_step(f, xi, ki, vs, hs)
                        r = np.abs(e) / (atol + rtol * np.maximum(np.abs(xi), np.abs(xn)))
                        r = np.where(np.isnan(r), np.inf, r)
                        worst = r if worst is None else np.maximum(worst, r)
                        xi = xn
                ki = np.broadcast_to(ki, (sel.size,))
                ok = worst <= 1.0
                if ok.all():
                    if whole:
                        x, k1 = xi.copy(), ki.copy()
                    else:
                        x[sel], k1[sel] = xi, ki
                    if j > 0:
                        j_dev[sel] = np.where(worst < _SHRINK, j - 1, j)
                    else:
                        j_dev[sel] = 0
                    continue
                acc = sel[ok]
                x[acc] = xi[ok]
                k1[acc] = ki[ok]
                j_dev[acc] = np.where((worst[ok] < _SHRINK) & (j > 0), j - 1, j)
                w = worst[~ok]
                with np.errstate(all="ignore"):
                    g = np.where(np.isfinite(w), np.maximum(
                        1, np.ceil(np.log2(w ** 0.2 / 0.9))), 2).astype(int)
                next_sel.append(sel[~ok])
                next_j.append(j + g)
            pending = np.concatenate(next_sel) if next_sel else all_dev[:0]
            j_pend = np.concatenate(next_j) if next_j else j_dev[:0]
        out[k + 1] = x
    return out


def bench_circuit(model: str | MemristorModel, amplitude_v: float | None = None,
                  frequency_hz: float | None = None, cycles: int = 2,
                  points_per_period: int = 1000, **params: float):
    """Sinusoidal-drive test bench of one memristor (a :class:`cosim.netlist.Circuit`).

    Circuit: ``V1 in 0 SIN(0 amplitude_v frequency_hz)`` and ``XM1 in 0 <subckt>`` with
    every model parameter written on the instance line (so the netlist does not depend
    on the library defaults).  Device current = ``-I(V1)``; state = ``V(xm1.x)``.
    Analysis: ``.tran`` over ``cycles`` periods with output step and TMAX of one
    ``points_per_period``-th of a period, ``uic`` (the state starts at ``x0``), and
    ``.options method=gear reltol=1e-4``.

    Parameters
    ----------
    model : str or MemristorModel
        Registry name.
    amplitude_v, frequency_hz : float, optional
        Drive amplitude (V) and frequency (Hz); default the card's ``bench_*`` values.
    cycles : int
        Number of drive periods (>= 1).
    points_per_period : int
        Time resolution (>= 50).
    **params
        Model parameters (defaults: the model's published set).
    """
    from cosim.netlist import Circuit, Sine, SubcircuitInstance, Tran, VoltageSource

    m = get_model(model)
    if amplitude_v is None or frequency_hz is None:
        a_card, f_card = bench_drive_from_card(m.card)
        amplitude_v = a_card if amplitude_v is None else amplitude_v
        frequency_hz = f_card if frequency_hz is None else frequency_hz
    if not (isinstance(amplitude_v, (int, float)) and math.isfinite(amplitude_v)
            and amplitude_v > 0):
        raise ConfigError(f"amplitude_v={amplitude_v!r} must be a positive number of volts")
    if not (isinstance(frequency_hz, (int, float)) and math.isfinite(frequency_hz)
            and frequency_hz > 0):
        raise ConfigError(f"frequency_hz={frequency_hz!r} must be a positive number of Hz")
    if int(cycles) != cycles or not 1 <= cycles <= 10000:
        raise ConfigError(f"cycles={cycles!r} must be an integer in [1, 10000]")
    if int(points_per_period) != points_per_period or points_per_period < 50:
        raise ConfigError(f"points_per_period={points_per_period!r} must be an integer >= 50")
    pr = m.params(**params)
    period = 1.0 / frequency_hz
    c = Circuit(f"memristor bench {m.name} {amplitude_v:g} V {frequency_hz:g} Hz "
                f"{int(cycles)} cycles")
    c.include("memristors.lib")
    c.add(VoltageSource("V1", "in", "0", 0.0, None, Sine(0.0, float(amplitude_v),
                                                        float(frequency_hz))),
          SubcircuitInstance("XM1", ("in", "0"), m.subckt, dict(pr)))
    c.options["method"] = "gear"
    c.options["reltol"] = 1e-4
    dt = period / int(points_per_period)
    c.analyses.append(Tran(dt, int(cycles) * period, max_step_s=dt, uic=True))
    return c
