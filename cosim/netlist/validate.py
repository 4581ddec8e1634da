"""Validation of everything that can reach netlist text.

SPICE text is a command language: a newline followed by ``.control`` or ``shell`` runs
commands.  Every name, node, number and expression that goes into a netlist passes one of
these functions first, so no user-supplied value can smuggle a line into the deck.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from cosim.errors import NetlistError

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NODE_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# Expressions (B-sources, .param, {braces}): arithmetic, function calls, comparisons and
# the ternary operator.  No quotes, semicolons, dollar signs, backslashes or control
# characters; those start comments, strings or new lines in ngspice.
_EXPR_RE = re.compile(r"^[A-Za-z0-9_+\-*/^().,<>=!?:&| {}]{1,4000}$")
_FORBIDDEN_WORDS = re.compile(r"(^|[^A-Za-z0-9_])(shell|control|endc|include|lib)([^A-Za-z0-9_]|$)",
                              re.IGNORECASE)


def check_identifier(value: object, field: str) -> str:
    """A safe SPICE identifier: letter or underscore, then letters, digits, underscores."""
    if not isinstance(value, str) or not _IDENT_RE.fullmatch(value):
        raise NetlistError(
            f"{field}: {value!r} is not a safe identifier; use 1-64 characters from "
            "A-Z a-z 0-9 _ starting with a letter or underscore (no spaces, dots or newlines)"
        )
    return value


def check_node(value: object, field: str) -> str:
    """A safe node name: 1-64 characters from A-Z a-z 0-9 _ ("0" is ground)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _NODE_RE.fullmatch(value):
        raise NetlistError(
            f"{field}: node {value!r} is not a safe node name; use 1-64 characters from "
            "A-Z a-z 0-9 _ (ground is '0')"
        )
    return value


_TITLE_RE = re.compile(r"[\x20-\x7e]{0,200}")


def check_title(value: object, field: str = "title") -> str:
    """A circuit title: one line of at most 200 printable ASCII characters.

    ngspice reads a comment that starts with ``#`` or ``ng_script`` as a command, so a
    title may not start with either.
    """
    if not isinstance(value, str) or not _TITLE_RE.fullmatch(value):
        raise NetlistError(
            f"{field}: {value!r} is not a valid title; use one line of at most 200 printable "
            "ASCII characters (no line breaks, tabs, control or non-ASCII characters)")
    if re.match(r"\s*(#|ng_script)", value, re.IGNORECASE):
        raise NetlistError(f"{field}: {value!r} may not start with '#' or 'ng_script' "
                           "(ngspice reads such a comment as a command)")
    return value


def check_number(value: object, field: str, *, positive: bool = False,
                 nonnegative: bool = False) -> float:
    """A finite real number (bools and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            import numpy as np  # numpy scalars are fine

            if isinstance(value, np.generic) and np.isrealobj(value):
                value = float(value)
            else:
                raise TypeError
        except (TypeError, ImportError):
            raise NetlistError(f"{field}: {value!r} is not a number; give a finite float "
                               "in SI units") from None
    x = float(value)
    if not math.isfinite(x):
        raise NetlistError(f"{field}: {value!r} is not finite; give a finite number")
    if positive and x <= 0:
        raise NetlistError(f"{field}: {x!r} must be > 0")
    if nonnegative and x < 0:
        raise NetlistError(f"{field}: {x!r} must be >= 0")
    return x


def check_expression(value: object, field: str) -> str:
    """A single-line arithmetic expression safe to place after ``=`` or inside braces."""
    if not isinstance(value, str) or not _EXPR_RE.fullmatch(value):
        bad = "" if not isinstance(value, str) else "".join(
            sorted({c for c in value if not re.fullmatch(r"[A-Za-z0-9_+\-*/^().,<>=!?:&| {}]", c)}))
        raise NetlistError(
            f"{field}: expression {value!r} contains characters not allowed in a netlist "
            f"expression ({bad!r}); allowed are letters, digits, _ + - * / ^ ( ) . , < > = ! "
            "? : & | { } and spaces, on one line"
        )
    if _FORBIDDEN_WORDS.search(value):
        raise NetlistError(f"{field}: expression {value!r} contains a SPICE control word "
                           "(shell, control, endc, include, lib); not allowed in a value")
    if value.count("(") != value.count(")") or value.count("{") != value.count("}"):
        raise NetlistError(f"{field}: expression {value!r} has unbalanced brackets")
    return value


def format_number(x: float) -> str:
    """Deterministic shortest round-trip text of a float (``repr``), e.g. '1e-06'.

    Anything but a finite real number is refused (fields are checked again as they are
    rendered, since a frozen object can still be altered).
    """
    if type(x) is not float or not math.isfinite(x):
        x = check_number(x, "value")
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def format_value(value: float | str, field: str) -> str:
    """A number, or a ``{expression}`` when given a string."""
    if isinstance(value, str):
        expr = value[1:-1] if value.startswith("{") and value.endswith("}") else value
        return "{" + check_expression(expr, field) + "}"
    return format_number(check_number(value, field))


_NUM_RE = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(meg|mil|[fpnumkgt])?[a-z]*$", re.IGNORECASE)
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "meg": 1e6,
          "g": 1e9, "t": 1e12, "mil": 25.4e-6}


def parse_number(token: str, where: str = "value") -> float:
    """A SPICE number with an optional scale suffix: '1k' -> 1000.0, '2.2u' -> 2.2e-06."""
    m = _NUM_RE.match(token.strip())
    if not m:
        raise NetlistError(f"{where}: {token!r} is not a SPICE number")
    value = float(m.group(1))
    if m.group(2):
        value *= _SCALE[m.group(2).lower()]
    return value


def read_netlist_text(path: str | Path) -> str:
    """The text of a netlist file (a NetlistError if it is missing or unreadable)."""
    p = Path(path)
    if not p.exists():
        raise NetlistError(f"netlist file {p} does not exist")
    from cosim.paths import user_path

    with user_path(p, "netlist file", "give the path of a readable netlist file"):
        return p.read_text(encoding="utf-8", errors="replace")
