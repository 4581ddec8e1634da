"""Benchmark: the wired crossbar's transfer matrix, compiled row sweep vs the numpy
block elimination it replaced (run on demand).

    .venv/bin/python benchmarks/crossbar_transfer.py [--repeat 3]

:func:`cosim.hw.crossbar_tile.read_transfer` computes, once per weight state, the exact
transfer matrix of every tile array of a product (wire segments of the crossbar card,
1.48 ohm per cell; 100 ohm driver and sense resistances).  Cases: the arrays of one
load of LeNet-5's fc1 (14 tiles of 64 x 64, a differential pair each: 28 arrays, with
the conductances of weights uniform in +-0.3 of full scale), one 64 x 64 array, and
tall and wide arrays (a wide array is swept along its columns).  *numpy*: the block
elimination of ``read_transfer`` before (dense ``numpy.linalg`` solves and inverses per
row, kept here as :func:`numpy_block_elimination`); *compiled*: ``read_transfer`` now
(:mod:`cosim.hw.crossbar_kernels`).  Best wall time of ``--repeat`` runs, all cores.
*err*: the largest difference of the column currents of 8 random input vectors from the
native MNA solver of the same read netlist (``crossbar_solver``, itself tested against
ngspice), relative to the largest current; the numpy column gives the same for the old
elimination.  Writes the ``crossbar-transfer`` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import time

import numpy as np

from _common import machine, write_section

NAME = "crossbar-transfer"
KW = {"wire_resistance_ohm": 1.48, "driver_resistance_ohm": 100.0,
      "sense_resistance_ohm": 100.0}
#: label -> (batch, rows, cols)
CASES = {"fc1 load (28 x 64x64)": (28, 64, 64), "64 x 64": (1, 64, 64),
         "256 x 64 (tall)": (1, 256, 64), "64 x 256 (wide)": (1, 64, 256),
         "128 x 512 (wide)": (1, 128, 512)}


def numpy_block_elimination(g: np.ndarray, wire: float, drv: float, sense: float
                            ) -> np.ndarray:
    """The wired transfer as ``read_transfer`` computed it before (commit 1099483):
    batched dense solves for the row chains, one ``numpy.linalg.inv`` per row."""
    *lead, rows, cols = g.shape
    gw, g_in, g_out = 1.0 / wire, 1.0 / (drv + wire), 1.0 / (wire + sense)
    k_diag = g + gw * 2.0
    k_diag[..., 0] += g_in - gw
    k_diag[..., -1] -= gw
    k = np.zeros((*lead, rows, cols, cols))
    ii = np.arange(cols)
    k[..., ii, ii] = k_diag
    k[..., ii[:-1], ii[1:]] = -gw
    k[..., ii[1:], ii[:-1]] = -gw
    rhs = np.zeros((*lead, rows, cols, cols + 1))
    rhs[..., ii, ii] = g
    rhs[..., 0, cols] = g_in
    sol = np.linalg.solve(k, rhs)
    a = -g[..., :, :, None] * sol[..., :cols]
    h = g * sol[..., cols]
    n_diag = g + gw * 2.0
    n_diag[..., 0, :] -= gw
    n_diag[..., -1, :] += g_out - gw
    a[..., ii, ii] += n_diag
    f = np.zeros((*lead, cols, rows))
    f[..., :, 0] = h[..., 0, :]
    a_prev = a[..., 0, :, :]
    for r in range(1, rows):
        inv = np.linalg.inv(a_prev)
        a_prev = a[..., r, :, :] - (gw * gw) * inv
        f = gw * (inv @ f)
        f[..., :, r] += h[..., r, :]
    y_last = np.linalg.solve(a_prev, f)
    return np.swapaxes(g_out * y_last, -1, -2)


def _best(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _error(g: np.ndarray, m: np.ndarray, rng) -> float:
    from cosim.hw import crossbar_solver

    err = 0.0
    for t in range(min(g.shape[0], 2)):
        v = rng.uniform(-0.2, 0.2, (8, g.shape[1]))
        ref = crossbar_solver(g[t], **KW).solve(v)
        err = max(err, float(np.max(np.abs(v @ m[t] - ref)) / np.max(np.abs(ref))))
    return err


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    args = p.parse_args(argv)

    from cosim.hw.crossbar_tile import read_transfer

    rng = np.random.default_rng(0)
    read_transfer(rng.uniform(5e-7, 5e-4, (1, 4, 3)), **KW)       # compile / load kernels
    lines = [f"{'case':<24} {'numpy':>10} {'compiled':>10} {'speed-up':>9} "
             f"{'err numpy':>10} {'err compiled':>12}"]
    for label, (batch, rows, cols) in CASES.items():
        a = rng.uniform(-0.3, 0.3, (batch, rows, cols))
        g = 5e-7 + (5e-4 - 5e-7) * np.maximum(a, 0.0)
        t_new, m_new = _best(lambda g=g: read_transfer(g, **KW), args.repeat)
        t_old, m_old = _best(lambda g=g: numpy_block_elimination(g, 1.48, 100.0, 100.0),
                             1 if t_new > 0.5 else args.repeat)
        lines.append(f"{label:<24} {t_old * 1e3:>8.1f}ms {t_new * 1e3:>8.1f}ms "
                     f"{t_old / t_new:>8.1f}x {_error(g, m_old, rng):>10.1e} "
                     f"{_error(g, m_new, rng):>12.1e}")
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    write_section(NAME, (
        "## Crossbar transfer matrix: compiled row sweep vs numpy block elimination "
        "(`benchmarks/crossbar_transfer.py`)\n\n"
        f"Date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}"
        f"  \nMachine: {machine()}; numpy {np.__version__}  \n"
        f"Command: `python benchmarks/crossbar_transfer.py --repeat {args.repeat}`\n\n"
        "Exact transfer matrix of wired arrays (1.48 ohm per segment, 100 ohm driver and "
        "sense), best of the repeats, all cores. numpy: the block elimination before "
        "(dense numpy.linalg per row); compiled: read_transfer now "
        "(cosim.hw.crossbar_kernels; wide arrays swept along their columns). err: largest "
        "difference of the column currents from the native MNA solver of the same "
        "netlist, relative to the largest current (the tests hold it to 1e-12).\n\n"
        f"```\n{table}\n```"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
