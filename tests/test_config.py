"""Run configuration: TOML loading, validation errors, dotted overrides, canonical text."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from cosim.config import (RunConfig, TrainingConfig, apply_overrides, load_config,
                          override_config, parse_override)
from cosim.errors import ConfigError
from cosim.hw.backend import HardwareConfig

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_round_trip_json_and_toml():
    c = RunConfig()
    assert isinstance(c.hardware, HardwareConfig)
    assert RunConfig.from_json(c.to_json()) == c
    assert RunConfig.from_dict(tomllib.loads(c.to_toml())) == c
    # canonical: same content gives the same text and digest, a change changes both
    assert RunConfig().to_json() == c.to_json()
    d = override_config(c, ["design.converters.adc_bits=4"])
    assert d.design.set == {"converters.adc_bits": 4} and d.digest() != c.digest()
    assert d.design.resolve()["converters.adc_bits"] == 4


def test_shipped_workflow_config_loads():
    c = load_config(ROOT / "workflows" / "configs" / "lenet_digits.toml")
    assert c.design.name == "bplight"
    d = c.design.resolve()
    assert d["converters.adc_bits"] == 16 and d["converters.dac_bits"] == 16
    assert 0 < c.hardware.spot_check < 1


@pytest.mark.parametrize("text, path", [
    ("bogus = 1\n", "bogus"),
    ("[training]\nepoch = 3\n", "training.epoch"),
    ("[hardware]\nnoize = true\n", "hardware.noize"),
    ("[data]\ndataset = 'digits'\n[data.extra]\nx = 1\n", "data.extra"),
])
def test_unknown_keys_are_named_by_dotted_path(tmp_path, text, path):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    msg = str(exc.value)
    assert repr(path) in msg and str(f) in msg and "valid keys" in msg


@pytest.mark.parametrize("override, fragment", [
    ("training.epochs='3'", "training.epochs must be an integer"),
    ("training.epochs=0", "training.epochs must be an integer in [1, 100000], got 0"),
    ("training.lr=-1", "training.lr"),
    ("training.momentum=1.0", "training.momentum"),
    ("model.name=resnet", "model.name must be one of"),
    ("design.name=analog", "unknown design 'analog'"),
    ("design.tile=mrr", "unknown tile 'mrr'"),
    ("design.tile_rowz=3", "did you mean 'tile_rows'"),
    ("hardware.adc_bits=4", "hardware.adc_bits is a design value now: set "
                            "design.converters.adc_bits"),
    ("hardware.noise=1", "hardware.noise must be true or false"),
    ("design.dac_scale=vector", "dac_scale = 'vector'; choose one of row, call"),
    ("training.lr_schedule=step", "training.lr_schedule"),
    ("design.converters.adc_bits=0", "adc_bits"),
    ("data.test_fraction=1.5", "data.test_fraction"),
    ("seed=-3", "seed"),
    ("numerics.blas_threads=0", "numerics.blas_threads"),
])
def test_bad_values_are_refused_with_the_field(override, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(None, [override])


def test_overrides_parse_toml_values_and_bare_words():
    assert parse_override("design.converters.adc_bits=4") == \
        (["design", "converters", "adc_bits"], 4)
    assert parse_override("hardware.noise=false") == (["hardware", "noise"], False)
    assert parse_override("design.name=electronic") == (["design", "name"], "electronic")
    assert parse_override("training.lr=1e-3") == (["training", "lr"], 1e-3)
    c = load_config(None, ["design.converters.adc_bits=4",
                           "design.laser_power_per_channel_w=1e-5",
                           "training.lr=0.01", "design.tia_card=tia"])
    d = c.design.resolve()
    assert d["converters.adc_bits"] == 4 and d["laser_power_per_channel_w"] == 1e-5
    assert c.training.lr == 0.01 and d.role_card("tia").name == "tia"
    with pytest.raises(ConfigError, match="section.key=value"):
        parse_override("design.converters.adc_bits")
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides({"seed": 1}, ["seed.x=1"])


def test_design_table_in_toml_and_old_run_file_configs(tmp_path):
    """``[design]`` takes the name and dotted values (nested tables too); an old run
    file's physical ``[hardware]`` keys are translated into the design."""
    f = tmp_path / "c.toml"
    f.write_text('[design]\nname = "electronic"\ntile_rows = 32\n[design.tia]\n'
                 'feedback_resistance_ohm = 1000.0\n')
    c = load_config(f)
    assert c.design.name == "electronic"
    assert c.design.set == {"tia.feedback_resistance_ohm": 1000.0, "tile_rows": 32}
    assert RunConfig.from_dict(tomllib.loads(c.to_toml())) == c
    old = RunConfig().to_dict()
    old.pop("design")
    old["hardware"].update(architecture="electronic", adc_bits=8, tile_rows=32,
                           wire_resistance_ohm=2.5, cards={"tia": "tia_bplight"})
    import json
    legacy = RunConfig.from_json(json.dumps(old))
    assert legacy.design.name == "electronic"
    d = legacy.design.resolve()
    assert (d["converters.adc_bits"], d["tile_rows"], d["tia_card"]) == (8, 32, "tia_bplight")
    assert d["crossbar.wire_resistance_crosspoint_ohm"] == 2.5
    with pytest.raises(ConfigError, match="design value now"):
        RunConfig.from_dict(old)


def test_file_then_overrides_in_order(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("seed = 5\n[training]\nepochs = 7\n[design.converters]\nadc_bits = 8\n")
    c = load_config(f, ["design.converters.adc_bits=6", "design.converters.adc_bits=5"])
    assert (c.seed, c.training.epochs, c.design.set["converters.adc_bits"]) == (5, 7, 5)
    assert c.training.batch_size == TrainingConfig().batch_size


def test_frozen_and_type_checked_sections():
    c = RunConfig()
    with pytest.raises(AttributeError):
        c.seed = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="RunConfig.training must be a TrainingConfig"):
        RunConfig(training={"epochs": 3})  # type: ignore[arg-type]


def test_bad_toml_and_missing_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("seed = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
