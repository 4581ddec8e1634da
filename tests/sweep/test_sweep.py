"""Sweeps: spec validation, deterministic points, local pool vs a real Dask LocalCluster,
killed simulations recorded as failures, re-runs that do no work, the task registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cosim.sweep import (TASKS, SweepFile, SweepSpecError, execute_point, parse_spec,
                         run_sweep)

GRID = """
[sweep]
kind = "grid"
task = "crossbar_ir_drop"
seed = 7
[sweep.base]
cols = 4
array_seed = 11
[sweep.grid]
rows = [3, 5]
wire_resistance_ohm = [0.0, 0.5, 2.0, 8.0]
"""


def _arrays(path):
    with SweepFile(path) as f:
        return f.coords(), f.results(), f.status(), f.column("attempts")


def test_grid_dask_equals_local_pool_and_rerun_does_no_work(tmp_path):
    from dask.distributed import LocalCluster

    spec = parse_spec(GRID)
    assert len(spec.points()) == 8
    local = run_sweep(spec, tmp_path / "local.h5", workers=2)
    assert (local.executed, local.ok, local.failed) == (8, 8, 0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        rep = run_sweep(spec, tmp_path / "dask.h5", scheduler=cluster)
    assert (rep.backend, rep.executed, rep.ok) == ("dask", 8, 8)
    c_loc, r_loc, s_loc, a_loc = _arrays(tmp_path / "local.h5")
    c_dsk, r_dsk, s_dsk, _ = _arrays(tmp_path / "dask.h5")
    assert s_loc == s_dsk == ["ok"] * 8
    for k in c_loc:
        np.testing.assert_array_equal(c_loc[k], c_dsk[k])
    assert set(r_loc) == set(r_dsk)
    for k in r_loc:  # bit-identical: same function, same params and seed per point
        np.testing.assert_array_equal(r_loc[k], r_dsk[k], err_msg=k)
    # physics: ideal wires give the ideal product; the IR-drop error grows with the wire
    # resistance for the same array; the native twin matches ngspice on the same netlist
    err = r_loc["ir_drop_max_rel_error"].reshape(2, 4)
    assert np.all(err[:, 0] < 1e-12)
    assert np.all(np.diff(err, axis=1) > 0)
    assert np.all(r_loc["twin_vs_spice_max_rel_error"] < 1e-9)
    assert np.all(r_loc["current_ratio_mean"] <= 1.0 + 1e-12)
    # re-running: zero executions, the attempt counters stay at one
    again = run_sweep(spec, tmp_path / "local.h5", workers=2)
    assert (again.executed, again.skipped) == (0, 8)
    np.testing.assert_array_equal(_arrays(tmp_path / "local.h5")[3], a_loc)
    assert a_loc.tolist() == [1] * 8


def test_killed_simulation_recorded_and_others_complete(tmp_path):
    spec = parse_spec("""
[sweep]
task = "crossbar_ir_drop"
[sweep.base]
cols = 6
[sweep.grid]
rows = [4, 6]
spice_timeout_s = [60.0, 1e-9]
""")
    out = tmp_path / "kill.h5"
    rep = run_sweep(spec, out, workers=2)
    assert (rep.executed, rep.ok, rep.failed) == (4, 2, 2)
    with SweepFile(out) as f:
        st, errs = f.status(), f.errors()
        timeouts = f.coords()["spice_timeout_s"]
        res = f.results()
    for s, e, t in zip(st, errs, timeouts):
        if t < 1:
            assert s == "failed" and "SpiceTimeoutError" in e and "killed" in e
        else:
            assert s == "ok" and e == ""
    ok = np.array(st) == "ok"
    assert np.all(np.isfinite(res["ir_drop_max_rel_error"][ok]))
    assert np.all(np.isnan(res["ir_drop_max_rel_error"][~ok]))
    # failed points are retried only on request; finished ones never again
    assert run_sweep(spec, out, workers=2).executed == 0
    retry = run_sweep(spec, out, workers=2, retry_failed=True)
    assert (retry.executed, retry.failed) == (2, 2)
    with SweepFile(out) as f:
        assert f.column("attempts").tolist() == [1 if s == "ok" else 2 for s in st]


def test_grid_extension_appends_only_new_points(tmp_path):
    small = GRID.replace("wire_resistance_ohm = [0.0, 0.5, 2.0, 8.0]",
                         "wire_resistance_ohm = [0.0, 0.5]").replace(
        "[sweep.base]", "[sweep.base]\nspice = false")
    big = small.replace("[0.0, 0.5]", "[0.0, 0.5, 1.0]")
    out = tmp_path / "ext.h5"
    assert run_sweep(parse_spec(small), out, workers=1).executed == 4
    rep = run_sweep(parse_spec(big), out, workers=1)
    assert (rep.executed, rep.skipped, rep.points) == (2, 4, 6)
    with SweepFile(out) as f:
        assert len(f) == 6 and f.status() == ["ok"] * 6
    # another base (identity) is refused instead of mixing results
    from cosim.sweep import SweepFileError

    with pytest.raises(SweepFileError, match="another task, base"):
        run_sweep(parse_spec(big.replace("cols = 4", "cols = 3")), out)


def test_monte_carlo_points_are_deterministic_and_in_range():
    text = """
