"""Device cards: TOML files in which every parameter carries its unit and provenance.

A card looks like this::

    [card]
    name = "mrr_default"
    description = "Silicon add-drop microring, 220 x 500 nm strip waveguide"

    [params.radius_m]
    value = 10e-6
    unit = "m"
    source = "Bogaerts et al., Laser Photonics Rev. 6(1), 2012 (typical value)"

    [params.heater_efficiency_rad_per_w]
    value = 0.2e3
    unit = "rad/W"
    assumption = "no primary figure found; order of magnitude of thermo-optic heaters"

Every parameter has ``value`` (a finite number, a string, a bool or a list of numbers),
``unit`` (SI, or "1" for dimensionless) and exactly one of ``source`` (a citation) or
``assumption`` (why the value was chosen without one).  Unknown keys are rejected.
Optional ``min``/``max`` give the range in which the model is valid.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim.errors import CardError
from cosim.resources import data_dir

_PARAM_KEYS = {"value", "unit", "source", "assumption", "min", "max", "note"}
_CARD_KEYS = {"name", "description", "model", "valid_range"}


@dataclass(frozen=True)
class Parameter:
    """One card parameter: value in SI units plus where it comes from."""

    name: str
    value: Any
    unit: str
    source: str | None = None
    assumption: str | None = None
    min: float | None = None
    max: float | None = None
    note: str | None = None

    @property
    def is_assumption(self) -> bool:
        return self.assumption is not None

    @property
    def provenance(self) -> str:
        return self.source if self.source is not None else f"ASSUMPTION: {self.assumption}"


@dataclass(frozen=True)
class Card:
    """A parsed, validated device card."""

    name: str
    description: str
    params: dict[str, Parameter]
    path: Path | None = None
    model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, Any]:
        """Parameter values by name, ready to pass as keyword arguments to a model."""
        return {k: p.value for k, p in self.params.items()}

    def __getitem__(self, key: str) -> Any:
        try:
            return self.params[key].value
        except KeyError:
            raise CardError(
                f"card {self.name!r} ({self.path}) has no parameter {key!r}; "
                f"it has: {', '.join(sorted(self.params))}"
            ) from None

    def with_values(self, **overrides: Any) -> "Card":
        """A copy with some values replaced (provenance becomes 'user override')."""
        params = dict(self.params)
        for key, value in overrides.items():
            if key not in params:
                raise CardError(f"card {self.name!r} has no parameter {key!r} to override")
            old = params[key]
            new = Parameter(key, value, old.unit, None, "user override", old.min, old.max)
            _check_value(new, f"override of {self.name}.{key}")
            params[key] = new
        return Card(self.name, self.description, params, self.path, self.model, self.extra)


def _check_value(p: Parameter, where: str) -> None:
    v = p.value
    if isinstance(v, bool) or isinstance(v, str):
        return
    if isinstance(v, (int, float)):
        numbers = [v]
    elif isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                     for x in v):
        numbers = v
    else:
        raise CardError(f"{where}: value {v!r} must be a number, string, bool or list of numbers")
    for x in numbers:
        if not math.isfinite(x):
            raise CardError(f"{where}: value {x!r} is not finite; give a finite number in {p.unit}")
        if p.min is not None and x < p.min:
            raise CardError(f"{where}: value {x!r} {p.unit} is below the valid minimum {p.min}")
        if p.max is not None and x > p.max:
            raise CardError(f"{where}: value {x!r} {p.unit} is above the valid maximum {p.max}")


def parse_card(text: str, origin: str = "<string>", path: Path | None = None) -> Card:
    """Parse and validate card text; ``origin`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CardError(f"{origin}: not valid TOML ({exc}); fix the syntax") from exc
    head = data.get("card")
    if not isinstance(head, dict) or "name" not in head:
        raise CardError(f"{origin}: missing [card] table with a 'name'")
    unknown = set(head) - _CARD_KEYS
    if unknown:
        raise CardError(f"{origin}: unknown key(s) {sorted(unknown)} in [card]; "
                        f"allowed: {sorted(_CARD_KEYS)}")
    extra_tables = set(data) - {"card", "params"}
    if extra_tables:
        raise CardError(f"{origin}: unknown table(s) {sorted(extra_tables)}; "
                        "a card has only [card] and [params.*]")
    raw = data.get("params", {})
    if not isinstance(raw, dict) or not raw:
        raise CardError(f"{origin}: no [params.*] tables")
    params: dict[str, Parameter] = {}
    for name, entry in raw.items():
        where = f"{origin}: params.{name}"
        if not isinstance(entry, dict):
            raise CardError(f"{where}: must be a table with value, unit and source/assumption")
        unknown = set(entry) - _PARAM_KEYS
        if unknown:
            raise CardError(f"{where}: unknown key(s) {sorted(unknown)}; "
                            f"allowed: {sorted(_PARAM_KEYS)}")
        for key in ("value", "unit"):
            if key not in entry:
                raise CardError(f"{where}: missing '{key}'")
        has_src, has_ass = "source" in entry, "assumption" in entry
        if has_src == has_ass:
            raise CardError(f"{where}: needs exactly one of 'source' (a citation) or "
                            "'assumption' (why the value has none)")
        p = Parameter(name=name, **entry)
        _check_value(p, where)
        params[name] = p
    return Card(name=str(head["name"]), description=str(head.get("description", "")),
                params=params, path=path, model=head.get("model"),
                extra={k: v for k, v in head.items() if k == "valid_range"})


def load_card(name_or_path: str | Path) -> Card:
    """Load a shipped card by name (``"optics"`` -> devices/optics.toml) or any file."""
    p = Path(name_or_path)
    if p.suffix != ".toml":
        p = data_dir("devices") / f"{name_or_path}.toml"
        if not p.is_file():
            raise CardError(f"no shipped device card {name_or_path!r}; available: "
                            f"{', '.join(list_cards())}")
    elif not p.is_file():
        raise CardError(f"device card file {p} does not exist")
    return parse_card(p.read_text(encoding="utf-8"), origin=str(p), path=p)


def list_cards() -> list[str]:
    """Names of the shipped device cards."""
    return sorted(p.stem for p in data_dir("devices").glob("*.toml"))
