"""Content-addressed HDF5 result cache.

A result (a set of named numpy arrays plus JSON metadata) is stored under a key that is
the sha256 of canonical content: sorted-key JSON of the netlist text, the analysis, the
engine and its version and any extra parameters.  The key therefore changes exactly
when the result could.

Layout of the cache directory (default ``~/.cache/cosim``, or ``$COSIM_CACHE``)::

    <root>/.lock                      fcntl lock file (eviction, clear, corrupt removal)
    <root>/<key[:2]>/<key>.h5         one HDF5 file per entry
    <root>/<key[:2]>/.tmp-*.h5        a file being written (never read as an entry)

Guarantees
----------
* Atomic writes: an entry is written to a temporary file in its final directory,
  flushed to disk (fsync), then renamed into place (``os.replace``).  A writer killed at
  any moment leaves either the old state or the complete new entry, plus at most a
  temporary file that readers ignore and :meth:`ResultCache.clear` /
  :meth:`ResultCache.evict` delete once its writer is gone.
* Several processes: reads need no lock (a renamed-in file is complete and immutable);
  eviction, clearing and removal of corrupt entries hold an exclusive ``fcntl.flock``
  on ``<root>/.lock``.  HDF5's own file locking is switched off (``locking=False``):
  it fails on some filesystems and the rename protocol makes it unnecessary.
* Integrity: every entry carries a sha256 checksum over its key, its metadata and,
  for each array in name order, the name, dtype, shape and bytes.  A read that finds a
  checksum mismatch, an unreadable file or a missing dataset issues
  :class:`CacheCorruptWarning`, removes the entry and reports a miss, so the result is
  recomputed, never trusted.
* Size limit: total entry bytes are kept under ``max_bytes`` by evicting the least
  recently used entries.  The last-use time is the entry file's modification time,
  set explicitly (nanoseconds) on every write and every hit.

Two processes that miss on the same key at the same time both compute it; the second
rename replaces the first with an identical entry.  Nothing is lost, work is repeated.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cosim.errors import CacheError, ConfigError, CosimWarning
from cosim.paths import describe_os_error, fallback_dir, unwritable_reason
from cosim.store.fsutil import fsync_dir, pid_alive

#: Version of the on-disk entry layout; entries of another version are misses.
FORMAT_VERSION = 1
#: Version of the key recipe; bump it when the canonical key content changes.
KEY_VERSION = 1
#: Default size limit of a cache: 2 GiB.
DEFAULT_MAX_BYTES = 2 * 1024**3
#: A temporary file older than this is stale even if its writer cannot be checked.
STALE_TEMP_AGE_S = 3600.0

_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = ".tmp-"
_HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_DTYPE_KINDS = "biufc"  # bool, signed, unsigned, float, complex
_SIZE_SUFFIXES = {"": 1, "b": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2,
                  "g": 1024**3, "gib": 1024**3, "t": 1024**4, "tib": 1024**4,
                  "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4}
# Re-scan the directory size at least this often (puts / seconds), see _maybe_evict.
_RESCAN_EVERY_PUTS = 32
_RESCAN_EVERY_S = 30.0


class CacheWarning(CosimWarning):
    """A cache operation failed but the computation went on (e.g. a result not stored)."""


class CacheCorruptWarning(CacheWarning):
    """An entry failed its integrity check; it was removed and will be recomputed."""


class CacheKeyError(CacheError, ValueError):
    """A key, an array name or a key part is not acceptable."""


@dataclass(frozen=True)
class CacheEntry:
    """One entry read back from the cache.

    Attributes
    ----------
    key
        Hex sha256 of the entry's canonical content.
    arrays
        Name -> array, exactly as stored (dtype, shape and values).
    meta
        The JSON metadata stored with the entry.
    created_unix_s
        When the entry was written (s since the epoch).
    path
        The entry's HDF5 file.
    """

    key: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    created_unix_s: float
    path: Path


@dataclass(frozen=True)
class EntryInfo:
    """File-system facts of one entry: size (bytes) and last use (s since the epoch)."""

    key: str
    path: Path
    size_bytes: int
    last_used_unix_s: float


@dataclass
class _Stats:
    hits: int = 0
    misses: int = 0
    puts: int = 0
    corrupt: int = 0
    evicted: int = 0


@dataclass
class _Usage:
    """This object's estimate of the cache size, refreshed by full scans."""

    bytes: int | None = None
    puts_since_scan: int = 0
    scanned_at: float = 0.0


