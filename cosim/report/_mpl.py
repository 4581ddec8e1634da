"""Matplotlib for the reports: imported lazily (Agg backend), figures saved one way."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on first use)."""
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
