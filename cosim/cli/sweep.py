"""``cosim sweep``: run a grid / Monte Carlo sweep, show and plot its result file.

* ``cosim sweep run SPEC.toml [--scheduler ADDRESS] [--workers N] [--out FILE]
  [--retry-failed] [--point-timeout S]``: points on a local process pool, or on a Dask
  distributed cluster; points already done in the file are skipped.  Exits with status 1
  when points of the spec are recorded as failed in the file (this run's or earlier
  ones), naming how many.
* ``cosim sweep show FILE [--json]``: status counts and the table of points.
* ``cosim sweep plot FILE [-o PNG] [--result NAME ...]``: results vs the swept values.
* ``cosim sweep tasks``: the registered point tasks.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from cosim.cli.usage import usage_error


def register(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="grid / Monte Carlo sweeps (local pool or Dask)",
                              description="Sweeps over config values: a grid or a Monte "
                                          "Carlo, run on a local process pool or a Dask "
                                          "distributed cluster, results in one HDF5 file.")
    sub = p.add_subparsers(dest="sweep_command", metavar="ACTION")
    run = sub.add_parser("run", help="run the points of a sweep spec not yet done",
                         description="Run a sweep spec (TOML, see cosim.sweep.spec). Points "
                                     "already done in the result file are skipped; failed "
                                     "points are recorded with their error.")
    run.add_argument("spec", type=Path, metavar="SPEC.toml", help="sweep spec (TOML)")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address (e.g. tcp://10.0.0.5:8786); default: a "
                          "local process pool")
    run.add_argument("--workers", type=int, default=None, metavar="N",
                     help="local pool size (default: the CPU count)")
    run.add_argument("--out", type=Path, default=None, metavar="FILE",
                     help="result file (default: the spec's sweep.out)")
    run.add_argument("--retry-failed", action="store_true",
                     help="also re-run points recorded as failed")
    run.add_argument("--point-timeout", type=float, default=None, metavar="S",
                     help="local pool: stop a point after S seconds of wall time (its "
                          "worker is killed, the point recorded as failed); default: no "
                          "limit")
    run.add_argument("--quiet", action="store_true", help="no per-point lines")
    run.set_defaults(func=cmd_run)
    show = sub.add_parser("show", help="status and table of a sweep file")
    show.add_argument("file", type=Path, metavar="FILE", help="sweep result file (HDF5)")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=cmd_show)
    plot = sub.add_parser("plot", help="plot results against the swept values")
    plot.add_argument("file", type=Path, metavar="FILE", help="sweep result file (HDF5)")
    plot.add_argument("-o", "--output", type=Path, default=None, metavar="PNG",
                      help="image file (default: FILE with .png)")
    plot.add_argument("--result", action="append", default=None, metavar="NAME",
                      help="result to draw (repeatable; default: all scalars)")
    plot.set_defaults(func=cmd_plot)
    tasks = sub.add_parser("tasks", help="list the registered point tasks")
    tasks.set_defaults(func=cmd_tasks)
    p.set_defaults(func=lambda args: usage_error(p))


def cmd_run(args) -> int:
    from cosim.sweep import load_spec, run_sweep

    spec = load_spec(args.spec)

    from cosim.orchestrator.progress import Progress

    bar = Progress(0, quiet=True)   # replaced once the number of points is known
    counts = {"ok": 0, "failed": 0}

    def start(n: int) -> None:
        nonlocal bar
        bar = Progress(n, label="sweep: ", unit="point", quiet=args.quiet)

    def progress(point, outcome):
        counts["ok" if outcome.status == "ok" else "failed"] += 1
        c = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in point.coords.items())
        msg = "ok" if outcome.status == "ok" else "FAILED: " + outcome.error.splitlines()[-1]
        bar.write(f"point {point.index} [{c}] {outcome.duration_s:.2f} s {msg}")
        bar.update(counts["ok"] + counts["failed"], **counts)

    rep = run_sweep(spec, args.out, scheduler=args.scheduler, workers=args.workers,
                    retry_failed=args.retry_failed, point_timeout_s=args.point_timeout,
                    on_point=progress, on_start=start)
    bar.close()
    print(f"{rep.path}: {rep.points} points, {rep.executed} executed ({rep.ok} ok, "
          f"{rep.failed} failed), {rep.skipped} already done; {rep.elapsed_s:.1f} s on "
          f"{rep.backend}")
    if rep.failed_total:
        print(f"cosim sweep run: {rep.failed_total} of {rep.points} points failed (their "
              f"errors: cosim sweep show {rep.path}; re-run them with --retry-failed)",
              file=sys.stderr)
        return 1
    return 0


def show_data(path: Path) -> dict:
    """Summary and per-point rows of a sweep file (JSON-able)."""
    from cosim.sweep import SweepFile

    with SweepFile(path) as f:
        out = f.summary()
        coords, results = f.coords(), f.results()
        status, errors = f.status(), f.errors()
        dur, att, seeds = f.column("duration_s"), f.column("attempts"), f.column("seed")
        rows = []
        for i in range(len(status)):
            row = {k: _plain(v[i]) for k, v in coords.items()}
            row.update(status=status[i], error=errors[i], seed=int(seeds[i]),
                       attempts=int(att[i]), duration_s=_plain(dur[i]))
            row.update({k: _plain(v[i]) for k, v in results.items() if v.ndim == 1})
            rows.append(row)
        out["rows"] = rows
    return out


def _plain(v):
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def cmd_show(args) -> int:
    d = show_data(args.file)
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    print(f"{d['path']}: task {d['task']} ({d['kind']}), {d['points']} points: {d['ok']} ok, "
          f"{d['failed']} failed, {d['pending']} pending; {d['total_attempts']} executions, "
          f"{d['compute_time_s']:.1f} s of compute")
    if not d["rows"]:
        return 0
    cols = d["swept_keys"] + ["status"] + d["results"]
    cols = [c for c in cols if c in d["rows"][0]]
    print("  ".join(f"{c:>14.14}" for c in cols))
    for r in d["rows"]:
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:>14.6g}" if isinstance(v, float) else f"{str(v):>14.14}")
        print("  ".join(cells))
        if r["error"]:
            print(f"    error: {r['error'].splitlines()[-1]}")
    return 0


def cmd_plot(args) -> int:
    from cosim.report.sweep import plot_sweep

    out = args.output or args.file.with_suffix(".png")
    plot_sweep(args.file, args.result, out=out)
    print(out)
    return 0


def cmd_tasks(args) -> int:
    from cosim.sweep import TASKS

    for name, t in sorted(TASKS.items()):
        print(f"{name:24s} {t.help}")
    return 0
