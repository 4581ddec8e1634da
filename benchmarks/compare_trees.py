"""Before/after comparison of the training-step benchmark between two source trees.

The figure of :mod:`training` (median step of bplight twin / ideal, full-width LeNet-5,
batch 64) for two checkouts of the code, e.g. a ``git worktree`` of the commit before a
change and the working tree.  Each measured run is a child process of its own, with
``PYTHONPATH`` set to its tree (``training.isolated_step_times``: allocator settings of
the ``cosim`` command, a 3-step warm-up, the first measured step set apart).  The trees
alternate run by run (before ideal, before bplight, after ideal, after bplight, then
the next repeat), so that a drift in the speed of a shared machine favours neither.
Printed: per repeat the two medians and their ratio, then the pooled medians.

Run: ``.venv/bin/python benchmarks/compare_trees.py BEFORE_TREE AFTER_TREE [--steps N]
[--repeats R] [--before-label L] [--after-label L] [--before-env NAME=VALUE]
[--after-env NAME=VALUE]``.  Writes nothing.  The hardware side
is design ``bplight`` of each tree unless a label says otherwise: since the shipped
bplight design has the RealDevice card and crosstalk calibrated in the loop, a tree of
before that change is compared with ``--after-label bplight-idealised``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ARCHS = ("ideal", "bplight")


def run_times(tree: Path, architecture: str, steps: int, threads: int,
              env: dict[str, str] | None = None) -> np.ndarray:
    """Step times (s) of one isolated run of ``architecture`` with the code of ``tree``
    (its first step set apart), ``env`` added to the environment."""
    code = (f"import json, sys; sys.path.insert(0, {str(tree / 'benchmarks')!r}); "
            f"from training import isolated_step_times; "
            f"t, _ = isolated_step_times({architecture!r}, {steps + 1}, {threads}); "
            f"print(json.dumps(t.tolist()))")
    env = dict(os.environ, **(env or {}), PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=tree)
    if proc.returncode != 0:
        raise RuntimeError(f"{architecture} in {tree} failed:\n{proc.stderr[-3000:]}")
    return np.asarray(json.loads(proc.stdout.strip().splitlines()[-1]))[1:]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--before-label", default="bplight",
                   help="what the before tree's benchmarks/training.py measures as the "
                        "hardware side (a design name of that tree or a label of its "
                        "VARIANTS)")
    p.add_argument("--after-label", default="bplight",
                   help="the same for the after tree, e.g. bplight-idealised to compare "
                        "a tree of before the shipped design became the credible one")
    p.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an environment variable of the before runs (repeatable), e.g. "
                        "OPENBLAS_THREAD_TIMEOUT=22 to compare the same tree with a "
                        "shorter spin of idle OpenBLAS threads than its default (28)")
    p.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE",
                   help="the same for the after runs")
    args = p.parse_args(argv)
    envs = {}
    for version, items in (("before", args.before_env), ("after", args.after_env)):
        bad = [x for x in items if "=" not in x or not x.split("=", 1)[0]
               or x.split("=", 1)[0] == "PYTHONPATH"]
        if bad:
            p.error(f"--{version}-env {bad[0]!r}: give NAME=VALUE (not PYTHONPATH: each "
                    "run's PYTHONPATH is its tree)")
        envs[version] = dict(x.split("=", 1) for x in items)
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    labels = {"before": args.before_label, "after": args.after_label}
    cores = os.cpu_count() or 1
    thread_counts = [cores, 1] if cores > 1 else [1]
    pooled = {(v, t, a): [] for v in trees for t in thread_counts for a in ARCHS}
    ratios = {(v, t): [] for v in trees for t in thread_counts}
    for r in range(args.repeats):
        for threads in thread_counts:
            for version, tree in trees.items():
                med = {}
                for arch in ARCHS:
                    label = labels[version] if arch == "bplight" else arch
                    t = run_times(tree, label, args.steps, threads, envs[version])
                    pooled[version, threads, arch] += t.tolist()
                    med[arch] = float(np.median(t))
                ratios[version, threads].append(med["bplight"] / med["ideal"])
                print(f"repeat {r} threads {threads} {version:6s} ideal "
                      f"{med['ideal'] * 1e3:6.1f} ms  bplight {med['bplight'] * 1e3:6.1f} ms"
                      f"  ratio {ratios[version, threads][-1]:.2f}", flush=True)
    for threads in thread_counts:
        for version in trees:
            i = float(np.median(pooled[version, threads, "ideal"]))
            b = float(np.median(pooled[version, threads, "bplight"]))
            per = ", ".join(f"{x:.2f}" for x in ratios[version, threads])
            print(f"{version:6s} threads {threads}: ideal {i * 1e3:.1f} ms, bplight "
                  f"{b * 1e3:.1f} ms, bplight / ideal {b / i:.2f}x; per repeat {per}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
