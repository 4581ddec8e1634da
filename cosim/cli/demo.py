"""``cosim demo``: LeNet-5 trained on the simulated BPLight accelerator, beside float.

The same network (LeNet-5 style, reduced width), the same seed and the same data order
(scikit-learn's 8x8 digits, resized to 32x32) are trained twice:

* on the "bplight" architecture: photonic tiles with memristor-held weights, 16-bit
  DACs and ADCs, twin engines (numpy transfer matrices for the optics, the readout
  chain's measured transfer for the electronics) with a small fraction of layer steps
  also run in ngspice (spot checks: the twin-vs-spice error is recorded);
* in ideal float arithmetic (architecture "ideal": plain numpy training).

Then it runs the ablation (:mod:`cosim.orchestrator.ablate`, the runs of ``cosim
ablate``): the same network trained with each non-ideality of the design switched on
alone and all together, with and without its mitigation, next to float, over 3 seeds
(``--no-ablation`` leaves it out; it takes most of the demo's time).

It writes ``runs/demo.h5`` and ``runs/demo_ideal.h5`` (run files), the ablation's run
files in ``runs/ablate_runs/`` and its summary ``runs/ablate.json``, then
``runs/demo_report.html`` (loss and accuracy curves of both, spot-check errors,
out-of-range counts, the ablation table and bar plot; PNGs in
``runs/demo_report_files/``), and prints both accuracies, their difference and the
ablation table.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

DEMO_OVERRIDES: tuple[str, ...] = (
    "seed=0",
    "model.name=lenet5", "model.width=0.5",
    "training.epochs=6", "training.batch_size=32", "training.lr=0.02",
    "training.momentum=0.9", "training.lr_schedule=cosine", "training.signal_every_steps=5",
    "design.name=bplight",
    "hardware.optical_engine=twin", "hardware.electrical_engine=twin",
    "hardware.spot_check=0.01",
)
"""Settings of the hardware run (the float run changes only the design, to ``ideal``)."""

QUICK_OVERRIDES: tuple[str, ...] = (
    "training.epochs=1", "data.train_limit=256", "data.test_limit=128",
    "model.width=0.34", "hardware.spot_check=0.05",
)
"""Extra settings of ``--quick`` (a few seconds; for tests, accuracy not meaningful)."""


@dataclass
class DemoResult:
    """What :func:`run_demo` returns (the CLI prints it)."""

    hardware_run: Path
    ideal_run: Path
    report: Path
    hardware_test_acc: float
    ideal_test_acc: float
    spot_checks: int
    spot_check_max_rel_error: float | None
    out_of_range: dict
    hardware_time_s: float
    ideal_time_s: float
    total_time_s: float
    seeds: dict | None = None  # SeedsResult.summary() over all seeds of the demo
    ablation: dict | None = None  # cosim.orchestrator.ablate.run_ablation summary

    @property
    def accuracy_gap(self) -> float:
        """Float minus hardware test accuracy (fraction)."""
        return self.ideal_test_acc - self.hardware_test_acc


def demo_configs(epochs: int | None = None, quick: bool = False):
    """(hardware config, float config) of the demo."""
    from cosim.config import load_config, override_config

    items = list(DEMO_OVERRIDES) + (list(QUICK_OVERRIDES) if quick else [])
    if epochs is not None:
        items.append(f"training.epochs={int(epochs)}")
    hw = load_config(None, items)
    ideal = override_config(hw, ["design.name=ideal", "hardware.spot_check=0.0"])
    return hw, ideal


def run_demo(out_dir: str | Path = "runs", *, epochs: int | None = None,
             quick: bool = False, quiet: bool = False, seeds: int = 1,
             ablation_seeds: int = 0, jobs: int = 1) -> DemoResult:
    """Train both runs, write the run files and the report; return the figures.

    With ``seeds`` > 1 the pair is trained again with seeds 1 .. seeds-1
    (``demo_seedS.h5``, ``demo_seedS_float.h5``) and the report and the result carry
    the accuracy statistics over all seeds (``demo_seeds.json``).  With
    ``ablation_seeds`` > 0 the ablation (:func:`cosim.orchestrator.ablate.run_ablation`
    with the settings of ``cosim ablate``, ``--quick`` ones with ``quick``) is trained
    over that many seeds in ``jobs`` worker processes and its table and bar plot go into
    the report."""
    from cosim.orchestrator import train
    from cosim.report import write_training_report

    t0 = time.perf_counter()
    from cosim.paths import user_path

    out_dir = Path(out_dir)
    with user_path(out_dir, "output directory", "give --out-dir a writable directory"):
        out_dir.mkdir(parents=True, exist_ok=True)
    hw_cfg, ideal_cfg = demo_configs(epochs, quick)
    hw = train(hw_cfg, out_dir / "demo.h5", overwrite=True, quiet=quiet,
               overrides=DEMO_OVERRIDES)
    ideal = train(ideal_cfg, out_dir / "demo_ideal.h5", overwrite=True, quiet=quiet)
    from cosim.store.runs import RunFile

    s = RunFile(hw.path).summary()
    gap = ideal.final_test_acc - hw.final_test_acc
    seed_summary = None
    if seeds > 1:
        from cosim.config import override_config
        from cosim.orchestrator.seeds import SeedsResult, train_seeds

        first = SeedsResult([hw_cfg.seed], [hw.final_test_acc], [ideal.final_test_acc],
                            hw_cfg.design.name, [str(hw.path), str(ideal.path)])
        more = override_config(hw_cfg, [f"seed={hw_cfg.seed + 1}"])
        seed_summary = train_seeds(more, out_dir / "demo.h5", seeds - 1, overwrite=True,
                                   quiet=quiet, overrides=DEMO_OVERRIDES,
                                   start=first).summary()
    ablation = None
    if ablation_seeds > 0:
        ablation = _run_ablation(out_dir, quick=quick, quiet=quiet, seeds=ablation_seeds,
                                 jobs=jobs)
    design = RunFile(hw.path).read_design()
    notes = [
        f"LeNet-5 (width {hw_cfg.model.width}) on the scikit-learn digits resized to 32x32, "
        f"{hw_cfg.training.epochs} epoch(s), batch {hw_cfg.training.batch_size}, SGD lr "
        f"{hw_cfg.training.lr} ({hw_cfg.training.lr_schedule}) momentum "
        f"{hw_cfg.training.momentum}, seed {hw_cfg.seed}; both "
        f"runs share the initial weights and the data order.",
        f"{design.name}: DAC {design['converters.dac_bits']} bit (full scale per "
        f"{'input vector, a power of two' if design['dac_scale'] == 'row' else 'product'}"
        f"), ADC {design['converters.adc_bits']} bit, {design['tile_rows']}x"
        f"{design['tile_cols']} tiles, {design['readout_averaging']} reads per output, "
        f"weights held by {design['weight_device']} devices with the "
        f"{design['update_policy']} update, ring crosstalk "
        f"{('on, calibration ' + str(design['calibration'])) if design['crosstalk'] else 'off'}"
        ", "
        f"optical engine {hw_cfg.hardware.optical_engine}, electrical engine "
        f"{hw_cfg.hardware.electrical_engine}, spot-check fraction "
        f"{hw_cfg.hardware.spot_check}.",
        f"Final test accuracy: bplight {100 * hw.final_test_acc:.2f} %, float "
        f"{100 * ideal.final_test_acc:.2f} %, bplight - float {-100 * gap:+.2f} points.",
    ]
    if seed_summary is not None:
        from cosim.orchestrator.seeds import format_seed_table

        notes.append(format_seed_table(seed_summary).replace("\n", "; ") +
                     " (95 % Student-t intervals of the mean; the difference is paired per "
                     "seed; the curves below are seed "
                     f"{hw_cfg.seed}).")
    if quick:
        notes.append("--quick: a tiny subset and one epoch; accuracies are not meaningful.")
    report = write_training_report({"bplight": hw.path, "float (ideal)": ideal.path},
                                   out_dir / "demo_report.html",
                                   title="bplight-cosim demo: LeNet-5 on BPLight vs float",
                                   notes=notes, ablation=ablation)
    return DemoResult(hardware_run=hw.path, ideal_run=ideal.path, report=report,
                      hardware_test_acc=hw.final_test_acc, ideal_test_acc=ideal.final_test_acc,
                      spot_checks=s["spot_checks"],
                      spot_check_max_rel_error=s["spot_check_max_rel_error"],
                      out_of_range=s["hardware_totals"], hardware_time_s=hw.elapsed_s,
                      ideal_time_s=ideal.elapsed_s, total_time_s=time.perf_counter() - t0,
                      seeds=seed_summary, ablation=ablation)


def _run_ablation(out_dir: Path, *, quick: bool, quiet: bool, seeds: int,
                  jobs: int) -> dict:
    """The ablation of ``cosim ablate`` (its default run config) into ``out_dir``."""
    from cosim.config import load_config
    from cosim.orchestrator.ablate import (
        ABLATE_OVERRIDES,
        QUICK_OVERRIDES,
        ablation_configurations,
        run_ablation,
    )

    config = load_config(None, list(ABLATE_OVERRIDES)
                         + (list(QUICK_OVERRIDES) if quick else []))
    rows = ablation_configurations()
    total = len(rows) * seeds
    done = []
    if not quiet:
        print(f"ablation: {len(rows)} configurations x {seeds} seed(s) = {total} runs of "
              f"{config.training.epochs} epoch(s) in {jobs} process(es)", flush=True)

    def show(row: str, seed: int, acc: float, secs: float) -> None:
        done.append(row)
        if not quiet:
            print(f"  ablation {len(done)}/{total}  {row:<34} seed {seed}: test accuracy "
                  f"{100 * acc:6.2f} % ({secs:.0f} s)", flush=True)

    return run_ablation(config, out_dir, seeds=seeds, rows=rows, jobs=jobs,
                        on_result=show)


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="train LeNet-5 on the simulated BPLight "
                                           "accelerator beside float; write an HTML report",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", type=Path, default=Path("runs"),
                   help="directory of the run files and the report (default runs/)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of both runs")
    p.add_argument("--quick", action="store_true",
                   help="tiny subset, one epoch (seconds; for tests)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="train the demo pair with N seeds and report the accuracy "
                        "statistics (default 1: the ablation gives statistics over seeds)")
    p.add_argument("--ablation-seeds", type=int, default=None, metavar="N",
                   help="seeds per ablation configuration (default 3; 1 with --quick)")
    p.add_argument("--no-ablation", action="store_true",
                   help="leave out the ablation (most of the demo's time)")
    p.add_argument("--jobs", type=int, default=2, metavar="J",
                   help="worker processes of the ablation (default 2)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    abl = 0 if args.no_ablation else (
        args.ablation_seeds if args.ablation_seeds is not None else (1 if args.quick else 3))
    r = run_demo(args.out_dir, epochs=args.epochs, quick=args.quick, quiet=args.quiet,
                 seeds=args.seeds, ablation_seeds=abl, jobs=args.jobs)
    print("bplight-cosim demo: LeNet-5 on the digits, BPLight hardware vs float")
    print(f"  test accuracy  bplight {100 * r.hardware_test_acc:6.2f} %   float "
          f"{100 * r.ideal_test_acc:6.2f} %   bplight - float "
          f"{-100 * r.accuracy_gap:+.2f} points")
    spot = ("none" if not r.spot_checks else
            f"{r.spot_checks}, max relative error {r.spot_check_max_rel_error:.3g}")
    if r.seeds is not None:
        from cosim.orchestrator.seeds import format_seed_table

        print("  " + format_seed_table(r.seeds).replace("\n", "\n  "))
    if r.ablation is not None:
        from cosim.orchestrator.ablate import format_ablation_table

        print("  ablation, " + format_ablation_table(r.ablation).replace("\n", "\n  "))
    print(f"  spot checks (twin vs spice)  {spot}")
    o = r.out_of_range
    print(f"  out of range   saturated TIA {o['saturated_tia']}, clipped ADC "
          f"{o['clipped_adc']}, below noise floor {o['below_noise_floor']} (of "
          f"{o['samples']} samples)")
    print(f"  time           bplight {r.hardware_time_s:.1f} s, float {r.ideal_time_s:.1f} s, "
          f"total {r.total_time_s:.1f} s")
    print(f"  wrote {r.hardware_run}, {r.ideal_run}, {r.report}")
    return 0
