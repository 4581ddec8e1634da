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

Per load of a weight state (a retune of the tile's rings; :attr:`cosim.hw.protocols.
Loaded.retune`, :data:`LOAD_COLUMNS`):

* ``retunes``: weight states (or gradient patterns) programmed into the tiles;
* ``calibration_iterations``: iterations of the in-loop bank calibration
  (:func:`cosim.optics.calibrate_bank`) summed over the retunes;
* ``calibration_residual`` (max over the retunes): the largest ``|applied weight -
  target|`` of any ring of the loaded states (crosstalk left after calibration);
* ``heater_power_w`` and ``link_power_w`` (sums over the retunes, W; divide by
  ``retunes`` for the mean power of a loaded state): the ring heaters' power of every
  ring of the loaded tiles, and the electrical power of the memristor-to-ring link
  drivers (cosim.devices.link_driver; 0 with the ideal link).

``products`` counts the products (calls), ``samples`` the ADC conversions (one per tile
output, pass and row: partial sums of tiles are digitised separately); the three signal
counters count conversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PHASES: tuple[str, ...] = ("forward", "backward", "gradient")
COUNTERS: tuple[str, ...] = ("products", "samples", "saturated_tia", "clipped_adc",
                             "below_noise_floor", "saturated_weights", "pulses",
                             "retunes", "calibration_iterations")
#: Float columns recorded per load, with how they combine over a checkpoint interval.
LOAD_COLUMNS: dict[str, str] = {"calibration_residual": "max", "heater_power_w": "sum",
                                "link_power_w": "sum"}


@dataclass
class HardwareStats:
    """Counters per ``(layer, phase)``; see the module docstring for their meaning."""

    counts: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def add(self, layer: str, phase: str, **increments: int) -> None:
        """Add ``increments`` (names from :data:`COUNTERS`) to the counters of
        ``(layer, phase)``."""
        row = self._row(layer, phase)
        for name, value in increments.items():
            if name not in row:
                raise KeyError(f"unknown hardware counter {name!r}; known: {COUNTERS}")
            row[name] += int(value)

    def add_load(self, layer: str, phase: str, report: dict) -> None:
        """Record one load's :attr:`cosim.hw.protocols.Loaded.retune` report: integer
        counters (``retunes``, ``calibration_iterations``) are added, the float columns
        of :data:`LOAD_COLUMNS` combined as stated there."""
        row = self._row(layer, phase)
        for name, value in report.items():
            how = LOAD_COLUMNS.get(name)
            if how is None:
                self.add(layer, phase, **{name: value})
            elif how == "max":
                row[name] = max(row[name], float(value))
            else:
                row[name] += float(value)

    def _row(self, layer: str, phase: str) -> dict:
        row = self.counts.get((layer, phase))
        if row is None:
            row = self.counts[(layer, phase)] = {**dict.fromkeys(COUNTERS, 0),
                                                 **dict.fromkeys(LOAD_COLUMNS, 0.0)}
        return row

    def as_table(self) -> list[dict]:
        """Rows ``{layer, phase, products, samples, saturated_tia, clipped_adc,
        below_noise_floor, saturated_weights}``, in first-seen order."""
        return [{"layer": layer, "phase": phase, **row}
                for (layer, phase), row in self.counts.items()]

    def totals(self) -> dict[str, int]:
        """Every counter summed over layers and phases."""
        out: dict = {**dict.fromkeys(COUNTERS, 0), **dict.fromkeys(LOAD_COLUMNS, 0.0)}
        for row in self.counts.values():
            for k, v in row.items():
                out[k] = max(out[k], v) if LOAD_COLUMNS.get(k) == "max" else out[k] + v
        return out

    def reset(self) -> None:
        """Zero all counters."""
        self.counts.clear()

    def state(self) -> list[list]:
        """JSON-able form (for checkpoints)."""
        return [[layer, phase, row] for (layer, phase), row in self.counts.items()]

    def load_state(self, state: list[list]) -> None:
        """Restore what :meth:`state` returned."""
        self.counts = {}
        for layer, phase, row in state:
            new = self._row(str(layer), str(phase))
            new.update({k: float(v) if k in LOAD_COLUMNS else int(v) for k, v in row.items()})
