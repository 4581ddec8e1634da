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

from cosim.cli.usage import usage_error
from cosim.errors import ConfigError

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
    info.add_argument("file", type=Path, help="netlist file (SPICE text)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    run = sub.add_parser("run", help="run a netlist in ngspice (or the native twin)",
                         description="Run a netlist file and print node voltages and branch "
                                     "currents. The file is parsed and validated first; "
                                     "control blocks are refused.")
    run.add_argument("file", type=Path, help="netlist file (SPICE text)")
    run.add_argument("--analysis", choices=_ANALYSES,
                     help="which of the file's analyses to run (default: the only one; "
                          "'op' is always available)")
    run.add_argument("--engine", choices=("ngspice", "native"), default="ngspice",
                     help="ngspice (default) or the native nodal-analysis twin")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.add_argument("--timeout", type=float, default=120.0, metavar="S",
                     help="time limit of the run in seconds (default 120)")
    run.set_defaults(func=cmd_run)

    extract = sub.add_parser("extract", help="write the circuit a layer step used in a run",
                             description="Write the circuit a tile of a layer used at a "
                                         "training step, with that product's stimulus "
                                         "(its template, stored by sha256 in the run file, "
                                         "with the recorded inputs as PWL rows and a .tran "
                                         "that holds one row per symbol); the file re-runs "
                                         "with 'cosim netlist run' or plain 'ngspice -b'. "
                                         "Records are kept at the steps whose signals are "
                                         "sampled (training.signal_every_steps, and step 1).")
    extract.add_argument("run_file", type=Path, metavar="RUN.h5", help="training run file")
    extract.add_argument("--layer", required=True, help="layer name (e.g. conv1, fc3)")
    extract.add_argument("--step", type=int, required=True, metavar="N",
                         help="global training step, 1-based, as in the metrics table "
                              "(an unknown one lists the stored steps)")
    extract.add_argument("--phase", default="forward",
                         choices=("forward", "backward", "gradient"),
                         help="product of the layer step (default forward)")
    extract.add_argument("--tile", default=None, metavar="K",
                         help="tile id (default: the first stored for that layer step)")
    extract.add_argument("-o", "--output", type=Path, required=True, help="netlist file to write")
    extract.add_argument("--check", action="store_true",
                         help="also run the written circuit in ngspice and compare it with "
                              "the outputs the run recorded (exit 1 if beyond tolerance)")
    extract.add_argument("--timeout", type=float, default=120.0, metavar="S",
                         help="time limit of the --check run in seconds (default 120)")
    extract.set_defaults(func=cmd_extract)

    _register_diff_plot(sub)

    build = sub.add_parser("build", help="write a generated netlist",
                           description="Generate a netlist from a builder and write it.")
    build.add_subparsers(dest="kind", metavar="KIND", action=_Builders)

    p.set_defaults(func=lambda args: usage_error(p))


class _Builders(argparse._SubParsersAction):
    """The KIND parsers of ``cosim netlist build``, one per module of
    :data:`BUILDER_MODULES`, added on first use (parsing ``build KIND``, its help, a walk
    over the parsers), so that the other netlist actions import no builder (the
    builders load device cards for their defaults).  argparse reads the parsers through
    ``choices`` and their help lines through ``_choices_actions``: both add them."""

    _added = False

    def _add_builders(self) -> None:
        if self._added:
            return
        self._added = True
        for name in BUILDER_MODULES:
            mod = importlib.import_module(name)
            bp = self.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
            mod.add_arguments(bp)
            bp.add_argument("-o", "--output", type=Path, required=True,
                            help="netlist file to write")
            bp.set_defaults(func=_make_build_handler(mod))

    @property
    def choices(self) -> dict:
        self._add_builders()
        return self._name_parser_map

    @choices.setter
    def choices(self, value: dict) -> None:
        """Set by argparse to the name -> parser map, which :attr:`choices` returns."""

    @property
    def _choices_actions(self) -> list:
        self._add_builders()
        return self._help_lines

    @_choices_actions.setter
    def _choices_actions(self, value: list) -> None:
        self._help_lines = value


