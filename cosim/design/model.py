"""The :class:`Design` object (see the package docstring)."""

from __future__ import annotations

import difflib
import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cosim.devices.cards import Card, load_card, parse_card
from cosim.errors import CardError, ConfigError

#: design name -> its card (devices/<card>.toml).  A new design: one card + one line.
DESIGNS: dict[str, str] = {
    "ideal": "design_ideal",
    "bplight": "design_bplight",
    "electronic": "design_electronic",
    "photonic-mzi": "design_photonic_mzi",
    "bplight-paper": "design_bplight_paper",
}

#: role -> the card kind that plays it (cosim.devices.cards.CARD_KINDS).  The design
#: names the card of each role in its parameter ``<role>_card``.
ROLES: dict[str, str] = {
    "photodetector": "photodetector",
    "tia": "tia",
    "converters": "converters",
    "laser": "laser",
    "optics": "optics",
    "crossbar": "crossbar",
    "mzi": "mzi_mesh",
    "weight": "rram_array",
    "link_driver": "link_driver",
}

#: ``weight_device`` value of the device given by the weight_* design values.
IDEALISED = "idealised"
#: The idealised choices of the bplight design (the defaults before the credible
#: physics of the shipped design): the 16-bit linear, noise-free weight device with the
#: direct pulse update and uncoupled rings.  The shipped design has the RealDevice card,
#: the mixed-precision update and crosstalk with in-loop calibration.  Used by the
#: ablation's base row, tests of closed-form tile bounds and the speed benchmarks whose
#: targets were stated for it.
IDEALISED_VALUES: Mapping[str, Any] = MappingProxyType(
    {"weight_device": IDEALISED, "update_policy": "pulse", "crosstalk": False})
#: :data:`IDEALISED_VALUES` as dotted run-config overrides (``design.KEY=VALUE``).
IDEALISED_OVERRIDES: tuple[str, ...] = tuple(
    f"design.{k}={str(v).lower() if isinstance(v, bool) else v}"
    for k, v in IDEALISED_VALUES.items())
#: Kind of a design card (its reference card is the bplight design).
DESIGN_KIND = "design"
#: Choices of the design values that name a vocabulary (validated on load).
CHOICES: dict[str, tuple[str, ...]] = {
    "dac_scale": ("row", "call"),
    "gradient_on": ("tile", "digital"),
    "backward_weights": ("transposed_copy", "transposed_read"),
    "update_scheme": ("push_pull", "potentiate_only"),
    "calibration": ("none", "in_loop"),
    "weight_link": ("ideal", "driver"),
}


def design_names() -> list[str]:
    """The shipped designs' names."""
    return list(DESIGNS)


