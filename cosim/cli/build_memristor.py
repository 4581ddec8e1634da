"""``cosim netlist build memristor-bench``: sinusoidal-drive test bench of one memristor.

The bench (``V1 in 0 SIN``, ``XM1 in 0 memristor_<model>``) shows the pinched hysteresis
loop: device current ``-I(V1)`` against ``V(in)``, state ``V(xm1.x)``.
"""

from __future__ import annotations

from pathlib import Path

from cosim.devices.memristor import (
    MEMRISTOR_MODELS,
    bench_circuit,
    bench_drive_from_card,
    get_model,
    params_from_card,
)
from cosim.errors import ConfigError
from cosim.netlist import Circuit

NAME = "memristor-bench"
HELP = "sinusoidal-drive test bench of one memristor model (pinched hysteresis loop)"


def add_arguments(parser) -> None:
    parser.add_argument("--model", choices=sorted(MEMRISTOR_MODELS), default="linear_joglekar",
                        help="memristor model (default linear_joglekar)")
    parser.add_argument("--amplitude", type=float, default=None, metavar="V",
                        help="drive amplitude in volt (default: the card's bench_amplitude_v)")
    parser.add_argument("--frequency", type=float, default=None, metavar="HZ",
                        help="drive frequency in hertz (default: the card's bench_frequency_hz)")
    parser.add_argument("--cycles", type=int, default=2, metavar="N",
                        help="number of drive periods (default 2)")
    parser.add_argument("--card", type=Path, default=None, metavar="FILE",
                        help="device card (TOML) with the model parameters (default: the "
                             "shipped devices/memristor_<model>.toml)")


def build(args) -> Circuit:
    model = get_model(args.model)
    card = model.card if args.card is None else args.card
    if args.card is not None and Path(args.card).suffix != ".toml":
        raise ConfigError(f"--card {args.card}: give a .toml device card file")
    params = params_from_card(card, model)
    amplitude, frequency = args.amplitude, args.frequency
    if amplitude is None or frequency is None:
        try:
            a_card, f_card = bench_drive_from_card(card)
        except ConfigError:
            raise ConfigError(f"card {card} has no bench_amplitude_v/bench_frequency_hz; "
                              "give --amplitude and --frequency") from None
        amplitude = a_card if amplitude is None else amplitude
        frequency = f_card if frequency is None else frequency
    return bench_circuit(model, amplitude, frequency, args.cycles, **params)
