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
``unit`` and exactly one of ``source`` (a citation) or ``assumption`` (why the value was
chosen without one).  Unknown keys are rejected.  Optional ``min``/``max`` give the range
in which the model is valid, always in the parameter's SI unit (so that a copied card
keeps its range when only ``value`` and ``unit`` are changed).

Each card is of a *kind* (:data:`CARD_KINDS`: the TIA, the photodetector, the optics...),
named by the consumer that loads it (``load_card(path, kind="tia")``; a shipped card's
kind is known).  The kind's reference card (the first shipped card of the kind) fixes
which parameters a card of that kind may have and each one's SI unit.  A parameter that
is not one of them is refused, naming the closest valid name.  A ``unit`` other than the
parameter's SI unit is converted with pint when it has the same dimension (``"kohm"`` ->
ohm, ``"nm"`` -> m, ``"degC"`` -> K, ``"dB/cm"`` -> dB/m) and refused when it has not;
the loaded :class:`Parameter` holds the SI value and unit, and ``given`` keeps what the
card wrote.  A logarithmic unit other than a loss per length (``dB``, ``dB/Hz``) is not
converted: write it as the reference card does.

A parameter whose (SI) unit is in :data:`PHYSICAL_RANGES` must be one finite number (not a
string such as ``"80k"``, a bool or a list) inside the range stated there for its unit:
the bounds of what an on-chip device can physically be, wider than any model's range,
so that a typo (``1e30`` W) is refused when the card is loaded rather than producing
nonsense later.

A card is named either by a shipped card's name (``"optics"``: ``devices/optics.toml``;
letters, digits, ``_``, ``-`` and ``.`` only, so a name cannot leave ``devices/``) or by
the path of a ``.toml`` file.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
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

#: Card kind -> the shipped cards of that kind.  The first is the kind's reference: its
#: parameters, with their SI units, are the ones a card of the kind may have.  A consumer
#: loads a user's card with the kind it reads (``load_card(path, kind="tia")``).
CARD_KINDS: dict[str, tuple[str, ...]] = {
    "design": ("design_bplight", "design_ideal", "design_electronic", "design_photonic_mzi",
               "design_bplight_paper"),
    "converters": ("converters", "converters_paper"),
    "crossbar": ("crossbar",),
    "energy_workload": ("energy_workload",),
    "laser": ("laser", "laser_paper"),
    "link_driver": ("link_driver",),
    "memristor_linear_biolek": ("memristor_linear_biolek",),
    "memristor_linear_joglekar": ("memristor_linear_joglekar",),
    "memristor_vteam": ("memristor_vteam",),
    "memristor_yakopcic": ("memristor_yakopcic",),
    "mzi_mesh": ("mzi_mesh",),
    "optics": ("optics",),
    "photodetector": ("photodetector",),
    "rram_array": ("rram_array",),
    "tia": ("tia", "tia_bplight"),
    "weight_memristor_ode": ("weight_vteam",),
    "weight_neurosim": ("weight_rram_realdevice",),
}

