"""Hardware tiles: memristor crossbar netlists, the tiling of matrices onto them, and the
hardware mapping of a network's products (photonic and crossbar tile models, the device
weight store, the hardware matmul backend)."""

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
from cosim.hw.tiling import TILE_ENGINES, TiledCrossbar, tile_slices
from cosim.hw.write import LINEAR_IV_MODELS, simulate_write_native
from cosim.hw.backend import (ARCHITECTURES, HardwareBackend, HardwareConfig,
                              build_hardware)
from cosim.hw.crossbar_tile import CrossbarTiles
from cosim.hw.photonic import PhotonicTiles
from cosim.hw.stats import HardwareStats
from cosim.hw.weights import DeviceWeightStore

__all__ = [
    "CELL_KINDS", "DIRECTIONS", "WRITE_SCHEMES", "CrossbarPorts", "build_crossbar_read",
    "build_crossbar_write", "crossbar_ports", "crossbar_solver", "ideal_read",
    "read_currents", "write_bias", "TILE_ENGINES", "TiledCrossbar", "tile_slices",
    "LINEAR_IV_MODELS", "simulate_write_native", "ARCHITECTURES", "HardwareBackend",
    "HardwareConfig", "build_hardware", "CrossbarTiles", "PhotonicTiles", "HardwareStats",
    "DeviceWeightStore",
]