def _timeout_s(args) -> float:
    """``--timeout`` checked: a positive, finite number of seconds."""
    import math

    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise ConfigError(f"--timeout {args.timeout:g}: the time limit must be a positive "
                          f"number of seconds, e.g. --timeout 120")
    return args.timeout


def _write_text(out: Path, text: str) -> None:
    """Write an output file named by the user (its folder created)."""
    from cosim.paths import user_path

    with user_path(out, "output file", "give -o a writable file path"):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")


def _make_build_handler(mod):
    def handler(args) -> int:
        circuit = mod.build(args)
        _write_text(args.output, circuit.render())
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
    models_used = sorted({e.model for e in circuit.elements if hasattr(e, "model")})
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
    """The analysis to run: ``--analysis NAME``, else the file's only one, else op.

    Raises ConfigError (printed by the CLI as one message, exit 2) when ambiguous or absent.
    """
    from cosim.netlist.analysis import Op

    if name is None:
        if len(circuit.analyses) == 1:
            return circuit.analyses[0]
        if not circuit.analyses:
            return Op()
        raise ConfigError(f"the netlist has {len(circuit.analyses)} analyses; choose one with "
                          f"--analysis ({', '.join(a.kind for a in circuit.analyses)})")
    for a in circuit.analyses:
        if a.kind == name:
            return a
    if name == "op":
        return Op()
    raise ConfigError(f"the netlist has no .{name} analysis; it has: "
                      f"{', '.join(a.kind for a in circuit.analyses) or 'none'}")


def cmd_run(args) -> int:
    from cosim.netlist.validate import read_netlist_text

    text = read_netlist_text(args.file)
    bulk = None
    if args.engine == "native":
        # A large flat R/V/I netlist is read straight into columns (cosim.native.bulk);
        # anything else, or anything wrong, goes through the full parser.
        from cosim.native.bulk import read_bulk

        bulk = read_bulk(text, str(args.file))
    if bulk is None:
        from cosim.netlist.parse import parse_netlist

        circuit = parse_netlist(text, origin=str(args.file))
    else:
        circuit = bulk
    analysis = _pick_analysis(circuit, args.analysis)
    if args.engine == "native":
        from cosim.native import run_native

        # The result's netlist_sha256 (the job text's) is not printed: not rendered.
        result = bulk.run(analysis, netlist_sha256=False) if bulk is not None else \
            run_native(circuit, analysis)
    else:
        from cosim.spice import SpiceEngine

        with SpiceEngine(workers=1, timeout_s=_timeout_s(args)) as engine:
            result = engine.run(circuit, analysis)
    if args.json:
        out = result.to_jsonable()
        out["engine"] = args.engine
        out["netlist_sha256"] = circuit.sha256()
        print(json.dumps(out))
        return 0
    print(f"{args.file}: {analysis.render()}  (engine {args.engine}"
          + (f", ngspice {result.ngspice_version}" if args.engine == "ngspice"
             and result.ngspice_version else "") + ")")
    _print_vectors(result)
    return 0


