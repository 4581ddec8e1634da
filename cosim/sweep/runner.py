"""Running a sweep: points on a local process pool or a Dask distributed cluster.

:func:`run_sweep` opens (or creates) the result file, skips the points already done,
sends the rest to the executor and records each outcome as it arrives, in the parent
process only.  The executor is

- ``workers`` local worker processes (``spawn`` start method, one point at a time
  each) by default, or
- a :class:`dask.distributed.Client` connected to ``scheduler`` (an address such as
  ``tcp://10.0.0.5:8786``, or a ``Client``/``LocalCluster`` object).

Both run the same function, :func:`execute_point`, with the same (task, params, seed), so
they give the same results.  A point whose task raises (including a killed ngspice
simulation: :class:`cosim.spice.SpiceTimeoutError`, :class:`cosim.spice.SpiceCrashError`)
or whose worker process dies is recorded as failed with the error text; the other points
go on.  Failed points are retried only with ``retry_failed=True``.

Local workers are stopped with the sweep: a point that runs longer than
``point_timeout_s`` has its worker killed (with the ngspice processes it started: each
worker is a process group) and is recorded as failed; a worker that dies or is killed
fails only its own point and is replaced; Ctrl-C, SIGTERM or an error in the parent
kills every worker; and if the parent is killed outright (``kill -9``) the workers and
their ngspice processes notice and exit (:func:`cosim.processes.watch_parent`).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Any

import numpy as np

from cosim.errors import ConfigError, CosimError
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
    failed_total : int
        Points of the spec recorded as failed in the file after the call (this call's
        failures and earlier ones not retried).
    """

    path: Path
    points: int
    executed: int
    skipped: int
    ok: int
    failed: int
    elapsed_s: float
    backend: str
    failed_total: int = 0

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
              point_timeout_s: float | None = None,
              on_point: Callable[[Point, Outcome], None] | None = None,
              on_start: Callable[[int], None] | None = None) -> SweepReport:
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
    point_timeout_s : float, optional
        Local pool: wall-time limit of one point (s); the point's worker is killed and
        the point recorded as failed when it is exceeded.  Default: no limit (ngspice
        runs inside a point still have their own ``spice_timeout_s``).
    on_point : callable, optional
        ``on_point(point, outcome)`` after each point is recorded (progress display).
    on_start : callable, optional
        ``on_start(n)`` once the points to execute are known (``n`` of them).
    """
    t0 = time.perf_counter()
    path = Path(out) if out is not None else default_out(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"workers={workers!r}: give a positive integer")
    if point_timeout_s is not None and (isinstance(point_timeout_s, bool) or not isinstance(
            point_timeout_s, (int, float)) or not 0 < point_timeout_s < math.inf):
        raise ConfigError(f"point_timeout_s={point_timeout_s!r}: give a positive number of "
                          f"seconds")
    if point_timeout_s is not None and scheduler is not None:
        raise ConfigError("point_timeout_s applies to the local pool only (a Dask worker "
                          "cannot stop a running task); drop it or the scheduler")
    points = spec.points()
    with SweepFile(path, spec) as sf:
        todo = []
        for p in points:
            st = sf.status_of(p.key)
            if st == "pending" or (st == "failed" and retry_failed):
                todo.append(p)
        counts = {"ok": 0, "failed": 0}
        if on_start is not None:
            on_start(len(todo))

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
            _run_local(spec.task, todo, n, record, point_timeout_s)
        status = dict(zip(sf.keys(), sf.status()))
        failed_total = sum(status[p.key] == "failed" for p in points)
    return SweepReport(path, len(points), len(todo), len(points) - len(todo), counts["ok"],
                       counts["failed"], time.perf_counter() - t0, backend, failed_total)


def _share_cores(threads: int) -> None:
    """Worker start-up: the BLAS and numba threads of one worker, so that the workers
    together use the cores once (results do not depend on thread counts)."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(threads)


#: Time a local worker process may take to start (imports, thread set-up) (s).
WORKER_START_TIMEOUT_S = 120.0


class SweepWorkerError(CosimError):
    """A local sweep worker process could not be started."""


