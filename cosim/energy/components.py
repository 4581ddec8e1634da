"""Component costs of the photonic design and of the electronic baseline, from cards,
the optical model and the ngspice readout characterization (all as Quantities).

The photonic readout is the TIA card named by ``readout_tia_card`` of the
energy_bplight card (:func:`readout_spec`; the same card devices/bplight.toml gives the
training co-simulation), and each output conversion averages ``readout_averaging = A``
ADC reads of one held symbol: read rate ``f_read = 1 / t_settle`` (the ngspice settling
time), symbol rate ``f_sym = f_read / A``, link noise bandwidth ``B = f_sym / sqrt(2)``
(the noise of the mean of A reads), ADC energy per conversion at ``f_read``.

Names returned (photonic, :func:`photonic_components`): bits, bank_channels,
bank_outputs, readout_averaging, settling_time, read_rate, symbol_rate, symbol_period,
adc_energy_per_conversion,
dac_energy_per_conversion, modulator_energy_per_symbol, laser_power_per_channel,
laser_electrical_power_per_channel, tia_power, pd_bias_power, ring_heater_power, the link
figures (link.*) and areas.  Baseline (:func:`baseline_components`): card values plus
columns_per_weight.  Shared (:func:`workload_components`): digital, buffer and write costs.
"""

from __future__ import annotations

import math

import numpy as np

from cosim.energy import link
from cosim.energy.quantity import Quantity, card_quantity, derive, leaf
from cosim.errors import ConfigError

MURMANN = ("Murmann ADC survey Pareto fit as coded in Accelergy-Project/accelergy-adc-plug-in "
           "(adc_data/model.yaml, model.py); REFERENCES 5.1")
DAC_SCALING = ("DAC power ~ (2^N/N) f: zhuhanqing/Lightening-Transformer "
               "hardware_simulator/hardware/DAC.py; REFERENCES 5.2")
NEUROSIM_WRITE = ("NeuroSim write energy per cell Vw^2 G t_pulse (neurosim/MLP_NeuroSim_V3.0 "
                  "AnalogNVM::WriteEnergyCalculation, cell term at G_max); REFERENCES 1.1")


def _with(q: Quantity, source: str) -> Quantity:
    return Quantity(q.value, q.unit, q.formula, q.inputs, source)


def ring_heater_power_w(n_channels: int, n_outputs: int, *, optics_card=None) -> tuple[float, str]:
    """Mean heater power per weight ring (W) for uniformly spread weights in [-1, 1].

    Weights ``linspace(-1, 1, N*M)`` (row-major over an M x N bank) -> detunings by
    :func:`cosim.optics.weight_bank.weight_to_detuning` -> heater powers through the
    thermal crosstalk matrix (:func:`cosim.optics.crosstalk.heater_powers_for_phases`),
    with the smallest common bias phase that keeps every heater >= 0.
    """
    from cosim.devices import load_card
    from cosim.optics.crosstalk import thermal_crosstalk_matrix
    from cosim.optics.weight_bank import make_weight_bank, weight_to_detuning

    optics = load_card("optics") if optics_card is None else optics_card
    eta = float(optics["heater_efficiency_rad_per_w"])
    frac = float(optics["thermal_neighbour_fraction"])
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


def readout_spec(card):
    """The :class:`cosim.readout.ReadoutSpec` of the photonic readout of the energy card
    ``card``: photodetector and converters cards, TIA card ``card["readout_tia_card"]``,
    ADC bits ``card["bits"]``."""
    from cosim.readout import ReadoutSpec

    return ReadoutSpec.from_cards(tia=str(card["readout_tia_card"]),
                                  adc_bits=int(card["bits"]))


