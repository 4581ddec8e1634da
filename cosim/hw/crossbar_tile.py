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
   same netlist, one run per input row (small networks only).
3. **TIA**: a linear transimpedance ``Z = -(FS_adc / 2) / I_fs`` with
   ``I_fs = V_read (G_max - G_min) tile_rows`` (the largest differential column current
   maps to the ADC edge); noise (when on): the TIA card's input current noise and the
   feedback resistor's thermal noise ``4 k T / |Z|`` over the noise bandwidth of the
   bplight card, ``sigma_I = sqrt((i_n^2 + 4kT/|Z|) B)``.
4. **ADC** at ``adc_bits``; ``y = (V_q / Z) / (V_read (G_max - G_min))``; tile partial
   sums added digitally.

The gradient's temporary pattern (``delta^T``, new at every product) is read with the
ideal array (no wire resistance): factorizing a network per product and tile would cost
more than the rest of the step; converters and noise still apply.
"""

from __future__ import annotations

import math

import numpy as np

from cosim.devices.converters import dequantize, quantize
from cosim.errors import ConfigError
from cosim.hw.crossbar import build_crossbar_read, crossbar_solver

BOLTZMANN_J_PER_K = 1.380649e-23
XBAR_ENGINES: tuple[str, ...] = ("ideal", "twin", "spice")


class CrossbarTiles:
    """Crossbar tile model (module docstring).

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
    """

    def __init__(self, *, tile_rows: int, tile_cols: int, dac_bits: int, adc_bits: int,
                 electrical_engine: str, noise: bool, g_min_s: float, g_max_s: float,
                 read_voltage_v: float, wire_resistance_ohm: float,
                 driver_resistance_ohm: float, sense_resistance_ohm: float,
                 adc_full_scale_v: float, input_noise_a_per_rthz: float,
                 temperature_k: float, noise_bandwidth_hz: float, swing_v: float,
                 spice_engine=None) -> None:
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
        self.sigma_i_a = math.sqrt((input_noise_a_per_rthz ** 2 + 4 * BOLTZMANN_J_PER_K
                                    * temperature_k / abs(self.z_ohm)) * noise_bandwidth_hz)
        self.swing_v = float(swing_v)
        self.spice_engine = spice_engine
        self.last_netlist = None

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
        tiles = {}
        for j in range(nj):
            for i in range(mi):
                rs, cs = slice(j * ne, (j + 1) * ne), slice(i * me, (i + 1) * me)
                gp, gn = g_pos[rs, cs], g_neg[rs, cs]
                if engine == "twin":
                    sp = crossbar_solver(gp, **self._options())
                    sn = crossbar_solver(gn, **self._options())
                    tiles[(i, j)] = (gp, gn, sp.solve, sn.solve)
                else:
                    tiles[(i, j)] = (gp, gn, None, None)
        return {"shape": (mi, nj, me, ne), "engine": engine, "tiles": tiles}

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

    def matmul(self, u_signed: np.ndarray, transfers: dict, *, rng, counts: dict,
               samples: dict | None = None) -> np.ndarray:
        """``u @ a.T`` for DAC-quantized ``u`` (b, k) in [-1, 1]; (b, m_padded)."""
        mi, nj, me, ne = transfers["shape"]
        engine = transfers["engine"]
        b, k = u_signed.shape
        v = np.zeros((b, nj * ne))
        v[:, :k] = u_signed * self.v_read
        out = np.zeros((b, mi * me))
        if self.noise and rng is None:
            raise ConfigError("noise is on: the product needs an rng")
        for (i, j), (gp, gn, sp, sn) in transfers["tiles"].items():
            vt = v[:, j * ne:(j + 1) * ne]
            if not vt.any():
                continue
            i_net = self._currents(engine, gp, sp, vt) - self._currents(engine, gn, sn, vt)
            if self.noise:
                i_net = i_net + self.sigma_i_a * rng.standard_normal(i_net.shape)
            volts = self.z_ohm * i_net
            codes, clipped = quantize(volts, bits=self.adc_bits, full_scale_v=self.adc_fs_v)
            vq = dequantize(codes, bits=self.adc_bits, full_scale_v=self.adc_fs_v)
            counts["clipped_adc"] += clipped
            counts["samples"] += volts.size
            counts["saturated_tia"] += int(np.count_nonzero(np.abs(volts) > self.swing_v))
            counts["below_noise_floor"] += int(np.count_nonzero(np.abs(i_net) < self.sigma_i_a))
            out[:, i * me:(i + 1) * me] += (vq / self.z_ohm) / (self.v_read *
                                                                (self.g_max - self.g_min))
            if samples is not None and "tia_voltage_v" not in samples:
                r, c = min(b, 8), min(me, 16)
                samples["row_voltage_v"] = vt[:r, :c].copy()
                samples["column_current_a"] = i_net[:r, :c].copy()
                samples["tia_voltage_v"] = volts[:r, :c].copy()
                samples["adc_codes"] = codes[:r, :c].copy()
        return out
