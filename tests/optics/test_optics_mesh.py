"""Clements MZI mesh: decomposition, reconstruction, unitarity, loss and phase errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosim.errors import ConfigError
from cosim.optics import mzi_mesh


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), seed=st.integers(0, 2**32 - 1))
def test_mesh_reconstructs_random_unitary(n, seed):
    u = mzi_mesh.random_unitary(n, np.random.default_rng(seed))
    mesh = mzi_mesh.clements_decompose(u)
    assert len(mesh.modes) == n * (n - 1) // 2
    # rectangular: N columns of alternating even/odd MZIs (for N = 2 the odd ones are empty)
    assert mesh.depth == (n if n > 2 else 1)
    rebuilt = mzi_mesh.mesh_matrix(mesh)
    assert np.max(np.abs(rebuilt - u)) < 1e-10


def test_mesh_reconstructs_permutation_and_identity():
    """Degenerate unitaries (zeros to null, theta at its limits)."""
    for u in (np.eye(5), np.eye(5)[::-1], np.diag(np.exp(1j * np.arange(5))),
              np.roll(np.eye(6), 2, axis=0)):
        mesh = mzi_mesh.clements_decompose(u)
        assert np.max(np.abs(mzi_mesh.mesh_matrix(mesh) - u)) < 1e-10


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), sigma=st.floats(0.0, 0.3))
def test_lossless_mesh_with_phase_errors_is_unitary(n, seed, sigma):
    rng = np.random.default_rng(seed)
    mesh = mzi_mesh.clements_decompose(mzi_mesh.random_unitary(n, rng))
    t = mzi_mesh.mesh_matrix(mesh, phase_error_std_rad=sigma, rng=rng)
    assert np.max(np.abs(t.conj().T @ t - np.eye(n))) < 1e-12


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 8), seed=st.integers(0, 2**32 - 1), loss=st.floats(0.0, 2.0),
       kappa2=st.floats(0.3, 0.7))
def test_lossy_mesh_never_gains_power(n, seed, loss, kappa2):
    rng = np.random.default_rng(seed)
    mesh = mzi_mesh.clements_decompose(mzi_mesh.random_unitary(n, rng))
    t = mzi_mesh.mesh_matrix(mesh, loss_db_per_mzi=loss, power_coupling=kappa2)
    assert np.linalg.svd(t, compute_uv=False).max() <= 1 + 1e-12


def test_uniform_loss_scales_by_depth_for_a_single_path():
    """An identity mesh with loss: every path crosses the same number of MZIs only in a
    rectangular mesh; the output power on the diagonal then equals the per-MZI loss to the
    power of the MZIs crossed, which cannot exceed the depth N."""
    n, loss = 6, 0.5
    mesh = mzi_mesh.clements_decompose(np.eye(n))
    t = mzi_mesh.mesh_matrix(mesh, loss_db_per_mzi=loss)
    assert np.all(np.abs(np.diag(t)) ** 2 >= 10 ** (-loss * n / 10) - 1e-12)
    assert np.all(np.abs(np.diag(t)) ** 2 < 1.0)


def test_phase_errors_degrade_fidelity_reproducibly():
    rng = np.random.default_rng(7)
    u = mzi_mesh.random_unitary(8, rng)
    mesh = mzi_mesh.clements_decompose(u)
    a = mzi_mesh.mesh_matrix(mesh, phase_error_std_rad=0.01, rng=np.random.default_rng(1))
    b = mzi_mesh.mesh_matrix(mesh, phase_error_std_rad=0.01, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    err = np.max(np.abs(a - u))
    assert 1e-4 < err < 0.2


def test_mesh_over_wavelengths_broadcasts():
    u = mzi_mesh.random_unitary(4, np.random.default_rng(0))
    mesh = mzi_mesh.clements_decompose(u)
    t = mzi_mesh.mesh_matrix(mesh, wavelength_m=np.array([1.54e-6, 1.55e-6, 1.56e-6]))
    assert t.shape == (3, 4, 4)
    assert np.max(np.abs(t - u)) < 1e-10


def test_mesh_rejects_bad_input():
    with pytest.raises(ConfigError, match="not unitary"):
        mzi_mesh.clements_decompose(np.ones((3, 3)))
    with pytest.raises(ConfigError, match="square"):
        mzi_mesh.clements_decompose(np.ones((3, 2)))
    mesh = mzi_mesh.clements_decompose(np.eye(3))
    with pytest.raises(ConfigError, match="rng"):
        mzi_mesh.mesh_matrix(mesh, phase_error_std_rad=0.1)
