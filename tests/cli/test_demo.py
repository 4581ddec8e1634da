"""`cosim demo --quick`: both runs, the report with its plots; plotting stays out of
computation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from cosim.cli.main import main
from cosim.store.runs import RunFile


def test_demo_quick_writes_runs_report_and_both_accuracies(tmp_path, capsys):
    assert main(["demo", "--quick", "--quiet", "--jobs", "1",
                 "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    hw, ideal = RunFile(tmp_path / "demo.h5"), RunFile(tmp_path / "demo_ideal.h5")
    a_hw = hw.epoch_metrics()["test_acc"][-1]
    a_id = ideal.epoch_metrics()["test_acc"][-1]
    assert f"bplight {100 * a_hw:6.2f} %" in out and f"float {100 * a_id:6.2f} %" in out
    assert hw.read_config().design.name == "bplight"
    assert ideal.read_config().design.name == "ideal"
    # same seed, same data order: identical shuffles, different arithmetic
    assert hw.checkpoint().trainer["meta"]["rng"] == ideal.checkpoint().trainer["meta"]["rng"]
    assert not np.array_equal(hw.step_metrics()["loss"], ideal.step_metrics()["loss"])
    assert hw.summary()["spot_checks"] > 0
    assert hw.summary()["hardware_totals"]["samples"] > 0
    html = (tmp_path / "demo_report.html").read_text()
    assert f"{100 * a_hw:.2f} %" in html and f"{100 * a_id:.2f} %" in html
    assert html.count("data:image/png;base64,") >= 3
    # the ablation: every configuration trained, its table and bar plot in the report
    import json

    from cosim.orchestrator.ablate import ablation_configurations

    summary = json.loads((tmp_path / "ablate.json").read_text())
    names = [r.name for r in ablation_configurations()]
    assert [r["name"] for r in summary["rows"]] == names and summary["seeds"] == [0]
    assert "Ablation" in html and all(n in html for n in names)
    assert "Seeds: 0 (1 per configuration)" in html
    for r in summary["rows"]:
        assert f"{100 * r['accuracy'][0]:.2f}" in html
        assert f"{100 * r['accuracy'][0]:6.2f}" in out      # the printed table
    shipped = RunFile(summary["rows"][-1]["files"][0]).read_design()
    assert shipped.name == "bplight" and shipped["crosstalk"] is True
    assert shipped["calibration"] == "in_loop"
    assert shipped["update_policy"] == "mixed-precision"
    assert shipped.weight_device().name == "weight_rram_realdevice"
    for png in ("curves.png", "spot_checks.png", "saturation.png", "ablation.png"):
        data = (tmp_path / "demo_report_files" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_does_not_import_matplotlib():
    code = ("import sys, cosim.orchestrator, cosim.config, cosim.store.runs, cosim.cli.train; "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
