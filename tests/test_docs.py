"""The figures README.md and docs/*.md quote are what the commands print now.

`scripts/docs.py --check` re-runs the commands behind every marked transcript and figure
(`cosim demo`, `cosim energy`, `cosim characterize readout`) and fails naming each quote
that differs; `make docs` rewrites them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quoted_figures_match_the_commands():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "docs.py"), "--check"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_marked_figure_is_owned_by_the_script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import docs
    finally:
        sys.path.pop(0)
    for path in docs.DOCS:
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"<!-- fig:([\w.]+) -->", text):
            assert name in docs.FIGURES, f"{path.name}: figure {name} has no command"
        for name in re.findall(r"<!-- block:([\w.]+) -->", text):
            assert name in docs.BLOCKS, f"{path.name}: block {name} has no command"
