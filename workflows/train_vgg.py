#!/usr/bin/env python3
"""Train a small VGG (32x32 inputs) on the simulated accelerator.

Default: the scikit-learn digits upsampled 8x8 -> 32x32, through the orchestrator
(cosim.orchestrator.train: run file with metrics, checkpoints, spot checks).  With
--cifar DIR: CIFAR-10 (the python-version batch folder ``cifar-10-batches-py``), 3-channel
32x32 images, trained with cosim.nn on the same hardware backend
(cosim.hw.backend.build_hardware); the orchestrator's run config covers the 1-channel
digits only, so this path prints the metrics and writes no run file.

Uses only the public API.

Examples::

    python workflows/train_vgg.py --out runs/vgg.h5
    python workflows/train_vgg.py --set hardware.architecture=electronic --width 0.125
    python workflows/train_vgg.py --cifar ~/data/cifar-10-batches-py --train-limit 2000
    python workflows/train_vgg.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _digits(args) -> int:
    from cosim.config import load_config
    from cosim.orchestrator import train

    overrides = [
        "model.name=vgg", f"model.vgg_config={args.vgg_config}", f"model.width={args.width}",
        "data.input_size=32", f"data.train_limit={args.train_limit}",
        f"data.test_limit={args.test_limit}", f"training.epochs={args.epochs}",
        f"training.batch_size={args.batch_size}", f"seed={args.seed}",
        "training.signal_every_steps=0"] + args.overrides
    config = load_config(None, overrides)
    result = train(config, args.out, overrides=overrides, overwrite=args.overwrite,
                   quiet=args.quiet)
    print(f"{result.path}: vgg ({args.vgg_config}, width {args.width}) on digits 32x32, "
          f"{config.hardware.architecture}, {result.steps} steps, final test accuracy "
          f"{result.final_test_acc:.4f} ({result.elapsed_s:.1f} s)")
    return 0


def _cifar(args) -> int:
    import numpy as np

    from cosim.config import load_config
    from cosim.hw.backend import build_hardware
    from cosim.nn import SGD, Trainer, load_cifar10, vgg
    from cosim.orchestrator import rng_streams

    config = load_config(None, args.overrides)
    data = load_cifar10(args.cifar)
    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    if args.train_limit:
        x_tr, y_tr = x_tr[:args.train_limit], y_tr[:args.train_limit]
    if args.test_limit:
        x_te, y_te = x_te[:args.test_limit], y_te[:args.test_limit]
    init_rng, shuffle_rng, hw_rng = rng_streams(args.seed)
    model = vgg(args.vgg_config, num_classes=10, in_channels=3, input_size=32,
                width=args.width)
    backend, store = build_hardware(config.hardware, model, hw_rng)
    model.backend, model.store = backend, store
    model.initialize(init_rng)
    t = config.training
    steps = args.epochs * -(-len(y_tr) // args.batch_size)
    trainer = Trainer(model, SGD(lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay,
                                 schedule=t.lr_schedule, total_steps=steps),
                      shuffle_rng, args.batch_size)
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        loss = trainer.train_epoch(x_tr, y_tr)
        acc = model.accuracy(x_te, y_te)
        print(f"epoch {epoch + 1}: train loss {loss:.4f}, test accuracy {acc:.4f} "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
    print(f"vgg ({args.vgg_config}, width {args.width}) on CIFAR-10 "
          f"({len(y_tr)} train / {len(y_te)} test images), {config.hardware.architecture}: "
          f"final test accuracy {acc:.4f}")
    return 0 if np.isfinite(loss) else 1


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
                                             "hardware.architecture=electronic")
    p.add_argument("--out", type=Path, default=Path("runs/vgg.h5"), help="run file (digits)")
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
        return _cifar(args) if args.cifar else _digits(args)
    except CosimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
