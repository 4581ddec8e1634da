"""Photodetector + TIA readout: netlists, characterization by ngspice, readout engines."""

from cosim.readout.chain import (
    NOISE_MODES,
    NUMERICS,
    ReadoutSpec,
    build_readout_chain,
    closed_form_bandwidth_hz,
    closed_form_response,
)
from cosim.readout.characterize import ReadoutCharacterization, characterize
from cosim.readout.engines import (
    READOUT_ENGINES,
    ReadoutEngine,
    SpiceReadout,
    TwinReadout,
    make_readout,
)

__all__ = ["NOISE_MODES", "NUMERICS", "READOUT_ENGINES", "ReadoutCharacterization",
           "ReadoutEngine", "ReadoutSpec", "SpiceReadout", "TwinReadout", "build_readout_chain",
           "characterize", "closed_form_bandwidth_hz", "closed_form_response", "make_readout"]
