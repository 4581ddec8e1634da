"""Cached ngspice runs: the same validated netlist and ngspice version run only once.

:func:`cached_run` renders the job exactly as the engine would run it
(:func:`cosim.spice.make_job`), keys it by that text, the analysis kind and the ngspice
version of the engine's library, and stores every result vector with the kind, axis
name and version.  A hit rebuilds an equal :class:`~cosim.spice.SpiceResult` without
starting ngspice.
"""

from __future__ import annotations

import warnings
import weakref
from typing import TYPE_CHECKING

from cosim.errors import CacheError
from cosim.store.cache import CacheWarning, ResultCache, default_cache

if TYPE_CHECKING:  # cosim.spice imports PySpice-free modules only, but keep import lazy
    from cosim.netlist import Analysis, Circuit
    from cosim.spice import SpiceEngine, SpiceResult

#: Version of how SpiceResults are stored; part of every key made here.
RESULT_FORMAT = 1

_versions: weakref.WeakKeyDictionary[SpiceEngine, str] = weakref.WeakKeyDictionary()


def engine_ngspice_version(engine: SpiceEngine) -> str:
    """The ngspice version of the library ``engine``'s workers load, without a run.

    Workers report the version when they start (:meth:`SpiceEngine.version`), so no
    circuit is run.  The answer is remembered per engine.
    """
    known = _versions.get(engine)
    if known:
        return known
    version = engine.version()
    _versions[engine] = version
    return version


def cached_run(circuit: Circuit | str, analysis: Analysis | None = None,
               cache: ResultCache | None = None, engine: SpiceEngine | None = None,
               timeout_s: float | None = None) -> SpiceResult:
    """Run one analysis through the result cache.

    Parameters
    ----------
    circuit
        A :class:`~cosim.netlist.Circuit` or netlist text (validated by ``make_job``).
    analysis
        The analysis to run; ``None`` takes the circuit's only analysis.
    cache
        Where results are kept; ``None`` gives :func:`default_cache`.
    engine
        The engine that runs misses; ``None`` gives ``cosim.spice.default_engine()``.
    timeout_s
        Time limit of a run that does happen (s).

    Returns
    -------
    SpiceResult
        On a hit, a result with the same kind, axis name, ngspice version, netlist hash
        and vectors (names, dtypes, shapes, values) as the run that filled the entry;
        ngspice does not run.  Failed runs raise their SpiceError and are not cached.
    """
    from cosim.spice import SpiceResult, default_engine, make_job

    cache = default_cache() if cache is None else cache
    engine = default_engine() if engine is None else engine
    job = make_job(circuit, analysis)
    version = engine_ngspice_version(engine)
    key = cache.key(job.text, analysis=job.kind, engine="ngspice", engine_version=version,
                    extra={"result_format": RESULT_FORMAT})
    entry = cache.get_entry(key)
    if entry is not None:
        meta = entry.meta
        if (meta.get("kind") == job.kind and meta.get("result_format") == RESULT_FORMAT
                and "axis_name" in meta):
            return SpiceResult.build(job.kind, entry.arrays, meta["axis_name"],
                                     meta.get("ngspice_version", version), job.sha256)
    result = engine.run_job(job, timeout_s)
    meta = {"kind": result.kind, "axis_name": result.axis_name,
            "ngspice_version": result.ngspice_version, "netlist_sha256": job.sha256,
            "result_format": RESULT_FORMAT}
    try:
        cache.put(key, dict(result.vectors), meta)
    except CacheError as exc:
        warnings.warn(CacheWarning(f"ngspice result not cached: {exc}"), stacklevel=2)
    return result


__all__ = ["RESULT_FORMAT", "cached_run", "engine_ngspice_version"]
