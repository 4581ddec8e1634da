"""The `cosim` command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys

import pytest

import cosim


def cosim_cmd(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "cosim.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"cosim {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def test_version():
    assert cosim_cmd("--version").stdout.strip() == f"bplight-cosim {cosim.__version__}"


def test_build_info_run_rc(tmp_path):
    f = tmp_path / "rc.cir"
    cosim_cmd("netlist", "build", "rc", "-o", f)
    info = json.loads(cosim_cmd("netlist", "info", f, "--json").stdout)
    assert info["elements_by_type"] == {"Capacitor": 1, "Resistor": 1, "VoltageSource": 1}
    assert info["nodes"] == 3 and info["floating_nodes"] == []
    out = json.loads(cosim_cmd("netlist", "run", f, "--analysis", "op", "--json").stdout)
    assert out["analysis"] == "op" and out["vectors"]["in"] == [0.0]
    tr = json.loads(cosim_cmd("netlist", "run", f, "--json").stdout)
    assert tr["axis"] == "time" and abs(tr["vectors"]["out"][-1] - (1 - 2.718281828 ** -5)) < 2e-3


def test_info_reports_floating_nodes(tmp_path):
    f = tmp_path / "float.cir"
    f.write_text("* floating\nV1 a 0 1\nC1 a b 1u\nR1 b c 1k\n.op\n.end\n")
    info = json.loads(cosim_cmd("netlist", "info", f, "--json").stdout)
    assert sorted(info["floating_nodes"]) == ["b", "c"]
    assert info["single_connection_nodes"] == ["c"]


def test_run_failure_is_a_clear_error_not_a_traceback(tmp_path):
    f = tmp_path / "bad.cir"
    f.write_text("* bad\nV1 a 0 1\nD1 a 0 nosuch\n.op\n.end\n")
    proc = cosim_cmd("netlist", "run", f, check=False)
    assert proc.returncode == 2
    assert "UnknownModelError" in proc.stderr and "Traceback" not in proc.stderr


def test_control_block_is_refused_before_ngspice(tmp_path):
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.cir"
    f.write_text(f"* evil\nV1 a 0 1\nR1 a 0 1k\n.control\nshell touch {marker}\n.endc\n.op\n.end\n")
    proc = cosim_cmd("netlist", "run", f, check=False)
    assert proc.returncode == 2 and "control" in proc.stderr
    assert not marker.exists()


def test_missing_file_is_a_clear_error(tmp_path):
    proc = cosim_cmd("netlist", "info", tmp_path / "nope.cir", check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice program not installed")
def test_built_netlist_runs_in_plain_ngspice(tmp_path):
    f = tmp_path / "rc.cir"
    cosim_cmd("netlist", "build", "rc", "-o", f)
    raw = tmp_path / "rc.raw"
    proc = subprocess.run(["ngspice", "-b", "-r", str(raw), str(f)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert raw.stat().st_size > 1000  # the transient ran and wrote its vectors


def test_import_cosim_is_light():
    code = ("import sys, cosim, cosim.netlist, cosim.devices; "
            "bad = [m for m in ('PySpice', 'h5py', 'matplotlib', 'torch', 'pint') "
            "if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip() == ""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_cosim_keeps_large_temporaries_on_the_heap():
    """tune_malloc (called by `cosim`): a 16 MiB array allocated again after being
    freed reuses the heap (no page faults); glibc's default maps it afresh."""
    code = "\n".join([
        "import resource, sys",
        "import numpy as np",
        "from cosim.cli.main import tune_malloc",
        "if sys.argv[1] == 'tuned':",
        "    assert tune_malloc()",
        "a = np.ones(2 << 20)",
        "del a",
        "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt",
        "a = np.ones(2 << 20)",
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)"])
    faults = {mode: int(subprocess.run([sys.executable, "-c", code, mode], check=True,
                                       capture_output=True, text=True).stdout)
              for mode in ("default", "tuned")}
    assert faults["tuned"] < 16 < faults["default"], faults


def _walk_parsers(parser, path):
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {c.dest for c in action._choices_actions}
            for name, sub in action.choices.items():
                assert name in helped, f"{' '.join(path + [name])} has no help text"
                yield from _walk_parsers(sub, path + [name])


def test_every_subcommand_and_option_has_help_text():
    import argparse

    from cosim.cli.main import build_parser

    walked = set()
    for path, parser in _walk_parsers(build_parser(), ["cosim"]):
        walked.add(" ".join(path))
        for action in parser._actions:
            if action.dest != "help" and not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{' '.join(path)}: {action.option_strings or action.dest}"
    # The builders of `netlist build` are added on first use; the walk reaches them too.
    assert {"cosim netlist build crossbar", "cosim netlist build rc"} <= walked


def test_the_command_table_names_the_module_of_each_command():
    """`cosim CMD ...` builds only CMD's parser (COMMANDS); every command of the full
    parser is in the table and is registered by the module the table names."""
    import argparse

    from cosim.cli.main import COMMANDS, build_parser

    def commands(parser):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return set(sub.choices)

    assert commands(build_parser()) == set(COMMANDS)
    for name in COMMANDS:
        assert name in commands(build_parser(name))


@pytest.mark.parametrize("argv, usage", [
    ([], "usage: cosim [-h]"),
    (["netlist"], "usage: cosim netlist"),
    (["train", "--bogus"], "usage: cosim train"),
    (["netlist", "run", "x.cir", "--bogus"], "usage: cosim netlist run"),
])
def test_usage_errors_name_the_subcommand_and_exit_2(argv, usage):
    proc = subprocess.run([sys.executable, "-m", "cosim", *argv], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith(usage), proc.stderr
    assert "Traceback" not in proc.stderr


def test_package_is_typed_and_licensed():
    import tomllib
    from pathlib import Path

    import cosim

    assert (Path(cosim.__file__).parent / "py.typed").is_file()
    meta = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"  # an SPDX expression, not a table
