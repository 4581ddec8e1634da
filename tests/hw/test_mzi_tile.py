"""The coherent MZI-mesh tile (cosim.hw.mzi_tile, "photonic-mzi"): the meshes realise
the programmed matrix exactly without errors, the product error from phase errors
follows the closed-form estimate, the backward product reuses the meshes, and a
LeNet-5 run trains through it."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.design import load_design
from cosim.hw.backend import readout_characterization
from cosim.hw.mzi_tile import MziMeshTiles, mesh_transfer, phase_error_estimate
from cosim.hw.protocols import COUNTERS, Loaded
from cosim.optics.mzi_mesh import MeshPhases, clements_decompose, mesh_matrix
from tests.helpers import hardware


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def char():
    return readout_characterization(load_design("photonic-mzi"))


def _tile(char, n, sigma, *, m=None, loss=0.0, bits=16, electrical="ideal", noise=False,
          seed=0, backward="transposed_read"):
    return MziMeshTiles(tile_rows=n, tile_cols=n if m is None else m, dac_bits=bits,
                        adc_bits=bits, optical_engine="twin", electrical_engine=electrical,
                        noise=noise, characterization=char, phase_error_std_rad=sigma,
                        loss_db_per_mzi=loss, averaging=16, seed=seed,
                        backward_weights=backward)


def _rel(x, ref):
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def test_column_wise_mesh_equals_the_mzi_cascade():
    """mesh_transfer (all MZIs of a column at once) is mesh_matrix (one physical MZI at
    a time, cosim.optics) for perturbed phases too."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((7, 7)))
    mesh = clements_decompose(q)
    k = mesh.theta_rad.size
    d = 0.05 * rng.standard_normal(2 * k + 7)
    th, ph, out = mesh.theta_rad + d[:k], mesh.phi_rad + d[k:2 * k], \
        mesh.output_phase_rad + d[2 * k:]
    ref = mesh_matrix(MeshPhases(7, mesh.modes, th, ph, out, mesh.column))
    assert np.max(np.abs(mesh_transfer(mesh, th, ph, out) - ref)) < 1e-12
    assert np.max(np.abs(mesh_transfer(mesh, mesh.theta_rad, mesh.phi_rad,
                                       mesh.output_phase_rad) - q)) < 1e-12


