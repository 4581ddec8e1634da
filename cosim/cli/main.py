"""The ``cosim`` command.

Top-level commands live in their own modules, listed in :data:`COMMAND_MODULES`; each
defines ``register(subparsers)`` that adds its parser and sets ``func=handler`` with
``handler(args) -> int``.  Errors of the project (CosimError and subclasses) are printed
as one clear message and exit with status 2; nothing else is swallowed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import cosim
from cosim.errors import CosimError

COMMAND_MODULES: list[str] = [
    "cosim.cli.demo",
    "cosim.cli.netlist_cmd",
    "cosim.cli.cache_cmd",
    "cosim.cli.characterize",
    "cosim.cli.energy",
    "cosim.cli.train",
    "cosim.cli.runs",
    "cosim.cli.validate",
    "cosim.cli.sweep",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cosim",
        description="bplight-cosim: SPICE-coupled co-simulation of photonic + memristive "
                    "AI accelerators. Each command has its own --help.",
    )
    parser.add_argument("--version", action="version",
                        version=f"bplight-cosim {cosim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except CosimError as exc:
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cosim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
