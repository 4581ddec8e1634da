"""The one gate before ngspice: every text a worker hands to ngspice passes :func:`check_deck`.

ngspice is a command interpreter as much as a simulator: a ``.control`` section runs
commands (``shell`` among them), a comment line that starts with ``*#`` is such a command
too, a deck whose first line is ``*ng_script`` is a script, and ``.include`` / ``.lib``
read any file.  ngspice guarantees nothing, so this module is the barrier.  It accepts
exactly the grammar the netlist core renders (:mod:`cosim.netlist`) and the shipped
libraries it inlines:

* only printable ASCII (0x20-0x7E) and ``\\n`` line ends.  Every other character Python's
  ``str.splitlines`` breaks on (``\\r``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``,
  U+2028, U+2029), tabs, NUL and all non-ASCII text are refused, so "a line" means the
  same to Python, to this gate and to ngspice;
* the first line is a ``*`` title comment; no line is a ``*#`` command comment or an
  ``*ng_script`` marker;
* every other non-blank line is a comment (``*``), a continuation (``+``), an element
  whose letter is one the core renders (:data:`ELEMENT_LETTERS`), or one of the dot
  commands the core renders (:data:`DOT_COMMANDS`);
* no line holds a control word (``shell``, ``control``, ``endc``) outside a comment;
* ``.include`` / ``.inc`` / ``.lib`` name a shipped file of ``netlists/`` by a path that
  resolves inside that folder.

The engine calls it just before a job is sent (:meth:`cosim.spice.SpiceEngine.run_job`)
and the worker calls it again on what it received, just before ``ngSpice_Circ``; a text
that fails raises (or is answered with) :class:`~cosim.spice.errors.DeckRefusedError`
(a ``SpiceSyntaxError``)
naming the line.
"""

from __future__ import annotations

import re
from pathlib import Path

from cosim.netlist.analysis import ANALYSIS_KINDS
from cosim.netlist.elements import ELEMENT_TYPES
from cosim.spice.errors import DeckRefusedError

#: Element letters the netlist core renders.
ELEMENT_LETTERS = frozenset(ELEMENT_TYPES)

#: Analysis kinds a job may name (one analysis line per deck).
JOB_KINDS = frozenset(ANALYSIS_KINDS)

#: Dot commands the netlist core renders, plus the shipped-include forms.
DOT_COMMANDS = frozenset({".subckt", ".ends", ".model", ".param", ".options", ".option",
                          ".ic", ".end", ".include", ".inc", ".lib"}
                         | {f".{kind}" for kind in ANALYSIS_KINDS})

_PRINTABLE = re.compile(r"[\x20-\x7e\n]*")
_COMMAND_COMMENT = re.compile(r"^\s*\*\s*(#|ng_script)", re.IGNORECASE)
# Words that open or run ngspice commands; refused anywhere outside a comment.
_CONTROL_WORDS = re.compile(
    r"(^|[^A-Za-z0-9_])(shell|control|endc)([^A-Za-z0-9_]|$)",
    re.IGNORECASE)
_DOT_WORD = re.compile(r"^(\.[A-Za-z_]+)")
_INCLUDES = frozenset({".include", ".inc", ".lib"})


def _refuse(reason: str, lineno: int | None, line: str | None, text: str) -> None:
    where = "" if lineno is None else f"line {lineno}: "
    shown = "" if line is None else f" ({line[:120]!r})"
    raise DeckRefusedError(f"refused before ngspice: {where}{reason}{shown}", netlist=text)


def _shipped_dir() -> Path:
    from cosim.resources import data_dir

    return data_dir("netlists").resolve()


def _check_include(lineno: int, line: str, text: str) -> None:
    parts = line.split()
    if len(parts) < 2:
        _refuse("an include names no file", lineno, line, text)
    target = parts[1].strip("'\"")
    shipped = _shipped_dir()
    try:
        resolved = (shipped / target).resolve() if not Path(target).is_absolute() \
            else Path(target).resolve()
    except (OSError, RuntimeError, ValueError):
        _refuse("an include path that cannot be resolved", lineno, line, text)
    if resolved.parent != shipped or not resolved.is_file():
        _refuse(f"only shipped libraries of {shipped} may be included; inline other files",
                lineno, line, text)


def check_deck(text: object, kind: object = None) -> str:  # noqa: C901 - one refusal per rule
    """Refuse any text ngspice could read as more than the circuit the core renders.

    Parameters
    ----------
    text
        The complete deck, exactly as it will be handed to ngspice.
    kind
        The analysis kind of the job, if any; must be one of :data:`JOB_KINDS`.

    Returns
    -------
    str
        ``text`` unchanged, when it passes.

    Raises
    ------
    DeckRefusedError
        A :class:`~cosim.spice.errors.SpiceSyntaxError`, naming the first offending line
        and why it is refused.
    """
    if not isinstance(text, str):
        raise DeckRefusedError(f"refused before ngspice: a deck must be text, not "
                               f"{type(text).__name__}")
    if kind is not None and kind not in JOB_KINDS:
        raise DeckRefusedError(f"refused before ngspice: analysis kind {kind!r} is not one of "
                               f"{sorted(JOB_KINDS)}")
    if not text.strip():
        raise DeckRefusedError("refused before ngspice: the deck is empty")
    if not _PRINTABLE.fullmatch(text):
        bad = next(i for i, c in enumerate(text) if not ("\x20" <= c <= "\x7e" or c == "\n"))
        lineno = text.count("\n", 0, bad) + 1
        line = text.split("\n")[lineno - 1]
        _refuse(f"character {text[bad]!r} (U+{ord(text[bad]):04X}) is not printable ASCII; "
                "a deck holds printable ASCII and '\\n' line ends only", lineno, line, text)
    lines = text.split("\n")
    if not lines[0].lstrip().startswith("*"):
        _refuse("the first line must be a '*' title comment", 1, lines[0], text)
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if _COMMAND_COMMENT.match(stripped):
            _refuse("ngspice runs '*#' and '*ng_script' comment lines as commands", lineno,
                    line, text)
        if stripped.startswith("*"):
            continue
        if lineno == 1:
            continue
        head = stripped[0]
        if head == ".":
            m = _DOT_WORD.match(stripped)
            word = m.group(1).lower() if m else stripped.split()[0]
            if word not in DOT_COMMANDS:
                _refuse(f"dot command {word!r} is not one the netlist core renders "
                        f"({' '.join(sorted(DOT_COMMANDS))})", lineno, line, text)
            if word in _INCLUDES:
                _check_include(lineno, stripped, text)
                continue
        elif head != "+" and head.upper() not in ELEMENT_LETTERS:
            _refuse(f"element letter {head!r} is not one the netlist core renders "
                    f"({' '.join(sorted(ELEMENT_LETTERS))})", lineno, line, text)
        if _CONTROL_WORDS.search(stripped):
            _refuse("a control word (shell, control, endc) outside a comment", lineno, line, text)
    return text
