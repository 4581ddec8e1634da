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

A parameter whose unit is in :data:`PHYSICAL_RANGES` must be one finite number (not a
string such as ``"80k"``, a bool or a list) inside the range stated there for its unit:
the bounds of what an on-chip device can physically be, wider than any model's range,
so that a typo (``1e30`` W) is refused when the card is loaded rather than producing
nonsense later.

A card is named either by a shipped card's name (``"optics"``: ``devices/optics.toml``;
letters, digits, ``_``, ``-`` and ``.`` only, so a name cannot leave ``devices/``) or by
the path of a ``.toml`` file.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cosim.errors import CardError
from cosim.resources import data_dir

_PARAM_KEYS = {"value", "unit", "source", "assumption", "min", "max", "note"}
_CARD_KEYS = {"name", "description", "model", "valid_range"}
_CARD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

#: Unit -> (lowest, highest, why): the physical range of any card value in that unit.
#: Deliberately wide (every shipped card is far inside); a card's own min/max narrow it
#: to where its model is valid.
PHYSICAL_RANGES: dict[str, tuple[float, float, str]] = {
    "ohm": (0.0, 1e15, "a resistance is >= 0 and below 1 Pohm (an insulator)"),
    "S": (0.0, 1e6, "a conductance is >= 0 and below 1 MS"),
    "F": (0.0, 1e-3, "an on-chip capacitance is >= 0 and below 1 mF"),
    "W": (0.0, 10.0, "an optical or electrical power per device is >= 0 and below 10 W"),
    "A": (-10.0, 10.0, "an on-chip current is below 10 A in magnitude"),
    "V": (-1e3, 1e3, "an on-chip voltage is below 1 kV in magnitude"),
    "Hz": (0.0, 1e16, "a frequency is >= 0 and below 10 PHz (optical is ~2e14 Hz)"),
    "K": (0.0, 2000.0, "a device temperature is between 0 K and 2000 K"),
    "m": (0.0, 1.0, "an on-chip length is >= 0 and below 1 m"),
    "m^2": (0.0, 1.0, "an on-chip area is >= 0 and below 1 m^2"),
    "J": (0.0, 1.0, "an energy per operation is >= 0 and below 1 J"),
    "s": (0.0, 1e6, "a device time is >= 0 and below 1e6 s"),
    "A/W": (0.0, 2.0, ("a photodiode responsivity is >= 0 and below 2 A/W (the quantum "
                       "limit at 1550 nm is 1.25 A/W)")),
    "dB": (-200.0, 200.0, "a gain or loss is below 200 dB in magnitude"),
    "dB/m": (0.0, 1e6, "a propagation loss is >= 0 and below 1e6 dB/m"),
    "dB/Hz": (-250.0, 0.0, "a relative intensity noise is between -250 and 0 dB/Hz"),
    "rad/W": (0.0, 1e7, "a heater efficiency is >= 0 and below 1e7 rad/W"),
    "A/sqrt(Hz)": (0.0, 1e-3, "a noise current density is >= 0 and below 1 mA/sqrt(Hz)"),
    "V/sqrt(Hz)": (0.0, 1e-3, "a noise voltage density is >= 0 and below 1 mV/sqrt(Hz)"),
}


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
    physical = PHYSICAL_RANGES.get(p.unit)
    if physical is not None:
        lo, hi, why = physical
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CardError(f"{where}: value {v!r} must be one number in {p.unit} (SI, "
                            f"no prefixes or quotes: e.g. 80e3, not \"80k\")")
        if math.isfinite(v) and not lo <= v <= hi:
            raise CardError(f"{where}: value {v!r} {p.unit} is outside the physical range "
                            f"[{lo:g}, {hi:g}] {p.unit} ({why}); fix the value")
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
    from cosim.paths import read_user_text

    p = Path(name_or_path)
    if p.suffix != ".toml":
        name = str(name_or_path)
        if not _CARD_NAME.fullmatch(name):
            raise CardError(f"device card name {name!r} is not a card name (letters, "
                            f"digits, _ - . only, so it stays in devices/); give a shipped "
                            f"card ({', '.join(list_cards())}) or the path of a .toml file")
        p = data_dir("devices") / f"{name}.toml"
        if not p.is_file():
            raise CardError(f"no shipped device card {name_or_path!r}; available: "
                            f"{', '.join(list_cards())}")
    elif not p.exists():
        raise CardError(f"device card file {p} does not exist")
    return parse_card(read_user_text(p, "device card"), origin=str(p), path=p)


def list_cards() -> list[str]:
    """Names of the shipped device cards."""
    return sorted(p.stem for p in data_dir("devices").glob("*.toml"))
