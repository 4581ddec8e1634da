"""Energy, latency and area of a design, against a baseline design priced by the same code.

Both sides are :class:`cosim.design.Design` s (:func:`evaluate`), priced from their
components (:mod:`cosim.energy.components`) and from *counts*: per layer and phase, how
many input vectors were streamed and how many outputs were read.  Counts come either
from the network's layer shapes (:func:`network_counts`, the what-if) or from a run
file's hardware counters (:func:`run_counts`: ``samples`` of every product, the
``pulses`` the weight store applied), so ``cosim energy RUN.h5`` prices exactly what was
trained.

Per layer with matrix ``b x a`` (outputs x inputs), ``r`` products per sample, tiles of
``N x M``: ``t_in = ceil(a/N)``, ``t_out = ceil(b/M)``.  A phase streams ``S`` input
vectors per image (lit passes included: a photonic tile runs a signed input as a
positive and a negative pass) and reads ``R = S b t_in`` outputs (one per tile row of
outputs and pass; the run's ``samples`` counter); each read is ``A`` conversions
(``reads_per_output``).  Per image:

* DAC: ``S a t_out`` conversions; photonic: as many modulator symbols and laser
  channel-symbols (``P_el T_sym`` each); ring heaters of the layer's tiles during its
  latency; crossbar: ``S a b`` pair reads at ``P_pair T_sym``;
* readout: ``R`` TIA (and photodiode bias) on-times ``T_sym``; ``A R`` ADC conversions;
  ``R (A - 1)`` averaging additions and ``S b (t_in - 1)`` partial-sum additions;
* buffers: ``S (a + b) dac_bits / access_bits`` accesses;
* latency: ``passes S T_sym`` (``passes`` > 1 only when tiles are fewer than the layer
  needs).

Phases: ``forward``; ``backward`` (``W^T``, layers after the first weighted one);
``gradient`` (``dW = dY^T X``) where the design computes it: on the tiles
(``gradient_on = "tile"``: ``dY^T`` of a batch of ``B`` is loaded as a pattern of ``b x
B r`` entries through the DACs and ``X^T``'s ``a`` rows are streamed, per image 1/B of
that) or on the digital unit (``r a b`` MACs); ``update``: programming pulses (the run's
count, or ``write_pulses_per_update`` per device per step in the what-if) times
``copies`` (a second set holds W^T) at the NeuroSim pulse energy.

Retunes (photonic tiles): each load of a weight state or gradient pattern waits
``thermal_settling_time_s`` (design value) for the heaters, added to the phase's latency,
and costs ``P_heater tau`` (the heater power of the loaded state) as ``retune_energy``;
with the link driver (``weight_link = "driver"``) its electrical power holds the state
over the phase's latency (``link_energy``).  A run is priced from its retune counters
(:mod:`cosim.hw.stats`: loads, heater power of each loaded state); the what-if from
:func:`retune_counts`: one retune per state per step (the upper bound: an update that
leaves a layer's devices unchanged, as the mixed-precision update often does, loads
nothing new), and the heater power of the rings of the loaded tile grid at the mean
heater power per ring of the optics model (:func:`cosim.energy.components.
ring_heater_power_w`); both can be given (e.g. a run's measured rates), and then the
what-if and the run agree (tests/energy).  The what-if prices no link-driver power.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cosim.energy.components import design_components
from cosim.energy.quantity import Quantity, derive, leaf, total
from cosim.errors import ConfigError

PHASES = ("forward", "backward", "gradient", "update")
SIDES = ("design", "baseline")

CLAIMS = {
    "training.speedup": 34.0, "training.energy_saving": 38.5,
    "inference.speedup": 29.0, "inference.energy_saving": 38.7,
}
"""Ratios claimed by BPLight-CNN (arXiv 2102.10140, abstract) over electronic designs at
16 bits.  Shown beside ours as claims, never as results of this model."""
CLAIMS_SOURCE = (
    "BPLight-CNN, arXiv 2102.10140 (abstract), claimed over electronic designs at 16 bits")

NETWORKS = ("lenet5", "vgg11", "vgg16")
"""Networks of the what-if (LeNet-5 on 32x32x1; VGG-11/16 on 32x32x3, CIFAR-10 head)."""


def network_model(name: str, *, width: float = 1.0):
    """The :class:`cosim.nn.Sequential` of a what-if network name at ``width``."""
    from cosim.nn.zoo import lenet5, vgg

    nets: dict[str, Callable] = {"lenet5": lambda: lenet5(width=width),
                                 "vgg11": lambda: vgg("vgg11", width=width),
                                 "vgg16": lambda: vgg("vgg16", width=width)}
    if name not in nets:
        raise ConfigError(f"unknown network {name!r}; choose one of {', '.join(NETWORKS)}")
    return nets[name]()


@dataclass(frozen=True)
class PhaseCounts:
    """Counts of one layer and phase, per image (see the module docstring)."""

    symbols: Quantity        # S: input vectors streamed (lit passes included)
    reads: Quantity          # R: output reads (before averaging)
    inputs: Quantity         # a: inputs of the product (k)
    outputs: Quantity        # b: outputs of the product (m)
    # from a run's retune counters (None in the what-if): retunes per image, and the
    # mean heater and link power of a loaded state (W)
    retunes: Quantity | None = None
    heater_power: Quantity | None = None
    link_power: Quantity | None = None


@dataclass(frozen=True)
class LayerCounts:
    """What one weighted layer does per image: its shape and the counts of its phases."""

    name: str
    rows: Quantity           # r: products per sample
    n_in: Quantity           # a
    n_out: Quantity          # b
    elementwise: Quantity    # digital elementwise operations per image (forward)
    phases: dict[str, PhaseCounts]
    pulses: Quantity         # programming pulses per image (both devices, one copy)
    pattern_entries: Quantity  # gradient-pattern entries loaded per image (tile gradient)


@dataclass(frozen=True)
class Counts:
    """Counts of a whole network (:func:`network_counts` or :func:`run_counts`)."""

    network: str
    batch_size: Quantity
    epoch_images: Quantity
    layers: list[LayerCounts]
    other: dict[str, Quantity] = field(default_factory=dict)   # layer -> ew ops (no weights)
    source: str = ""
    model: object = None     # the cosim.nn model counted (for the baseline's counts)


def _count(value: float, what: str, where: str) -> Quantity:
    return leaf(float(value), "1", f"{where}: {what}")


def network_counts(network: str = "lenet5", design=None, *, width: float = 1.0,  # noqa: C901 - layer walk
                   batch_size: int = 32, epoch_images: int | None = None,
                   pulses_per_update: float | None = None, model=None,
                   signed_input: bool = False,
                   retunes_per_step: Mapping[str, float] | None = None,
                   heater_power_per_ring_w: Mapping[str, float] | None = None) -> Counts:
    """The what-if counts of ``network`` on ``design`` from the layer shapes.

    Lit passes on photonic tiles: the first weighted layer's inputs are signed (two
    passes) when ``signed_input`` (standardised data), else in [0, 1] (the data
    pipeline's "unit" normalisation, one pass); later layers' inputs follow a ReLU (one
    pass); backpropagated errors are signed (two passes); crossbar tiles take either
    polarity in one pass.  ``pulses_per_update``: mean pulses per device per step
    (default: the design's ``write_pulses_per_update``).  ``retunes_per_step`` and
    ``heater_power_per_ring_w``: the retunes of :func:`retune_counts` (keys
    ``"LAYER.PHASE"`` or ``"PHASE"``; defaults there).
    """
    from cosim.design import load_design

    design = load_design("bplight") if design is None else design
    where = f"{network} (width {width:g}) layer shapes"
    model = network_model(network, width=width) if model is None else model
    infos = model.layer_shapes()
    two_pass = design.tile == "bplight"
    if pulses_per_update is None:
        ppu = leaf(float(design["write_pulses_per_update"]), "1",
                   f"design {design.name}: {design.provenance('write_pulses_per_update')}")
    else:
        ppu = leaf(float(pulses_per_update), "1", "given mean pulses per device per step")
    bs = leaf(batch_size, "1", "batch size of the what-if")
    if epoch_images is None:
        from cosim.devices import load_card

        wl = load_card("energy_workload")
        key = "epoch_images_lenet5" if network == "lenet5" else "epoch_images_vgg"
        ep = leaf(float(wl[key]), "1", f"card energy_workload.{key}: "
                  f"{wl.params[key].provenance}")
    else:
        ep = leaf(epoch_images, "1", "images per epoch given")
    first = next(i for i, x in enumerate(infos) if x.weight_shape is not None)
    layers, other = [], {}
    passes_src = ("lit passes: photonic tiles run signed inputs as two passes (first-layer "
                  f"inputs {'signed' if signed_input else 'in [0, 1]'}, later inputs after "
                  "a ReLU, errors signed)")
    n = int(design["tile_rows"])
    ring_default = None
    if design.tile == "bplight":        # the mean heater power per ring, once per design
        from cosim.energy.components import ring_heater_power_w

        ring_default = ring_heater_power_w(n, int(design["tile_cols"]),
                                           optics_card=design.role_card("optics"))
    for i, info in enumerate(infos):
        if info.weight_shape is None:
            if info.elementwise_ops:
                other[info.name] = _count(info.elementwise_ops, "elementwise digital "
                                          "operations per sample", f"{where}, {info.name}")
            continue
        b, a = info.weight_shape
        r = info.rows_per_sample
        w = f"{where}, {info.name}"
        p_in = 2 if (two_pass and i == first and signed_input) else 1
        p_err = 2 if two_pass else 1
        phases = {"forward": _phase(r * p_in, r * p_in * b * math.ceil(a / n), a, b, w,
                                    passes_src)}
        if i > first:
            phases["backward"] = _phase(r * p_err, r * p_err * a * math.ceil(b / n), b, a,
                                        w, passes_src)
        if design["gradient_on"] == "tile":
            k = batch_size * r
            phases["gradient"] = _phase(a * p_in / batch_size,
                                        a * p_in * b * math.ceil(k / n) / batch_size, k, b,
                                        w, passes_src + f"; per batch of {batch_size}")
        if design.tile == "bplight":
            phases = {ph: retune_counts(design, info.name, ph, pc, batch_size,
                                        retunes_per_step, heater_power_per_ring_w,
                                        ring_default=ring_default)
                      for ph, pc in phases.items()}
        cells = 2 * a * b
        pulses = derive("ppu * cells / batch", "1", ppu=ppu,
                        cells=_count(cells, "memristors (pairs x 2)", w), batch=bs)
        layers.append(LayerCounts(
            info.name, _count(r, "products per sample", w), _count(a, "inputs", w),
            _count(b, "outputs", w), _count(info.elementwise_ops, "elementwise operations",
                                            w), phases, pulses,
            _count(b * r, "gradient-pattern entries per image (b x r)", w)))
    return Counts(network, bs, ep, layers, other, f"what-if: {where}", model)


def retune_counts(design, layer: str, phase: str, pc: PhaseCounts, batch_size: int,
                  per_step: Mapping[str, float] | None = None,
                  per_ring_w: Mapping[str, float] | None = None, *,
                  ring_default: tuple[float, str] | None = None) -> PhaseCounts:
    """``pc`` with the what-if's retunes of one layer and phase on photonic tiles.

    Retunes per image: ``per_step / batch_size`` (default one retune per step: the
    updated weight state for the forward and the backward copy, the step's gradient
    pattern).  Heater power of a loaded state: the rings of its tile grid times the
    heater power per ring (default :func:`cosim.energy.components.ring_heater_power_w`
    of the design's tile and optics card).  The grid is the product's ``outputs x
    inputs`` entries (the gradient's pattern: ``b x B r``), padded to whole tiles along
    the inputs when the rings are coupled (crosstalk: padding rings hold weight 0 in the
    same bank and are heated too) and with ``min(outputs, tile_cols)`` rows per tile
    row, as the simulation holds them (:meth:`cosim.hw.photonic.PhotonicTiles._retune`).
    ``per_step`` / ``per_ring_w``: overrides keyed ``"LAYER.PHASE"`` or ``"PHASE"``;
    ``ring_default``: that default ``(W, source)`` when the caller already has it."""
    from cosim.energy.components import ring_heater_power_w

    def pick(table, default, what):
        for key in (f"{layer}.{phase}", phase):
            if table and key in table:
                return float(table[key]), f"given {what} ({key})"
        return default

    n, m = int(design["tile_rows"]), int(design["tile_cols"])
    if ring_default is None:
        ring_default = ring_heater_power_w(n, m, optics_card=design.role_card("optics"))
    k, b = int(pc.inputs.value), int(pc.outputs.value)
    rate, rate_src = pick(per_step, (1.0, "what-if assumption: one retune per state and "
                                     "step (an upper bound: an update that changes no "
                                     "device of the layer loads nothing new)"),
                          "retunes per step")
    p_ring, ring_src = pick(per_ring_w, ring_default, "heater power per ring")
    coupled = "crosstalk" in design.card.params and bool(design["crosstalk"])
    me, ne = min(m, b), min(n, k)
    cols = -(-k // ne) * ne if coupled else k
    rows = -(-b // me) * me if coupled else b
    where = f"{layer} {phase}"
    retunes = leaf(rate / batch_size, "1", f"{where}: {rate_src} / batch {batch_size}")
    heater = derive("rings * p_ring", "W", rings=_count(
        rows * cols, "rings of the loaded tile grid (padding included with crosstalk)",
        where), p_ring=leaf(p_ring, "W", ring_src))
    return dataclasses.replace(pc, retunes=retunes, heater_power=heater)


def _phase(symbols, reads, k, m, where, src) -> PhaseCounts:
    return PhaseCounts(_count(symbols, "input vectors streamed per image; " + src, where),
                       _count(reads, "output reads per image", where),
                       _count(k, "product inputs", where), _count(m, "product outputs", where))


def run_counts(path) -> tuple[Counts, object]:
    """Counts of a run file (its hardware counters) and the run's design.

    ``samples`` of each (layer, phase) over every product the run made, divided by the
    images those products handled (training images of every step, plus the test and
    validation images at each epoch end for the forward phase); ``pulses`` of each
    layer's weight over the training images.  Symbols are ``samples / (b t_in)``."""
    import json

    from cosim.orchestrator.run import build_network
    from cosim.store.runs import RunFile

    run = RunFile(path)
    design = run.read_design()
    if design is None:
        raise ConfigError(f"{path}: the run file stores no design (written before designs); "
                          "price it with cosim energy --design NAME --network NAME")
    config = run.read_config()
    data = json.loads(run.config_attrs().get("data", "null") or "null")
    if not data:
        raise ConfigError(f"{path}: the run file records no data description; re-run it")
    model = build_network(config, int(data["input_shape"][0]), int(data["num_classes"]))
    stats = run.table("hardware_stats")
    steps = run.step_metrics()
    epochs = run.epoch_metrics()
    n_train, bsz = int(data["train"]), int(config.training.batch_size)
    spe = math.ceil(n_train / bsz)
    done = int(steps["step"].shape[0])
    train_images = sum(min(bsz, n_train - ((s - 1) % spe) * bsz) for s in range(1, done + 1))
    eval_images = int(epochs["epoch"].shape[0]) * (int(data["test"]) + int(data["val"]))
    if train_images == 0:
        raise ConfigError(f"{path}: the run made no training step; nothing to price")
    retune_cols = ("retunes", "heater_power_w", "link_power_w")
    has_retunes = all(c in stats and stats[c].shape == stats["samples"].shape
                      for c in retune_cols)
    has_pulses = "pulses" in stats and stats["pulses"].shape == stats["samples"].shape
    if not has_pulses:
        raise ConfigError(f"{path}: the run file has no pulse counts (written before "
                          "they were counted); re-run it or price the what-if")
    tot: dict[tuple[str, str], dict[str, int]] = {}
    for j in range(stats["layer"].shape[0]):
        key = (str(stats["layer"][j]), str(stats["phase"][j]))
        row = tot.setdefault(key, {"samples": 0, "pulses": 0, "products": 0,
                                   **({c: 0.0 for c in retune_cols} if has_retunes else {})})
        for col in row:
            row[col] += stats[col][j].item()
    src = (f"run file {path} hardware_stats ({done} steps, {train_images} training images, "
           f"{eval_images} evaluation images)")
    signed = (data.get("normalization") or {}).get("method", "unit") != "unit"
    what = counts_for_model(model, design, bsz, config, signed_input=signed)
    n = int(design["tile_rows"])
    layers = []
    for lc in what.layers:
        phases = {}
        for ph, pc in lc.phases.items():
            got = tot.get((lc.name, ph))
            if got is None:
                continue
            images = train_images + (eval_images if ph == "forward" else 0)
            k, m = pc.inputs.value, pc.outputs.value
            reads = got["samples"] / images
            t_in = math.ceil(k / n)
            retune = {}
            if got.get("retunes"):
                n_rt = got["retunes"]
                retune = {
                    "retunes": leaf(n_rt / images, "1", f"{src}: {lc.name} {ph} retunes / "
                                    f"images ({n_rt:g} / {images})"),
                    "heater_power": leaf(got["heater_power_w"] / n_rt, "W", f"{src}: "
                                         f"{lc.name} {ph} heater power summed over the "
                                         f"retunes / retunes"),
                    "link_power": leaf(got["link_power_w"] / n_rt, "W", f"{src}: "
                                       f"{lc.name} {ph} link-driver power summed over the "
                                       "retunes / retunes")}
            phases[ph] = PhaseCounts(
                leaf(reads / (m * t_in), "1", f"{src}: {lc.name} {ph} samples / (outputs x "
                     f"t_in) / images ({got['samples']} / ({m:g} x {t_in}) / {images})"),
                leaf(reads, "1", f"{src}: {lc.name} {ph} samples / images ({got['samples']} "
                     f"/ {images})"), pc.inputs, pc.outputs, **retune)
        pulses = sum(v["pulses"] for (layer, ph), v in tot.items()
                     if ph == "update" and layer.split(".")[0] == lc.name
                     and not layer.endswith("bias"))
        layers.append(LayerCounts(
            lc.name, lc.rows, lc.n_in, lc.n_out, lc.elementwise, phases,
            leaf(pulses / train_images, "1", f"{src}: pulses of {lc.name}'s weights / "
                 f"training images ({pulses} / {train_images})"), lc.pattern_entries))
    ep = leaf(n_train, "1", f"{src}: training images per epoch")
    return Counts(what.network, what.batch_size, ep, layers, what.other, src, model), design


def counts_for_model(model, design, batch_size: int, config=None, *,
                     signed_input: bool = False) -> Counts:
    """:func:`network_counts` of a built model (the run's network)."""
    name = "run network" if config is None else \
        f"{config.model.name} (width {config.model.width:g})"
    return network_counts(name, design, batch_size=batch_size, epoch_images=1, model=model,
                          signed_input=signed_input)


@dataclass(frozen=True)
class EnergyReport:
    """All figures of one evaluation by dotted name, plus warnings and the layer list.

    Names: ``design.component.X``, ``design.layer.L.PHASE.X``, ``design.training.X``,
    ``design.area.X`` (likewise ``baseline.``), ``ratio.training.speedup`` ..."""

    network: str
    figures: dict[str, Quantity]
    flags: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)     # side -> design name
    counts_source: str = ""

    def __getitem__(self, name: str) -> Quantity:
        try:
            return self.figures[name]
        except KeyError:
            close = [k for k in self.figures if name.split(".")[-1] in k][:8]
            raise ConfigError(f"no figure {name!r}; figures look like "
                              f"'design.training.energy_per_image'; similar: {close}") from None

    def explain(self, name: str) -> str:
        return self[name].explain(name)

    def as_dict(self) -> dict:
        return {"network": self.network, "designs": dict(self.names),
                "counts": self.counts_source, "flags": list(self.flags),
                "claims": {k: {"value": v, "source": CLAIMS_SOURCE} for k, v in CLAIMS.items()},
                "figures": {k: q.as_dict() for k, q in self.figures.items()}}


def _pass(c, pc: PhaseCounts, tile: str) -> tuple[dict[str, Quantity], Quantity, Quantity]:
    a, b, s, reads = pc.inputs, pc.outputs, pc.symbols, pc.reads
    t_in = derive("ceil(a / n)", "1", a=a, n=c["tile_rows"])
    t_out = derive("ceil(b / m)", "1", b=b, m=c["tile_cols"])
    tiles = derive("t_in * t_out", "1", t_in=t_in, t_out=t_out)
    if c["tiles_available"].value > 0:
        passes = derive("ceil(tiles / available)", "1", tiles=tiles,
                        available=c["tiles_available"])
    else:
        passes = leaf(1, "1", "weight-stationary (tiles_available = 0): one pass")
    latency = derive("passes * s * t_sym", "s", passes=passes, s=s, t_sym=c["symbol_period"])
    retune: dict[str, Quantity] = {}
    if pc.retunes is not None and tile == "bplight":
        # a retune waits for the heaters to settle (no product meanwhile), with the
        # loaded state's heater power on; the link drivers hold the state while it computes
        retune["retune_energy"] = derive("n_rt * p_heat * tau", "J", n_rt=pc.retunes,
                                         p_heat=pc.heater_power,
                                         tau=c["thermal_settling_time"])
        latency = derive("compute + n_rt * tau", "s", compute=latency, n_rt=pc.retunes,
                         tau=c["thermal_settling_time"])
        if pc.link_power is not None and pc.link_power.value > 0:
            retune["link_energy"] = derive("p_link * latency", "J", p_link=pc.link_power,
                                           latency=latency)
    dac = derive("s * a * t_out", "1", s=s, a=a, t_out=t_out)
    n_avg = c["reads_per_output"]
    t = {"dac_energy": derive("n_conv * e_dac", "J", n_conv=dac,
                              e_dac=c["dac_energy_per_conversion"])}
    if tile == "bplight":
        t["modulator_energy"] = derive("n_sym * e_mod", "J", n_sym=dac,
                                       e_mod=c["modulator_energy_per_symbol"])
        t["laser_energy"] = derive("n_sym * p_el * t_sym", "J", n_sym=dac,
                                   p_el=c["laser_electrical_power_per_channel"],
                                   t_sym=c["symbol_period"])
        t["ring_tuning_energy"] = derive("tiles * n * m * p_ring * latency", "J", tiles=tiles,
                                         n=c["tile_rows"], m=c["tile_cols"],
                                         p_ring=c["ring_heater_power"], latency=latency)
        t["readout_energy"] = derive("n_read * (p_tia + p_pd) * t_sym", "J", n_read=reads,
                                     p_tia=c["tia_power"], p_pd=c["pd_bias_power"],
                                     t_sym=c["symbol_period"])
    else:
        t["crossbar_energy"] = derive("s * a * b * p_pair * t_sym", "J", s=s, a=a, b=b,
                                      p_pair=c["pair_read_power"], t_sym=c["symbol_period"])
        t["readout_energy"] = derive("n_read * p_tia * t_sym", "J", n_read=reads,
                                     p_tia=c["tia_power"], t_sym=c["symbol_period"])
    t["adc_energy"] = derive("n_read * n_avg * e_adc", "J", n_read=reads, n_avg=n_avg,
                             e_adc=c["adc_energy_per_conversion"])
    t["buffer_energy"] = derive("s * (a + b) * bits / access_bits * e_buf", "J", s=s, a=a,
                                b=b, bits=c["dac_bits"], access_bits=c["buffer_access_bits"],
                                e_buf=c["buffer_energy_per_access"])
    t["digital_energy"] = derive("(s * b * (t_in - 1) + n_read * (n_avg - 1)) * e_op", "J",
                                 s=s, b=b, t_in=t_in, n_read=reads, n_avg=n_avg,
                                 e_op=c["digital_op_energy"])
    counts = {"adc_conversions": derive("n_read * n_avg", "1", n_read=reads, n_avg=n_avg),
              "dac_conversions": dac, "symbols": s, "reads": reads}
    if pc.retunes is not None and tile == "bplight":
        counts["retunes"] = pc.retunes
    return {**t, **retune, **counts}, latency, tiles


def _energy_terms(t: dict[str, Quantity]) -> dict[str, Quantity]:
    return {k: v for k, v in t.items() if k.endswith("_energy")}


def price(design, counts: Counts, characterization=None, *, side: str = "design"
          ) -> tuple[dict[str, Quantity], list[str]]:
    """Figures (``{side}.…``) of ``design`` on ``counts``, and its flags."""
    from cosim.hw.backend import readout_characterization

    ch = readout_characterization(design) if characterization is None else characterization
    c, flags = design_components(design, ch)
    tile = design.tile
    figs: dict[str, Quantity] = {}
    for k, q in c.items():
        figs[(f"{side}.link." + k[5:]) if k.startswith("link.") else f"{side}.component.{k}"] = q
    per: dict[str, dict[str, dict[str, Quantity]]] = {p: {} for p in PHASES}
    macs: dict[str, dict[str, Quantity]] = {p: {} for p in PHASES}
    tiles_all: dict[str, Quantity] = {}
    for name, ew in counts.other.items():
        e = derive("ew * e_op", "J", ew=ew, e_op=c["digital_op_energy"])
        per["forward"][name] = {"digital_energy": e, "energy": total({"digital_energy": e}, "J"),
                                "latency": leaf(0.0, "s", "digital operations overlap the "
                                                "analog pipeline (not on the critical path)")}
    for lc in counts.layers:
        m_f = derive("r * a * b", "1", r=lc.rows, a=lc.n_in, b=lc.n_out)
        for ph, pc in lc.phases.items():
            t, lat, tiles = _pass(c, pc, tile)
            if ph == "forward":
                tiles_all[lc.name] = tiles
                t["digital_energy"] = derive("d + ew * e_op", "J", d=t["digital_energy"],
                                             ew=lc.elementwise, e_op=c["digital_op_energy"])
            if ph == "gradient":
                t["pattern_load_energy"] = derive("n * e_dac", "J", n=lc.pattern_entries,
                                                  e_dac=c["dac_energy_per_conversion"])
            if ph == "backward":
                tiles_all[lc.name + "_T"] = tiles
            per[ph][lc.name] = {**t, "energy": total(_energy_terms(t), "J"), "latency": lat,
                                "macs": m_f}
            macs[ph][lc.name] = m_f
        if "gradient" not in lc.phases:          # the digital gradient unit
            e = derive("macs * e_mac", "J", macs=m_f, e_mac=c["digital_mac_energy"])
            per["gradient"][lc.name] = {
                "gradient_mac_energy": e, "energy": total({"gradient_mac_energy": e}, "J"),
                "latency": derive("macs / rate", "s", macs=m_f, rate=c["digital_macs_per_s"]),
                "macs": m_f}
            macs["gradient"][lc.name] = m_f
        w = {"write_energy": derive("pulses * copies * e_pulse", "J", pulses=lc.pulses,
                                    copies=c["copies"], e_pulse=c["write_pulse_energy"])}
        per["update"][lc.name] = {
            **w, "energy": total(w, "J"), "pulses": lc.pulses,
            # rows of a tile are written one after another, a device's pulses in sequence
            "latency": derive("rows * pulses / (a * b * cells) * t_w", "s",
                              rows=c["tile_rows"], pulses=lc.pulses, a=lc.n_in, b=lc.n_out,
                              cells=c["memristors_per_weight"], t_w=c["write_pulse_time"])}
    for ph in PHASES:
        for lname, terms in per[ph].items():
            for k, q in terms.items():
                figs[f"{side}.layer.{lname}.{ph}.{k}"] = q
    _totals(figs, side, per, macs, counts, c, tiles_all, tile, flags)
    return figs, flags


def _totals(figs, d, per, macs, counts: Counts, comp, tiles, tile, flags) -> None:  # noqa: C901
    for ph in PHASES:
        e = {ln: t["energy"] for ln, t in per[ph].items()}
        lat = {ln: t["latency"] for ln, t in per[ph].items()}
        figs[f"{d}.{ph}.energy_per_image"] = total(e, "J")
        figs[f"{d}.{ph}.latency_per_image"] = total(lat, "s")
        figs[f"{d}.{ph}.stage_interval"] = derive(f"max({', '.join(lat)})", "s", **lat) \
            if len(lat) > 1 else total(lat, "s")
    ops = {p: total(macs[p], "1") for p in PHASES}
    for mode, phases in (("training", PHASES), ("inference", ("forward",))):
        pre = f"{d}.{mode}"
        figs[f"{pre}.energy_per_image"] = total(
            {p: figs[f"{d}.{p}.energy_per_image"] for p in phases}, "J")
        figs[f"{pre}.latency_per_image"] = total(
            {p: figs[f"{d}.{p}.latency_per_image"] for p in phases}, "s")
        stages = {p: figs[f"{d}.{p}.stage_interval"] for p in phases}
        figs[f"{pre}.time_per_image"] = derive(f"max({', '.join(stages)})", "s", **stages) \
            if len(stages) > 1 else total(stages, "s")
        mac_phases = [p for p in phases if p != "update"]
        figs[f"{pre}.ops_per_image"] = derive(
            "2 * (" + " + ".join(mac_phases) + ")", "1", **{p: ops[p] for p in mac_phases})
        figs[f"{pre}.gops_per_w"] = derive("ops / energy / 1e9", "GOPS/W",
                                           ops=figs[f"{pre}.ops_per_image"],
                                           energy=figs[f"{pre}.energy_per_image"])
        figs[f"{pre}.power"] = derive("e / t", "W", e=figs[f"{pre}.energy_per_image"],
                                      t=figs[f"{pre}.time_per_image"])
        if mode == "training":
            figs[f"{pre}.energy_per_epoch"] = derive("e * n", "J",
                                                     e=figs[f"{pre}.energy_per_image"],
                                                     n=counts.epoch_images)
            figs[f"{pre}.time_per_epoch"] = derive("t * n", "s",
                                                   t=figs[f"{pre}.time_per_image"],
                                                   n=counts.epoch_images)
    figs[f"{d}.area.tiles"] = total(tiles, "1")
    if tile == "bplight":
        tile_area = derive("n * m * ring + n * (ring + dac) + m * (2 * pd + tia + adc)", "m^2",
                           n=comp["tile_rows"], m=comp["tile_cols"], ring=comp["ring_area"],
                           dac=comp["dac_area"], pd=comp["pd_area"], tia=comp["tia_area"],
                           adc=comp["adc_area"])
    else:
        tile_area = derive("n * m * 2 * cell + n * dac + m * (tia + adc)", "m^2",
                           n=comp["tile_rows"], m=comp["tile_cols"], cell=comp["cell_area"],
                           dac=comp["dac_area"], tia=comp["tia_area"], adc=comp["adc_area"])
    figs[f"{d}.area.tile_area"] = tile_area
    figs[f"{d}.area.total"] = derive("tiles * tile_area", "m^2", tiles=figs[f"{d}.area.tiles"],
                                     tile_area=tile_area)
    for mode in ("training", "inference"):
        pre = f"{d}.{mode}"
        figs[f"{pre}.gops_per_mm2"] = derive("ops / t / area / 1e9 / 1e6", "GOPS/mm^2",
                                             ops=figs[f"{pre}.ops_per_image"],
                                             t=figs[f"{pre}.time_per_image"],
                                             area=figs[f"{d}.area.total"])
    area, power = figs[f"{d}.area.total"].value, figs[f"{d}.training.power"].value
    if area > comp["area_budget_m2"].value:
        flags.append(f"{int(figs[f'{d}.area.tiles'].value)} tiles need "
                     f"{area * 1e6:.4g} mm^2, {area / comp['area_budget_m2'].value:.3g}x the "
                     f"area budget of {comp['area_budget_m2'].value * 1e6:.4g} mm^2 "
                     "(area_budget_m2)")
    if power > comp["power_budget_w"].value:
        flags.append(f"training draws {power:.4g} W on average, "
                     f"{power / comp['power_budget_w'].value:.3g}x the power budget of "
                     f"{comp['power_budget_w'].value:.4g} W (power_budget_w)")


def evaluate(network: str = "lenet5", *, design=None, baseline=None, counts: Counts | None = None,
             baseline_counts: Counts | None = None, width: float = 1.0, batch_size: int = 32,
             characterization=None, baseline_characterization=None) -> EnergyReport:
    """Price ``design`` and ``baseline`` (default: the shipped ``bplight`` and
    ``electronic`` designs) on ``network`` at ``width``.

    ``counts``: the design's counts (default :func:`network_counts`; a run's from
    :func:`run_counts`); ``baseline_counts`` default to the what-if of the same network
    with the design's pulses per image (the run's measured pulses, when priced from a
    run).  Flags of each side are prefixed by its design's name.
    """
    from cosim.design import load_design

    design = load_design("bplight") if design is None else design
    baseline = load_design("electronic") if baseline is None else baseline
    if counts is None:
        counts = network_counts(network, design, width=width, batch_size=batch_size)
    if baseline_counts is None:
        base = network_counts(network, baseline, width=width,
                              batch_size=int(counts.batch_size.value),
                              epoch_images=int(counts.epoch_images.value), model=counts.model)
        layers = [LayerCounts(b.name, b.rows, b.n_in, b.n_out, b.elementwise, b.phases,
                              d.pulses, b.pattern_entries)
                  for b, d in zip(base.layers, counts.layers)]
        baseline_counts = Counts(base.network, base.batch_size, counts.epoch_images, layers,
                                 base.other, base.source + "; pulses of the design's counts",
                                 base.model)
    figs, flags = price(design, counts, characterization, side="design")
    bfigs, bflags = price(baseline, baseline_counts, baseline_characterization,
                          side="baseline")
    figs.update(bfigs)
    for mode in ("training", "inference"):
        dp, bp = f"design.{mode}", f"baseline.{mode}"
        figs[f"ratio.{mode}.speedup"] = derive("t_base / t_design", "1",
                                               t_base=figs[f"{bp}.time_per_image"],
                                               t_design=figs[f"{dp}.time_per_image"])
        figs[f"ratio.{mode}.energy_saving"] = derive("e_base / e_design", "1",
                                                     e_base=figs[f"{bp}.energy_per_image"],
                                                     e_design=figs[f"{dp}.energy_per_image"])
        figs[f"ratio.{mode}.efficiency"] = derive("eff_design / eff_base", "1",
                                                  eff_design=figs[f"{dp}.gops_per_w"],
                                                  eff_base=figs[f"{bp}.gops_per_w"])
    names = [lc.name for lc in counts.layers]
    allflags = [f"{design.name}: {f}" for f in flags] + [f"{baseline.name}: {f}" for f in bflags]
    return EnergyReport(counts.network, figs, allflags, names,
                        {"design": design.name, "baseline": baseline.name}, counts.source)


def energy_by_component(report: EnergyReport, design: str,
                        mode: str = "training") -> dict[str, dict[str, float]]:
    """``{layer: {component: J per image}}`` summed over the phases of ``mode``
    (``design`` is a side: "design" or "baseline")."""
    phases = PHASES if mode == "training" else ("forward",)
    out: dict[str, dict[str, float]] = {}
    for name, q in report.figures.items():
        parts = name.split(".")
        if len(parts) == 5 and parts[0] == design and parts[1] == "layer" and parts[3] in phases \
                and parts[4].endswith("_energy"):
            comp = parts[4].removesuffix("_energy")
            out.setdefault(parts[2], {}).setdefault(comp, 0.0)
            out[parts[2]][comp] += q.value
    return out


def usage_counts(report: EnergyReport, side: str = "design") -> list[dict]:
    """Rows ``{layer, phase, symbols, reads, adc_conversions, dac_conversions, pulses}``
    per image: the counts a report priced (shown by ``cosim energy``)."""
    rows: dict[tuple[str, str], dict] = {}
    for name, q in report.figures.items():
        parts = name.split(".")
        if len(parts) == 5 and parts[0] == side and parts[1] == "layer" and parts[4] in (
                "symbols", "reads", "adc_conversions", "dac_conversions", "pulses"):
            rows.setdefault((parts[2], parts[3]), {"layer": parts[2], "phase": parts[3]})[
                parts[4]] = q.value
    return list(rows.values())
