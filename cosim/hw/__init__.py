"""Hardware tiles: memristor crossbar netlists, the Tile protocol and its registry (MRR
weight bank, memristor crossbar, ... tiles, each mapping matrices onto its arrays), and
the hardware mapping of a network's products (the device weight store, the hardware
matmul backend)."""

from cosim.hw.backend import (
    ARCHITECTURES,
    HardwareBackend,
    HardwareConfig,
    IdealHardware,
    build_hardware,
)
from cosim.hw.crossbar import (
    CELL_KINDS,
    DIRECTIONS,
    WRITE_SCHEMES,
    CrossbarPorts,
    build_crossbar_read,
    build_crossbar_write,
    crossbar_ports,
    crossbar_solver,
    ideal_read,
    read_currents,
    write_bias,
)
from cosim.hw.crossbar_tile import CrossbarTiles
from cosim.hw.photonic import PhotonicTiles
from cosim.hw.protocols import Loaded, Recorder, Tile, TileContext
from cosim.hw.registry import TILES, tile_class
from cosim.hw.stats import HardwareStats
from cosim.hw.weights import DeviceWeightStore
from cosim.hw.write import LINEAR_IV_MODELS, simulate_write_native

__all__ = [
    "CELL_KINDS", "DIRECTIONS", "WRITE_SCHEMES", "CrossbarPorts", "build_crossbar_read",
    "build_crossbar_write", "crossbar_ports", "crossbar_solver", "ideal_read",
    "read_currents", "write_bias",
    "LINEAR_IV_MODELS", "simulate_write_native", "ARCHITECTURES", "HardwareBackend",
    "HardwareConfig", "IdealHardware", "build_hardware", "CrossbarTiles", "PhotonicTiles",
    "HardwareStats", "DeviceWeightStore", "Loaded", "Recorder", "Tile", "TileContext", "TILES",
    "tile_class",
]
