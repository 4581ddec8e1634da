"""The ngspice engine: a small pool of worker processes that run netlists.

Why processes: the ngspice shared library holds one circuit per process, can crash or
hang, and grows in memory over thousands of runs.  Each worker (cosim.spice.worker)
serves one run at a time over a pipe.  A run that exceeds ``timeout_s`` gets its worker
killed; a worker that dies is replaced; a worker is also recycled after
``max_runs_per_worker`` runs.  The caller always gets a result or a SpiceError, never a
dead interpreter.

Only validated text reaches ngspice: a :class:`~cosim.netlist.Circuit` is rendered by
the netlist core, and raw text is parsed (and so re-validated) and re-rendered first.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

from cosim.errors import ConfigError, NetlistError
from cosim.netlist import Analysis, Circuit, parse_netlist
from cosim.netlist.analysis import Ac, Dc, Noise, Op, Tran
from cosim.netlist.circuit import render_member
from cosim.processes import child_env
from cosim.spice import errors as E
from cosim.spice.gate import check_deck
from cosim.spice.result import _AXIS_NAMES, SpiceResult

_ERRORS = {cls.__name__: cls for cls in (
    E.SpiceError, E.NgspiceNotFoundError, E.SpiceSyntaxError, E.DeckRefusedError,
    E.UnknownModelError, E.UnknownNodeError, E.SingularMatrixError, E.ConvergenceError,
    E.TimestepTooSmallError,
    E.SpiceTimeoutError, E.SpiceCrashError)}


@dataclass(frozen=True)
class Job:
    """One netlist to run: rendered text and the kind of its single analysis.

    Build it with :func:`make_job`.  Whatever its origin, its text passes the gate
    (:func:`cosim.spice.gate.check_deck`) again when it is sent, and once more inside the
    worker, so a hand-made or altered Job cannot carry anything else to ngspice.
    """

    text: str
    kind: str
    sha256: str


def make_job(circuit: Circuit | str, analysis: Analysis | None = None) -> Job:
    """Validate and render what ngspice will run.

    ``circuit`` is a Circuit or netlist text (parsed, hence validated, then re-rendered).
    Exactly one analysis is run: ``analysis`` if given, else the circuit's only one.
    A circuit with a floating node (:meth:`Circuit.floating_nodes`) is refused with
    :class:`~cosim.spice.errors.FloatingNodeError` unless the analysis is a transient
    from initial conditions (``uic``), as ``cosim netlist info`` and the native engine do.
    """
    if isinstance(circuit, str):
        circuit = parse_netlist(circuit)
    if not isinstance(circuit, Circuit):
        raise NetlistError(f"make_job takes a Circuit or netlist text, not "
                           f"{type(circuit).__name__}")
    if analysis is None:
        if len(circuit.analyses) != 1:
            raise NetlistError(f"the circuit has {len(circuit.analyses)} analyses; pass exactly "
                             "one analysis to run (op, dc, ac, tran or noise)")
        analysis = circuit.analyses[0]
    if not isinstance(analysis, (Op, Dc, Ac, Tran, Noise)):
        raise NetlistError(f"analysis {analysis!r} is not one of Op, Dc, Ac, Tran, Noise")
    body = circuit.render(with_analyses=False)
    floating = circuit.floating_nodes()
    if floating and not (isinstance(analysis, Tran) and analysis.uic):
        # ngspice would "solve" it by gmin stepping and return a voltage set by gmin.
        shown = ", ".join(floating[:10]) + (" ..." if len(floating) > 10 else "")
        raise E.FloatingNodeError(
            f"node(s) {shown} have no DC path to ground (only capacitors or current sources "
            f"reach them), so the {analysis.kind} operating point is undefined; ngspice would "
            "report a voltage set by its gmin conductance")
    text = body[: -len(".end\n")] + render_member(analysis, "analysis") + "\n.end\n"
    return Job(text, analysis.kind, hashlib.sha256(text.encode()).hexdigest())


class _Worker:
    """One ``python -m cosim.spice.worker`` child process and its socket connection.

    A fresh interpreter (not fork, not multiprocessing's spawn) so that the user's main
    module is never re-imported and no parent state leaks into ngspice.  The worker
    watches this process and ends when it ends (:func:`cosim.processes.watch_parent`).
    """

    def __init__(self) -> None:
        parent_sock, child_sock = socket.socketpair()
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(child_env())   # the worker ends when this process does
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cosim.spice.worker", str(child_sock.fileno())],
            pass_fds=(child_sock.fileno(),), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            close_fds=True)
        child_sock.close()
        self.conn = Connection(parent_sock.detach())
        self.runs = 0
        self.version = ""
        self._ready = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout_s: float) -> None:
        if self._ready:
            return
        if not self.conn.poll(timeout_s):
            self.kill()
            raise E.SpiceCrashError("ngspice worker did not start in time")
        try:
            msg = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise E.SpiceCrashError("ngspice worker died while starting") from None
        if msg.get("status") != "ready":
            self.kill()
            raise _ERRORS.get(msg["error"], E.SpiceError)(msg["reason"], msg.get("lines", ()))
        self.version = msg["version"]
        self._ready = True

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class SpiceEngine:
    """A pool of ngspice worker processes.

    Parameters
    ----------
    workers
        Number of worker processes (default: the number of CPU cores).
    timeout_s
        Wall-clock limit of one run; the worker is killed when it is exceeded.
    max_runs_per_worker
        A worker is replaced after this many runs, bounding ngspice's memory growth.
    """

    def __init__(self, workers: int | None = None, timeout_s: float = 120.0,
                 max_runs_per_worker: int = 500, start_timeout_s: float = 60.0) -> None:
        if workers is None:
            workers = os.cpu_count() or 1
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r}: give a positive integer")
        if not timeout_s > 0:
            raise ConfigError(f"timeout_s={timeout_s!r}: give a positive number of seconds")
        self.size = workers
        self.timeout_s = float(timeout_s)
        self.max_runs_per_worker = int(max_runs_per_worker)
        self.start_timeout_s = start_timeout_s
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self.runs = 0
        for _ in range(workers):
            self._idle.put(None)  # a slot; the worker starts on first use

    # ------------------------------------------------------------------ workers
    def _new_worker(self) -> _Worker:
        w = _Worker()
        with self._lock:
            self._all.append(w)
        return w

    def _retire(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            if w in self._all:
                self._all.remove(w)

    def worker_pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all if w.alive()]

    def version(self) -> str:
        """Version of the ngspice library the workers load, without running a circuit.

        Workers report it when they start; one is started if none is running.
        """
        with self._lock:
            ready = [w for w in self._all if w._ready and w.version]
        if ready:
            return ready[0].version
        w = self._checkout()
        try:
            return w.version
        finally:
            self._idle.put(w)

    def _checkout(self) -> _Worker:
        """Take an idle slot and return a started, ready worker for it.

        A dead worker in the slot is replaced.  If no worker can be started the slot is
        given back empty and the SpiceError is raised.
        """
        w = self._idle.get()
        try:
            if w is None or not w.alive():
                if w is not None:
                    self._retire(w)
                w = self._new_worker()
            w.wait_ready(self.start_timeout_s)
            return w
        except BaseException:
            if w is not None:
                self._retire(w)
            self._idle.put(None)
            raise

    @property
    def ngspice_version(self) -> str:
        """Same as :meth:`version` (kept as a property for convenience)."""
        return self.version()

    # ------------------------------------------------------------------ running
    def run(self, circuit: Circuit | str, analysis: Analysis | None = None,
            timeout_s: float | None = None) -> SpiceResult:
        """Run one analysis of a circuit (or netlist text) and return its vectors."""
        return self.run_job(make_job(circuit, analysis), timeout_s)

    def run_job(self, job: Job, timeout_s: float | None = None) -> SpiceResult:
        """Run one job; its text passes :func:`~cosim.spice.gate.check_deck` first."""
        if self._closed:
            raise RuntimeError("this SpiceEngine is closed")
        if not isinstance(job, Job):
            raise E.DeckRefusedError(f"run_job takes a Job (from make_job), not "
                                     f"{type(job).__name__}")
        text, kind = job.text, job.kind  # read once: what is checked is what is sent
        check_deck(text, kind)
        timeout = self.timeout_s if timeout_s is None else float(timeout_s)
        w = self._checkout()
        try:
            try:
                w.conn.send((text, kind))
            except (OSError, BrokenPipeError):
                self._retire(w)
                w = None
                raise E.SpiceCrashError("ngspice worker pipe broke before the run",
                                        netlist=text) from None
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._retire(w)
                    w = None
                    raise E.SpiceTimeoutError(f"run exceeded {timeout:g} s; worker killed",
                                              netlist=text)
                if w.conn.poll(min(remaining, 0.5)):
                    break
                if not w.alive():
                    break
            try:
                reply = w.conn.recv()
            except (EOFError, OSError):
                w.proc.poll()
                code = w.proc.returncode
                self._retire(w)
                w = None
                raise E.SpiceCrashError(f"ngspice worker died during the run (exit code "
                                        f"{code}); it has been replaced",
                                        netlist=text) from None
            w.runs += 1
            self.runs += 1
            if reply.get("fatal") or w.runs >= self.max_runs_per_worker:
                # Library unusable after this run, or due for recycling.
                w.stop()
                with self._lock:
                    if w in self._all:
                        self._all.remove(w)
                w = None
            if reply["status"] != "ok":
                cls = _ERRORS.get(reply["error"], E.SpiceError)
                raise cls(reply["reason"], reply.get("lines", ()), text)
            vectors = reply["vectors"]
            if kind == "op":
                vectors = {k: v.reshape(()) if v.size == 1 else v for k, v in vectors.items()}
            if kind == "noise":
                vectors = {k: v.reshape(()) if k.endswith("_total") and v.size == 1 else v
                           for k, v in vectors.items()}
            axis = _AXIS_NAMES[kind]
            if kind == "dc":
                axis = next((k for k in ("v-sweep", "i-sweep", "temp-sweep") if k in vectors),
                            None)
            return SpiceResult.build(kind, vectors, axis, reply.get("version", ""),
                                     hashlib.sha256(text.encode("ascii")).hexdigest())
        finally:
            self._idle.put(w)

    def run_many(self, jobs: Iterable[Job], timeout_s: float | None = None,
                 return_exceptions: bool = False) -> list[SpiceResult | Exception]:
        """Run many jobs on all workers; results in input order.

        With ``return_exceptions`` a failed job gives its SpiceError in its slot instead
        of raising, so one bad netlist does not lose the others.
        """
        jobs = list(jobs)

        def one(job: Job):
            try:
                return self.run_job(job, timeout_s)
            except E.SpiceError as exc:
                if return_exceptions:
                    return exc
                raise

        with ThreadPoolExecutor(max_workers=self.size) as pool:
            return list(pool.map(one, jobs))

    def close(self) -> None:
        """Stop every worker process."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            w.stop()

    def __enter__(self) -> SpiceEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_default: SpiceEngine | None = None
_default_lock = threading.Lock()


def default_engine() -> SpiceEngine:
    """The process-wide engine (size from $COSIM_SPICE_WORKERS, default = cores)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            n = os.environ.get("COSIM_SPICE_WORKERS")
            _default = SpiceEngine(workers=int(n) if n else None)
            atexit.register(_default.close)
        return _default


def run(circuit: Circuit | str, analysis: Analysis | None = None,
        timeout_s: float | None = None) -> SpiceResult:
    """Run one analysis on the default engine."""
    return default_engine().run(circuit, analysis, timeout_s)


def run_many(items: Sequence[tuple[Circuit | str, Analysis | None]],
             timeout_s: float | None = None, return_exceptions: bool = False):
    """Run many (circuit, analysis) pairs on the default engine, in parallel."""
    jobs = [make_job(c, a) for c, a in items]
    return default_engine().run_many(jobs, timeout_s, return_exceptions)
