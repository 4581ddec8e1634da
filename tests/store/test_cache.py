"""The HDF5 result cache in one process: round trips, keys, integrity, LRU, CLI."""

from __future__ import annotations

import json
import os
import warnings

import h5py
import numpy as np
import pytest

from cosim.errors import CacheError, ConfigError, CosimWarning
from cosim.store import (
    CacheCorruptWarning,
    CacheKeyError,
    CacheWarning,
    ResultCache,
    default_cache,
    parse_size,
)

NETLIST = "* rc\nV1 in 0 DC 1\nR1 in out 1000\nC1 out 0 1e-06\n.tran 1e-06 0.001\n.end\n"


def sample_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "time": np.linspace(0.0, 1e-3, 101),
        "out": rng.normal(size=101),
        "v1#branch": rng.normal(size=101) * 1e-3,          # '#' in a name
        "xm1.x": rng.uniform(size=(4, 5)).astype(np.float32),  # '.' in a name
        "h": rng.normal(size=7) + 1j * rng.normal(size=7),  # complex128
        "h64": (rng.normal(size=3) + 1j).astype(np.complex64),
        "total": np.array(2.5e-6),                          # 0-d
        "counts": np.arange(-3, 9, dtype=np.int16).reshape(3, 4),
        "mask": np.array([True, False, True]),
        "big_endian": np.arange(4, dtype=">f8"),
        "empty": np.zeros((0, 3)),
    }


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.shape == y.shape, name
        assert x.dtype.newbyteorder("=") == y.dtype.newbyteorder("="), name
        assert np.array_equal(x, y), name


def key_of(cache: ResultCache, i: int) -> str:
    return cache.key(NETLIST.replace("1000", str(1000 + i)), analysis="tran",
                     engine_version="39")


# ------------------------------------------------------------------ round trip
def test_put_get_round_trip_keeps_dtype_shape_values(tmp_path):
    cache = ResultCache(tmp_path)
    arrays = sample_arrays()
    key = cache.key(NETLIST, analysis="tran", engine="ngspice", engine_version="39")
    assert cache.get(key) is None
    cache.put(key, arrays, meta={"kind": "tran", "note": "r/c"})
    got = cache.get(key)
    assert_same(arrays, got)
    assert got["big_endian"].dtype == np.dtype("=f8")
    assert got["h"].dtype == np.complex128 and got["h64"].dtype == np.complex64
    assert got["total"].shape == ()
    entry = cache.get_entry(key)
    assert entry.meta == {"kind": "tran", "note": "r/c"}
    # A second cache object on the same directory reads the same entry.
    assert_same(arrays, ResultCache(tmp_path).get(key))
    info = cache.info()
    assert (info["entries"], info["hits"], info["misses"]) == (1, 2, 1)
    assert info["total_bytes"] == os.path.getsize(cache.entry_path(key))


def test_get_or_compute_computes_once(tmp_path):
    cache = ResultCache(tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return {"y": np.arange(5.0) ** 2}

    key = key_of(cache, 0)
    first = cache.get_or_compute(key, compute)
    second = cache.get_or_compute(key, compute)
    assert len(calls) == 1
    assert_same(first, second)
    assert np.array_equal(second["y"], [0.0, 1.0, 4.0, 9.0, 16.0])


# ------------------------------------------------------------------ keys
BASE = dict(netlist_text=NETLIST, analysis="tran", engine="ngspice", engine_version="39",
            extra={"dt": 1e-6, "tags": ["a", "b"], "n": {"x": 1, "y": None}})
CHANGES = {
    "netlist_text": NETLIST.replace("1e-06", "2e-06"),
    "analysis": "ac",
    "engine": "native",
    "engine_version": "40",
    "extra": {"dt": 2e-6, "tags": ["a", "b"], "n": {"x": 1, "y": None}},
}


@pytest.mark.parametrize("part", sorted(CHANGES))
def test_key_changes_with_each_part(part):
    base = ResultCache.key(**BASE)
    changed = ResultCache.key(**{**BASE, part: CHANGES[part]})
    assert changed != base
    assert len(base) == 64 and int(base, 16) >= 0


def test_key_is_stable_under_reordering_and_equal_content():
    a = ResultCache.key(**BASE)
    reordered = {"n": {"y": None, "x": 1}, "tags": ["a", "b"], "dt": 1e-6}
    assert ResultCache.key(**{**BASE, "extra": reordered}) == a
    assert ResultCache.key(**{**BASE, "netlist_text": "".join(NETLIST)}) == a
    # None and {} for extra are the same content.
    assert ResultCache.key(NETLIST, "tran", "ngspice", "39") == \
        ResultCache.key(NETLIST, "tran", "ngspice", "39", extra={})
    # Known value: guards the key recipe (a change must bump KEY_VERSION knowingly).
    import hashlib
    doc = json.dumps({"analysis": "tran", "engine": "ngspice", "engine_version": "39",
                      "extra": {}, "key_version": 1, "netlist": NETLIST},
                     sort_keys=True, separators=(",", ":"))
    assert a != ResultCache.key(NETLIST, "tran", "ngspice", "39")
    assert ResultCache.key(NETLIST, "tran", "ngspice", "39") == \
        hashlib.sha256(doc.encode()).hexdigest()


@pytest.mark.parametrize("extra", [{"x": float("nan")}, {"x": np.int64(1)}, {1: "a"},
                                   {"x": object()}, {"x": [1, {2: 3}]}, "not a dict"])
def test_key_rejects_non_json_extra(extra):
    with pytest.raises(CacheKeyError, match="JSON"):
        ResultCache.key(NETLIST, "tran", "ngspice", "39", extra=extra)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "0" * 63, "g" * 64, 123])
