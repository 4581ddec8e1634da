"""Input checks at the boundary of the optical domain.

Every public function of :mod:`cosim.optics` calls these on its arguments so that a bad
value fails with a message naming the argument, the valid range and the fix.
"""

from __future__ import annotations

import numpy as np

from cosim.errors import ConfigError


def finite_array(name: str, value, *, dtype=float) -> np.ndarray:
    """``value`` as a numpy array of ``dtype``; raise if it is not numeric or not finite."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be numeric (got {value!r}); pass a number or "
                          "an array of numbers") from exc
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"{name} contains non-finite values (nan or inf); pass finite "
                          "numbers")
    return arr


def in_range(name: str, value, lo: float | None, hi: float | None, *, unit: str = "",
             lo_open: bool = False, hi_open: bool = False, fix: str = "") -> np.ndarray:
    """Finite array with every element in [lo, hi] (or open bounds); raise otherwise."""
    arr = finite_array(name, value)
    bad = np.zeros(arr.shape, dtype=bool)
    if lo is not None:
        bad |= (arr <= lo) if lo_open else (arr < lo)
    if hi is not None:
        bad |= (arr >= hi) if hi_open else (arr > hi)
    if np.any(bad):
        worst = arr[bad].flat[0]
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        msg = (f"{name} = {worst!r} {unit}".rstrip() + f" is outside the valid range "
               f"{left}{lo_s}, {hi_s}{right}")
        raise ConfigError(msg + (f"; {fix}" if fix else ""))
    return arr


def positive(name: str, value, *, unit: str = "", fix: str = "") -> np.ndarray:
    """Finite array of strictly positive values."""
    return in_range(name, value, 0.0, None, unit=unit, lo_open=True, fix=fix)


def non_negative(name: str, value, *, unit: str = "", fix: str = "") -> np.ndarray:
    """Finite array of values >= 0."""
    return in_range(name, value, 0.0, None, unit=unit, fix=fix)


def positive_int(name: str, value, *, minimum: int = 1) -> int:
    """A Python int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum} (got {value!r})")
    return int(value)


def shape_is(name: str, arr: np.ndarray, shape: tuple, fix: str = "") -> None:
    """Raise if ``arr.shape`` differs from ``shape`` (``None`` entries match any size)."""
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ConfigError(f"{name} has shape {arr.shape}, expected {want}"
                          + (f"; {fix}" if fix else ""))


def check_rng(rng) -> np.random.Generator:
    """``rng`` must be a numpy Generator (no global random state)."""
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"rng must be a numpy.random.Generator (got {type(rng).__name__}); "
                          "create one with numpy.random.default_rng(seed)")
    return rng
