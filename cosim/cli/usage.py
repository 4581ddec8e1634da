"""Usage errors of the ``cosim`` command: the usage of the (sub)command that was called,
on stderr, and exit status 2 (as argparse does for a bad option)."""

from __future__ import annotations

import argparse
import sys


def usage_error(parser: argparse.ArgumentParser, message: str = "") -> int:
    """Print ``parser``'s usage (and ``message``) to stderr; return exit status 2."""
    parser.print_usage(sys.stderr)
    text = message or "give one of its actions (see --help)"
    print(f"{parser.prog}: error: {text}", file=sys.stderr)
    return 2


def deepest_parser(parser: argparse.ArgumentParser, argv: list[str]
                   ) -> argparse.ArgumentParser:
    """The subcommand parser that ``argv`` names (the top parser if none)."""
    current = parser
    for token in argv:
        sub = next((a for a in current._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        if sub is not None and token in sub.choices:
            current = sub.choices[token]
    return current
