"""``cosim energy``: energy, latency and area of a design against a baseline design.

``cosim energy RUN.h5`` prices the run's own design and network with the run's measured
counters; ``cosim energy --design NAME --network NAME`` is the what-if without training.
"""

from __future__ import annotations

import json
import math

TABLE = ("training.energy_per_image", "training.time_per_image", "training.energy_per_epoch",
         "training.time_per_epoch", "training.power", "training.gops_per_w",
         "training.gops_per_mm2", "inference.energy_per_image", "inference.time_per_image",
         "inference.gops_per_w", "area.tiles", "area.total")
RATIOS = ("training.speedup", "training.energy_saving", "training.efficiency",
          "inference.speedup", "inference.energy_saving", "inference.efficiency")


def register(subparsers) -> None:
    from cosim.energy.model import NETWORKS

    p = subparsers.add_parser("energy", help="energy/latency/area of a design (or of a run's "
                              "design) against a baseline design, with the paper's claims "
                              "beside ours")
    p.add_argument("run", nargs="?", metavar="RUN.h5",
                   help="price this run file's design and network with its measured counters")
    p.add_argument("--design", default=None, metavar="NAME|FILE",
                   help="design to price (what-if; default bplight)")
    p.add_argument("--baseline", default="electronic", metavar="NAME|FILE",
                   help="baseline design (default electronic)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of the priced design (e.g. converters.adc_bits=12)")
    p.add_argument("--network", choices=NETWORKS, default="lenet5",
                   help="network of the what-if (default lenet5)")
    p.add_argument("--width", type=float, default=1.0, help="channel width multiplier of "
                   "the what-if network (default 1.0)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size of the what-if "
                   "(default 32)")
    p.add_argument("--retunes-per-step", type=float, default=None, metavar="R",
                   help="retunes of each photonic layer's weight state, backward copy and "
                        "gradient pattern per training step in the what-if (default 1: "
                        "every update loads a new state; a run's own rates are in "
                        "cosim energy RUN.h5)")
    p.add_argument("--sensitivity", action="store_true", help="rank which design values "
                   "move the energy ratio and the speed-up most (one at a time)")
    p.add_argument("--json", action="store_true", help="print all figures as JSON")
    p.add_argument("--explain", metavar="FIGURE", help="print a figure's formula and inputs "
                   "recursively, e.g. design.training.energy_per_image")
    p.add_argument("--out-dir", default="energy_report", help="directory of the HTML report")
    p.set_defaults(func=run)


def _report(args):
    from cosim.design import load_design
    from cosim.energy import evaluate, network_counts, run_counts
    from cosim.errors import ConfigError

    baseline = load_design(args.baseline)
    if args.run:
        if args.design:
            raise ConfigError("give a run file or --design, not both (a run is priced with "
                              "its own design; use --set to vary it)")
        counts, design = run_counts(args.run)
        if args.set:
            raise ConfigError("--set changes the design, so the run's counters no longer "
                              "apply: price the what-if with --design and --set instead")
        if args.retunes_per_step is not None:
            raise ConfigError("--retunes-per-step sets the what-if's rate; a run is priced "
                              "with the retunes it counted")
        report = evaluate(counts.network, design=design, baseline=baseline, counts=counts)
        pulses = _pulses_per_update(counts, report)
        whatif = dict(network=None, model=counts, pulses=pulses)
        return report, design, baseline, whatif
    design = load_design(args.design or "bplight", args.set)
    rate = args.retunes_per_step
    if rate is not None and not (math.isfinite(rate) and rate >= 0):
        raise ConfigError(f"--retunes-per-step {rate!r}: give a number >= 0 (retunes per "
                          "state and step)")
    counts = network_counts(args.network, design, width=args.width, batch_size=args.batch_size,
                            retunes_per_step=None if rate is None else {
                                ph: rate for ph in ("forward", "backward", "gradient")})
    report = evaluate(args.network, design=design, baseline=baseline, counts=counts,
                      width=args.width, batch_size=args.batch_size)
    return report, design, baseline, dict(network=args.network, model=None, pulses=None)


def _pulses_per_update(counts, report) -> float:
    """Mean pulses per device per step of a run's counts (for its what-if variants)."""
    cells = sum(2 * lc.n_in.value * lc.n_out.value for lc in counts.layers)
    per_image = sum(lc.pulses.value for lc in counts.layers)
    return per_image * counts.batch_size.value / cells if cells else 0.0


