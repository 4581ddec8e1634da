"""``cosim energy``: energy, latency and area of the photonic design vs the crossbar baseline."""

from __future__ import annotations

import json


def register(subparsers) -> None:
    from cosim.energy.model import NETWORKS

    p = subparsers.add_parser("energy", help="energy/latency/area breakdown, photonic vs "
                              "crossbar baseline, with the paper's claims beside ours")
    p.add_argument("--network", choices=NETWORKS, default="lenet5",
                   help="network to price (default lenet5)")
    p.add_argument("--config", metavar="FILE", help="TOML overrides: [bplight] [baseline] "
                   "[workload] [rram] tables of card parameters")
    p.add_argument("--json", action="store_true", help="print all figures as JSON")
    p.add_argument("--explain", metavar="FIGURE", help="print a figure's formula and inputs "
                   "recursively, e.g. bplight.training.energy_per_image")
    p.add_argument("--out-dir", default="energy_report", help="directory of the HTML report")
    p.set_defaults(func=run)


def run(args) -> int:
    from cosim.energy import evaluate, load_config
    from cosim.energy.model import CLAIMS

    report = evaluate(args.network, cards=load_config(args.config))
    if args.explain:
        print(report.explain(args.explain))
        return 0
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        f = report.figures
        print(f"network {args.network}")
        print(f"{'figure':34s} {'bplight':>14s} {'baseline':>14s}")
        for k in ("training.energy_per_image", "training.time_per_image",
                  "training.energy_per_epoch", "training.time_per_epoch",
                  "training.gops_per_w", "training.gops_per_mm2",
                  "inference.energy_per_image", "inference.time_per_image",
                  "inference.gops_per_w", "area.total"):
            a, b = f[f"bplight.{k}"], f[f"baseline.{k}"]
            print(f"{k:34s} {a.value:14.4g} {b.value:14.4g}  {a.unit}")
        print("\nratio (photonic over baseline)     this model   paper claim (not our result)")
        for k in ("training.speedup", "training.energy_saving", "training.efficiency",
                  "inference.speedup", "inference.energy_saving", "inference.efficiency"):
            claim = CLAIMS.get(k)
            print(f"{k:34s} {f['ratio.' + k].value:10.4g}x   "
                  f"{(f'{claim:g}x (claim)' if claim else '-')}")
        print(f"\nachievable bits {f['bplight.link.achievable_bits'].value:.2f} "
              f"(RIN ceiling {f['bplight.link.rin_ceiling_bits'].value:.2f}) at "
              f"{f['bplight.component.symbol_rate'].value:.3g} symbols/s")
        for flag in report.flags:
            print(f"WARNING: {flag}")
    from cosim.report.energy import write_html
    path = write_html(report, args.out_dir)
    if not args.json:
        print(f"report: {path}")
    return 0
