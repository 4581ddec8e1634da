"""The two interfaces of the hardware layer: :class:`Tile` and :class:`Recorder`.

A **tile** is the model of one kind of compute array (an MRR weight bank, a memristor
crossbar, an MZI mesh, ...) together with its converters and readout, over as many
physical tiles as a product needs.  :class:`cosim.hw.backend.HardwareBackend` does
everything that does not depend on the kind of tile (weight full scale, DAC scaling of
the inputs, the per-row digital rescaling, caching of weight states, probes, spot-check
scheduling, recording) and hands the rest to a :class:`Tile` through four methods:

``load(a_raw, scale, phase)``
    program a weight state: the tile holds ``clip(a_raw / scale, -1, 1)`` (values beyond
    full scale counted); in the ``"gradient"`` phase the pattern is a temporary one,
    quantized to the DAC resolution (sign-magnitude) before it is loaded.
``matmul(u, loaded, ...)``
    ``u @ a.T`` of a batch of DAC levels ``u`` (b, k) in [-1, 1] on the loaded state,
    (b, m), each row times ``row_scale`` (the operands' units); counters added into
    ``counts`` (keys :data:`COUNTERS`), signals of the first tile into ``samples``.
``circuits(loaded, u, samples, spot=...)``
    the circuits the product used: the first tile's as a template with the product's
    stimulus and outputs (:class:`cosim.hw.records.CircuitRecord`), netlists that carry
    their own stimulus (labelled by tile) and, when a spot check is due, the same
    readout through ngspice (:class:`SpotCheck`).  Called for every product, of every
    phase.
``build(context)`` (class method)
    the tile of a run, from its :class:`TileContext` (config, cards, readout).

Tiles are registered by name in :data:`cosim.hw.registry.TILES`; a design names
one (its ``tile`` value).  The orchestrator talks to the backend through
:class:`Recorder` (what the hardware reports between checkpoints, its state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from cosim.design import Design
    from cosim.hw.backend import HardwareConfig
    from cosim.readout import ReadoutCharacterization

#: The three products of a layer (cosim.hw.backend module docstring).
Phase = Literal["forward", "backward", "gradient"]
#: Per-product counters a tile adds into ``counts`` (HardwareStats columns).
COUNTERS: tuple[str, ...] = ("samples", "saturated_tia", "clipped_adc", "below_noise_floor")


@dataclass
class Loaded:
    """A weight state on the tiles.

    Attributes
    ----------
    state : object
        Whatever the tile needs to compute products with it (its own type).
    outputs : int
        Outputs ``m`` of a product (rows of the loaded matrix).
    inputs : int
        Inputs ``k`` of a product (columns of the loaded matrix).
    saturated : int
        Entries beyond full scale, held at +-1 (counted per product as
        ``saturated_weights``).
    retune : dict
        What programming this state cost, recorded once per load (not per product)
        under the load columns of :data:`cosim.hw.stats.LOAD_COLUMNS` (``retunes``,
        ``calibration_iterations``, ``calibration_residual``, ``heater_power_w``,
        ``link_power_w``); empty for a tile that reports none.
    """

    state: Any
    outputs: int
    inputs: int
    saturated: int = 0
    retune: dict = field(default_factory=dict)


@dataclass
class SpotCheck:
    """A readout computed by the tile's fast engine and by ngspice on the same inputs.

    Attributes
    ----------
    twin, spice : ndarray
        The two results (V for a TIA output, A for a current).
    netlist : str
        The circuit ngspice ran.
    full_scale : float
        The unit of the relative error (same unit as ``twin``).
    listed : bool
        The netlist is already one of the product's :attr:`Circuits.netlists` (else
        it is indexed under the tile label ``"spot_check"``).
    noise_std_ratio : float or None
        When the tile also checked its noise (cosim.hw.noise_check): the twin/spice
        ratio of the reads' standard deviations farthest from 1 (NaN if no output
        could be checked); None when not checked.
    """

    twin: np.ndarray
    spice: np.ndarray
    netlist: str
    full_scale: float
    listed: bool = False
    noise_std_ratio: float | None = None


@dataclass
class Circuits:
    """What a product ran: ``netlists`` as ``(tile label, netlist text)`` of circuits
    that carry their own stimulus (a spice engine's run, a spot check's read), in index
    order; ``records``, the first tile's circuit as a template with the product's
    stimulus and outputs (:class:`cosim.hw.records.CircuitRecord`, or a
    :class:`cosim.hw.records.PendingRecord` that builds it when it is kept; none where
    no circuit stands for the engine, e.g. an ideal readout); and the spot check if one
    was due."""

    netlists: list[tuple[str, str]] = field(default_factory=list)
    spot: SpotCheck | None = None
    records: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TileContext:
    """What a tile is built from: the design, the simulation settings, the spice engine.

    Attributes
    ----------
    config : HardwareConfig
        The simulation settings (engines, noise switch, spot checks).
    design : cosim.design.Design
        The accelerator: design values (``design["tile_rows"]``) and the card of each
        role (:meth:`card`).
    spice_engine : cosim.spice.SpiceEngine or None
    cache : cosim.store.ResultCache or None
    seed : int
        For the tile's own draws (e.g. static device variations): a tile takes its
        Generator as ``numpy.random.default_rng([seed, ...])`` with entries of its own,
        so the same run gives the same draws (also after a resume).
    """

    config: HardwareConfig
    design: Design
    spice_engine: Any = None
    cache: Any = None
    seed: int = 0

    def card(self, role: str):
        """The design's card of ``role`` (cosim.design.ROLES)."""
        return self.design.role_card(role)

    def common(self, *, optical: bool = True) -> dict[str, Any]:
        """The constructor settings every tile takes: tile size and converter bits from
        the design, engines and noise from the simulation settings; with ``optical``
        also the optical engine and the readout characterization (the photonic tiles'
        shared PD/TIA chain)."""
        c, d = self.config, self.design
        out: dict[str, Any] = {
            "tile_rows": int(d["tile_rows"]), "tile_cols": int(d["tile_cols"]),
            "dac_bits": int(d["converters.dac_bits"]),
            "adc_bits": int(d["converters.adc_bits"]),
            "electrical_engine": c.electrical_engine, "noise": c.noise}
        if optical:
            out.update(optical_engine=c.optical_engine, characterization=self.readout())
        return out

    def readout(self) -> ReadoutCharacterization:
        """The ngspice characterization of the design's readout channel (cached)."""
        from cosim.hw.backend import readout_characterization

        return readout_characterization(self.design, engine=self.spice_engine,
                                        cache=self.cache)


