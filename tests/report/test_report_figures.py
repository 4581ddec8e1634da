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

    return {r.name: r for r in run_checks(None, ["mrr_spectra", "readout_noise",
                                                  "readout_dc_transfer"])}


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
    # the 2 pA/sqrt(Hz) floor lies between decades: a labelled minor tick says it
    fig.canvas.draw()
    minor = {round(t.get_loc() / 1e-12, 6): t.label1.get_text()
             for t in ax_a.yaxis.get_minor_ticks() if t.label1.get_visible()}
    assert minor.get(2.0), minor


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("name", ["mrr_spectra", "readout_noise", "readout_dc_transfer"])
def test_validation_panels_do_not_overlap(checks, name):
    """Side-by-side panels: a y label never sits over its neighbour's tick labels."""
    from cosim.report.validation import check_figure

    fig = check_figure(checks[name])
    renderer = fig.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(boxes) >= 2
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _overlap(boxes[i], boxes[j]), (name, i, j)


def test_dc_deviation_is_drawn_in_a_prefixed_volt(checks):
    from cosim.report.validation import check_figure

    r = checks["readout_dc_transfer"]
    ax = check_figure(r).axes[1]
    dev = r.arrays["dc_output_v"] - r.arrays["dc_expected_v"]
    assert 1e-6 <= np.max(np.abs(dev)) < 1e-3          # a deviation of some 100 uV
    assert ax.get_ylabel() == "output - linear (\u00b5V)"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), dev * 1e6)


def test_hysteresis_error_in_prefixed_units_and_both_inl_panels_in_lsb():
    from cosim.report.validation import check_figure
    from cosim.validate import CheckResult

    t = np.linspace(0, 5e-7, 201)
    v = 0.3 * np.sin(2 * np.pi * t / 2.5e-7)
    i = v / 100.0
    r = CheckResult("memristor_hysteresis_vteam", "memristor_vteam", True, 1e-4, 1e-2, "",
                    {}, {"voltage_v": v, "current_ngspice_a": i, "current_twin_a": i + 3e-9,
                         "time_s": t})
    ax = check_figure(r).axes[1]
    assert ax.get_xlabel() == "time (ns)" and ax.get_ylabel() == "I_twin - I_ngspice (nA)"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), t * 1e9)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), 3.0, rtol=1e-6)
    inl = CheckResult("adc_inl_dnl", "converters", True, 0.0, 1.0, "", {},
                      {"inl_lsb": np.zeros(8), "dnl_lsb": np.zeros(8)})
    assert [a.get_ylabel() for a in check_figure(inl).axes] == ["INL (LSB)", "DNL (LSB)"]


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


def test_iv_loop_twin_axes_share_their_zero_and_time_takes_a_prefix():
    from cosim.report.netlist import iv_loop

    t = np.linspace(0, 5e-7, 501)
    v = 0.3 * np.sin(2 * np.pi * t / 2.5e-7)
    i = np.where(v > 0, 1e-2 * v, 2e-2 * v)           # -6 .. 3 mA: not symmetric
    fig = iv_loop(t, v, i)
    ax_v, ax_i = fig.axes[1], fig.axes[2]
    assert ax_v.get_xlabel() == "time (ns)"
    np.testing.assert_allclose(ax_v.get_lines()[0].get_xdata(), t * 1e9)
    zero = [(0 - lo) / (hi - lo) for lo, hi in (ax_v.get_ylim(), ax_i.get_ylim())]
    assert zero[0] == pytest.approx(zero[1], abs=1e-9)
    for ax, y in ((ax_v, v), (ax_i, i * 1e3)):        # nothing cut off
        lo, hi = ax.get_ylim()
        assert lo <= y.min() and y.max() <= hi


def test_bode_leaves_out_a_node_without_ac_voltage():
    from cosim.report.netlist import bode

    f = np.logspace(3, 9, 50)
    fig = bode(f, {"out": 1 / (1 + 1j * f / 1e6), "vdd": np.zeros(50, complex)}, "chain")
    ax = fig.axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["out"]
    assert ax.get_ylim()[0] > -200                     # not stretched to -6000 dB
    assert "vdd" in ax.get_title()


