"""Component costs of one :class:`cosim.design.Design`, as traceable Quantities.

Every value comes from the design card or from the card of one of its roles
(converters, laser, optics, photodetector, tia, crossbar, weight), or from the ngspice
readout characterization of the design's readout (:func:`cosim.hw.readout_characterization`,
the same one training uses); nothing here is a number of its own.  What the design
computes decides what is priced:

* the tile kind (``design["tile"]``) picks the analog core (:data:`CORES`): ``bplight``
  (lasers, modulators, ring heaters, balanced photodiodes) or ``electronic`` (memristor
  crossbar read); a tile kind without an entry cannot be priced (error naming the
  priced ones);
* reads: each output is the mean of ``A`` ADC reads on photonic tiles
  (``readout_averaging``, as :class:`cosim.hw.photonic.PhotonicTiles` simulates), one
  read on crossbar tiles (:mod:`cosim.hw.crossbar_tile` reads once); each read takes
  one ADC sample period, ``f_read = converters.adc_sample_rate_hz``, so a symbol lasts
  ``T_sym = A / f_read``;
* conversions are priced at the converter's resolution and rate by the Murmann-survey
  fit ``E(bits, f_read)`` (:func:`adc_energy`) unless the converters card sets an energy
  per conversion, which is then flagged when it is below the survey's frontier;
* writes: two memristors per weight (the differential pair of
  :class:`cosim.hw.weights.DeviceWeightStore`), ``copies = 2`` when the backward product
  runs on a second set holding W^T (``backward_weights = "transposed_copy"``, the tile
  state :class:`cosim.hw.HardwareBackend` loads for the backward phase), ``copies = 1``
  when the forward arrays are read the other way (``"transposed_read"``, crossbar tiles:
  :mod:`cosim.hw.crossbar_tile`).
"""

from __future__ import annotations

import math

import numpy as np

from cosim.energy import link
from cosim.energy.quantity import Quantity, card_quantity, derive, leaf
from cosim.errors import ConfigError

MURMANN = ("Murmann ADC survey Pareto fit as coded in Accelergy-Project/accelergy-adc-plug-in "
           "(adc_data/model.yaml, model.py): E = 1/(2*10^((FOM_S - SNDR)/10)), FOM_S = "
           "min(302.739 - 6.4608 ln fs, 180.14) dB, SNDR = 6.02 N + 1.76 dB; REFERENCES 5.1")
DAC_SCALING = ("DAC power ~ (2^N/N) f: zhuhanqing/Lightening-Transformer "
               "hardware_simulator/hardware/DAC.py; REFERENCES 5.2")
NEUROSIM_WRITE = ("NeuroSim write energy per cell Vw^2 G t_pulse (neurosim/MLP_NeuroSim_V3.0 "
                  "AnalogNVM::WriteEnergyCalculation, cell term at G_max); REFERENCES 1.1")
ADC_FORMULA = ("1 / (2 * 10**((min(302.739 - 6.4608 * ln(fs), 180.14) - "
               "(bits * 20 * log10(2) + 10 * log10(1.5))) / 10))")
"""The survey fit, the one place it is written (SNDR of an ideal N-bit converter)."""

CORES = ("bplight", "electronic")
"""Tile kinds whose analog core the energy model prices."""


def _with(q: Quantity, source: str) -> Quantity:
    return Quantity(q.value, q.unit, q.formula, q.inputs, source)


def adc_energy(bits: Quantity, rate: Quantity) -> Quantity:
    """Energy per conversion (J) on the Murmann-survey frontier at ``bits`` and
    sample rate ``rate`` (Hz)."""
    return _with(derive(ADC_FORMULA, "J", fs=rate, bits=bits), MURMANN)


def ring_heater_power_w(n_channels: int, n_outputs: int, *, optics_card) -> tuple[float, str]:
    """Mean heater power per weight ring (W) for uniformly spread weights in [-1, 1].

    Weights ``linspace(-1, 1, N*M)`` (row-major over an M x N bank) -> detunings by
    :func:`cosim.optics.weight_bank.weight_to_detuning` -> heater powers through the
    thermal crosstalk matrix (:func:`cosim.optics.crosstalk.heater_powers_for_phases`),
    with the smallest common bias phase that keeps every heater >= 0.
    """
    from cosim.optics.crosstalk import thermal_crosstalk_matrix
    from cosim.optics.weight_bank import make_weight_bank, weight_to_detuning

    eta = float(optics_card["heater_efficiency_rad_per_w"])
    frac = float(optics_card["thermal_neighbour_fraction"])
    bank = make_weight_bank(n_channels, n_outputs)
    w = np.linspace(-1.0, 1.0, n_channels * n_outputs).reshape(n_outputs, n_channels)
    phi = weight_to_detuning(w, bank)
    k = thermal_crosstalk_matrix(n_channels, efficiency_rad_per_w=eta,
                                 neighbour_fraction=frac) if frac > 0 else \
        eta * np.eye(n_channels)
    p0 = np.linalg.solve(k, phi.T).T
    unit = np.linalg.solve(k, np.ones(n_channels))
    bias = max(0.0, float(np.max(-p0 / unit)))
    p = p0 + bias * unit
    text = (f"optical model: mean heater power of a {n_outputs}x{n_channels} bank programmed "
            f"with weights uniform in [-1, 1] (weight_to_detuning, heater_powers_for_phases "
            f"with thermal neighbour fraction {frac:g}); heater efficiency {eta:g} rad/W "
            "(devices/optics.toml, an assumption)")
    return float(np.mean(p)), text


