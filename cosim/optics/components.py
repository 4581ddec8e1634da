"""Passive and phase-controlled photonic components as field transfer matrices.

Conventions used by every function in :mod:`cosim.optics`:

* A field amplitude ``E`` is normalised so that ``abs(E)**2`` is the optical power in W.
* A component is a pure function ``f(wavelength_m, **params)`` returning a complex array
  of shape ``(..., n_out, n_in)``: ``E_out = T @ E_in``.  The leading ``...`` is the
  broadcast shape of ``wavelength_m`` and of any array-valued parameter, so one call
  evaluates many wavelengths and a batch of parameter values at once.
* A phase accumulates as ``exp(+1j * phase)`` (``exp(1j * beta * L)`` for propagation).
* :func:`cascade` chains components in signal order and returns the same kind of thing,
  a transfer matrix; :func:`parallel` places components side by side (block diagonal).

Default parameter values are read from the device card ``devices/optics.toml``
(:mod:`cosim.optics.defaults`); each value's provenance is in the card.
"""

from __future__ import annotations

import numpy as np

from cosim.errors import ConfigError
from cosim.optics._validate import finite_array, in_range, non_negative, positive, positive_int
from cosim.optics.defaults import optics_value

# Defaults: the values of devices/optics.toml (cosim.optics.defaults; the card is the
# one source and gives the provenance of each).
WAVELENGTH0_M = optics_value("wavelength0_m")
NEFF = optics_value("neff")
NG = optics_value("ng")
LOSS_DB_PER_M = optics_value("loss_db_per_m")
Y_EXCESS_LOSS_DB = optics_value("y_excess_loss_db")
HEATER_EFFICIENCY_RAD_PER_W = optics_value("heater_efficiency_rad_per_w")


def db_to_power_ratio(loss_db) -> np.ndarray:
    """Power transmission of a loss given in dB: ``10**(-loss_db/10)``."""
    return 10.0 ** (-np.asarray(loss_db, dtype=float) / 10.0)


def db_to_field_ratio(loss_db) -> np.ndarray:
    """Field-amplitude transmission of a loss given in dB: ``10**(-loss_db/20)``."""
    return 10.0 ** (-np.asarray(loss_db, dtype=float) / 20.0)


def power_ratio_to_db(ratio) -> np.ndarray:
    """Loss in dB of a power transmission ``ratio`` (0 < ratio): ``-10 log10(ratio)``."""
    return -10.0 * np.log10(np.asarray(ratio, dtype=float))


def _wavelength(wavelength_m) -> np.ndarray:
    return in_range("wavelength_m", wavelength_m, 100e-9, 20e-6, unit="m",
                    fix="give wavelengths in metres (1.55 um = 1.55e-6)")


def cascade(*matrices: np.ndarray) -> np.ndarray:
    """Chain transfer matrices in signal order.

    Parameters
    ----------
    *matrices : complex arrays, each of shape ``(..., n_out_k, n_in_k)``
        The first argument is the first component the light meets.  ``n_in_{k+1}``
        must equal ``n_out_k``; leading axes broadcast.

    Returns
    -------
    complex array, shape ``(..., n_out_last, n_in_first)``
        ``T_n @ ... @ T_2 @ T_1``.
    """
    if not matrices:
        raise ConfigError("cascade needs at least one transfer matrix")
    total = np.asarray(matrices[0])
    for k, m in enumerate(matrices[1:], start=1):
        m = np.asarray(m)
        if m.ndim < 2 or total.ndim < 2:
            raise ConfigError("cascade: every transfer matrix needs at least 2 dimensions "
                              "(..., n_out, n_in)")
        if m.shape[-1] != total.shape[-2]:
            raise ConfigError(f"cascade: matrix {k} has {m.shape[-1]} input ports but the "
                              f"previous stage has {total.shape[-2]} outputs; reorder or "
                              "add a splitter")
        total = m @ total
    return total


