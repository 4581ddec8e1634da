"""Circuits and subcircuits: ordered collections of elements that render to SPICE text.

The same :class:`Circuit` object is what ngspice runs (``cosim.spice``) and what the
native nodal-analysis twin solves (``cosim.native``).  Rendering is deterministic: the
same object gives byte-identical text, so :meth:`Circuit.sha256` is a stable key.

Shipped libraries named in ``includes`` (files of ``netlists/``) are *inlined* between
``* begin include NAME`` / ``* end include NAME`` marker lines, so the rendered text is
self-contained: it runs on any machine with plain ``ngspice -b`` and its hash does not
depend on where the package is installed.  The parser turns the markers back into an
include.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from cosim.errors import NetlistError
from cosim.netlist.analysis import Ac, Analysis, Dc, Noise, Op, Tran
from cosim.netlist.elements import (
    CCCS,
    CCVS,
    VCCS,
    VCVS,
    BehavioralSource,
    Capacitor,
    CurrentSource,
    Element,
    Model,
    Mosfet,
    Number,
    SubcircuitInstance,
    VoltageSource,
)
from cosim.netlist.validate import (
    check_expression,
    check_identifier,
    check_node,
    check_number,
    check_title,
    format_number,
    format_value,
)
from cosim.resources import data_dir

GROUND = "0"
_ANALYSIS_TYPES = (Op, Dc, Ac, Tran, Noise)
_OPTION_WORDS = {"gear", "trap", "klu", "sparse"}


@dataclass
class SubCircuit:
    """``.subckt NAME ports... params: k=v`` with its elements and models."""

    name: str
    ports: tuple[str, ...]
    elements: list[Element] = field(default_factory=list)
    params: dict[str, Number] = field(default_factory=dict)
    models: list[Model] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        check_identifier(self.name, "subcircuit name")
        if isinstance(self.ports, str) or not isinstance(self.ports, (tuple, list)):
            raise NetlistError(f"subckt {self.name}: ports must be a tuple of node names")
        self.ports = tuple(check_node(p, f"subckt {self.name}: port") for p in self.ports)
        if not isinstance(self.params, dict):
            raise NetlistError(f"subckt {self.name}: params must be a dict")
        for k, v in self.params.items():
            check_identifier(k, f"subckt {self.name}: parameter")
            format_value(v, f"subckt {self.name}.{k}")
        _check_members(self.elements, Element, f"subckt {self.name}: element")
        _check_members(self.models, Model, f"subckt {self.name}: model")

    def add(self, *elements: Element) -> SubCircuit:
        _add_unique(self, elements, f"subckt {self.name}")
        return self

    def render(self) -> list[str]:
        self._check()  # fields are mutable: check them again as they are rendered
        head = f".subckt {self.name} {' '.join(self.ports)}"
        if self.params:
            head += " params: " + " ".join(
                f"{k}={format_value(v, f'{self.name}.{k}')}"
                for k, v in sorted(self.params.items()))
        lines = [head]
        lines += [render_member(m, f"subckt {self.name}: model") for m in self.models]
        lines += [render_member(e, f"subckt {self.name}: element") for e in self.elements]
        lines.append(f".ends {self.name}")
        return lines


def _check_members(items: object, kind: type, where: str) -> None:
    if not isinstance(items, list):
        raise NetlistError(f"{where}s must be a list")
    for item in items:
        if not isinstance(item, kind):
            raise NetlistError(f"{where} {item!r} is not a {kind.__name__}")


def render_member(obj: object, where: str) -> str:
    """One element, model or analysis line, its fields checked again first.

    Frozen dataclasses can still be altered (``object.__setattr__``), so each object's own
    validation runs again here; whatever cannot be rendered becomes a NetlistError.
    """
    try:
        check = getattr(obj, "__post_init__", None)
        if check is not None:
            check()
        return obj.render()  # type: ignore[attr-defined]
    except NetlistError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        name = getattr(obj, "name", type(obj).__name__)
        raise NetlistError(f"{where} {name!r} cannot be rendered ({exc}); was it changed "
                           "after construction?") from None


def check_include_name(name: object) -> str:
    """The bare file name of a shipped library in ``netlists/``."""
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") \
            or not name.isascii() or not name.isprintable():
        raise NetlistError(f"include {name!r}: give the bare file name of a library in "
                           "netlists/")
    path = data_dir("netlists") / name
    if not path.is_file():
        have = sorted(p.name for p in data_dir("netlists").glob("*.lib"))
        raise NetlistError(f"include {name!r}: no such shipped library; have {have}")
    return name


def shipped_library_lines(name: str) -> list[str]:
    """The lines of shipped library ``name`` as a rendered netlist inlines them: blank
    lines and ``.end`` dropped, trailing blanks stripped."""
    text = (data_dir("netlists") / check_include_name(name)).read_text(encoding="utf-8")
    return [ln.rstrip() for ln in text.split("\n") if ln.strip()
            and ln.strip().lower() != ".end"]


def _add_unique(owner, elements: tuple[Element, ...], where: str) -> None:
    """Append elements to ``owner.elements``, refusing duplicate names.

    The set of upper-case names is cached on the owner and rebuilt only when the list was
    changed behind its back, so adding n elements one by one stays O(n).
    """
    target = owner.elements
    names = getattr(owner, "_names_cache", None)
    if names is None or len(names) != len(target):
        names = {e.name.upper() for e in target}
    for e in elements:
        if not isinstance(e, Element):
            raise NetlistError(f"{where}: {e!r} is not a netlist element")
        key = e.name.upper()
        if key in names:
            raise NetlistError(f"{where}: duplicate element name {e.name!r} (SPICE names are "
                               "case-insensitive); rename one of them")
        names.add(key)
        target.append(e)
    object.__setattr__(owner, "_names_cache", names)


@dataclass
class Circuit:
    """A top-level netlist: title, elements, subcircuits, models, parameters, options,
    initial conditions, shipped includes and analyses.

    Build it with :meth:`add` (chainable), then :meth:`render` it.
    """

    title: str = "cosim circuit"
    elements: list[Element] = field(default_factory=list)
    subcircuits: list[SubCircuit] = field(default_factory=list)
    models: list[Model] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    params: dict[str, Number] = field(default_factory=dict)
    options: dict[str, float | str] = field(default_factory=dict)
    initial_conditions: dict[str, float] = field(default_factory=dict)
    analyses: list[Analysis] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_title(self.title)

    # ------------------------------------------------------------------ building
    def add(self, *elements: Element) -> Circuit:
        _add_unique(self, elements, "circuit")
        return self

    def add_subcircuit(self, sub: SubCircuit) -> Circuit:
        if any(s.name.upper() == sub.name.upper() for s in self.subcircuits):
            raise NetlistError(f"duplicate subcircuit {sub.name!r}")
        self.subcircuits.append(sub)
        return self

    def add_model(self, model: Model) -> Circuit:
        if any(m.name.upper() == model.name.upper() for m in self.models):
            raise NetlistError(f"duplicate model {model.name!r}")
        self.models.append(model)
        return self

    def include(self, name: str) -> Circuit:
        """Use a shipped library from ``netlists/`` (e.g. ``"memristors.lib"``)."""
        check_include_name(name)
        if name not in self.includes:
            self.includes.append(name)
        return self

    def element(self, name: str) -> Element:
        for e in self.elements:
            if e.name.upper() == name.upper():
                return e
        raise KeyError(f"no element named {name!r}")

    # ------------------------------------------------------------------ rendering
    def render(self, *, with_analyses: bool = True) -> str:
        """SPICE text: byte-identical for identical objects.

        Every field is mutable, so the title, includes and members are checked again here;
        ngspice's own gate (cosim.spice.gate) checks the whole text once more.
        """
        lines = [f"* {check_title(self.title)}"]
        _check_members(self.includes, str, "include")
        _check_members(self.elements, Element, "element")
        _check_members(self.subcircuits, SubCircuit, "subcircuit")
        _check_members(self.models, Model, "model")
        _check_members(self.analyses, _ANALYSIS_TYPES, "analysis")
        for what in ("params", "options", "initial_conditions"):
            if not isinstance(getattr(self, what), dict):
                raise NetlistError(f"circuit {what} must be a dict")
        for name in self.includes:
            lines.append(f"* begin include {name}")
            lines += shipped_library_lines(name)
            lines.append(f"* end include {name}")
        for k, v in self.params.items():
            check_identifier(k, "param name")
            lines.append(f".param {k}={format_value(v, f'param {k}')}")
        if self.options:
            lines.append(".options " + " ".join(
                _render_option(k, v) for k, v in self.options.items()))
        for m in self.models:
            lines.append(render_member(m, "model"))
        for s in self.subcircuits:
            lines += s.render()
        for e in self.elements:
            lines.append(render_member(e, "element"))
        if self.initial_conditions:
            lines.append(".ic " + " ".join(
                f"v({check_node(n, 'ic node')})={format_number(check_number(v, f'ic {n}'))}"
                for n, v in self.initial_conditions.items()))
        if with_analyses:
            lines += [render_member(a, "analysis") for a in self.analyses]
        lines.append(".end")
        return "\n".join(lines) + "\n"

    def sha256(self) -> str:
        return hashlib.sha256(self.render().encode("utf-8")).hexdigest()

    # ------------------------------------------------------------------ inspection
    def nodes(self) -> list[str]:
        """Every node of the top level, ground first, then in order of appearance."""
        seen: dict[str, None] = {GROUND: None}
        for e in self.elements:
            for n in e.nodes:
                seen.setdefault(n, None)
        return list(seen)

    def connection_counts(self) -> dict[str, int]:
        """Number of element terminals on each node (controlling inputs excluded)."""
        count: dict[str, int] = defaultdict(int)
        for e in self.elements:
            for n in _conducting_nodes(e) + _sensing_nodes(e):
                count[n] += 1
        return dict(count)

    def single_connection_nodes(self) -> list[str]:
        """Nodes touched by only one element terminal (dangling wires)."""
        return [n for n, c in self.connection_counts().items() if c == 1 and n != GROUND]

    def floating_nodes(self) -> list[str]:
        """Nodes with no DC path to ground (through R, L, V, E, H, B, D, M, X).

        Capacitors and current sources do not give a DC path, so a node reached only
        through them has an undefined operating point (SPICE: singular matrix).
        """
        parent = {n: n for n in self.nodes()}

        def find(n: str) -> str:
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        for e in self.elements:
            nodes = _dc_path_nodes(e)
            for a, b in zip(nodes, nodes[1:]):
                parent[find(a)] = find(b)
        ground = find(GROUND)
        return [n for n in self.nodes() if find(n) != ground]


def _conducting_nodes(e: Element) -> tuple[str, ...]:
    if isinstance(e, (VCVS, VCCS)):
        return (e.n_pos, e.n_neg)
    return e.nodes


def _sensing_nodes(e: Element) -> tuple[str, ...]:
    if isinstance(e, (VCVS, VCCS)):
        return (e.nc_pos, e.nc_neg)
    return ()


def _dc_path_nodes(e: Element) -> tuple[str, ...]:
    if isinstance(e, (Capacitor, CurrentSource, VCCS, CCCS)):
        return ()
    if isinstance(e, BehavioralSource) and e.quantity == "I":
        return ()
    if isinstance(e, (VCVS, CCVS, VoltageSource)):
        return (e.nodes[0], e.nodes[1])
    if isinstance(e, Mosfet):
        return (e.drain, e.source)
    if isinstance(e, SubcircuitInstance):
        return e.ports
    return e.nodes


def _render_option(key: str, value: float | str) -> str:
    check_identifier(key, "option name")
    if isinstance(value, str):
        if value.lower() not in _OPTION_WORDS:
            check_expression(value, f"option {key}")
            if not value.replace("_", "").isalnum():
                raise NetlistError(f"option {key}={value!r}: a word option must be one of "
                                   f"{sorted(_OPTION_WORDS)} or a plain identifier")
        return f"{key}={value}"
    if isinstance(value, bool):
        return key if value else ""
    return f"{key}={format_number(check_number(value, f'option {key}'))}"
