"""Memristor models: ngspice subcircuit vs numpy twin (time and agreement) at each card's
bench drive, and pulse-programming throughput on a large array.

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
    simulate
from cosim.spice import default_engine

NAME = "memristor_models"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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
            t0 = time.perf_counter()
            i_tw, _ = simulate(name, t, lambda tt: amp * np.sin(2 * np.pi * f * tt), rtol=1e-8)
            t_tw = time.perf_counter() - t0
            err = np.sqrt(np.mean((i_sp - i_tw) ** 2)) / np.max(np.abs(i_sp))
            rows.append((name, f"{amp:g} V, {f:g} Hz", cycles, len(t), t_sp, t_tw, err))
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
             "ngspice bench (netlists/memristors.lib) vs numpy twin (solve_ivp Radau, "
             "rtol 1e-8) on the ngspice time grid; error = RMS current difference / peak "
             "current.", "",
             "| model | drive | cycles | points | ngspice s | twin s | RMS err / peak |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.3f} | {r[5]:.3f} | "
                     f"{r[6]:.2e} |")
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
