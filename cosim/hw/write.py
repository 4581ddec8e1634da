"""Native twin of a crossbar write: quasi-static nodal solves + the memristor state ODE.

The write netlist (:func:`cosim.hw.crossbar.build_crossbar_write`) has no capacitance
other than the memristors' state capacitors, which are decoupled from the electrical
network (their node only integrates dx/dt).  At every instant the array is therefore a
resistive network whose cell conductances are set by the states x; this twin solves it
with the native MNA solver (one sparse LU per conductance state) and integrates

    dx_k/dt = f(V_k(x, t), x_k)        (f: ``cosim.devices.memristor`` model, dxdt)

over the pulse with scipy's ``solve_ivp``.  All line drivers share one pulse shape, so
the source vector is ``s(t) b`` with ``s`` the normalised trapezoid.  Supported: models
whose current is linear in V at a fixed state (``linear_joglekar``, ``linear_biolek``,
``vteam``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from cosim.errors import ConfigError
from cosim.hw.crossbar import (
    WriteScheme,
    _col_node,
    _lines,
    _nonneg,
    _row_node,
    write_bias,
)
from cosim.netlist import Circuit, Op, Resistor

LINEAR_IV_MODELS: tuple[str, ...] = ("linear_joglekar", "linear_biolek", "vteam")


def _trapezoid(t: float, delay_s: float, rise_s: float, width_s: float) -> float:
    """SPICE PULSE(0 1 delay rise rise width) value at time t (one period)."""
    if t <= delay_s:
        return 0.0
    t -= delay_s
    if t < rise_s:
        return t / rise_s
    t -= rise_s
    if t <= width_s:
        return 1.0
    t -= width_s
    return max(1.0 - t / rise_s, 0.0)


def simulate_write_native(rows: int, cols: int, selected: tuple[int, int], v_write_v: float,
                          scheme: WriteScheme = "v/2", *, model: str = "vteam", x0=None,
                          model_params: Mapping[str, float] | None = None,
                          wire_resistance_ohm: float = 0.0,
                          driver_resistance_ohm: float = 0.0, pulse_width_s: float = 1e-6,
                          rise_s: float = 1e-9, delay_s: float = 1e-9,
                          stop_s: float | None = None, rtol: float = 1e-8,
                          atol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """States of every cell during a write, by the native twin.

    Arguments as :func:`cosim.hw.crossbar.build_crossbar_write` (same netlist).

    Returns
    -------
    t_s : ndarray, shape (n_t,)
        Times (s): the pulse's corners and the stop time.
    x : ndarray, shape (n_t, rows, cols)
        Cell states at ``t_s``.
    """
    from scipy.integrate import solve_ivp

    from cosim.devices.memristor import get_model
    from cosim.native import build_system
    from cosim.native.mna import _factor

    m = get_model(model)
    if m.name not in LINEAR_IV_MODELS:
        raise ConfigError(f"model {m.name!r}: the write twin needs a current linear in V at "
                          f"fixed state; choose one of {LINEAR_IV_MODELS}")
    pr = m.params(**dict(model_params or {}))
    x0_arr = np.broadcast_to(np.asarray(pr["x0"] if x0 is None else x0, dtype=float),
                             (rows, cols)).ravel().copy()
    if np.any(x0_arr < 0) or np.any(x0_arr > 1):
        raise ConfigError("x0 must be in [0, 1]")
    pr["x0"] = x0_arr  # per-cell reference of the state-node leak, as in the netlist
    wire = _nonneg(wire_resistance_ohm, "wire_resistance_ohm")
    drv = _nonneg(driver_resistance_ohm, "driver_resistance_ohm")
    bias = write_bias(v_write_v, scheme)
    sr, sc = selected
    if not (0 <= sr < rows and 0 <= sc < cols):
        raise ConfigError(f"selected={selected}: must be a (row, col) inside {rows}x{cols}")
    row_v = [bias.selected_row_v if r == sr else bias.other_rows_v for r in range(rows)]
    col_v = [bias.selected_col_v if c == sc else bias.other_cols_v for c in range(cols)]
    wired = wire > 0

    def g_of(x):
        return np.asarray(m._current(1.0, x, **pr), dtype=float)  # I(1 V) = conductance

    g0 = g_of(x0_arr)
    circ = Circuit("crossbar write twin (frozen state)")
    elements = _lines(rows, cols, wire, drv, drv, row_v, col_v)
    a_nodes, b_nodes = [], []
    for r in range(rows):
        for c in range(cols):
            a, b = _row_node(r, c, wired), _col_node(c, r, wired)
            a_nodes.append(a)
            b_nodes.append(b)
            elements.append(Resistor(f"R_r{r}_c{c}", a, b, 1.0 / g0[r * cols + c]))
    circ.add(*elements)
    circ.analyses.append(Op())
    system = build_system(circ)
    n = system.n
    ia = np.array([system.index[a.lower()] for a in a_nodes])
    ib = np.array([system.index[b.lower()] for b in b_nodes])
    k = np.arange(len(ia))
    # Incidence: column k has +1 at the row node, -1 at the column node (ground dropped).
    rows_i = np.concatenate([ia, ib])
    cols_i = np.concatenate([k, k])
    vals_i = np.concatenate([np.ones_like(k), -np.ones_like(k)]).astype(float)
    keep = rows_i < n
    inc = sp.csc_matrix((vals_i[keep], (rows_i[keep], cols_i[keep])), shape=(n, len(k)))
    xe_a = np.append(np.zeros(n), 0.0)

    def cell_voltages(x, s):
        A = system.A + inc @ sp.diags(g_of(x) - g0) @ inc.T
        sol = _factor(A.tocsc(), system).solve(system.b * s)
        xe = xe_a.copy()
        xe[:n] = sol
        return xe[ia] - xe[ib]

    def rhs(t, x):
        s = _trapezoid(t, delay_s, rise_s, pulse_width_s)
        return np.asarray(m._dxdt(cell_voltages(x, s), x, **pr), dtype=float)

    end = delay_s + 2 * rise_s + pulse_width_s
    stop = end + delay_s if stop_s is None else float(stop_s)
    corners = [0.0, delay_s, delay_s + rise_s, delay_s + rise_s + pulse_width_s, end, stop]
    corners = sorted({c for c in corners if c <= stop})
    xs = [x0_arr.copy()]
    x = x0_arr.copy()
    for t0, t1 in zip(corners, corners[1:]):
        if t1 <= t0:
            continue
        sol = solve_ivp(rhs, (t0, t1), x, method="RK45", rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"write twin: integration failed ({sol.message})")
        x = sol.y[:, -1]
        xs.append(x.copy())
    return np.array(corners), np.array(xs).reshape(-1, rows, cols)
