"""Crosstalk: thermal (heater power -> neighbouring ring phases) and inter-channel (a ring's
resonance tails on neighbouring wavelengths).

Thermal crosstalk has no published per-neighbour coefficient in the references used by
this project (REFERENCES 2.3: "No single '% per neighbour' figure was found"); the
default matrix is therefore an *assumption*: a fraction ``f`` of the heater's own
efficiency reaches the nearest neighbour, ``f**2`` the next one, and so on.

Inter-channel crosstalk uses the exact add-drop response (not its Lorentzian
approximation): ring ``i`` is tuned so that it resonates at channel ``i``; at channel
``j`` its round-trip phase is ``phi_i(lambda_j) = phi(lambda_j) - phi(lambda_i)``
(mod 2 pi, with the dispersive phase of :func:`cosim.optics.mrr.round_trip_phase`), so
aliasing onto the next resonance one FSR away is included.
"""

from __future__ import annotations

import numpy as np

from cosim.errors import ConfigError
from cosim.optics._validate import finite_array, in_range, non_negative, positive, positive_int
from cosim.optics.components import HEATER_EFFICIENCY_RAD_PER_W, NEFF, NG, WAVELENGTH0_M
from cosim.optics.defaults import optics_value
from cosim.optics.mrr import RADIUS_M, SELF_COUPLING, add_drop_from_phase, round_trip_phase

THERMAL_NEIGHBOUR_FRACTION = optics_value("thermal_neighbour_fraction")


def thermal_crosstalk_matrix(n_rings: int, *,
                             efficiency_rad_per_w: float = HEATER_EFFICIENCY_RAD_PER_W,
                             neighbour_fraction: float = THERMAL_NEIGHBOUR_FRACTION
                             ) -> np.ndarray:
    """Heater-power-to-phase coupling matrix of a row of rings.

    ``K[i, j] = eta * f**|i - j|``: phase of ring ``i`` per watt in heater ``j``.

    Parameters
    ----------
    n_rings : number of rings in the row
    efficiency_rad_per_w : own-heater efficiency eta, rad/W (assumption, see card)
    neighbour_fraction : f in [0, 1), fraction reaching the nearest neighbour (assumption)

    Returns
    -------
    array ``(n_rings, n_rings)``, rad/W
    """
    n = positive_int("n_rings", n_rings)
    eta = positive("efficiency_rad_per_w", efficiency_rad_per_w, unit="rad/W")
    f = in_range("neighbour_fraction", neighbour_fraction, 0.0, 1.0, hi_open=True,
                 fix="a fraction of the own-heater efficiency, e.g. 0.05")
    idx = np.arange(n)
    return eta * f ** np.abs(idx[:, None] - idx[None, :])


def heater_phases(heater_power_w, coupling_rad_per_w: np.ndarray) -> np.ndarray:
    """Phases produced by heaters through a coupling matrix: ``phi = K @ P``.

    Parameters
    ----------
    heater_power_w : array ``(..., n)``, W, >= 0
    coupling_rad_per_w : array ``(n, n)``, rad/W (see :func:`thermal_crosstalk_matrix`)

    Returns
    -------
    array ``(..., n)``, rad
    """
    p = non_negative("heater_power_w", heater_power_w, unit="W")
    k = finite_array("coupling_rad_per_w", coupling_rad_per_w)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or p.shape[-1:] != k.shape[:1]:
        raise ConfigError(f"coupling_rad_per_w has shape {k.shape} and heater_power_w "
                          f"{p.shape}; expected (n, n) and (..., n)")
    return p @ k.T


def heater_powers_for_phases(phase_rad, coupling_rad_per_w: np.ndarray) -> np.ndarray:
    """Heater powers that produce target phases despite thermal crosstalk: ``P = K^-1 phi``.

    Parameters
    ----------
    phase_rad : array ``(..., n)``, rad
    coupling_rad_per_w : array ``(n, n)``, rad/W

    Returns
    -------
    array ``(..., n)``, W

    Raises
    ------
    ConfigError
        If a heater would need negative power (heaters only heat); add a common bias phase
        to the targets.
    """
    phi = finite_array("phase_rad", phase_rad)
    k = finite_array("coupling_rad_per_w", coupling_rad_per_w)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or phi.shape[-1:] != k.shape[:1]:
        raise ConfigError(f"coupling_rad_per_w has shape {k.shape} and phase_rad "
                          f"{phi.shape}; expected (n, n) and (..., n)")
    p = np.linalg.solve(k, phi[..., None])[..., 0] if phi.ndim > 1 else np.linalg.solve(k, phi)
    if np.any(p < -1e-15 * np.max(np.abs(p), initial=1.0)):
        raise ConfigError(f"target phases need negative heater power (min {p.min():.3g} W); "
                          "add a common bias phase to phase_rad so every heater stays on")
    return np.clip(p, 0.0, None)


def lorentzian_leakage(detuning_m, fwhm_m) -> np.ndarray:
    """Lorentzian approximation of the drop leakage ``1 / (1 + (2 d / FWHM)^2)``.

    REFERENCES 2.1 (derived from the Airy response near resonance).  Used for design
    estimates only; the bank itself uses the exact add-drop response.
    """
    d = finite_array("detuning_m", detuning_m)
    w = positive("fwhm_m", fwhm_m, unit="m")
    return 1.0 / (1.0 + (2 * d / w) ** 2)


def interchannel_phase_matrix(channel_wavelength_m, *, radius_m: float = RADIUS_M,
                              neff: float = NEFF, ng: float = NG,
                              wavelength0_m: float = WAVELENGTH0_M) -> np.ndarray:
    """Round-trip phase of ring ``i`` (resonant at channel ``i``) at channel ``j``.

    ``Phi[i, j] = phi(lambda_j) - phi(lambda_i)`` wrapped to (-pi, pi].

    Parameters
    ----------
    channel_wavelength_m : array ``(N,)``, m

    Returns
    -------
    array ``(N, N)``, rad
    """
    lam = finite_array("channel_wavelength_m", channel_wavelength_m)
    if lam.ndim != 1:
        raise ConfigError(f"channel_wavelength_m must be 1-D (got shape {lam.shape})")
    phi = round_trip_phase(lam, radius_m=radius_m, neff=neff, ng=ng,
                           wavelength0_m=wavelength0_m)
    d = phi[None, :] - phi[:, None]
    return np.angle(np.exp(1j * d))


def interchannel_drop_crosstalk(channel_wavelength_m, *, radius_m: float = RADIUS_M,
                                r1: float = SELF_COUPLING, r2: float = SELF_COUPLING,
                                a: float = 1.0, neff: float = NEFF, ng: float = NG,
                                wavelength0_m: float = WAVELENGTH0_M) -> np.ndarray:
    """Drop-port power of ring ``i`` at channel ``j`` relative to its on-resonance drop.

    Exact add-drop response (see :mod:`cosim.optics.mrr`).

    Returns
    -------
    array ``(N, N)``, dimensionless, diagonal = 1
    """
    phase = interchannel_phase_matrix(channel_wavelength_m, radius_m=radius_m, neff=neff,
                                      ng=ng, wavelength0_m=wavelength0_m)
    d = np.abs(add_drop_from_phase(phase, r1=r1, r2=r2, a=a)[..., 1, 0]) ** 2
    d0 = np.abs(add_drop_from_phase(0.0, r1=r1, r2=r2, a=a)[..., 1, 0]) ** 2
    return d / d0