def _design_q(design, key: str) -> Quantity:
    """A design value (``tile_rows``) or a role card value (``converters.adc_bits``)."""
    if "." in key:
        role, param = key.split(".", 1)
        q = card_quantity(design.role_card(role), param)
        return Quantity(q.value, q.unit, None, {}, f"design {design.name}, role {role}: "
                        + q.source)
    q = card_quantity(design.card, key)
    return Quantity(q.value, q.unit, None, {}, f"design {design.name}: " + q.source)


def design_components(design, characterization) -> tuple[dict[str, Quantity], list[str]]:
    """Component quantities of ``design`` and the flags (warnings) they raise.

    Parameters
    ----------
    design : cosim.design.Design
    characterization : cosim.readout.ReadoutCharacterization
        Of the design's readout (:func:`cosim.hw.readout_characterization`).
    """
    tile = design.tile
    if tile not in CORES:
        raise ConfigError(f"design {design.name!r} has tile {tile!r}, which the energy model "
                          f"cannot price; priced tiles: {', '.join(CORES)}")
    q = lambda key: _design_q(design, key)  # noqa: E731 - short local alias
    c: dict[str, Quantity] = {}
    flags: list[str] = []
    for key in ("tile_rows", "tile_cols", "tiles_available", "digital_op_energy_j",
                "digital_mac_energy_j", "digital_macs_per_s", "buffer_energy_per_access_j",
                "buffer_access_bits", "write_pulses_per_update", "power_budget_w",
                "area_budget_m2"):
        c[key.removesuffix("_j")] = q(key)
    for key in ("adc_bits", "dac_bits", "adc_sample_rate_hz", "adc_area_m2", "dac_area_m2",
                "dac_reference_energy_j", "dac_reference_bits"):
        c[key.removesuffix("_j").removesuffix("_m2")] = q(f"converters.{key}")
    c["read_rate"] = c.pop("adc_sample_rate_hz")
    ch = characterization
    sim = (f"ngspice readout characterization of design {design.name}'s readout (tia card "
           f"{design.role_card('tia').name}, cosim.readout.characterize)")
    if tile == "bplight":
        c["reads_per_output"] = q("readout_averaging")
    else:
        c["reads_per_output"] = leaf(1, "1", "the crossbar tile reads each output once "
                                     "(cosim.hw.crossbar_tile)")
    c["symbol_period"] = derive("n_reads / f_read", "s", n_reads=c["reads_per_output"],
                                f_read=c["read_rate"])
    c["settling_time"] = leaf(ch.settling_time_s, "s",
                              f"{sim}: full-scale step settling to half an LSB")
    if c["read_rate"].value * ch.settling_time_s > 1.0:
        flags.append(f"reads at {c['read_rate'].value:.3g} Hz are faster than the readout "
                     f"settles ({ch.settling_time_s:.3g} s to half an LSB): outputs are read "
                     "before they settle")
    frontier = adc_energy(c["adc_bits"], c["read_rate"])
    c["adc_frontier_energy"] = frontier
    e_card = float(design["converters.adc_energy_per_conversion_j"])
    if e_card > 0:
        c["adc_energy_per_conversion"] = q("converters.adc_energy_per_conversion_j")
        if e_card < frontier.value * (1 - 1e-9):
            flags.append(f"ADC energy {e_card:.3g} J per {int(c['adc_bits'].value)}-bit "
                         f"conversion at {c['read_rate'].value:.3g} S/s is beyond the ADC "
                         f"survey frontier ({frontier.value:.3g} J, Murmann fit): no "
                         "published converter reaches it")
    else:
        c["adc_energy_per_conversion"] = frontier
    e_dac = float(design["converters.dac_energy_per_conversion_j"])
    if e_dac > 0:
        c["dac_energy_per_conversion"] = q("converters.dac_energy_per_conversion_j")
    else:
        c["dac_energy_per_conversion"] = _with(derive(
            "e_ref * (2**bits / bits) / (2**ref_bits / ref_bits)", "J",
            e_ref=c["dac_reference_energy"], bits=c["dac_bits"],
            ref_bits=c["dac_reference_bits"]), DAC_SCALING)
    c["tia_power"] = leaf(ch.supply_power_w, "W", f"{sim}: TIA supply power at the "
                          "operating point")
    c["tia_area"] = q("tia.area_m2")
    c["memristors_per_weight"] = leaf(2, "1", "a differential pair of memristors per "
                                      "weight (cosim.hw.weights.DeviceWeightStore)")
    if design["backward_weights"] == "transposed_copy":
        c["copies"] = leaf(2, "1", f"design {design.name}: backward_weights = "
                           f"transposed_copy ({design.provenance('backward_weights')})")
    else:
        c["copies"] = leaf(1, "1", f"design {design.name}: one weight copy, read both ways "
                           f"(backward_weights = {design['backward_weights']}, "
                           f"{design.provenance('backward_weights')})")
    wcard = design.role_card("weight")
    c["write_pulse_energy"] = _with(derive(
        "v_w**2 * g_max * t_w", "J", v_w=card_quantity(wcard, "v_write_v"),
        g_max=card_quantity(wcard, "g_max_s"), t_w=card_quantity(wcard, "t_write_s")),
        NEUROSIM_WRITE)
    c["write_pulse_time"] = card_quantity(wcard, "t_write_s")
    if tile == "bplight":
        _photonic(design, ch, c, flags, q, sim)
    else:
        _crossbar(design, c, q)
    return c, flags


