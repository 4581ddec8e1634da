"""Every failure of the `cosim` command is one line naming the problem and the fix, with
exit status 2, never a traceback; and nothing the user had is lost.  Real subprocesses,
as a user runs the command.

The CI runs as root, which ignores permission bits, so unwritable places are made with
something root cannot bypass either: a path *under a regular file* (mkdir and open fail
with ENOTDIR/EEXIST for every user), a directory where a file is expected (EISDIR), an
HDF5 file lock held by another process (flock), a regular file where a directory is
expected.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY_TRAIN = ("--set", "training.max_steps=1", "--set", "data.train_limit=32",
              "--set", "data.test_limit=16", "--set", "model.width=0.25",
              "--set", "training.epochs=1", "--quiet")


def cosim(*args, cwd=None, env=None, pythonpath=None):
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = str(pythonpath or ROOT)
    full_env.pop("HDF5_USE_FILE_LOCKING", None)
    return subprocess.run([sys.executable, "-m", "cosim.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd, env=full_env,
                          check=False)


def one_line_error(proc, *fragments) -> str:
    """Assert exit status 2 and a single stderr line ``cosim ...: error: ...`` that
    contains every fragment; return the line."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cosim ") and ": error: " in lines[0], lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def afile(tmp_path) -> Path:
    """A regular file: every path under it is unwritable, for root too."""
    f = tmp_path / "afile"
    f.write_text("keep me\n")
    return f


# ------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_netlist_run_timeout_must_be_positive(tmp_path, value):
    net = tmp_path / "rc.cir"
    net.write_text("* rc\nV1 in 0 1\nR1 in out 1k\nC1 out 0 1u\n.op\n.end\n")
    one_line_error(cosim("netlist", "run", net, "--timeout", value),
                   f"--timeout {value}", "positive number of seconds", "--timeout 120")


# --------------------------------------------------------------------------- configs
def _train_config(tmp_path, config):
    out = tmp_path / "runs" / "r.h5"
    proc = cosim("train", "--config", config, "--out", out, *TINY_TRAIN)
    assert not out.exists()
    return proc


def test_train_config_directory(tmp_path):
    d = tmp_path / "cfg"
    d.mkdir()
    one_line_error(_train_config(tmp_path, d), f"config file {d}", "is a directory",
                   "readable UTF-8 text file")


def test_train_config_binary(tmp_path):
    f = tmp_path / "cfg.toml"
    f.write_bytes(bytes(range(128, 256)) * 4)
    one_line_error(_train_config(tmp_path, f), f"config file {f}", "is not UTF-8 text",
                   "give a UTF-8 text file")


def test_train_config_utf16(tmp_path):
    f = tmp_path / "cfg.toml"
    f.write_text("seed = 1\n", encoding="utf-16")
    one_line_error(_train_config(tmp_path, f), "is UTF-16 text", "save it as UTF-8")


# ----------------------------------------------------------------------------- cards
@pytest.mark.parametrize("value", ['"80k"', "true", "[1, 2]"])
def test_card_resistance_must_be_one_number(tmp_path, value):
    text = (ROOT / "devices" / "tia.toml").read_text(encoding="utf-8")
    assert "\nvalue = 80e3\n" in text
    card = tmp_path / "tia_user.toml"
    card.write_text(text.replace("\nvalue = 80e3\n", f"\nvalue = {value}\n"))
    out = tmp_path / "r.h5"
    proc = cosim("train", "--set", f"design.tia_card={card}", "--out", out, *TINY_TRAIN)
    one_line_error(proc, str(card), "params.feedback_resistance_ohm",
                   "must be one number in ohm", "80e3")
    assert not out.exists()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/tia"])
def test_card_name_cannot_leave_devices(tmp_path, name):
    out = tmp_path / "r.h5"
    proc = cosim("train", "--set", f'design.tia_card="{name}"', "--out", out, *TINY_TRAIN)
    one_line_error(proc, f"device card name {name!r} is not a card name", "devices/",
                   "tia_bplight")
    assert not out.exists()


def test_card_value_outside_physical_range(tmp_path):
    one_line_error(cosim("energy", "--network", "lenet5", "--set",
                         "laser_power_per_channel_w=1e30"), "laser_power_per_channel_w",
                   "1e+30 W is outside the physical range [0, 10] W", "fix the value")


