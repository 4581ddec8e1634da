"""The training report (``cosim demo``) names what each run computed on in words: the
engines of a hardware run, no converter bits for a float run; its plots keep labels
apart and show what their axes say."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cosim.cli.main import main

SMALL = ["--set", "training.max_steps=2", "--set", "data.train_limit=32", "--set",
         "data.test_limit=16", "--set", "model.width=0.25", "--set", "training.batch_size=16",
         "--set", "training.epochs=1", "--quiet", "--overwrite"]


def test_report_rows_say_engines_in_words_and_float_has_no_converters(tmp_path):
    from cosim.report import write_training_report
    from cosim.store.runs import RunFile

    hw, fl = tmp_path / "hw.h5", tmp_path / "float.h5"
    assert main(["train", "--set", "design.name=electronic", "--out", str(hw), *SMALL]) == 0
    assert main(["train", "--set", "design.name=ideal", "--out", str(fl), *SMALL]) == 0
    html = write_training_report({"hw": hw, "float": fl}, tmp_path / "r.html").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>(hw|float)</td>.*?</tr>",
                                                         html)}
    design = RunFile(hw).read_design()
    cfg = RunFile(hw).read_config().hardware
    bits = f"{design['converters.dac_bits']}/{design['converters.adc_bits']}"
    assert f"<td>{bits}</td>" in rows["hw"]
    assert (f"<td>optical {cfg.optical_engine}, electrical {cfg.electrical_engine}</td>"
            in rows["hw"])
    assert "{" not in rows["hw"] and "None" not in rows["hw"]
    assert "<td>none (float)</td>" in rows["float"]
    assert "<td>none (float arithmetic)</td>" in rows["float"]
    assert bits not in rows["float"] and "None" not in rows["float"]


@pytest.fixture(scope="module")
def hw_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "hw.h5"
    assert main(["train", "--set", "design.name=electronic", "--out", str(path), *SMALL]) == 0
    return path


def test_accuracy_in_percent_and_saturation_counts_only_samples(hw_run):
    from cosim.report.training import SIGNAL_COUNTERS, curves_figure, saturation_figure
    from cosim.store.runs import RunFile

    run = RunFile(hw_run)
    ax_a = curves_figure({"hw": hw_run}).axes[1]
    assert ax_a.get_ylabel() == "accuracy (%)"
    test = [ln for ln in ax_a.get_lines() if ln.get_label() == "hw (test)"][0]
    np.testing.assert_allclose(test.get_ydata(), 100 * run.epoch_metrics()["test_acc"])
    # saturated weights count weight entries, not ADC samples: not a fraction of samples
    ax = saturation_figure(run).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [c.replace("_", " ") for c in SIGNAL_COUNTERS]
    assert "saturated weights" not in labels
    per_layer = run.summary()["hardware_per_layer"]
    want = [per_layer[lay][c] / per_layer[lay]["samples"] for c in SIGNAL_COUNTERS
            for lay in per_layer]
    np.testing.assert_allclose([p.get_height() for p in ax.patches], want)


def test_grouped_bars_legend_above_the_bars_and_a_missing_product_named():
    from cosim.report.training import grouped_bars

    fig = grouped_bars(["conv1", "conv2", "fc1"],
                       {"forward": [5e-3, 1e-2, 3e-2], "backward": [np.nan, 2e-2, 2.5e-2],
                        "gradient": [1e-2, 1e-2, 4e-3]}, "relative rms error", log=True,
                       missing="no such product")
    ax = fig.axes[0]
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().y0 >= ax.get_window_extent().y1 - 1
    notes = [t for t in ax.texts if t.get_text() == "no such product"]
    assert len(notes) == 1
    # at the slot of conv1's backward bar (group 0, series 1 of 3)
    assert notes[0].get_position()[0] == pytest.approx(0.8 / 3)


def test_step_ticks_of_close_spot_checks_do_not_overprint():
    from cosim.report._mpl import pyplot
    from cosim.report.training import _integer_ticks

    fig, ax = pyplot().subplots(figsize=(6, 3.6))
    steps = np.array([10, 24, 58, 61, 84, 87, 89, 90])
    ax.plot(steps, np.ones(steps.size), "o")
    _integer_ticks(ax, steps)
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    boxes = sorted((lab.get_window_extent() for lab, t in
                    zip(ax.get_xticklabels(), ax.get_xticks()) if lo <= t <= hi and
                    lab.get_text()), key=lambda b: b.x0)
    assert len(boxes) >= 3
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))
    # few and spread out: a tick at each value (one epoch is a tick at 1)
    fig, ax = pyplot().subplots()
    _integer_ticks(ax, [1, 2, 3])
    np.testing.assert_array_equal(ax.get_xticks(), [1, 2, 3])
