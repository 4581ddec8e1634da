"""Plots and an HTML report of training runs, read from their run files.

Computation never imports matplotlib: every function here imports it lazily (Agg
backend), and reads only run files (:class:`cosim.store.runs.RunFile`).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from cosim.paths import user_path
from cosim.report._mpl import pyplot as _plt
from cosim.report._mpl import save as _save


def _run(r):
    from cosim.store.runs import RunFile

    return r if isinstance(r, RunFile) else RunFile(r)


def _smooth(y: np.ndarray, n: int) -> np.ndarray:
    if y.size < n or n <= 1:
        return y
    k = np.ones(n) / n
    return np.convolve(y, k, mode="valid")


def _integer_ticks(ax, values) -> None:
    """x ticks on whole numbers (steps, epochs): at each value when there are few and
    they are spread out (one epoch is a tick at 1, not 0.96 ... 1.04), else a
    whole-number locator (spot checks at steps 84, 87, 89, 90 would print over each
    other)."""
    from matplotlib.ticker import MaxNLocator

    v = np.unique(np.asarray(values))
    spread = v.size < 2 or np.min(np.diff(v)) >= (v[-1] - v[0]) / 12
    if 0 < v.size <= 10 and spread:
        ax.set_xticks(v)
        if v.size == 1:
            ax.set_xlim(v[0] - 1, v[0] + 1)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _loss_scale(ax) -> None:
    """Log y axis when the drawn losses span more than a decade, with plain-number tick
    labels; linear otherwise (a log axis over a small range only shows 2.3 x 10^0)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ys = [y for line in ax.get_lines() for y in np.asarray(line.get_ydata(), dtype=float)]
    ys = np.array([y for y in ys if np.isfinite(y) and y > 0])
    if ys.size and ys.max() / ys.min() > 10:
        ax.set_yscale("log")
        # every label a plain number (0.1, 0.2, 0.5, 1, 2), majors and minors alike
        plain = FuncFormatter(lambda y, _: f"{y:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)


def plot_curves(runs: dict[str, object], path: str | Path) -> Path:
    """Write :func:`curves_figure` as PNG to ``path``; return the path.

    Parameters
    ----------
    runs : dict
        Label -> run file path or RunFile.
    path : str or Path
        PNG to write.
    """
    return _save(curves_figure(runs), path)


def curves_figure(runs: dict[str, object]):
    """Loss per step (and its running mean) and train and test accuracy (%) per epoch
    of each run (label -> run file path or RunFile); returns the figure."""
    plt = _plt()
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 4))
    epochs, steps = [], []
    for label, r in runs.items():
        run = _run(r)
        st, ep = run.step_metrics(), run.epoch_metrics()
        epochs += list(ep["epoch"])
        steps += list(st["step"])
        line, = ax_l.plot(st["step"], st["loss"], alpha=0.25, lw=0.8)
        w = max(1, min(10, st["step"].size // 10))
        sm = _smooth(st["loss"], w)
        ax_l.plot(st["step"][w - 1:] if w > 1 else st["step"], sm, color=line.get_color(),
                  label=label)
        ax_a.plot(ep["epoch"], 100 * np.asarray(ep["test_acc"]), "o-",
                  color=line.get_color(), label=f"{label} (test)")
        ax_a.plot(ep["epoch"], 100 * np.asarray(ep["train_acc"]), "s--",
                  color=line.get_color(), alpha=0.6, label=f"{label} (train)")
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("training loss (cross-entropy, nat)")
    _loss_scale(ax_l)
    ax_l.legend()
    ax_l.grid(alpha=0.3, which="both")
    _integer_ticks(ax_a, epochs)
    _integer_ticks(ax_l, steps)
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("accuracy (%)")
    ax_a.set_ylim(0, 102)
    ax_a.grid(alpha=0.3)
    ax_a.legend(fontsize=8)
    return fig


def plot_spot_checks(run, path: str | Path) -> Path | None:
    """Write :func:`spot_checks_figure` as PNG to ``path`` (None if the run has none)."""
    fig = spot_checks_figure(run)
    return None if fig is None else _save(fig, path)


def spot_checks_figure(run):
    """Twin-vs-spice relative error of every spot check, by step and layer (None if none)."""
    run = _run(run)
    sc = run.table("spot_checks")
    if sc["step"].size == 0:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    _integer_ticks(ax, sc["step"])
    for layer in sorted(set(sc["layer"].tolist())):
        m = sc["layer"] == layer
        ax.plot(sc["step"][m], np.maximum(sc["rel_error"][m], 1e-18), "o", label=layer)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("relative error, twin vs spice")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


COUNTERS = ("saturated_tia", "clipped_adc", "below_noise_floor", "saturated_weights")
SIGNAL_COUNTERS = COUNTERS[:3]
"""The counters that count ADC samples (``saturated_weights`` counts weight entries:
not a fraction of the samples, so it is in the table, not in the plot)."""


def grouped_bars(groups: list[str], series: dict[str, list[float]], ylabel: str,
                 log: bool = False, missing: str = "none"):
    """Figure of one bar group per entry of ``groups``, one bar per series; the
    legend sits above the axes (never over a bar); a NaN value (no such product) is
    written as ``missing`` where its bar would stand, so an empty slot is explained."""
    import matplotlib.transforms as mtransforms

    plt = _plt()
    x = np.arange(len(groups))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / len(series)
    foot = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x + i * width, values, width, label=label)
        for xi, v in zip(x, values):
            if not np.isfinite(v):
                ax.text(xi + i * width, 0.02, missing, transform=foot, rotation=90,
                        ha="center", va="bottom", fontsize=7, color="0.35")
    ax.set_xticks(x + 0.4 - width / 2, groups)
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, ncols=len(series), loc="lower left", bbox_to_anchor=(0.0, 1.01))
    ax.grid(alpha=0.3, axis="y", which="both")
    return fig