def run(args) -> int:
    from cosim.energy.model import CLAIMS, usage_counts

    report, design, baseline, whatif = _report(args)
    swings = None
    if args.sensitivity:
        swings = _sensitivity(args, report, design, baseline, whatif)
    if args.explain:
        print(report.explain(args.explain))
        return 0
    if args.json:
        out = report.as_dict()
        if swings is not None:
            out["sensitivity"] = [s.__dict__ | {"keys": list(s.keys)} for s in swings]
        print(json.dumps(out, indent=1, default=str))
    else:
        f = report.figures
        print(f"design {design.name} vs baseline {baseline.name}: {report.network}")
        print(f"counts: {report.counts_source}")
        print(f"{'figure':34s} {design.name:>14s} {baseline.name:>14s}")
        for k in TABLE:
            a, b = f[f"design.{k}"], f[f"baseline.{k}"]
            print(f"{k:34s} {a.value:14.4g} {b.value:14.4g}  {a.unit}")
        print(f"\nratio ({design.name} over {baseline.name})  this model   paper claim "
              "(not our result)")
        for k in RATIOS:
            claim = CLAIMS.get(k)
            print(f"{k:34s} {f['ratio.' + k].value:10.4g}x   "
                  f"{(f'{claim:g}x (claim)' if claim else '-')}")
        if "design.link.achievable_bits" in f:
            print(f"\nachievable bits {f['design.link.achievable_bits'].value:.2f} "
                  f"(RIN ceiling {f['design.link.rin_ceiling_bits'].value:.2f}) at "
                  f"{f['design.component.symbol_rate'].value:.3g} symbols/s")
        print(f"\ncounts priced per image ({design.name})")
        print(f"{'layer':10s} {'phase':9s} {'symbols':>10s} {'reads':>10s} "
              f"{'ADC conv.':>11s} {'bits':>4s} {'pulses':>10s}")
        bits = int(design["converters.adc_bits"])
        for row in usage_counts(report):
            print(f"{row['layer']:10s} {row['phase']:9s} {row.get('symbols', 0):10.4g} "
                  f"{row.get('reads', 0):10.4g} {row.get('adc_conversions', 0):11.4g} "
                  f"{bits if 'adc_conversions' in row else '':>4} "
                  f"{row.get('pulses', 0):10.4g}")
        for flag in report.flags:
            print(f"WARNING: {flag}")
        if swings is not None:
            from cosim.energy.sensitivity import swing_table
            print("\n" + swing_table(swings, report))
    from cosim.report.energy import write_html
    path = write_html(report, args.out_dir, sensitivity=swings)
    if not args.json:
        print(f"report: {path}")
    return 0


def _sensitivity(args, report, design, baseline, whatif):
    """Swings of :func:`cosim.energy.sensitivity.sensitivity` around this report: the
    what-if of the network (of a run: its network at its measured pulses per update)."""
    from cosim.energy import evaluate
    from cosim.energy.sensitivity import sensitivity

    def evaluate_with(d_over: dict, b_over: dict):
        d = design.with_overrides(d_over) if d_over else design
        b = baseline.with_overrides(b_over) if b_over else baseline
        if whatif["model"] is None:
            return evaluate(args.network, design=d, baseline=b, width=args.width,
                            batch_size=args.batch_size)
        c = _run_whatif(args.run, d, whatif["pulses"])
        return evaluate(c.network, design=d, baseline=b, counts=c)

    return sensitivity(evaluate_with, report)


def _run_whatif(path, design, pulses):
    """What-if counts of a run's network on ``design`` at ``pulses`` per update."""
    import json

    from cosim.energy import network_counts
    from cosim.orchestrator.run import build_network
    from cosim.store.runs import RunFile

    rf = RunFile(path)
    config = rf.read_config()
    data = json.loads(rf.config_attrs()["data"])
    model = build_network(config, int(data["input_shape"][0]), int(data["num_classes"]))
    name = f"{config.model.name} (width {config.model.width:g})"
    return network_counts(name, design, batch_size=config.training.batch_size,
                          epoch_images=int(data["train"]), pulses_per_update=pulses,
                          model=model, signed_input=(data.get("normalization") or {})
                          .get("method", "unit") != "unit")