def _print_vectors(result) -> None:
    """Print every vector: axis, node voltages, branch currents, noise spectra and totals.

    A value is printed with 6 significant digits; a vector as its first and last values
    and its length.  A large circuit has 100,000s of lines: the vectors are sorted into
    the groups with whole-array string operations on the stacked result
    (:meth:`~cosim.spice.SpiceResult.stacked`) and each group is formatted in one call.
    """
    import numpy as np

    def fmt(a):
        if a.ndim == 0:
            return f"{a.real:.6g}" if not np.iscomplexobj(a) else f"{complex(a):.6g}"
        if np.iscomplexobj(a):
            mag = np.abs(a)
            return f"|.| from {mag[0]:.6g} to {mag[-1]:.6g} ({a.size} points)"
        return f"from {a[0]:.6g} to {a[-1]:.6g} ({a.size} points)"

    axis = result.axis_name
    columns = result.stacked()
    if columns is None:
        names = np.array(sorted(result.vectors)) if result.vectors else np.zeros(0, "U1")
    else:
        names = columns.names_array
    branch = np.strings.endswith(names, "#branch")
    other = np.strings.endswith(names, "_spectrum") | np.strings.endswith(names, "_total")
    node = ~other & (np.strings.find(names, "#") < 0) & (names != (axis or "")) & \
        ~np.strings.startswith(names, "@")
    plain = columns is not None and columns.data.ndim == 1 and \
        not np.iscomplexobj(columns.data)      # an op: one real value per vector
    blocks = []
    if axis:
        blocks.append(f"  {'axis ' + axis:<28} {fmt(np.asarray(result.axis))}\n")
    # "V(name)" padded to 27 as f"V({name}){'':<{24 - len(name)}}" would be.
    for mask, head, close, tail in ((node, "  V(%-25s ", ")", " V"),
                                    (branch, "  I(%-25s ", ")", " A"),
                                    (other, "  %-27s ", "", "")):
        if not mask.any():
            continue
        keys = np.strings.add(names[mask], close)
        args: list = [None] * (2 * len(keys))
        args[0::2] = keys.tolist()
        if plain:
            args[1::2] = columns.data[mask].tolist()
            blocks.append(((head + "%.6g" + tail + "\n") * len(keys)) % tuple(args))
        else:
            args[1::2] = [fmt(result.vectors[k]) for k in names[mask].tolist()]
            blocks.append(((head + "%s" + tail + "\n") * len(keys)) % tuple(args))
    if blocks:
        print("".join(blocks)[:-1])


def cmd_extract(args) -> int:
    """Write the circuit of ``--layer`` at ``--step`` from a run file: a circuit record
    rebuilt with its stimulus (:func:`cosim.hw.records.deck`), else the stored text."""
    from cosim.store.runs import RunFile

    run = RunFile(args.run_file)
    sha, row = run.find_netlist(args.layer, args.step, args.phase, args.tile)
    where = (f"layer {row['layer']} {row['phase']} step {row['step']} tile {row['tile']}")
    path = row.get("record", "")
    if not path:
        _write_text(args.output, run.netlist(sha))
        print(f"wrote {args.output}: {where} (sha256 {sha[:12]})")
        if "record" not in row and row["tile"] not in ("spot_check", "all"):
            print("note: this run file predates circuit records: the text is the tile's "
                  "circuit template, its sources at DC 0, not that step's stimulus; train "
                  "again with this cosim to record the stimulus")
        if args.check:
            raise ConfigError("--check needs a circuit record (this netlist has none); "
                              "re-run it with 'cosim netlist run'")
        return 0
    from cosim.hw.records import CircuitRecord, deck

    data = run.circuit_record(path)
    record = CircuitRecord(tile=str(row["tile"]), kind=data["kind"],
                           template=run.netlist(sha), stimulus=data["stimulus"],
                           outputs=data["outputs"], tolerance=data["tolerance"])
    circuit = deck(record)
    circuit.title = f"{where}: {circuit.title}"
    _write_text(args.output, circuit.render())
    rows = next(iter(record.stimulus.values())).shape
    print(f"wrote {args.output}: {where}, recorded stimulus ({', '.join(record.stimulus)}; "
          f"{rows[0]} rows) in template sha256 {sha[:12]}; {circuit.analyses[0].render()}")
    if not args.check:
        return 0
    from cosim.hw.records import compare
    from cosim.spice import SpiceEngine

    with SpiceEngine(workers=1, timeout_s=_timeout_s(args)) as engine:
        result = engine.run(circuit, circuit.analyses[0])
    name, err, ok = compare(record, result)
    unit = {"v": "V", "a": "A"}.get(name.rsplit("_", 1)[-1], "")
    print(f"ngspice vs the recorded {name}: max |error| {err:.3g} {unit} (tolerance "
          f"{record.tolerance:.3g} {unit}): {'reproduced' if ok else 'NOT reproduced'}")
    return 0 if ok else 1


