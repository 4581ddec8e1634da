"""HTML report and plots of the energy model (matplotlib imported lazily).

Figures are shown in the unit a reader expects (:func:`display_value`: areas in mm^2);
the model itself keeps SI units.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from cosim.energy.model import (
    CLAIMS,
    CLAIMS_SOURCE,
    EnergyReport,
    energy_by_component,
    usage_counts,
)

KEY_FIGURES = (
    "training.energy_per_image", "training.time_per_image", "training.latency_per_image",
    "training.energy_per_epoch", "training.time_per_epoch", "training.gops_per_w",
    "training.gops_per_mm2", "inference.energy_per_image", "inference.time_per_image",
    "inference.gops_per_w", "inference.gops_per_mm2", "training.power", "area.tiles",
    "area.total",
)


#: SI prefixes for display: (factor, prefix), largest first.
_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"), (1e-9, "n"), (1e-12, "p"),
             (1e-15, "f"))
EMPTY_FRACTION = 1e-3
"""A layer whose energy is below this fraction of the largest layer's is not drawn (it
would be an empty column: activations and pooling); the title names the ones left out."""


def si_prefix(value: float) -> tuple[float, str]:
    """(factor, prefix) that shows ``value`` (SI) as a number of at least 1:
    ``si_prefix(4.6e-4) == (1e-6, "\u00b5")`` (460 uJ)."""
    for factor, prefix in _PREFIXES:
        if abs(value) >= factor:
            return factor, prefix
    return _PREFIXES[-1]


def display_value(value: float, unit: str) -> tuple[float, str]:
    """A figure in the unit a reader expects: areas in mm^2 (the model keeps m^2)."""
    if unit == "m^2":
        return value * 1e6, "mm^2"
    return value, unit


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
    both panels; layers below :data:`EMPTY_FRACTION` of the largest are left out (named
    in the panel title); then the total area of each design in mm^2.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from cosim.report._mpl import pyplot

    plt = pyplot()
    designs = ("design", "baseline")
    data = {d: energy_by_component(report, d, mode) for d in designs}
    colours = component_colours({c for d in designs for v in data[d].values() for c in v})
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), width_ratios=(1, 1, 0.45))
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
            title += f"\n(not drawn, < {EMPTY_FRACTION:.1%} of the largest: " \
                     f"{', '.join(left_out)})"
        ax.set_title(title, fontsize="small")
        ax.set_ylabel(f"energy per image ({prefix}J)")
        ax.tick_params(axis="x", rotation=45)
        ax.legend(fontsize=7, ncols=2)
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


def plot_tornado(swings, base: float, path: str | Path, *,
                 what: str = "energy_saving") -> Path:
    """Tornado plot: for each varied value (largest swing on top) a bar from the ratio
    at its low end to the ratio at its high end, log axis, the base ratio marked.
    ``swings``: :func:`cosim.energy.sensitivity.sensitivity`; ``what``: "energy_saving"
    or "speedup"."""
    from cosim.report._mpl import pyplot, save

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(swings) + 1.5))
    for i, s in enumerate(reversed(swings)):
        lo, hi = getattr(s, what)
        ax.barh(i, abs(hi - lo), left=min(lo, hi), color="#4c72b0" if hi >= lo else "#dd8452")
        ax.annotate(f"{s.low:.3g}" if isinstance(s.low, float) else str(s.low), (lo, i),
                    fontsize=7, ha="right" if lo <= hi else "left", va="center")
        ax.annotate(f"{s.high:.3g}" if isinstance(s.high, float) else str(s.high), (hi, i),
                    fontsize=7, ha="left" if lo <= hi else "right", va="center")
    ax.set_yticks(range(len(swings)), [s.label for s in reversed(swings)], fontsize=8)
    ax.axvline(base, color="k", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"training {what.replace('_', ' ')} (design over baseline), low .. high")
    fig.tight_layout()
    return save(fig, path)


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
            q = report.figures[f"{d}.{k}"]
            value, unit = display_value(q.value, q.unit)
            cells.append(f"<td>{value:.4g} {html.escape(unit)}</td>")
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
    link = "".join(f"<tr><td>{k}</td><td>{q.value:.4g} {html.escape(q.unit)}</td></tr>"
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
            f"<td>{html.escape(str(s.low))}</td><td>{html.escape(str(s.high))}</td>"
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
<style>body{{font-family:sans-serif;max-width:1100px}} \
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
