#!/usr/bin/env python3
"""Re-run the commands whose output README.md and docs/*.md quote, and rewrite the quotes.

Usage: ``.venv/bin/python scripts/docs.py [--check] [--only NAME,...]`` (``make docs``).

Two kinds of marked regions are owned by this script (never edit them by hand):

* ``<!-- block:NAME -->`` ... ``<!-- /block:NAME -->``: a console transcript, the
  command of :data:`BLOCKS` and its output;
* ``<!-- fig:NAME -->VALUE<!-- /fig:NAME -->``: one figure quoted in prose, taken from
  a block's output by the pattern of :data:`FIGURES`.

``--check`` rewrites nothing: it runs the commands and exits 1 naming every region whose
text differs from what the commands print now (wall-clock times excepted).  The test
suite runs it, so a quoted figure that no longer matches fails the tests.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: name -> (argv after ``python -m cosim``, command shown, lines kept: None = all).
#: ``{tmp}`` in argv is a scratch folder; it is shown as ``runs``.
BLOCKS: dict[str, tuple[list[str], str, int | None]] = {
    "demo": (["demo", "--quiet", "--out-dir", "{tmp}"], "cosim demo", None),
    "energy": (["energy", "--network", "lenet5", "--out-dir", "{tmp}"],
               "cosim energy --network lenet5", 23),
    "energy_paper": (["energy", "--design", "bplight-paper", "--network", "lenet5",
                      "--out-dir", "{tmp}"], "cosim energy --design bplight-paper --network lenet5",
                     None),
    "readout": (["characterize", "readout"], "cosim characterize readout", 8),
}

#: name -> (block, regular expression whose group 1 is the figure).
FIGURES: dict[str, tuple[str, str]] = {
    "demo.bplight": ("demo", r"test accuracy\s+bplight\s+([0-9.]+ %)"),
    "demo.float": ("demo", r"test accuracy\s+bplight\s+[0-9.]+ %\s+float\s+([0-9.]+ %)"),
    "demo.seeds.bplight": ("demo", r"^\s+bplight\s+([0-9.]+)\s"),
    "demo.seeds.float": ("demo", r"^\s+float\s+([0-9.]+)\s"),
    "demo.seeds.difference": ("demo", r"bplight - float\s+(-?[0-9.]+)\s+[0-9.]+\s+"),
    "demo.seeds.difference_ci": ("demo", r"bplight - float\s+-?[0-9.]+\s+[0-9.]+\s+(.+)$"),
    "energy.speedup": ("energy", r"training\.speedup\s+(\S+x)"),
    "energy.energy_saving": ("energy", r"training\.energy_saving\s+(\S+x)"),
    "energy.bits": ("energy", r"achievable bits ([0-9.]+)"),
    "energy_paper.speedup": ("energy_paper", r"training\.speedup\s+(\S+x)"),
    "energy_paper.energy_saving": ("energy_paper", r"training\.energy_saving\s+(\S+x)"),
    "readout.enob": ("readout", r"effective_bits\s+([0-9.]+)"),
}

#: Lines whose numbers are wall-clock times: compared by their words only.
VOLATILE = re.compile(r"^\s*time\s|\(\d+\.\d s\)|s of steps")


def run_block(name: str, tmp: Path) -> tuple[str, str]:
    """(transcript as quoted, the command's whole output)."""
    argv, shown, keep = BLOCKS[name]
    argv = [a.replace("{tmp}", str(tmp)) for a in argv]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "cosim", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"docs: `{shown}` failed ({proc.returncode}):\n{proc.stderr}")
    full = proc.stdout.replace(str(tmp), "runs").rstrip("\n")
    lines = full.split("\n")
    if keep is not None and len(lines) > keep:
        lines = lines[:keep] + ["..."]
    return "\n".join([f"$ {shown}", *lines]), full


def _comparable(text: str) -> str:
    return "\n".join(re.sub(r"[0-9.]+", "#", ln) if VOLATILE.search(ln) else ln
                     for ln in text.split("\n"))


def _regions(text: str, kind: str):
    return re.finditer(rf"<!-- {kind}:([\w.]+) -->(.*?)<!-- /{kind}:\1 -->", text, re.S)


def render(text: str, outputs: dict[str, tuple[str, str]]) -> str:
    def block(m):
        name = m.group(1)
        if name not in outputs:
            return m.group(0)
        return (f"<!-- block:{name} -->\n```console\n{outputs[name][0]}\n```\n"
                f"<!-- /block:{name} -->")

    def fig(m):
        name = m.group(1)
        if name not in FIGURES:
            raise SystemExit(f"docs: unknown figure {name!r}; known: {', '.join(FIGURES)}")
        src, pattern = FIGURES[name]
        if src not in outputs:
            return m.group(0)
        found = re.search(pattern, outputs[src][1], re.M)
        if not found:
            raise SystemExit(f"docs: figure {name!r} not found in the output of {src!r}")
        return f"<!-- fig:{name} -->{found.group(1).strip()}<!-- /fig:{name} -->"

    text = re.sub(r"<!-- block:([\w.]+) -->(.*?)<!-- /block:\1 -->", block, text, flags=re.S)
    return re.sub(r"<!-- fig:([\w.]+) -->(.*?)<!-- /fig:\1 -->", fig, text, flags=re.S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 naming every quoted region that is stale")
    ap.add_argument("--only", default="", metavar="NAME,...",
                    help=f"only these blocks (of {', '.join(BLOCKS)}) and their figures")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(BLOCKS)
    unknown = sorted(set(names) - set(BLOCKS))
    if unknown:
        raise SystemExit(f"docs: unknown block(s) {unknown}; known: {', '.join(BLOCKS)}")
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {name: run_block(name, Path(tmp)) for name in names}
    stale = []
    for path in DOCS:
        old = path.read_text(encoding="utf-8")
        new = render(old, outputs)
        if args.check:
            if _comparable(new) != _comparable(old):
                for kind in ("block", "fig"):
                    olds = {m.group(1): m.group(0) for m in _regions(old, kind)}
                    for m in _regions(new, kind):
                        if _comparable(olds.get(m.group(1), "")) != _comparable(m.group(0)):
                            stale.append(f"{path.relative_to(ROOT)}: {kind} {m.group(1)}")
        elif new != old:
            path.write_text(new, encoding="utf-8")
            print(f"docs: rewrote {path.relative_to(ROOT)}")
    if stale:
        print("docs: stale (run `make docs`):\n  " + "\n  ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
