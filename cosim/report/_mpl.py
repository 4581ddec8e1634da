"""Matplotlib for the reports: imported lazily (Agg backend), figures saved one way."""

from __future__ import annotations

import math
import os
from pathlib import Path


def config_dir() -> Path | None:
    """A writable configuration and font-cache directory for matplotlib, set as
    ``MPLCONFIGDIR`` when matplotlib's default (``$XDG_CONFIG_HOME/matplotlib`` or
    ``~/.config/matplotlib``) cannot be written (read-only or missing home): then
    :func:`cosim.paths.fallback_dir`, kept between runs unlike matplotlib's own
    per-process temporary directory (and without its warning).  None when the default
    is used or ``MPLCONFIGDIR`` is already set."""
    from cosim.paths import fallback_dir, unwritable_reason

    if os.environ.get("MPLCONFIGDIR"):
        return None
    xdg = os.environ.get("XDG_CONFIG_HOME")
    try:
        default = Path(xdg) if xdg else Path.home() / ".config"
    except RuntimeError:   # no HOME and no password entry
        default = None
    if default is not None and unwritable_reason(default / "matplotlib") is None:
        return None
    fallback = fallback_dir("matplotlib")
    if unwritable_reason(fallback) is not None:
        return None        # matplotlib then makes a temporary directory itself
    os.environ["MPLCONFIGDIR"] = str(fallback)
    return fallback


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on first use)."""
    config_dir()
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | Path, dpi: int = 100) -> Path:
    """Lay out, write ``fig`` as PNG to ``path`` and close it; returns the path."""
    from cosim.paths import user_path

    fig.tight_layout()
    path = Path(path)
    with user_path(path, "plot file", "write the report to a writable directory"):
        fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


# ------------------------------------------------------------------ display units
#: SI prefixes for display: (factor, prefix), largest first.
PREFIXES: tuple[tuple[float, str], ...] = (
    (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "\u00b5"),
    (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))
SI_UNITS = frozenset({"V", "A", "W", "J", "s", "S", "Hz", "m", "F", "ohm"})
"""Units that take an SI prefix on a linear axis (a value in V is shown in mV, uV ...)."""


def si_prefix(value: float) -> tuple[float, str]:
    """(factor, prefix) that shows ``value`` (SI) as a number from 1 to 1000:
    ``si_prefix(4.6e-4) == (1e-6, "\u00b5")`` (460 uJ); 0 gives ``(1.0, "")``."""
    v = abs(float(value))
    if v == 0.0 or not math.isfinite(v):
        return 1.0, ""
    for factor, prefix in PREFIXES:
        if v >= factor * (1 - 1e-12):
            return factor, prefix
    return PREFIXES[-1]


def si_scale(values, unit: str) -> tuple[float, str]:
    """(factor, unit to show) for drawing ``values`` (in ``unit``) on a linear axis:
    divide by the factor.  For an SI unit (:data:`SI_UNITS`) the prefix that shows the
    largest magnitude as 1 .. 1000 (``2e-5`` A -> ``(1e-6, "\u00b5A")``), so no
    ``1e-5`` offset sits above the axis; other units are kept (factor 1)."""
    import numpy as np

    if unit not in SI_UNITS:
        return 1.0, unit
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    factor, prefix = si_prefix(float(v.max()) if v.size else 0.0)
    return factor, prefix + unit


def short_numbers(text: str, digits: int = 4) -> str:
    """``text`` with long decimal numbers shortened to ``digits`` significant digits
    for a title (``.tran 2.4999999999999996e-10 5e-07`` -> ``.tran 2.5e-10 5e-07``)."""
    import re

    def repl(m):
        s = m.group(0)
        return f"{float(s):.{digits}g}" if len(s) > digits + 2 else s

    return re.sub(r"(?<![\w.])[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?(?![\w.])", repl, text)


def label_minor_log_ticks(ax, axis: str = "y") -> None:
    """Label the minor ticks (2, 3, 5 ...) of a log axis that spans at most about three
    decades, so a value between decades (2 pA) can be read off the axis."""
    from matplotlib.ticker import LogFormatterSciNotation

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_minor_formatter(LogFormatterSciNotation(labelOnlyBase=False,
                                                       minor_thresholds=(3, 1)))


def align_zeros(ax1, ax2) -> None:
    """Limits of two y axes sharing an x axis (``twinx``) set so that 0 sits at the same
    height on both, when both ranges hold 0 (a current that looks positive on one scale
    while the voltage is negative misleads)."""
    lims = [ax.get_ylim() for ax in (ax1, ax2)]
    if not all(lo < 0 < hi for lo, hi in lims):
        return
    # fraction of the height below 0: the larger one for both
    below = max(-lo / (hi - lo) for lo, hi in lims)
    for ax, (lo, hi) in zip((ax1, ax2), lims):
        span = max(-lo / below, hi / (1 - below))
        ax.set_ylim(-below * span, (1 - below) * span)
