"""Traceable quantities: every figure of the energy model carries where it came from.

A :class:`Quantity` is a value with its SI unit and either

* a ``source``: a device-card parameter (its citation, or ``ASSUMPTION: ...``), a
  simulation result (e.g. the ngspice readout characterization), or a count taken from
  the network's layer shapes; or
* a ``formula`` over named ``inputs`` (other quantities).  The value of a derived
  quantity is *computed by evaluating that formula text* (:func:`derive`), so the formula
  printed by :meth:`Quantity.explain` is exactly the arithmetic that produced the number.

Formulas use ``+ - * / **``, parentheses, numbers, input names and the functions in
:data:`FUNCTIONS`; anything else is refused.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cosim.errors import ConfigError

FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt, "log10": math.log10, "log2": math.log2, "ln": math.log,
    "exp": math.exp, "ceil": lambda x: float(math.ceil(x)),
    "floor": lambda x: float(math.floor(x)), "min": min, "max": max, "abs": abs,
}
"""Functions a formula may call."""

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
           ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b,
           ast.Pow: lambda a, b: a ** b}


@dataclass(frozen=True)
class Quantity:
    """A number with its unit and its provenance.

    Attributes
    ----------
    value : float
        In SI units (``unit``); may be ``inf`` when a requirement cannot be met.
    unit : str
        SI unit, "1" for dimensionless.
    formula : str or None
        Formula over ``inputs`` (derived quantities).
    inputs : dict
        Name in the formula -> :class:`Quantity`.
    source : str or None
        Provenance of a leaf: card parameter citation, simulation, or layer-shape count.
    """

    value: float
    unit: str
    formula: str | None = None
    inputs: Mapping[str, Quantity] = field(default_factory=dict)
    source: str | None = None

    def explain(self, name: str = "", *, depth: int = 0, max_depth: int = 60) -> str:
        """Multi-line text: this value, its formula and, recursively, its inputs."""
        pad = "  " * depth
        head = f"{pad}{name + ' = ' if name else ''}{_fmt(self.value)} {self.unit}"
        lines = []
        if self.formula is not None:
            src = f"  [{self.source}]" if self.source else ""
            lines.append(f"{head}  =  {self.formula}{src}")
            if depth < max_depth:
                for key, q in self.inputs.items():
                    lines.append(q.explain(key, depth=depth + 1, max_depth=max_depth))
        else:
            lines.append(f"{head}  [{self.source}]")
        return "\n".join(lines)

    def leaves(self) -> list[tuple[str, Quantity]]:
        """All leaf quantities this one depends on (name in its parent formula, leaf)."""
        out: list[tuple[str, Quantity]] = []
        for key, q in self.inputs.items():
            out.extend(q.leaves() if q.formula is not None else [(key, q)])
        return out

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": _json_number(self.value), "unit": self.unit}
        if self.formula is not None:
            d["formula"] = self.formula
            d["inputs"] = {k: _json_number(q.value) for k, q in self.inputs.items()}
        else:
            d["source"] = self.source
        return d


def _json_number(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else ("-inf" if x < 0 else "nan"))


def _fmt(x: float) -> str:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return f"{x:.6g}"


def leaf(value: float, unit: str, source: str) -> Quantity:
    """A quantity with a direct provenance (card value, simulation result, count)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"quantity value {value!r} ({source}) must be a number")
    return Quantity(float(value), unit, None, {}, str(source))


def card_quantity(card, key: str, *, label: str | None = None) -> Quantity:
    """The parameter ``key`` of a :class:`cosim.devices.cards.Card` as a leaf quantity."""
    p = card.params.get(key)
    if p is None:
        raise ConfigError(f"card {card.name!r} has no parameter {key!r}; it has "
                          f"{', '.join(sorted(card.params))}")
    where = f"card {card.name}.{key}"
    return leaf(p.value, p.unit, f"{where}: {p.provenance}")


def derive(formula: str, unit: str, **inputs: Quantity) -> Quantity:
    """A quantity whose value is ``formula`` evaluated over the ``inputs`` values.

    >>> a = leaf(2.0, "J", "example"); n = leaf(3, "1", "count")
    >>> derive("n * a", "J", n=n, a=a).value
    6.0
    """
    for k, q in inputs.items():
        if not isinstance(q, Quantity):
            raise ConfigError(f"derive({formula!r}): input {k!r} is not a Quantity")
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"formula {formula!r} is not valid: {exc}") from exc
    values = {k: q.value for k, q in inputs.items()}
    used: set[str] = set()
    value = _eval(tree.body, values, used, formula)
    unused = set(inputs) - used
    if unused:
        raise ConfigError(f"formula {formula!r} does not use inputs {sorted(unused)}")
    return Quantity(float(value), unit, formula, dict(inputs), None)


def _eval(node: ast.AST, values: dict[str, float], used: set[str], formula: str) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in values:
            raise ConfigError(f"formula {formula!r} uses {node.id!r}, which is not an input")
        used.add(node.id)
        return values[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a = _eval(node.left, values, used, formula)
        b = _eval(node.right, values, used, formula)
        if isinstance(node.op, ast.Div) and b == 0:
            return math.inf if a > 0 else (-math.inf if a < 0 else math.nan)
        return _BINOPS[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, values, used, formula)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in FUNCTIONS and not node.keywords:
        args = [_eval(a, values, used, formula) for a in node.args]
        return float(FUNCTIONS[node.func.id](*args))
    raise ConfigError(f"formula {formula!r}: {ast.dump(node)[:60]} is not allowed; use "
                      f"+ - * / **, numbers, input names and {sorted(FUNCTIONS)}")


def total(terms: Mapping[str, Quantity], unit: str) -> Quantity:
    """Sum of named quantities, as a derived quantity (``a + b + ...``)."""
    if not terms:
        return Quantity(0.0, unit, "0", {}, None)
    return derive(" + ".join(terms), unit, **terms)
