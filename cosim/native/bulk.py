"""Read a large flat netlist straight into numbered columns, for ``cosim netlist run
--engine native``.

A crossbar netlist is hundreds of thousands of lines of three kinds (``R``, ``V``, ``I``)
with plain numbers.  Making an element object of each line (:func:`cosim.netlist.
parse_netlist`, which validates every field) costs more than solving the circuit, and so
does any work per line in Python.  This module reads such text as one byte array: line
and token boundaries, the checks of every name, node and number, the node numbering
(:func:`cosim.native.table.number_nodes`) and the conversion of the values are whole-array
operations, and the result is the :class:`~cosim.native.table.NumberedTable` the stamps
take.  Only the few lines of other kinds (title, comments, control lines) are looked at
one by one.

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
from functools import cached_property

import numpy as np

from cosim.errors import NetlistError
from cosim.native.table import NumberedTable, all_distinct, number_nodes

_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
_NODE = r"[A-Za-z0-9_]{1,64}"
_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_ELEMENT_RE = re.compile(rf"^({_NAME}) +({_NODE}) +({_NODE}) +([Dd][Cc] +)?({_NUMBER}) *$",
                         re.MULTILINE)
_DOT_RE = re.compile(r"\.[A-Za-z]+(?: .*)?")
_ANALYSES = (".op", ".dc")
_MAX_NAME = 64


def _byte_set(chars: str) -> np.ndarray:
    """Lookup table over the 256 byte values: True for ``chars`` and for NUL (padding)."""
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(chars.encode(), dtype=np.uint8)] = True
    table[0] = True
    return table


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_NUMERIC = _byte_set("0123456789.eE+-")            # values (the float check does the rest)
_LEADER = _byte_set(_LETTERS + "_")                # first character of an element line
_LEADER[0] = False
_BAD = 0xFF
# Names and nodes: A-Za-z0-9_ lower-cased, NUL (padding) kept, anything else _BAD.
_LOWER = np.where(_byte_set(_LETTERS + "0123456789_"), np.arange(256), _BAD).astype(np.uint8)
_LOWER[ord("A"):ord("Z") + 1] += 32


class BulkNetlist:
    """A flat R/V/I netlist read into numbered columns.

    Attributes
    ----------
    title : str
    table : NumberedTable
        Elements in columns, nodes numbered, lower-case names as the native solver uses
        them.
    analyses : list
        The analysis objects of the file (``Op``, ``Dc``), in file order.
    """

    def __init__(self, title: str, table: NumberedTable, analyses: list, body: str) -> None:
        self.title = title
        self.table = table
        self.analyses = analyses
        self._body = body

    @cached_property
    def lines(self) -> list[str]:
        """Element lines as :meth:`cosim.netlist.Circuit.render` writes them."""
        found = _ELEMENT_RE.findall(self._body)
        names, pos, neg, dc, values = zip(*found)
        # As format_number writes a value: repr, without a trailing ".0"; sources with "DC".
        text = [t[:-2] if t[-2:] == ".0" else t for t in map(repr, map(float, values))]
        text = [v if n[0] in "Rr" else "DC " + v for n, v in zip(names, text)]
        return list(map(" ".join, zip(names, pos, neg, text)))

    def render(self, analyses: list | None = None) -> str:
        """The netlist text, as the Circuit of the same file renders (``with_analyses``)."""
        tail = [a.render() for a in (self.analyses if analyses is None else analyses)]
        return "\n".join([f"* {self.title}", *self.lines, *tail, ".end"]) + "\n"

    def sha256(self) -> str:
        """sha256 of :meth:`render`, equal to ``parse_netlist(text).sha256()``."""
        return hashlib.sha256(self.render().encode("utf-8")).hexdigest()

    def run(self, analysis, *, netlist_sha256: bool = True):
        """Run ``analysis`` (one of :attr:`analyses`, or ``Op()``) natively.

        Returns the :class:`~cosim.spice.SpiceResult` that :func:`cosim.native.run_native`
        gives for the Circuit of the same text (same vectors, same ``netlist_sha256``).
        With ``netlist_sha256=False`` the job text is not rendered and the result's
        ``netlist_sha256`` is empty (for a caller that does not report it).
        """
        from cosim.native.mna import MnaSystem
        from cosim.native.solver import check_dc_points, run_system
        from cosim.netlist.analysis import Dc

        if isinstance(analysis, Dc):
            check_dc_points(analysis)
        sha = self.job_sha256(analysis) if netlist_sha256 else ""
        return run_system(MnaSystem(self.table), analysis, sha)

    def job_sha256(self, analysis) -> str:
        """sha256 of the text ngspice would run for ``analysis`` (as ``make_job`` gives)."""
        return hashlib.sha256(self.render([analysis]).encode()).hexdigest()


def read_bulk(text: str, origin: str = "<netlist>") -> BulkNetlist | None:
    """Columns of ``text`` if it is a flat R/V/I netlist (see the module), else ``None``.

    ``None`` means "read it with :func:`cosim.netlist.parse_netlist`", which either
    accepts it (e.g. a scale suffix, a subcircuit, a model) or reports what is wrong.
    """
    from cosim.netlist.validate import check_title

    if "\t" in text or "\r" in text:
        return None
    head, sep, body = text.partition("\n")
    if not sep or not body.isascii():
        return None
    title = head.lstrip("*").strip()[:200] or "untitled"
    try:
        check_title(title)
    except NetlistError:
        return None
    if body.endswith("\n"):
        body = body[:-1]
    buf = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
    if buf.size == 0 or np.any((buf < 0x20) & (buf != 0x0A)) or np.any(buf > 0x7E):
        return None
    lines = _lines(body, buf)
    if lines is None:
        return None
    element, newlines, analyses = lines
    table = _columns(buf, element, newlines)
    if table is None:
        return None
    return BulkNetlist(title, table, analyses, body)


def _lines(body: str, buf: np.ndarray):
    """(element-line mask, positions of the newlines, analyses) if every line is in the
    subset, else None."""
    from cosim.netlist.analysis import read_analysis

    nl = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [buf.size]])
    first = np.where(starts < ends, buf[np.minimum(starts, buf.size - 1)], 0)
    element = _LEADER[first]
    dots: list[tuple[int, str]] = []
    for j in np.flatnonzero(~element).tolist():     # comments, blanks, control lines
        line = body[starts[j]:ends[j]]
        stripped = line.lstrip(" ")
        if not stripped or stripped[0] == "*":
            continue
        if not _DOT_RE.fullmatch(line):
            return None       # a line of another kind (continuation, subcircuit ...)
        dots.append((j, line))
    if not element.any() or not dots or dots[-1][1].strip().lower() != ".end":
        return None
    if element[dots[-1][0]:].any():
        return None           # text after .end: the full parser refuses it
    analyses = []
    for _, line in dots[:-1]:
        tok = line.split()
        if tok[0].lower() not in _ANALYSES:
            return None
        try:
            analyses.append(read_analysis(tok, line))
        except NetlistError:
            return None
    return element, nl, analyses


def _tokens(buf: np.ndarray, ts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Tokens (given by start and length in ``buf``) as rows of bytes, NUL-padded."""
    width = int(lengths.max())
    padded = np.concatenate([buf, np.zeros(width, dtype=np.uint8)])
    rows = np.lib.stride_tricks.sliding_window_view(padded, width)[ts]
    rows *= np.arange(width) < lengths[:, None]
    return rows


