#!/usr/bin/env python3
"""Re-run the commands whose output README.md and docs/*.md quote, and rewrite the quotes.

Usage: ``.venv/bin/python scripts/docs.py [--check] [--only NAME,...] [--skip NAME,...]``
(``make docs``; ``make docs-check`` is ``--check``).

Two kinds of marked regions are owned by this script (never edit them by hand):

* ``<!-- block:NAME -->`` ... ``<!-- /block:NAME -->``: a console transcript, the
  command of :data:`BLOCKS` and its output;
* ``<!-- fig:NAME -->VALUE<!-- /fig:NAME -->``: one figure quoted in prose, taken from
  a block's output by the pattern of :data:`FIGURES`.

Every other measured figure (a percentage, an ``Nx`` ratio, a time, effective bits, an
accuracy difference in points) in README.md and docs/*.md is an error unless it matches
:data:`ALLOWED` (card values, tolerances, quoted claims: each with its reason);
:func:`hand_typed_figures` finds them and tests/test_docs.py fails on each.  Measured
numbers that no cheap command prints belong in benchmarks/RESULTS.md (machine, date).
Links in README.md and docs/*.md stay inside the repository (:func:`outside_links`).

``--check`` rewrites nothing: it runs the commands and exits 1 naming every region whose
text differs from what the commands print now (wall-clock times excepted).  The test
suite runs it for every block but the long ones (:data:`LONG`: the demo with its
ablation takes many minutes), and CI (``.ci/run``) runs it whole after the tests, so a
quoted figure that no longer matches fails CI.
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

#: One command: (argv after ``python -m cosim``, command shown, lines of output kept:
#: None = all, 0 = the command line only, then ``...``[, exit statuses that are success:
#: (0,) unless given]).
Command = tuple

#: name -> a command, or a list of commands run in order (a session: each is shown with
#: its output).  ``{tmp}`` in argv is a scratch folder shared by all blocks of one run;
#: it is shown as ``runs``.
BLOCKS: dict[str, Command | list[Command]] = {
    "demo": (["demo", "--quiet", "--out-dir", "{tmp}"], "cosim demo", None),
    "energy": (["energy", "--network", "lenet5", "--out-dir", "{tmp}"],
               "cosim energy --network lenet5", 23),
    "energy_paper": (["energy", "--design", "bplight-paper", "--network", "lenet5",
                      "--out-dir", "{tmp}"], "cosim energy --design bplight-paper --network lenet5",
                     None),
    "readout": (["characterize", "readout"], "cosim characterize readout", 8),
    "readout_bplight": (["characterize", "readout", "--card", "devices/tia_bplight.toml"],
                        "cosim characterize readout --card devices/tia_bplight.toml", None),
    "runs_show": (["runs", "show", "{tmp}/demo.h5"], "cosim runs show runs/demo.h5", 24),
    "netlist": [
        (["netlist", "build", "crossbar", "--rows", "4", "--cols", "4", "--wire-resistance",
          "1", "--seed", "1", "--passive", "-o", "{tmp}/a.cir"],
         "cosim netlist build crossbar --rows 4 --cols 4 --wire-resistance 1 --seed 1 "
         "--passive -o runs/a.cir", None),
        (["netlist", "build", "crossbar", "--rows", "4", "--cols", "4", "--wire-resistance",
          "1", "--seed", "2", "--passive", "-o", "{tmp}/b.cir"],
         "cosim netlist build crossbar --rows 4 --cols 4 --wire-resistance 1 --seed 2 "
         "--passive -o runs/b.cir", None),
        (["netlist", "diff", "{tmp}/a.cir", "{tmp}/b.cir"],
         "cosim netlist diff runs/a.cir runs/b.cir", 4, (1,)),  # 1: the netlists differ
        (["netlist", "build", "rc", "-o", "{tmp}/rc.cir"], "cosim netlist build rc -o runs/rc.cir",
         None),
        (["netlist", "info", "{tmp}/rc.cir"], "cosim netlist info runs/rc.cir", 5),
        (["netlist", "run", "{tmp}/rc.cir"], "cosim netlist run runs/rc.cir", None),
    ],
    "validate_list": (["validate", "--list"], "cosim validate --list", None),
    "validate_optics": (["validate", "--only", "mrr_spectra", "weight_bank_calibration",
                         "--no-plots", "--json", "--out", "{tmp}/validation"],
                        "cosim validate --only mrr_spectra weight_bank_calibration --json", None),
    "cache": [
        (["characterize", "readout"], "cosim characterize readout", 0),
        (["cache", "info"], "cosim cache info", None),
    ],
}

#: Blocks too long for the test suite's budget (checked whole by ``make docs-check`` in
#: CI; tests/test_docs.py passes ``--skip`` with these).
LONG: tuple[str, ...] = ("demo", "runs_show")

#: Blocks whose commands use what other blocks wrote into the scratch folder: those run
#: first (``--only runs_show`` runs the demo too).
NEEDS: dict[str, list[str]] = {"runs_show": ["demo"]}

#: Environment of a block's commands (``{tmp}`` as in argv): the cache block has a result
#: cache of its own, so the figures do not depend on the user's.
ENV: dict[str, dict[str, str]] = {"cache": {"COSIM_CACHE": "{tmp}/cache"}}


def _scaled(scale: float, fmt: str, unit: str = ""):
    """A figure formatter: the printed number divided by ``scale``, formatted, with a unit."""
    def fmt_value(text: str) -> str:
        return f"{float(text) / scale:{fmt}}" + (f" {unit}" if unit else "")
    return fmt_value


#: Rows of the demo's ablation table quoted in the docs: (figure key, row name).
_ABLATION_ROWS = (("shipped", "design as shipped"), ("device", "weight device"),
                  ("device_mp", "weight device + mixed-precision"),
                  ("crosstalk", "crosstalk"), ("crosstalk_cal", "crosstalk + calibration"),
                  ("all", "all, unmitigated"), ("all_mitigated", "all, mitigated"))

#: name -> (block, regular expression whose group 1 is the figure[, formatter]): the
#: optional formatter turns the printed text into the quoted one (unit, rounding).
FIGURES: dict[str, tuple] = {
    "demo.bplight": ("demo", r"test accuracy\s+bplight\s+([0-9.]+ %)"),
    "demo.float": ("demo", r"test accuracy\s+bplight\s+[0-9.]+ %\s+float\s+([0-9.]+ %)"),
    "demo.spot_rel_error": ("demo",
                            r"spot checks \(twin vs spice\)\s+\d+, max relative error (\S+)"),
    **{f"demo.ablation.{key}": ("demo", rf"^\s+{re.escape(row)}\s+([0-9.]+)\s")
       for key, row in (("float", "float"), ("shipped", "design as shipped"))},
    **{f"demo.ablation.{key}.difference": (
        "demo", rf"^\s+{re.escape(row)}\s+[0-9.]+\s+[0-9.]+\s+\S+ \.\. \S+\s+(-?[0-9.]+)\s")
       for key, row in _ABLATION_ROWS},
    **{f"demo.ablation.{key}.difference_ci": (
        "demo", rf"^\s+{re.escape(row)}\s+[0-9.]+\s+[0-9.]+\s+\S+ \.\. \S+\s+-?[0-9.]+\s+"
        r"(\S+ \.\. \S+)\s*$") for key, row in _ABLATION_ROWS},
    "energy.speedup": ("energy", r"training\.speedup\s+(\S+x)"),
    "energy.energy_saving": ("energy", r"training\.energy_saving\s+(\S+x)"),
    "energy.bits": ("energy", r"achievable bits ([0-9.]+)"),
    "energy_paper.speedup": ("energy_paper", r"training\.speedup\s+(\S+x)"),
    "energy_paper.energy_saving": ("energy_paper", r"training\.energy_saving\s+(\S+x)"),
    "readout.enob": ("readout", r"effective_bits\s+([0-9.]+)"),
    "readout.full_scale_current": ("readout", r"full_scale_current_a\s+(\S+)",
                                   _scaled(1e-6, ".3g", "uA")),
    "energy.rin_ceiling": ("energy", r"RIN ceiling ([0-9.]+)"),
    "energy_paper.rin_ceiling": ("energy_paper", r"RIN ceiling ([0-9.]+)"),
    "readout_bplight.full_scale_current": ("readout_bplight", r"full_scale_current_a\s+(\S+)",
                                           _scaled(1e-3, ".3g", "mA")),
    "readout_bplight.bandwidth": ("readout_bplight", r"^bandwidth_hz\s+(\S+)",
                                  _scaled(1e6, ".3g", "MHz")),
    "readout_bplight.settling": ("readout_bplight", r"settling_time_s\s+(\S+)",
                                 _scaled(1e-9, ".2g", "ns")),
    "readout_bplight.noise_bandwidth": ("readout_bplight", r"noise_bandwidth_hz\s+(\S+)",
                                        _scaled(1e6, ".3g", "MHz")),
    "readout_bplight.noise": ("readout_bplight", r"output_noise_v_rms\s+(\S+)",
                              _scaled(1e-6, ".2g", "uV")),
    "readout_bplight.noise_bright": ("readout_bplight", r"output_noise_bright_v_rms\s+(\S+)",
                                     _scaled(1e-6, ".3g", "uV")),
    "readout_bplight.enob": ("readout_bplight", r"effective_bits\s+([0-9.]+)",
                             _scaled(1, ".3g")),
    "validate_optics.mrr_deviation": ("validate_optics",
                                      r'"name": "mrr_spectra"[^}]*?"value": ([0-9.e+-]+)',
                                      _scaled(1, ".2g")),
    "validate_optics.bank_before": ("validate_optics", r'"rms_error_before": ([0-9.e+-]+)',
                                    _scaled(1, ".2g")),
    "validate_optics.bank_after": ("validate_optics", r'"rms_error_after": ([0-9.e+-]+)',
                                   _scaled(1, ".2g")),
}

#: Lines whose numbers are wall-clock times, the clock, or depend on the user's result
#: cache (ngspice runs of a characterization): compared by their words only.
VOLATILE = re.compile(r"^\s*time\s|\(\d+\.\d s\)|s of steps|created \d|^ngspice_runs\s")


#: What a figure measured by running something looks like in prose (name, pattern):
#: :func:`hand_typed_figures` reports each match outside the regions this script owns.
MEASURED: list[tuple[str, str]] = [
    ("percent", r"(?<![\w.])-?\d+(?:\.\d+)?\s?%"),
    ("ratio", r"(?<![\w.])\d+(?:\.\d+)?x(?!\w)"),
    ("time", r"(?<![\w.])\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?\s?(?:s|ms|us|ns)\b(?![/-])"),
    ("effective bits", r"(?<![\w.])\d+(?:\.\d+)?\s+effective\s+bits\b"),
    ("accuracy points", r"(?<![\w.,])-?\d+(?:\.\d+)?\s+points?\b(?!\s+per)"),
    ("rms", r"(?<![\w.])\d+(?:\.\d+)?\s?(?:uV|mV|V|uA|mA|A)\s+rms\b"),
    ("approximate", r"(?:\babout|~)\s?\d+(?:\.\d+)?(?:e-?\d+)?"),
]

#: Figures of the MEASURED shapes that are not measured results: (pattern of the phrase
#: that holds the figure, reason).  A figure is allowed when an entry's match covers it;
#: a space in a pattern matches any whitespace (prose wraps).
ALLOWED: list[tuple[str, str]] = [
    # claims of the paper (arXiv 2102.10140), quoted as claims beside our results
    (r"paper's 34x / 38\.5x", "BPLight-CNN's claimed training speed-up / energy saving"),
    (r"paper's claims \(34x, 38\.5x\)", "BPLight-CNN's claimed training speed-up / energy saving"),
    # statistics vocabulary, not results
    (r"95 % (?:interval|Wilson|Student-t)", "the confidence level of an interval"),
    # test bounds and acceptance thresholds (what a test requires, not what it measured)
    (r"at most [23] points below|more than 5 points below|test's bound of 3 points",
     "accuracy bounds of tests/orchestrator/test_orchestrator_accuracy.py and "
     "tests/torch/test_torch_bridge.py"),
    (r"(?:within|<=) 1 % of|1 % RMS|\| 0\.1 % \(|\| 10 % \||estimate to 10 % on",
     "validation thresholds and test tolerances (docs/electrical.md's table, "
     "cosim.validate, tests/hw/test_mzi_tile.py)"),
    (r"below 5 % rms error|within 5 %", "tolerances of tests/torch/test_torch_bridge.py"),
    (r"2 of 5 points failed", "the wording of a message, quoted"),
    # values of device and design cards, configuration and code constants
    (r"c2c 0\.5 %|0\.5 % c2c|80 ns write", "card rram_array (NeuroSim RealDevice)"),
    (r"10 ns ADC|160 ns symbol", "converters card: 100 MS/s, times readout_averaging 16"),
    (r"about 300 MHz", "the design target of tia_bplight's feedback capacitance (its card)"),
    (r"about 2 linewidths", "the optics card's channel-spacing assumption"),
    (r"1 us per output", "a parameter of tests/hw/test_noise_check.py"),
    (r"1 % ngspice spot", "the demo's hardware.spot_check = 0.01 (cosim/cli/demo.py)"),
    (r"within 0\.25 s", "the parent-watch interval of cosim.processes"),
    (r"every 30 s or each further 10 %|\(20%\)", "cosim.orchestrator.progress's line rule "
     "and an example of its line"),
    (r"adds 2 effective bits", "arithmetic: averaging 16 reads divides sigma by 4 = 2^2"),
    (r"\(2x - 1\)", "an equation (Joglekar window), not a ratio"),
]


def _owned_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the regions written by scripts: blocks, figures, the reliability table."""
    spans = []
    for pattern in (r"<!-- (block|fig):([\w.]+) -->.*?<!-- /\1:\2 -->",
                    r"<!-- (\w+):begin -->.*?<!-- \1:end -->"):
        spans += [m.span() for m in re.finditer(pattern, text, re.S)]
    return spans


