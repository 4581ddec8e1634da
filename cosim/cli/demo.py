"""``cosim demo``: the most complete end-to-end job available, on built-in defaults.

It exercises every domain that exists, each checked against an independent reference:
ngspice against closed-form RC physics; each memristor model's ngspice subcircuit
against its numpy twin (pinched hysteresis); the microring weight bank's photodetector
powers against the exact product W x; and, when present, the crossbar's native
nodal-analysis twin against ngspice.  (Training on the simulated accelerator will
replace this demo when the orchestrator exists.)
"""

from __future__ import annotations

import math
import time

import numpy as np


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the end-to-end demo on built-in defaults",
                              description=__doc__)
    p.set_defaults(func=cmd_demo)


def run_demo() -> list[tuple[str, float, float, float]]:
    """Rows of (check, simulated, expected, relative error)."""
    from cosim.cli.build_rc import build_rc_lowpass
    from cosim.netlist import Circuit, Op, Resistor, VoltageSource
    from cosim.spice import run

    rows = []
    r, c = 1e3, 1e-6
    tau = r * c
    tr = run(build_rc_lowpass(r, c, "tran"))
    t, v = tr.axis, tr.v("out")
    k = int(np.argmin(np.abs(t - tau)))
    rows.append(("RC step v(out) at t = RC [V]", float(v[k]), 1 - math.exp(-t[k] / tau),
                 abs(v[k] - (1 - math.exp(-t[k] / tau))) / (1 - math.exp(-1))))
    ac = run(build_rc_lowpass(r, c, "ac"))
    f, mag = ac.axis.real, np.abs(ac.v("out"))
    f3 = float(np.exp(np.interp(np.log(1 / math.sqrt(2)), np.log(mag[::-1]),
                                np.log(f[::-1]))))
    f3_exact = 1 / (2 * math.pi * tau)
    rows.append(("RC -3 dB frequency [Hz]", f3, f3_exact, abs(f3 - f3_exact) / f3_exact))
    div = Circuit("divider").add(VoltageSource("V1", "in", "0", 1.0),
                                 Resistor("R1", "in", "mid", 3e3),
                                 Resistor("R2", "mid", "0", 1e3))
    op = run(div, Op())
    rows.append(("divider v(mid) [V]", float(op.v("mid")), 0.25,
                 abs(float(op.v("mid")) - 0.25) / 0.25))
    rows += _memristor_rows()
    rows += _optics_rows()
    return rows


def _memristor_rows() -> list[tuple[str, float, float, float]]:
    """ngspice subcircuit vs numpy twin, sinusoidal drive, every registered model."""
    from cosim.devices.memristor import MEMRISTOR_MODELS, bench_circuit, simulate
    from cosim.spice import run_many

    names = sorted(MEMRISTOR_MODELS)
    benches = [bench_circuit(name, cycles=1, points_per_period=400) for name in names]
    results = run_many([(b, None) for b in benches])
    rows = []
    for name, res in zip(names, results):
        t = res.axis
        i_spice = -res.i("V1")
        v = res.v("in")
        i_twin, _ = simulate(name, t, v)
        peak = float(np.max(np.abs(i_spice)))
        rms = float(np.sqrt(np.mean((i_twin - i_spice) ** 2)))
        rows.append((f"memristor {name}: peak current [A]", peak,
                     float(np.max(np.abs(i_twin))), rms / peak))
    return rows


def _optics_rows() -> list[tuple[str, float, float, float]]:
    """16 x 8 microring weight bank without crosstalk: W x recovered from PD powers."""
    from cosim.optics import link_budget, make_weight_bank, pd_power, pd_power_to_matvec
    from cosim.optics import program_bank

    rng = np.random.default_rng(7)
    bank = make_weight_bank(16, 8, crosstalk=False)
    w = rng.uniform(-1, 1, size=(8, 16))
    x = rng.uniform(0, 1, size=(32, 16))
    budget = link_budget(bank)
    p = pd_power(x, bank, program_bank(w, bank), budget)
    y = pd_power_to_matvec(p, budget)
    ref = x @ w.T
    err = float(np.max(np.abs(y - ref)) / np.max(np.abs(ref)))
    return [("MRR bank 16x8: max |W x| (from PD powers)", float(np.max(np.abs(y))),
             float(np.max(np.abs(ref))), err)]


def cmd_demo(args) -> int:
    t0 = time.perf_counter()
    rows = run_demo()
    print("bplight-cosim demo: ngspice runs checked against closed-form physics")
    print(f"  {'check':<34} {'simulated':>14} {'expected':>14} {'rel. error':>11}")
    for name, sim, exp, err in rows:
        print(f"  {name:<34} {sim:>14.6g} {exp:>14.6g} {err:>11.2e}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
