r"""The memristor-to-ring link: a weight's memristor pair -> heater power -> ring detuning.

A weight of the photonic tile lives on a differential memristor pair ``(G+, G-)``
(:mod:`cosim.hw.weights`) and acts through the detuning of one microring of the weight
bank (:mod:`cosim.optics.weight_bank`).  The circuit between them is the
``link_driver`` subcircuit of ``netlists/link.lib`` (card ``devices/link_driver.toml``):

::

     +V_read --[G+]--+--[G-]-- -V_read          vdd
                     |                           |
     -V_read --[gb]--+ s                        [R_h]  ring heater
                     |                           | hd
                     +--[R_t]--+            +---|D  pass transistor (gm)
                     |         |            |    | src
                     +--|-\    | o1         |   [R_s]
                        |  >---+----|+\     |    |
                     0--|+/         |  >----+   gnd
                                src-|-/   g

Stage 1 reads the pair at ``+-V_read`` (the read voltage of the rram_array card) into
the virtual ground ``s`` of an inverting amplifier; a bias conductance ``gb = G_max -
G_min`` to ``-V_read`` makes its output unipolar.  Stage 2 is an op-amp current sink:
the op-amp holds the sense resistor at the read output, so the heater current is
``V(o1) / R_s``.  With op-amps of finite open-loop gain ``a0`` and the pass transistor
linearised as a transconductance ``gm`` (assumptions of the card), the operating point
in closed form is (KCL at ``s``; loop of stage 2):

    V_s  = V_read (G+ - G- - gb) / (G+ + G- + gb + (1 + a0) / R_t)
    V_o1 = -a0 V_s                       ( -> R_t V_read (gb - G+ + G-) )
    I_h  = gm a0 V_o1 / (1 + gm R_s (1 + a0))   ( -> V_o1 / R_s )
    P_h  = R_h I_h^2                     heater power (W)
    delta = eta P_h                      ring detuning (rad, round-trip phase;
                                         cosim.optics.heater_phase at lambda0)

so the detuning is quadratic in the conductance difference: with ``u = (gb - G+ +
G-) / (2 gb)`` in [0, 1] (``u = (1 - w) / 2`` for the pair's normalised weight ``w =
(G+ - G-) / gb``), ``delta ~= delta_fs u^2``.  ``w = +1`` leaves the heater off (the
ring on resonance: the largest drop - through), ``w = -1`` heats it to the full-scale
detuning ``delta_fs``, designed to be the bank's ``max_detuning_rad`` (half a channel
spacing).  The weight the ring then applies is :func:`link_weight`:
``detuning_to_weight(delta)`` of the weight bank (a monotonic, nonlinear map of ``w``).

Electrical power of one ring's link (what :func:`link_power` prices): the power the
circuit's sources deliver, ``V_dd (I_h + 2 i_q)`` (heater, pass transistor, sense
resistor and the two op-amps' quiescent currents) plus the read power
``V_read G+ (V_read - V_s) + V_read (G- + gb)(V_read + V_s)``.  At full scale the heater
takes ``delta_fs / eta`` (0.45 mW for the shipped cards) and the supply ``V_dd I_h``
(1.2 mW); the memristors dissipate at most ``V_read^2 G_max`` (2.5 uW).

The netlist (:func:`build_link_netlist`) and the closed form are the same linear
circuit: ngspice and the native engine give its operating point to about 1e-12
relative (tests/devices/test_link_driver.py holds 1e-6 over the conductance range).

Integration: :func:`link_transfer` and :func:`link_power` take conductance arrays of
any shape (broadcast), so a tile can turn a weight state ``(G+, G-)`` into detunings
and the link power per ring in one call; nothing in the tiles uses it yet (the
photonic tile still programs ideal detunings ``weight_to_detuning(w)``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cosim.devices.cards import Card, load_card
from cosim.errors import ConfigError

#: Solver settings of the link netlists (a linear circuit: ngspice's .op is exact to
#: rounding; tight tolerances only make that explicit).
NUMERICS: dict[str, float] = {"reltol": 1e-9, "abstol": 1e-15, "vntol": 1e-12}

_DRIVER_FIELDS = ("read_feedback_resistance_ohm", "sense_resistance_ohm",
                  "heater_resistance_ohm", "pass_transconductance_s", "open_loop_gain",
                  "quiescent_current_a", "supply_v", "saturation_voltage_v")


def _card(value, kind: str) -> Card:
    if value is None:
        return load_card(kind)
    if isinstance(value, Card):
        return value
    return load_card(value, kind=kind)


@dataclass(frozen=True)
class LinkDriverSpec:
    """Parameters of one ring's link driver (SI units); build it with :meth:`from_cards`.

    Driver values come from the link_driver card; ``read_voltage_v``, ``g_min_s``,
    ``g_max_s`` from the rram_array card (the memristors and their read); the heater
    efficiency ``heater_efficiency_rad_per_w`` (rad/W) from the optics card.  The
    constructor refuses a design whose full-scale heater current leaves the pass
    transistor less than ``saturation_voltage_v``.
    """

    read_feedback_resistance_ohm: float
    sense_resistance_ohm: float
    heater_resistance_ohm: float
    pass_transconductance_s: float
    open_loop_gain: float
    quiescent_current_a: float
    supply_v: float
    saturation_voltage_v: float
    read_voltage_v: float
    g_min_s: float
    g_max_s: float
    heater_efficiency_rad_per_w: float

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise ConfigError(f"LinkDriverSpec.{name}={value!r}: give a finite number")
            if value < 0 or (value == 0 and name not in ("quiescent_current_a",
                                                         "saturation_voltage_v", "g_min_s")):
                raise ConfigError(f"LinkDriverSpec.{name}={value!r} must be > 0")
        if not self.g_min_s < self.g_max_s:
            raise ConfigError(f"g_min_s={self.g_min_s!r} must be below g_max_s="
                              f"{self.g_max_s!r} (rram_array card)")
        i_fs = float(_heater_current(self, self.g_min_s, self.g_max_s))
        v_pass = self.supply_v - i_fs * (self.heater_resistance_ohm + self.sense_resistance_ohm)
        if v_pass < self.saturation_voltage_v:
            raise ConfigError(
                f"link driver: the full-scale heater current {i_fs:.4g} A leaves the pass "
                f"transistor {v_pass:.3g} V, below its saturation voltage "
                f"{self.saturation_voltage_v} V; raise supply_v or lower "
                "heater_resistance_ohm / sense_resistance_ohm (link_driver card)")

    @classmethod
    def from_cards(cls, link_driver: str | Path | Card | None = None,
                   rram: str | Path | Card | None = None,
                   optics: str | Path | Card | None = None, **overrides) -> LinkDriverSpec:
        """Spec from the link_driver, rram_array and optics cards (shipped ones by
        default, or names/paths/cards), then ``overrides`` by field name."""
        drv, mem, opt = (_card(link_driver, "link_driver"), _card(rram, "rram_array"),
                         _card(optics, "optics"))
        values = {name: float(drv[name]) for name in _DRIVER_FIELDS}
        values.update(read_voltage_v=float(mem["v_read_v"]), g_min_s=float(mem["g_min_s"]),
                      g_max_s=float(mem["g_max_s"]),
                      heater_efficiency_rad_per_w=float(opt["heater_efficiency_rad_per_w"]))
        unknown = set(overrides) - set(values)
        if unknown:
            raise ConfigError(f"LinkDriverSpec.from_cards: unknown override(s) "
                              f"{sorted(unknown)}; valid: {sorted(values)}")
        values.update({k: float(v) for k, v in overrides.items()})
        return cls(**values)

    @property
    def bias_conductance_s(self) -> float:
        """``gb = G_max - G_min`` (S): the read offset that makes the heater current
        zero at ``G+ - G- = gb``."""
        return self.g_max_s - self.g_min_s

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LinkTransfer:
    """Operating point of link drivers (arrays of the broadcast shape of ``G+, G-``).

    Attributes
    ----------
    summing_node_v : V(s), V
    read_output_v : V(o1), V
    heater_current_a : I_h, A
    heater_power_w : R_h I_h^2, W
    detuning_rad : round-trip phase of the ring from its heater, rad
    power_w : electrical power the link's sources deliver, W (module docstring)
    """

    summing_node_v: np.ndarray
    read_output_v: np.ndarray
    heater_current_a: np.ndarray
    heater_power_w: np.ndarray
    detuning_rad: np.ndarray
    power_w: np.ndarray


def _pair(g_pos_s, g_neg_s, spec: LinkDriverSpec) -> tuple[np.ndarray, np.ndarray]:
    gp = np.asarray(g_pos_s, dtype=float)
    gn = np.asarray(g_neg_s, dtype=float)
    for name, g in (("g_pos_s", gp), ("g_neg_s", gn)):
        if not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ConfigError(f"{name}: memristor conductances must be finite and > 0 S")
    if np.any(gp - gn > spec.bias_conductance_s * (1 + 1e-9)):
        raise ConfigError(f"G+ - G- up to {np.max(gp - gn):.4g} S exceeds the read bias "
                          f"G_max - G_min = {spec.bias_conductance_s:.4g} S: the heater "
                          "current would be negative; keep the pair inside the rram_array "
                          "card's [g_min_s, g_max_s]")
    return gp, gn


def _summing_node_v(spec: LinkDriverSpec, gp, gn):
    gb = spec.bias_conductance_s
    a0, rt = spec.open_loop_gain, spec.read_feedback_resistance_ohm
    return spec.read_voltage_v * (gp - gn - gb) / (gp + gn + gb + (1.0 + a0) / rt)


def _heater_current(spec: LinkDriverSpec, gp, gn):
    a0, gm, rs = spec.open_loop_gain, spec.pass_transconductance_s, spec.sense_resistance_ohm
    v_o1 = -a0 * _summing_node_v(spec, gp, gn)
    return gm * a0 * v_o1 / (1.0 + gm * rs * (1.0 + a0))


def link_transfer(g_pos_s, g_neg_s, spec: LinkDriverSpec | None = None) -> LinkTransfer:
    """Closed-form operating point of the link drivers of memristor pairs (module
    docstring): heater current and power, ring detuning and link power.

    Parameters
    ----------
    g_pos_s, g_neg_s : array, S
        Conductances of the pair (broadcast together); ``G+ - G- <= G_max - G_min``.
    spec : LinkDriverSpec, optional
        Default ``LinkDriverSpec.from_cards()``.

    Returns
    -------
    LinkTransfer
    """
    from cosim.optics import heater_phase

    spec = LinkDriverSpec.from_cards() if spec is None else spec
    gp, gn = _pair(g_pos_s, g_neg_s, spec)
    v_r = spec.read_voltage_v
    v_s = _summing_node_v(spec, gp, gn)
    v_o1 = -spec.open_loop_gain * v_s
    i_h = _heater_current(spec, gp, gn)
    p_h = spec.heater_resistance_ohm * i_h * i_h
    delta = heater_phase(p_h, efficiency_rad_per_w=spec.heater_efficiency_rad_per_w)
    power = spec.supply_v * (i_h + 2.0 * spec.quiescent_current_a) \
        + v_r * gp * (v_r - v_s) + v_r * (gn + spec.bias_conductance_s) * (v_r + v_s)
    return LinkTransfer(v_s, v_o1, i_h, p_h, delta, power)


def link_power(g_pos_s, g_neg_s, spec: LinkDriverSpec | None = None) -> np.ndarray:
    """Electrical power of each ring's link (W): :attr:`LinkTransfer.power_w`."""
    return link_transfer(g_pos_s, g_neg_s, spec).power_w


