"""Data-set files for the tests, written from the format descriptions (independent of the
readers in cosim.nn.data): IDX (MNIST) and pickled CIFAR-10 batches."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np

from cosim.design import IDEALISED_OVERRIDES, IDEALISED_VALUES  # noqa: F401 (re-exported)


def idx_bytes(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    """IDX encoding written from the format description (independent of the reader)."""
    header = struct.pack(">BBBB", 0, 0, type_code, arr.ndim)
    header += b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, gz: bool):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def make_mnist(tmp_path, n_train=5, n_test=3, h=4, w=3, gz_train=True, gz_test=False):
    rng = np.random.default_rng(0)
    arrays = {"train_images": rng.integers(0, 256, (n_train, h, w), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (n_test, h, w), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8)}
    names = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
    paths = {}
    for key, arr in arrays.items():
        gz = gz_train if key.startswith("train") else gz_test
        paths[key] = write(tmp_path / (names[key] + (".gz" if gz else "")), idx_bytes(arr), gz)
    return arrays, paths


def cifar_batch(n, seed, str_keys=False):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    k = (lambda s: s) if str_keys else (lambda s: s.encode())
    return {k("batch_label"): b"batch", k("labels"): labels, k("data"): data,
            k("filenames"): [b"f%d.png" % i for i in range(n)]}


def make_cifar(tmp_path, sizes=(3, 2, 2, 4, 1), n_test=3):
    batches = {}
    for i, n in enumerate(sizes, start=1):
        batches[f"data_batch_{i}"] = cifar_batch(n, i, str_keys=(i == 2))
    batches["test_batch"] = cifar_batch(n_test, 99)
    for name, batch in batches.items():
        (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=2))
    return batches


#: The bplight design's idealised choices (cosim.design.IDEALISED_VALUES).
IDEALISED_BPLIGHT = IDEALISED_VALUES


def hardware(design: str = "bplight", **values):
    """``(HardwareConfig, Design)`` for a test: the simulation keywords
    (``cosim.hw.backend.HardwareConfig`` fields: engines, noise, spot_check,
    weights_on_devices) configure the simulation; every other keyword is a value of the
    shipped ``design`` (``tile_rows=8``; ``dac_bits``/``adc_bits`` are the converters
    card's, ``wire_resistance_ohm`` the crossbar card's).  For ``bplight`` the values
    of :data:`IDEALISED_BPLIGHT` apply unless given: these tests check the tile
    arithmetic against closed-form bounds (quantization, saturation), which hold for
    exactly programmed, uncoupled rings."""
    from dataclasses import fields

    from cosim.design import load_design
    from cosim.hw.backend import HardwareConfig

    sim_names = {f.name for f in fields(HardwareConfig)}
    sim = {k: v for k, v in values.items() if k in sim_names}
    aliases = {"dac_bits": "converters.dac_bits", "adc_bits": "converters.adc_bits",
               "wire_resistance_ohm": "crossbar.wire_resistance_crosspoint_ohm"}
    design_values = {aliases.get(k, k): v for k, v in values.items() if k not in sim_names}
    if design == "bplight":
        for key, value in IDEALISED_BPLIGHT.items():
            design_values.setdefault(key, value)
    return HardwareConfig(**sim), load_design(design, design_values)


def attach(model, hw, seed: int = 1, **kwargs):
    """``model`` with the backend and store of ``hw`` (a :func:`hardware` pair)."""
    from cosim.hw.backend import build_hardware

    config, design = hw
    model.backend, model.store = build_hardware(config, model, np.random.default_rng(seed),
                                                design=design, **kwargs)
    return model


def crossbar_tiles(**values):
    """A small crossbar tile (cosim.hw.crossbar_tile.CrossbarTiles): 8 inputs x 5 outputs,
    16-bit converters, twin engine, noise off, 2 ohm wires and 100 ohm drivers and sense
    amplifiers; ``values`` override any constructor argument."""
    from cosim.hw.crossbar_tile import CrossbarTiles

    args = dict(tile_rows=8, tile_cols=5, dac_bits=16, adc_bits=16,
                electrical_engine="twin", noise=False, g_min_s=5e-7, g_max_s=5e-4,
                read_voltage_v=0.2, wire_resistance_ohm=2.0, driver_resistance_ohm=100.0,
                sense_resistance_ohm=100.0, adc_full_scale_v=1.0,
                input_noise_a_per_rthz=0.0, temperature_k=300.0, noise_bandwidth_hz=1e6,
                swing_v=1.0)
    args.update(values)
    return CrossbarTiles(**args)
