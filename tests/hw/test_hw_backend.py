"""cosim.hw: the hardware mapping of every product (ideal bit-exactness, quantization
bounds, twin vs ngspice, degradation, device store, counters)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.design import load_design
from cosim.errors import ConfigError
from cosim.hw.backend import ARCHITECTURES, HardwareConfig
from cosim.hw.weights import DeviceWeightStore
from cosim.optics.weight_bank import weight_to_detuning
from cosim.nn import (
    SGD,
    ArrayWeightStore,
    IdealBackend,
    Linear,
    ReLU,
    Sequential,
    Trainer,
    lenet5,
    load_digits_dataset,
    resize_images,
)
from tests.helpers import attach, hardware


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


def _mlp(n_in=8, n_hidden=None, n_out=4, seed=0):
    layers = [Linear("fc1", n_in, n_out)] if n_hidden is None else \
        [Linear("fc1", n_in, n_hidden), ReLU("r1"), Linear("fc2", n_hidden, n_out)]
    m = Sequential(layers, input_shape=(n_in,))
    m.initialize(np.random.default_rng(seed))
    return m


def _attach(model, hw, seed=1):
    return attach(model, hw, seed)


# ----------------------------------------------------------------------------- config
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_builds_and_computes(arch):
    m = _attach(_mlp(), hardware(arch, noise=False))
    x = np.random.default_rng(3).standard_normal((5, 8))
    y = m.forward(x)
    assert y.shape == (5, 4) and np.all(np.isfinite(y))


@pytest.mark.parametrize("field,value", [("spot_check", 1.5), ("electrical_engine", "fast"),
                                         ("noise", 1), ("optical_engine", "fdtd")])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"hardware.{field}"):
        HardwareConfig(**{field: value})


@pytest.mark.parametrize("key,value,fragment", [
    ("tile", "optical", "unknown tile 'optical'"),
    ("converters.adc_bits", 0, "adc_bits"), ("converters.dac_bits", 25, "dac_bits"),
    ("laser_power_per_channel_w", -1.0, "laser_power_per_channel_w"),
    ("nope_card", "x", "no value 'nope_card'"), ("tia_card", "photodetector", "tia card")])
def test_design_rejects_bad_values_naming_them(key, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_design("bplight", {key: value})


# ----------------------------------------------------------------------------- ideal
def test_ideal_architecture_trains_lenet_bit_identical_to_plain_numpy():
    ds = load_digits_dataset()
    x, y = resize_images(ds.x_train[:96], 32), ds.y_train[:96]

    def train(on_hardware: bool):
        m = lenet5(rng=np.random.default_rng(0), width=0.5)
        if on_hardware:
            attach(m, hardware("ideal"), 5)
            assert isinstance(m.backend, IdealBackend)
            assert isinstance(m.store, ArrayWeightStore)
        tr = Trainer(m, SGD(lr=0.05), np.random.default_rng(1), batch_size=32)
        losses = tr.train_steps(x, y, 3)
        return losses, m.store.state_dict()

    l0, s0 = train(False)
    l1, s1 = train(True)
    assert l0 == l1
    assert all(np.array_equal(s0[k], s1[k]) for k in s0)


# ----------------------------------------------------------------------------- accuracy
def _quantization_bound(tiles, U, A, dac_bits, adc_bits, a_scale, dac_scale="row"):
    """Worst-case |Y_hw - U A^T| of a noiseless product with an exactly linear readout:
    DAC: each input off by <= 1/(2 L) of its row's full scale s (L = 2^bits - 1), times
    sum_k |A| / a_scale; ADC: each tile conversion off by <= LSB/2 = FS/2^(bits+1) V, i.e.
    in units of u a: (FS / 2^(bits+1)) / (R_f R g P_bank), times s; two passes x the
    tiles summed per output.  s: the smallest power of two above the row's max|U|
    ("row"), or max|U| of the whole product ("call")."""
    if dac_scale == "row":
        peak = np.max(np.abs(U), axis=1, keepdims=True)
        s_x = 2.0 ** (np.floor(np.log2(peak)) + 1)
        assert np.all((peak < s_x) & (s_x <= 2 * peak))
    else:
        s_x = np.max(np.abs(U))
    dac = s_x * np.abs(A).sum(axis=1) / (2 * (2 ** dac_bits - 1))
    spec = tiles.spec
    adc_unit = (spec.adc_full_scale_v / 2 ** (adc_bits + 1)) / (
        spec.feedback_resistance_ohm * tiles.resp * tiles.g * tiles.p_bank_w)
    n_tiles = -(-U.shape[1] // tiles.n)
    return dac + 2 * n_tiles * adc_unit * s_x * a_scale


@pytest.mark.parametrize("optical,dac_scale", [("ideal", "row"), ("twin", "row"),
                                               ("twin", "call")])
def test_noiseless_16bit_forward_is_within_the_quantization_bound(optical, dac_scale):
    rng = np.random.default_rng(7)
    m = _attach(_mlp(n_in=150, n_out=20), hardware(
        noise=False, tile_rows=64, tile_cols=16, optical_engine=optical,
        electrical_engine="ideal", dac_scale=dac_scale))
    W = np.array(m.store.weight("fc1"))
    X = rng.standard_normal((32, 150)) * rng.uniform(0.01, 3, (32, 1))  # rows' scales vary
    Y = m.backend.forward("fc1", W, X)
    exact = X @ W.T
    bound = _quantization_bound(m.backend.tiles, X, W, 16, 16, m.store.w_max("fc1"),
                                dac_scale)
    err = np.abs(Y - exact)
    assert np.all(err <= bound * (1 + 1e-9) + 1e-12)
    assert err.max() > 0                    # the converters do quantize


def test_4bit_converters_err_more_by_the_expected_factor():
    """Quantization error scales as 2^-bits: 4 vs 16 bits -> about 2^12 more error."""
    rng = np.random.default_rng(8)
    X = rng.standard_normal((64, 64))
    errs = {}
    for bits in (4, 16):
        m = _attach(_mlp(n_in=64, n_out=16), hardware(
            noise=False, dac_bits=bits, adc_bits=bits, tile_cols=16,
            electrical_engine="ideal"))
        W = np.array(m.store.weight("fc1"))
        errs[bits] = np.sqrt(np.mean((m.backend.forward("fc1", W, X) - X @ W.T) ** 2))
        bound = _quantization_bound(m.backend.tiles, X, W, bits, bits, m.store.w_max("fc1"))
        assert np.all(np.abs(m.backend.forward("fc1", W, X) - X @ W.T) <= bound * (1 + 1e-9))
    ratio = errs[4] / errs[16]
    assert 2 ** 12 / 8 < ratio < 2 ** 12 * 8


def test_laser_power_cut_makes_noise_dominate():
    rng = np.random.default_rng(9)
    X = np.abs(rng.standard_normal((64, 64)))
    rel = {}
    for power in (0.0, 1e-7):      # 0: matched to the readout full scale
        m = _attach(_mlp(n_in=64, n_out=16), hardware(
            tile_cols=16, laser_power_per_channel_w=power))
        W = np.array(m.store.weight("fc1"))
        exact = X @ W.T
        y = m.backend.forward("fc1", W, X)
        rel[power] = np.sqrt(np.mean((y - exact) ** 2) / np.mean(exact ** 2))
        table = m.backend.stats.as_table()[0]
    assert rel[1e-7] > 10 * rel[0.0]
    assert table["below_noise_floor"] > 0.5 * table["samples"]


# ----------------------------------------------------------------------------- spice
def test_twin_matches_spice_per_tile_on_a_small_network():
    """Linear 8->4, 2 training steps with the spice readout throughout vs the twin, noise
    off, same inputs, optical power matched to the readout range (the twin's DC curve is
    only measured to 1.25 full scale): the two readouts see identical optical powers, so their outputs
    differ only by the twin's static error (its DC curve interpolates the swept transfer;
    the characterization states about 0.1 LSB agreement with a settled transient) and at
    most one ADC code per conversion: tolerance 2 LSB per conversion, i.e. per output
    2 passes x tiles x 2 LSB in units of u a."""
    x = np.random.default_rng(4).standard_normal((6, 8))
    labels = np.array([0, 1, 2, 3, 0, 1])
    outs = {}
    for engine in ("twin", "spice"):
        m = _attach(_mlp(), hardware(noise=False, electrical_engine=engine,
                                           tile_rows=4, tile_cols=4))
        t = m.backend.tiles      # inside the readout range (fraction 1): no saturation
        t.p_bank_w = t.spec.full_scale_current_a / (t.resp * t.g * t.n)
        tr = Trainer(m, SGD(lr=0.05), np.random.default_rng(1), batch_size=6)
        ys = []
        for step in range(2):
            m.backend.set_step(step)
            ys.append(m.backend.forward("fc1", np.array(m.store.weight("fc1")), x))
            tr.step(x, labels)
        outs[engine] = (ys, m)
    tiles = outs["twin"][1].backend.tiles
    lsb_units = (tiles.spec.lsb_v / abs(tiles.char.gain_ohm)) / (tiles.resp * tiles.g
                                                                   * tiles.p_bank_w)
    w_max = outs["twin"][1].store.w_max("fc1")
    for y_t, y_s in zip(outs["twin"][0], outs["spice"][0]):
        tol = 2 * 2 * 2 * lsb_units * np.max(np.abs(x)) * w_max
        assert np.max(np.abs(y_t - y_s)) <= tol
    # the spice run recorded the netlists it ran, re-runnable by hash
    index = outs["spice"][1].backend.tile_netlist_index()
    texts = outs["spice"][1].backend.netlists()
    assert index and all(e["sha256"] in texts for e in index)


def test_spot_checks_record_twin_vs_spice_error():
    m = _attach(_mlp(n_in=8, n_out=4), hardware(noise=False, spot_check=1.0,
                                                    tile_rows=8, tile_cols=4))
    m.backend.set_step(3)
    m.forward(np.random.default_rng(0).standard_normal((10, 8)))
    recs = m.backend.spot_checks()
    assert len(recs) == 1 and recs[0]["layer"] == "fc1" and recs[0]["step"] == 3
    spec = m.backend.tiles.spec
    assert recs[0]["max_abs_error"] < 2 * spec.lsb_v
    assert recs[0]["netlist_sha256"] in m.backend.netlists()
    assert m.backend.spot_checks() == []


def test_electronic_twin_matches_ngspice_and_wires_matter():
    m = _attach(_mlp(n_in=6, n_out=3), hardware("electronic", noise=False, spot_check=1.0, tile_rows=6, tile_cols=3,
        wire_resistance_ohm=50.0))
    x = np.abs(np.random.default_rng(0).standard_normal((4, 6)))
    W = np.array(m.store.weight("fc1"))
    y = m.backend.forward("fc1", W, x)
    rec = m.backend.spot_checks()[0]
    assert rec["rel_error"] < 1e-6                       # native MNA == ngspice .op
    # wire IR drop lowers the column currents: the product is measurably off
    m0 = _attach(_mlp(n_in=6, n_out=3), hardware("electronic", noise=False, tile_rows=6, tile_cols=3,
        wire_resistance_ohm=0.0))
    y0 = m0.backend.forward("fc1", W, x)
    assert np.max(np.abs(y0 - x @ W.T)) < np.max(np.abs(y - x @ W.T))


# ----------------------------------------------------------------------------- counters
def test_stats_count_saturation_and_clipping_beyond_full_scale():
    # inputs at the DAC's full scale (dac_scale "call": max|x| = 1 is the full scale)
    m = _attach(_mlp(n_in=16, n_out=4), hardware(
        noise=False, tile_rows=16, tile_cols=4, electrical_engine="twin", dac_scale="call"))
    m.backend.tiles.p_bank_w *= 4          # 4x the optical power the readout is sized for
    W = np.array(m.store.weight("fc1"))
    x = np.ones((3, 16))
    m.backend.forward("fc1", np.sign(W) * m.store.w_max("fc1"), x)
    row = m.backend.stats.as_table()[0]
    assert row["clipped_adc"] > 0 and row["saturated_tia"] > 0
    assert row["saturated_weights"] == 0
    m.backend.stats.reset()
    m.backend.forward("fc1", 3 * np.sign(W) * m.store.w_max("fc1"), x)
    assert m.backend.stats.as_table()[0]["saturated_weights"] == W.size


# ----------------------------------------------------------------------------- store
def test_device_store_updates_are_pulses_and_faults_hold():
    from cosim.devices.programming import params_from_card

    params = params_from_card("rram_array", p_stuck_on=0.2, p_stuck_off=0.2)
    store = DeviceWeightStore(params, np.random.default_rng(0), headroom=2.0)
    w0 = np.random.default_rng(1).uniform(-1, 1, (6, 5))
    store.set_weight("fc", w0)
    w_max = store.w_max("fc")
    assert w_max == pytest.approx(2 * np.max(np.abs(w0)))
    st = store.device_state("fc")
    stuck = st.stuck_on_pos | st.stuck_off_pos | st.stuck_on_neg | st.stuck_off_neg
    assert stuck.any() and (~stuck).any()
    before = np.array(store.weight("fc"))
    delta = np.full(w0.shape, 0.3 * w_max)
    store.apply_update("fc", delta)
    after = np.array(store.weight("fc"))
    # what the devices hold, not W + delta: the RealDevice curve is nonlinear and coarse
    assert not np.allclose(after, before + delta)
    # a pair with both devices stuck keeps its weight exactly
    both = (st.stuck_on_pos | st.stuck_off_pos) & (st.stuck_on_neg | st.stuck_off_neg)
    assert np.array_equal(after[both], before[both])
    # the weight equals the conductance difference of the devices
    st2 = store.device_state("fc")
    assert np.allclose(after, w_max * (st2.g_pos_s - st2.g_neg_s) / params.g_range_s)
    # zero pulses below half a pulse step: a tiny update leaves the devices alone
    store.apply_update("fc", np.full(w0.shape, 0.4 * w_max / params.pulses_ltp))
    assert np.array_equal(np.array(store.weight("fc")), after)


def test_state_dict_round_trip_continues_bit_identically():
    ds = load_digits_dataset()
    x, y = ds.x_train[:64].reshape(64, -1), ds.y_train[:64]
    cfg = hardware(tile_rows=32, tile_cols=16)

    def make():
        m = _attach(_mlp(n_in=64, n_hidden=16, n_out=10), cfg)
        return m, Trainer(m, SGD(lr=0.05), np.random.default_rng(1), batch_size=16)

    m1, t1 = make()
    t1.train_steps(x, y, 2)
    ckpt = (t1.state_dict(), m1.backend.state_dict())
    ref = t1.train_steps(x, y, 2)
    m2, t2 = make()
    t2.load_state_dict(ckpt[0])
    m2.backend.load_state_dict(ckpt[1])
    again = t2.train_steps(x, y, 2)
    assert ref == again
    s1, s2 = m1.store.state_dict(), m2.store.state_dict()
    assert set(s1) == set(s2) and all(np.array_equal(s1[k], s2[k]) for k in s1)


# ----------------------------------------------------------------------------- fast paths
@pytest.mark.parametrize("electrical", ["ideal", "twin"])
@pytest.mark.parametrize("optical", ["ideal", "twin"])
def test_fused_photonic_product_equals_the_reference_path(optical, electrical):
    """The fused, blocked product (and the level table of the gradient pattern) against
    the step-by-step reference of the same tile physics, noise on and off: same draws in
    the same order and the same functions (cosim.hw.conversion), so the outputs, every
    counter and the samples agree bit for bit."""
    from cosim.hw.photonic import signed_levels

    rng = np.random.default_rng(11)
    for noise in (False, True):
        m = _attach(_mlp(n_in=150, n_out=20), hardware(
            noise=noise, tile_rows=64, tile_cols=8, optical_engine=optical,
            electrical_engine=electrical))
        tiles = m.backend.tiles
        u = signed_levels(np.clip(rng.standard_normal((300, 150)) / 2, -1, 1), 16)
        a = signed_levels(np.clip(rng.standard_normal((20, 150)) / 2, -1, 1), 16)
        tr_ref = tiles.transfers(a)
        tr = tiles.transfers(a, levels_bits=16)
        assert all(np.array_equal(x, y) for x, y in zip(tr_ref, tr))
        out = {}
        for path in ("_matmul_fast", "_matmul_reference"):
            counts = dict.fromkeys(("samples", "saturated_tia", "clipped_adc",
                                    "below_noise_floor"), 0)
            samples = {}
            y = getattr(tiles, path)(u, tr, rng=np.random.default_rng(3), counts=counts,
                                     samples=samples, outputs=20)
            out[path] = (y, counts, samples)
        (y_f, c_f, s_f), (y_r, c_r, s_r) = out["_matmul_fast"], out["_matmul_reference"]
        assert np.array_equal(y_f, y_r)
        # rows x (tile columns x real outputs) x passes: the 4 padded bank rows of the
        # last tile row carry no output and are not converted
        assert c_f == c_r and c_f["samples"] == 300 * (3 * 20) * 2
        assert set(s_f) == set(s_r) and all(np.array_equal(s_f[k], s_r[k]) for k in s_r)
        assert y_f.shape == y_r.shape == (300, 20)       # no padded bank rows
        again = tiles._matmul_fast(u, tr, rng=np.random.default_rng(3), counts=dict(c_f),
                                   outputs=20)
        assert np.array_equal(again, y_f)                          # same seed, same draws
        # the digital rescaling, fused into the last pass, is y times the row's scale
        scale = np.random.default_rng(9).uniform(0.5, 2.0, 300)
        scaled = tiles._matmul_fast(u, tr, rng=np.random.default_rng(3),
                                    counts=dict(c_f), outputs=20, row_scale=scale)
        assert np.array_equal(scaled, y_f * scale[:, None])
        # the blocks' noise streams do not depend on which thread runs them
        threads = numba.get_num_threads()
        try:
            numba.set_num_threads(1)
            c_1 = dict.fromkeys(c_f, 0)
            one = tiles._matmul_fast(u, tr, rng=np.random.default_rng(3), counts=c_1,
                                     outputs=20)
        finally:
            numba.set_num_threads(threads)
        assert np.array_equal(one, y_f) and c_1 == c_f
    with pytest.raises(ValueError, match="outputs=16"):
        tiles.matmul_transfers(u, tr, rng=np.random.default_rng(3), counts=dict(c_f),
                               outputs=16)


@pytest.mark.parametrize("rows,width", [(50176, 25), (6400, 300), (150, 6400), (25, 50176),
                                        (64, 10), (7, 100), (1, 5), (0, 5)])
def test_row_blocks_split_the_rows_evenly(rows, width):
    """Blocks cover the rows in order, differ by at most one row, hold about 64k numbers
    (at most 2x that), and come in a multiple of 16 when there are that many rows."""
    from cosim.hw.photonic import _BLOCK_ELEMENTS, row_blocks
    bounds = row_blocks(rows, width)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == rows and np.all(sizes >= 1)
    if rows:
        assert sizes.max() - sizes.min() <= 1
        assert (sizes.size % 16 == 0) if rows >= 16 else sizes.size == rows
        assert sizes.max() <= max(1, 2 * _BLOCK_ELEMENTS // width)


@pytest.mark.parametrize("dac_scale", ["row", "call"])
def test_gradient_takes_its_row_peaks_from_the_forward_pass(dac_scale):
    """The gradient of X.T takes the column maxima of X found by the forward product:
    the same result, bit for bit, as finding them again; a different X (same shape)
    is not mistaken for it."""
    cfg = hardware(tile_rows=32, tile_cols=16, dac_scale=dac_scale)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40, 50)) * rng.uniform(0.1, 3.0, 50)  # columns' scales vary
    dY = rng.standard_normal((40, 6))
    W = rng.standard_normal((6, 50)) * 0.1
    grads = []
    for reuse in (True, False):
        m = _attach(_mlp(n_in=50, n_out=6), cfg)
        b = m.backend
        b.forward("fc1", W, X)
        if not reuse:
            b._col_peaks.clear()
        grads.append(b.gradient("fc1", dY, X))
        assert not b._col_peaks                     # taken once
    assert np.array_equal(grads[0], grads[1])
    m = _attach(_mlp(n_in=50, n_out=6), cfg)
    m.backend.forward("fc1", W, X)
    other = X * 2.0
    assert not np.array_equal(m.backend._row_peaks("fc1", "gradient", other.T)[0],
                              np.max(np.abs(X), axis=0))


@pytest.mark.parametrize("optical", ["ideal", "twin"])
def test_backward_reuses_the_forward_rings_re_tiled(optical):
    """transposed_transfers(transfers(a)) is transfers(a.T) exactly (rings hold one
    weight each; padding = weight 0), for shapes that pad both tilings; with ring
    crosstalk it declines (the rings are coupled)."""
    from cosim.hw.backend import readout_characterization
    from cosim.hw.photonic import PhotonicTiles

    char = readout_characterization(load_design("bplight"))
    rng = np.random.default_rng(4)
    for crosstalk in (False, True):
        tiles = PhotonicTiles(tile_rows=16, tile_cols=4, dac_bits=16, adc_bits=16,
                              optical_engine=optical, electrical_engine="ideal",
                              noise=False, characterization=char,
                              laser_power_per_channel_w=None, crosstalk=crosstalk)
        for m, k in ((7, 37), (20, 3), (1, 5)):
            a = rng.uniform(-1, 1, (m, k))
            got = tiles.transposed_transfers(tiles.transfers(a), m, k)
            if crosstalk and optical == "twin":
                assert got is None
                continue
            expect = tiles.transfers(a.T)
            assert all(g.shape == e.shape and np.array_equal(g, e)
                       for g, e in zip(got, expect)), (m, k)


def test_compiled_ring_response_is_the_optics_models():
    """The bank transfers of the tile (one compiled pass) against cosim.optics'
    weight_to_detuning + ring_powers, over the whole weight range; the gradient's
    one-pass levelled pattern (in the fused product's layout) against signed_levels +
    the level table, exactly."""
    from cosim.hw.backend import readout_characterization
    from cosim.hw.photonic import PhotonicTiles, signed_levels
    from cosim.optics import ring_powers, weight_to_detuning

    tiles = PhotonicTiles(tile_rows=16, tile_cols=4, dac_bits=16, adc_bits=16,
                          optical_engine="twin", electrical_engine="ideal", noise=False,
                          characterization=readout_characterization(load_design("bplight")),
                          laser_power_per_channel_w=None)
    w = np.concatenate([np.linspace(-1, 1, 2001), [-1.0, 0.0, 1.0, 1e-300]])
    through, drop, _ = ring_powers(weight_to_detuning(w, tiles.bank), r1=tiles.bank.r1,
                                   r2=tiles.bank.r2, a=tiles.bank.a)
    got_drop, got_through = (t.transpose(0, 2, 1, 3).reshape(1, -1)[0, :w.size]
                             for t in tiles.transfers(w[None, :]))
    # the optics path goes through delta = arccos(c) and back to cos(delta), sin(delta);
    # the compiled one uses c and sqrt(1 - c^2): rounding apart, ~1e-13 near resonance
    assert np.max(np.abs(got_drop - drop)) < 1e-12
    assert np.max(np.abs(got_through - through)) < 1e-12
    with pytest.raises(ConfigError, match="not finite"):
        tiles.transfers(np.array([[0.5, np.nan]]))
    rng = np.random.default_rng(8)
    for bits in (4, 16):
        for m, k in ((6, 50), (20, 3)):
            a_raw = rng.standard_normal((m, k)) * 3.0
            a_raw[0, :2] = [0.0, -0.0]
            scale = 2.0
            cols, over, heat = tiles.level_transfers(a_raw, scale, bits)
            d, t = cols.tiles()
            a = a_raw / scale
            levelled = signed_levels(np.clip(a, -1, 1), bits)
            expect = tiles.transfers(levelled, levels_bits=bits)
            assert np.array_equal(d, expect[0]) and np.array_equal(t, expect[1])
            assert over == np.count_nonzero(np.abs(a) > 1)
            # the heater power of the pattern's rings: sum max(detuning, 0) / efficiency
            # of the levelled weights by the single-ring inverse map
            direct = np.sum(np.maximum(weight_to_detuning(levelled, tiles.bank), 0.0)) \
                / tiles.heater_efficiency
            assert heat == pytest.approx(direct, rel=1e-12) and heat > 0
            # a transposed view (the gradient's dY.T) reads the same
            again, _, _ = tiles.level_transfers(np.ascontiguousarray(a_raw.T).T, scale,
                                                bits)
            assert np.array_equal(again.both, cols.both)
            # the product takes either layout, with the same result
            u = rng.uniform(-1, 1, (9, k))
            c1 = dict.fromkeys(("samples", "saturated_tia", "clipped_adc",
                                "below_noise_floor"), 0)
            c2 = dict(c1)
            y1 = tiles.matmul_transfers(u, cols, rng=None, counts=c1, outputs=m)
            y2 = tiles.matmul_transfers(u, (d, t), rng=None, counts=c2, outputs=m)
            assert np.array_equal(y1, y2) and c1 == c2
    # a weight state in one pass: the transfers of clip(a_raw / scale), bit for bit,
    # its saturated count and the heater power of its real rings (padding excluded)
    for m, k in ((6, 50), (20, 3), (5, 16)):
        a_raw = rng.standard_normal((m, k)) * 3.0
        a_raw[0, :2] = [0.0, -0.0]
        for view in (a_raw, np.ascontiguousarray(a_raw.T).T):
            cols, over, heat = tiles.ring_columns(view, 2.0)
            a = np.clip(a_raw / 2.0, -1, 1)
            d, t = cols.tiles()
            expect = tiles.transfers(a)
            assert np.array_equal(d, expect[0]) and np.array_equal(t, expect[1])
            assert over == np.count_nonzero(np.abs(a_raw / 2.0) > 1)
            direct = np.sum(weight_to_detuning(a, tiles.bank)) / tiles.heater_efficiency
            assert heat == pytest.approx(direct, rel=1e-12) and heat > 0
            # the transposed copy re-read from the state: the rings of a.T, exactly
            back = tiles.transposed_columns(cols, k)
            again, _, _ = tiles.ring_columns(np.ascontiguousarray(a_raw.T), 2.0)
            assert back.shape == again.shape and back.zero == again.zero
            assert np.array_equal(back.both, again.both)
    with pytest.raises(ConfigError, match="not finite"):
        tiles.ring_columns(np.array([[0.5, np.nan]]), 1.0)
    tiles.optical_engine = "ideal"
    assert tiles.level_transfers(a_raw, scale, 16) is None
    assert not tiles.ring_columns_apply(*a_raw.shape)


def test_readout_curve_fast_path_is_numpys_interp_bit_for_bit():
    from cosim.hw.backend import readout_characterization
    from cosim.hw.photonic import UniformCurve

    ch = readout_characterization(load_design("bplight"))
    curve = UniformCurve.from_table(ch.dc_current_a, ch.dc_output_v)
    assert curve is not None
    xp = ch.dc_current_a
    rng = np.random.default_rng(0)
    for x in (rng.uniform(1.3 * xp[0], 1.3 * xp[-1], 20000), xp, np.nextafter(xp, 1),
              np.nextafter(xp, -1), np.array([xp[0], xp[-1], 0.0, -1.0, 1.0])):
        assert np.array_equal(curve(x), np.interp(x, xp, ch.dc_output_v))
    assert UniformCurve.from_table(xp ** 3, ch.dc_output_v) is None     # not uniform


@pytest.mark.parametrize("wire,drv,sense", [(50.0, 100.0, 100.0), (1.48, 0.0, 0.0),
                                            (0.0, 100.0, 100.0), (0.0, 0.0, 0.0),
                                            (2.0, 100.0, 0.0)])
def test_crossbar_transfer_matrix_equals_the_native_solver(wire, drv, sense):
    """read_transfer (batched block elimination / nodal analysis) against the native MNA
    solver of the same read netlist (itself tested against ngspice), several tiles at
    once, 1e-12 of the largest current."""
    from cosim.hw.crossbar import crossbar_solver
    from cosim.hw.crossbar_tile import read_transfer

    rng = np.random.default_rng(2)
    g = rng.uniform(5e-7, 5e-4, (3, 12, 7))
    v = rng.uniform(-0.2, 0.2, (9, 12))
    m_all = read_transfer(g, wire_resistance_ohm=wire, driver_resistance_ohm=drv,
                          sense_resistance_ohm=sense)
    for t in range(3):
        ref = crossbar_solver(g[t], wire, drv, sense).solve(v)
        assert np.max(np.abs(v @ m_all[t] - ref)) <= 1e-12 * np.max(np.abs(ref))
    if wire > 0:      # the wires matter: far from the ideal array
        assert np.max(np.abs(v @ m_all[0] - v @ g[0])) > 1e-6 * np.max(np.abs(v @ g[0]))


def test_electronic_twin_product_equals_per_tile_native_solves():
    """A 100 -> 20 layer on 64 x 8 tiles (2 x 3 tiles, padded), noise off: the product
    with the transfer matrices equals a per-tile reference built from the native solver
    (crossbar_solver), converters included."""
    from cosim.devices.converters import dequantize, quantize
    from cosim.hw.crossbar import crossbar_solver

    m = _attach(_mlp(n_in=100, n_out=20), hardware("electronic", noise=False, tile_rows=64, tile_cols=8,
        dac_scale="call"))                   # one input full scale, max|X| (as below)
    t = m.backend.tiles
    W = np.array(m.store.weight("fc1"))
    X = np.random.default_rng(5).standard_normal((16, 100))
    y = m.backend.forward("fc1", W, X)
    # reference: same DAC and mapping, one native solve per tile and polarity
    s_x, a = np.max(np.abs(X)), np.clip(W / m.store.w_max("fc1"), -1, 1)
    from cosim.hw.photonic import signed_levels
    u = signed_levels(X / s_x, 16)
    span = t.g_max - t.g_min
    pad = np.zeros((128, 24))
    pad[:100, :20] = a.T
    ref = np.zeros((16, 24))
    for j in range(2):
        v = np.zeros((16, 64))
        seg = u[:, j * 64:(j + 1) * 64]
        v[:, :seg.shape[1]] = seg * t.v_read
        for i in range(3):
            blk = pad[j * 64:(j + 1) * 64, i * 8:(i + 1) * 8]
            cur = sum(sgn * crossbar_solver(t.g_min + span * np.maximum(sgn * blk, 0),
                                            **t._options()).solve(v) for sgn in (1, -1))
            codes, _ = quantize(t.z_ohm * cur, bits=16, full_scale_v=t.adc_fs_v)
            vq = dequantize(codes, bits=16, full_scale_v=t.adc_fs_v)
            ref[:, i * 8:(i + 1) * 8] += (vq / t.z_ohm) / (t.v_read * span)
    ref = ref[:, :20] * s_x * m.store.w_max("fc1")
    assert np.max(np.abs(y - ref)) <= 1e-12 * np.max(np.abs(ref))


# ------------------------------------------------------------------ readout design choice
@pytest.mark.parametrize("electrical", ["ideal", "twin"])
def test_readout_averaging_is_the_mean_of_independent_reads(electrical):
    """readout_averaging = 16: one conversion has the noise of the mean of 16 single
    reads (readout noise + RIN, electrical "ideal" = RIN alone), i.e. sigma / 4.
    Statistical: sample variances of n = 20000 conversions per output; the log of a
    variance ratio has sd sqrt(2/n1 + 2/n2), the bound is 5 sd."""
    from cosim.hw.backend import readout_characterization
    from cosim.hw.photonic import PhotonicTiles
    from cosim.optics import rin_sigma

    char = readout_characterization(load_design("bplight"))
    tiles = {a: PhotonicTiles(tile_rows=16, tile_cols=4, dac_bits=16, adc_bits=24,
                              optical_engine="ideal", electrical_engine=electrical,
                              noise=True, characterization=char,
                              laser_power_per_channel_w=None, averaging=a)
             for a in (1, 16)}
    sigma1 = rin_sigma(rin_db_per_hz=-140.0, bandwidth_hz=char.noise_bandwidth_hz)
    assert tiles[1].rin_sigma == sigma1
    assert tiles[16].rin_sigma == pytest.approx(sigma1 / 4, rel=1e-15)
    assert tiles[16].symbol_period_s == pytest.approx(16 / char.spec.adc_sample_rate_hz)
    rng = np.random.default_rng(5)
    u = rng.uniform(-1, 1, (1, 16))
    a = rng.uniform(-1, 1, (4, 16))
    n = 20000

    def conversions(t, rows, seed):
        counts = dict.fromkeys(("samples", "saturated_tia", "clipped_adc",
                                "below_noise_floor"), 0)
        y = t.matmul_transfers(np.repeat(u, rows, axis=0), t.transfers(a),
                               rng=np.random.default_rng(seed), counts=counts)
        assert counts["saturated_tia"] == counts["clipped_adc"] == 0
        return y

    y16 = conversions(tiles[16], n, 1)
    y1 = conversions(tiles[1], 16 * n, 2)
    mean_of_16 = y1.reshape(n, 16, 4).mean(axis=1)
    var16, var_mean, var1 = (np.var(y, axis=0, ddof=1) for y in (y16, mean_of_16, y1))
    sd = np.sqrt(2 / (n - 1) + 2 / (n - 1))
    assert np.all(np.abs(np.log(var16 / var_mean)) < 5 * sd), (var16, var_mean)
    sd = np.sqrt(2 / (n - 1) + 2 / (16 * n - 1))
    assert np.all(np.abs(np.log(var1 / var16 / 16)) < 5 * sd), var1 / var16
    # the noise is real and far above the 24-bit ADC step, not quantization
    assert np.all(np.sqrt(var16) > 100 * char.spec.adc_full_scale_v / 2 ** 24 /
                  (char.spec.responsivity_a_per_w * tiles[16].g * tiles[16].p_bank_w *
                   abs(char.gain_ohm)))


def test_bplight_reads_out_through_its_designed_tia_and_electronic_through_tia():
    """The bplight design's readout is devices/tia_bplight.toml, the electronic design's
    the published-TIA card; the design value tia_card swaps either."""
    from cosim.devices.cards import load_card
    from cosim.hw.backend import readout_characterization

    assert load_design("bplight")["tia_card"] == "tia_bplight"
    assert load_design("electronic")["tia_card"] == "tia"
    rf = {name: float(load_card(name)["feedback_resistance_ohm"])
          for name in ("tia", "tia_bplight")}
    assert rf["tia"] != rf["tia_bplight"]
    for name, values, want in (("bplight", {}, "tia_bplight"), ("electronic", {}, "tia"),
                               ("bplight", {"tia_card": "tia"}, "tia"),
                               ("electronic", {"tia_card": "tia_bplight"}, "tia_bplight")):
        spec = readout_characterization(load_design(name, values)).spec
        assert spec.feedback_resistance_ohm == rf[want], (name, values)
    m = _attach(_mlp(), hardware("bplight", noise=False))
    assert m.backend.tiles.spec.feedback_resistance_ohm == rf["tia_bplight"]
    assert m.backend.tiles.averaging == int(load_design("bplight")["readout_averaging"])
    m = _attach(_mlp(), hardware("bplight", noise=False, tia_card="tia"))
    assert m.backend.tiles.spec.feedback_resistance_ohm == rf["tia"]


def test_device_store_clips_huge_updates_and_drops_non_finite_ones():
    """A request beyond +-2 w_max acts as +-2 w_max (the pair's full span); NaN and inf
    apply no pulses: the same devices and draws as the clipped request, entry by entry."""
    from cosim.devices.programming import params_from_card

    params = params_from_card("rram_array")
    w0 = np.random.default_rng(1).uniform(-1, 1, (4, 3))
    stores = [DeviceWeightStore(params, np.random.default_rng(0), headroom=2.0)
              for _ in range(2)]
    for s in stores:
        s.set_weight("fc", w0)
    w_max = stores[0].w_max("fc")
    delta = np.full(w0.shape, 0.1 * w_max)
    delta[0, 0], delta[1, 1], delta[2, 2], delta[3, 0] = np.nan, np.inf, 1e6 * w_max, -np.inf
    clipped = delta.copy()
    clipped[0, 0] = clipped[1, 1] = clipped[3, 0] = 0.0
    clipped[2, 2] = 2 * w_max
    before = np.array(stores[0].weight("fc"))
    stores[0].apply_update("fc", delta)
    stores[1].apply_update("fc", clipped)
    after = np.array(stores[0].weight("fc"))
    assert np.all(np.isfinite(after))
    assert np.array_equal(after, np.array(stores[1].weight("fc")))
    assert stores[0].pulses_applied == stores[1].pulses_applied > 0
    for ij in ((0, 0), (1, 1), (3, 0)):
        assert after[ij] == before[ij]
    assert after[2, 2] > before[2, 2]
