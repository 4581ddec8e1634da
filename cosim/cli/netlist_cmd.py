"""``cosim netlist``: build, inspect and run netlists.

``cosim netlist build KIND`` builders come from the modules in :data:`BUILDER_MODULES`;
each defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``build(args) -> Circuit``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections import Counter
from pathlib import Path

BUILDER_MODULES: list[str] = [
    "cosim.cli.build_rc",
    "cosim.cli.build_readout",
    "cosim.cli.build_memristor",
    "cosim.cli.build_crossbar",
]

_ANALYSES = ("op", "dc", "ac", "tran", "noise")


def register(subparsers) -> None:
    p = subparsers.add_parser("netlist", help="build, inspect and run SPICE netlists",
                              description="Build, inspect and run SPICE netlists.")
    sub = p.add_subparsers(dest="netlist_command", metavar="ACTION")

    info = sub.add_parser("info", help="summarise a netlist file",
                          description="Elements by type, node count, floating and "
                                      "single-connection nodes, models and includes.")
    info.add_argument("file", type=Path)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    run = sub.add_parser("run", help="run a netlist in ngspice (or the native twin)",
                         description="Run a netlist file and print node voltages and branch "
                                     "currents. The file is parsed and validated first; "
                                     "control blocks are refused.")
    run.add_argument("file", type=Path)
    run.add_argument("--analysis", choices=_ANALYSES,
                     help="which of the file's analyses to run (default: the only one; "
                          "'op' is always available)")
    run.add_argument("--engine", choices=("ngspice", "native"), default="ngspice",
                     help="ngspice (default) or the native nodal-analysis twin")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.add_argument("--timeout", type=float, default=120.0, metavar="S",
                     help="time limit of the run in seconds (default 120)")
    run.set_defaults(func=cmd_run)

    build = sub.add_parser("build", help="write a generated netlist",
                           description="Generate a netlist from a builder and write it.")
    bsub = build.add_subparsers(dest="kind", metavar="KIND")
    for name in BUILDER_MODULES:
        mod = importlib.import_module(name)
        bp = bsub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(bp)
        bp.add_argument("-o", "--output", type=Path, required=True, help="netlist file to write")
        bp.set_defaults(func=_make_build_handler(mod))

    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _make_build_handler(mod):
    def handler(args) -> int:
        circuit = mod.build(args)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(circuit.render(), encoding="utf-8")
        print(f"wrote {args.output} ({len(circuit.elements)} elements, "
              f"{len(circuit.nodes())} nodes, sha256 {circuit.sha256()[:12]})")
        return 0
    return handler


def netlist_summary(circuit) -> dict:
    """Inspection figures of a Circuit (used by ``netlist info``)."""
    from cosim.netlist import SubcircuitInstance

    by_type = Counter(type(e).__name__ for e in circuit.elements)
    subckts_used = sorted({e.subckt for e in circuit.elements
                           if isinstance(e, SubcircuitInstance)})
    models_used = sorted({getattr(e, "model") for e in circuit.elements if hasattr(e, "model")})
    return {
        "title": circuit.title,
        "sha256": circuit.sha256(),
        "elements": len(circuit.elements),
        "elements_by_type": dict(sorted(by_type.items())),
        "nodes": len(circuit.nodes()),
        "floating_nodes": circuit.floating_nodes(),
        "single_connection_nodes": circuit.single_connection_nodes(),
        "models_defined": [m.name for m in circuit.models],
        "models_used": models_used,
        "subcircuits_defined": [s.name for s in circuit.subcircuits],
        "subcircuits_used": subckts_used,
        "includes": list(circuit.includes),
        "analyses": [a.render() for a in circuit.analyses],
    }


def cmd_info(args) -> int:
    from cosim.netlist import read_netlist

    summary = netlist_summary(read_netlist(args.file))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.file}: {summary['title']}")
    print(f"  sha256          {summary['sha256']}")
    print(f"  elements        {summary['elements']}  " + ", ".join(
        f"{k} {v}" for k, v in summary["elements_by_type"].items()))
    print(f"  nodes           {summary['nodes']} (ground included)")
    for key, label in (("floating_nodes", "floating nodes"),
                       ("single_connection_nodes", "single-connection"),
                       ("models_used", "models used"), ("subcircuits_used", "subckts used"),
                       ("includes", "includes"), ("analyses", "analyses")):
        values = summary[key]
        print(f"  {label:<15} {', '.join(values) if values else '-'}")
    if summary["floating_nodes"]:
        print("  warning: floating nodes have no DC path to ground; ngspice will report a "
              "singular matrix", file=sys.stderr)
    return 0


def _pick_analysis(circuit, name: str | None):
    from cosim.netlist import Op

    if name is None:
        if len(circuit.analyses) == 1:
            return circuit.analyses[0]
        if not circuit.analyses:
            return Op()
        raise ValueError(f"the netlist has {len(circuit.analyses)} analyses; choose one with "
                         f"--analysis ({', '.join(a.kind for a in circuit.analyses)})")
    for a in circuit.analyses:
        if a.kind == name:
            return a
    if name == "op":
        return Op()
    raise ValueError(f"the netlist has no .{name} analysis; it has: "
                     f"{', '.join(a.kind for a in circuit.analyses) or 'none'}")


def cmd_run(args) -> int:
    from cosim.netlist import read_netlist

    circuit = read_netlist(args.file)
    try:
        analysis = _pick_analysis(circuit, args.analysis)
    except ValueError as exc:
        print(f"cosim netlist run: error: {exc}", file=sys.stderr)
        return 2
    if args.engine == "native":
        from cosim.native import run_native

        result = run_native(circuit, analysis)
    else:
        from cosim.spice import SpiceEngine

        with SpiceEngine(workers=1, timeout_s=args.timeout) as engine:
            result = engine.run(circuit, analysis)
    if args.json:
        out = result.to_jsonable()
        out["engine"] = args.engine
        out["netlist_sha256"] = circuit.sha256()
        print(json.dumps(out))
        return 0
    print(f"{args.file}: {analysis.render()}  (engine {args.engine}"
          + (f", ngspice {result.ngspice_version}" if result.ngspice_version else "") + ")")
    _print_vectors(result)
    return 0


def _print_vectors(result) -> None:
    import numpy as np

    def fmt(a):
        a = np.asarray(a)
        if a.ndim == 0:
            return f"{complex(a).real:.6g}" if not np.iscomplexobj(a) else f"{complex(a):.6g}"
        if np.iscomplexobj(a):
            mag = np.abs(a)
            return f"|.| from {mag[0]:.6g} to {mag[-1]:.6g} ({a.size} points)"
        return f"from {a[0]:.6g} to {a[-1]:.6g} ({a.size} points)"

    if result.axis_name:
        print(f"  {'axis ' + result.axis_name:<28} {fmt(result.axis)}")
    for name, v in result.node_voltages.items():
        print(f"  V({name}){'':<{max(0, 24 - len(name))}} {fmt(v)} V")
    for name, v in result.branch_currents.items():
        print(f"  I({name}){'':<{max(0, 24 - len(name))}} {fmt(v)} A")
    for name, v in result.vectors.items():
        if name.endswith(("_spectrum", "_total")):
            print(f"  {name:<27} {fmt(v)}")