def photonic_components(card, characterization, *,
                        optics_card=None) -> tuple[dict[str, Quantity], list[str]]:
    """Component quantities of the photonic design, and warnings for the report."""
    from cosim.optics.link_budget import link_budget
    from cosim.optics.weight_bank import make_weight_bank

    c: dict[str, Quantity] = {}
    flags: list[str] = []
    ch = characterization
    for key in ("bits", "bank_channels", "bank_outputs", "modulator_energy_per_symbol_j",
                "wall_plug_efficiency", "rin_db_per_hz", "dac_reference_energy_j",
                "dac_reference_bits", "ring_area_m2", "pd_area_m2", "tia_area_m2",
                "adc_area_m2", "dac_area_m2", "memristors_per_weight", "tiles_available",
                "readout_averaging"):
        c[key.removesuffix("_j").removesuffix("_m2")] = card_quantity(card, key)
    bits = c["bits"]
    tia = str(card["readout_tia_card"])
    want = readout_spec(card).with_values(adc_bits=ch.spec.adc_bits)
    if ch.spec != want:
        flags.append(f"the readout characterization given is not of the card's readout "
                     f"(readout_tia_card = {tia!r}): its feedback resistance is "
                     f"{ch.spec.feedback_resistance_ohm:.4g} Ohm, the card's "
                     f"{want.feedback_resistance_ohm:.4g} Ohm")
    sim = (f"ngspice readout characterization of TIA card {tia!r} at {ch.spec.adc_bits} bits "
           "(cosim.readout.characterize)")
    c["settling_time"] = leaf(ch.settling_time_s, "s",
                              f"{sim}: full-scale step settling to half an LSB")
    avg = c["readout_averaging"]
    if card["symbol_rate_hz"] > 0:
        c["symbol_rate"] = card_quantity(card, "symbol_rate_hz")
        c["read_rate"] = derive("f_sym * n_avg", "Hz", f_sym=c["symbol_rate"], n_avg=avg)
        if c["read_rate"].value > 1 / ch.settling_time_s:
            flags.append(f"read rate {c['read_rate'].value:.3g} Hz (symbol rate "
                         f"{card['symbol_rate_hz']:.3g} Hz x {card['readout_averaging']} "
                         f"reads) is faster than the readout settles "
                         f"(1/{ch.settling_time_s:.3g} s): outputs are read before they "
                         "settle to half an LSB")
    else:
        c["read_rate"] = derive("1 / t_settle", "Hz", t_settle=c["settling_time"])
        c["symbol_rate"] = derive("f_read / n_avg", "Hz", f_read=c["read_rate"], n_avg=avg)
    c["symbol_period"] = derive("1 / f_sym", "s", f_sym=c["symbol_rate"])
    if card["adc_energy_per_conversion_j"] > 0:
        c["adc_energy_per_conversion"] = card_quantity(card, "adc_energy_per_conversion_j")
    else:
        c["adc_energy_per_conversion"] = _with(derive(
            "1 / (2 * 10**((min(302.739 - 6.4608 * ln(fs), 180.14) - "
            "(bits * 20 * log10(2) + 10 * log10(1.5))) / 10))", "J",
            fs=c["read_rate"], bits=bits), MURMANN)
    c["dac_energy_per_conversion"] = _with(derive(
        "e_ref * (2**bits / bits) / (2**ref_bits / ref_bits)", "J",
        e_ref=c["dac_reference_energy"], bits=bits, ref_bits=c["dac_reference_bits"]),
        DAC_SCALING)
    c["tia_power"] = leaf(ch.supply_power_w, "W", f"{sim}: TIA supply power at the operating point")
    c["pd_bias_power"] = leaf(ch.bias_power_full_scale_w, "W",
                              f"{sim}: photodiode bias power at full scale")
    n, m = int(card["bank_channels"]), int(card["bank_outputs"])
    p_ring, text = ring_heater_power_w(n, m, optics_card=optics_card)
    c["ring_heater_power"] = leaf(p_ring, "W", text)

    # Link budget from the optical model.
    bank = make_weight_bank(n, m)
    penalty = float(card["network_penalty_db"])
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
                                    f"card {tia}.feedback_resistance_ohm (via ReadoutSpec)")
    c["temperature"] = leaf(spec.temperature_k, "K", f"card {tia}.temperature_k (via ReadoutSpec)")
    c["input_noise_density"] = leaf(ch.input_noise_density_a_per_rthz, "A/sqrt(Hz)",
                                    f"{sim}: input-referred noise density over the noise "
                                    "bandwidth (.noise analysis)")
    # B of the symbol rate: the mean of A reads has 1/A of one read's white-noise power
    c["link.noise_bandwidth"] = link.noise_bandwidth(c["symbol_rate"])
    geo = dict(responsivity=c["responsivity"], weight_scale=c["link.weight_scale"],
               channels=c["bank_channels"], total_loss_db=c["link.total_loss"])
    c["link.required_signal_current"] = link.required_signal_current(
        bits=bits, dark_current=c["dark_current"], input_noise_density=c["input_noise_density"],
        rin_db_per_hz=c["rin_db_per_hz"], bandwidth=c["link.noise_bandwidth"])
    c["link.required_laser_power_per_channel"] = link.laser_power_for_current(
        c["link.required_signal_current"], **geo)
    if card["laser_power_from_link_budget"]:
        if not math.isfinite(c["link.required_laser_power_per_channel"].value):
            raise ConfigError(
                f"laser_power_from_link_budget = true but {card['bits']} bits are above the "
                "RIN ceiling of the optical path at this symbol rate: no laser power "
                "suffices; lower bits, the symbol rate or rin_db_per_hz, or set "
                "laser_power_from_link_budget = false")
        c["laser_power_per_channel"] = c["link.required_laser_power_per_channel"]
    else:
        c["laser_power_per_channel"] = card_quantity(card, "laser_power_per_channel_w")
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
    enob_v = c["link.achievable_bits"].value
    if card["bits"] > enob_v:
        flags.append(
            f"the configured {card['bits']}-bit converters claim more than the optical path "
            f"gives: {enob_v:.2f} bits at {c['symbol_rate'].value:.3g} symbols/s with "
            f"{c['laser_power_per_channel'].value * 1e3:.3g} mW per channel (RIN ceiling "
            f"{c['link.rin_ceiling_bits'].value:.2f} bits; required laser power per channel "
            f"for {card['bits']} bits: {c['link.required_laser_power_per_channel'].value:.3g} W)")
    if c["link.signal_current"].value > ch.full_scale_current_a:
        flags.append(
            f"the full-scale photocurrent {c['link.signal_current'].value:.3g} A exceeds the "
            f"TIA/ADC full-scale current {ch.full_scale_current_a:.3g} A: lower the laser power "
            "or the feedback resistance")
    return c, flags