def hand_typed_figures(text: str) -> list[tuple[int, str, str]]:
    """Measured-looking figures of ``text`` that no script wrote: (line, kind, phrase).

    Searches :data:`MEASURED` outside :func:`_owned_spans` and drops what an
    :data:`ALLOWED` phrase covers.
    """
    owned = _owned_spans(text)
    allowed = [m.span() for pattern, _ in ALLOWED
               for m in re.finditer(pattern.replace(" ", r"\s+"), text)]
    found = []
    for kind, pattern in MEASURED:
        for m in re.finditer(pattern, text):
            a, b = m.span()
            if any(s <= a and b <= e for s, e in owned + allowed):
                continue
            line = text.count("\n", 0, a) + 1
            found.append((line, kind, text[max(0, a - 30):b + 10].replace("\n", " ")))
    return sorted(found)


def outside_links(text: str, path: Path) -> list[str]:
    """Markdown links of ``text`` (a file at ``path``) to files outside the repository."""
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:|#", target):          # a web address or an anchor
            if target.startswith("file:"):
                bad.append(target)
            continue
        resolved = (path.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            bad.append(target)
    return bad


def run_block(name: str, tmp: Path) -> tuple[str, str]:
    """(transcript as quoted, the whole output of the block's commands)."""
    spec = BLOCKS[name]
    commands = spec if isinstance(spec, list) else [spec]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.update({k: v.replace("{tmp}", str(tmp)) for k, v in ENV.get(name, {}).items()})
    shown_lines, outputs = [], []
    for argv, shown, keep, *statuses in commands:
        argv = [a.replace("{tmp}", str(tmp)) for a in argv]
        proc = subprocess.run([sys.executable, "-m", "cosim", *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode not in (statuses[0] if statuses else (0,)):
            raise SystemExit(f"docs: `{shown}` failed ({proc.returncode}):\n{proc.stderr}")
        full = proc.stdout.replace(str(tmp), "runs").rstrip("\n")
        lines = full.split("\n") if full else []
        if keep is not None and len(lines) > keep:
            lines = lines[:keep]
            while lines and not lines[-1].strip():
                lines.pop()
            lines.append("...")
        shown_lines += [f"$ {shown}", *lines]
        outputs.append(full)
    return "\n".join(shown_lines), "\n".join(outputs)


def with_needs(names: list[str]) -> list[str]:
    """``names`` with the blocks they need (:data:`NEEDS`) put first, each once."""
    out: list[str] = []
    for name in names:
        for dep in [*NEEDS.get(name, []), name]:
            if dep not in out:
                out.append(dep)
    return out


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
        src, pattern, *fmt = FIGURES[name]
        if src not in outputs:
            return m.group(0)
        found = re.search(pattern, outputs[src][1], re.M)
        if not found:
            raise SystemExit(f"docs: figure {name!r} not found in the output of {src!r}")
        value = fmt[0](found.group(1)) if fmt else found.group(1).strip()
        return f"<!-- fig:{name} -->{value}<!-- /fig:{name} -->"

    text = re.sub(r"<!-- block:([\w.]+) -->(.*?)<!-- /block:\1 -->", block, text, flags=re.S)
    return re.sub(r"<!-- fig:([\w.]+) -->(.*?)<!-- /fig:\1 -->", fig, text, flags=re.S)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 naming every quoted region that is stale")
    ap.add_argument("--only", default="", metavar="NAME,...",
                    help=f"only these blocks (of {', '.join(BLOCKS)}) and their figures")
    ap.add_argument("--skip", default="", metavar="NAME,...",
                    help="leave out these blocks and their figures (e.g. the long ones: "
                         f"{','.join(LONG)})")
    args = ap.parse_args()
    skip = [n for n in args.skip.split(",") if n]
    names = [n for n in args.only.split(",") if n] or list(BLOCKS)
    unknown = sorted((set(names) | set(skip)) - set(BLOCKS))
    if unknown:
        raise SystemExit(f"docs: unknown block(s) {unknown}; known: {', '.join(BLOCKS)}")
    names = [n for n in with_needs(names) if n not in skip]
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
