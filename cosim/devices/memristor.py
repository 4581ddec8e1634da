"""Memristor models: the numpy twins of the subcircuits in ``netlists/memristors.lib``.

Each model is a pair of pure functions of the applied voltage ``v`` (V, across the
device, positive at port ``p``), the normalised state ``x`` (dimensionless) and the
model's keyword parameters (SI units):

* ``current(v, x, **params)`` -> device current (A), flowing p -> n for v > 0;
* ``dxdt(v, x, **params)``    -> state derivative (1/s).

They are the *same* equations as the behavioural subcircuits (same smoothing of sign
steps, same window-noise bias, same state-node leak), so an ngspice transient of a
subcircuit and :func:`simulate` of its twin agree to integration accuracy; that is a
tested property (tests/test_memristor_models.py).

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
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

from cosim.errors import ConfigError

ArrayLike = float | np.ndarray

# --------------------------------------------------------------------------- helpers


def _theta(v: ArrayLike, v_smooth_v: float) -> ArrayLike:
    """Smooth unit step 0.5 (1 + tanh(v / v_smooth_v)), as in memristors.lib."""
    return 0.5 * (1.0 + np.tanh(np.asarray(v) / v_smooth_v))


def _leak(x: ArrayLike, x0: float, r_leak_ohm: float) -> ArrayLike:
    """State-node leak of the subcircuit: -(x - x0)/R_leak through a 1 F capacitor."""
    return -(np.asarray(x) - x0) / r_leak_ohm


# --------------------------------------------------------------------------- linear drift


def _linear_current(v, x, *, r_on_ohm, r_off_ohm, **_):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    return v / (r_on_ohm * x + r_off_ohm * (1.0 - x))


def _joglekar_dxdt(v, x, *, r_on_ohm, r_off_ohm, d_m, mu_v_m2_per_v_s, p, window_bias,
                   v_smooth_v, r_leak_ohm, x0):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    i = _linear_current(v, x, r_on_ohm=r_on_ohm, r_off_ohm=r_off_ohm)
    window = 1.0 - ((2.0 * x - 1.0) ** 2) ** p
    th = _theta(v, v_smooth_v)
    bias = window_bias * (th * (1.0 - x) + (1.0 - th) * x)
    return mu_v_m2_per_v_s * r_on_ohm / d_m**2 * i * (window + bias) + _leak(x, x0, r_leak_ohm)


def _biolek_dxdt(v, x, *, r_on_ohm, r_off_ohm, d_m, mu_v_m2_per_v_s, p, v_smooth_v,
                 r_leak_ohm, x0):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    i = _linear_current(v, x, r_on_ohm=r_on_ohm, r_off_ohm=r_off_ohm)
    step_neg = 1.0 - _theta(v, v_smooth_v)  # stp(-i): i and v have the same sign
    window = 1.0 - ((x - step_neg) ** 2) ** p
    return mu_v_m2_per_v_s * r_on_ohm / d_m**2 * i * window + _leak(x, x0, r_leak_ohm)


def _check_linear(pr: Mapping[str, float]) -> None:
    _require(pr, "r_on_ohm", pr["r_on_ohm"] > 0, "> 0")
    _require(pr, "r_off_ohm", pr["r_off_ohm"] > pr["r_on_ohm"], "> r_on_ohm")
    _require(pr, "d_m", pr["d_m"] > 0, "> 0")
    _require(pr, "mu_v_m2_per_v_s", pr["mu_v_m2_per_v_s"] > 0, "> 0")
    _require(pr, "p", pr["p"] >= 1, ">= 1")
    _require(pr, "v_smooth_v", pr["v_smooth_v"] > 0, "> 0")


def _check_joglekar(pr: Mapping[str, float]) -> None:
    _check_linear(pr)
    _require(pr, "window_bias", 0 <= pr["window_bias"] <= 0.1, "in [0, 0.1]")


# --------------------------------------------------------------------------- VTEAM


def _vteam_current(v, x, *, r_on_ohm, r_off_ohm, **_):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    return v / (r_on_ohm + (r_off_ohm - r_on_ohm) * x)


def _vteam_dxdt(v, x, *, r_on_ohm, r_off_ohm, d_m, k_on_m_per_s, k_off_m_per_s, alpha_on,
                alpha_off, v_on_v, v_off_v, p, r_leak_ohm, x0):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    off = k_off_m_per_s / d_m * np.maximum(v / v_off_v - 1.0, 0.0) ** alpha_off \
        * (1.0 - (x * x) ** p)
    on = k_on_m_per_s / d_m * np.maximum(v / v_on_v - 1.0, 0.0) ** alpha_on \
        * (1.0 - ((1.0 - x) ** 2) ** p)
    return off + on + _leak(x, x0, r_leak_ohm)


def _check_vteam(pr: Mapping[str, float]) -> None:
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


def _yakopcic_dxdt(v, x, *, a1_a, a2_a, b_per_v, v_p_v, v_n_v, a_p_per_s, a_n_per_s, x_p,
                   x_n, alpha_p, alpha_n, eta, r_leak_ohm, x0):
    v = np.asarray(v, dtype=float)
    x = np.asarray(x, dtype=float)
    g = a_p_per_s * np.maximum(np.exp(v) - math.exp(v_p_v), 0.0) \
        - a_n_per_s * np.maximum(np.exp(-v) - math.exp(v_n_v), 0.0)
    f_pos = np.where(x >= x_p, np.exp(-alpha_p * (x - x_p)) * ((x_p - x) / (1 - x_p) + 1), 1.0)
    f_neg = np.where(x <= 1 - x_n, np.exp(alpha_n * (x + x_n - 1)) * x / (1 - x_n), 1.0)
    f = np.where(eta * v >= 0, f_pos, f_neg)
    return eta * g * f + _leak(x, x0, r_leak_ohm)


def _check_yakopcic(pr: Mapping[str, float]) -> None:
    for k in ("a1_a", "a2_a", "b_per_v", "a_p_per_s", "a_n_per_s"):
        _require(pr, k, pr[k] > 0, "> 0")
    _require(pr, "v_p_v", pr["v_p_v"] >= 0, ">= 0")
    _require(pr, "v_n_v", pr["v_n_v"] >= 0, ">= 0")
    _require(pr, "x_p", 0 <= pr["x_p"] < 1, "in [0, 1)")
    _require(pr, "x_n", 0 <= pr["x_n"] < 1, "in [0, 1)")
    _require(pr, "alpha_p", pr["alpha_p"] >= 0, ">= 0")
    _require(pr, "alpha_n", pr["alpha_n"] >= 0, ">= 0")
    _require(pr, "eta", pr["eta"] in (1, -1), "+1 or -1")


# --------------------------------------------------------------------------- registry


def _require(pr: Mapping[str, float], key: str, ok: bool, rule: str) -> None:
    if not ok:
        raise ConfigError(f"memristor parameter {key}={pr[key]!r} is out of range: it must "
                          f"be {rule}; fix the value (card or keyword argument)")


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
    _dxdt: Callable[..., Any] = field(repr=False)
    _check: Callable[[Mapping[str, float]], None] = field(repr=False)

    def params(self, **overrides: float) -> dict[str, float]:
        """Defaults merged with ``overrides``, validated (ConfigError on a bad value)."""
        unknown = set(overrides) - set(self.defaults)
        if unknown:
            raise ConfigError(f"memristor model {self.name!r} has no parameter(s) "
                              f"{sorted(unknown)}; valid: {sorted(self.defaults)}")
        merged = dict(self.defaults)
        for k, v in overrides.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(float(v)):
                raise ConfigError(f"memristor parameter {k}={v!r} must be a finite number")
            merged[k] = float(v)
        _require(merged, "x0", 0.0 <= merged["x0"] <= 1.0, "in [0, 1]")
        _require(merged, "r_leak_ohm", merged["r_leak_ohm"] >= 1e6, ">= 1e6 ohm")
        self._check(merged)
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
        _current=_linear_current, _dxdt=_joglekar_dxdt, _check=_check_joglekar),
    "linear_biolek": MemristorModel(
        name="linear_biolek", subckt="memristor_linear_biolek", card="memristor_linear_biolek",
        defaults=MappingProxyType({
            "r_on_ohm": 100.0, "r_off_ohm": 1e3, "d_m": 16e-9, "mu_v_m2_per_v_s": 40e-15,
            "p": 7.0, "v_smooth_v": 1e-3, **_COMMON, "x0": 0.076}),
        x_meaning="x = w/D; x = 1 ON (R_on), x = 0 OFF (R_off); positive current raises x",
        reference="Strukov et al., Nature 453:80 (2008); Biolek et al., Radioengineering "
                  "18(2):210 (2009)",
        _current=_linear_current, _dxdt=_biolek_dxdt, _check=_check_linear),
    "vteam": MemristorModel(
        name="vteam", subckt="memristor_vteam", card="memristor_vteam",
        defaults=MappingProxyType({
            "r_on_ohm": 50.0, "r_off_ohm": 1e3, "d_m": 3e-9, "k_on_m_per_s": -10.0,
            "k_off_m_per_s": 5e-4, "alpha_on": 3.0, "alpha_off": 1.0, "v_on_v": -0.2,
            "v_off_v": 0.02, "p": 10.0, **_COMMON, "x0": 0.0}),
        x_meaning="x = w/D; x = 0 ON (R_on), x = 1 OFF (R_off); V > v_off raises x",
        reference="Kvatinsky et al., IEEE TCAS-II 62(8):786 (2015)",
        _current=_vteam_current, _dxdt=_vteam_dxdt, _check=_check_vteam),
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
        _current=_yakopcic_current, _dxdt=_yakopcic_dxdt, _check=_check_yakopcic),
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
        card = load_card(card)
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


def simulate(model: str | MemristorModel, t_s: np.ndarray,
             v_t: np.ndarray | Callable[[float], float], x0: float | None = None, *,
             rtol: float = 1e-9, atol: float = 1e-12, max_step_s: float | None = None,
             **params: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Integrate a model's state under a voltage drive.

    Parameters
    ----------
    model : str or MemristorModel
        Registry name or model.
    t_s : ndarray, shape (n,)
        Increasing output times (s); integration starts at ``t_s[0]`` from ``x0``.
    v_t : ndarray, shape (n,), or callable
        Device voltage (V): samples at ``t_s`` (linearly interpolated in between, as a
        SPICE PWL source does) or a function ``v(t)`` of time in s (e.g. the exact
        sinusoid of a SIN source).
    x0 : float, optional
        Initial state in [0, 1]; default the model's (card's) ``x0``.  It is also the
        reference of the state-node leak, as in the subcircuit.
    rtol, atol : float
        Tolerances of the implicit integrator (scipy ``solve_ivp``, Radau, which copes
        with the stiff switching of VTEAM and Yakopcic).
    max_step_s : float, optional
        Largest integration step (s); default the mean spacing of ``t_s`` (the smallest
        spacing for sampled ``v_t``).  Without a bound the integrator can step over a
        whole sub-threshold stretch and miss a switching event.
    **params
        Model parameters (defaults from the model).

    Returns
    -------
    i_t : ndarray, shape (n,)
        Device current (A) at ``t_s``.
    x_t : ndarray, shape (n,)
        State at ``t_s``.
    """
    from scipy.integrate import solve_ivp

    m = get_model(model)
    if x0 is not None:
        params["x0"] = x0
    pr = m.params(**params)
    t = np.asarray(t_s, dtype=float)
    if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ConfigError("t_s must be a 1-D array of at least 2 strictly increasing finite "
                          "times in s")
    if callable(v_t):
        vfun = v_t
        max_step = float((t[-1] - t[0]) / (t.size - 1))
    else:
        v_arr = np.asarray(v_t, dtype=float)
        if v_arr.shape != t.shape or not np.all(np.isfinite(v_arr)):
            raise ConfigError(f"v_t has shape {v_arr.shape}; give finite voltages in V with "
                              f"the shape of t_s {t.shape} (or a callable v(t))")

        def vfun(tt: float) -> float:
            return float(np.interp(tt, t, v_arr))
        max_step = float(np.min(np.diff(t)))

    def rhs(tt: float, y: np.ndarray) -> np.ndarray:
        return np.atleast_1d(m._dxdt(vfun(tt), y[0], **pr))

    if max_step_s is not None:
        if not (isinstance(max_step_s, (int, float)) and max_step_s > 0):
            raise ConfigError(f"max_step_s={max_step_s!r} must be a positive time in s")
        max_step = float(max_step_s)
    sol = solve_ivp(rhs, (t[0], t[-1]), [pr["x0"]], method="Radau", t_eval=t, rtol=rtol,
                    atol=atol, max_step=max_step)
    if not sol.success:
        raise RuntimeError(f"memristor {m.name}: integration failed ({sol.message})")
    x_t = sol.y[0]
    v_s = np.array([vfun(tt) for tt in t])
    return np.asarray(m._current(v_s, x_t, **pr)), x_t


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
