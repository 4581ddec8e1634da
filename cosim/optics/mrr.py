"""Microring resonators (MRR): all-pass, add-drop and the MRR modulator.

The ring responses are *derived* from the transfer matrices of the bus-ring couplers and
the ring waveguide, by closing the ring's feedback loop (solving the linear equations of
the circulating fields); the closed-form transmissions of Bogaerts et al., "Silicon
microring resonators", Laser Photonics Rev. 6(1):47-73, 2012 (REFERENCES 2.1) are then a
*test* of this derivation, not its implementation:

    all-pass  |t|^2 = (a^2 - 2 r a cos phi + r^2) / (1 - 2 a r cos phi + (r a)^2)
    add-drop  |t|^2 = (r2^2 a^2 - 2 r1 r2 a cos phi + r1^2) / D,
              |d|^2 = (1 - r1^2)(1 - r2^2) a / D,  D = 1 - 2 r1 r2 a cos phi + (r1 r2 a)^2

with ``r`` the amplitude self-coupling of a coupler, ``a`` the single-pass amplitude
transmission of the ring and ``phi`` its round-trip phase.

Port diagram of the add-drop ring (fields ``[in, add] -> [through, drop]``)::

     drop <----====(  ring  )====<---- add        bus 2 (coupler 2, self-coupling r2)
      in  ---->====(        )====----> through    bus 1 (coupler 1, self-coupling r1)
"""

from __future__ import annotations

import numpy as np

from cosim.optics._validate import finite_array, in_range, non_negative, positive
from cosim.optics.components import (
    LOSS_DB_PER_M,
    NEFF,
    NG,
    WAVELENGTH0_M,
    _wavelength,
    db_to_field_ratio,
    directional_coupler,
    effective_index,
)
from cosim.optics.defaults import optics_value

RADIUS_M = optics_value("radius_m")
SELF_COUPLING = optics_value("self_coupling")
MODULATOR_SELF_COUPLING = optics_value("modulator_self_coupling")
MODULATOR_SHIFT_M_PER_V = optics_value("modulator_shift_m_per_v")


def ring_circumference(radius_m) -> np.ndarray:
    """Circumference ``L = 2 pi R`` of a circular ring, m."""
    return 2 * np.pi * positive("radius_m", radius_m, unit="m")


def round_trip_amplitude(*, radius_m: float = RADIUS_M,
                         loss_db_per_m: float = LOSS_DB_PER_M) -> np.ndarray:
    """Single-pass (round-trip) amplitude transmission ``a = 10**(-alpha_dB L / 20)``.

    Bogaerts 2012 Sec. 2: ``a^2 = exp(-alpha L)`` with alpha the power attenuation.
    """
    loss = non_negative("loss_db_per_m", loss_db_per_m, unit="dB/m")
    return db_to_field_ratio(loss * ring_circumference(radius_m))


def round_trip_phase(wavelength_m, *, radius_m: float = RADIUS_M, neff: float = NEFF,
                     ng: float = NG, wavelength0_m: float = WAVELENGTH0_M,
                     tuning_phase_rad: float = 0.0) -> np.ndarray:
    """Round-trip phase ``phi = 2 pi n_eff(lambda) L / lambda + phi_tuning``.

    ``n_eff(lambda)`` is the first-order dispersive index of
    :func:`cosim.optics.components.effective_index`, so the resonance spacing is the
    group-index FSR ``lambda^2 / (n_g L)`` of Bogaerts 2012 Eq. (5).

    Parameters
    ----------
    wavelength_m : array, m
    radius_m : m
    neff, ng : indices at ``wavelength0_m``
    wavelength0_m : m
    tuning_phase_rad : extra round-trip phase from a heater or junction, rad (broadcasts)

    Returns
    -------
    array, rad
    """
    lam = _wavelength(wavelength_m)
    tune = finite_array("tuning_phase_rad", tuning_phase_rad)
    n = effective_index(lam, neff=neff, ng=ng, wavelength0_m=wavelength0_m)
    return 2 * np.pi * n * ring_circumference(radius_m) / lam + tune


