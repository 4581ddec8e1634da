"""Point tasks of sweeps: name -> ``function(params, seed) -> dict of results``.

Every task is a pure function of its parameters (a flat dict of dotted keys) and a seed:
the same point gives bit-identical results in any process, on the local pool or on a
Dask worker.  Results are scalars (stored as float64) or fixed-shape arrays.

========================  ==============================================================
task                      what one point computes
========================  ==============================================================
``crossbar_ir_drop``      a random read of a passive memristor crossbar with wire
                          resistance (``cosim.hw``): error of the native nodal solution
                          against the ideal ``G^T v`` (the IR-drop error) and of the
                          native twin against ngspice on the same netlist
``memristor_variability`` programming statistics of a device population
                          (``cosim.devices.programming``): conductance error after pulse
                          writes with cycle-to-cycle, device-to-device and read noise
``train``                 a short training run through ``cosim.orchestrator.train``;
                          final accuracies and hardware counters
========================  ==============================================================
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cosim.errors import ConfigError


@dataclass(frozen=True)
class Task:
    """A registered point task.

    Attributes
    ----------
    name : str
    func : callable
        ``func(params: dict, seed: int) -> dict[str, float | ndarray]``.
    validate : callable
        ``validate(params)`` raises :class:`ConfigError` for unknown or bad parameters
        (called for every point before a sweep starts).
    help : str
        One line.
    results : dict
        Result name -> unit as shown on plot axes (``"fraction"``, ``"S"``, ``"count"``),
        the key result first: :func:`cosim.report.sweep.plot_sweep` draws them in this
        order and labels each axis with its unit.  Results not listed come after them.
    param_units : dict
        Parameter name -> unit of the parameters whose name does not say it (see
        :func:`cosim.report.sweep.axis_label` for the name suffixes it reads).
    """

    name: str
    func: Callable[[dict, int], dict]
    validate: Callable[[dict], None]
    help: str
    results: dict[str, str] = field(default_factory=dict)
    param_units: dict[str, str] = field(default_factory=dict)


def _fixed_params(task: str, defaults: dict[str, Any]) -> Callable[[dict], dict]:
    """A validator/merger for tasks with a closed parameter set (``defaults``)."""

    def merged(params: dict) -> dict:
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ConfigError(f"task {task!r} has no parameter {unknown[0]!r}; valid: "
                              f"{', '.join(sorted(defaults))}")
        out = dict(defaults)
        out.update(params)
        return out

    return merged


def _num(p: dict, name: str, lo: float, hi: float = math.inf, *, integer: bool = False,
         lo_open: bool = False) -> float:
    v = p[name]
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
    if ok and integer:
        ok = float(v).is_integer()
    if ok:
        ok = (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{name}={v!r}: give {kind} in {'(' if lo_open else '['}{lo}, "
                          f"{hi}]")
    return int(v) if integer else float(v)


# ------------------------------------------------------------------ crossbar_ir_drop
CROSSBAR_DEFAULTS: dict[str, Any] = {
    "rows": 16,
    "cols": 16,
    "wire_resistance_ohm": 1.0,
    "g_min_s": 4.76e-7,
    "g_max_s": 1e-5,
    "v_read_v": 0.2,
    "spice": True,
    "spice_timeout_s": 120.0,
    "array_seed": -1,
}
_crossbar_params = _fixed_params("crossbar_ir_drop", CROSSBAR_DEFAULTS)
_ENGINE = None


def _spice_engine():
    """One single-worker ngspice engine per process (a sweep already runs points in
    parallel; more ngspice workers per point would oversubscribe the cores)."""
    global _ENGINE
    if _ENGINE is None:
        from cosim.spice import SpiceEngine

        _ENGINE = SpiceEngine(workers=1)
    return _ENGINE


def _validate_crossbar(params: dict) -> dict:
    p = _crossbar_params(params)
    _num(p, "rows", 1, 4096, integer=True)
    _num(p, "cols", 1, 4096, integer=True)
    _num(p, "wire_resistance_ohm", 0.0)
    _num(p, "g_min_s", 0.0, lo_open=True)
    _num(p, "g_max_s", p["g_min_s"], lo_open=True)
    _num(p, "v_read_v", 0.0, lo_open=True)
    _num(p, "spice_timeout_s", 0.0, lo_open=True)
    _num(p, "array_seed", -1, 2 ** 63 - 1, integer=True)
    if not isinstance(p["spice"], bool):
        raise ConfigError(f"spice={p['spice']!r}: give true or false")
    return p


def crossbar_ir_drop(params: dict, seed: int) -> dict[str, Any]:
    """IR-drop error of a crossbar read and the twin-vs-ngspice error.

    The array (``rows x cols``, passive cells, linear I-V) gets conductances drawn
    uniformly in [g_min_s, g_max_s] (S) and row voltages uniformly in [0, v_read_v] (V)
    from ``numpy.random.default_rng(seed)`` (or ``default_rng(array_seed)`` when
    ``array_seed >= 0``: the same array at every point, e.g. along a wire-resistance
    axis).  The column currents are solved three ways:
    ideal ``I = G^T v`` (:func:`cosim.hw.ideal_read`), native nodal analysis of the read
    netlist with ``wire_resistance_ohm`` per cell pitch (:func:`cosim.hw.crossbar_solver`)
    and, with ``spice = true``, ngspice on the same netlist
    (:func:`cosim.hw.build_crossbar_read`; killed after ``spice_timeout_s``).

    Returns
    -------
    dict
        ``ir_drop_max_rel_error``: max |I_native - I_ideal| / max |I_ideal|;
        ``ir_drop_rms_rel_error``: rms(I_native - I_ideal) / rms(I_ideal);
        ``current_ratio_mean``: mean of I_native / I_ideal over the columns;
        ``twin_vs_spice_max_rel_error``: max |I_native - I_spice| / max |I_spice|
        (NaN without spice); ``ideal_current_max_a``.
    """
    from cosim.hw import build_crossbar_read, crossbar_solver, ideal_read, read_currents

    p = _validate_crossbar(params)
    rows, cols = int(p["rows"]), int(p["cols"])
    rng = np.random.default_rng(seed if int(p["array_seed"]) < 0 else int(p["array_seed"]))
    g = rng.uniform(p["g_min_s"], p["g_max_s"], size=(rows, cols))
    v = rng.uniform(0.0, p["v_read_v"], size=rows)
    wire = float(p["wire_resistance_ohm"])
    ideal = ideal_read(g, v)
    native = crossbar_solver(g, wire).solve(v[None, :])[0]
    out = {
        "ir_drop_max_rel_error": float(np.max(np.abs(native - ideal)) / np.max(np.abs(ideal))),
        "ir_drop_rms_rel_error": float(np.sqrt(np.mean((native - ideal) ** 2))
                                       / np.sqrt(np.mean(ideal ** 2))),
        "current_ratio_mean": float(np.mean(native / ideal)),
        "ideal_current_max_a": float(np.max(np.abs(ideal))),
        "twin_vs_spice_max_rel_error": math.nan,
    }
    if p["spice"]:
        res = _spice_engine().run(build_crossbar_read(g, v, wire),
                                  timeout_s=float(p["spice_timeout_s"]))
        spice = read_currents(res, rows, cols)
        out["twin_vs_spice_max_rel_error"] = float(np.max(np.abs(native - spice))
                                                   / np.max(np.abs(spice)))
    return out


# ------------------------------------------------------------- memristor_variability
VARIABILITY_DEFAULTS: dict[str, Any] = {
    "card": "rram_array",
    "devices": 2000,
    "pulses": 16,
    "c2c_sigma_frac": -1.0,
    "d2d_sigma_frac": -1.0,
    "read_noise_sigma_frac": -1.0,
}


def _validate_variability(params: dict) -> dict:
    p = _fixed_params("memristor_variability", VARIABILITY_DEFAULTS)(params)
    if not isinstance(p["card"], str):
        raise ConfigError(f"card={p['card']!r}: give a device card name or path")
    _num(p, "devices", 1, 10_000_000, integer=True)
    _num(p, "pulses", 0, 10_000_000, integer=True)
    for k in ("c2c_sigma_frac", "d2d_sigma_frac", "read_noise_sigma_frac"):
        if p[k] != -1.0:
            _num(p, k, 0.0, 1.0)
    return p


def memristor_variability(params: dict, seed: int) -> dict[str, Any]:
    """Conductance spread of a device population after a pulse write from G_min.

    ``devices`` devices of the card's population (:func:`cosim.devices.programming.
    params_from_card`; a sigma of -1 keeps the card's value) get device-to-device
    parameters (:func:`sample_d2d`), start at their G_min, receive ``pulses`` LTP
    pulses in one write (:func:`apply_pulses`, cycle-to-cycle noise) and are read once
    (:func:`read_conductance`).  The reference is the noiseless nominal device after the
    same pulses.  Without d2d spread, read noise and clipping, the error is Gaussian with
    sigma = c2c_sigma_frac * sqrt(pulses) (NeuroSim RealDevice's write noise).

    Returns
    -------
    dict
        ``g_mean_s``, ``g_std_s`` (S) of the read conductances; ``g_nominal_s``;
        ``error_rms_frac``: rms(G - G_nominal) / (G_max - G_min);
        ``error_mean_frac``; ``at_limit_fraction``: fraction at a device's G_min/G_max.
    """
    from cosim.devices.programming import (
        apply_pulses,
        params_from_card,
        read_conductance,
        sample_d2d,
    )

    p = _validate_variability(params)
    over = {k: float(p[k]) for k in ("c2c_sigma_frac", "d2d_sigma_frac",
                                      "read_noise_sigma_frac") if p[k] != -1.0}
    pp = params_from_card(p["card"], **over)
    n, pulses = int(p["devices"]), int(p["pulses"])
    d2d_rng, write_rng, read_rng = (np.random.default_rng(s)
                                    for s in np.random.SeedSequence(seed).spawn(3))
    spread = sample_d2d((n,), pp, d2d_rng)
    g0 = spread.g_min_s.copy()
    g = apply_pulses(g0, np.full(n, pulses), pp, rng=write_rng, **spread.kwargs())
    at_limit = np.mean((g <= spread.g_min_s) | (g >= spread.g_max_s))
    g_read = read_conductance(g, pp.read_noise_sigma_frac, read_rng)
    nominal = float(apply_pulses(np.array([pp.g_min_s]), np.array([pulses]),
                                 _noiseless(pp))[0])
    err = (g_read - nominal) / pp.g_range_s
    return {"g_mean_s": float(np.mean(g_read)), "g_std_s": float(np.std(g_read)),
            "g_nominal_s": nominal, "error_rms_frac": float(np.sqrt(np.mean(err ** 2))),
            "error_mean_frac": float(np.mean(err)), "at_limit_fraction": float(at_limit)}


def _noiseless(pp):
    from dataclasses import replace

    return replace(pp, c2c_sigma_frac=0.0, d2d_sigma_frac=0.0, read_noise_sigma_frac=0.0)


# ------------------------------------------------------------------------------ train
def _train_config_dict(params: dict) -> dict:
    """The nested config dict of a point's dotted keys (``design.tile_rows`` ->
    ``{"design": {"tile_rows": ...}}``; the design table takes any dotted value)."""
    cfg: dict = {}
    for k, v in params.items():
        if k.startswith("device."):
            raise ConfigError(f"train parameter {k!r}: design values are swept by their "
                              f"dotted name now: design.{k[len('device.'):]} (`cosim design "
                              f"show` lists them)")
        node = cfg
        parts = k.split(".")
        if parts[0] == "design" and len(parts) > 2:   # design.<role>.<param>: one key
            parts = ["design", ".".join(parts[1:])]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"train parameter {k!r}: {part!r} is a value, not a "
                                  f"section")
        node[parts[-1]] = v
    return cfg


