"""The hardware matmul backend and :func:`build_hardware`: every product on a tile model.

Architectures (:data:`ARCHITECTURES`):

* ``"ideal"``: :class:`IdealHardware` (:class:`cosim.nn.IdealBackend`) and
  :class:`cosim.nn.ArrayWeightStore`, exactly what plain training uses (bit for bit).
* every tile of :data:`cosim.hw.registry.TILES`, with memristor-held weights
  (:mod:`cosim.hw.weights`): ``"bplight"`` photonic tiles (:mod:`cosim.hw.photonic`:
  DAC -> MRR bank -> balanced PD + TIA -> ADC), ``"electronic"`` memristor crossbar
  tiles (:mod:`cosim.hw.crossbar_tile`), ...

:class:`HardwareBackend` knows tiles only through :class:`cosim.hw.protocols.Tile`.

Mapping of the three products of a layer with weights W (n_out, n_in):

==========  ==========================  ====================================================
phase       tile weights (m, k)         streamed inputs (b, k)
==========  ==========================  ====================================================
forward     ``W / w_max``               X (rows, n_in)                 -> Y (rows, n_out)
backward    ``W.T / w_max``             dY (rows, n_out)               -> dX (rows, n_in)
gradient    ``dY.T / max|dY|``          X.T (n_in, rows)               -> dW.T (n_in, n_out)
==========  ==========================  ====================================================

Input full scale (``dac_scale``).  ``"row"`` (default, a design assumption): each input
vector (row of U) gets its own power-of-two full scale, ``s_i = 2**e_i`` with ``max_j
|U_ij| = f 2**e_i``, ``f`` in [0.5, 1) -- block floating point with one exponent per
vector, a shift in the digital front end -- so its largest entry drives the modulators
to at least half their range, and the outputs of row ``i`` are multiplied by ``s_i``
again (a shift).  ``"call"``: one full scale ``max|U|`` for the whole product; a row
whose entries are all far below the product's largest (sparse, heavy-tailed
backpropagated errors) then sits near the readout noise floor: on the reduced LeNet-5
the backward product of conv2 errs by 23 % rms with it and by 3.2 % per row (median
over 40 steps of the second epoch at the demo settings).

``w_max`` is the layer's weight full scale: the device store's (``headroom x max|W_0|``,
fixed at programming), or, with float weights, the same rule applied when the backend
first sees the layer.  Weights beyond it are held at +-1 and counted
(``saturated_weights``).  The gradient's ``delta^T`` is loaded as a temporary weight
pattern (assumption: the tuning is fast enough to load a new pattern per product, and it
is quantized to ``dac_bits``, sign-magnitude), and ``x`` is streamed.  Bank transfers
(photonic) and array factorizations (crossbar) are computed once per weight state and
reused while the weights do not change (crossbar: exact transfer matrices, one matrix
product per tile).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Literal

import numpy as np

from cosim.errors import ConfigError
from cosim.hw import kernels
from cosim.hw.protocols import COUNTERS, Loaded, Phase, Tile, TileContext
from cosim.hw.records import PendingRecord
from cosim.hw.registry import TILES, tile_class
from cosim.hw.stats import HardwareStats
from cosim.nn.backend import ArrayWeightStore, IdealBackend

if TYPE_CHECKING:
    from cosim.design import Design

#: ``"ideal"`` (float arithmetic) and the registered tiles (cosim.hw.registry.TILES)
ARCHITECTURES: tuple[str, ...] = ("ideal", *TILES)
OPTICAL_ENGINES: tuple[str, ...] = ("ideal", "twin")
ELECTRICAL_ENGINES: tuple[str, ...] = ("ideal", "twin", "spice")
#: Keys of ``[hardware]`` that moved into the design (cosim.design), with their new
#: dotted name: old run files are translated (:func:`legacy_design_overrides`), a user
#: config using one is refused with the new name.
MOVED_TO_DESIGN: dict[str, str] = {
    "architecture": "tile", "dac_bits": "converters.dac_bits",
    "adc_bits": "converters.adc_bits", "tile_rows": "tile_rows", "tile_cols": "tile_cols",
    "laser_power_per_channel_w": "laser_power_per_channel_w",
    "wire_resistance_ohm": "crossbar.wire_resistance_crosspoint_ohm",
    "dac_scale": "dac_scale", "cards": "<role>_card"}


@dataclass(frozen=True)
class HardwareConfig:
    """How the products of a design are simulated (validated, frozen).

    The accelerator itself (tile kind, tile size, converters, readout, devices) is the
    design (:class:`cosim.design.Design`, the run config's ``[design]``); this holds the
    simulation choices: which engine computes each domain, spot checks, and switches to
    study an effect by turning it off.

    Attributes
    ----------
    optical_engine : {"ideal", "twin"}
    electrical_engine : {"ideal", "twin", "spice"}
    spot_check : float in [0, 1]
        Fraction of (layer, step) forward products also run in ngspice.
    noise : bool
        Readout noise and laser RIN (and crossbar TIA noise).
    weights_on_devices : bool
        Weights held by memristors (pulse updates) or plain float arrays.
    noise_check_reads : int
        With noise on, each spot check of a photonic tile also reads one input this many
        times by the twin and by an ngspice transient with the cards' noise
        (cosim.hw.noise_check) and records the ratio of their standard deviations
        (``noise_std_ratio``); 0 = off (each check costs seconds of ngspice).
    """

    optical_engine: Literal["ideal", "twin"] = "twin"
    electrical_engine: Literal["ideal", "twin", "spice"] = "twin"
    spot_check: float = 0.0
    noise: bool = True
    weights_on_devices: bool = True
    noise_check_reads: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ConfigError:
            return ConfigError(f"hardware.{name}={getattr(self, name)!r}: {rule}")

        for name, allowed in (("optical_engine", OPTICAL_ENGINES),
                              ("electrical_engine", ELECTRICAL_ENGINES)):
            if getattr(self, name) not in allowed:
                raise bad(name, f"choose one of {', '.join(allowed)}")
        sc = self.spot_check
        if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not 0 <= sc <= 1:
            raise bad("spot_check", "give a fraction from 0 to 1")
        for name in ("noise", "weights_on_devices"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "give true or false")
        n = self.noise_check_reads
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 10_000_000:
            raise bad("noise_check_reads", "give a whole number of reads >= 0 (0 = off)")

    def as_dict(self) -> dict:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "hardware") -> HardwareConfig:
        """Build from a dict; unknown keys are refused with their path."""
        moved = [k for k in data if k in MOVED_TO_DESIGN]
        if moved:
            raise ConfigError(moved_message(where, moved[0]))
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; "
                              f"valid: {', '.join(sorted(names))}")
        return cls(**data)


def moved_message(where: str, key: str) -> str:
    """The message for a ``[hardware]`` key that is a design value now."""
    return (f"{where}.{key} is a design value now: set design.{MOVED_TO_DESIGN[key]} "
            "instead (`cosim design show` lists the design's values)")


def legacy_design_overrides(hardware: dict) -> tuple[str, dict]:
    """``(design name, overrides)`` equivalent to the physical keys of an old run file's
    ``hardware`` table (removed from it)."""
    arch = hardware.pop("architecture", "bplight")
    name = arch if arch in ("ideal", "electronic") else "bplight"
    out: dict = {}
    if arch not in ("ideal", "bplight", "electronic"):
        out["tile"] = arch
    for key in ("dac_bits", "adc_bits", "tile_rows", "tile_cols", "dac_scale",
                "laser_power_per_channel_w", "wire_resistance_ohm"):
        value = hardware.pop(key, None)
        if value is not None:
            out[MOVED_TO_DESIGN[key]] = value
    for role, card in (hardware.pop("cards", None) or {}).items():
        out[f"{'weight' if role == 'memristor' else role}_card"] = card
    return name, out


# ----------------------------------------------------------------------------- building
_CHARACTERIZATIONS: dict = {}


def readout_characterization(design: Design, *, engine=None, cache=None):
    """The ngspice characterization of the readout channel of ``design`` (its
    photodetector, tia and converters cards; once per process and spec, through the
    HDF5 result cache)."""
    from cosim.readout import ReadoutSpec, characterize

    spec = ReadoutSpec.from_cards(photodetector=design.role_card("photodetector"),
                                  tia=design.role_card("tia"),
                                  converters=design.role_card("converters"))
    if spec not in _CHARACTERIZATIONS:
        _CHARACTERIZATIONS[spec] = characterize(spec, cache=cache, engine=engine)
    return _CHARACTERIZATIONS[spec]


def _design(design: Design | str | None) -> Design:
    from cosim.design import Design, load_design

    if design is None or isinstance(design, str):
        return load_design(design or "bplight")
    if not isinstance(design, Design):
        raise ConfigError(f"give a cosim.design.Design or a design name, got "
                          f"{type(design).__name__}")
    return design


def build_hardware(config: HardwareConfig, model, rng: np.random.Generator, *,
                   design: Design | str | None = None, engine=None, cache=None):
    """Backend and weight store for ``model`` on ``design``, simulated as ``config`` says.

    Parameters
    ----------
    config : HardwareConfig
        The simulation settings (engines, spot checks, noise switch).
    model : cosim.nn.Sequential
        If its present store already holds every parameter, they are programmed into the
        new store (so the hardware starts from the model's initial weights).
    rng : numpy.random.Generator
        Seeds the backend's noise and spot-check draws and the store's device draws
        (three integers are taken from it).
    design : cosim.design.Design or str, optional
        The accelerator (default: the shipped ``"bplight"`` design).
    engine : cosim.spice.SpiceEngine, optional
        For the readout characterization, the spice engine and spot checks.
    cache : cosim.store.ResultCache, optional

    Returns
    -------
    (backend, store)
        tile ``"ideal"``: ``(IdealHardware(), ArrayWeightStore())``; otherwise a
        :class:`HardwareBackend` and a :class:`~cosim.hw.weights.DeviceWeightStore` (or
        an ``ArrayWeightStore`` with ``weights_on_devices=False``).
    """
    if not isinstance(config, HardwareConfig):
        raise ConfigError("build_hardware needs a HardwareConfig")
    if not isinstance(rng, np.random.Generator):
        raise ConfigError("build_hardware needs rng=numpy.random.default_rng(seed)")
    design = _design(design)
    existing = getattr(model, "store", None)
    shapes = model.param_shapes()
    have = existing is not None and all(n in existing.names() for n in shapes)

    if design.tile == "ideal":
        store = ArrayWeightStore()
        if have:
            for name in shapes:
                store.set_weight(name, np.array(existing.weight(name)))
        return IdealHardware(), store

    from cosim.hw.weights import DeviceWeightStore, programming_params_for

    seeds = rng.integers(0, 2 ** 63 - 1, size=3)
    stats = HardwareStats()
    headroom = float(design["weight_headroom"])
    params = programming_params_for(
        design.role_card("weight"), pulses=int(design["weight_pulses"]),
        nonlinearity=float(design["weight_nonlinearity"]),
        c2c_sigma_frac=float(design["weight_c2c_sigma_frac"]))
    device, policy = design.weight_device(), str(design["update_policy"])
    if config.weights_on_devices and device is None and policy == "pulse":
        store = DeviceWeightStore(params, np.random.default_rng(int(seeds[0])),
                                  headroom=headroom, scheme=str(design["update_scheme"]),
                                  stats=stats)
    elif config.weights_on_devices:       # a weight-device card and/or another policy
        from cosim.devices.weight_device import device_from_params
        from cosim.hw.policies import make_weight_store, policy_params_from_design

        store = make_weight_store(
            device_from_params(params) if device is None else device, policy,
            policy_params_from_design(policy, design),
            np.random.default_rng(int(seeds[0])), headroom=headroom,
            scheme=str(design["update_scheme"]), stats=stats)
    else:
        store = ArrayWeightStore()
    if have:
        for name in shapes:
            store.set_weight(name, np.array(existing.weight(name)))

    tiles = tile_class(design.tile).build(
        TileContext(config, design, spice_engine=engine, cache=cache, seed=int(seeds[2])))
    backend = HardwareBackend(config, tiles, store, np.random.default_rng(int(seeds[1])),
                              spot_seed=int(seeds[2]), headroom=headroom, stats=stats,
                              spice_engine=engine, design=design)
    return backend, store


# ----------------------------------------------------------------------------- backend
def _dac_signed(U: np.ndarray, s_x, bits: int, signed: bool = True,
                out: np.ndarray | None = None) -> tuple[np.ndarray, tuple[bool, bool]]:
    """``sign(U) dac_levels(|U| / s_x, bits)`` in one pass (:func:`cosim.hw.kernels.
    dac_signed`; ``|U| / s_x`` is already in [0, 1]) for U (b, k) C-ordered or
    column-major (a transposed view), into ``out`` (C-contiguous) if given.  ``s_x``:
    the full scale, one number or one per row (at least the row's ``max_j |U[i, j]|``;
    a row of scale 0 gives zeros).  Pass ``signed=False`` when U has no negative entry
    (the sign is then skipped).  Returns ``(levels, (any level > 0, any level < 0))``."""
    out = np.empty(U.shape) if out is None else out
    s_rows = np.broadcast_to(np.asarray(s_x, dtype=float), (U.shape[0],))
    lit = kernels.sized(kernels.dac_signed, 2 * U.size, U, np.ascontiguousarray(s_rows),
                        float(2 ** int(bits) - 1), bool(signed), out)
    return out, (bool(lit[0]), bool(lit[1]))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _state_digest(a: np.ndarray, scale: float) -> str:
    """sha256 of a weight state (its shape, bytes and scale): what a checkpoint records
    of the states held on the tiles."""
    import hashlib

    a = np.ascontiguousarray(a, dtype=float)
    h = hashlib.sha256(repr((a.shape, float(scale))).encode())
    h.update(a.tobytes())
    return h.hexdigest()


class HardwareBackend:
    """Implements cosim.nn's MatmulBackend on tile models (see the module docstring).

    Build it with :func:`build_hardware`.  Attributes: ``stats`` (:class:`HardwareStats`),
    ``config``, ``tiles`` (the :class:`cosim.hw.protocols.Tile`), ``step`` (set by
    :meth:`set_step`).  Implements :class:`cosim.hw.protocols.Recorder`.
    """

    def __init__(self, config: HardwareConfig, tiles: Tile, store, rng: np.random.Generator, *,
                 spot_seed: int, headroom: float, stats: HardwareStats | None = None,
                 spice_engine=None, design: Design | None = None) -> None:
        self.config = config
        self.design = _design(design)
        self.dac_bits = int(self.design["converters.dac_bits"])
        self.dac_scale = str(self.design["dac_scale"])
        self.gradient_on = str(self.design["gradient_on"])
        self.tiles = tiles
        self.store = store
        self.rng = rng
        self.spot_seed = int(spot_seed)
        self.headroom = float(headroom)
        self.stats = HardwareStats() if stats is None else stats
        self.spice_engine = spice_engine
        self.step = 0
        self._w_scale: dict[str, float] = {}
        # (layer, phase) -> (weights as given, their scale, the loaded state)
        self._loaded: dict[tuple[str, str], tuple[np.ndarray, float, Loaded]] = {}
        #: (layer, phase) -> digest of the weight state a checkpoint says was loaded
        self._restored: dict[tuple[str, str], str] = {}
        self._spot: list[dict] = []
        self._netlists: dict[str, str] = {}
        self._index: list[dict] = []
        # (layer, phase, tile) -> (step, CircuitRecord) of the last product
        self._records: dict[tuple[str, str, str], tuple[int, object]] = {}
        self._samples: dict[str, dict[str, np.ndarray]] = {}
        self._shas: dict[str, str] = {}          # netlist text -> sha256 (memo)
        self._buffers: dict[tuple[str, str, str], np.ndarray] = {}
        # layer -> (forward input X, its column maxima, min X), for the gradient's X.T
        self._col_peaks: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        self.probe = False           # compare each product with the exact one (set_probe)
        self._errors: list[dict] = []

    # --- MatmulBackend -------------------------------------------------------------
    def forward(self, layer_name: str, W: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``X @ W.T`` on the tiles: X (rows, n_in), W (n_out, n_in) -> (rows, n_out)."""
        scale = self._weight_scale(layer_name, W)
        return self._product(layer_name, "forward", X, W, scale)

    def backward(self, layer_name: str, W: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """``dY @ W`` on the tiles (transposed mapping): -> (rows, n_in)."""
        scale = self._weight_scale(layer_name, W)
        return self._product(layer_name, "backward", dY, W.T, scale)

    def gradient(self, layer_name: str, dY: np.ndarray, X: np.ndarray) -> np.ndarray:
        """``dY.T @ X``: delta^T as a temporary weight pattern, x streamed -> (n_out, n_in)."""
        s_d = max(float(dY.max()), -float(dY.min())) if dY.size else 0.0   # max |dY|
        if not math.isfinite(s_d):
            raise ConfigError(f"{layer_name}: the backpropagated error is not finite: the "
                              "training diverged; lower the learning rate")
        if s_d == 0:
            return np.zeros((dY.shape[1], X.shape[1]))
        if self.gradient_on == "digital":       # an exact digital MAC unit (the design)
            self.stats.add(layer_name, "gradient", products=1)
            return dY.T @ X
        return self._product(layer_name, "gradient", X.T, dY.T, s_d).T

    # --- the product -----------------------------------------------------------------
    def _weight_scale(self, layer: str, W: np.ndarray) -> float:
        w_max = getattr(self.store, "w_max", None)
        if w_max is not None:
            try:
                return float(w_max(layer))
            except ConfigError:
                pass
        if layer not in self._w_scale:
            peak = float(np.max(np.abs(W))) if W.size else 0.0
            self._w_scale[layer] = self.headroom * peak if peak > 0 else 1.0
        return self._w_scale[layer]

    def _load(self, layer: str, phase: Phase, A: np.ndarray, scale: float) -> Loaded:
        """``A / scale`` on the tiles: a weight state is loaded once and reused while
        the weights (and their scale) do not change, compared by value (so weights the
        store has programmed since can never meet the state of their old values); a
        backward product of the forward
        product's weights is offered the forward state to re-tile; the gradient's
        pattern is loaded at every product.  Each load (a retune) records the tile's
        report (:attr:`cosim.hw.protocols.Loaded.retune`) in the counters."""
        if phase == "gradient":
            loaded = self.tiles.load(A, scale, phase, layer=layer)
            self.stats.add_load(layer, phase, loaded.retune)
            return loaded
        hit = self._loaded.get((layer, phase))
        if hit is not None and hit[1] == scale and hit[0].shape == A.shape and \
                np.array_equal(hit[0], A):
            return hit[2]
        fwd = self._loaded.get((layer, "forward"))
        like = None
        if phase == "backward" and fwd is not None and fwd[1] == scale and \
                fwd[0].shape == A.T.shape and np.array_equal(fwd[0], A.T):
            like = fwd[2]
        loaded = self.tiles.load(A, scale, phase, transpose_of=like, layer=layer)
        restored = self._restored.pop((layer, phase), None)
        if restored is None or restored != _state_digest(A, scale):
            self.stats.add_load(layer, phase, loaded.retune)  # a retune of the rings
        # (else: the state the interrupted run held, rebuilt after a resume: no retune)
        self._loaded[(layer, phase)] = (A.copy(), scale, loaded)
        return loaded

    def _product(self, layer: str, phase: Phase, U: np.ndarray, A: np.ndarray,
                 a_scale: float) -> np.ndarray:
        """``U @ A.T`` with ``A / a_scale`` on the tiles; U (b, k), A (m, k) -> (b, m)."""
        U = np.asarray(U, dtype=float)     # (the gradient's X.T: a column-major view)
        A = np.asarray(A, dtype=float)
        b, m = U.shape[0], A.shape[0]
        loaded = self._load(layer, phase, A, a_scale)
        over = loaded.saturated
        counts = dict.fromkeys(COUNTERS, 0)
        levelled = self._row_levels(layer, phase, U)
        if levelled is not None:              # peaks, scales and levels in one pass
            u, s_x, lit = levelled
            dark = not s_x.any()              # (finite inputs: every row's peak 0)
        else:
            peaks, u_min = self._row_peaks(layer, phase, U)  # max |U| per row, min U
            s_x = float(np.max(peaks)) if U.size else 0.0
            dark = s_x == 0
            if not dark and self.dac_scale == "row":     # one power of two per row
                s_x = peaks
                s_x[:] = np.where(s_x > 0, np.ldexp(1.0, np.frexp(s_x)[1]), 0.0)
        if dark:
            self.stats.add(layer, phase, products=1, saturated_weights=over)
            return np.zeros((b, m))
        if levelled is None:
            u, lit = _dac_signed(U, s_x, self.dac_bits, signed=u_min < 0,
                                 out=self._scratch(layer, phase, "dac", U.shape))
        samples: dict = {}       # the first tile's signals (small copies)
        row_scale = np.broadcast_to(np.multiply(s_x, a_scale), (b,))
        y = self.tiles.matmul(u, loaded, rng=self.rng, counts=counts, samples=samples,
                              lit=lit, row_scale=row_scale)
        self.stats.add(layer, phase, products=1, saturated_weights=over, **counts)
        if phase == "forward":
            self._samples[layer] = samples
        self._record_circuits(layer, phase, loaded, u, samples)
        if self.probe:
            self._probe(layer, phase, y, U @ A.T)
        return y

    def _row_levels(self, layer: str, phase: str, U: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, tuple[bool, bool]] | None:
        """``(DAC levels, full scale per row, (any level > 0, any level < 0))`` of a
        C-ordered input with one power-of-two full scale per row (``dac_scale =
        "row"``), each row read once (:func:`cosim.hw.kernels.row_dac`: the numbers of
        :meth:`_row_peaks` then :func:`_dac_signed`, bit for bit; a forward product's
        column maxima are kept for its gradient as there); None where that pass does
        not apply or does not give those numbers (a NaN or an infinite input): the
        caller then takes the two passes."""
        if self.dac_scale != "row" or phase == "gradient" or U.ndim != 2 or \
                not U.size or not U.flags.c_contiguous:
            return None
        scales = self._scratch(layer, phase, "scale", (U.shape[0],))
        out = self._scratch(layer, phase, "dac", U.shape)
        cols = np.empty(U.shape[1]) if phase == "forward" else np.zeros(0)
        u_min, pos, neg, exact = kernels.sized(
            kernels.row_dac, 2 * U.size, U, float(2 ** int(self.dac_bits) - 1), out,
            scales, cols)
        if not exact:
            return None
        if cols.size:
            self._col_peaks[layer] = (U, cols, u_min)
        return out, scales, (bool(pos), bool(neg))

    def _row_peaks(self, layer: str, phase: str, U: np.ndarray) -> tuple[np.ndarray, float]:
        """``max_j |U[i, j]|`` per row (a scratch array) and ``min U``.  A forward
        product's C-ordered input X also yields its column maxima in the same pass:
        they are the row peaks of the gradient's ``X.T``, which the same layer's
        gradient then takes instead of reading X again (a layer hands its gradient the
        input of its forward product, unchanged)."""
        peaks = self._scratch(layer, phase, "scale", (U.shape[0],))
        if not U.size:
            return peaks, 0.0
        if phase == "gradient":
            held = self._col_peaks.pop(layer, None)
            if held is not None and held[0].T.shape == U.shape and \
                    held[0].ctypes.data == U.ctypes.data and held[0].T.strides == U.strides:
                return held[1], held[2]
        cols = np.zeros(0)
        if phase == "forward" and U.ndim == 2 and U.flags.c_contiguous:
            cols = np.empty(U.shape[1])
        u_min = kernels.sized(kernels.row_abs_max, U.size, U, peaks, cols)
        if cols.size and math.isfinite(u_min):
            self._col_peaks[layer] = (U, cols, u_min)
        return peaks, u_min

    def _probe(self, layer: str, phase: str, y: np.ndarray, exact: np.ndarray) -> None:
        norm = float(np.linalg.norm(exact))
        if norm > 0:
            self._errors.append({"layer": layer, "phase": phase, "step": self.step,
                                 "rel_rms_error": float(np.linalg.norm(y - exact)) / norm})

    def _scratch(self, layer: str, phase: str, what: str, shape: tuple) -> np.ndarray:
        """:func:`cosim.hw.kernels.work_array` kept per (layer, phase, what)."""
        return kernels.work_array(self._buffers, (layer, phase, what), shape)

    # --- netlists and spot checks ------------------------------------------------------
    def _spot_due(self, layer: str) -> bool:
        if self.config.spot_check <= 0:
            return False
        r = np.random.default_rng([self.spot_seed, self.step, zlib.crc32(layer.encode())])
        return bool(r.random() < self.config.spot_check)

    def _add_netlist(self, layer: str, phase: str, tile: str, text: str) -> str:
        sha = self._sha(text)
        self._netlists[sha] = text
        self._index.append({"layer": layer, "phase": phase, "step": self.step,
                            "tile": tile, "sha256": sha})
        return sha

    def _sha(self, text: str) -> str:
        """sha256 of a netlist text (kept: a tile hands the same text every step)."""
        sha = self._shas.get(text)
        if sha is None:
            if len(self._shas) > 256:
                self._shas.clear()
            sha = self._shas[text] = _sha(text)
        return sha

    def _record_circuits(self, layer: str, phase: str, loaded: Loaded, u: np.ndarray,
                         samples: dict) -> None:
        """Index the netlists of a product and keep its circuit records (the last of
        each layer, phase and tile until :meth:`circuit_records` is called); record its
        spot check if due (forward products)."""
        spot_due = phase == "forward" and self._spot_due(layer)
        circuits = self.tiles.circuits(loaded, u, samples, spot=spot_due)
        for tile, text in circuits.netlists:
            self._add_netlist(layer, phase, tile, text)
        for rec in circuits.records:
            self._records[(layer, phase, rec.tile)] = (self.step, rec)
        spot = circuits.spot
        if spot is not None:
            sha = self._sha(spot.netlist) if spot.listed else \
                self._add_netlist(layer, phase, "spot_check", spot.netlist)
            self._spot_record(layer, spot.twin, spot.spice, sha, spot.full_scale,
                              spot.noise_std_ratio)

    def _spot_record(self, layer: str, twin: np.ndarray, spice: np.ndarray, sha: str,
                     full_scale: float, noise_std_ratio: float | None = None) -> None:
        err = float(np.max(np.abs(twin - spice))) if twin.size else 0.0
        rec = {"layer": layer, "phase": "forward", "step": self.step,
               "max_abs_error": err, "rel_error": err / full_scale, "netlist_sha256": sha}
        if noise_std_ratio is not None:
            rec["noise_std_ratio"] = float(noise_std_ratio)
        self._spot.append(rec)

    # --- run-store interface -------------------------------------------------------
    def spot_checks(self) -> list[dict]:
        """Twin-vs-spice records since the last call: ``{"layer", "phase", "step",
        "max_abs_error" (V for photonic readouts, A for crossbar currents), "rel_error"
        (of the ADC half range / full-scale current), "netlist_sha256"}``, plus
        ``"noise_std_ratio"`` when the tile checked its noise (cosim.hw.noise_check)."""
        out, self._spot = self._spot, []
        return out

    def netlists(self) -> dict[str, str]:
        """sha256 -> netlist text of the tile circuits used since the last call."""
        out, self._netlists = self._netlists, {}
        return out

    def tile_netlist_index(self) -> list[dict]:
        """``{"layer", "phase", "step", "tile", "sha256"}`` since the last call: the
        netlists that carry their own stimulus (spice-engine runs, spot checks)."""
        out, self._index = self._index, []
        return out

    def circuit_records(self, *, keep: bool = True) -> list[dict]:
        """``{"layer", "phase", "step", "tile", "sha256", "record"}`` since the last
        call: per layer, phase and tile the last product's circuit record
        (:class:`cosim.hw.records.CircuitRecord`; ``sha256`` that of its template).
        ``keep=False`` (a step whose signals the run does not keep): the records are
        forgotten without being built, and none is returned."""
        out = []
        if not keep:
            self._records = {}
            return out
        for (layer, phase, tile), (step, rec) in self._records.items():
            if isinstance(rec, PendingRecord):
                rec = rec.resolve()
                if rec is None:
                    continue
            out.append({"layer": layer, "phase": phase, "step": step, "tile": tile,
                        "sha256": self._sha(rec.template), "record": rec})
        self._records = {}
        return out

    def signal_samples(self) -> dict[str, dict[str, np.ndarray]]:
        """Per layer, signals of the first tile of its last forward product: photonic
        ``optical_power_w`` (rows, ch, 2: drop, through; W), ``photocurrent_a`` (A),
        ``tia_voltage_v`` (V), ``adc_codes``; crossbar ``row_voltage_v``,
        ``column_current_a``, ``tia_voltage_v``, ``adc_codes``."""
        out, self._samples = self._samples, {}
        return out

    def stats_table(self) -> list[dict]:
        """The counters since the last call (:meth:`HardwareStats.as_table`), then reset."""
        rows = self.stats.as_table()
        self.stats.reset()
        return rows

    def set_step(self, step: int) -> None:
        """The global training step of the products that follow."""
        self.step = int(step)

    def set_probe(self, on: bool) -> None:
        """Compare the products that follow with the exact float products of the same
        operands (U and A as the network passes them, before any scaling or
        quantization) and record ``||Y_hw - U A^T|| / ||U A^T||``: every error source
        of the hardware path at once (converters, noise, readout, saturated weights)."""
        self.probe = bool(on)

    def product_errors(self) -> list[dict]:
        """``{"layer", "phase", "step", "rel_rms_error"}`` probed since the last call."""
        out, self._errors = self._errors, []
        return out

    def state_dict(self) -> dict:
        """``{"arrays": {...}, "meta": {...}}``: noise RNG, step, weight scales,
        counters, the tiles' own state (``arrays["tile/..."]``, ``meta["tile"]``) and
        a digest of every weight state held on the tiles (``meta["loaded"]``: after a
        resume, loading the same state again is not counted as a retune)."""
        tile = self.tiles.state_dict()
        return {"arrays": {f"tile/{k}": v for k, v in tile["arrays"].items()},
                "meta": {"rng": self.rng.bit_generator.state, "step": self.step,
                         "w_scale": dict(self._w_scale), "stats": self.stats.state(),
                         "tile": tile["meta"],
                         "loaded": [[layer, phase, _state_digest(a, scale)]
                                    for (layer, phase), (a, scale, _) in
                                    self._loaded.items()]}}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        try:
            meta = state["meta"]
            self.rng.bit_generator.state = meta["rng"]
            self.step = int(meta["step"])
            self._w_scale = {k: float(v) for k, v in meta["w_scale"].items()}
            self.stats.load_state(meta["stats"])
            # (checkpoints written before tile state and load digests have neither)
            self.tiles.load_state_dict(
                {"arrays": {k.removeprefix("tile/"): v
                            for k, v in state.get("arrays", {}).items()
                            if k.startswith("tile/")},
                 "meta": meta.get("tile", {})})
            self._restored = {(str(layer), str(phase)): str(digest)
                              for layer, phase, digest in meta.get("loaded", [])}
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"hardware backend state is incomplete ({exc}); give what "
                              "HardwareBackend.state_dict returned") from None
        self._loaded.clear()


class IdealHardware(IdealBackend):
    """The ``"ideal"`` architecture: :class:`cosim.nn.IdealBackend`'s float products,
    and a :class:`cosim.hw.protocols.Recorder` that records nothing."""

    def set_step(self, step: int) -> None:
        """(nothing to record)"""

    def set_probe(self, on: bool) -> None:
        """(the products are exact)"""

    def spot_checks(self) -> list[dict]:
        return []

    def product_errors(self) -> list[dict]:
        return []

    def netlists(self) -> dict[str, str]:
        return {}

    def tile_netlist_index(self) -> list[dict]:
        return []

    def circuit_records(self, *, keep: bool = True) -> list[dict]:
        return []

    def signal_samples(self) -> dict[str, dict[str, np.ndarray]]:
        return {}

    def stats_table(self) -> list[dict]:
        return []

    def state_dict(self) -> dict | None:
        """None: no state to checkpoint."""
        return None

    def load_state_dict(self, state: dict) -> None:
        """(no state)"""


__all__ = ["ARCHITECTURES", "ELECTRICAL_ENGINES", "MOVED_TO_DESIGN", "OPTICAL_ENGINES",
           "HardwareBackend", "HardwareConfig", "IdealHardware", "build_hardware",
           "legacy_design_overrides", "moved_message", "readout_characterization"]
