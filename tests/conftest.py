"""Shared fixtures: a private ngspice engine per test module, and an isolated cache dir."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Never touch the user's ~/.cache/cosim from the tests."""
    os.environ.setdefault("COSIM_CACHE", str(tmp_path_factory.mktemp("cosim-cache")))
    yield


@pytest.fixture(scope="module")
def engine():
    from cosim.spice import SpiceEngine

    with SpiceEngine(workers=2, timeout_s=120) as eng:
        yield eng


@pytest.fixture
def figures(request):
    """Record a measured figure of this test: ``figures("cases", 5000)``.

    A no-op unless ``COSIM_FIGURES_OUT`` names a file; then each call appends one JSON
    line (test id, name, value) to it.  ``scripts/reliability.py`` runs the reliability
    tests that way and writes the figures into docs/reliability.md, so no figure there
    is typed by hand.
    """
    import json

    path = os.environ.get("COSIM_FIGURES_OUT")

    def record(name: str, value) -> None:
        if path:
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"test": request.node.nodeid, "name": name,
                                    "value": value}) + "\n")

    return record
