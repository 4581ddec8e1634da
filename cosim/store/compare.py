"""Comparison of training run files: which settings differ, and the final metrics.

:func:`compare_runs` reads run files (:class:`cosim.store.runs.RunFile`) and returns a
:class:`RunComparison`: the config entries (dotted keys, e.g. ``design.set.tile_rows``)
whose values are not the same in every run, and one row of final metrics per run.
Computation only; ``cosim runs compare`` prints it and
:func:`cosim.report.training.write_comparison_report` draws the overlaid curves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosim.errors import ConfigError

#: Final metrics of each run, in table order: (key, column title).
METRICS: tuple[tuple[str, str], ...] = (
    ("status", "status"), ("epochs_done", "epochs"), ("steps", "steps"),
    ("final_train_loss", "train loss"), ("final_train_acc", "train acc"),
    ("final_test_acc", "test acc"), ("best_test_acc", "best test acc"),
    ("train_time_s", "time in steps (s)"),
)

_MISSING = "(absent)"


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dicts to one dict with dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``);
    lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class RunComparison:
    """What :func:`compare_runs` returns.

    Attributes
    ----------
    labels : list of str
        One label per run (its file stem; the path where stems repeat).
    paths : list of Path
    differences : dict
        Dotted config key -> list of values, one per run (only keys that differ; a key
        missing from a run's config shows as ``"(absent)"``).
    metrics : list of dict
        Per run: the :data:`METRICS` keys (None where a run has no epoch yet).
    """

    labels: list[str]
    paths: list[Path]
    differences: dict[str, list[Any]]
    metrics: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``cosim runs compare --json``)."""
        return {"runs": [{"label": lab, "path": str(p), **m}
                         for lab, p, m in zip(self.labels, self.paths, self.metrics)],
                "differences": self.differences}


def _labels(paths: list[Path]) -> list[str]:
    stems = [p.stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [str(p) for p in paths]


def compare_runs(paths: list[str | Path]) -> RunComparison:
    """Config differences and final metrics of two or more run files."""
    from cosim.store.runs import RunFile

    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ConfigError(f"compare needs at least two run files, got {len(paths)}; "
                          "give A.h5 B.h5 ...")
    if len(set(map(str, paths))) != len(paths):
        raise ConfigError("compare: a run file is given twice; give distinct files")
    runs = [RunFile(p) for p in paths]
    configs = [flatten(json.loads(r.config_json())) for r in runs]
    for run, cfg in zip(runs, configs, strict=True):   # every resolved design value too
        design = run.read_design()
        if design is not None:
            cfg.pop("design.name", None)
            cfg.update({f"design: {k}": v for k, v in design.values().items()})
            cfg["design: name"] = design.name
    keys = sorted(set().union(*configs))
    differences = {}
    for k in keys:
        values = [c.get(k, _MISSING) for c in configs]
        if any(json.dumps(v, sort_keys=True) != json.dumps(values[0], sort_keys=True)
               for v in values[1:]):
            differences[k] = values
    metrics = []
    for r in runs:
        s = r.summary()
        ep = r.epoch_metrics()
        row = {k: s.get(k) for k, _ in METRICS if k in s}
        row["final_train_loss"] = float(ep["train_loss"][-1]) if ep["epoch"].size else None
        metrics.append({k: row.get(k) for k, _ in METRICS})
    return RunComparison(_labels(paths), paths, differences, metrics)


def format_comparison(cmp: RunComparison) -> str:
    """The text tables of ``cosim runs compare``: differing settings, then metrics."""
    width = max(12, *(len(lab) for lab in cmp.labels))
    head = " " * 28 + "".join(f"{lab:>{width + 2}}" for lab in cmp.labels)

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) >= 1e4 or (v and abs(v) < 1e-3) else f"{v:.4f}"
        text = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
        return text if len(text) <= width else text[:width - 1] + "~"

    lines = ["settings that differ:" if cmp.differences
             else "settings that differ: none (same config)"]
    if cmp.differences:
        lines.append(head)
        for k, vals in cmp.differences.items():
            lines.append(f"  {k:<26}" + "".join(f"{cell(v):>{width + 2}}" for v in vals))
    lines += ["", "final metrics:", head]
    for key, title in METRICS:
        lines.append(f"  {title:<26}" + "".join(f"{cell(m[key]):>{width + 2}}"
                                                for m in cmp.metrics))
    return "\n".join(lines)


__all__ = ["METRICS", "RunComparison", "compare_runs", "flatten", "format_comparison"]
