"""Plots of sweep result files (matplotlib imported lazily; reads only the file).

:func:`plot_sweep` reads a sweep file (:func:`sweep_table`) and :func:`sweep_figure`
draws it: a grid of small panels, one per result, the task's key result first
(:attr:`cosim.sweep.Task.results`), each against the numeric swept coordinate with the
most values, one colour per combination of the other grid coordinates.  Axis labels
carry units (the task's, or the unit suffix of the name: ``_ohm``, ``_frac``, ...; a
value in an SI unit is drawn with a prefix, 2e-5 A as 20 uA; a long label is wrapped).
A swept coordinate whose positive values span decades is drawn on a log axis
(symmetric log when it also holds 0; a few grid values are its ticks); results stay on
a linear axis (a round-off error of 1e-16 at a zero setting would otherwise stretch a
log axis over 14 decades).

A Monte Carlo draws every sample as a marker and, when the x coordinate is a grid value,
the mean +- one standard deviation over the samples of each grid point as a line in the
same colour (the legend shows that colour).  When the x coordinate is itself drawn
(``sweep.monte_carlo.distributions``) only the samples are drawn.  Failed points are
left out (and counted in the title).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: Name suffix -> unit, for names that say their unit (STYLE.md: ``wire_resistance_ohm``).
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_ohm", "ohm"), ("_frac", "fraction"), ("_hz", "Hz"), ("_v", "V"), ("_a", "A"),
    ("_w", "W"), ("_j", "J"), ("_m", "m"), ("_bits", "bits"), ("_db", "dB"),
)
PANEL_COLUMNS = 3
"""Panels per row of the grid."""
GRID_TICKS = 8
"""A log x axis of at most this many grid values has its ticks at those values."""


def _plt():
    from cosim.report._mpl import pyplot

    return pyplot()


def sweep_table(path: str | Path) -> dict:
    """Coordinates, results and status of a sweep file as plain numpy arrays.

    Returns
    -------
    dict
        ``task``, ``kind`` (``"grid"`` or ``"monte_carlo"``), ``coords`` and ``results``
        (name -> array, one entry per point), ``status`` (object array of ``"ok"``,
        ``"failed"``, ``"pending"``), ``swept_keys`` (file order: grid keys, then
        ``sample`` and the drawn keys of a Monte Carlo), ``name`` (the file name).
    """
    from cosim.sweep.store import SweepFile

    with SweepFile(path) as f:
        return {"task": f.task, "kind": str(f.h5.attrs["kind"]), "coords": f.coords(),
                "results": f.results(), "status": np.array(f.status(), dtype=object),
                "swept_keys": f.swept_keys, "name": Path(path).name}


def _task_units(task: str) -> tuple[dict[str, str], dict[str, str]]:
    from cosim.sweep.tasks import TASKS

    t = TASKS.get(task)
    return (dict(t.results), dict(t.param_units)) if t is not None else ({}, {})


def axis_unit(name: str, units: dict[str, str] | None = None) -> tuple[str, str | None]:
    """(name to show, unit or None): the unit from ``units``, else from the name's suffix
    (:data:`SUFFIX_UNITS`); a suffix that says the unit is dropped from the name
    (``wire_resistance_ohm`` -> ``wire_resistance``, ohm; ``g_std_s`` in S -> ``g_std``;
    ``error_rms_frac`` in "fraction of G range" -> ``error_rms``)."""
    if units and name in units:
        unit = units[name]
        if name.lower().endswith("_" + unit.lower()):
            return name[:-len(unit) - 1], unit
        for suffix, said in SUFFIX_UNITS:      # _frac of a "fraction of G range"
            if name.lower().endswith(suffix) and unit.startswith(said):
                return name[:-len(suffix)], unit
        return name, unit
    for suffix, unit in SUFFIX_UNITS:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)], unit
    return name, None


LABEL_WIDTH = 34
"""Characters per line of an axis label; a longer one is wrapped (a small panel's y
label would otherwise run past its top and bottom)."""


def axis_label(name: str, units: dict[str, str] | None = None, *,
               unit: str | None = None, width: int | None = None) -> str:
    """``"name (unit)"`` (:func:`axis_unit`; ``unit`` replaces the unit, e.g. with an SI
    prefix); the bare name when no unit is known.  ``width``: wrap the label onto lines
    of at most this many characters, breaking before the unit first."""
    import textwrap

    shown, known = axis_unit(name, units)
    unit = unit if unit is not None else known
    text = f"{shown} ({unit})" if unit else shown
    if width is None or len(text) <= width:
        return text
    if unit and len(shown) <= width and len(unit) + 2 <= width:
        return f"{shown}\n({unit})"
    return "\n".join(textwrap.wrap(text, width))


def axis_scale(values) -> tuple[str, dict]:
    """(scale, keyword arguments of ``set_xscale``) for these values: ``"log"`` when they
    are positive and span more than a decade, ``"symlog"`` (linear below the smallest
    positive value) when they also hold 0, else ``"linear"``."""
    v = np.unique(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    if pos.size < 2 or v.min() < 0 or pos.max() / pos.min() <= 10.0:
        return "linear", {}
    if v.min() > 0:
        return "log", {}
    return "symlog", {"linthresh": float(pos.min())}


def _x_key(t: dict) -> str | None:
    """The numeric swept coordinate with the most distinct values (the last on ties)."""
    best, n_best = None, 0
    for k in t["swept_keys"]:
        v = np.asarray(t["coords"][k])
        if k != "sample" and v.dtype.kind in "iuf" and len(np.unique(v)) >= n_best:
            best, n_best = k, len(np.unique(v))
    return best


def _grid_keys(t: dict) -> list[str]:
    keys = list(t["swept_keys"])
    return keys[:keys.index("sample")] if "sample" in keys else keys


def _ordered_names(t: dict, results: list[str] | None, key_first: list[str]) -> list[str]:
    if results is not None:
        names = list(results)
        missing = [n for n in names if n not in t["results"]]
        if missing:
            raise KeyError(f"no result {missing[0]!r} in {t.get('name', 'the sweep file')}; "
                           f"results: {', '.join(t['results'])}")
        return names
    scalars = [k for k, v in t["results"].items() if np.asarray(v).ndim == 1]
    return [k for k in key_first if k in scalars] + [k for k in scalars if k not in key_first]


def sweep_figure(t: dict, results: list[str] | None = None, *, fig=None):
    """Draw a sweep table (:func:`sweep_table`) as a grid of small panels.

    Parameters
    ----------
    t : dict
        The table of :func:`sweep_table`.
    results : list of str, optional
        Results to draw, in this order (default: every scalar result, the task's key
        results first, :attr:`cosim.sweep.Task.results`).
    fig : matplotlib Figure, optional
        Draw into this figure (default: a new one sized to the grid).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per result (row by row, :data:`PANEL_COLUMNS` per row); the legend (one
        entry per group of the other grid coordinates) sits in the first panel.
    """
    from matplotlib.ticker import NullFormatter

    from cosim.report._mpl import si_scale

    result_units, param_units = _task_units(t["task"])
    names = _ordered_names(t, results, list(result_units))
    plt = _plt()
    n_panels = max(len(names), 1)
    ncols = min(n_panels, PANEL_COLUMNS)
    nrows = math.ceil(n_panels / ncols)
    if fig is None:
        fig = plt.figure(figsize=(3.9 * ncols, 3.0 * nrows + 0.5))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(names):]:
        fig.delaxes(ax)
    ok = t["status"] == "ok"
    xk = _x_key(t)
    coords = t["coords"]
    n = len(t["status"])
    x = np.asarray(coords[xk], dtype=float) if xk else np.arange(n, dtype=float)
    mc = t["kind"] == "monte_carlo"
    x_drawn = mc and xk is not None and xk not in _grid_keys(t)
    group_keys = [k for k in t["swept_keys"] if k not in (xk, "sample")
                  and (not mc or k in _grid_keys(t))]
    groups: dict[tuple, list[int]] = {}
    for i in range(n):
        groups.setdefault(tuple(coords[k][i] for k in group_keys), []).append(i)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x_scale = axis_scale(x[ok])
    x_unit = axis_unit(xk, param_units)[1] if xk else None
    x_factor, x_unit = (si_scale(x[ok], x_unit) if x_unit and x_scale[0] == "linear"
                        else (1.0, x_unit))
    x = x / x_factor
    x_ticks = np.unique(x[ok])
    for ax, name in zip(axes, names):
        y = np.asarray(t["results"][name], dtype=float)
        y_unit = axis_unit(name, result_units)[1]
        y_factor, y_unit = si_scale(y[ok], y_unit) if y_unit else (1.0, None)
        y = y / y_factor
        for j, (g, idx) in enumerate(groups.items()):
            idx = np.array([i for i in idx if ok[i] and np.isfinite(y[i])], dtype=int)
            if idx.size == 0:
                continue
            c = colours[j % len(colours)]
            label = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in zip(group_keys, g)) or name
            if mc:
                ax.plot(x[idx], y[idx], "o", ms=4, alpha=0.45, color=c, ls="none",
                        label=label if x_drawn else f"_samples {label}")
                if not x_drawn:
                    xs = np.unique(x[idx])
                    m = np.array([np.mean(y[idx][x[idx] == v]) for v in xs])
                    s = np.array([np.std(y[idx][x[idx] == v]) for v in xs])
                    ax.errorbar(xs, m, yerr=s, fmt="none", ecolor=c, capsize=3)
                    ax.plot(xs, m, "s-", color=c, ms=5, label=label)
            else:
                order = np.argsort(x[idx], kind="stable")
                ax.plot(x[idx][order], y[idx][order], "o-", color=c, ms=4, label=label)
        ax.set_xscale(x_scale[0], **x_scale[1])
        if x_scale[0] != "linear" and not x_drawn and 0 < x_ticks.size <= GRID_TICKS:
            # a few grid values on a log axis: ticks at them, not at 10^-1 beside 0
            ax.set_xticks(x_ticks, [f"{v:g}" for v in x_ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(axis_label(xk, param_units, unit=x_unit, width=LABEL_WIDTH)
                      if xk else "point", fontsize="small")
        ax.set_ylabel(axis_label(name, result_units, unit=y_unit, width=LABEL_WIDTH),
                      fontsize="small")
        ax.tick_params(labelsize="small")
        ax.grid(alpha=0.3, which="both")
    if len(groups) > 1 and names:
        axes[0].legend(fontsize="x-small", title=", ".join(group_keys) or None,
                       title_fontsize="x-small")
    what = ""
    if mc:
        what = ("; markers: samples" if x_drawn else
                "; markers: samples, line and bars: mean \u00b1 1 std over the samples")
    fig.suptitle(f"{t.get('name', '')}: {t['task']} ({int(ok.sum())}/{n} points ok{what})",
                 fontsize="medium")
    fig.tight_layout()
    return fig


def plot_sweep(path: str | Path, results: list[str] | None = None, *, out: str | Path |
               None = None, fig=None):
    """Each result (or the named ``results``) of a sweep file against the swept coordinate.

    Parameters
    ----------
    path : str or Path
        Sweep file.
    results : list of str, optional
        Result names to draw, in this order (default: all scalar results, the task's key
        result first).
    out : str or Path, optional
        Write the figure here (PNG, PDF, SVG by suffix).
    fig : matplotlib Figure, optional
        Draw into this figure.

    Returns
    -------
    matplotlib.figure.Figure
        See :func:`sweep_figure`.
    """
    fig = sweep_figure(sweep_table(path), results, fig=fig)
    if out is not None:
        from cosim.paths import user_path

        with user_path(out, "plot file", "give -o a writable path"):
            fig.savefig(out, dpi=120)
    return fig