# ----------------------------------------------------------------------------- diff, plot
def _register_diff_plot(sub) -> None:
    """The ``diff`` and ``plot`` subcommands of ``cosim netlist``."""
    diff = sub.add_parser("diff", help="element-level differences between two netlists",
                          description="Parse two netlist files and compare them element by "
                                      "element (by name), with models, subcircuits, params, "
                                      "options, initial conditions and analyses. Exit 0 if "
                                      "identical, 1 if different (like diff).")
    diff.add_argument("a", type=Path, metavar="A", help="first netlist file")
    diff.add_argument("b", type=Path, metavar="B", help="second netlist file")
    diff.add_argument("--json", action="store_true", help="print JSON")
    diff.set_defaults(func=cmd_diff)

    plot = sub.add_parser("plot", help="run a netlist and plot the result to a PNG",
                          description="Run a netlist file in ngspice and draw the result: "
                                      "node voltages vs time or swept value (tran, dc), a "
                                      "Bode plot (ac), noise spectra (noise), or, for a "
                                      "crossbar read netlist (cells R_r*_c*), maps of cell "
                                      "currents and voltages.")
    plot.add_argument("file", type=Path, help="netlist file (SPICE text)")
    plot.add_argument("-o", "--output", type=Path, default=None, metavar="PNG",
                      help="image to write (default: FILE with suffix .png)")
    plot.add_argument("--analysis", choices=_ANALYSES,
                      help="which of the file's analyses to run (default: the only one)")
    plot.add_argument("--nodes", nargs="+", metavar="NODE",
                      help="node voltages to draw (default: up to 8 top-level nodes)")
    plot.add_argument("--timeout", type=float, default=120.0, metavar="S",
                      help="time limit of the run in seconds (default 120)")
    plot.set_defaults(func=cmd_plot)


def _element_fields(e) -> dict:
    import dataclasses

    return {f.name: getattr(e, f.name) for f in dataclasses.fields(e)}


