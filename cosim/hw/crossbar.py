"""Memristor crossbar netlists: read (forward and transposed) and write (V/2, V/3).

Layout of an R x C array (rows are horizontal lines, columns vertical lines)::

    VROW r -- RROW r -- row{r} --RWR{r}_0-- wr{r}_0 --RWR{r}_1-- wr{r}_1 ...
                                              |                    |
                                          cell(r,0)            cell(r,1)
                                              |                    |
    column c: wc{c}_0 --RWC{c}_0-- wc{c}_1 ... wc{c}_{R-1} --RWC{c}_{R-1}-- col{c}
                                                   -- RCOL c -- VCOL c -- ground

* Every line has one wire segment of ``wire_resistance_ohm`` per cell (NeuroSim's "wire
  resistance per cell"): row r enters at column 0 from the row periphery, column c
  leaves after row R-1 to the column periphery.  With zero wire resistance the segments
  are left out and all cells of a line share the node ``row{r}`` / ``col{c}``.
* The periphery of each line is a voltage source (``VROW{r}``, ``VCOL{c}``) behind a
  series resistance (``RROW{r}``, ``RCOL{c}``; left out when zero; its node is
  ``prow{r}`` / ``pcol{c}``).  In a read, the driven side's sources carry the input
  voltages and the sensed side's sources are 0 V: a virtual ground whose branch current
  is the output.  ngspice's sign makes that current positive when it flows out of the
  array into the virtual ground, so an ideal array gives ``I_col = G^T v`` (forward) and
  ``I_row = G v`` (transposed), both positive for positive G and v.
* Cells: ``R_r{r}_c{c}`` (linear resistor of conductance ``G[r, c]``) or ``B_r{r}_c{c}``
  (nonlinear read I-V ``I = G/b sinh(b V)``, Yakopcic's sinh form, small-signal
  conductance G), from the row node to the column node.  In a 1T1R array the cell is in
  series with an access transistor ``M_r{r}_c{c}`` (level-1 NMOS, gate on ``wl`` driven
  by ``VWL``) through the node ``m{r}_{c}``; or, with ``access="resistor"``, with the
  on-resistance ``RA_r{r}_c{c}``.
* Writes (:func:`build_crossbar_write`) use memristor subcircuit instances
  ``X_r{r}_c{c}`` of ``netlists/memristors.lib``; their states are ``x_r{r}_c{c}.x``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cosim.errors import ConfigError
from cosim.netlist import (
    BehavioralSource,
    Circuit,
    Model,
    Mosfet,
    Op,
    Pulse,
    Resistor,
    SubcircuitInstance,
    Tran,
    VoltageSource,
)
from cosim.netlist.validate import format_number

CellKind = Literal["passive", "1t1r"]
Direction = Literal["forward", "transposed"]
CellIV = Literal["linear", "sinh"]
Access = Literal["mosfet", "resistor"]
WriteScheme = Literal["v/2", "v/3"]

CELL_KINDS: tuple[str, ...] = ("passive", "1t1r")
DIRECTIONS: tuple[str, ...] = ("forward", "transposed")
CELL_IVS: tuple[str, ...] = ("linear", "sinh")
ACCESS_KINDS: tuple[str, ...] = ("mosfet", "resistor")
WRITE_SCHEMES: tuple[str, ...] = ("v/2", "v/3")

ACCESS_MODEL = "NACCESS"
# Tolerances written into nonlinear read netlists so that ngspice is a reference to
# 1e-6 relative or better (its defaults, reltol = 1e-3, stop Newton much earlier).
REFERENCE_OPTIONS: Mapping[str, float] = {"reltol": 1e-9, "vntol": 1e-12, "abstol": 1e-15}


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ConfigError(f"{what}={value!r}: choose one of {allowed}")
    return value


def _nonneg(value: float, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}={value!r}: give a number in SI units") from None
    if not np.isfinite(x) or x < 0:
        raise ConfigError(f"{what}={value!r}: must be finite and >= 0 (0 means ideal)")
    return x


def _conductances(G) -> np.ndarray:
    g = np.asarray(G, dtype=float)
    if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
        raise ConfigError(f"G has shape {g.shape}; give a (rows, cols) array of conductances "
                          "in siemens")
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ConfigError("G must be finite and > 0 S everywhere (a missing device is a "
                          "very small conductance, e.g. 1/R_off)")
    return g


@dataclass(frozen=True)
class CrossbarPorts:
    """Names of a read netlist's inputs and outputs.

    Attributes
    ----------
    inputs : tuple of str
        The driving voltage sources, in line order (``VROW0..`` or ``VCOL0..``).
    outputs : tuple of str
        Result vectors of the sensed currents (``vcol0#branch``..), in A.
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def crossbar_ports(rows: int, cols: int, direction: Direction = "forward") -> CrossbarPorts:
    """Input sources and output vectors of a read netlist of an R x C array."""
    _choice(direction, DIRECTIONS, "direction")
    r_src = tuple(f"VROW{r}" for r in range(rows))
    c_src = tuple(f"VCOL{c}" for c in range(cols))
    if direction == "forward":
        return CrossbarPorts(r_src, tuple(f"{s.lower()}#branch" for s in c_src))
    return CrossbarPorts(c_src, tuple(f"{s.lower()}#branch" for s in r_src))


def ideal_read(G, v, direction: Direction = "forward") -> np.ndarray:
    """Ideal-wire read currents (A): ``v @ G`` (forward, v per row) or ``v @ G.T``.

    ``v`` has shape (..., rows) for forward or (..., cols) for transposed.
    """
    g = _conductances(G)
    _choice(direction, DIRECTIONS, "direction")
    return np.asarray(v, dtype=float) @ (g if direction == "forward" else g.T)


def _row_node(r: int, c: int, wired: bool) -> str:
    return f"wr{r}_{c}" if wired else f"row{r}"


def _col_node(c: int, r: int, wired: bool) -> str:
    return f"wc{c}_{r}" if wired else f"col{c}"


def _lines(rows: int, cols: int, wire_ohm: float, row_ohm: float, col_ohm: float,
           row_v: Sequence, col_v: Sequence) -> list:
    """Periphery sources and resistances, and the wire segments of every line.

    ``row_v`` / ``col_v`` items are a DC value (float) or (dc, waveform)."""
    wired = wire_ohm > 0
    out: list = []

    def source(name: str, line_node: str, series_ohm: float, res_name: str, periph: str,
               value) -> None:
        dc, wave = (value, None) if not isinstance(value, tuple) else value
        if series_ohm > 0:
            out.append(VoltageSource(name, periph, "0", float(dc), None, wave))
            out.append(Resistor(res_name, periph, line_node, series_ohm))
        else:
            out.append(VoltageSource(name, line_node, "0", float(dc), None, wave))

    for r in range(rows):
        source(f"VROW{r}", f"row{r}", row_ohm, f"RROW{r}", f"prow{r}", row_v[r])
        if wired:
            for c in range(cols):
                a = f"row{r}" if c == 0 else f"wr{r}_{c - 1}"
                out.append(Resistor(f"RWR{r}_{c}", a, f"wr{r}_{c}", wire_ohm))
    for c in range(cols):
        source(f"VCOL{c}", f"col{c}", col_ohm, f"RCOL{c}", f"pcol{c}", col_v[c])
        if wired:
            for r in range(rows):
                b = f"col{c}" if r == rows - 1 else f"wc{c}_{r + 1}"
                out.append(Resistor(f"RWC{c}_{r}", f"wc{c}_{r}", b, wire_ohm))
    return out


def build_crossbar_read(G, v_in, wire_resistance_ohm: float = 0.0,
                        driver_resistance_ohm: float = 0.0,
                        sense_resistance_ohm: float = 0.0, cell: CellKind = "passive",
                        direction: Direction = "forward", *, cell_iv: CellIV = "linear",
                        sinh_b_per_v: float = 1.9, access: Access = "mosfet",
                        access_on_resistance_ohm: float = 15e3,
                        gate_voltage_v: float = 1.8, access_vto_v: float = 0.4,
                        access_w_m: float = 1e-6, access_l_m: float = 1e-6,
                        title: str | None = None) -> Circuit:
    """Netlist of one read of a crossbar, with an ``.op`` analysis.

    Parameters
    ----------
    G : array_like, shape (rows, cols)
        Cell conductances (S), all > 0; ``G[r, c]`` joins row r and column c.
    v_in : array_like, shape (rows,) forward or (cols,) transposed
        Input voltages (V) of the driven lines.
    wire_resistance_ohm : float
        Resistance (ohm) of one wire segment (one cell pitch) on rows and columns; 0 for
        ideal wires.
    driver_resistance_ohm, sense_resistance_ohm : float
        Output resistance of each line driver and input resistance of each sense
        amplifier (ohm); 0 for ideal.
    cell : {"passive", "1t1r"}
        Cross-point cell (sneak paths through every cell) or one transistor per cell.
    direction : {"forward", "transposed"}
        Forward drives the rows and senses the columns (``I = G^T v``); transposed
        drives the columns and senses the rows (``I = G v``).
    cell_iv : {"linear", "sinh"}
        Cell read I-V: ``I = G V`` or ``I = (G / b) sinh(b V)`` (Yakopcic et al., IEEE
        EDL 32(10), 2011), which has the small-signal conductance G.
    sinh_b_per_v : float
        b of the sinh I-V (1/V).
    access : {"mosfet", "resistor"}
        1T1R access device: a level-1 NMOS (``VTO = access_vto_v``, gate at
        ``gate_voltage_v``, ``KP`` chosen so that its deep-triode on-resistance is
        ``access_on_resistance_ohm``: ``KP = L / (W R_on (V_G - V_TO))``) or an ideal
        switch of resistance ``access_on_resistance_ohm``.
    title : str, optional
        Netlist title.

    Returns
    -------
    Circuit
        Outputs: see :func:`crossbar_ports`.  Nonlinear arrays (1T1R with a MOSFET, or
        sinh cells) carry ``.options`` of :data:`REFERENCE_OPTIONS`.
    """
    g = _conductances(G)
    rows, cols = g.shape
    _choice(cell, CELL_KINDS, "cell")
    _choice(direction, DIRECTIONS, "direction")
    _choice(cell_iv, CELL_IVS, "cell_iv")
    _choice(access, ACCESS_KINDS, "access")
    wire = _nonneg(wire_resistance_ohm, "wire_resistance_ohm")
    drv = _nonneg(driver_resistance_ohm, "driver_resistance_ohm")
    sense = _nonneg(sense_resistance_ohm, "sense_resistance_ohm")
    v = np.asarray(v_in, dtype=float).ravel()
    n_in = rows if direction == "forward" else cols
    if v.shape != (n_in,) or not np.all(np.isfinite(v)):
        raise ConfigError(f"v_in has shape {np.shape(v_in)}; give {n_in} finite voltages "
                          f"(V), one per {'row' if direction == 'forward' else 'column'}")
    if cell_iv == "sinh" and not sinh_b_per_v > 0:
        raise ConfigError(f"sinh_b_per_v={sinh_b_per_v!r} must be > 0 (1/V)")
    circ = Circuit(title or f"crossbar read {rows}x{cols} {cell} {direction} "
                            f"wire={format_number(wire)} ohm")
    if direction == "forward":
        row_v, col_v, row_ohm, col_ohm = list(v), [0.0] * cols, drv, sense
    else:
        row_v, col_v, row_ohm, col_ohm = [0.0] * rows, list(v), sense, drv
    elements = _lines(rows, cols, wire, row_ohm, col_ohm, row_v, col_v)
    wired = wire > 0
    nonlinear = cell_iv == "sinh"
    if cell == "1t1r" and access == "mosfet":
        overdrive = gate_voltage_v - access_vto_v
        if not overdrive > 0 or not access_on_resistance_ohm > 0:
            raise ConfigError("1T1R MOSFET access needs gate_voltage_v > access_vto_v and "
                              "access_on_resistance_ohm > 0")
        kp = access_l_m / (access_w_m * access_on_resistance_ohm * overdrive)
        circ.add_model(Model(ACCESS_MODEL, "NMOS", {"level": 1.0, "vto": access_vto_v,
                                                    "kp": kp}))
        elements.append(VoltageSource("VWL", "wl", "0", gate_voltage_v))
        nonlinear = True
    for r in range(rows):
        for c in range(cols):
            a, b = _row_node(r, c, wired), _col_node(c, r, wired)
            mid = f"m{r}_{c}" if cell == "1t1r" else b
            if cell_iv == "linear":
                elements.append(Resistor(f"R_r{r}_c{c}", a, mid, 1.0 / g[r, c]))
            else:
                k = format_number(g[r, c] / sinh_b_per_v)
                bb = format_number(sinh_b_per_v)
                elements.append(BehavioralSource(f"B_r{r}_c{c}", a, mid, "I",
                                                  f"{k}*sinh({bb}*v({a},{mid}))"))
            if cell == "1t1r":
                if access == "mosfet":
                    elements.append(Mosfet(f"M_r{r}_c{c}", mid, "wl", b, "0", ACCESS_MODEL,
                                           access_w_m, access_l_m))
                else:
                    elements.append(Resistor(f"RA_r{r}_c{c}", mid, b,
                                             access_on_resistance_ohm))
    circ.add(*elements)  # one call: the duplicate-name check is then linear
    if nonlinear:
        circ.options.update(REFERENCE_OPTIONS)
    circ.analyses.append(Op())
    return circ


def read_currents(result, rows: int, cols: int, direction: Direction = "forward"
                  ) -> np.ndarray:
    """Sensed currents (A) from a result of a read netlist (ngspice or native)."""
    return np.array([float(result[name]) for name in
                     crossbar_ports(rows, cols, direction).outputs])


def crossbar_solver(G, wire_resistance_ohm: float = 0.0, driver_resistance_ohm: float = 0.0,
                    sense_resistance_ohm: float = 0.0, cell: CellKind = "passive",
                    direction: Direction = "forward", **cell_options):
    """A native solver for reads of one conductance state: ``.solve(v)`` -> currents.

    Builds the read netlist (the same text ngspice would run) and factorizes it once;
    ``solve`` takes a batch of input vectors, shape (batch, n_inputs) in V, and returns
    the sensed currents, shape (batch, n_outputs) in A.
    """
    from cosim.native import factorize

    g = _conductances(G)
    n_in = g.shape[0] if direction == "forward" else g.shape[1]
    circ = build_crossbar_read(g, np.zeros(n_in), wire_resistance_ohm, driver_resistance_ohm,
                               sense_resistance_ohm, cell, direction, **cell_options)
    ports = crossbar_ports(*g.shape, direction)
    return factorize(circ, ports.inputs, ports.outputs)


# ----------------------------------------------------------------------------- write
@dataclass(frozen=True)
class WriteBias:
    """Line voltages (V) of a write: selected row and column, and the others."""

    selected_row_v: float
    selected_col_v: float
    other_rows_v: float
    other_cols_v: float


def write_bias(v_write_v: float, scheme: WriteScheme = "v/2") -> WriteBias:
    """Bias of the V/2 or V/3 scheme for a write of ``v_write_v`` across the selected cell.

    V/2: selected row V, selected column 0, all other lines V/2: cells on the selected
    row or column see V/2, the rest 0.  V/3: other rows V/3, other columns 2V/3: every
    unselected cell sees +V/3 or -V/3.
    """
    _choice(scheme, WRITE_SCHEMES, "scheme")
    v = float(v_write_v)
    if scheme == "v/2":
        return WriteBias(v, 0.0, v / 2, v / 2)
    return WriteBias(v, 0.0, v / 3, 2 * v / 3)


def build_crossbar_write(rows: int, cols: int, selected: tuple[int, int], v_write_v: float,
                         scheme: WriteScheme = "v/2", *, model: str = "vteam",
                         x0=None, model_params: Mapping[str, float] | None = None,
                         wire_resistance_ohm: float = 0.0, driver_resistance_ohm: float = 0.0,
                         pulse_width_s: float = 1e-6, rise_s: float = 1e-9,
                         delay_s: float = 1e-9, stop_s: float | None = None,
                         points: int = 400) -> Circuit:
    """Netlist of one write pulse on a passive array of memristor subcircuits.

    Every line is driven by a trapezoidal pulse (delay, rise, width, fall = rise) to its
    level from :func:`write_bias`; the transient (``uic``, gear) shows the state change
    of every cell, ``x_r{r}_c{c}.x``, including the half-selected ones (disturb).

    Parameters
    ----------
    rows, cols : int
        Array size.
    selected : (int, int)
        Row and column of the cell written.
    v_write_v : float
        Voltage across the selected cell (V), positive at the row.
    scheme : {"v/2", "v/3"}
        Half-select bias scheme.
    model : str
        Memristor model of ``cosim.devices.memristor.MEMRISTOR_MODELS``.
    x0 : float or array_like of shape (rows, cols), optional
        Initial states (default: the model's ``x0``).
    model_params : dict, optional
        Overrides of the model's parameters (SI units), the same for every cell.
    wire_resistance_ohm, driver_resistance_ohm : float
        As in :func:`build_crossbar_read`.
    pulse_width_s, rise_s, delay_s : float
        Pulse timing (s).
    stop_s : float, optional
        End of the transient (default: the end of the pulse plus ``delay_s``).
    points : int
        Number of output steps; the internal step is limited to 1/1000 of the pulse.
    """
    from cosim.devices.memristor import get_model  # lazy: only writes need it

    m = get_model(model)
    params = m.params(**dict(model_params or {}))
    if not (0 <= selected[0] < rows and 0 <= selected[1] < cols):
        raise ConfigError(f"selected={selected}: must be a (row, col) inside {rows}x{cols}")
    x0_arr = np.broadcast_to(np.asarray(params["x0"] if x0 is None else x0, dtype=float),
                             (rows, cols))
    if np.any(x0_arr < 0) or np.any(x0_arr > 1):
        raise ConfigError("x0 must be in [0, 1]")
    wire = _nonneg(wire_resistance_ohm, "wire_resistance_ohm")
    drv = _nonneg(driver_resistance_ohm, "driver_resistance_ohm")
    bias = write_bias(v_write_v, scheme)
    end = delay_s + 2 * rise_s + pulse_width_s

    def pulse(level: float):
        return (0.0, Pulse(0.0, level, delay_s, rise_s, rise_s, pulse_width_s, 4 * end))

    sr, sc = selected
    row_v = [pulse(bias.selected_row_v if r == sr else bias.other_rows_v) for r in range(rows)]
    col_v = [pulse(bias.selected_col_v if c == sc else bias.other_cols_v) for c in range(cols)]
    circ = Circuit(f"crossbar write {rows}x{cols} {model} {scheme} cell ({sr},{sc}) "
                   f"{format_number(v_write_v)} V")
    circ.include("memristors.lib")
    elements = _lines(rows, cols, wire, drv, drv, row_v, col_v)
    wired = wire > 0
    overrides = {k: v for k, v in (model_params or {}).items() if k != "x0"}
    for r in range(rows):
        for c in range(cols):
            p = dict(overrides)
            p["x0"] = float(x0_arr[r, c])
            elements.append(SubcircuitInstance(f"X_r{r}_c{c}", (_row_node(r, c, wired),
                                                                _col_node(c, r, wired)),
                                               m.subckt, p))
    circ.add(*elements)
    circ.options["method"] = "gear"
    circ.options["reltol"] = 1e-6  # reference accuracy for the disturb comparison
    stop = end + delay_s if stop_s is None else float(stop_s)
    circ.analyses.append(Tran(stop / points, stop, max_step_s=pulse_width_s / 1000,
                              uic=True))
    return circ
