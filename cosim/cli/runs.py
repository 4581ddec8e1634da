"""``cosim runs show RUN.h5``: summary and metrics table of a training run file;
``cosim runs compare A.h5 B.h5 ...``: the settings that differ, the final metrics and an
HTML report with the loss and accuracy curves overlaid."""

from __future__ import annotations

import json
from pathlib import Path

from cosim.cli.usage import usage_error


def register(subparsers) -> None:
    p = subparsers.add_parser("runs", help="inspect training run files",
                              description="Inspect training run files (HDF5).")
    sub = p.add_subparsers(dest="runs_command", metavar="ACTION")
    show = sub.add_parser("show", help="summary and metrics table of a run file",
                          description="Summary (config digest, progress, final accuracies, "
                                      "spot-check errors, out-of-range counts) and the "
                                      "per-epoch metrics table of a run file.")
    show.add_argument("file", type=Path, metavar="RUN.h5", help="training run file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--steps", action="store_true", help="also print the per-step table")
    show.set_defaults(func=cmd_show)
    cmp = sub.add_parser("compare", help="compare run files: differing settings, final "
                                         "metrics, overlaid curves (HTML)",
                         description="Print the config entries that differ between the "
                                     "run files and their final metrics, and write an "
                                     "HTML report with the loss and accuracy curves of "
                                     "all runs overlaid.")
    cmp.add_argument("files", type=Path, nargs="+", metavar="RUN.h5",
                     help="two or more training run files")
    cmp.add_argument("-o", "--output", type=Path, default=None, metavar="HTML",
                     help="report file (default: FIRST_compare.html beside the first run)")
    cmp.add_argument("--json", action="store_true", help="print JSON instead of the tables")
    cmp.set_defaults(func=cmd_compare)
    p.set_defaults(func=lambda args: usage_error(p))


def show_data(path: Path) -> dict:
    """Summary plus metrics tables (lists) of a run file."""
    from cosim.store.runs import RunFile

    run = RunFile(path)
    out = run.summary()
    out["epoch_metrics"] = {k: v.tolist() for k, v in run.epoch_metrics().items()}
    out["step_metrics"] = {k: v.tolist() for k, v in run.step_metrics().items()}
    return out


def _f(v, fmt=".4f") -> str:
    return "-" if v is None else format(v, fmt)