def _validate_train(params: dict) -> None:
    from cosim.config import RunConfig

    config = RunConfig.from_dict(_train_config_dict(params), source="sweep point")
    config.design.resolve()          # unknown design values are refused before any run


def train_point(params: dict, seed: int) -> dict[str, Any]:
    """A training run (:func:`cosim.orchestrator.train`) with the point's config.

    Parameters are dotted keys of :class:`cosim.config.RunConfig`: any design value
    (``"design.weight_c2c_sigma_frac"``, ``"design.crossbar.wire_resistance_crosspoint_ohm"``:
    an override of the run's design, no card file is written), ``"training.epochs"``,
    ...  ``seed`` becomes the run's master seed unless the point sets ``seed``.  The run
    file goes to a temporary folder and is removed.

    Returns
    -------
    dict
        ``final_test_acc``, ``final_train_acc``, ``final_train_loss``, ``steps``, and the
        hardware counters (``saturated_tia``, ``clipped_adc``, ...) summed over the run.
    """
    from cosim.config import RunConfig
    from cosim.orchestrator import train

    cfg = _train_config_dict(params)
    cfg.setdefault("seed", int(seed))
    with tempfile.TemporaryDirectory(prefix="cosim-sweep-") as tmp:
        config = RunConfig.from_dict(cfg, source="sweep point")
        result = train(config, Path(tmp) / "run.h5", quiet=True)
    em = result.epoch_metrics
    out = {"final_test_acc": float(result.final_test_acc)
           if result.final_test_acc is not None else math.nan,
           "final_train_acc": float(em["train_acc"][-1]) if len(em.get("train_acc", [])) else
           math.nan,
           "final_train_loss": float(em["train_loss"][-1]) if len(em.get("train_loss", []))
           else math.nan,
           "steps": float(result.steps)}
    for k, v in sorted(result.hardware_totals.items()):
        out[k] = float(v)
    return out


