#!/usr/bin/env python3
"""Accuracy spread vs device variability: Monte Carlo through the sweep engine.

Two Monte Carlo sweeps (cosim.sweep), each into its own HDF5 file in --out, with a plot:

1. ``devices.h5``: task ``memristor_variability``: write error of a memristor population
   (NeuroSim RealDevice card) for each device-to-device sigma, with the cycle-to-cycle
   sigma drawn log-uniformly.
2. ``accuracy.h5``: task ``train``: LeNet-5 on the digits on the BPLight architecture
   for each cycle-to-cycle write-noise level of the weight memristors
   (``design.weight_c2c_sigma_frac`` of the bplight design, per sqrt(pulse), fraction
   of the conductance range), repeated with --samples seeds (device noise, initial
   weights, shuffling); the spread of the final test accuracy over the samples.

Uses only the public API (cosim.sweep, cosim.report.sweep).

Examples::

    python workflows/monte_carlo_variability.py --out runs/variability
    python workflows/monte_carlo_variability.py --sigmas 0 1e-4 1e-3 --samples 8
    python workflows/monte_carlo_variability.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def device_spec(samples: int, devices: int) -> str:
    return f"""
[sweep]
kind = "monte_carlo"
task = "memristor_variability"
seed = 0
[sweep.base]
devices = {devices}
pulses = 16
[sweep.grid]
d2d_sigma_frac = [0.0, 0.05, 0.1]
[sweep.monte_carlo]
samples = {samples}
seed = 1
[sweep.monte_carlo.distributions]
c2c_sigma_frac = {{dist = "loguniform", low = 1e-4, high = 2e-2}}
"""


def train_spec(sigmas: list[float], samples: int, quick: bool) -> str:
    size = ('"data.train_limit" = 32\n"data.test_limit" = 32\n"model.width" = 0.25\n'
            '"training.epochs" = 1\n"training.batch_size" = 16\n') if quick else (
        '"data.train_limit" = 512\n"data.test_limit" = 256\n"model.width" = 0.5\n'
        '"training.epochs" = 2\n"training.batch_size" = 32\n')
    return f"""
[sweep]
kind = "monte_carlo"
task = "train"
seed = 0
[sweep.base]
"design.name" = "bplight"
"data.input_size" = 28
"training.signal_every_steps" = 0
{size}
[sweep.grid]
"design.weight_c2c_sigma_frac" = {json.dumps(sigmas)}
[sweep.monte_carlo]
samples = {samples}
"""


def _spread(path: Path, key: str, name: str) -> None:
    from cosim.sweep import SweepFile

    with SweepFile(path) as f:
        x, y = f.coords()[key], f.results().get(name)
        ok = np.array(f.status()) == "ok"
    print(f"{key:>30}  {'n':>3}  {name + ' mean':>22}  {'std':>10}  {'min':>10}  {'max':>10}")
    for v in np.unique(x):
        sel = (x == v) & ok
        if y is None or not sel.any():
            print(f"{v:>30.6g}  {0:>3}  (no successful sample)")
            continue
        s = y[sel]
        print(f"{v:>30.6g}  {sel.sum():>3}  {s.mean():>22.6g}  {s.std():>10.4g}  "
              f"{s.min():>10.4g}  {s.max():>10.4g}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/variability"), metavar="DIR")
    p.add_argument("--sigmas", type=float, nargs="+", default=None, metavar="S",
                   help="weight cycle-to-cycle sigmas (fraction of range per sqrt(pulse))")
    p.add_argument("--samples", type=int, default=None, help="Monte Carlo samples per sigma")
    p.add_argument("--no-train", action="store_true", help="skip the accuracy sweep")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    p.add_argument("--workers", type=int, default=None, help="local pool size")
    p.add_argument("--quick", action="store_true",
                   help="2 sigmas x 2 samples of a 2-step training (for tests)")
    args = p.parse_args(argv)

    from cosim.report.sweep import plot_sweep
    from cosim.sweep import parse_spec, run_sweep

    sigmas = args.sigmas or ([0.0, 1e-3] if args.quick else [0.0, 1e-5, 1e-4, 1e-3])
    samples = args.samples or (2 if args.quick else 6)
    args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    spec = parse_spec(device_spec(samples, 200 if args.quick else 2000), "device MC")
    rep = run_sweep(spec, args.out / "devices.h5", scheduler=args.scheduler,
                    workers=args.workers)
    print(rep.summary("device Monte Carlo"))
    _spread(rep.path, "d2d_sigma_frac", "error_rms_frac")
    plot_sweep(rep.path, ["error_rms_frac", "error_mean_frac", "at_limit_fraction"],
               out=args.out / "devices.png")
    status |= rep.failed > 0
    if not args.no_train:
        spec = parse_spec(train_spec(sigmas, samples, args.quick), "accuracy MC")
        rep = run_sweep(spec, args.out / "accuracy.h5", scheduler=args.scheduler,
                        workers=args.workers)
        print(rep.summary("accuracy Monte Carlo"))
        _spread(rep.path, "design.weight_c2c_sigma_frac", "final_test_acc")
        plot_sweep(rep.path, ["final_test_acc", "final_train_loss", "below_noise_floor"],
                   out=args.out / "accuracy.png")
        status |= rep.failed > 0
    print(f"results and plots in {args.out}")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
