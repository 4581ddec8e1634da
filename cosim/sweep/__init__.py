"""Sweeps and Monte Carlo over any config values: local process pool or Dask distributed.

Example::

    from cosim.sweep import load_spec, run_sweep, SweepFile

    spec = load_spec("workflows/sweeps/ir_drop.toml")   # grid or monte_carlo, a task
    report = run_sweep(spec, "ir_drop.h5")              # or scheduler="tcp://host:8786"
    with SweepFile("ir_drop.h5") as f:
        f.coords()["wire_resistance_ohm"], f.results()["ir_drop_max_rel_error"]

Re-running the same spec on the same file executes only the points not yet done
(``retry_failed=True`` also re-runs the failed ones).
"""

from cosim.sweep.runner import Outcome, SweepReport, SweepWorkerError, execute_point, run_sweep
from cosim.sweep.spec import (
    DISTRIBUTIONS,
    SWEEP_KINDS,
    Point,
    SweepSpec,
    SweepSpecError,
    default_out,
    load_spec,
    parse_spec,
    point_key,
    point_seed,
)
from cosim.sweep.store import SweepFile, SweepFileError
from cosim.sweep.tasks import TASKS, Task

__all__ = ["DISTRIBUTIONS", "SWEEP_KINDS", "TASKS", "Outcome", "Point", "SweepFile",
           "SweepFileError", "SweepReport", "SweepSpec", "SweepSpecError", "SweepWorkerError",
           "Task",
           "default_out", "execute_point", "load_spec", "parse_spec", "point_key",
           "point_seed", "run_sweep"]