@runtime_checkable
class Tile(Protocol):
    """A kind of compute tile (module docstring).

    Class attributes
    ----------------
    card_roles : tuple of str
        The design roles (cosim.design.ROLES) whose cards the tile reads besides the
        shared readout (photodetector, tia, converters) and the weight device.
    backward_reads : tuple of str
        The mappings of the backward product the tile simulates (the design value
        ``backward_weights``, cosim.design.CHOICES), checked when a design is loaded.
    """

    card_roles: ClassVar[tuple[str, ...]]
    backward_reads: ClassVar[tuple[str, ...]]

    @classmethod
    def build(cls, context: TileContext) -> Tile:
        """The tile of a run."""
        ...

    def load(self, a_raw: np.ndarray, scale: float, phase: Phase, *,
             transpose_of: Loaded | None = None, layer: str = "") -> Loaded:
        """Program ``clip(a_raw / scale, -1, 1)`` (m, k); in the ``"gradient"`` phase
        quantized to ``dac_bits`` first.  ``transpose_of``: a state loaded from
        ``a_raw.T`` at the same scale, which the tile may re-tile instead of
        programming anew.  ``layer``: the layer whose state this replaces (a tile may
        start from that layer's previous state, e.g. a calibration's warm start)."""
        ...

    def state_dict(self) -> dict:
        """``{"arrays": {name: ndarray}, "meta": JSON-able dict}``: what the tile keeps
        between loads that a resumed run needs to continue bit-identically."""
        ...

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...

    def matmul(self, u: np.ndarray, loaded: Loaded, *, rng: np.random.Generator | None,
               counts: dict[str, int], samples: dict | None = None,
               lit: tuple[bool, bool] | None = None,
               row_scale: np.ndarray | None = None) -> np.ndarray:
        """``u @ a.T`` (b, m) of DAC levels ``u`` (b, k) in [-1, 1], each row ``i``
        times ``row_scale[i]`` if given.  ``lit``: ``(any u > 0, any u < 0)`` if
        known."""
        ...

    def circuits(self, loaded: Loaded, u: np.ndarray, samples: dict, *,
                 spot: bool) -> Circuits:
        """The circuits of a product (``u``, ``samples`` as it gave them: the records
        of its first tile) and, if ``spot``, its spot check."""
        ...


@runtime_checkable
class Recorder(Protocol):
    """What the orchestrator asks of a matmul backend besides the products: the step,
    the error probe, what was recorded since the last call, checkpoint state."""

    def set_step(self, step: int) -> None: ...

    def set_probe(self, on: bool) -> None: ...

    def spot_checks(self) -> list[dict]: ...

    def product_errors(self) -> list[dict]: ...

    def netlists(self) -> dict[str, str]: ...

    def tile_netlist_index(self) -> list[dict]: ...

    def circuit_records(self, *, keep: bool = True) -> list[dict]:
        """Records of tile circuits with their stimulus since the last call
        (``keep=False``: forget them unbuilt and return none)."""
        ...

    def signal_samples(self) -> dict[str, dict[str, np.ndarray]]: ...

    def stats_table(self) -> list[dict]:
        """Counter rows (HardwareStats.as_table) since the last call."""
        ...

    def state_dict(self) -> dict | None: ...

    def load_state_dict(self, state: dict) -> None: ...


def reads_transposed(tile: type, backward_weights: str) -> bool:
    """Whether a tile of class ``tile`` reads its forward state for the backward product
    (``backward_weights = "transposed_read"``) rather than programming a copy; a mapping
    not in ``tile.backward_reads`` is refused, naming those."""
    from cosim.errors import ConfigError

    if backward_weights not in tile.backward_reads:
        raise ConfigError(f"backward_weights={backward_weights!r}: choose one of "
                          f"{', '.join(tile.backward_reads)}")
    return backward_weights == "transposed_read"


__all__ = ["COUNTERS", "Circuits", "Loaded", "Phase", "Recorder", "SpotCheck", "Tile",
           "TileContext", "reads_transposed"]
