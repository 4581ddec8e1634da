"""What a training step's ADC conversions leave for the speed targets of the photonic twin.

Every output of a product on the photonic tiles is read once per tile column and per
optical pass (the positive and the negative part of a signed input), and each read is a
readout-noise draw, a TIA curve lookup and an ADC conversion (cosim.hw.kernels.
convert_block); the ideal step does one multiply-accumulate per weight instead.  This
script counts the conversions of one training step (the hardware counters,
``samples``) of LeNet-5 and VGG-11 at batch 64 on CIFAR-sized random data and sets them
against the measured steps:

* ``extra ns/conversion``: (twin step - ideal step) / conversions, the twin's whole
  extra cost spread over its conversions (wall time, all cores);
* ``budget ns/conversion``: (target - 1) x ideal step / conversions, the most a
  conversion may cost, everything else free, for the twin to stay within the target
  ratio of issue 20 (LeNet-5 2x, VGG-11 3x).

Networks, data and hardware as :func:`training.network_trainer` (design
``bplight-idealised``: the design the targets were stated for); steps measured as
:func:`training.isolated_network_step_times` (a process each, one warm-up step), twin
and ideal alternating ``--repeats`` times.

Run: ``.venv/bin/python benchmarks/conversions.py [--steps N] [--repeats R]
[--models lenet5,vgg11]``.  Prints a table and rewrites its own section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import child_json, machine, write_section  # noqa: E402
from training import IDEALISED, isolated_network_step_times  # noqa: E402

#: Target ratio twin / ideal of issue 20 per model.
TARGETS = {"lenet5": 2.0, "vgg11": 3.0}


def conversions_per_step(model: str) -> int:
    """ADC conversions of one training step of ``model`` on the bplight-idealised twin
    (the hardware counters of the second step; in a child process)."""
    code = "\n".join([
        "import json, sys",
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})",
        "from training import IDEALISED, network_trainer",
        f"trainer, x, labels = network_trainer(IDEALISED, model={model!r})",
        "trainer.step(x, labels)",
        "stats = trainer.model.backend.stats",
        "stats.reset()",
        "trainer.step(x, labels)",
        "print(json.dumps(stats.totals()['samples']))"])
    return int(child_json(code, f"counting the conversions of {model}"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2, help="measured steps per run")
    p.add_argument("--repeats", type=int, default=2,
                   help="alternating runs of ideal and twin per model")
    p.add_argument("--models", default="lenet5,vgg11",
                   help=f"comma-separated, of {', '.join(TARGETS)}")
    args = p.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in TARGETS]
    if unknown or not models:
        p.error(f"--models {args.models!r}: choose from {', '.join(TARGETS)}")
    if args.steps < 1 or args.repeats < 1:
        p.error("--steps and --repeats must be at least 1")
    cores = os.cpu_count() or 1
    load_start = os.getloadavg()
    lines = [f"{'model':<7} {'conversions/step':>17} {'ideal step':>11} {'twin step':>10} "
             f"{'x ideal':>8} {'extra ns/conversion':>20} {'budget ns/conversion':>21}"]
    for model in models:
        conv = conversions_per_step(model)
        ideal, twin = [], []
        for _ in range(args.repeats):
            ideal.append(isolated_network_step_times("ideal", args.steps, cores, model))
            twin.append(isolated_network_step_times(IDEALISED, args.steps, cores, model))
        t_i, t_t = float(np.median(np.concatenate(ideal))), float(np.median(np.concatenate(twin)))
        extra = (t_t - t_i) / conv * 1e9
        budget = (TARGETS[model] - 1.0) * t_i / conv * 1e9
        lines.append(f"{model:<7} {conv:>17.3e} {t_i * 1e3:>8.0f} ms {t_t * 1e3:>7.0f} ms "
                     f"{t_t / t_i:>7.2f}x {extra:>20.2f} {budget:>17.2f} "
                     f"(<= {TARGETS[model]:g}x)")
        print(lines[-1] if len(lines) > 2 else "\n".join(lines), flush=True)
    lines.append("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in load_start)
                 + " at the start; " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
                 + " at the end")
    print(lines[-1])
    table = "\n".join(lines)
    write_section("conversions", (
        f"## Conversions per training step and what the targets leave for each "
        f"(`benchmarks/conversions.py`)\n\n"
        f"Date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}"
        f"  \nMachine: {machine()}  \n"
        f"Command: `python benchmarks/conversions.py --steps {args.steps} --repeats "
        f"{args.repeats} --models {','.join(models)}`\n\n"
        f"bplight-idealised twin vs ideal, batch 64, random signed 3x32x32 images (so "
        f"the LeNet-5 row is not the training section's LeNet-5 on the 1-channel "
        f"digits, which makes fewer conversions and has a faster ideal step: its "
        f"budget shows the order of magnitude), all cores; "
        f"median steps of alternating runs (a process each, one warm-up step). "
        f"conversions/step: the hardware counter `samples` of one step (one per output, "
        f"tile column and optical pass). extra ns/conversion: (twin - ideal) / "
        f"conversions. budget ns/conversion: (target - 1) x ideal / conversions, the most "
        f"a conversion may cost with everything else free.\n\n"
        f"```\n{table}\n```"))
    print(f"\nwrote {Path(__file__).with_name('RESULTS.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
