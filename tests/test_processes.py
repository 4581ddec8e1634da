"""Processes and signals with real processes: a parent killed with SIGKILL leaves no
ngspice worker behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: A netlist ngspice cannot finish (10 s of transient at 1 ns steps): a busy worker.
SLOW_TRAN = """
from cosim.cli.build_rc import build_rc_lowpass
from cosim.netlist import Tran


def slow_tran():
    c = build_rc_lowpass(1e3, 1e-6, "tran")
    c.analyses.clear()
    c.analyses.append(Tran(1e-9, 10.0, max_step_s=1e-9))
    return c
"""

SPICE_PARENT = SLOW_TRAN + """
import sys

from cosim.spice import SpiceEngine, make_job

engine = SpiceEngine(workers=2, timeout_s=600)
if sys.argv[1] == "main_thread":     # the worker is started by the main thread
    engine.run(slow_tran())
else:                                # workers started by run_many's pool threads
    engine.run_many([make_job(slow_tran()), make_job(slow_tran())])
"""

def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _alive(pids):
    """The pids still running (a zombie, dead but not yet reaped, does not count)."""
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_for_descendants(proc, want, timeout_s=90.0):
    """Wait until ``want(descendants)`` holds; return the descendants' pids."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        assert proc.poll() is None, proc.communicate()
        kids = psutil.Process(proc.pid).children(recursive=True)
        if want(kids):
            return [k.pid for k in kids]
        time.sleep(0.1)
    raise AssertionError("the processes to watch did not start in time")


def _spice_workers(kids):
    out = []
    for k in kids:
        try:
            if "cosim.spice.worker" in " ".join(k.cmdline()):
                out.append(k)
        except psutil.NoSuchProcess:
            pass
    return out


def _kill_parent_and_time_orphans(proc, pids, limit_s=5.0):
    """SIGKILL ``proc``; seconds until none of ``pids`` runs (fails after ``limit_s``)."""
    try:
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        proc.wait(10)
        while _alive(pids) and time.monotonic() - t0 < limit_s:
            time.sleep(0.02)
        left = _alive(pids)
        assert not left, (f"{len(left)} processes of the killed parent still run after "
                          f"{limit_s} s: {[psutil.Process(p).cmdline() for p in left]}")
        return time.monotonic() - t0
    finally:
        for pid in _alive(pids):        # a failed run must not leave them behind
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["main_thread", "pool_threads"])
def test_killed_parent_leaves_no_ngspice_worker(tmp_path, mode):
    """A process running a long ngspice job is killed with SIGKILL: its ngspice workers
    (busy in the transient, so they never read their socket) are gone within 5 s, both
    when started by the main thread (Linux parent-death signal) and by other threads
    (the getppid watch)."""
    script = tmp_path / "spice_parent.py"
    script.write_text(SPICE_PARENT)
    proc = subprocess.Popen([sys.executable, str(script), mode], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n = 1 if mode == "main_thread" else 2
    pids = _wait_for_descendants(proc, lambda kids: len(_spice_workers(kids)) == n)
    time.sleep(1.0)                        # well inside the transient by now
    assert len(_alive(pids)) == n
    seconds = _kill_parent_and_time_orphans(proc, pids)
    print(f"{mode}: {n} ngspice workers gone {seconds:.2f} s after the kill")
