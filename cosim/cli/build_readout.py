"""``cosim netlist build readout``: balanced photodiode + TIA readout channels."""

from __future__ import annotations

from pathlib import Path

from cosim.netlist import Ac, Circuit, Dc, Noise, Op

NAME = "readout"
HELP = "balanced photodiode pair + TIA readout chain(s) from the device cards"

_ANALYSES = ("op", "dc", "ac", "noise")


def add_arguments(parser) -> None:
    parser.add_argument("--channels", type=int, default=1, metavar="N",
                        help="number of independent channels (default 1)")
    parser.add_argument("--photodetector-card", type=Path, default=None, metavar="FILE",
                        help="photodetector card (default: the shipped 'photodetector')")
    parser.add_argument("--tia-card", type=Path, default=None, metavar="FILE",
                        help="TIA card (default: the shipped 'tia')")
    parser.add_argument("--converters-card", type=Path, default=None, metavar="FILE",
                        help="converters card (default: the shipped 'converters')")
    parser.add_argument("--ideal-opamp", action="store_true",
                        help="ideal op-amp (noiseless, unlimited, gain 1e8, GBW kept)")
    parser.add_argument("--signal", type=float, default=0.0, metavar="A",
                        help="DC net photocurrent of every channel in A (default 0)")
    parser.add_argument("--common-mode", type=float, default=None, metavar="W",
                        help="optical power per detector in W (default |signal|/(2R))")
    parser.add_argument("--analysis", choices=_ANALYSES, default="op",
                        help="analysis written into the netlist: op, dc (sweep of Vsig0 "
                             "over +-full scale), ac or noise (at out0) (default op)")


def build(args) -> Circuit:
    from cosim.readout import ReadoutSpec, build_readout_chain

    spec = ReadoutSpec.from_cards(args.photodetector_card, args.tia_card,
                                  args.converters_card)
    if args.ideal_opamp:
        spec = spec.ideal()
    i_fs = spec.full_scale_current_a
    cm = args.common_mode
    if cm is None:
        cm = abs(args.signal) / (2 * spec.responsivity_a_per_w)
        if args.analysis == "dc":
            cm = i_fs / (2 * spec.responsivity_a_per_w)
    circuit = build_readout_chain(spec, args.channels, signal_a=args.signal,
                                  common_mode_w=cm,
                                  noise="ac" if args.analysis == "noise" else "off")
    analysis = {
        "op": lambda: Op(),
        "dc": lambda: Dc("Vsig0", -i_fs, i_fs, 2 * i_fs / 2 ** min(spec.adc_bits, 12)),
        "ac": lambda: Ac(1e3, 1e12, 20),
        "noise": lambda: Noise("out0", "Vsig0", 1e3, 1e12, 20),
    }[args.analysis]()
    circuit.analyses.append(analysis)
    return circuit
