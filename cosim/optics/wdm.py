"""WDM demultiplexer and multiplexer built from add-drop microrings.

Demux: one bus carries every channel past N add-drop rings, ring ``k`` resonant at
channel ``k``.  Port ``k`` is ring ``k``'s drop port; port ``N`` is the end of the bus
(what no ring dropped).  Field at port ``k``: ``S_d,k(lambda) * prod_{l<k} S_t,l(lambda)``.
The mux is the same structure used backwards; by reciprocity its transfer matrix is the
transpose of the demux's.
"""

from __future__ import annotations

import numpy as np

from cosim.optics._validate import finite_array
from cosim.optics.components import LOSS_DB_PER_M, NG, _wavelength
from cosim.optics.mrr import RADIUS_M, SELF_COUPLING, add_drop_from_phase, round_trip_amplitude

DEFAULT_CHANNELS_M = (1.5497e-6, 1.5500e-6, 1.5503e-6, 1.5506e-6)


def _ring_phase_at(lam, lam_res, radius_m, ng):
    # first order in optical frequency about each ring's resonance (see mrr.mrr_modulator)
    return 2 * np.pi * ng * 2 * np.pi * radius_m * (1.0 / lam[..., None] - 1.0 / lam_res)


def wdm_demux(wavelength_m, *, channel_wavelength_m=DEFAULT_CHANNELS_M,
              radius_m: float = RADIUS_M, r1: float = SELF_COUPLING,
              r2: float = SELF_COUPLING, loss_db_per_m: float = LOSS_DB_PER_M,
              ng: float = NG) -> np.ndarray:
    """Ring-filter demultiplexer, shape ``(..., N + 1, 1)``.

    Parameters
    ----------
    wavelength_m : array, m
    channel_wavelength_m : ``(N,)``, resonance of each ring, m
    radius_m, r1, r2, loss_db_per_m, ng : ring parameters (see
        :func:`cosim.optics.mrr.mrr_add_drop`)

    Returns
    -------
    complex array ``(..., N + 1, 1)``: ports 0..N-1 = drops, N = bus end
    """
    lam = _wavelength(wavelength_m)
    lam_res = _wavelength(finite_array("channel_wavelength_m", channel_wavelength_m))
    a = round_trip_amplitude(radius_m=radius_m, loss_db_per_m=loss_db_per_m)
    s = add_drop_from_phase(_ring_phase_at(lam, lam_res, radius_m, ng), r1=r1, r2=r2, a=a)
    through, drop = s[..., 0, 0], s[..., 1, 0]                 # (..., N)
    before = np.concatenate([np.ones(lam.shape + (1,)), np.cumprod(through, axis=-1)],
                            axis=-1)                           # (..., N + 1)
    ports = np.concatenate([drop * before[..., :-1], before[..., -1:]], axis=-1)
    return ports[..., None].astype(complex)


def wdm_mux(wavelength_m, **kwargs) -> np.ndarray:
    """Ring-filter multiplexer, shape ``(..., 1, N + 1)``: the transpose of
    :func:`wdm_demux` (reciprocity); keyword arguments as for the demux."""
    return np.swapaxes(wdm_demux(wavelength_m, **kwargs), -1, -2)

