"""Energy, latency and area of the photonic design against a crossbar baseline.

Every figure is a :class:`~cosim.energy.quantity.Quantity` that can explain itself down
to device-card values, simulation results and layer-shape counts.
"""

from cosim.energy.config import load_config
from cosim.energy.model import (
    CLAIMS,
    CLAIMS_SOURCE,
    NETWORKS,
    PHASES,
    EnergyReport,
    energy_by_component,
    evaluate,
    readout_characterization,
)
from cosim.energy.quantity import Quantity, card_quantity, derive, leaf

__all__ = ["CLAIMS", "CLAIMS_SOURCE", "NETWORKS", "PHASES", "EnergyReport", "Quantity",
           "card_quantity", "derive", "energy_by_component", "evaluate", "leaf", "load_config",
           "readout_characterization"]