#: What an SI unit of the cards measures, for messages.
_QUANTITIES: dict[str, str] = {
    "ohm": "a resistance", "S": "a conductance", "F": "a capacitance", "W": "a power",
    "A": "a current", "V": "a voltage", "Hz": "a frequency", "K": "a temperature",
    "m": "a length", "m^2": "an area", "J": "an energy", "s": "a time",
    "1": "a dimensionless number", "1/s": "a rate", "m/s": "a velocity",
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
    given: str | None = None  # value and unit as the card wrote them, if converted to SI

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
    kind: str | None = None

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

    def with_values(self, **overrides: Any) -> Card:
        """A copy with some values replaced (provenance becomes 'user override')."""
        params = dict(self.params)
        for key, value in overrides.items():
            if key not in params:
                close = difflib.get_close_matches(key, list(params), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else \
                    f"valid: {', '.join(sorted(params))}"
                raise CardError(f"card {self.name!r} has no parameter {key!r} to override; "
                                f"{hint}")
            old = params[key]
            new = Parameter(key, value, old.unit, None, "user override", old.min, old.max)
            _check_value(new, f"override of {self.name}.{key}")
            params[key] = new
        return replace(self, params=params)


def _check_value(p: Parameter, where: str) -> None:
    v = p.value
    given = f" (the card's {p.given})" if p.given else ""
    physical = PHYSICAL_RANGES.get(p.unit)
    if physical is not None:
        lo, hi, why = physical
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CardError(f"{where}: value {v!r} must be one number in {p.unit} (no "
                            f"quotes or suffixes: e.g. 80e3, not \"80k\"; a prefixed "
                            f"unit goes in 'unit', e.g. value = 80 with unit = \"kohm\")")
        if math.isfinite(v) and not lo <= v <= hi:
            raise CardError(f"{where}: value {v!r} {p.unit}{given} is outside the physical "
                            f"range [{lo:g}, {hi:g}] {p.unit} ({why}); fix the value")
    if isinstance(v, (bool, str)):
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
            raise CardError(f"{where}: value {x!r} {p.unit}{given} is below the valid "
                            f"minimum {p.min} {p.unit}")
        if p.max is not None and x > p.max:
            raise CardError(f"{where}: value {x!r} {p.unit}{given} is above the valid "
                            f"maximum {p.max} {p.unit}")


def parse_card(text: str, origin: str = "<string>", path: Path | None = None,
               kind: str | None = None) -> Card:
    """Parse and validate card text; ``origin`` names it in error messages.

    ``kind`` (a key of :data:`CARD_KINDS`, or a shipped card name standing for its kind)
    restricts the parameters to those of the kind and gives each one's SI unit, to which
    a card's other units are converted.  Without a kind, the names are not checked and a
    unit is converted to the SI unit its name has in the kinds, if any.
    """
    return _parse(text, origin, path, None if kind is None else _resolve_kind(kind))


def _parse(text: str, origin: str, path: Path | None, kind: str | None,  # noqa: C901 (one check per card rule)
           raw: bool = False) -> Card:
    """:func:`parse_card` with a resolved ``kind``; ``raw`` keeps every unit as written
    (for the reference cards, which define the SI units)."""
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
    raw_params = data.get("params", {})
    if not isinstance(raw_params, dict) or not raw_params:
        raise CardError(f"{origin}: no [params.*] tables")
    schema = None if raw or kind is None else _kind_units(kind)
    params: dict[str, Parameter] = {}
    for name, entry in raw_params.items():
        where = f"{origin}: params.{name}"
        if schema is not None and name not in schema:
            raise CardError(_unknown_parameter(where, name, kind, schema))
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
        if not isinstance(entry["unit"], str):
            raise CardError(f"{where}: unit {entry['unit']!r} must be a string, e.g. \"ohm\"")
        if not raw:
            si = schema[name] if schema is not None else _si_unit_of(name, entry["unit"], where)
            if entry["unit"] != si:
                entry = _entry_in_si(entry, si, name, where)
        p = Parameter(name=name, **entry)
        _check_value(p, where)
        params[name] = p
    return Card(name=str(head["name"]), description=str(head.get("description", "")),
                params=params, path=path, model=head.get("model"),
                extra={k: v for k, v in head.items() if k == "valid_range"}, kind=kind)


def load_card(name_or_path: str | Path, kind: str | None = None) -> Card:
    """Load a shipped card by name (``"optics"`` -> devices/optics.toml) or any file.

    ``kind`` is the kind of card the caller reads (a key of :data:`CARD_KINDS`, or a
    shipped card name standing for its kind, e.g. the default the caller would load):
    a card of another kind, a parameter the kind does not have or a unit of the wrong
    dimension is refused (:class:`~cosim.errors.CardError`).  A shipped card is checked
    against its own kind.
    """
    from cosim.paths import read_user_text

    want = None if kind is None else _resolve_kind(kind)
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
        own = card_kind(name)
        if want is not None and own != want:
            raise CardError(f"device card {name!r} is a {own} card, not a {want} card; give "
                            f"one of {', '.join(CARD_KINDS.get(want, (want,)))} or a .toml file")
        want = own
    elif not p.exists():
        raise CardError(f"device card file {p} does not exist")
    return _parse(read_user_text(p, "device card"), str(p), p, want)


def card_text(card: Card) -> str:
    """TOML text of ``card`` (its values in SI units, each with its unit, source or
    assumption and range): a file :func:`load_card` reads back to the same values."""
    import json

    def toml(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(toml(x) for x in v) + "]"
        return json.dumps(str(v))

    lines = ["[card]", f"name = {toml(card.name)}", f"description = {toml(card.description)}"]
    if card.model:
        lines.append(f"model = {toml(card.model)}")
    for name, p in card.params.items():
        lines += ["", f"[params.{name}]", f"value = {toml(p.value)}", f"unit = {toml(p.unit)}",
                  f"source = {toml(p.source)}" if p.source is not None else
                  f"assumption = {toml(p.assumption)}"]
        lines += [f"{k} = {toml(getattr(p, k))}" for k in ("min", "max", "note")
                  if getattr(p, k) is not None]
    return "\n".join(lines) + "\n"


def list_cards() -> list[str]:
    """Names of the shipped device cards."""
    return sorted(p.stem for p in data_dir("devices").glob("*.toml"))


def card_kind(name: str) -> str:
    """The kind (:data:`CARD_KINDS`) of the shipped card ``name``; a shipped card listed
    under no kind is a kind of its own."""
    for kind, names in CARD_KINDS.items():
        if name in names:
            return kind
    return name


def kind_parameters(kind: str) -> dict[str, str]:
    """Parameter name -> SI unit of the cards of ``kind`` (its reference card's)."""
    return dict(_kind_units(_resolve_kind(kind)))


# ----------------------------------------------------------------------------- kinds
def _resolve_kind(kind: str) -> str:
    if kind in CARD_KINDS:
        return kind
    if _CARD_NAME.fullmatch(kind) and (data_dir("devices") / f"{kind}.toml").is_file():
        return card_kind(kind)
    raise CardError(f"unknown device card kind {kind!r}; valid: {', '.join(CARD_KINDS)}")


def _reference_path(kind: str) -> Path:
    return data_dir("devices") / f"{CARD_KINDS.get(kind, (kind,))[0]}.toml"


@functools.cache
def _kind_units(kind: str) -> dict[str, str]:
    """Parameter name -> SI unit of ``kind``, read from its reference card."""
    path = _reference_path(kind)
    card = _parse(path.read_text(encoding="utf-8"), str(path), path, None, raw=True)
    return {n: p.unit for n, p in card.params.items()}


@functools.cache
def _all_units() -> tuple[dict[str, str], frozenset[str]]:
    """(name -> SI unit of the names that have one unit in every kind, every SI unit)."""
    seen: dict[str, set[str]] = {}
    for kind in CARD_KINDS:
        for name, unit in _kind_units(kind).items():
            seen.setdefault(name, set()).add(unit)
    by_name = {n: next(iter(u)) for n, u in seen.items() if len(u) == 1}
    units = frozenset(u for us in seen.values() for u in us) | frozenset(PHYSICAL_RANGES)
    return by_name, units


def _si_unit_of(name: str, unit: str, where: str) -> str:
    """SI unit of parameter ``name`` of a card of unknown kind (``unit`` as written)."""
    by_name, units = _all_units()
    if name in by_name:
        return by_name[name]
    if unit in units:
        return unit
    raise CardError(f"{where}: unit {unit!r} is not one of the SI units of the cards and "
                    f"the card's kind is not known, so it cannot be converted; write the "
                    f"value in SI ({', '.join(sorted(units))})")


def _unknown_parameter(where: str, name: str, kind: str, schema: dict[str, str]) -> str:
    ref = _reference_path(kind).name
    close = difflib.get_close_matches(name, list(schema), n=1, cutoff=0.6)
    if close:
        return (f"{where}: a {kind} card has no parameter {name!r}; did you mean "
                f"{close[0]!r}? (the parameters are those of devices/{ref})")
    return (f"{where}: a {kind} card has no parameter {name!r}; valid: "
            f"{', '.join(sorted(schema))} (those of devices/{ref})")


# ----------------------------------------------------------------------------- units
@functools.cache
def _registry():
    """pint's unit registry (imported here: ``import cosim`` stays light), with the two
    units of the cards pint lacks: ``LSB`` and a linear ``dB`` for losses per length."""
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=False)
    ureg.define("least_significant_bit = [lsb] = LSB")
    ureg.define("decibel_ratio = [log_ratio] = dB_ratio")
    return ureg


def _pint_unit(text: str, where: str):
    """pint unit of a card's unit string (``sqrt(Hz)`` and ``m^2`` as the cards write
    them; ``dB`` as a linear ratio, so that ``dB/cm`` converts to ``dB/m``)."""
    ureg = _registry()
    expr = re.sub(r"sqrt\(([^()]*)\)", r"(\1)**0.5", text)
    expr = re.sub(r"\bdB\b", "dB_ratio", expr)
    try:
        return ureg.Quantity(1.0, expr or "1").units
    except Exception as exc:  # noqa: BLE001 - pint's parser raises many kinds
        raise CardError(f"{where}: unit {text!r} is not a unit pint knows ({exc}); write "
                        f"e.g. \"ohm\", \"kohm\", \"nm\", \"A/sqrt(Hz)\"") from None


def _entry_in_si(entry: dict, si: str, name: str, where: str) -> dict:
    """``entry`` with its value (in ``entry["unit"]``) converted to the SI unit ``si``
    (min and max are in SI already); refused when the dimensions differ."""
    unit = entry["unit"]
    given, target = _pint_unit(unit, where), _pint_unit(si, where)
    what = _QUANTITIES.get(si, "")
    if given.dimensionality != target.dimensionality:
        raise CardError(
            f"{where}: unit {unit!r} has dimension {given.dimensionality}, but {name} is "
            f"{what + ' ' if what else ''}in {si} (dimension {target.dimensionality}); "
            f"give the value in {si} or a unit of the same dimension")
    loss_per_length = "dB" in si and target.dimensionality == _registry().Unit(
        "dB_ratio/m").dimensionality
    if "dB" in si + unit and not loss_per_length:
        raise CardError(f"{where}: {name} is a logarithmic quantity in {si}; unit {unit!r} "
                        f"is not converted (a level is not proportional to its unit): "
                        f"write the value in {si}")

    def convert(x: Any) -> Any:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise CardError(f"{where}: value {x!r} in {unit!r} cannot be converted to {si}; "
                            f"give a number, or the value in {si}")
        ureg = _registry()
        if ureg.Quantity(0.0, given).to(target).magnitude != 0:  # an offset unit (degC)
            return float(ureg.Quantity(float(x), given).to(target).magnitude)
        factor = float(ureg.Quantity(1.0, given).to(target).magnitude)
        n = round(1.0 / factor) if 0 < factor < 1 else 0
        if n > 1 and abs(1.0 / factor - n) <= 1e-9 * n:
            return float(x) / n  # one rounding: 1550 nm gives exactly 1.55e-6 m
        return float(x) * factor

    value = entry["value"]
    shown = f"{value:.15g}" if isinstance(value, (int, float)) else repr(value)
    out = dict(entry, unit=si, given=f"{shown} {unit}")
    out["value"] = [convert(x) for x in value] if isinstance(value, list) else convert(value)
    return out
