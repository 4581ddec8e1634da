"""One-at-a-time sensitivity of the energy ratio and the speed-up to the design's values.

Each entry of :data:`SENSITIVITY` names a design value (a design key or ``role.param``,
or several set together), the range it is varied over and why that range.  The design
is re-priced at the low and the high end (everything else as given, the baseline
unchanged unless the entry says ``both``) and the swing of each ratio is reported;
:func:`sensitivity` ranks the entries by the swing of the training energy ratio.
A new entry is one line in :data:`SENSITIVITY`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One varied value: ``keys`` set to ``low`` / ``high`` (a callable takes the base
    report and returns the value), on the ``design`` only or on ``both`` sides."""

    label: str
    keys: tuple[str, ...]
    low: Any
    high: Any
    why: str
    sides: str = "design"


def _adc_frontier(report) -> float:
    return float(report["design.component.adc_frontier_energy"].value)


SENSITIVITY: tuple[Entry, ...] = (
    Entry("ADC energy model", ("converters.adc_energy_per_conversion_j",),
          lambda r: _adc_frontier(r), lambda r: 10 * _adc_frontier(r),
          "from the Murmann survey frontier to 10x above it (most published converters "
          "lie within a decade of the frontier); both designs", "both"),
    Entry("ADC bits", ("converters.adc_bits",), 10, 16,
          "10 to 16 bits: the resolutions at which training was compared with float"),
    Entry("readout averaging", ("readout_averaging",), 1, 64,
          "1 (no averaging) to 64 reads per output"),
    Entry("symbol rate (ADC read rate)", ("converters.adc_sample_rate_hz",), 10e6, 1e9,
          "10 MS/s to 1 GS/s reads (the settling of the tia_bplight readout is flagged "
          "above its limit)"),
    Entry("laser power per channel", ("laser_power_per_channel_w",), 1e-3, 10e-3,
          "1 mW to the laser card's 10 mW per channel"),
    Entry("laser wall-plug efficiency", ("laser.wall_plug_efficiency",), 0.05, 0.3,
          "5 % to 30 % (comb sources; the card's 10 % is Al-Qadasi's figure)"),
    Entry("tile size", ("tile_rows", "tile_cols"), 16, 64,
          "16x16 to 64x64 tiles (64 channels fill one ring FSR at the optics card's "
          "spacing; more are refused by the optical model); both designs", "both"),
    Entry("update policy: gradient on", ("gradient_on",), "digital", "tile",
          "the weight gradient on a digital MAC unit or on the tiles"),
    Entry("update policy: pulses per update", ("write_pulses_per_update",), 0.1, 16.0,
          "0.1 to 16 programming pulses per device per step; both designs", "both"),
)
"""The entries :func:`sensitivity` varies (at least the issue's list)."""


@dataclass(frozen=True)
class Swing:
    """Ratios at the low and the high end of one entry."""

    label: str
    keys: tuple[str, ...]
    low: Any
    high: Any
    energy_saving: tuple[float, float]
    speedup: tuple[float, float]
    why: str

    @property
    def energy_swing(self) -> float:
        """``|log10(high / low)|`` of the training energy ratio (decades)."""
        a, b = self.energy_saving
        return abs(math.log10(b / a)) if a > 0 and b > 0 else math.inf

    @property
    def speed_swing(self) -> float:
        a, b = self.speedup
        return abs(math.log10(b / a)) if a > 0 and b > 0 else math.inf


def sensitivity(evaluate_with: Callable[[dict, dict], Any], base_report,
                entries: tuple[Entry, ...] = SENSITIVITY) -> list[Swing]:
    """Swings ranked by the training energy ratio's (largest first).

    ``evaluate_with(design_overrides, baseline_overrides)`` returns an
    :class:`cosim.energy.EnergyReport`; ``base_report`` is the unvaried one."""
    out = []
    for e in entries:
        ratios = []
        values = []
        for end in (e.low, e.high):
            v = end(base_report) if callable(end) else end
            values.append(v)
            over = dict.fromkeys(e.keys, v)
            r = evaluate_with(over, over if e.sides == "both" else {})
            ratios.append((r["ratio.training.energy_saving"].value,
                           r["ratio.training.speedup"].value))
        out.append(Swing(e.label, e.keys, values[0], values[1],
                         (ratios[0][0], ratios[1][0]), (ratios[0][1], ratios[1][1]), e.why))
    return sorted(out, key=lambda s: -s.energy_swing)


def swing_table(swings: list[Swing], base_report) -> str:
    """The ranked swings as text."""
    e0 = base_report["ratio.training.energy_saving"].value
    s0 = base_report["ratio.training.speedup"].value
    lines = [f"sensitivity (one at a time; base: energy ratio {e0:.4g}x, speed-up {s0:.4g}x)",
             f"{'value':34s} {'low':>10s} {'high':>10s} {'energy ratio low..high':>24s} "
             f"{'speed-up low..high':>22s}"]
    for s in swings:
        lines.append(f"{s.label:34s} {_fmt(s.low):>10s} {_fmt(s.high):>10s} "
                     f"{s.energy_saving[0]:>11.4g}..{s.energy_saving[1]:<11.4g} "
                     f"{s.speedup[0]:>10.4g}..{s.speedup[1]:<10.4g}")
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
