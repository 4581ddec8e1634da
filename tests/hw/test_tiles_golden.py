"""Runs of the tile architectures equal the golden stored before the tiles were moved
behind the Tile protocol, bit for bit (tests/hw/golden/make_golden.py says how it was made)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent / "golden"


def _make_golden():
    spec = importlib.util.spec_from_file_location("make_golden", HERE / "make_golden.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["bplight", "electronic"])
def test_run_is_bit_identical_to_the_golden(name, tmp_path):
    mg = _make_golden()
    golden = np.load(mg.GOLDEN)
    got = mg.run_summary(name, tmp_path)
    keys = sorted(k for k in golden.files if k.startswith(f"{name}/"))
    assert keys == sorted(got)
    for key in keys:
        want, have = golden[key], got[key]
        if want.dtype.kind == "U":
            a, b = json.loads(want.item()), json.loads(have.item())
            if a != b:
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) \
                    if isinstance(a, dict) else "?"
                pytest.fail(f"{key}: differs from the golden ({diff})")
        elif key.endswith("spot_max_abs_error"):
            # twin minus ngspice: ngspice's own rounding, not the model's
            np.testing.assert_allclose(have, want, rtol=1e-6, atol=1e-15, err_msg=key)
        else:
            assert have.dtype == want.dtype and np.array_equal(have, want), key
