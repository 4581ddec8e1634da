"""HTML report and plots of the energy model (matplotlib imported lazily).

Figures are shown in the unit a reader expects (:func:`display_value`: areas in mm^2);
the model itself keeps SI units.
"""

from __future__ import annotations

import html
import json
import textwrap
from pathlib import Path

import numpy as np

from cosim.energy.model import (
    CLAIMS,
    CLAIMS_SOURCE,
    EnergyReport,
    energy_by_component,
    usage_counts,
)
from cosim.report._mpl import si_prefix

KEY_FIGURES = (
    "training.energy_per_image", "training.time_per_image", "training.latency_per_image",
    "training.energy_per_epoch", "training.time_per_epoch", "training.gops_per_w",
    "training.gops_per_mm2", "inference.energy_per_image", "inference.time_per_image",
    "inference.gops_per_w", "inference.gops_per_mm2", "training.power", "area.tiles",
    "area.total",
)


EMPTY_FRACTION = 1e-3
"""A layer whose energy is below this fraction of the largest layer's is not drawn (it
would be an empty column: activations and pooling); the title names the ones left out."""


def display_value(value: float, unit: str) -> tuple[float, str]:
    """A figure in the unit a reader expects: areas in mm^2 (the model keeps m^2); a
    pure number (unit ``"1"``: a count of tiles, a ratio) without a unit."""
    if unit == "m^2":
        return value * 1e6, "mm^2"
    if unit == "1":
        return value, ""
    return value, unit


def _cell(q) -> str:
    """A figure (:class:`cosim.energy.quantity.Quantity`) as table text, in its display
    unit (:func:`display_value`)."""
    value, unit = display_value(q.value, q.unit)
    return f"{value:.4g} {html.escape(unit)}".rstrip()


def layer_list(names) -> str:
    """Layer names in short form: numbered runs of one kind joined
    (``relu1, relu2, relu3, pool1`` -> ``relu1..3, pool1``), the order kept."""
    import re

    groups: dict[str, list[int]] = {}
    order: list[str] = []
    out: list[str] = []
    for n in names:
        m = re.fullmatch(r"(.*?)(\d+)", n)
        if m is None:
            out.append(n)
            continue
        if m.group(1) not in groups:
            order.append(m.group(1))
        groups.setdefault(m.group(1), []).append(int(m.group(2)))
    for kind in order:
        nums = groups[kind]
        runs, start = [], 0
        for i in range(1, len(nums) + 1):
            if i == len(nums) or nums[i] != nums[i - 1] + 1:
                a, b = nums[start], nums[i - 1]
                runs.append(f"{kind}{a}" if a == b else f"{kind}{a}..{b}")
                start = i
        out += runs
    return ", ".join(out)


def component_colours(components) -> dict[str, tuple]:
    """One colour per component name, the same in every panel (sorted names; tab20, its
    ten strong colours before their light partners)."""
    from cosim.report._mpl import pyplot

    cmap = pyplot().get_cmap("tab20")
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return {c: cmap(order[i % 20]) for i, c in enumerate(sorted(components))}


