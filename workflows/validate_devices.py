#!/usr/bin/env python3
"""Validate every device model against its reference and write the report.

Runs the registered checks of cosim.validate (ngspice vs numpy twins, closed-form
physics, published figures of the cards) and writes index.html, summary.json and one PNG
per check into --out.  Exit status 0 when every check passes, 1 otherwise.

Uses only the public API (cosim.validate, cosim.report.validation).

Examples::

    python workflows/validate_devices.py                       # all checks -> runs/validation
    python workflows/validate_devices.py --only memristor crossbar --out /tmp/val
    python workflows/validate_devices.py --quick               # two fast checks, no plots
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

QUICK_CHECKS = ["memristor_pulse_curve", "pd_quantum_limit"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/validation"), metavar="DIR",
                   help="report folder (default runs/validation)")
    p.add_argument("--only", nargs="+", metavar="CHECK",
                   help="check names or prefixes (default: all; see `cosim validate --list`)")
    p.add_argument("--seed", type=int, default=0, help="seed of the checks' random inputs")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quick", action="store_true",
                   help=f"only {', '.join(QUICK_CHECKS)}, no plots (for tests)")
    args = p.parse_args(argv)

    from cosim.report.validation import write_report
    from cosim.validate import run_checks

    only = QUICK_CHECKS if args.quick and not args.only else args.only
    t0 = time.perf_counter()

    def progress(r) -> None:
        print(f"  {'PASS' if r.passed else 'FAIL'}  {r.name:<38} value {r.value:<11.4g} "
              f"threshold {r.threshold:<11.4g} ({time.perf_counter() - t0:.1f} s)",
              flush=True)

    results = run_checks(None, only, seed=args.seed, progress=progress)
    data = write_report(results, args.out, plots=not (args.no_plots or args.quick))
    n_pass = sum(r.passed for r in results)
    print(f"{n_pass}/{len(results)} checks passed; report: {data['html']}")
    return 0 if n_pass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
