"""Energy model: op counts, card-change propagation, link budget, ENOB, CLI."""

from __future__ import annotations

import math
import time

import pytest

from cosim.devices.converters import survey_adc_energy_j
from cosim.energy import evaluate, leaf, load_config
from cosim.energy import link


@pytest.fixture(scope="module")
def char():
    # the card's readout (readout_tia_card = tia_bplight), no longer the default tia card
    from cosim.energy import readout_characterization
    return readout_characterization()


@pytest.fixture(scope="module")
def lenet(char):
    return evaluate("lenet5", characterization=char)


def _conv_macs(h_out, c_out, c_in, k):
    return h_out * h_out * c_out * c_in * k * k


def test_lenet5_op_counts_by_hand(lenet):
    # conv1: 32x32 -> 28x28 (k=5), conv2: 14x14 -> 10x10, fc 400-120-84-10.
    hand = {"conv1": _conv_macs(28, 6, 1, 5), "conv2": _conv_macs(10, 16, 6, 5),
            "fc1": 400 * 120, "fc2": 120 * 84, "fc3": 84 * 10}
    for name, macs in hand.items():
        assert lenet[f"bplight.layer.{name}.forward.macs"].value == macs
        assert lenet[f"baseline.layer.{name}.update.macs"].value == macs
    assert "bplight.layer.conv1.backward.macs" not in lenet.figures   # first layer: no dx
    assert lenet["bplight.layer.conv2.backward.macs"].value == hand["conv2"]
    assert lenet["bplight.training.ops_per_image"].value == \
        2 * (sum(hand.values()) * 3 - hand["conv1"])


def test_vgg16_op_counts_by_hand(char):
    rep = evaluate("vgg16", characterization=char)
    widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"]
    size, c_in, i, total = 32, 3, 0, 0
    for w in widths:
        if w == "M":
            size //= 2
            continue
        i += 1
        macs = _conv_macs(size, w, c_in, 3)   # padding 1 keeps the size
        assert rep[f"bplight.layer.conv{i}.forward.macs"].value == macs
        total += macs
        c_in = w
    assert rep["bplight.layer.fc1.forward.macs"].value == 512 * 10
    assert rep["bplight.inference.ops_per_image"].value == 2 * (total + 5120)


def test_survey_adc_formula_matches_converters(lenet):
    q = lenet["bplight.component.adc_energy_per_conversion"]
    fs = lenet["bplight.component.read_rate"].value     # the ADC runs at the read rate
    assert q.value == pytest.approx(survey_adc_energy_j(16, fs), rel=1e-12)


def test_adc_energy_change_propagates_exactly(char, lenet):
    e_adc = lenet["bplight.component.adc_energy_per_conversion"].value
    cards = load_config(bplight={"adc_energy_per_conversion_j": 2 * e_adc})
    new = evaluate("lenet5", cards=cards, characterization=char)
    delta = 0.0
    for name, q in lenet.figures.items():
        n = new[name].value
        if name.startswith("bplight.layer.") and name.endswith(".adc_energy"):
            assert n == pytest.approx(2 * q.value, rel=1e-12)
            if ".forward." in name or ".backward." in name:
                delta += q.value
        elif name.startswith("baseline.") or name.startswith("workload.") \
                or ".latency" in name or "time" in name or name.endswith(".macs") \
                or (name.startswith("bplight.layer.") and not name.endswith("energy")):
            assert n == q.value, name
        elif name.startswith("bplight.layer.") and not name.endswith(".energy"):
            assert n == q.value, name
    for mode, phases in (("training", ("forward", "backward")), ("inference", ("forward",))):
        d = sum(q.value for k, q in lenet.figures.items()
                if k.endswith(".adc_energy") and k.startswith("bplight.layer.")
                and k.split(".")[3] in phases)
        old_e = lenet[f"bplight.{mode}.energy_per_image"].value
        assert new[f"bplight.{mode}.energy_per_image"].value == pytest.approx(old_e + d, rel=1e-12)
    assert delta > 0


def _geo(loss_db):
    return dict(responsivity=leaf(0.95, "A/W", "t"), weight_scale=leaf(0.5, "1", "t"),
                channels=leaf(32, "1", "t"), total_loss_db=leaf(loss_db, "dB", "t"))


