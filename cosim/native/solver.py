"""Public entry points of the native solver: operating point, DC sweep, batched solves.

The native solver reads the *same* :class:`~cosim.netlist.Circuit` that ngspice runs and
gives results under the same names and sign conventions (``run_native`` returns a
:class:`~cosim.spice.SpiceResult`).  A linear circuit is factorized once per conductance
state; a batch of input vectors is then a multi-right-hand-side solve, or, when only a
few outputs are wanted, a product with the exact transfer matrix of the circuit (inputs
to outputs), which is what makes per-vector cost tiny for training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from cosim.errors import ResourceLimitError
from cosim.native.errors import UnsupportedElementError
from cosim.native.mna import MnaSystem, _factor
from cosim.netlist.analysis import Analysis, Dc, Op

if TYPE_CHECKING:
    from cosim.native.bulk import BulkNetlist
    from cosim.netlist import Circuit

_CHUNK = 64  # right-hand sides per triangular solve when building a transfer matrix

MAX_DC_POINTS = 1_000_000
"""Most points a native ``.dc`` sweep may have.  The solution of every unknown at every
point is held in memory (8 bytes x points x unknowns), so a sweep above this is refused,
before anything is allocated, with :class:`cosim.errors.ResourceLimitError`.  Raise the
constant if memory allows, or split the sweep into several ranges."""


def build_system(circuit: Circuit | BulkNetlist) -> MnaSystem:
    """Flatten ``circuit`` and assemble its MNA equations (``gmin`` from its options).

    A :class:`~cosim.native.bulk.BulkNetlist` (netlist text read by
    :func:`cosim.native.read_bulk`) is assembled from its columns directly.
    """
    from cosim.native.bulk import BulkNetlist
    from cosim.native.flatten import flatten_table

    if isinstance(circuit, BulkNetlist):
        return MnaSystem(circuit.table)
    gmin = circuit.options.get("gmin", 1e-12)
    if isinstance(gmin, str):
        raise UnsupportedElementError(f"option gmin={gmin!r}: give a number")
    return MnaSystem(flatten_table(circuit), gmin=float(gmin))


def _solve_one(system: MnaSystem, b: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    if system.linear:
        return _factor(system.A, system).solve(b)
    return system.newton(b, x0)


def solve_op(circuit: Circuit) -> dict[str, float]:
    """DC operating point of ``circuit``.

    Returns
    -------
    dict
        Node voltages (V) by lower-case node name (``"x1.m"`` inside instance ``x1``) and
        branch currents (A) as ``"<source>#branch"`` with ngspice's sign: positive into
        the source's first node, through the source.  Capacitors are open, inductors
        shorted (their current is ``"<l>#branch"``).
    """
    system = build_system(circuit)
    x = _solve_one(system, system.b)
    return {k: float(v) for k, v in system.vectors(x).items()}


def dc_point_count(a: Dc) -> float:
    """Points of a dc sweep as ngspice counts them (a float: ``inf`` if it overflows)."""
    span = (a.stop - a.start) / a.step
    if not np.isfinite(span):
        return float("inf")
    return float(np.floor(span * (1 + 1e-12) + 1e-9) + 1)


def check_dc_points(a: Dc) -> int:
    """The point count of ``a``; :class:`ResourceLimitError` above :data:`MAX_DC_POINTS`."""
    n = dc_point_count(a)
    if n > MAX_DC_POINTS:
        count = f"{n:,.0f}" if n < 1e15 else f"{n:.3g}"
        raise ResourceLimitError(
            f"{a.render()}: {count} sweep points, more than the native solver's limit of "
            f"{MAX_DC_POINTS:,} (cosim.native.solver.MAX_DC_POINTS); use a larger step "
            f"or a shorter range, or split the sweep into several runs")
    return int(n)


def _dc_values(a: Dc) -> np.ndarray:
    """Sweep points as ngspice makes them: repeated addition of the step."""
    n = check_dc_points(a)
    out, v = [], float(a.start)
    for _ in range(n):
        out.append(v)
        v += a.step
    return np.array(out)


def run_native(circuit: Circuit, analysis: Analysis | None = None):
    """Run ``op`` or ``dc`` natively; a :class:`~cosim.spice.SpiceResult` like ngspice's.

    Parameters
    ----------
    circuit
        The netlist object (the same one ngspice would run), or a
        :class:`~cosim.native.bulk.BulkNetlist` (:func:`cosim.native.read_bulk`).
    analysis
        ``Op()`` or ``Dc(source, start, stop, step)``; default the circuit's only analysis.

    Raises
    ------
    UnsupportedElementError
        For ``ac``, ``tran``, ``noise`` or an element the native solver lacks.
    ResourceLimitError
        For a dc sweep of more than :data:`MAX_DC_POINTS` points.
    """
    from cosim.spice.engine import make_job

    if analysis is None:
        if len(circuit.analyses) != 1:
            raise ValueError(f"the circuit has {len(circuit.analyses)} analyses; pass exactly "
                             "one (op or dc) to run natively")
        analysis = circuit.analyses[0]
    if not isinstance(analysis, (Op, Dc)):   # before the circuit is flattened
        raise UnsupportedElementError(f"analysis .{analysis.kind} is not implemented by the "
                                      "native solver (it runs .op and .dc); run it with "
                                      "--engine ngspice")
    if isinstance(analysis, Dc):
        check_dc_points(analysis)       # before the netlist is rendered or assembled
    from cosim.native.bulk import BulkNetlist

    sha = circuit.job_sha256(analysis) if isinstance(circuit, BulkNetlist) else \
        make_job(circuit, analysis).sha256
    return run_system(build_system(circuit), analysis, sha)


def run_system(system: MnaSystem, analysis: Op | Dc, netlist_sha256: str = ""):
    """Run ``op`` or ``dc`` on assembled equations; a :class:`~cosim.spice.SpiceResult`.

    :func:`run_native` calls it after validating and assembling a Circuit;
    :meth:`cosim.native.bulk.BulkNetlist.run` after reading a large flat netlist.
    ``netlist_sha256`` is the sha256 of the job text (as :func:`cosim.spice.make_job`).
    """
    from cosim.spice.result import SpiceResult

    sha = netlist_sha256
    names = system.unknown_names()
    if isinstance(analysis, Op):
        x = _solve_one(system, system.b)
        return SpiceResult.from_columns("op", names, x, None, "native", sha)
    if isinstance(analysis, Dc):
        name = analysis.source.lower()
        if name not in system.source_rhs:
            raise UnsupportedElementError(f"dc sweep source {analysis.source!r} is not an "
                                          "independent V or I source of the circuit")
        values = _dc_values(analysis)
        solver = NativeSolver(None, inputs=[name], _system=system)
        X = solver.solve_full(values[:, None])
        axis = ("v-sweep" if name.startswith("v") else "i-sweep")
        return SpiceResult.from_columns("dc", np.append(names, axis), np.vstack([X.T, values]),
                                        axis, "native", sha)
    raise UnsupportedElementError(f"analysis .{analysis.kind} is not implemented by the "
                                  "native solver (it runs .op and .dc)")


class NativeSolver:
    """A circuit prepared for many solves with different input-source values.

    Parameters
    ----------
    circuit
        The netlist object, or a :class:`~cosim.native.bulk.BulkNetlist` (a flat R/V/I
        netlist text read by :func:`cosim.native.read_bulk`).
    inputs
        Names of independent V or I sources whose values each solve sets (top-level
        names such as ``"VROW3"``; case-insensitive).  Other sources keep their netlist
        values.
    outputs
        Names of the quantities to return: node names (V) or ``"<source>#branch"`` (A).
        ``None`` returns every unknown in :attr:`names` order.

    Notes
    -----
    Linear circuits are LU-factorized once (SuperLU via ``scipy.sparse.linalg.splu``).
    With ``outputs`` given, the exact transfer matrix ``M`` (outputs x inputs) and the
    offset ``c`` are built from ``len(inputs) + 1`` solves, and a batch costs one matrix
    product: ``y = u @ M.T + c``.  Nonlinear circuits are solved vector by vector with
    Newton's method, each warm-started from the previous solution.
    """

    def __init__(self, circuit: Circuit | None, inputs: Sequence[str] = (),
                 outputs: Sequence[str] | None = None, *, _system: MnaSystem | None = None):
        self.system = build_system(circuit) if _system is None else _system
        s = self.system
        self.inputs = [n.lower() for n in inputs]
        for given, n in zip(inputs, self.inputs):
            if n not in s.source_rhs:
                raise UnsupportedElementError(
                    f"input {given!r} is not an independent V or I source of the circuit; have "
                    f"e.g. {sorted(s.source_rhs)[:8]}")
        rows, cols, vals = [], [], []
        for j, n in enumerate(self.inputs):
            r, sg = s.source_rhs[n]
            rows += list(r)
            cols += [j] * len(r)
            vals += list(sg)
        self._S = sp.csc_matrix((vals, (rows, cols)), shape=(s.n, len(self.inputs)))
        base = np.array([s.source_values[n] for n in self.inputs])
        self._b0 = s.b - self._S @ base
        self.outputs = None if outputs is None else [o.lower() for o in outputs]
        self._out_idx = None if outputs is None else np.array(
            [s.output_index(o) for o in outputs], dtype=int)
        self._lu = None
        self._transfer = None

    @property
    def linear(self) -> bool:
        return self.system.linear

    @property
    def names(self) -> list[str]:
        """Names of all unknowns: node names, then ``<branch>#branch``."""
        s = self.system
        return s.nodes + [b + "#branch" for b in s.branches]

    def _factorized(self):
        if self._lu is None:
            self._lu = _factor(self.system.A, self.system)
        return self._lu

    def transfer(self) -> tuple[np.ndarray, np.ndarray]:
        """(M, c) with outputs = M @ inputs + c exactly; linear circuits with outputs only.

        Returns
        -------
        M : ndarray, shape (n_outputs, n_inputs)
            In A/V for a current output and a voltage input, etc.
        c : ndarray, shape (n_outputs,)
            Outputs with every input at zero.
        """
        if not self.linear:
            raise UnsupportedElementError("a transfer matrix exists for linear circuits only")
        if self._out_idx is None:
            raise ValueError("give outputs=[...] to build a transfer matrix")
        if self._transfer is None:
            lu = self._factorized()
            n_in = len(self.inputs)
            M = np.empty((len(self._out_idx), n_in))
            S = self._S.toarray() if n_in else np.zeros((self.system.n, 0))
            for j in range(0, n_in, _CHUNK):
                X = lu.solve(np.asfortranarray(S[:, j:j + _CHUNK]))
                M[:, j:j + _CHUNK] = X[self._out_idx]
            c = lu.solve(self._b0)[self._out_idx]
            self._transfer = (M, c)
        return self._transfer

    def _values(self, values) -> tuple[np.ndarray, bool]:
        u = np.asarray(values, dtype=float)
        single = u.ndim == 1
        u = u.reshape(1, -1) if single else u
        if u.ndim != 2 or u.shape[1] != len(self.inputs):
            raise ValueError(f"values of shape {np.shape(values)}: give (batch, "
                             f"{len(self.inputs)}) input values in V or A, one column per "
                             f"input {self.inputs[:4]}...")
        if not np.all(np.isfinite(u)):
            raise ValueError("input values must be finite")
        return u, single

    def solve_full(self, values) -> np.ndarray:
        """Every unknown for each input vector: shape (batch, n) in :attr:`names` order."""
        u, _ = self._values(values)
        B = self._b0[:, None] + (self._S @ u.T if len(self.inputs) else 0.0)
        if self.linear:
            return self._factorized().solve(np.asfortranarray(B)).T
        X = np.empty((u.shape[0], self.system.n))
        x = None
        for k in range(u.shape[0]):
            x = self.system.newton(B[:, k], x)
            X[k] = x
        return X

    def solve(self, values) -> np.ndarray:
        """Outputs for each input vector.

        Parameters
        ----------
        values : array_like, shape (batch, n_inputs) or (n_inputs,)
            Input-source values (V for voltage sources, A for current sources).

        Returns
        -------
        ndarray, shape (batch, n_outputs) (or (n_outputs,) for a 1-D input)
        """
        u, single = self._values(values)
        if self._out_idx is None:
            y = self.solve_full(u)
        elif self.linear and u.shape[0] > max(len(self.inputs) // 4, 1):
            M, c = self.transfer()
            y = u @ M.T + c
        else:
            y = self.solve_full(u)[:, self._out_idx]
        return y[0] if single else y


def factorize(circuit: Circuit, inputs: Sequence[str] = (),
              outputs: Sequence[str] | None = None) -> NativeSolver:
    """Prepare ``circuit`` for batched solves: see :class:`NativeSolver`."""
    return NativeSolver(circuit, inputs, outputs)
