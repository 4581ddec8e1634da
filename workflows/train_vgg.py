#!/usr/bin/env python3
"""Train a small VGG (32x32 inputs) on the simulated accelerator.

Default: the scikit-learn digits upsampled 8x8 -> 32x32; with --cifar DIR: CIFAR-10 (the
python-version batch folder ``cifar-10-batches-py``), 3-channel 32x32 images.  Either way
the run goes through the orchestrator (cosim.orchestrator.train, the same path as
``cosim train --set model.name=vgg --set data.dataset=cifar10 --set data.path=DIR``): run
file with metrics, checkpoints (--resume with ``cosim train --resume --out FILE``) and
spot checks.

Uses only the public API.

Examples::

    python workflows/train_vgg.py --out runs/vgg.h5
    python workflows/train_vgg.py --set design.name=electronic --width 0.125
    python workflows/train_vgg.py --cifar ~/data/cifar-10-batches-py --train-limit 2000
    python workflows/train_vgg.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cosim.store.runs import RunFile


def run(args) -> int:
    from cosim.config import load_config
    from cosim.orchestrator import train

    data = (["data.dataset=cifar10", f"data.path={args.cifar}"] if args.cifar
            else ["data.input_size=32"])
    overrides = data + [
        "model.name=vgg", f"model.vgg_config={args.vgg_config}", f"model.width={args.width}",
        f"data.train_limit={args.train_limit}", f"data.test_limit={args.test_limit}",
        f"training.epochs={args.epochs}", f"training.batch_size={args.batch_size}",
        f"seed={args.seed}", "training.signal_every_steps=0"] + args.overrides
    config = load_config(None, overrides)
    result = train(config, args.out, overrides=overrides, overwrite=args.overwrite,
                   quiet=args.quiet)
    run_data = json.loads(RunFile(result.path).config_attrs()["data"])
    name = "CIFAR-10" if args.cifar else "digits 32x32"
    print(f"{result.path}: vgg ({args.vgg_config}, width {args.width}) on {name} "
          f"({run_data['train']} train / {run_data['test']} test images), "
          f"{config.design.name}: {result.steps} steps, final test accuracy "
          f"{result.final_test_acc:.4f} ({result.elapsed_s:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cifar", type=Path, default=None, metavar="DIR",
                   help="CIFAR-10 python batches folder (default: upsampled digits)")
    p.add_argument("--vgg-config", default="vgg11", help="VGG layer list (cosim.nn.VGG_CONFIGS)")
    p.add_argument("--width", type=float, default=0.0625,
                   help="width multiplier (default 1/16: 4..32 channels)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--train-limit", type=int, default=512, help="training images (0 = all)")
    p.add_argument("--test-limit", type=int, default=256, help="test images (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="dotted run-config override, e.g. "
                                             "design.name=electronic")
    p.add_argument("--out", type=Path, default=Path("runs/vgg.h5"), help="run file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--quick", action="store_true",
                   help="1 epoch on 32 images, 16 test images (for tests)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.train_limit, args.test_limit, args.batch_size = 1, 32, 16, 16

    from cosim.cli.main import tune_malloc
    from cosim.errors import CosimError

    tune_malloc()                       # as the cosim command does (large temporaries)
    try:
        return run(args)
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
