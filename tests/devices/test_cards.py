"""Device cards: units converted with pint when the dimension is right and refused when
it is not, parameter names checked against the card's kind (with the closest valid name
suggested), and a broken card refused with exit status 2 by every command that reads
one.  Subprocesses run ``cosim`` as a user does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cosim.devices.cards import (
    CARD_KINDS,
    card_kind,
    kind_parameters,
    list_cards,
    load_card,
    parse_card,
)
from cosim.errors import CardError
from cosim.readout import ReadoutSpec
from tests.cli.test_cli_errors import TINY_TRAIN, cosim, one_line_error

ROOT = Path(__file__).resolve().parents[2]


def _card_text(name: str, param: str, value: str, unit: str) -> str:
    """Text of the shipped card ``name`` with ``param`` given as ``value`` in ``unit``."""
    text = (ROOT / "devices" / f"{name}.toml").read_text(encoding="utf-8")
    pat = re.compile(rf"(\[params\.{param}\]\nvalue = )[^\n]+\nunit = \"[^\"]*\"")
    assert pat.search(text), (name, param)
    return pat.sub(lambda m: f'{m.group(1)}{value}\nunit = "{unit}"', text, count=1)


def _user_card(tmp_path: Path, name: str, param: str, value: str, unit: str) -> Path:
    path = tmp_path / f"{name}_{param}_{unit.replace('/', '_per_')}.toml"
    path.write_text(_card_text(name, param, value, unit), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ conversion
def test_kohm_card_gives_the_same_readout_as_the_si_card(tmp_path):
    kohm = _user_card(tmp_path, "tia", "feedback_resistance_ohm", "80", "kohm")
    # what the readout consumes, exactly
    assert ReadoutSpec.from_cards(tia=kohm) == ReadoutSpec.from_cards(tia="tia")
    p = load_card(kohm, kind="tia").params["feedback_resistance_ohm"]
    assert (p.value, p.unit, p.given) == (80e3, "ohm", "80 kohm")
    # and the netlist a user builds from the card, byte for byte
    outs = []
    for card in (ROOT / "devices" / "tia.toml", kohm):
        out = tmp_path / f"{card.stem}.cir"
        proc = cosim("netlist", "build", "readout", "--tia-card", card, "-o", out)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1]


@pytest.mark.parametrize("card,param,value,unit,si", [
    ("optics", "wavelength0_m", "1550", "nm", 1.55e-6),
    ("optics", "radius_m", "10", "um", 10e-6),
    ("optics", "loss_db_per_m", "2", "dB/cm", 200.0),
    ("optics", "detuning_fraction_of_spacing", "50", "%", 0.5),
    ("tia", "temperature_k", "27", "degC", 300.15),
    ("tia", "input_noise_current_a_per_rthz", "1.9475", "pA/sqrt(Hz)", 1.9475e-12),
    ("tia", "feedback_capacitance_f", "1.105", "fF", 1.105e-15),
    ("photodetector", "responsivity_a_per_w", "950", "mA/W", 0.95),
])
def test_unit_of_the_same_dimension_is_converted_to_si(card, param, value, unit, si):
    text = _card_text(card, param, value, unit)
    p = parse_card(text, "user.toml", kind=card).params[param]
    assert p.value == pytest.approx(si, rel=1e-15, abs=0)
    assert p.unit == kind_parameters(card)[param] and p.given == f"{value} {unit}"


def test_nm_wavelength_equals_the_si_card_exactly():
    text = _card_text("optics", "wavelength0_m", "1550", "nm")
    assert parse_card(text, kind="optics").values == load_card("optics").values


def test_min_and_max_stay_in_si_when_the_value_unit_changes():
    # the copied card keeps min = 1e-6, max = 100e-6 (m); 10 um is inside
    text = _card_text("optics", "radius_m", "10", "um")
    assert "min = 1e-6\nmax = 100e-6" in text
    assert parse_card(text, kind="optics")["radius_m"] == pytest.approx(1e-5, rel=1e-15)
    with pytest.raises(CardError, match=r"1e-09 m \(the card's 1 nm\) is below the valid "
                                        r"minimum 1e-06 m"):
        parse_card(_card_text("optics", "radius_m", "1", "nm"), kind="optics")


def test_physical_range_applies_after_conversion():
    text = _card_text("tia", "feedback_resistance_ohm", "2e3", "Tohm")
    text = text.replace("max = 1e9\n", "", 1)
    with pytest.raises(CardError, match=r"2000000000000000.0 ohm \(the card's 2000 Tohm\) is outside "
                                        r"the physical range \[0, 1e\+15\] ohm"):
        parse_card(text, kind="tia")


@pytest.mark.parametrize("unit,dimension", [("s", r"\[time\]"), ("kW", r"\[mass\]"),
                                            ("1", "dimensionless")])
def test_unit_of_another_dimension_is_refused(unit, dimension):
    text = _card_text("tia", "feedback_resistance_ohm", "80", unit)
    with pytest.raises(CardError) as exc:
        parse_card(text, "user.toml", kind="tia")
    msg = str(exc.value)
    assert msg.startswith("user.toml: params.feedback_resistance_ohm: ")
    assert f"unit {unit!r} has dimension" in msg and re.search(dimension, msg)
    assert "is a resistance in ohm (dimension [mass] * [length] ** 2" in msg


def test_unknown_unit_and_logarithmic_conversion_are_refused():
    with pytest.raises(CardError, match="unit 'kOhm' is not a unit pint knows"):
        parse_card(_card_text("tia", "feedback_resistance_ohm", "80", "kOhm"), kind="tia")
    # a level in dB/Hz is not proportional to its unit: dB/kHz is not 1e-3 dB/Hz
    with pytest.raises(CardError, match="rin_db_per_hz is a logarithmic quantity in dB/Hz"):
        parse_card(_card_text("laser", "rin_db_per_hz", "-110", "dB/kHz"), kind="laser")


def test_string_value_in_a_prefixed_unit_is_refused():
    with pytest.raises(CardError, match=r"value '80k' in 'kohm' cannot be converted to ohm"):
        parse_card(_card_text("tia", "feedback_resistance_ohm", '"80k"', "kohm"), kind="tia")


def test_wrong_dimension_via_the_cli_exits_2(tmp_path):
    card = _user_card(tmp_path, "tia", "feedback_resistance_ohm", "80", "s")
    out = tmp_path / "r.h5"
    proc = cosim("train", "--set", f"design.tia_card={card}", "--out", out, *TINY_TRAIN)
    one_line_error(proc, str(card), "params.feedback_resistance_ohm", "unit 's'",
                   "[time]", "a resistance in ohm")
    assert not out.exists()


# ----------------------------------------------------------------------------- names
def test_misspelt_parameter_exits_2_with_the_suggestion(tmp_path):
    text = (ROOT / "devices" / "tia.toml").read_text(encoding="utf-8")
    card = tmp_path / "my_tia.toml"
    card.write_text(text.replace("[params.feedback_resistance_ohm]",
                                 "[params.feedback_resistanse_ohm]"), encoding="utf-8")
    out = tmp_path / "r.h5"
    proc = cosim("train", "--set", f"design.tia_card={card}", "--out", out, *TINY_TRAIN)
    one_line_error(proc, str(card), "params.feedback_resistanse_ohm",
                   "a tia card has no parameter 'feedback_resistanse_ohm'",
                   "did you mean 'feedback_resistance_ohm'?")
    assert not out.exists()


def test_name_far_from_every_parameter_lists_the_valid_ones():
    text = (ROOT / "devices" / "photodetector.toml").read_text(encoding="utf-8")
    text = text.replace("[params.bias_v]", "[params.zzz]")
    with pytest.raises(CardError, match=r"no parameter 'zzz'; valid: (\w+, )*bias_v, dark_current_a"):
        parse_card(text, kind="photodetector")


def test_card_of_another_kind_is_refused(tmp_path):
    out = tmp_path / "r.h5"
    proc = cosim("train", "--set", 'design.tia_card="photodetector"', "--out", out,
                 *TINY_TRAIN)
    one_line_error(proc, "device card 'photodetector' is a photodetector card, not a tia "
                         "card", "tia, tia_bplight")


def test_energy_override_of_a_misspelt_name_names_the_closest(tmp_path):
    one_line_error(cosim("energy", "--network", "lenet5", "--set", "tile_rowz=8"),
                   "has no value 'tile_rowz'", "did you mean 'tile_rows'?")


# ------------------------------------------------------------------ card errors exit 2
def test_broken_override_card_exits_2_instead_of_a_nan_check(tmp_path):
    # before: the readout check caught the card error and reported value nan, exit 1
    text = (ROOT / "devices" / "tia.toml").read_text(encoding="utf-8")
    card = tmp_path / "tia_typo.toml"
    card.write_text(text.replace("[params.gbw_hz]", "[params.gbw_hzz]"), encoding="utf-8")
    report = tmp_path / "report"
    proc = cosim("validate", "--only", "readout_noise", "--card", f"tia={card}",
                 "--out", report, "--no-plots")
    one_line_error(proc, str(card), "params.gbw_hzz", "did you mean 'gbw_hz'?")
    assert "nan" not in proc.stdout and not (report / "partial" / "summary.json").exists()


def test_memristor_card_in_kohm_builds_the_same_bench(tmp_path):
    card = _user_card(tmp_path, "memristor_vteam", "r_off_ohm", "1", "kohm")
    outs = []
    for given in (ROOT / "devices" / "memristor_vteam.toml", card):
        out = tmp_path / f"{given.stem}.cir"
        proc = cosim("netlist", "build", "memristor-bench", "--model", "vteam", "--card", given,
                     "-o", out)
        assert proc.returncode == 0, proc.stderr
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    bad = tmp_path / "bad.toml"
    bad.write_text(card.read_text().replace("[params.r_on_ohm]", "[params.r_onn_ohm]"))
    one_line_error(cosim("netlist", "build", "memristor-bench", "--model", "vteam", "--card", bad,
                         "-o", tmp_path / "bad.cir"), "did you mean 'r_on_ohm'?")


# ------------------------------------------------------------------------- registry
@pytest.mark.parametrize("name", list_cards())
def test_every_shipped_card_is_registered_and_matches_its_kind(name):
    kinds = [k for k, names in CARD_KINDS.items() if name in names]
    assert kinds == [card_kind(name)], f"register devices/{name}.toml in CARD_KINDS"
    card = load_card(name)
    assert card.kind == kinds[0]
    units = kind_parameters(kinds[0])
    assert set(card.params) == set(units)
    for p in card.params.values():
        assert p.unit == units[p.name] and p.given is None, (name, p.name)


def test_registry_names_only_shipped_cards_and_coherent_si_units():
    from cosim.devices.cards import _pint_unit

    shipped = set(list_cards())
    for kind, names in CARD_KINDS.items():
        assert names and set(names) <= shipped, kind
        for name, unit in kind_parameters(kind).items():
            # no prefix, no scale: one of the unit is one of its SI base units
            base = (1.0 * _pint_unit(unit, name)).to_base_units()
            assert base.magnitude == pytest.approx(1.0, rel=1e-12), (kind, name, unit)
