"""HTML report and stacked-bar plot of the energy model (matplotlib imported lazily)."""

from __future__ import annotations

import html
import json
from pathlib import Path

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


def plot_energy_breakdown(report: EnergyReport, path: str | Path, *,
                          mode: str = "training") -> Path:
    """Stacked bars (J per image, log axis) of where the energy goes, per layer, both designs."""
    from cosim.report._mpl import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, design in zip(axes, ("design", "baseline")):
        data = energy_by_component(report, design, mode)
        layers = list(data)
        comps = sorted({c for v in data.values() for c in v})
        bottom = [0.0] * len(layers)
        for comp in comps:
            vals = [data[ln].get(comp, 0.0) for ln in layers]
            ax.bar(layers, vals, bottom=bottom, label=comp)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_title(f"{report.names.get(design, design)}: {report.network} {mode}, "
                     "J per image")
        ax.tick_params(axis="x", rotation=60)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("energy per image (J)")
    return save(fig, path)


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
            cells.append(f"<td>{q.value:.4g} {html.escape(q.unit)}</td>")
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
td,th{{border:1px solid #ccc;padding:3px 8px}}
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
