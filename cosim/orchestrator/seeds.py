"""Several seeds of one run config: accuracy statistics of hardware, float and their
paired difference.

:func:`train_seeds` trains the config once per seed on its hardware and once in float
(the ``ideal`` design, same seed: same initial weights, same batches), and
:func:`seed_statistics` summarises the final test accuracies: mean, sample standard
deviation and a 95 % Student-t interval of the mean.  The paired difference (hardware
minus float, per seed) removes the seed-to-seed spread both share, so its interval is the
one that says whether the hardware costs accuracy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cosim.errors import ConfigError


def seed_statistics(values) -> dict[str, float | int]:
    """``{"n", "mean", "std", "ci_low", "ci_high"}`` of a sample: sample standard deviation
    (ddof 1) and the 95 % Student-t interval of the mean (n >= 2; with one value the
    spread and interval are NaN)."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise ConfigError(f"seed statistics need finite values, got {values!r}")
    n = int(x.size)
    mean = float(x.mean())
    if n < 2:
        return {"n": n, "mean": mean, "std": float("nan"), "ci_low": float("nan"),
                "ci_high": float("nan")}
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / np.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


@dataclass
class SeedsResult:
    """Final test accuracies per seed and their statistics (see module doc)."""

    seeds: list[int]
    hardware: list[float]
    float_: list[float]
    architecture: str
    files: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        out = {"seeds": self.seeds, "architecture": self.architecture,
               "hardware": self.hardware, "float": self.float_, "files": self.files,
               "hardware_stats": seed_statistics(self.hardware)}
        if self.float_:
            out["float_stats"] = seed_statistics(self.float_)
            out["difference_stats"] = seed_statistics(
                np.subtract(self.hardware, self.float_))
        return out


def _seed_path(out: Path, seed: int, suffix: str = "") -> Path:
    return out.with_name(f"{out.stem}_seed{seed}{suffix}{out.suffix or '.h5'}")


def train_seeds(config, out: str | Path, n: int, *, overwrite: bool = False,
                quiet: bool = False, source_text: str = "",
                overrides: list[str] | tuple[str, ...] = (),
                start: SeedsResult | None = None) -> SeedsResult:
    """Train ``config`` with seeds ``config.seed .. config.seed + n - 1``, each on its
    hardware and in float; run files ``OUT_seedS.h5`` and ``OUT_seedS_float.h5``, and
    the summary ``OUT_seeds.json``.  ``start`` holds seeds already trained (they come
    first in the result and the summary)."""
    from cosim.config import override_config
    from cosim.orchestrator.run import train

    if isinstance(n, bool) or not isinstance(n, int) or n < 0 or (n == 0 and start is None):
        raise ConfigError(f"--seeds takes a positive number of seeds, got {n!r}")
    out = Path(out)
    arch = config.design.name
    result = start if start is not None else SeedsResult([], [], [], arch)
    for seed in range(config.seed, config.seed + n):
        cfg = override_config(config, [f"seed={seed}"])
        runs = [("", cfg, result.hardware)]
        if arch != "ideal":
            runs.append(("_float", override_config(cfg, ["design.name=ideal"]),
                         result.float_))
        for suffix, c, sink in runs:
            path = _seed_path(out, seed, suffix)
            r = train(c, path, source_text=source_text,
                      overrides=list(overrides) + [f"seed={seed}"], overwrite=overwrite,
                      quiet=quiet)
            sink.append(float(r.final_test_acc))
            result.files.append(str(path))
        result.seeds.append(seed)
    summary = out.with_name(f"{out.stem}_seeds.json")
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(result.summary(), indent=1, sort_keys=True) + "\n")
    return result


def format_seed_table(summary: dict) -> str:
    """The statistics of :meth:`SeedsResult.summary` as a small text table (in %)."""
    rows = [(summary["architecture"], summary["hardware_stats"])]
    if "float_stats" in summary:
        rows += [("float", summary["float_stats"]),
                 (f"{summary['architecture']} - float", summary["difference_stats"])]
    width = max(12, max(len(name) for name, _ in rows) + 2)
    lines = [f"test accuracy over {summary['hardware_stats']['n']} seeds "
             f"({', '.join(map(str, summary['seeds']))}), in %:",
             f"  {'':<{width}}{'mean':>8}{'std':>8}   95 % interval of the mean"]
    for name, s in rows:
        lines.append(f"  {name:<{width}}{100 * s['mean']:>8.2f}{100 * s['std']:>8.2f}   "
                     f"{100 * s['ci_low']:.2f} .. {100 * s['ci_high']:.2f}")
    return "\n".join(lines)
