"""Energy, latency and area of a design (:class:`cosim.design.Design`) against a
baseline design, priced by the same code from the design's cards and either the
network's layer shapes (what-if) or a run file's hardware counters.

Every figure is a :class:`~cosim.energy.quantity.Quantity` that can explain itself down
to device-card values, simulation results and counts.
"""

from cosim.energy.model import (
    CLAIMS,
    CLAIMS_SOURCE,
    NETWORKS,
    PHASES,
    Counts,
    EnergyReport,
    energy_by_component,
    evaluate,
    network_counts,
    price,
    run_counts,
    usage_counts,
)
from cosim.energy.quantity import Quantity, card_quantity, derive, leaf

__all__ = ["CLAIMS", "CLAIMS_SOURCE", "NETWORKS", "PHASES", "Counts", "EnergyReport",
           "Quantity", "card_quantity", "derive", "energy_by_component", "evaluate", "leaf",
           "network_counts", "price", "run_counts", "usage_counts"]