@pytest.mark.parametrize("m,n,k", [(6, 6, 6), (13, 8, 20), (5, 8, 3)])
def test_products_equal_the_exact_product_without_noise_and_phase_errors(char, m, n, k):
    """Phase errors of 1e-13 rad (the meshes are decomposed and rebuilt, the errors are
    negligible), insertion loss on, noise off: the realised matrix, hence the forward
    product before the converters, equals the exact one to 1e-9 relative; through the
    16-bit converters and the measured readout to the converters' resolution."""
    rng = np.random.default_rng(m * 100 + k)
    a = rng.uniform(-1, 1, (m, k))
    u = rng.uniform(-1, 1, (40, k))
    for electrical in ("ideal", "twin"):
        tile = _tile(char, n, 1e-13, m=max(2, n // 2), loss=0.05, electrical=electrical)
        loaded = tile.load(a, 1.0, "forward")
        assert _rel(tile.realised_matrix(loaded), a) < 1e-9
        assert _rel(u @ tile.realised_matrix(loaded).T, u @ a.T) < 1e-9
        counts = dict.fromkeys(COUNTERS, 0)
        y = tile.matmul(u, loaded, rng=None, counts=counts)
        assert y.shape == (40, m) and _rel(y, u @ a.T) < 2e-3
        assert counts["saturated_tia"] == counts["clipped_adc"] == 0


def test_phase_error_product_error_follows_the_closed_form_estimate(char):
    """rms over 30 random tiles (weights, inputs, static errors): the relative error of
    the product is sigma sqrt((M + N - 2) / 4) within 10 %, so it grows linearly with
    the phase error and as the square root of the mesh size."""
    measured = {}
    for n in (4, 8):
        for sigma in (0.005, 0.02):
            errs = []
            for seed in range(30):
                rng = np.random.default_rng(seed)
                a = rng.uniform(-1, 1, (n, n))
                u = rng.uniform(-1, 1, (32, n))
                tile = _tile(char, n, sigma, bits=24, seed=seed)
                y = tile.matmul(u, tile.load(a, 1.0, "forward"), rng=None,
                                counts=dict.fromkeys(COUNTERS, 0))
                errs.append(np.sum((y - u @ a.T) ** 2) / np.sum((u @ a.T) ** 2))
            measured[n, sigma] = float(np.sqrt(np.mean(errs)))
            est = phase_error_estimate(sigma, n, n)
            assert 0.9 < measured[n, sigma] / est < 1.1, (n, sigma, measured[n, sigma], est)
    assert measured[4, 0.02] / measured[4, 0.005] == pytest.approx(4, rel=0.05)
    assert measured[8, 0.02] / measured[4, 0.02] == pytest.approx(np.sqrt(14 / 6), rel=0.1)


def test_backward_reuses_the_forward_meshes_and_gradient_pattern_has_no_phase_error(char):
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (10, 13))
    tile = _tile(char, 8, 0.02)
    fwd = tile.load(a, 1.0, "forward")
    back = tile.load(a.T, 1.0, "backward", transpose_of=fwd)
    assert np.array_equal(tile.realised_matrix(back), tile.realised_matrix(fwd).T)
    assert _rel(tile.realised_matrix(fwd), a) > 1e-3                # the errors are there
    grad = tile.load(a, 1.0, "gradient")
    levels = np.sign(a) * np.rint(np.abs(a) * 65535) / 65535
    assert _rel(tile.realised_matrix(grad), levels) < 1e-12


@pytest.mark.parametrize("n,m", [(8, 8), (8, 4)])
def test_backward_mappings(char, n, m):
    """transposed_read: the forward meshes lit from the outputs, with or without the
    forward state offered; transposed_copy: W^T on meshes of its own (its static phase
    errors drawn for the copy, not those of the forward meshes at the same positions)."""
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (10, 13))
    read = _tile(char, n, 0.02, m=m)
    fwd = read.load(a, 1.0, "forward")
    want = read.realised_matrix(fwd).T
    for offered in (fwd, None):
        back = read.load(a.T, 1.0, "backward", transpose_of=offered)
        assert np.array_equal(read.realised_matrix(back), want)
    copy = _tile(char, n, 0.02, m=m, backward="transposed_copy")
    fwd = copy.load(a, 1.0, "forward")
    loaded = copy.load(a.T, 1.0, "backward", transpose_of=fwd)
    back = copy.realised_matrix(loaded)
    assert 1e-3 < _rel(back, a.T) < 0.2 and not np.allclose(back, want, atol=1e-9)
    # the same matrix on the forward meshes' positions would carry their errors
    on_forward_meshes = copy.realised_matrix(Loaded(copy._program(a.T, False),
                                                    *a.T.shape, 0))
    assert not np.allclose(back, on_forward_meshes, atol=1e-9)


def test_transposed_read_needs_no_more_outputs_than_inputs(char):
    """Lit from the outputs, a 3 x 5 tile would take 5 inputs at a channel power set
    for 3: refused, naming the fix."""
    from cosim.errors import ConfigError

    with pytest.raises(ConfigError, match="transposed_copy"):
        _tile(char, 3, 0.0, m=5)
    _tile(char, 3, 0.0, m=5, backward="transposed_copy")


def test_noise_is_drawn_from_the_rng_and_counted(char):
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (6, 12))
    u = rng.uniform(-1, 1, (50, 12))
    tile = _tile(char, 8, 0.0, electrical="twin", noise=True)
    loaded = tile.load(a, 1.0, "forward")
    c1, c2 = dict.fromkeys(COUNTERS, 0), dict.fromkeys(COUNTERS, 0)
    samples = {}
    y1 = tile.matmul(u, loaded, rng=np.random.default_rng(7), counts=c1, samples=samples)
    y2 = tile.matmul(u, loaded, rng=np.random.default_rng(7), counts=c2)
    y3 = tile.matmul(u, loaded, rng=np.random.default_rng(8), counts=dict(c2))
    assert np.array_equal(y1, y2) and not np.array_equal(y1, y3) and c1 == c2
    assert c1["samples"] == 50 * 2 * 6
    assert 0 < _rel(y1, u @ a.T) < 0.05
    assert set(samples) == {"optical_power_w", "photocurrent_a", "tia_voltage_v",
                            "adc_codes"}