def test_link_budget_loss_doubling_and_one_more_bit():
    i_req = leaf(1e-4, "A", "test")
    for x_db in (3.0, 10.0, 21.2):
        p1 = link.laser_power_for_current(i_req, **_geo(x_db)).value
        p2 = link.laser_power_for_current(i_req, **_geo(2 * x_db)).value
        assert p2 / p1 == pytest.approx(10 ** (x_db / 10), rel=1e-12)
    # No RIN, 2 pA/rtHz, 1 nA dark, B = 0.1 GHz / sqrt 2: required current from the
    # quadratic I^2 = S (2q(I + 2Id)B + i_n^2 B), solved here by hand.
    q, i_d, i_n, b_hz = 1.602176634e-19, 1e-9, 2e-12, 1e8 / math.sqrt(2)
    kw = dict(dark_current=leaf(i_d, "A", "t"), input_noise_density=leaf(i_n, "A/sqrt(Hz)", "t"),
              rin_db_per_hz=leaf(-400.0, "dB/Hz", "t"), bandwidth=leaf(b_hz, "Hz", "t"))

    def hand(bits):
        s = 10 ** ((6.02 * bits + 1.76) / 10)
        a, bb, c = 1 - s * 1e-40 * b_hz, 2 * q * s * b_hz, s * (4 * q * i_d * b_hz + i_n ** 2 * b_hz)
        return (bb + math.sqrt(bb * bb + 4 * a * c)) / (2 * a)

    for bits in (6, 8, 12):
        i1 = link.required_signal_current(bits=leaf(bits, "bit", "t"), **kw).value
        i2 = link.required_signal_current(bits=leaf(bits + 1, "bit", "t"), **kw).value
        assert i1 == pytest.approx(hand(bits), rel=1e-9)
        assert i2 / i1 == pytest.approx(hand(bits + 1) / hand(bits), rel=1e-9)
    # Thermal-noise-limited regime (shot negligible): current ~ sqrt(SNR) -> x 10^(6.02/20).
    thermal = dict(kw, input_noise_density=leaf(1e-9, "A/sqrt(Hz)", "t"))
    i1 = link.required_signal_current(bits=leaf(4, "bit", "t"), **thermal).value
    i2 = link.required_signal_current(bits=leaf(5, "bit", "t"), **thermal).value
    # residual shot/thermal variance ratio here is 2 q I / i_n^2 ~ 5e-5, hence rel=1e-4
    assert i2 / i1 == pytest.approx(10 ** (6.02 / 20), rel=1e-4)
    # Above the RIN ceiling no power suffices.
    kw["rin_db_per_hz"] = leaf(-140.0, "dB/Hz", "t")
    assert link.required_signal_current(bits=leaf(16, "bit", "t"), **kw).value == math.inf


def _enob(i_sig, rin=-140.0, f_sym=1e9, i_n=2e-12, i_d=1e-9, r_f=80e3, t_k=300.0):
    bw = link.noise_bandwidth(leaf(f_sym, "Hz", "t"))
    terms = link.noise_terms(signal_current=leaf(i_sig, "A", "t"), dark_current=leaf(i_d, "A", "t"),
                             input_noise_density=leaf(i_n, "A/sqrt(Hz)", "t"),
                             feedback_resistance=leaf(r_f, "ohm", "t"),
                             temperature=leaf(t_k, "K", "t"), rin_db_per_hz=leaf(rin, "dB/Hz", "t"),
                             bandwidth=bw)
    return link.enob(leaf(i_sig, "A", "t"), terms)[1].value


def test_enob_hand_calculation_and_trends():
    q, k = 1.602176634e-19, 1.380649e-23
    i, b = 50e-6, 1e9 / math.sqrt(2)
    var = 2 * q * (i + 2e-9) * b + (2e-12) ** 2 * b + i * i * 1e-14 * b
    hand = (10 * math.log10(i * i / var) - 1.76) / 6.02
    assert _enob(i) == pytest.approx(hand, rel=1e-12)
    assert _enob(i, rin=-130) < _enob(i) < _enob(i, rin=-150)
    assert _enob(i, f_sym=1e10) < _enob(i) < _enob(i, f_sym=1e8)
    # Published RIN ceilings of the Al-Qadasi model (REFERENCES 3.2): 9.9 / 8.3 / 6.6 bits.
    for f, ceiling in ((1e8, 9.9), (1e9, 8.3), (1e10, 6.6)):
        assert _enob(1.0, f_sym=f) == pytest.approx(ceiling, abs=0.06)
    del k


