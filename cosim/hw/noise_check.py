"""Noise spot check of the photonic tile: the twin's readout noise against an ngspice
transient driven by the noise sources of the same cards.

The twin (:mod:`cosim.hw.photonic`, :mod:`cosim.hw.conversion`) does not simulate
noise: it adds Gaussian numbers of a measured rms to each read, laser RIN as ``1 +
sigma_RIN n`` on each input channel's power (``sigma_RIN^2 = RIN B``, B the readout's
noise bandwidth) and readout noise ``sigma_V(I)`` (the ngspice ``.noise`` output noise
integrated from 1 kHz to 1 THz, dark and with both detectors at full scale, affine in the
total photocurrent in between).  This check reads one input of one tile ``K`` times by
the twin and by an ngspice transient of the readout chain (:func:`cosim.readout.
build_readout_chain`, ``noise="tran"``) in which every noise source of the cards is a
reproducible PWL waveform drawn from the product's ``rng``: shot noise of both
detectors, the feedback resistor's thermal noise, the amplifier's voltage and current
noise (5 unit-variance sources per channel), and RIN on the optical power of each input
channel (before the bank, common to all outputs, as in the twin).  It returns the
standard deviation of each output by both and their ratio.

Time step and bandwidth.  A PWL waveform that holds independent samples of variance
``s^2`` every ``dt`` and interpolates linearly between them has the (time-averaged)
one-sided power spectral density ``2 s^2 dt sinc^4(f dt)`` (the triangle interpolation
kernel's spectrum squared; ``sinc(x) = sin(pi x)/(pi x)``): white, ``2 s^2 dt``, well
below ``1/dt``, then falling.  The readout netlist scales the unit samples by
``1/sqrt(2 dt)`` so the drive is the cards' density at low frequency; RIN samples have
``s^2 = RIN / (2 dt)`` (RIN as a one-sided density, 1/Hz).  The twin's figures
integrate the white densities over the chain's whole response, whereas the transient
sees them through ``sinc^4(f dt)``, so the expected transient variance is the twin's
variance with each part weighted by that factor over its own spectrum:

    k_dark = int S_dark(f) sinc^4(f dt) df / int S_dark(f) df   (measured dark output
             noise spectrum: amplifier, feedback resistor, dark current)
    k_Z    = int |Z(f)|^2 sinc^4(f dt) df / int |Z(f)|^2 df    (measured transimpedance:
             every noise that enters as photocurrent, shot noise and RIN)

``sigma_bl^2 = k_dark sigma_dark^2 + k_Z (sigma_V(I)^2 - sigma_dark^2 + sigma_RIN,V^2)``.
The ratio reported, ``noise_std_ratio = std_twin * sqrt(sigma_bl^2 / sigma^2) /
std_spice``, is the twin's std mapped onto the transient's band: 1 when the twin's noise
model and the circuit agree; the factor itself, ``band_factor``, is reported alongside.
For the tia_bplight chain at ``dt = 100 ps``: ``k_dark = 0.78`` (the amplifier's voltage
noise extends far above the 300 MHz closed loop) and ``k_Z = 0.76``: the measured
transimpedance does not fall below the macro-model's 10 ohm output resistance (input
current flows through C_f into it), a plateau of (10/500)^2 of the DC gain that, over
the 1 THz of the AC sweep, carries as much of ``int |Z|^2 df`` as the 300 MHz band does;
the characterization's noise bandwidth (546 MHz), hence the twin's shot noise and RIN,
include it.  ngspice steps through every PWL breakpoint, so its time step is at
most ``dt``, below the chain's time constants; the solver tolerance reltol 1e-4
(:data:`NOISE_NUMERICS`) changes the std by 4e-4 relative to 1e-6 (measured).

Reads.  The input is held; after a warm-up of ``warmup_s`` (the transient starts from
the operating point of the first noise sample) the output is read every
``read_period_s`` (default ``dt``), at PWL breakpoints.  Successive reads are
correlated (the output noise's correlation time is about 1 ns; ``read_correlation``
reports the lag-one value), so the statistical error of the spice std is set by the
simulated time, about ``1/sqrt(2 T / 1 ns)``: the default 10000 reads at 100 ps (1 us
per output) give about 2.5 % (measured spread of the ratio over seeds: 0.96 to 1.03).
The spice reads are split into runs of ``reads_per_run`` (parallel on the engine's
workers; every PWL breakpoint costs ngspice about five time steps, so the cost is
linear in the simulated time and the number of outputs).  Both compare single reads,
without the tile's ``1/sqrt(A)`` averaging, which scales both alike.  The twin draws
``twin_reads`` (default 20 K) independent reads, which cost nothing, so that the
statistical error of the ratio is the spice side's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigError
from cosim.hw import conversion

#: PWL noise step (s): 1/dt = 10 GHz, 33 x the tia_bplight closed-loop bandwidth.
NOISE_STEP_S = 100e-12
#: Solver settings of the noise transients (the readout's NUMERICS with reltol 1e-4: the
#: time step is set by the PWL breakpoints, and the std agrees with reltol 1e-6 runs).
NOISE_NUMERICS: dict[str, float] = {"reltol": 1e-4, "abstol": 1e-15, "vntol": 1e-9}
#: Outputs of the first tile checked, at most.
NOISE_CHECK_OUTPUTS = 2


@dataclass(frozen=True)
class NoiseCheck:
    """Result of :func:`noise_spot_check` (arrays over the checked outputs).

    Attributes
    ----------
    twin_std_v, spice_std_v : std of the reads (V)
    band_factor : sqrt(sigma_bl^2 / sigma^2), the twin's std mapped onto the PWL band
    ratio : ``band_factor * twin_std_v / spice_std_v``
    read_correlation : correlation of successive spice reads (``read_period_s`` apart)
    spice_reads, twin_reads : K of each
    netlist : the first spice run's netlist text
    """

    twin_std_v: np.ndarray
    spice_std_v: np.ndarray
    band_factor: np.ndarray
    ratio: np.ndarray
    read_correlation: np.ndarray
    spice_reads: int
    twin_reads: int
    netlist: str

    @property
    def worst_ratio(self) -> float:
        """The ratio farthest from 1 (what the run file records per spot check)."""
        return float(self.ratio[np.argmax(np.abs(np.log(self.ratio)))])


def band_factors(characterization, step_s: float) -> tuple[float, float]:
    """``(k_dark, k_Z)`` of the module docstring: the fraction of the dark output noise
    power, and of the power of noise entering as photocurrent, that a PWL drive of step
    ``step_s`` (s) passes (trapezoid rule over the characterization's frequencies)."""
    c = characterization
    f = np.asarray(c.noise_frequency_hz, dtype=float)
    s = np.asarray(c.output_noise_density_v_per_rthz, dtype=float) ** 2
    k_dark = float(np.trapezoid(s * np.sinc(f * step_s) ** 4, f) / np.trapezoid(s, f))
    fz = np.asarray(c.ac_frequency_hz, dtype=float)
    z2 = np.abs(np.asarray(c.ac_transimpedance_ohm)) ** 2
    k_z = float(np.trapezoid(z2 * np.sinc(fz * step_s) ** 4, fz) / np.trapezoid(z2, fz))
    return k_dark, k_z


def _check_args(p_channel_w, drop, through, reads, reads_per_run):
    p = np.asarray(p_channel_w, dtype=float)
    d = np.asarray(drop, dtype=float)
    t = np.asarray(through, dtype=float)
    if p.ndim != 1 or d.ndim != 2 or d.shape != t.shape or d.shape[1] != p.size:
        raise ConfigError(f"noise spot check: channel powers {p.shape}, transfers {d.shape} "
                          f"/ {t.shape}; need (N,) and (M, N)")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ConfigError("noise spot check: channel powers must be finite and >= 0 W")
    for name, v in (("reads", reads), ("reads_per_run", reads_per_run)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ConfigError(f"noise spot check: {name}={v!r}: give an integer >= 2")
    return p, d, t


def noise_spot_check(tiles, p_channel_w, drop, through, *, rng: np.random.Generator,  # noqa: C901 - one pass over twin and spice
                     reads: int = 10000, twin_reads: int | None = None,
                     reads_per_run: int = 1000, step_s: float = NOISE_STEP_S,
                     read_period_s: float | None = None, warmup_s: float = 10e-9,
                     numerics: dict | None = None, engine=None) -> NoiseCheck:
    """Read one held input ``reads`` times by the twin and by ngspice (module docstring).

    Parameters
    ----------
    tiles : cosim.hw.photonic.PhotonicTiles
        Gives the readout characterization and spec, the RIN (dB/Hz) and the twin.
    p_channel_w : (N,) optical power of each input channel at the bank (W), before RIN
    drop, through : (M, N) power transfers of the M checked outputs' rings
    rng : numpy Generator (RIN and readout-noise draws of both)
    reads, twin_reads : K spice reads; twin reads (default ``20 * reads``)
    reads_per_run : spice reads per transient
    step_s : PWL noise step dt (s)
    read_period_s : time between spice reads (default ``step_s``)
    warmup_s : transient time before the first read (s)
    engine : cosim.spice.SpiceEngine (default: the tile's, else the default engine)

    Returns
    -------
    NoiseCheck
    """
    from cosim.netlist import Tran
    from cosim.readout import build_readout_chain
    from cosim.spice import default_engine, make_job

    numerics = dict(NOISE_NUMERICS if numerics is None else numerics)
    p, d, t = _check_args(p_channel_w, drop, through, reads, reads_per_run)
    twin_reads = 20 * int(reads) if twin_reads is None else int(twin_reads)
    if twin_reads < 2:
        raise ConfigError(f"noise spot check: twin_reads={twin_reads!r}: give >= 2")
    char, spec = tiles.char, tiles.spec
    dt = float(step_s)
    period = dt if read_period_s is None else float(read_period_s)
    every = int(round(period / dt))
    lead = int(math.ceil(warmup_s / dt))
    if every < 1 or not math.isclose(every * dt, period, rel_tol=1e-9):
        raise ConfigError(f"noise spot check: read_period_s={period!r} is not a whole "
                          f"number of noise steps step_s={dt!r}")
    resp = tiles.resp
    # the tile's RIN sigma of one read (no averaging) and the RIN density it stands for
    rin_sigma = float(tiles.rin_sigma) / float(tiles.noise_scale)
    rin_lin = rin_sigma ** 2 / char.noise_bandwidth_hz           # 10**(RIN/10), 1/Hz
    slope = tiles._noise_slope
    m = d.shape[0]

    # --- twin: the tile's noise model, one read per row
    n_rin = rng.standard_normal((twin_reads, p.size))
    pk = conversion.with_rin(p * np.ones((twin_reads, 1)), n_rin, rin_sigma)
    pd, pt = pk @ d.T, pk @ t.T
    sigma_v = conversion.readout_sigma_v(
        conversion.total_photocurrent_a(pd, pt, resp, 2 * spec.dark_current_a),
        char.dark_total_current_a, slope, char.output_noise_v_rms ** 2, 1.0)
    v_twin = tiles.twin_quiet.read(pd, pt) + rng.standard_normal(pd.shape) * sigma_v
    twin_std = v_twin.std(axis=0, ddof=1)

    # expected band-limited / full variance of each output (module docstring)
    k_dark, k_z = band_factors(char, dt)
    pd0, pt0 = p @ d.T, p @ t.T
    s_full = conversion.readout_sigma_v(
        conversion.total_photocurrent_a(pd0, pt0, resp, 2 * spec.dark_current_a),
        char.dark_total_current_a, slope, char.output_noise_v_rms ** 2, 1.0) ** 2
    rin_v2 = (abs(char.gain_ohm) * resp * rin_sigma) ** 2 * ((p[None, :] * (d - t)) ** 2
                                                              ).sum(axis=1)
    dark2 = char.output_noise_v_rms ** 2
    band = np.sqrt((k_dark * dark2 + k_z * (s_full - dark2 + rin_v2))
                   / (s_full + rin_v2))

    # --- spice: transients with PWL noise of the same cards
    runs = -(-int(reads) // reads_per_run)
    jobs, picks = [], []
    text = ""
    for r in range(runs):
        k = min(reads_per_run, int(reads) - r * reads_per_run)
        steps = lead + k * every + 1
        times = np.arange(steps) * dt
        rin_n = rng.standard_normal((steps, p.size)) * math.sqrt(rin_lin / (2 * dt))
        pk = np.maximum(p * (1.0 + rin_n), 0.0)
        circ = build_readout_chain(spec, m, drive="pwl", pwl_times_s=times,
                                   pwl_plus_w=pk @ d.T, pwl_minus_w=pk @ t.T,
                                   noise="tran", noise_step_s=dt,
                                   noise_samples=rng.standard_normal((steps, m, 5)),
                                   title=f"noise spot check: {m} output(s) x {k} read(s)")
        circ.options.update(numerics)
        analysis = Tran(dt, times[-1], max_step_s=dt)
        if r == 0:
            circ.analyses.append(analysis)
            text = circ.render()
            circ.analyses.clear()
        jobs.append(make_job(circ, analysis))
        picks.append(times[lead + every * np.arange(1, k + 1)])
    if engine is None:
        engine = getattr(tiles.spice, "engine", None) or default_engine()
    results = engine.run_many(jobs)
    v_spice = []
    for res, at in zip(results, picks):
        tt = np.asarray(res.axis, dtype=float)
        v_spice.append(np.stack([np.interp(at, tt, np.asarray(res.v(f"out{j}"), float))
                                 for j in range(m)], axis=1))
    v = np.concatenate(v_spice)
    spice_std = v.std(axis=0, ddof=1)
    corr = np.array([np.corrcoef(np.concatenate([x[:-1, j] for x in v_spice]),
                                 np.concatenate([x[1:, j] for x in v_spice]))[0, 1]
                     for j in range(m)])
    return NoiseCheck(twin_std_v=twin_std, spice_std_v=spice_std, band_factor=band,
                      ratio=band * twin_std / spice_std, read_correlation=corr,
                      spice_reads=int(reads), twin_reads=twin_reads, netlist=text)


def tile_noise_check(tiles, state, u: np.ndarray) -> float:
    """The noise spot check of a forward product (``PhotonicTiles.circuits`` calls it
    when ``tiles.noise_check_reads`` > 0 and noise is on): the first
    :data:`NOISE_CHECK_OUTPUTS` outputs of tile (0, 0), the first row of ``u`` (b, k;
    DAC levels in [-1, 1]) with light in its positive part (else its negative part),
    ``tiles.noise_check_reads`` spice reads, draws from ``default_rng([0x5EED,
    tiles.noise_checks])`` (reproducible in a run).  Returns :attr:`NoiseCheck.
    worst_ratio`, or NaN when the tile's first rows carry no light."""
    state = getattr(state, "transfers", state)     # (a state at a fraction of full scale)
    drop, through = state.tiles() if hasattr(state, "tiles") else state
    d, t = drop[0, 0], through[0, 0]                  # (Me, Ne)
    m = min(NOISE_CHECK_OUTPUTS, d.shape[0])
    ne = d.shape[1]
    u = np.asarray(u, dtype=float)[:, :ne]
    for part in (np.maximum(u, 0.0), np.maximum(-u, 0.0)):
        lit = np.nonzero(part.any(axis=1))[0]
        if lit.size:
            p = part[lit[0]] * tiles.p_bank_w
            break
    else:
        return float("nan")
    rng = np.random.default_rng([0x5EED, int(tiles.noise_checks)])
    tiles.noise_checks += 1
    check = noise_spot_check(tiles, np.pad(p, (0, ne - p.size)), d[:m], t[:m], rng=rng,
                             reads=int(tiles.noise_check_reads))
    return check.worst_ratio


__all__ = ["NOISE_CHECK_OUTPUTS", "NOISE_STEP_S", "NoiseCheck", "band_factors",
           "noise_spot_check", "tile_noise_check"]
