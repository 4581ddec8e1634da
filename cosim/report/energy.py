"""HTML report and stacked-bar plot of the energy model (matplotlib imported lazily)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from cosim.energy.model import CLAIMS, CLAIMS_SOURCE, EnergyReport, energy_by_component

KEY_FIGURES = (
    "training.energy_per_image", "training.time_per_image", "training.latency_per_image",
    "training.energy_per_epoch", "training.time_per_epoch", "training.gops_per_w",
    "training.gops_per_mm2", "inference.energy_per_image", "inference.time_per_image",
    "inference.gops_per_w", "inference.gops_per_mm2", "area.total",
)


def plot_energy_breakdown(report: EnergyReport, path: str | Path, *,
                          mode: str = "training") -> Path:
    """Stacked bars (J per image, log axis) of where the energy goes, per layer, both designs."""
    from cosim.report._mpl import pyplot, save

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, design in zip(axes, ("bplight", "baseline")):
        data = energy_by_component(report, design, mode)
        layers = list(data)
        comps = sorted({c for v in data.values() for c in v})
        bottom = [0.0] * len(layers)
        for comp in comps:
            vals = [data[ln].get(comp, 0.0) for ln in layers]
            ax.bar(layers, vals, bottom=bottom, label=comp)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_title(f"{design}: {report.network} {mode}, J per image")
        ax.tick_params(axis="x", rotation=60)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("energy per image (J)")
    return save(fig, path)


def write_html(report: EnergyReport, out_dir: str | Path) -> Path:
    """Write ``energy_<network>.html`` and its PNG to ``out_dir``; return the HTML path."""
    from cosim.paths import user_path

    out = Path(out_dir)
    with user_path(out, "report directory", "give --out-dir a writable directory"):
        out.mkdir(parents=True, exist_ok=True)
    png = plot_energy_breakdown(report, out / f"energy_{report.network}.png")
    rows = []
    for k in KEY_FIGURES:
        cells = []
        for d in ("bplight", "baseline"):
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
                   for k, q in report.figures.items() if k.startswith("bplight.link."))
    figures_json = html.escape(json.dumps(report.as_dict()["figures"], indent=1)[:400000])
    # a backslash at the end of a line below continues it (no newline in the page)
    text = f"""<!doctype html><html><head><meta charset="utf-8">
<title>cosim energy: {report.network}</title>
<style>body{{font-family:sans-serif;max-width:1100px}} \
td,th{{border:1px solid #ccc;padding:3px 8px}}
table{{border-collapse:collapse}} .claim{{color:#777;font-style:italic}}</style></head><body>
<h1>Energy, latency and area: {report.network}</h1>
<h2>Warnings</h2><ul>{flags}</ul>
<h2>Ratios of the photonic design over the crossbar baseline</h2>
<table><tr><th>ratio</th><th>this model (our result)</th>\
<th>claimed by the paper (claim, not our result)</th></tr>
{''.join(ratio_rows)}</table>
<p class="claim">Claims: {html.escape(CLAIMS_SOURCE)}. They are shown for comparison only.</p>
<h2>Figures</h2><table><tr><th>figure</th><th>bplight</th><th>baseline</th></tr>{''.join(rows)}</table>
<h2>Where the energy goes</h2><img src="{png.name}" alt="stacked energy per layer">
<h2>Link budget and resolution</h2><table>{link}</table>
<p>Every figure can be traced: \
<code>cosim energy --network {report.network} --explain NAME</code>.</p>
<details><summary>All figures (JSON)</summary><pre>{figures_json}</pre></details>
</body></html>"""
    path = out / f"energy_{report.network}.html"
    with user_path(path, "report", "give --out-dir a writable directory"):
        path.write_text(text, encoding="utf-8")
    return path
