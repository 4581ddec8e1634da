#!/usr/bin/env python3
"""Train LeNet-5 on the simulated accelerator from a config file; print the result.

Uses only the public API (cosim.config, cosim.orchestrator, cosim.store.runs).

Examples::

    python workflows/train_lenet.py                         # workflows/configs/lenet_digits.toml
    python workflows/train_lenet.py --set design.converters.adc_bits=4 --out runs/lenet_4bit.h5
    python workflows/train_lenet.py --resume --out runs/lenet.h5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "configs" / "lenet_digits.toml"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help=f"run config (TOML), default {DEFAULT_CONFIG.relative_to(HERE.parent)}")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="dotted override, e.g. design.converters.adc_bits=4")
    p.add_argument("--out", type=Path, default=Path("runs/lenet.h5"), help="run file")
    p.add_argument("--resume", action="store_true", help="continue --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    args = p.parse_args(argv)

    from cosim.cli.main import tune_malloc
    from cosim.config import load_config
    from cosim.errors import CosimError
    from cosim.orchestrator import TrainingInterrupted, train
    from cosim.store.runs import RunFile

    tune_malloc()                       # as the cosim command does (large temporaries)

    try:
        if args.resume:
            result = train(None, args.out, resume=True, quiet=args.quiet)
        else:
            config = load_config(args.config, args.overrides)
            result = train(config, args.out, source_text=args.config.read_text(),
                           overrides=args.overrides, overwrite=args.overwrite,
                           quiet=args.quiet)
    except TrainingInterrupted as exc:       # SIGINT (130) or SIGTERM (143)
        print(exc, file=sys.stderr)
        return 128 + exc.signum
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    s = RunFile(result.path).summary()
    d = s["design"]
    print(f"{result.path}: design {d['name']}, {d['converters.adc_bits']}-bit ADC, "
          f"{s['epochs_done']} "
          f"epochs, final test accuracy {s['final_test_acc']:.4f}, spot checks "
          f"{s['spot_checks']}, saturated TIA {s['hardware_totals']['saturated_tia']}, "
          f"clipped ADC {s['hardware_totals']['clipped_adc']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
