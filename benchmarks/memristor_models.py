"""Memristor models: ngspice subcircuit vs numpy twin (time and agreement) at each card's
bench drive, the batched twin on 1000 devices, and pulse-programming throughput on a
large array.

Run: .venv/bin/python benchmarks/memristor_models.py
Writes its section of benchmarks/RESULTS.md between the memristor_models markers.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np

from cosim.devices import programming as pg
from cosim.devices.memristor import MEMRISTOR_MODELS, bench_circuit, bench_drive_from_card, \
    simulate, simulate_batch
from cosim.spice import default_engine

from _common import cpu_model as _cpu

NAME = "memristor_models"




def _radau_twin(name, t, vfun):
    """The previous twin (scipy solve_ivp Radau, rtol 1e-8, atol 1e-12, max step = mean
    output spacing), kept here as the speed baseline."""
    from scipy.integrate import solve_ivp

    m = MEMRISTOR_MODELS[name]
    pr = m.params()
    sol = solve_ivp(lambda tt, y: m._dxdt(vfun(tt), y, **pr), (t[0], t[-1]), [pr["x0"]],
                    method="Radau", t_eval=t, rtol=1e-8, atol=1e-12,
                    max_step=(t[-1] - t[0]) / (t.size - 1))
    return m._current(vfun(t), sol.y[0], **pr)


def _batch_rows(n_dev=1000, points=1000):
    """One bench cycle of n_dev devices: identical devices, and devices with amplitudes
    0.5-1.2x and initial states 0.1-0.9 drawn at random, at the batch default
    tolerances (rtol 1e-6) and at simulate's (rtol 1e-9)."""
    rows = []
    rng = np.random.default_rng(0)
    for name in sorted(MEMRISTOR_MODELS):
        amp, f = bench_drive_from_card(MEMRISTOR_MODELS[name].card)
        t = np.linspace(0.0, 1.0 / f, points + 1)
        s = np.sin(2 * np.pi * f * t)[:, None]
        same = s * np.full(n_dev, amp)
        varied = s * (amp * rng.uniform(0.5, 1.2, n_dev))
        x0 = rng.uniform(0.1, 0.9, n_dev)
        times = []
        for v, kw in ((same, {}), (varied, {"x0": x0}),
                      (varied, {"x0": x0, "rtol": 1e-9, "atol": 1e-12})):
            t0 = time.perf_counter()
            simulate_batch(name, t, v, **kw)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        simulate(name, t, varied[:, 0], x0=x0[0])
        t_one = time.perf_counter() - t0
        rows.append((name, t.size, t_one, *times))
    return rows


def main() -> None:
    eng = default_engine()
    rows = []
    for name in sorted(MEMRISTOR_MODELS):
        amp, f = bench_drive_from_card(MEMRISTOR_MODELS[name].card)
        for cycles in (2, 10):
            c = bench_circuit(name, amp, f, cycles=cycles)
            eng.run(c)  # warm the worker
            t0 = time.perf_counter()
            res = eng.run(c)
            t_sp = time.perf_counter() - t0
            t = res.axis
            i_sp = -res.i("V1")
            vfun = lambda tt: amp * np.sin(2 * np.pi * f * tt)  # noqa: E731
            simulate(name, t, vfun, rtol=1e-8)  # warm
            t0 = time.perf_counter()
            i_tw, _ = simulate(name, t, vfun, rtol=1e-8)
            t_tw = time.perf_counter() - t0
            err = np.sqrt(np.mean((i_sp - i_tw) ** 2)) / np.max(np.abs(i_sp))
            t0 = time.perf_counter()
            i_old = _radau_twin(name, t, vfun)
            t_old = time.perf_counter() - t0
            err_old = np.sqrt(np.mean((i_sp - i_old) ** 2)) / np.max(np.abs(i_sp))
            rows.append((name, f"{amp:g} V, {f:g} Hz", cycles, len(t), t_sp, t_tw, err,
                         t_old, err_old))
    batch = _batch_rows()
    p = pg.params_from_card()
    rng = np.random.default_rng(0)
    shape = (1000, 1000)
    w = rng.uniform(-1, 1, shape)
    st = pg.ArrayState.from_weights(w, 1.0, p, rng)
    n = rng.integers(-5, 6, shape)
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        st = st.apply_pulses(n, -n, p, rng)
    t_prog = (time.perf_counter() - t0) / reps

    lines = [f"<!-- {NAME}:begin -->", "## memristor_models", "",
             f"Machine: {platform.platform()}, CPU {_cpu()}, {os.cpu_count()} cores; "
             f"date {datetime.date.today().isoformat()}.", "",
             "ngspice bench (netlists/memristors.lib) vs numpy twin `simulate` (Dormand-"
             "Prince 5(4) on the output grid, adaptive substeps, Radau fallback where stiff; "
             "rtol 1e-8) on the ngspice time grid, driven by the exact sinusoid; error = "
             "RMS current difference / peak current.  'Radau' = the previous twin (scipy "
             "solve_ivp Radau, rtol 1e-8, max step = output spacing), for the speed-up.",
             "",
             "| model | drive | cycles | points | ngspice s | twin s | RMS err / peak | "
             "Radau s | Radau err / peak | twin speed-up vs Radau |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.3f} | {r[5]:.4f} | "
                     f"{r[6]:.2e} | {r[7]:.3f} | {r[8]:.2e} | {r[7] / r[5]:.0f}x |")
    lines += ["", "Batched twin `simulate_batch`: 1000 devices, one bench cycle, 1000 points "
              "per period (numpy, vectorised over devices). 'same': every device identical; "
              "'varied': amplitudes 0.5-1.2x and initial states 0.1-0.9 drawn per device "
              "(devices then need different substep counts at different times).  One "
              "device with `simulate` for scale.", "",
              "| model | points | 1 device simulate s | 1000 same, rtol 1e-6 s | "
              "1000 varied, rtol 1e-6 s | 1000 varied, rtol 1e-9 s |",
              "|---|---|---|---|---|---|"]
    for r in batch:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:.4f} | {r[3]:.3f} | {r[4]:.3f} | "
                     f"{r[5]:.3f} |")
    lines += ["", f"Pulse programming (NeuroSim RealDevice card, c2c on, differential pair): "
              f"{shape[0]}x{shape[1]} weights (2e6 devices) per update: {t_prog * 1e3:.1f} ms "
              f"({2 * shape[0] * shape[1] / t_prog / 1e6:.1f} M devices/s).",
              f"<!-- {NAME}:end -->"]
    section = "\n".join(lines)
    print(section)
    path = Path(__file__).with_name("RESULTS.md")
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    begin, end = f"<!-- {NAME}:begin -->", f"<!-- {NAME}:end -->"
    if begin in text and end in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
