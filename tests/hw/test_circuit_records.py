"""Circuit records (cosim.hw.records): every registered tile records, for each of the three
products of a layer, its first tile's circuit with the product's real stimulus; the
deck rebuilt from the template and the stimulus, run by ngspice, gives the outputs the
run computed, within the twin tolerance (half an ADC step)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from cosim.errors import ConfigError
from cosim.hw import TILES, build_hardware
from cosim.hw.records import CircuitRecord, compare, deck
from cosim.netlist import parse_netlist
from cosim.nn import Linear, Sequential
from tests.helpers import hardware


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1, user_api="blas"):
        yield


def _products(name: str, noise: bool):
    """A 20 -> 6 layer on 8 x 4 tiles through the twin engines: the backend after its
    three products, the forward signal samples, and the records."""
    model = Sequential([Linear("fc1", 20, 6)], input_shape=(20,))
    model.initialize(np.random.default_rng(0))
    cfg, design = hardware(name, noise=noise, tile_rows=8, tile_cols=4,
                           electrical_engine="twin")
    backend, store = build_hardware(cfg, model, np.random.default_rng(1), design=design)
    rng = np.random.default_rng(2)
    W = np.array(store.weight("fc1"))
    X = np.abs(rng.standard_normal((9, 20)))
    dY = rng.standard_normal((9, 6))
    backend.set_step(7)
    backend.forward("fc1", W, X)
    samples = backend.signal_samples()["fc1"]
    backend.backward("fc1", W, dY)
    backend.gradient("fc1", dY, X)
    return backend, samples, backend.circuit_records()


@pytest.mark.parametrize("name", sorted(TILES))
def test_every_tile_records_each_phase_and_ngspice_reproduces_it(name, engine):
    _, samples, records = _products(name, noise=True)
    assert {r["phase"] for r in records} == {"forward", "backward", "gradient"}
    assert all(r["step"] == 7 and r["layer"] == "fc1" for r in records)
    for r in records:
        rec: CircuitRecord = r["record"]
        circuit = deck(rec)
        assert circuit.analyses[0].kind == "tran"
        result = engine.run(circuit, circuit.analyses[0])
        out, err, ok = compare(rec, result)
        assert ok, (name, r["phase"], r["tile"], out, err, rec.tolerance)
        assert rec.tolerance > 0 and err < rec.tolerance / 10, (name, r["phase"], err)


@pytest.mark.parametrize("name", sorted(TILES))
def test_a_record_holds_what_the_run_computed(name):
    """Noise off: the record's outputs are the signals the product itself sampled
    (photonic: its TIA voltages from the fused kernel; crossbar: the pair difference
    of the two arrays' currents is the product's column current)."""
    _, samples, records = _products(name, noise=False)
    fwd = {r["tile"]: r["record"] for r in records if r["phase"] == "forward"}
    if name == "electronic":
        i_net = fwd["0,0+"].outputs["column_current_a"] - fwd["0,0-"].outputs["column_current_a"]
        want = samples["column_current_a"]
        np.testing.assert_allclose(i_net[:want.shape[0], :want.shape[1]], want, rtol=1e-12,
                                   atol=1e-18)
        np.testing.assert_allclose(fwd["0,0+"].stimulus["row_voltage_v"][:, :4],
                                   samples["row_voltage_v"][:, :4], rtol=0, atol=0)
    else:
        rec = fwd["0,0"]
        np.testing.assert_array_equal(rec.stimulus["optical_power_w"],
                                      samples["optical_power_w"])
        np.testing.assert_allclose(rec.outputs["tia_voltage_noiseless_v"],
                                   samples["tia_voltage_v"], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(rec.outputs["adc_codes"], samples["adc_codes"])


def test_a_record_refuses_a_template_it_does_not_fit():
    _, _, records = _products("bplight", noise=False)
    rec = records[0]["record"]
    other = CircuitRecord(rec.tile, rec.kind, rec.template.replace("Vpp3 ", "Vqq3 "),
                          rec.stimulus, rec.outputs, rec.tolerance)
    with pytest.raises(ConfigError, match="no source.*VPP3"):
        deck(other)
    with pytest.raises(ConfigError, match="unknown circuit record kind 'nope'"):
        deck(CircuitRecord(rec.tile, "nope", rec.template))
    parse_netlist(rec.template)            # the template alone is a valid netlist


def test_records_not_kept_are_forgotten_unbuilt(monkeypatch):
    """A step whose signals the run does not keep: ``circuit_records(keep=False)``
    returns nothing, builds no pending record, and the next step starts empty."""
    from cosim.hw import records as records_mod

    model = Sequential([Linear("fc1", 20, 6)], input_shape=(20,))
    model.initialize(np.random.default_rng(0))
    cfg, design = hardware("bplight", noise=False, tile_rows=8, tile_cols=4,
                           electrical_engine="twin")
    backend, store = build_hardware(cfg, model, np.random.default_rng(1), design=design)
    x = np.abs(np.random.default_rng(2).standard_normal((3, 20)))
    backend.set_step(1)
    backend.forward("fc1", np.array(store.weight("fc1")), x)
    built = []
    monkeypatch.setattr(records_mod.PendingRecord, "resolve",
                        lambda self: built.append(self) or None)
    assert backend.circuit_records(keep=False) == []
    assert built == []
    assert backend.circuit_records() == []          # nothing left over
    backend.forward("fc1", np.array(store.weight("fc1")), x)
    backend.circuit_records()
    assert len(built) == 1                          # a kept step builds its record
