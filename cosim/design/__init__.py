"""One accelerator design: what is trained, what is priced and what a run file records.

A **design** is a device card of kind ``design`` (``devices/design_<name>.toml``): its
tile kind (:data:`cosim.hw.registry.TILES`), its architecture values (tile size, input
full scale, readout averaging, weight device settings, where the gradient product is
computed, ...) and, for every *role* (photodetector, tia, converters, laser, optics,
crossbar, mzi, weight), the device card that plays it (``<role>_card``).  Every value
carries its source or is marked as an assumption, like every card value.

:class:`Design` is that card resolved: the design card and the cards of its roles,
loaded, validated and frozen, with the full text of each file and its sha256.  It is
the one object the training backend (:func:`cosim.hw.build_hardware`), the energy model
and the run file use.  A run file stores :meth:`Design.record` (texts included), so a
run shows and resumes on a machine without the cards, and ``--resume`` refuses a design
whose resolved values changed (:meth:`Design.differences`).

Overrides are dotted: ``"tile_rows=32"`` sets a design value, ``"tia.rf_ohm=1000"`` a
value of the card of role ``tia`` (in SI units), ``"tia_card=tia"`` swaps the card of a
role.  The provenance of an overridden value becomes "override".

Shipped designs (:data:`DESIGNS`): ``ideal`` (float arithmetic), ``bplight`` (the
default), ``electronic`` (the memristor-crossbar baseline), ``photonic-mzi`` (coherent
MZI-mesh tiles) and ``bplight-paper`` (the assumptions the paper's claims need).
A new design is one card file plus one line in :data:`DESIGNS`.
"""

from cosim.design.model import (
    DESIGNS,
    IDEALISED_OVERRIDES,
    IDEALISED_VALUES,
    ROLES,
    Design,
    DesignSpec,
    design_names,
    load_design,
)

__all__ = ["DESIGNS", "IDEALISED_OVERRIDES", "IDEALISED_VALUES", "ROLES", "Design",
           "DesignSpec", "design_names", "load_design"]
