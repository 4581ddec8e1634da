"""The tiles a run can name (a design's ``tile`` value), by name.

A new tile is one module implementing :class:`cosim.hw.protocols.Tile` plus one line
here (docs/hardware.md, "How to add a tile").  ``"ideal"`` is not a tile: it is plain
float arithmetic (:class:`cosim.hw.backend.IdealHardware`).
"""

from __future__ import annotations

from cosim.errors import ConfigError
from cosim.hw.crossbar_tile import CrossbarTiles
from cosim.hw.mzi_tile import MziMeshTiles
from cosim.hw.photonic import PhotonicTiles
from cosim.hw.protocols import Tile

#: tile name -> tile class (its ``build(context)`` is the factory)
TILES: dict[str, type[Tile]] = {
    "bplight": PhotonicTiles,
    "electronic": CrossbarTiles,
    "photonic-mzi": MziMeshTiles,
}


def tile_class(name: str) -> type[Tile]:
    """The registered tile ``name``; unknown names are refused with the valid ones."""
    try:
        return TILES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown tile {name!r}; registered tiles: "
                          f"{', '.join(TILES)} (cosim.hw.registry.TILES)") from None


__all__ = ["TILES", "tile_class"]