# ---------------------------------------------------------------------------- registry
TASKS: dict[str, Task] = {
    "crossbar_ir_drop": Task(
        "crossbar_ir_drop", crossbar_ir_drop, _validate_crossbar,
        "IR-drop error of a crossbar read (native vs ideal) and twin-vs-ngspice error",
        results={"ir_drop_max_rel_error": "fraction of max |I_ideal|",
                 "ir_drop_rms_rel_error": "fraction of rms I_ideal",
                 "twin_vs_spice_max_rel_error": "fraction of max |I_spice|",
                 "current_ratio_mean": "I_native / I_ideal",
                 "ideal_current_max_a": "A"},
        param_units={"rows": "count", "cols": "count", "g_min_s": "S", "g_max_s": "S",
                     "spice_timeout_s": "s", "array_seed": "seed"}),
    "memristor_variability": Task(
        "memristor_variability", memristor_variability, _validate_variability,
        "conductance spread of a device population after a pulse write",
        results={"error_rms_frac": "fraction of G range", "error_mean_frac":
                 "fraction of G range", "g_std_s": "S", "g_mean_s": "S",
                 "g_nominal_s": "S", "at_limit_fraction": "fraction of devices"},
        param_units={"devices": "count", "pulses": "count"}),
    "train": Task(
        "train", train_point, _validate_train,
        "a training run through the orchestrator: final accuracies",
        results={"final_test_acc": "fraction", "final_train_acc": "fraction",
                 "final_train_loss": "nat (cross-entropy)",
                 "below_noise_floor": "ADC samples", "saturated_tia": "ADC samples",
                 "clipped_adc": "ADC samples", "saturated_weights": "weight entries",
                 "samples": "ADC samples", "products": "products", "steps": "steps"}),
}


def task_param_names(task: str) -> tuple[str, ...] | None:
    """The closed parameter set of a task, or None for open ones (``train``)."""
    return {"crossbar_ir_drop": tuple(CROSSBAR_DEFAULTS),
            "memristor_variability": tuple(VARIABILITY_DEFAULTS)}.get(task)


__all__ = ["TASKS", "Task", "crossbar_ir_drop", "memristor_variability", "train_point",
           "task_param_names", "CROSSBAR_DEFAULTS", "VARIABILITY_DEFAULTS"]