def link_weight(g_pos_s, g_neg_s, bank, spec: LinkDriverSpec | None = None) -> np.ndarray:
    """The weight a ring of ``bank`` applies when its detuning is set by the link of the
    pair: ``detuning_to_weight(link_transfer(G+, G-).detuning_rad, bank)``
    (:func:`cosim.optics.weight_bank.detuning_to_weight`, the ring alone on its
    channel)."""
    from cosim.optics.weight_bank import detuning_to_weight

    return detuning_to_weight(link_transfer(g_pos_s, g_neg_s, spec).detuning_rad, bank)


def full_scale_detuning_rad(spec: LinkDriverSpec | None = None) -> float:
    """Detuning (rad) at ``G+ = G_min, G- = G_max``: the largest the link produces."""
    spec = LinkDriverSpec.from_cards() if spec is None else spec
    return float(link_transfer(spec.g_min_s, spec.g_max_s, spec).detuning_rad)


def build_link_netlist(g_pos_s, g_neg_s, spec: LinkDriverSpec | None = None, *,
                       title: str | None = None):
    """Netlist of one link driver per memristor pair (``link_driver`` of
    ``netlists/link.lib``), no analysis.

    Ring ``k`` (pairs flattened in C order): memristors ``Rgp{k}`` (``vrp`` -> ``s{k}``,
    1/G+) and ``Rgn{k}`` (``vrn`` -> ``s{k}``, 1/G-), driver ``Xdrv{k}``, heater ``Rh{k}``
    from ``vdd`` to ``hd{k}``; the heater power is ``(V(vdd) - V(hd{k}))^2 / R_h``.
    Shared sources ``Vdd`` (``supply_v``), ``Vrp`` (+V_read), ``Vrn`` (-V_read).
    """
    from cosim.netlist import Circuit, Resistor, SubcircuitInstance, VoltageSource

    spec = LinkDriverSpec.from_cards() if spec is None else spec
    gp, gn = _pair(g_pos_s, g_neg_s, spec)
    gp, gn = (np.ravel(x) for x in np.broadcast_arrays(gp, gn))
    c = Circuit(title or f"memristor-to-ring link: {gp.size} driver(s)")
    c.include("link.lib")
    c.options.update(NUMERICS)
    c.add(VoltageSource("Vdd", "vdd", "0", spec.supply_v),
          VoltageSource("Vrp", "vrp", "0", spec.read_voltage_v),
          VoltageSource("Vrn", "vrn", "0", -spec.read_voltage_v))
    params = {"rt": spec.read_feedback_resistance_ohm, "rs": spec.sense_resistance_ohm,
              "gm": spec.pass_transconductance_s, "a0": spec.open_loop_gain,
              "gb": spec.bias_conductance_s, "iq": spec.quiescent_current_a}
    for k in range(gp.size):
        c.add(Resistor(f"Rgp{k}", "vrp", f"s{k}", 1.0 / float(gp[k])),
              Resistor(f"Rgn{k}", "vrn", f"s{k}", 1.0 / float(gn[k])),
              SubcircuitInstance(f"Xdrv{k}", (f"s{k}", f"hd{k}", "vrn", "vdd"),
                                 "link_driver", params),
              Resistor(f"Rh{k}", "vdd", f"hd{k}", spec.heater_resistance_ohm))
    return c


