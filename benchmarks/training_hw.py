"""Time per training step of LeNet-5 (32 x 32 digits, batch 64) on the hardware mapping:
ideal vs the "bplight" photonic twin vs the "electronic" crossbar twin, one BLAS thread.

Run: ``python benchmarks/training_hw.py [--steps N]``.  Prints a table and writes the
``training_hw`` section of benchmarks/RESULTS.md (other sections are left alone).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import resource
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from cosim.hw.backend import HardwareConfig, build_hardware
from cosim.nn import SGD, Trainer, lenet5, load_digits_dataset, resize_images

from _common import cpu_model as _cpu

RESULTS = Path(__file__).with_name("RESULTS.md")
NAME = "training_hw"




def time_steps(architecture: str, steps: int, x, y) -> tuple[float, float, list[float]]:
    """(first step s, mean s/step over ``steps`` further steps, losses)."""
    m = lenet5(rng=np.random.default_rng(0))
    m.backend, m.store = build_hardware(HardwareConfig(architecture=architecture), m,
                                        np.random.default_rng(5))
    tr = Trainer(m, SGD(lr=0.05, momentum=0.9), np.random.default_rng(1), batch_size=64)
    t0 = time.perf_counter()
    first = tr.train_steps(x, y, 1)
    t1 = time.perf_counter()
    losses = tr.train_steps(x, y, steps)
    t2 = time.perf_counter()
    return t1 - t0, (t2 - t1) / steps, first + losses


def write_section(text: str) -> None:
    begin, end = f"<!-- {NAME}:begin -->", f"<!-- {NAME}:end -->"
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--electronic-steps", type=int, default=2)
    args = ap.parse_args()
    ds = load_digits_dataset()
    x, y = resize_images(ds.x_train[:1024], 32), ds.y_train[:1024]
    rows = []
    with threadpool_limits(1, user_api="blas"):
        for arch, steps in (("ideal", args.steps), ("bplight", args.steps),
                            ("electronic", args.electronic_steps)):
            first, per_step, _ = time_steps(arch, steps, x, y)
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rows.append((arch, steps, first, per_step, rss_mb))
    ideal = rows[0][3]
    lines = ["| architecture | steps timed | first step (s) | s/step | x ideal | peak RSS so far (MB) |",
             "|---|---|---|---|---|---|"]
    for arch, steps, first, per_step, rss in rows:
        lines.append(f"| {arch} | {steps} | {first:.3f} | {per_step:.3f} | "
                     f"{per_step / ideal:.1f} | {rss:.0f} |")
    table = "\n".join(lines)
    print(table)
    text = (f"## training_hw: LeNet-5 training step on the hardware mapping\n\n"
            f"LeNet-5 (full width), 32 x 32 digits, batch 64, SGD momentum, 1 BLAS thread, "
            f"default HardwareConfig (16-bit converters, 64 x 64 tiles, noise on, twin "
            f"engines). First step includes characterization lookup and caches; s/step is "
            f"the mean of the following steps. Peak RSS is the process maximum after each "
            f"architecture (cumulative).\n\n{table}\n\n"
            f"Machine: {platform.platform()}, {_cpu()}, {__import__('os').cpu_count()} cores; "
            f"{datetime.date.today().isoformat()}. Command: `python benchmarks/training_hw.py "
            f"--steps {args.steps} --electronic-steps {args.electronic_steps}`.")
    write_section(text)


if __name__ == "__main__":
    main()
