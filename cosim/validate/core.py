"""Registry of device-level validation checks and the runner.

A check is a function ``check(ctx) -> CheckResult`` registered under a unique name with
:func:`register`.  It compares one model of the package against an independent
reference (real ngspice through :mod:`cosim.spice`, a closed-form formula, a physical
bound or a published figure) and states its threshold and where the threshold comes
from.  Checks compute only; :mod:`cosim.report.validation` renders them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim.errors import CardError, ConfigError, CosimError


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one validation check.

    Attributes
    ----------
    name : str
        Registry name of the check.
    device : str
        Device (or device card) the check is about.
    passed : bool
        Whether ``value`` is within ``threshold`` (and every sub-condition held).
    value : float
        The measured figure (its meaning and unit are in ``details["metric"]``).
    threshold : float
        The limit ``value`` is compared with (same unit).
    threshold_source : str
        Where the threshold comes from (an issue's acceptance tolerance, a physical
        argument, a published specification).
    details : dict
        JSON-serialisable extra figures (str, float, int, bool, lists of them).
    arrays : dict of str -> ndarray
        Curves for the plots of the report (SI units, names carry the unit).
    """

    name: str
    device: str
    passed: bool
    value: float
    threshold: float
    threshold_source: str
    details: Mapping[str, Any] = field(default_factory=dict)
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    def summary(self) -> dict:
        """JSON-serialisable summary (no arrays)."""
        def clean(v):
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            if isinstance(v, (int, np.integer)):
                return int(v)
            if isinstance(v, (float, np.floating)):
                return float(v) if math.isfinite(v) else str(float(v))
            if isinstance(v, (list, tuple, np.ndarray)):
                return [clean(x) for x in v]
            if isinstance(v, Mapping):
                return {str(k): clean(x) for k, x in v.items()}
            return str(v)

        return {"name": self.name, "device": self.device, "passed": bool(self.passed),
                "value": clean(self.value), "threshold": clean(self.threshold),
                "threshold_source": self.threshold_source, "details": clean(self.details)}


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its function, device and one-line description."""

    name: str
    device: str
    description: str
    func: Callable[[CheckContext], CheckResult]


CHECKS: dict[str, CheckSpec] = {}
"""Registered checks by name, in registration order (the order of the report)."""


def register(name: str, device: str, description: str):
    """Decorator: register ``func(ctx) -> CheckResult`` as the check ``name``."""
    def deco(func):
        if name in CHECKS:
            raise ValueError(f"validation check {name!r} is registered twice")
        CHECKS[name] = CheckSpec(name, device, description, func)
        return func
    return deco


class CheckContext:
    """What a check may use: device cards (with overrides), a seeded rng, shared results.

    Parameters
    ----------
    card_overrides : mapping of str -> path
        Replace a shipped card (by name, e.g. ``"photodetector"``) with a TOML file.
    seed : int
        Seed of :attr:`rng` (each check gets a fresh Generator from this seed, so a
        check's result does not depend on which other checks ran).
    engine : cosim.spice.SpiceEngine, optional
        ngspice engine (default: the package's default engine).
    cache : cosim.store.ResultCache, optional
        HDF5 result cache for the readout characterization (default: the default cache).
    """

    def __init__(self, card_overrides: Mapping[str, str | Path] | None = None, seed: int = 0,
                 engine=None, cache=None) -> None:
        from cosim.devices import list_cards, load_card

        self.card_overrides = {k: Path(v) for k, v in (card_overrides or {}).items()}
        known = set(list_cards())
        for name, path in self.card_overrides.items():
            if name not in known:
                raise ConfigError(f"--card {name}={path}: no shipped card named {name!r}; "
                                  f"valid names: {sorted(known)}")
            if not path.is_file():
                raise ConfigError(f"--card {name}={path}: file does not exist")
            load_card(path, kind=name)  # a broken card is refused here, before any check
        self.seed = int(seed)
        self._engine = engine
        self.cache = cache
        self._memo: dict[str, Any] = {}

    @property
    def engine(self):
        if self._engine is None:
            from cosim.spice import default_engine

            self._engine = default_engine()
        return self._engine

    @property
    def rng(self) -> np.random.Generator:
        """A fresh Generator seeded with :attr:`seed`."""
        return np.random.default_rng(self.seed)

    def card(self, name: str):
        """The device card ``name``, or the file that overrides it."""
        from cosim.devices import load_card

        return load_card(self.card_overrides.get(name, name), kind=name)

    def card_origin(self, name: str) -> str:
        return str(self.card_overrides[name]) if name in self.card_overrides \
            else f"devices/{name}.toml"

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        """Compute ``make()`` once per context (shared by checks, e.g. one ngspice
        characterization read by several checks)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]


def list_checks() -> list[CheckSpec]:
    """Every registered check, in report order."""
    _load_all()
    return list(CHECKS.values())


def _load_all() -> None:
    # the modules register their checks on import
    import cosim.validate.converters  # noqa: F401
    import cosim.validate.crossbar  # noqa: F401
    import cosim.validate.memristor  # noqa: F401
    import cosim.validate.optics  # noqa: F401
    import cosim.validate.readout  # noqa: F401


def select_checks(only: Sequence[str] | None = None) -> list[CheckSpec]:
    """The checks ``only`` names (full names or prefixes), in report order; all of them
    when ``only`` is empty.  An unknown name is refused with the valid ones."""
    specs = list_checks()
    if not only:
        return specs
    chosen = []
    for key in only:
        hits = [s for s in specs if s.name == key or s.name.startswith(key)]
        if not hits:
            raise ConfigError(f"--only {key}: no validation check of that name or "
                              f"prefix; valid: {', '.join(s.name for s in specs)}")
        chosen.extend(h for h in hits if h not in chosen)
    return [s for s in specs if s in chosen]


def run_checks(card_overrides: Mapping[str, str | Path] | None = None,
               only: Sequence[str] | None = None, *, seed: int = 0, engine=None,
               cache=None, progress: Callable[[CheckResult], None] | None = None
               ) -> list[CheckResult]:
    """Run the registered checks and return their results (in registry order).

    Parameters
    ----------
    card_overrides : mapping of card name -> TOML path, optional
        Device cards to replace with files (to validate a modified device).
    only : sequence of str, optional
        Names of checks to run (each a full name or a prefix such as ``"memristor"``);
        default all.
    seed : int
        Seed of the random inputs (weights, conductances) of the checks.
    engine, cache
        ngspice engine and HDF5 result cache (defaults: the package's).
    progress : callable, optional
        Called with each result as it is done.

    Returns
    -------
    list of CheckResult
        A check that raises a project error (card values a model refuses, a failed
        ngspice run) gives a failed result whose details carry the error; it does not
        stop the other checks.  A malformed card (:class:`~cosim.errors.CardError`: an
        unknown parameter, a unit of the wrong dimension, a value outside its range) is
        raised: the cards given as overrides are loaded before any check runs.
    """
    specs = select_checks(only)
    ctx = CheckContext(card_overrides, seed, engine, cache)
    results = []
    for spec in specs:
        try:
            res = spec.func(ctx)
        except CardError:
            raise  # a broken card is the user's to fix (exit 2), not a failed check
        except (CosimError, ValueError) as exc:
            res = CheckResult(spec.name, spec.device, False, float("nan"), float("nan"),
                              "the check could not be evaluated",
                              {"error": f"{type(exc).__name__}: {exc}"})
        results.append(res)
        if progress is not None:
            progress(res)
    return results
