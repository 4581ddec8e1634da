"""Component registry: configs refer to transfer-matrix components by name.

Every entry is a pure function ``f(wavelength_m, **params) -> (..., n_out, n_in)``
complex transfer matrix (see :mod:`cosim.optics.components` for the conventions).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cosim.errors import ConfigError
from cosim.optics.components import (
    directional_coupler,
    fanout_tree,
    mzi,
    phase_shifter,
    straight,
    thermo_optic_phase_shifter,
    y_splitter,
)
from cosim.optics.mrr import mrr_add_drop, mrr_all_pass, mrr_modulator
from cosim.optics.wdm import wdm_demux, wdm_mux

Component = Callable[..., np.ndarray]

COMPONENTS: dict[str, Component] = {
    "straight": straight,
    "phase_shifter": phase_shifter,
    "thermo_optic_phase_shifter": thermo_optic_phase_shifter,
    "directional_coupler": directional_coupler,
    "y_splitter": y_splitter,
    "fanout_tree": fanout_tree,
    "mzi": mzi,
    "mrr_all_pass": mrr_all_pass,
    "mrr_add_drop": mrr_add_drop,
    "mrr_modulator": mrr_modulator,
    "wdm_demux": wdm_demux,
    "wdm_mux": wdm_mux,
}


def get_component(name: str) -> Component:
    """The component function registered under ``name``."""
    try:
        return COMPONENTS[name]
    except KeyError:
        raise ConfigError(f"unknown optical component {name!r}; registered: "
                          f"{', '.join(sorted(COMPONENTS))}") from None
