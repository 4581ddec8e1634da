"""Ablation: what each non-ideality costs alone, all together, with and without its
mitigation (``cosim ablate``).

The same network is trained on the same data with the same seeds under a list of
configurations (:func:`ablation_configurations`), each a set of dotted overrides of one
run config:

* ``float``: the ``ideal`` design (exact float products, float weights), the reference;
* ``hardware, all off``: the config's design with every non-ideality below switched off
  (idealised weight device with pulse update, no readout noise, one read per output, the
  design's own converters, no crosstalk): what remains is the tile arithmetic itself;
* each non-ideality alone on that base, without and (where one exists) with its
  mitigation:

  - weight device: the NeuroSim RealDevice card (``weight_rram_realdevice``) with the
    direct pulse update; mitigation: the mixed-precision update
    (:class:`cosim.hw.policies.MixedPrecisionStore`);
  - readout noise (``hardware.noise``: TIA, shot, laser RIN) at one read per product;
    mitigation: ``readout_averaging`` reads averaged;
  - converters at a lower resolution (``design.converters.adc_bits``); no mitigation;
  - inter-channel and thermal ring crosstalk (``design.crosstalk``) with every ring
    programmed by its single-ring map; mitigation: the bank calibrated in the loop
    (``design.calibration = "in_loop"``);

* ``all, unmitigated`` and ``all, mitigated``: every non-ideality at once;
* ``design as shipped``: the config's design with no override (for the shipped
  ``bplight`` design: RealDevice with mixed-precision update, noise with 16 reads,
  16-bit converters, crosstalk with in-loop calibration).

Every configuration is trained for seeds ``seed .. seed + n - 1`` (:func:`run_ablation`;
independent runs, optionally in worker processes), and :func:`ablation_summary` gives per
configuration the test accuracies, their mean, standard deviation and 95 % interval, and
the paired difference to float (same seed: same initial weights, same batches).
Plotting and HTML live in :mod:`cosim.report.ablate`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cosim.design import IDEALISED_OVERRIDES
from cosim.errors import ConfigError
from cosim.orchestrator.seeds import seed_statistics

#: The weight device of the "weight device" ablation (a cited card).
ABLATION_DEVICE = "weight_rram_realdevice"

ABLATE_OVERRIDES: tuple[str, ...] = (
    "model.name=lenet5", "model.width=0.5",
    "training.epochs=6", "training.batch_size=32", "training.lr=0.02",
    "training.momentum=0.9", "training.lr_schedule=cosine",
    "training.checkpoint_every_steps=0", "training.error_probe_every_steps=0",
    "design.name=bplight",
    "hardware.optical_engine=twin", "hardware.electrical_engine=twin",
    "hardware.spot_check=0.0",
)
"""Default settings of ``cosim ablate``: the demo's LeNet-5 (``cosim.cli.demo``), its 6
epochs (the mixed-precision update on the RealDevice card needs them: with 3 its runs
end several points lower), no spot checks, no checkpoints and no error probes."""

QUICK_OVERRIDES: tuple[str, ...] = (
    "training.epochs=1", "training.max_steps=2", "data.train_limit=64",
    "data.test_limit=32", "model.width=0.34",
)
"""Extra settings of ``--quick`` (tests: a tiny subset, accuracies not meaningful)."""


@dataclass(frozen=True)
class AblationConfig:
    """One row of the ablation.

    Attributes
    ----------
    name : str
        Row label (unique).
    nonideality : str
        What is switched on ("none", "weight device", ..., "all").
    mitigation : str
        The mitigation applied ("" for none).
    overrides : tuple of str
        Dotted ``KEY=VALUE`` overrides applied to the run config.
    """

    name: str
    nonideality: str
    mitigation: str
    overrides: tuple[str, ...]


def ablation_configurations(*, adc_bits: int = 10, averaging: int = 16,
                            crosstalk: bool = True) -> list[AblationConfig]:
    """The rows of the ablation (see the module docstring).

    Parameters
    ----------
    adc_bits : int
        ADC resolution of the "converters" row (>= 1).
    averaging : int
        Reads averaged per product in the noise mitigation (``readout_averaging``, >= 2).
    crosstalk : bool
        Include the crosstalk row (and crosstalk in the "all" rows).
    """
    if isinstance(adc_bits, bool) or not isinstance(adc_bits, int) or adc_bits < 1:
        raise ConfigError(f"ablation adc_bits={adc_bits!r}: give an integer >= 1")
    if isinstance(averaging, bool) or not isinstance(averaging, int) or averaging < 2:
        raise ConfigError(f"ablation averaging={averaging!r}: give an integer >= 2 (reads "
                          "averaged per product in the noise mitigation)")
    base = ("hardware.noise=false", *IDEALISED_OVERRIDES, "design.readout_averaging=1")
    device = (f"design.weight_device={ABLATION_DEVICE}", "design.update_policy=pulse")
    device_fix = (f"design.weight_device={ABLATION_DEVICE}",
                  "design.update_policy=mixed-precision")
    noise = ("hardware.noise=true", "design.readout_averaging=1")
    noise_fix = ("hardware.noise=true", f"design.readout_averaging={averaging}")
    adc = (f"design.converters.adc_bits={adc_bits}",)
    xtalk = ("design.crosstalk=true", "design.calibration=none") if crosstalk else ()
    xtalk_fix = ("design.crosstalk=true", "design.calibration=in_loop") if crosstalk else ()
    rows = [
        AblationConfig("float", "none (float)", "", ("design.name=ideal",)),
        AblationConfig("hardware, all off", "none", "", base),
        AblationConfig("weight device", f"weight device ({ABLATION_DEVICE}, pulse update)",
                       "", base + device),
        AblationConfig("weight device + mixed-precision",
                       f"weight device ({ABLATION_DEVICE})", "mixed-precision update",
                       base + device_fix),
        AblationConfig("readout noise", "readout noise, 1 read", "", base + noise),
        AblationConfig(f"readout noise + {averaging} reads", "readout noise",
                       f"{averaging} reads averaged", base + noise_fix),
        AblationConfig(f"ADC {adc_bits} bit", f"ADC at {adc_bits} bits", "", base + adc),
    ]
    if crosstalk:
        rows += [AblationConfig("crosstalk", "ring crosstalk, uncalibrated", "",
                                base + xtalk),
                 AblationConfig("crosstalk + calibration", "ring crosstalk",
                                "in-loop bank calibration", base + xtalk_fix)]
    rows += [
        AblationConfig("all, unmitigated", "all", "", base + device + noise + adc + xtalk),
        AblationConfig("all, mitigated", "all",
                       f"mixed-precision, {averaging} reads averaged"
                       + (", in-loop calibration" if crosstalk else ""),
                       base + device_fix + noise_fix + adc + xtalk_fix),
        AblationConfig("design as shipped", "the design's own values",
                       "the design's own", ()),
    ]
    return rows


def _run_one(task: tuple) -> tuple[str, int, float, float, str]:
    """Train one (configuration, seed); returns (row, seed, test accuracy, seconds,
    run file).  A module-level function so worker processes can run it."""
    from cosim.config import override_config
    from cosim.orchestrator.run import train

    config, row, overrides, seed, path = task
    cfg = override_config(config, [*overrides, f"seed={seed}"])
    t0 = time.perf_counter()
    r = train(cfg, path, overrides=[*overrides, f"seed={seed}"], overwrite=True, quiet=True)
    return row, seed, float(r.final_test_acc), time.perf_counter() - t0, str(path)


def _watch(parent_pid: int, parent_main_thread: bool) -> None:
    """Worker initializer: end with the process that started the pool
    (:func:`cosim.processes.watch_parent`)."""
    from cosim.processes import watch_parent

    watch_parent(parent_pid, death_signal=parent_main_thread)


def run_ablation(config, out_dir: str | Path, *, seeds: int = 3,
                 rows: Sequence[AblationConfig] | None = None, jobs: int = 1,
                 on_result: Callable[[str, int, float, float], None] | None = None) -> dict:
    """Train every configuration of ``rows`` (default :func:`ablation_configurations`)
    for ``seeds`` seeds starting at ``config.seed``; run files go to
    ``out_dir/ablate_runs/``.  ``jobs > 1`` trains in that many worker processes.
    ``on_result(row, seed, accuracy, seconds)`` is called as each run finishes.
    Returns :func:`ablation_summary` (also written to ``out_dir/ablate.json``)."""
    from cosim.config import override_config

    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"--seeds takes a positive number of seeds, got {seeds!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"--jobs takes a positive number of processes, got {jobs!r}")
    rows = list(ablation_configurations() if rows is None else rows)
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ConfigError(f"ablation rows must have unique names, got {names}")
    for r in rows:                       # validate every configuration before training
        override_config(config, list(r.overrides))
    out_dir = Path(out_dir)
    run_dir = out_dir / "ablate_runs"
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_list = list(range(config.seed, config.seed + seeds))
    tasks = [(config, r.name, r.overrides, s, run_dir / f"{_slug(r.name)}_seed{s}.h5")
             for r in rows for s in seed_list]
    acc: dict[tuple[str, int], float] = {}
    secs: dict[tuple[str, int], float] = {}
    files: dict[tuple[str, int], str] = {}

    def done(res):
        row, seed, a, t, f = res
        acc[row, seed], secs[row, seed], files[row, seed] = a, t, f
        if on_result is not None:
            on_result(row, seed, a, t)

    if jobs == 1:
        for task in tasks:
            done(_run_one(task))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from cosim.processes import started_from_main_thread

        ctx = multiprocessing.get_context("spawn")
        # workers end with this process, however it ends (cosim.processes)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_watch,
                                 initargs=(os.getpid(), started_from_main_thread())) as pool:
            for fut in as_completed([pool.submit(_run_one, t) for t in tasks]):
                done(fut.result())
    results = {r.name: {"accuracy": [acc[r.name, s] for s in seed_list],
                        "seconds": [secs[r.name, s] for s in seed_list],
                        "files": [files[r.name, s] for s in seed_list]} for r in rows}
    summary = ablation_summary(rows, seed_list, results, config)
    (out_dir / "ablate.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def ablation_summary(rows: Sequence[AblationConfig], seeds: list[int],
                     results: dict[str, dict], config=None) -> dict:
    """Statistics of the ablation: per row the accuracies per seed, their
    :func:`~cosim.orchestrator.seeds.seed_statistics`, and (when a ``float`` row is
    present) the statistics of the paired difference row - float per seed.  ``config``
    (the run config) is recorded when given."""
    ref = results.get("float", {}).get("accuracy")
    out_rows = []
    for r in rows:
        a = results[r.name]["accuracy"]
        entry = {**asdict(r), "overrides": list(r.overrides), "seeds": list(seeds),
                 "accuracy": a, "stats": _clean(seed_statistics(a)),
                 "seconds": results[r.name].get("seconds", []),
                 "files": results[r.name].get("files", [])}
        if ref is not None and r.name != "float":
            entry["vs_float"] = _clean(seed_statistics(np.subtract(a, ref)))
        out_rows.append(entry)
    out = {"seeds": list(seeds), "rows": out_rows}
    if config is not None:
        out["config"] = config.to_dict()
    return out


def _clean(stats: dict) -> dict:
    """NaN (one seed) as None, so the JSON is valid."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in stats.items()}


