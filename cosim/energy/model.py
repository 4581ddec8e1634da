"""Energy, latency, efficiency and area per layer and phase, photonic vs crossbar baseline.

Mapping (both designs weight-stationary; every figure is a Quantity, see
:mod:`cosim.energy.quantity`).  For a weighted layer with matrix ``b x a`` (outputs x
inputs) and ``r`` matrix-vector products per sample (conv output positions, 1 for dense):

Photonic (N x M bank tiles): ``t_in = ceil(a/N)``, ``t_out = ceil(b/M)``; per sample
``r`` symbols on all ``t_in t_out`` tiles in parallel, latency ``passes r T_sym``; DAC
and modulator symbols ``r a t_out``; laser channel-symbols the same; TIA and PD outputs
``r b t_in``, each on for ``T_sym``; ADC conversions ``A r b t_in`` (``A`` =
``readout_averaging`` reads averaged per output, ``T_sym = A / f_read``, see
:mod:`cosim.energy.components`) and ``(A - 1)`` digital additions per output to average
them; partial sums over ``t_in`` tiles accumulated digitally; ring heaters of the
layer's tiles on during its latency.  Backward: ``W^T`` on a second bank set (a <-> b).

Baseline (ISAAC-style crossbars, PipeLayer-style training): ``cpw`` crossbar columns per
weight (slices x differential), ``t_in = ceil(a/rows)``, ``t_out = ceil(b cpw/cols)``;
inputs bit-serial (``ib`` cycles of ``t_cycle``); DAC conversions ``r ib a t_out``, ADC
conversions ``r ib b cpw t_in``, each followed by a shift-and-add.

Update (both): gradient ``dW = delta^T x`` (``r a b`` MACs) on the shared digital
gradient unit; memristor writes ``a b cells copies pulses`` per batch.
Buffers: ``r (a + b) bits`` read/written per phase at the eDRAM energy per access.
Digital: activation, pooling, bias and accumulation operations at the energy per op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cosim.energy.components import (
    baseline_components,
    photonic_components,
    readout_spec,
    workload_components,
)
from cosim.energy.quantity import Quantity, derive, leaf, total

PHASES = ("forward", "backward", "update")
DESIGNS = ("bplight", "baseline")

CLAIMS = {
    "training.speedup": 34.0, "training.energy_saving": 38.5,
    "inference.speedup": 29.0, "inference.energy_saving": 38.7,
}
"""Ratios claimed by BPLight-CNN (arXiv 2102.10140, abstract) over electronic designs at
16 bits.  Shown beside ours as claims, never as results of this model."""
CLAIMS_SOURCE = (
    "BPLight-CNN, arXiv 2102.10140 (abstract), claimed over electronic designs at 16 bits")


def _networks() -> dict[str, Callable]:
    from cosim.nn.zoo import lenet5, vgg
    return {"lenet5": lambda: lenet5(), "vgg11": lambda: vgg("vgg11"),
            "vgg16": lambda: vgg("vgg16")}


NETWORKS = ("lenet5", "vgg11", "vgg16")
"""Networks the report knows (LeNet-5 on 32x32x1; VGG-11/16 on 32x32x3, CIFAR-10 head)."""


@dataclass(frozen=True)
class EnergyReport:
    """All figures of one evaluation by dotted name, plus warnings and the layer list."""

    network: str
    figures: dict[str, Quantity]
    flags: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Quantity:
        try:
            return self.figures[name]
        except KeyError:
            close = [k for k in self.figures if name.split(".")[-1] in k][:8]
            from cosim.errors import ConfigError
            raise ConfigError(f"no figure {name!r}; figures look like "
                              f"'bplight.training.energy_per_image'; similar: {close}") from None

    def explain(self, name: str) -> str:
        return self[name].explain(name)

    def as_dict(self) -> dict:
        return {"network": self.network, "flags": list(self.flags),
                "claims": {k: {"value": v, "source": CLAIMS_SOURCE} for k, v in CLAIMS.items()},
                "figures": {k: q.as_dict() for k, q in self.figures.items()}}


def _count(value: int, what: str, net: str, layer: str) -> Quantity:
    return leaf(int(value), "1", f"{net} layer {layer}: {what} (cosim.nn layer shapes)")


def _photonic_pass(c, w, r, a, b, ew) -> tuple[dict[str, Quantity], Quantity, Quantity]:
    t_in = derive("ceil(a / n)", "1", a=a, n=c["bank_channels"])
    t_out = derive("ceil(b / m)", "1", b=b, m=c["bank_outputs"])
    tiles = derive("t_in * t_out", "1", t_in=t_in, t_out=t_out)
    if c["tiles_available"].value > 0:
        passes = derive("ceil(tiles / available)", "1", tiles=tiles, available=c["tiles_available"])
    else:
        passes = leaf(1, "1", "weight-stationary (tiles_available = 0): one pass")
    latency = derive("passes * r * t_sym", "s", passes=passes, r=r, t_sym=c["symbol_period"])
    dac_conv = derive("r * a * t_out", "1", r=r, a=a, t_out=t_out)
    reads = derive("r * b * t_in", "1", r=r, b=b, t_in=t_in)
    adc_conv = derive("n_out * n_avg", "1", n_out=reads, n_avg=c["readout_averaging"])
    t = {
        "dac_energy": derive("n_conv * e_dac", "J", n_conv=dac_conv,
                             e_dac=c["dac_energy_per_conversion"]),
        "modulator_energy": derive("n_sym * e_mod", "J", n_sym=dac_conv,
                                   e_mod=c["modulator_energy_per_symbol"]),
        "laser_energy": derive("n_sym * p_el * t_sym", "J", n_sym=dac_conv,
                               p_el=c["laser_electrical_power_per_channel"],
                               t_sym=c["symbol_period"]),
        "ring_tuning_energy": derive("tiles * n * m * p_ring * latency", "J", tiles=tiles,
                                     n=c["bank_channels"], m=c["bank_outputs"],
                                     p_ring=c["ring_heater_power"], latency=latency),
        "pd_tia_energy": derive("n_read * (p_tia + p_pd) * t_sym", "J", n_read=reads,
                                p_tia=c["tia_power"], p_pd=c["pd_bias_power"],
                                t_sym=c["symbol_period"]),
        "adc_energy": derive("n_conv * e_adc", "J", n_conv=adc_conv,
                             e_adc=c["adc_energy_per_conversion"]),
        "buffer_energy": derive("r * (a + b) * bits / access_bits * e_buf", "J", r=r, a=a, b=b,
                                bits=c["bits"], access_bits=w["buffer_access_bits"],
                                e_buf=w["buffer_energy_per_access"]),
        "digital_energy": derive("(r * b * (t_in - 1) + n_read * (n_avg - 1) + ew) * e_op", "J",
                                 r=r, b=b, t_in=t_in, n_read=reads, n_avg=c["readout_averaging"],
                                 ew=ew, e_op=w["digital_op_energy"]),
    }
    return t, latency, tiles


def _baseline_pass(c, w, r, a, b, ew) -> tuple[dict[str, Quantity], Quantity, Quantity]:
    t_in = derive("ceil(a / rows)", "1", a=a, rows=c["crossbar_rows"])
    t_out = derive("ceil(b * cpw / cols)", "1", b=b, cpw=c["columns_per_weight"],
                   cols=c["crossbar_cols"])
    tiles = derive("t_in * t_out", "1", t_in=t_in, t_out=t_out)
    latency = derive("r * ib * t_cycle", "s", r=r, ib=c["input_bits"], t_cycle=c["read_cycle_s"])
    adc_conv = derive("r * ib * b * cpw * t_in", "1", r=r, ib=c["input_bits"], b=b,
                      cpw=c["columns_per_weight"], t_in=t_in)
    t = {
        "dac_energy": derive("r * ib * a * t_out * e_dac", "J", r=r, ib=c["input_bits"], a=a,
                             t_out=t_out, e_dac=c["dac_energy_per_conversion"]),
        "crossbar_energy": derive("r * ib * tiles * e_xbar", "J", r=r, ib=c["input_bits"],
                                  tiles=tiles, e_xbar=c["crossbar_read_energy"]),
        "adc_energy": derive("n_conv * e_adc", "J", n_conv=adc_conv,
                             e_adc=c["adc_energy_per_conversion"]),
        "buffer_energy": derive("r * (a + b) * bits / access_bits * e_buf", "J", r=r, a=a, b=b,
                                bits=c["weight_bits"], access_bits=w["buffer_access_bits"],
                                e_buf=w["buffer_energy_per_access"]),
        "digital_energy": derive("(n_conv + ew) * e_op", "J", n_conv=adc_conv, ew=ew,
                                 e_op=w["digital_op_energy"]),
    }
    return t, latency, tiles


def _update(w, cells_per_weight, copies, rows_per_tile, r, a, b
            ) -> tuple[dict[str, Quantity], Quantity]:
    macs = derive("r * a * b", "1", r=r, a=a, b=b)
    cells = derive("a * b * cells * copies", "1", a=a, b=b, cells=cells_per_weight, copies=copies)
    t = {
        "gradient_energy": derive("macs * e_mac", "J", macs=macs, e_mac=w["digital_mac_energy"]),
        "digital_energy": derive("r * b * e_op", "J", r=r, b=b, e_op=w["digital_op_energy"]),
        "write_energy": derive("n_cells * pulses * e_pulse / batch", "J", n_cells=cells,
                               pulses=w["write_pulses_per_update"], e_pulse=w["write_pulse_energy"],
                               batch=w["batch_size"]),
    }
    latency = derive("macs / macs_per_s + rows * pulses * t_w / batch", "s", macs=macs,
                     macs_per_s=w["digital_macs_per_s"], rows=rows_per_tile,
                     pulses=w["write_pulses_per_update"], t_w=w["write_pulse_time"],
                     batch=w["batch_size"])
    return t, latency


def readout_characterization(card=None):
    """ngspice characterization (through the result cache) of the photonic readout of the
    energy card ``card`` (default: the shipped energy_bplight): its ``readout_tia_card``
    at its ``bits`` (:func:`cosim.energy.components.readout_spec`)."""
    from cosim.devices import load_card
    from cosim.readout import characterize

    return characterize(readout_spec(load_card("energy_bplight") if card is None else card))


def evaluate(network: str = "lenet5", *, cards: dict | None = None,  # noqa: C901 - layer-by-layer accounting
             characterization=None) -> EnergyReport:
    """Evaluate ``network`` on both designs.

    Parameters
    ----------
    network : one of :data:`NETWORKS`
    cards : optional dict with Card objects for keys "bplight", "baseline", "workload",
        "rram" (defaults: the shipped energy_bplight, energy_baseline, energy_workload,
        rram_array cards); see :func:`cosim.energy.config.load_config`.
    characterization : a :class:`cosim.readout.ReadoutCharacterization`; default: measured
        with ngspice (cached) of the bplight card's readout (``readout_tia_card``) at the
        card's bits, :func:`readout_characterization`.  One of another readout is used
        but flagged in the report.
    """
    from cosim.devices import load_card
    from cosim.errors import ConfigError

    nets = _networks()
    if network not in nets:
        raise ConfigError(f"unknown network {network!r}; choose one of {sorted(nets)}")
    cards = dict(cards or {})
    bp_card = cards.get("bplight") or load_card("energy_bplight")
    base_card = cards.get("baseline") or load_card("energy_baseline")
    work_card = cards.get("workload") or load_card("energy_workload")
    rram_card = cards.get("rram") or load_card("rram_array")
    if characterization is None:
        characterization = readout_characterization(bp_card)
    pc, flags = photonic_components(bp_card, characterization)
    bc = baseline_components(base_card)
    wc = workload_components(work_card, rram_card)
    model = nets[network]()
    infos = model.layer_shapes()
    figs: dict[str, Quantity] = {}
    for k, q in pc.items():
        figs[("bplight.link." + k[5:]) if k.startswith("link.") else f"bplight.component.{k}"] = q
    for k, q in bc.items():
        figs[f"baseline.component.{k}"] = q
    for k, q in wc.items():
        figs[f"workload.{k}"] = q

    first_weighted = next(i for i, x in enumerate(infos) if x.weight_shape is not None)
    bp_copies = leaf(2, "1", "assumption: the backward pass reads W^T on a second bank set "
                     "(ARCHITECTURE.md: transposed mapping), so two copies are written")
    per: dict[str, dict[str, dict[str, Quantity]]] = {d: {p: {} for p in PHASES} for d in DESIGNS}
    layer_names = []
    macs: dict[str, dict[str, Quantity]] = {p: {} for p in ("forward", "backward", "update")}
    tiles_all: dict[str, dict[str, Quantity]] = {d: {} for d in DESIGNS}
    for i, info in enumerate(infos):
        name = info.name
        ew = _count(info.elementwise_ops, "elementwise digital operations per sample", network,
                    name)
        if info.weight_shape is None:
            if info.elementwise_ops == 0:
                continue
            layer_names.append(name)
            zero = leaf(0.0, "s", "digital operations overlap the analog pipeline "
                                  "(not on the critical path)")
            for d in DESIGNS:
                phases = ["forward"] + (["backward"] if i > first_weighted else [])
                for ph in phases:
                    e = derive("ew * e_op", "J", ew=ew, e_op=wc["digital_op_energy"])
                    per[d][ph][name] = {"digital_energy": e,
                                        "energy": total({"digital_energy": e}, "J"),
                                        "latency": zero}
            continue
        layer_names.append(name)
        n_out, n_in = info.weight_shape
        r = _count(info.rows_per_sample, "matrix-vector products per sample", network, name)
        a = _count(n_in, "matrix inputs (weight columns)", network, name)
        b = _count(n_out, "matrix outputs (weight rows)", network, name)
        m_f = derive("r * a * b", "1", r=r, a=a, b=b)
        macs["forward"][name] = m_f
        no_ew = leaf(0, "1", "bias and activation are counted in the forward pass")
        for d, fn, c in (("bplight", _photonic_pass, pc), ("baseline", _baseline_pass, bc)):
            t, lat, tiles = fn(c, wc, r, a, b, ew)
            per[d]["forward"][name] = {**t, "energy": total(t, "J"), "latency": lat, "macs": m_f}
            tiles_all[d][name] = tiles
            if i > first_weighted:
                t, lat, tiles_t = fn(c, wc, r, b, a, no_ew)
                m_b = derive("r * a * b", "1", r=r, a=a, b=b)
                macs["backward"][name] = m_b
                per[d]["backward"][name] = {**t, "energy": total(t, "J"), "latency": lat,
                                            "macs": m_b}
            if d == "bplight":
                t, lat = _update(wc, c["memristors_per_weight"], bp_copies, c["bank_outputs"],
                                 r, a, b)
            else:
                t, lat = _update(wc, c["columns_per_weight"], c["copies"], c["crossbar_rows"],
                                 r, a, b)
            per[d]["update"][name] = {**t, "energy": total(t, "J"), "latency": lat, "macs": m_f}
        macs["update"][name] = m_f

    for d in DESIGNS:
        for ph in PHASES:
            for lname, terms in per[d][ph].items():
                for k, q in terms.items():
                    figs[f"{d}.layer.{lname}.{ph}.{k}"] = q
        _totals(figs, d, per[d], macs, wc, network, pc if d == "bplight" else bc, tiles_all[d])
    for mode in ("training", "inference"):
        bp, base = f"bplight.{mode}", f"baseline.{mode}"
        figs[f"ratio.{mode}.speedup"] = derive("t_base / t_bplight", "1",
                                               t_base=figs[f"{base}.time_per_image"],
                                               t_bplight=figs[f"{bp}.time_per_image"])
        figs[f"ratio.{mode}.energy_saving"] = derive("e_base / e_bplight", "1",
                                                     e_base=figs[f"{base}.energy_per_image"],
                                                     e_bplight=figs[f"{bp}.energy_per_image"])
        figs[f"ratio.{mode}.efficiency"] = derive("eff_bplight / eff_base", "1",
                                                  eff_bplight=figs[f"{bp}.gops_per_w"],
                                                  eff_base=figs[f"{base}.gops_per_w"])
    return EnergyReport(network, figs, flags, layer_names)


def _totals(figs, d, per, macs, wc, network, comp, tiles) -> None:
    images_key = "epoch_images_lenet5" if network == "lenet5" else "epoch_images_vgg"
    for ph in PHASES:
        e = {f"{ln}": t["energy"] for ln, t in per[ph].items()}
        lat = {f"{ln}": t["latency"] for ln, t in per[ph].items()}
        figs[f"{d}.{ph}.energy_per_image"] = total(e, "J")
        figs[f"{d}.{ph}.latency_per_image"] = total(lat, "s")
        figs[f"{d}.{ph}.stage_interval"] = derive(f"max({', '.join(lat)})", "s", **lat) \
            if len(lat) > 1 else total(lat, "s")
    ops = {f"macs_{p}": total(macs[p], "1") for p in PHASES}
    for mode, phases in (("training", PHASES), ("inference", ("forward",))):
        pre = f"{d}.{mode}"
        figs[f"{pre}.energy_per_image"] = total(
            {p: figs[f"{d}.{p}.energy_per_image"] for p in phases}, "J")
        figs[f"{pre}.latency_per_image"] = total(
            {p: figs[f"{d}.{p}.latency_per_image"] for p in phases}, "s")
        stages = {p: figs[f"{d}.{p}.stage_interval"] for p in phases}
        figs[f"{pre}.time_per_image"] = derive(f"max({', '.join(stages)})", "s", **stages) \
            if len(stages) > 1 else _with_formula(stages)
        figs[f"{pre}.ops_per_image"] = derive(
            "2 * (" + " + ".join(f"macs_{p}" for p in phases) + ")", "1",
            **{f"macs_{p}": ops[f"macs_{p}"] for p in phases})
        figs[f"{pre}.gops_per_w"] = derive("ops / energy / 1e9", "GOPS/W",
                                           ops=figs[f"{pre}.ops_per_image"],
                                           energy=figs[f"{pre}.energy_per_image"])
        if mode == "training":
            n_img = leaf(wc[images_key].value, "1", wc[images_key].source)
            figs[f"{pre}.energy_per_epoch"] = derive("e * n", "J",
                                                     e=figs[f"{pre}.energy_per_image"], n=n_img)
            figs[f"{pre}.time_per_epoch"] = derive("t * n", "s",
                                                   t=figs[f"{pre}.time_per_image"], n=n_img)
    n_tiles = total(tiles, "1")
    if d == "bplight":
        figs[f"{d}.area.tiles"] = derive("tiles * 2", "1", tiles=n_tiles)
        tile_area = derive("n * m * ring + n * (ring + dac) + m * (2 * pd + tia + adc)", "m^2",
                           n=comp["bank_channels"], m=comp["bank_outputs"], ring=comp["ring_area"],
                           dac=comp["dac_area"], pd=comp["pd_area"], tia=comp["tia_area"],
                           adc=comp["adc_area"])
    else:
        figs[f"{d}.area.tiles"] = derive("tiles * copies", "1", tiles=n_tiles,
                                         copies=comp["copies"])
        tile_area = derive("rows * cols * cell + adc + rows * dac", "m^2",
                           rows=comp["crossbar_rows"], cols=comp["crossbar_cols"],
                           cell=comp["cell_area"], adc=comp["adc_area"], dac=comp["dac_area"])
    figs[f"{d}.area.tile_area"] = tile_area
    figs[f"{d}.area.total"] = derive("tiles * tile_area", "m^2", tiles=figs[f"{d}.area.tiles"],
                                     tile_area=tile_area)
    for mode in ("training", "inference"):
        pre = f"{d}.{mode}"
        figs[f"{pre}.gops_per_mm2"] = derive("ops / t / area / 1e9 / 1e6", "GOPS/mm^2",
                                             ops=figs[f"{pre}.ops_per_image"],
                                             t=figs[f"{pre}.time_per_image"],
                                             area=figs[f"{d}.area.total"])


def _with_formula(stages: dict[str, Quantity]) -> Quantity:
    return total(stages, "s")


def energy_by_component(report: EnergyReport, design: str,
                        mode: str = "training") -> dict[str, dict[str, float]]:
    """``{layer: {component: J per image}}`` summed over the phases of ``mode``."""
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