def _columns(buf: np.ndarray, element: np.ndarray, newlines: np.ndarray  # noqa: C901
             ) -> NumberedTable | None:
    """The numbered columns of the element lines, or None if one is outside the subset."""
    # Tokens: runs of bytes above the space (only printable ASCII and "\n" are left),
    # from the positions where a run starts or ends.
    word = buf > 0x20
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1
    edges = np.concatenate([[0] if word[0] else [], edges, [buf.size] if word[-1] else []])
    ts, te = edges[0::2].astype(np.int64), edges[1::2].astype(np.int64)
    line = np.searchsorted(newlines, ts)
    keep = element[line]
    ts, te, line = ts[keep], te[keep], line[keep]
    count = np.bincount(line, minlength=element.size)[element]
    if not np.all((count == 4) | (count == 5)):
        return None
    f0 = np.cumsum(count) - count                   # first token of each element line
    dc = count == 5
    kind = buf[ts[f0]] & 0xDF                       # upper-case first letter
    is_r, is_v, is_i = kind == ord("R"), kind == ord("V"), kind == ord("I")
    if not np.all(is_r | is_v | is_i) or np.any(dc & is_r):
        return None           # another element letter, or "DC" in a resistor line
    d = ts[f0[dc] + 3]
    if np.any(te[f0[dc] + 3] - d != 2) or np.any((buf[d] | 0x20) != ord("d")) or \
            np.any((buf[d + 1] | 0x20) != ord("c")):
        return None           # a fifth token that is not DC
    # Names and nodes: three tokens per line, checked and lower-cased as bytes.
    words = (f0[:, None] + np.arange(3)).ravel()
    length = te[words] - ts[words]
    if length.max() > _MAX_NAME:
        return None
    rows = _LOWER[_tokens(buf, ts[words], length)]
    if (rows == _BAD).any():
        return None
    words = rows.view(f"S{rows.shape[1]}").reshape(-1, 3)
    names, terminals = words[:, 0], words[:, 1:].ravel()
    if not all_distinct(names):
        return None           # duplicate name: the full parser names it
    # Values: numbers of the plain form, converted by numpy's correctly rounded parser
    # (the same double as Python's float() of the token).
    v = f0 + 3 + dc
    rows = _tokens(buf, ts[v], te[v] - ts[v])
    if not _NUMERIC[rows].all():
        return None
    try:
        val = rows.view(f"S{rows.shape[1]}").ravel().astype(float)
    except ValueError:
        return None
    if not np.all(np.isfinite(val)) or np.any(val[is_r] <= 0):
        return None
    nodes, index = number_nodes(terminals)
    a, c = index[0::2], index[1::2]
    if _floating(a[~is_i], c[~is_i], nodes.size):
        return None           # the full path reports the floating nodes
    source_names = names[~is_r].astype(str).tolist()
    v_names = [n for n, k in zip(source_names, kind[~is_r].tolist()) if k == ord("V")]
    i_names = [n for n, k in zip(source_names, kind[~is_r].tolist()) if k == ord("I")]
    return NumberedTable(
        nodes=nodes.astype(str), branches=v_names,
        r_a=a[is_r], r_c=c[is_r], r_g=1.0 / val[is_r],
        v_name=v_names, v_a=a[is_v], v_c=c[is_v], v_k=np.arange(len(v_names)),
        v_value=val[is_v], i_name=i_names, i_a=a[is_i], i_c=c[is_i], i_value=val[is_i])


def _floating(a: np.ndarray, c: np.ndarray, ground: int) -> bool:
    """Whether some node has no DC path to ground (node ``ground``) through edges a-c."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = ground + 1
    graph = coo_matrix((np.ones(a.size), (a, c)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return bool(np.any(labels != labels[ground]))
