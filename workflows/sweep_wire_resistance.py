#!/usr/bin/env python3
"""Accuracy and IR-drop error vs crossbar wire resistance, through the sweep engine.

Two sweeps (cosim.sweep), each into its own HDF5 file in --out, with a plot:

1. ``ir_drop.h5``: task ``crossbar_ir_drop``: for each array size and wire resistance
   per cell pitch, the error of the native nodal solution against the ideal G^T v (the
   IR-drop error) and of the native twin against ngspice on the same netlist.
2. ``accuracy.h5``: task ``train``: LeNet-5 trained on the digits on the electronic
   (memristor crossbar) architecture at each wire resistance; final test accuracy.

Re-running with the same --out skips the points already done.  --scheduler sends the
points to a Dask distributed cluster.

Uses only the public API (cosim.sweep, cosim.report.sweep).

Examples::

    python workflows/sweep_wire_resistance.py --out runs/wire
    python workflows/sweep_wire_resistance.py --wires 0 1 5 20 --no-train
    python workflows/sweep_wire_resistance.py --quick        # small arrays, tiny training
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def ir_drop_spec(sizes: list[int], wires: list[float], spice: bool) -> str:
    return f"""
[sweep]
kind = "grid"
task = "crossbar_ir_drop"
seed = 0
description = "IR-drop error vs wire resistance (workflows/sweep_wire_resistance.py)"
[sweep.base]
array_seed = 0
spice = {json.dumps(spice)}
[sweep.grid]
rows = {json.dumps(sizes)}
wire_resistance_ohm = {json.dumps(wires)}
"""


def train_spec(wires: list[float], quick: bool) -> str:
    size = ('"data.train_limit" = 32\n"data.test_limit" = 16\n"model.width" = 0.25\n'
            '"training.epochs" = 1\n"training.batch_size" = 16\n') if quick else (
        '"data.train_limit" = 512\n"data.test_limit" = 256\n"model.width" = 0.5\n'
        '"training.epochs" = 2\n"training.batch_size" = 32\n')
    return f"""
[sweep]
kind = "grid"
task = "train"
seed = 0
description = "accuracy vs wire resistance, electronic architecture"
[sweep.base]
"design.name" = "electronic"
"data.input_size" = 28
"training.signal_every_steps" = 0
{size}
[sweep.grid]
"design.crossbar.wire_resistance_crosspoint_ohm" = {json.dumps(wires)}
"""


def _table(path: Path, names: list[str]) -> None:
    from cosim.sweep import SweepFile

    with SweepFile(path) as f:
        coords, res, st = f.coords(), f.results(), f.status()
        keys = [k for k in f.swept_keys]
        print("  ".join(f"{k[-22:]:>22}" for k in keys + names) + "  status")
        for i in range(len(st)):
            cells = [f"{coords[k][i]:>22.6g}" for k in keys]
            cells += [f"{res[n][i]:>22.6g}" if n in res else f"{'-':>22}" for n in names]
            print("  ".join(cells) + f"  {st[i]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/wire_resistance"), metavar="DIR")
    p.add_argument("--wires", type=float, nargs="+", default=None, metavar="OHM",
                   help="wire resistances per cell pitch (ohm)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, metavar="N",
                   help="crossbar rows (16 columns) of the IR-drop sweep")
    p.add_argument("--no-spice", action="store_true", help="skip the ngspice comparison")
    p.add_argument("--no-train", action="store_true", help="skip the accuracy sweep")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    p.add_argument("--workers", type=int, default=None, help="local pool size")
    p.add_argument("--quick", action="store_true",
                   help="small arrays, 3 wire values, a 2-step training (for tests)")
    args = p.parse_args(argv)

    from cosim.report.sweep import plot_sweep
    from cosim.sweep import parse_spec, run_sweep

    wires = args.wires or ([0.0, 1.0, 5.0] if args.quick else [0.0, 0.5, 1.0, 2.5, 5.0, 10.0])
    sizes = args.sizes or ([4, 8] if args.quick else [16, 32, 64])
    args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    spec = parse_spec(ir_drop_spec(sizes, wires, not args.no_spice), "ir_drop sweep")
    rep = run_sweep(spec, args.out / "ir_drop.h5", scheduler=args.scheduler,
                    workers=args.workers)
    print(rep.summary("IR-drop sweep"))
    _table(rep.path, ["ir_drop_max_rel_error", "twin_vs_spice_max_rel_error"])
    plot_sweep(rep.path, ["ir_drop_max_rel_error", "ir_drop_rms_rel_error",
                          "twin_vs_spice_max_rel_error"],
               out=args.out / "ir_drop.png")
    status |= rep.failed > 0
    if not args.no_train:
        spec = parse_spec(train_spec(wires, args.quick), "accuracy sweep")
        rep = run_sweep(spec, args.out / "accuracy.h5", scheduler=args.scheduler,
                        workers=args.workers)
        print(rep.summary("accuracy sweep"))
        _table(rep.path, ["final_test_acc", "final_train_loss"])
        plot_sweep(rep.path, ["final_test_acc", "final_train_loss"],
                   out=args.out / "accuracy.png")
        status |= rep.failed > 0
    print(f"results and plots in {args.out}")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