@dataclass(frozen=True)
class DesignSpec:
    """Which design a run uses: a shipped name or a design card file, plus dotted
    overrides (``{"tile_rows": 32, "tia.rf_ohm": 1000.0}``), as the run config holds
    it (``[design]``).  :meth:`resolve` loads it."""

    name: str = "bplight"
    set: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"design.name must be a design name ({', '.join(DESIGNS)}) or "
                              f"the path of a design card file, got {self.name!r}")
        if not isinstance(self.set, dict) or not all(isinstance(k, str) for k in self.set):
            raise ConfigError("design: overrides must be a table of dotted names = values")
        object.__setattr__(self, "set", dict(sorted(self.set.items())))

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> DesignSpec:
        """From the run config's ``[design]`` table: ``name`` and, as overrides, every
        other key (nested tables such as ``[design.tia]`` become dotted names)."""
        if not isinstance(table, Mapping):
            raise ConfigError(f"[design] must be a table, got {table!r}")
        name = table.get("name", "bplight")
        flat: dict[str, Any] = {}

        def walk(prefix: str, node: Mapping[str, Any]) -> None:
            for key, value in node.items():
                path = f"{prefix}{key}"
                if isinstance(value, Mapping):
                    walk(path + ".", value)
                else:
                    flat[path] = value

        walk("", {k: v for k, v in table.items() if k not in ("name", "set")})
        extra = table.get("set", {})
        if not isinstance(extra, Mapping):
            raise ConfigError("design.set must be a table of dotted names = values")
        walk("", extra)
        return cls(name=name, set=flat)

    def overrides(self) -> list[str]:
        """The overrides as ``"name=value"`` strings (values in TOML syntax)."""
        return [f"{k}={json.dumps(v)}" for k, v in self.set.items()]

    def resolve(self) -> Design:
        """:func:`load_design` of this spec."""
        return load_design(self.name, self.set)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _parse_value(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


@dataclass(frozen=True)
class Design:
    """A resolved accelerator design (package docstring).

    Attributes
    ----------
    name : str
        The design's name (its card's ``name`` without the ``design_`` prefix).
    card : Card
        The design card (overrides applied).
    cards : Mapping[str, Card]
        Role -> the card playing it (overrides applied).
    texts : Mapping[str, str]
        ``"design"`` and each role -> the full text of the file as read.
    overrides : tuple of (str, value)
        The dotted overrides applied, in order.
    """

    name: str
    card: Card
    cards: Mapping[str, Card]
    texts: Mapping[str, str]
    overrides: tuple[tuple[str, Any], ...] = ()

    # --- values -------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        """A design value (``design["tile_rows"]``) or a card value by ``role.param``."""
        if "." in key:
            role, param = key.split(".", 1)
            return self.role_card(role)[param]
        try:
            return self.card.params[key].value
        except KeyError:
            raise ConfigError(_unknown(f"design {self.name!r} has no value {key!r}", key,
                                       self.card.params)) from None

    @property
    def tile(self) -> str:
        """The tile kind (``"ideal"`` or a name of :data:`cosim.hw.registry.TILES`)."""
        return str(self["tile"])

    def weight_device(self):
        """The :class:`cosim.devices.weight_device.WeightDevice` of the design's
        ``weight_device`` card (rebuilt from its stored text), or None for the
        ``"idealised"`` device of the weight_* values."""
        text = self.texts.get("weight_device")
        if text is None:
            return None
        from cosim.devices.weight_device import load_weight_device

        head = tomllib.loads(text)["card"]
        kind = f"weight_{head.get('model')}"
        return load_weight_device(parse_card(text, f"weight device {head['name']}",
                                             kind=kind))

    def role_card(self, role: str) -> Card:
        """The card of ``role`` (:data:`ROLES`)."""
        try:
            return self.cards[role]
        except KeyError:
            raise ConfigError(_unknown(f"design {self.name!r} has no role {role!r}", role,
                                       self.cards)) from None

    def values(self) -> dict[str, Any]:
        """Every resolved value: design values by name, card values as ``role.param``."""
        out = {k: p.value for k, p in self.card.params.items()}
        for role, card in self.cards.items():
            out.update({f"{role}.{k}": p.value for k, p in card.params.items()})
        return out

    def provenance(self, key: str) -> str:
        """Source or assumption of a value (``name`` or ``role.param``)."""
        if "." in key:
            role, param = key.split(".", 1)
            return self.role_card(role).params[param].provenance
        return self.card.params[key].provenance

    def digest(self) -> str:
        """sha256 of the resolved values (identifies what the design computes with)."""
        return _sha(json.dumps(self.values(), sort_keys=True, default=str))

    def differences(self, other: Design) -> list[tuple[str, Any, Any]]:
        """``(name, self's value, other's value)`` of every value that differs."""
        a, b = self.values(), other.values()
        return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
                if a.get(k) != b.get(k)]

    # --- the run-file record ---------------------------------------------------------
    def record(self) -> dict[str, Any]:
        """Everything needed to rebuild the design without the card files: its name,
        the overrides, the full text and sha256 of every file (:meth:`from_record`)."""
        return {"name": self.name,
                "overrides": [[k, v] for k, v in self.overrides],
                "texts": dict(self.texts),
                "sha256": {k: _sha(t) for k, t in self.texts.items()},
                "digest": self.digest()}

    def to_json(self) -> str:
        """:meth:`record` as canonical JSON."""
        return json.dumps(self.record(), sort_keys=True, indent=1)

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | str) -> Design:
        """The design :meth:`record` describes, from the stored texts only."""
        if isinstance(record, str):
            record = json.loads(record)
        try:
            texts = dict(record["texts"])
            for key, sha in record.get("sha256", {}).items():
                if _sha(texts[key]) != sha:
                    raise ConfigError(f"stored design: the text of {key!r} does not match "
                                      "its sha256 (the run file is damaged)")
            design_card = parse_card(texts["design"], f"stored design {record['name']}",
                                     kind=DESIGN_KIND)
            cards = {}
            for role, kind in ROLES.items():
                if role in texts:
                    cards[role] = parse_card(texts[role], f"stored {role} card", kind=kind)
            design = cls(name=str(record["name"]), card=design_card, cards=cards,
                         texts=texts)
            return design.with_overrides([(k, v) for k, v in record.get("overrides", [])],
                                         reload=False)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"stored design record is incomplete ({exc}); it was not "
                              "written by Design.record") from None

    # --- overrides ---------------------------------------------------------------------
    def with_overrides(self, items: Iterable[str | tuple[str, Any]] | Mapping[str, Any],
                       *, reload: bool = True) -> Design:
        """A copy with dotted overrides applied (package docstring).  ``reload``: a
        ``<role>_card`` override loads the named card (False when rebuilding from a
        record, whose texts already hold it)."""
        if isinstance(items, Mapping):
            items = list(items.items())
        pairs = []
        for item in items:
            if isinstance(item, str):
                if "=" not in item:
                    raise ConfigError(f"design override {item!r} must look like name=value "
                                      "(e.g. tile_rows=32 or tia.feedback_resistance_ohm=1000)")
                key, raw = item.split("=", 1)
                pairs.append((key.strip(), _parse_value(raw.strip())))
            else:
                pairs.append((str(item[0]), item[1]))
        # the choice of a role's card first, then values (of the chosen cards)
        pairs.sort(key=lambda kv: not kv[0].endswith("_card"))
        design = self
        for key, value in pairs:
            design = design._override(key, value, reload)
        return design

    def _override(self, key: str, value: Any, reload: bool) -> Design:
        cards, texts, card = dict(self.cards), dict(self.texts), self.card
        if "." in key:
            role, param = key.split(".", 1)
            cards[role] = self.role_card(role).with_values(**{param: value})
        else:
            if key not in card.params:
                raise ConfigError(_unknown(f"design {self.name!r} has no value {key!r} to "
                                           "override", key, card.params))
            card = card.with_values(**{key: value})
            _check_choices(card)
            if key.endswith("_card") and key[:-5] in ROLES and reload:
                role = key[:-5]
                cards[role], texts[role] = _load_role(role, str(value))
            if key == "weight_device" and reload:
                texts.pop("weight_device", None)
                if str(value) != IDEALISED:
                    texts["weight_device"] = _weight_device_text(str(value))
        return Design(self.name, card, MappingProxyType(cards), MappingProxyType(texts),
                      (*self.overrides, (key, value)))

    # --- display -----------------------------------------------------------------------
    def show(self) -> str:
        """The design as text: every value with its unit and its source or assumption."""
        lines = [f"design {self.name}: {self.card.description}",
                 f"  digest {self.digest()[:16]}"
                 + (f"; overrides: {', '.join(f'{k}={v!r}' for k, v in self.overrides)}"
                    if self.overrides else ""), ""]

        def rows(prefix: str, card: Card) -> list[str]:
            out = []
            for name, p in card.params.items():
                unit = "" if p.unit == "1" else f" {p.unit}"
                out.append(f"  {prefix}{name} = {p.value!r}{unit}")
                out.append(f"      {p.provenance}")
            return out

        lines += rows("", self.card)
        for role, card in self.cards.items():
            lines += ["", f"[{role}] card {card.name} (sha256 {_sha(self.texts[role])[:16]})"]
            lines += rows(f"{role}.", card)
        return "\n".join(lines)


