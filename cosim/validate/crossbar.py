"""Crossbar checks: the native nodal-analysis twin vs ngspice on the same read netlist
across sizes and wire resistances, with the IR-drop map of the largest array."""

from __future__ import annotations

import numpy as np

from cosim.validate.core import CheckContext, CheckResult, register

#: Native vs ngspice read currents, relative: acceptance tolerance of the crossbar/native
#: issue (tests/hw/test_crossbar.py::test_read_native_matches_ngspice, rtol=1e-6).
NATIVE_VS_SPICE_REL = 1e-6
#: Array sizes (square) and wire resistances per cell (ohm) of the default validation;
#: ``None`` stands for the card's cross-point wire resistance.
SIZES = (4, 8, 16)
WIRES_OHM = (0.0, None, 10.0)


@register("crossbar_native_vs_ngspice", "crossbar",
          "passive crossbar reads: native twin vs ngspice across sizes and wire "
          "resistances; IR-drop map")
def _crossbar(ctx: CheckContext) -> CheckResult:
    from cosim.hw.crossbar import build_crossbar_read, ideal_read, read_currents
    from cosim.native import run_native
    from cosim.spice import make_job

    card = ctx.card("crossbar").values
    wires = [card["wire_resistance_crosspoint_ohm"] if w is None else w for w in WIRES_OHM]
    rng = ctx.rng
    cases, circuits = [], []
    for n in SIZES:
        g = rng.uniform(card["g_min_s"], card["g_max_s"], (n, n))
        v = rng.uniform(0.0, card["read_voltage_v"], n)
        for w in wires:
            cases.append((n, w, g, v))
            circuits.append(build_crossbar_read(g, v, w, card["driver_resistance_ohm"],
                                                card["sense_resistance_ohm"]))
    refs = ctx.engine.run_many([make_job(c) for c in circuits])
    errors, ideal_dev, labels = [], [], []
    for (n, w, g, v), circ, ref in zip(cases, circuits, refs):
        i_ref = read_currents(ref, n, n)
        i_nat = read_currents(run_native(circ), n, n)
        errors.append(float(np.max(np.abs(i_nat - i_ref) / np.abs(i_ref))))
        i_id = ideal_read(g, v)
        ideal_dev.append(float(np.max(np.abs(i_ref - i_id)) / np.max(np.abs(i_id))))
        labels.append(f"{n}x{n} wire {w:g} ohm")
    # IR-drop map of the largest array at the card's wire resistance
    k = len(wires) * (len(SIZES) - 1) + 1
    n, w, g, v = cases[k]
    ref = refs[k]
    wired = w > 0
    cell_v = np.empty((n, n))
    for r in range(n):
        for c in range(n):
            a = f"wr{r}_{c}" if wired else f"row{r}"
            b = f"wc{c}_{r}" if wired else f"col{c}"
            cell_v[r, c] = float(ref.v(a)) - float(ref.v(b))
    worst = float(max(errors))
    return CheckResult(
        "crossbar_native_vs_ngspice", "crossbar", worst <= NATIVE_VS_SPICE_REL, worst,
        NATIVE_VS_SPICE_REL,
        "crossbar/native-solver issue acceptance: native read currents equal ngspice's to "
        "1e-6 relative (tests/hw/test_crossbar.py)",
        {"metric": "max over cases and columns of |I_native - I_ngspice| / |I_ngspice|",
         "card": ctx.card_origin("crossbar"), "cases": labels,
         "relative_error_per_case": errors,
         "ideal_read_deviation_per_case": ideal_dev,
         "driver_resistance_ohm": card["driver_resistance_ohm"],
         "sense_resistance_ohm": card["sense_resistance_ohm"],
         "ir_map_case": labels[k]},
        {"cell_voltage_v": cell_v, "ir_drop_v": v[:, None] - cell_v,
         "cell_current_a": g * cell_v, "input_v": v,
         "relative_error_per_case": np.array(errors),
         "ideal_read_deviation_per_case": np.array(ideal_dev)})
