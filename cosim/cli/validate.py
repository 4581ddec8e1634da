"""``cosim validate``: run the device-level validation checks and write a report.

Writes ``index.html``, ``summary.json`` and one PNG per check into ``--out`` and exits
1 if any check fails (the failing checks are named on stderr), 0 if all pass.  With
``--only`` the (partial) report goes to ``--out``/partial instead, so the full report
in ``--out`` is never replaced by a run of some checks.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate", help="run device-level validation checks and write an HTML report",
        description="Run every device check (memristor, crossbar, MRR, weight bank, "
                    "PD/TIA readout, DAC/ADC) against ngspice, closed forms and published "
                    "figures; write an HTML report with PNG plots and a JSON summary. "
                    "Exit status 1 if any check fails.")
    p.add_argument("--out", type=Path, default=Path("runs/validation"), metavar="DIR",
                   help="report directory (default runs/validation)")
    p.add_argument("--json", action="store_true",
                   help="print the JSON summary on stdout instead of the table")
    p.add_argument("--card", action="append", default=[], metavar="NAME=PATH",
                   help="replace the shipped device card NAME with the TOML file PATH "
                        "(repeatable)")
    p.add_argument("--only", nargs="+", metavar="CHECK",
                   help="run only these checks (full names or prefixes, e.g. memristor); "
                        "the partial report goes to DIR/partial, the full one in DIR is "
                        "kept")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random inputs of the checks (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=cmd_validate)


def _overrides(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--card {item!r}: give NAME=PATH, e.g. "
                             "--card photodetector=my_pd.toml")
        out[name.strip()] = Path(path.strip())
    return out


def cmd_validate(args) -> int:
    from cosim.validate import list_checks, run_checks

    if args.list:
        for spec in list_checks():
            print(f"{spec.name:<38} {spec.device:<28} {spec.description}")
        return 0
    try:
        overrides = _overrides(args.card)
    except ValueError as exc:
        print(f"cosim validate: error: {exc}", file=sys.stderr)
        return 2
    from cosim.orchestrator.progress import Progress
    from cosim.validate.core import select_checks

    specs = select_checks(args.only)
    bar = Progress(len(specs), label="validate: ", unit="check", quiet=args.json)
    t0 = time.perf_counter()

    def progress(r) -> None:
        if not args.json:
            status = "PASS" if r.passed else "FAIL"
            bar.write(f"  {status}  {r.name:<38} value {r.value:<11.4g} threshold "
                      f"{r.threshold:<11.4g} ({time.perf_counter() - t0:.1f} s)",
                      file=sys.stdout)
        bar.update(bar.done + 1)

    results = run_checks(overrides, args.only, seed=args.seed, progress=progress)
    bar.close()
    from cosim.report.validation import write_report

    out = args.out / "partial" if args.only else args.out
    data = write_report(results, out, card_overrides=overrides, plots=not args.no_plots,
                        partial=args.only)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(f"report: {data['html']}  summary: {data['json']}")
    if data["passed"]:
        if not args.json:
            print(f"all {data['n_checks']} checks passed")
        return 0
    for r in results:
        if not r.passed:
            why = r.details.get("error") or f"value {r.value:.4g} vs threshold " \
                                             f"{r.threshold:.4g} ({r.threshold_source})"
            print(f"cosim validate: FAILED {r.name} ({r.device}): {why}", file=sys.stderr)
    return 1
