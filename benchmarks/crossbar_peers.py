"""Benchmark: crossbar read, the training twin vs the generic native engine vs plain scipy.

    .venv/bin/python benchmarks/crossbar_peers.py [--sizes 64 256] [--wires 1 10] [--repeat 3]

Run by ``benchmarks/crossbar.py --peers`` too.  For each N x N passive array (card
``crossbar`` conductances and driver / sense resistances; wire 1 or 10 ohm per segment)
and 1 and 1,000 input vectors:

* *twin*: :func:`cosim.hw.crossbar_tile.read_transfer` (the training path) then
  ``I = u @ M``;
* *generic*: :func:`cosim.hw.crossbar_solver` (the netlist object, flattened and
  assembled by :mod:`cosim.native`, one LU, transfer matrix for a batch);
* *scipy*: the same matrix assembled from the netlist text with plain numpy/scipy
  (:mod:`_scipy_netlist`), one ``splu``, then the transfer matrix for a batch (a
  solve per input column) or one solve for one vector.

Errors are the largest relative difference of the column currents from one direct LU
solve of the full MNA system per vector (the scipy path's solves, which are the
reference).  Then, whole processes on the N = 256, 10 ohm file: ``cosim netlist run FILE
--engine native`` against ``python benchmarks/_scipy_netlist.py FILE`` (parse, assemble,
one LU, print the same node lines), interleaved, best of ``--repeat``.

Sandia CrossSim's parasitic solver is not run by this script (see RESULTS.md).
Writes the ``crossbar-peers`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import machine, write_section
from _scipy_netlist import assemble, read_rvi

HERE = Path(__file__).resolve().parent
BATCH = 1000


def _best(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _case(n: int, wire: float, repeat: int) -> list[dict]:
    import scipy.sparse.linalg as spla

    from cosim.devices import load_card
    from cosim.hw import build_crossbar_read, crossbar_solver
    from cosim.hw.crossbar_tile import read_transfer

    card = load_card("crossbar").values
    rng = np.random.default_rng(n)
    g = rng.uniform(card["g_min_s"], card["g_max_s"], (n, n))
    u = rng.uniform(0.0, card["read_voltage_v"], (BATCH, n))
    kw = dict(wire_resistance_ohm=wire, driver_resistance_ohm=card["driver_resistance_ohm"],
              sense_resistance_ohm=card["sense_resistance_ohm"])
    text = build_crossbar_read(g, u[0], **kw).render()
    # Reference: direct solves of the full MNA system, sources set per vector.
    names, A, b = assemble(*read_rvi(text))
    lu = spla.splu(A)
    vrow = [names.index(f"#vrow{r}") for r in range(n)]
    vcol = [names.index(f"#vcol{c}") for c in range(n)]
    B = np.zeros((A.shape[0], BATCH))
    B[vrow] = u.T
    ref = lu.solve(B)[vcol].T
    rows = []
    for batch in (1, BATCH):
        uu = u[:batch]

        def twin():
            return uu @ read_transfer(g, **kw)

        def generic():
            inputs = [f"VROW{r}" for r in range(n)]
            return crossbar_solver(g, **kw).solve(uu) if batch > 1 else \
                _generic_one(g, uu[0], kw, n, inputs)

        def scipy_path():
            names, A, b = assemble(*read_rvi(text))
            lu = spla.splu(A)
            if batch == 1:
                rhs = np.zeros(A.shape[0])
                rhs[vrow] = uu[0]
                return lu.solve(rhs)[vcol][None]
            S = np.zeros((A.shape[0], n))
            S[vrow, np.arange(n)] = 1.0
            M = lu.solve(S)[vcol]
            return uu @ M.T

        row = {"n": n, "wire": wire, "batch": batch}
        for key, fn in (("twin", twin), ("generic", generic), ("scipy", scipy_path)):
            t, y = _best(fn, repeat)
            row[f"{key}_s"] = t
            # Column currents: the twin gives them into the sense amplifiers (positive
            # into ground); the MNA branch current of vcol is the same current.
            y = np.asarray(y).reshape(batch, n)
            r = ref[:batch]
            row[f"{key}_err"] = float(np.max(np.abs(np.abs(y) - np.abs(r)) / np.abs(r)))
        rows.append(row)
        print(row, flush=True)
    return rows


def _generic_one(g, v, kw, n, inputs):
    from cosim.hw import build_crossbar_read
    from cosim.native import solve_op

    x = solve_op(build_crossbar_read(g, v, **kw))
    return np.array([x[f"vcol{c}#branch"] for c in range(n)])


def _processes(repeat: int) -> dict:
    """Whole-process times on the 256 x 256, 10 ohm netlist file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "xb256.cir"
        py = sys.executable
        subprocess.run([py, "-m", "cosim", "netlist", "build", "crossbar", "--rows", "256",
                        "--cols", "256", "--wire-resistance", "10", "-o", str(path)],
                       check=True, capture_output=True)
        cmds = {"cosim": [py, "-m", "cosim", "netlist", "run", str(path), "--engine",
                          "native"],
                "scipy": [py, str(HERE / "_scipy_netlist.py"), str(path)]}
        best = {k: float("inf") for k in cmds}
        for _ in range(repeat):
            for key, cmd in cmds.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                best[key] = min(best[key], time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([py, "-m", "cosim", "--version"], check=True, stdout=subprocess.DEVNULL)
        best["version"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([py, "-c", "import cosim"], check=True)
        best["import"] = time.perf_counter() - t0
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--wires", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = [r for n in args.sizes for w in args.wires for r in _case(n, w, args.repeat)]
    proc = _processes(args.repeat)
    head = (f"{'N':>4} {'wire':>5} {'vectors':>7} {'twin':>10} {'generic':>10} {'scipy':>10} "
            f"{'scipy/twin':>10} {'scipy/generic':>13} {'err twin':>9} {'err generic':>11}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['n']:>4} {r['wire']:>5g} {r['batch']:>7} {r['twin_s']:>9.4f}s "
                     f"{r['generic_s']:>9.4f}s {r['scipy_s']:>9.4f}s "
                     f"{r['scipy_s'] / r['twin_s']:>9.1f}x "
                     f"{r['scipy_s'] / r['generic_s']:>12.2f}x {r['twin_err']:>9.1e} "
                     f"{r['generic_err']:>11.1e}")
    ratio = proc["scipy"] / proc["cosim"]
    lines += ["", f"whole process, 256 x 256, 10 ohm file: cosim netlist run --engine native "
              f"{proc['cosim']:.2f} s, plain scipy script {proc['scipy']:.2f} s "
              f"(scipy / cosim = {ratio:.2f}; target >= 1: {'met' if ratio >= 1 else 'NOT met'})",
              f"cosim --version {proc['version']:.2f} s; python -c 'import cosim' "
              f"{proc['import']:.2f} s (target < 1 s)"]
    table = "\n".join(lines)
    print(table)
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    body = "\n".join([
        "## Crossbar read: training twin vs generic native engine vs scipy "
        "(`benchmarks/crossbar_peers.py`)", "",
        f"Date: {date}  ", f"Machine: {machine()}", "",
        "Best of the repeats, wall time. *twin*: `read_transfer` + `u @ M`; *generic*: "
        "`crossbar_solver(...).solve` for 1,000 vectors, `solve_op` of the netlist object "
        "for 1; *scipy*: parse the netlist text, assemble, one `splu`, transfer matrix (or "
        "one solve). Errors: max relative difference of the column currents from a direct "
        "LU solve of the full MNA system per vector. Sandia CrossSim: not run here (no "
        "local checkout on this machine); the issue's figure (~157 s for 1,000 vectors at "
        "256 x 256, 10 ohm, error 1.4e-3) is from the issue's own run, not re-measured.",
        "", "```", table, "```"])
    write_section("crossbar-peers", body)


if __name__ == "__main__":
    main()
