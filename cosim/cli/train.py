"""``cosim train``: train a CNN on the simulated accelerator, writing one HDF5 run file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Train a CNN where every forward product, every error backpropagation and every weight
update goes through the simulated hardware (see cosim.orchestrator). The run file
(HDF5) holds the config, metrics per step and per epoch, checkpoints, sampled signals,
spot-check errors and the tile netlists. Ctrl-C (exit status 130) or SIGTERM (143)
writes a checkpoint and exits; --resume continues bit-identically; --resume --epochs N
extends a run (finished or not) to N epochs in total, equal bit for bit to a straight
N-epoch run (refused for the cosine learning-rate schedule, which depends on the total).

Examples:
  cosim train --config workflows/configs/lenet_digits.toml --out runs/lenet.h5
  cosim train --config FILE --set design.converters.adc_bits=4 --set hardware.noise=false
  cosim train --design electronic --set design.tile_rows=32 --out runs/xbar.h5
  cosim train --resume --out runs/lenet.h5
  cosim train --resume --epochs 10 --out runs/lenet.h5   # extend to 10 epochs
  cosim train --seeds 3 --out runs/lenet.h5      # 3 seeds, hardware and float, statistics
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, metavar="FILE",
                   help="run config (TOML); default: built-in defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="dotted override, value in TOML syntax, e.g. design.converters.adc_bits=4 "
                        "(repeatable)")
    p.add_argument("--engine", choices=("ideal", "twin", "spice"),
                   help="electrical engine (sets hardware.electrical_engine)")
    p.add_argument("--design", metavar="NAME|FILE",
                   help="the accelerator: a shipped design (ideal, bplight, electronic, "
                        "photonic-mzi; `cosim design list`) or a design card file (sets "
                        "design.name; design values are set with --set design.NAME=VALUE)")
    p.add_argument("--allow-design-change", action="store_true",
                   help="with --resume: continue although a card of the run's design "
                        "changed since it started (the change is recorded in the run file)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="sets training.epochs; with --resume: extend the run to N epochs "
                        "in total")
    p.add_argument("--seed", type=int, help="sets seed")
    p.add_argument("--out", type=Path, default=Path("runs/run.h5"), metavar="RUN.h5",
                   help="run file to write (default runs/run.h5)")
    p.add_argument("--resume", action="store_true",
                   help="continue --out from its latest checkpoint (config from the file)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--seeds", type=int, metavar="N",
                   help="train N seeds (seed, seed+1, ...), each on the hardware and in "
                        "float; writes OUT_seedS.h5, OUT_seedS_float.h5 and OUT_seeds.json "
                        "and prints mean, std and 95 %% intervals of the test accuracy and "
                        "of the paired difference")


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a CNN on the simulated hardware",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=cmd_train)


def overrides_from_args(args) -> list[str]:
    """Dotted overrides from --set and the convenience flags (flags last)."""
    items = list(args.overrides)
    if args.engine is not None:
        items.append(f"hardware.electrical_engine={args.engine}")
    if args.design is not None:
        items.append(f"design.name={args.design!r}")
    if args.epochs is not None:
        items.append(f"training.epochs={args.epochs}")
    if args.seed is not None:
        items.append(f"seed={args.seed}")
    return items


def cmd_train(args) -> int:
    from cosim.config import load_config
    from cosim.errors import ConfigError
    from cosim.orchestrator import train

    overrides = overrides_from_args(args)
    if args.resume:
        if args.config is not None or [o for o in overrides
                                       if not o.startswith("training.epochs=")]:
            raise ConfigError("--resume takes its config from the run file; drop --config, "
                              "--set and the other config flags except --epochs (start a "
                              "new run to change the configuration)")
        result = train(None, args.out, resume=True, quiet=args.quiet, epochs=args.epochs,
                       allow_design_change=args.allow_design_change)
    elif args.seeds is not None:
        from cosim.orchestrator.seeds import format_seed_table, train_seeds
        from cosim.paths import read_user_text

        config = load_config(args.config, overrides)
        source = read_user_text(args.config, "config file") if args.config else ""
        res = train_seeds(config, args.out, args.seeds, overwrite=args.overwrite,
                          quiet=args.quiet, source_text=source, overrides=overrides)
        print(format_seed_table(res.summary()))
        print(f"wrote {len(res.files)} run files and "
              f"{args.out.with_name(args.out.stem + '_seeds.json')}")
        return 0
    else:
        config = load_config(args.config, overrides)
        from cosim.paths import read_user_text

        source = read_user_text(args.config, "config file") if args.config else ""
        result = train(config, args.out, source_text=source, overrides=overrides,
                       overwrite=args.overwrite, quiet=args.quiet)
    acc = result.final_test_acc
    print(f"{result.path}: {result.steps} steps, final test accuracy "
          f"{'-' if acc is None else f'{acc:.4f}'}, {result.elapsed_s:.1f} s")
    sys.stdout.flush()
    return 0
