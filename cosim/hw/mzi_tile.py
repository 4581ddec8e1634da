"""Coherent MZI-mesh tile (``"photonic-mzi"``): DAC -> field modulators -> Clements mesh
``V^T`` -> attenuator column -> Clements mesh ``U`` -> balanced homodyne PD pair + TIA
-> ADC.

One product ``Y = U_in @ A.T`` (inputs (b, k) in [-1, 1], weights A (m, k) in [-1, 1])
on tiles of ``N = tile_rows`` inputs by ``M = tile_cols`` outputs:

1. **Weights** (per tile block ``B`` (me, ne), zero-padded to whole tiles): the SVD
   ``B = U diag(s) V^T`` (``U`` (me, me), ``V`` (ne, ne) orthogonal) is programmed as
   two Clements meshes (:func:`cosim.optics.mzi_mesh.clements_decompose`) and a column
   of programmable attenuators ``s / s_max`` between them (amplitude only, ideal), so
   the tile realises ``T = B / s_max``; ``s_max`` (the block's largest singular value)
   is restored digitally.  Optical engine ``twin``: each MZI's internal and external
   phase and each output phase carry a static error ``N(0, sigma_phi^2)`` (a fixed
   fabrication/calibration residual of the physical mesh at that grid position, drawn
   once per mesh from the run's seed), and every path crosses as many MZIs as the mesh
   is deep (a path-balanced mesh: idle positions hold matched dummy sections), each with
   ``loss_db_per_mzi``, so the field transfer is ``g T`` with ``g =
   10**(-loss (depth_U + depth_V) / 20)``, calibrated digitally.  Engine ``ideal``: ``T``
   exactly, no loss.  The gradient's temporary pattern is programmed without phase
   errors (as the crossbar tile reads it on the ideal array: decomposing a new pattern
   of hundreds of tiles per product would cost more than the rest of the step); loss,
   converters and noise still apply.  The backward product (the design value
   ``backward_weights``): ``transposed_read`` lights the forward meshes from the other
   side (reciprocity: ``T^T``; a tile then has ``M`` inputs, so ``M <= N`` keeps them
   within the channel power's full scale), ``transposed_copy`` programs ``W^T`` on
   meshes of its own (their own static phase errors).
2. **Fields**.  Input ``u_i`` drives a modulator to the field ``u_i sqrt(P_ch)``
   (signed amplitudes: one pass), output fields ``E = sqrt(P_ch) g T u``.
3. **Coherent detection**.  Each output beats with a local oscillator of power
   ``P_LO = N P_ch`` (the same laser) on a balanced pair: ``P_d = |E_LO + E|^2 / 2``,
   ``P_t = |E_LO - E|^2 / 2``, so ``P_d - P_t = 2 sqrt(P_LO) Re E`` (the in-phase part;
   phase errors turn some of the signal into the quadrature, which is not detected).
   ``P_ch`` is set so the largest possible balanced photocurrent of a full tile,
   ``2 R sqrt(P_LO P_ch) g_full sqrt(N)`` (``|(T u)_o| <= |u| <= sqrt(N)``), equals
   ``optical_full_scale_fraction`` x the readout's full-scale current (bplight card).
   Laser RIN (laser card, averaged as the readout): one laser per tile feeds the
   signal and the LO, so both powers of a row of a tile carry the same factor ``1 +
   sigma_RIN n``.
4. **Readout and ADC**: the photonic readout of the bplight card (the ngspice-measured
   TIA of the design's ``tia_card``; electrical engine ``twin`` its measured DC transfer,
   ``ideal`` the linear ``-R_f``), the readout noise at the pair's total photocurrent
   ``R (P_d + P_t) + 2 I_dark`` (shot noise of the LO included) with
   ``readout_averaging`` reads per conversion, the ADC of the converters card and the
   digital calibration: all the functions of :mod:`cosim.hw.conversion`.  Tile partial
   sums are added digitally.  The ``spice`` electrical engine is not offered (spot
   checks send the readout through ngspice).

Closed-form phase-error estimate (:func:`phase_error_estimate`), first order in the
errors.  An error ``delta`` of an MZI's internal phase ``theta`` perturbs its mesh by
``delta`` times a matrix of unit Frobenius norm (one row of a unitary: the light of one
arm), complex with its real and imaginary parts of equal weight.  An error of an
external phase ``phi`` or of an output phase multiplies a real field by ``e^{j delta}``:
to first order a change of the quadrature alone, which homodyne detection does not see.
A mesh of ``n`` modes has ``n (n - 1) / 2`` internal phases, so ``E |Re dU|_F^2 =
sigma^2 n (n - 1) / 4``, spread evenly over its ``n`` columns: ``E |Re(dU) x|^2 =
sigma^2 (n - 1) / 4 |x|^2``.  For ``W = U S V^T`` (real) on meshes of ``me`` and ``ne``
modes, ``Re dW = Re(dU) S V^T + U S Re(dV^T)``, so the relative rms error of the detected
product is ``sigma sqrt((me + ne - 2) / 4)``: linear in the error, growing as the square
root of the mesh size (tests/hw/test_mzi_tile.py checks it on small meshes).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from cosim.errors import ConfigError
from cosim.hw import conversion
from cosim.hw.protocols import Circuits, Loaded, Phase, SpotCheck, TileContext, reads_transposed
from cosim.hw.ziggurat import standard_normal
from cosim.optics import rin_sigma
from cosim.optics.mzi_mesh import MeshPhases, clements_decompose

OPTICAL_ENGINES: tuple[str, ...] = ("ideal", "twin")
ELECTRICAL_ENGINES: tuple[str, ...] = ("ideal", "twin")
#: Rows and channels of the signal samples kept per product.
SAMPLE_ROWS, SAMPLE_CHANNELS = 8, 16


def phase_error_estimate(sigma_rad: float, n_out: int, n_in: int) -> float:
    """Expected relative rms error of the detected product of a tile with meshes of
    ``n_out`` and ``n_in`` modes and phase errors of rms ``sigma_rad`` (first order,
    module docstring): ``sigma sqrt((n_out + n_in - 2) / 4)``."""
    return float(sigma_rad) * math.sqrt((int(n_out) + int(n_in) - 2) / 4)


def mesh_transfer(mesh: MeshPhases, theta_rad: np.ndarray, phi_rad: np.ndarray,
                  output_phase_rad: np.ndarray) -> np.ndarray:
    """Transfer matrix of a lossless Clements mesh of 50:50 MZIs with the given phases
    (those of ``mesh``, or perturbed), applied column by column (all MZIs of a column
    at once); equal to :func:`cosim.optics.mzi_mesh.mesh_matrix` to rounding."""
    n = mesh.n_modes
    total = np.eye(n, dtype=complex)
    s, c = np.sin(theta_rad / 2), np.cos(theta_rad / 2)
    pre = 1j * np.exp(0.5j * theta_rad)
    e = np.exp(1j * phi_rad)
    t00, t01, t10, t11 = pre * e * s, pre * c, pre * e * c, -pre * s
    for col in range(mesh.depth):
        sel = np.flatnonzero(mesh.column == col)
        k = mesh.modes[sel]
        top, bottom = total[k], total[k + 1]
        total[k] = t00[sel, None] * top + t01[sel, None] * bottom
        total[k + 1] = t10[sel, None] * top + t11[sel, None] * bottom
    return np.exp(1j * output_phase_rad)[:, None] * total


class MziMeshTiles:
    """The coherent MZI-mesh tile (module docstring); ``"photonic-mzi"`` in
    :data:`cosim.hw.registry.TILES`.

    Parameters
    ----------
    tile_rows, tile_cols : int
        N inputs and M outputs of one tile (meshes of N and M modes).
    dac_bits, adc_bits : int
    optical_engine : {"ideal", "twin"}
    electrical_engine : {"ideal", "twin"}
    noise : bool
        Readout noise (TIA, shot) and laser RIN.
    characterization : cosim.readout.ReadoutCharacterization
    phase_error_std_rad : float
        rms phase error of every phase shifter (rad), optical engine ``twin``.
    loss_db_per_mzi : float
        Insertion loss of one MZI (dB), optical engine ``twin``.
    optical_full_scale_fraction : float
    rin_db_per_hz : float
    averaging : int
        Reads averaged per conversion.
    seed : int
        Seeds the static phase errors of the meshes.
    spice_engine : cosim.spice.SpiceEngine, optional
    """

    card_roles = ("laser", "mzi")
    #: the backward mappings (:meth:`load`): the forward meshes lit from their outputs
    #: (a reciprocal network: ``T^T``), or ``W^T`` programmed on meshes of its own
    backward_reads = ("transposed_read", "transposed_copy")

    def __init__(self, *, tile_rows: int, tile_cols: int, dac_bits: int, adc_bits: int,
                 optical_engine: str, electrical_engine: str, noise: bool,
                 characterization, phase_error_std_rad: float, loss_db_per_mzi: float,
                 optical_full_scale_fraction: float = 1.0, rin_db_per_hz: float = -140.0,
                 averaging: int = 1, seed: int = 0, spice_engine=None,
                 backward_weights: str = "transposed_read") -> None:
        from cosim.readout import SpiceReadout, TwinReadout

        for name, value, allowed in (("optical_engine", optical_engine, OPTICAL_ENGINES),
                                     ("electrical_engine", electrical_engine,
                                      ELECTRICAL_ENGINES)):
            if value not in allowed:
                raise ConfigError(f"hardware.{name}={value!r}: the photonic-mzi tile offers "
                                  f"{', '.join(allowed)}")
        for name, value in (("phase_error_std_rad", phase_error_std_rad),
                            ("loss_db_per_mzi", loss_db_per_mzi)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name}={value!r}: give a finite number >= 0")
        self.n, self.m = int(tile_rows), int(tile_cols)
        self.transposed_read = reads_transposed(type(self), backward_weights)
        if self.transposed_read and self.m > self.n:
            raise ConfigError(
                f"backward_weights='transposed_read' lights the forward meshes from their "
                f"{self.m} outputs, more than the {self.n} inputs the channel power is set "
                f"for (tile_cols={self.m} > tile_rows={self.n}); make tile_cols <= "
                "tile_rows or set design.backward_weights=transposed_copy")
        self.dac_bits, self.adc_bits = int(dac_bits), int(adc_bits)
        self.optical_engine, self.electrical_engine = optical_engine, electrical_engine
        self.noise = bool(noise)
        self.char = characterization
        self.spec = characterization.spec
        self.sigma_phi = float(phase_error_std_rad) if optical_engine == "twin" else 0.0
        self.loss_db = float(loss_db_per_mzi) if optical_engine == "twin" else 0.0
        self.seed = int(seed)
        self.noise_scale = conversion.averaging_scale(averaging)
        self.rin_sigma = self.noise_scale * rin_sigma(
            rin_db_per_hz=rin_db_per_hz, bandwidth_hz=characterization.noise_bandwidth_hz)
        self.resp = float(self.spec.responsivity_a_per_w)
        frac = float(optical_full_scale_fraction)
        if not (math.isfinite(frac) and frac > 0):
            raise ConfigError(f"optical_full_scale_fraction={frac!r}: give a number > 0")
        # 2 R sqrt(P_LO P_ch) g sqrt(N) = f I_fs with P_LO = N P_ch
        g_full = self.mesh_loss(self.m, self.n)
        self.p_ch_w = frac * self.spec.full_scale_current_a / (2 * self.resp * self.n * g_full)
        self.p_lo_w = self.n * self.p_ch_w
        symbol_period_s = int(averaging) / float(self.spec.adc_sample_rate_hz)
        self.twin_quiet = TwinReadout(characterization, noise=False,
                                      symbol_period_s=symbol_period_s)
        self.spice = SpiceReadout(self.spec, noise=False, engine=spice_engine,
                                  symbol_period_s=symbol_period_s)
        if electrical_engine == "ideal":
            self.gain_ohm, self.offset_v = -self.spec.feedback_resistance_ohm, 0.0
        else:
            self.gain_ohm = float(characterization.gain_ohm)
            self.offset_v = float(characterization.offset_v)
        self.swing_v = min(self.spec.output_high_v, -self.spec.output_low_v)
        self.adc_fs_v = self.spec.adc_full_scale_v
        self._chain_texts: dict[int, str] = {}

    # ------------------------------------------------------------------ the Tile protocol
    @classmethod
    def build(cls, context: TileContext) -> MziMeshTiles:
        """The MZI-mesh tiles of a run (cosim.hw.protocols.Tile): the mesh card (role
        ``"mzi"``, devices/mzi_mesh.toml), the laser card, the bplight card's readout."""
        arch = context.design
        mesh = context.card("mzi")
        laser = context.card("laser")
        return cls(
            **context.common(optical=True),
            phase_error_std_rad=float(mesh["phase_error_std_rad"]),
            loss_db_per_mzi=float(mesh["loss_db_per_mzi"]),
            optical_full_scale_fraction=float(arch["optical_full_scale_fraction"]),
            rin_db_per_hz=float(laser["rin_db_per_hz"]),
            averaging=int(arch["readout_averaging"]), seed=context.seed,
            spice_engine=context.spice_engine,
            backward_weights=str(arch["backward_weights"]))

    def state_dict(self) -> dict:
        """No state of its own between loads (cosim.hw.protocols.Tile)."""
        return {"arrays": {}, "meta": {}}

    def load_state_dict(self, state: dict) -> None:
        """(no state)"""

    def load(self, a_raw: np.ndarray, scale: float, phase: Phase, *,
             transpose_of: Loaded | None = None, layer: str = "") -> Loaded:
        """Program ``clip(a_raw / scale, -1, 1)`` on meshes (module docstring).  State:
        ``{"shape": (mi, nj, me, ne), "t": (nj, ne, mi me) transfers of each tile column
        (``g T`` transposed, real when there is no phase error), "s": (nj, mi) s_max,
        "g": (nj, mi) mesh loss}``.  The backward state: with ``transposed_read`` the
        forward meshes lit from their outputs (those of ``transpose_of``, or of
        ``a_raw.T`` programmed when none is offered; a tile's inputs are then its
        ``tile_cols`` outputs); with ``transposed_copy`` ``a_raw`` on meshes of its
        own."""
        m, k = a_raw.shape
        a = a_raw / scale
        over = int(np.count_nonzero(np.abs(a) > 1.0))
        a = np.clip(a, -1.0, 1.0)
        exact = phase == "gradient"
        if exact:
            a = conversion.signed_levels(a, self.dac_bits)
        if phase == "backward" and self.transposed_read:
            forward = transpose_of.state if transpose_of is not None else \
                self._program(a.T, exact)
            return Loaded(self._transposed(forward), m, k, over)
        return Loaded(self._program(a, exact, copy=phase == "backward"), m, k, over)

    def matmul(self, u: np.ndarray, loaded: Loaded, *, rng: np.random.Generator | None,
               counts: dict, samples: dict | None = None,
               lit: tuple[bool, bool] | None = None,
               row_scale: np.ndarray | None = None) -> np.ndarray:
        """``u @ a.T`` on the meshes, read by coherent detection (module docstring)."""
        if self.noise and rng is None:
            raise ConfigError("noise is on: the product needs an rng")
        st = loaded.state
        mi, nj, me, ne = st["shape"]
        m = loaded.outputs
        b, k = u.shape
        useg = np.zeros((b, nj * ne))
        useg[:, :k] = u
        seg = np.ascontiguousarray(useg.reshape(b, nj, ne).transpose(1, 0, 2))
        # output fields per tile column, (nj, b, mi me) -> the m real outputs
        field = np.matmul(seg, st["t"])[..., :m] * math.sqrt(self.p_ch_w)
        e_lo = math.sqrt(self.p_lo_w)
        in_phase = field.real
        power = in_phase * in_phase
        if np.iscomplexobj(field):
            power = power + field.imag * field.imag
        pd = (self.p_lo_w + power + 2 * e_lo * in_phase) / 2
        pt = (self.p_lo_w + power - 2 * e_lo * in_phase) / 2
        if self.noise:                  # one laser per tile: a factor per row and tile
            n = standard_normal(rng, (nj, b, mi)).astype(np.float64)
            n = np.repeat(n, me, axis=2)[..., :m]
            pd = conversion.with_rin(pd, n, self.rin_sigma)
            pt = conversion.with_rin(pt, n, self.rin_sigma)
        # channels (tile column, output), time axis the rows
        pd = pd.transpose(1, 0, 2).reshape(b, nj * m)
        pt = pt.transpose(1, 0, 2).reshape(b, nj * m)
        i_net = self.resp * (pd - pt)
        if self.electrical_engine == "ideal":
            v = self.gain_ohm * i_net
        else:
            v = self.twin_quiet.read(pd, pt)
        sigma_v = conversion.readout_sigma_v(
            conversion.total_photocurrent_a(pd, pt, self.resp, 2 * self.spec.dark_current_a),
            self.char.dark_total_current_a, self._noise_slope, self.char.output_noise_v_rms ** 2,
            self.noise_scale)
        counts["below_noise_floor"] += int(np.count_nonzero(
            np.abs(i_net) * abs(self.char.gain_ohm) < sigma_v))
        counts["saturated_tia"] += int(np.count_nonzero(
            np.abs(i_net) * self.spec.feedback_resistance_ohm > self.swing_v))
        if self.noise and self.electrical_engine != "ideal":
            v = v + standard_normal(rng, v.shape) * sigma_v
        low, high, step, n_codes = conversion.adc_range(self.adc_bits, self.adc_fs_v)
        codes = conversion.adc_code(v, low, step, float(n_codes - 1))
        counts["clipped_adc"] += int(np.count_nonzero(conversion.adc_clipped(v, low, high)))
        counts["samples"] += v.size
        # calibration per tile: y = s_max (code y_per_code + y_at_zero), y_unit = the
        # photocurrent of a unit product through a mesh of loss g
        y_unit = 2 * self.resp * math.sqrt(self.p_lo_w * self.p_ch_w) * st["g"]   # (nj, mi)
        y_per_code, y_at_zero = conversion.adc_calibration(low, step, self.offset_v,
                                                           self.gain_ohm, y_unit)
        per_out = np.repeat(st["s"], me, axis=1)[:, :m]                           # (nj, m)
        c1 = np.repeat(y_per_code, me, axis=1)[:, :m] * per_out
        c0 = np.repeat(y_at_zero, me, axis=1)[:, :m] * per_out
        y = (codes.reshape(b, nj, m) * c1 + c0).sum(axis=1)
        if samples is not None and "optical_power_w" not in samples:
            r, c = min(b, SAMPLE_ROWS), min(me, SAMPLE_CHANNELS, m)
            samples["optical_power_w"] = np.stack([pd[:r, :c], pt[:r, :c]], axis=-1)
            samples["photocurrent_a"] = i_net[:r, :c].copy()
            samples["tia_voltage_v"] = v[:r, :c].copy()
            samples["adc_codes"] = codes[:r, :c].astype(np.int64)
        if row_scale is not None:
            y *= np.reshape(row_scale, (-1, 1))
        return y

    def circuits(self, loaded: Loaded, u: np.ndarray, samples: dict, *,
                 spot: bool) -> Circuits:
        """With the twin readout, the first tile's readout channels as a record (the
        sampled detector powers as PWL rows, :func:`cosim.hw.records.readout_record`);
        the spot check: the same detector powers through the noiseless twin and
        ngspice."""
        from cosim.hw.records import pending_readout_record, readout_template

        out = Circuits()
        if self.electrical_engine == "twin" and "optical_power_w" in samples:
            ch = samples["optical_power_w"].shape[1]
            if ch not in self._chain_texts:
                self._chain_texts[ch] = readout_template(
                    self.spec, ch, f"mzi tile readout: {ch} channel(s)")
            rec = pending_readout_record("0,0", self.spec, self.twin_quiet, samples,
                                         self._chain_texts[ch])
            if rec is not None:
                out.records.append(rec)
        if spot and "optical_power_w" in samples:
            p = samples["optical_power_w"]
            circ, analysis = self.spice.circuit(p[..., 0], p[..., 1])
            circ.analyses.append(analysis)
            out.spot = SpotCheck(self.twin_quiet.read(p[..., 0], p[..., 1]),
                                 self.spice.read(p[..., 0], p[..., 1]), circ.render(),
                                 self.spec.adc_full_scale_v / 2)
        return out

    def realised_matrix(self, loaded: Loaded) -> np.ndarray:
        """The (m, k) matrix the programmed meshes compute, as the digital calibration
        reads it (the in-phase part of ``g T``, times ``s_max / g`` per tile): the
        product before detection, readout and converters is ``u @ realised.T``."""
        st = loaded.state
        mi, nj, me, ne = st["shape"]
        out = np.zeros((mi * me, nj * ne))
        for j in range(nj):
            scale = np.repeat(st["s"][j] / st["g"][j], me)
            out[:, j * ne:(j + 1) * ne] = (st["t"][j].real * scale).T
        return out[:loaded.outputs, :loaded.inputs]

    # ------------------------------------------------------------------ the meshes
    def mesh_loss(self, n_out: int, n_in: int) -> float:
        """Field transmission of a tile with meshes of ``n_out`` and ``n_in`` modes
        (path-balanced: every path crosses the depth of each mesh, ``n`` for ``n >=
        2``)."""
        depth = sum(n for n in (n_out, n_in) if n >= 2)
        return 10.0 ** (-self.loss_db * depth / 20.0)

    def realise(self, unitary: np.ndarray, key: tuple, errors: bool) -> np.ndarray:
        """The matrix a Clements mesh programmed for the real orthogonal ``unitary``
        realises: exactly ``unitary`` without phase errors, else the mesh of
        :func:`mesh_transfer` with the static errors of the physical mesh ``key``."""
        n = unitary.shape[0]
        if not errors or self.sigma_phi == 0 or n < 2:
            return unitary
        mesh = clements_decompose(unitary)
        r = np.random.default_rng([self.seed, zlib.crc32(repr(key).encode())])
        kk = mesh.theta_rad.size
        d = self.sigma_phi * r.standard_normal(2 * kk + n)
        return mesh_transfer(mesh, mesh.theta_rad + d[:kk], mesh.phi_rad + d[kk:2 * kk],
                             mesh.output_phase_rad + d[2 * kk:])

    def _program(self, a: np.ndarray, exact: bool, *, copy: bool = False) -> dict:
        """The meshes of ``a`` (state: :meth:`load`); ``copy``: the backward copy's own
        meshes (static phase errors of their own)."""
        m, k = a.shape
        own = ("copy",) if copy else ()
        me, ne = min(self.m, m), min(self.n, k)
        mi, nj = -(-m // me), -(-k // ne)
        pad = np.zeros((mi * me, nj * ne))
        pad[:m, :k] = a
        errors = not exact and self.sigma_phi > 0
        t = np.zeros((nj, ne, mi * me), dtype=complex if errors else float)
        s_max = np.zeros((nj, mi))
        for j in range(nj):
            for i in range(mi):
                block = pad[i * me:(i + 1) * me, j * ne:(j + 1) * ne]
                u, s, vt = np.linalg.svd(block)
                if s[0] == 0:
                    continue
                r = s.size
                uu = self.realise(u, ("U", me, i, j, *own), errors)
                vv = self.realise(vt, ("V", ne, i, j, *own), errors)
                # T = U diag(s / s_max) V^T through the meshes and the attenuators
                tile = (uu[:, :r] * (s / s[0])) @ vv[:r, :]
                t[j, :, i * me:(i + 1) * me] = tile.T
                s_max[j, i] = s[0]
        g = np.full((nj, mi), self.mesh_loss(me, ne))
        return {"shape": (mi, nj, me, ne), "t": t * g[0, 0], "s": s_max, "g": g}

    def _transposed(self, state: dict) -> dict:
        """The forward meshes lit from the outputs: each tile's transfer transposed."""
        mi, nj, me, ne = state["shape"]
        t = state["t"]                                   # (nj, ne, mi me)
        blocks = t.reshape(nj, ne, mi, me).transpose(2, 3, 0, 1)     # (mi, me, nj, ne)
        return {"shape": (nj, mi, ne, me), "t": np.ascontiguousarray(blocks.reshape(
            mi, me, nj * ne)), "s": state["s"].T.copy(), "g": state["g"].T.copy()}

    @property
    def _noise_slope(self) -> float:
        c = self.char
        return conversion.noise_slope(c.output_noise_v_rms, c.output_noise_bright_v_rms,
                                      c.dark_total_current_a, c.bright_total_current_a)


__all__ = ["MziMeshTiles", "mesh_transfer", "phase_error_estimate"]