# --------------------------------------------------------------------------- helpers
def parse_size(text: str | int, origin: str = "size") -> int:
    """Parse a byte count: an integer, optionally with a unit (``512M``, ``2GiB``, ``1e9``).

    ``K/M/G/T`` and ``KiB/MiB/GiB/TiB`` are binary (1024-based); ``kB/MB/GB/TB`` decimal.
    """
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        value = int(text)
    else:
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _SIZE_SUFFIXES:
            raise ConfigError(f"{origin}={text!r} is not a byte count; give e.g. 2147483648, "
                              "512M or 2GiB")
        value = float(m.group(1)) * _SIZE_SUFFIXES[unit]
        if not math.isfinite(value):
            raise ConfigError(f"{origin}={text!r} is not finite; give e.g. 2GiB")
        value = int(value)
    if value <= 0:
        raise ConfigError(f"{origin}={text!r}: the cache size limit must be positive "
                          "(bytes, e.g. 2GiB)")
    return value


_probed: dict[str, str | None] = {}
_noted: set[Path] = set()


def _unwritable(path: Path) -> str | None:
    """:func:`cosim.paths.unwritable_reason`, tried once per path and process."""
    key = str(path)
    if key not in _probed:
        _probed[key] = unwritable_reason(path)
    return _probed[key]


def default_path() -> Path:
    """``$COSIM_CACHE`` if set, else ``~/.cache/cosim``.

    When the home directory gives no writable place (unwritable, missing or a file),
    the cache moves to a temporary directory of this user
    (:func:`cosim.paths.fallback_dir`) with a :class:`CacheWarning` saying so; when that
    fails too, :class:`~cosim.errors.CacheError` says to set ``COSIM_CACHE``.  An
    explicit ``$COSIM_CACHE`` is returned as it is (:func:`default_cache` checks it).
    """
    env = os.environ.get("COSIM_CACHE")
    if env:
        return Path(env).expanduser()
    try:
        home = Path.home() / ".cache" / "cosim"
    except RuntimeError as exc:   # no HOME and no password entry
        reason = f"no home directory ({exc})"
    else:
        reason = _unwritable(home)
        if reason is None:
            return home
    fallback = fallback_dir("cache")
    if _unwritable(fallback) is not None:
        raise CacheError(f"no writable place for the result cache ({reason}; "
                         f"{_unwritable(fallback)}); set COSIM_CACHE to a writable "
                         f"directory")
    if fallback not in _noted:
        _noted.add(fallback)
        warnings.warn(CacheWarning(f"result cache in {fallback}: cannot write {reason} "
                                   f"(set COSIM_CACHE to a writable directory to keep "
                                   f"results across reboots)"), stacklevel=2)
    return fallback


def default_max_bytes() -> int:
    """``$COSIM_CACHE_MAX_BYTES`` if set, else :data:`DEFAULT_MAX_BYTES` (2 GiB)."""
    env = os.environ.get("COSIM_CACHE_MAX_BYTES")
    if env:
        return parse_size(env, "COSIM_CACHE_MAX_BYTES")
    return DEFAULT_MAX_BYTES


def _check_json_keys(obj: Any, what: str) -> None:
    """JSON would turn a key 1 into "1"; refuse non-str keys so distinct content never
    collides."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise CacheKeyError(f"{what} has the key {k!r} of type {type(k).__name__}; "
                                    "JSON objects need str keys (use str(k))")
            _check_json_keys(v, what)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _check_json_keys(v, what)


def _canonical_json(obj: Any, what: str) -> str:
    _check_json_keys(obj, what)
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CacheKeyError(f"{what} must be JSON data (str, finite numbers, bool, None, "
                            f"lists and str-keyed dicts); {exc}. Convert numpy values with "
                            ".tolist() or float()") from None


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise CacheKeyError(f"cache key {key!r} is not a lower-case hex sha256 (64 "
                            "characters); make keys with ResultCache.key(...)")
    return key


def _normalise_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Native-byte-order, C-contiguous copies, names checked; numeric and bool only."""
    if not isinstance(arrays, Mapping):
        raise CacheKeyError(f"arrays must be a mapping name -> array, got {type(arrays).__name__}")
    out: dict[str, np.ndarray] = {}
    for name in sorted(arrays):
        if not isinstance(name, str) or not name:
            raise CacheKeyError(f"array name {name!r} must be a non-empty string")
        arr = np.asarray(arrays[name])
        if arr.dtype.kind not in _DTYPE_KINDS:
            raise CacheKeyError(f"array {name!r} has dtype {arr.dtype}; the cache stores bool, "
                                "integer, float and complex arrays (put text in meta)")
        out[name] = np.array(arr, dtype=arr.dtype.newbyteorder("="), order="C", copy=True)
    return out


