"""``cosim netlist build rc``: an RC low-pass test bench (the engine's reference circuit)."""

from __future__ import annotations

from cosim.netlist import Ac, Capacitor, Circuit, Pulse, Resistor, Tran, VoltageSource

NAME = "rc"
HELP = "RC low-pass test bench (step and AC response have closed forms)"


def build_rc_lowpass(resistance_ohm: float = 1e3, capacitance_f: float = 1e-6,
                     analysis: str = "tran") -> Circuit:
    """RC low-pass driven by a 1 V step (tran) or a 1 V AC source (ac).

    Ports: ``in`` (source), ``out`` (capacitor).  Step response
    ``v_out = 1 - exp(-t / RC)``; -3 dB frequency ``1 / (2 pi R C)``.
    """
    tau = resistance_ohm * capacitance_f
    c = Circuit(f"RC low-pass R={resistance_ohm:g} ohm C={capacitance_f:g} F")
    c.add(VoltageSource("V1", "in", "0", 0.0, 1.0, Pulse(0.0, 1.0, 0.0, tau * 1e-9,
                                                        tau * 1e-9, 1e3 * tau, 2e3 * tau)),
          Resistor("R1", "in", "out", resistance_ohm),
          Capacitor("C1", "out", "0", capacitance_f))
    if analysis == "tran":
        c.analyses.append(Tran(tau / 100, 5 * tau, max_step_s=tau / 200))
    elif analysis == "ac":
        f3 = 1 / (2 * 3.141592653589793 * tau)
        c.analyses.append(Ac(f3 / 100, f3 * 100, 100))
    else:
        raise ValueError(f"analysis {analysis!r}: choose 'tran' or 'ac'")
    return c


def add_arguments(parser) -> None:
    parser.add_argument("--resistance", type=float, default=1e3, metavar="OHM",
                        help="series resistance in ohm (default 1000)")
    parser.add_argument("--capacitance", type=float, default=1e-6, metavar="F",
                        help="capacitance in farad (default 1e-6)")
    parser.add_argument("--analysis", choices=("tran", "ac"), default="tran",
                        help="analysis written into the netlist (default tran)")


def build(args) -> Circuit:
    return build_rc_lowpass(args.resistance, args.capacitance, args.analysis)
