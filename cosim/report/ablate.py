"""The ablation report (``cosim ablate``): a bar plot of test accuracy per configuration
(mean over the seeds, error bar = 95 % interval of the mean) against float, and an HTML
page with the table.  Takes the summary of :func:`cosim.orchestrator.ablate.run_ablation`.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from cosim.paths import user_path
from cosim.report._mpl import pyplot as _plt
from cosim.report._mpl import save as _save

COLOURS = {"float": "#888888", "non-ideality": "#d9793a", "mitigated": "#3a7dc9"}
"""Bar colour of the float row, of a configuration without and with a mitigation."""


def plot_ablation(summary: dict, path: str | Path | None = None, *, ax=None):
    """Horizontal bars: test accuracy (%) of every configuration, mean over the seeds with
    the 95 % interval of the mean as error bar (none with one seed; drawn within the
    0 .. 100 % an accuracy can take, the table keeps the interval as computed), and the
    float mean as a dashed line; the legend names the colours (float, a non-ideality, a
    mitigation).  Draws on ``ax`` if given; writes ``path`` (PNG) if given and returns
    it, else returns the axes."""
    from matplotlib.patches import Patch

    rows = summary["rows"]
    names = [r["name"] for r in rows]
    mean = np.array([100 * r["stats"]["mean"] for r in rows])
    lo = np.array([np.nan if r["stats"]["ci_low"] is None else 100 * r["stats"]["ci_low"]
                   for r in rows])
    hi = np.array([np.nan if r["stats"]["ci_high"] is None else 100 * r["stats"]["ci_high"]
                   for r in rows])
    lo, hi = np.clip(lo, 0.0, 100.0), np.clip(hi, 0.0, 100.0)
    err = np.nan_to_num(np.vstack([mean - lo, hi - mean]))
    fig = None
    if ax is None:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(rows) + 1.4))
    y = np.arange(len(rows))[::-1]
    colours = [COLOURS["float"] if r["name"] == "float" else
               COLOURS["mitigated" if r["mitigation"] else "non-ideality"] for r in rows]
    ax.barh(y, mean, xerr=err, color=colours, capsize=3)
    handles = [Patch(color=COLOURS["float"], label="float"),
               Patch(color=COLOURS["non-ideality"], label="hardware, no mitigation"),
               Patch(color=COLOURS["mitigated"], label="with its mitigation")]
    ref = [r for r in rows if r["name"] == "float"]
    if ref:
        handles.append(ax.axvline(100 * ref[0]["stats"]["mean"], color="k", ls="--", lw=1,
                                  label="float (mean)"))
    ax.legend(handles=handles, fontsize=8, ncols=2, loc="lower left",
              bbox_to_anchor=(0.0, 1.01))
    ax.set_yticks(y, names)
    ax.set_xlabel(f"test accuracy (%), mean of {len(summary['seeds'])} seed(s) "
                  f"{', '.join(map(str, summary['seeds']))}\n"
                  f"error bars: 95 % interval of the mean, drawn within 0 .. 100")
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3, axis="x")
    if path is None:
        return ax
    return _save(fig if fig is not None else ax.figure, path)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def ablation_table_html(summary: dict) -> str:
    """The ablation table as HTML: per configuration its mitigation, the accuracy per
    seed, mean, std, 95 % interval, the paired difference to float with its interval,
    and the overrides of the row (the ``cosim ablate`` page and the demo report)."""
    body = []
    for r in summary["rows"]:
        s, d = r["stats"], r.get("vs_float")
        ci = "-" if s["ci_low"] is None else f"{_pct(s['ci_low'])} .. {_pct(s['ci_high'])}"
        dd = "" if d is None else _pct(d["mean"])
        dci = "" if d is None or d["ci_low"] is None else \
            f"{_pct(d['ci_low'])} .. {_pct(d['ci_high'])}"
        body.append(
            f"<tr><td style='text-align:left'>{html.escape(r['name'])}</td>"
            f"<td style='text-align:left'>{html.escape(r['mitigation'] or '-')}</td>"
            f"<td>{', '.join(_pct(a) for a in r['accuracy'])}</td>"
            f"<td><b>{_pct(s['mean'])}</b></td><td>{_pct(s['std'])}</td><td>{ci}</td>"
            f"<td>{dd}</td><td>{dci}</td>"
            f"<td style='text-align:left'><code>{html.escape(' '.join(r['overrides']))}"
            f"</code></td></tr>")
    return ("<table><tr><th>configuration</th><th>mitigation</th>"
            "<th>test accuracy per seed (%)</th><th>mean</th><th>std</th>"
            "<th>95 % interval</th><th>- float</th><th>95 % interval of the difference</th>"
            "<th>overrides</th></tr>" + "".join(body) + "</table>")


def ablation_seeds_note(summary: dict) -> str:
    """One sentence stating the seeds of an ablation and how the difference is paired."""
    seeds = ", ".join(map(str, summary["seeds"]))
    return (f"Seeds: {seeds} ({len(summary['seeds'])} per configuration); the difference "
            "to float is paired by seed (same initial weights, same batches).")


def write_ablation_report(summary: dict, out_html: str | Path, *,
                          title: str = "bplight-cosim ablation", notes: list[str] = ()
                          ) -> Path:
    """HTML page: notes, the table (accuracy per seed, mean, std, 95 % interval, the
    paired difference to float with its interval, the overrides of each row) and the
    bar plot (PNG written beside it, ``<stem>.png``, and embedded)."""
    import base64

    out_html = Path(out_html)
    png = plot_ablation(summary, out_html.with_suffix(".png"))
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    text = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:3px 8px;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<ul>{note_html}<li>{html.escape(ablation_seeds_note(summary))}</li></ul>
{ablation_table_html(summary)}
<img alt="{html.escape(Path(png).name)}" src="data:image/png;base64,{data}">
</body></html>
"""
    with user_path(out_html, "report", "write the report to a writable directory"):
        out_html.write_text(text, encoding="utf-8")
    return out_html
