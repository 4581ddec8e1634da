"""Crossbar tile (electronic baseline): DAC -> memristor crossbar -> TIA -> ADC.

One product ``Y = U @ A.T`` (U (b, k) signed inputs, A (m, k) weights in [-1, 1]) on
tiles of ``tile_rows`` inputs (crossbar rows) by ``tile_cols`` outputs (columns):

1. **DAC**: ``u = U / max|U|`` quantized to ``2**dac_bits - 1`` magnitude steps (signed:
   a crossbar row takes either polarity), row voltages ``v = u V_read``.
2. **Array**: a differential pair of arrays, ``G+ = G_min + (G_max - G_min) max(a, 0)``
   and ``G- = G_min + (G_max - G_min) max(-a, 0)`` (rows = inputs, columns = outputs;
   cosim.devices.programming.weights_to_conductances).  Column currents
   ``I = I(G+) - I(G-)``.  Electrical engine ``ideal``: ``I = v @ G`` (no wires);
   ``twin``: the tile's read netlist (:func:`cosim.hw.crossbar.build_crossbar_read`,
   wire resistance per cell from the card, driver and sense resistances) solved by the
   native MNA solver, factorized once per weight state; ``spice``: ngspice ``.op`` of the
   same netlist, one run per input row (small networks only).  The twin is the
   array's exact transfer matrix ``M`` (``I = v @ M``, :func:`read_transfer`): the
   network is linear at fixed conductances, so ``M`` is computed once per weight state
   (all tiles of a product in one batched block elimination, compiled:
   :mod:`cosim.hw.crossbar_kernels`) and every row of the batch is one matrix product;
   it agrees with the native MNA solver of the same netlist to about 1e-13 relative.
   A tile array whose conductances are bit for bit those of an array computed before
   takes that transfer again (:meth:`CrossbarTiles.read_transfers`): after an update
   that changed few conductances only the arrays holding them are eliminated anew.
3. **TIA**: a linear transimpedance ``Z = -(FS_adc / 2) / I_fs`` with
   ``I_fs = V_read (G_max - G_min) tile_rows`` (the largest differential column current
   maps to the ADC edge); noise (when on): the TIA card's input current noise and the
   feedback resistor's thermal noise ``4 k T / |Z|`` over the noise bandwidth of the
   bplight card, ``sigma_I = sqrt((i_n^2 + 4kT/|Z|) B)``.
4. **ADC** at ``adc_bits``; ``y = (V_q / Z) / (V_read (G_max - G_min))``; tile partial
   sums added digitally.  Steps 3 and 4 of all tiles of a product are one compiled pass
   (:func:`cosim.hw.crossbar_kernels.readout_pass`, the arithmetic of
   :mod:`cosim.hw.conversion`), the noise drawn inside it from ziggurat streams
   (:mod:`cosim.hw.ziggurat`), one per block of :data:`READOUT_BLOCK_ROWS` rows, in
   tile order.

The gradient's temporary pattern (``delta^T``, new at every product) is read with the
ideal array (no wire resistance): factorizing a network per product and tile would cost
more than the rest of the step; converters and noise still apply.

**Backward product** (the design value ``backward_weights``):

* ``"transposed_read"``: ``dY W`` reads the forward arrays the other way round (a
  crossbar is read in both directions; no second copy is programmed): the read netlist
  of :func:`cosim.hw.crossbar.build_crossbar_read` with ``direction="transposed"``,
  the column lines driven at their sense ends, the row lines sensed at their driver
  ends, each periphery with its own resistance.  Drawn as a forward read, that network
  is the array turned by a half turn and transposed, ``G[::-1, ::-1].T``, with the same
  driver and sense resistances, inputs and outputs in reverse order; the backward
  state's records, spot checks and ``spice`` engine use that netlist.  With equal
  driver and sense resistances it is the forward network with its ports exchanged
  and, a passive network being reciprocal, its transfer is ``M^T``: the backward
  product reuses the forward transfer matrices (:meth:`CrossbarTiles.transposed`;
  otherwise the turned arrays are eliminated anew).
* ``"transposed_copy"``: ``W^T`` is programmed on a second set of arrays and read
  forward (its transfer is not the transpose of the forward array's).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from cosim.errors import ConfigError
from cosim.hw import conversion, kernels
from cosim.hw.crossbar import build_crossbar_read
from cosim.hw.crossbar_kernels import readout_pass
from cosim.hw.protocols import Circuits, Loaded, Phase, SpotCheck, TileContext, reads_transposed
from cosim.hw.ziggurat import normal_streams

BOLTZMANN_J_PER_K = conversion.BOLTZMANN_J_PER_K
XBAR_ENGINES: tuple[str, ...] = ("ideal", "twin", "spice")
#: Rows of a product sent through ngspice by a spot check.
SPOT_CHECK_ROWS = 8
#: Hold time of one row in a record's transient (s; the array is resistive, so any).
RECORD_SYMBOL_S = 1e-6
#: Memory (bytes) of the transfer matrices a crossbar tile keeps for reuse
#: (CrossbarTiles.read_transfers): a few weight states of LeNet-5's tiles.
TRANSFER_CACHE_BYTES = 64 * 2 ** 20
#: Rows of a product that draw their readout noise from one normal stream
#: (:func:`cosim.hw.crossbar_kernels.readout_pass`): the streams are what the threads
#: share out, so no result depends on the number of threads.
READOUT_BLOCK_ROWS = 32


def read_transfer(g: np.ndarray, *, wire_resistance_ohm: float, driver_resistance_ohm: float,
                  sense_resistance_ohm: float) -> np.ndarray:
    """Exact transfer matrix of a linear passive crossbar read (forward direction).

    The circuit is the one :func:`cosim.hw.crossbar.build_crossbar_read` writes for
    ``g`` (rows = driven lines, columns = sensed lines; line drivers, wire segments,
    virtual-ground sense amplifiers).  It is linear at fixed conductances, so its
    column currents are ``I = v @ M`` for row voltages ``v`` (V); this returns ``M``
    (rows, cols), in S, by nodal analysis: with the free node voltages ``V_f``,
    ``L_ff V_f = B v`` (Kirchhoff's current law at every free node; ``L_ff`` the
    conductance Laplacian of the free nodes, ``B`` the conductances to the drivers),
    one sparse LU factorization and one solve with the identity as right-hand side
    (``X = L_ff^-1 B``), then ``M = E^T X + D`` (``E``: conductances from free nodes
    into each column's virtual ground, ``D``: direct driver-to-ground paths).  A
    series pair of resistances through a node with no other element (driver + first
    row segment, last column segment + sense) is taken as one resistance.

    Parameters
    ----------
    g : ndarray (rows, cols)
        Cell conductances (S), > 0.
    wire_resistance_ohm, driver_resistance_ohm, sense_resistance_ohm : float
        Per-cell wire segment, driver and sense resistances (ohm); 0 = ideal.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    g = np.asarray(g, dtype=float)
    wire, drv, sense = (float(wire_resistance_ohm), float(driver_resistance_ohm),
                        float(sense_resistance_ohm))
    if wire > 0:
        return _wired_transfer(g, wire, drv, sense)
    if g.ndim > 2:
        return np.stack([read_transfer(x, wire_resistance_ohm=wire,
                                       driver_resistance_ohm=drv,
                                       sense_resistance_ohm=sense) for x in g])
    rows, cols = g.shape
    r_idx, c_idx = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    # node numbering: free nodes 0..nf-1, drivers nf..nf+rows-1, grounds after them
    a_list, b_list, g_list = [], [], []

    def edges(a, b, cond) -> None:
        a, b = np.broadcast_arrays(np.asarray(a).ravel(), np.asarray(b).ravel())
        a_list.append(a)
        b_list.append(b)
        g_list.append(np.broadcast_to(np.asarray(cond, dtype=float).ravel(), a.shape))

    if wire > 0:
        x = r_idx * cols + c_idx                       # row-wire node of cell (r, c)
        y = rows * cols + r_idx * cols + c_idx         # column-wire node of cell (r, c)
        nf = 2 * rows * cols
        src, gnd = nf + np.arange(rows), nf + rows + np.arange(cols)
        gw = 1.0 / wire
        edges(src, x[:, 0], 1.0 / (drv + wire))
        edges(x[:, :-1], x[:, 1:], gw)
        edges(y[:-1, :], y[1:, :], gw)
        edges(y[-1, :], gnd, 1.0 / (wire + sense))
        edges(x, y, g)
    else:
        nf = (rows if drv > 0 else 0) + (cols if sense > 0 else 0)
        src, gnd = nf + np.arange(rows), nf + rows + np.arange(cols)
        row_node = np.arange(rows) if drv > 0 else src
        col_node = (nf - cols + np.arange(cols)) if sense > 0 else gnd
        if drv > 0:
            edges(src, row_node, 1.0 / drv)
        if sense > 0:
            edges(col_node, gnd, 1.0 / sense)
        edges(row_node[:, None] + 0 * c_idx, col_node[None, :] + 0 * r_idx, g)
    a = np.concatenate(a_list)
    b = np.concatenate(b_list)
    cond = np.concatenate(g_list)
    n_all = nf + rows + cols
    # Laplacian of the whole network, then its blocks
    lap = sp.coo_matrix((np.concatenate([cond, cond, -cond, -cond]),
                         (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))),
                        shape=(n_all, n_all)).tocsr()
    d = -lap[nf:nf + rows, nf + rows:].toarray()            # driver -> ground directly
    if nf == 0:
        return d
    l_ff = lap[:nf, :nf].tocsc()
    b_fs = -lap[:nf, nf:nf + rows].toarray()               # (nf, rows)
    e_fk = -lap[:nf, nf + rows:].toarray()                 # (nf, cols)
    x_f = splu(l_ff).solve(b_fs)
    return e_fk.T.dot(x_f).T + d


