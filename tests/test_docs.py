"""The figures README.md and docs/*.md quote are what the commands print now.

`scripts/docs.py --check` re-runs the commands behind every marked transcript and figure
(`cosim demo`, `cosim energy`, `cosim characterize readout`, ...) and fails naming each
quote that differs; `make docs` rewrites them.  A measured-looking figure typed by hand
(a percentage, an ``Nx`` ratio, a time, effective bits, points of accuracy) outside the
marked regions fails unless the script's allow-list gives its reason, and no link may
leave the repository.
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
    """Every block but the long ones (the demo with its ablation: `make docs-check` in
    .ci/run checks those after the tests)."""
    docs = _docs_module()
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "docs.py"), "--check",
                           "--skip", ",".join(docs.LONG)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_checks_every_block_after_the_tests():
    """The long blocks left out above are checked by CI: .ci/run runs `make docs-check`
    (scripts/docs.py --check with no block left out)."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make docs-check" in ci
    assert ci.index("make test") < ci.index("make docs-check")
    make = (ROOT / "Makefile").read_text()
    rule = make[make.index("\ndocs-check:"):].split("\n\n")[0]
    assert "scripts/docs.py --check" in rule and "--skip" not in rule


def _docs_module():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import docs
    finally:
        sys.path.pop(0)
    return docs


def test_every_marked_figure_is_owned_by_the_script():
    docs = _docs_module()
    for name, (block, *_rest) in docs.FIGURES.items():
        assert block in docs.BLOCKS, f"figure {name} reads block {block}, which has no command"
    for name, needs in docs.NEEDS.items():
        assert name in docs.BLOCKS and set(needs) <= set(docs.BLOCKS), name
    for path in docs.DOCS:
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"<!-- fig:([\w.]+) -->", text):
            assert name in docs.FIGURES, f"{path.name}: figure {name} has no command"
        for name in re.findall(r"<!-- block:([\w.]+) -->", text):
            assert name in docs.BLOCKS, f"{path.name}: block {name} has no command"


def test_no_measured_figure_is_typed_by_hand():
    docs = _docs_module()
    found = [f"{path.relative_to(ROOT)}:{line}: {kind}: ...{phrase}..."
             for path in docs.DOCS
             for line, kind, phrase in docs.hand_typed_figures(path.read_text("utf-8"))]
    assert not found, ("figures typed by hand (make them <!-- fig:NAME --> of a block in "
                       "scripts/docs.py, name the command that prints them, move them to "
                       "benchmarks/RESULTS.md, or add the phrase to docs.ALLOWED with its "
                       "reason):\n" + "\n".join(found))


def test_the_figure_scan_catches_each_kind_and_spares_owned_regions():
    docs = _docs_module()
    text = ("bplight reaches 97.3 % and is 2.8x slower; a step took 12 ms, the readout\n"
            "has 12.1 effective bits, ends 0.6 points below float, 86 uV rms of noise,\n"
            "about 2e-5 of error.\n")
    kinds = sorted(kind for _, kind, _ in docs.hand_typed_figures(text))
    assert kinds == sorted(["percent", "ratio", "time", "effective bits", "accuracy points",
                            "rms", "approximate"])
    owned = ("<!-- fig:demo.bplight -->97.3 %<!-- /fig:demo.bplight -->, 64x64 tiles, 16 bits\n"
             "<!-- block:demo -->\n```console\ntime 2.8 s\n```\n<!-- /block:demo -->\n"
             "the paper's 34x / 38.5x are claims\n")
    assert docs.hand_typed_figures(owned) == []


def test_every_allowed_phrase_is_still_quoted_somewhere():
    docs = _docs_module()
    text = "\n".join(path.read_text("utf-8") for path in docs.DOCS)
    unused = [pattern for pattern, _ in docs.ALLOWED
              if not re.search(pattern.replace(" ", r"\s+"), text)]
    assert not unused, f"allow-list entries no document needs any more: {unused}"
    assert all(reason.strip() for _, reason in docs.ALLOWED)


def test_links_stay_inside_the_repository():
    docs = _docs_module()
    bad = {str(path.relative_to(ROOT)): docs.outside_links(path.read_text("utf-8"), path)
           for path in docs.DOCS}
    assert not any(bad.values()), bad
    page = ROOT / "docs" / "x.md"
    assert docs.outside_links("[notes](../../shared/ARCHITECTURE.md) [a](architecture.md)"
                              " [web](https://pint.readthedocs.io) [f](file:///etc/passwd)"
                              " [gone](missing.md)", page) == [
        "../../shared/ARCHITECTURE.md", "file:///etc/passwd", "missing.md"]