def add_drop_fields(c1: np.ndarray, c2: np.ndarray, half_trip: np.ndarray) -> np.ndarray:
    """Close the ring loop of an add-drop ring given its two coupler matrices.

    Coupler 1 maps ``[in, u] -> [through, x1]`` and coupler 2 maps ``[v, add] ->
    [x2, drop]``, where ``x1`` enters the ring at coupler 1 and reaches coupler 2 as
    ``v = h x1``, ``x2`` leaves coupler 2 and comes back as ``u = h x2``; ``h`` is the
    half-ring field transmission (``h^2 = a e^{j phi}``).  Eliminating ``u``:

        u (1 - h^2 C1_11 C2_00) = h^2 C2_00 C1_10 in + h C2_01 add

    Parameters
    ----------
    c1, c2 : complex arrays ``(..., 2, 2)``, coupler transfer matrices
    half_trip : complex array ``(...)``, ``h``

    Returns
    -------
    complex array ``(..., 2, 2)`` mapping ``[in, add] -> [through, drop]``
    """
    s00, s01, s10, s11 = add_drop_entries(c1, c2, half_trip)
    shape = np.broadcast_shapes(np.shape(s00), c1.shape[:-2], c2.shape[:-2])
    out = np.empty(shape + (2, 2), dtype=complex)
    out[..., 0, 0] = s00
    out[..., 0, 1] = s01
    out[..., 1, 0] = s10
    out[..., 1, 1] = s11
    return out


def add_drop_entries(c1: np.ndarray, c2: np.ndarray, half_trip: np.ndarray):
    """The four entries ``(S_through,in, S_through,add, S_drop,in, S_drop,add)`` of
    :func:`add_drop_fields`, without assembling the matrix (used on large ring arrays)."""
    h = half_trip
    h2 = h * h
    den = 1.0 - h2 * (c1[..., 1, 1] * c2[..., 0, 0])
    # circulating field u returning to coupler 1, per unit in / per unit add
    u_in = h2 * (c2[..., 0, 0] * c1[..., 1, 0]) / den
    u_add = h * c2[..., 0, 1] / den
    # field v arriving at coupler 2
    v_in = h * (c1[..., 1, 0] + c1[..., 1, 1] * u_in)
    v_add = h * c1[..., 1, 1] * u_add
    return (c1[..., 0, 0] + c1[..., 0, 1] * u_in, c1[..., 0, 1] * u_add,
            c2[..., 1, 0] * v_in, c2[..., 1, 0] * v_add + c2[..., 1, 1])


def _coupler_from_self_coupling(name, r) -> np.ndarray:
    """Lossless symmetric coupler with amplitude self-coupling ``r``, shape ``r.shape + (2, 2)``."""
    r = in_range(name, r, 0.0, 1.0, fix="r is the amplitude self-coupling (0.99 typical)")
    return directional_coupler(np.full(r.shape, WAVELENGTH0_M), power_coupling=1.0 - r * r)


def add_drop_from_phase(phase_rad, *, r1: float = SELF_COUPLING, r2: float = SELF_COUPLING,
                        a: float = 1.0) -> np.ndarray:
    """Add-drop ring transfer matrix for given round-trip phase (see :func:`add_drop_fields`).

    Parameters
    ----------
    phase_rad : array, round-trip phase, rad
    r1, r2 : amplitude self-coupling of the input and drop couplers, in [0, 1]
    a : round-trip amplitude transmission, in [0, 1]

    Returns
    -------
    complex array ``(..., 2, 2)``, ``[in, add] -> [through, drop]``
    """
    phi = finite_array("phase_rad", phase_rad)
    a = in_range("a", a, 0.0, 1.0)
    shape = np.broadcast_shapes(phi.shape, np.shape(r1), np.shape(r2), a.shape)
    c1 = _coupler_from_self_coupling("r1", r1)
    c2 = _coupler_from_self_coupling("r2", r2)
    h = np.broadcast_to(np.sqrt(a) * np.exp(0.5j * phi), shape)
    return add_drop_fields(c1, c2, h)