def cmd_show(args) -> int:
    data = show_data(args.file)
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    print(f"{data['path']}  ({data['status']}, created {data['created']})")
    print(f"  config sha256    {data['config_sha256'][:16]}  seed {data['seed']}  model "
          f"{data['model']}")
    d = data.get("data")
    if d:
        norm = d["normalization"]["method"]
        print(f"  data             {d['dataset']} {'x'.join(map(str, d['input_shape']))}, "
              f"{d['num_classes']} classes: train {d['train']}, validation {d['val']}, test "
              f"{d['test']} images; normalisation {norm}")
    ds = data["design"]
    where = "stored in the file" if ds["stored"] else "from today's cards (older file)"
    print(f"  design           {ds['name']} (tile {ds['tile']}, digest {ds['digest'][:16]}, "
          f"{where}){'; overrides ' if ds['overrides'] else ''}"
          f"{', '.join(f'{k}={v!r}' for k, v in ds['overrides'])}")
    print(f"                   {ds['tile_rows']}x{ds['tile_cols']} tiles, DAC "
          f"{ds['converters.dac_bits']} bit (scale per {ds['dac_scale']}), ADC "
          f"{ds['converters.adc_bits']} bit, {ds['readout_averaging']} reads per output, "
          f"gradient on {ds['gradient_on']}; `cosim design show {data['path']}` lists "
          f"every value")
    print(f"  simulation       engines optical={data['engines']['optical_engine']} "
          f"electrical={data['engines']['electrical_engine']}")
    print(f"  progress         {data['epochs_done']}/{data['epochs_planned']} epochs, "
          f"{data['steps']} steps, {data['train_time_s']:.1f} s of steps")
    print(f"  test accuracy    final {_f(data['final_test_acc'])}  best "
          f"{_f(data['best_test_acc'])}   train accuracy {_f(data['final_train_acc'])}")
    if data["spot_checks"]:
        print(f"  spot checks      {data['spot_checks']}: twin vs spice max |err| "
              f"{data['spot_check_max_abs_error']:.3g}, rel. error median "
              f"{data['spot_check_median_rel_error']:.3g} max "
              f"{data['spot_check_max_rel_error']:.3g}")
    else:
        print("  spot checks      none")
    tot = data["hardware_totals"]
    print(f"  out of range     saturated TIA {tot['saturated_tia']}, clipped ADC "
          f"{tot['clipped_adc']}, below noise floor {tot['below_noise_floor']}, saturated "
          f"weights {tot['saturated_weights']} (of {tot['samples']} samples)")
    for layer, d in data["hardware_per_layer"].items():
        print(f"    {layer:<12} samples {d['samples']:>10}  sat. TIA {d['saturated_tia']:>8}  "
              f"clipped ADC {d['clipped_adc']:>8}  below floor {d['below_noise_floor']:>8}")
    retunes = data.get("retunes") or {}
    if retunes:
        print("  retunes          per layer/phase: weight states programmed, calibration "
              "iterations per retune, largest |applied - target| weight, mean heater and "
              "link power of a loaded state")
        for key, d in retunes.items():
            print(f"    {key:<20} retunes {d['retunes']:>7}  iter "
                  f"{d['iterations_per_retune']:>5.2f}  residual "
                  f"{d['calibration_residual']:>9.3g}  heater "
                  f"{d['heater_power_w'] * 1e3:>9.4g} mW  link {d['link_power_w'] * 1e3:>9.4g} mW")
    errs = data["product_error_median"]
    if errs:
        print(f"  product error    ||Y_hw - Y_exact|| / ||Y_exact||, median of "
              f"{data['product_error_probes']} probed steps")
        for layer, d in errs.items():
            cells = "  ".join(f"{ph} {_f(d.get(ph))}" for ph in ("forward", "backward",
                                                                 "gradient") if ph in d)
            print(f"    {layer:<12} {cells}")
    print(f"  netlists stored  {data['netlists']}")
    print(f"  checkpoint       step {data['checkpoint_step']}: "
          f"{data['checkpoint_integrity']['text']}")
    ep = data["epoch_metrics"]
    val = "val_acc" in ep
    print(f"\n  {'epoch':>5} {'train loss':>11} {'train acc':>10} "
          + (f"{'val acc':>8} " if val else "") + f"{'test acc':>9} {'time s':>8}")
    for i in range(len(ep["epoch"])):
        print(f"  {ep['epoch'][i]:>5} {ep['train_loss'][i]:>11.4f} {ep['train_acc'][i]:>10.4f} "
              + (f"{ep['val_acc'][i]:>8.4f} " if val else "")
              + f"{ep['test_acc'][i]:>9.4f} {ep['time_s'][i]:>8.2f}")
    if args.steps:
        st = data["step_metrics"]
        print(f"\n  {'step':>6} {'epoch':>5} {'loss':>9} {'batch acc':>9} {'time s':>8}")
        for i in range(len(st["step"])):
            print(f"  {st['step'][i]:>6} {st['epoch'][i]:>5} {st['loss'][i]:>9.4f} "
                  f"{st['train_acc'][i]:>9.4f} {st['time_s'][i]:>8.3f}")
    return 0


def cmd_compare(args) -> int:
    from cosim.report.training import write_comparison_report
    from cosim.store.compare import compare_runs, format_comparison

    cmp = compare_runs(args.files)
    first = args.files[0]
    out = args.output or first.with_name(first.stem + "_compare.html")
    report = write_comparison_report(cmp, out)
    if args.json:
        print(json.dumps({**cmp.to_dict(), "report": str(report)}, indent=1))
        return 0
    print(format_comparison(cmp))
    print(f"\nreport: {report}")
    return 0
