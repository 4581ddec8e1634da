"""Subcircuits and models of the shipped libraries (``netlists/*.lib``), for flattening.

A rendered netlist inlines each shipped library between ``* begin include NAME`` markers;
the parser checks that text against the shipped file and keeps only the name in
``Circuit.includes``.  The native solver needs the definitions themselves, so this module
reads a library's text once (cached per name) into :class:`~cosim.netlist.SubCircuit`
and :class:`~cosim.netlist.Model` objects.

The libraries write some values as parameter expressions where the netlist core's
elements hold numbers only: the gain of an E or G source (``Gs anode aj anode aj
{1/rs}``) and a capacitor's initial condition (``Cx x 0 1 IC={x0}``).  Those lines become
the subclasses below, which keep the expression text; :func:`cosim.native.flatten`
evaluates it in the scope of each instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cosim.errors import NetlistError
from cosim.netlist import VCCS, VCVS, Capacitor, Model, SubCircuit
from cosim.netlist.circuit import shipped_library_lines
from cosim.netlist.elements import Number, _check_name
from cosim.netlist.parse import _element, _kv, _logical_lines, _strip_inline_comment, _tokens
from cosim.netlist.validate import check_number, format_value


@dataclass(frozen=True)
class ExprVCVS(VCVS):
    """E source whose gain may be a parameter expression (text without braces)."""

    gain: Number = 1.0

    def __post_init__(self) -> None:
        _check_name(self.name, self.PREFIX)
        self._check_nodes()
        _check_value(self.gain, f"{self.name}: gain")

    def render(self) -> str:
        return (f"{self.name} {self.n_pos} {self.n_neg} {self.nc_pos} {self.nc_neg} "
                f"{format_value(self.gain, f'{self.name}.gain')}")


@dataclass(frozen=True)
class ExprVCCS(VCCS):
    """G source whose gain may be a parameter expression (text without braces)."""

    gain: Number = 1.0

    __post_init__ = ExprVCVS.__post_init__
    render = ExprVCVS.render


@dataclass(frozen=True)
class ExprCapacitor(Capacitor):
    """Capacitor whose initial voltage (``IC=``) may be a parameter expression.

    The initial condition only matters for a transient with ``uic``; the operating point
    and the dc sweep treat the capacitor as open whatever its IC.
    """

    ic_v: Number | None = None

    def __post_init__(self) -> None:
        saved = self.ic_v
        object.__setattr__(self, "ic_v", None)      # the parent checks a numeric IC only
        try:
            super().__post_init__()
        finally:
            object.__setattr__(self, "ic_v", saved)
        if saved is not None:
            _check_value(saved, f"{self.name}: ic_v")

    def render(self) -> str:
        v = format_value(self.capacitance_f, f"{self.name}.capacitance_f")
        ic = "" if self.ic_v is None else f" IC={format_value(self.ic_v, f'{self.name}.ic_v')}"
        return f"{self.name} {self.n_pos} {self.n_neg} {v}{ic}"


def _check_value(value: Number, where: str) -> None:
    if isinstance(value, str):
        format_value(value, where)
    else:
        check_number(value, where)


@dataclass(frozen=True)
class Library:
    """The definitions of one shipped library: subcircuits and top-level models."""

    name: str
    subcircuits: tuple[SubCircuit, ...]
    models: tuple[Model, ...]


@cache
def shipped_library(name: str) -> Library:
    """Definitions of shipped library ``name`` (e.g. ``"readout.lib"``), read once.

    The objects are shared between calls: read them, do not change them.

    Raises
    ------
    NetlistError
        If ``name`` is not a shipped library or a line of it cannot be read (which
        names the library and the line).
    """
    origin = f"netlists/{name}"
    lines = shipped_library_lines(name)
    subs: list[SubCircuit] = []
    models: list[Model] = []
    sub: SubCircuit | None = None
    for lineno, line in _logical_lines("* library\n" + "\n".join(lines), origin)[1:]:
        where = f"{origin} (line {lineno - 1} of its inlined text)"
        stripped = _strip_inline_comment(line.strip()) if not line.strip().startswith("*") \
            else ""
        if not stripped:
            continue
        tok = _tokens(stripped)
        head = tok[0].lower()
        if head == ".subckt":
            if sub is not None:
                raise NetlistError(f"{where}: nested .subckt inside {sub.name}")
            parts = stripped.split()
            low = [p.lower() for p in parts]
            params: dict = {}
            if "params:" in low:
                idx = low.index("params:")
                params = _kv(parts[idx + 1:], where)
                parts = parts[:idx]
            sub = SubCircuit(parts[1], tuple(parts[2:]), params=params)
        elif head == ".ends":
            if sub is None:
                raise NetlistError(f"{where}: .ends without .subckt")
            subs.append(sub)
            sub = None
        elif head == ".model":
            # A library model is read like a netlist's: reuse the parser on one line.
            from cosim.netlist import parse_netlist

            model = parse_netlist(f"* model\n{stripped}\n.end\n", where).models[0]
            (sub.models if sub is not None else models).append(model)
        elif head.startswith("."):
            raise NetlistError(f"{where}: control line {head!r} in a library is not read "
                               "by the native solver")
        else:
            element = _library_element(tok, where)
            if sub is None:
                raise NetlistError(f"{where}: element {tok[0]} outside a .subckt")
            sub.add(element)
    if sub is not None:
        raise NetlistError(f"{origin}: .subckt {sub.name} has no matching .ends")
    return Library(name, tuple(subs), tuple(models))


def _library_element(tok: list[str], where: str):
    """One element line; E/G gains and capacitor ICs may be ``{expressions}``."""
    kind = tok[0][0].upper()
    if kind in "EG" and len(tok) == 6 and tok[5].startswith("{"):
        cls = ExprVCVS if kind == "E" else ExprVCCS
        return cls(tok[0], *tok[1:5], _brace(tok[5], where))
    if kind == "C" and len(tok) > 4:
        extra = _kv(tok[4:], where)
        ic = extra.pop("IC", extra.pop("ic", None))
        if extra:
            raise NetlistError(f"{where}: unsupported capacitor options {sorted(extra)}")
        cap = _element(tok[:4], where)
        return ExprCapacitor(cap.name, cap.n_pos, cap.n_neg, cap.capacitance_f, ic)
    return _element(tok, where)


def _brace(token: str, where: str) -> str:
    if not token.endswith("}"):
        raise NetlistError(f"{where}: cannot read value {token!r}")
    return token[1:-1]
