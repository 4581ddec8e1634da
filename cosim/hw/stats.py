"""Counters of the hardware path: how often a signal left its valid range, per layer and phase.

Nothing is clipped silently: every product of :class:`cosim.hw.backend.HardwareBackend`
adds here how many output samples it produced and how many of them

* ``saturated_tia``: had a net photocurrent (or crossbar current) whose ideal TIA output
  lies beyond the amplifier's output swing (the TIA is out of its linear range);
* ``clipped_adc``: fell outside the ADC input range (code 0 or ``2**bits - 1`` forced);
* ``below_noise_floor``: had a signal smaller than one rms of the readout noise at that
  operating point (the ADC code is then mostly noise);
* ``saturated_weights``: weight entries (or gradient-pattern entries) that exceeded the
  layer's weight full scale and were held at the device limit;
* ``pulses``: programming pulses applied to the weight memristors by the optimizer's
  updates (phase ``"update"``, both devices of each pair; what the energy model prices
  as writes, :mod:`cosim.energy`).

``products`` counts the products (calls), ``samples`` the ADC conversions (one per tile
output, pass and row: partial sums of tiles are digitised separately); the three signal
counters count conversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PHASES: tuple[str, ...] = ("forward", "backward", "gradient")
COUNTERS: tuple[str, ...] = ("products", "samples", "saturated_tia", "clipped_adc",
                             "below_noise_floor", "saturated_weights", "pulses")


@dataclass
class HardwareStats:
    """Counters per ``(layer, phase)``; see the module docstring for their meaning."""

    counts: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def add(self, layer: str, phase: str, **increments: int) -> None:
        """Add ``increments`` (names from :data:`COUNTERS`) to the counters of
        ``(layer, phase)``."""
        row = self.counts.setdefault((layer, phase), dict.fromkeys(COUNTERS, 0))
        for name, value in increments.items():
            if name not in row:
                raise KeyError(f"unknown hardware counter {name!r}; known: {COUNTERS}")
            row[name] += int(value)

    def as_table(self) -> list[dict]:
        """Rows ``{layer, phase, products, samples, saturated_tia, clipped_adc,
        below_noise_floor, saturated_weights}``, in first-seen order."""
        return [{"layer": layer, "phase": phase, **row}
                for (layer, phase), row in self.counts.items()]

    def totals(self) -> dict[str, int]:
        """Every counter summed over layers and phases."""
        out = dict.fromkeys(COUNTERS, 0)
        for row in self.counts.values():
            for k, v in row.items():
                out[k] += v
        return out

    def reset(self) -> None:
        """Zero all counters."""
        self.counts.clear()

    def state(self) -> list[list]:
        """JSON-able form (for checkpoints)."""
        return [[layer, phase, row] for (layer, phase), row in self.counts.items()]

    def load_state(self, state: list[list]) -> None:
        """Restore what :meth:`state` returned."""
        self.counts = {(str(layer), str(phase)): {k: int(v) for k, v in row.items()}
                       for layer, phase, row in state}
