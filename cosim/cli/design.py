"""``cosim design``: the shipped accelerator designs, and any design resolved and shown."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
An accelerator design names its tile kind, its architecture values and the device card
of every role (photodetector, tia, converters, laser, optics, crossbar, mzi, weight).
The design a run trains on is the one `cosim energy` prices and the one its run file
stores (cosim.design).

Examples:
  cosim design list
  cosim design show bplight
  cosim design show electronic --set tile_rows=32 --set tia.feedback_resistance_ohm=1000
  cosim design show runs/demo.h5                # the design a run file stores
  cosim design show bplight --toml > my.toml    # a design card to edit, then --design my.toml
  cosim design spacing bplight --residual 1e-3  # channel spacing the calibration needs
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("design", help="list and show accelerator designs",
                              description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="design_command", metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="the shipped designs")
    ls.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="a design resolved: every value with its unit and "
                          "its source or assumption")
    show.add_argument("design", nargs="?", default="bplight", metavar="NAME|FILE|RUN.h5",
                      help="a shipped design name, a design card (.toml) or a run file "
                           "(.h5: the design it stores); default bplight")
    show.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="NAME=VALUE",
                      help="dotted override (NAME or ROLE.PARAM, SI units; repeatable)")
    show.add_argument("--toml", action="store_true",
                      help="print the design card as TOML (overrides applied) instead")
    show.set_defaults(func=cmd_show)
    sp = sub.add_parser("spacing", help="the channel spacing the bank calibration needs "
                        "for a target residual (scan of the optics card's spacing)")
    sp.add_argument("design", nargs="?", default="bplight", metavar="NAME|FILE",
                    help="a shipped design name or a design card (.toml); default bplight")
    sp.add_argument("--residual", type=float, required=True, metavar="R",
                    help="target max |applied - target| weight after calibration, e.g. 1e-3")
    sp.add_argument("--max-iter", type=int, default=None, metavar="N",
                    help="calibration iterations (default: the design's "
                         "calibration_max_iter)")
    sp.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    sp.add_argument("--set", dest="overrides", action="append", default=[],
                    metavar="NAME=VALUE", help="dotted override (repeatable)")
    sp.set_defaults(func=cmd_spacing)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    from cosim.cli.usage import usage_error

    return usage_error(p, "choose a subcommand: list, show or spacing")


def cmd_list(args) -> int:
    from cosim.design import DESIGNS, load_design

    for name in DESIGNS:
        d = load_design(name)
        summary = d.card.description.split(":")[0].split(".")[0]
        print(f"{name:14s} tile {d.tile:13s} {summary}")
    return 0


def cmd_show(args) -> int:
    from cosim.design import load_design

    if str(args.design).endswith(".h5"):
        from cosim.errors import ConfigError
        from cosim.store.runs import RunFile

        design = RunFile(args.design).read_design()
        if design is None:
            raise ConfigError(f"{args.design} was written before run files stored their "
                              "design; show its config with `cosim runs show`")
        design = design.with_overrides(args.overrides)
    else:
        design = load_design(args.design, args.overrides)
    if args.toml:
        from cosim.devices.cards import card_text

        print(card_text(design.card), end="")
    else:
        print(design.show())
    return 0


def cmd_spacing(args) -> int:
    from cosim.design import load_design
    from cosim.optics.spacing import design_spacing_scan

    design = load_design(args.design, args.overrides)
    r = design_spacing_scan(design, target=args.residual, seed=args.seed,
                            max_iter=args.max_iter)
    card = float(design["optics.channel_spacing_m"])
    print(f"design {design.name}: {design['tile_cols']} x {design['tile_rows']} bank, "
          f"inter-channel + thermal crosstalk, random weights within +-"
          f"{1 / float(design['weight_headroom']):g}, calibrate_bank with "
          f"{args.max_iter if args.max_iter is not None else design['calibration_max_iter']}"
          " iterations")
    print(f"  {'spacing nm':>10} {'uncalibrated':>12} {'calibrated':>11} {'iter':>5}")
    for s, b, a, i in zip(r.spacings_m, r.residual_before, r.residual_after, r.iterations):
        print(f"  {s * 1e9:>10.4f} {b:>12.3g} {a:>11.3g} {i:>5}")
    need = "not reached below one FSR per channel" if r.required_m is None else \
        f"{r.required_m * 1e9:.4f} nm"
    print(f"  residual {args.residual:g} needs a channel spacing of {need} (optics card: "
          f"{card * 1e9:.4f} nm)")
    return 0
