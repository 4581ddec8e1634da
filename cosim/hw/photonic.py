"""Photonic tile: DAC -> MRR weight bank (cosim.optics) -> balanced PD + TIA (cosim.readout) -> ADC.

One product ``Y = U @ A.T`` (U (b, k) signed inputs, A (m, k) weights normalised into
[-1, 1]) is computed on tiles of ``N = tile_rows`` wavelengths (inputs) by
``M = tile_cols`` bank rows (outputs), step by step:

1. **DAC** (per call full scale).  ``s_x = max|U|``, ``u = U / s_x`` in [-1, 1].  The
   modulators need intensities in [0, 1], so a signed input is sent as two passes,
   ``u+ = max(u, 0)`` and ``u- = max(-u, 0)``, each quantized to ``L = 2**dac_bits - 1``
   steps: ``u_q = round(u L) / L`` (error <= 1/(2L)); the passes are combined
   digitally, ``y = y(u+) - y(u-)``.  A pass with no light (e.g. ReLU outputs have no
   negative part) is skipped.
2. **Bank** (weights).  Each ring's detuning holds one weight,
   ``delta = weight_to_detuning(a)`` (cosim.optics.weight_bank, single-ring inverse map).
   Optical engine ``twin``: the drop / through power transfers of the programmed rings
   (``ring_powers`` of the detuning; with crosstalk the full N x N ring-wavelength
   response, ``bank_transfer``), computed once per weight state.  Engine ``ideal``:
   the exact transfer ``drop = g (1 + a)/2``, ``through = g (1 - a)/2`` (balanced
   response exactly ``g a``).
3. **Optical power**.  Channel power at a bank row ``P_bank`` (W); laser RIN multiplies
   each channel's power by ``1 + sigma_RIN n`` (``sigma_RIN = sqrt(10**(RIN/10) B)``,
   B = the readout's measured noise bandwidth, cosim.optics.rin_sigma), common to all
   outputs since it is imposed before the fan-out.  Per tile and output:
   ``P_drop = sum_n u_n P_bank (1 + sigma n_n) drop_mn``, likewise ``P_through``.
   ``P_bank`` is either ``link_budget(bank, laser_power_per_channel_w)`` or, when no
   laser power is set, chosen so the largest possible balanced photocurrent of a tile
   (N inputs at 1, weights +-1) equals ``optical_full_scale_fraction`` x the readout's
   full-scale current: ``P_bank = f I_fs / (R g N)``.
4. **Readout** (electrical engine): ``ideal`` = exact linear TIA ``V = -R_f R (P_drop -
   P_through)``, no noise, no swing limit; ``twin`` = :class:`cosim.readout.TwinReadout`
   (the ngspice-measured DC transfer, step response and noise, incl. shot noise);
   ``spice`` = :class:`cosim.readout.SpiceReadout` (one ngspice transient per pass,
   every tile output a channel, rows of U as successive symbols; its noise, when on, is
   the twin's measured noise added to the noiseless transient).  With
   ``readout_averaging = A`` each symbol is held for ``A`` ADC sample periods
   (``T_s = A / f_ADC``, the symbol period of both engines) and the conversion is the
   mean of its ``A`` reads: the readout noise and the RIN sigma are divided by
   ``sqrt(A)``, and the twin and spice engines read the output once, at the end of the
   held symbol.  The settling error of the earlier reads is not modelled: for
   tia_bplight the ngspice step response leaves ``5.2e-9`` of a step one ADC period
   after an edge and nothing measurable after two, i.e. ``3e-10`` of a step in the mean
   of 16 reads, far below the 16-bit LSB (``1.5e-5`` of the range); at ``T_s = 160 ns``
   the twin has no inter-symbol memory and takes the fused path.
5. **ADC** at ``adc_bits`` over the ADC full scale of the converters card (bipolar),
   codes -> volts (``cosim.devices.converters``); digital calibration with the measured
   gain and offset: ``I = (V - V_0)/Z``, ``y_tile = I / (R g P_bank)``; tile partial sums
   are added digitally.  ``Y ~ s_x * sum_tiles y_tile``.

Counted per product (HardwareStats): TIA beyond its output swing (``|I R_f|`` above the
swing), clipped ADC codes, outputs whose signal is below one rms of the readout noise.

Range and noise design (the default "bplight" cards).  Every scale is per product, so
nothing is clipped silently: the DAC full scale is ``max|U|`` of the call (the largest
input drives a modulator fully); the weights are ``W / w_max`` with ``w_max = headroom x
max|W_0|`` (devices/bplight.toml, weights beyond it saturate and are counted); and the
optical power is set so the largest balanced photocurrent a tile can produce, ``R g N
P_bank`` (all N inputs at 1, all weights at +-1), equals ``optical_full_scale_fraction``
(1.0) x the readout full-scale current ``I_fs = (ADC range / 2) / R_f``: no product can
saturate the TIA or clip the ADC.  The readout is designed for that link budget
(devices/tia_bplight.toml): ``R_f = 500 ohm`` gives ``I_fs = 1.28 mA``, which a 64-channel
bank reaches at 9.55 mW per comb line (within the 10 mW laser card), and a 300 MHz
closed loop (op-amp GBW 2 GHz) settles within one 10 ns ADC period.  Measured by ngspice
(cosim.readout.characterize): 12.1 effective bits per read dark (output noise 86 uV rms
over the 1.28 V ADC range), 10.1 bits with both detectors at full scale (shot noise
``2 q I``); laser RIN at -140 dB/Hz over the 546 MHz noise bandwidth adds 0.23 % rms per
channel.  A typical product is far below the worst case (about ``sqrt(N)`` random terms of
sub-unit size instead of N unit terms), so its error is larger than the full-scale figure:
on the reduced LeNet-5 the forward products err by 4-9 % rms with one read (0.2-0.5 %
without noise).  Hence ``readout_averaging = 16`` (devices/bplight.toml): 16 reads per
conversion give 14.1 effective bits dark, 12.1 at full-scale light and 0.058 % rms RIN,
at 16x the readout time (6.25 MS/s per channel) and conversion energy (cosim.energy).
The published 80 kOhm TIA of devices/tia.toml saturates at 8 uA, 170x below what the link
delivers; with it the signal had to be dimmed onto its noise floor (5.4 effective bits,
forward errors 19-57 %) and training did not track float.

Cost of a product (what is computed, and what is not).  The tile grid pads the last
tile row up to ``M`` bank rows; padded bank rows carry no output, so they are not read:
no TIA noise is drawn and no ADC conversion is done for them, and the ``samples``
counter counts the conversions of real outputs only (``rows x tile columns x m`` per
pass).  Channels are ordered (tile column, output) in both paths.  The rows of U are
cut into blocks (:func:`row_blocks`: about 64k numbers a block, a multiple of 16
blocks when there are as many rows, sizes within one row).  The noise draws (laser
RIN, readout noise) are standard normal numbers from the streams of
:func:`cosim.hw.ziggurat.normal_streams` (a ziggurat on SFC64 streams seeded from the
product's ``rng``; per pass, one RIN stream per block, then one readout-noise stream
per block; one number per conversion or per lit input
element -- a dark channel's RIN multiplies nothing and is not drawn -- never reused),
rounded to float32 and entering the float64 signals through float64 arithmetic (``1 +
sigma_RIN n`` and ``n sigma_V`` are formed in float64); the same seed gives the same
numbers, whatever the number of threads.  The negative pass is skipped when the inputs
have no negative entry (e.g. after ReLU).  The fused path
(:meth:`PhotonicTiles._matmul_fast`) runs each pass as one compiled loop over the
blocks, shared out over the threads (:func:`cosim.hw.kernels.photonic_pass`): per
block the channel powers with their RIN, the optical product over the real outputs of
every tile column, and the readout-to-ADC chain with its noise, drawing from the same
streams in the same order as the reference.  The digital calibration ``y = (V_q - V_0) /
Z / (R g P_bank)`` is applied to the ADC codes as the equivalent affine map ``y = c y_step
+ y_0`` after the tile columns' codes are summed (:func:`cosim.hw.conversion.
adc_calibration`), in both paths.  Both evaluate the functions of
:mod:`cosim.hw.conversion` in the same order, so they agree bit for bit (tested).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from cosim.errors import ConfigError
from cosim.hw import conversion, kernels
from cosim.hw.conversion import dac_levels, signed_levels  # noqa: F401 (their old home)
from cosim.hw.protocols import Circuits, Loaded, Phase, SpotCheck, TileContext
from cosim.hw.ziggurat import normal_fill, normal_streams
from cosim.optics import (
    bank_transfer,
    link_budget,
    make_weight_bank,
    rin_sigma,
    weight_to_detuning,
)
from cosim.optics.weight_bank import calibrate_bank, program_bank, ring_powers

OPTICAL_ENGINES: tuple[str, ...] = ("ideal", "twin")
#: Bank calibration with crosstalk (design value ``calibration``; :meth:`PhotonicTiles.load`).
CALIBRATIONS: tuple[str, ...] = ("none", "in_loop")
#: How a memristor-held weight sets its ring (design value ``weight_link``).
WEIGHT_LINKS: tuple[str, ...] = ("ideal", "driver")
ELECTRICAL_ENGINES: tuple[str, ...] = ("ideal", "twin", "spice")
#: Rows and channels of the signal samples kept per product (small, for the run file).
SAMPLE_ROWS, SAMPLE_CHANNELS = 8, 16
#: Numbers per block of rows of a product (its optical powers, 512 kB, stay in L2).
_BLOCK_ELEMENTS = 65536
#: Blocks per pass at least, when there are as many rows (work to share among threads).
_MIN_BLOCKS = 16


def row_blocks(rows: int, width: int) -> np.ndarray:
    """Block boundaries (``nblocks + 1`` row indices) of a product of ``rows`` input
    rows whose row holds ``width`` numbers (channel powers or detected powers,
    whichever is more): about ``_BLOCK_ELEMENTS`` numbers a block, the block count a
    multiple of ``_MIN_BLOCKS`` (one row a block when there are fewer rows), the
    rows spread evenly (block sizes differ by at most one row), so that any thread
    count from 1 to ``_MIN_BLOCKS`` that divides it gets an even share.  Each block has
    its own noise streams (module docstring)."""
    rows = int(rows)
    per_block = max(1, _BLOCK_ELEMENTS // max(int(width), 1))
    groups = max(1, -(-rows // (per_block * _MIN_BLOCKS)))
    if groups * _MIN_BLOCKS > rows:         # fewer rows than that: as many blocks as fit
        groups = 1 if rows >= _MIN_BLOCKS else 0
    nblocks = groups * _MIN_BLOCKS if groups else rows
    return np.arange(nblocks + 1) * rows // max(nblocks, 1)


#: One-row blocks whose optical product is computed together (one pass over the
#: transfers of each tile column for all of them), at most, and the numbers their
#: detected powers may hold (the work buffer of a thread).
_GROUP_ROWS = 32
_GROUP_ELEMENTS = 1 << 21

#: Largest DAC resolution for which the gradient pattern's bank transfer is a lookup
#: table over all 2 (2**bits - 1) + 1 levels (2**19 levels: 8 MB per table).
_TABLE_MAX_BITS = 18


class UniformCurve:
    """``np.interp(x, xp, fp)`` on a uniform grid ``xp``, bit for bit, without the
    binary search: the segment index comes from ``(x - xp[0]) / h`` (bisection only when
    rounding puts ``x`` outside the guessed segment), then numpy's own formula
    ``slope_j (x - xp_j) + fp_j`` (``slope_j = (fp_{j+1} - fp_j) / (xp_{j+1} - xp_j)``)
    and its end rules (``fp[0]`` below the grid, ``fp[-1]`` at and above its end) apply
    (:func:`cosim.hw.kernels.curve_eval`, the lookup of the fused product).

    Build it with :meth:`from_table`, which returns None when ``xp`` is not strictly
    increasing or its points stray more than h/4 from the uniform grid.
    """

    def __init__(self, xp: np.ndarray, fp: np.ndarray) -> None:
        self.xp, self.fp = xp, fp
        slopes = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
        #: per segment: xp_j, xp_{j+1}, fp_j, slope_j
        self.table = np.stack([xp[:-1], xp[1:], fp[:-1], slopes], axis=1)
        self.x0, self.f_end = float(xp[0]), float(fp[-1])
        self.inv_h = (len(xp) - 1) / (float(xp[-1]) - self.x0)
        self.last = len(xp) - 2

    def lookup_args(self) -> tuple:
        """``(table, x0, inv_h, last, f_end)``: the curve as the kernels take it."""
        return self.table, self.x0, self.inv_h, self.last, self.f_end

    @classmethod
    def from_table(cls, xp, fp) -> UniformCurve | None:
        xp = np.asarray(xp, dtype=float)
        fp = np.asarray(fp, dtype=float)
        if xp.ndim != 1 or xp.shape != fp.shape or xp.size < 3 or \
                not np.all(np.isfinite(xp)) or not np.all(np.diff(xp) > 0):
            return None
        h = (xp[-1] - xp[0]) / (xp.size - 1)
        if np.max(np.abs(xp - (xp[0] + h * np.arange(xp.size)))) > 0.25 * h:
            return None
        return cls(xp, fp)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return kernels.curve_eval_array(x.reshape(-1), *self.lookup_args()).reshape(x.shape)


#: "no noise" for the kernels' noise-stream arguments
_NO_STREAM = np.zeros(0, dtype=np.uint64)
#: Stand-in curve for the ideal electrical engine (its output is ``gain x diff``).
_NO_CURVE = UniformCurve(np.array([0.0, 1.0, 2.0]), np.zeros(3))


class TileColumns:
    """Bank transfers in the layout of the fused product (:func:`cosim.hw.kernels.
    photonic_pass`): ``both`` (nj, ne, 2 m), per tile column the drop then the through
    transfers of the ``m`` real outputs; ``shape`` the tile grid ``(mi, nj, me, ne)``
    of :meth:`PhotonicTiles.transfers`; ``zero`` the (drop, through) of weight 0, which
    the padded bank rows hold.  :meth:`tiles` gives the (drop, through) arrays of
    :meth:`PhotonicTiles.transfers` (for the step-by-step paths)."""

    def __init__(self, both: np.ndarray, shape: tuple, zero: tuple[float, float]):
        self.both, self.shape, self.zero = both, tuple(shape), zero

    def tiles(self) -> tuple[np.ndarray, np.ndarray]:
        mi, nj, me, ne = self.shape
        m = self.both.shape[2] // 2
        out = []
        for part, fill in ((self.both[..., :m], self.zero[0]),
                           (self.both[..., m:], self.zero[1])):
            full = np.full((mi * me, nj, ne), fill)
            full[:m] = part.transpose(2, 0, 1)
            out.append(np.ascontiguousarray(full.reshape(mi, me, nj, ne)
                                            .transpose(0, 2, 1, 3)))
        return out[0], out[1]


class ScaledPattern:
    """A state (weights or a gradient pattern) loaded at ``fraction`` of the rings'
    full scale (``transfers`` of ``fraction x state``); :meth:`PhotonicTiles.matmul`
    divides the outputs by ``fraction``."""

    def __init__(self, transfers, fraction: float) -> None:
        self.transfers, self.fraction = transfers, float(fraction)


class PhotonicTiles:
    """The photonic tile model of one architecture (see the module docstring): the
    ``"bplight"`` tile of :data:`cosim.hw.registry.TILES`.

    Parameters
    ----------
    tile_rows, tile_cols : int
        N wavelengths (inputs) and M bank rows (outputs) of one tile.
    dac_bits, adc_bits : int
    optical_engine : {"ideal", "twin"}
    electrical_engine : {"ideal", "twin", "spice"}
    noise : bool
        Readout noise (shot, thermal, TIA) and laser RIN on or off.
    characterization : cosim.readout.ReadoutCharacterization
        The measured readout channel (its spec gives R, R_f, ADC full scale).
    laser_power_per_channel_w : float or None
        Comb line power (W); None = matched to the readout full scale (module docstring).
    optical_full_scale_fraction : float
    rin_db_per_hz : float
        Laser RIN (dB/Hz).
    crosstalk : bool
        Inter-channel ring crosstalk in the twin bank.
    spice_engine : cosim.spice.SpiceEngine, optional
    calibration : {"none", "in_loop"}
        With crosstalk: program each ring by the single-ring map, or calibrate the
        bank after every load (:meth:`load`, "Crosstalk, calibration and the link").
    calibration_max_iter : int
        Iteration budget of one in-loop calibration.
    calibration_tol : float
        Target ``max |applied - target|`` weight of the calibration.
    channel_spacing_m, thermal_neighbour_fraction : float
        Of the bank (the optics card's values; None / 0: the shipped card's spacing, no
        thermal crosstalk).
    heater_efficiency_rad_per_w : float or None
        Ring heater efficiency (rad/W; the optics card's) for the heater power of a
        loaded state; None = the shipped optics card's.
    pattern_fraction : float
        With crosstalk, every state (weights, and the gradient's pattern after DAC
        quantization) is loaded at this fraction of the rings' full scale and the
        outputs divided by it (a digital shift): the design's ``1 / weight_headroom``
        when calibrating in the loop, a range the coupled rings reach; targets near
        +-1 they do not (a weight grown to the layer's full scale would be applied
        with a large residual).
    link : cosim.devices.link_driver.LinkDriverSpec or None
        With a spec, a memristor-held weight (forward and backward states) sets its
        ring through the link driver (design value ``weight_link = "driver"``).
    averaging : int
        Reads averaged per conversion, ``A`` (devices/bplight.toml
        ``readout_averaging``): each symbol is held for ``A`` ADC sample periods
        (symbol period ``T_s = A / f_ADC`` of the twin and spice readouts) and the
        output is the mean of its ``A`` reads, so the readout noise and the RIN sigma
        are divided by ``sqrt(A)`` (independent reads: the noise bandwidth, 546 MHz for
        tia_bplight, is far above ``f_ADC / 2``).
    """

    card_roles = ("laser",)
    #: a bank cannot be read transposed: the backward product runs on a second copy
    backward_reads = ("transposed_copy",)

    def __init__(self, *, tile_rows: int, tile_cols: int, dac_bits: int, adc_bits: int,
                 optical_engine: str, electrical_engine: str, noise: bool,
                 characterization, laser_power_per_channel_w: float | None,
                 optical_full_scale_fraction: float = 1.0, rin_db_per_hz: float = -140.0,
                 crosstalk: bool = False, spice_engine=None, averaging: int = 1,
                 calibration: str = "none", calibration_max_iter: int = 3,
                 calibration_tol: float = 1e-4, channel_spacing_m: float | None = None,
                 thermal_neighbour_fraction: float = 0.0,
                 heater_efficiency_rad_per_w: float | None = None, link=None,
                 pattern_fraction: float = 1.0) -> None:
        from cosim.readout import SpiceReadout, TwinReadout

        if optical_engine not in OPTICAL_ENGINES:
            raise ConfigError(f"optical_engine={optical_engine!r}: choose one of "
                              f"{OPTICAL_ENGINES}")
        if electrical_engine not in ELECTRICAL_ENGINES:
            raise ConfigError(f"electrical_engine={electrical_engine!r}: choose one of "
                              f"{ELECTRICAL_ENGINES}")
        self.n, self.m = int(tile_rows), int(tile_cols)
        self.dac_bits, self.adc_bits = int(dac_bits), int(adc_bits)
        self.optical_engine, self.electrical_engine = optical_engine, electrical_engine
        self.noise = bool(noise)
        if isinstance(averaging, bool) or not isinstance(averaging, (int, np.integer)) \
                or not 1 <= averaging <= 2 ** 20:
            raise ConfigError(f"readout_averaging={averaging!r}: give an integer from 1 "
                              f"to {2 ** 20}")
        self.averaging = int(averaging)
        #: rms of the mean of ``averaging`` independent reads, per unit rms of one read
        self.noise_scale = conversion.averaging_scale(self.averaging)
        self.char = characterization
        self.spec = characterization.spec
        self.crosstalk = bool(crosstalk)
        if calibration not in CALIBRATIONS:
            raise ConfigError(f"calibration={calibration!r}: choose one of "
                              f"{', '.join(CALIBRATIONS)}")
        if isinstance(calibration_max_iter, bool) or \
                not isinstance(calibration_max_iter, (int, np.integer)) or \
                not 0 <= calibration_max_iter <= 1000:
            raise ConfigError(f"calibration_max_iter={calibration_max_iter!r}: give a whole "
                              "number of iterations from 0 to 1000")
        if not (isinstance(calibration_tol, (int, float)) and 0 < calibration_tol <= 1):
            raise ConfigError(f"calibration_tol={calibration_tol!r}: give a weight error in "
                              "(0, 1]")
        self.calibration = calibration
        self.calibration_max_iter = int(calibration_max_iter)
        self.calibration_tol = float(calibration_tol)
        self._bank_kw = {"crosstalk": self.crosstalk}
        if channel_spacing_m is not None:
            self._bank_kw["channel_spacing_m"] = float(channel_spacing_m)
        if self.crosstalk and thermal_neighbour_fraction:
            self._bank_kw["thermal_neighbour_fraction"] = float(thermal_neighbour_fraction)
        self.bank = make_weight_bank(self.n, self.m, **self._bank_kw)
        if heater_efficiency_rad_per_w is None:
            from cosim.optics.defaults import optics_value

            heater_efficiency_rad_per_w = optics_value("heater_efficiency_rad_per_w")
        self.heater_efficiency = float(heater_efficiency_rad_per_w)
        self.link = link
        if not 0 < pattern_fraction <= 1:
            raise ConfigError(f"pattern_fraction={pattern_fraction!r}: give a value in (0, 1]")
        self.pattern_fraction = float(pattern_fraction)
        self._row_banks: dict[int, object] = {}    # channels -> bank of one row
        #: (phase, tile grid shape) -> (targets, calibrated commands) of the last load
        self._warm: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.g = float(self.bank.weight_scale)
        self.resp = float(self.spec.responsivity_a_per_w)
        i_fs = self.spec.full_scale_current_a
        if laser_power_per_channel_w is None:
            frac = float(optical_full_scale_fraction)
            if not (math.isfinite(frac) and frac > 0):
                raise ConfigError(f"optical_full_scale_fraction={frac!r}: give a number > 0")
            self.p_bank_w = frac * i_fs / (self.resp * self.g * self.n)
            self.budget = None
        else:
            self.budget = link_budget(self.bank, laser_power_per_channel_w=float(
                laser_power_per_channel_w), rin_db_per_hz=rin_db_per_hz)
            self.p_bank_w = float(self.budget.power_at_bank_per_channel_w)
        if not self.p_bank_w > 0:
            raise ConfigError("no optical power reaches the bank: raise "
                              "laser_power_per_channel_w above 0 W")
        self.rin_sigma = self.noise_scale * rin_sigma(
            rin_db_per_hz=rin_db_per_hz, bandwidth_hz=characterization.noise_bandwidth_hz)
        #: symbol period (s): a symbol is held for the ``averaging`` reads of its conversion
        self.symbol_period_s = self.averaging / float(self.spec.adc_sample_rate_hz)
        self.twin = TwinReadout(characterization, noise=self.noise,
                                symbol_period_s=self.symbol_period_s)
        self.twin_quiet = TwinReadout(characterization, noise=False,
                                      symbol_period_s=self.symbol_period_s)
        self.spice = SpiceReadout(self.spec, noise=False, engine=spice_engine,
                                  symbol_period_s=self.symbol_period_s)
        if electrical_engine == "ideal":
            self.gain_ohm, self.offset_v = -self.spec.feedback_resistance_ohm, 0.0
        else:
            self.gain_ohm, self.offset_v = float(characterization.gain_ohm), \
                float(characterization.offset_v)
        self.swing_v = min(self.spec.output_high_v, -self.spec.output_low_v)
        self.adc_fs_v = self.spec.adc_full_scale_v
        self.last_netlist = None     # (Circuit text) of the last spice readout run
        self._curve = UniformCurve.from_table(characterization.dc_current_a,
                                              characterization.dc_output_v)
        self._level_table = None     # (bits, the level table of _levels)
        self._buffers: dict[tuple, np.ndarray] = {}   # work arrays of the fused path
        self._zero = None            # (drop, through) of weight 0
        self._ring_k = None          # constants of the compiled ring response
        self._chain_texts: dict[int, str] = {}   # channel count -> record template
        #: spice reads of the noise spot check (cosim.hw.noise_check) made with every
        #: spot check when noise is on; 0 = off (each check costs seconds of ngspice)
        self.noise_check_reads = 0
        self.noise_checks = 0        # noise spot checks made (seeds the next one)

    # ------------------------------------------------------------------ weights -> bank
    def transfers(self, a: np.ndarray, *, levels_bits: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Drop / through power transfers of the tiles holding ``a`` (m, k) in [-1, 1].

        Returns arrays of shape ``(mi, nj, Me, Ne)`` (tile grid, outputs, channels),
        ``Me = min(M, m)``, ``Ne = min(N, k)``; ``a`` is zero-padded to whole tiles
        (a zero weight still passes light to both detectors).

        ``levels_bits``: ``a`` is known to hold sign-magnitude levels of that many bits
        (:func:`signed_levels`, the gradient's pattern).  Without crosstalk each ring's
        transfer is a function of its own level only, so the transfers of all
        ``2 (2**bits - 1) + 1`` levels are computed once (the same functions on the
        same values) and looked up.
        """
        m, k = a.shape
        me, ne = min(self.m, m), min(self.n, k)
        mi, nj = -(-m // me), -(-k // ne)
        pad = np.zeros((mi * me, nj * ne))
        pad[:m, :k] = a
        t = pad.reshape(mi, me, nj, ne).transpose(0, 2, 1, 3)
        if self.optical_engine == "ideal":
            return self.g * (1 + t) / 2, self.g * (1 - t) / 2
        if (levels_bits is not None and not (self.crosstalk and ne > 1)
                and int(levels_bits) <= _TABLE_MAX_BITS):
            table = self._levels(int(levels_bits))
            drop_t, through_t = table[:, 0], table[:, 1]
            levels = 2 ** int(levels_bits) - 1
            idx = np.rint(t * levels).astype(np.intp)
            idx += levels
            return drop_t[idx], through_t[idx]
        if not self.crosstalk or ne == 1:
            return self._ring_transfers(t)
        return self._coupled(t, "forward", calibrate=False)[:2]

    # ------------------------------------------ crosstalk, calibration and the link
    def _row_bank(self, channels: int, rows: int):
        """The bank of ``rows`` independent rows of ``channels`` channels (a stack of
        every tile's rows: rows do not couple, so one bank holds them all)."""
        import dataclasses

        bank = self._row_banks.get(channels)
        if bank is None:
            bank = self._row_banks[channels] = make_weight_bank(channels, 1, **self._bank_kw)
        return dataclasses.replace(bank, n_outputs=int(rows))

    def _coupled(self, t: np.ndarray, phase: str, *, calibrate: bool,
                 through_link: bool = False, layer: str = ""
                 ) -> tuple[np.ndarray, np.ndarray, dict]:
        """``(drop, through, report)`` of the coupled rings holding the tile grid ``t``
        (mi, nj, me, ne) of targets (clipped to [-1, 1]): commands by the single-ring
        map, or, with ``calibrate``, by :func:`cosim.optics.calibrate_bank` (warm start:
        the previous calibrated commands of the same layer, phase and grid, moved by the
        single-ring map's change of the targets; the same targets again keep their
        commands, as after a resume); ``through_link``: the commands pass
        the link driver (:meth:`_link`).  ``report``: retune counters, with
        ``calibration_residual`` = max |applied - target| (padding included: padded
        rings hold weight 0 and couple like the others)."""
        mi, nj, me, ne = t.shape
        target = np.clip(t, -1.0, 1.0).reshape(-1, ne)
        if not np.isfinite(target).all():
            raise ConfigError("a weight of the bank is not finite (NaN): the training "
                              "diverged; lower the learning rate")
        bank = self._row_bank(ne, target.shape[0])
        iterations = 0
        cmd = program_bank(target, bank)
        if calibrate:
            key = (layer, phase, t.shape)
            held = self._warm.get(key)
            if held is not None and np.array_equal(held[0], target):
                cmd = held[1]                       # nothing to correct
            else:
                start = None if held is None else \
                    held[1] + (cmd - program_bank(held[0], bank))
                res = calibrate_bank(target, bank, tol=self.calibration_tol,
                                     max_iter=self.calibration_max_iter, start=start)
                cmd, iterations = res.detuning_rad, res.iterations
                self._warm[key] = (target, cmd)
        report = {"retunes": 1, "calibration_iterations": iterations}
        if through_link:
            cmd, report["link_power_w"], report["link_clipped"] = self._link(cmd)
        tr = bank_transfer(bank, cmd)
        applied = tr.weights / bank.weight_scale
        report["calibration_residual"] = float(np.max(np.abs(applied - target)))
        report["heater_power_w"] = self._heater_power(cmd)
        shape = (mi, nj, me, ne)
        return tr.drop.reshape(shape), tr.through.reshape(shape), report

    def _heater_power(self, cmd: np.ndarray | None = None, *,
                      positive_sum: float | None = None) -> float:
        """Heater power (W) of rings commanded to the own-heater phases ``cmd`` (rad):
        ``sum max(cmd, 0) / eta`` (a heater cannot cool; the thermal coupling of the
        neighbours comes for free); or of a given ``positive_sum`` = ``sum max(cmd,
        0)`` (rad) summed elsewhere (the level table of :meth:`level_transfers`)."""
        if positive_sum is None:
            positive_sum = float(np.sum(np.maximum(cmd, 0.0)))
        return positive_sum / self.heater_efficiency

    def _link(self, delta: np.ndarray) -> tuple[np.ndarray, float, int]:
        """The detunings the link driver applies for the needed detunings ``delta``
        (rad), its electrical power summed over the rings (W), and how many needed
        detunings it cannot reach.

        Pre-distortion: the pair is programmed push-pull about the mid conductance
        (``G+ + G- = G_min + G_max``), for which the link's detuning is exactly
        quadratic in ``d = G+ - G-``: ``delta(d) = delta_fs ((gb - d) / (2 gb))^2``
        (cosim.devices.link_driver, ``delta_fs`` at ``d = -gb``).  So ``d = gb (1 - 2
        sqrt(delta / delta_fs))`` inverts it wherever ``0 <= delta <= delta_fs``; a
        needed detuning outside (a calibration asking for a negative or a larger
        detuning) is held at the limit and counted.  The applied detuning is then
        :func:`cosim.devices.link_driver.link_transfer` of those conductances (the
        closed-form circuit, = ngspice to ~1e-11)."""
        from cosim.devices.link_driver import full_scale_detuning_rad, link_transfer

        spec = self.link
        fs = full_scale_detuning_rad(spec)
        clipped = int(np.count_nonzero((delta < 0) | (delta > fs)))
        u = np.sqrt(np.clip(delta, 0.0, fs) / fs)
        gb = spec.bias_conductance_s
        mid = 0.5 * (spec.g_min_s + spec.g_max_s)
        d = gb * (1.0 - 2.0 * u)
        op = link_transfer(mid + 0.5 * d, mid - 0.5 * d, spec)
        return op.detuning_rad, float(np.sum(op.power_w)), clipped

    def _retune(self, a: np.ndarray, phase: str, layer: str = ""
                ) -> tuple[tuple[np.ndarray, np.ndarray], dict]:
        """The transfers of weights ``a`` (m, k) in [-1, 1] and the load's report
        (:attr:`cosim.hw.protocols.Loaded.retune`): the coupled path (:meth:`_coupled`)
        with crosstalk, the link driver (:meth:`_link`) for memristor-held states,
        else the exact single-ring map (residual 0 by construction, heater power of
        the real weights' detunings)."""
        driver = self.link is not None and phase != "gradient"
        m, k = a.shape
        me, ne = min(self.m, m), min(self.n, k)
        if self.optical_engine != "ideal" and self.crosstalk and ne > 1:
            mi, nj = -(-m // me), -(-k // ne)
            pad = np.zeros((mi * me, nj * ne))
            pad[:m, :k] = a
            t = pad.reshape(mi, me, nj, ne).transpose(0, 2, 1, 3)
            drop, through, report = self._coupled(
                t, phase, calibrate=self.calibration == "in_loop", through_link=driver,
                layer=layer)
            return (drop, through), report
        delta = weight_to_detuning(np.clip(a, -1.0, 1.0), self.bank)
        if not driver:
            return self.transfers(a), {"retunes": 1, "heater_power_w":
                                       self._heater_power(delta)}
        applied, power, clipped = self._link(delta)
        report = {"retunes": 1, "heater_power_w": self._heater_power(applied),
                  "link_power_w": power, "link_clipped": clipped}
        if self.optical_engine == "ideal":
            return self.transfers(a), report
        through, drop, _ = ring_powers(applied, r1=self.bank.r1, r2=self.bank.r2,
                                       a=self.bank.a)
        report["calibration_residual"] = float(np.max(
            np.abs((drop - through) / self.g - np.clip(a, -1.0, 1.0)))) if a.size else 0.0
        pad_d, pad_t = self._zero_transfers()
        mi, nj = -(-m // me), -(-k // ne)
        out = []
        for part, fill in ((drop, pad_d), (through, pad_t)):
            full = np.full((mi * me, nj * ne), fill)
            full[:m, :k] = part
            out.append(full.reshape(mi, me, nj, ne).transpose(0, 2, 1, 3))
        return (out[0], out[1]), report

    def transposed_transfers(self, transfers: tuple[np.ndarray, np.ndarray], m: int,
                             k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``transfers(a.T)`` from ``transfers = transfers(a)`` of ``a`` (m, k), without
        recomputing the rings: each ring's transfer is a function of its own weight, so
        the tiles of ``a.T`` hold the same numbers, re-tiled (padding: the transfer of
        weight 0).  None when the rings are coupled (crosstalk with more than one
        channel per tile in either tiling) or the state is loaded at a fraction of
        full scale (:class:`ScaledPattern`): compute ``transfers(a.T)`` then."""
        if isinstance(transfers, ScaledPattern):
            return None
        drop, through = transfers
        mi, nj, me, ne = drop.shape
        me_t, ne_t = min(self.m, k), min(self.n, m)
        if self.crosstalk and self.optical_engine != "ideal" and max(ne, ne_t) > 1:
            return None
        mi_t, nj_t = -(-k // me_t), -(-m // ne_t)
        zero = self._zero_transfers()
        out = []
        for t, t0 in zip((drop, through), zero):
            full = t.transpose(0, 2, 1, 3).reshape(mi * me, nj * ne)[:m, :k]
            pad = np.full((mi_t * me_t, nj_t * ne_t), t0)
            pad[:k, :m] = full.T
            out.append(pad.reshape(mi_t, me_t, nj_t, ne_t).transpose(0, 2, 1, 3))
        return out[0], out[1]

    def _zero_transfers(self) -> tuple[float, float]:
        """(drop, through) transfer of a ring holding weight 0 (cached)."""
        if self._zero is None:
            drop, through = self.transfers(np.zeros((1, 1)))
            self._zero = (float(drop.item()), float(through.item()))
        return self._zero

    def _ring_transfers(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(drop, through) of uncoupled rings holding the weights ``t`` (clipped to
        [-1, 1]): :func:`cosim.hw.kernels.ring_transfers`, the single-ring inverse map
        and ring response of :mod:`cosim.optics` in one compiled pass (equal to
        ``ring_powers(weight_to_detuning(t))`` to rounding, tested)."""
        t = np.ascontiguousarray(np.clip(t, -1.0, 1.0))
        if not np.isfinite(t).all():
            raise ConfigError("a weight of the bank is not finite (NaN): the training "
                              "diverged; lower the learning rate")
        if self._ring_k is None:
            self._ring_k = kernels.ring_coefficients(self.bank)
        drop = np.empty(t.shape)
        through = np.empty(t.shape)
        kernels.sized(kernels.ring_transfers, 3 * t.size, t.reshape(-1), self._ring_k,
                      drop.reshape(-1), through.reshape(-1))
        return drop, through

    def ring_columns_apply(self, m: int, k: int) -> bool:
        """Whether a weight state (m, k) is held by uncoupled rings of the twin optics
        commanded directly, so that :meth:`ring_columns` applies (not: ideal optics,
        crosstalk with more than one channel per tile, the link driver)."""
        return not (self.optical_engine == "ideal" or self.link is not None or
                    (self.crosstalk and min(self.n, k) > 1))

    def ring_columns(self, a_raw: np.ndarray, scale: float
                     ) -> tuple[TileColumns, int, float]:
        """``(transfers(clip(a_raw / scale, -1, 1)), number of |a_raw / scale| > 1,
        heater power of the rings (W, :meth:`_heater_power` of the single-ring
        detunings))`` of a weight state in one compiled pass
        (:func:`cosim.hw.kernels.ring_columns`: the same transfers as
        :meth:`_ring_transfers`, bit for bit), as :class:`TileColumns`; only where
        :meth:`ring_columns_apply`."""
        m, k = a_raw.shape
        me, ne = min(self.m, m), min(self.n, k)
        if self._ring_k is None:
            self._ring_k = kernels.ring_coefficients(self.bank)
        mi, nj = -(-m // me), -(-k // ne)
        both = np.empty((nj, ne, 2 * m))
        cos_delta = np.empty((nj, ne, m))
        over, nan = kernels.sized(kernels.ring_columns, a_raw.size + both.size,
                                  np.asarray(a_raw, dtype=float), float(scale),
                                  self._ring_k, ne, both, cos_delta)
        if nan:
            raise ConfigError("a weight of the bank is not finite (NaN): the training "
                              "diverged; lower the learning rate")
        # the detuning is arccos(cos delta) >= 0 (padding rings: arccos 1 = 0)
        power = self._heater_power(positive_sum=float(np.sum(np.arccos(cos_delta))))
        return TileColumns(both, (mi, nj, me, ne), self._zero_transfers()), int(over), power

    def transposed_columns(self, state: TileColumns, k: int) -> TileColumns:
        """The :class:`TileColumns` of the transposed copy ``a.T`` (k, m) of a weight
        state ``a`` (m, k) held as ``state`` (uncoupled rings: the same transfers,
        re-read; :func:`cosim.hw.kernels.transposed_columns`)."""
        m = state.both.shape[2] // 2
        me_t, ne_t = min(self.m, k), min(self.n, m)
        mi_t, nj_t = -(-k // me_t), -(-m // ne_t)
        out = np.empty((nj_t, ne_t, 2 * k))
        kernels.sized(kernels.transposed_columns, 2 * out.size, state.both, m, ne_t,
                      state.zero[0], state.zero[1], out)
        return TileColumns(out, (mi_t, nj_t, me_t, ne_t), state.zero)

    def level_transfers(self, a_raw: np.ndarray, scale: float, bits: int
                        ) -> tuple[TileColumns, int, float] | None:
        """``(transfers(signed_levels(clip(a_raw / scale, -1, 1), bits), levels_bits=
        bits), number of |a_raw / scale| > 1, heater power of the levels' rings (W,
        :meth:`_heater_power`))`` in one compiled pass (the gradient's weight pattern),
        the transfers as :class:`TileColumns` (the fused product's layout,
        :func:`cosim.hw.kernels.level_columns`; ``.tiles()`` gives the arrays), or None
        where the level table does not apply (ideal optics, coupled rings, more than
        ``_TABLE_MAX_BITS`` bits)."""
        m, k = a_raw.shape
        me, ne = min(self.m, m), min(self.n, k)
        if self.optical_engine == "ideal" or (self.crosstalk and ne > 1) or \
                int(bits) > _TABLE_MAX_BITS:
            return None
        table = self._levels(int(bits))
        mi, nj = -(-m // me), -(-k // ne)
        levels = 2 ** int(bits) - 1
        both = np.empty((nj, ne, 2 * m))
        heat = np.empty(nj)
        over = kernels.sized(kernels.level_columns, a_raw.size + both.size,
                             np.asarray(a_raw, dtype=float), float(scale), float(levels),
                             table, ne, both, heat)
        zero = (float(table[levels, 0]), float(table[levels, 1]))
        # the pattern's own rings only (the table sum includes the padded columns)
        padded = (nj * ne - k) * m * float(table[levels, 2])
        power = self._heater_power(positive_sum=float(np.sum(heat)) - padded)
        return TileColumns(both, (mi, nj, me, ne), zero), int(over), power

    def _levels(self, bits: int) -> np.ndarray:
        """``(2 L + 1, 3)``: drop and through transfers and the positive part of the
        single-ring detuning (rad) of every signed level ``j / L``, ``j = -L..L`` (``L =
        2**bits - 1``), in row ``j + L`` (side by side: one cache line a lookup,
        :func:`cosim.hw.kernels.level_columns`; no crosstalk; cached)."""
        if self._level_table is None or self._level_table[0] != bits:
            levels = 2 ** bits - 1
            values = np.arange(-levels, levels + 1, dtype=float) / levels
            drop, through = self._ring_transfers(values)
            heat = np.maximum(weight_to_detuning(values, self.bank), 0.0)
            self._level_table = (bits, np.stack([drop, through, heat], axis=1))
        return self._level_table[1]

    # ------------------------------------------------------------------ the Tile protocol
    @classmethod
    def build(cls, context: TileContext) -> PhotonicTiles:
        """The MRR weight-bank tiles of a run (cosim.hw.protocols.Tile)."""
        d = context.design
        laser_w = float(d["laser_power_per_channel_w"])
        optics = context.card("optics")
        # values absent from the stored design of an older run file: the behaviour of
        # that time (no calibration, ideal link)
        have = d.card.params
        link = None
        if have.get("weight_link") is not None and d["weight_link"] == "driver":
            from cosim.devices.link_driver import LinkDriverSpec

            link = LinkDriverSpec.from_cards(context.card("link_driver"),
                                             context.card("weight"), optics)
        tiles = cls(
            **context.common(optical=True),
            laser_power_per_channel_w=laser_w if laser_w > 0 else None,
            optical_full_scale_fraction=float(d["optical_full_scale_fraction"]),
            rin_db_per_hz=float(context.card("laser")["rin_db_per_hz"]),
            crosstalk=bool(d["crosstalk"]), spice_engine=context.spice_engine,
            averaging=int(d["readout_averaging"]),
            calibration=str(d["calibration"]) if "calibration" in have else "none",
            calibration_max_iter=int(d["calibration_max_iter"])
            if "calibration_max_iter" in have else 3,
            calibration_tol=float(d["calibration_tol"]) if "calibration_tol" in have
            else 1e-4,
            channel_spacing_m=float(optics["channel_spacing_m"]),
            thermal_neighbour_fraction=float(optics["thermal_neighbour_fraction"]),
            heater_efficiency_rad_per_w=float(optics["heater_efficiency_rad_per_w"]),
            link=link,
            # the gradient's pattern in the range the weights use (reachable by coupled
            # rings), when they are calibrated in the loop
            pattern_fraction=1.0 / float(d["weight_headroom"])
            if bool(d["crosstalk"]) and "calibration" in have and
            d["calibration"] == "in_loop" else 1.0)
        tiles.noise_check_reads = int(context.config.noise_check_reads)
        return tiles

    def load(self, a_raw: np.ndarray, scale: float, phase: Phase, *,
             transpose_of: Loaded | None = None, layer: str = "") -> Loaded:
        """The bank transfers of ``clip(a_raw / scale, -1, 1)`` (cosim.hw.protocols.Tile):
        the gradient's pattern through the level table (:meth:`level_transfers`) where
        it applies; a weight state of uncoupled rings in one compiled pass
        (:meth:`ring_columns`; a backward copy of the forward state, ``transpose_of``,
        re-reads the same rings, :meth:`transposed_columns`, and keeps the forward
        load's report); else a backward
        state re-tiled from its forward one (:meth:`transposed_transfers`) where the
        rings are uncoupled.

        Crosstalk, calibration and the link.  With crosstalk (twin optics) every
        load is a retune of coupled rings (:meth:`_coupled`: all tiles' rows in one
        bank of independent rows): the commands come from the single-ring map
        (``calibration = "none"``) or from :func:`cosim.optics.calibrate_bank` within
        the iteration budget (``"in_loop"``, warm-started from the previous
        calibrated state of the same ``layer``, phase and tile grid; :meth:`state_dict`
        carries it into a checkpoint), and the transfers are the
        bank's exact N x N response to the commands.  With ``link`` the forward and
        backward states (memristor-held weights) are applied through the link driver
        (:meth:`_link`); needed detunings it cannot reach are counted with the
        saturated weights.  The gradient's pattern is loaded through the DACs, not the
        link.  ``Loaded.retune`` reports the retune (cosim.hw.stats)."""
        m, k = a_raw.shape
        if phase == "gradient":
            levelled = self.level_transfers(a_raw, scale, self.dac_bits)
            if levelled is not None:
                return Loaded(levelled[0], m, k, levelled[1],
                              {"retunes": 1, "heater_power_w": levelled[2]})
        if phase != "gradient" and self.ring_columns_apply(m, k):
            # uncoupled rings: the transfers in one pass, or re-read from the forward
            # state for its transposed copy (the same rings)
            if transpose_of is not None and isinstance(transpose_of.state, TileColumns):
                return Loaded(self.transposed_columns(transpose_of.state, m), m, k,
                              transpose_of.saturated, dict(transpose_of.retune))
            both, over, power = self.ring_columns(a_raw, scale)
            return Loaded(both, m, k, over, {"retunes": 1, "heater_power_w": power})
        a = a_raw / scale
        over = int(np.count_nonzero(np.abs(a) > 1.0))
        a = np.clip(a, -1.0, 1.0)
        if phase == "gradient":
            a = signed_levels(a, self.dac_bits)
            if self.crosstalk and self.optical_engine != "ideal":
                f = self.pattern_fraction
                tr, report = self._retune(a * f, phase, layer)
                return Loaded(tr if f == 1.0 else ScaledPattern(tr, f), m, k, over, report)
            return Loaded(self.transfers(a, levels_bits=self.dac_bits), m, k, over,
                          {"retunes": 1, "heater_power_w": self._heater_power(
                              weight_to_detuning(a, self.bank))})
        if transpose_of is not None and self.link is None:
            tr = self.transposed_transfers(transpose_of.state, transpose_of.outputs,
                                           transpose_of.inputs)
            if tr is not None:        # the same weights on the transposed copy
                return Loaded(tr, m, k, over, dict(transpose_of.retune))
        f = self.pattern_fraction if self.crosstalk and self.optical_engine != "ideal" \
            else 1.0
        tr, report = self._retune(a * f, phase, layer)
        over += report.pop("link_clipped", 0)
        return Loaded(tr if f == 1.0 else ScaledPattern(tr, f), m, k, over, report)

    def state_dict(self) -> dict:
        """The in-loop calibration's warm starts (cosim.hw.protocols.Tile): per layer,
        phase and tile grid the last calibrated targets and commands, so that a resumed
        run calibrates from where the interrupted one stood."""
        arrays, keys = {}, []
        for i, ((layer, phase, shape), (target, cmd)) in enumerate(self._warm.items()):
            arrays[f"calibration/{i}/target"] = target
            arrays[f"calibration/{i}/command"] = cmd
            keys.append([layer, phase, list(shape)])
        return {"arrays": arrays, "meta": {"calibration": keys}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self._warm = {}
        for i, (layer, phase, shape) in enumerate(state["meta"].get("calibration", [])):
            self._warm[(str(layer), str(phase), tuple(int(n) for n in shape))] = (
                np.asarray(state["arrays"][f"calibration/{i}/target"], dtype=float),
                np.asarray(state["arrays"][f"calibration/{i}/command"], dtype=float))

    def matmul(self, u: np.ndarray, loaded: Loaded, *, rng: np.random.Generator | None,
               counts: dict, samples: dict | None = None,
               lit: tuple[bool, bool] | None = None,
               row_scale: np.ndarray | None = None) -> np.ndarray:
        """:meth:`matmul_transfers` of a loaded state (cosim.hw.protocols.Tile); a
        gradient pattern loaded at a fraction of full scale (:class:`ScaledPattern`)
        has its outputs divided by that fraction (a digital shift)."""
        state = loaded.state
        if isinstance(state, ScaledPattern):
            row_scale = np.ones(u.shape[0]) if row_scale is None else \
                np.asarray(row_scale, dtype=float)
            row_scale = row_scale / state.fraction
            state = state.transfers
        return self.matmul_transfers(u, state, rng=rng, counts=counts,
                                     samples=samples, outputs=loaded.outputs, lit=lit,
                                     row_scale=row_scale)

    def circuits(self, loaded: Loaded, u: np.ndarray, samples: dict, *,
                 spot: bool) -> Circuits:
        """With the twin readout, the first tile's readout channels as a record: the
        readout chain of the sampled channels with the product's detector powers of the
        sampled rows (``samples``) as PWL rows (:func:`cosim.hw.records.
        readout_record`); with the spice engine the netlist ngspice ran (tile
        ``"all"``); with the ideal readout no circuit stands for the product.  The spot
        check: the same detector powers through the noiseless twin and ngspice."""
        from cosim.hw.records import pending_readout_record

        out = Circuits()
        if self.electrical_engine == "spice" and self.last_netlist:
            out.netlists.append(("all", self.last_netlist))
        elif self.electrical_engine == "twin" and "optical_power_w" in samples:
            rec = pending_readout_record(
                "0,0", self.spec, self.twin_quiet, samples,
                self._record_template(samples["optical_power_w"].shape[1]))
            if rec is not None:
                out.records.append(rec)
        if spot and "optical_power_w" in samples:
            p = samples["optical_power_w"]
            v_twin, v_spice, text = self.readout_check(p[..., 0], p[..., 1])
            out.spot = SpotCheck(v_twin, v_spice, text, self.spec.adc_full_scale_v / 2)
            if self.noise and self.noise_check_reads:
                from cosim.hw.noise_check import tile_noise_check

                out.spot.noise_std_ratio = tile_noise_check(self, loaded.state, u)
        return out

    def _record_template(self, channels: int) -> str:
        """:func:`cosim.hw.records.readout_template` of ``channels`` (kept)."""
        from cosim.hw.records import readout_template

        if channels not in self._chain_texts:      # the same circuit every step
            self._chain_texts[channels] = readout_template(
                self.spec, channels, f"photonic tile readout: {channels} channel(s)")
        return self._chain_texts[channels]

    # ------------------------------------------------------------------ one product
    def matmul_transfers(self, u_signed: np.ndarray, transfers, *,
                         rng: np.random.Generator | None, counts: dict,
                         samples: dict | None = None, outputs: int | None = None,
                         lit: tuple[bool, bool] | None = None,
                         row_scale: np.ndarray | None = None) -> np.ndarray:
        """``u @ a.T`` for inputs ``u`` (b, k) in [-1, 1] (already DAC-quantized) and the
        bank ``transfers`` of ``a`` (m, k); returns (b, m) in units of ``u a``, or, given
        ``row_scale`` (b,), each row ``i`` times ``row_scale[i]`` (the digital
        rescaling to the operands' units, done as the last pass is summed).

        ``outputs``: the number ``m`` of real outputs (rows of ``a``); the bank rows that
        only pad the last tile row up to ``M`` carry no output and are neither read,
        converted nor given noise.  None = every bank row of the tile grid is an output
        (``m = mi me``).

        ``counts`` receives ``samples`` (ADC conversions of real outputs),
        ``saturated_tia``, ``clipped_adc``, ``below_noise_floor`` (added, per
        conversion); ``samples`` (a dict) receives the signals of the first tile.
        ``lit``: ``(any u > 0, any u < 0)`` if known (the DAC gives it), else found here.

        The ``ideal`` and ``twin`` readouts run the fused path (:meth:`_matmul_fast`):
        the same operations as :meth:`_matmul_reference`, in cache-sized blocks of rows,
        with the same random draws in the same order.  The ``spice`` readout, and a twin
        whose measured step response leaves memory from one row to the next (its rows
        are then a time series), take the reference path.
        """
        if self.electrical_engine == "spice" or (
                self.electrical_engine == "twin" and (self.twin.residual_taps.size
                                                      or self._curve is None)):
            if isinstance(transfers, TileColumns):
                transfers = transfers.tiles()
            out = self._matmul_reference(u_signed, transfers, rng=rng, counts=counts,
                                         samples=samples, outputs=outputs)
            if row_scale is not None:
                out *= np.reshape(row_scale, (-1, 1))
            return out
        return self._matmul_fast(u_signed, transfers, rng=rng, counts=counts,
                                 samples=samples, outputs=outputs, lit=lit,
                                 row_scale=row_scale)

    @staticmethod
    def _real_outputs(shape: tuple, outputs: int | None) -> int:
        mi, _, me, _ = shape
        if outputs is None:
            return mi * me
        m = int(outputs)
        if not (mi - 1) * me < m <= mi * me:
            raise ValueError(f"outputs={outputs!r}: the tile grid of {mi} x {me} bank rows "
                             f"holds from {(mi - 1) * me + 1} to {mi * me} outputs")
        return m

    def _sigma_v(self, pd: np.ndarray, pt: np.ndarray) -> np.ndarray:
        """Readout noise (V rms) of each conversion of the detector powers ``pd``, ``pt``
        (W): :func:`cosim.hw.conversion.readout_sigma_v` at the pair's total
        photocurrent, with this readout's measured noise and averaging."""
        c = self.char
        total = conversion.total_photocurrent_a(pd, pt, self.resp,
                                                2 * self.spec.dark_current_a)
        return conversion.readout_sigma_v(total, c.dark_total_current_a, self._noise_slope,
                                          c.output_noise_v_rms ** 2, self.noise_scale)

    @property
    def _noise_slope(self) -> float:
        c = self.char
        return conversion.noise_slope(c.output_noise_v_rms, c.output_noise_bright_v_rms,
                                      c.dark_total_current_a, c.bright_total_current_a)

    def _matmul_fast(self, u_signed: np.ndarray, transfers, *,
                     rng: np.random.Generator | None, counts: dict,
                     samples: dict | None = None, outputs: int | None = None,
                     lit: tuple[bool, bool] | None = None,
                     row_scale: np.ndarray | None = None) -> np.ndarray:
        """:meth:`matmul_transfers` fused over blocks of rows (see there): the channel powers, the
        optical product and the readout-to-ADC chain of each block are one compiled
        pass (:func:`cosim.hw.kernels.photonic_pass`), the blocks shared out over the
        threads (numba's, ``NUMBA_NUM_THREADS``; the result does not depend on their
        number).  ``transfers``: as :meth:`transfers` gives them, or
        :class:`TileColumns`."""
        shape = transfers.shape if isinstance(transfers, TileColumns) else \
            transfers[0].shape
        mi, nj, me, ne = shape
        m = self._real_outputs(shape, outputs)
        b, k_in = u_signed.shape
        twin = self.electrical_engine == "twin"
        if self.noise and rng is None:
            raise ConfigError("noise is on: the product needs an rng")
        # (nj, ne, 2 m): per tile column, the drop then the through transfers of the m
        # real outputs (the tile rows side by side), one product per tile column
        if isinstance(transfers, TileColumns):
            both = transfers.both
            if both.shape != (nj, ne, 2 * m):
                raise ValueError(f"outputs={outputs!r}: the tile columns hold "
                                 f"{both.shape[2] // 2} outputs")
        else:
            both = np.empty((nj, ne, 2 * m))
            kernels.sized(kernels.bank_columns, 2 * both.size, *transfers, m,
                          both)                  # (re-tiled views as they are)
        c = self.char
        y_unit = self.resp * self.g * self.p_bank_w
        low, high, step, n_codes = conversion.adc_range(self.adc_bits, self.adc_fs_v)
        # y = (V_q - V_0) / Z / y_unit with V_q = low + (code + 1/2) step: affine in the code
        y_per_code, y_at_zero = conversion.adc_calibration(low, step, self.offset_v,
                                                           self.gain_ohm, y_unit)
        curve = self._curve if self._curve is not None else _NO_CURVE  # (ideal: unused)
        bounds = row_blocks(b, nj * max(2 * m, ne))
        nblocks = bounds.size - 1
        block = -(-b // nblocks) if nblocks else 1     # the largest (row_blocks)
        # one-row blocks (wide rows): groups of them share a pass over the transfers
        group = 1 if block > 1 else \
            max(1, min(_GROUP_ROWS, _GROUP_ELEMENTS // max(nj * max(2 * m, ne), 1)))
        work = b * (k_in + nj * 2 * m)      # numbers in and detected: a small pass on one
        threads = 1 if work < kernels.PARALLEL_MIN_NUMBERS else \
            max(1, min(numba.get_num_threads(), nblocks))          # thread (kernels.sized)
        rows = max(block, group)
        p_buf = kernels.work_array(self._buffers, ("powers", threads, nj, rows, ne),
                                   (threads, nj, rows, ne))
        q_buf = kernels.work_array(self._buffers, ("detected", threads, nj, rows, 2 * m),
                                   (threads, nj, rows, 2 * m))
        d_buf = kernels.work_array(self._buffers, ("draws", threads, block * k_in + 1),
                                   (threads, block * k_in + 1), np.float32)
        tallies = np.zeros((nblocks, 4), dtype=np.int64)
        no_streams = np.zeros((nblocks, 0), dtype=np.uint64)
        if lit is None:                          # a pass with no light is skipped
            lit = kernels.signs_present(u_signed)
        signs = [s for s, on in zip((1.0, -1.0), lit) if on]
        # the first pass writes every output (pages first touched by the threads that
        # fill them); no pass: no light, all zero
        out = np.empty((b, m)) if signs else np.zeros((b, m))
        scale = np.ascontiguousarray(np.broadcast_to(row_scale, (b,))) \
            if row_scale is not None else np.zeros(0)
        consts = kernels.PassConstants(
            p_bank=float(self.p_bank_w), rin_sigma=float(self.rin_sigma),
            resp=self.resp, dark2=float(2 * self.spec.dark_current_a),
            dark_total=float(c.dark_total_current_a), noise_slope=float(self._noise_slope),
            noise0_sq=float(c.output_noise_v_rms ** 2), noise_scale=float(self.noise_scale),
            abs_gain=float(abs(c.gain_ohm)), rf=float(self.spec.feedback_resistance_ohm),
            swing=float(self.swing_v), twin=bool(twin),
            ideal_gain=float(self.gain_ohm * self.resp), table=curve.table,
            x0=curve.x0, inv_h=float(curve.inv_h), last=int(curve.last),
            f_end=curve.f_end, low=float(low), high=float(high), step=float(step),
            n_codes=int(n_codes), code_scale=0.0, code_offset=0.0)
        for sign in signs:
            # the draws of the reference, in its order: RIN of the pass, then readout noise
            rin = normal_streams(rng, nblocks) if self.noise else no_streams
            read = normal_streams(rng, nblocks) if self.noise and twin \
                else no_streams
            first = samples is not None and "optical_power_w" not in samples
            r, cc = (min(b, SAMPLE_ROWS), min(me, SAMPLE_CHANNELS, m)) if first else (0, 0)
            sample_p = np.zeros((r, cc, 2))
            sample_v = np.zeros((r, cc))
            sample_codes = np.zeros((r, cc))
            kernels.sized(
                kernels.photonic_pass, work, u_signed, sign, bounds, both, rin, read,
                p_buf, q_buf, d_buf, out, tallies, sample_p, sample_v, sample_codes,
                consts._replace(code_scale=sign * y_per_code,
                                code_offset=sign * nj * y_at_zero,
                                first=sign == signs[0]),
                scale if sign == signs[-1] else np.zeros(0), group)
            if first:
                samples["optical_power_w"] = sample_p
                i_net = sample_p[..., 0] - sample_p[..., 1]
                i_net *= self.resp
                samples["photocurrent_a"] = i_net
                samples["tia_voltage_v"] = sample_v
                samples["adc_codes"] = sample_codes.astype(np.int64)
        for key, n in zip(("samples", "saturated_tia", "clipped_adc", "below_noise_floor"),
                          tallies.sum(axis=0)):
            counts[key] += int(n)
        return out

    def _matmul_reference(self, u_signed: np.ndarray, transfers, *,
                          rng: np.random.Generator | None, counts: dict,
                          samples: dict | None = None,
                          outputs: int | None = None) -> np.ndarray:
        """The product step by step on whole arrays (module docstring): the reference
        of the fast path, and the path of the ``spice`` engine and of a twin readout
        with inter-symbol memory.  Channels (one TIA and ADC each) are the real outputs
        of every tile, ordered (tile column, output)."""
        drop, through = transfers
        mi, nj, me, ne = drop.shape
        m = self._real_outputs(drop.shape, outputs)
        b, k = u_signed.shape
        out = np.zeros((b, m))
        need_rng = self.noise and self.electrical_engine != "ideal"
        if (self.noise or need_rng) and rng is None:
            raise ConfigError("noise is on: the product needs an rng")
        bounds = row_blocks(b, nj * max(2 * m, ne))
        blocks = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
        for sign, part in ((1.0, np.maximum(u_signed, 0.0)), (-1.0, np.maximum(-u_signed, 0.0))):
            if not part.any():
                continue
            p = np.zeros((b, nj * ne))
            p[:, :k] = part * self.p_bank_w
            if self.noise:
                # one RIN stream per block of rows; a dark channel's RIN multiplies 0
                streams = normal_streams(rng, len(blocks))
                for (r0, r1), state in zip(blocks, streams):
                    seg = p[r0:r1]
                    lit = seg > 0
                    n = np.empty(int(lit.sum()), dtype=np.float32)
                    normal_fill(state, n)
                    seg[lit] = conversion.with_rin(seg[lit], n.astype(np.float64),
                                                   self.rin_sigma)
            p = p.reshape(b, nj, ne).transpose(1, 0, 2)          # (nj, b, ne)
            # (mi, nj, b, me) optical power on the drop / through detectors (W)
            p_drop = np.matmul(p[None], drop.transpose(0, 1, 3, 2))
            p_thr = np.matmul(p[None], through.transpose(0, 1, 3, 2))
            # channels: one TIA per (tile column, real output); time axis: rows of U
            pd = p_drop.transpose(2, 1, 0, 3).reshape(b, nj, mi * me)[..., :m].reshape(b, -1)
            pt = p_thr.transpose(2, 1, 0, 3).reshape(b, nj, mi * me)[..., :m].reshape(b, -1)
            i_net = self.resp * (pd - pt)
            v = self._read(pd, pt, rng, blocks)
            low, high, step, n_codes = conversion.adc_range(self.adc_bits, self.adc_fs_v)
            codes = conversion.adc_code(v, low, step, float(n_codes - 1))
            counts["clipped_adc"] += int(np.count_nonzero(conversion.adc_clipped(v, low,
                                                                                 high)))
            counts["samples"] += v.size
            counts["saturated_tia"] += int(np.count_nonzero(
                np.abs(i_net) * self.spec.feedback_resistance_ohm > self.swing_v))
            sigma_v = self._sigma_v(pd, pt)         # below the floor: |I| |Z| < sigma_V
            counts["below_noise_floor"] += int(np.count_nonzero(
                np.abs(i_net) * abs(self.char.gain_ohm) < sigma_v))
            # the calibration (V_q - V_0) / Z / (R g P_bank) of the codes summed over the
            # tile columns (integers: exact in any order), as the fused path applies it
            y_per_code, y_at_zero = conversion.adc_calibration(
                low, step, self.offset_v, self.gain_ohm, self.resp * self.g * self.p_bank_w)
            acc = codes.reshape(b, nj, m).sum(axis=1, dtype=float)
            out = acc * (sign * y_per_code) + sign * nj * y_at_zero + out
            if samples is not None and "optical_power_w" not in samples:
                r, c = min(b, SAMPLE_ROWS), min(me, SAMPLE_CHANNELS)
                samples["optical_power_w"] = np.stack([pd[:r, :c], pt[:r, :c]], axis=-1)
                samples["photocurrent_a"] = i_net[:r, :c].copy()
                samples["tia_voltage_v"] = v[:r, :c].copy()
                samples["adc_codes"] = codes[:r, :c].astype(np.int64)
        return out

    def _read(self, pd: np.ndarray, pt: np.ndarray, rng, blocks: list) -> np.ndarray:
        """TIA output volts (b, channels) from the detector powers, by the electrical
        engine; the readout noise of each block ``(r0, r1)`` of rows from its own
        stream."""
        if self.electrical_engine == "ideal":
            return self.gain_ohm * self.resp * (pd - pt)
        if self.electrical_engine == "twin":
            v = self.twin_quiet.read(pd, pt)
        else:
            circ, analysis = self.spice.circuit(pd, pt)
            circ.analyses.append(analysis)
            self.last_netlist = circ.render()
            v = self.spice.read(pd, pt)
        if self.noise:
            # the noise of the averaged read, drawn and scaled exactly as in _matmul_fast:
            # n * (sigma(total) * noise_scale), one draw per conversion, after the RIN draw
            sigma_v = self._sigma_v(pd, pt)
            n = np.empty(v.shape, dtype=np.float32)
            for (r0, r1), state in zip(blocks, normal_streams(rng, len(blocks))):
                normal_fill(state, n[r0:r1].reshape(-1))
            v = v + n * sigma_v
        return v

    def readout_check(self, pd: np.ndarray, pt: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
        """Noiseless twin and ngspice readout of the same detector powers (b, ch):
        ``(v_twin, v_spice, netlist_text)`` for a spot check."""
        circ, analysis = self.spice.circuit(pd, pt)
        circ.analyses.append(analysis)
        text = circ.render()
        return self.twin_quiet.read(pd, pt), self.spice.read(pd, pt), text
