"""The tables the MNA stamps take: flat elements, and resistors and sources in columns.

:class:`FlatTable` is what flattening a Circuit gives (:mod:`cosim.native.flatten`):
names as text, the repeated simple elements in columns.  :class:`NumberedTable` has the
nodes numbered (:func:`number_nodes`), the form :class:`~cosim.native.mna.MnaSystem`
stamps with whole-array operations; the columnar reader :mod:`cosim.native.bulk` builds
it straight from netlist text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cosim.native.errors import UnsupportedElementError

GROUND = "0"


@dataclass(frozen=True)
class Flat:
    """One primitive element after flattening.

    ``kind`` is the SPICE letter (R V I E G F H L B D M); ``nodes`` are flat node names;
    ``value`` is the numeric value (conductance in S for R, source value in V or A, gain
    for E G F H); ``branch`` is the ngspice branch key (without ``#branch``) for elements
    that carry a branch current; ``control`` is the branch key of a controlling source
    (F, H); ``expr`` is the resolved expression tree of a B-source; ``model`` holds
    resolved model parameters (lower-case keys) for D and M; ``extra`` instance values.
    """

    kind: str
    name: str
    nodes: tuple[str, ...]
    value: float = 0.0
    branch: str | None = None
    control: str | None = None
    expr: tuple | None = None
    quantity: str | None = None
    model: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class FlatTable:
    """A flattened circuit, with the repeated simple elements kept as columns.

    Resistors and independent V and I sources (the bulk of a crossbar: one resistor per
    cell and wire segment) are not made into :class:`Flat` objects: their flat names,
    nodes and values go into the parallel lists below, which :class:`~cosim.native.mna.
    MnaSystem` stamps with whole-array operations.  Every other element stays a
    :class:`Flat` in :attr:`others`.

    ``terminals`` lists the nodes of every element in netlist order and ``branches`` the
    branch keys in netlist order; they fix the numbering of the unknowns, so that a table
    read from text (:mod:`cosim.native.bulk`) and one flattened from a Circuit number a
    circuit the same way.  ``r_at``, ``v_at`` and ``i_at`` give where each column
    element's two nodes sit in ``terminals``, so that numbering the terminals numbers the
    columns too.

    Values: ``r_g`` conductances in S (1 / resistance); ``v_value`` in V; ``i_value`` in A.
    """

    terminals: list[str] = field(default_factory=list)
    r_at: list[int] = field(default_factory=list)
    v_at: list[int] = field(default_factory=list)
    i_at: list[int] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    r_pos: list[str] = field(default_factory=list)
    r_neg: list[str] = field(default_factory=list)
    r_g: list[float] = field(default_factory=list)
    v_name: list[str] = field(default_factory=list)
    v_pos: list[str] = field(default_factory=list)
    v_neg: list[str] = field(default_factory=list)
    v_branch: list[str] = field(default_factory=list)
    v_value: list[float] = field(default_factory=list)
    i_name: list[str] = field(default_factory=list)
    i_pos: list[str] = field(default_factory=list)
    i_neg: list[str] = field(default_factory=list)
    i_value: list[float] = field(default_factory=list)
    r_name: list[str] = field(default_factory=list)
    others: list[Flat] = field(default_factory=list)

    def add(self, e: Flat) -> None:
        """Append one flat element (columns for R, V, I; :attr:`others` for the rest)."""
        at = len(self.terminals)
        self.terminals += e.nodes
        if e.kind == "R":
            self.r_at.append(at)
            self.r_name.append(e.name)
            self.r_pos.append(e.nodes[0])
            self.r_neg.append(e.nodes[1])
            self.r_g.append(e.value)
            return
        if e.branch is not None:
            self.branches.append(e.branch)
        if e.kind == "V":
            self.v_at.append(at)
            self.v_name.append(e.name)
            self.v_pos.append(e.nodes[0])
            self.v_neg.append(e.nodes[1])
            self.v_branch.append(e.branch)
            self.v_value.append(e.value)
        elif e.kind == "I":
            self.i_at.append(at)
            self.i_name.append(e.name)
            self.i_pos.append(e.nodes[0])
            self.i_neg.append(e.nodes[1])
            self.i_value.append(e.value)
        else:
            self.others.append(e)

    @classmethod
    def of(cls, flat: list[Flat]) -> FlatTable:
        """The table of a list of flat elements."""
        table = cls()
        for e in flat:
            table.add(e)
        return table

    def elements(self) -> list[Flat]:
        """Every element as a :class:`Flat`: resistors, V sources, I sources, then others."""
        out = [Flat("R", n, (a, b), g)
               for n, a, b, g in zip(self.r_name, self.r_pos, self.r_neg, self.r_g)]
        out += [Flat("V", n, (a, b), float(v), branch=br) for n, a, b, br, v in
                zip(self.v_name, self.v_pos, self.v_neg, self.v_branch, self.v_value)]
        out += [Flat("I", n, (a, b), float(v))
                for n, a, b, v in zip(self.i_name, self.i_pos, self.i_neg, self.i_value)]
        return out + self.others


def _string_hash(arr: np.ndarray) -> np.ndarray:
    """A 64-bit FNV-1a hash of each string of a fixed-width ``S`` or ``U`` array."""
    unit = np.uint8 if arr.dtype.kind == "S" else np.uint32
    codes = np.ascontiguousarray(arr).view(unit).reshape(arr.size, -1)
    h = np.full(arr.size, 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    for j in range(codes.shape[1]):
        h ^= codes[:, j]
        h *= prime
    return h


def distinct_strings(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct strings of a fixed-width string array, found without comparing them.

    Parameters
    ----------
    arr : ndarray of dtype S or U, shape (m,)

    Returns
    -------
    first : ndarray of int, shape (k,)
        Index in ``arr`` of the first occurrence of each distinct string, in no
        particular order.
    inverse : ndarray of int, shape (m,)
        ``arr[i] == arr[first[inverse[i]]]``.

    Notes
    -----
    Strings are grouped by a 64-bit hash (integers sort several times faster than
    strings); the grouping is then checked string by string, and if two strings share a
    hash the strings themselves are sorted instead, so the answer is always exact.
    """
    h = _string_hash(arr)
    perm = np.argsort(h)                    # equal hashes together, in any order
    hs = h[perm]
    start = np.empty(h.size, dtype=bool)
    start[:1] = True
    np.not_equal(hs[1:], hs[:-1], out=start[1:])
    first = np.minimum.reduceat(perm, np.flatnonzero(start))
    inverse = np.empty(h.size, dtype=np.int64)
    inverse[perm] = np.cumsum(start) - 1
    if not np.array_equal(arr[first][inverse], arr):     # a hash collision
        _, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def all_distinct(arr: np.ndarray) -> bool:
    """Whether the strings of a fixed-width string array are all different (exact)."""
    h = np.sort(_string_hash(arr))
    if not np.any(h[1:] == h[:-1]):
        return True
    return np.unique(arr, return_index=True)[1].size == arr.size   # equal hashes: look


def number_nodes(terminals) -> tuple[np.ndarray, np.ndarray]:
    """Number circuit nodes in order of first appearance, ground last.

    Parameters
    ----------
    terminals : array_like of str or bytes, shape (m,)
        Node names of every element terminal, in netlist order (lower-case).

    Returns
    -------
    names : ndarray, shape (n_nodes,)
        The non-ground node names (same dtype as ``terminals``), unknown ``i`` being
        ``V(names[i])``.
    index : ndarray of int64, shape (m,)
        Unknown number of each terminal; ground (``"0"``) is ``n_nodes``, a slot the
        stamps drop.

    Notes
    -----
    Whole-array work (:func:`distinct_strings`) instead of a dictionary lookup per
    terminal; the numbering is the one ``dict.fromkeys(terminals)`` gives.
    """
    arr = np.asarray(terminals)
    if arr.size == 0:
        return arr, np.zeros(0, dtype=np.int64)
    first, inverse = distinct_strings(arr)
    # Rank of each distinct name by its first appearance: first appearances counted
    # along the terminals.
    seen = np.zeros(arr.size, dtype=bool)
    seen[first] = True
    rank = (np.cumsum(seen) - 1)[first]
    ground = GROUND.encode() if arr.dtype.kind == "S" else GROUND
    g = np.flatnonzero(arr[first] == np.asarray(ground, dtype=arr.dtype))
    if g.size:
        slot = rank[g[0]]
        rank[rank > slot] -= 1
        rank[g[0]] = first.size - 1
    order = np.empty(first.size, dtype=np.int64)
    order[rank] = np.arange(first.size)     # distinct names in unknown order
    return arr[first[order[:first.size - g.size]]], rank[inverse]


@dataclass
class NumberedTable:
    """Resistors and independent sources with numbered nodes: what the stamps need.

    Built by :meth:`of` from a :class:`FlatTable` (names) or
    directly by the columnar reader :mod:`cosim.native.bulk`.  Node numbers are unknown
    numbers (:func:`number_nodes`), ground being ``len(nodes)``; ``v_k`` are the branch
    numbers of the V sources among ``branches`` (0-based, before the node offset).
    ``nodes`` is a list of str or a numpy ``str`` array.

    Values: ``r_g`` in S, ``v_value`` in V, ``i_value`` in A.
    """

    nodes: list[str] | np.ndarray
    branches: list[str]
    r_a: np.ndarray
    r_c: np.ndarray
    r_g: np.ndarray
    v_name: list[str]
    v_a: np.ndarray
    v_c: np.ndarray
    v_k: np.ndarray
    v_value: np.ndarray
    i_name: list[str]
    i_a: np.ndarray
    i_c: np.ndarray
    i_value: np.ndarray
    others: list[Flat] = field(default_factory=list)

    @classmethod
    def of(cls, table: FlatTable) -> NumberedTable:
        """Number the nodes of ``table`` (order of first appearance in its terminals)."""
        branches = list(dict.fromkeys(table.branches))
        if len(branches) != len(table.branches):
            seen: set[str] = set()
            dup = next(br for br in table.branches if br in seen or seen.add(br))
            raise UnsupportedElementError(f"duplicate branch name {dup!r}")
        names, index = number_nodes(table.terminals)
        r, v, i = (np.asarray(at, dtype=np.int64) for at in (table.r_at, table.v_at,
                                                              table.i_at))
        r_a, r_c, v_a, v_c, i_a, i_c = index[r], index[r + 1], index[v], index[v + 1], \
            index[i], index[i + 1]
        where = dict(zip(branches, range(len(branches))))
        v_k = np.array([where[br] for br in table.v_branch], dtype=np.int64)
        return cls(names.tolist(), branches, r_a, r_c, np.asarray(table.r_g, dtype=float),
                   list(table.v_name), v_a, v_c, v_k, np.asarray(table.v_value, dtype=float),
                   list(table.i_name), i_a, i_c, np.asarray(table.i_value, dtype=float),
                   list(table.others))
