"""The run store: one HDF5 file per training run.

Layout::

    /                      attrs: format="cosim-run", format_version, created, status,
                           cosim_version, last_step, last_epoch
    /config                canonical JSON of the RunConfig (str dataset; attrs: source
                           text of the TOML file, overrides as JSON); a run of a
                           PyTorch model (cosim.torch) stores its own description
                           there, with model.name = "torch"
    /metrics/step/         step, epoch, loss, train_acc, time_s      (resizable columns)
    /metrics/epoch/        epoch, train_loss, train_acc, test_acc, time_s
    /design                 JSON record of the resolved design (cosim.design.Design.record:
                           name, overrides, full text and sha256 of the design card and of
                           every role's card); absent in files written before designs
/design_changes/        step, changes: a resume that accepted a changed design
                           (``--allow-design-change``), with the values that changed
/checkpoints/latest    attrs: step, epoch, time_s, has_backend, checksums="sha256",
                           header_sha256; groups trainer/, backend/ and evaluation/,
                           each with its arrays under their names
                           (arrays/store/conv1/W, ...; attr key, sha256), attrs layout
                           ="named", keys (JSON list of names), meta (JSON text: RNG
                           states hold 128-bit integers) and meta_sha256.  Files written
                           before named arrays hold datasets a0, a1, ... in key order
                           (no layout attribute) and still read and resume
    /signals/<layer>/<step>/<name>   sampled signals (optical powers W, currents A,
                                     voltages V, ADC codes)
    /netlists/<sha256>     netlist texts, each once: templates of circuit records, and
                           netlists carrying their own stimulus (spot checks, spice runs)
    /netlist_index/        layer, phase, step (global training step, 1-based), tile,
                           sha256, record (path of the circuit record, or ""; absent in
                           files written before records existed)
    /circuit_records/<layer>/<phase>/<step>/<tile>/{stimulus,outputs}/<name>
                           a product's stimulus and recorded outputs (SI arrays); attrs
                           kind, tolerance, template_sha256 (cosim.hw.records)
    /spot_checks/          layer, phase, step, max_abs_error, rel_error, netlist_sha256
                           (noise_std_ratio: twin/spice noise std, when checked)
    /hardware_stats/       epoch, step, layer, phase, products, samples, saturated_tia,
                           clipped_adc, below_noise_floor, saturated_weights, pulses
                           (counts since the previous row of the same layer and
                           phase; ``pulses``: weight programming pulses, phase update,
                           absent from files written before it was counted);
                           retunes, calibration_iterations, calibration_residual (max),
                           heater_power_w, link_power_w (sums over the retunes, W):
                           the weight loads (cosim.hw.stats; absent from older files)
    /product_errors/       layer, phase, step, rel_rms_error: at probe steps, each
                           hardware product against the exact float product of the
                           same operands, ||Y_hw - U A^T|| / ||U A^T||

Atomicity: the file on disk is only ever replaced whole.  :meth:`RunFile.commit` copies
the current file to a temporary file beside it, appends the pending rows and the new
checkpoint there, flushes it to disk and ``os.replace``-s it over the run file.  A
process killed at any moment therefore leaves either the previous or the new complete
file (plus, at worst, a stale temporary file that the next commit removes), never a
half-written one.  Everything between two commits lives in a :class:`PendingWrites`
buffer, so the file always describes the run exactly up to its latest checkpoint.

Integrity: every checkpoint array carries the sha256 of its key, dtype, shape and bytes
(attribute ``sha256``), computed from the array in memory when it is written; the
``keys``/``meta`` attributes of each state group and the step, epoch, time and
has_backend attributes of the checkpoint carry one too.  :meth:`RunFile.checkpoint`
recomputes them and raises :class:`CheckpointIntegrityError` naming the first dataset
that differs, so a run never resumes from a silently altered state.  A checkpoint
written before checksums existed (no ``checksums`` attribute) is read unchecked;
:meth:`RunFile.verify_checkpoint` tells the three cases apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cosim.errors import CosimError, FileAccessError
from cosim.paths import describe_os_error, user_path
from cosim.store.fsutil import pid_alive, sync_replace

FORMAT = "cosim-run"
FORMAT_VERSION = 1


class RunFileError(CosimError):
    """A run file is missing, not a run file, or lacks what was asked for."""


class CheckpointIntegrityError(RunFileError):
    """A checkpoint's data does not match the checksum written with it (the file was
    altered or damaged after the commit)."""


CHECKSUM_ALGORITHM = "sha256"
"""Marker stored as ``checksums`` on a checkpoint written with checksums."""
CHECKPOINT_PATH = "checkpoints/latest"


_STR = "str"
STEP_COLUMNS = {"step": np.int64, "epoch": np.int64, "loss": np.float64,
                "train_acc": np.float64, "time_s": np.float64}
EPOCH_COLUMNS = {"epoch": np.int64, "train_loss": np.float64, "train_acc": np.float64,
                 "test_acc": np.float64, "time_s": np.float64, "val_acc": np.float64}
SPOT_CHECK_COLUMNS = {"layer": _STR, "phase": _STR, "step": np.int64,
                      "max_abs_error": np.float64, "rel_error": np.float64,
                      "netlist_sha256": _STR, "noise_std_ratio": np.float64}
NETLIST_INDEX_COLUMNS = {"layer": _STR, "phase": _STR, "step": np.int64, "tile": _STR,
                         "sha256": _STR, "record": _STR}
STATS_COLUMNS = {"epoch": np.int64, "step": np.int64, "layer": _STR, "phase": _STR,
                 "products": np.int64, "samples": np.int64, "saturated_tia": np.int64,
                 "clipped_adc": np.int64, "below_noise_floor": np.int64,
                 "saturated_weights": np.int64, "pulses": np.int64, "retunes": np.int64,
                 "calibration_iterations": np.int64, "calibration_residual": np.float64,
                 "heater_power_w": np.float64, "link_power_w": np.float64}
#: hardware_stats columns of the weight loads (retunes), absent from older run files
RETUNE_COLUMNS = ("retunes", "calibration_iterations", "calibration_residual",
                  "heater_power_w", "link_power_w")
PRODUCT_ERROR_COLUMNS = {"layer": _STR, "phase": _STR, "step": np.int64,
                         "rel_rms_error": np.float64}
TABLES = {"metrics/step": STEP_COLUMNS, "metrics/epoch": EPOCH_COLUMNS,
          "spot_checks": SPOT_CHECK_COLUMNS, "netlist_index": NETLIST_INDEX_COLUMNS,
          "hardware_stats": STATS_COLUMNS, "product_errors": PRODUCT_ERROR_COLUMNS,
          "design_changes": {"step": np.int64, "changes": _STR}}
"""Table path -> {column: dtype} of every resizable table in a run file."""

OPTIONAL_COLUMNS = {"metrics/epoch": frozenset({"val_acc"}),
                    "netlist_index": frozenset({"record"}),
                    "hardware_stats": frozenset({"pulses", *RETUNE_COLUMNS}),
                    "spot_checks": frozenset({"noise_std_ratio"})}
"""Columns a run writes only when it has them (``val_acc``: runs with a validation
split; ``record``: files written since circuit records exist; ``noise_std_ratio``: runs
whose photonic tile checks its noise in ngspice, cosim.hw.noise_check); a run writes
such a column in every row or in none (a file that lacks it gets it filled with empty
values for its earlier rows when it is first written, e.g. on a resume)."""

RECORDS_GROUP = "circuit_records"


def _h5py():
    import h5py

    return h5py


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def dumps(obj) -> str:
    """JSON text for run-file attributes (numpy scalars converted, big ints exact)."""
    return json.dumps(obj, default=_json_default, sort_keys=True)


@dataclass
class PendingWrites:
    """Rows and data gathered since the last commit (written by :meth:`RunFile.commit`)."""

    tables: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k in TABLES})
    netlists: dict[str, str] = field(default_factory=dict)
    signals: list[tuple[str, int, dict[str, np.ndarray]]] = field(default_factory=list)
    #: record path -> (template sha256, record: an object with ``kind``, ``tolerance``,
    #: ``stimulus`` and ``outputs``, as :class:`cosim.hw.records.CircuitRecord`)
    records: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        """Append one row to ``table`` (a key of :data:`TABLES`)."""
        self.tables[table].append(row)

    def add_record(self, layer: str, phase: str, step: int, tile: str, sha256: str,
                   record) -> None:
        """A tile circuit with its stimulus: the template text (``record.template``,
        stored once under ``sha256``), an index row, and the record's arrays under
        ``/circuit_records/<layer>/<phase>/<step>/<tile>``."""
        path = record_path(layer, phase, step, tile)
        self.netlists[sha256] = record.template
        self.add("netlist_index", {"layer": layer, "phase": phase, "step": int(step),
                                   "tile": tile, "sha256": sha256, "record": path})
        self.records[path] = (sha256, record)

    def clear(self) -> None:
        """Forget everything (after a commit)."""
        for rows in self.tables.values():
            rows.clear()
        self.netlists.clear()
        self.signals.clear()
        self.records.clear()


def record_path(layer: str, phase: str, step: int, tile: str) -> str:
    """Where a circuit record's arrays are stored in a run file."""
    return f"{RECORDS_GROUP}/{layer}/{phase}/{int(step)}/{tile}"