def heater_power_from_result(result, spec: LinkDriverSpec, n: int) -> np.ndarray:
    """Heater powers (W) of the ``n`` rings of a :func:`build_link_netlist` operating
    point (a :class:`cosim.spice.SpiceResult` from ngspice or the native engine)."""
    vdd = float(np.ravel(result.v("vdd"))[0])
    v = np.array([float(np.ravel(result.v(f"hd{k}"))[0]) for k in range(n)])
    return (vdd - v) ** 2 / spec.heater_resistance_ohm


def power_from_result(result, spec: LinkDriverSpec) -> float:
    """Total power (W) the sources of a :func:`build_link_netlist` operating point
    deliver: ``-(V_dd I(Vdd) + V_read I(Vrp) - V_read I(Vrn))`` (branch currents flow
    into the positive terminal)."""
    def cur(name):
        return float(np.ravel(result.i(name))[0])

    v_r = spec.read_voltage_v
    return -(spec.supply_v * cur("Vdd") + v_r * cur("Vrp") - v_r * cur("Vrn"))


__all__ = ["NUMERICS", "LinkDriverSpec", "LinkTransfer", "build_link_netlist",
           "full_scale_detuning_rad", "heater_power_from_result", "link_power",
           "link_transfer", "link_weight", "power_from_result"]