def _checksum(key: str, arrays: Mapping[str, np.ndarray], meta_json: str) -> str:
    """sha256 over key, metadata and each array's name, dtype, shape and bytes (name order)."""
    h = hashlib.sha256()

    def chunk(b: bytes) -> None:
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)

    chunk(f"cosim-cache-entry/{FORMAT_VERSION}".encode())
    chunk(key.encode())
    chunk(meta_json.encode())
    for name in sorted(arrays):
        a = arrays[name]
        chunk(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        chunk(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _h5py():
    import h5py  # lazy: importing cosim stays light

    return h5py


def _open_h5(path: Path | str, mode: str):
    return _h5py().File(path, mode, locking=False)


# --------------------------------------------------------------------------- the cache
class ResultCache:
    """A directory of content-addressed HDF5 entries with checksums and an LRU size limit.

    Parameters
    ----------
    path
        Cache directory; ``None`` gives ``$COSIM_CACHE`` or ``~/.cache/cosim``.  Created on
        the first write.
    max_bytes
        Size limit of all entries (bytes, or a string such as ``"512M"``); ``None`` gives
        ``$COSIM_CACHE_MAX_BYTES`` or 2 GiB.  The least recently used entries are evicted
        beyond it.  Several processes each check the total at least every 32 writes or
        30 s, and always when their estimate approaches the limit, so the limit can be
        exceeded briefly by the entries written in between.

    Examples
    --------
    >>> cache = ResultCache(tmp_dir)                                    # doctest: +SKIP
    >>> key = cache.key(text, analysis="tran", engine="ngspice", engine_version="39")
    >>> arrays = cache.get_or_compute(key, lambda: {"out": np.arange(3.0)})
    """

    def __init__(self, path: str | os.PathLike | None = None,
                 max_bytes: int | str | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.max_bytes = (default_max_bytes() if max_bytes is None
                          else parse_size(max_bytes, "max_bytes"))
        self._stats = _Stats()
        self._usage = _Usage()

    def __repr__(self) -> str:
        return f"ResultCache({str(self.path)!r}, max_bytes={self.max_bytes})"

    # ------------------------------------------------------------------ keys
    @staticmethod
    def key(netlist_text: str, analysis: str = "", engine: str = "ngspice",
            engine_version: str = "", extra: Mapping[str, Any] | None = None) -> str:
        """The hex sha256 of the canonical content that determines a result.

        Parameters
        ----------
        netlist_text
            The exact text the engine runs (e.g. ``cosim.spice.make_job(...).text``).
        analysis
            Analysis kind or its rendered card (``"tran"``, ``".tran 1e-09 1e-06"``).
        engine, engine_version
            Which engine computes the result and its version (e.g. ngspice ``"39"``).
        extra
            Any other JSON data the result depends on (post-processing settings, ...).

        Returns
        -------
        str
            64 lower-case hex characters.  Equal exactly when all parts are equal.
        """
        for name, value in (("netlist_text", netlist_text), ("analysis", analysis),
                            ("engine", engine), ("engine_version", engine_version)):
            if not isinstance(value, str):
                raise CacheKeyError(f"{name} must be a str, got {type(value).__name__}")
        if extra is not None and not isinstance(extra, Mapping):
            raise CacheKeyError(f"extra must be a dict of JSON data, got "
                                f"{type(extra).__name__}")
        doc = {"key_version": KEY_VERSION, "netlist": netlist_text, "analysis": analysis,
               "engine": engine, "engine_version": engine_version,
               "extra": {} if extra is None else dict(extra)}
        return hashlib.sha256(_canonical_json(doc, "extra").encode()).hexdigest()

    def entry_path(self, key: str) -> Path:
        """Where the entry of ``key`` lives (whether or not it exists)."""
        key = _check_key(key)
        return self.path / key[:2] / f"{key}.h5"

    # ------------------------------------------------------------------ reading
    def get(self, key: str) -> dict[str, np.ndarray] | None:
        """The arrays stored under ``key``, or ``None`` (missing or corrupt entry)."""
        entry = self.get_entry(key)
        return None if entry is None else entry.arrays

    def get_entry(self, key: str) -> CacheEntry | None:
        """The full entry (arrays and metadata) under ``key``, or ``None``.

        A corrupt entry (checksum mismatch, unreadable HDF5, missing datasets, wrong key)
        issues :class:`CacheCorruptWarning` naming the file and the reason, is removed,
        and counts as a miss.  A hit marks the entry as just used (for LRU eviction).
        """
        path = self.entry_path(key)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._stats.misses += 1
            return None
        try:
            entry = self._read(path, key)
        except _Corrupt as exc:
            self._discard_corrupt(path, st, str(exc))
            self._stats.misses += 1
            return None
        except FileNotFoundError:  # evicted between stat and open
            self._stats.misses += 1
            return None
        self._touch(path)
        self._stats.hits += 1
        return entry

    def _read(self, path: Path, key: str) -> CacheEntry:
        try:
            with _open_h5(path, "r") as f:
                attrs = f.attrs
                missing = [a for a in ("format_version", "key", "checksum", "names", "meta",
                                       "created_unix_s") if a not in attrs]
                if missing:
                    raise _Corrupt(f"attribute(s) {', '.join(missing)} missing")
                if int(attrs["format_version"]) != FORMAT_VERSION:
                    raise _Corrupt(f"format version {attrs['format_version']} is not "
                                   f"{FORMAT_VERSION}")
                if str(attrs["key"]) != key:
                    raise _Corrupt(f"it holds key {str(attrs['key'])[:16]}..., not its "
                                   "file name")
                names = json.loads(str(attrs["names"]))
                meta_json = str(attrs["meta"])
                meta = json.loads(meta_json)
                arrays: dict[str, np.ndarray] = {}
                for i, name in enumerate(names):
                    ds_name = f"d{i}"
                    if ds_name not in f:
                        raise _Corrupt(f"dataset {ds_name} ({name!r}) missing")
                    arrays[name] = np.asarray(f[ds_name][()])
                if len(f.keys()) != len(names):
                    raise _Corrupt(f"{len(f.keys())} datasets for {len(names)} names")
                stored = str(attrs["checksum"])
                created = float(attrs["created_unix_s"])
        except _Corrupt:
            raise
        except FileNotFoundError:
            raise
        except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError
            raise _Corrupt(f"unreadable ({type(exc).__name__}: {exc})") from None
        actual = _checksum(key, arrays, meta_json)
        if actual != stored:
            raise _Corrupt(f"checksum mismatch (stored {stored[:12]}..., "
                           f"computed {actual[:12]}...)")
        return CacheEntry(key, arrays, meta, created, path)

    def _touch(self, path: Path) -> None:
        now = time.time_ns()
        with contextlib.suppress(OSError):
            os.utime(path, ns=(now, now))

    def _discard_corrupt(self, path: Path, st: os.stat_result, reason: str) -> None:
        self._stats.corrupt += 1
        removed = False
        with contextlib.suppress(OSError), self._locked():
            now = os.stat(path)
            if (now.st_ino, now.st_dev) == (st.st_ino, st.st_dev):  # not replaced meanwhile
                os.unlink(path)
                removed = True
        warnings.warn(CacheCorruptWarning(
            f"cache entry {path} is corrupt: {reason}; "
            f"{'removed, ' if removed else ''}the result will be recomputed"), stacklevel=3)

    # ------------------------------------------------------------------ writing
    def put(self, key: str, arrays: Mapping[str, Any],
            meta: Mapping[str, Any] | None = None) -> Path:
        """Store ``arrays`` (name -> numeric or bool array) and JSON ``meta`` under ``key``.

        The entry appears atomically (temporary file, fsync, rename).  Array names may
        be any non-empty strings.  An existing entry of the same key is replaced.

        Returns
        -------
        Path
            The entry file.

        Raises
        ------
        CacheKeyError
            Bad key, array name, dtype or non-JSON ``meta``.
        CacheError
            The file could not be written (permissions, disk full, ...), or the entry
            alone is larger than ``max_bytes``.
        """
        final = self.entry_path(key)
        data = _normalise_arrays(arrays)
        meta_json = _canonical_json({} if meta is None else dict(meta), "meta")
        checksum = _checksum(key, data, meta_json)
        names = list(data)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create cache directory {final.parent}: {exc}; set "
                             "COSIM_CACHE to a writable directory") from None
        tmp = final.parent / (f"{_TMP_PREFIX}{_HOST_TAG}-{os.getpid()}-"
                              f"{os.urandom(6).hex()}.h5")
        try:
            with _open_h5(tmp, "w") as f:
                f.attrs["format_version"] = FORMAT_VERSION
                f.attrs["key"] = key
                f.attrs["names"] = json.dumps(names)
                f.attrs["meta"] = meta_json
                f.attrs["created_unix_s"] = time.time()
                f.attrs["checksum"] = checksum
                for i, name in enumerate(names):
                    f.create_dataset(f"d{i}", data=data[name])
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            size = os.stat(tmp).st_size
            if size > self.max_bytes:
                raise CacheError(f"entry {key[:16]}... is {size} bytes, more than the cache "
                                 f"limit max_bytes={self.max_bytes}; raise the limit "
                                 "(COSIM_CACHE_MAX_BYTES)")
            os.replace(tmp, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise CacheError(f"cannot write cache entry {final}: {exc}") from exc
            raise
        self._touch(final)
        fsync_dir(final.parent)
        self._stats.puts += 1
        self._maybe_evict(size)
        return final

    def get_or_compute(self, key: str, compute_fn: Callable[[], Mapping[str, Any]],
                       meta: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """The cached arrays of ``key``; on a miss, ``compute_fn()`` is called and stored.

        A failure to store (e.g. a read-only cache) is a :class:`CacheWarning`, not an
        error: the computed arrays are returned all the same.
        """
        found = self.get(key)
        if found is not None:
            return found
        arrays = _normalise_arrays(compute_fn())
        try:
            self.put(key, arrays, meta)
        except CacheError as exc:
            warnings.warn(CacheWarning(f"result not cached: {exc}"), stacklevel=2)
        return arrays

    # ------------------------------------------------------------------ maintenance
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock across processes (fcntl.flock on ``<root>/.lock``)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            where = self.path if exc.filename in (None, str(self.path)) else \
                f"{self.path} ({exc.filename})"
            raise CacheError(f"cache directory {where}: {describe_os_error(exc)}; give "
                             f"--path or set COSIM_CACHE to a writable directory") from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    break
                except InterruptedError:
                    continue
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _scan(self) -> tuple[list[EntryInfo], list[tuple[Path, float]]]:
        """(entries, temporary files with their mtime), ignoring anything else."""
        entries: list[EntryInfo] = []
        temps: list[tuple[Path, float]] = []
        try:
            shards = [d for d in os.scandir(self.path)
                      if len(d.name) == 2 and d.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return entries, temps
        except OSError as exc:
            raise CacheError(f"cache directory {self.path}: {describe_os_error(exc)}; give "
                             f"--path or set COSIM_CACHE to a readable directory") from None
        for shard in shards:
            try:
                items = list(os.scandir(shard.path))
            except FileNotFoundError:
                continue
            for it in items:
                try:
                    st = it.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if it.name.startswith(_TMP_PREFIX):
                    temps.append((Path(it.path), st.st_mtime))
                elif (it.name.endswith(".h5") and _KEY_RE.match(it.name[:-3])
                      and it.name.startswith(shard.name)):
                    entries.append(EntryInfo(it.name[:-3], Path(it.path), st.st_size,
                                             st.st_mtime_ns / 1e9))
        entries.sort(key=lambda e: e.key)
        return entries, temps

    def entries(self) -> list[EntryInfo]:
        """Every complete entry (by key); temporary files are not entries."""
        return self._scan()[0]

    def keys(self) -> list[str]:
        """Keys of every complete entry, sorted."""
        return [e.key for e in self.entries()]

    def __contains__(self, key: str) -> bool:
        return self.entry_path(key).is_file()

    def __len__(self) -> int:
        return len(self.entries())

    @staticmethod
    def _is_stale_temp(path: Path, mtime: float) -> bool:
        """A temporary file whose writer is dead (same host) or that is over an hour old."""
        if time.time() - mtime > STALE_TEMP_AGE_S:
            return True
        parts = path.name[len(_TMP_PREFIX):].split("-")
        if len(parts) != 3 or parts[0] != _HOST_TAG or not parts[1].isdigit():
            return False
        return not pid_alive(int(parts[1]))

    def _remove_stale_temps(self, temps: list[tuple[Path, float]]) -> int:
        n = 0
        for path, mtime in temps:
            if self._is_stale_temp(path, mtime):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    n += 1
        return n

    def info(self) -> dict[str, Any]:
        """Summary: path, entries, total_bytes, max_bytes, this object's hits, misses,
        puts, corrupt and evicted counts, and temp_files (incomplete writes, ignored)."""
        entries, temps = self._scan()
        return {"path": str(self.path), "entries": len(entries),
                "total_bytes": sum(e.size_bytes for e in entries),
                "max_bytes": self.max_bytes, "hits": self._stats.hits,
                "misses": self._stats.misses, "puts": self._stats.puts,
                "corrupt": self._stats.corrupt, "evicted": self._stats.evicted,
                "temp_files": len(temps),
                "stale_temp_files": sum(self._is_stale_temp(p, m) for p, m in temps)}

    def clear(self) -> int:
        """Remove every entry and every stale temporary file; return the entries removed.

        Temporary files of writers still running are left to them.
        """
        if not self.path.exists():
            return 0
        removed = 0
        with self._locked():
            entries, temps = self._scan()
            for e in entries:
                with contextlib.suppress(FileNotFoundError):
                    e.path.unlink()
                    removed += 1
            self._remove_stale_temps(temps)
        self._usage = _Usage(bytes=0, scanned_at=time.monotonic())
        return removed

    def evict(self) -> int:
        """Remove least recently used entries until the total is within ``max_bytes``.

        Also deletes stale temporary files.  Returns the number of entries removed.
        """
        if not self.path.is_dir():
            return 0
        with self._locked():
            return self._evict_locked()

    def _evict_locked(self) -> int:
        entries, temps = self._scan()
        self._remove_stale_temps(temps)
        total = sum(e.size_bytes for e in entries)
        removed = 0
        for e in sorted(entries, key=lambda e: (e.last_used_unix_s, e.key)):
            if total <= self.max_bytes:
                break
            try:
                e.path.unlink()
            except FileNotFoundError:
                pass
            else:
                removed += 1
            total -= e.size_bytes
        self._stats.evicted += removed
        self._usage = _Usage(bytes=total, scanned_at=time.monotonic())
        return removed

    def _maybe_evict(self, added_bytes: int) -> None:
        u = self._usage
        u.puts_since_scan += 1
        if u.bytes is not None:
            u.bytes += added_bytes
        due = (u.bytes is None or u.bytes > 0.9 * self.max_bytes
               or u.puts_since_scan >= _RESCAN_EVERY_PUTS
               or time.monotonic() - u.scanned_at > _RESCAN_EVERY_S)
        if due:
            with self._locked():
                self._evict_locked()

    def verify(self) -> dict[str, Any]:
        """Read every entry and check it; corrupt ones are reported and removed.

        Returns
        -------
        dict
            ``{"valid": int, "corrupt": [key, ...]}``
        """
        valid, corrupt = 0, []
        for e in self.entries():
            try:
                st = os.stat(e.path)
                self._read(e.path, e.key)
            except FileNotFoundError:
                continue
            except _Corrupt as exc:
                self._discard_corrupt(e.path, st, str(exc))
                corrupt.append(e.key)
            else:
                valid += 1
        return {"valid": valid, "corrupt": corrupt}


class _Corrupt(Exception):
    """Internal: an entry failed a check (the message is the reason)."""


_defaults: dict[tuple[str, int], ResultCache] = {}


def default_cache() -> ResultCache:
    """The process-wide cache at ``$COSIM_CACHE`` (or ``~/.cache/cosim``).

    One object per (path, size limit), so changing the environment variables between
    calls gives the cache they name.
    """
    path, max_bytes = default_path(), default_max_bytes()
    k = (str(path), max_bytes)
    if k not in _defaults:
        if os.environ.get("COSIM_CACHE"):
            reason = _unwritable(path)
            if reason is not None:
                raise CacheError(f"COSIM_CACHE={os.environ['COSIM_CACHE']}: cannot write "
                                 f"{reason}; set COSIM_CACHE to a writable directory (or "
                                 f"unset it for ~/.cache/cosim)")
        _defaults[k] = ResultCache(path, max_bytes)
    return _defaults[k]


__all__ = ["CacheCorruptWarning", "CacheEntry", "CacheKeyError", "CacheWarning",
           "DEFAULT_MAX_BYTES", "EntryInfo", "ResultCache", "default_cache",
           "default_max_bytes", "default_path", "parse_size"]