def parallel(*matrices: np.ndarray) -> np.ndarray:
    """Place transfer matrices side by side (block diagonal), ports stacked in order.

    Parameters
    ----------
    *matrices : complex arrays of shape ``(..., n_out_k, n_in_k)``; leading axes broadcast.

    Returns
    -------
    complex array, shape ``(..., sum n_out_k, sum n_in_k)``
    """
    if not matrices:
        raise ConfigError("parallel needs at least one transfer matrix")
    mats = [np.asarray(m, dtype=complex) for m in matrices]
    lead = np.broadcast_shapes(*(m.shape[:-2] for m in mats))
    n_out = sum(m.shape[-2] for m in mats)
    n_in = sum(m.shape[-1] for m in mats)
    out = np.zeros(lead + (n_out, n_in), dtype=complex)
    i = j = 0
    for m in mats:
        out[..., i:i + m.shape[-2], j:j + m.shape[-1]] = m
        i += m.shape[-2]
        j += m.shape[-1]
    return out


def effective_index(wavelength_m, *, neff: float = NEFF, ng: float = NG,
                    wavelength0_m: float = WAVELENGTH0_M) -> np.ndarray:
    """First-order dispersive effective index.

    ``n_eff(lambda) = n_eff0 - (n_g - n_eff0) (lambda - lambda0) / lambda0``, which
    follows from the definition ``n_g = n_eff - lambda dn_eff/dlambda`` (Bogaerts et al.,
    Laser Photonics Rev. 6(1), 2012, Sec. 2).

    Parameters
    ----------
    wavelength_m : array, m
    neff, ng : effective and group index at ``wavelength0_m`` (dimensionless)
    wavelength0_m : reference wavelength, m

    Returns
    -------
    array of the shape of ``wavelength_m``
    """
    lam = _wavelength(wavelength_m)
    positive("neff", neff)
    positive("ng", ng)
    return neff - (ng - neff) * (lam - wavelength0_m) / wavelength0_m


def straight(wavelength_m, *, length_m: float = 100e-6, neff: float = NEFF, ng: float = NG,
             wavelength0_m: float = WAVELENGTH0_M,
             loss_db_per_m: float = LOSS_DB_PER_M) -> np.ndarray:
    """Straight waveguide, one port in and one out.

    ``T = 10**(-loss_db_per_m * L / 20) * exp(1j * 2 pi n_eff(lambda) L / lambda)``
    with :func:`effective_index` for the dispersion.

    Parameters
    ----------
    wavelength_m : array, m
    length_m : array, m (broadcasts with ``wavelength_m``)
    neff, ng : effective and group index at ``wavelength0_m``
    wavelength0_m : m
    loss_db_per_m : propagation loss, dB/m (2 dB/cm = 200 dB/m)

    Returns
    -------
    complex array, shape ``(..., 1, 1)``
    """
    lam = _wavelength(wavelength_m)
    length = non_negative("length_m", length_m, unit="m")
    loss = non_negative("loss_db_per_m", loss_db_per_m, unit="dB/m")
    n = effective_index(lam, neff=neff, ng=ng, wavelength0_m=wavelength0_m)
    t = db_to_field_ratio(loss * length) * np.exp(1j * 2 * np.pi * n * length / lam)
    return t[..., None, None]


def phase_shifter(wavelength_m, *, phase_rad: float = 0.0, loss_db: float = 0.0) -> np.ndarray:
    """Ideal phase shifter: ``T = 10**(-loss_db/20) exp(1j phase_rad)``, shape ``(..., 1, 1)``.

    Parameters
    ----------
    wavelength_m : array, m (sets the broadcast shape; the phase is wavelength-flat)
    phase_rad : array, rad
    loss_db : insertion loss, dB
    """
    lam = _wavelength(wavelength_m)
    phase = finite_array("phase_rad", phase_rad)
    loss = non_negative("loss_db", loss_db, unit="dB")
    t = db_to_field_ratio(loss) * np.exp(1j * phase) * np.ones_like(lam)
    return t[..., None, None]