def energy_breakdown_figure(report: EnergyReport, *, mode: str = "training"):
    """Where the energy goes, per layer, for both designs, and the chip area.

    Three panels: stacked bars of the energy per image of each layer of the photonic
    design and of the crossbar baseline, each on its own y axis (their totals differ by
    orders of magnitude) in an SI-prefixed joule, one colour per component shared by
    both panels (legends below the panels); layers below :data:`EMPTY_FRACTION` of the
    largest are left out (named in the panel title, :func:`layer_list`); then the total
    area of each design in mm^2.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from cosim.report._mpl import pyplot

    plt = pyplot()
    designs = ("design", "baseline")
    data = {d: energy_by_component(report, d, mode) for d in designs}
    colours = component_colours({c for d in designs for v in data[d].values() for c in v})
    fig, axes = plt.subplots(1, 3, figsize=(13, 6.0), width_ratios=(1, 1, 0.4))
    for ax, design in zip(axes, designs):
        totals = {ln: sum(v.values()) for ln, v in data[design].items()}
        top = max(totals.values(), default=0.0)
        layers = [ln for ln, t in totals.items() if t > EMPTY_FRACTION * top]
        left_out = [ln for ln in totals if ln not in layers]
        factor, prefix = si_prefix(top)
        comps = [c for c in colours if any(data[design][ln].get(c, 0.0) > 0 for ln in layers)]
        bottom = np.zeros(len(layers))
        for comp in comps:
            vals = np.array([data[design][ln].get(comp, 0.0) for ln in layers]) / factor
            ax.bar(layers, vals, bottom=bottom, label=comp, color=colours[comp])
            bottom += vals
        ax.set_ylim(0.0, 1.08 * top / factor)
        title = f"{report.names.get(design, design)}: {report.network} {mode}"
        if left_out:
            title += "\n" + "\n".join(textwrap.wrap(
                f"(not drawn, < {EMPTY_FRACTION:.1%} of the largest: "
                f"{layer_list(left_out)})", 60))
        ax.set_title(title, fontsize="small")
        ax.set_ylabel(f"energy per image ({prefix}J)")
        ax.tick_params(axis="x", rotation=45)
        # below the panel: never over a bar, however the columns are spread
        ax.legend(fontsize=8, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.16))
        ax.grid(alpha=0.3, axis="y")
    area = [display_value(report.figures[f"{d}.area.total"].value,
                          report.figures[f"{d}.area.total"].unit) for d in designs]
    ax = axes[2]
    bars = ax.bar([report.names.get(d, d) for d in designs], [a[0] for a in area],
                  color="0.55")
    ax.bar_label(bars, labels=[f"{a[0]:.3g}" for a in area], fontsize="small")
    if min(a[0] for a in area) > 0 and max(a[0] for a in area) > 100 * min(a[0] for a in area):
        ax.set_yscale("log")
    ax.set_ylabel(f"chip area ({area[0][1]})")
    ax.set_title("area of the tiles", fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_energy_breakdown(report: EnergyReport, path: str | Path, *,
                          mode: str = "training") -> Path:
    """Write :func:`energy_breakdown_figure` as PNG to ``path``; return the path."""
    from cosim.report._mpl import save

    return save(energy_breakdown_figure(report, mode=mode), path)


#: What each tornado plot shows: the ratio's name and its formula.
TORNADO_RATIOS = {"energy_saving": "training energy saving (baseline energy / design energy)",
                  "speedup": "training speed-up (baseline time / design time)"}
NO_CHANGE_DECADES = 0.005
"""A swing smaller than this (|log10(high / low)|, about 1 %) is drawn as "no change"
instead of a bar (its two end labels would print over each other)."""
RISES, FALLS = "#4c72b0", "#dd8452"
"""Bar colours: the ratio rises / falls from the low to the high value."""


def end_text(value) -> str:
    """A varied value as short text (``3.12e-09``, ``16``, ``tile``)."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def tornado_figure(swings, base: float, *, what: str = "energy_saving"):
    """Tornado plot: for each varied value (largest swing on top) a bar from the ratio
    at its low end to the ratio at its high end (each end labelled with its value), on a
    log axis wide enough for the labels, the base ratio marked; a swing below
    :data:`NO_CHANGE_DECADES` is a "no change" note.  ``swings``:
    :func:`cosim.energy.sensitivity.sensitivity`; ``what``: a key of
    :data:`TORNADO_RATIOS`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import math

    from matplotlib.patches import Patch

    from cosim.report._mpl import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(swings) + 1.9))
    ends = [getattr(s, what) for s in swings]
    xs = [v for pair in ends for v in pair if v > 0] + [base]
    for i, s in enumerate(reversed(swings)):
        lo, hi = getattr(s, what)
        if lo > 0 and hi > 0 and abs(math.log10(hi / lo)) < NO_CHANGE_DECADES:
            ax.plot([lo], [i], "|", color="0.4", ms=10)
            ax.annotate(f"{end_text(s.low)} .. {end_text(s.high)}: no change", (lo, i),
                        xytext=(6, 0), textcoords="offset points", fontsize=7,
                        va="center", color="0.35")
            continue
        ax.barh(i, abs(hi - lo), left=min(lo, hi), color=RISES if hi >= lo else FALLS)
        for value, x in ((s.low, lo), (s.high, hi)):
            right = x == max(lo, hi)
            ax.annotate(end_text(value), (x, i), xytext=(3 if right else -3, 0),
                        textcoords="offset points", fontsize=7, va="center",
                        ha="left" if right else "right")
    ax.set_yticks(range(len(swings)), [s.label for s in reversed(swings)], fontsize=8)
    ax.axvline(base, color="k", lw=1)
    ax.set_xscale("log")
    # a factor 3 (about half a decade) beyond the extreme ends holds their labels
    ax.set_xlim(min(xs) / 3, max(xs) * 3)
    ax.set_ylim(-0.7, len(swings) - 0.3)
    ax.set_xlabel(f"{TORNADO_RATIOS[what]}; bar from the low to the high value")
    ax.legend(handles=[Patch(color=RISES, label="ratio rises with the value"),
                       Patch(color=FALLS, label="ratio falls with the value"),
                       plt.Line2D([], [], color="k", lw=1, label=f"base design {base:.3g}x")],
              fontsize=7, ncols=3, loc="lower left", bbox_to_anchor=(0.0, 1.01))
    ax.grid(alpha=0.3, axis="x", which="both")
    return fig


def plot_tornado(swings, base: float, path: str | Path, *,
                 what: str = "energy_saving") -> Path:
    """Write :func:`tornado_figure` as PNG to ``path``; return the path."""
    from cosim.report._mpl import save

    return save(tornado_figure(swings, base, what=what), path)


def write_html(report: EnergyReport, out_dir: str | Path, *, sensitivity=None) -> Path:
    """Write ``energy_<network>.html`` and its PNGs to ``out_dir``; return the HTML path.
    ``sensitivity``: swings of :func:`cosim.energy.sensitivity.sensitivity` (a table and
    tornado plots), or None."""
    from cosim.paths import user_path

    out = Path(out_dir)
    with user_path(out, "report directory", "give --out-dir a writable directory"):
        out.mkdir(parents=True, exist_ok=True)
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in report.network)
    png = plot_energy_breakdown(report, out / f"energy_{stem}.png")
    rows = []
    for k in KEY_FIGURES:
        cells = []
        for d in ("design", "baseline"):
            cells.append(f"<td>{_cell(report.figures[f'{d}.{k}'])}</td>")
        rows.append(f"<tr><td>{k}</td>{''.join(cells)}</tr>")
    ratio_rows = []
    for k in ("training.speedup", "training.energy_saving", "training.efficiency",
              "inference.speedup", "inference.energy_saving", "inference.efficiency"):
        ours = report.figures[f"ratio.{k}"].value
        claim = CLAIMS.get(k)
        claim_txt = f"{claim:g}x (claim)" if claim is not None else "-"
        ratio_rows.append(f"<tr><td>{k}</td><td>{ours:.4g}x</td>"
                          f"<td class='claim'>{claim_txt}</td></tr>")
    flags = "".join(f"<li>{html.escape(f)}</li>" for f in report.flags) or "<li>none</li>"
    link = "".join(f"<tr><td>{k}</td><td>{_cell(q)}</td></tr>"
                   for k, q in report.figures.items() if k.startswith("design.link."))
    count_rows = "".join(
        f"<tr><td>{html.escape(r['layer'])}</td><td>{r['phase']}</td>"
        f"<td>{r.get('symbols', 0):.4g}</td><td>{r.get('reads', 0):.4g}</td>"
        f"<td>{r.get('adc_conversions', 0):.4g}</td><td>{r.get('pulses', 0):.4g}</td></tr>"
        for r in usage_counts(report))
    sens = ""
    if sensitivity:
        base_e = report.figures["ratio.training.energy_saving"].value
        base_s = report.figures["ratio.training.speedup"].value
        t_e = plot_tornado(sensitivity, base_e, out / f"tornado_energy_{stem}.png")
        t_s = plot_tornado(sensitivity, base_s, out / f"tornado_speedup_{stem}.png",
                           what="speedup")
        srows = "".join(
            f"<tr><td>{html.escape(s.label)}</td><td>{html.escape(', '.join(s.keys))}</td>"
            f"<td>{html.escape(end_text(s.low))}</td><td>{html.escape(end_text(s.high))}</td>"
            f"<td>{s.energy_saving[0]:.4g}x .. {s.energy_saving[1]:.4g}x</td>"
            f"<td>{s.speedup[0]:.4g}x .. {s.speedup[1]:.4g}x</td>"
            f"<td>{html.escape(s.why)}</td></tr>" for s in sensitivity)
        sens = (f"<h2>Sensitivity (one value at a time)</h2><table><tr><th>value</th>"
                f"<th>keys</th><th>low</th><th>high</th><th>energy ratio</th>"
                f"<th>speed-up</th><th>range</th></tr>{srows}</table>"
                f"<img src=\"{t_e.name}\" alt=\"tornado plot of the energy ratio\">"
                f"<img src=\"{t_s.name}\" alt=\"tornado plot of the speed-up\">")
    figures_json = html.escape(json.dumps(report.as_dict()["figures"], indent=1)[:400000])
    # a backslash at the end of a line below continues it (no newline in the page)
    text = f"""<!doctype html><html><head><meta charset="utf-8">
