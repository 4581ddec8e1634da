"""Figures of the energy, validation and netlist reports, checked on their matplotlib
objects (not pixels): independent axes and shared colours in the energy plot, no empty
columns, area in mm^2; MRR spectra in dB; readout noise on a V/sqrt(Hz) and an
A/sqrt(Hz) axis; a memristor bench drawn as its I-V loop."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba


# ------------------------------------------------------------------------------ energy
@pytest.fixture(scope="module")
def lenet():
    from cosim.energy import evaluate

    return evaluate("lenet5")


def test_energy_plot_axes_colours_columns_and_area(lenet):
    from cosim.energy.model import energy_by_component
    from cosim.report.energy import energy_breakdown_figure

    fig = energy_breakdown_figure(lenet)
    ax_p, ax_b, ax_area = fig.axes
    # each design on its own y axis, scaled to its own largest column
    assert not ax_p.get_shared_y_axes().joined(ax_p, ax_b)
    for ax, design in ((ax_p, "design"), (ax_b, "baseline")):
        data = energy_by_component(lenet, design)
        totals = {ln: sum(v.values()) for ln, v in data.items()}
        drawn = [t.get_text() for t in ax.get_xticklabels()]
        # no empty columns: activations and pooling (no matrix product) are left out
        assert drawn == [ln for ln in totals if totals[ln] > 1e-3 * max(totals.values())]
        assert not any(ln.startswith(("relu", "pool")) for ln in drawn)
        assert ax.get_ylim()[1] >= max(totals.values()) / _unit(ax.get_ylabel())
        assert ax.get_ylim()[1] < 2 * max(totals.values()) / _unit(ax.get_ylabel())
    # one colour per component in both panels
    colours = [{t.get_text(): to_rgba(h.get_facecolor()) for t, h in
                zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles)}
               for ax in (ax_p, ax_b)]
    common = set(colours[0]) & set(colours[1])
    assert {"adc", "dac", "digital"} <= common
    assert all(colours[0][c] == colours[1][c] for c in common)
    assert len(set(colours[0].values()) | set(colours[1].values())) == \
        len(set(colours[0]) | set(colours[1]))
    # area in mm^2: the model's m^2 times 1e6
    assert ax_area.get_ylabel() == "chip area (mm^2)"
    heights = [p.get_height() for p in ax_area.patches]
    want = [lenet.figures[f"{d}.area.total"].value * 1e6 for d in ("design", "baseline")]
    np.testing.assert_allclose(heights, want, rtol=1e-12)


def _unit(label: str) -> float:
    prefix = label.split("(")[-1].removesuffix("J)")
    return {"": 1.0, "m": 1e-3, "\u00b5": 1e-6, "n": 1e-9, "p": 1e-12}[prefix]


def test_energy_html_shows_area_in_mm2(lenet, tmp_path):
    from cosim.report.energy import write_html

    html = write_html(lenet, tmp_path).read_text()
    area = lenet.figures["design.area.total"].value * 1e6
    assert f"<td>{area:.4g} mm^2</td>" in html
    assert " m^2</td>" not in html


# -------------------------------------------------------------------------- validation
@pytest.fixture(scope="module")
def checks():
    from cosim.validate import run_checks

    return {r.name: r for r in run_checks(None, ["mrr_spectra", "readout_noise"])}


def test_mrr_spectra_in_db_with_readable_ticks(checks):
    from cosim.report.validation import check_figure

    r = checks["mrr_spectra"]
    fig = check_figure(r)
    for ax in fig.axes:
        assert ax.get_ylabel() == "power transmission (dB)"
        for line in ax.get_lines():
            y = np.asarray(line.get_ydata())
            assert np.all(y <= 1e-9) and y.min() < -1      # dB of a passive ring: a dip
    ax = fig.axes[1]
    drop = np.asarray(ax.get_lines()[0].get_ydata())
    np.testing.assert_allclose(drop, np.maximum(10 * np.log10(r.arrays["drop_spectrum"]), -60))
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert 3 <= len(ticks) <= 7                          # not 1540.0 1542.5 ... crowded
    assert ax.xaxis.get_offset_text().get_text() == ""   # no "+1.54e3" offset to add


def test_readout_noise_in_volts_and_amperes_on_separate_axes(checks):
    from cosim.report.validation import check_figure

    r = checks["readout_noise"]
    fig = check_figure(r)
    ax_v, ax_a = fig.axes
    assert ax_v.get_ylabel() == "output noise density (V/sqrt(Hz))"
    assert ax_a.get_ylabel() == "input-referred noise density (A/sqrt(Hz))"
    assert ax_v.get_yscale() == ax_a.get_yscale() == "log"
    np.testing.assert_array_equal(ax_v.get_lines()[0].get_ydata(),
                                  r.arrays["output_noise_v_per_rthz"])
    np.testing.assert_array_equal(ax_a.get_lines()[0].get_ydata(),
                                  r.arrays["input_noise_a_per_rthz"])


# ----------------------------------------------------------------------------- netlist
def test_memristor_bench_is_drawn_as_its_iv_loop(engine):
    from cosim.devices.memristor import bench_circuit
    from cosim.report.netlist import run_figure

    c = bench_circuit("linear_joglekar", cycles=1)
    res = engine.run(c, c.analyses[0])
    fig, what = run_figure(c, c.analyses[0], res)
    assert "I-V loop" in what
    ax = fig.axes[0]
    assert ax.get_xlabel() == "device voltage (V)" and ax.get_ylabel() == "device current (mA)"
    line = ax.get_lines()[0]
    v, i_ma = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    np.testing.assert_array_equal(v, np.real(res.v("in")))
    np.testing.assert_allclose(i_ma, -np.real(res.i("V1")) * 1e3)
    # a pinched hysteresis: the lobe of the positive half period encloses area (a
    # resistor's line would not) and the loop passes through the origin
    half = np.arange(np.argmax(v < 0))
    x, y = v[half], i_ma[half]
    area = 0.5 * abs(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) + x[-1] * y[0] - x[0] * y[-1])
    assert area > 0.05 * x.max() * y.max()
    assert np.min(np.abs(i_ma[np.abs(v) < 1e-2 * np.ptp(v)])) < 1e-2 * np.ptp(i_ma)


def test_netlist_noise_in_volts_and_amperes_on_separate_axes(engine):
    from cosim.netlist import Noise
    from cosim.readout import ReadoutSpec, build_readout_chain
    from cosim.report.netlist import run_figure

    spec = ReadoutSpec.from_cards(None, None, None)
    c = build_readout_chain(spec, 1, signal_a=0.0, common_mode_w=0.0, noise="ac")
    an = Noise("out0", "Vsig0", 1e3, 1e9, 5)
    c.analyses.append(an)
    fig, _ = run_figure(c, an, engine.run(c, an))
    ax_v, ax_a = fig.axes
    assert ax_v.get_ylabel() == "output noise (V/sqrt(Hz))"
    assert ax_a.get_ylabel() == "input-referred noise at Vsig0 (A/sqrt(Hz))"
