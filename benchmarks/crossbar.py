"""Benchmark: crossbar read by the training twin, the generic native engine, plain scipy
and Sandia CrossSim's parasitic solver; the native netlist run as a whole process.

    .venv/bin/python benchmarks/crossbar.py [--sizes 64 256] [--wires 1 10] [--repeat 5]
        [--processes 5] [--crosssim PATH] [--no-ngspice]

Arrays: N x N passive crossbars as :func:`cosim.hw.build_crossbar_read` writes them
(card ``crossbar``: conductances uniform in [g_min_s, g_max_s], 100 ohm drivers and sense
amplifiers; wire 1 or 10 ohm per segment), row voltages uniform in [0, read_voltage_v],
seed N.  For 1 and 1,000 input vectors, alternating, the median of ``--repeat`` runs:

* *twin*: :func:`cosim.hw.crossbar_tile.read_transfer` from the conductances, then
  ``I = u @ M`` (the training path);
* *generic*: :mod:`cosim.native` from the netlist text: ``read_bulk`` (parse into
  columns), ``factorize`` (assemble, one LU), ``solve`` (one solve for 1 vector, the
  transfer matrix for 1,000);
* *scipy*: ``benchmarks/_scipy_netlist.py``'s parse and assembly of the same text, one
  ``splu``, one solve or the transfer matrix (one solve with the N input columns) and
  ``u @ M.T``; *scipy LU* is its time without the parse and assembly (LU + solves), the
  peer of the twin, which starts from the conductances;
* *CrossSim* (only with ``--crosssim PATH``, a local checkout of
  github.com/sandialabs/cross-sim): installed by ``pip install --no-deps`` into a scratch
  directory and run in a subprocess (``benchmarks/_crosssim_worker.py``) with its default
  convergence threshold; its first vector (which searches the relaxation parameter) is
  timed apart, then ``--crosssim-vectors`` more give the time per vector; its 1,000-vector
  time is first + 1,000 x per vector.

Errors: the largest relative difference of a column current from a direct sparse-LU
solve of the whole MNA system per vector (all vectors at N <= 64, the first 100 above).
With ngspice (unless ``--no-ngspice``), at N = 64 the first vector is also run by
ngspice: the generic engine's difference from it, and ngspice's time for one solve and per
vector in a batch (on 2 workers, a few vectors) against the generic engine's.

Whole process: ``cosim netlist run FILE --engine native`` against ``python
benchmarks/_scipy_netlist.py FILE`` (parse, assemble, one LU, print a line per unknown) on
the 256 x 256, 10 ohm file of ``cosim netlist build crossbar``, alternating, ``--processes``
times each, with Python's bytecode cache (in a scratch directory, as an installed package
has it) and without it (every module compiled from source at each start).

Prints the tables and rewrites the ``crossbar`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
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
REF_VECTORS = 100          # direct solves for the errors above N = 64


def _case_arrays(n: int, wire: float) -> dict:
    from cosim.devices import load_card
    from cosim.hw import build_crossbar_read

    card = load_card("crossbar").values
    rng = np.random.default_rng(n)
    g = rng.uniform(card["g_min_s"], card["g_max_s"], (n, n))
    u = rng.uniform(0.0, card["read_voltage_v"], (BATCH, n))
    kw = dict(wire_resistance_ohm=wire, driver_resistance_ohm=card["driver_resistance_ohm"],
              sense_resistance_ohm=card["sense_resistance_ohm"])
    return {"n": n, "wire": wire, "g": g, "u": u, "kw": kw,
            "text": build_crossbar_read(g, u[0], **kw).render()}


def _reference(case: dict, count: int) -> np.ndarray:
    """Column currents (count, n) by direct solves of the full MNA system, one per vector."""
    import scipy.sparse.linalg as spla

    names, A, b = assemble(*read_rvi(case["text"]))
    n = case["n"]
    row = [names.index(f"#vrow{r}") for r in range(n)]
    col = [names.index(f"#vcol{c}") for c in range(n)]
    B = np.zeros((A.shape[0], count))
    B[row] = case["u"][:count].T
    return spla.splu(A).solve(B)[col].T


def _engines(case: dict, batch: int) -> dict:
    """name -> function returning (currents (batch, n), {stage: seconds})."""
    import scipy.sparse.linalg as spla

    from cosim.hw import crossbar_ports
    from cosim.hw.crossbar_tile import read_transfer
    from cosim.native import factorize, read_bulk

    n, g, u, kw, text = case["n"], case["g"], case["u"][:batch], case["kw"], case["text"]
    ports = crossbar_ports(n, n)

    def twin():
        return u @ read_transfer(g, **kw), {}

    def generic():
        return factorize(read_bulk(text), ports.inputs, ports.outputs).solve(u), {}

    def scipy_path():
        t0 = time.perf_counter()
        names, A, b = assemble(*read_rvi(text))
        row = [names.index(f"#vrow{r}") for r in range(n)]
        col = [names.index(f"#vcol{c}") for c in range(n)]
        t1 = time.perf_counter()
        lu = spla.splu(A)
        if batch == 1:
            rhs = np.zeros(A.shape[0])
            rhs[row] = u[0]
            y = lu.solve(rhs)[col][None]
        else:
            S = np.zeros((A.shape[0], n))
            S[row, np.arange(n)] = 1.0
            y = u @ lu.solve(S)[col].T
        return y, {"scipy LU": time.perf_counter() - t1, "parse": t1 - t0}

    return {"twin": twin, "generic": generic, "scipy": scipy_path}


def _timed_case(case: dict, batch: int, repeat: int, ref: np.ndarray) -> dict:
    engines = _engines(case, batch)
    times: dict[str, list[float]] = {}
    out = {}
    for _ in range(repeat):                       # alternating
        for name, fn in engines.items():
            t0 = time.perf_counter()
            y, stages = fn()
            times.setdefault(name, []).append(time.perf_counter() - t0)
            for key, t in stages.items():
                times.setdefault(key, []).append(t)
            out[name] = np.asarray(y).reshape(batch, case["n"])
    k = min(batch, ref.shape[0])
    row = {"n": case["n"], "wire": case["wire"], "batch": batch}
    for name, t in times.items():
        row[f"{name}_s"] = statistics.median(t)
    for name, y in out.items():
        row[f"{name}_err"] = _rel_err(y[:k], ref[:k])
    return row


def _rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(y - ref) / np.abs(ref)))


def _ngspice(case: dict, vectors: int) -> dict:
    """ngspice on the first vector(s): one solve, per vector on 2 workers, its currents,
    and the generic engine's currents for the first vector."""
    from cosim.hw import build_crossbar_read, crossbar_ports, read_currents
    from cosim.native import factorize, read_bulk
    from cosim.spice import SpiceEngine, make_job

    n, g, u, kw = case["n"], case["g"], case["u"], case["kw"]
    ports = crossbar_ports(n, n)
    generic = factorize(read_bulk(case["text"]), ports.inputs, ports.outputs).solve(u[:1])
    with SpiceEngine(workers=2, timeout_s=3600) as engine:
        engine.run("* warm\nV1 a 0 1\nR1 a 0 1\n.op\n.end\n")
        t0 = time.perf_counter()
        first = engine.run_job(make_job(build_crossbar_read(g, u[0], **kw)))
        one = time.perf_counter() - t0
        jobs = [make_job(build_crossbar_read(g, u[j], **kw)) for j in range(1, vectors + 1)]
        t0 = time.perf_counter()
        engine.run_many(jobs)
        per = (time.perf_counter() - t0) / vectors
        version = engine.ngspice_version
    return {"one_s": one, "per_vector_s": per, "vectors": vectors, "version": version,
            "currents": read_currents(first, n, n), "generic": generic}


