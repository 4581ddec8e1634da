"""Benchmark of the photodetector + TIA readout: characterization and the two engines.

Measures (real ngspice, a fresh private cache):
* a 16-bit DC characterization: the DC sweep alone (81,921 points at one LSB per step)
  and the full ``characterize`` (DC, AC, step, two .noise, two .op);
* the ``spice`` engine: 64 channels x 1,000 symbols in one batched transient;
* the ``twin`` engine on the same inputs, and the largest twin-spice difference in LSB.

Prints a table and rewrites its own section of benchmarks/RESULTS.md.
Run: .venv/bin/python benchmarks/readout.py
"""

from __future__ import annotations

import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from cosim.netlist import Dc
from cosim.readout import ReadoutSpec, SpiceReadout, TwinReadout, build_readout_chain, characterize
from cosim.spice import SpiceEngine
from cosim.store import ResultCache

from _common import cpu_model as _cpu

BEGIN, END = "<!-- readout:begin -->", "<!-- readout:end -->"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CHANNELS, SAMPLES = 64, 1000




def main() -> None:
    spec = ReadoutSpec.from_cards()
    rows = []
    with SpiceEngine(workers=os.cpu_count() or 1, timeout_s=3600) as engine, \
            tempfile.TemporaryDirectory() as tmp:
        cache = ResultCache(Path(tmp) / "cache")
        # DC sweep alone (as characterize builds it).
        i_fs = spec.full_scale_current_a
        span = 1.25 * i_fs
        step = 2 * i_fs / 2 ** spec.adc_bits
        circ = build_readout_chain(spec, common_mode_w=span / (2 * spec.responsivity_a_per_w),
                                   ac_channel=None)
        t0 = time.perf_counter()
        res = engine.run(circ, Dc("Vsig0", -span, span + step / 2, step))
        t_dc = time.perf_counter() - t0
        n_dc = res.axis.size
        rows.append((f"16-bit DC sweep ({n_dc} points)", t_dc, ""))
        t0 = time.perf_counter()
        ch = characterize(spec, cache=cache, engine=engine)
        t_char = time.perf_counter() - t0
        rows.append((f"characterize, 16 bit ({ch.ngspice_runs} ngspice runs, "
                     f"{engine.size} workers)", t_char, ""))
        t0 = time.perf_counter()
        characterize(spec, cache=cache, engine=engine)
        rows.append(("characterize again (cache hit)", time.perf_counter() - t0, ""))

        rng = np.random.default_rng(2024)
        r = spec.responsivity_a_per_w
        net = rng.uniform(-1, 1, (SAMPLES, CHANNELS)) * i_fs
        cm = rng.uniform(0.5, 1.0, (SAMPLES, CHANNELS)) * i_fs / r
        plus, minus = cm + net / (2 * r), cm - net / (2 * r)
        spice = SpiceReadout(spec, engine=engine, timeout_s=3600)
        t0 = time.perf_counter()
        v_spice = spice.read(plus, minus)
        t_spice = time.perf_counter() - t0
        twin = TwinReadout(ch)
        reps = 20
        t0 = time.perf_counter()
        for _ in range(reps):
            v_twin = twin.read(plus, minus)
        t_twin = (time.perf_counter() - t0) / reps
        err_lsb = float(np.max(np.abs(v_twin - v_spice)) / spec.lsb_v)
    n = CHANNELS * SAMPLES
    rows.append((f"spice engine {CHANNELS} ch x {SAMPLES} samples", t_spice,
                 f"{t_spice / n * 1e6:.3f} us/sample"))
    rows.append((f"twin engine {CHANNELS} ch x {SAMPLES} samples (mean of {reps})", t_twin,
                 f"{t_twin / n * 1e9:.3f} ns/sample"))
    speedup = t_spice / t_twin
    lines = [f"{'case':<58} {'time':>10}  per sample"]
    for name, t, extra in rows:
        lines.append(f"{name:<58} {t:>9.3f}s  {extra}")
    lines.append(f"twin speed-up per sample: {speedup:,.0f}x (target >= 1,000x: "
                 f"{'met' if speedup >= 1000 else 'NOT met'})")
    lines.append(f"max |twin - spice| on {n} inputs: {err_lsb:.3f} LSB at "
                 f"{spec.adc_bits} bits (LSB {spec.lsb_v * 1e6:.2f} uV)")
    table = "\n".join(lines)
    print(table)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    section = (
        f"{BEGIN}\n## Readout: photodetector + TIA (`benchmarks/readout.py`)\n\n"
        f"Date: {stamp}  \nMachine: {platform.platform()}; CPU {_cpu()}; "
        f"{os.cpu_count()} cores; Python {platform.python_version()}, numpy "
        f"{np.__version__}\n\n"
        "Default cards (balanced Ge PD pair, 80 kOhm TIA, 16-bit ADC at 100 MS/s: symbol "
        "period 10 ns). Spice: one transient of the whole multi-channel netlist, noise "
        "off, reltol 1e-6. Twin: measured DC curve + step-response taps, no ngspice.\n\n"
        f"```\n{table}\n```\n{END}"
    )
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
