"""Noise spot check (cosim.hw.noise_check): the twin's readout noise (TIA, shot, thermal,
RIN) against an ngspice transient driven by reproducible PWL noise of the same cards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.hw.noise_check import band_factors, noise_spot_check
from cosim.hw.photonic import PhotonicTiles
from cosim.readout import ReadoutSpec, characterize
from cosim.store import ResultCache


@pytest.fixture(scope="module")
def tiles(tmp_path_factory, engine):
    spec = ReadoutSpec.from_cards(tia="tia_bplight")
    char = characterize(spec, cache=ResultCache(tmp_path_factory.mktemp("noise-cache")),
                        engine=engine)
    return PhotonicTiles(tile_rows=16, tile_cols=4, dac_bits=16, adc_bits=16,
                         optical_engine="twin", electrical_engine="twin", noise=True,
                         characterization=char, laser_power_per_channel_w=None,
                         spice_engine=engine, averaging=16)


def test_band_factors_limits(tiles):
    """The PWL band passes everything as dt -> 0 and less as dt grows."""
    k0 = band_factors(tiles.char, 1e-15)
    assert k0 == pytest.approx((1.0, 1.0), abs=1e-4)
    k = band_factors(tiles.char, 100e-12)
    assert all(0.5 < x < 1.0 for x in k)
    assert all(x < y for x, y in zip(band_factors(tiles.char, 200e-12), k))


def test_twin_and_spice_noise_std_agree(tiles, engine, figures):
    """Acceptance: one lit input of one tile read 10000 times (1 us per output) by
    ngspice and 200000 times by the twin: std ratio (mapped onto the PWL band) within
    0.9 .. 1.1 for each checked output."""
    rng = np.random.default_rng(20240917)
    a = rng.uniform(-1, 1, (4, 16))
    drop, through = tiles.transfers(a)
    p = rng.uniform(0, 1, 16) * tiles.p_bank_w
    check = noise_spot_check(tiles, p, drop[0, 0][:2], through[0, 0][:2], rng=rng,
                             engine=engine)
    for j, r in enumerate(check.ratio):
        figures(f"noise_std_ratio_{j}", float(r))
    assert check.spice_reads == 10000 and check.twin_reads == 200000
    assert np.all((check.ratio > 0.9) & (check.ratio < 1.1)), check.ratio
    # the raw ratio differs by the band factor: the check measures something
    assert np.all(check.band_factor < 0.97)
    assert "noise spot check" in check.netlist and "pwl" in check.netlist.lower()
    assert np.all(np.abs(check.read_correlation) < 1)


def test_tile_spot_check_records_the_ratio(tiles):
    """With noise_check_reads set, the tile's spot check carries a noise_std_ratio
    (plumbing: 400 reads, too few for the 0.9 .. 1.1 band, so only a loose bound)."""
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (4, 16))
    loaded = tiles.load(a, 1.0, "forward")
    u = np.round(rng.uniform(-1, 1, (3, 16)) * 65535) / 65535
    samples: dict = {}
    counts = dict.fromkeys(("samples", "saturated_tia", "clipped_adc",
                            "below_noise_floor"), 0)
    tiles.matmul(u, loaded, rng=rng, counts=counts, samples=samples)
    tiles.noise_check_reads = 400
    try:
        spot = tiles.circuits(loaded, u, samples, spot=True).spot
    finally:
        tiles.noise_check_reads = 0
    assert spot.noise_std_ratio is not None and math.isfinite(spot.noise_std_ratio)
    assert 0.5 < spot.noise_std_ratio < 2.0
