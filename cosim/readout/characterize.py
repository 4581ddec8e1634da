"""Characterization of a readout chain by real ngspice runs, through the result cache.

:func:`characterize` runs seven analyses of one channel of
:func:`~cosim.readout.chain.build_readout_chain` (each through
:func:`cosim.store.cached_run`, so a repeated characterization of the same netlist runs
no ngspice) and returns a :class:`ReadoutCharacterization`:

* DC transfer: net photocurrent swept over +-1.25 x the ADC full-scale current in steps
  of one ADC LSB of output (``2 I_fs / 2**bits``), total optical power held constant;
  transimpedance gain = least-squares slope over +-I_fs/2; offset = output at 0 A.
* AC response (1 kHz .. 1 THz, 50 points/decade) and its -3 dB frequency.
* Step response to a full-scale step (-I_fs -> +I_fs, edge :data:`STEP_EDGE_S`) and the
  settling time to half an LSB of the final value.
* ``.noise`` dark and bright (each detector at I_fs): integrated output noise, its
  input-referred current (A rms, and A/sqrt(Hz) averaged over the noise bandwidth
  ``ENBW = int |Z|^2 df / |Z(0)|^2`` of the measured AC response), and the growth of the
  output noise power with total photocurrent (shot noise), used by the twin.  The
  integrated output noise is ngspice's ``onoise_total``; when it is not finite (ngspice
  39 returns NaN for some slower designs, e.g. a 2 GHz-GBW op-amp replaced by 200 MHz
  with Cf for 30-75 MHz, while the spectrum is finite) it is
  ``sqrt(trapezoid(onoise_spectrum**2, f))`` over the analysis points (see
  :func:`integrated_noise_v_rms`; where ngspice's total is finite the two agree to
  2e-4 at 50 points/decade).  The input-referred figures are derived from the output
  noise and the measured gain, so ``inoise_total`` is not used.
* Operating points dark and at full scale: power drawn from the TIA supplies and the
  photodiode bias sources.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np

from cosim.netlist import Ac, Dc, Noise, Op, Tran
from cosim.readout.chain import ReadoutSpec, build_readout_chain, closed_form_bandwidth_hz

#: Edge time of the step response and of every symbol transition of the spice engine (s).
STEP_EDGE_S = 1e-12
#: Frequency range and density of the AC and noise analyses.
AC_START_HZ, AC_STOP_HZ, AC_POINTS_PER_DECADE = 1e3, 1e12, 50
#: DC sweep span in units of the full-scale current.
DC_SPAN_FULL_SCALES = 1.25


def _ro(a) -> np.ndarray:
    arr = np.array(a, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class ReadoutCharacterization:
    """Measured figures and curves of one readout channel (SI units).

    Arrays are read-only.  ``dc_current_a``/``dc_output_v``: the DC transfer (net
    photocurrent in A -> output V); ``ac_frequency_hz``/``ac_transimpedance_ohm``
    (complex V/A); ``step_time_s`` (from the start of the step edge) /
    ``step_output_v``; ``noise_frequency_hz``/``output_noise_density_v_per_rthz`` (dark).
    """

    spec: ReadoutSpec
    lsb_v: float
    full_scale_current_a: float
    gain_ohm: float
    offset_v: float
    bandwidth_hz: float
    closed_form_bandwidth_hz: float
    settling_time_s: float
    step_low_a: float
    step_high_a: float
    output_noise_v_rms: float
    output_noise_bright_v_rms: float
    dark_total_current_a: float
    bright_total_current_a: float
    input_noise_a_rms: float
    input_noise_density_a_per_rthz: float
    input_noise_density_lf_a_per_rthz: float
    noise_bandwidth_hz: float
    supply_power_w: float
    supply_power_full_scale_w: float
    bias_power_full_scale_w: float
    ngspice_runs: int
    dc_current_a: np.ndarray = field(repr=False)
    dc_output_v: np.ndarray = field(repr=False)
    ac_frequency_hz: np.ndarray = field(repr=False)
    ac_transimpedance_ohm: np.ndarray = field(repr=False)
    step_time_s: np.ndarray = field(repr=False)
    step_output_v: np.ndarray = field(repr=False)
    noise_frequency_hz: np.ndarray = field(repr=False)
    output_noise_density_v_per_rthz: np.ndarray = field(repr=False)

    def output_noise_v_rms_at(self, total_current_a: np.ndarray | float) -> np.ndarray:
        """Output noise (V rms) at a total detected photocurrent (A, both detectors).

        Noise power is affine in the total current (shot noise 2qI adds to the thermal
        and amplifier noise): interpolated between the dark and bright measurements
        (:func:`cosim.hw.conversion.readout_sigma_v`, the formula of the tiles).
        """
        from cosim.hw.conversion import noise_slope, readout_sigma_v

        i = np.asarray(total_current_a, dtype=float)
        slope = noise_slope(self.output_noise_v_rms, self.output_noise_bright_v_rms,
                            self.dark_total_current_a, self.bright_total_current_a)
        return readout_sigma_v(i, self.dark_total_current_a, slope,
                               self.output_noise_v_rms ** 2, 1.0)

    def step_fraction(self, time_s: np.ndarray | float) -> np.ndarray:
        """Normalised step response s(t) (0 before the step, 1 when settled)."""
        s = (self.step_output_v - self.step_output_v[0]) / \
            (self.step_output_v[-1] - self.step_output_v[0])
        return np.interp(np.asarray(time_s, dtype=float), self.step_time_s, s,
                         left=0.0, right=1.0)

    @property
    def effective_bits(self) -> float:
        """Resolution allowed by the dark output noise over the ADC range (bits):
        ``log2(full scale / (sqrt(12) * sigma))``, the number of bits whose quantization
        noise equals the measured noise."""
        return math.log2(self.spec.adc_full_scale_v / (math.sqrt(12) * self.output_noise_v_rms))

    def figures(self) -> dict[str, float]:
        """Scalar figures by name (for printing and JSON)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f.name] = float(v) if not isinstance(v, int) else v
        out["adc_bits"] = self.spec.adc_bits
        out["effective_bits"] = self.effective_bits
        out["ideal_opamp"] = self.spec.ideal_opamp
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}


