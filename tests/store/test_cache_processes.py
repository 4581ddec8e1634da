"""The result cache under several real processes: concurrent writers and a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np

from cosim.store import ResultCache

FILLER = textwrap.dedent("""
    import os, sys, time, warnings
    import numpy as np
    from cosim.store import ResultCache
    warnings.simplefilter("error")          # a corrupt-entry warning fails this process
    root, start, stop, go, max_bytes = sys.argv[1:6]
    cache = ResultCache(root, max_bytes=int(max_bytes))
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(int(start), int(stop)):
        key = cache.key(f"* net {i}", analysis="op", engine_version="39")
        arrays = {"v": np.arange(2000.0) * i, "z#c": np.full(3, i + 1j)}
        cache.put(key, arrays, meta={"i": i})
        got = cache.get(key)               # None only if already evicted by the other
        if got is not None and not np.array_equal(got["v"], arrays["v"]):
            sys.exit(f"entry {i} read back wrong")
    print("done", flush=True)
""")

BIG_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from cosim.store import ResultCache
    root, start = sys.argv[1], int(sys.argv[2])
    cache = ResultCache(root, max_bytes=2**40)
    base = np.arange(1_000_000, dtype=np.float64)       # 8 MB per entry
    i = start
    while True:
        cache.put(cache.key(f"* big {i}", analysis="tran"), {"x": base + i}, meta={"i": i})
        print(i, flush=True)
        i += 1
""")


def expected(i: int) -> dict[str, np.ndarray]:
    return {"v": np.arange(2000.0) * i, "z#c": np.full(3, i + 1j)}


def fill_concurrently(root, ranges, max_bytes, tmp_path):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", FILLER, str(root), str(a), str(b),
                               str(go), str(max_bytes)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for a, b in ranges]
    time.sleep(0.5)   # let both import and wait at the start line
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "done"


def test_two_processes_fill_one_cache_and_lose_nothing(tmp_path):
    root = tmp_path / "cache"
    fill_concurrently(root, [(0, 80), (40, 120)], 2**40, tmp_path)
    cache = ResultCache(root)
    keys = {cache.key(f"* net {i}", analysis="op", engine_version="39"): i
            for i in range(120)}
    assert set(cache.keys()) == set(keys)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for key, i in keys.items():
            entry = cache.get_entry(key)
            assert entry.meta == {"i": i}
            for name, arr in expected(i).items():
                assert np.array_equal(entry.arrays[name], arr)
                assert entry.arrays[name].dtype == arr.dtype
    info = cache.info()
    assert info["entries"] == 120 and info["temp_files"] == 0


def test_two_processes_with_eviction_leave_a_valid_cache(tmp_path):
    probe = ResultCache(tmp_path / "probe")
    size = probe.put(probe.key("x"), expected(1)).stat().st_size
    root = tmp_path / "cache"
    max_bytes = 25 * size
    fill_concurrently(root, [(0, 80), (40, 120)], max_bytes, tmp_path)
    cache = ResultCache(root, max_bytes=max_bytes)
    cache.evict()
    info = cache.info()
    assert 0 < info["entries"] <= 25 and info["total_bytes"] <= max_bytes
    assert info["temp_files"] == 0
    assert cache.verify() == {"valid": info["entries"], "corrupt": []}
    # What survived is what was written: meta and arrays agree with the key.
    for key in cache.keys():
        entry = cache.get_entry(key)
        i = entry.meta["i"]
        assert key == cache.key(f"* net {i}", analysis="op", engine_version="39")
        assert np.array_equal(entry.arrays["v"], expected(i)["v"])


def _temp_files(root):
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names
            if n.startswith(".tmp-")]


def _check_entries_complete(cache: ResultCache) -> int:
    base = np.arange(1_000_000, dtype=np.float64)
    keys = cache.keys()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no entry may be partial
        for key in keys:
            entry = cache.get_entry(key)
            assert entry is not None
            assert key == cache.key(f"* big {entry.meta['i']}", analysis="tran")
            assert np.array_equal(entry.arrays["x"], base + entry.meta["i"])
    return len(keys)


def test_writer_killed_mid_write_leaves_a_readable_cache(tmp_path):
    root = tmp_path / "cache"
    cache = ResultCache(root, max_bytes=2**40)
    leftovers = 0
    start = 0
    for attempt in range(5):    # until a kill lands while a temporary file exists
        p = subprocess.Popen([sys.executable, "-c", BIG_WRITER, str(root), str(start)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # Time two writes, then kill half-way through the third: mid-write whatever
            # the writer does, so a non-atomic writer would leave a partial entry.
            stamps = []
            for j in range(3):
                line = p.stdout.readline().strip()
                assert line == str(start + j), p.stderr.read()
                stamps.append(time.monotonic())
            time.sleep((stamps[2] - stamps[1]) / 2)
            os.kill(p.pid, signal.SIGKILL)
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        assert p.returncode == -signal.SIGKILL
        start += 1000
        assert _check_entries_complete(cache) >= 3 * (attempt + 1)
        leftovers = len(_temp_files(root))
        if leftovers:
            break
    assert leftovers > 0, "no kill landed mid-write in 5 attempts"

    info = cache.info()
    assert info["temp_files"] == leftovers and info["stale_temp_files"] == leftovers
    n = info["entries"]
    assert cache.clear() == n
    after = cache.info()
    assert after["entries"] == 0 and after["temp_files"] == 0
