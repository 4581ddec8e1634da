"""The wheel ships netlists/ and devices/, and data_dir() finds them when installed."""

from __future__ import annotations

import ast
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


_HEAVY = ("numba", "scipy.sparse", "matplotlib", "dask")


def _heavy_modules_after(code: str) -> list[str]:
    probe = (f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if any("
             f"m == h or m.startswith(h + '.') for h in {_HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=ROOT, check=True, timeout=120).stdout.strip().splitlines()
    return ast.literal_eval(out[-1])


def test_import_cosim_loads_no_heavy_module():
    """``import cosim`` stays light: no numba, scipy.sparse, matplotlib or dask."""
    assert _heavy_modules_after("import cosim") == []


def test_cosim_version_loads_no_heavy_module():
    """``cosim --version`` answers before any command module (hence numba) is imported."""
    code = ("import contextlib, io\nfrom cosim.cli.main import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    assert main(['--version']) == 0\n"
            "assert buf.getvalue().startswith('bplight-cosim ')")
    assert _heavy_modules_after(code) == []


def test_first_kernel_compile_prints_one_line_and_a_cache_hit_none(tmp_path):
    """A compile of a cosim kernel prints one stderr line; the next process loads it
    from the cache (NUMBA_CACHE_DIR) and prints nothing."""
    import os

    code = ("import numpy as np\nfrom cosim.hw.kernels import signs_present\n"
            "assert signs_present(np.array([1.0, -1.0])) == (True, True)")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, env=env, check=True, timeout=300) for _ in range(2)]
    first = [ln for ln in runs[0].stderr.splitlines() if "compiling" in ln]
    assert len(first) == 1 and first[0].startswith("cosim: compiling numerical kernels")
    assert str(tmp_path) in first[0]
    assert "compiling" not in runs[1].stderr
