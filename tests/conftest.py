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