def test_lenet_trains_on_the_mzi_tile_and_records_its_circuits(tmp_path):
    from cosim.config import load_config
    from cosim.orchestrator import train
    from cosim.store.runs import RunFile

    cfg = load_config(None, ["design.name=photonic-mzi", "model.width=0.34",
                             "data.train_limit=96", "data.test_limit=64",
                             "training.batch_size=32", "training.epochs=2",
                             "training.error_probe_every_steps=1",
                             "design.tile_rows=32", "design.tile_cols=32"])
    res = train(cfg, tmp_path / "mzi.h5", quiet=True)
    assert res.steps == 6 and np.all(np.isfinite(res.step_metrics["loss"]))
    run = RunFile(res.path)
    errs = run.table("product_errors")
    fwd = errs["rel_rms_error"][errs["phase"] == "forward"]
    assert fwd.size and np.median(fwd) < 0.05
    assert run.netlist_hashes() and res.hardware_totals


def test_interrupt_and_resume_is_bit_identical_on_the_mzi_tile(tmp_path):
    """The meshes' static phase errors come from the run's seed, the noise from the
    checkpointed backend RNG: SIGINT mid-epoch, then resume, gives the uninterrupted
    run exactly."""
    import os
    import signal

    from cosim.config import load_config
    from cosim.orchestrator import TrainingInterrupted, train
    from cosim.store.runs import RunFile

    cfg = load_config(None, ["design.name=photonic-mzi", "model.width=0.34",
                             "data.train_limit=96", "data.test_limit=64",
                             "training.batch_size=32", "training.epochs=2",
                             "design.tile_rows=16", "design.tile_cols=16"])
    straight = train(cfg, tmp_path / "straight.h5", quiet=True)

    def interrupt_at_4(step, row):
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        train(cfg, tmp_path / "split.h5", quiet=True, on_step=interrupt_at_4)
    resumed = train(None, tmp_path / "split.h5", resume=True, quiet=True)
    for table in ("metrics/step", "metrics/epoch"):
        a, b = RunFile(straight.path).table(table), RunFile(resumed.path).table(table)
        for col in a:
            if col != "time_s":
                assert np.array_equal(a[col], b[col]), (table, col)
    wa = RunFile(straight.path).checkpoint().trainer["arrays"]
    wb = RunFile(resumed.path).checkpoint().trainer["arrays"]
    assert sorted(wa) == sorted(wb) and all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_spot_check_sends_the_readout_through_ngspice_and_spice_engine_is_refused():
    from cosim.errors import ConfigError
    from cosim.hw import build_hardware
    from cosim.nn import Linear, Sequential

    model = Sequential([Linear("fc1", 12, 5)], input_shape=(12,))
    model.initialize(np.random.default_rng(0))
    cfg, design = hardware("photonic-mzi", noise=False, spot_check=1.0, tile_rows=8,
                           tile_cols=8)
    backend, store = build_hardware(cfg, model, np.random.default_rng(1), design=design)
    backend.set_step(1)
    backend.forward("fc1", np.array(store.weight("fc1")),
                    np.random.default_rng(2).uniform(-1, 1, (4, 12)))
    (rec,) = backend.spot_checks()
    assert rec["rel_error"] < 1e-4 and rec["netlist_sha256"] in backend.netlists()
    with pytest.raises(ConfigError, match="photonic-mzi tile offers ideal, twin"):
        cfg, design = hardware("photonic-mzi", electrical_engine="spice")
        build_hardware(cfg, model, np.random.default_rng(1), design=design)