def test_report_flags_unreachable_16_bits(lenet):
    assert lenet["bplight.link.achievable_bits"].value < 16
    assert any("claim more than the optical path gives" in f for f in lenet.flags)


@pytest.mark.parametrize("network", ["lenet5", "vgg16"])
def test_cli_report(network, tmp_path, capsys, char):
    from cosim.cli.main import main
    t0 = time.perf_counter()
    assert main(["energy", "--network", network, "--out-dir", str(tmp_path)]) == 0
    assert time.perf_counter() - t0 < 60
    html = (tmp_path / f"energy_{network}.html").read_text()
    assert "34x (claim)" in html and "claim, not our result" in html
    assert (tmp_path / f"energy_{network}.png").stat().st_size > 1000
    out = capsys.readouterr().out
    assert "(claim)" in out and "speedup" in out


def test_cli_explain(capsys, tmp_path):
    from cosim.cli.main import main
    assert main(["energy", "--network", "lenet5", "--out-dir", str(tmp_path),
                 "--explain", "bplight.layer.conv1.forward.adc_energy"]) == 0
    out = capsys.readouterr().out
    assert "n_conv * e_adc" in out and "card energy_bplight.bits" in out
    assert "ngspice readout characterization" in out


def test_readout_is_the_cards_tia_and_averaging_costs_time_and_buys_bits(char, lenet):
    """energy_bplight names the training readout (tia_bplight, 16 reads averaged): the
    symbol rate is the read rate / 16, every noise term is proportional to the noise
    bandwidth B = f_sym / sqrt(2), so the SNR gains exactly 10 log10(16) dB (2.0 bits),
    and each output costs 16 ADC conversions at the same read rate."""
    from cosim.devices import load_card

    bp = load_card("bplight")
    card = load_card("energy_bplight")
    assert card["readout_tia_card"] == bp["readout_tia_card"] == "tia_bplight"
    assert card["readout_averaging"] == bp["readout_averaging"] == 16
    assert char.spec.feedback_resistance_ohm == load_card("tia_bplight")["feedback_resistance_ohm"]
    assert not any("not of the card's readout" in f for f in lenet.flags)
    c = "bplight.component."
    assert lenet[c + "read_rate"].value == pytest.approx(1 / char.settling_time_s, rel=1e-12)
    assert lenet[c + "symbol_rate"].value == pytest.approx(
        lenet[c + "read_rate"].value / 16, rel=1e-12)
    one = evaluate("lenet5", cards=load_config(bplight={"readout_averaging": 1}),
                   characterization=char)
    gain_bits = 10 * math.log10(16) / 6.02
    assert lenet["bplight.link.achievable_bits"].value == pytest.approx(
        one["bplight.link.achievable_bits"].value + gain_bits, rel=1e-9)
    assert lenet["bplight.link.rin_ceiling_bits"].value == pytest.approx(
        one["bplight.link.rin_ceiling_bits"].value + gain_bits, rel=1e-9)
    for name in ("conv1.forward", "fc3.backward"):
        for k, factor in (("adc_energy", 16), ("pd_tia_energy", 16), ("latency", 16)):
            assert lenet[f"bplight.layer.{name}.{k}"].value == pytest.approx(
                factor * one[f"bplight.layer.{name}.{k}"].value, rel=1e-12), (name, k)
        assert lenet[f"bplight.layer.{name}.dac_energy"].value == \
            one[f"bplight.layer.{name}.dac_energy"].value
    for name in one.figures:
        if name.startswith("baseline."):
            assert lenet[name].value == one[name].value, name
    # a characterization of another TIA is used as given, but flagged
    from cosim.readout import characterize
    other = evaluate("lenet5", characterization=characterize(bits=16))
    assert any("not of the card's readout" in f for f in other.flags)