def _unknown(message: str, key: str, valid: Iterable[str]) -> str:
    valid = list(valid)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return message + (f"; did you mean {close[0]!r}?" if close else
                      f"; valid: {', '.join(sorted(valid))}")


def _check_choices(card: Card) -> None:
    for key, allowed in CHOICES.items():
        if key in card.params and card[key] not in allowed:
            raise ConfigError(f"design {card.name}: {key} = {card[key]!r}; choose one of "
                              f"{', '.join(allowed)}")
    if "update_policy" in card.params:
        from cosim.hw.policies import UPDATE_POLICIES

        if card["update_policy"] not in UPDATE_POLICIES:
            raise ConfigError(f"design {card.name}: update_policy = {card['update_policy']!r};"
                              f" choose one of {', '.join(UPDATE_POLICIES)}")
    if "tile" in card.params:
        from cosim.hw.registry import TILES

        if card["tile"] != "ideal" and card["tile"] not in TILES:
            raise ConfigError(f"design {card.name}: unknown tile {card['tile']!r}; choose "
                              f"ideal or a registered tile: {', '.join(TILES)} "
                              "(cosim.hw.registry.TILES)")
        reads = getattr(TILES.get(card["tile"]), "backward_reads", ())
        if card["tile"] in TILES and not reads:
            raise ConfigError(f"tile {card['tile']!r} declares no backward_reads (the "
                              "backward mappings it simulates: cosim.hw.protocols.Tile)")
        if reads and "backward_weights" in card.params and \
                card["backward_weights"] not in reads:
            raise ConfigError(f"design {card.name}: backward_weights = "
                              f"{card['backward_weights']!r}, but {card['tile']} tiles "
                              f"simulate {', '.join(reads)}; set design.backward_weights="
                              f"{reads[0]}")