def _wired_transfer(g: np.ndarray, wire: float, drv: float, sense: float) -> np.ndarray:
    """:func:`read_transfer` with wire segments, by block elimination; ``g`` (..., R, C).

    Row r has row-wire nodes ``X_r`` and column-wire nodes ``Y_r`` (C each).  KCL:
    ``K_r X_r - D_r Y_r = g_in v_r e_0`` (``K_r`` the tridiagonal row chain plus the
    cells ``D_r = diag(g[r])``; ``g_in = 1/(R_drv + R_w)``) and
    ``N_r Y_r - g_w (Y_{r-1} + Y_{r+1}) - D_r X_r = 0`` (``N_r`` diagonal: cells, the
    column segments and, in the last row, ``g_out = 1/(R_w + R_sense)`` to the virtual
    ground).  Eliminating ``X_r`` leaves a block-tridiagonal system in the ``Y_r`` with
    blocks ``A_r = N_r - D_r K_r^-1 D_r`` and ``-g_w I``, solved by forward elimination
    only, since the outputs ``I = g_out Y_{R-1}`` need the last block alone
    (:mod:`cosim.hw.crossbar_kernels` evaluates it: O(R C^3 + R^2 C^2) operations).

    An array wider than tall is swept along its columns instead (O(C R^3 + R^2 C^2)):
    turned by a half turn and transposed, ``G' = G[::-1, ::-1].T``, its column lines
    become row lines driven where the sense amplifiers were and its row lines column
    lines sensed where the drivers were, over the same wire network; a passive network
    is reciprocal, so with the driver and sense resistances exchanged its transfer is
    ``M' = M[::-1, ::-1].T``.
    """
    from cosim.hw import kernels
    from cosim.hw.crossbar_kernels import wired_sweep

    *lead, rows, cols = g.shape
    turned = cols > rows
    if turned:
        g = g[..., ::-1, ::-1].swapaxes(-1, -2)
        drv, sense = sense, drv
    flat = np.ascontiguousarray(g.reshape(-1, *g.shape[-2:]), dtype=float)
    out = np.empty_like(flat)
    n, r, c = flat.shape
    kernels.sized(wired_sweep, n * r * c * c, flat, 1.0 / wire, 1.0 / (drv + wire),
                  1.0 / (wire + sense), out)
    out = out.reshape(g.shape)
    if turned:
        out = np.ascontiguousarray(out[..., ::-1, ::-1].swapaxes(-1, -2))
    return out


