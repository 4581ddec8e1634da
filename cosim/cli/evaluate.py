"""``cosim eval`` and ``cosim export``: the stored weights of a run, measured or written out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EVAL_DESCRIPTION = """\
Evaluate the weights of a run file's latest checkpoint on the test (or validation) split
and print the accuracy with its 95 % binomial (Wilson) interval. On the run's own
hardware the recorded noise state is restored, so the figure equals the run's own
evaluation at that checkpoint; with other hardware settings the weights the devices held
are programmed into that hardware.

Examples:
  cosim eval runs/demo.h5
  cosim eval runs/demo.h5 --design ideal                # the same weights in float
  cosim eval runs/demo.h5 --set design.converters.adc_bits=8   # on coarser converters
  cosim eval runs/demo.h5 --after 86400                 # after 1 day of retention
"""

EXPORT_DESCRIPTION = """\
Write the weights of a run file's latest checkpoint (what the devices held, as float
arrays in the network's units; biases included) to .npz, or to .pt with the torch extra
installed. Keys are the parameter names (conv1, conv1.bias, ...); the .npz also holds
__meta__, a JSON string with the run's model, data shape and checkpoint step.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="accuracy of a run's stored weights, on any "
                              "hardware", description=EVAL_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, metavar="RUN.h5", help="run file")
    p.add_argument("--design", metavar="NAME|FILE",
                   help="evaluate on this design (a shipped name such as ideal, or a "
                        "design card file; sets design.name); default: the design the run "
                        "trained on, as its file stores it")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="design.NAME=VALUE",
                   help="design or hardware override, value in TOML syntax (repeatable), "
                        "e.g. design.converters.adc_bits=8 or hardware.noise=false")
    p.add_argument("--split", choices=("test", "val"), default="test",
                   help="data split (default test; val needs a run with data.val_fraction)")
    p.add_argument("--after", type=float, default=0.0, metavar="SECONDS",
                   help="let the weight devices drift for this long after the checkpoint "
                        "(retention; the weight device's drift law) before evaluating")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_eval)

    e = subparsers.add_parser("export", help="write a run's stored weights (.npz or .pt)",
                              description=EXPORT_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("file", type=Path, metavar="RUN.h5", help="run file")
    e.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                   help="weights file to write: .npz, or .pt (needs bplight-cosim[torch])")
    e.set_defaults(func=cmd_export)


def cmd_eval(args) -> int:
    from cosim.orchestrator.evaluate import evaluate

    overrides = list(args.overrides)
    if args.design:
        overrides.append(f"design.name={args.design!r}")
    from cosim.orchestrator.progress import Progress

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = Progress(total, label=f"{args.file.name}: ", unit="image")
        bar.update(done)

    r = evaluate(args.file, overrides, split=args.split, after_s=args.after,
                 on_batch=progress)
    if bar is not None:
        bar.close()
    if args.json:
        print(json.dumps({"accuracy": r.accuracy, "correct": r.correct, "total": r.total,
                          "interval_95": list(r.interval), "split": r.split,
                          "same_hardware": r.same_hardware,
                          "architecture": r.architecture, "step": r.step,
                          "epoch": r.epoch, "after_s": r.after_s}, indent=1))
        return 0
    lo, hi = r.interval
    where = "the run's own hardware" if r.same_hardware else f"{r.architecture} (changed)"
    print(f"{args.file}: {r.split} accuracy {r.accuracy:.4f} ({r.correct}/{r.total}; 95 % "
          f"interval {lo:.4f}-{hi:.4f}) on {where}, weights of step {r.step} "
          f"(epoch {r.epoch})" + (f", after {r.after_s:g} s of retention" if r.after_s
                                  else ""))
    return 0


def cmd_export(args) -> int:
    import numpy as np

    from cosim.errors import ConfigError
    from cosim.orchestrator.evaluate import stored_weights
    from cosim.store.runs import RunFile

    suffix = args.output.suffix.lower()
    if suffix not in (".npz", ".pt"):
        raise ConfigError(f"--output {args.output}: give a .npz or .pt file name")
    config, weights = stored_weights(args.file)
    ck = RunFile(args.file).checkpoint()
    meta = {"run": str(args.file), "model": config.model.name, "step": ck.step,
            "epoch": ck.epoch, "input_size": config.data.input_size,
            "dataset": config.data.dataset, "architecture": config.design.name}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npz":
        np.savez(args.output, __meta__=np.array(json.dumps(meta, sort_keys=True)), **weights)
    else:
        try:
            import torch
        except ImportError:
            raise ConfigError("writing .pt needs PyTorch: pip install 'bplight-cosim[torch]' "
                              "(or write .npz)") from None
        torch.save({"state": {k: torch.from_numpy(v) for k, v in weights.items()},
                    "meta": meta}, args.output)
    print(f"wrote {args.output}: {len(weights)} arrays, "
          f"{sum(v.size for v in weights.values())} values, step {ck.step}")
    return 0
