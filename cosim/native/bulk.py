"""Read a large flat netlist straight into columns, for ``cosim netlist run --engine native``.

A crossbar netlist is hundreds of thousands of lines of three kinds (``R``, ``V``, ``I``)
with plain numbers.  Making an element object of each line (:func:`cosim.netlist.
parse_netlist`, which validates every field) costs more than solving the circuit, so this
module reads such text with whole-text regular expressions into a
:class:`~cosim.native.flatten.FlatTable`, the form the solver assembles from.

It accepts a strict subset of what the full parser accepts, and gives up (returns
``None``) on anything else, so that the full parser then reads the text and reports any
error with its own message.  The subset: a title line, comment and blank lines, lines ::

    Rname n1 n2 VALUE
    Vname n1 n2 [DC] VALUE
    Iname n1 n2 [DC] VALUE

with names and nodes under the same rules as :mod:`cosim.netlist.validate` (element
name: a letter then up to 63 of ``A-Za-z0-9_``; node: 1-64 of them), ``VALUE`` a plain
decimal number (no scale suffix, no expression), no duplicate element name, every node
with a DC path to ground, and control lines ``.op``, ``.dc`` (read by the full parser's
own analysis reader) and ``.end`` only.  Printable ASCII, no tabs or carriage returns.

The job text (and so the ``netlist_sha256`` of the result) is rendered exactly as
:func:`cosim.spice.make_job` renders the parsed Circuit; a test checks both agree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from cosim.errors import NetlistError
from cosim.native.flatten import GROUND, FlatTable

_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
_NODE = r"[A-Za-z0-9_]{1,64}"
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ELEMENT_RE = re.compile(rf"^({_NAME}) +({_NODE}) +({_NODE}) +([Dd][Cc] +)?({_NUMBER}) *$",
                         re.MULTILINE)
_SKIP_RE = re.compile(r"^(?: *| *\*.*)$", re.MULTILINE)
_DOT_RE = re.compile(r"^(\.[A-Za-z]+(?: .*)?)$", re.MULTILINE)
_END_RE = re.compile(r"^\.[Ee][Nn][Dd] *$", re.MULTILINE)
_BAD_CHAR_RE = re.compile(r"[^\x20-\x7e\n]")
_ANALYSES = (".op", ".dc")


@dataclass
class BulkNetlist:
    """A flat R/V/I netlist read into columns.

    Attributes
    ----------
    title : str
    table : FlatTable
        Elements in columns, with lower-case flat names as the native solver uses them.
    analyses : list
        The analysis objects of the file (``Op``, ``Dc``), in file order.
    lines : list of str
        Element lines as :meth:`cosim.netlist.Circuit.render` writes them.
    """

    title: str
    table: FlatTable
    analyses: list
    lines: list[str]

    def render(self, analyses: list | None = None) -> str:
        """The netlist text, as the Circuit of the same file renders (``with_analyses``)."""
        tail = [a.render() for a in (self.analyses if analyses is None else analyses)]
        return "\n".join([f"* {self.title}", *self.lines, *tail, ".end"]) + "\n"

    def sha256(self) -> str:
        """sha256 of :meth:`render`, equal to ``parse_netlist(text).sha256()``."""
        return hashlib.sha256(self.render().encode("utf-8")).hexdigest()

    def run(self, analysis):
        """Run ``analysis`` (one of :attr:`analyses`, or ``Op()``) natively.

        Returns the :class:`~cosim.spice.SpiceResult` that :func:`cosim.native.run_native`
        gives for the Circuit of the same text (same vectors, same ``netlist_sha256``).
        """
        from cosim.native.mna import MnaSystem
        from cosim.native.solver import check_dc_points, run_system
        from cosim.netlist import Dc

        if isinstance(analysis, Dc):
            check_dc_points(analysis)
        return run_system(MnaSystem(self.table), analysis, self.job_sha256(analysis))

    def job_sha256(self, analysis) -> str:
        """sha256 of the text ngspice would run for ``analysis`` (as ``make_job`` gives)."""
        return hashlib.sha256(self.render([analysis]).encode()).hexdigest()


def read_bulk(text: str, origin: str = "<netlist>") -> BulkNetlist | None:
    """Columns of ``text`` if it is a flat R/V/I netlist (see the module), else ``None``.

    ``None`` means "read it with :func:`cosim.netlist.parse_netlist`", which either
    accepts it (e.g. a scale suffix, a subcircuit, a model) or reports what is wrong.
    """
    lines = _element_lines(text, origin)
    if lines is None:
        return None
    title, found, analyses = lines
    return _columns(title, found, analyses)


def _element_lines(text: str, origin: str):
    """(title, element line groups, analyses) if every line is in the subset, else None."""
    from cosim.netlist.parse import _analysis
    from cosim.netlist.validate import check_title

    if "\t" in text or "\r" in text:
        return None
    head, sep, body = text.partition("\n")
    if not sep or _BAD_CHAR_RE.search(body):
        return None
    title = head.lstrip("*").strip()[:200] or "untitled"
    try:
        check_title(title)
    except NetlistError:
        return None
    if body.endswith("\n"):
        body = body[:-1]
    found = _ELEMENT_RE.findall(body)
    dots = _DOT_RE.findall(body)
    if len(found) + len(dots) + len(_SKIP_RE.findall(body)) != body.count("\n") + 1:
        return None       # a line of another kind (continuation, subcircuit, comment ...)
    if not found or not dots or dots[-1].strip().lower() != ".end":
        return None
    end = list(_END_RE.finditer(body))[-1].end()
    if _ELEMENT_RE.search(body, end) or _DOT_RE.search(body, end):
        return None       # text after .end: the full parser refuses it
    analyses = []
    for line in dots[:-1]:
        tok = line.split()
        if tok[0].lower() not in _ANALYSES:
            return None
        try:
            analyses.append(_analysis(tok, f"{origin}: {line}"))
        except NetlistError:
            return None
    return title, found, analyses


def _columns(title: str, found: list[tuple[str, ...]], analyses: list) -> BulkNetlist | None:
    """The BulkNetlist of matched element lines, or None if a value or name is refused."""
    names, pos, neg, dc, values = (list(map(itemgetter(k), found)) for k in range(5))
    kinds = "".join([n[0] for n in names]).upper()
    if set(kinds) - set("RVI") or any(kinds[j] == "R" for j, d in enumerate(dc) if d):
        return None       # another element letter, or "DC" in a resistor line
    if len(set("\n".join(names).upper().split("\n"))) != len(names):
        return None       # duplicate name: the full parser names it
    val = np.array(values, dtype=float)
    kind = np.frombuffer(kinds.encode(), dtype="S1")
    if not np.all(np.isfinite(val)) or np.any(val[kind == b"R"] <= 0):
        return None
    low_pos = _lower(pos)
    low_neg = _lower(neg)
    if _floating(low_pos, low_neg, kind != b"I"):
        return None       # the full path reports the floating nodes
    table = FlatTable()
    terminals = [""] * (2 * len(names))
    terminals[0::2] = low_pos
    terminals[1::2] = low_neg
    table.terminals = terminals
    low_names = _lower(names)
    if kinds.count("R") == len(kinds):
        table.r_name, table.r_pos, table.r_neg = low_names, low_pos, low_neg
        table.r_g = (1.0 / val).tolist()
    else:
        r, v, i = (np.flatnonzero(kind == k).tolist() for k in (b"R", b"V", b"I"))
        table.r_name = [low_names[j] for j in r]
        table.r_pos = [low_pos[j] for j in r]
        table.r_neg = [low_neg[j] for j in r]
        table.r_g = (1.0 / val[r]).tolist()
        table.v_name = [low_names[j] for j in v]
        table.v_branch = table.branches = table.v_name
        table.v_pos = [low_pos[j] for j in v]
        table.v_neg = [low_neg[j] for j in v]
        table.v_value = val[v].tolist()
        table.i_name = [low_names[j] for j in i]
        table.i_pos = [low_pos[j] for j in i]
        table.i_neg = [low_neg[j] for j in i]
        table.i_value = val[i].tolist()
    # Rendered as format_number does: repr, without a trailing ".0"; sources with "DC".
    text_vals = [t[:-2] if t[-2:] == ".0" else t for t in map(repr, val.tolist())]
    for j in np.flatnonzero(kind != b"R").tolist():
        text_vals[j] = "DC " + text_vals[j]
    lines = list(map(" ".join, zip(names, pos, neg, text_vals)))
    return BulkNetlist(title, table, analyses, lines)


def _lower(items: list[str]) -> list[str]:
    """Lower-case every string of a list of one-line strings (one join, one split)."""
    return "\n".join(items).lower().split("\n")


def _floating(pos: list[str], neg: list[str], conducts: np.ndarray) -> bool:
    """Whether some node has no DC path to ground through the R and V elements."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    order = dict.fromkeys([GROUND])
    order.update(dict.fromkeys(pos))
    order.update(dict.fromkeys(neg))
    index = dict(zip(order, range(len(order))))
    a = np.array([index[n] for n in pos])[conducts]
    b = np.array([index[n] for n in neg])[conducts]
    graph = coo_matrix((np.ones(a.size), (a, b)), shape=(len(index), len(index)))
    _, labels = connected_components(graph, directed=False)
    return bool(np.any(labels != labels[0]))
