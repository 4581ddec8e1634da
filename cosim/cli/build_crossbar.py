"""``cosim netlist build crossbar``: a memristor crossbar read netlist.

Conductances are drawn uniformly in [g_min_s, g_max_s] of the ``crossbar`` device card
(devices/crossbar.toml, ISAAC-style 2 kohm .. 2 Mohm cells) from ``--seed``; input
voltages uniformly in [0, --v-read].  The same seed gives a byte-identical netlist.
"""

from __future__ import annotations

import numpy as np

from cosim.devices import load_card

NAME = "crossbar"
HELP = "memristor crossbar read (passive or 1T1R, wire resistance, forward/transposed)"


def add_arguments(parser) -> None:
    card = load_card("crossbar").values
    parser.add_argument("--rows", type=int, default=8, help="number of rows (default 8)")
    parser.add_argument("--cols", type=int, default=8, help="number of columns (default 8)")
    parser.add_argument("--wire-resistance", type=float,
                        default=card["wire_resistance_crosspoint_ohm"], metavar="OHM",
                        help="wire resistance per cell segment in ohm (default: card value "
                             "%(default)s; 0 = ideal wires)")
    parser.add_argument("--driver-resistance", type=float,
                        default=card["driver_resistance_ohm"], metavar="OHM",
                        help="line-driver output resistance in ohm (default %(default)s)")
    parser.add_argument("--sense-resistance", type=float,
                        default=card["sense_resistance_ohm"], metavar="OHM",
                        help="sense-amplifier input resistance in ohm (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random conductances and inputs (default 0)")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--passive", dest="cell", action="store_const", const="passive",
                      help="cross-point cells with sneak paths (default)")
    kind.add_argument("--1t1r", dest="cell", action="store_const", const="1t1r",
                      help="one access transistor (level-1 NMOS) per cell")
    parser.set_defaults(cell="passive")
    parser.add_argument("--direction", choices=("forward", "transposed"), default="forward",
                        help="forward: drive rows, sense columns; transposed: the reverse")
    parser.add_argument("--v-read", type=float, default=card["read_voltage_v"], metavar="V",
                        help="largest input voltage in V (default %(default)s)")


def build(args):
    from cosim.hw.crossbar import build_crossbar_read  # cosim.hw loads numba: not at start-up

    if args.rows < 1 or args.cols < 1:
        raise ValueError(f"--rows {args.rows} --cols {args.cols}: give positive sizes")
    card = load_card("crossbar").values
    rng = np.random.default_rng(args.seed)
    g = rng.uniform(card["g_min_s"], card["g_max_s"], (args.rows, args.cols))
    n_in = args.rows if args.direction == "forward" else args.cols
    v = rng.uniform(0.0, args.v_read, n_in)
    return build_crossbar_read(
        g, v, args.wire_resistance, args.driver_resistance, args.sense_resistance,
        args.cell, args.direction, access_on_resistance_ohm=card["access_on_resistance_ohm"],
        gate_voltage_v=card["access_gate_voltage_v"], access_vto_v=card["access_vto_v"],
        title=f"crossbar {args.rows}x{args.cols} {args.cell} {args.direction} seed "
              f"{args.seed}")
