"""``cosim cache``: inspect, verify and clear the HDF5 result cache.

``cosim cache info [--json]``, ``cosim cache verify [--json]`` and
``cosim cache clear [--yes]``; each takes ``--path DIR`` (default ``$COSIM_CACHE`` or
``~/.cache/cosim``).
"""

from __future__ import annotations

import argparse
import json
import sys

from cosim.cli.usage import usage_error


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cache", help="inspect or clear the HDF5 result cache",
        description="The result cache keeps ngspice results by the sha256 of the netlist, "
                    "analysis and ngspice version. Default directory $COSIM_CACHE or "
                    "~/.cache/cosim; size limit $COSIM_CACHE_MAX_BYTES (default 2GiB).")
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--path", metavar="DIR",
                        help="cache directory (default $COSIM_CACHE or ~/.cache/cosim)")

    info = sub.add_parser("info", help="entries, size and limit of the cache",
                          description="Show the cache directory, its entries, their total "
                                      "size, the size limit and incomplete writes.")
    common(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    verify = sub.add_parser("verify", help="check every entry's checksum",
                            description="Read every entry and check its checksum; corrupt "
                                        "entries are reported and removed (they will be "
                                        "recomputed when next needed). Exit status 1 if "
                                        "any was corrupt.")
    common(verify)
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(func=cmd_verify)

    clear = sub.add_parser("clear", help="remove every cache entry",
                           description="Remove every entry and every abandoned temporary "
                                       "file. Asks for confirmation unless --yes is given.")
    common(clear)
    clear.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(func=cmd_clear)

    p.set_defaults(func=lambda args: usage_error(p))


def _cache(args):
    from cosim.store import ResultCache

    return ResultCache(args.path)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def cmd_info(args) -> int:
    info = _cache(args).info()
    if args.json:
        print(json.dumps({k: info[k] for k in ("path", "entries", "total_bytes", "max_bytes",
                                               "temp_files", "stale_temp_files")},
                         indent=2))
        return 0
    used = info["total_bytes"] / info["max_bytes"] * 100
    print(f"cache directory : {info['path']}")
    print(f"entries         : {info['entries']}")
    print(f"total size      : {_human(info['total_bytes'])} ({info['total_bytes']} bytes, "
          f"{used:.1f}% of the limit)")
    print(f"size limit      : {_human(info['max_bytes'])} ({info['max_bytes']} bytes)")
    if info["temp_files"]:
        print(f"temporary files : {info['temp_files']} ({info['stale_temp_files']} abandoned; "
              "`cosim cache clear` removes those)")
    return 0


def cmd_verify(args) -> int:
    import warnings

    from cosim.store import CacheCorruptWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheCorruptWarning)
        report = _cache(args).verify()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for w in caught:
            print(f"corrupt: {w.message}", file=sys.stderr)
        print(f"{report['valid']} valid, {len(report['corrupt'])} corrupt (removed)")
    return 1 if report["corrupt"] else 0


def cmd_clear(args) -> int:
    cache = _cache(args)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"cosim cache clear: refusing to clear {cache.path} without --yes "
                  "(no terminal to ask)", file=sys.stderr)
            return 2
        n = cache.info()["entries"]
        answer = input(f"remove {n} entries from {cache.path}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    removed = cache.clear()
    print(f"removed {removed} entries from {cache.path}")
    return 0