def _netlist_order(v: np.ndarray, turned: bool) -> np.ndarray:
    """The last axis of ``v`` in the order of a turned array's netlist (reversed) when
    ``turned`` (:meth:`CrossbarTiles.transposed`); ``v`` itself otherwise."""
    return np.ascontiguousarray(v[..., ::-1]) if turned else v


def _turn(g: np.ndarray) -> np.ndarray:
    """An array turned by a half turn and transposed: its column lines become row lines
    driven where the sense amplifiers were (:meth:`CrossbarTiles.transposed`)."""
    return np.ascontiguousarray(g[::-1, ::-1].T)


class CrossbarTiles:
    """Crossbar tile model (module docstring): the ``"electronic"`` tile of
    :data:`cosim.hw.registry.TILES`.  The tiling of a matrix (:meth:`transfers`): tiles
    of ``tile_rows`` inputs by ``tile_cols`` outputs, the matrix zero-padded to whole
    tiles, tile partial sums added digitally after each tile's ADC.

    Parameters
    ----------
    tile_rows, tile_cols : int
    dac_bits, adc_bits : int
    electrical_engine : {"ideal", "twin", "spice"}
    noise : bool
    g_min_s, g_max_s : float
        Conductance range of a cell (S).
    read_voltage_v : float
        Row voltage at full-scale input (V).
    wire_resistance_ohm, driver_resistance_ohm, sense_resistance_ohm : float
        Per-cell wire segment, line driver and sense-amplifier input resistance (ohm).
    adc_full_scale_v : float
    input_noise_a_per_rthz : float
        TIA input current noise density (A/sqrt(Hz)).
    temperature_k, noise_bandwidth_hz : float
    spice_engine : cosim.spice.SpiceEngine, optional
    backward_weights : {"transposed_copy", "transposed_read"}
        How the backward product reads the weights (module docstring).
    """

    card_roles = ("crossbar",)
    #: the ``backward_weights`` mappings this tile simulates (module docstring)
    backward_reads = ("transposed_copy", "transposed_read")

    def __init__(self, *, tile_rows: int, tile_cols: int, dac_bits: int, adc_bits: int,
                 electrical_engine: str, noise: bool, g_min_s: float, g_max_s: float,
                 read_voltage_v: float, wire_resistance_ohm: float,
                 driver_resistance_ohm: float, sense_resistance_ohm: float,
                 adc_full_scale_v: float, input_noise_a_per_rthz: float,
                 temperature_k: float, noise_bandwidth_hz: float, swing_v: float,
                 spice_engine=None, backward_weights: str = "transposed_copy") -> None:
        if electrical_engine not in XBAR_ENGINES:
            raise ConfigError(f"electrical_engine={electrical_engine!r}: choose one of "
                              f"{XBAR_ENGINES}")
        self.n, self.m = int(tile_rows), int(tile_cols)
        self.dac_bits, self.adc_bits = int(dac_bits), int(adc_bits)
        self.electrical_engine = electrical_engine
        self.noise = bool(noise)
        self.g_min, self.g_max = float(g_min_s), float(g_max_s)
        self.v_read = float(read_voltage_v)
        if not self.v_read > 0:
            raise ConfigError(f"read_voltage_v={read_voltage_v!r}: give a voltage > 0")
        self.wire = float(wire_resistance_ohm)
        self.driver, self.sense = float(driver_resistance_ohm), float(sense_resistance_ohm)
        self.adc_fs_v = float(adc_full_scale_v)
        self.i_fs_a = self.v_read * (self.g_max - self.g_min) * self.n
        self.z_ohm = -(self.adc_fs_v / 2) / self.i_fs_a
        self.sigma_i_a = conversion.tia_current_noise_a(input_noise_a_per_rthz, temperature_k,
                                                        self.z_ohm, noise_bandwidth_hz)
        self.swing_v = float(swing_v)
        self.spice_engine = spice_engine
        self.transposed_read = reads_transposed(type(self), backward_weights)
        self.last_netlist = None
        self._templates: dict[tuple, str] = {}   # (rows, cols, engine) -> record template
        #: digest of an array's conductances -> its transfer matrix (read_transfers)
        self.transfer_cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.transfer_cache_bytes = TRANSFER_CACHE_BYTES
        self.arrays_computed = 0
        self.arrays_reused = 0

    # ------------------------------------------------------------------ the Tile protocol
    @classmethod
    def build(cls, context: TileContext) -> CrossbarTiles:
        """The crossbar tiles of a run (cosim.hw.protocols.Tile)."""
        arch = context.design
        spec = context.readout().spec
        xbar = context.card("crossbar")
        tia = context.card("tia")
        return cls(
            **context.common(optical=False),
            g_min_s=float(xbar["g_min_s"]), g_max_s=float(xbar["g_max_s"]),
            read_voltage_v=float(arch["read_voltage_v"]),
            wire_resistance_ohm=float(xbar["wire_resistance_crosspoint_ohm"]),
            driver_resistance_ohm=float(xbar["driver_resistance_ohm"]),
            sense_resistance_ohm=float(xbar["sense_resistance_ohm"]),
            adc_full_scale_v=spec.adc_full_scale_v,
            input_noise_a_per_rthz=float(tia["input_noise_current_a_per_rthz"]),
            temperature_k=float(tia["temperature_k"]),
            noise_bandwidth_hz=float(arch["crossbar_tia_noise_bandwidth_hz"]),
            swing_v=min(spec.output_high_v, -spec.output_low_v),
            spice_engine=context.spice_engine,
            backward_weights=str(arch["backward_weights"]))

    def state_dict(self) -> dict:
        """No state of its own between loads (cosim.hw.protocols.Tile)."""
        return {"arrays": {}, "meta": {}}

    def load_state_dict(self, state: dict) -> None:
        """(no state)"""

    def load(self, a_raw: np.ndarray, scale: float, phase: Phase, *,
             transpose_of: Loaded | None = None, layer: str = "") -> Loaded:
        """The conductance pairs of ``clip(a_raw / scale, -1, 1)`` and their readers
        (cosim.hw.protocols.Tile); the gradient's temporary pattern on the ideal array
        (module docstring).  The backward state: with ``transposed_read`` the forward
        arrays read the other way (:meth:`transposed` of ``transpose_of``, or of the
        forward arrays of ``a_raw.T`` when none is offered); with ``transposed_copy``
        ``a_raw`` programmed anew (the array's transfer is not the transpose of the
        transposed array's)."""
        m, k = a_raw.shape
        a = a_raw / scale
        over = int(np.count_nonzero(np.abs(a) > 1.0))
        a = np.clip(a, -1.0, 1.0)
        if phase == "gradient":
            return Loaded(self.transfers(conversion.signed_levels(a, self.dac_bits),
                                         exact=True), m, k, over)
        if phase == "backward" and self.transposed_read:
            forward = transpose_of.state if transpose_of is not None else self.transfers(a.T)
            return Loaded(self.transposed(forward), m, k, over)
        return Loaded(self.transfers(a), m, k, over)

    def matmul(self, u: np.ndarray, loaded: Loaded, *, rng: np.random.Generator | None,
               counts: dict, samples: dict | None = None,
               lit: tuple[bool, bool] | None = None,
               row_scale: np.ndarray | None = None) -> np.ndarray:
        """:meth:`matmul_padded` of a loaded state, its real outputs, each row times
        ``row_scale`` (cosim.hw.protocols.Tile)."""
        y = self.matmul_padded(u, loaded.state, rng=rng, counts=counts, samples=samples)
        y = y[:, :loaded.outputs]
        if row_scale is not None:
            y *= np.reshape(row_scale, (-1, 1))
        return y

    def circuits(self, loaded: Loaded, u: np.ndarray, samples: dict, *,
                 spot: bool) -> Circuits:
        """Tile (0, 0)'s arrays as records (:meth:`records`; not with the spice
        engine, whose netlists are listed); the read netlists of every tile array
        (``"i,j+"``, ``"i,j-"``, driven by the first input row) at spot-check steps or
        with the spice engine; the spot check: the first :data:`SPOT_CHECK_ROWS` rows
        on tile (0, 0)'s positive array, native solver against ngspice ``.op``."""
        out = Circuits()
        transfers = loaded.state
        if transfers["engine"] != "spice":
            out.records.extend(self.records(transfers, u))
        if not (spot or self.electrical_engine == "spice"):
            return out
        _, _, _, ne = transfers["shape"]
        turned = transfers.get("turned", False)
        rows = u[:SPOT_CHECK_ROWS]
        for (i, j), (gp, gn, _, _) in transfers["tiles"].items():
            v = np.zeros(ne)
            seg = rows[0, j * ne:(j + 1) * ne] * self.v_read
            v[:seg.size] = seg
            v = _netlist_order(v, turned)
            text = self.netlist(gp, v)
            out.netlists.append((f"{i},{j}+", text))
            out.netlists.append((f"{i},{j}-", self.netlist(gn, v)))
            if spot and (i, j) == (0, 0):
                twin, spice = self.spot_currents(gp, rows[:, :ne] * self.v_read,
                                                 turned=turned)
                out.spot = SpotCheck(twin, spice, text, self.i_fs_a, listed=True)
        return out

    def records(self, transfers: dict, u: np.ndarray) -> list:
        """``"crossbar_rows"`` records (:mod:`cosim.hw.records`) of tile (0, 0)'s
        arrays ``"0,0+"`` and ``"0,0-"``: their conductances (S), the row voltages (V) of
        the first :data:`cosim.hw.records.RECORD_ROWS` rows of the product and the
        column currents the product's engine computed for them (before the noise and
        the pair difference).  The template is the array's read netlist as that engine
        stands for it (the ideal engine and the gradient's pattern: no wire, driver or
        sense resistance).  A backward state read the other way (:meth:`transposed`) is
        recorded as the forward read of its turned arrays, inputs and outputs in that
        netlist's order."""
        from cosim.hw.records import RECORD_ROWS, CircuitRecord

        _, _, me, ne = transfers["shape"]
        engine = transfers["engine"]
        turned = transfers.get("turned", False)
        gp, gn, sp, sn = transfers["tiles"][(0, 0)]
        v = np.zeros((min(u.shape[0], RECORD_ROWS), ne))
        seg = u[:v.shape[0], :ne]
        v[:, :seg.shape[1]] = seg * self.v_read
        v = _netlist_order(v, turned)
        options = self._options() if engine == "twin" else dict.fromkeys(self._options(), 0.0)
        key = (ne, me, engine)
        if key not in self._templates:
            self._templates[key] = build_crossbar_read(
                np.full((ne, me), self.g_min), np.zeros(ne), **options,
                title=f"crossbar tile array {ne}x{me}, engine {engine}").render(
                    with_analyses=False)
        lsb_a = conversion.adc_range(self.adc_bits, self.adc_fs_v)[2] / abs(self.z_ohm)
        out = []
        for label, g, solve in (("0,0+", gp, sp), ("0,0-", gn, sn)):
            out.append(CircuitRecord(
                tile=label, kind="crossbar_rows", template=self._templates[key],
                stimulus={"conductance_s": np.array(g, dtype=float), "row_voltage_v": v,
                          "symbol_period_s": np.array(RECORD_SYMBOL_S)},
                outputs={"column_current_a": self._currents(engine, g, solve, v)},
                tolerance=lsb_a / 2))
        return out

    def spot_currents(self, g: np.ndarray, v: np.ndarray, *,
                      turned: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Column currents (A) of the array ``g`` for row voltages ``v`` (b, <= rows; V):
        ``(native MNA solver, ngspice .op)``.  ``turned``: ``g`` is a backward state's
        turned array (:meth:`transposed`), ``v`` in the product's order."""
        from cosim.hw.crossbar import crossbar_solver

        pad = np.zeros((v.shape[0], g.shape[0]))
        pad[:, :min(v.shape[1], g.shape[0])] = v[:, :g.shape[0]]
        pad = _netlist_order(pad, turned)
        twin = crossbar_solver(g, **self._options()).solve(pad)
        return twin, self._currents("spice", g, None, pad)

    # ------------------------------------------------------------------ the model
    def _options(self) -> dict:
        return {"wire_resistance_ohm": self.wire, "driver_resistance_ohm": self.driver,
                "sense_resistance_ohm": self.sense}

    def transfers(self, a: np.ndarray, *, exact: bool = False) -> dict:
        """Conductance pairs of the tiles holding ``a`` (m, k) in [-1, 1], and their
        readers.  ``exact`` forces the ideal array (see the module docstring)."""
        m, k = a.shape
        me, ne = min(self.m, m), min(self.n, k)
        mi, nj = -(-m // me), -(-k // ne)
        pad = np.zeros((nj * ne, mi * me))
        pad[:k, :m] = np.clip(a, -1.0, 1.0).T
        span = self.g_max - self.g_min
        g_pos = self.g_min + span * np.maximum(pad, 0.0)
        g_neg = self.g_min + span * np.maximum(-pad, 0.0)
        engine = "ideal" if exact else self.electrical_engine
        # readers: per array of the pair and tile row j, the matrices of its tiles side by
        # side, (nj, ne, mi me): currents = v @ M (the transfer, read_transfer) or v @ G
        readers = mats = None
        if engine == "twin":
            # every tile of both arrays in one batched elimination: (2, nj, mi, ne, me)
            stack = np.stack([g_pos, g_neg]).reshape(2, nj, ne, mi, me).transpose(
                0, 1, 3, 2, 4)
            mats = self.read_transfers(stack)
            readers = tuple(np.ascontiguousarray(mats[s].transpose(0, 2, 1, 3)).reshape(
                nj, ne, mi * me) for s in (0, 1))
        elif engine == "ideal":
            readers = (g_pos.reshape(nj, ne, mi * me), g_neg.reshape(nj, ne, mi * me))
        tiles: dict = {}
        for j in range(nj):
            for i in range(mi):
                rs, cs = slice(j * ne, (j + 1) * ne), slice(i * me, (i + 1) * me)
                gp, gn = g_pos[rs, cs], g_neg[rs, cs]
                if engine == "twin":
                    tiles[(i, j)] = (gp, gn, mats[0, j, i].__rmatmul__,
                                     mats[1, j, i].__rmatmul__)
                else:
                    tiles[(i, j)] = (gp, gn, None, None)
        return {"shape": (mi, nj, me, ne), "engine": engine, "tiles": tiles,
                "readers": readers}

    def transposed(self, forward: dict) -> dict:
        """The backward state read from the forward arrays of ``forward`` (a state of
        :meth:`transfers`) the other way round (``transposed_read``, module docstring).
        Tile ``(i, j)`` of the forward grid is tile ``(j, i)`` here; its transfer from
        the column inputs to the row outputs is the forward transfer transposed when the
        driver and sense resistances are equal (reciprocity: no elimination), else that
        of the turned arrays.  The tiles hold the turned arrays ``G[::-1, ::-1].T`` (the
        netlist of :meth:`records`, the spot check and the ``spice`` engine) and their
        solvers, in that netlist's order (inputs and outputs reversed)."""
        mi, nj, me, ne = forward["shape"]
        engine = forward["engine"]
        tiles = forward["tiles"]           # (in the tile order of a product: row by row)
        turned = {(j, i): (_turn(tiles[(i, j)][0]), _turn(tiles[(i, j)][1]))
                  for i in range(mi) for j in range(nj)}
        state = {"shape": (nj, mi, ne, me), "engine": engine, "readers": None,
                 "turned": True}
        if forward["readers"] is None:            # the spice engine: netlists only
            state["tiles"] = {key: (*pair, None, None) for key, pair in turned.items()}
            return state
        # per array of the pair and tile (i, j): the backward transfer (me, ne), natural order
        if engine == "twin" and self.driver != self.sense:
            stack = np.stack([[[turned[(j, i)][s] for j in range(nj)] for i in range(mi)]
                              for s in (0, 1)])                       # (2, mi, nj, me, ne)
            back = self.read_transfers(stack)[..., ::-1, ::-1]
        else:
            back = np.stack([r.reshape(nj, ne, mi, me).transpose(2, 0, 3, 1)
                             for r in forward["readers"]])
        state["readers"] = tuple(np.ascontiguousarray(back[s].transpose(0, 2, 1, 3)).reshape(
            mi, me, nj * ne) for s in (0, 1))
        state["tiles"] = {(j, i): (*turned[(j, i)], back[0, i, j][::-1, ::-1].__rmatmul__,
                                   back[1, i, j][::-1, ::-1].__rmatmul__)
                          for (j, i) in turned}
        return state

    def read_transfers(self, stack: np.ndarray) -> np.ndarray:
        """:func:`read_transfer` of every array of ``stack`` (..., rows, cols), S; an
        array whose conductances are bit for bit those of an array computed before
        (kept in :attr:`transfer_cache`, up to :attr:`transfer_cache_bytes`) takes
        that array's transfer instead of a new elimination.  The key is a digest of
        the conductances themselves, so a programmed array can never meet the
        transfer of its old state; an update that changes few conductances
        recomputes only the tile arrays that hold them.  ``arrays_computed`` and
        ``arrays_reused`` count the two cases."""
        *lead, rows, cols = stack.shape
        flat = np.ascontiguousarray(stack, dtype=float).reshape(-1, rows, cols)
        out = np.empty_like(flat)
        keys = [hashlib.blake2b(x.tobytes(), digest_size=20,
                                person=f"{rows}x{cols}".encode()[:16]).digest()
                for x in flat]
        cache = self.transfer_cache
        todo = []
        for n, key in enumerate(keys):
            hit = cache.get(key)
            if hit is None:
                todo.append(n)
            else:
                cache.move_to_end(key)
                out[n] = hit
        if todo:
            out[todo] = read_transfer(flat[todo], **self._options())
            for n in todo:
                cache[keys[n]] = out[n].copy()
            while cache and len(cache) * rows * cols * 8 > self.transfer_cache_bytes:
                cache.popitem(last=False)
        self.arrays_computed += len(todo)
        self.arrays_reused += len(keys) - len(todo)
        return out.reshape(stack.shape)

    def netlist(self, g: np.ndarray, v: np.ndarray) -> str:
        """Read netlist text of one tile array ``g`` with row voltages ``v``."""
        return build_crossbar_read(g, v, **self._options()).render()

    def _currents(self, engine: str, g, solve, v: np.ndarray) -> np.ndarray:
        if engine == "ideal":
            return v @ g
        if engine == "twin":
            return solve(v)
        from cosim.hw.crossbar import read_currents
        from cosim.spice import default_engine, make_job

        circs = [build_crossbar_read(g, row, **self._options()) for row in v]
        self.last_netlist = circs[0].render()
        eng = default_engine() if self.spice_engine is None else self.spice_engine
        results = eng.run_many([make_job(c, c.analyses[0]) for c in circs])
        return np.array([read_currents(r, *g.shape) for r in results])

    def matmul_padded(self, u_signed: np.ndarray, transfers: dict, *, rng, counts: dict,
                      samples: dict | None = None) -> np.ndarray:
        """``u @ a.T`` for DAC-quantized ``u`` (b, k) in [-1, 1]; (b, m_padded)."""
        mi, nj, me, ne = transfers["shape"]
        engine = transfers["engine"]
        b, k = u_signed.shape
        v = np.empty((b, nj * ne))          # row voltages, the padding rows at 0 V
        np.multiply(u_signed, self.v_read, out=v[:, :k])
        v[:, k:] = 0.0
        out = np.zeros((b, mi * me))
        if self.noise and rng is None:
            raise ConfigError("noise is on: the product needs an rng")
        low, high, step, n_codes = conversion.adc_range(self.adc_bits, self.adc_fs_v)
        lit = np.flatnonzero(v.reshape(b, nj, ne).any(axis=(0, 2)))  # dark tile rows: skipped
        if not lit.size:
            return out
        # the column currents of every lit tile row, then the readout of all of them in
        # one compiled pass: the same operations, element by element, as one tile at a
        # time, the partial sums added in tile order (tile rows, then their tiles)
        readers = transfers.get("readers")
        i_net = np.empty((lit.size, b, mi * me))
        if readers is not None:          # ideal arrays or transfer matrices: v @ R
            for n, j in enumerate(lit):       # one product per tile row, all its tiles
                vt = v[:, j * ne:(j + 1) * ne]
                np.matmul(vt, readers[0][j], out=i_net[n])
                i_net[n] -= vt @ readers[1][j]
        else:                            # ngspice, tile by tile
            turned = transfers.get("turned", False)
            for n, j in enumerate(lit):
                vt = _netlist_order(v[:, j * ne:(j + 1) * ne], turned)
                for i in range(mi):
                    gp, gn, sp, sn = transfers["tiles"][(i, j)]
                    i_net[n, :, i * me:(i + 1) * me] = _netlist_order(
                        self._currents(engine, gp, sp, vt)
                        - self._currents(engine, gn, sn, vt), turned)
        streams = normal_streams(rng, -(-b // READOUT_BLOCK_ROWS)) if self.noise else \
            np.empty((0, 5), dtype=np.uint64)
        r, c = (min(b, 8), min(me, 16)) if samples is not None and \
            "tia_voltage_v" not in samples else (0, 0)
        sample = np.empty((r, c))
        clipped, saturated, below = kernels.sized(
            readout_pass, 2 * i_net.size, i_net, streams, READOUT_BLOCK_ROWS,
            self.sigma_i_a, mi, me, self.z_ohm, low, step, float(n_codes - 1), high,
            self.swing_v, self.v_read * (self.g_max - self.g_min), sample, out)
        counts["clipped_adc"] += int(clipped)
        counts["samples"] += i_net.size
        counts["saturated_tia"] += int(saturated)
        counts["below_noise_floor"] += int(below)
        if r:
            j = lit[0]
            volts = self.z_ohm * sample
            samples["row_voltage_v"] = v[:r, j * ne:j * ne + min(c, ne)].copy()
            samples["column_current_a"] = sample
            samples["tia_voltage_v"] = volts
            samples["adc_codes"] = conversion.adc_code(volts, low, step, float(n_codes - 1)
                                                       ).astype(np.int64)
        return out
