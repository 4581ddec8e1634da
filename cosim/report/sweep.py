"""Plots of sweep result files (matplotlib imported lazily; reads only the file).

:func:`plot_sweep` draws each result against the numeric swept coordinate with the most values, one
line per combination of the other grid coordinates; a Monte Carlo draws every sample as
a dot and the mean +- one standard deviation over the samples of each grid point.
Failed points are left out (and counted in the title).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    from cosim.report._mpl import pyplot

    return pyplot()


def sweep_table(path: str | Path) -> dict:
    """Coordinates, results and status of a sweep file as plain numpy arrays."""
    from cosim.sweep.store import SweepFile

    with SweepFile(path) as f:
        return {"task": f.task, "kind": str(f.h5.attrs["kind"]), "coords": f.coords(),
                "results": f.results(), "status": np.array(f.status(), dtype=object),
                "swept_keys": f.swept_keys}


def _x_key(t: dict) -> str | None:
    """The numeric swept coordinate with the most distinct values (the last on ties)."""
    best, n_best = None, 0
    for k in t["swept_keys"]:
        v = np.asarray(t["coords"][k])
        if k != "sample" and v.dtype.kind in "iuf" and len(np.unique(v)) >= n_best:
            best, n_best = k, len(np.unique(v))
    return best


def plot_sweep(path: str | Path, results: list[str] | None = None, *, out: str | Path |
               None = None, fig=None):
    """Each result (or the named ``results``) against the swept coordinate.

    Parameters
    ----------
    path : str or Path
        Sweep file.
    results : list of str, optional
        Result names to draw (default: all scalar results).
    out : str or Path, optional
        Write the figure here (PNG, PDF, SVG by suffix).
    fig : matplotlib Figure, optional
        Draw into this figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t = sweep_table(path)
    names = [k for k, v in t["results"].items() if v.ndim == 1] if results is None \
        else list(results)
    missing = [n for n in names if n not in t["results"]]
    if missing:
        raise KeyError(f"no result {missing[0]!r} in {path}; results: "
                       f"{', '.join(t['results'])}")
    plt = _plt()
    if fig is None:
        fig = plt.figure(figsize=(5.5, 3.2 * max(len(names), 1)))
    ok = t["status"] == "ok"
    xk = _x_key(t)
    coords = t["coords"]
    n = len(t["status"])
    x = np.asarray(coords[xk], dtype=float) if xk else np.arange(n, dtype=float)
    group_keys = [k for k in t["swept_keys"] if k not in (xk, "sample")
                  and (t["kind"] != "monte_carlo" or k in _grid_keys(t))]
    groups: dict[tuple, np.ndarray] = {}
    for i in range(n):
        g = tuple(coords[k][i] for k in group_keys)
        groups.setdefault(g, []).append(i)
    for j, name in enumerate(names):
        ax = fig.add_subplot(len(names), 1, j + 1)
        y = np.asarray(t["results"][name], dtype=float)
        for g, idx in groups.items():
            idx = np.array([i for i in idx if ok[i]], dtype=int)
            if idx.size == 0:
                continue
            label = ", ".join(f"{k}={v}" for k, v in zip(group_keys, g)) or None
            if t["kind"] == "monte_carlo":
                ax.plot(x[idx], y[idx], ".", alpha=0.5, label=label)
                xs = np.unique(x[idx])
                m = np.array([np.mean(y[idx][x[idx] == v]) for v in xs])
                s = np.array([np.std(y[idx][x[idx] == v]) for v in xs])
                ax.errorbar(xs, m, yerr=s, fmt="o-", capsize=3)
            else:
                order = np.argsort(x[idx], kind="stable")
                ax.plot(x[idx][order], y[idx][order], "o-", label=label)
        ax.set_xlabel(xk or "point")
        ax.set_ylabel(name)
        if len(groups) > 1:
            ax.legend(fontsize="small")
    fig.suptitle(f"{Path(path).name}: {t['task']} ({int(ok.sum())}/{n} points ok)",
                 fontsize="medium")
    fig.tight_layout()
    if out is not None:
        from cosim.paths import user_path

        with user_path(out, "plot file", "give -o a writable path"):
            fig.savefig(out, dpi=120)
    return fig


def _grid_keys(t: dict) -> list[str]:
    keys = list(t["swept_keys"])
    return keys[:keys.index("sample")] if "sample" in keys else keys
