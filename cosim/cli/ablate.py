"""``cosim ablate``: each non-ideality alone and all together, with and without its
mitigation, over several seeds (:mod:`cosim.orchestrator.ablate`); writes
``OUT_DIR/ablate.json``, ``OUT_DIR/ablate.html`` with the table and ``OUT_DIR/ablate.png``
(bar plot of test accuracy, mean and 95 % interval, against float)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Train the same network with each non-ideality switched on alone (weight device
RealDevice with pulse update, readout noise at one read, converters at fewer ADC bits,
ring crosstalk with single-ring programming) and all together, each with and without its
mitigation where one exists (mixed-precision update; averaged reads; in-loop bank
calibration), next to float, to the hardware with every non-ideality off and to the
design as shipped; every configuration over N seeds (seed, seed+1, ...). Prints the
table (mean, std, 95 % interval, paired difference to float) and writes a JSON summary,
an HTML report and a bar plot. Default run config: the demo's LeNet-5 on the digits (6
epochs) with no spot checks.

Examples:
  cosim ablate                                   # 12 configurations x 3 seeds
  cosim ablate --jobs 2 --out-dir runs/ablate
  cosim ablate --config workflows/configs/lenet_digits.toml --set training.epochs=6
  cosim ablate --quick --seeds 2                 # tiny subset (tests)
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("ablate", help="accuracy cost of each non-ideality and of "
                                             "its mitigation, over seeds, vs float",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="run config (TOML); default: the demo's LeNet-5 (6 epochs)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="dotted override of the run config (repeatable)")
    p.add_argument("--seeds", type=int, default=3, metavar="N",
                   help="seeds per configuration (default 3)")
    p.add_argument("--adc-bits", type=int, default=10, metavar="B",
                   help="ADC resolution of the converters configuration (default 10)")
    p.add_argument("--averaging", type=int, default=16, metavar="K",
                   help="reads averaged in the readout-noise mitigation (default 16)")
    p.add_argument("--no-crosstalk", action="store_true",
                   help="leave out the crosstalk configurations and crosstalk in the "
                        "'all' rows (the slowest)")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="worker processes (runs are independent; default 1)")
    p.add_argument("--out-dir", type=Path, default=Path("runs/ablate"),
                   help="directory of the run files and the report (default runs/ablate)")
    p.add_argument("--quick", action="store_true",
                   help="tiny subset, one epoch (seconds per run; for tests)")
    p.add_argument("--quiet", action="store_true", help="no per-run lines")
    p.set_defaults(func=cmd_ablate)


def cmd_ablate(args) -> int:
    from cosim.config import load_config
    from cosim.orchestrator.ablate import (
        ABLATE_OVERRIDES,
        QUICK_OVERRIDES,
        ablation_configurations,
        format_ablation_table,
        run_ablation,
    )
    from cosim.paths import user_path
    from cosim.report.ablate import write_ablation_report

    items = ([] if args.config is not None else list(ABLATE_OVERRIDES)) \
        + (list(QUICK_OVERRIDES) if args.quick else []) + list(args.overrides)
    config = load_config(args.config, items)
    rows = ablation_configurations(adc_bits=args.adc_bits, averaging=args.averaging,
                                   crosstalk=not args.no_crosstalk)
    with user_path(args.out_dir, "output directory", "give --out-dir a writable directory"):
        args.out_dir.mkdir(parents=True, exist_ok=True)

    def show(row: str, seed: int, acc: float, secs: float) -> None:
        if not args.quiet:
            print(f"  {row:<34} seed {seed}: test accuracy {100 * acc:6.2f} % "
                  f"({secs:.0f} s)", flush=True)

    if not args.quiet:
        print(f"cosim ablate: {len(rows)} configurations x {args.seeds} seed(s) from seed "
              f"{config.seed}", flush=True)
    summary = run_ablation(config, args.out_dir, seeds=args.seeds, rows=rows,
                           jobs=args.jobs, on_result=show)
    c = config
    notes = [f"Network {c.model.name} (width {c.model.width}) on {c.data.dataset}, "
             f"{c.training.epochs} epoch(s), batch {c.training.batch_size}, SGD lr "
             f"{c.training.lr} ({c.training.lr_schedule}), momentum {c.training.momentum}; "
             f"design {c.design.name}."]
    if args.quick:
        notes.append("--quick: a tiny subset and one epoch; accuracies are not meaningful.")
    report = write_ablation_report(summary, args.out_dir / "ablate.html", notes=notes)
    print(format_ablation_table(summary))
    print(f"wrote {args.out_dir / 'ablate.json'}, {report}, {report.with_suffix('.png')}")
    sys.stdout.flush()
    return 0
