"""The tile registry (cosim.hw.registry.TILES): every registered tile implements the
Tile protocol and computes the three products of a layer; names are checked; the backend
and the orchestrator know tiles and backends only through their protocols."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.config import load_config
from cosim.design import ROLES, load_design
from cosim.errors import ConfigError
from cosim.hw import TILES, Recorder, Tile, build_hardware, tile_class
from cosim.nn import Linear, Sequential
from tests.helpers import hardware

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


@pytest.mark.parametrize("name", sorted(TILES))
def test_every_registered_tile_implements_the_protocol_and_computes_each_phase(name):
    """Noise off, exact electrical readout, 16-bit converters, a 20 -> 6 layer on 8 x 4
    tiles (padded both ways):
    forward, backward and gradient are within a few 1e-3 of the exact products, and
    the backend is the run's Recorder."""
    model = Sequential([Linear("fc1", 20, 6)], input_shape=(20,))
    model.initialize(np.random.default_rng(0))
    cfg, design = hardware(name, noise=False, tile_rows=8, tile_cols=4,
                           electrical_engine="ideal")   # (crossbar: no driver/sense IR drop)
    backend, store = build_hardware(cfg, model, np.random.default_rng(1), design=design)
    assert isinstance(backend.tiles, Tile) and isinstance(backend, Recorder)
    assert set(tile_class(name).card_roles) <= set(ROLES)
    rng = np.random.default_rng(2)
    W = np.array(store.weight("fc1"))
    X = rng.standard_normal((9, 20))
    dY = rng.standard_normal((9, 6))
    backend.set_step(1)
    for got, exact in ((backend.forward("fc1", W, X), X @ W.T),
                       (backend.backward("fc1", W, dY), dY @ W),
                       (backend.gradient("fc1", dY, X), dY.T @ X)):
        assert got.shape == exact.shape
        err = np.linalg.norm(got - exact) / np.linalg.norm(exact)
        assert err < 5e-3, (name, err)
    # an ideal photonic readout is no circuit; the crossbar's ideal array is one
    recs = backend.circuit_records()
    assert {r["phase"] for r in recs} == (
        {"forward", "backward", "gradient"} if name == "electronic" else set())
    rows = backend.stats_table()
    assert {r["phase"] for r in rows} == {"forward", "backward", "gradient"}
    assert backend.stats_table() == []


def test_unknown_tile_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError, match="unknown tile 'mrr'; choose ideal or a registered "
                                          "tile: bplight, electronic"):
        load_design("bplight", {"tile": "mrr"})
    with pytest.raises(ConfigError, match="electronic"):
        load_config(None, ["design.name=nope"])
    with pytest.raises(ConfigError, match="registered tiles: .*bplight"):
        tile_class("nope")


def test_backend_and_orchestrator_use_only_the_protocols():
    backend = (ROOT / "cosim/hw/backend.py").read_text()
    assert not re.search(r"isinstance\([^)]*tiles|hasattr\([^)]*tiles|tiles\._", backend)
    assert "PhotonicTiles" not in backend and "CrossbarTiles" not in backend
    assert "_call(" not in (ROOT / "cosim/orchestrator/run.py").read_text()
