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
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    from cosim.cli.usage import usage_error

    return usage_error(p, "choose a subcommand: list or show")


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
