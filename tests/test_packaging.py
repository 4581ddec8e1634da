"""The wheel ships netlists/ and devices/, and data_dir() finds them when installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_data_and_finds_it(tmp_path):
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(wheels), str(ROOT)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{proc.stderr[-2000:]}")
    (wheel,) = wheels.glob("bplight_cosim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped_cards = sorted(p.name for p in (ROOT / "devices").glob("*.toml"))
    for card in shipped_cards:
        assert f"cosim/data/devices/{card}" in names
    for lib in sorted(p.name for p in (ROOT / "netlists").glob("*.lib")):
        assert f"cosim/data/netlists/{lib}" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, timeout=300)
    code = "from cosim.resources import data_dir; print(data_dir('devices'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         check=True).stdout.strip()
    assert Path(out).resolve() == (site / "cosim" / "data" / "devices").resolve()
