"""HDF5 storage: the content-addressed result cache.

``ResultCache`` keeps named numpy arrays under the sha256 of the content that produced
them (atomic writes, checksums, several processes, LRU size limit); ``cached_run`` runs
an ngspice analysis through it; ``default_cache()`` is the cache at ``$COSIM_CACHE``
(default ``~/.cache/cosim``).  h5py is imported only when an entry is read or written.
"""

from cosim.store.cache import (
    DEFAULT_MAX_BYTES,
    CacheCorruptWarning,
    CacheEntry,
    CacheKeyError,
    CacheWarning,
    EntryInfo,
    ResultCache,
    default_cache,
    default_max_bytes,
    default_path,
    parse_size,
)
from cosim.store.spice_cache import cached_run, engine_ngspice_version

__all__ = [
    "DEFAULT_MAX_BYTES", "CacheCorruptWarning", "CacheEntry", "CacheKeyError", "CacheWarning",
    "EntryInfo", "ResultCache", "cached_run", "default_cache", "default_max_bytes",
    "default_path", "engine_ngspice_version", "parse_size",
]