def test_bad_keys_are_refused(tmp_path, bad):
    cache = ResultCache(tmp_path)
    with pytest.raises(CacheKeyError, match="sha256"):
        cache.get(bad)
    with pytest.raises(CacheKeyError):
        cache.put(bad, {"a": np.zeros(2)})


def test_bad_arrays_are_refused(tmp_path):
    cache = ResultCache(tmp_path)
    key = key_of(cache, 1)
    with pytest.raises(CacheKeyError, match="dtype"):
        cache.put(key, {"s": np.array(["a", "b"])})
    with pytest.raises(CacheKeyError, match="name"):
        cache.put(key, {"": np.zeros(1)})
    with pytest.raises(CacheKeyError, match="JSON"):
        cache.put(key, {"a": np.zeros(1)}, meta={"x": float("inf")})
    assert cache.keys() == []


# ------------------------------------------------------------------ configuration
def test_environment_sets_path_and_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIM_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("COSIM_CACHE_MAX_BYTES", "3MiB")
    cache = ResultCache()
    assert cache.path == tmp_path / "c" and cache.max_bytes == 3 * 1024**2
    assert default_cache().path == tmp_path / "c"
    monkeypatch.setenv("COSIM_CACHE_MAX_BYTES", "lots")
    with pytest.raises(ConfigError, match="COSIM_CACHE_MAX_BYTES"):
        ResultCache()
    monkeypatch.delenv("COSIM_CACHE")
    monkeypatch.delenv("COSIM_CACHE_MAX_BYTES")
    assert ResultCache().path == ResultCache(os.path.expanduser("~/.cache/cosim")).path
    assert ResultCache().max_bytes == 2 * 1024**3


