"""Rectangular (Clements) MZI mesh: decomposition of a unitary into phases, reconstruction
with phase errors and loss.

Each MZI is the physical 2 x 2 of :func:`cosim.optics.components.mzi` with 50:50
couplers, ``T(theta, phi) = j e^{j theta/2} [[e^{j phi} s, c], [e^{j phi} c, -s]]``,
``s = sin(theta/2)``, ``c = cos(theta/2)``, acting on modes ``(k, k+1)``.

Decomposition (Clements et al., "Optimal design for universal multiport interferometers",
Optica 3(12):1460, 2016): elements of ``U`` are nulled alternately by MZIs applied from
the right (``U T^-1``) and from the left (``T U``), leaving a diagonal ``D``.  The left
MZIs are then moved through ``D`` with the identity ``T(theta, phi)^-1 D =
D' T(theta, phi')``, where for this MZI ``phi' = arg(d_k / d_{k+1})``,
``d'_k = -e^{-j theta} e^{-j phi} d_{k+1}``, ``d'_{k+1} = -e^{-j theta} d_{k+1}``
(derived by multiplying out both sides).  The result is ``N(N-1)/2`` MZIs in a
rectangular arrangement of depth ``N`` plus output phases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigError
from cosim.optics._validate import check_rng, finite_array, non_negative
from cosim.optics.components import WAVELENGTH0_M, db_to_field_ratio, mzi


@dataclass(frozen=True)
class MeshPhases:
    """Programmed phases of a Clements mesh.

    Attributes
    ----------
    n_modes : N
    modes : ``(K,)`` int, MZI ``i`` acts on modes ``(modes[i], modes[i] + 1)``
    theta_rad, phi_rad : ``(K,)`` internal and external phases, rad
    output_phase_rad : ``(N,)`` phases of the output phase screen, rad
    column : ``(K,)`` int, column of the rectangular layout (for depth/loss budgets)

    MZIs are listed in the order light meets them (K = N(N-1)/2).
    """

    n_modes: int
    modes: np.ndarray
    theta_rad: np.ndarray
    phi_rad: np.ndarray
    output_phase_rad: np.ndarray
    column: np.ndarray

    @property
    def depth(self) -> int:
        """Number of MZI columns (N for a full Clements mesh)."""
        return int(self.column.max()) + 1 if self.column.size else 0


def _mzi_2x2(theta, phi):
    s, c = np.sin(theta / 2), np.cos(theta / 2)
    pre = 1j * np.exp(0.5j * theta)
    e = np.exp(1j * phi)
    return pre * np.array([[e * s, c], [e * c, -s]])


def _null_from_right(x, y):
    """(theta, phi) with ``[x, y] . T^H`` having a zero first entry."""
    theta = 2 * np.arctan2(abs(y), abs(x))
    phi = np.angle(x) - np.angle(y) + np.pi
    return theta, phi


def _null_from_left(x, y):
    """(theta, phi) with ``T . [x, y]^T`` having a zero second entry."""
    theta = 2 * np.arctan2(abs(x), abs(y))
    phi = np.angle(y) - np.angle(x)
    return theta, phi


def check_unitary(matrix, name: str = "unitary", atol: float = 1e-10) -> np.ndarray:
    """Return ``matrix`` as a complex square array; raise if it is not unitary."""
    u = np.asarray(finite_array(name, matrix, dtype=complex))
    if u.ndim != 2 or u.shape[0] != u.shape[1] or u.shape[0] < 2:
        raise ConfigError(f"{name} must be a square matrix of size >= 2 (got shape {u.shape})")
    err = np.max(np.abs(u.conj().T @ u - np.eye(u.shape[0])))
    if err > atol:
        raise ConfigError(f"{name} is not unitary (max |U^H U - I| = {err:.3g} > {atol:g}); "
                          "a mesh of lossless MZIs realises only unitary matrices; "
                          "use an SVD (U S V^H) with two meshes and attenuators")
    return u


def clements_decompose(unitary) -> MeshPhases:
    """Phases of a rectangular MZI mesh realising ``unitary``.

    Parameters
    ----------
    unitary : ``(N, N)`` complex unitary matrix

    Returns
    -------
    MeshPhases, with ``mesh_matrix(mesh)`` equal to ``unitary`` to rounding error
    """
    u = check_unitary(unitary).copy()
    n = u.shape[0]
    right: list[tuple[int, float, float]] = []
    left: list[tuple[int, float, float]] = []
    for i in range(n - 1):
        if i % 2 == 0:
            for j in range(i + 1):
                row, col = n - 1 - j, i - j
                theta, phi = _null_from_right(u[row, col], u[row, col + 1])
                t = _mzi_2x2(theta, phi)
                u[:, col:col + 2] = u[:, col:col + 2] @ t.conj().T
                right.append((col, theta, phi))
        else:
            for j in range(i + 1):
                row, col = n - 2 - i + j + 1, j
                k = row - 1
                theta, phi = _null_from_left(u[k, col], u[k + 1, col])
                t = _mzi_2x2(theta, phi)
                u[k:k + 2, :] = t @ u[k:k + 2, :]
                left.append((k, theta, phi))
    d = np.diag(u).copy()
    moved: list[tuple[int, float, float]] = []
    for k, theta, phi in reversed(left):
        dk, dk1 = d[k], d[k + 1]
        new_phi = float(np.angle(dk / dk1))
        d[k] = -np.exp(-1j * theta) * np.exp(-1j * phi) * dk1
        d[k + 1] = -np.exp(-1j * theta) * dk1
        moved.append((k, theta, new_phi))
    # U = D . T''_1 ... T''_L . R_n ... R_1 ; light meets R_1 first, then T''_L ... T''_1.
    # `moved` was filled from the innermost left MZI outwards, i.e. T''_L first.
    order = right + moved
    modes = np.array([m for m, _, _ in order], dtype=int)
    thetas = np.array([t for _, t, _ in order], dtype=float)
    phis = np.array([np.angle(np.exp(1j * p)) for _, _, p in order], dtype=float)
    column = _columns(modes, n)
    return MeshPhases(n, modes, thetas, phis, np.angle(d), column)


def _columns(modes: np.ndarray, n: int) -> np.ndarray:
    """Earliest column of each MZI given the modes it shares with earlier ones."""
    busy = np.zeros(n, dtype=int)
    col = np.empty(modes.size, dtype=int)
    for i, k in enumerate(modes):
        c = max(busy[k], busy[k + 1])
        col[i] = c
        busy[k] = busy[k + 1] = c + 1
    return col


def mesh_matrix(mesh: MeshPhases, *, wavelength_m=WAVELENGTH0_M,
                phase_error_std_rad: float = 0.0, loss_db_per_mzi: float = 0.0,
                power_coupling: float = 0.5,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Transfer matrix of a programmed mesh, built by cascading physical MZIs.

    Parameters
    ----------
    mesh : MeshPhases
    wavelength_m : array, m (the couplers are wavelength-flat; sets the broadcast shape)
    phase_error_std_rad : standard deviation of Gaussian errors added to every theta and
        phi (and output phase), rad; needs ``rng``
    loss_db_per_mzi : insertion loss of each MZI, dB (the output phase screen is lossless)
    power_coupling : splitting ratio of every coupler (0.5 ideal)
    rng : numpy Generator for the phase errors

    Returns
    -------
    complex array ``(..., N, N)``
    """
    sigma = float(non_negative("phase_error_std_rad", phase_error_std_rad, unit="rad"))
    loss = float(non_negative("loss_db_per_mzi", loss_db_per_mzi, unit="dB"))
    theta, phi, out_phase = mesh.theta_rad, mesh.phi_rad, mesh.output_phase_rad
    if sigma > 0:
        if rng is None:
            raise ConfigError("phase_error_std_rad > 0 needs rng (a numpy Generator)")
        check_rng(rng)
        theta = theta + sigma * rng.standard_normal(theta.shape)
        phi = phi + sigma * rng.standard_normal(phi.shape)
        out_phase = out_phase + sigma * rng.standard_normal(out_phase.shape)
    lam = np.asarray(wavelength_m, dtype=float)
    n = mesh.n_modes
    total = np.broadcast_to(np.eye(n, dtype=complex), lam.shape + (n, n)).copy()
    g = db_to_field_ratio(loss)
    for k, t, p in zip(mesh.modes, theta, phi):
        block = g * mzi(lam, theta_rad=t, phi_rad=p, power_coupling=power_coupling)
        total[..., k:k + 2, :] = block @ total[..., k:k + 2, :]
    return np.exp(1j * out_phase)[:, None] * total


def random_unitary(n: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random ``(n, n)`` unitary (QR of a complex Gaussian matrix with phase fix)."""
    check_rng(rng)
    z = (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(2)
    q, r = np.linalg.qr(z)
    return q * (np.diag(r) / np.abs(np.diag(r)))
