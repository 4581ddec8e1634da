"""Sandia CrossSim's parasitic-resistance solver on crossbar reads: a helper of
``benchmarks/crossbar.py``, run in a subprocess whose ``PYTHONPATH`` starts with a
scratch install of CrossSim (it is never a dependency of this project).

    python benchmarks/_crosssim_worker.py IN.npz OUT.npz

IN.npz holds ``g`` (rows, cols) cell conductances in S; ``u`` (1 + k, rows) row voltages
in V; ``wire``, ``driver``, ``sense`` in ohm; ``verr``, CrossSim's convergence threshold
(``simulation.Verr_th_mvm``), and ``iters``, the largest iteration limit to try
(``simulation.Niters_max_parasitics``).  The first vector is solved alone (``first_s``):
CrossSim lowers its relaxation parameter until its iteration converges within the limit,
and keeps it; if no parameter down to CrossSim's floor converges, the limit is raised
tenfold from CrossSim's default (100) and the search starts again.  The smallest limit
that works gives the fastest solves after it (a larger one lets a barely convergent
relaxation parameter through, and every vector then takes that many iterations).  The
other k vectors are then solved one after the other (``per_vector_s``).  OUT.npz holds
``currents`` (1 + k, cols) in A, the times, the relaxation parameter and iteration limit
reached and CrossSim's version.

The circuit is the one ``cosim.hw.build_crossbar_read`` writes: rows driven at column 0
through ``driver``, a wire segment before each cell on the rows and after each cell on
the columns, columns sensed after the last row through ``sense`` into 0 V.  CrossSim's
non-interleaved input-source array (``simulator.circuits.array``) solves that topology
with its matrix ``W = g.T`` (outputs x inputs) in conductances normalised by
``1 / Rmin``.  Its segment resistances are given to it as matrices (``Rp_in_mat``,
``Rp_out_mat``, which the solver otherwise builds on its first call), because in
CrossSim 3.2.0 ``Rp_row_terminal`` is added to every segment of input line 0
(``Rp_in_mat[:, 0]``) instead of to the first segment of every input line: with a 100
ohm driver its answer then differs from the circuit by 20 % on an 8 x 8 array, while
with the matrices below it agrees to 5e-12 at ``verr = 1e-12``.
"""

from __future__ import annotations

import sys
import time
from importlib.metadata import version

import numpy as np


def main() -> None:
    from simulator import CrossSimParameters
    from simulator.backend import ComputeBackend

    ComputeBackend(use_gpu=False)
    from simulator.circuits.array import NoninterleavedInputSourceArray

    data = np.load(sys.argv[1])
    g, u = data["g"], data["u"]
    wire, driver, sense = (float(data[k]) for k in ("wire", "driver", "sense"))
    rows, cols = g.shape
    params = CrossSimParameters()
    params.xbar.device.Rmin = 1.0 / float(g.max())
    rmin = params.xbar.device.Rmin
    par = params.xbar.array.parasitics
    par.enable = True
    par.Rp_row = par.Rp_col = wire
    params.simulation.Verr_th_mvm = float(data["verr"])
    params.simulation.hide_convergence_msg = True
    # Segment resistances, normalised by Rmin, indexed (output = column, input = row).
    r_in = np.full((cols, rows), wire / rmin)
    r_in[0, :] += driver / rmin              # driver in series with each row's first segment
    r_out = np.full((cols, rows), wire / rmin)
    r_out[:, -1] += sense / rmin             # sense after each column's last segment
    w = g.T * rmin
    limit = params.simulation.Niters_max_parasitics          # CrossSim's default
    t0 = time.perf_counter()
    while True:
        params.simulation.Niters_max_parasitics = limit
        array = NoninterleavedInputSourceArray(params)
        array.Rp_in_mat, array.Rp_out_mat = r_in, r_out
        try:
            first = array.iterative_solve(w, u[0])
            break
        except ValueError:                   # no relaxation parameter converged
            if limit * 10 > int(data["iters"]):
                raise
            limit *= 10
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rest = [array.iterative_solve(w, x) for x in u[1:]]
    per_vector_s = (time.perf_counter() - t0) / max(len(rest), 1)
    currents = np.array([first, *rest]) / rmin
    np.savez(sys.argv[2], currents=currents, first_s=first_s, per_vector_s=per_vector_s,
             gamma=array.gamma, iters=limit, version=version("CrossSim"))


if __name__ == "__main__":
    main()