@pytest.mark.parametrize("text,value", [("1024", 1024), ("2GiB", 2 * 1024**3),
                                        ("512M", 512 * 1024**2), ("1.5kB", 1500),
                                        ("1e6", 10**6), (4096, 4096)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["0", "-5", "5 parsecs", "", "nan"])
def test_parse_size_rejects(text):
    with pytest.raises(ConfigError):
        parse_size(text)


# ------------------------------------------------------------------ integrity
def _flip_byte(path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def _data_offset(path, index: int) -> int:
    with h5py.File(path, "r", locking=False) as f:
        ds = f[f"d{index}"]
        offset = ds.id.get_offset()
        assert offset is not None and ds.id.get_storage_size() > 8
        return offset


def _corrupt_data(path):
    names = sorted(sample_arrays())
    _flip_byte(path, _data_offset(path, names.index("out")) + 5)


def _corrupt_checksum_attr(path):
    raw = path.read_bytes()
    with h5py.File(path, "r", locking=False) as f:
        stored = f.attrs["checksum"].encode()
    at = raw.index(stored)
    _flip_byte(path, at + 10)


def _corrupt_header(path):
    _flip_byte(path, 0)  # the HDF5 signature


def _truncate(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


@pytest.mark.parametrize("damage", [_corrupt_data, _corrupt_checksum_attr, _corrupt_header,
                                    _truncate])
def test_corrupt_entry_is_detected_removed_and_recomputed(tmp_path, damage):
    cache = ResultCache(tmp_path)
    arrays = sample_arrays(3)
    key = key_of(cache, 3)
    path = cache.put(key, arrays)
    damage(path)
    with pytest.warns(CacheCorruptWarning, match=key) as rec:
        assert cache.get(key) is None
    assert issubclass(rec[0].category, CosimWarning)
    assert not path.exists()
    assert cache.info()["corrupt"] == 1

    calls = []

    def compute():
        calls.append(1)
        return sample_arrays(3)

    assert_same(arrays, cache.get_or_compute(key, compute))
    assert calls == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(arrays, cache.get(key))  # the new entry is good


def test_flipped_data_byte_changes_the_values_h5py_reads(tmp_path):
    """The data flip really lands in the array (so only the checksum can catch it)."""
    cache = ResultCache(tmp_path)
    arrays = sample_arrays(4)
    path = cache.put(key_of(cache, 4), arrays)
    _corrupt_data(path)
    with h5py.File(path, "r", locking=False) as f:
        names = json.loads(f.attrs["names"])
        read = f[f"d{names.index('out')}"][()]
    assert read.shape == arrays["out"].shape
    assert np.sum(read != arrays["out"]) == 1


def test_verify_reports_and_removes_corrupt_entries(tmp_path):
    cache = ResultCache(tmp_path)
    paths = [cache.put(key_of(cache, i), sample_arrays(i)) for i in range(3)]
    _corrupt_data(paths[1])
    with pytest.warns(CacheCorruptWarning):
        report = cache.verify()
    assert report == {"valid": 2, "corrupt": [key_of(cache, 1)]}
    assert sorted(cache.keys()) == sorted([key_of(cache, 0), key_of(cache, 2)])


def test_entry_under_wrong_name_is_corrupt(tmp_path):
    cache = ResultCache(tmp_path)
    a, b = key_of(cache, 5), key_of(cache, 6)
    path_a = cache.put(a, sample_arrays(5))
    target = cache.entry_path(b)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path_a, target)
    with pytest.warns(CacheCorruptWarning, match="key"):
        assert cache.get(b) is None


# ------------------------------------------------------------------ size limit and LRU
def test_lru_evicts_least_recently_read(tmp_path):
    probe = ResultCache(tmp_path / "probe")
    entry_bytes = probe.put(key_of(probe, 0), {"y": np.zeros(10_000)}).stat().st_size
    cache = ResultCache(tmp_path / "c", max_bytes=int(3.5 * entry_bytes))
    k = [key_of(cache, i) for i in range(6)]

    def put(i):
        cache.put(k[i], {"y": np.full(10_000, float(i))})

    put(0), put(1), put(2)
    assert cache.get(k[0]) is not None        # 0 is now more recent than 1 and 2
    put(3)                                    # over the limit: 1 is least recently used
    assert set(cache.keys()) == {k[0], k[2], k[3]}
    assert cache.get(k[2]) is not None        # order of use now: 0, 3, 2
    put(4)
    assert set(cache.keys()) == {k[2], k[3], k[4]}
    assert cache.info()["evicted"] == 2
    assert cache.info()["total_bytes"] <= cache.max_bytes
    # evict() after lowering the limit keeps the most recent entry.
    cache.max_bytes = int(1.5 * entry_bytes)
    assert cache.evict() == 2
    assert cache.keys() == [k[4]]
    assert np.array_equal(cache.get(k[4])["y"], np.full(10_000, 4.0))


def test_entry_larger_than_limit(tmp_path):
    cache = ResultCache(tmp_path, max_bytes=4096)
    key = key_of(cache, 7)
    with pytest.raises(CacheError, match="max_bytes"):
        cache.put(key, {"y": np.zeros(10_000)})
    assert cache.info()["entries"] == 0 and cache.info()["temp_files"] == 0
    with pytest.warns(CacheWarning, match="not cached"):
        got = cache.get_or_compute(key, lambda: {"y": np.ones(10_000)})
    assert np.array_equal(got["y"], np.ones(10_000))


def test_clear(tmp_path):
    cache = ResultCache(tmp_path)
    for i in range(4):
        cache.put(key_of(cache, i), {"y": np.arange(i + 1.0)})
    assert cache.clear() == 4
    assert cache.info()["entries"] == 0 and cache.get(key_of(cache, 0)) is None
    assert ResultCache(tmp_path / "never-made").clear() == 0
    assert not (tmp_path / "never-made").exists()


# ------------------------------------------------------------------ CLI
def test_cli_info_verify_clear(tmp_path, capsys, monkeypatch):
    from cosim.cli.main import main

    cache = ResultCache(tmp_path)
    for i in range(3):
        cache.put(key_of(cache, i), sample_arrays(i))
    total = cache.info()["total_bytes"]

    assert main(["cache", "info", "--json", "--path", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["entries"] == 3 and out["total_bytes"] == total and out["path"] == str(tmp_path)

    monkeypatch.setenv("COSIM_CACHE", str(tmp_path))
    assert main(["cache", "info"]) == 0
    assert "entries         : 3" in capsys.readouterr().out

    _corrupt_data(cache.entry_path(key_of(cache, 2)))
    assert main(["cache", "verify", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"valid": 2, "corrupt": [key_of(cache, 2)]}

    with open(os.devnull) as devnull:
        monkeypatch.setattr("sys.stdin", devnull)
        assert main(["cache", "clear"]) == 2      # no terminal and no --yes: refuse
    assert cache.info()["entries"] == 2
    assert main(["cache", "clear", "--yes"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert cache.info()["entries"] == 0


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, cosim.store; "
            "print(sorted(m for m in ('h5py', 'PySpice', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