def all_pass_from_phase(phase_rad, *, r: float = SELF_COUPLING, a: float = 1.0) -> np.ndarray:
    """All-pass ring transfer matrix for a given round-trip phase, shape ``(..., 1, 1)``.

    Coupler ``[in, u] -> [out, x]``, ring ``u = a e^{j phi} x``; closing the loop gives
    ``t = C_00 + C_01 C_10 a e^{j phi} / (1 - C_11 a e^{j phi})``, which for a lossless
    symmetric coupler is ``(r - a e^{j phi}) / (1 - r a e^{j phi})`` (Bogaerts Eq. 2).
    """
    phi = finite_array("phase_rad", phase_rad)
    a = in_range("a", a, 0.0, 1.0)
    c = _coupler_from_self_coupling("r", r)
    g = a * np.exp(1j * phi)
    t = c[..., 0, 0] + c[..., 0, 1] * c[..., 1, 0] * g / (1.0 - c[..., 1, 1] * g)
    return t[..., None, None]


def mrr_all_pass(wavelength_m, *, radius_m: float = RADIUS_M, r: float = SELF_COUPLING,
                 loss_db_per_m: float = LOSS_DB_PER_M, neff: float = NEFF, ng: float = NG,
                 wavelength0_m: float = WAVELENGTH0_M,
                 tuning_phase_rad: float = 0.0) -> np.ndarray:
    """All-pass microring as a function of wavelength, shape ``(..., 1, 1)``.

    Parameters
    ----------
    wavelength_m : array, m
    radius_m : ring radius, m
    r : amplitude self-coupling of the bus coupler
    loss_db_per_m : ring waveguide loss, dB/m
    neff, ng : effective and group index at ``wavelength0_m``
    wavelength0_m : m
    tuning_phase_rad : extra round-trip phase, rad
    """
    phi = round_trip_phase(wavelength_m, radius_m=radius_m, neff=neff, ng=ng,
                           wavelength0_m=wavelength0_m, tuning_phase_rad=tuning_phase_rad)
    a = round_trip_amplitude(radius_m=radius_m, loss_db_per_m=loss_db_per_m)
    return all_pass_from_phase(phi, r=r, a=a)


def mrr_add_drop(wavelength_m, *, radius_m: float = RADIUS_M, r1: float = SELF_COUPLING,
                 r2: float = SELF_COUPLING, loss_db_per_m: float = LOSS_DB_PER_M,
                 neff: float = NEFF, ng: float = NG, wavelength0_m: float = WAVELENGTH0_M,
                 tuning_phase_rad: float = 0.0) -> np.ndarray:
    """Add-drop microring as a function of wavelength, shape ``(..., 2, 2)``.

    Ports ``[in, add] -> [through, drop]`` (see the module diagram).

    Parameters
    ----------
    wavelength_m : array, m
    radius_m : ring radius, m
    r1, r2 : amplitude self-coupling of the input-bus and drop-bus couplers
    loss_db_per_m : ring waveguide loss, dB/m
    neff, ng : indices at ``wavelength0_m``
    wavelength0_m : m
    tuning_phase_rad : extra round-trip phase, rad
    """
    phi = round_trip_phase(wavelength_m, radius_m=radius_m, neff=neff, ng=ng,
                           wavelength0_m=wavelength0_m, tuning_phase_rad=tuning_phase_rad)
    a = round_trip_amplitude(radius_m=radius_m, loss_db_per_m=loss_db_per_m)
    return add_drop_from_phase(phi, r1=r1, r2=r2, a=a)


def mrr_modulator(wavelength_m, *, voltage_v: float = 0.0,
                  resonance_wavelength_m: float = WAVELENGTH0_M,
                  shift_m_per_v: float = MODULATOR_SHIFT_M_PER_V,
                  radius_m: float = RADIUS_M, r: float = MODULATOR_SELF_COUPLING,
                  loss_db_per_m: float = LOSS_DB_PER_M, ng: float = NG) -> np.ndarray:
    """All-pass MRR modulator: a drive voltage shifts the resonance linearly.

    The resonance sits at ``resonance_wavelength_m + shift_m_per_v * V``; near it the
    round-trip phase is ``phi = 2 pi n_g L (1/lambda - 1/lambda_res)`` (first order in
    optical frequency, group index ``n_g``), which is 0 at resonance and advances by 2 pi
    per FSR ``lambda^2/(n_g L)``.  Default shift 250 pm/V: Timurdogan et al., Nat. Commun.
    5:4008 (2014).

    Parameters
    ----------
    wavelength_m : array, m
    voltage_v : array, V (broadcasts)
    resonance_wavelength_m : resonance at 0 V, m
    shift_m_per_v : m/V
    radius_m, r, loss_db_per_m, ng : ring parameters as in :func:`mrr_all_pass`

    Returns
    -------
    complex array ``(..., 1, 1)``
    """
    lam = _wavelength(wavelength_m)
    v = finite_array("voltage_v", voltage_v)
    shift = finite_array("shift_m_per_v", shift_m_per_v)
    lam_res = _wavelength(resonance_wavelength_m) + shift * v
    phi = 2 * np.pi * ng * ring_circumference(radius_m) * (1.0 / lam - 1.0 / lam_res)
    a = round_trip_amplitude(radius_m=radius_m, loss_db_per_m=loss_db_per_m)
    return all_pass_from_phase(phi, r=r, a=a)


