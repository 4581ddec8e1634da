"""Light sources: the multi-wavelength laser comb.

A comb line carries ``power_per_channel_w`` on average; relative intensity noise (RIN)
adds a Gaussian fluctuation of variance ``P^2 * RIN * B`` in a detection bandwidth ``B``
(REFERENCES 3.1: ``sigma_RIN^2 = (R P)^2 RIN B`` in photocurrent, i.e. ``P^2 RIN B`` in
optical power).  Noise is drawn only from an explicit ``rng``.
"""

from __future__ import annotations

import numpy as np

from cosim.errors import ConfigError
from cosim.optics._validate import check_rng, finite_array, non_negative, positive, positive_int
from cosim.optics.components import WAVELENGTH0_M
from cosim.optics.defaults import laser_value, optics_value

POWER_PER_CHANNEL_W = laser_value("power_per_channel_w")
RIN_DB_PER_HZ = laser_value("rin_db_per_hz")
CHANNEL_SPACING_M = optics_value("channel_spacing_m")


def channel_grid(n_channels: int, *, center_wavelength_m: float = WAVELENGTH0_M,
                 channel_spacing_m: float = CHANNEL_SPACING_M) -> np.ndarray:
    """Evenly spaced channel wavelengths centred on ``center_wavelength_m``, shape ``(N,)``, m."""
    n = positive_int("n_channels", n_channels)
    spacing = positive("channel_spacing_m", channel_spacing_m, unit="m")
    return center_wavelength_m + (np.arange(n) - (n - 1) / 2) * spacing


def rin_sigma(*, rin_db_per_hz: float = RIN_DB_PER_HZ, bandwidth_hz: float) -> float:
    """Relative RMS power fluctuation ``sqrt(10**(RIN/10) * B)`` (dimensionless)."""
    rin = finite_array("rin_db_per_hz", rin_db_per_hz)
    b = positive("bandwidth_hz", bandwidth_hz, unit="Hz")
    return float(np.sqrt(10.0 ** (rin / 10.0) * b))


def laser_comb(n_channels: int, *, center_wavelength_m: float = WAVELENGTH0_M,
               channel_spacing_m: float = CHANNEL_SPACING_M,
               power_per_channel_w: float | np.ndarray = POWER_PER_CHANNEL_W,
               rin_db_per_hz: float = RIN_DB_PER_HZ, bandwidth_hz: float | None = None,
               n_samples: int | None = None, rng: np.random.Generator | None = None):
    """Wavelengths and powers of a laser comb.

    Parameters
    ----------
    n_channels : N
    center_wavelength_m, channel_spacing_m : grid, m
    power_per_channel_w : scalar or ``(N,)``, mean power of each line, W
    rin_db_per_hz : relative intensity noise, dB/Hz
    bandwidth_hz : detection bandwidth for the noise, Hz (needed with ``rng``)
    n_samples : number of noisy power samples (needed with ``rng``)
    rng : numpy Generator; without it the powers are the noiseless means

    Returns
    -------
    wavelength_m : ``(N,)``, m
    power_w : ``(N,)`` without ``rng``, ``(n_samples, N)`` with it, W (clipped at 0)
    """
    lam = channel_grid(n_channels, center_wavelength_m=center_wavelength_m,
                       channel_spacing_m=channel_spacing_m)
    p = non_negative("power_per_channel_w", power_per_channel_w, unit="W")
    p = np.broadcast_to(p, lam.shape).astype(float)
    if rng is None:
        return lam, p
    check_rng(rng)
    if bandwidth_hz is None or n_samples is None:
        raise ConfigError("laser_comb with rng needs bandwidth_hz (Hz) and n_samples")
    n = positive_int("n_samples", n_samples)
    sigma = rin_sigma(rin_db_per_hz=rin_db_per_hz, bandwidth_hz=bandwidth_hz)
    noisy = p * (1.0 + sigma * rng.standard_normal((n, lam.size)))
    return lam, np.clip(noisy, 0.0, None)
