"""Benchmark: crossbar read, ngspice vs the native MNA twin (run on demand).

    .venv/bin/python benchmarks/crossbar.py [--max-ngspice-size 64] [--sizes 16 32 64 128 256]

For N x N passive arrays with wire resistance (card values: 1.48 ohm per segment,
100 ohm driver and sense resistances, conductances uniform in [g_min, g_max]):

* one solve: ngspice ``.op`` of the read netlist (warm worker; includes ngspice's parse)
  vs ``cosim.native.solve_op`` of the same Circuit (flatten, assemble, LU, solve);
* a batch of 1,000 input vectors: ngspice runs one ``.op`` per vector on the worker pool
  (measured on a subset of the batch for large N and given per vector), the native twin
  factorizes once and solves the whole batch (``crossbar_solver(...).solve``);
* the largest relative difference of the column currents, native vs ngspice.

Prints a table and rewrites its own section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np

from cosim.devices import load_card
from cosim.hw import build_crossbar_read, crossbar_solver, read_currents
from cosim.native import solve_op
from cosim.spice import SpiceEngine, make_job

from _common import cpu_model as _cpu

BEGIN, END = "<!-- crossbar:begin -->", "<!-- crossbar:end -->"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BATCH = 1000




def _case(n: int, engine: SpiceEngine | None, ngspice_vectors: int) -> dict:
    card = load_card("crossbar").values
    rng = np.random.default_rng(n)
    g = rng.uniform(card["g_min_s"], card["g_max_s"], (n, n))
    u = rng.uniform(0.0, card["read_voltage_v"], (BATCH, n))
    kw = dict(wire_resistance_ohm=card["wire_resistance_crosspoint_ohm"],
              driver_resistance_ohm=card["driver_resistance_ohm"],
              sense_resistance_ohm=card["sense_resistance_ohm"])
    c0 = build_crossbar_read(g, u[0], **kw)
    row = {"n": n}
    t0 = time.perf_counter()
    x = solve_op(c0)
    row["native_one_s"] = time.perf_counter() - t0
    i_nat = np.array([x[f"vcol{c}#branch"] for c in range(n)])
    t0 = time.perf_counter()
    solver = crossbar_solver(g, **kw)
    y = solver.solve(u)
    row["native_batch_s"] = time.perf_counter() - t0
    row["native_per_vec_s"] = row["native_batch_s"] / BATCH
    np.testing.assert_allclose(y[0], i_nat, rtol=1e-9)  # batch path = single solve
    if engine is None:
        return row
    job = make_job(c0)
    t0 = time.perf_counter()
    ref = engine.run_job(job)
    row["ngspice_one_s"] = time.perf_counter() - t0
    i_ref = read_currents(ref, n, n)
    row["rel_err"] = float(np.max(np.abs(i_nat - i_ref) / np.abs(i_ref)))
    k = min(ngspice_vectors, BATCH)
    jobs = [make_job(build_crossbar_read(g, u[j], **kw)) for j in range(k)]
    t0 = time.perf_counter()
    res = engine.run_many(jobs)
    row["ngspice_per_vec_s"] = (time.perf_counter() - t0) / k
    row["ngspice_vectors"] = k
    i_batch = np.array([read_currents(r, n, n) for r in res])
    row["rel_err_batch"] = float(np.max(np.abs(y[:k] - i_batch) / np.abs(i_batch)))
    return row


def _fmt(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    ap.add_argument("--max-ngspice-size", type=int, default=64,
                    help="largest N run in ngspice (ngspice's op time grows about as N^4 "
                         "on this topology)")
    args = ap.parse_args()
    rows = []
    with SpiceEngine(workers=2, timeout_s=3600) as engine:
        engine.run("* warm\nV1 a 0 1\nR1 a 0 1\n.op\n.end\n")
        version = engine.ngspice_version
        for n in args.sizes:
            use = engine if n <= args.max_ngspice_size else None
            vecs = {16: BATCH, 32: 200}.get(n, 6)
            row = _case(n, use, vecs)
            rows.append(row)
            print(row, flush=True)
    header = (f"{'N':>4} {'ngspice 1 solve':>16} {'native 1 solve':>15} {'speed-up':>9} "
              f"{'ngspice /vec':>13} {'native /vec':>12} {'speed-up':>10} {'rel err':>9} "
              f"{'ngspice vecs':>12}")
    lines = [header]
    for r in rows:
        one = r.get("ngspice_one_s")
        per = r.get("ngspice_per_vec_s")
        s1 = f"{one / r['native_one_s']:.1f}x" if one else "-"
        sb = f"{per / r['native_per_vec_s']:.0f}x" if per else "-"
        err = f"{max(r['rel_err'], r['rel_err_batch']):.1e}" if one else "-"
        lines.append(
            f"{r['n']:>4} {_fmt(one):>16} {_fmt(r['native_one_s']):>15} {s1:>9} "
            f"{_fmt(per):>13} {r['native_per_vec_s'] * 1e6:>9.2f} us {sb:>10} {err:>9} "
            f"{r.get('ngspice_vectors', 0) or '-':>12}")
    table = "\n".join(lines)
    print(table)
    r64 = next((r for r in rows if r["n"] == 64 and "ngspice_one_s" in r), None)
    verdict = ""
    if r64:
        s1 = r64["ngspice_one_s"] / r64["native_one_s"]
        sb = r64["ngspice_per_vec_s"] / r64["native_per_vec_s"]
        verdict = (f"64 x 64 targets: one solve {s1:.0f}x faster (target >= 30x: "
                   f"{'met' if s1 >= 30 else 'NOT met'}); per vector in a batch of {BATCH} "
                   f"{sb:.0f}x faster (target >= 10,000x: "
                   f"{'met' if sb >= 1e4 else 'NOT met'})")
        print(verdict)
    section = "\n".join([
        BEGIN,
        "## Crossbar read: ngspice vs native MNA twin (`benchmarks/crossbar.py`)",
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}  ",
        f"Machine: {platform.platform()}; CPU {_cpu()}; {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, numpy {np.__version__}; ngspice {version}",
        "",
        "Passive N x N array, wire 1.48 ohm per segment, driver and sense 100 ohm (card "
        "`crossbar`). *1 solve*: ngspice `.op` on a warm worker (parse included) vs "
        "`cosim.native.solve_op` of the same Circuit. */vec*: a batch of 1,000 input "
        "vectors; ngspice runs one `.op` per vector on 2 workers (timed on the number of "
        "vectors in the last column, given per vector), native factorizes once and solves "
        "the batch through the exact transfer matrix. *rel err*: max relative difference "
        f"of the column currents. ngspice not run above N = {args.max_ngspice_size} "
        "(its op time grows about as N^4 here: ~10 s at 64, minutes at 128).",
        "",
        "```",
        table,
        "```",
        "",
        verdict,
        END,
    ])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