def _write_record(f, path: str, sha256: str, record) -> None:
    if path in f:
        del f[path]
    g = f.create_group(path)
    g.attrs["kind"] = str(record.kind)
    g.attrs["tolerance"] = float(record.tolerance)
    g.attrs["template_sha256"] = sha256
    for part in ("stimulus", "outputs"):
        sub = g.create_group(part)
        for name, arr in getattr(record, part).items():
            a = np.asarray(arr)
            big = a.size >= 512        # (conductance maps: compressed, exactly)
            sub.create_dataset(name, data=a, **({"compression": "gzip", "shuffle": True}
                                                if big else {}))


@dataclass
class Checkpoint:
    """The state to resume from: trainer and backend states at ``step`` (steps done)."""

    step: int
    epoch: int
    trainer: dict[str, Any]
    backend: dict[str, Any] | None = None
    time_s: float = 0.0
    #: The backend state just before the test-set evaluation of the epoch that ended at
    #: ``step`` (epoch-end checkpoints only), so ``cosim eval`` repeats it exactly.
    evaluation: dict[str, Any] | None = None


def array_checksum(key: str, array) -> str:
    """sha256 hex over a checkpoint array's key, dtype, shape and bytes.

    The dtype is taken in native byte order and the bytes in C order, so the value does
    not depend on how HDF5 stored the array.
    """
    a = np.asarray(array)
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    h = hashlib.sha256()
    for chunk in (json.dumps([key, a.dtype.str, list(a.shape)]).encode(), a.tobytes()):
        h.update(len(chunk).to_bytes(8, "little"))
        h.update(chunk)
    return h.hexdigest()


