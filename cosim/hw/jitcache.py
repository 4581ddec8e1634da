"""Where numba keeps the compiled kernels of :mod:`cosim.hw`, how its threads wait
between them (decisions made once per process, on import), and the one line printed
when the kernels are compiled rather than loaded from that cache.

The first run after an install (or after a change of numba or of a kernel's source)
compiles the kernels, which takes seconds; later runs load them from the cache.  So that
the first run does not look stuck, the first actual compile of a cosim kernel in a
process prints one line on stderr (:class:`_CompileNotice`); a cache hit prints nothing.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numba
from numba.core import event

from cosim.errors import CosimWarning
from cosim.paths import fallback_dir, unwritable_reason


def _kernel_cache() -> bool:
    """Whether numba keeps the compiled kernels on disk (``cache=True``), so that later
    processes skip compiling them.

    numba writes them to ``$NUMBA_CACHE_DIR`` if set, else to ``__pycache__`` beside this
    file, else under the home directory, and refuses to import the module when none is
    writable.  When the install is read-only and no ``NUMBA_CACHE_DIR`` is set, they go
    to :func:`cosim.paths.fallback_dir` (``NUMBA_CACHE_DIR`` is set to it for this
    process); when that is not writable either, the kernels are compiled in every
    process, with a :class:`~cosim.errors.CosimWarning` saying what to set.
    """
    if numba.config.CACHE_DIR and unwritable_reason(numba.config.CACHE_DIR) is None:
        return True   # the user's choice
    in_tree = unwritable_reason(Path(__file__).resolve().parent / "__pycache__")
    if in_tree is None:
        return True
    fallback = fallback_dir("numba")
    if unwritable_reason(fallback) is None:
        os.environ["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR = str(fallback)
        return True
    warnings.warn(CosimWarning(f"compiled kernels are not cached (cannot write {in_tree} "
                               f"nor {fallback}); set NUMBA_CACHE_DIR to a writable "
                               f"directory to skip compiling them in every run"),
                  stacklevel=2)
    return False


KERNEL_CACHE = _kernel_cache()
"""``cache=`` of every compiled kernel of cosim.hw."""


class _CompileNotice(event.Listener):
    """Prints one stderr line at the first compile of a cosim kernel in this process.

    numba fires ``numba:compile`` only when it compiles (after looking in its cache), so a
    process whose kernels all load from the cache prints nothing.
    """

    def __init__(self) -> None:
        self.printed = False

    def on_start(self, ev) -> None:
        if self.printed:
            return
        dispatcher = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if not module.startswith("cosim."):
            return
        self.printed = True
        where = (f"cached in {numba.config.CACHE_DIR or 'the package __pycache__'}"
                 if KERNEL_CACHE else "not cached: see the warning above")
        print(f"cosim: compiling numerical kernels on first use (once per install; {where})",
              file=sys.stderr, flush=True)

    def on_end(self, ev) -> None:
        pass


event.register("numba:compile", _CompileNotice())   # once: this module is imported once


def _passive_thread_wait() -> str:
    """Let the threads of numba's OpenMP layer sleep between parallel regions instead of
    spinning (``OMP_WAIT_POLICY=PASSIVE``, unless the environment already sets it or
    ``GOMP_SPINCOUNT``); returns the policy in effect.

    GNU OpenMP's default has every idle thread spin for a while (about 300 000 rounds)
    before it sleeps.  A training step starts tens of parallel regions with Python and
    BLAS work between them, so on a machine whose cores are shared the spinning
    threads take time slices from the thread that has work: a bplight LeNet-5 step at 2
    threads took 1.7-2.0 s with spinning and 0.2-0.5 s with sleeping threads at load
    average 16 on 2 cores (the same step takes 0.5 s on one thread there); the user CPU
    time fell 5-fold, to that of one thread.  Read by libgomp when numba first starts
    its threads, so this must run before any parallel kernel (it does: on import of
    :mod:`cosim.hw.kernels`)."""
    if "GOMP_SPINCOUNT" not in os.environ:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ.get("OMP_WAIT_POLICY", "")


THREAD_WAIT = _passive_thread_wait()
"""``OMP_WAIT_POLICY`` of this process (see :func:`_passive_thread_wait`)."""
