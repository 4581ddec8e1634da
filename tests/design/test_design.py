"""The accelerator design: resolution, overrides, records without card files, and the
design driving training, the run file and resume."""

from __future__ import annotations

import json
import os
import signal

import h5py
import numpy as np
import pytest

from cosim.config import load_config
from cosim.design import DESIGNS, ROLES, Design, load_design
from cosim.devices.cards import card_text, load_card
from cosim.errors import ConfigError
from cosim.orchestrator import TrainingInterrupted, train
from cosim.store.runs import RunFile
from tests.helpers import attach, hardware

TINY = ["model.width=0.25", "data.train_limit=64", "data.test_limit=32",
        "training.batch_size=32", "training.epochs=2", "training.signal_every_steps=0",
        "training.error_probe_every_steps=0", "design.tile_rows=16", "design.tile_cols=8"]


@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_shipped_design_resolves_with_a_provenance_for_every_value(name):
    d = load_design(name)
    assert set(d.cards) == set(ROLES)
    for key in d.values():
        assert d.provenance(key)               # a source, or "ASSUMPTION: ..." with a reason
    text = d.show()
    assert f"design {name}" in text and "converters.adc_bits = 16" in text
    assert " W\n" in text or " W" in text      # units are printed


def test_overrides_of_design_values_card_values_and_card_choices():
    base = load_design("bplight")
    d = base.with_overrides(["tile_rows=32", "tia.feedback_resistance_ohm=1000",
                             "tia_card=tia"])
    # the card choice applies first, then its value: the override is on the tia card
    assert d.role_card("tia").name == "tia" and d["tia.feedback_resistance_ohm"] == 1000
    assert d["tile_rows"] == 32 and d.provenance("tile_rows") == "ASSUMPTION: user override"
    changed = {k for k, _, _ in d.differences(base)}
    assert {"tile_rows", "tia_card", "tia.feedback_resistance_ohm"} <= changed
    assert d.digest() != base.digest() and base["tile_rows"] == 64   # frozen copies
    with pytest.raises(ConfigError, match="did you mean 'tile_rows'"):
        base.with_overrides(["tile_rowz=3"])
    with pytest.raises(ConfigError, match="did you mean 'feedback_resistance_ohm'"):
        base.with_overrides(["tia.feedback_resistance_ohms=3"])
    with pytest.raises(ConfigError, match="choose one of tile, digital"):
        base.with_overrides(["gradient_on=optical"])


def test_record_rebuilds_the_design_without_reading_any_card(monkeypatch):
    d = load_design("electronic", ["tile_cols=16", "crossbar.wire_resistance_crosspoint_ohm=2.5"])
    record = json.loads(d.to_json())
    assert set(record["texts"]) == {"design", *ROLES}

    def no_disk(*args, **kwargs):
        raise AssertionError("a card file was read")

    monkeypatch.setattr("cosim.design.model.load_card", no_disk)
    again = Design.from_record(record)
    assert again.differences(d) == [] and again.digest() == d.digest()
    record["texts"]["tia"] = record["texts"]["tia"].replace("80", "81", 1)
    with pytest.raises(ConfigError, match="does not match its sha256"):
        Design.from_record(record)


def test_a_design_card_file_round_trips_and_an_incomplete_one_is_refused(tmp_path):
    d = load_design("bplight", ["readout_averaging=4"])
    f = tmp_path / "mine.toml"
    f.write_text(card_text(d.card))
    mine = load_design(str(f))
    assert mine["readout_averaging"] == 4 and mine.values() == d.values()
    f.write_text(card_text(d.card).split("[params.tile_cols]")[0])
    with pytest.raises(ConfigError, match="missing value.*tile_cols"):
        load_design(str(f))


def test_digital_gradient_is_exact_and_tile_gradient_is_not():
    from cosim.nn import Linear, Sequential

    def model():
        m = Sequential([Linear("fc1", 20, 6)], input_shape=(20,))
        m.initialize(np.random.default_rng(0))
        return m

    rng = np.random.default_rng(1)
    dY, X = rng.standard_normal((9, 6)), rng.standard_normal((9, 20))
    digital = attach(model(), hardware(gradient_on="digital", tile_rows=8, tile_cols=4))
    assert np.array_equal(digital.backend.gradient("fc1", dY, X), dY.T @ X)
    on_tile = attach(model(), hardware(tile_rows=8, tile_cols=4))
    g = on_tile.backend.gradient("fc1", dY, X)
    assert not np.array_equal(g, dY.T @ X) and np.allclose(g, dY.T @ X, atol=0.05)