def _weight_device_text(name: str) -> str:
    """Full text of a weight-device card (checked by loading it as a device)."""
    from cosim.devices.weight_device import load_weight_device

    load_weight_device(name)
    path = Path(name) if name.endswith(".toml") else load_card(name).path
    return Path(path).read_text(encoding="utf-8")


def _load_role(role: str, name: str) -> tuple[Card, str]:
    card = load_card(name, kind=ROLES[role])
    path = card.path
    if path is None:
        raise CardError(f"card {name!r} of role {role} has no file")
    return card, Path(path).read_text(encoding="utf-8")


def load_design(name_or_path: str | Path = "bplight",
                overrides: Iterable[str | tuple[str, Any]] | Mapping[str, Any] = ()
                ) -> Design:
    """A shipped design by name (:data:`DESIGNS`) or a design card file, resolved with
    the cards of its roles, then ``overrides`` (package docstring)."""
    text_name = str(name_or_path)
    if text_name in DESIGNS:
        card = load_card(DESIGNS[text_name], kind=DESIGN_KIND)
    elif text_name.endswith(".toml"):
        card = load_card(Path(text_name), kind=DESIGN_KIND)
    else:
        raise ConfigError(_unknown(f"unknown design {text_name!r} (a shipped design or the "
                                   "path of a .toml design card)", text_name, DESIGNS))
    reference = load_card(DESIGNS["bplight"], kind=DESIGN_KIND)
    missing = sorted(set(reference.params) - set(card.params))
    if missing:
        raise ConfigError(f"design card {card.path}: missing value(s) {', '.join(missing)}; "
                          "a design gives every value (start from `cosim design show "
                          "bplight --toml`)")
    _check_choices(card)
    texts = {"design": Path(card.path).read_text(encoding="utf-8")}
    cards = {}
    for role in ROLES:
        cards[role], texts[role] = _load_role(role, str(card[f"{role}_card"]))
    if str(card["weight_device"]) != IDEALISED:
        texts["weight_device"] = _weight_device_text(str(card["weight_device"]))
    name = text_name if text_name in DESIGNS else card.name
    design = Design(name, card, MappingProxyType(cards), MappingProxyType(texts))
    return design.with_overrides(overrides)


__all__ = ["CHOICES", "DESIGNS", "ROLES", "Design", "DesignSpec", "design_names",
           "load_design"]
