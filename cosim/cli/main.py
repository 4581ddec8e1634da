"""The ``cosim`` command.

Top-level commands live in their own modules, listed in :data:`COMMAND_MODULES`; each
defines ``register(subparsers)`` that adds its parser and sets ``func=handler`` with
``handler(args) -> int``.  Errors of the project (CosimError and subclasses) are printed
as one clear message and exit with status 2, and so is a file-system error on a named
path (an OSError with a ``filename``) that no call site turned into a FileAccessError;
nothing else is swallowed.  The project's warnings are printed as one-line notes.
Ctrl-C (SIGINT) and SIGTERM stop a command the same way (``KeyboardInterrupt``, so
clean-up runs: a training run writes its checkpoint, a sweep stops its workers) and exit
with status ``128 + signal number``: 130 and 143.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

import cosim
from cosim.cli.usage import deepest_parser, usage_error
from cosim.errors import CosimError
from cosim.processes import sigterm_as_interrupt

#: Command name -> the module that registers it: ``register(subparsers)`` adds its parser.
COMMANDS: dict[str, str] = {
    "demo": "cosim.cli.demo",
    "netlist": "cosim.cli.netlist_cmd",
    "cache": "cosim.cli.cache_cmd",
    "characterize": "cosim.cli.characterize",
    "energy": "cosim.cli.energy",
    "train": "cosim.cli.train",
    "eval": "cosim.cli.evaluate",
    "export": "cosim.cli.evaluate",
    "runs": "cosim.cli.runs",
    "validate": "cosim.cli.validate",
    "sweep": "cosim.cli.sweep",
    "design": "cosim.cli.design",
    "ablate": "cosim.cli.ablate",
}
COMMAND_MODULES: list[str] = list(dict.fromkeys(COMMANDS.values()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``cosim`` parser: every command, or only ``command`` (a key of
    :data:`COMMANDS`), so that a command imports nothing the others need."""
    parser = argparse.ArgumentParser(
        prog="cosim",
        description="bplight-cosim: SPICE-coupled co-simulation of photonic + memristive "
                    "AI accelerators. Each command has its own --help.",
    )
    parser.add_argument("--version", action="version",
                        version=f"bplight-cosim {cosim.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in [COMMANDS[command]] if command in COMMANDS else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


#: glibc ``mallopt`` parameters (malloc.h) and the values :func:`tune_malloc` sets.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 256 << 20


def tune_malloc() -> bool:
    """Let glibc serve large temporaries (up to 32 MiB) from the heap and keep up to
    256 MiB of freed heap, instead of mapping fresh pages (a page fault per 4 kB) for
    every large array.  Left to itself glibc adapts its mmap threshold to the sizes freed
    so far, so a run's speed depended on what the process had done before (a LeNet-5
    step in plain numpy: 27 ms in a fresh process, 20 ms after other work; 20 ms with
    these settings).  True when set; False where the C library has no ``mallopt``."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def _one_line_notes() -> None:
    """Show the project's warnings (:class:`~cosim.errors.CosimWarning`) as one line
    ``cosim: note: ...`` instead of Python's two lines with a source excerpt."""
    import warnings

    from cosim.errors import CosimWarning

    default = warnings.formatwarning

    def fmt(message, category, filename, lineno, line=None):
        if issubclass(category, CosimWarning):
            return f"cosim: note: {message}\n"
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = fmt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:   # answered before the command modules are imported
        print(f"bplight-cosim {cosim.__version__}")
        return 0
    tune_malloc()
    _one_line_notes()
    parser = build_parser(argv[0] if argv else None)
    args, extras = parser.parse_known_args(argv)
    if extras:  # the usage of the subcommand the option was given to, not the top one
        deepest_parser(parser, argv).error(f"unrecognized arguments: {' '.join(extras)}")
    if not getattr(args, "func", None):
        return usage_error(parser, "give a command (see cosim --help)")
    try:
        with sigterm_as_interrupt():
            return int(args.func(args) or 0)
    except CosimError as exc:
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"cosim {args.command}: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", signal.SIGINT))
    except BrokenPipeError:  # output piped into e.g. `head`: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except FileNotFoundError as exc:
        print(f"cosim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A file-system failure on a path that no call site converted: still one line.
        # OSErrors without a path (sockets, subprocesses, ...) keep their traceback.
        if exc.filename is None:
            raise
        from cosim.paths import describe_os_error

        print(f"cosim {args.command}: error: {exc.filename}: {describe_os_error(exc)}; "
              f"check the path and its permissions", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
