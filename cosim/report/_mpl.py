"""Matplotlib for the reports: imported lazily (Agg backend), figures saved one way."""

from __future__ import annotations

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
