"""The sweep result file (HDF5): one row per point, written as points complete.

Layout::

    /                      attrs: format, task, kind, identity (canonical JSON), spec_text,
                                  swept_keys (JSON), description
    /points/key            (n,) str   sha256 of the point's coordinates
    /points/index          (n,) int64 position in the spec's enumeration
    /points/seed           (n,) int64 the point's seed
    /points/status         (n,) str   "pending" | "ok" | "failed"
    /points/error          (n,) str   error text of a failed point ("" otherwise)
    /points/duration_s     (n,) float wall time of the last attempt (s), NaN if none
    /points/attempts       (n,) int64 how many times the point was executed
    /points/coords/<key>   (n,) float64, int64, bool or str: the swept coordinate
    /results/<name>        (n, *shape) float64, NaN where a point has no result

Only the process that runs the sweep writes (the parent, never the workers).  A row is
written in one call (:meth:`SweepFile.record`): results first, the status last, then
the file is flushed; so a point counts as done only once everything of it is on disk.
All datasets are resizable along the first axis: a spec with more points (a longer grid)
appends rows to the same file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from cosim.errors import CosimError, FileAccessError
from cosim.paths import describe_os_error, user_path
from cosim.sweep.spec import Point, SweepSpec

FORMAT = "cosim-sweep-1"
STATUSES = ("pending", "ok", "failed")
_STR = h5py.string_dtype("utf-8")


class SweepFileError(CosimError):
    """A sweep file cannot be used (wrong format, or made by a different spec)."""


def _open_h5(path: Path, mode: str, fix: str) -> h5py.File:
    """``h5py.File(path, mode)`` with every failure as one message naming the path."""
    if path.is_dir():
        raise FileAccessError(f"sweep result file {path}: is a directory; {fix}")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise FileAccessError(
                f"sweep result file {path}: is open for writing by another process (HDF5 "
                f"file lock); wait until that sweep has finished, or read a copy of the "
                f"file") from None
        if "signature" in text:
            raise SweepFileError(f"{path} is not an HDF5 file; {fix}") from None
        raise FileAccessError(f"sweep result file {path}: {describe_os_error(exc)}; "
                              f"{fix}") from None


def _coord_dtype(values: list[Any]):
    if all(isinstance(v, bool) for v in values):
        return np.bool_
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.int64
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.float64
    return _STR


def _coord_value(v: Any, dtype) -> Any:
    if dtype is _STR:
        return v if isinstance(v, str) else json.dumps(v)
    return v


class SweepFile:
    """Open (or create) the result file of a sweep.

    Parameters
    ----------
    path : str or Path
    spec : SweepSpec, optional
        Creates the file, or checks that an existing one was made by a spec of the same
        identity (task, base values, seeds, distributions) and appends rows for points it
        does not hold yet.  Without a spec the file is opened read-only.
    """

    def __init__(self, path: str | Path, spec: SweepSpec | None = None) -> None:
        self.path = Path(path)
        self.spec = spec
        if spec is None:
            if not self.path.exists():
                raise FileNotFoundError(f"sweep file {self.path} does not exist")
            self.h5 = _open_h5(self.path, "r", "give the path of a sweep result file")
            self._check_format()
        else:
            fix = "give a writable result file with --out or sweep.out (e.g. sweep.h5)"
            with user_path(self.path, "sweep result file", fix):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self.h5 = _open_h5(self.path, "a", fix)
            try:
                if new or "points" not in self.h5:
                    self._create(spec)
                else:
                    self._check_format()
                    self._check_identity(spec)
                self._add_points(spec.points())
            except BaseException:
                self.h5.close()
                raise

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()

    def __enter__(self) -> SweepFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_format(self) -> None:
        fmt = self.h5.attrs.get("format")
        if fmt != FORMAT or "points" not in self.h5:
            self.close()
            raise SweepFileError(f"{self.path} is not a sweep file (format {fmt!r}, "
                                 f"expected {FORMAT!r})")

    def _check_identity(self, spec: SweepSpec) -> None:
        stored = self.h5.attrs["identity"]
        if stored != spec.identity():
            raise SweepFileError(
                f"{self.path} holds a sweep with another task, base values, seeds or "
                f"distributions (stored {stored}, this spec {spec.identity()}); write to a "
                f"new file (--out) or restore the spec")
        stored_keys = json.loads(self.h5.attrs["swept_keys"])
        if stored_keys != list(spec.swept_keys):
            raise SweepFileError(f"{self.path} sweeps {stored_keys}, this spec sweeps "
                                 f"{list(spec.swept_keys)}; write to a new file (--out)")

    def _create(self, spec: SweepSpec) -> None:
        h = self.h5
        h.attrs["format"] = FORMAT
        h.attrs["task"] = spec.task
        h.attrs["kind"] = spec.kind
        h.attrs["identity"] = spec.identity()
        h.attrs["spec_text"] = spec.text
        h.attrs["description"] = spec.description
        h.attrs["swept_keys"] = json.dumps(list(spec.swept_keys))
        pts = h.create_group("points")
        for name, dtype in (("key", _STR), ("status", _STR), ("error", _STR),
                            ("index", np.int64), ("seed", np.int64),
                            ("duration_s", np.float64), ("attempts", np.int64)):
            pts.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=True)
        coords = pts.create_group("coords")
        all_points = spec.points()
        for k in spec.swept_keys:
            dtype = _coord_dtype([p.coords[k] for p in all_points])
            coords.create_dataset(k, shape=(0,), maxshape=(None,), dtype=dtype, chunks=True)
        h.create_group("results")

    def _add_points(self, points: list[Point]) -> None:
        have = set(self.keys())
        new = [p for p in points if p.key not in have]
        self._row = {k: i for i, k in enumerate(self.keys())}
        if not new:
            return
        pts = self.h5["points"]
        n0 = pts["key"].shape[0]
        n1 = n0 + len(new)
        for ds in self._row_datasets():
            ds.resize((n1,) + ds.shape[1:])
        pts["key"][n0:n1] = [p.key for p in new]
        pts["status"][n0:n1] = ["pending"] * len(new)
        pts["error"][n0:n1] = [""] * len(new)
        pts["index"][n0:n1] = [p.index for p in new]
        pts["seed"][n0:n1] = [p.seed for p in new]
        pts["duration_s"][n0:n1] = np.nan
        pts["attempts"][n0:n1] = 0
        for k, ds in pts["coords"].items():
            vals = [_coord_value(p.coords[k], ds.dtype if ds.dtype.kind != "O" else _STR)
                    for p in new]
            try:
                ds[n0:n1] = vals
            except (TypeError, ValueError) as exc:
                raise SweepFileError(f"{self.path}: coordinate {k!r} values {vals} do not fit "
                                     f"the stored type {ds.dtype}; write to a new file") from exc
        for ds in self.h5["results"].values():
            ds[n0:n1] = np.nan
        for i, p in enumerate(new):
            self._row[p.key] = n0 + i
        self.h5.flush()

    def _row_datasets(self):
        pts = self.h5["points"]
        out = [pts[n] for n in ("key", "status", "error", "index", "seed", "duration_s",
                                "attempts")]
        out += list(pts["coords"].values())
        out += list(self.h5["results"].values())
        return out

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return int(self.h5["points/key"].shape[0])

    def keys(self) -> list[str]:
        return [k.decode() if isinstance(k, bytes) else k
                for k in self.h5["points/key"][()].tolist()]

    def status(self) -> list[str]:
        return [s.decode() if isinstance(s, bytes) else s
                for s in self.h5["points/status"][()].tolist()]

    def errors(self) -> list[str]:
        return [s.decode() if isinstance(s, bytes) else s
                for s in self.h5["points/error"][()].tolist()]

    def status_of(self, key: str) -> str:
        return self.status()[self._row[key]]

    def coords(self) -> dict[str, np.ndarray]:
        """Swept coordinates by key (strings decoded), in row order."""
        out = {}
        for k in json.loads(self.h5.attrs["swept_keys"]):
            v = self.h5["points/coords"][k][()]
            if v.dtype.kind in "OS":
                v = np.array([x.decode() if isinstance(x, bytes) else x for x in v],
                             dtype=object)
            out[k] = v
        return out

    def results(self) -> dict[str, np.ndarray]:
        """Result arrays by name, aligned with the rows (NaN where missing)."""
        return {k: ds[()] for k, ds in sorted(self.h5["results"].items())}

    def column(self, name: str) -> np.ndarray:
        """A /points dataset by name (strings decoded)."""
        v = self.h5["points"][name][()]
        if v.dtype.kind in "OS":
            v = np.array([x.decode() if isinstance(x, bytes) else x for x in v], dtype=object)
        return v

    @property
    def task(self) -> str:
        return str(self.h5.attrs["task"])

    @property
    def swept_keys(self) -> list[str]:
        return json.loads(self.h5.attrs["swept_keys"])

    @property
    def spec_text(self) -> str:
        return str(self.h5.attrs["spec_text"])

    def summary(self) -> dict[str, Any]:
        """Counts by status, task, swept keys and result names."""
        st = self.status()
        return {"path": str(self.path), "task": self.task, "kind": str(self.h5.attrs["kind"]),
                "points": len(st), **{s: st.count(s) for s in STATUSES},
                "swept_keys": self.swept_keys, "results": sorted(self.h5["results"]),
                "total_attempts": int(np.sum(self.h5["points/attempts"][()])),
                "compute_time_s": float(np.nansum(self.h5["points/duration_s"][()]))}

    # ------------------------------------------------------------------ writing
    def record(self, key: str, status: str, *, results: dict[str, Any] | None = None,
               error: str = "", duration_s: float = math.nan) -> None:
        """Write one point's outcome (results, then status last) and flush."""
        if status not in ("ok", "failed"):
            raise ValueError(f"status={status!r}: record 'ok' or 'failed'")
        row = self._row[key]
        h = self.h5
        n = len(self)
        if results:
            arrays = {k: np.asarray(v, dtype=np.float64) for k, v in results.items()}
            grp = h["results"]
            for k, a in arrays.items():
                if k in grp and grp[k].shape[1:] != a.shape:
                    raise SweepFileError(f"result {k!r} of point {key[:12]} has shape "
                                         f"{a.shape}; earlier points gave {grp[k].shape[1:]}")
            for k, a in arrays.items():
                if k not in grp:
                    ds = grp.create_dataset(k, shape=(n,) + a.shape,
                                            maxshape=(None,) + a.shape, dtype=np.float64,
                                            chunks=True, fillvalue=np.nan)
                    ds[...] = np.nan
                grp[k][row] = a
        elif status == "failed":
            for ds in h["results"].values():
                ds[row] = np.nan
        pts = h["points"]
        pts["error"][row] = error
        pts["duration_s"][row] = duration_s
        pts["attempts"][row] = int(pts["attempts"][row]) + 1
        pts["status"][row] = status
        h.flush()
