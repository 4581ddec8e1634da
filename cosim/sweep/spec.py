"""Sweep specifications: a grid or a Monte Carlo over the parameters of a point task.

A spec is a TOML file (or text) with one ``[sweep]`` table::

    [sweep]
    kind = "grid"                  # or "monte_carlo"
    task = "crossbar_ir_drop"      # a name in cosim.sweep.TASKS
    out = "ir_drop.h5"             # result file (relative to the spec file)
    seed = 0                       # sweep seed: every point's seed derives from it

    [sweep.base]                   # values every point gets (the task's parameters)
    rows = 16
    cols = 16

    [sweep.grid]                   # dotted key -> list of values (Cartesian product)
    wire_resistance_ohm = [0.0, 1.0, 2.5]

    [sweep.monte_carlo]            # kind = "monte_carlo" only
    samples = 16                   # draws per grid point (the grid may be empty)
    seed = 1                       # seed of the draws (default: sweep.seed)
    [sweep.monte_carlo.distributions]
    "design.weight_c2c_sigma_frac" = {dist = "uniform", low = 0.0, high = 1e-3}

Keys are dotted paths of the task's parameters (for ``train``: run config keys, and
any design value as ``design.NAME`` or ``design.ROLE.PARAM``); nested TOML tables are
flattened into dotted keys (``[sweep.grid.design.crossbar]`` with
``wire_resistance_crosspoint_ohm = [..]`` is the key
``"design.crossbar.wire_resistance_crosspoint_ohm"``).  Unknown keys anywhere are
rejected with their path.

A sweep has at most :data:`MAX_SWEEP_POINTS` points (grid size times Monte Carlo
samples); a larger spec is refused on loading, before any point is enumerated.

Points are enumerated deterministically: grid values in the order given, the first key
varying slowest; a Monte Carlo repeats each grid point ``samples`` times with values
drawn from ``numpy.random.default_rng([mc_seed, grid_index, sample])``.  Each point's
*coordinates* are its swept values (plus ``sample`` for a Monte Carlo); its *key* is the
sha256 of the canonical JSON of the coordinates, and its *seed* is derived from the sweep
seed and that key, so a point computes the same result wherever and whenever it runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cosim.errors import ConfigError, ResourceLimitError

SweepKind = Literal["grid", "monte_carlo"]
SWEEP_KINDS: tuple[str, ...] = ("grid", "monte_carlo")

#: Distributions of a Monte Carlo: name -> (required fields, optional fields).
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("low", "high"), ()),
    "normal": (("mean", "std"), ("low", "high")),
    "lognormal": (("median", "sigma"), ()),
    "loguniform": (("low", "high"), ()),
    "choice": (("values",), ()),
    "integers": (("low", "high"), ()),
}

MAX_SWEEP_POINTS = 1_000_000
"""Most points one sweep spec may have.  Every point is enumerated in memory (its
coordinates, parameters, key and seed: about 1 kB) and gets a row in the result file, so a
larger spec is refused with :class:`cosim.errors.ResourceLimitError` before any point is
made.  Split a larger study into several specs over parts of the grid (each its own
result file), or raise the constant if memory allows."""

_SWEEP_KEYS = ("kind", "task", "out", "seed", "base", "grid", "monte_carlo", "description")
_MC_KEYS = ("samples", "seed", "distributions")
SAMPLE_KEY = "sample"


class SweepSpecError(ConfigError):
    """A sweep spec is malformed (the message names the key path and the fix)."""


@dataclass(frozen=True)
class Point:
    """One point of a sweep.

    Attributes
    ----------
    index : int
        Position in the spec's enumeration.
    coords : dict
        Swept values by dotted key (and ``"sample"`` for a Monte Carlo).
    params : dict
        Everything the task gets: base values overlaid with ``coords`` (without
        ``sample``).
    key : str
        sha256 hex of the canonical JSON of ``coords``: identifies the point in files.
    seed : int
        The point's seed in [0, 2**63).
    """

    index: int
    coords: dict[str, Any]
    params: dict[str, Any]
    key: str
    seed: int


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep specification (see the module docstring).

    Attributes
    ----------
    kind : {"grid", "monte_carlo"}
    task : str
        Name in :data:`cosim.sweep.tasks.TASKS`.
    base : dict
        Dotted key -> value given to every point.
    grid : dict
        Dotted key -> tuple of values.
    samples : int
        Monte Carlo draws per grid point (1 for a grid).
    mc_seed : int
    distributions : dict
        Dotted key -> distribution table (:data:`DISTRIBUTIONS`).
    seed : int
        Sweep seed.
    out : str or None
        Result file as written in the spec (relative to ``origin``'s folder).
    text : str
        The spec's TOML text (stored in the result file).
    origin : str
        Where the spec came from (file path or ``"<text>"``).
    """

    kind: str
    task: str
    base: dict[str, Any]
    grid: dict[str, tuple]
    samples: int = 1
    mc_seed: int = 0
    distributions: dict[str, dict] = field(default_factory=dict)
    seed: int = 0
    out: str | None = None
    text: str = ""
    origin: str = "<text>"
    description: str = ""

    # ---------------------------------------------------------------------- points
    @property
    def swept_keys(self) -> tuple[str, ...]:
        """Coordinate names in file order: grid keys, then ``sample`` and the drawn keys."""
        keys = list(self.grid)
        if self.kind == "monte_carlo":
            keys.append(SAMPLE_KEY)
            keys += [k for k in self.distributions if k not in self.grid]
        return tuple(keys)

    @property
    def n_points(self) -> int:
        """Points of the sweep: the product of the grid's value counts times ``samples``
        (computed without enumerating them)."""
        return math.prod(len(v) for v in self.grid.values()) * \
            (self.samples if self.kind == "monte_carlo" else 1)

    def check_size(self) -> int:
        """:attr:`n_points`; :class:`ResourceLimitError` above :data:`MAX_SWEEP_POINTS`."""
        n = self.n_points
        if n > MAX_SWEEP_POINTS:
            dims = [f"{len(v)} {k}" for k, v in self.grid.items()]
            if self.kind == "monte_carlo":
                dims.append(f"{self.samples} samples")
            raise ResourceLimitError(
                f"{self.origin}: the sweep has {n:,} points ({' x '.join(dims)}), more "
                f"than the limit of {MAX_SWEEP_POINTS:,} (cosim.sweep.spec.MAX_SWEEP_POINTS); "
                f"split it into several specs over parts of the grid, or use fewer values "
                f"or samples")
        return n

    def points(self) -> list[Point]:
        """Every point of the sweep, in enumeration order (refused above
        :data:`MAX_SWEEP_POINTS`, see :meth:`check_size`)."""
        self.check_size()
        keys = list(self.grid)
        combos = list(itertools.product(*(self.grid[k] for k in keys))) if keys else [()]
        out: list[Point] = []
        for gi, combo in enumerate(combos):
            grid_coords = dict(zip(keys, combo))
            draws = range(self.samples) if self.kind == "monte_carlo" else [None]
            for s in draws:
                coords = dict(grid_coords)
                if s is not None:
                    coords[SAMPLE_KEY] = s
                    rng = np.random.default_rng([self.mc_seed, gi, s])
                    for k, d in self.distributions.items():
                        coords[k] = draw(d, rng)
                params = dict(self.base)
                params.update({k: v for k, v in coords.items() if k != SAMPLE_KEY})
                key = point_key(coords)
                out.append(Point(len(out), coords, params, key, point_seed(self.seed, key)))
        return out

    def identity(self) -> str:
        """Canonical JSON of what makes two specs' points interchangeable (task, base,
        seeds and distributions): a result file only takes points of the same identity."""
        return canonical_json({"task": self.task, "kind": self.kind, "base": self.base,
                               "seed": self.seed, "mc_seed": self.mc_seed,
                               "distributions": self.distributions})


