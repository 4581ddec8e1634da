"""Process life cycle: children that do not outlive their parent, SIGTERM as an interrupt.

Worker processes (the ngspice workers of :mod:`cosim.spice.engine`, the local sweep
workers of :mod:`cosim.sweep.runner`) call :func:`watch_parent` when they start.  When
the parent process ends, however it ends (``kill -9`` included), the worker ends too:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the kernel kill the worker at once.
  The kernel ties this to the parent *thread* that started the worker, so it is only set
  when that thread is the parent's main thread (which lives as long as the process);
- everywhere, a daemon thread compares ``os.getppid()`` with the parent's pid every
  :data:`POLL_S` seconds and exits the process once it differs (the orphan was adopted
  by init or a subreaper).

A parent passes its pid (and whether it starts workers from its main thread) in the
child's environment (:func:`child_env`) or as arguments; the child checks the pid once
right away, so a parent that died before the child started is noticed too.

:func:`sigterm_as_interrupt` makes SIGTERM (what batch schedulers and ``kill`` send)
raise :class:`Terminated`, a ``KeyboardInterrupt``, so the same clean-up as for Ctrl-C
runs; the ``cosim`` command exits with ``128 + signal number`` (130 for SIGINT, 143 for
SIGTERM).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

#: How often the fallback thread compares ``os.getppid()`` with the parent (s).
POLL_S = 0.25
#: Environment variables that carry the parent's pid and whether the worker was started
#: from the parent's main thread ("1") or another thread ("0").
PARENT_PID_ENV = "COSIM_PARENT_PID"
PARENT_MAIN_THREAD_ENV = "COSIM_PARENT_MAIN_THREAD"
#: Exit status of a worker that ends because its parent is gone.
ORPHAN_EXIT = 128 + signal.SIGHUP
_PR_SET_PDEATHSIG = 1          # linux/prctl.h


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the process was asked to stop (exit status 143)."""

    signum = signal.SIGTERM

    def __str__(self) -> str:
        return "terminated by SIGTERM"


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Linux: have the kernel send ``sig`` to this process when the thread that started
    it ends.  True when set; False on other systems or without ``prctl``."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def _orphaned() -> None:
    os._exit(ORPHAN_EXIT)


def _poll_parent(parent_pid: int, poll_s: float) -> None:
    while True:
        time.sleep(poll_s)
        if os.getppid() != parent_pid:
            _orphaned()


def watch_parent(parent_pid: int, *, death_signal: bool = True,
                 poll_s: float = POLL_S) -> None:
    """End this process (status :data:`ORPHAN_EXIT`, or SIGKILL) once ``parent_pid`` is
    no longer its parent.

    Parameters
    ----------
    parent_pid : int
        The pid of the process that started this one (as that process saw it).
    death_signal : bool
        Also set Linux's parent-death signal (SIGKILL).  Only correct when the parent
        started this process from its main thread (see the module docstring).
    poll_s : float
        Period of the fallback check (s).
    """
    if death_signal:
        set_parent_death_signal()
    if os.getppid() != parent_pid:    # the parent died before we got here
        _orphaned()
    threading.Thread(target=_poll_parent, args=(int(parent_pid), float(poll_s)),
                     name="cosim-parent-watch", daemon=True).start()


def started_from_main_thread() -> bool:
    """Whether the calling thread is the main thread (where a parent-death signal is
    safe for the children it starts)."""
    return threading.current_thread() is threading.main_thread()


def child_env() -> dict[str, str]:
    """Environment entries that let a child started now call :func:`watch_env_parent`."""
    return {PARENT_PID_ENV: str(os.getpid()),
            PARENT_MAIN_THREAD_ENV: "1" if started_from_main_thread() else "0"}


def watch_env_parent() -> bool:
    """:func:`watch_parent` with the parent named by :func:`child_env` in this process's
    environment; False (nothing watched) when the environment does not name one."""
    pid = os.environ.get(PARENT_PID_ENV, "")
    if not pid.isdigit():
        return False
    watch_parent(int(pid), death_signal=os.environ.get(PARENT_MAIN_THREAD_ENV) == "1")
    return True


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextmanager
def sigterm_as_interrupt():
    """Within the block SIGTERM raises :class:`Terminated` (main thread only; elsewhere
    nothing changes).  The previous handler is restored on leaving."""
    if not started_from_main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