def _jsonable(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return str(v)


def _diff_named(a: dict, b: dict, fields_of) -> dict:
    """Added / removed / changed items of two name -> object maps."""
    out = {"added": sorted(b[n].name for n in set(b) - set(a)),
           "removed": sorted(a[n].name for n in set(a) - set(b)), "changed": []}
    for name in [n for n in a if n in b]:
        x, y = a[name], b[name]
        name = x.name
        if type(x) is not type(y):
            out["changed"].append({"name": name, "type": {"old": type(x).__name__,
                                                          "new": type(y).__name__}})
            continue
        fx, fy = fields_of(x), fields_of(y)
        changed = {k: {"old": _jsonable(fx.get(k)), "new": _jsonable(fy.get(k))}
                   for k in sorted(set(fx) | set(fy)) if k != "name" and fx.get(k) != fy.get(k)}
        if changed:
            out["changed"].append({"name": name, "type": type(x).__name__, "fields": changed})
    return out


def _diff_dict(a: dict, b: dict) -> dict:
    return {k: {"old": _jsonable(a.get(k)), "new": _jsonable(b.get(k))}
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def netlist_diff(a, b) -> dict:
    """Element-level differences between two Circuits (used by ``netlist diff``).

    Elements, models and subcircuits are matched by name (case-insensitive, as SPICE
    does); a matched element is reported with each changed field and its old and new
    value.  Subcircuits are compared by ports, params, models and their own elements.

    Returns
    -------
    dict
        ``identical`` (bool) and, per part, the differences: ``elements``, ``models``,
        ``subcircuits`` ({added, removed, changed}), ``params``, ``options``,
        ``initial_conditions`` ({key: {old, new}}), ``analyses``, ``includes`` and
        ``title`` ({old, new} when they differ).
    """
    def by_name(items):
        return {x.name.lower(): x for x in items}

    def model_fields(m):
        return {"type": m.type, "params": dict(m.params)}

    def subckt_fields(s):
        return {"ports": list(s.ports), "params": dict(s.params),
                "models": {m.name: model_fields(m) for m in s.models},
                "elements": {e.name: _element_fields(e) for e in s.elements}}

    out = {
        "elements": _diff_named(by_name(a.elements), by_name(b.elements), _element_fields),
        "models": _diff_named(by_name(a.models), by_name(b.models), model_fields),
        "subcircuits": _diff_named(by_name(a.subcircuits), by_name(b.subcircuits),
                                   subckt_fields),
        "params": _diff_dict(a.params, b.params),
        "options": _diff_dict(a.options, b.options),
        "initial_conditions": _diff_dict(a.initial_conditions, b.initial_conditions),
    }
    ra, rb = [x.render() for x in a.analyses], [x.render() for x in b.analyses]
    out["analyses"] = {} if ra == rb else {"old": ra, "new": rb}
    out["includes"] = {} if list(a.includes) == list(b.includes) else \
        {"old": list(a.includes), "new": list(b.includes)}
    out["title"] = {} if a.title == b.title else {"old": a.title, "new": b.title}
    identical = all(not any(v.values()) if isinstance(v, dict) and "added" in v else not v
                    for v in out.values())
    return {"identical": identical, **out}


def cmd_diff(args) -> int:
    from cosim.netlist import read_netlist

    d = netlist_diff(read_netlist(args.a), read_netlist(args.b))
    if args.json:
        print(json.dumps({"a": str(args.a), "b": str(args.b), **d}, indent=2))
        return 0 if d["identical"] else 1
    if d["identical"]:
        print(f"{args.a} and {args.b}: identical netlists")
        return 0
    print(f"--- {args.a}\n+++ {args.b}")
    for part in ("elements", "models", "subcircuits"):
        sec = d[part]
        for name in sec["removed"]:
            print(f"- {part[:-1]} {name}")
        for name in sec["added"]:
            print(f"+ {part[:-1]} {name}")
        for ch in sec["changed"]:
            if "fields" not in ch:
                print(f"~ {part[:-1]} {ch['name']}: type {ch['type']['old']} -> "
                      f"{ch['type']['new']}")
                continue
            for f, v in ch["fields"].items():
                print(f"~ {part[:-1]} {ch['name']} ({ch['type']}) {f}: {v['old']} -> "
                      f"{v['new']}")
    for part in ("params", "options", "initial_conditions"):
        for k, v in d[part].items():
            print(f"~ {part} {k}: {v['old']} -> {v['new']}")
    for part in ("analyses", "includes", "title"):
        if d[part]:
            print(f"~ {part}: {d[part]['old']} -> {d[part]['new']}")
    return 1


def cmd_plot(args) -> int:
    from cosim.netlist import read_netlist
    from cosim.report.netlist import run_figure
    from cosim.spice import SpiceEngine

    circuit = read_netlist(args.file)
    analysis = _pick_analysis(circuit, args.analysis)
    with SpiceEngine(workers=1, timeout_s=_timeout_s(args)) as engine:
        result = engine.run(circuit, analysis)
    out = args.output or args.file.with_suffix(".png")
    fig, what = run_figure(circuit, analysis, result, args.nodes)
    from cosim.paths import user_path
    from cosim.report._mpl import pyplot

    with user_path(out, "plot file", "give -o a writable path"):
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=90, bbox_inches="tight")
    pyplot().close(fig)
    print(f"wrote {out}: {what}")
    return 0