def format_ablation_table(summary: dict) -> str:
    """The ablation as a text table (accuracies in %), the seeds stated."""
    rows = summary["rows"]
    width = max(len(r["name"]) for r in rows) + 2

    def pct(v) -> str:
        return "   -" if v is None else f"{100 * v:6.2f}"

    lines = [f"test accuracy over {len(summary['seeds'])} seed(s) "
             f"({', '.join(map(str, summary['seeds']))}), in %:",
             f"  {'configuration':<{width}}{'mean':>7}{'std':>7}   95 % interval"
             f"{'':>6}{'- float':>8}   95 % interval of the difference"]
    for r in rows:
        s, d = r["stats"], r.get("vs_float")
        ci = ("-" if s["ci_low"] is None else
              f"{100 * s['ci_low']:.2f} .. {100 * s['ci_high']:.2f}")
        diff = "" if d is None else (
            f"{pct(d['mean']):>8}   " + ("-" if d["ci_low"] is None else
                                         f"{100 * d['ci_low']:+.2f} .. "
                                         f"{100 * d['ci_high']:+.2f}"))
        lines.append(f"  {r['name']:<{width}}{pct(s['mean']):>7}{pct(s['std']):>7}   "
                     f"{ci:<19}{diff}")
    return "\n".join(lines)
