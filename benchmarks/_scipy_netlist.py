"""The plain-scipy peer of ``cosim netlist run --engine native``: an R/V/I netlist file
parsed line by line, assembled into its MNA matrix and solved with one sparse LU.

    python benchmarks/_scipy_netlist.py FILE     # prints "V(node) value" per node

No validation, no subcircuits, no scale suffixes: the simplest script a user would write.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def read_rvi(text: str):
    """(node index by name, resistor rows, V sources, I sources) of an R/V/I netlist."""
    idx = {"0": -1}
    res, vs, cs = [], [], []
    for line in text.split("\n")[1:]:
        t = line.split()
        if not t or t[0][0] in "*.":
            continue
        a = idx.setdefault(t[1].lower(), len(idx) - 1)
        b = idx.setdefault(t[2].lower(), len(idx) - 1)
        kind = t[0][0].upper()
        if kind == "R":
            res.append((a, b, 1.0 / float(t[3])))
        elif kind == "V":
            vs.append((t[0].lower(), a, b, float(t[-1])))
        else:
            cs.append((a, b, float(t[-1])))
    return idx, res, vs, cs


def assemble(idx, res, vs, cs):
    """(unknown names, CSC matrix, right-hand side) of the MNA equations."""
    n, m = len(idx) - 1, len(vs)
    r = np.array(res)
    a, b, g = r[:, 0].astype(int), r[:, 1].astype(int), r[:, 2]
    va = np.array([v[1] for v in vs], dtype=int)
    vb = np.array([v[2] for v in vs], dtype=int)
    k = n + np.arange(m)
    one = np.ones(m)
    R = np.concatenate([a, b, a, b, va, vb, k, k])
    C = np.concatenate([a, b, b, a, k, k, va, vb])
    V = np.concatenate([g, g, -g, -g, one, -one, one, -one])
    keep = (R >= 0) & (C >= 0)
    A = sp.csc_matrix((V[keep], (R[keep], C[keep])), shape=(n + m, n + m))
    rhs = np.zeros(n + m + 1)
    rhs[k] = [v[3] for v in vs]
    for ca, cb, val in cs:
        rhs[ca] -= val
        rhs[cb] += val
    names = [name for name in idx if name != "0"] + ["#" + v[0] for v in vs]
    return names, A, rhs[: n + m]


def main() -> None:
    with open(sys.argv[1]) as f:
        names, A, rhs = assemble(*read_rvi(f.read()))
    x = spla.splu(A).solve(rhs)
    print("\n".join(f"  V({name}) {v:.6g}" for name, v in zip(names, x.tolist())))


if __name__ == "__main__":
    main()