def test_retunes_per_step_prices_the_retunes_and_refuses_a_bad_rate(tmp_path):
    import json

    def energy(*extra):
        proc = cosim("energy", "--network", "lenet5", "--json", "--out-dir",
                     str(tmp_path / "r"), *extra)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["figures"]

    one, none = energy(), energy("--retunes-per-step", "0")
    name = "design.layer.conv1.gradient.retune_energy"
    assert one[name]["value"] > 0 and none[name]["value"] == 0
    assert none["design.training.energy_per_image"]["value"] < \
        one["design.training.energy_per_image"]["value"]
    for bad in ("-1", "nan", "inf"):
        one_line_error(cosim("energy", "--retunes-per-step", bad), "--retunes-per-step",
                       "give a number >= 0")


def test_shipped_cards_are_inside_the_physical_ranges():
    from cosim.devices.cards import PHYSICAL_RANGES, list_cards, load_card

    units = set()
    for name in list_cards():
        for p in load_card(name).params.values():
            if p.unit in PHYSICAL_RANGES:
                lo, hi, _ = PHYSICAL_RANGES[p.unit]
                assert lo <= p.value <= hi, (name, p.name)
                units.add(p.unit)
    assert {"ohm", "W", "F", "V"} <= units


# ---------------------------------------------------------------- files and directories
def test_run_file_under_a_file(tmp_path, afile):
    one_line_error(cosim("train", "--out", afile / "r.h5", *TINY_TRAIN),
                   f"run file {afile / 'r.h5'}", "exists and is not a directory", "--out")
    assert afile.read_text() == "keep me\n"


def test_run_file_is_a_directory(tmp_path):
    d = tmp_path / "runs"
    d.mkdir()
    (d / "old.h5").write_text("x")
    one_line_error(cosim("train", "--out", d, *TINY_TRAIN), f"run file {d}",
                   "is a directory", "run.h5")
    assert (d / "old.h5").read_text() == "x"


def test_runs_show_on_a_text_file(afile):
    one_line_error(cosim("runs", "show", afile), f"run file {afile}", "not an HDF5 file")


def test_netlist_output_under_a_file(tmp_path, afile):
    one_line_error(cosim("netlist", "build", "rc", "-o", afile / "x" / "rc.cir"),
                   "output file", "has a parent that is a file", "-o")
    assert afile.read_text() == "keep me\n"


def test_demo_out_dir_under_a_file(afile):
    one_line_error(cosim("demo", "--quick", "--out-dir", afile / "d"),
                   "output directory", "--out-dir")


def test_energy_report_dir_is_a_file(afile):
    one_line_error(cosim("energy", "--out-dir", afile), f"report directory {afile}",
                   "--out-dir")
    assert afile.read_text() == "keep me\n"


@pytest.mark.parametrize("action", [("info",), ("verify",), ("clear", "--yes")])
def test_cosim_cache_is_a_file(afile, action):
    env = dict(os.environ, COSIM_CACHE=str(afile))
    one_line_error(cosim("cache", *action, env=env), f"cache directory {afile}",
                   "COSIM_CACHE")
    assert afile.read_text() == "keep me\n"


def test_cosim_cache_is_a_file_when_training(tmp_path, afile):
    out = tmp_path / "r.h5"
    env = dict(os.environ, COSIM_CACHE=str(afile))
    one_line_error(cosim("train", "--out", out, *TINY_TRAIN, env=env),
                   f"COSIM_CACHE={afile}", "set COSIM_CACHE to a writable directory")
    assert not out.exists() and afile.read_text() == "keep me\n"


# ------------------------------------------------------------------------------ sweeps
SPEC = ('[sweep]\ntask = "crossbar_ir_drop"\nout = {out}\n[sweep.base]\nspice = false\n'
        '[sweep.grid]\nrows = [2]\ncols = [2]\n')


