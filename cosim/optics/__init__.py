"""Optical domain: numpy transfer-matrix model of the photonic datapath.

Components (:mod:`~cosim.optics.components`, :mod:`~cosim.optics.mrr`,
:mod:`~cosim.optics.wdm`) are pure functions of wavelength returning field transfer
matrices ``(..., n_out, n_in)``; :func:`cascade` and :func:`parallel` compose them.  The
microring weight bank (:mod:`~cosim.optics.weight_bank`) maps signed weights to ring
detunings and, with :mod:`~cosim.optics.link_budget`, gives the optical power at every
balanced photodetector.  :mod:`~cosim.optics.mzi_mesh` is the coherent alternative.
Default device values live in ``devices/optics.toml`` and ``devices/laser.toml``.
"""

from cosim.optics.components import (
    cascade,
    db_to_field_ratio,
    db_to_power_ratio,
    directional_coupler,
    effective_index,
    fanout_tree,
    heater_phase,
    mzi,
    parallel,
    phase_shifter,
    power_ratio_to_db,
    straight,
    thermo_optic_phase_shifter,
    y_splitter,
)
from cosim.optics.crosstalk import (
    heater_phases,
    heater_powers_for_phases,
    interchannel_drop_crosstalk,
    interchannel_phase_matrix,
    lorentzian_leakage,
    thermal_crosstalk_matrix,
)
from cosim.optics.link_budget import LinkBudget, link_budget, pd_power, pd_power_to_matvec
from cosim.optics.mrr import (
    add_drop_fields,
    add_drop_from_phase,
    add_drop_power_closed_form,
    all_pass_extinction_ratio,
    all_pass_from_phase,
    all_pass_power_closed_form,
    free_spectral_range,
    fwhm,
    loaded_q,
    mrr_add_drop,
    mrr_all_pass,
    mrr_modulator,
    round_trip_amplitude,
    round_trip_phase,
)
from cosim.optics.mzi_mesh import (
    MeshPhases,
    check_unitary,
    clements_decompose,
    mesh_matrix,
    random_unitary,
)
from cosim.optics.registry import COMPONENTS, get_component
from cosim.optics.sources import channel_grid, laser_comb, rin_sigma
from cosim.optics.wdm import wdm_demux, wdm_mux
from cosim.optics.weight_bank import (
    BankTransfer,
    CalibrationResult,
    WeightBank,
    bank_transfer,
    calibrate_bank,
    detuning_to_weight,
    effective_weights,
    make_weight_bank,
    program_bank,
    ring_powers,
    weight_jacobian,
    weight_to_detuning,
)

__all__ = [
    "COMPONENTS", "BankTransfer", "CalibrationResult", "LinkBudget", "MeshPhases",
    "WeightBank", "add_drop_fields", "add_drop_from_phase", "add_drop_power_closed_form",
    "all_pass_extinction_ratio", "all_pass_from_phase", "all_pass_power_closed_form",
    "bank_transfer", "calibrate_bank", "cascade", "channel_grid", "check_unitary",
    "clements_decompose", "db_to_field_ratio", "db_to_power_ratio", "detuning_to_weight",
    "directional_coupler", "effective_index", "effective_weights", "fanout_tree",
    "free_spectral_range", "fwhm", "get_component", "heater_phase", "heater_phases",
    "heater_powers_for_phases", "interchannel_drop_crosstalk", "interchannel_phase_matrix",
    "laser_comb", "link_budget", "loaded_q", "lorentzian_leakage", "make_weight_bank",
    "mesh_matrix", "mrr_add_drop", "mrr_all_pass", "mrr_modulator", "mzi", "parallel",
    "pd_power", "pd_power_to_matvec", "phase_shifter", "power_ratio_to_db",
    "program_bank", "random_unitary", "rin_sigma", "ring_powers", "round_trip_amplitude",
    "round_trip_phase", "straight", "thermal_crosstalk_matrix", "thermo_optic_phase_shifter",
    "wdm_demux", "wdm_mux", "weight_jacobian", "weight_to_detuning", "y_splitter",
]
