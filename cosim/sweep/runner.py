"""Running a sweep: points on a local process pool or a Dask distributed cluster.

:func:`run_sweep` opens (or creates) the result file, skips the points already done,
sends the rest to the executor and records each outcome as it arrives, in the parent
process only.  The executor is

- a local :class:`concurrent.futures.ProcessPoolExecutor` (``spawn`` start method,
  ``workers`` processes) by default, or
- a :class:`dask.distributed.Client` connected to ``scheduler`` (an address such as
  ``tcp://10.0.0.5:8786``, or a ``Client``/``LocalCluster`` object).

Both run the same function, :func:`execute_point`, with the same (task, params, seed), so
they give the same results.  A point whose task raises (including a killed ngspice
simulation: :class:`cosim.spice.SpiceTimeoutError`, :class:`cosim.spice.SpiceCrashError`)
or whose worker process dies is recorded as failed with the error text; the other points
go on.  Failed points are retried only with ``retry_failed=True``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cosim.errors import ConfigError
from cosim.sweep.spec import Point, SweepSpec, default_out
from cosim.sweep.store import SweepFile


@dataclass(frozen=True)
class Outcome:
    """What one execution of a point gave."""

    status: str
    results: dict[str, Any]
    error: str
    duration_s: float


@dataclass(frozen=True)
class SweepReport:
    """Summary of one :func:`run_sweep` call.

    Attributes
    ----------
    path : Path
        The result file.
    points : int
        Points in the spec.
    executed : int
        Points executed by this call.
    skipped : int
        Points already done in the file (not executed).
    ok, failed : int
        Outcomes of the executed points.
    elapsed_s : float
        Wall time of the call (s).
    backend : str
        ``"local"`` or ``"dask"``.
    """

    path: Path
    points: int
    executed: int
    skipped: int
    ok: int
    failed: int
    elapsed_s: float
    backend: str

    def summary(self, label: str = "sweep") -> str:
        """One line: ``label: N points run, K already done, F failed (T s)``."""
        return (f"{label}: {self.executed} points run, {self.skipped} already done, "
                f"{self.failed} failed ({self.elapsed_s:.1f} s)")


def execute_point(task: str, params: dict, seed: int) -> Outcome:
    """Run one point of ``task`` (in a worker); every exception becomes a failed outcome.

    Results are converted to plain floats / float64 arrays so that they travel the same
    way through pickling on any executor.
    """
    from cosim.sweep.tasks import TASKS

    t0 = time.perf_counter()
    try:
        raw = TASKS[task].func(dict(params), int(seed))
        results = {}
        for k, v in raw.items():
            a = np.asarray(v, dtype=np.float64)
            results[str(k)] = float(a) if a.ndim == 0 else a
        return Outcome("ok", results, "", time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a point's failure is data, not a crash
        tb = traceback.format_exception_only(type(exc), exc)
        return Outcome("failed", {}, "".join(tb).strip(), time.perf_counter() - t0)


def _dask_client(scheduler):
    try:
        from dask.distributed import Client
    except ImportError:
        raise ConfigError("--scheduler needs dask.distributed: pip install "
                          "'dask[distributed]'") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    if hasattr(scheduler, "scheduler_address"):  # a LocalCluster / SpecCluster
        return Client(scheduler), True
    if not isinstance(scheduler, str) or not scheduler:
        raise ConfigError(f"scheduler={scheduler!r}: give an address like "
                          f"tcp://host:8786")
    return Client(scheduler), True


def run_sweep(spec: SweepSpec, out: str | Path | None = None, *, scheduler=None,
              workers: int | None = None, retry_failed: bool = False,
              on_point: Callable[[Point, Outcome], None] | None = None) -> SweepReport:
    """Run the points of ``spec`` not yet done in ``out``; record each as it completes.

    Parameters
    ----------
    spec : SweepSpec
    out : str or Path, optional
        Result file (default: the spec's ``out``).
    scheduler : str or dask Client or cluster, optional
        Run on this Dask distributed cluster instead of the local pool.
    workers : int, optional
        Local pool size (default: the CPU count, at most the number of points).
    retry_failed : bool
        Also run points recorded as failed.
    on_point : callable, optional
        ``on_point(point, outcome)`` after each point is recorded (progress display).
    """
    t0 = time.perf_counter()
    path = Path(out) if out is not None else default_out(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers={workers!r}: give a positive integer")
    points = spec.points()
    with SweepFile(path, spec) as sf:
        todo = []
        for p in points:
            st = sf.status_of(p.key)
            if st == "pending" or (st == "failed" and retry_failed):
                todo.append(p)
        counts = {"ok": 0, "failed": 0}

        def record(p: Point, o: Outcome) -> None:
            try:
                sf.record(p.key, o.status, results=o.results, error=o.error,
                          duration_s=o.duration_s)
            except Exception as exc:  # noqa: BLE001 - e.g. a result of a new shape
                o = Outcome("failed", {}, f"{type(exc).__name__}: {exc}", o.duration_s)
                sf.record(p.key, "failed", error=o.error, duration_s=o.duration_s)
            counts[o.status] += 1
            if on_point is not None:
                on_point(p, o)

        if scheduler is not None:
            backend = "dask"
            _run_dask(spec.task, todo, scheduler, record)
        else:
            backend = "local"
            n = workers or min(os.cpu_count() or 1, max(len(todo), 1))
            _run_local(spec.task, todo, n, record)
    return SweepReport(path, len(points), len(todo), len(points) - len(todo), counts["ok"],
                       counts["failed"], time.perf_counter() - t0, backend)


def _share_cores(threads: int) -> None:
    """Worker initializer: the BLAS and numba threads of one worker, so that the
    workers together use the cores once (results do not depend on thread counts)."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(threads)


def _run_local(task: str, todo: list[Point], n_workers: int,
               record: Callable[[Point, Outcome], None]) -> None:
    """Local process pool; at most 2 points in flight per worker, so that a worker that
    dies (and breaks the pool) takes only the points it was holding; a new pool then
    continues with the rest."""
    queue = list(todo)
    ctx = multiprocessing.get_context("spawn")
    while queue:
        threads = max(1, (os.cpu_count() or 1) // n_workers)
        with cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx,
                                    initializer=_share_cores, initargs=(threads,)) as pool:
            inflight: dict[cf.Future, tuple[Point, float]] = {}
            broken = False
            while (queue or inflight) and not broken:
                while queue and len(inflight) < 2 * n_workers:
                    p = queue.pop(0)
                    inflight[pool.submit(execute_point, task, p.params, p.seed)] = \
                        (p, time.perf_counter())
                done, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    p, t_sub = inflight.pop(fut)
                    try:
                        o = fut.result()
                    except cf.process.BrokenProcessPool as exc:
                        broken = True
                        o = Outcome("failed", {}, f"worker process died while running the "
                                    f"point (killed or crashed): {exc}",
                                    time.perf_counter() - t_sub)
                    record(p, o)
            if broken:
                # the pool is unusable: every point still in flight failed with it
                for fut, (p, t_sub) in inflight.items():
                    record(p, Outcome("failed", {}, "worker pool broke while the point "
                                      "was queued or running (another worker died)",
                                      time.perf_counter() - t_sub))


def _run_dask(task: str, todo: list[Point], scheduler,
              record: Callable[[Point, Outcome], None]) -> None:
    from dask.distributed import as_completed

    client, owned = _dask_client(scheduler)
    try:
        futures = {}
        for p in todo:
            f = client.submit(execute_point, task, p.params, p.seed, pure=False,
                              key=f"cosim-sweep-{p.key[:16]}-{time.time_ns()}")
            futures[f.key] = (p, f)
        submitted = time.perf_counter()
        for fut in as_completed([f for _, f in futures.values()]):
            p, _ = futures[fut.key]
            try:
                o = fut.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost worker, ...
                o = Outcome("failed", {}, f"{type(exc).__name__}: {exc}",
                            time.perf_counter() - submitted)
            record(p, o)
            fut.release()
    finally:
        if owned:
            client.close()
