"""`cosim ablate --quick`: a real (small) ablation: every configuration trained for the
seeds asked, one table row per configuration with its seeds, statistics that agree with
the per-seed accuracies, run files whose design holds what the row switched on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cosim.cli.main import main
from cosim.orchestrator.ablate import ablation_configurations
from cosim.store.runs import RunFile


def test_quick_ablation_writes_one_row_per_configuration_with_its_seeds(tmp_path, capsys):
    out = tmp_path / "abl"
    assert main(["ablate", "--quick", "--seeds", "2", "--no-crosstalk", "--quiet",
                 "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "ablate.json").read_text())
    rows = ablation_configurations(crosstalk=False)
    assert [r["name"] for r in summary["rows"]] == [r.name for r in rows]
    assert summary["seeds"] == [0, 1]
    ref = np.array(summary["rows"][0]["accuracy"])
    for r in summary["rows"]:
        acc = np.array(r["accuracy"])
        assert r["seeds"] == [0, 1] and acc.shape == (2,)
        assert np.all((acc >= 0) & (acc <= 1))
        assert r["stats"]["mean"] == pytest.approx(acc.mean(), abs=1e-12)
        assert r["stats"]["std"] == pytest.approx(acc.std(ddof=1), abs=1e-12)
        if r["name"] != "float":          # paired difference to float, per seed
            assert r["vs_float"]["mean"] == pytest.approx((acc - ref).mean(), abs=1e-12)
        assert r["name"] in printed
    assert "(0, 1)" in printed
    html = (out / "ablate.html").read_text()
    assert "Seeds: 0, 1" in html and all(r.name in html for r in rows)
    assert (out / "ablate.png").stat().st_size > 1000
    # the run files hold what each row switched on
    by_name = {r["name"]: r for r in summary["rows"]}
    dev = RunFile(by_name["weight device + mixed-precision"]["files"][1]).read_design()
    assert dev["update_policy"] == "mixed-precision"
    assert dev.weight_device().name == "weight_rram_realdevice"
    adc = RunFile(by_name["ADC 10 bit"]["files"][0]).read_design()
    assert adc["converters.adc_bits"] == 10
    off = RunFile(by_name["hardware, all off"]["files"][0])
    assert off.read_design()["weight_device"] == "idealised"
    assert RunFile(by_name["float"]["files"][0]).read_design().name == "ideal"


def test_ablation_refuses_bad_settings():
    from cosim.errors import ConfigError

    with pytest.raises(ConfigError, match="averaging"):
        ablation_configurations(averaging=1)
    with pytest.raises(ConfigError, match="adc_bits"):
        ablation_configurations(adc_bits=0)
    assert main(["ablate", "--quick", "--seeds", "0"]) == 2
