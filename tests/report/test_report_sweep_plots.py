"""Sweep plots a reader can trust, checked on the figure objects of real sweep files:
one colour per group shared by its legend entry, its samples and its mean line; samples
as markers on a log axis when the swept values span decades; a grid of small panels,
the task's key result first, units on every axis."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from cosim.report.sweep import plot_sweep, sweep_table
from cosim.sweep import SweepFile, execute_point, parse_spec

MC_GRID_X = """
[sweep]
kind = "monte_carlo"
task = "memristor_variability"
seed = 2
[sweep.base]
devices = 50
[sweep.grid]
pulses = [2, 4, 8]
d2d_sigma_frac = [0.0, 0.1]
[sweep.monte_carlo]
samples = 3
seed = 1
[sweep.monte_carlo.distributions]
c2c_sigma_frac = {dist = "choice", values = [0.01]}
"""

MC_DRAWN_X = """
[sweep]
kind = "monte_carlo"
task = "memristor_variability"
seed = 2
[sweep.base]
devices = 50
pulses = 8
[sweep.grid]
d2d_sigma_frac = [0.0, 0.1]
[sweep.monte_carlo]
samples = 5
seed = 1
[sweep.monte_carlo.distributions]
c2c_sigma_frac = {dist = "loguniform", low = 1e-4, high = 2e-2}
"""

GRID = """
[sweep]
kind = "grid"
task = "crossbar_ir_drop"
seed = 0
[sweep.base]
cols = 4
spice = false
array_seed = 3
[sweep.grid]
rows = [3, 6]
wire_resistance_ohm = [0.0, 1.0, 4.0]
"""


def _run_in_process(spec, path):
    """The sweep's points run here, one after the other, into a real sweep file (what
    ``run_sweep`` does on its process pool)."""
    with SweepFile(path, spec) as f:
        for p in spec.points():
            o = execute_point(spec.task, p.params, p.seed)
            assert o.status == "ok", o.error
            f.record(p.key, "ok", results=o.results, duration_s=o.duration_s)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweeps")
    return {name: _run_in_process(parse_spec(text), d / f"{name}.h5") for name, text in
            (("mc_grid_x", MC_GRID_X), ("mc_drawn_x", MC_DRAWN_X), ("grid", GRID))}


def _lines(ax):
    return [ln for ln in ax.get_lines() if len(ln.get_xdata())]


def test_monte_carlo_legend_colour_is_the_colour_of_its_line_and_samples(files):
    fig = plot_sweep(files["mc_grid_x"], ["error_rms_frac"])
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    entries = {t.get_text(): to_rgba(h.get_color())
               for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert sorted(entries) == ["d2d_sigma_frac=0", "d2d_sigma_frac=0.1"]
    assert len(set(entries.values())) == 2
    with SweepFile(files["mc_grid_x"]) as f:
        d2d = f.coords()["d2d_sigma_frac"]
        pulses = f.coords()["pulses"]
        err = f.results()["error_rms_frac"]
    for label, colour in entries.items():
        sel = d2d == float(label.split("=")[1])
        # the connected line of the group: mean over the samples at each pulse count
        line = [ln for ln in _lines(ax) if ln.get_label() == label and ln.get_linestyle() == "-"]
        assert len(line) == 1 and to_rgba(line[0].get_color()) == colour
        xs = np.unique(pulses[sel])
        np.testing.assert_allclose(line[0].get_ydata(),
                                   [err[sel & (pulses == x)].mean() for x in xs])
        # every sample of the group is a marker of the same colour
        dots = [ln for ln in _lines(ax) if ln.get_linestyle() == "None"
                and ln.get_marker() == "o" and to_rgba(ln.get_color()) == colour]
        assert len(dots) == 1
        np.testing.assert_allclose(np.sort(dots[0].get_ydata()), np.sort(err[sel]))


def test_monte_carlo_drawn_coordinate_spanning_decades_is_on_a_log_axis(files):
    fig = plot_sweep(files["mc_drawn_x"], ["error_rms_frac"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "c2c_sigma (fraction)"
    with SweepFile(files["mc_drawn_x"]) as f:
        c2c = f.coords()["c2c_sigma_frac"]
    assert c2c.max() / c2c.min() > 10          # the drawn values do span decades
    x = np.concatenate([ln.get_xdata() for ln in _lines(ax)])
    np.testing.assert_allclose(np.sort(x), np.sort(c2c))
    lo, hi = ax.get_xlim()
    assert lo <= c2c.min() and c2c.max() <= hi
    # samples only (a drawn x has no repeated values to average): no connected line
    assert all(ln.get_linestyle() == "None" for ln in _lines(ax))


@pytest.mark.parametrize("values, scale", [
    ([0.0, 1e-3], "linear"), ([0.0, 1e-5, 1e-4, 1e-3], "symlog"), ([1e-4, 1e-2], "log"),
    ([1.0, 2.0, 5.0], "linear"), ([-1.0, 10.0, 100.0], "linear")])
def test_axis_scale(values, scale):
    from cosim.report.sweep import axis_scale

    assert axis_scale(values)[0] == scale


def test_grid_sweep_is_a_grid_of_panels_key_result_first_with_units(files):
    t = sweep_table(files["grid"])
    scalars = [k for k, v in t["results"].items() if v.ndim == 1]
    fig = plot_sweep(files["grid"])
    axes = fig.axes
    assert len(axes) == len(scalars) == 5
    # a grid, not a column: panels side by side in the first row
    assert len({round(ax.get_position().x0, 3) for ax in axes}) > 1
    # a long label is wrapped before its unit (it would run past a small panel)
    assert axes[0].get_ylabel() == "ir_drop_max_rel_error\n(fraction of max |I_ideal|)"
    for ax in axes:
        assert ax.get_xlabel() == "wire_resistance (ohm)"
        assert ax.get_ylabel().endswith(")") and "(" in ax.get_ylabel()
    # the current is in uA (not A with a 1e-5 offset), and drawn in uA
    ax = axes[[a.get_ylabel() for a in axes].index("ideal_current_max (\u00b5A)")]
    with SweepFile(files["grid"]) as f:
        i_max = f.results()["ideal_current_max_a"]
    drawn = np.concatenate([ln.get_ydata() for ln in _lines(ax)])
    np.testing.assert_allclose(np.sort(drawn), np.sort(i_max * 1e6))
    fig.canvas.draw()
    assert all(a.yaxis.get_offset_text().get_text() == "" for a in (ax,))
    # every label inside the figure: none runs off the top or the bottom
    box = fig.bbox
    for a in axes:
        for label in (a.yaxis.label, a.xaxis.label):
            ext = label.get_window_extent()
            assert box.y0 - 1 <= ext.y0 and ext.y1 <= box.y1 + 1, label.get_text()
    # one line per array size, its legend colour its line colour
    legend = axes[0].get_legend()
    for text, handle in zip(legend.get_texts(), legend.legend_handles):
        line = [ln for ln in _lines(axes[0]) if ln.get_label() == text.get_text()]
        assert len(line) == 1 and line[0].get_color() == handle.get_color()


def _table(x_key, x_values, results, kind="grid", task="crossbar_ir_drop"):
    """A sweep table (:func:`sweep_table`'s form) of one swept coordinate."""
    n = len(x_values)
    return {"task": task, "kind": kind, "coords": {x_key: np.asarray(x_values, float)},
            "results": {k: np.asarray(v, float) for k, v in results.items()},
            "status": np.array(["ok"] * n, dtype=object), "swept_keys": [x_key],
            "name": "t.h5"}


def test_log_grid_axis_has_its_ticks_at_the_swept_values():
    from cosim.report.sweep import sweep_figure

    wires = [0.0, 0.5, 1.0, 2.5, 5.0, 10.0]
    t = _table("wire_resistance_ohm", wires, {"ir_drop_max_rel_error": np.arange(6.0)})
    ax = sweep_figure(t).axes[0]
    assert ax.get_xscale() == "symlog"
    np.testing.assert_array_equal(ax.get_xticks(), wires)
    assert [lab.get_text() for lab in ax.get_xticklabels()] == \
        ["0", "0.5", "1", "2.5", "5", "10"]


def test_si_results_take_a_prefix_and_the_suffix_leaves_the_name():
    from cosim.report.sweep import axis_label, axis_unit, sweep_figure

    assert axis_unit("g_std_s", {"g_std_s": "S"}) == ("g_std", "S")
    assert axis_unit("error_rms_frac", {"error_rms_frac": "fraction of G range"}) == \
        ("error_rms", "fraction of G range")
    assert axis_unit("rows", {"rows": "count"}) == ("rows", "count")
    assert axis_label("a" * 15 + "_frac", width=20).split("\n") == ["a" * 15, "(fraction)"]
    g = np.array([1.5e-6, 2.0e-6, 9.0e-6])
    t = _table("pulses", [1, 2, 4], {"g_std_s": g}, task="memristor_variability")
    ax = sweep_figure(t).axes[0]
    assert ax.get_ylabel() == "g_std (\u00b5S)"
    np.testing.assert_allclose(_lines(ax)[0].get_ydata(), g * 1e6)