def _crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First x where y falls through ``level`` (log-x interpolation); nan if never."""
    below = np.nonzero(y < level)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    i = below[0]
    lx0, lx1 = math.log(x[i - 1]), math.log(x[i])
    t = (y[i - 1] - level) / (y[i - 1] - y[i])
    return math.exp(lx0 + t * (lx1 - lx0))


def _supply_power(res, spec: ReadoutSpec) -> tuple[float, float]:
    """(TIA supply power, photodiode bias power) in W from an operating point."""
    p_supply = -(spec.supply_positive_v * float(res.i("Vdd"))
                 + spec.supply_negative_v * float(res.i("Vss")))
    p_bias = -(spec.bias_v * float(res.i("Vbp")) - spec.bias_v * float(res.i("Vbn")))
    return p_supply, p_bias


def integrated_noise_v_rms(result) -> float:
    """Integrated output noise (V rms) of a ``.noise`` result.

    ngspice's ``onoise_total`` when finite; otherwise the trapezoid rule over the
    analysis frequencies of the output noise density ``e_n(f)`` (V/sqrt(Hz),
    ``onoise_spectrum``)::

        v_rms = sqrt( sum_k (f[k+1] - f[k]) (e_n[k]**2 + e_n[k+1]**2) / 2 )

    Raises :class:`cosim.errors.NetlistError` if the spectrum is not finite either.
    """
    total = float(np.real(np.asarray(result["onoise_total"])).ravel()[0])
    if math.isfinite(total):
        return total
    f = np.real(np.asarray(result.axis, dtype=complex))
    dens = np.real(np.asarray(result["onoise_spectrum"], dtype=complex))
    if not (np.all(np.isfinite(dens)) and np.all(np.isfinite(f)) and f.size >= 2):
        from cosim.errors import NetlistError
        raise NetlistError("the .noise analysis gave a non-finite onoise_total and a "
                           "non-finite onoise_spectrum: check the circuit's operating "
                           "point (no finite output noise to integrate)")
    return float(np.sqrt(np.trapezoid(dens ** 2, f)))


def characterize(spec: ReadoutSpec | None = None, *, cache=None, engine=None,
                 bits: int | None = None) -> ReadoutCharacterization:
    """Measure one readout channel with ngspice (see the module docstring).

    Parameters
    ----------
    spec
        The chain (default ``ReadoutSpec.from_cards()``).
    cache
        A :class:`cosim.store.ResultCache` (default: the default cache).
    engine
        A :class:`cosim.spice.SpiceEngine` (default: the default engine).
    bits
        ADC resolution for the DC sweep step and the settling criterion (default:
        ``spec.adc_bits``).
    """
    from cosim.spice import default_engine
    from cosim.store import cached_run

    spec = ReadoutSpec.from_cards() if spec is None else spec
    if bits is not None:
        spec = spec.with_values(adc_bits=int(bits))
    engine = default_engine() if engine is None else engine
    runs_before = engine.runs
    r = spec.responsivity_a_per_w
    i_fs = spec.full_scale_current_a
    lsb_v = spec.lsb_v
    f_cf = closed_form_bandwidth_hz(spec)
    tau = 1 / (2 * math.pi * f_cf)

    # DC sweep at ADC resolution; total optical power constant and both powers >= 0.
    span = DC_SPAN_FULL_SCALES * i_fs
    n_steps = int(round(2 * span / (2 * i_fs / 2 ** spec.adc_bits)))
    step_a = 2 * span / n_steps
    dc_circ = build_readout_chain(spec, drive="signal", signal_a=0.0,
                                  common_mode_w=span / (2 * r), ac_channel=None)
    dc_an = Dc("Vsig0", -span, span + 0.5 * step_a, step_a)
    ac_circ = build_readout_chain(spec, drive="signal")
    points = AC_POINTS_PER_DECADE
    ac_an = Ac(AC_START_HZ, AC_STOP_HZ, points, "dec")
    noise_an = Noise("out0", "Vsig0", AC_START_HZ, AC_STOP_HZ, points, "dec")
    dark_noise = build_readout_chain(spec, drive="signal", noise="ac")
    bright_cm = i_fs / r
    bright_noise = build_readout_chain(spec, drive="signal", common_mode_w=bright_cm,
                                       noise="ac")
    # Full-scale step: net current -I_fs -> +I_fs at t0, edge STEP_EDGE_S.
    t0 = 2 * tau
    t_stop = t0 + 100 * tau
    times = np.array([0.0, t0, t0 + STEP_EDGE_S, t_stop])
    p_fs = i_fs / r
    plus = np.array([[0.0], [0.0], [p_fs], [p_fs]])
    minus = np.array([[p_fs], [p_fs], [0.0], [0.0]])
    step_circ = build_readout_chain(spec, drive="pwl", pwl_times_s=times, pwl_plus_w=plus,
                                    pwl_minus_w=minus)
    step_an = Tran(tau / 50, t_stop, max_step_s=tau / 50)
    op_dark = build_readout_chain(spec, drive="signal")
    op_fs = build_readout_chain(spec, drive="signal", signal_a=i_fs,
                                common_mode_w=i_fs / (2 * r))
    jobs = [(dc_circ, dc_an), (ac_circ, ac_an), (dark_noise, noise_an),
            (bright_noise, noise_an), (step_circ, step_an), (op_dark, Op()), (op_fs, Op())]
    with ThreadPoolExecutor(max_workers=max(1, getattr(engine, "size", 1))) as pool:
        futures = [pool.submit(cached_run, c, a, cache, engine) for c, a in jobs]
        dc, ac, nd, nb, st, od, of = [f.result() for f in futures]

    # DC transfer and gain.
    x = np.asarray(dc.axis, dtype=float)
    y = np.asarray(dc.v("out0"), dtype=float)
    core = np.abs(x) <= 0.5 * i_fs + 0.5 * step_a
    gain, offset_fit = np.polyfit(x[core], y[core], 1)
    offset = float(np.interp(0.0, x, y))
    # AC.
    f = np.real(np.asarray(ac.axis))
    z = np.asarray(ac.v("out0"))
    mag = np.abs(z)
    bw = _crossing(f, mag, mag[0] / math.sqrt(2))
    enbw = float(np.trapezoid(mag ** 2, f) / mag[0] ** 2)
    # Step and settling.
    ts = np.asarray(st.axis, dtype=float)
    vs = np.asarray(st.v("out0"), dtype=float)
    keep = ts >= t0
    step_t = np.concatenate([[0.0], ts[keep] - t0])
    step_v = np.concatenate([[float(np.interp(t0, ts, vs))], vs[keep]])
    final = step_v[-1]
    outside = np.nonzero(np.abs(step_v - final) > lsb_v / 2)[0]
    if outside.size == 0:
        settling = 0.0
    elif outside[-1] >= step_v.size - 2:
        settling = float("inf")   # never settled within the simulated time
    else:
        settling = float(step_t[outside[-1] + 1])
    # Noise.
    sd = integrated_noise_v_rms(nd)
    sb = integrated_noise_v_rms(nb)
    fn = np.real(np.asarray(nd.axis))
    dens = np.real(np.asarray(nd["onoise_spectrum"]))
    dark_total = 2 * spec.dark_current_a
    bright_total = 2 * (spec.dark_current_a + r * bright_cm)
    in_rms = sd / abs(gain)
    lf_density = float(dens[0] / np.interp(fn[0], f, mag))
    # Power.
    p_dark, _ = _supply_power(od, spec)
    p_fs_supply, p_fs_bias = _supply_power(of, spec)

    return ReadoutCharacterization(
        spec=spec, lsb_v=lsb_v, full_scale_current_a=i_fs, gain_ohm=float(gain),
        offset_v=offset, bandwidth_hz=float(bw), closed_form_bandwidth_hz=f_cf,
        settling_time_s=settling, step_low_a=-i_fs, step_high_a=i_fs,
        output_noise_v_rms=sd, output_noise_bright_v_rms=sb,
        dark_total_current_a=dark_total, bright_total_current_a=bright_total,
        input_noise_a_rms=in_rms, input_noise_density_a_per_rthz=in_rms / math.sqrt(enbw),
        input_noise_density_lf_a_per_rthz=lf_density, noise_bandwidth_hz=enbw,
        supply_power_w=p_dark, supply_power_full_scale_w=p_fs_supply,
        bias_power_full_scale_w=p_fs_bias, ngspice_runs=engine.runs - runs_before,
        dc_current_a=_ro(x), dc_output_v=_ro(y), ac_frequency_hz=_ro(f),
        ac_transimpedance_ohm=_ro(z), step_time_s=_ro(step_t), step_output_v=_ro(step_v),
        noise_frequency_hz=_ro(fn), output_noise_density_v_per_rthz=_ro(dens),
    )


__all__ = [
    "AC_POINTS_PER_DECADE",
    "AC_START_HZ",
    "AC_STOP_HZ",
    "DC_SPAN_FULL_SCALES",
    "STEP_EDGE_S",
    "ReadoutCharacterization",
    "characterize",
    "integrated_noise_v_rms",
]
