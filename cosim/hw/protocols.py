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
    the netlists the product used (labelled by tile) and, when a spot check is due, the
    same readout through ngspice (:class:`SpotCheck`).
``build(context)`` (class method)
    the tile of a run, from its :class:`TileContext` (config, cards, readout).

Tiles are registered by name in :data:`cosim.hw.registry.TILES`; the run config names
one (``hardware.architecture``).  The orchestrator talks to the backend through
:class:`Recorder` (what the hardware reports between checkpoints, its state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
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
    """

    state: Any
    outputs: int
    inputs: int
    saturated: int = 0


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
    """What a forward product ran: ``netlists`` as ``(tile label, netlist text)`` in
    index order, and the spot check if one was due."""

    netlists: list[tuple[str, str]] = field(default_factory=list)
    spot: SpotCheck | None = None


@dataclass(frozen=True)
class TileContext:
    """What a tile is built from: the hardware config, its cards, the spice engine.

    Attributes
    ----------
    config : HardwareConfig
    architecture_card : Card
        The architecture card (role ``"bplight"``: weight device, readout averaging,
        optical full scale, crossbar readout bandwidth, ...).
    spice_engine : cosim.spice.SpiceEngine or None
    cache : cosim.store.ResultCache or None
    seed : int
        For the tile's own draws (e.g. static device variations): a tile takes its
        Generator as ``numpy.random.default_rng([seed, ...])`` with entries of its own,
        so the same run gives the same draws (also after a resume).
    """

    config: HardwareConfig
    architecture_card: Any
    spice_engine: Any = None
    cache: Any = None
    seed: int = 0

    def card(self, role: str, default: str):
        """The card of ``role`` (``hardware.cards`` override, else ``default``)."""
        from cosim.devices.cards import load_card

        return load_card(self.config.cards.get(role, default))

    def common(self, *, optical: bool = True) -> dict[str, Any]:
        """The constructor settings every tile takes from the config: tile size,
        converter bits, engines and noise; with ``optical`` also the optical engine and
        the readout characterization (the photonic tiles' shared PD/TIA chain)."""
        c = self.config
        out: dict[str, Any] = {
            "tile_rows": c.tile_rows, "tile_cols": c.tile_cols, "dac_bits": c.dac_bits,
            "adc_bits": c.adc_bits, "electrical_engine": c.electrical_engine,
            "noise": c.noise}
        if optical:
            out.update(optical_engine=c.optical_engine, characterization=self.readout())
        return out

    def readout(self) -> ReadoutCharacterization:
        """The ngspice characterization of the run's readout channel (cached)."""
        from cosim.hw.backend import readout_characterization

        return readout_characterization(self.config, engine=self.spice_engine,
                                        cache=self.cache)


@runtime_checkable
class Tile(Protocol):
    """A kind of compute tile (module docstring).

    Class attributes
    ----------------
    readout : {"photonic", "electronic"}
        Which TIA the readout characterization uses by default: ``"photonic"`` the
        architecture card's ``readout_tia_card`` (designed for the optical link
        budget), ``"electronic"`` the published TIA card ``"tia"``.
    card_roles : tuple of str
        Extra card roles the tile reads (accepted in ``hardware.cards``).
    """

    readout: ClassVar[Literal["photonic", "electronic"]]
    card_roles: ClassVar[tuple[str, ...]]

    @classmethod
    def build(cls, context: TileContext) -> Tile:
        """The tile of a run."""
        ...

    def load(self, a_raw: np.ndarray, scale: float, phase: Phase, *,
             transpose_of: Loaded | None = None) -> Loaded:
        """Program ``clip(a_raw / scale, -1, 1)`` (m, k); in the ``"gradient"`` phase
        quantized to ``dac_bits`` first.  ``transpose_of``: a state loaded from
        ``a_raw.T`` at the same scale, which the tile may re-tile instead of
        programming anew."""
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
        """The netlists of a forward product (``u``, ``samples`` as it gave them) and,
        if ``spot``, its spot check."""
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

    def signal_samples(self) -> dict[str, dict[str, np.ndarray]]: ...

    def stats_table(self) -> list[dict]:
        """Counter rows (HardwareStats.as_table) since the last call."""
        ...

    def state_dict(self) -> dict | None: ...

    def load_state_dict(self, state: dict) -> None: ...


__all__ = ["COUNTERS", "Circuits", "Loaded", "Phase", "Recorder", "SpotCheck", "Tile",
           "TileContext"]