def _text_checksum(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        b = part.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _header_checksum(g) -> str:
    """sha256 of a checkpoint group's step, epoch, time_s and has_backend attributes."""
    return _text_checksum(dumps([int(g.attrs["step"]), int(g.attrs["epoch"]),
                                 float(g.attrs["time_s"]), bool(g.attrs["has_backend"])]))


def _array_path(key: str) -> str:
    """Dataset path of a state array named ``key`` (``"store/conv1/W"`` ->
    ``"arrays/store/conv1/W"``; a name part that is empty or a dot is spelled out)."""
    parts = [p if p not in ("", ".", "..") else f"_{len(p)}" for p in key.split("/")]
    return "arrays/" + "/".join(parts)


def _write_state(group, state: dict[str, Any]) -> None:
    """Arrays under their names (``arrays/<name>``, layout ``"named"``), the key list
    and the JSON meta as attributes, each with its sha256 (module docstring)."""
    arrays = state.get("arrays", {}) if state else {}
    keys = sorted(arrays)
    paths = [_array_path(k) for k in keys]
    clash = {p for p in paths if any(q.startswith(p + "/") for q in paths)}
    for key, path in zip(keys, paths, strict=True):
        data = np.asarray(arrays[key])
        if path in clash:        # a name that is also a prefix of another: by index
            path = f"indexed/{keys.index(key)}"
        ds = group.create_dataset(path, data=data)
        ds.attrs["key"] = key
        ds.attrs["sha256"] = array_checksum(key, data)
    group.attrs["layout"] = "named"
    group.attrs["keys"] = json.dumps(keys)
    group.attrs["meta"] = dumps(state.get("meta", {}) if state else {})
    group.attrs["meta_sha256"] = _text_checksum(group.attrs["keys"], group.attrs["meta"])


def _read_state(group, problems: list[str] | None = None) -> dict[str, Any]:
    """Arrays and meta of a state group; with ``problems`` given (a checkpoint written
    with checksums), each mismatch is appended to it as a description."""
    keys = json.loads(group.attrs["keys"])
    arrays = {}
    if problems is not None and group.attrs.get("meta_sha256") != _text_checksum(
            str(group.attrs["keys"]), str(group.attrs["meta"])):
        problems.append(f"attributes keys/meta of {group.name} do not match their "
                        f"sha256 checksum")
    named = group.attrs.get("layout") == "named"
    for i, key in enumerate(keys):
        if named:
            ds = group.get(_array_path(key))
            if ds is None or not hasattr(ds, "shape"):   # a group: stored by index
                ds = group[f"indexed/{i}"]
        else:                    # files written before arrays were stored by name
            ds = group[f"a{i}"]
        arrays[key] = ds[()] if ds.shape == () else ds[...]
        if problems is not None:
            stored = ds.attrs.get("sha256")
            if stored is None:
                problems.append(f"dataset {ds.name} ({key}) has no sha256 checksum")
            elif stored != array_checksum(key, arrays[key]):
                problems.append(f"dataset {ds.name} ({key}) does not match its sha256 "
                                f"checksum")
    return {"arrays": arrays, "meta": json.loads(group.attrs["meta"])}


@dataclass(frozen=True)
class CheckpointCheck:
    """Outcome of :meth:`RunFile.verify_checkpoint`.

    Attributes
    ----------
    status : {"ok", "corrupt", "no_checksums", "no_checkpoint"}
        ``no_checksums``: written before checkpoints carried checksums (older file).
    arrays : int
        Checkpoint arrays in the file.
    problems : tuple of str
        One description per mismatch, naming the dataset (empty unless corrupt).
    """

    status: Literal["ok", "corrupt", "no_checksums", "no_checkpoint"]
    arrays: int = 0
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for ``cosim runs show``."""
        if self.status == "ok":
            return f"{self.arrays} arrays match their sha256 checksums"
        if self.status == "no_checksums":
            return "no checksums (older file)"
        if self.status == "no_checkpoint":
            return "no checkpoint yet"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"CORRUPT: {self.problems[0]}{more}"


def _read_checkpoint(f) -> tuple[Checkpoint | None, CheckpointCheck]:
    if CHECKPOINT_PATH not in f:
        return None, CheckpointCheck("no_checkpoint")
    g = f[CHECKPOINT_PATH]
    # either marker means the checkpoint was written with checksums
    checked = "checksums" in g.attrs or "header_sha256" in g.attrs
    problems: list[str] | None = [] if checked else None
    if checked and g.attrs.get("header_sha256") != _header_checksum(g):
        problems.append(f"attributes step/epoch/time_s/has_backend of {g.name} do not "
                        f"match their sha256 checksum")
    try:
        trainer = _read_state(g["trainer"], problems)
        backend = _read_state(g["backend"], problems) if g.attrs["has_backend"] else None
        evaluation = _read_state(g["evaluation"], problems) if "evaluation" in g else None
    except (KeyError, ValueError) as exc:   # a missing dataset or attribute, bad JSON
        return None, CheckpointCheck("corrupt", 0, (f"{g.name} is unreadable ({exc})",))
    n = len(trainer["arrays"]) + (len(backend["arrays"]) if backend else 0)
    ck = Checkpoint(step=int(g.attrs["step"]), epoch=int(g.attrs["epoch"]), trainer=trainer,
                    backend=backend, time_s=float(g.attrs["time_s"]), evaluation=evaluation)
    if not checked:
        return ck, CheckpointCheck("no_checksums", n)
    return ck, CheckpointCheck("corrupt" if problems else "ok", n, tuple(problems))


def _append_table(f, path: str, rows: list[dict]) -> None:
    if not rows:
        return
    columns = TABLES[path]
    group = f.require_group(path)
    h5py = _h5py()
    n_before = max((group[c].shape[0] for c in group), default=0)
    for col, dtype in columns.items():
        if col in OPTIONAL_COLUMNS.get(path, ()) and col not in rows[0]:
            continue
        if col not in group and OPTIONAL_COLUMNS.get(path, ()) and \
                col in OPTIONAL_COLUMNS[path]:
            _add_missing_column(group, col, dtype, h5py, n_before)
        values = [row[col] for row in rows]
        if dtype == _STR:
            data = np.array([str(v) for v in values], dtype=object)
            h5_dtype = h5py.string_dtype()
        else:
            data = np.asarray(values, dtype=dtype)
            h5_dtype = dtype
        if col not in group:
            group.create_dataset(col, shape=(0,), maxshape=(None,), dtype=h5_dtype,
                                 chunks=(1024,))
        ds = group[col]
        n = ds.shape[0]
        ds.resize((n + len(values),))
        ds[n:] = data


def _add_missing_column(group, col: str, dtype, h5py, n: int) -> None:
    """An optional column new to an older file: its ``n`` earlier rows get empty
    values ("" or 0), so the columns stay aligned."""
    h5_dtype = h5py.string_dtype() if dtype == _STR else dtype
    ds = group.create_dataset(col, shape=(n,), maxshape=(None,), dtype=h5_dtype,
                              chunks=(1024,))
    if n:
        ds[:] = np.array([""] * n, dtype=object) if dtype == _STR else np.zeros(n, dtype)


class RunFile:
    """One run's HDF5 file (see the module docstring for the layout).

    Open an existing file with ``RunFile(path)`` (read-only, the file is opened anew for
    each read); create one with :meth:`create`; append with :meth:`commit`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise RunFileError(f"run file {self.path} does not exist")
        if self.path.is_dir():
            raise RunFileError(f"run file {self.path} is a directory; give the path of a "
                               f"run file (.h5)")
        with self._open() as f:
            if f.attrs.get("format") != FORMAT:
                raise RunFileError(f"{self.path} is an HDF5 file but not a cosim run file "
                                   f"(no format={FORMAT!r} attribute)")

    def _open(self, mode: str = "r"):
        h5py = _h5py()
        try:
            return h5py.File(self.path, mode)
        except OSError as exc:
            if "signature" in str(exc):
                reason = "is not an HDF5 file"
            elif "lock" in str(exc).lower():
                reason = ("is open for writing by another process (HDF5 file lock); wait "
                          "until that run has finished")
            else:
                reason = describe_os_error(exc)
            raise RunFileError(f"cannot open run file {self.path}: {reason}") from None

    # --- creation and atomic commits ------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config_json: str, *, source_text: str = "",
               overrides: tuple[str, ...] | list[str] = (), overwrite: bool = False,
               data: dict | None = None, design_json: str | None = None) -> RunFile:
        """A new run file holding the config; refuses to replace a file unless asked.

        ``data`` describes the data the run uses (split sizes, channels, classes, the
        normalisation applied); it is stored as JSON in the ``data`` attribute of
        ``/config``.  ``design_json``: the resolved design's record
        (:meth:`cosim.design.Design.to_json`), stored at ``/design``."""
        path = Path(path)
        fix = "choose a writable run file path (--out)"
        if path.is_dir():
            raise FileAccessError(f"run file {path}: is a directory; {fix}")
        if path.exists() and not overwrite:
            raise RunFileError(f"{path} exists; use resume to continue it, or choose "
                               f"another output file (or overwrite it explicitly)")
        with user_path(path, "run file", fix):
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_name(path)
        h5py = _h5py()
        import cosim

        with user_path(tmp, "run file", fix):
            f = h5py.File(tmp, "w", fs_strategy="fsm", fs_persist=True)
        with f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            f.attrs["cosim_version"] = cosim.__version__
            f.attrs["status"] = "created"
            f.attrs["last_step"] = 0
            f.attrs["last_epoch"] = 0
            ds = f.create_dataset("config", data=config_json, dtype=h5py.string_dtype())
            ds.attrs["source_text"] = source_text
            ds.attrs["overrides"] = json.dumps(list(overrides))
            if data is not None:
                ds.attrs["data"] = json.dumps(data, sort_keys=True)
            if design_json is not None:
                f.create_dataset("design", data=design_json, dtype=h5py.string_dtype())
            for table in TABLES:
                _append_table(f, table, [])
                f.require_group(table)
        sync_replace(tmp, path)
        return cls(path)

    def commit(self, pending: PendingWrites, checkpoint: Checkpoint | None = None, *,
               status: str | None = None) -> None:
        """Append ``pending`` and replace the checkpoint, atomically (see module doc)."""
        _remove_stale_tmp(self.path)
        tmp = _tmp_name(self.path)
        shutil.copyfile(self.path, tmp)
        try:
            h5py = _h5py()
            with h5py.File(tmp, "a") as f:
                for table, rows in pending.tables.items():
                    _append_table(f, table, rows)
                nl = f.require_group("netlists")
                for sha, text in pending.netlists.items():
                    if sha not in nl:
                        nl.create_dataset(sha, data=text, dtype=h5py.string_dtype())
                for path, (sha, record) in pending.records.items():
                    _write_record(f, path, sha, record)
                for layer, step, sig in pending.signals:
                    g = f.require_group(f"signals/{layer}/{int(step)}")
                    for name, arr in sig.items():
                        if name in g:
                            del g[name]
                        g.create_dataset(name, data=np.asarray(arr))
                if checkpoint is not None:
                    ck = f.require_group("checkpoints")
                    if "latest" in ck:
                        del ck["latest"]
                    g = ck.create_group("latest")
                    g.attrs["step"] = int(checkpoint.step)
                    g.attrs["epoch"] = int(checkpoint.epoch)
                    g.attrs["time_s"] = float(checkpoint.time_s)
                    _write_state(g.create_group("trainer"), checkpoint.trainer)
                    g.attrs["has_backend"] = checkpoint.backend is not None
                    if checkpoint.backend is not None:
                        _write_state(g.create_group("backend"), checkpoint.backend)
                    if checkpoint.evaluation is not None:
                        _write_state(g.create_group("evaluation"), checkpoint.evaluation)
                    g.attrs["header_sha256"] = _header_checksum(g)
                    g.attrs["checksums"] = CHECKSUM_ALGORITHM
                    f.attrs["last_step"] = int(checkpoint.step)
                    f.attrs["last_epoch"] = int(checkpoint.epoch)
                if status is not None:
                    f.attrs["status"] = status
            sync_replace(tmp, self.path)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise
        pending.clear()

    def replace_config(self, config_json: str, added_override: str) -> None:
        """Replace the stored config (atomically, like :meth:`commit`) and append
        ``added_override`` to the recorded overrides, e.g. ``"training.epochs=4"`` when
        a finished run is extended (``cosim train --resume --epochs 4``)."""
        _remove_stale_tmp(self.path)
        tmp = _tmp_name(self.path)
        shutil.copyfile(self.path, tmp)
        try:
            h5py = _h5py()
            with h5py.File(tmp, "a") as f:
                old = f["config"]
                attrs = dict(old.attrs)
                del f["config"]
                ds = f.create_dataset("config", data=config_json, dtype=h5py.string_dtype())
                for k, v in attrs.items():
                    ds.attrs[k] = v
                ds.attrs["overrides"] = json.dumps(json.loads(attrs["overrides"])
                                                   + [added_override])
            sync_replace(tmp, self.path)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise

    # --- reading ----------------------------------------------------------------------
    def attrs(self) -> dict[str, Any]:
        """Root attributes (format, status, created, last_step, ...)."""
        with self._open() as f:
            return {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}

    def config_json(self) -> str:
        """The canonical config text stored at creation."""
        with self._open() as f:
            return f["config"].asstr()[()]

    def design_json(self) -> str | None:
        """The stored design record (None in files written before designs)."""
        with self._open() as f:
            return f["design"].asstr()[()] if "design" in f else None

    def read_design(self):
        """The run's :class:`cosim.design.Design`, rebuilt from the stored card texts
        (no card file is read), or None for files written before designs."""
        from cosim.design import Design

        text = self.design_json()
        return None if text is None else Design.from_record(text)

    def replace_design(self, design_json: str, step: int, changes: list) -> None:
        """Store a changed design (a resume with ``--allow-design-change``) and append
        what changed to ``/design_changes`` (atomically, like :meth:`commit`)."""
        _remove_stale_tmp(self.path)
        tmp = _tmp_name(self.path)
        shutil.copyfile(self.path, tmp)
        try:
            h5py = _h5py()
            with h5py.File(tmp, "a") as f:
                if "design" in f:
                    del f["design"]
                f.create_dataset("design", data=design_json, dtype=h5py.string_dtype())
                _append_table(f, "design_changes",
                              [{"step": int(step), "changes": dumps(changes)}])
            sync_replace(tmp, self.path)
        except BaseException:
            if tmp.exists():
                tmp.unlink()
            raise

    def config_attrs(self) -> dict[str, str]:
        """Attributes of ``/config``: ``source_text``, ``overrides`` and (runs written
        since data descriptions exist) ``data``, each a string."""
        with self._open() as f:
            return {k: str(v) for k, v in f["config"].attrs.items()}

    def config_source(self) -> tuple[str, list[str]]:
        """(TOML source text, overrides) the config was made from."""
        with self._open() as f:
            ds = f["config"]
            return str(ds.attrs["source_text"]), json.loads(ds.attrs["overrides"])

    def read_config(self):
        """The :class:`cosim.config.RunConfig` of this run.  A file written before
        ``design.dac_scale`` existed ran with one DAC full scale per product, so its
        config reads as ``dac_scale = "call"`` (and resumes that way), not the newer
        default."""
        from cosim.config import RunConfig

        data = json.loads(self.config_json())
        model = data.get("model")
        if isinstance(model, dict) and model.get("name") == "torch":
            raise RunFileError(f"{self.path} is a run of a PyTorch model (cosim.torch): it "
                               f"holds no cosim RunConfig, so cosim train cannot resume it; "
                               f"read it with RunFile or cosim runs show")
        hw = data.get("hardware")
        if "design" not in data and isinstance(hw, dict) and "dac_scale" not in hw:
            hw["dac_scale"] = "call"
        return RunConfig.from_json(json.dumps(data))

    def table(self, name: str) -> dict[str, np.ndarray]:
        """Columns of table ``name`` (a key of :data:`TABLES`), strings as str arrays."""
        if name not in TABLES:
            raise RunFileError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        with self._open() as f:
            out = {}
            for col, dtype in TABLES[name].items():
                if name in f and col in f[name]:
                    ds = f[name][col]
                    out[col] = (np.array(ds.asstr()[...], dtype=str) if dtype == _STR
                                else ds[...])
                elif col in OPTIONAL_COLUMNS.get(name, ()):
                    continue  # a column this run never wrote
                else:
                    out[col] = np.zeros(0, dtype=str if dtype == _STR else dtype)
            return out

    def step_metrics(self) -> dict[str, np.ndarray]:
        """Per-step metrics columns."""
        return self.table("metrics/step")

    def epoch_metrics(self) -> dict[str, np.ndarray]:
        """Per-epoch metrics columns."""
        return self.table("metrics/epoch")

    def checkpoint(self, *, verify: bool = True) -> Checkpoint | None:
        """The latest checkpoint, or None before the first one.

        Raises :class:`CheckpointIntegrityError` (one line naming the first dataset that
        differs) when the checkpoint does not match its checksums, unless ``verify`` is
        False.  A checkpoint from before checksums existed is returned unchecked.
        """
        with self._open() as f:
            ck, check = _read_checkpoint(f)
        if verify and check.status == "corrupt":
            more = (f" (and {len(check.problems) - 1} more)" if len(check.problems) > 1
                    else "")
            raise CheckpointIntegrityError(
                f"{self.path}: checkpoint {check.problems[0]}{more}; the file was altered "
                f"or damaged after it was written, refusing to use it (restore the run "
                f"file from a copy, or start a new run)")
        return ck

    def verify_checkpoint(self) -> CheckpointCheck:
        """Recompute the checkpoint's checksums (see :class:`CheckpointCheck`)."""
        with self._open() as f:
            return _read_checkpoint(f)[1]

    def netlist_hashes(self) -> list[str]:
        """sha256 of every stored netlist."""
        with self._open() as f:
            return sorted(f["netlists"]) if "netlists" in f else []

    def netlist(self, sha256: str) -> str:
        """The stored netlist text with this hash."""
        with self._open() as f:
            if "netlists" not in f or sha256 not in f["netlists"]:
                raise RunFileError(f"{self.path} holds no netlist with sha256 {sha256}")
            return f["netlists"][sha256].asstr()[()]

    def find_netlist(self, layer: str, step: int, phase: str = "forward",
                     tile: str | int | None = None) -> tuple[str, dict]:
        """(sha256, index row) of the netlist a layer used at a global training step
        (1-based, the step of the metrics table); ``tile`` None: the first stored.
        A row's ``record`` is the path of its circuit record ("" or absent: the
        netlist text carries its own stimulus, or the file predates records).

        Raises :class:`RunFileError` listing the layers, phases, steps and tiles the
        run file holds when absent.
        """
        idx = self.table("netlist_index")
        mask = (idx["layer"] == layer) & (idx["step"] == int(step)) & (idx["phase"] == phase)
        if tile is not None:
            mask &= idx["tile"] == str(tile)
        hits = np.flatnonzero(mask)
        if hits.size == 0:
            raise RunFileError(f"{self.path}: no netlist for layer {layer!r}, phase "
                               f"{phase!r}, step {step}"
                               + (f", tile {tile}" if tile is not None else "")
                               + f". {_index_listing(idx, layer, phase, int(step))}")
        i = int(hits[0])
        row = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in idx.items()}
        return str(idx["sha256"][i]), row

    def circuit_record(self, path: str) -> dict[str, Any]:
        """A circuit record (:meth:`PendingWrites.add_record`): ``{"kind", "tolerance",
        "template_sha256", "stimulus": {name: array}, "outputs": {name: array}}``."""
        with self._open() as f:
            if path not in f:
                raise RunFileError(f"{self.path} holds no circuit record {path!r}")
            g = f[path]
            return {"kind": str(g.attrs["kind"]), "tolerance": float(g.attrs["tolerance"]),
                    "template_sha256": str(g.attrs["template_sha256"]),
                    **{part: {n: d[()] for n, d in g[part].items()}
                       for part in ("stimulus", "outputs")}}

    def signals(self, layer: str | None = None) -> dict[str, dict[int, dict[str, np.ndarray]]]:
        """Sampled signals: layer -> step -> name -> array."""
        with self._open() as f:
            if "signals" not in f:
                return {}
            out: dict[str, dict[int, dict[str, np.ndarray]]] = {}
            for lname, lg in f["signals"].items():
                if layer is not None and lname != layer:
                    continue
                out[lname] = {int(s): {n: d[...] for n, d in sg.items()}
                              for s, sg in lg.items()}
            return out

    def _design_summary(self) -> dict[str, Any]:
        """The design's name, tile, digest and main values (``runs show``); for a file
        written before designs, those its config's ``hardware`` table held."""
        design = self.read_design()
        if design is None:
            from cosim.config import RunConfig

            cfg = self.read_config() if json.loads(self.config_json()).get("model", {}).get(
                "name") != "torch" else RunConfig()
            design = cfg.design.resolve()
        keys = ("tile_rows", "tile_cols", "dac_scale", "readout_averaging", "gradient_on",
                "converters.dac_bits", "converters.adc_bits")
        return {"name": design.name, "tile": design.tile, "digest": design.digest(),
                "stored": self.design_json() is not None,
                "overrides": [[k, v] for k, v in design.overrides],
                **{k: design[k] for k in keys}}

    @staticmethod
    def _retune_summary(stats: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
        """:func:`_retune_rows` of the hardware_stats table (empty for older files)."""
        return _retune_rows(stats)

    def summary(self) -> dict[str, Any]:
        """Summary for ``cosim runs show``: config digest, progress, accuracies, checks."""
        import hashlib

        attrs = self.attrs()
        cfg = self.config_json()
        epochs = self.epoch_metrics()
        steps = self.step_metrics()
        spots = self.table("spot_checks")
        stats = self.table("hardware_stats")
        cfg_d = json.loads(cfg)
        hw = cfg_d.get("hardware", {})
        out: dict[str, Any] = {
            "path": str(self.path),
            "status": attrs.get("status"),
            "created": attrs.get("created"),
            "config_sha256": hashlib.sha256(cfg.encode("utf-8")).hexdigest(),
            "seed": cfg_d.get("seed"),
            "model": cfg_d.get("model", {}).get("name"),
            "data": json.loads(self.config_attrs().get("data", "null")),
            "design": self._design_summary(),
            "engines": {k: hw.get(k) for k in ("optical_engine", "electrical_engine")},
            "steps": int(steps["step"].shape[0]),
            "epochs_done": int(epochs["epoch"].shape[0]),
            "epochs_planned": cfg_d.get("training", {}).get("epochs"),
            "checkpoint_step": attrs.get("last_step"),
            "final_train_acc": float(epochs["train_acc"][-1]) if epochs["epoch"].size else None,
            "final_test_acc": float(epochs["test_acc"][-1]) if epochs["epoch"].size else None,
            "best_test_acc": float(epochs["test_acc"].max()) if epochs["epoch"].size else None,
            "train_time_s": float(steps["time_s"].sum()) if steps["step"].size else 0.0,
            "spot_checks": int(spots["step"].shape[0]),
            "spot_check_max_abs_error": (float(spots["max_abs_error"].max())
                                         if spots["step"].size else None),
            "spot_check_max_rel_error": (float(spots["rel_error"].max())
                                         if spots["step"].size else None),
            "spot_check_median_rel_error": (float(np.median(spots["rel_error"]))
                                            if spots["step"].size else None),
            "netlists": len(self.netlist_hashes()),
        }
        check = self.verify_checkpoint()
        out["checkpoint_integrity"] = {"status": check.status, "arrays": check.arrays,
                                       "problems": list(check.problems),
                                       "text": check.describe()}
        totals = {}
        for k in ("products", "samples", "saturated_tia", "clipped_adc", "below_noise_floor",
                  "saturated_weights"):
            totals[k] = int(stats[k].sum()) if stats[k].size else 0
        out["hardware_totals"] = totals
        out["retunes"] = self._retune_summary(stats)
        per_layer: dict[str, dict[str, int]] = {}
        for i in range(stats["layer"].shape[0]):
            d = per_layer.setdefault(str(stats["layer"][i]), {k: 0 for k in totals})
            for k in totals:
                d[k] += int(stats[k][i])
        out["hardware_per_layer"] = per_layer
        errs = self.table("product_errors")
        medians: dict[str, dict[str, float]] = {}
        for layer, phase in dict.fromkeys(zip(errs["layer"].tolist(), errs["phase"].tolist())):
            sel = (errs["layer"] == layer) & (errs["phase"] == phase)
            medians.setdefault(layer, {})[phase] = float(np.median(errs["rel_rms_error"][sel]))
        out["product_error_median"] = medians
        out["product_error_probes"] = int(np.unique(errs["step"]).size)
        return out


def _retune_rows(stats: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per ``layer/phase``: retunes, mean calibration iterations per retune, the largest
    calibration residual, and the mean heater and link power of a loaded state (W)."""
    out: dict[str, dict[str, float]] = {}
    if "retunes" not in stats:
        return out
    acc: dict[str, dict[str, float]] = {}
    for i in range(stats["layer"].shape[0]):
        key = f"{stats['layer'][i]}/{stats['phase'][i]}"
        a = acc.setdefault(key, {c: 0.0 for c in RETUNE_COLUMNS})
        for c in RETUNE_COLUMNS:
            v = float(stats[c][i])
            a[c] = max(a[c], v) if c == "calibration_residual" else a[c] + v
    for key, a in acc.items():
        n = a["retunes"]
        if n:
            out[key] = {"retunes": int(n), "iterations_per_retune": a["calibration_iterations"] / n,
                        "calibration_residual": a["calibration_residual"],
                        "heater_power_w": a["heater_power_w"] / n,
                        "link_power_w": a["link_power_w"] / n}
    return out


def _ranges(steps) -> str:
    """``1, 20, 40..100 (every 20)``-style text of sorted distinct steps."""
    steps = sorted({int(x) for x in steps})
    if len(steps) <= 8:
        return ", ".join(map(str, steps))
    return f"{', '.join(map(str, steps[:4]))}, ... {steps[-1]} ({len(steps)} steps)"


def _index_listing(idx: dict[str, np.ndarray], layer: str, phase: str, step: int) -> str:
    """What a netlist index holds, for an error message: the layers, then for the
    asked layer its phases and their steps, and the tiles at the asked step."""
    if not idx["layer"].size:
        return "The run file holds no netlists (an ideal run, or no recorded step yet)."
    layers = sorted(set(idx["layer"].tolist()))
    if layer not in layers:
        return f"Layers stored: {', '.join(layers)}."
    sel = idx["layer"] == layer
    parts = []
    for p in ("forward", "backward", "gradient"):
        steps = idx["step"][sel & (idx["phase"] == p)]
        if steps.size:
            parts.append(f"{p} at steps {_ranges(steps)}")
    tiles = sorted(set(idx["tile"][sel & (idx["phase"] == phase) &
                                   (idx["step"] == step)].tolist()))
    more = f"; tiles at step {step}: {', '.join(tiles)}" if tiles else ""
    return (f"Stored for {layer} (global training steps, 1-based): {'; '.join(parts)}"
            f"{more}.")


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _remove_stale_tmp(path: Path) -> None:
    for p in path.parent.glob(f".{path.name}.tmp-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if pid == os.getpid() or not pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