def _worker_main(conn, parent_pid: int, parent_main_thread: bool, threads: int) -> None:
    """A local sweep worker: its own process group (so that stopping it also stops the
    ngspice processes it started), ends with its parent, runs points sent on ``conn``
    (``(task, params, seed)``, ``None`` to stop) and sends back their :class:`Outcome`."""
    from cosim.processes import watch_parent

    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    watch_parent(parent_pid, death_signal=parent_main_thread)
    _share_cores(threads)
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        conn.send(execute_point(*msg))


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class _LocalWorker:
    """One spawned worker process, its pipe, and the point it is running."""

    def __init__(self, ctx, threads: int) -> None:
        from cosim.processes import started_from_main_thread

        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, name="cosim-sweep-worker",
                                args=(child, os.getpid(), started_from_main_thread(),
                                      threads))
        self.proc.start()
        child.close()
        self.ready = False
        self.point: Point | None = None
        self.t_start = time.monotonic()
        self.deadline: float | None = self.t_start + WORKER_START_TIMEOUT_S

    def give(self, task: str, p: Point, timeout_s: float | None) -> None:
        # the worker may be gone: the loop finds it dead, with the point failed
        with contextlib.suppress(OSError):
            self.conn.send((task, p.params, p.seed))
        self.point = p
        self.t_start = time.monotonic()
        self.deadline = None if timeout_s is None else self.t_start + timeout_s

    def kill(self) -> None:
        """SIGKILL the worker's process group (the worker and the ngspice processes it
        started); the worker alone if it has not made its group yet."""
        pid = self.proc.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.proc.exitcode is None:
                self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to exit; kill it if it does not within 5 s."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.proc.join(5)
        if self.proc.exitcode is None:
            self.kill()
        else:
            self.conn.close()


def _run_local(task: str, todo: list[Point], n_workers: int,  # noqa: C901 - the worker event loop
               record: Callable[[Point, Outcome], None],
               point_timeout_s: float | None = None) -> None:
    """Local worker processes (``spawn``), one point at a time each.

    A point that exceeds ``point_timeout_s`` (s, measured from when its worker received
    it) has its worker's process group killed and is recorded as failed; a worker that
    dies takes only its own point with it.  A new worker continues with the rest.
    However this function is left (an exception, Ctrl-C, SIGTERM as
    :class:`cosim.processes.Terminated`), no worker outlives it.
    """
    queue = deque(todo)
    ctx = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // n_workers)
    workers: list[_LocalWorker] = []
    try:
        for _ in range(min(n_workers, len(queue))):
            workers.append(_LocalWorker(ctx, threads))
        while workers:
            for w in list(workers):
                if w.ready and w.point is None:
                    if queue:
                        w.give(task, queue.popleft(), point_timeout_s)
                    else:
                        workers.remove(w)
                        w.stop()
            if not workers:
                break
            deadlines = [w.deadline for w in workers if w.deadline is not None]
            wait_s = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
            mp_wait([w.conn for w in workers] + [w.proc.sentinel for w in workers], wait_s)
            for w in list(workers):
                gone = None         # why the worker has to be replaced, if it does
                if w.conn.poll():
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        w.proc.join(1)
                        gone = (f"worker process died while running the point "
                                f"({_exit_text(w.proc.exitcode)})")
                    else:
                        if msg == "ready":
                            w.ready, w.deadline = True, None
                        else:
                            p, w.point, w.deadline = w.point, None, None
                            record(p, msg)
                elif w.proc.exitcode is not None:
                    gone = (f"worker process died while running the point "
                            f"({_exit_text(w.proc.exitcode)})")
                elif w.deadline is not None and time.monotonic() >= w.deadline:
                    if not w.ready:
                        raise SweepWorkerError(
                            f"a local sweep worker did not start within "
                            f"{WORKER_START_TIMEOUT_S:g} s (machine overloaded?)")
                    gone = (f"point exceeded the per-point timeout of "
                            f"{point_timeout_s:g} s; its worker process was killed")
                if gone is None:
                    continue
                workers.remove(w)
                w.kill()
                if not w.ready:
                    raise SweepWorkerError(f"a local sweep worker process failed to start "
                                           f"({_exit_text(w.proc.exitcode)})")
                if w.point is not None:
                    record(w.point, Outcome("failed", {}, gone,
                                            time.monotonic() - w.t_start))
                if queue:
                    workers.append(_LocalWorker(ctx, threads))
    finally:
        for w in workers:
            w.kill()


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