def heater_phase(heater_power_w, *, wavelength_m=WAVELENGTH0_M,
                 efficiency_rad_per_w: float = HEATER_EFFICIENCY_RAD_PER_W,
                 wavelength0_m: float = WAVELENGTH0_M) -> np.ndarray:
    """Thermo-optic phase produced by a heater.

    ``phi = eta * P_heater * lambda0 / lambda``.  The phase is ``2 pi dn L / lambda`` and
    the index change ``dn = (dn/dT) dT`` is linear in heater power (steady-state thermal
    resistance), so the phase is linear in power and scales as ``1/lambda``.  ``eta`` is
    the efficiency at ``wavelength0_m``; its default is an assumption (no primary figure
    found, see devices/optics.toml).

    Parameters
    ----------
    heater_power_w : array, W (>= 0)
    wavelength_m : array, m
    efficiency_rad_per_w : rad/W at ``wavelength0_m``
    wavelength0_m : m

    Returns
    -------
    array, rad, broadcast shape of the inputs
    """
    p = non_negative("heater_power_w", heater_power_w, unit="W",
                     fix="a heater can only add heat; use a bias point for negative shifts")
    lam = _wavelength(wavelength_m)
    eta = positive("efficiency_rad_per_w", efficiency_rad_per_w, unit="rad/W")
    return eta * p * wavelength0_m / lam


def thermo_optic_phase_shifter(wavelength_m, *, heater_power_w: float = 0.0,
                               efficiency_rad_per_w: float = HEATER_EFFICIENCY_RAD_PER_W,
                               wavelength0_m: float = WAVELENGTH0_M,
                               loss_db: float = 0.0) -> np.ndarray:
    """Phase shifter driven by a heater (see :func:`heater_phase`), shape ``(..., 1, 1)``.

    Parameters
    ----------
    wavelength_m : array, m
    heater_power_w : array, W
    efficiency_rad_per_w : rad/W (assumption, see card)
    wavelength0_m : m
    loss_db : insertion loss, dB
    """
    phase = heater_phase(heater_power_w, wavelength_m=wavelength_m,
                         efficiency_rad_per_w=efficiency_rad_per_w,
                         wavelength0_m=wavelength0_m)
    return phase_shifter(wavelength_m, phase_rad=phase, loss_db=loss_db)


def directional_coupler(wavelength_m, *, power_coupling: float = 0.5,
                        loss_db: float = 0.0) -> np.ndarray:
    """Symmetric directional coupler (2 x 2).

    ``T = 10**(-loss_db/20) [[t, 1j k], [1j k], t]]`` with ``k = sqrt(power_coupling)``,
    ``t = sqrt(1 - power_coupling)``; the 50:50 case is ``(1/sqrt 2)[[1, j], [j, 1]]``
    (REFERENCES 2.2, SAX/photontorch convention).  Wavelength-flat coupling.

    Parameters
    ----------
    wavelength_m : array, m
    power_coupling : array in [0, 1], fraction of power crossing over
    loss_db : excess loss, dB

    Returns
    -------
    complex array, shape ``(..., 2, 2)``; ports (0, 1) in, (0, 1) out, 0 = bar of 0.
    """
    lam = _wavelength(wavelength_m)
    kappa2 = in_range("power_coupling", power_coupling, 0.0, 1.0)
    loss = non_negative("loss_db", loss_db, unit="dB")
    lam, kappa2, loss = np.broadcast_arrays(lam, kappa2, loss)
    k = np.sqrt(kappa2)
    t = np.sqrt(1.0 - kappa2)
    g = db_to_field_ratio(loss)
    out = np.empty(lam.shape + (2, 2), dtype=complex)
    out[..., 0, 0] = g * t
    out[..., 1, 1] = g * t
    out[..., 0, 1] = g * 1j * k
    out[..., 1, 0] = g * 1j * k
    return out


