"""``cosim characterize``: measure device blocks with real ngspice runs (cached).

``cosim characterize readout [--card FILE] [--json]`` prints the figures of a balanced
photodiode + TIA readout channel: DC transimpedance and offset, -3 dB bandwidth (and the
closed-form two-pole estimate), settling time to half an ADC LSB, output and
input-referred noise, supply power.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cosim.cli.usage import usage_error

_UNITS = {
    "lsb_v": "V", "full_scale_current_a": "A", "gain_ohm": "ohm", "offset_v": "V",
    "bandwidth_hz": "Hz", "closed_form_bandwidth_hz": "Hz", "settling_time_s": "s",
    "step_low_a": "A", "step_high_a": "A", "output_noise_v_rms": "V rms",
    "output_noise_bright_v_rms": "V rms", "dark_total_current_a": "A",
    "bright_total_current_a": "A", "input_noise_a_rms": "A rms",
    "input_noise_density_a_per_rthz": "A/sqrt(Hz)",
    "input_noise_density_lf_a_per_rthz": "A/sqrt(Hz)", "noise_bandwidth_hz": "Hz",
    "supply_power_w": "W", "supply_power_full_scale_w": "W",
    "bias_power_full_scale_w": "W", "effective_bits": "bits", "adc_bits": "bits",
    "ngspice_runs": "",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("characterize", help="measure device blocks with ngspice",
                              description="Characterize a device block by real ngspice "
                                          "runs (results cached in the HDF5 cache).")
    sub = p.add_subparsers(dest="block", metavar="BLOCK")
    r = sub.add_parser("readout", help="balanced PD + TIA readout chain",
                       description="DC transfer at ADC resolution, AC bandwidth, settling "
                                   "to 1/2 LSB, noise and supply power of one readout "
                                   "channel.")
    r.add_argument("--card", type=Path, default=None, metavar="FILE",
                   help="TIA device card (default: the shipped 'tia')")
    r.add_argument("--photodetector-card", type=Path, default=None, metavar="FILE",
                   help="photodetector card (default: the shipped 'photodetector')")
    r.add_argument("--converters-card", type=Path, default=None, metavar="FILE",
                   help="converters card (default: the shipped 'converters')")
    r.add_argument("--bits", type=int, default=None,
                   help="ADC resolution of the sweep and the settling criterion "
                        "(default: the converters card)")
    r.add_argument("--ideal-opamp", action="store_true",
                   help="ideal op-amp (noiseless, unlimited, gain 1e8, GBW kept)")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=cmd_readout)
    p.set_defaults(func=lambda args: usage_error(p))


def cmd_readout(args) -> int:
    from cosim.readout import ReadoutSpec, characterize

    spec = ReadoutSpec.from_cards(args.photodetector_card, args.card, args.converters_card)
    if args.bits is not None:
        spec = spec.with_values(adc_bits=args.bits)
    if args.ideal_opamp:
        spec = spec.ideal()
    ch = characterize(spec)
    figures = ch.figures()
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                          for k, v in figures.items()}, indent=2, sort_keys=True))
        return 0
    width = max(len(k) for k in figures)
    for k, v in figures.items():
        text = f"{v:.6g}" if isinstance(v, float) else str(v)
        print(f"{k:<{width}}  {text} {_UNITS.get(k, '')}".rstrip())
    return 0
