"""Immutable simulation results: every saved vector of a run as a read-only numpy array."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from cosim.netlist.analysis import AnalysisKind

_AXIS_NAMES = {"op": None, "dc": None, "ac": "frequency", "tran": "time", "noise": "frequency"}


class VectorColumns(Mapping):
    """Vectors of one shape held as the rows of one read-only array, by sorted name.

    A read-only mapping like the dictionary :meth:`SpiceResult.build` makes, for results
    with very many vectors (a native operating point of a large circuit): no array object
    per vector until one is looked up.

    Parameters
    ----------
    names : list of str
        Vector names, sorted, distinct.
    data : ndarray, shape (len(names), ...)
        Row ``j`` is the vector ``names[j]``; made read-only.
    """

    __slots__ = ("names", "data", "_array")

    def __init__(self, names: list[str], data: np.ndarray) -> None:
        if len(names) != len(data):
            raise ValueError(f"{len(names)} names for {len(data)} rows of data")
        data.setflags(write=False)
        self.names = names
        self.data = data
        self._array = None

    @property
    def names_array(self) -> np.ndarray:
        """:attr:`names` as a numpy string array (for whole-array string operations)."""
        if self._array is None:
            self._array = np.array(self.names) if self.names else np.zeros(0, dtype="U1")
        return self._array

    def __getitem__(self, name: str) -> np.ndarray:
        j = bisect_left(self.names, name)
        if j < len(self.names) and self.names[j] == name:
            return self.data[j, ...]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class SpiceResult:
    """Vectors of one analysis, by lower-case ngspice name.

    Node voltages are named by the node (``"out"``), branch currents of voltage sources
    ``"v1#branch"`` (positive into the ``n_pos`` terminal, through the source).  ``axis`` is
    the time (s), frequency (Hz) or swept source value; ``None`` for ``op``.  For ``noise``
    the spectra are ``onoise_spectrum`` (V/sqrt(Hz)) and ``inoise_spectrum`` and the totals
    ``onoise_total`` (V rms) and ``inoise_total``.
    """

    kind: AnalysisKind
    vectors: Mapping[str, np.ndarray]
    axis_name: str | None = None
    ngspice_version: str = ""
    netlist_sha256: str = ""

    @staticmethod
    def build(kind: AnalysisKind, vectors: dict[str, np.ndarray], axis_name: str | None,
              ngspice_version: str = "", netlist_sha256: str = "") -> SpiceResult:
        frozen = {}
        for name, arr in sorted(vectors.items()):
            a = np.array(arr, copy=True)
            a.setflags(write=False)
            frozen[name.lower()] = a
        return SpiceResult(kind, MappingProxyType(frozen), axis_name, ngspice_version,
                           netlist_sha256)

    @staticmethod
    def from_columns(kind: AnalysisKind, names, data: np.ndarray, axis_name: str | None,
                     ngspice_version: str = "", netlist_sha256: str = "") -> SpiceResult:
        """A result whose vectors are the rows of ``data`` (one shape for all), named
        ``names`` (list or numpy array of str; lower-case, distinct); equal to
        :meth:`build` of the same vectors."""
        key = np.asarray(names, dtype=str) if len(names) else np.zeros(0, dtype="U1")
        order = np.argsort(key, kind="stable")
        frozen = np.array(np.asarray(data)[order], copy=True)
        columns = VectorColumns(key[order].tolist(), frozen)
        columns._array = key[order]
        return SpiceResult(kind, columns, axis_name, ngspice_version, netlist_sha256)

    def stacked(self) -> VectorColumns | None:
        """The vectors as the rows of one read-only array, by sorted name; ``None`` when
        they differ in shape (e.g. noise spectra and totals)."""
        if isinstance(self.vectors, VectorColumns):
            return self.vectors
        names = sorted(self.vectors)
        if len({self.vectors[k].shape for k in names}) > 1:
            return None
        return VectorColumns(names, np.array([self.vectors[k] for k in names]))

    @property
    def axis(self) -> np.ndarray | None:
        return None if self.axis_name is None else self.vectors[self.axis_name]

    def __getitem__(self, name: str) -> np.ndarray:
        key = name.lower()
        if key in self.vectors:
            return self.vectors[key]
        if key.startswith("v(") and key.endswith(")") and key[2:-1] in self.vectors:
            return self.vectors[key[2:-1]]
        raise KeyError(f"no vector {name!r} in this {self.kind} result; have: "
                       f"{', '.join(self.vectors)}")

    def v(self, node: str) -> np.ndarray:
        """Voltage of ``node`` (V); ground gives zeros."""
        if node == "0":
            return np.zeros_like(np.real(next(iter(self.vectors.values()))))
        return self[node]

    def i(self, source: str) -> np.ndarray:
        """Branch current (A) of voltage source ``source``."""
        return self[f"{source.lower()}#branch"]

    @property
    def node_voltages(self) -> dict[str, np.ndarray]:
        skip = {self.axis_name}
        return {k: v for k, v in self.vectors.items()
                if "#" not in k and k not in skip and not k.endswith(("_spectrum", "_total"))
                and not k.startswith("@")}

    @property
    def branch_currents(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.vectors.items() if k.endswith("#branch")}

    def to_jsonable(self) -> dict:
        """Plain lists (complex as [re, im] pairs) for ``--json`` output."""
        def conv(a: np.ndarray):
            if np.iscomplexobj(a):
                return [[float(x.real), float(x.imag)] for x in a.ravel()]
            return [float(x) for x in a.ravel()]
        return {"analysis": self.kind, "axis": self.axis_name,
                "ngspice_version": self.ngspice_version,
                "vectors": {k: conv(v) for k, v in self.vectors.items()}}