def _crosssim_install(checkout: Path, scratch: Path) -> None:
    if not (checkout / "simulator").is_dir():
        raise SystemExit(f"--crosssim {checkout}: not a CrossSim checkout (no simulator/ "
                         "folder); give the folder of a clone of "
                         "github.com/sandialabs/cross-sim")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(scratch),
                    str(checkout)], check=True)


def _crosssim(case: dict, scratch: Path, vectors: int, verr: float, iters: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        kw = case["kw"]
        np.savez(src, g=case["g"], u=case["u"][:1 + vectors],
                 wire=kw["wire_resistance_ohm"], driver=kw["driver_resistance_ohm"],
                 sense=kw["sense_resistance_ohm"], verr=verr, iters=iters)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(scratch), *filter(None, [os.environ.get("PYTHONPATH")])]))
        subprocess.run([sys.executable, str(HERE / "_crosssim_worker.py"), str(src),
                        str(dst)], check=True, env=env)
        out = dict(np.load(dst))
    return {"first_s": float(out["first_s"]), "per_vector_s": float(out["per_vector_s"]),
            "gamma": float(out["gamma"]), "iters": int(out["iters"]),
            "version": str(out["version"]),
            "currents": out["currents"], "vectors": vectors}


def _processes(count: int) -> dict:
    """Whole-process times on the 256 x 256, 10 ohm file, with and without bytecode."""
    from cosim.native import read_bulk

    py = sys.executable
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "xb256.cir"
        subprocess.run([py, "-m", "cosim", "netlist", "build", "crossbar", "--rows", "256",
                        "--cols", "256", "--wire-resistance", "10", "-o", str(path)],
                       check=True, capture_output=True)
        assert read_bulk(path.read_text()) is not None     # the columnar path
        cmds = {"cosim": [py, "-m", "cosim", "netlist", "run", str(path), "--engine",
                          "native"],
                "scipy": [py, str(HERE / "_scipy_netlist.py"), str(path)]}
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        modes = {"bytecode": dict(base, PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache")),
                 "source": dict(base, PYTHONDONTWRITEBYTECODE="1")}
        outputs = {key: subprocess.run(cmd, check=True, capture_output=True, text=True,
                                       env=modes["bytecode"]).stdout   # writes the cache
                   for key, cmd in cmds.items()}
        result["agree"] = _same_voltages(outputs["cosim"], outputs["scipy"])
        for mode, env in modes.items():
            times: dict[str, list[float]] = {k: [] for k in cmds}
            for _ in range(count):
                for key, cmd in cmds.items():
                    t0 = time.perf_counter()
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
                    times[key].append(time.perf_counter() - t0)
            result[mode] = times
    return result


def _same_voltages(cosim_out: str, scipy_out: str) -> int:
    """Node voltages printed by both processes (6 digits): how many, all equal."""
    ours = {}
    for line in cosim_out.splitlines()[1:]:
        word = line.split()
        if word[0].startswith("V("):
            ours[word[0][2:-1]] = float(word[1])
    theirs = {}
    for line in scipy_out.splitlines():
        word = line.split()
        if not word[0].startswith("V(#"):
            theirs[word[0][2:-1]] = float(word[1])
    assert ours.keys() == theirs.keys(), "the two processes print different nodes"
    for key, v in ours.items():
        assert abs(v - theirs[key]) <= 1e-5 * abs(v) + 1e-12, (key, v, theirs[key])
    return len(ours)


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main() -> None:  # noqa: C901 (one report)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--wires", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of each engine per case")
    ap.add_argument("--processes", type=int, default=5,
                    help="runs of each whole process per mode (0: skip)")
    ap.add_argument("--crosssim", type=Path, default=None, metavar="PATH",
                    help="local checkout of github.com/sandialabs/cross-sim (default: "
                         "CrossSim is not run)")
    ap.add_argument("--crosssim-vectors", type=int, default=10,
                    help="vectors timed after CrossSim's first (default 10)")
    ap.add_argument("--crosssim-verr", type=float, default=1e-3,
                    help="CrossSim's convergence threshold Verr_th_mvm (default: its own, "
                         "1e-3)")
    ap.add_argument("--crosssim-iters", type=int, default=100000,
                    help="largest iteration limit (Niters_max_parasitics) CrossSim may be "
                         "given: from its own 100, raised tenfold until it converges "
                         "(default 100000)")
    ap.add_argument("--no-ngspice", action="store_true", help="do not run ngspice at N = 64")
    args = ap.parse_args()

    rows, spice, cross = [], {}, {}
    scratch_dir = tempfile.TemporaryDirectory() if args.crosssim else None
    if args.crosssim:
        _crosssim_install(args.crosssim.resolve(), Path(scratch_dir.name))
    for n in args.sizes:
        for wire in args.wires:
            case = _case_arrays(n, wire)
            ref = _reference(case, BATCH if n <= 64 else REF_VECTORS)
            for batch in (1, BATCH):
                row = _timed_case(case, batch, args.repeat, ref)
                rows.append(row)
                print({k: v for k, v in row.items()}, flush=True)
            if n == 64 and not args.no_ngspice:
                s = _ngspice(case, vectors=6)
                s["err_generic"] = _rel_err(s["generic"], s["currents"][None])
                s["err_ref"] = _rel_err(ref[:1], s["currents"][None])
                spice[n, wire] = s
                print("ngspice", {k: v for k, v in s.items() if k not in ("currents", "generic")},
                      flush=True)
            if args.crosssim:
                c = _crosssim(case, Path(scratch_dir.name), args.crosssim_vectors,
                              args.crosssim_verr, args.crosssim_iters)
                c["err"] = _rel_err(c["currents"], ref[:1 + args.crosssim_vectors])
                cross[n, wire] = c
                print("crosssim", {k: v for k, v in c.items() if k != "currents"},
                      flush=True)
    proc = _processes(args.processes) if args.processes > 0 else None
    if scratch_dir:
        scratch_dir.cleanup()

    # ---------------------------------------------------------------- tables
    head = (f"{'N':>4} {'wire':>4} {'vectors':>7} {'twin':>10} {'generic':>10} "
            f"{'scipy':>10} {'scipy LU':>10} {'CrossSim':>10}  "
            f"{'err twin':>8} {'err gen.':>8} {'err scipy':>9} {'err CrSim':>9}")
    lines = [head]
    for r in rows:
        c = cross.get((r["n"], r["wire"]))
        c_time = None if c is None else (
            c["first_s"] if r["batch"] == 1 else c["first_s"] + BATCH * c["per_vector_s"])
        lines.append(
            f"{r['n']:>4} {r['wire']:>4g} {r['batch']:>7} {_fmt_s(r['twin_s']):>10} "
            f"{_fmt_s(r['generic_s']):>10} {_fmt_s(r['scipy_s']):>10} "
            f"{_fmt_s(r['scipy LU_s']):>10} {_fmt_s(c_time):>10}  "
            f"{r['twin_err']:>8.1e} {r['generic_err']:>8.1e} "
            f"{r['scipy_err']:>9.1e} {'-' if c is None else format(c['err'], '.1e'):>9}")
    lines += ["", "per vector in a batch of 1,000 (time / 1,000; CrossSim: after its first):",
              f"{'N':>4} {'wire':>4} {'twin':>10} {'generic':>10} {'scipy LU':>10} "
              f"{'CrossSim':>10} {'scipy LU/twin':>13} {'CrossSim/twin':>13}"]
    verdicts = []
    for r in (r for r in rows if r["batch"] == BATCH):
        c = cross.get((r["n"], r["wire"]))
        twin = r["twin_s"] / BATCH
        lu = r["scipy LU_s"] / BATCH
        cs = None if c is None else c["per_vector_s"]
        lines.append(f"{r['n']:>4} {r['wire']:>4g} {_fmt_s(twin):>10} "
                     f"{_fmt_s(r['generic_s'] / BATCH):>10} {_fmt_s(lu):>10} "
                     f"{_fmt_s(cs):>10} {lu / twin:>12.1f}x "
                     f"{'-' if cs is None else format(cs / twin, '.0f') + 'x':>13}")
        if r["wire"] == 10:
            ok_lu = lu / twin >= 3
            ok_err = r["twin_err"] <= 1e-11
            v = (f"twin, {r['n']} x {r['n']}, 10 ohm, 1,000 vectors: {lu / twin:.1f}x faster "
                 f"than scipy's LU + transfer matrix (target >= 3x: "
                 f"{'met' if ok_lu else 'NOT met'}), error {r['twin_err']:.1e} (target "
                 f"<= 1e-11: {'met' if ok_err else 'NOT met'})")
            if cs is not None:
                v += (f", {cs / twin:.0f}x faster than CrossSim per vector (target >= 100x: "
                      f"{'met' if cs / twin >= 100 else 'NOT met'})")
            else:
                v += ", CrossSim not run (target >= 100x per vector: not measured)"
            verdicts.append(v)
    worst = max(rows, key=lambda r: r["generic_err"])
    verdicts.append(f"generic engine vs the direct LU solves: largest error "
                    f"{worst['generic_err']:.1e} ({worst['n']} x {worst['n']}, "
                    f"{worst['wire']:g} ohm, {worst['batch']} vectors)")
    if spice:
        lines += ["", "ngspice (first vector; per vector on 2 workers) against the generic "
                      "engine (from the netlist text):",
                  f"{'N':>4} {'wire':>4} {'ngspice 1':>10} {'generic 1':>10} {'speed-up':>9} "
                  f"{'ngspice/vec':>11} {'generic/vec':>11} {'speed-up':>9} "
                  f"{'generic vs ngspice':>18} {'ref vs ngspice':>14}"]
        for (n, wire), s in spice.items():
            r1 = next(r for r in rows if (r["n"], r["wire"], r["batch"]) == (n, wire, 1))
            rb = next(r for r in rows if (r["n"], r["wire"], r["batch"]) == (n, wire, BATCH))
            per = rb["generic_s"] / BATCH
            lines.append(f"{n:>4} {wire:>4g} {_fmt_s(s['one_s']):>10} "
                         f"{_fmt_s(r1['generic_s']):>10} "
                         f"{s['one_s'] / r1['generic_s']:>8.0f}x "
                         f"{_fmt_s(s['per_vector_s']):>11} {_fmt_s(per):>11} "
                         f"{s['per_vector_s'] / per:>8.0f}x {s['err_generic']:>18.1e} "
                         f"{s['err_ref']:>14.1e}")
            verdicts.append(f"generic engine vs ngspice at {n} x {n}, {wire:g} ohm: "
                            f"{s['err_generic']:.1e} (target: exact to 1e-12: "
                            f"{'met' if s['err_generic'] <= 1e-12 else 'NOT met'})")
    if cross:
        lines += ["", f"CrossSim {next(iter(cross.values()))['version']}: first vector "
                      "(search of the relaxation parameter and iteration limit), then per "
                      "vector:"]
        for (n, wire), c in cross.items():
            lines.append(f"{n:>4} {wire:>4g}  first {_fmt_s(c['first_s'])}, per vector "
                         f"{_fmt_s(c['per_vector_s'])} ({c['vectors']} vectors), relaxation "
                         f"{c['gamma']:.3g}, iteration limit {c['iters']}, error "
                         f"{c['err']:.1e}")
    if proc:
        lines += ["", f"whole process, 256 x 256, 10 ohm file ({args.processes} runs each, "
                      f"alternating; the same {proc['agree']} node voltages printed):"]
        for mode, label in (("bytecode", "with bytecode cache"),
                            ("source", "compiled from source")):
            t = proc[mode]
            med = {k: statistics.median(v) for k, v in t.items()}
            ratio = med["scipy"] / med["cosim"]
            lines.append(f"  {label}: cosim netlist run --engine native median "
                         f"{med['cosim']:.2f} s (min {min(t['cosim']):.2f}), plain scipy "
                         f"script median {med['scipy']:.2f} s (min {min(t['scipy']):.2f}); "
                         f"scipy / cosim = {ratio:.2f}")
            if mode == "bytecode":
                verdicts.append(f"whole process (with bytecode cache): scipy / cosim = "
                                f"{ratio:.2f} (target >= 1: {'met' if ratio >= 1 else 'NOT met'})")
    table = "\n".join(lines)
    print(table)
    print("\n".join(verdicts))

    date = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load = os.getloadavg()
    notes = [
        "## Crossbar read: training twin, generic native engine, scipy, CrossSim "
        "(`benchmarks/crossbar.py`)", "",
        f"Date: {date}  ", f"Machine: {machine()}; numpy {np.__version__}  ",
        f"Load average at the end (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, "
        f"{load[2]:.1f}", "",
        "N x N passive arrays of `cosim.hw.build_crossbar_read` (card `crossbar`: "
        "conductances uniform in [g_min_s, g_max_s], 100 ohm drivers and sense "
        "amplifiers; wire per segment as given), row voltages uniform in [0, "
        "read_voltage_v]. Median of the runs, the engines alternating. *twin*: "
        "`read_transfer` from the conductances + `u @ M`; *generic*: `cosim.native` from "
        "the netlist text (`read_bulk`, `factorize`, `solve`: one LU, one solve or the "
        "transfer matrix); *scipy*: parse and assemble the text "
        "(`benchmarks/_scipy_netlist.py`), one `splu`, one solve or the transfer matrix; "
        "*scipy LU*: the same without parse and assembly. Errors: largest relative "
        "difference of a column current from a direct LU solve of the full MNA system per "
        "vector (all vectors at 64, the first 100 at 256).",
    ]
    if cross:
        notes += ["", "CrossSim: a checkout of github.com/sandialabs/cross-sim given by "
                  "`--crosssim`, installed with `pip install --no-deps` into a scratch "
                  "directory and run in a subprocess (`benchmarks/_crosssim_worker.py`: "
                  "non-interleaved input-source array, its segment resistances given as "
                  "matrices because CrossSim 3.2.0 puts `Rp_row_terminal` on input line 0), "
                  f"convergence threshold {args.crosssim_verr:g} (its default); iteration "
                  "limit: CrossSim's 100, raised tenfold only where no relaxation parameter "
                  "converges; 1,000-vector time = first vector + 1,000 x per vector "
                  "measured on the vectors after it."]
    else:
        notes += ["", "CrossSim: not run (no `--crosssim PATH` given); its rows show '-' and "
                  "the CrossSim target is not measured."]
    body = "\n".join(notes + ["", "```", table, "```", "", *[f"- {v}" for v in verdicts]])
    write_section("crossbar", body)


if __name__ == "__main__":
    main()
