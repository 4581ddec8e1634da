"""Modified nodal analysis (MNA) of a flattened circuit, and Newton's method.

Unknowns ``x`` are the non-ground node voltages (V) followed by the branch currents (A)
of voltage-defined elements (V, E, H, L, B with ``V=``).  The circuit equations are

    F(x) = A x + f(x) - b = 0

with ``A`` the sparse linear stamps (R, V, E, G, F, H, L), ``f`` the currents leaving
each node through nonlinear elements (B, D, M) and ``b`` the independent sources.  Sign
conventions are ngspice's: a branch current is positive when it flows into the element's
first node, through the element, to its second node; a current source pushes its value
from its first node through itself to its second node.

Reference for the stamps: Ho, Ruehli and Brennan, "The modified nodal approach to network
analysis", IEEE Trans. Circuits Syst. 22(6):504-509, 1975.  Device equations are those of
ngspice (diode: ``dioload.c``; level-1 MOSFET: ``mos1load.c``, Shichman-Hodges), at the
nominal temperature 27 C.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from cosim.native.errors import (
    NativeConvergenceError,
    NativeSingularMatrixError,
    UnsupportedElementError,
)
from cosim.native.table import GROUND, Flat, FlatTable, NumberedTable

BOLTZMANN = 1.38064852e-23  # J/K, the value in ngspice's const.h
CHARGE = 1.6021766208e-19  # C, same source
T_NOMINAL_K = 300.15
VT_NOMINAL = BOLTZMANN * T_NOMINAL_K / CHARGE  # thermal voltage at 27 C, V
MAX_EXP_ARG = 709.0

_DIODE_PARAMS = {"is", "n", "rs", "cjo", "cj0", "vj", "m", "tt", "fc", "kf", "af", "_type",
                 "tnom", "bv", "ibv", "eg", "xti"}
_MOS_PARAMS = {"level", "vto", "kp", "lambda", "gamma", "phi", "is", "ld", "cbd", "cbs",
               "cgso", "cgdo", "cgbo", "cj", "cjsw", "mj", "mjsw", "pb", "fc", "kf", "af",
               "tnom", "rd", "rs", "_type"}


class MnaSystem:
    """The MNA equations of a flat element list.

    Attributes
    ----------
    nodes : list of str
        Non-ground node names; unknown ``i`` is ``V(nodes[i])``.
    branches : list of str
        Branch keys; unknown ``len(nodes) + k`` is the current of ``branches[k]``.
    A : scipy.sparse.csc_matrix, shape (n, n)
        Linear part.
    b : ndarray, shape (n,)
        Right-hand side from the independent sources' netlist values.
    source_rhs : dict
        Source name -> (row indices, signs): ``b[rows] += signs * value``.
    """

    def __init__(self, flat: list[Flat] | FlatTable | NumberedTable,  # noqa: C901 (stamps)
                 gmin: float = 1e-12) -> None:
        self.gmin = float(gmin)
        if isinstance(flat, NumberedTable):
            tab = flat
        else:
            tab = NumberedTable.of(flat if isinstance(flat, FlatTable) else FlatTable.of(flat))
        # Node names as a list (the public form) and, for whole-array work on the names
        # of large circuits (results), as a numpy string array.
        self._node_array = tab.nodes if isinstance(tab.nodes, np.ndarray) else None
        self.nodes = list(tab.nodes) if self._node_array is None else tab.nodes.tolist()
        self.branches = tab.branches
        self.n_nodes = len(self.nodes)
        self.n = self.n_nodes + len(self.branches)
        self._index: dict[str, int] | None = None
        b = np.zeros(self.n + 1)

        # Repeated elements, stamped as whole arrays; ground (n_nodes) goes to slot n.
        def at(k: np.ndarray) -> np.ndarray:
            k = np.asarray(k, dtype=np.int64)
            return np.where(k == self.n_nodes, self.n, k)

        ra, rc, g = at(tab.r_a), at(tab.r_c), np.asarray(tab.r_g, dtype=float)
        va, vc = at(tab.v_a), at(tab.v_c)
        vk = np.asarray(tab.v_k, dtype=np.int64) + self.n_nodes
        vv = np.asarray(tab.v_value, dtype=float)
        ia, ic = at(tab.i_a), at(tab.i_c)
        iv = np.asarray(tab.i_value, dtype=float)
        one = np.ones(vk.size)
        row_parts = [ra, rc, ra, rc, va, vc, vk, vk]
        col_parts = [ra, rc, rc, ra, vk, vk, va, vc]
        val_parts = [g, g, -g, -g, one, -one, one, -one]
        np.add.at(b, vk, vv)
        np.add.at(b, ia, -iv)
        np.add.at(b, ic, iv)
        self.source_rhs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.source_values: dict[str, float] = {}
        for name, k, value in zip(tab.v_name, vk.tolist(), vv.tolist()):
            self.source_rhs[name] = (np.array([k]), np.array([1.0]))
            self.source_values[name] = value
        for name, a, c, value in zip(tab.i_name, ia.tolist(), ic.tolist(), iv.tolist()):
            self.source_rhs[name] = (np.array([a, c]), np.array([-1.0, 1.0]))
            self.source_values[name] = value
        # Everything else, element by element.
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        self.capacitors: list[Flat] = []
        bsrc: list[Flat] = []
        diodes: list[Flat] = []
        mosfets: list[Flat] = []

        def stamp(r, c, v):
            rows.append(r)
            cols.append(c)
            vals.append(v)

        ix = self.index if tab.others else {}

        def branch_of(key: str, who: str) -> int:
            if "#" + key not in ix:
                raise UnsupportedElementError(f"{who}: controlling source {key!r} is not a "
                                              "voltage source of this circuit")
            return ix["#" + key]

        for e in tab.others:     # R, V and I are all in the columns above
            if e.kind in ("L", "E", "H"):
                a, c = ix[e.nodes[0]], ix[e.nodes[1]]
                k = ix["#" + e.branch]
                stamp(a, k, 1.0), stamp(c, k, -1.0), stamp(k, a, 1.0), stamp(k, c, -1.0)
                if e.kind == "E":
                    ca, cc = ix[e.nodes[2]], ix[e.nodes[3]]
                    stamp(k, ca, -e.value), stamp(k, cc, e.value)
                elif e.kind == "H":
                    stamp(k, branch_of(e.control, e.name), -e.value)
            elif e.kind == "G":
                a, c, ca, cc = (ix[n] for n in e.nodes)
                g = e.value
                stamp(a, ca, g), stamp(a, cc, -g), stamp(c, ca, -g), stamp(c, cc, g)
            elif e.kind == "F":
                a, c = ix[e.nodes[0]], ix[e.nodes[1]]
                k = branch_of(e.control, e.name)
                stamp(a, k, e.value), stamp(c, k, -e.value)
            elif e.kind == "C":
                self.capacitors.append(e)  # open circuit in DC
            elif e.kind == "B":
                if e.quantity == "V":
                    a, c = ix[e.nodes[0]], ix[e.nodes[1]]
                    k = ix["#" + e.branch]
                    stamp(a, k, 1.0), stamp(c, k, -1.0), stamp(k, a, 1.0), stamp(k, c, -1.0)
                bsrc.append(e)
            elif e.kind == "D":
                diodes.append(e)
            elif e.kind == "M":
                mosfets.append(e)
            else:
                raise UnsupportedElementError(f"element {e.name}: kind {e.kind!r} is not "
                                              "supported by the native solver")
        # Drop the ground row and column.
        rows_a = np.concatenate(row_parts + [np.array(rows, dtype=np.int64)])
        cols_a = np.concatenate(col_parts + [np.array(cols, dtype=np.int64)])
        vals_a = np.concatenate(val_parts + [np.array(vals, dtype=float)])
        keep = (rows_a < self.n) & (cols_a < self.n)
        self.A = sp.csc_matrix((vals_a[keep], (rows_a[keep], cols_a[keep])),
                               shape=(self.n, self.n))
        self.b = b[: self.n]
        for name, (r, s) in list(self.source_rhs.items()):
            k = r < self.n
            self.source_rhs[name] = (r[k], s[k])
        self.groups = []
        if bsrc:
            self.groups += _BGroup.build(bsrc, self)
        if diodes:
            self.groups.append(_DiodeGroup(diodes, self))
        if mosfets:
            self.groups.append(_MosGroup(mosfets, self))
        self.linear = not self.groups
        # Unknowns at the terminals of pn junctions (diodes, MOSFETs): a Newton step moves
        # them by at most max_step_v, so that exp(V/Vt) cannot overflow.  Nodes driven only
        # by B-sources are not limited (ngspice limits device junctions, not B-sources; a
        # saturated amplifier's internal node may sit thousands of volts away).
        self.junction_nodes = np.zeros(self.n, dtype=bool)
        for g in self.groups:
            if isinstance(g, (_DiodeGroup, _MosGroup)):
                k = np.concatenate(g.pattern())
                self.junction_nodes[k[k < self.n_nodes]] = True
        self._check_structure()

    # ---------------------------------------------------------------- helpers
    @property
    def index(self) -> dict[str, int]:
        """Unknown number by node name (ground: ``n``, a slot the stamps drop) and by
        ``"#" + branch``; built on first use (the repeated elements do without it)."""
        if self._index is None:
            ix = dict(zip(self.nodes, range(self.n_nodes)))
            ix[GROUND] = self.n
            ix.update(zip(["#" + br for br in self.branches], range(self.n_nodes, self.n)))
            self._index = ix
        return self._index

    def _check_structure(self) -> None:
        pattern = abs(self.A).tocsr()
        for g in self.groups:
            r, c = g.pattern()
            k = (r < self.n) & (c < self.n)
            pattern = pattern + sp.csr_matrix((np.ones(k.sum()), (r[k], c[k])),
                                              shape=(self.n, self.n))
        empty_rows = np.flatnonzero(np.diff(pattern.indptr) == 0)
        if empty_rows.size:
            names = [self.name_of(i) for i in empty_rows[:10]]
            raise NativeSingularMatrixError(
                f"singular matrix: no element conducts at {names} (floating node, e.g. "
                "connected only to capacitors, current sources or MOSFET gates)")

    def name_of(self, i: int) -> str:
        return self.nodes[i] if i < self.n_nodes else self.branches[i - self.n_nodes] + \
            "#branch"

    def output_index(self, name: str) -> int:
        """Unknown index of a node name or a ``<branch>#branch`` name."""
        key = name.lower()
        if key.endswith("#branch"):
            k = "#" + key[: -len("#branch")]
            if k in self.index:
                return self.index[k]
        elif key in self.index and key != GROUND:
            return self.index[key]
        raise KeyError(f"no node or branch {name!r}; nodes are e.g. {self.nodes[:5]}, "
                       f"branches {[b + '#branch' for b in self.branches[:5]]}")

    def rhs(self, overrides: dict[str, float] | None = None) -> np.ndarray:
        """Right-hand side with some independent sources set to new values (V or A)."""
        b = self.b.copy()
        for name, value in (overrides or {}).items():
            rows, signs = self.source_rhs[name]
            np.add.at(b, rows, signs * (float(value) - self.source_values[name]))
        return b

    def unknown_names(self) -> np.ndarray:
        """Names of all unknowns as a numpy string array: the node names, then
        ``<branch>#branch``."""
        nodes = np.array(self.nodes, dtype=str) if self._node_array is None else \
            self._node_array
        return np.concatenate([nodes, np.array([br + "#branch" for br in self.branches],
                                               dtype=str)])

    def vectors(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Named results: node voltages and ``<branch>#branch`` currents (axis 0)."""
        out = dict(zip(self.nodes, x[: self.n_nodes]))
        out.update(zip([br + "#branch" for br in self.branches], x[self.n_nodes:]))
        return out

    # ---------------------------------------------------------------- Newton
    def residual_jacobian(self, x: np.ndarray, b: np.ndarray, with_jac: bool = True):
        """F(x) and, if asked, the sparse Jacobian dF/dx (CSC)."""
        xe = np.append(x, 0.0)
        F = self.A @ x - b
        rows_l, cols_l, vals_l = [], [], []
        fe = np.zeros(self.n + 1)
        for g in self.groups:
            fr, fv, jr, jc, jv = g.load(xe)
            np.add.at(fe, fr, fv)
            rows_l.append(jr), cols_l.append(jc), vals_l.append(jv)
        F = F + fe[: self.n]
        if not with_jac:
            return F, None
        r = np.concatenate(rows_l)
        c = np.concatenate(cols_l)
        v = np.concatenate(vals_l)
        k = (r < self.n) & (c < self.n)
        J = self.A + sp.csc_matrix((v[k], (r[k], c[k])), shape=(self.n, self.n))
        return F, J

    def newton(self, b: np.ndarray, x0: np.ndarray | None = None, *, max_iter: int = 200,
               reltol: float = 1e-10, vntol: float = 1e-12, abstol: float = 1e-15,
               max_step_v: float = 2.0) -> np.ndarray:
        """Solve F(x) = 0 by damped Newton; falls back to source stepping.

        A step changes no diode or MOSFET terminal voltage by more than ``max_step_v``
        (V); other unknowns are limited only by the line search on the KCL residual.
        """
        if x0 is None:
            x = np.zeros(self.n)
            F0, _ = self.residual_jacobian(x, b, with_jac=False)
            if not np.all(np.isfinite(F0)):  # e.g. ln(v) at v = 0: start from the linear part
                with contextlib.suppress(NativeSingularMatrixError):
                    x = _factor(self.A, self).solve(b)
        else:
            x = np.array(x0, dtype=float)
        try:
            return self._newton(b, x, max_iter, reltol, vntol, abstol, max_step_v)
        except NativeConvergenceError:
            pass
        x = np.zeros(self.n)
        for s in np.linspace(0.05, 1.0, 20):
            x = self._newton(b * s, x, max_iter, reltol, vntol, abstol, max_step_v)
        return x

    def _newton(self, b, x, max_iter, reltol, vntol, abstol, max_step_v):
        tol = np.where(np.arange(self.n) < self.n_nodes, vntol, abstol)
        F, J = self.residual_jacobian(x, b)
        fnorm = np.linalg.norm(F)
        # Scale of each unknown for the natural-monotonicity test below (V, A).
        floor = np.where(np.arange(self.n) < self.n_nodes, 1e-6, 1e-12)
        for _ in range(max_iter):
            lu = _factor(J, self)
            dx = -lu.solve(F)
            big = np.max(np.abs(dx[self.junction_nodes]), initial=0.0)
            if big > max_step_v:
                dx *= max_step_v / big
            weight = 1.0 / (1e-3 * np.abs(x) + floor)
            dx_norm = np.max(np.abs(dx) * weight, initial=0.0)
            step = 1.0
            for _ls in range(40):
                x_try = x + step * dx
                F_try, _ = self.residual_jacobian(x_try, b, with_jac=False)
                n_try = np.linalg.norm(F_try)
                if np.isfinite(n_try) and (n_try <= fnorm or n_try < 1e-300):
                    break
                # The residual mixes A (KCL rows) and V (branch rows), so a good step may
                # raise its norm.  Accept it too if the next Newton correction, with this
                # Jacobian, is smaller than this one (Deuflhard's natural-monotonicity
                # test, "Newton Methods for Nonlinear Problems", Springer 2004, sec. 3.3).
                if np.isfinite(n_try):
                    nxt = np.max(np.abs(lu.solve(F_try)) * weight, initial=0.0)
                    if nxt <= (1.0 - 0.5 * step) * dx_norm:
                        break
                step *= 0.5
            else:  # no decrease along dx (a kink or a step in f): take the plain step
                x_try = x + dx
            x_new = x_try
            done = bool(np.all(np.abs(x_new - x) <= reltol * np.maximum(np.abs(x_new),
                                                                         np.abs(x)) + tol))
            x = x_new
            F, J = self.residual_jacobian(x, b)
            fnorm = np.linalg.norm(F)
            if done:
                return x
        raise NativeConvergenceError(f"Newton did not converge in {max_iter} iterations "
                                     f"(KCL residual {fnorm:.3g})")


def _factor(J, system: MnaSystem):
    try:
        return spla.splu(sp.csc_matrix(J))
    except RuntimeError as exc:
        raise NativeSingularMatrixError(
            f"singular matrix ({exc}): a floating node or a loop of voltage sources") \
            from None


# ----------------------------------------------------------------------------- devices
class _BGroup:
    """B-sources of one expression shape, evaluated together."""

    def __init__(self, t, consts, var_idx, pos, neg, branch, quantity):
        self.t = t
        self.consts = consts        # (n_const, m)
        self.var_idx = var_idx      # (n_var, m) unknown indices (n = ground slot)
        self.pos, self.neg, self.branch = pos, neg, branch
        self.quantity = quantity

    @staticmethod
    def build(elements: list[Flat], system: MnaSystem) -> list[_BGroup]:
        from cosim.native.expr import template  # B-sources only: not on a linear path

        buckets: dict = {}
        for e in elements:
            t, consts, variables = template(e.expr)
            idx = []
            for kind, name in variables:
                key = name if kind == "v" else "#" + name
                if key not in system.index:
                    what = "node" if kind == "v" else "voltage source"
                    raise UnsupportedElementError(f"element {e.name}: unknown {what} "
                                                  f"{name!r} in its expression")
                idx.append(system.index[key])
            k = (t, e.quantity, len(consts), len(idx))
            buckets.setdefault(k, []).append((e, consts, idx))
        groups = []
        for (t, q, _, _), items in buckets.items():
            consts = np.array([c for _, c, _ in items], dtype=float).T.reshape(-1, len(items))
            var_idx = np.array([i for _, _, i in items], dtype=int).T.reshape(-1, len(items))
            pos = np.array([system.index[e.nodes[0]] for e, _, _ in items])
            neg = np.array([system.index[e.nodes[1]] for e, _, _ in items])
            br = np.array([system.index["#" + e.branch] if q == "V" else system.n
                           for e, _, _ in items])
            groups.append(_BGroup(t, consts, var_idx, pos, neg, br, q))
        return groups

    def pattern(self):
        r, c = [], []
        rows = [self.pos, self.neg] if self.quantity == "I" else [self.branch]
        for rr in rows:
            for j in range(self.var_idx.shape[0]):
                r.append(rr), c.append(self.var_idx[j])
        if not r:
            return np.zeros(0, int), np.zeros(0, int)
        return np.concatenate(r), np.concatenate(c)

    def load(self, xe):
        from cosim.native.expr import evaluate

        val, grad = evaluate(self.t, self.consts, xe[self.var_idx])
        nv = self.var_idx.shape[0]
        if self.quantity == "I":
            fr = np.concatenate([self.pos, self.neg])
            fv = np.concatenate([val, -val])
            jr = np.concatenate([np.tile(self.pos, nv), np.tile(self.neg, nv)])
            jc = np.concatenate([self.var_idx.ravel(), self.var_idx.ravel()])
            jv = np.concatenate([grad.ravel(), -grad.ravel()])
        else:
            fr, fv = self.branch, -val
            jr = np.tile(self.branch, nv)
            jc = self.var_idx.ravel()
            jv = -grad.ravel()
        return fr, fv, jr, jc, jv


def _check_model(e: Flat, allowed: set[str], zero: dict[str, str]) -> None:
    bad = sorted(set(e.model) - allowed)
    if bad:
        raise UnsupportedElementError(f"element {e.name}: model parameters {bad} are not "
                                      f"supported by the native solver (supported: "
                                      f"{sorted(allowed - {'_type'})})")
    for key, why in zero.items():
        if e.model.get(key, 0.0) != 0.0:
            raise UnsupportedElementError(f"element {e.name}: model parameter {key}="
                                          f"{e.model[key]} is not supported ({why}); "
                                          "set it to 0 or run with ngspice")
    if "tnom" in e.model and e.model["tnom"] != 27.0:
        raise UnsupportedElementError(f"element {e.name}: tnom={e.model['tnom']} C; the "
                                      "native solver works at the nominal 27 C only")


def _junction(v, isat, vte, gmin):
    """ngspice pn-junction current and conductance (dioload.c, no breakdown)."""
    fwd = v >= -3.0 * vte
    ev = np.exp(np.minimum(v / vte, MAX_EXP_ARG))
    i_f = isat * (ev - 1.0) + gmin * v
    g_f = isat * ev / vte + gmin
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = (3.0 * vte / (v * np.e)) ** 3
        i_r = -isat * (1.0 + arg) + gmin * v
        g_r = isat * 3.0 * arg / v + gmin
    return np.where(fwd, i_f, i_r), np.where(fwd, g_f, g_r)


class _DiodeGroup:
    """Diodes: I = IS*area*(exp(V/(N Vt)) - 1) + gmin*V (ngspice dioload.c)."""

    def __init__(self, elements: list[Flat], system: MnaSystem) -> None:
        for e in elements:
            _check_model(e, _DIODE_PARAMS, {"rs": "series resistance",
                                            "bv": "reverse breakdown"})
        self.a = np.array([system.index[e.nodes[0]] for e in elements])
        self.c = np.array([system.index[e.nodes[1]] for e in elements])
        self.isat = np.array([e.model.get("is", 1e-14) * e.extra["area"] for e in elements])
        self.vte = np.array([e.model.get("n", 1.0) * VT_NOMINAL for e in elements])
        self.gmin = system.gmin

    def pattern(self):
        a, c = self.a, self.c
        return np.concatenate([a, a, c, c]), np.concatenate([a, c, a, c])

    def load(self, xe):
        v = xe[self.a] - xe[self.c]
        i, g = _junction(v, self.isat, self.vte, self.gmin)
        a, c = self.a, self.c
        return (np.concatenate([a, c]), np.concatenate([i, -i]),
                np.concatenate([a, a, c, c]), np.concatenate([a, c, a, c]),
                np.concatenate([g, -g, -g, g]))


class _MosGroup:
    """Level-1 (Shichman-Hodges) MOSFETs as in ngspice mos1load.c, GAMMA = 0.

    Channel (normalised to NMOS by ``type``): cutoff for vgst <= 0; linear
    ``Id = beta (1 + lambda vds) vds (vgst - vds/2)`` for vds < vgst; saturation
    ``Id = beta/2 (1 + lambda vds) vgst^2``; beta = KP W / (L - 2 LD); source and drain
    swap when vds < 0.  Bulk-drain and bulk-source junctions with IS and gmin.
    """

    def __init__(self, elements: list[Flat], system: MnaSystem) -> None:
        for e in elements:
            _check_model(e, _MOS_PARAMS, {"gamma": "body effect is not implemented",
                                          "rd": "series resistance", "rs": "series "
                                          "resistance"})
            if e.model.get("level", 1.0) != 1.0:
                raise UnsupportedElementError(f"element {e.name}: MOSFET level "
                                              f"{e.model['level']:g}; only level 1")
        idx = np.array([[system.index[n] for n in e.nodes] for e in elements]).T
        self.d, self.g, self.s, self.b = idx
        self.type = np.array([1.0 if e.model["_type"] == "NMOS" else -1.0 for e in elements])
        self.vto = np.array([e.model.get("vto", 0.0) for e in elements])
        leff = np.array([e.extra["l"] - 2 * e.model.get("ld", 0.0) for e in elements])
        if np.any(leff <= 0):
            raise UnsupportedElementError("MOSFET with L - 2 LD <= 0")
        self.beta = np.array([e.model.get("kp", 2e-5) * e.extra["w"] for e in elements]) / leff
        self.lam = np.array([e.model.get("lambda", 0.0) for e in elements])
        self.isat = np.array([e.model.get("is", 1e-14) for e in elements])
        self.gmin = system.gmin

    def pattern(self):
        d, g, s, b = self.d, self.g, self.s, self.b
        r = np.concatenate([d, d, d, s, s, s, d, d, s, s, b, b, b])
        c = np.concatenate([d, g, s, d, g, s, b, d, b, s, b, d, s])
        return r, c

    def load(self, xe):
        t = self.type
        vd, vg, vs, vb = xe[self.d], xe[self.g], xe[self.s], xe[self.b]
        vds = t * (vd - vs)
        vgs = t * (vg - vs)
        vbs = t * (vb - vs)
        vbd = vbs - vds
        vgd = vgs - vds
        fwd = vds >= 0
        vgx = np.where(fwd, vgs, vgd)
        vdx = np.abs(vds)
        vgst = vgx - self.vto * t
        on = vgst > 0
        sat = vgst <= vdx
        betap = self.beta * (1 + self.lam * vdx)
        cd_sat = betap * vgst * vgst * 0.5
        gm_sat = betap * vgst
        gds_sat = self.lam * self.beta * vgst * vgst * 0.5
        cd_lin = betap * vdx * (vgst - 0.5 * vdx)
        gm_lin = betap * vdx
        gds_lin = betap * (vgst - vdx) + self.lam * self.beta * vdx * (vgst - 0.5 * vdx)
        cdrain = np.where(on, np.where(sat, cd_sat, cd_lin), 0.0)
        gm = np.where(on, np.where(sat, gm_sat, gm_lin), 0.0)
        gds = np.where(on, np.where(sat, gds_sat, gds_lin), 0.0)
        # Channel current drain -> source, and its partial derivatives (real voltages).
        ids = np.where(fwd, cdrain, -cdrain) * t
        d_dg = np.where(fwd, gm, -gm)
        d_dd = np.where(fwd, gds, gm + gds)
        d_ds = np.where(fwd, -gm - gds, -gds)
        ibs, gbs = _junction(vbs, self.isat, VT_NOMINAL, self.gmin)
        ibd, gbd = _junction(vbd, self.isat, VT_NOMINAL, self.gmin)
        ibs, ibd = ibs * t, ibd * t
        d, g, s, b = self.d, self.g, self.s, self.b
        fr = np.concatenate([d, s, b])
        fv = np.concatenate([ids - ibd, -ids - ibs, ibs + ibd])
        jr = np.concatenate([d, d, d, s, s, s, d, d, s, s, b, b, b])
        jc = np.concatenate([d, g, s, d, g, s, b, d, b, s, b, d, s])
        jv = np.concatenate([d_dd, d_dg, d_ds, -d_dd, -d_dg, -d_ds,
                             -gbd, gbd, -gbs, gbs, gbs + gbd, -gbd, -gbs])
        return fr, fv, jr, jc, jv