def y_splitter(wavelength_m, *, excess_loss_db: float = Y_EXCESS_LOSS_DB) -> np.ndarray:
    """1-to-2 Y-branch: ``T = 10**(-excess_loss_db/20) [[1], [1]] / sqrt(2)``.

    Parameters
    ----------
    wavelength_m : array, m
    excess_loss_db : dB beyond the 3 dB split

    Returns
    -------
    complex array, shape ``(..., 2, 1)``
    """
    lam = _wavelength(wavelength_m)
    loss = non_negative("excess_loss_db", excess_loss_db, unit="dB")
    lam, loss = np.broadcast_arrays(lam, loss)
    amp = db_to_field_ratio(loss) / np.sqrt(2.0)
    return np.stack([amp, amp], axis=-1)[..., None].astype(complex)


def fanout_tree(wavelength_m, *, n_outputs: int = 8,
                excess_loss_db: float = Y_EXCESS_LOSS_DB) -> np.ndarray:
    """1-to-N splitter tree of ``log2(N)`` stages of :func:`y_splitter`.

    Built by cascading stages of parallel Y-branches, so each output carries
    ``1/N * 10**(-log2(N) * excess_loss_db / 10)`` of the input power.

    Parameters
    ----------
    wavelength_m : array, m
    n_outputs : power of 2
    excess_loss_db : excess loss per Y-branch, dB

    Returns
    -------
    complex array, shape ``(..., n_outputs, 1)``
    """
    n = positive_int("n_outputs", n_outputs)
    if n & (n - 1):
        raise ConfigError(f"n_outputs = {n} must be a power of 2 for a Y-branch tree; "
                          "pad the number of outputs up to the next power of 2")
    lam = _wavelength(wavelength_m)
    total = np.ones(np.shape(lam) + (1, 1), dtype=complex)
    y = y_splitter(lam, excess_loss_db=excess_loss_db)
    width = 1
    while width < n:
        total = cascade(total, parallel(*([y] * width)))
        width *= 2
    return total


def mzi(wavelength_m, *, theta_rad: float = 0.0, phi_rad: float = 0.0,
        power_coupling: float = 0.5, coupler_loss_db: float = 0.0,
        phase_shifter_loss_db: float = 0.0) -> np.ndarray:
    """2 x 2 Mach-Zehnder interferometer with an internal and an external phase shifter.

    ``T = DC . diag(e^{j theta}, 1) . DC . diag(e^{j phi}, 1)`` built with
    :func:`cascade`; for 50:50 lossless couplers
    ``T = j e^{j theta/2} [[e^{j phi} sin(theta/2), cos(theta/2)],
    [e^{j phi} cos(theta/2), -sin(theta/2)]]`` (the neuroptica convention of
    REFERENCES 2.2, `fancompute/neuroptica: components.py`).

    Parameters
    ----------
    wavelength_m : array, m
    theta_rad : internal phase (top arm between the couplers), rad
    phi_rad : external phase (top input), rad
    power_coupling : power splitting of each coupler (0.5 ideal)
    coupler_loss_db, phase_shifter_loss_db : insertion losses, dB (each coupler; both arms
        of each phase-shifter section, so that loss is balanced)

    Returns
    -------
    complex array, shape ``(..., 2, 2)``
    """
    dc = directional_coupler(wavelength_m, power_coupling=power_coupling,
                             loss_db=coupler_loss_db)

    def ps(phase):
        top = phase_shifter(wavelength_m, phase_rad=phase, loss_db=phase_shifter_loss_db)
        bottom = phase_shifter(wavelength_m, phase_rad=0.0, loss_db=phase_shifter_loss_db)
        return parallel(top, bottom)

    return cascade(ps(phi_rad), dc, ps(theta_rad), dc)