<title>cosim energy: {report.network}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}} \
td,th{{border:1px solid #ccc;padding:3px 8px}} img{{max-width:100%}}
table{{border-collapse:collapse}} .claim{{color:#777;font-style:italic}}</style></head><body>
<h1>Energy, latency and area: {report.network}</h1>
<p>Design {html.escape(report.names.get("design", ""))} against baseline \
{html.escape(report.names.get("baseline", ""))}; counts: {html.escape(report.counts_source)}</p>
<h2>Warnings</h2><ul>{flags}</ul>
<h2>Ratios of the design over the baseline</h2>
<table><tr><th>ratio</th><th>this model (our result)</th>\
<th>claimed by the paper (claim, not our result)</th></tr>
{''.join(ratio_rows)}</table>
<p class="claim">Claims: {html.escape(CLAIMS_SOURCE)}. They are shown for comparison only.</p>
<h2>Figures</h2><table><tr><th>figure</th><th>design</th><th>baseline</th></tr>{''.join(rows)}</table>
<h2>Counts priced per image (design)</h2><table><tr><th>layer</th><th>phase</th>\
<th>symbols</th><th>reads</th><th>ADC conversions</th><th>pulses</th></tr>{count_rows}</table>
{sens}
<h2>Where the energy goes</h2><img src="{png.name}" alt="stacked energy per layer">
<h2>Link budget and resolution</h2><table>{link}</table>
<p>Every figure can be traced: \
<code>cosim energy ... --explain NAME</code>.</p>
<details><summary>All figures (JSON)</summary><pre>{figures_json}</pre></details>
</body></html>"""
    path = out / f"energy_{stem}.html"
    with user_path(path, "report", "give --out-dir a writable directory"):
        path.write_text(text, encoding="utf-8")
    return path