[sweep]
kind = "monte_carlo"
task = "memristor_variability"
seed = 5
[sweep.base]
devices = 100
[sweep.grid]
pulses = [4, 9]
[sweep.monte_carlo]
samples = 6
seed = 3
[sweep.monte_carlo.distributions]
c2c_sigma_frac = {dist = "uniform", low = 0.001, high = 0.01}
d2d_sigma_frac = {dist = "choice", values = [0.0, 0.05]}
"""
    a, b = parse_spec(text).points(), parse_spec(text).points()
    assert len(a) == 12 and [p.coords for p in a] == [p.coords for p in b]
    assert [p.seed for p in a] == [p.seed for p in b]
    assert len({p.key for p in a}) == 12 and len({p.seed for p in a}) == 12
    assert all(0.001 <= p.coords["c2c_sigma_frac"] <= 0.01 for p in a)
    assert {p.coords["d2d_sigma_frac"] for p in a} <= {0.0, 0.05}
    assert [p.coords["sample"] for p in a] == list(range(6)) * 2
    other = parse_spec(text.replace("seed = 3", "seed = 4")).points()
    assert [p.coords["c2c_sigma_frac"] for p in other] != \
        [p.coords["c2c_sigma_frac"] for p in a]


@pytest.mark.parametrize("text, match", [
    ('[sweep]\ntask = "crossbar_ir_drop"\nbogus = 1\n[sweep.grid]\nrows = [2]',
     "unknown key sweep.bogus"),
    ('[sweep]\ntask = "nope"\n[sweep.grid]\nrows = [2]', "sweep.task='nope'"),
    ('[sweep]\ntask = "crossbar_ir_drop"\n[sweep.grid]\nrowz = [2]',
     "no parameter 'rowz'"),
    ('[sweep]\ntask = "crossbar_ir_drop"\n[sweep.grid]\nrows = [0]', "rows=0"),
    ('[sweep]\ntask = "crossbar_ir_drop"\n[sweep.grid]\nrows = []', "non-empty"),
    ('[sweep]\nkind = "monte_carlo"\ntask = "crossbar_ir_drop"\n[sweep.monte_carlo]\n'
     'samples = 2\n[sweep.monte_carlo.distributions]\nrows = {dist = "gauss"}',
     "choose one of uniform"),
    ('[sweep]\ntask = "train"\n[sweep.grid]\n"hardware.wire_resistanc_ohm" = [1.0]',
     "hardware.wire_resistanc_ohm"),
    ('[sweep]\ntask = "train"\n[sweep.grid]\n"device.no_such" = [1.0]',
     "swept by their dotted name now: design.no_such"),
    ('[sweep]\ntask = "train"\n[sweep.grid]\n"design.tile_rowz" = [8]',
     "did you mean 'tile_rows'"),
    ('[sweep]\ntask = "train"\n[sweep.grid]\n"design.tia.feedback_resistance" = [1e3]',
     "did you mean 'feedback_resistance_ohm'"),
])
def test_spec_errors_name_the_key(text, match):
    with pytest.raises(SweepSpecError, match=match.replace("(", r"\(").replace(".", r"\.")):
        parse_spec(text)


def test_memristor_variability_matches_closed_form_write_noise():
    # no d2d spread, no read noise, mid-range target: G - G_nominal ~ N(0, s sqrt(n))
    sigma, pulses, n = 0.004, 9, 40000
    o = execute_point("memristor_variability", {"devices": n, "pulses": pulses,
                                                "c2c_sigma_frac": sigma,
                                                "d2d_sigma_frac": 0.0,
                                                "read_noise_sigma_frac": 0.0}, 123)
    assert o.status == "ok", o.error
    expect = sigma * math.sqrt(pulses)
    # rms of n Gaussian draws: relative standard error 1/sqrt(2n) = 0.35 %
    assert abs(o.results["error_rms_frac"] / expect - 1) < 0.02
    assert abs(o.results["error_mean_frac"]) < 5 * expect / math.sqrt(n)
    assert o.results["at_limit_fraction"] == 0.0


TASK_POINTS = {
    "crossbar_ir_drop": {"rows": 3, "cols": 2, "wire_resistance_ohm": 1.0},
    "memristor_variability": {"devices": 50, "pulses": 3},
    "train": {"design.name": "ideal", "data.train_limit": 32,
              "data.test_limit": 16, "data.input_size": 28, "model.width": 0.25,
              "training.epochs": 1, "training.batch_size": 16,
              "training.signal_every_steps": 0},
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_runs_deterministically_and_rejects_unknown_params(name):
    params = TASK_POINTS[name]
    TASKS[name].validate(params)
    a = execute_point(name, params, 42)
    b = execute_point(name, params, 42)
    assert a.status == "ok", a.error
    assert a.results.keys() == b.results.keys() and a.results
    for k in a.results:
        np.testing.assert_array_equal(a.results[k], b.results[k], err_msg=k)
    bad = execute_point(name, {**params, "no_such_parameter": 1}, 42)
    assert bad.status == "failed" and "no_such_parameter" in bad.error
    if name == "train":
        assert a.results["steps"] == 2 and 0 <= a.results["final_test_acc"] <= 1


def test_train_task_design_values_reach_the_hardware_without_card_files(monkeypatch,
                                                                       tmp_path):
    """A point's design values (a design value and a card value by role) are overrides
    of the run's design: the trained design holds them, and no card file is written."""
    import cosim.orchestrator as orch
    from cosim.sweep.tasks import train_point

    seen = {}

    def fake_train(config, out, **kwargs):
        seen["design"] = config.design.resolve()
        seen["files"] = sorted(p.name for p in out.parent.iterdir())
        raise RuntimeError("stop here")

    monkeypatch.setattr(orch, "train", fake_train)
    with pytest.raises(RuntimeError, match="stop here"):
        train_point({"design.name": "electronic", "design.tile_rows": 8,
                     "design.crossbar.wire_resistance_crosspoint_ohm": 2.5}, 1)
    d = seen["design"]
    assert (d.name, d["tile_rows"], d["crossbar.wire_resistance_crosspoint_ohm"]) == \
        ("electronic", 8, 2.5)
    assert seen["files"] == []


