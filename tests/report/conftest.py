"""Figures of a report test are closed after it (matplotlib keeps pyplot figures open)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