def _crossbar(design, c, q) -> None:
    xbar = design.role_card("crossbar")
    c["read_voltage"] = q("read_voltage_v")
    c["cell_area"] = q("crossbar.cell_area_m2")
    # a uniform weight a in [-1, 1] puts G_min + (G_max - G_min)|a| on one device of the
    # pair and G_min on the other: mean pair conductance 2 G_min + (G_max - G_min) / 2
    c["pair_read_power"] = derive("v**2 * (2 * g_min + (g_max - g_min) / 2)", "W",
                                  v=c["read_voltage"], g_min=card_quantity(xbar, "g_min_s"),
                                  g_max=card_quantity(xbar, "g_max_s"))


def _photonic(design, ch, c, flags, q, sim) -> None:
    from cosim.optics.link_budget import link_budget
    from cosim.optics.weight_bank import make_weight_bank

    optics = design.role_card("optics")
    n, m = int(design["tile_rows"]), int(design["tile_cols"])
    c["modulator_energy_per_symbol"] = q("optics.modulator_energy_per_symbol_j")
    c["wall_plug_efficiency"] = q("laser.wall_plug_efficiency")
    c["rin_db_per_hz"] = q("laser.rin_db_per_hz")
    c["laser_available_power"] = q("laser.power_per_channel_w")
    c["ring_area"] = derive("pitch**2", "m^2", pitch=q("optics.ring_pitch_m"))
    c["pd_area"] = q("photodetector.area_m2")
    c["pd_bias_power"] = leaf(ch.bias_power_full_scale_w, "W",
                              f"{sim}: photodiode bias power at full scale")
    if "thermal_settling_time_s" in design.card.params:   # (older stored designs lack it)
        c["thermal_settling_time"] = q("thermal_settling_time_s")
        if c["thermal_settling_time"].value == 0:
            flags.append("thermal_settling_time_s = 0: the ring heaters settle instantly "
                         "after every retune, which no thermal tuning does (thermo-optic "
                         "time constants are microseconds); the retunes cost no time")
    p_ring, text = ring_heater_power_w(n, m, optics_card=optics)
    c["ring_heater_power"] = leaf(p_ring, "W", text)
    bank = make_weight_bank(n, m)
    penalty = float(design["network_penalty_db"])
    lb = link_budget(bank, extra_losses_db=(("network_penalty", penalty),) if penalty else ())
    losses = {f"loss_{name}": leaf(v, "dB", f"optical model cosim.optics.link_budget: loss "
                                   f"{name!r} of a {n}x{m} bank") for name, v in lb.losses_db}
    c["link.total_loss"] = derive(" + ".join(losses), "dB", **losses)
    c["link.weight_scale"] = leaf(lb.weight_scale, "1", "optical model: weight scale g of the "
                                  "bank (drop - through at |w| = 1)")
    spec = ch.spec
    c["responsivity"] = leaf(spec.responsivity_a_per_w, "A/W",
                             "card photodetector.responsivity_a_per_w (via ReadoutSpec)")
    c["dark_current"] = leaf(spec.dark_current_a, "A",
                             "card photodetector.dark_current_a (via ReadoutSpec)")
    c["feedback_resistance"] = leaf(spec.feedback_resistance_ohm, "ohm",
                                    "tia card feedback_resistance_ohm (via ReadoutSpec)")
    c["temperature"] = leaf(spec.temperature_k, "K", "tia card temperature_k (via ReadoutSpec)")
    c["full_scale_current"] = leaf(ch.full_scale_current_a, "A",
                                   f"{sim}: full-scale photocurrent of the readout")
    c["input_noise_density"] = leaf(ch.input_noise_density_a_per_rthz, "A/sqrt(Hz)",
                                    f"{sim}: input-referred noise density over the noise "
                                    "bandwidth (.noise analysis)")
    c["symbol_rate"] = derive("1 / t_sym", "Hz", t_sym=c["symbol_period"])
    c["link.noise_bandwidth"] = link.noise_bandwidth(c["symbol_rate"])
    geo = dict(responsivity=c["responsivity"], weight_scale=c["link.weight_scale"],
               channels=c["tile_rows"], total_loss_db=c["link.total_loss"])
    bits = c["adc_bits"]
    c["link.required_signal_current"] = link.required_signal_current(
        bits=bits, dark_current=c["dark_current"], input_noise_density=c["input_noise_density"],
        rin_db_per_hz=c["rin_db_per_hz"], bandwidth=c["link.noise_bandwidth"])
    c["link.required_laser_power_per_channel"] = link.laser_power_for_current(
        c["link.required_signal_current"], **geo)
    if float(design["laser_power_per_channel_w"]) > 0:
        c["laser_power_per_channel"] = q("laser_power_per_channel_w")
    else:
        # the tile's rule (cosim.hw.photonic): full-scale photocurrent = f x I_fs at the bank
        c["laser_power_per_channel"] = link.laser_power_for_current(
            derive("f * i_fs", "A", f=q("optical_full_scale_fraction"),
                   i_fs=c["full_scale_current"]), **geo)
    if c["laser_power_per_channel"].value > c["laser_available_power"].value:
        flags.append(f"the laser must give {c['laser_power_per_channel'].value * 1e3:.3g} mW "
                     f"per channel (the bank's power plus {c['link.total_loss'].value:.2f} dB "
                     f"of optical loss); the laser card gives "
                     f"{c['laser_available_power'].value * 1e3:.3g} mW")
    c["laser_electrical_power_per_channel"] = derive(
        "p_laser / eta", "W", p_laser=c["laser_power_per_channel"], eta=c["wall_plug_efficiency"])
    c["link.signal_current"] = link.signal_current_for_laser(c["laser_power_per_channel"], **geo)
    terms = link.noise_terms(
        signal_current=c["link.signal_current"], dark_current=c["dark_current"],
        input_noise_density=c["input_noise_density"],
        feedback_resistance=c["feedback_resistance"], temperature=c["temperature"],
        rin_db_per_hz=c["rin_db_per_hz"], bandwidth=c["link.noise_bandwidth"])
    for k, v in terms.items():
        c[f"link.noise_{k}"] = v
    c["link.snr"], c["link.achievable_bits"] = link.enob(c["link.signal_current"], terms)
    c["link.rin_ceiling_bits"] = derive("(-10 * log10(10**(rin / 10) * B) - 1.76) / 6.02",
                                        "bit", rin=c["rin_db_per_hz"], B=c["link.noise_bandwidth"])
    enob_v, ceiling = c["link.achievable_bits"].value, c["link.rin_ceiling_bits"].value
    b = int(bits.value)
    if b > ceiling:
        flags.append(f"{b}-bit outputs are beyond the RIN ceiling of the optical path: "
                     f"{ceiling:.2f} bits at {c['symbol_rate'].value:.3g} symbols/s with RIN "
                     f"{c['rin_db_per_hz'].value:g} dB/Hz; no laser power reaches them")
    elif b > enob_v:
        flags.append(
            f"the {b}-bit converters claim more than the optical path gives: {enob_v:.2f} "
            f"bits at {c['symbol_rate'].value:.3g} symbols/s with "
            f"{c['laser_power_per_channel'].value * 1e3:.3g} mW per channel (required: "
            f"{c['link.required_laser_power_per_channel'].value:.3g} W per channel)")
    if c["link.signal_current"].value > ch.full_scale_current_a * (1 + 1e-9):
        flags.append(
            f"the full-scale photocurrent {c['link.signal_current'].value:.3g} A exceeds the "
            f"readout's full-scale current {ch.full_scale_current_a:.3g} A: lower the laser "
            "power or the feedback resistance")
    if not math.isfinite(c["laser_power_per_channel"].value):
        raise ConfigError(f"design {design.name}: no finite laser power per channel")