def plot_saturation(run, path: str | Path) -> Path | None:
    """Write :func:`saturation_figure` as PNG to ``path`` (None without counters)."""
    fig = saturation_figure(run)
    return None if fig is None else _save(fig, path)


def saturation_figure(run):
    """Out-of-range ADC samples per layer (fraction of the layer's digitised samples),
    one bar per counter of :data:`SIGNAL_COUNTERS` (None without counters)."""
    per_layer = _run(run).summary()["hardware_per_layer"]
    if not per_layer:
        return None
    layers = list(per_layer)
    return grouped_bars(
        layers, {c.replace("_", " "): [per_layer[lay][c] / max(per_layer[lay]["samples"], 1)
                                       for lay in layers] for c in SIGNAL_COUNTERS},
        "fraction of digitised samples")


PHASES = ("forward", "backward", "gradient")


def plot_product_errors(run, path: str | Path) -> Path | None:
    """Write :func:`product_errors_figure` as PNG to ``path`` (None if nothing probed)."""
    fig = product_errors_figure(run)
    return None if fig is None else _save(fig, path)


def product_errors_figure(run):
    """Relative rms error of each layer's products against the exact float products
    (median over the probed steps), one bar per phase: where the signal is lost (a
    product a layer does not have, the first layer's backward, is marked as such).
    None if nothing was probed."""
    med = _run(run).summary()["product_error_median"]
    if not med:
        return None
    layers = list(med)
    return grouped_bars(layers, {ph: [med[lay].get(ph, np.nan) for lay in layers]
                                 for ph in PHASES},
                        "relative rms error\n||Y_hw - Y_exact|| / ||Y_exact||",
                        log=True, missing="no such product")


def _img(path: Path | None) -> str:
    if path is None:
        return "<p>(nothing recorded)</p>"
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'
            f'<p class="f">{html.escape(path.name)}</p>')


