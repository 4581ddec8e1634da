"""The channel spacing a weight bank needs for a target calibration residual.

Denser channels fit more wavelengths in one free spectral range but couple the rings
more strongly (inter-channel crosstalk: every ring acts on every channel; thermal
crosstalk between neighbouring heaters), and a calibrated bank
(:func:`cosim.optics.weight_bank.calibrate_bank`) then leaves a larger residual
``max |applied - target|`` within a given iteration budget, or cannot reach the target
weights at all.  :func:`spacing_scan` calibrates the same random weights on a grid of
spacings and reports the smallest spacing from which on (towards larger spacings) every
grid point reaches the target residual.

The weights are uniform in ``[-weight_range, weight_range]`` (default 0.5: the forward
weights of a layer stay within ``1 / weight_headroom`` of the full scale when the
design's headroom is 2); the spacings run up to just below ``FSR / N`` (the largest at
which ``N`` channels fit in one free spectral range of the ring).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigError


@dataclass(frozen=True)
class SpacingScan:
    """Result of :func:`spacing_scan`.

    Attributes
    ----------
    spacings_m : ``(S,)`` channel spacings scanned, m (increasing)
    residual_before, residual_after : ``(S,)`` max |applied - target| weight of the
        single-ring map and after calibration (inf where the spacing is so dense that
        a ring's detuning range, half a spacing, cannot give both signs of weight)
    iterations : ``(S,)`` calibration iterations used
    target : the residual asked for
    required_m : the smallest scanned spacing from which on every larger one reaches
        ``target``, or None if even the largest does not
    """

    spacings_m: np.ndarray
    residual_before: np.ndarray
    residual_after: np.ndarray
    iterations: np.ndarray
    target: float
    required_m: float | None


def spacing_scan(n_channels: int, n_outputs: int, *, target: float,
                 rng: np.random.Generator, max_iter: int = 50,
                 weight_range: float = 0.5, thermal_neighbour_fraction: float = 0.0,
                 points: int = 12, lowest_fraction: float = 0.25, **bank_kw) -> SpacingScan:
    """Calibrate random weights of an ``n_outputs x n_channels`` bank with crosstalk on
    ``points`` spacings from ``lowest_fraction`` x to 0.999 x ``FSR / n_channels``
    (geometric grid) and find the spacing the ``target`` residual needs (module
    docstring).  ``bank_kw``: further :func:`cosim.optics.weight_bank.make_weight_bank`
    arguments (ring radius, couplings, ...)."""
    from cosim.optics.mrr import free_spectral_range
    from cosim.optics.weight_bank import calibrate_bank, make_weight_bank

    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise ConfigError(f"target residual {target!r}: give a weight error in (0, 1), "
                          "e.g. 1e-3")
    if not 0 < weight_range <= 1:
        raise ConfigError(f"weight_range={weight_range!r}: give a value in (0, 1]")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError("spacing_scan needs rng=numpy.random.default_rng(seed)")
    geo = {k: bank_kw[k] for k in ("radius_m", "ng", "center_wavelength_m") if k in bank_kw}
    fsr = float(free_spectral_range(geo.get("center_wavelength_m", 1.55e-6),
                                    **{k: v for k, v in geo.items()
                                       if k != "center_wavelength_m"}))
    top = 0.999 * fsr / max(int(n_channels), 1)
    spacings = np.geomspace(lowest_fraction * top, top, int(points))
    weights = rng.uniform(-weight_range, weight_range, (int(n_outputs), int(n_channels)))
    before, after, its = [], [], []
    for s in spacings:
        try:
            bank = make_weight_bank(n_channels, n_outputs, channel_spacing_m=float(s),
                                    crosstalk=True,
                                    thermal_neighbour_fraction=thermal_neighbour_fraction,
                                    **bank_kw)
        except ConfigError:     # too dense: half a spacing of detuning spans no sign change
            before.append(np.inf)
            after.append(np.inf)
            its.append(0)
            continue
        res = calibrate_bank(weights, bank, tol=target, max_iter=max_iter)
        before.append(res.max_error_before)
        after.append(res.max_error_after)
        its.append(res.iterations)
    after_a = np.array(after)
    ok = after_a <= target
    required = None
    if ok[-1]:
        first_bad = np.flatnonzero(~ok)
        i = 0 if first_bad.size == 0 else int(first_bad[-1]) + 1
        required = float(spacings[i])
    return SpacingScan(spacings, np.array(before), after_a, np.array(its), float(target),
                       required)


def design_spacing_scan(design, *, target: float, seed: int = 0,
                        max_iter: int | None = None, points: int = 12) -> SpacingScan:
    """:func:`spacing_scan` for a :class:`cosim.design.Design`: its tile size, the ring
    and thermal coupling of its optics card, weights within ``1 / weight_headroom`` of
    full scale, and its in-loop iteration budget (``calibration_max_iter``) unless
    ``max_iter`` is given."""
    optics = design.role_card("optics")
    budget = int(design["calibration_max_iter"]) if max_iter is None else int(max_iter)
    return spacing_scan(
        int(design["tile_rows"]), int(design["tile_cols"]), target=target,
        rng=np.random.default_rng(seed), max_iter=budget,
        weight_range=1.0 / float(design["weight_headroom"]),
        thermal_neighbour_fraction=float(optics["thermal_neighbour_fraction"]),
        points=points, radius_m=float(optics["radius_m"]), r1=float(optics["self_coupling"]),
        r2=float(optics["self_coupling"]), loss_db_per_m=float(optics["loss_db_per_m"]),
        neff=float(optics["neff"]), ng=float(optics["ng"]),
        detuning_fraction_of_spacing=float(optics["detuning_fraction_of_spacing"]))


__all__ = ["SpacingScan", "design_spacing_scan", "spacing_scan"]