def test_dc_sweep_of_a_readout_chain_is_drawn_against_its_photocurrent(engine):
    from cosim.netlist import Dc
    from cosim.readout import ReadoutSpec, build_readout_chain
    from cosim.report.netlist import run_figure

    spec = ReadoutSpec.from_cards(None, None, None)
    c = build_readout_chain(spec, 1, signal_a=0.0, common_mode_w=0.0)
    an = Dc("Vsig0", -4e-6, 4e-6, 1e-6)
    c.analyses.append(an)
    res = engine.run(c, an)
    fig, what = run_figure(c, an, res, ["out0"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Vsig0 (\u00b5A)"       # the photocurrent, not a voltage
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.real(res.axis) * 1e6)
    assert "Vsig0" in what


def test_short_numbers_in_titles():
    from cosim.report._mpl import short_numbers

    assert short_numbers(".tran 2.4999999999999996e-10 5e-07 0 uic") == \
        ".tran 2.5e-10 5e-07 0 uic"
    assert short_numbers(".ac dec 20 1000 1000000000000") == ".ac dec 20 1000 1e+12"
    assert short_numbers("crossbar 16x16 v(out0) R=1000 ohm") == \
        "crossbar 16x16 v(out0) R=1000 ohm"


# ---------------------------------------------------------------- energy tornado, tables
def _swing(label, low, high, energy, speed):
    from cosim.energy.sensitivity import Swing

    return Swing(label, (label,), low, high, energy, speed, "")


def test_tornado_keeps_every_label_inside_and_marks_no_change():
    from cosim.report.energy import tornado_figure

    swings = [_swing("symbol rate", 1e7, 1e9, (0.012, 0.004), (0.006, 0.6)),
              _swing("ADC bits", 10, 16, (0.15, 0.04), (0.0625, 0.0625)),
              _swing("gradient on", "digital", "tile", (0.05, 0.04), (0.0625, 0.0625))]
    fig = tornado_figure(swings, 0.04, what="speedup")
    ax = fig.axes[0]
    # one bar only: the two rows without a change are notes, not overprinted labels
    assert len(ax.patches) == 1
    notes = [t.get_text() for t in ax.texts if "no change" in t.get_text()]
    assert notes == ["digital .. tile: no change", "10 .. 16: no change"]
    fig.canvas.draw()
    inside = ax.get_window_extent()
    for t in ax.texts:
        ext = t.get_window_extent()
        assert inside.x0 <= ext.x0 and ext.x1 <= inside.x1, t.get_text()
    assert ax.get_legend() is not None


def test_energy_tables_show_a_pure_number_without_unit(lenet, tmp_path):
    from cosim.report.energy import write_html

    html = write_html(lenet, tmp_path).read_text()
    tiles = lenet.figures["design.area.tiles"]
    assert tiles.unit == "1"
    assert f"<tr><td>area.tiles</td><td>{tiles.value:.4g}</td>" in html
    assert " 1</td>" not in html


def test_energy_plot_legends_below_the_bars_and_short_titles():
    from cosim.energy import evaluate
    from cosim.report.energy import energy_breakdown_figure, layer_list

    assert layer_list(["relu1", "pool1", "relu2", "relu3", "pool2", "fc1", "relu5"]) == \
        "relu1..3, relu5, pool1..2, fc1"
    fig = energy_breakdown_figure(evaluate("vgg16"))
    fig.canvas.draw()
    titles = []
    for ax in fig.axes[:2]:
        box = ax.get_window_extent()
        assert ax.get_legend().get_window_extent().y1 <= box.y0     # under the bars
        titles.append(ax.title.get_window_extent())
        assert "relu1..13" in ax.get_title()
    assert titles[0].x1 <= titles[1].x0                              # titles apart
