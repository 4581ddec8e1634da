"""Training-step benchmark: LeNet-5 at batch 64, hardware twin vs ideal; demo memory.

* Time per training step (forward + backward + gradient products of every layer and the
  weight update) of full-width LeNet-5 on the digits at batch 64, through
  ``cosim.orchestrator.train``: architecture "ideal" (plain numpy) and "bplight"
  (photonic tiles with memristor-held weights, twin engines, 16-bit converters, noise
  on, no spot checks).  The first step (readout characterization, caches) is reported
  separately; the median of the following steps is the figure.  Target (not a test):
  bplight twin at most 3x ideal.
* Peak memory (max RSS) and wall time of the full ``cosim demo`` in a child process.
  Target: under 2 GiB and 5 minutes.

Run: ``.venv/bin/python benchmarks/training.py [--steps N] [--skip-demo]``.  Prints a
table and rewrites its own section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import cpu_model as _cpu_model

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
NAME = "training"




def step_times(architecture: str, steps: int, workdir: Path) -> np.ndarray:
    """Wall time (s) of each of ``steps`` training steps, as the run file records it."""
    from cosim.config import load_config
    from cosim.orchestrator import train

    cfg = load_config(None, [
        "model.width=1.0", "training.batch_size=64", "training.epochs=1",
        f"training.max_steps={steps}", "training.signal_every_steps=0",
        "data.test_limit=64", f"hardware.architecture={architecture}",
        "hardware.optical_engine=twin", "hardware.electrical_engine=twin",
        "hardware.spot_check=0.0", "hardware.dac_bits=16", "hardware.adc_bits=16"])
    res = train(cfg, workdir / f"{architecture}.h5", overwrite=True, quiet=True)
    return np.asarray(res.step_metrics["time_s"])


def demo_memory(workdir: Path) -> tuple[float, float, int, str]:
    """(peak RSS MiB of the `cosim demo` child, wall s, exit code, its summary lines)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cosim.cli.main", "demo", "--quiet",
                           "--out-dir", str(workdir / "demo")], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return rss_kib / 1024, wall, proc.returncode, (proc.stdout + proc.stderr[-2000:]).strip()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=8, help="training steps per architecture")
    p.add_argument("--skip-demo", action="store_true", help="skip the demo memory run")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_info

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = {}
        for arch in ("ideal", "bplight"):
            t = step_times(arch, args.steps, tmp)
            rows[arch] = (t[0], float(np.median(t[1:])), float(np.min(t[1:])))
        demo = None if args.skip_demo else demo_memory(tmp)

    ratio = rows["bplight"][1] / rows["ideal"][1]
    lines = [f"{'architecture':<14} {'first step':>11} {'median step':>12} {'min step':>10}"]
    for arch, (first, med, mn) in rows.items():
        label = arch + (" (twin)" if arch != "ideal" else "")
        lines.append(f"{label:<14} {first * 1e3:>8.0f} ms {med * 1e3:>9.0f} ms "
                     f"{mn * 1e3:>7.0f} ms")
    lines.append(f"bplight twin / ideal (median step): {ratio:.2f}x  "
                 f"(target <= 3x: {'met' if ratio <= 3 else 'NOT met'})")
    if demo is not None:
        rss, wall, rc, out = demo
        lines.append(f"cosim demo: peak RSS {rss:.0f} MiB (target < 2048 MiB: "
                     f"{'met' if rss < 2048 else 'NOT met'}), wall {wall:.0f} s (target < "
                     f"300 s: {'met' if wall < 300 else 'NOT met'}), exit code {rc}")
        lines += ["", "demo output:"] + ["  " + ln for ln in out.splitlines()
                                          if not ln.startswith("  wrote")]
    table = "\n".join(lines)
    print(table)

    blas = ", ".join(sorted({i.get("internal_api", "?") for i in threadpool_info()}))
    section = (
        f"<!-- {NAME}:begin -->\n"
        f"## Training step: LeNet-5, batch 64, bplight twin vs ideal (`benchmarks/training.py`)\n\n"
        f"Date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}  \n"
        f"Machine: {platform.platform()}; CPU {_cpu_model()}; {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, numpy {np.__version__}; BLAS 1 thread "
        f"({blas})\n\n"
        f"Full-width LeNet-5 on the digits (32x32), batch 64, {args.steps} steps per "
        f"architecture; per-step wall time as recorded in the run file (forward, backward, "
        f"gradient products of all layers + update). bplight: photonic tiles 64x64, "
        f"memristor-held weights, 16-bit DAC/ADC, twin optical and electrical engines, noise "
        f"on, no spot checks. The first step includes the readout characterization "
        f"(ngspice, through the result cache) and cache warm-up. The demo is run in a "
        f"child process (`cosim demo`, default settings).\n\n"
        f"```\n{table}\n```\n"
        f"<!-- {NAME}:end -->\n")
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"<!-- {NAME}:begin -->.*?<!-- {NAME}:end -->\n?", re.S)
    text = pattern.sub(lambda m: section, text) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