def test_training_uses_the_design_and_the_run_file_stores_it(tmp_path):
    cfg = load_config(None, TINY + ["training.epochs=1", "training.max_steps=1"])
    r = train(cfg, tmp_path / "run.h5", quiet=True)
    stored = RunFile(r.path).read_design()
    assert stored.differences(cfg.design.resolve()) == []
    assert stored["tile_rows"] == 16 and stored.name == "bplight"
    with h5py.File(r.path) as f:      # checkpoint arrays under their names
        group = f["checkpoints/latest/trainer"]
        assert group.attrs["layout"] == "named"
        names: list[str] = []
        group["arrays"].visit(names.append)
        assert not any(n.startswith("a0") for n in group)
    assert any(n.endswith("conv1") for n in names), names


def _interrupted_run(tmp_path, cfg, name="split.h5"):
    def interrupt_at_1(step, row):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        train(cfg, tmp_path / name, quiet=True, on_step=interrupt_at_1)
    return tmp_path / name


def test_resume_refuses_a_changed_card_naming_the_value_then_records_an_allowed_change(
        tmp_path):
    card = tmp_path / "my_tia.toml"
    card.write_text(card_text(load_card("tia_bplight")))
    cfg = load_config(None, TINY + [f"design.tia_card='{card}'"])
    path = _interrupted_run(tmp_path, cfg)
    card.write_text(card_text(load_card("tia_bplight").with_values(
        feedback_resistance_ohm=510.0)))
    with pytest.raises(ConfigError, match=r"tia.feedback_resistance_ohm: 500.0 in the run "
                                          r"file, 510.0 now.*--allow-design-change"):
        train(None, path, resume=True, quiet=True)
    done = train(None, path, resume=True, quiet=True, allow_design_change=True)
    assert done.steps == 4
    run = RunFile(path)
    assert run.read_design()["tia.feedback_resistance_ohm"] == 510.0
    (change,) = json.loads(run.table("design_changes")["changes"][0])
    assert change == ["tia.feedback_resistance_ohm", 500.0, 510.0]


def test_a_run_file_without_its_cards_still_shows_and_resumes_bit_identically(tmp_path):
    card = tmp_path / "my_design.toml"
    card.write_text(card_text(load_design("bplight").card))
    cfg = load_config(None, TINY + [f"design.name='{card}'"])
    straight = train(cfg, tmp_path / "straight.h5", quiet=True)
    path = _interrupted_run(tmp_path, cfg)
    card.unlink()                         # the run file goes where the card is not
    assert RunFile(path).read_design()["tile_rows"] == 16
    resumed = train(None, path, resume=True, quiet=True)
    a, b = RunFile(straight.path), RunFile(resumed.path)
    assert np.array_equal(a.table("metrics/step")["loss"], b.table("metrics/step")["loss"])
    wa, wb = a.checkpoint().trainer["arrays"], b.checkpoint().trainer["arrays"]
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_checkpoints_of_the_previous_layout_still_read(tmp_path):
    """A state group written as a0, a1, ... with a key list (files before named
    arrays) reads back to the same arrays."""
    from cosim.store.runs import _read_state, array_checksum, dumps

    arrays = {"store/conv1": np.arange(6.0).reshape(2, 3), "opt/v": np.ones(2)}
    with h5py.File(tmp_path / "old.h5", "w") as f:
        g = f.create_group("trainer")
        keys = sorted(arrays)
        for i, key in enumerate(keys):
            ds = g.create_dataset(f"a{i}", data=arrays[key])
            ds.attrs["sha256"] = array_checksum(key, arrays[key])
        g.attrs["keys"] = json.dumps(keys)
        g.attrs["meta"] = dumps({})
        problems: list[str] = []
        state = _read_state(g, None)
        assert all(np.array_equal(state["arrays"][k], arrays[k]) for k in arrays)
        assert problems == []


def test_the_design_names_the_weight_device_and_policy_and_eval_after_drifts(tmp_path):
    """A design with a weight-device card and another update policy trains on a store of
    that policy; the run file holds the device card; `eval --after` lets it drift."""
    from cosim.hw.policies import UPDATE_POLICIES
    from cosim.orchestrator.evaluate import evaluate

    cfg = load_config(None, TINY + ["training.epochs=1", "training.max_steps=2",
                                    "design.weight_device=weight_rram_realdevice",
                                    "design.update_policy=mixed-precision"])
    r = train(cfg, tmp_path / "dev.h5", quiet=True)
    design = RunFile(r.path).read_design()
    assert design.weight_device().name == "weight_rram_realdevice"
    from cosim.orchestrator.run import prepare

    prep = prepare(cfg, design=design)
    assert isinstance(prep.store, UPDATE_POLICIES["mixed-precision"])
    # the policy's settings come from the design values (the class defaults differ)
    assert design["mixed_precision_verify"] is True and prep.store.verify is True
    assert prep.store.refresh_threshold == design["mixed_precision_refresh"]
    now = evaluate(r.path)
    later = evaluate(r.path, after_s=365.25 * 86400)
    assert later.after_s > 0 and 0 <= later.accuracy <= 1
    assert now.accuracy == evaluate(r.path, after_s=0.0).accuracy
