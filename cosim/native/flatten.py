"""Flatten a :class:`~cosim.netlist.Circuit` into primitive elements with numeric values.

Subcircuit instances are expanded recursively.  Names follow ngspice, so native and
ngspice results share their keys: an internal node ``m`` of instance ``x1`` becomes
``x1.m`` (``x1.x2.m`` when nested); a voltage source ``v1`` inside ``x1`` has the branch
``v.x1.v1``.  Everything is lower-case, as ngspice reports it.

Parameters are resolved with ngspice's scoping: global ``.param`` values, then the
subcircuit's defaults, then the instance's overrides (evaluated in the parent's scope).

Subcircuits and models come from the circuit itself and from the shipped libraries it
includes (``Circuit.includes``, the ``* begin include NAME`` blocks of a rendered
netlist), read by :func:`cosim.native.library.shipped_library`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cosim.native.errors import UnsupportedElementError
from cosim.native.expr import ExpressionError, constant_value, parse_expression, resolve
from cosim.native.table import GROUND, Flat, FlatTable

if TYPE_CHECKING:
    from cosim.netlist import Circuit, Model

__all__ = ["GROUND", "Flat", "FlatTable", "flatten", "flatten_table"]

_DEFAULT_PARAMS = {"time": 0.0, "temper": 27.0, "pi": 3.141592653589793}


def _const(value, params: dict, where: str) -> float:
    if isinstance(value, str):
        try:
            tree = parse_expression(value)
            tree = resolve(tree, params, _no_nodes(where), _no_nodes(where))
            return constant_value(tree)
        except ExpressionError as exc:
            raise ExpressionError(f"{where}: {exc}") from None
    return float(value)


def _no_nodes(where: str):
    def fail(name: str) -> str:
        raise UnsupportedElementError(f"{where}: a value refers to circuit variable "
                                      f"{name!r}; only constants and parameters are allowed")
    return fail


def _eval_params(items, base: dict, where: str) -> dict:
    scope = dict(base)
    for key, val in items:
        scope[key.lower()] = _const(val, scope, f"{where}: parameter {key}")
    return scope


def flatten(circuit: Circuit) -> list[Flat]:
    """Primitive elements of ``circuit`` (subcircuits expanded): resistors, V sources and
    I sources first, then the other elements, each kind in netlist order.

    Raises
    ------
    UnsupportedElementError
        For an element type or subcircuit the native solver cannot handle.
    """
    return flatten_table(circuit).elements()


def flatten_table(circuit: Circuit) -> FlatTable:
    """Primitive elements of ``circuit`` (subcircuits expanded) as a :class:`FlatTable`.

    Raises
    ------
    UnsupportedElementError
        For an element type or subcircuit the native solver cannot handle.
    """
    # The element classes and the shipped libraries are imported here, not with the
    # module: the columnar path (cosim.native.bulk) never flattens.
    from cosim.native.library import shipped_library

    params = _eval_params(circuit.params.items(), _DEFAULT_PARAMS, "circuit .param")
    subckts: dict = {}
    models: dict = {}
    origin: dict[tuple[str, str], str] = {}
    sources = [(f"include {name}", shipped_library(name)) for name in circuit.includes]
    sources.append(("the circuit", circuit))
    for where, lib in sources:
        for kind, table, items in (("subcircuit", subckts, lib.subcircuits),
                                   ("model", models, lib.models)):
            for item in items:
                key = item.name.lower()
                if key in table:
                    raise UnsupportedElementError(
                        f"{kind} {item.name!r} is defined twice (in {origin[kind, key]} and "
                        f"in {where}); rename one of them")
                table[key] = item
                origin[kind, key] = where
    out = FlatTable()
    _expand(circuit.elements, (), {}, params, models, subckts, out, depth=0)
    return out


def _expand(elements, path: tuple[str, ...], portmap: dict[str, str], params: dict,  # noqa: C901
            models: dict[str, Model], subckts: dict, out: FlatTable, depth: int) -> None:
    from cosim.netlist.elements import (
        CCCS,
        CCVS,
        VCCS,
        VCVS,
        BehavioralSource,
        Capacitor,
        CurrentSource,
        Diode,
        Inductor,
        Mosfet,
        Resistor,
        SubcircuitInstance,
        VoltageSource,
    )

    if depth > 50:
        raise UnsupportedElementError("subcircuits nested more than 50 deep (recursive "
                                      "definition?)")
    prefix = ".".join(path)

    def node(n: str) -> str:
        n = n.lower()
        if n == GROUND:
            return GROUND
        if n in portmap:
            return portmap[n]
        return f"{prefix}.{n}" if prefix else n

    def ename(e_name: str) -> str:
        n = e_name.lower()
        return f"{prefix}.{n}" if prefix else n

    def branch(e_name: str) -> str:
        n = e_name.lower()
        return f"{n[0]}.{prefix}.{n}" if prefix else n

    for e in elements:
        if type(e) is Resistor and type(e.resistance_ohm) is float and e.resistance_ohm > 0:
            # The common case, straight into the columns (no Flat object, no message text).
            a, b = node(e.n_pos), node(e.n_neg)
            out.r_at.append(len(out.terminals))
            out.terminals += (a, b)
            out.r_name.append(ename(e.name))
            out.r_pos.append(a)
            out.r_neg.append(b)
            out.r_g.append(1.0 / e.resistance_ohm)
            continue
        where = f"element {ename(e.name)}"
        if isinstance(e, Resistor):
            r = _const(e.resistance_ohm, params, where)
            if not r > 0:
                raise UnsupportedElementError(f"{where}: resistance {r!r} ohm must be > 0")
            out.add(Flat("R", ename(e.name), (node(e.n_pos), node(e.n_neg)), 1.0 / r))
        elif isinstance(e, Capacitor):
            ic = None if e.ic_v is None else _const(e.ic_v, params, f"{where}: IC")
            out.add(Flat("C", ename(e.name), (node(e.n_pos), node(e.n_neg)),
                            _const(e.capacitance_f, params, where), extra={"ic": ic}))
        elif isinstance(e, Inductor):
            out.add(Flat("L", ename(e.name), (node(e.n_pos), node(e.n_neg)), 0.0,
                            branch=branch(e.name)))
        elif isinstance(e, VoltageSource):
            out.add(Flat("V", ename(e.name), (node(e.n_pos), node(e.n_neg)),
                            _const(e.dc, params, where), branch=branch(e.name)))
        elif isinstance(e, CurrentSource):
            out.add(Flat("I", ename(e.name), (node(e.n_pos), node(e.n_neg)),
                            _const(e.dc, params, where)))
        elif isinstance(e, (VCVS, VCCS)):
            kind = "E" if isinstance(e, VCVS) else "G"
            out.add(Flat(kind, ename(e.name), tuple(node(n) for n in e.nodes),
                            _const(e.gain, params, f"{where}: gain"),
                            branch=branch(e.name) if kind == "E" else None))
        elif isinstance(e, (CCCS, CCVS)):
            kind = "F" if isinstance(e, CCCS) else "H"
            out.add(Flat(kind, ename(e.name), (node(e.n_pos), node(e.n_neg)),
                            float(e.gain), branch=branch(e.name) if kind == "H" else None,
                            control=branch(e.vsource)))
        elif isinstance(e, BehavioralSource):
            try:
                tree = resolve(parse_expression(e.expression), params, node, branch)
            except ExpressionError as exc:
                raise ExpressionError(f"{where}: {exc}") from None
            out.add(Flat("B", ename(e.name), (node(e.n_pos), node(e.n_neg)),
                            expr=tree, quantity=e.quantity,
                            branch=branch(e.name) if e.quantity == "V" else None))
        elif isinstance(e, Diode):
            m = _model(e.model, models, params, where, ("D",))
            out.add(Flat("D", ename(e.name), (node(e.n_pos), node(e.n_neg)), model=m,
                            extra={"area": 1.0 if e.area is None else float(e.area)}))
        elif isinstance(e, Mosfet):
            m = _model(e.model, models, params, where, ("NMOS", "PMOS"))
            out.add(Flat("M", ename(e.name), tuple(node(n) for n in e.nodes), model=m,
                            extra={"w": float(e.width_m), "l": float(e.length_m)}))
        elif isinstance(e, SubcircuitInstance):
            sub = subckts.get(e.subckt.lower())
            if sub is None:
                raise UnsupportedElementError(f"{where}: unknown subcircuit {e.subckt!r}; "
                                              f"defined: {sorted(subckts)}")
            if len(sub.ports) != len(e.ports):
                raise UnsupportedElementError(
                    f"{where}: {len(e.ports)} nodes for subcircuit {sub.name} with "
                    f"{len(sub.ports)} ports {sub.ports}")
            inner = _eval_params(sorted(sub.params.items()), params, f"subckt {sub.name}")
            for key, val in sorted(e.params.items()):
                if key.lower() not in {k.lower() for k in sub.params}:
                    raise UnsupportedElementError(
                        f"{where}: parameter {key!r} is not declared by subcircuit "
                        f"{sub.name} (declared: {sorted(sub.params)})")
                inner[key.lower()] = _const(val, params, f"{where}: parameter {key}")
            sub_models = dict(models)
            sub_models.update({m.name.lower(): m for m in sub.models})
            ports = {p.lower(): node(n) for p, n in zip(sub.ports, e.ports)}
            _expand(sub.elements, path + (e.name.lower(),), ports, inner, sub_models,
                    subckts, out, depth + 1)
        else:
            raise UnsupportedElementError(
                f"{where}: element type {type(e).__name__} is not supported by the native "
                "solver; run this circuit with ngspice")


def _model(name: str, models: dict[str, Model], params: dict, where: str,
           types: tuple[str, ...]) -> dict:
    m = models.get(name.lower())
    if m is None:
        raise UnsupportedElementError(f"{where}: unknown model {name!r}; defined: "
                                      f"{sorted(models)}")
    if m.type.upper() not in types:
        raise UnsupportedElementError(f"{where}: model {name} has type {m.type}, expected "
                                      f"one of {types}")
    out = {k.lower(): _const(v, params, f"model {name}.{k}") for k, v in m.params.items()}
    out["_type"] = m.type.upper()
    return out