def baseline_components(card) -> dict[str, Quantity]:
    """Component quantities of the crossbar baseline."""
    c = {k.removesuffix("_j").removesuffix("_m2"): card_quantity(card, k)
         for k in card.params if k != "transposed_copy"}
    c["columns_per_weight"] = derive("ceil(weight_bits / bits_per_cell) * cells_per_slice", "1",
                                     weight_bits=c["weight_bits"], bits_per_cell=c["bits_per_cell"],
                                     cells_per_slice=c["cells_per_slice"])
    c["copies"] = leaf(2 if card["transposed_copy"] else 1, "1",
                       "card energy_baseline.transposed_copy: "
                       f"{card.params['transposed_copy'].provenance}")
    return c


def workload_components(card, rram_card) -> dict[str, Quantity]:
    """Shared digital, buffer, workload and memristor write costs."""
    c = {k.removesuffix("_j"): card_quantity(card, k) for k in card.params}
    c["write_pulse_energy"] = _with(derive(
        "v_w**2 * g_max * t_w", "J", v_w=card_quantity(rram_card, "v_write_v"),
        g_max=card_quantity(rram_card, "g_max_s"), t_w=card_quantity(rram_card, "t_write_s")),
        NEUROSIM_WRITE)
    c["write_pulse_time"] = card_quantity(rram_card, "t_write_s")
    return c