# --- closed forms and figures of merit (Bogaerts 2012), for checks and for design ----------

def free_spectral_range(wavelength_m, *, radius_m: float = RADIUS_M, ng: float = NG):
    """``FSR = lambda^2 / (n_g L)``, m (Bogaerts 2012 Eq. 5)."""
    lam = _wavelength(wavelength_m)
    return lam ** 2 / (ng * ring_circumference(radius_m))


def fwhm(wavelength_m, *, radius_m: float = RADIUS_M, ng: float = NG, r: float = SELF_COUPLING,
         a: float = 1.0):
    """``FWHM = (1 - r a) lambda^2 / (pi n_g L sqrt(r a))``, m (Bogaerts 2012 Eq. 6).

    For an add-drop ring pass ``r = r1 * r2``.
    """
    lam = _wavelength(wavelength_m)
    ra = np.asarray(r) * np.asarray(a)
    return (1 - ra) * lam ** 2 / (np.pi * ng * ring_circumference(radius_m) * np.sqrt(ra))


def loaded_q(wavelength_m, **kwargs):
    """``Q = lambda_res / FWHM`` (Bogaerts 2012 Eq. 7); keyword arguments as :func:`fwhm`."""
    return np.asarray(wavelength_m) / fwhm(wavelength_m, **kwargs)


def all_pass_extinction_ratio(*, r: float = SELF_COUPLING, a: float = 1.0):
    """Max/min power transmission of an all-pass ring over one FSR (linear ratio).

    ``T_max = (a + r)^2 / (1 + r a)^2`` at ``phi = pi``, ``T_min = (a - r)^2 / (1 - r a)^2``
    at resonance (Bogaerts 2012 Eq. 3-4).
    """
    return ((a + r) ** 2 / (1 + r * a) ** 2) / ((a - r) ** 2 / (1 - r * a) ** 2)


def all_pass_power_closed_form(phase_rad, *, r, a):
    """Bogaerts 2012 Eq. 2, all-pass power transmission.

    ``(a^2 - 2 r a cos phi + r^2) / (1 - 2 a r cos phi + (r a)^2)``, evaluated in the
    algebraically identical form ``((a - r)^2 + 4 r a sin^2(phi/2)) / ((1 - r a)^2 +
    4 r a sin^2(phi/2))`` (``cos phi = 1 - 2 sin^2(phi/2)``), which avoids the
    cancellation of the textbook form near resonance (about 1e-12 for r a -> 1).
    """
    s2 = 4 * r * a * np.sin(np.asarray(phase_rad) / 2) ** 2
    return ((a - r) ** 2 + s2) / ((1 - r * a) ** 2 + s2)


def add_drop_power_closed_form(phase_rad, *, r1, r2, a):
    """Bogaerts 2012 Eq. 8-9: ``(through, drop)`` power transmission of an add-drop ring.

    Written with ``cos phi = 1 - 2 sin^2(phi/2)`` as in :func:`all_pass_power_closed_form`:
    through ``((r2 a - r1)^2 + S) / D``, drop ``(1 - r1^2)(1 - r2^2) a / D`` with
    ``S = 4 r1 r2 a sin^2(phi/2)`` and ``D = (1 - r1 r2 a)^2 + S``.
    """
    s2 = 4 * r1 * r2 * a * np.sin(np.asarray(phase_rad) / 2) ** 2
    den = (1 - r1 * r2 * a) ** 2 + s2
    through = ((r2 * a - r1) ** 2 + s2) / den
    drop = (1 - r1 * r1) * (1 - r2 * r2) * a / den
    return through, drop