def _big_grid(n_wire: int, n_seed: int) -> str:
    wires = ", ".join(f"{0.001 * i:.3f}" for i in range(n_wire))
    seeds = ", ".join(str(i) for i in range(n_seed))
    return f"""
[sweep]
task = "crossbar_ir_drop"
out = "big.h5"
[sweep.base]
rows = 4
cols = 4
spice = false
[sweep.grid]
wire_resistance_ohm = [{wires}]
array_seed = [{seeds}]
"""


def test_sweep_over_the_point_limit_is_refused_before_points_are_made(tmp_path, capsys,
                                                                        monkeypatch):
    """A grid of MAX_SWEEP_POINTS + 1 points (and a Monte Carlo just over it) is refused
    on loading within 1 s, the message naming the count, the dimensions, the limit, the
    constant and the fix; a spec at the limit loads; `cosim sweep run` on a 9-million-
    point spec exits 2 with the message and writes nothing; under a patched limit a
    sweep runs and points() itself refuses once the limit drops below it."""
    import time

    import cosim.sweep.spec as spec_mod
    from cosim.cli.main import build_parser, main
    from cosim.errors import ResourceLimitError

    assert spec_mod.MAX_SWEEP_POINTS == 1_000_000
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError) as exc:
        parse_spec(_big_grid(101, 9901), "over.toml")      # 101 x 9901 = 1,000,001
    assert time.perf_counter() - t0 < 1.0
    msg = str(exc.value)
    for part in ("over.toml: the sweep has 1,000,001 points",
                 "(101 wire_resistance_ohm x 9901 array_seed)", "limit of 1,000,000",
                 "cosim.sweep.spec.MAX_SWEEP_POINTS", "split it into several specs"):
        assert part in msg, (part, msg)
    mc = """
[sweep]
kind = "monte_carlo"
task = "memristor_variability"
[sweep.grid]
n_devices = [10, 20]
[sweep.monte_carlo]
samples = 500001
"""
    t0 = time.perf_counter()
    with pytest.raises(ResourceLimitError, match=r"1,000,002 points \(2 n_devices x "
                                                 r"500001 samples\)"):
        parse_spec(mc)
    assert time.perf_counter() - t0 < 1.0
    assert parse_spec(_big_grid(100, 10000), validate_task=False).n_points == 1_000_000

    big = tmp_path / "nine_million.toml"
    big.write_text(_big_grid(3000, 3000))
    build_parser()              # first imports of the command modules: not the refusal
    t0 = time.perf_counter()
    assert main(["sweep", "run", str(big), "--quiet"]) == 2
    assert time.perf_counter() - t0 < 1.0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the sweep has 9,000,000 points" in err
    assert "limit of 1,000,000" in err and "MAX_SWEEP_POINTS" in err
    assert not (tmp_path / "big.h5").exists()

    monkeypatch.setattr(spec_mod, "MAX_SWEEP_POINTS", 4)
    small = parse_spec(_big_grid(2, 2))                     # at the patched limit
    rep = run_sweep(small, tmp_path / "small.h5", workers=1)
    assert (rep.points, rep.ok) == (4, 4)
    monkeypatch.setattr(spec_mod, "MAX_SWEEP_POINTS", 3)
    with pytest.raises(ResourceLimitError, match="4 points"):
        small.points()
