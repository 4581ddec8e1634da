"""Link budget and achievable resolution of the optical path, as traceable quantities.

Noise terms of one balanced readout channel in a noise bandwidth ``B`` (REFERENCES 3.1,
standard expressions; Al-Qadasi et al., APL Photonics 2022, Eq. 8 as coded in public
scripts):

    sigma_shot^2    = 2 q (I + 2 I_d) B          (signal + both dark currents)
    sigma_thermal^2 = 4 k T B / R_f              (feedback resistor)
    sigma_TIA^2     = (i_n^2 - 4 k T / R_f) B    (i_n: input-referred density measured by
                                                 ngspice, which includes R_f)
    sigma_RIN^2     = I^2 RIN B
    SNR  = I^2 / (sum of the above)
    ENOB = (10 log10 SNR - 1.76) / 6.02

``I`` is the full-scale signal photocurrent ``R g N P_bank`` (all N channels at full
modulation, |w| = 1, ``g`` the bank's weight scale, ``P_bank`` the power per channel at
the bank input) and ``B = f_sym / sqrt(2)`` as in the Al-Qadasi scripts, which with
RIN = -140 dB/Hz gives their RIN ceilings 9.9 / 8.3 / 6.6 bits at 0.1 / 1 / 10 GS/s.

The required laser power per channel for ``b`` bits solves ``SNR(I) = 10**((6.02 b +
1.76)/10)``, a quadratic in ``I``:
``I^2 (1 - S RIN B) - 2 q S B I - S (4 q I_d B + sigma_el^2) = 0``; no solution (RIN
ceiling) gives ``inf``.  Then ``P_laser = I / (R g N) * 10**(L/10)`` with ``L`` the
total loss of the optical model's link budget.
"""

from __future__ import annotations

from cosim.energy.quantity import Quantity, derive, leaf

Q_E = 1.602176634e-19
K_B = 1.380649e-23

_Q = leaf(Q_E, "C", "elementary charge (SI 2019, exact)")
_KB = leaf(K_B, "J/K", "Boltzmann constant (SI 2019, exact)")
_AQ = ("Al-Qadasi et al., APL Photonics 2022, Eq. 8 as coded in public scripts; "
       "REFERENCES 3.1")


def noise_bandwidth(symbol_rate: Quantity) -> Quantity:
    """``B = f_sym / sqrt(2)`` (Hz), the bandwidth of the Al-Qadasi resolution model."""
    q = derive("f_sym / sqrt(2)", "Hz", f_sym=symbol_rate)
    return Quantity(q.value, q.unit, q.formula, q.inputs, _AQ)


def noise_terms(*, signal_current: Quantity, dark_current: Quantity,
                input_noise_density: Quantity, feedback_resistance: Quantity,
                temperature: Quantity, rin_db_per_hz: Quantity,
                bandwidth: Quantity) -> dict[str, Quantity]:
    """Noise variances (A^2) of the four terms, named shot/thermal/tia/rin."""
    thermal = derive("4 * k * T * B / r_f", "A^2", k=_KB, T=temperature, B=bandwidth,
                     r_f=feedback_resistance)
    return {
        "shot": derive("2 * q * (i_sig + 2 * i_d) * B", "A^2", q=_Q, i_sig=signal_current,
                       i_d=dark_current, B=bandwidth),
        "thermal": thermal,
        "tia": derive("max(i_n**2 - 4 * k * T / r_f, 0) * B", "A^2", i_n=input_noise_density,
                      k=_KB, T=temperature, r_f=feedback_resistance, B=bandwidth),
        "rin": derive("i_sig**2 * 10**(rin / 10) * B", "A^2", i_sig=signal_current,
                      rin=rin_db_per_hz, B=bandwidth),
    }


def enob(signal_current: Quantity, terms: dict[str, Quantity]) -> tuple[Quantity, Quantity]:
    """(SNR in dB, ENOB in bits) from the signal current and noise variances."""
    snr = derive("10 * log10(i_sig**2 / (shot + thermal + tia + rin))", "dB",
                 i_sig=signal_current, **terms)
    bits = derive("(snr_db - 1.76) / 6.02", "bit", snr_db=snr)
    return snr, bits


def required_signal_current(*, bits: Quantity, dark_current: Quantity,
                            input_noise_density: Quantity, rin_db_per_hz: Quantity,
                            bandwidth: Quantity) -> Quantity:
    """Full-scale photocurrent (A) whose SNR supports ``bits`` (inf above the RIN ceiling).

    Electrical noise ``sigma_el^2 = i_n^2 B`` (thermal + TIA, as measured) plus the dark
    shot noise; the root of the quadratic in the module docstring.
    """
    snr = derive("10**((6.02 * b + 1.76) / 10)", "1", b=bits)
    a = derive("1 - s * 10**(rin / 10) * B", "1", s=snr, rin=rin_db_per_hz, B=bandwidth)
    c = derive("s * (4 * q * i_d * B + i_n**2 * B)", "A^2", s=snr, q=_Q, i_d=dark_current,
               i_n=input_noise_density, B=bandwidth)
    bq = derive("2 * q * s * B", "A", q=_Q, s=snr, B=bandwidth)
    return _quadratic_root(bq, a, c)


def _quadratic_root(b_lin: Quantity, a_quad: Quantity, c_quad: Quantity) -> Quantity:
    # a_quad <= 0: the RIN term alone exceeds the allowed noise -> no power suffices.
    if a_quad.value <= 0:
        return Quantity(float("inf"), "A", "inf if a_quad <= 0 (RIN ceiling)",
                        {"a_quad": a_quad}, None)
    return derive("(b_lin + sqrt(b_lin**2 + 4 * a_quad * c_quad)) / (2 * a_quad)", "A",
                  b_lin=b_lin, a_quad=a_quad, c_quad=c_quad)


def laser_power_for_current(current: Quantity, *, responsivity: Quantity,
                            weight_scale: Quantity, channels: Quantity,
                            total_loss_db: Quantity) -> Quantity:
    """Laser power per channel (W) giving full-scale photocurrent ``current``."""
    return derive("i_req / (r * g * n) * 10**(loss_db / 10)", "W", i_req=current,
                  r=responsivity, g=weight_scale, n=channels, loss_db=total_loss_db)


def signal_current_for_laser(laser_power: Quantity, *, responsivity: Quantity,
                             weight_scale: Quantity, channels: Quantity,
                             total_loss_db: Quantity) -> Quantity:
    """Full-scale photocurrent (A) of a laser power per channel (W)."""
    return derive("r * g * n * p_laser * 10**(-loss_db / 10)", "A", r=responsivity,
                  g=weight_scale, n=channels, p_laser=laser_power, loss_db=total_loss_db)
