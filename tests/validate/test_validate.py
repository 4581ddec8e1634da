"""``cosim validate``: passes on the shipped cards, fails (exit 1, check named) on broken
ones.  Real ngspice, real HDF5 cache (isolated by conftest)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cosim.cli.main import main
from cosim.resources import data_dir
from cosim.validate import list_checks, run_checks


def _broken_card(tmp_path: Path, name: str, param: str, new_value: str) -> Path:
    """Copy of a shipped card with one parameter value replaced (still valid TOML)."""
    text = (data_dir("devices") / f"{name}.toml").read_text(encoding="utf-8")
    pat = re.compile(rf"(\[params\.{param}\]\s*\nvalue\s*=\s*)([^\n]+)")
    assert pat.search(text), f"{param} not in {name}.toml"
    path = tmp_path / f"{name}_broken.toml"
    path.write_text(pat.sub(lambda m: m.group(1) + new_value, text, count=1), encoding="utf-8")
    return path


def test_validate_passes_on_defaults_and_writes_report(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["validate", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    data = json.loads((out / "summary.json").read_text())
    assert data["passed"] and printed["passed"] and data["n_failed"] == 0
    names = [c["name"] for c in data["checks"]]
    assert names == [s.name for s in list_checks()]           # every registered check ran
    devices = {c["device"] for c in data["checks"]}
    assert {"crossbar", "optics", "readout", "photodetector", "converters",
            "rram_array", "memristor_vteam"} <= devices
    for c in data["checks"]:
        assert c["threshold_source"] and c["details"]["metric"]
        assert c["value"] <= c["threshold"], c["name"]
        assert (out / c["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", c["name"]
    html = (out / "index.html").read_text()
    assert "all checks passed" in html and "Threshold source" in html
    assert data["machine"]["cores"] >= 1


def test_broken_photodetector_card_fails_the_quantum_limit(tmp_path, capsys):
    # 2 A/W at 1550 nm is more than one electron per photon (limit 1.25 A/W); the card's
    # own bound (max = 1.25) is dropped too, so the loader accepts it and the physics
    # check has to catch it
    card = _broken_card(tmp_path, "photodetector", "responsivity_a_per_w", "2.0")
    text = card.read_text(encoding="utf-8")
    assert "max = 1.25\n" in text
    card.write_text(text.replace("max = 1.25\n", "", 1), encoding="utf-8")
    rc = main(["validate", "--only", "pd_quantum_limit", "memristor_pulse_curve",
               "--card", f"photodetector={card}", "--out", str(tmp_path / "r"), "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "FAILED pd_quantum_limit" in err and "memristor_pulse_curve" not in err
    data = json.loads((tmp_path / "r" / "partial" / "summary.json").read_text())
    assert data["failed"] == ["pd_quantum_limit"]
    value = {c["name"]: c["value"] for c in data["checks"]}["pd_quantum_limit"]
    assert value == pytest.approx(2.0 / 1.2501593, rel=1e-6)


def test_only_writes_a_partial_report_beside_the_full_one(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    full = {"summary.json": '{"n_checks": 99}\n', "index.html": "<p>full report</p>\n"}
    for name, text in full.items():      # stands for the report of an earlier full run
        (out / name).write_text(text, encoding="utf-8")
    assert main(["validate", "--only", "dac_inl", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name, text in full.items():
        assert (out / name).read_text(encoding="utf-8") == text, name
    part = out / "partial"
    data = json.loads((part / "summary.json").read_text())
    assert [c["name"] for c in data["checks"]] == ["dac_inl_dnl"]
    assert data["partial"] == {"only": ["dac_inl"], "n_registered": len(list_checks())}
    assert "PARTIAL report (1 of" in (part / "index.html").read_text()
    assert str(part / "index.html") in printed
    assert (part / "dac_inl_dnl.png").exists() and not (out / "dac_inl_dnl.png").exists()


def test_broken_tia_card_fails_the_noise_specification(tmp_path, capsys):
    # Rf = 5 kohm: its thermal noise alone is 1.8 pA/rtHz, far from the 2 pA/rtHz spec
    card = _broken_card(tmp_path, "tia", "feedback_resistance_ohm", "5e3")
    rc = main(["validate", "--only", "readout_noise", "--card", f"tia={card}",
               "--out", str(tmp_path / "r"), "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 1 and "FAILED readout_noise" in err


def test_memristor_card_with_r_on_above_r_off_fails_by_name(tmp_path, capsys):
    card = _broken_card(tmp_path, "memristor_vteam", "r_on_ohm", "5e3")
    results = run_checks({"memristor_vteam": card}, ["memristor_hysteresis_vteam"])
    assert len(results) == 1 and not results[0].passed
    assert "r_off_ohm" in results[0].details["error"]


def test_unknown_check_and_card_names_are_refused(tmp_path, capsys):
    assert main(["validate", "--only", "no_such_check", "--out", str(tmp_path)]) == 2
    assert "no validation check" in capsys.readouterr().err
    assert main(["validate", "--card", f"nocard={tmp_path}", "--out", str(tmp_path)]) == 2
    assert "no shipped card" in capsys.readouterr().err
    assert main(["validate", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(s.name in listed for s in list_checks())


def test_converter_checks_measure_the_card_errors_and_fail_on_an_ideal_converter(
        tmp_path, monkeypatch):
    import cosim.devices.converters as conv

    good = run_checks(None, ["adc_inl_dnl", "dac_inl_dnl"])
    assert all(r.passed for r in good), [r.details for r in good]
    adc = good[0].details
    assert adc["inl_max_lsb_card"] == 2.0 and adc["missing_codes"] == 0
    assert abs(adc["inl_max_lsb_measured"] - 2.0) <= 0.125     # histogram resolution
    assert abs(adc["offset_lsb_measured"] - adc["offset_lsb_card"]) <= 1 / 32
    # another card value: the model follows it and the measurement finds it
    card = _broken_card(tmp_path, "converters", "adc_inl_max_lsb", "1.25")
    r = run_checks({"converters": card}, ["adc_inl_dnl"])[0]
    assert r.passed and abs(r.details["inl_max_lsb_measured"] - 1.25) <= 0.125
    # an ideal converter (the static errors dropped) is caught by both checks
    monkeypatch.setattr(conv, "static_levels", lambda *a, **k: None)
    bad = run_checks(None, ["adc_inl_dnl", "dac_inl_dnl"])
    assert not any(r.passed for r in bad)
    assert bad[0].value >= 2.0 - 0.125 and bad[1].value >= 1.5
