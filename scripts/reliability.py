#!/usr/bin/env python3
"""Run the reliability tests and write their results into docs/reliability.md.

Usage: ``.venv/bin/python scripts/reliability.py`` (or ``make reliability``)

Each row of :data:`ROWS` names one reliability property, the tests that cover it (pytest
node-id patterns) and what they check.  The script runs those tests once (real ngspice,
real processes, real HDF5 files), with ``COSIM_FIGURES_OUT`` set so that the tests record
what they measured (the ``figures`` fixture of tests/conftest.py), and rewrites the table
between the markers of docs/reliability.md.  Nothing in that table is typed by hand.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"

#: (item, property, node-id patterns of the tests that cover it)
ROWS: list[tuple[str, str, list[str]]] = [
    ("1", "one gate before ngspice: printable ASCII, the core's grammar, shipped includes; "
          "checked before the send and inside the worker",
     ["tests/netlist/test_netlist_strict.py::test_gate_*",
      "tests/netlist/test_netlist_strict.py::test_the_worker_gates*",
      "tests/netlist/test_netlist_fuzz.py::test_every_line_break*",
      "tests/netlist/test_netlist_fuzz.py::test_raw_text*"]),
    ("2", "fuzz over every field, at construction and by mutation: no payload runs, every "
          "refusal a project error",
     ["tests/netlist/test_netlist_fuzz.py::test_fuzz_*",
      "tests/netlist/test_netlist_fuzz.py::test_valid_elements*"]),
    ("3", "the parser refuses, naming the token, what it cannot represent as ngspice runs "
          "it (checked against the ngspice program)",
     ["tests/netlist/test_netlist_strict.py::test_instance_*", "tests/netlist/test_netlist_strict.py::test_second_*",
      "tests/netlist/test_netlist_strict.py::test_ac_phase*", "tests/netlist/test_netlist_strict.py::test_unclosed*",
      "tests/netlist/test_netlist_strict.py::test_edit_inside*",
      "tests/netlist/test_netlist_strict.py::test_include_must*",
      "tests/netlist/test_netlist_strict.py::test_text_after*",
      "tests/netlist/test_netlist_strict.py::test_other_unsupported*"]),
    ("4", "no tracebacks: bad analysis lines, options, config files, card values, "
          "permissions, cache and sweep paths give one line and exit 2",
     ["tests/netlist/test_netlist_strict.py::test_short_or_garbled*",
      "tests/cli/test_cli_errors.py::test_netlist_*", "tests/cli/test_cli_errors.py::test_train_*",
      "tests/cli/test_cli_errors.py::test_card_*", "tests/cli/test_cli_errors.py::test_shipped_*",
      "tests/cli/test_cli_errors.py::test_run*", "tests/cli/test_cli_errors.py::test_demo_*",
      "tests/cli/test_cli_errors.py::test_energy_*", "tests/cli/test_cli_errors.py::test_cosim_*",
      "tests/cli/test_cli_errors.py::test_sweep_*"]),
    ("5", "floating nodes refused on the ngspice route, as by `netlist info` and the native "
          "engine",
     ["tests/netlist/test_netlist_strict.py::test_current_sources*",
      "tests/netlist/test_netlist_strict.py::test_floating_*"]),
    ("6", "SIGTERM checkpoints (exit 143) and resumes bit-identically; no orphan workers "
          "after kill -9; per-point sweep timeouts",
     ["tests/test_processes.py::*",
      "tests/orchestrator/test_orchestrator.py::test_cli_ctrl_c_and_sigkill_then_resume*"]),
    ("7", "run-file checkpoints carry checksums; a corrupted one is reported and refused",
     ["tests/store/test_runs.py::test_an_altered_checkpoint*",
      "tests/store/test_runs.py::test_a_checkpoint_from_before*",
      "tests/orchestrator/test_train_cli.py::test_corrupt_checkpoint*"]),
    ("8", "point limits before any allocation (native .dc, analyses, sweep grids)",
     ["tests/native/test_native.py::test_dc_sweep_over*",
      "tests/native/test_native.py::test_native_netlist_run_refuses*",
      "tests/sweep/test_sweep.py::test_sweep_over_the_point_limit*"]),
    ("9", "read-only installs: an unwritable HOME and install directory",
     ["tests/cli/test_cli_errors.py::test_read_only*",
      "tests/cli/test_cli_errors.py::test_unwritable_home*"]),
]


def _selected(nodeids: list[str], patterns: list[str]) -> list[str]:
    return [n for n in nodeids if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


def _collect() -> list[str]:
    files = sorted({p.split("::")[0] for _, _, pats in ROWS for p in pats})
    files = [f for f in files if (ROOT / f).is_file()]
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *files],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    return [ln.strip() for ln in out.stdout.splitlines() if "::" in ln]


def _run(nodeids: list[str]) -> tuple[dict[str, str], dict[str, list[tuple[str, object]]]]:
    with tempfile.TemporaryDirectory() as tmp:
        figures_path = Path(tmp) / "figures.jsonl"
        junit = Path(tmp) / "junit.xml"
        env = dict(os.environ, COSIM_FIGURES_OUT=str(figures_path))
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        f"--junitxml={junit}", *nodeids], cwd=ROOT, env=env, check=False)
        status: dict[str, str] = {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            path = case.get("classname", "").replace(".", "/") + ".py"
            nodeid = f"{path}::{case.get('name')}"
            failed = any(child.tag in ("failure", "error") for child in case)
            skipped = any(child.tag == "skipped" for child in case)
            status[nodeid] = "failed" if failed else "skipped" if skipped else "passed"
        figures: dict[str, list[tuple[str, object]]] = {}
        if figures_path.exists():
            for line in figures_path.read_text().splitlines():
                rec = json.loads(line)
                figures.setdefault(rec["test"], []).append((rec["name"], rec["value"]))
    return status, figures


def table(status: dict[str, str], figures: dict[str, list[tuple[str, object]]],
          nodeids: list[str]) -> str:
    lines = ["| item | property | tests passed | figures measured by the tests |",
             "|---|---|---|---|"]
    for item, prop, patterns in ROWS:
        ids = _selected(nodeids, patterns)
        passed = sum(status.get(n) == "passed" for n in ids)
        names = sorted({n.split("::")[0].removeprefix("tests/") for n in ids}) or ["(none)"]
        figs = [f"{name} {value}" for n in ids for name, value in figures.get(n, [])]
        lines.append(f"| {item} | {prop} | {passed} of {len(ids)} ({', '.join(names)}) | "
                     f"{'; '.join(dict.fromkeys(figs)) or '-'} |")
    return "\n".join(lines)


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    nodeids = _collect()
    status, figures = _run(nodeids)
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{table(status, figures, nodeids)}\n{END}{tail}"
    DOC.write_text(new, encoding="utf-8")
    failed = [n for n, s in status.items() if s == "failed"]
    print(f"wrote {DOC.relative_to(ROOT)}: {len(status)} tests, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
