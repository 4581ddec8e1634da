"""Native twin of the SPICE engine: sparse modified nodal analysis of a netlist object.

It solves the same :class:`~cosim.netlist.Circuit` that ngspice runs, with the same
result names and signs, so that ngspice can serve as its reference in the tests.

    from cosim.native import solve_op, run_native, factorize
    x = solve_op(circuit)                      # {"out": 0.5, "v1#branch": -1e-3, ...}
    res = run_native(circuit, Op())            # a SpiceResult, like cosim.spice.run
    s = factorize(circuit, inputs=["VROW0", "VROW1"], outputs=["vcol0#branch"])
    y = s.solve(u)                             # u: (batch, 2) -> y: (batch, 1)
    bulk = read_bulk(text)                     # a large flat R/V/I netlist, as columns
    s = factorize(bulk, inputs=[...], outputs=[...])    # or run_native(bulk)

Supported: R, V, I, E, G, F, H, L (short), C (open), B-sources with expressions,
diodes, level-1 MOSFETs and subcircuit instances (flattened with ngspice's names),
including those of the shipped libraries a circuit includes (``netlists/*.lib``, read by
:mod:`cosim.native.library`).  Analyses: op and dc.  Anything else raises
:class:`UnsupportedElementError`, naming the element or analysis.
"""

from cosim.lazy import lazy_names

# The function ``flatten`` shares its name with its module, which would replace it as an
# attribute of the package when first imported: imported here (a light module).
from cosim.native.flatten import flatten

# Imported on first use (cosim.lazy): the columnar reader needs no element classes.
__getattr__, __dir__ = lazy_names(__name__, {
    "bulk": ("BulkNetlist", "read_bulk"),
    "errors": ("NativeConvergenceError", "NativeError", "NativeSingularMatrixError",
               "UnsupportedElementError"),
    "expr": ("ExpressionError",),
    "mna": ("MnaSystem",),
    "solver": ("NativeSolver", "build_system", "factorize", "run_native", "solve_op"),
})

__all__ = [
    "BulkNetlist", "ExpressionError", "MnaSystem", "NativeConvergenceError", "NativeError",
    "NativeSingularMatrixError", "NativeSolver", "UnsupportedElementError", "build_system",
    "factorize", "flatten", "read_bulk", "run_native", "solve_op",
]