def write_training_report(runs: dict[str, object], out_html: str | Path, *,
                          title: str = "bplight-cosim training report",
                          hardware_run: str | None = None, notes: list[str] = (),
                          ablation: dict | None = None) -> Path:
    """HTML report of runs side by side, with PNG plots (written beside it and embedded).

    Parameters
    ----------
    runs : dict
        Label -> run file (path or RunFile); the first is the hardware run unless
        ``hardware_run`` names another.
    out_html : str or Path
        Report file; PNGs go to ``<stem>_files/`` next to it.
    notes : list of str
        Lines shown at the top.
    ablation : dict, optional
        A summary of :func:`cosim.orchestrator.ablate.run_ablation`: adds its table and
        bar plot (``ablation.png``) as a section of its own.
    """
    out_html = Path(out_html)
    png_dir = out_html.with_name(out_html.stem + "_files")
    with user_path(png_dir, "report folder", "write the report to a writable directory"):
        png_dir.mkdir(parents=True, exist_ok=True)
    runs = {k: _run(v) for k, v in runs.items()}
    hw_label = hardware_run or next(iter(runs))
    hw = runs[hw_label]
    curves = plot_curves(runs, png_dir / "curves.png")
    spots = plot_spot_checks(hw, png_dir / "spot_checks.png")
    sat = plot_saturation(hw, png_dir / "saturation.png")
    errs = plot_product_errors(hw, png_dir / "product_errors.png")
    rows = []
    for label, run in runs.items():
        s = run.summary()
        hw_cells = hardware_description(run)
        rows.append(
            f"<tr><td>{html.escape(label)}</td><td>{html.escape(hw_cells['design'])}</td>"
            f"<td>{html.escape(hw_cells['converters'])}</td>"
            f"<td>{html.escape(hw_cells['engines'])}</td><td>{s['epochs_done']}</td>"
            f"<td>{s['steps']}</td><td>{_pct(s['final_train_acc'])}</td>"
            f"<td><b>{_pct(s['final_test_acc'])}</b></td><td>{s['train_time_s']:.1f}</td>"
            f"<td>{html.escape(run.path.name)}</td></tr>")
    s = hw.summary()
    spot_txt = ("none" if not s["spot_checks"] else
                f"{s['spot_checks']} checks; relative error median "
                f"{s['spot_check_median_rel_error']:.3g}, max {s['spot_check_max_rel_error']:.3g};"
                f" max absolute error {s['spot_check_max_abs_error']:.3g}")
    tot = s["hardware_totals"]
    sat_rows = "".join(
        f"<tr><td>{html.escape(lay)}</td><td>{d['samples']}</td>"
        + "".join(f"<td>{d[c]}</td>" for c in COUNTERS) + "</tr>"
        for lay, d in s["hardware_per_layer"].items())
    err_rows = "".join(
        f"<tr><td>{html.escape(lay)}</td>"
        + "".join(f"<td>{d[ph]:.3g}</td>" if ph in d else "<td>-</td>" for ph in PHASES)
        + "</tr>" for lay, d in s["product_error_median"].items())
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    text = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}
img{{max-width:100%}}.f{{color:#777;font-size:80%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<ul>{note_html}</ul>
<h2>Runs</h2>
<table><tr><th>run</th><th>design</th><th>DAC/ADC bits</th><th>engines</th>
<th>epochs</th><th>steps</th><th>train acc</th><th>test acc</th><th>time in steps (s)</th>
<th>file</th></tr>{''.join(rows)}</table>
<h2>Loss and accuracy</h2>{_img(curves)}
<h2>Spot checks: twin vs spice ({html.escape(hw_label)})</h2><p>{html.escape(spot_txt)}</p>
{_img(spots)}
<h2>Signals out of range ({html.escape(hw_label)})</h2>
<p>Totals: {tot['samples']} digitised samples; saturated TIA {tot['saturated_tia']},
clipped ADC {tot['clipped_adc']}, below noise floor {tot['below_noise_floor']},
saturated weights {tot['saturated_weights']}.</p>
<table><tr><th>layer</th><th>samples</th>{''.join(f'<th>{c}</th>' for c in SIGNAL_COUNTERS)}
<th>saturated_weights (weight entries)</th></tr>
{sat_rows}</table>
{_img(sat)}
<h2>Product errors ({html.escape(hw_label)})</h2>
<p>Each product of the hardware path against the exact float product of the same
operands, ||Y_hw - U A^T|| / ||U A^T||, median over {s['product_error_probes']} probed
steps (<code>training.error_probe_every_steps</code>).</p>
<table><tr><th>layer</th>{''.join(f'<th>{ph}</th>' for ph in PHASES)}</tr>
{err_rows}</table>
{_img(errs)}
{_ablation_section(ablation, png_dir)}
</body></html>
"""
    with user_path(out_html, "report", "write the report to a writable directory"):
        out_html.write_text(text, encoding="utf-8")
    return out_html


def _ablation_section(summary: dict | None, png_dir: Path) -> str:
    """The ablation section of the training report ("" without a summary)."""
    if summary is None:
        return ""
    from cosim.report.ablate import ablation_seeds_note, ablation_table_html, plot_ablation

    png = plot_ablation(summary, png_dir / "ablation.png")
    cfg = summary.get("config") or {}
    tr = cfg.get("training", {})
    setting = (f"{cfg.get('model', {}).get('name', '?')} (width "
               f"{cfg.get('model', {}).get('width', '?')}), {tr.get('epochs', '?')} "
               f"epoch(s), batch {tr.get('batch_size', '?')}, design "
               f"{cfg.get('design', {}).get('name', '?')}") if cfg else ""
    return (f"<h2>Ablation: what each non-ideality costs, with and without its "
            f"mitigation</h2><p>Each configuration trained from the same seeds"
            f"{' (' + html.escape(setting) + ')' if setting else ''}; "
            f"{html.escape(ablation_seeds_note(summary))} Rows switch one non-ideality on "
            f"alone on the hardware with all of them off; the last rows switch them all on "
            f"(<code>cosim ablate</code>, <code>cosim.orchestrator.ablate</code>).</p>"
            f"{ablation_table_html(summary)}{_img(png)}")


def hardware_description(run) -> dict[str, str]:
    """What a run computed on, in words for the report: ``design`` (name and tile kind),
    ``converters`` (``"16/16"`` DAC/ADC bits) and ``engines`` (``"optical twin,
    electrical twin"``); a float run (tile ``ideal``) has no converters and no engines.
    Read from the run's design record, or, in files written before designs, from its
    hardware config."""
    run = _run(run)
    s = run.summary()
    d = s["design"]        # the stored design, or for older files the one of its config
    name, tile = d["name"], d["tile"]
    dac, adc = d["converters.dac_bits"], d["converters.adc_bits"]
    if tile == "ideal":
        return {"design": f"{name} (float arithmetic)", "converters": "none (float)",
                "engines": "none (float arithmetic)"}
    engines = ", ".join(f"{k.removesuffix('_engine')} {v}"
                        for k, v in (s.get("engines") or {}).items() if v)
    return {"design": name if name == tile else f"{name} ({tile} tiles)",
            "converters": f"{dac}/{adc}", "engines": engines or "-"}


def write_comparison_report(cmp, out_html: str | Path, *,
                            title: str = "bplight-cosim run comparison") -> Path:
    """HTML report of a :class:`cosim.store.compare.RunComparison`: the settings that
    differ, the final metrics, and the loss and accuracy curves of every run overlaid
    (PNG in ``<stem>_files/`` next to the report, also embedded)."""
    from cosim.store.compare import METRICS

    out_html = Path(out_html)
    png_dir = out_html.with_name(out_html.stem + "_files")
    with user_path(png_dir, "report folder", "write the report to a writable directory"):
        png_dir.mkdir(parents=True, exist_ok=True)
    curves = plot_curves(dict(zip(cmp.labels, cmp.paths)), png_dir / "curves.png")
    e = html.escape
    head = "<tr><th></th>" + "".join(f"<th>{e(lab)}</th>" for lab in cmp.labels) + "</tr>"

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return e(json.dumps(v) if isinstance(v, (list, dict)) else str(v))

    diff_rows = "".join(f"<tr><th>{e(k)}</th>" + "".join(f"<td>{cell(v)}</td>" for v in vals)
                        + "</tr>" for k, vals in cmp.differences.items())
    diff = (f"<table>{head}{diff_rows}</table>" if cmp.differences
            else "<p>none: the runs have the same config</p>")
    metric_rows = "".join(f"<tr><th>{e(t)}</th>" + "".join(f"<td>{cell(m[k])}</td>"
                                                           for m in cmp.metrics) + "</tr>"
                          for k, t in METRICS)
    files = "".join(f"<li>{e(lab)}: {e(str(p))}</li>" for lab, p in zip(cmp.labels, cmp.paths))
    text = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}
img{{max-width:100%}}.f{{color:#777;font-size:80%}}</style></head><body>
<h1>{e(title)}</h1><ul>{files}</ul>
<h2>Settings that differ</h2>{diff}
<h2>Final metrics</h2><table>{head}{metric_rows}</table>
<h2>Loss and accuracy</h2>{_img(curves)}
</body></html>
"""
    with user_path(out_html, "report", "write the report to a writable directory"):
        out_html.write_text(text, encoding="utf-8")
    return out_html


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"