@pytest.mark.parametrize("out", ['"."', '"results/"', '".."'])
def test_sweep_out_must_name_a_file(tmp_path, out):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC.format(out=out))
    one_line_error(cosim("sweep", "run", spec, "--workers", "1"), f"sweep.out={out[1:-1]!r}",
                   "give a file name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_sweep_out_option_is_a_directory(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC.format(out='"r.h5"'))
    one_line_error(cosim("sweep", "run", spec, "--out", tmp_path, "--workers", "1"),
                   f"sweep result file {tmp_path}", "is a directory", "--out")


def test_sweep_show_on_a_file_being_written(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC.format(out='"r.h5"'))
    assert cosim("sweep", "run", spec, "--workers", "1", "--quiet").returncode == 0
    before = (tmp_path / "r.h5").read_bytes()
    with h5py.File(tmp_path / "r.h5", "a"):   # a writer holds HDF5's file lock
        proc = cosim("sweep", "show", tmp_path / "r.h5")
    one_line_error(proc, "is open for writing by another process", "wait")
    assert (tmp_path / "r.h5").read_bytes() == before
    assert cosim("sweep", "show", tmp_path / "r.h5").returncode == 0


def test_sweep_show_not_hdf5(tmp_path, afile):
    one_line_error(cosim("sweep", "show", afile), f"{afile} is not an HDF5 file")


# ------------------------------------------------------------------ read-only installs
@pytest.fixture
def read_only_install(tmp_path, afile):
    """A copy of the package whose ``cosim/hw/__pycache__`` is a regular file (numba's
    in-tree cache cannot be made, for root too), HOME under a regular file (no
    ~/.cache, no ~/.config) and a private TMPDIR; returns (pythonpath, env, tmpdir)."""
    inst = tmp_path / "inst"
    shutil.copytree(ROOT / "cosim", inst / "cosim",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (inst / "cosim" / "hw" / "__pycache__").write_text("not a directory\n")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "MPLCONFIGDIR", "XDG_CACHE_HOME",
                        "XDG_CONFIG_HOME", "COSIM_CACHE")}
    env.update(HOME=str(afile / "home"), TMPDIR=str(tmp))
    return inst, env, tmp


def _notes_only(stderr: str) -> list[str]:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    # notes, and the one line a first compile of the kernels prints
    assert all(line.startswith(("cosim: note: ", "cosim: compiling numerical kernels"))
               for line in lines), stderr
    return lines


def test_read_only_install_help_and_train(tmp_path, read_only_install):
    """--help and a short training run work; the compiled kernels are cached in the
    per-user temporary directory instead of beside the source (numba alone raises
    "cannot cache function ...: no locator available" at import)."""
    inst, env, tmp = read_only_install
    proc = cosim("--help", env=env, pythonpath=inst, cwd=tmp_path)
    assert proc.returncode == 0 and "usage: cosim" in proc.stdout and not proc.stderr
    out = tmp_path / "r.h5"
    proc = cosim("train", "--design", "ideal", "--out", out, *TINY_TRAIN, env=env,
                 pythonpath=inst, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _notes_only(proc.stderr)
    assert out.is_file()
    assert (tmp / f"cosim-{os.getuid()}" / "numba").is_dir()


def test_read_only_install_without_any_writable_cache(tmp_path, read_only_install):
    """When the temporary fallback cannot be made either (a regular file stands where
    its directory would be), the kernels compile uncached with a one-line note."""
    inst, env, tmp = read_only_install
    (tmp / f"cosim-{os.getuid()}").write_text("blocks the fallback\n")
    out = tmp_path / "r.h5"
    proc = cosim("train", "--design", "ideal", "--out", out, *TINY_TRAIN, env=env,
                 pythonpath=inst, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    notes = _notes_only(proc.stderr)
    assert any("compiled kernels are not cached" in n and "NUMBA_CACHE_DIR" in n
               for n in notes), notes
    assert out.is_file()


def test_unwritable_home_result_cache_and_matplotlib_fall_back(tmp_path, afile):
    """With HOME under a regular file, the result cache and matplotlib's config dir go
    to the per-user temporary directory, with one note for the cache and no warning
    from matplotlib."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "COSIM_CACHE")}
    env.update(HOME=str(afile / "home"), TMPDIR=str(tmp), PYTHONPATH=str(ROOT))
    code = ("import warnings, sys\n"
            "from cosim.cli.main import _one_line_notes\n"
            "_one_line_notes()\n"
            "from cosim.store import default_cache\n"
            "print(default_cache().path)\n"
            "from cosim.report._mpl import pyplot\n"
            "pyplot()\n"
            "import matplotlib\n"
            "print(matplotlib.get_configdir())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    base = tmp / f"cosim-{os.getuid()}"
    assert proc.stdout.split() == [str(base / "cache"), str(base / "matplotlib")]
    notes = _notes_only(proc.stderr)
    assert len(notes) == 1 and "result cache in" in notes[0] and "COSIM_CACHE" in notes[0]
