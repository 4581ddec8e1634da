"""Where numba keeps the compiled kernels of :mod:`cosim.hw` (one decision per process)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numba

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
