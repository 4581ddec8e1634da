"""Tiling: a conductance matrix larger than one crossbar split over tiles.

A (rows, cols) matrix is cut into tiles of at most ``tile_rows x tile_cols`` cells (the
last tile of a row or column block is smaller when the size does not divide).  A forward
read of input ``v`` (one value per row) gives, for column block j,

    I[:, block j] = sum over row blocks i of  tile(i, j).read(v[:, block i])

the per-tile partial sums being added digitally (after each tile's sense amplifier and
ADC in hardware).  Transposed reads swap the roles of rows and columns.  How each tile
computes its partial currents is chosen by name from :data:`TILE_ENGINES`:

``ideal``
    Exact ``v @ G_tile`` (no wire resistance, no device effects).
``native``
    The tile's read netlist (:func:`cosim.hw.crossbar.build_crossbar_read`) solved by the
    native MNA solver, factorized once per tile and conductance state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Mapping

import numpy as np

from cosim.errors import ConfigError
from cosim.hw.crossbar import DIRECTIONS, Direction, _conductances, crossbar_solver

TileEngine = Literal["ideal", "native"]


def tile_slices(n_rows: int, n_cols: int, tile_rows: int, tile_cols: int
                ) -> list[list[tuple[slice, slice]]]:
    """Row and column slices of every tile: ``out[i][j] = (rows_i, cols_j)``."""
    for name, v in (("tile_rows", tile_rows), ("tile_cols", tile_cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{name}={v!r}: give a positive integer number of cells")
    rs = [slice(r, min(r + tile_rows, n_rows)) for r in range(0, n_rows, tile_rows)]
    cs = [slice(c, min(c + tile_cols, n_cols)) for c in range(0, n_cols, tile_cols)]
    return [[(r, c) for c in cs] for r in rs]


def _ideal_engine(g: np.ndarray, direction: str, options: Mapping) -> Callable:
    if options:
        raise ConfigError(f"the ideal tile engine takes no options, got {sorted(options)}")
    mat = g if direction == "forward" else g.T
    return lambda v: v @ mat


def _native_engine(g: np.ndarray, direction: str, options: Mapping) -> Callable:
    solver = crossbar_solver(g, direction=direction, **options)
    return solver.solve


TILE_ENGINES: Mapping[str, Callable] = {"ideal": _ideal_engine, "native": _native_engine}
"""Tile engines by name: each maps (G_tile, direction, options) to a read function
(batch, n_in) V -> (batch, n_out) A."""


@dataclass
class TiledCrossbar:
    """A conductance matrix mapped onto crossbar tiles.

    Parameters
    ----------
    G : array_like, shape (rows, cols)
        Conductances (S).
    tile_rows, tile_cols : int
        Largest tile size (cells).
    engine : {"ideal", "native"}
        How a tile computes its read (:data:`TILE_ENGINES`).
    options : dict
        Keyword options of the engine, e.g. ``wire_resistance_ohm``, ``cell`` for
        ``native`` (see :func:`cosim.hw.crossbar.build_crossbar_read`).
    """

    G: np.ndarray
    tile_rows: int
    tile_cols: int
    engine: TileEngine = "ideal"
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.G = _conductances(self.G)
        if self.engine not in TILE_ENGINES:
            raise ConfigError(f"engine={self.engine!r}: choose one of {sorted(TILE_ENGINES)}")
        self.slices = tile_slices(*self.G.shape, self.tile_rows, self.tile_cols)
        self._readers: dict[tuple[int, int, str], Callable] = {}

    @property
    def grid(self) -> tuple[int, int]:
        """Number of tiles along rows and columns."""
        return len(self.slices), len(self.slices[0])

    def tile(self, i: int, j: int) -> np.ndarray:
        """Conductances of tile (i, j)."""
        rs, cs = self.slices[i][j]
        return self.G[rs, cs]

    def _reader(self, i: int, j: int, direction: str) -> Callable:
        key = (i, j, direction)
        if key not in self._readers:
            self._readers[key] = TILE_ENGINES[self.engine](self.tile(i, j), direction,
                                                           self.options)
        return self._readers[key]

    def read(self, v, direction: Direction = "forward") -> np.ndarray:
        """Tiled read with digital accumulation of the partial sums.

        Parameters
        ----------
        v : array_like, shape (batch, rows) forward or (batch, cols) transposed
            Input voltages (V); a 1-D vector is one input.

        Returns
        -------
        ndarray, shape (batch, cols) forward or (batch, rows) transposed
            Summed sensed currents (A).
        """
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction={direction!r}: choose one of {DIRECTIONS}")
        u = np.asarray(v, dtype=float)
        single = u.ndim == 1
        u = np.atleast_2d(u)
        n_rows, n_cols = self.G.shape
        n_in, n_out = (n_rows, n_cols) if direction == "forward" else (n_cols, n_rows)
        if u.shape[1] != n_in:
            raise ConfigError(f"v has {u.shape[1]} inputs per vector; this {direction} read "
                              f"needs {n_in}")
        out = np.zeros((u.shape[0], n_out))
        for i, row in enumerate(self.slices):
            for j, (rs, cs) in enumerate(row):
                s_in, s_out = (rs, cs) if direction == "forward" else (cs, rs)
                out[:, s_out] += self._reader(i, j, direction)(u[:, s_in])
        return out[0] if single else out
