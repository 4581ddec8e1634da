"""Processes and signals with real processes: a parent killed with SIGKILL leaves no
ngspice worker or sweep worker behind; a hung or killed sweep point fails alone, and the
command says how many points failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from cosim.sweep import SweepFile

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

# Point tasks for the tests, registered when this script is imported: as the main
# script of `cosim sweep run` and again in every spawned sweep worker, which re-imports
# it (as the multiprocessing "spawn" start method does with the main module).
SWEEP_SCRIPT = SLOW_TRAN + """
import os
import signal
import sys
import time

from cosim.sweep import tasks


def misbehave(params, seed):
    x = params["x"]
    if x == 2:
        os.kill(os.getpid(), signal.SIGSTOP)   # hangs: stopped, no CPU, never answers
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)   # the worker dies
    return {"y": 2.0 * x}


def slow_spice(params, seed):
    tasks._spice_engine().run(slow_tran(), timeout_s=600)
    return {"y": 0.0}


def _any(params):
    pass


tasks.TASKS["test_misbehave"] = tasks.Task("test_misbehave", misbehave, _any, "test")
tasks.TASKS["test_slow_spice"] = tasks.Task("test_slow_spice", slow_spice, _any, "test")

if __name__ == "__main__":
    from cosim.cli.main import main

    sys.exit(main(sys.argv[1:]))
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
def test_killed_parent_leaves_no_ngspice_worker(tmp_path, mode, figures):
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
    figures(f"ngspice workers started from {mode.replace('_', ' ')}", n)
    figures("seconds until gone", round(seconds, 2))


def _sweep_spec(tmp_path, task, xs):
    spec = tmp_path / "spec.toml"
    spec.write_text(textwrap.dedent(f"""\
        [sweep]
        task = "{task}"
        out = "out.h5"
        [sweep.grid]
        x = {list(xs)}
        """))
    script = tmp_path / "sweep_cli.py"
    script.write_text(SWEEP_SCRIPT)
    return spec, script


def test_killed_sweep_parent_leaves_no_process(tmp_path, figures):
    """`cosim sweep run` killed with SIGKILL while both workers are inside long ngspice
    runs: the sweep workers, their ngspice workers and multiprocessing's helper are all
    gone within 5 s."""
    spec, script = _sweep_spec(tmp_path, "test_slow_spice", [1, 2, 3, 4])
    proc = subprocess.Popen([sys.executable, str(script), "sweep", "run", str(spec),
                             "--workers", "2", "--quiet"], env=_env(), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids = _wait_for_descendants(proc, lambda kids: len(_spice_workers(kids)) == 2)
    time.sleep(1.0)
    assert len(_alive(pids)) >= 4         # 2 sweep workers + their 2 ngspice workers
    seconds = _kill_parent_and_time_orphans(proc, pids)
    print(f"sweep: {len(pids)} processes gone {seconds:.2f} s after the kill")
    figures("sweep processes killed with their parent", len(pids))
    figures("seconds until gone", round(seconds, 2))


def test_hung_and_killed_points_fail_alone_and_the_command_counts_them(tmp_path, figures):
    """Point x=2 stops its worker (SIGSTOP: a hang) and is ended by --point-timeout;
    point x=3 kills its worker.  Both are recorded as failed with what happened, the
    three others complete, and the command exits 1 naming 2 failed points; so does a
    re-run that executes nothing."""
    spec, script = _sweep_spec(tmp_path, "test_misbehave", [1, 2, 3, 4, 5])
    argv = [sys.executable, str(script), "sweep", "run", str(spec), "--workers", "2",
            "--point-timeout", "3"]
    t0 = time.monotonic()
    first = subprocess.run(argv, check=False, env=_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - t0
    assert first.returncode == 1, first.stderr
    assert "2 of 5 points failed" in first.stderr
    assert elapsed < 60
    with SweepFile(tmp_path / "out.h5") as f:
        x = f.coords()["x"].tolist()
        status = dict(zip(x, f.status()))
        errors = dict(zip(x, f.errors()))
        y = dict(zip(x, f.results()["y"].tolist()))
        duration = dict(zip(x, f.column("duration_s").tolist()))
    assert status == {1: "ok", 2: "failed", 3: "failed", 4: "ok", 5: "ok"}
    assert "per-point timeout of 3 s" in errors[2] and "killed" in errors[2]
    assert 3.0 <= duration[2] < 10.0
    assert "worker process died" in errors[3] and "SIGKILL" in errors[3]
    assert [y[k] for k in (1, 4, 5)] == [2.0, 8.0, 10.0]
    figures("points failed (hung, killed) of 5", 2)
    figures("hung point stopped after s", round(duration[2], 1))
    again = subprocess.run(argv, check=False, env=_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1, again.stderr
    assert "0 executed" in again.stdout and "2 of 5 points failed" in again.stderr
