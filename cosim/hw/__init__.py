"""Hardware tiles: memristor crossbar netlists and the tiling of matrices onto them."""

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

__all__ = [
    "CELL_KINDS", "DIRECTIONS", "WRITE_SCHEMES", "CrossbarPorts", "build_crossbar_read",
    "build_crossbar_write", "crossbar_ports", "crossbar_solver", "ideal_read",
    "read_currents", "write_bias", "TILE_ENGINES", "TiledCrossbar", "tile_slices",
    "LINEAR_IV_MODELS", "simulate_write_native",
]