# ------------------------------------------------------------------------------ helpers
def canonical_json(obj: Any) -> str:
    """Sorted-key compact JSON (NaN refused): the text hashes are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(coords: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a point's coordinates."""
    return hashlib.sha256(canonical_json(coords).encode("utf-8")).hexdigest()


def point_seed(sweep_seed: int, key: str) -> int:
    """Seed of a point: the first 63 bits of sha256(sweep seed, point key)."""
    h = hashlib.sha256(f"{int(sweep_seed)}:{key}".encode("ascii")).digest()
    return int.from_bytes(h[:8], "big") >> 1


def draw(dist: dict, rng: np.random.Generator) -> Any:
    """One value of a validated distribution table (plain Python float/int/str)."""
    name = dist["dist"]
    if name == "uniform":
        return float(rng.uniform(dist["low"], dist["high"]))
    if name == "normal":
        v = float(rng.normal(dist["mean"], dist["std"]))
        lo, hi = dist.get("low", -math.inf), dist.get("high", math.inf)
        return float(min(max(v, lo), hi))
    if name == "lognormal":
        return float(dist["median"] * math.exp(dist["sigma"] * rng.standard_normal()))
    if name == "loguniform":
        return float(math.exp(rng.uniform(math.log(dist["low"]), math.log(dist["high"]))))
    if name == "integers":
        return int(rng.integers(dist["low"], dist["high"], endpoint=True))
    values = dist["values"]
    return values[int(rng.integers(0, len(values)))]


def flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def _check_value(where: str, v: Any) -> Any:
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise SweepSpecError(f"{where}={v!r}: give a finite number")
        return v
    if isinstance(v, list):
        return [_check_value(f"{where}[{i}]", x) for i, x in enumerate(v)]
    raise SweepSpecError(f"{where}={v!r}: values must be numbers, booleans, strings or "
                         f"arrays of them")


def _check_seed(where: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2 ** 63:
        raise SweepSpecError(f"{where}={v!r}: give an integer in [0, 2**63)")
    return v


def _check_dist(where: str, d: Any) -> dict:
    if not isinstance(d, dict) or "dist" not in d:
        raise SweepSpecError(f"{where} must be a table like {{dist = \"uniform\", low = 0, "
                             f"high = 1}}; distributions: {', '.join(DISTRIBUTIONS)}")
    name = d["dist"]
    if name not in DISTRIBUTIONS:
        raise SweepSpecError(f"{where}.dist={name!r}: choose one of "
                             f"{', '.join(DISTRIBUTIONS)}")
    req, opt = DISTRIBUTIONS[name]
    unknown = sorted(set(d) - set(req) - set(opt) - {"dist"})
    if unknown:
        raise SweepSpecError(f"unknown key {where}.{unknown[0]}; a {name!r} distribution "
                             f"takes {', '.join(req + opt)}")
    missing = [k for k in req if k not in d]
    if missing:
        raise SweepSpecError(f"{where}: a {name!r} distribution needs {', '.join(missing)}")
    if name == "choice":
        vals = d["values"]
        if not isinstance(vals, list) or not vals:
            raise SweepSpecError(f"{where}.values must be a non-empty array")
        _check_value(f"{where}.values", vals)
        return dict(d)
    for k in req + opt:
        if k in d and (isinstance(d[k], bool) or not isinstance(d[k], (int, float))
                       or not math.isfinite(d[k])):
            raise SweepSpecError(f"{where}.{k}={d[k]!r}: give a finite number")
    if (name in ("uniform", "loguniform", "integers") and not d["low"] < d["high"]
            and not (name == "integers" and d["low"] == d["high"])):
        raise SweepSpecError(f"{where}: low={d['low']!r} must be below high={d['high']!r}")
    if name == "loguniform" and not d["low"] > 0:
        raise SweepSpecError(f"{where}.low={d['low']!r}: a loguniform needs low > 0")
    if name == "integers" and not all(isinstance(d[k], int) for k in ("low", "high")):
        raise SweepSpecError(f"{where}: integers needs integer low and high")
    if name == "normal" and not d["std"] >= 0:
        raise SweepSpecError(f"{where}.std={d['std']!r} must be >= 0")
    if name == "lognormal" and not (d["median"] > 0 and d["sigma"] >= 0):
        raise SweepSpecError(f"{where}: lognormal needs median > 0 and sigma >= 0")
    return dict(d)


# ------------------------------------------------------------------------------ loading
def parse_spec(text: str, origin: str = "<text>", *, validate_task: bool = True) -> SweepSpec:  # noqa: C901 - one check per spec key
    """A validated :class:`SweepSpec` from TOML text.

    Parameters
    ----------
    text : str
        The spec (see the module docstring).
    origin : str
        Where it came from, for messages and relative ``out`` paths.
    validate_task : bool
        Also check every point's parameters with the task's validator (unknown
        parameters, bad values) before anything runs.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"{origin}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"sweep"})
    if unknown or "sweep" not in data:
        raise SweepSpecError(f"{origin}: a sweep spec has one [sweep] table"
                             + (f"; unknown top-level key {unknown[0]!r}" if unknown else ""))
    sw = data["sweep"]
    unknown = sorted(set(sw) - set(_SWEEP_KEYS))
    if unknown:
        raise SweepSpecError(f"{origin}: unknown key sweep.{unknown[0]}; valid keys of "
                             f"[sweep]: {', '.join(_SWEEP_KEYS)}")
    kind = sw.get("kind", "grid")
    if kind not in SWEEP_KINDS:
        raise SweepSpecError(f"{origin}: sweep.kind={kind!r}: choose one of "
                             f"{', '.join(SWEEP_KINDS)}")
    from cosim.sweep.tasks import TASKS

    task = sw.get("task")
    if task not in TASKS:
        raise SweepSpecError(f"{origin}: sweep.task={task!r}: choose one of "
                             f"{', '.join(sorted(TASKS))}")
    seed = _check_seed(f"{origin}: sweep.seed", sw.get("seed", 0))
    out = sw.get("out")
    if out is not None and (not isinstance(out, str) or not out or out.endswith("/")
                            or Path(out).name in ("", ".", "..")):
        raise SweepSpecError(f"{origin}: sweep.out={out!r}: give a file name, e.g. "
                             f"out = \"sweep.h5\" (a folder is not a result file)")
    desc = sw.get("description", "")
    if not isinstance(desc, str):
        raise SweepSpecError(f"{origin}: sweep.description must be a string")
    for name in ("base", "grid", "monte_carlo"):
        if name in sw and not isinstance(sw[name], dict):
            raise SweepSpecError(f"{origin}: sweep.{name} must be a table")
    base = {k: _check_value(f"{origin}: sweep.base.{k}", v)
            for k, v in flatten(sw.get("base", {})).items()}
    grid: dict[str, tuple] = {}
    for k, v in flatten(sw.get("grid", {})).items():
        where = f"{origin}: sweep.grid.{k}"
        if k == SAMPLE_KEY:
            raise SweepSpecError(f"{where}: {SAMPLE_KEY!r} is reserved for Monte Carlo draws")
        if not isinstance(v, list) or not v:
            raise SweepSpecError(f"{where} must be a non-empty array of values")
        vals = tuple(_check_value(where, x) for x in v)
        if len({canonical_json(x) for x in vals}) != len(vals):
            raise SweepSpecError(f"{where} lists a value twice: {list(vals)}")
        grid[k] = vals
    samples, mc_seed, dists = 1, seed, {}
    if kind == "monte_carlo":
        mc = sw.get("monte_carlo")
        if mc is None:
            raise SweepSpecError(f"{origin}: kind = \"monte_carlo\" needs a "
                                 f"[sweep.monte_carlo] table (samples, seed, distributions)")
        unknown = sorted(set(mc) - set(_MC_KEYS))
        if unknown:
            raise SweepSpecError(f"{origin}: unknown key sweep.monte_carlo.{unknown[0]}; "
                                 f"valid: {', '.join(_MC_KEYS)}")
        samples = mc.get("samples")
        if isinstance(samples, bool) or not isinstance(samples, int) or not \
                1 <= samples <= 1_000_000:
            raise SweepSpecError(f"{origin}: sweep.monte_carlo.samples={samples!r}: give an "
                                 f"integer from 1 to 1000000")
        mc_seed = _check_seed(f"{origin}: sweep.monte_carlo.seed", mc.get("seed", seed))
        raw = mc.get("distributions", {})
        if not isinstance(raw, dict):
            raise SweepSpecError(f"{origin}: sweep.monte_carlo.distributions must be a table")
        dists = {k: _check_dist(f"{origin}: sweep.monte_carlo.distributions.{k}", d)
                 for k, d in _flatten_dists(raw).items()}
        both = sorted(set(dists) & set(grid))
        if both:
            raise SweepSpecError(f"{origin}: {both[0]!r} is both on the grid and drawn; "
                                 f"keep it in one place")
    elif "monte_carlo" in sw:
        raise SweepSpecError(f"{origin}: [sweep.monte_carlo] given but sweep.kind = "
                             f"\"grid\"; set kind = \"monte_carlo\" or remove the table")
    elif not grid:
        raise SweepSpecError(f"{origin}: a grid sweep needs [sweep.grid] with at least one "
                             f"key -> array of values")
    spec = SweepSpec(kind=kind, task=task, base=base, grid=grid, samples=samples,
                     mc_seed=mc_seed, distributions=dists, seed=seed, out=out, text=text,
                     origin=origin, description=desc)
    spec.check_size()
    if validate_task:
        validator = TASKS[task].validate
        for p in spec.points():
            try:
                validator(p.params)
            except ConfigError as exc:
                raise SweepSpecError(f"{origin}: point {p.index} {p.coords}: {exc}") from None
    return spec


def _flatten_dists(raw: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a distributions table whose leaves are tables with ``dist``."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and "dist" not in v:
            out.update(_flatten_dists(v, key))
        else:
            out[key] = v
    return out


def load_spec(path: str | Path, *, validate_task: bool = True) -> SweepSpec:
    """A validated :class:`SweepSpec` from a TOML file (see :func:`parse_spec`)."""
    path = Path(path)
    if not path.exists():
        raise SweepSpecError(f"sweep spec {path} does not exist")
    from cosim.paths import read_user_text

    text = read_user_text(path, "sweep spec")
    return parse_spec(text, str(path), validate_task=validate_task)


def default_out(spec: SweepSpec) -> Path:
    """The result file a spec names (relative to its file's folder), or ``<task>.h5``."""
    if spec.out is None:
        return Path(f"sweep_{spec.task}.h5")
    out = Path(spec.out)
    if not out.is_absolute() and spec.origin != "<text>":
        out = Path(spec.origin).resolve().parent / out
    return out
