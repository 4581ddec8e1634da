"""Validation report: one PNG per check, an HTML page and a JSON summary.

Takes the :class:`cosim.validate.CheckResult` list of :func:`cosim.validate.run_checks`;
matplotlib is imported here, lazily, with the Agg backend.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def _plt():
    from cosim.report._mpl import pyplot

    return pyplot()


def _scaled(values, unit: str):
    """``values`` divided by the SI prefix that suits them, and the prefixed unit
    (:func:`cosim.report._mpl.si_scale`): an error of 3e-9 A is drawn as 3 nA."""
    from cosim.report._mpl import si_scale

    values = np.asarray(values, dtype=float)
    factor, shown = si_scale(values, unit)
    return values / factor, shown


# ----------------------------------------------------------------------------- plots
def _plot_hysteresis(r, plt):
    a = r.arrays
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(a["voltage_v"], a["current_ngspice_a"] * 1e3, label="ngspice", lw=2)
    ax1.plot(a["voltage_v"], a["current_twin_a"] * 1e3, "--", label="numpy twin")
    ax1.set_xlabel("V (V)")
    ax1.set_ylabel("I (mA)")
    ax1.legend()
    ax1.set_title("pinched hysteresis")
    t, t_unit = _scaled(a["time_s"], "s")
    err, err_unit = _scaled(a["current_twin_a"] - a["current_ngspice_a"], "A")
    ax2.plot(t, err)
    ax2.set_xlabel(f"time ({t_unit})")
    ax2.set_ylabel(f"I_twin - I_ngspice ({err_unit})")
    ax2.set_title(f"twin - ngspice: RMS {r.value:.2g} of the peak current")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    return fig


def _plot_pulse(r, plt):
    a = r.arrays
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(a["pulse_index"], a["conductance_model_s"] * 1e6, "o", ms=4, label="model")
    ax.plot(a["pulse_index"], a["conductance_closed_form_s"] * 1e6, "-",
            label="NeuroSim closed form")
    ax.set_xlabel("pulse number")
    ax.set_ylabel("G (uS)")
    ax.legend()
    ax.set_title("conductance vs pulse (LTP then LTD)")
    return fig


def _plot_crossbar(r, plt):
    a = r.arrays
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    im = ax1.imshow(a["ir_drop_v"] * 1e3, cmap="viridis")
    fig.colorbar(im, ax=ax1, label="IR drop (mV)")
    ax1.set_xlabel("column")
    ax1.set_ylabel("row")
    ax1.set_title(f"IR drop, {r.details.get('ir_map_case', '')}")
    x = np.arange(len(a["relative_error_per_case"]))
    ax2.semilogy(x, np.maximum(a["relative_error_per_case"], 1e-18), "o",
                 label="native vs ngspice")
    ax2.semilogy(x, np.maximum(a["ideal_read_deviation_per_case"], 1e-18), "s",
                 label="ngspice vs ideal G^T v")
    ax2.axhline(r.threshold, color="r", ls="--", label="threshold (native vs ngspice)")
    ax2.set_xticks(x, r.details.get("cases", []), rotation=60, ha="right", fontsize=7)
    ax2.set_ylabel("relative error of the column currents")
    ax2.set_title("read errors per case")
    ax2.legend(fontsize=7)
    return fig


def to_db(power_ratio, floor_db: float = -60.0) -> np.ndarray:
    """Power ratio in dB, ``10 log10(p)``, clipped below at ``floor_db`` (a zero
    transmission would be -inf)."""
    p = np.asarray(power_ratio, dtype=float)
    return np.maximum(10.0 * np.log10(np.maximum(p, 1e-300)), floor_db)


def _plot_mrr(r, plt):
    from matplotlib.ticker import MaxNLocator

    a = r.arrays
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(a["phase_rad"], to_db(a["drop_tm"]), lw=2, label="drop, transfer matrix")
    ax1.plot(a["phase_rad"], to_db(a["drop_closed_form"]), "--", label="drop, closed form")
    ax1.plot(a["phase_rad"], to_db(a["all_pass_tm"]), lw=2, label="all-pass, transfer matrix")
    ax1.plot(a["phase_rad"], to_db(a["all_pass_closed_form"]), "--",
             label="all-pass, closed form")
    ax1.set_xlabel("round-trip phase (rad)")
    ax1.set_ylabel("power transmission (dB)")
    ax1.set_title("transfer matrix vs closed form")
    ax1.legend(fontsize=7, loc="center right")
    ax2.plot(a["wavelength_m"] * 1e9, to_db(a["drop_spectrum"]), label="add-drop, drop port")
    ax2.plot(a["wavelength_m"] * 1e9, to_db(a["all_pass_spectrum"]), label="all-pass")
    ax2.set_xlabel("wavelength (nm)")
    ax2.set_ylabel("power transmission (dB)")
    ax2.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax2.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax2.legend(fontsize=7, loc="center")   # between resonances: off the curves
    ax2.set_title("spectra (card ring)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    return fig


def _plot_bank(r, plt):
    a = r.arrays
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    lim = float(np.max(np.abs(a["weight_error_before"])))
    for ax, key, title in ((axes[0], "weight_error_before", "before calibration"),
                           (axes[1], "weight_error_after", "after calibration")):
        im = ax.imshow(a[key], cmap="RdBu", vmin=-lim, vmax=lim)
        ax.set_title(f"weight error {title}")
        ax.set_xlabel("channel")
        ax.set_ylabel("output")
        fig.colorbar(im, ax=ax, shrink=0.8, label="weight error (full scale 1)")
    return fig


def _plot_dc(r, plt):
    a = r.arrays
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(a["dc_current_a"] * 1e6, a["dc_output_v"], label="ngspice")
    ax1.set_xlabel("net photocurrent (uA)")
    ax1.set_ylabel("TIA output (V)")
    ax1.set_title("DC transfer")
    dev, dev_unit = _scaled(a["dc_output_v"] - a["dc_expected_v"], "V")
    ax2.plot(a["dc_current_a"] * 1e6, dev)
    ax2.set_xlabel("net photocurrent (uA)")
    ax2.set_ylabel(f"output - linear ({dev_unit})")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax2.set_title("deviation from -Rf A0/(1+A0) I")
    return fig


def _plot_bode(r, plt):
    a = r.arrays
    z, zc = a["transimpedance_ohm"], a["closed_form_ohm"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    ax1.semilogx(a["frequency_hz"], 20 * np.log10(np.abs(z)), label="ngspice .ac")
    ax1.semilogx(a["frequency_hz"], 20 * np.log10(np.abs(zc)), "--", label="closed form")
    ax1.axvline(r.details["bandwidth_hz"], color="k", lw=0.5,
                label=f"-3 dB bandwidth {r.details['bandwidth_hz'] / 1e9:.3g} GHz")
    ax1.set_ylabel("|Z| (dB ohm)")
    ax1.legend()
    ax2.semilogx(a["frequency_hz"], np.degrees(np.unwrap(np.angle(z))))
    ax2.semilogx(a["frequency_hz"], np.degrees(np.unwrap(np.angle(zc))), "--")
    ax2.set_xlabel("frequency (Hz)")
    ax2.set_ylabel("phase (deg)")
    ax1.set_title("PD/TIA Bode plot")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
    return fig


def _plot_step(r, plt):
    a = r.arrays
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(a["step_time_s"] * 1e9, a["step_output_v"])
    ax.axvline(r.value * 1e9, color="g", ls="--", label="settled to LSB/2")
    ax.axvline(r.threshold * 1e9, color="r", ls=":", label="one ADC sample")
    ax.set_xlabel("time from step (ns)")
    ax.set_ylabel("TIA output (V)")
    ax.legend()
    ax.set_title("full-scale step response")
    return fig


def _plot_noise(r, plt):
    from cosim.report._mpl import label_minor_log_ticks

    a = r.arrays
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.loglog(a["frequency_hz"], a["output_noise_v_per_rthz"], label="ngspice .noise, output")
    ax1.set_xlabel("frequency (Hz)")
    ax1.set_ylabel("output noise density (V/sqrt(Hz))")
    ax1.set_title("output noise (dark)")
    ax1.legend(fontsize=8)
    ax2.loglog(a["frequency_hz"], a["input_noise_a_per_rthz"],
               label="ngspice, input-referred (output / |Z|)")
    ax2.axhline(r.details["published_a_per_rthz"], color="r", ls="--",
                label="specification 2 pA/sqrt(Hz)")
    if "closed_form_a_per_rthz" in r.details:
        ax2.axhline(r.details["closed_form_a_per_rthz"], color="k", ls=":",
                    label="closed form sqrt(i_amp^2 + 4kT/Rf)")
    ax2.set_xlabel("frequency (Hz)")
    ax2.set_ylabel("input-referred noise density (A/sqrt(Hz))")
    ax2.set_title("input-referred noise (dark)")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
        label_minor_log_ticks(ax)
    return fig


def _plot_inl(r, plt):
    a = r.arrays
    what = r.name.split("_")[0].upper()         # ADC or DAC
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((ax1, "inl_lsb", "INL"), (ax2, "dnl_lsb", "DNL")):
        ax.plot(a[key], lw=0.5)
        ax.set_title(f"{what} {title}")
        ax.set_ylabel(f"{title} (LSB)")
        ax.set_xlabel("code")
        ax.grid(alpha=0.3)
    return fig


def _plot_quantum(r, plt):
    a = r.arrays
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(a["limit_wavelength_m"] * 1e9, a["limit_a_per_w"], "r--",
            label="quantum limit q lambda / (h c)")
    ax.plot(a["wavelength_m"] * 1e9, a["responsivity_a_per_w"], "o", label="card")
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("responsivity (A/W)")
    ax.legend()
    return fig


PLOTTERS: dict[str, Callable] = {
    "pd_quantum_limit": _plot_quantum,
    "memristor_hysteresis_": _plot_hysteresis,
    "memristor_pulse_curve": _plot_pulse,
    "crossbar_native_vs_ngspice": _plot_crossbar,
    "mrr_spectra": _plot_mrr,
    "weight_bank_calibration": _plot_bank,
    "readout_dc_transfer": _plot_dc,
    "readout_bandwidth": _plot_bode,
    "readout_step": _plot_step,
    "readout_noise": _plot_noise,
    "adc_inl_dnl": _plot_inl,
    "dac_inl_dnl": _plot_inl,
}
"""Plot function by check name (or name prefix ending in ``_``)."""


def _plotter(name: str):
    if name in PLOTTERS:
        return PLOTTERS[name]
    for key, fn in PLOTTERS.items():
        if key.endswith("_") and name.startswith(key):
            return fn
    return None


def check_figure(result):
    """The figure of one check result (:class:`cosim.validate.CheckResult`), or None
    when the check has no plot or no arrays."""
    fn = _plotter(result.name)
    if fn is None or not result.arrays:
        return None
    fig = fn(result, _plt())
    fig.tight_layout()          # panels side by side: no label over a neighbour's ticks
    return fig


# ----------------------------------------------------------------------------- report
def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": cpu, "cores": os.cpu_count()}


def summary(results: Sequence, *, card_overrides: dict | None = None,
            partial: Sequence[str] | None = None) -> dict:
    """JSON summary of a validation run; ``partial``: the ``--only`` names of a run of
    some checks (recorded as ``"partial"``, None for a full run)."""
    from cosim.validate import PUBLISHED_CURVES_NOTE, list_checks

    return {
        "partial": None if not partial else {"only": list(partial),
                                             "n_registered": len(list_checks())},
        "passed": all(r.passed for r in results),
        "n_checks": len(results),
        "n_failed": sum(not r.passed for r in results),
        "failed": [r.name for r in results if not r.passed],
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "card_overrides": {k: str(v) for k, v in (card_overrides or {}).items()},
        "published_curves": PUBLISHED_CURVES_NOTE,
        "checks": [r.summary() for r in results],
    }


def write_report(results: Sequence, out_dir: str | Path, *,
                 card_overrides: dict | None = None, plots: bool = True,
                 partial: Sequence[str] | None = None) -> dict:
    """Write ``summary.json``, ``index.html`` and one PNG per check into ``out_dir``.

    ``partial``: the names a run of some checks was restricted to (``cosim validate
    --only``); the report then says so (the command writes it to a directory of its own,
    ``DIR/partial``, so the full report in ``DIR`` stays as it was).

    Returns
    -------
    dict
        The JSON summary (also written), with ``"html"`` and ``"json"`` paths added.
    """
    from cosim.paths import user_path

    out = Path(out_dir)
    with user_path(out, "report directory", "give a writable report directory"):
        out.mkdir(parents=True, exist_ok=True)
    data = summary(results, card_overrides=card_overrides, partial=partial)
    pngs: dict[str, str] = {}
    if plots:
        plt = _plt()
        for r in results:
            fig = check_figure(r)
            if fig is None:
                continue
            path = out / f"{r.name}.png"
            fig.savefig(path, dpi=90, bbox_inches="tight")
            plt.close(fig)
            pngs[r.name] = path.name
    for item in data["checks"]:
        if item["name"] in pngs:
            item["plot"] = pngs[item["name"]]
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "index.html").write_text(_html(data), encoding="utf-8")
    data["html"] = str(out / "index.html")
    data["json"] = str(out / "summary.json")
    return data


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def _html(data: dict) -> str:
    e = html.escape
    m = data["machine"]
    rows = []
    for c in data["checks"]:
        status = "PASS" if c["passed"] else "FAIL"
        rows.append(f"<tr class='{status.lower()}'><td><a href='#{e(c['name'])}'>"
                    f"{e(c['name'])}</a></td><td>{e(c['device'])}</td><td>{status}</td>"
                    f"<td>{e(_fmt(c['value']))}</td><td>{e(_fmt(c['threshold']))}</td></tr>")
    sections = []
    for c in data["checks"]:
        det = "".join(f"<tr><th>{e(str(k))}</th><td>{e(_fmt(v))}</td></tr>"
                      for k, v in c["details"].items())
        img = f"<img src='{e(c['plot'])}' alt='{e(c['name'])}'>" if "plot" in c else ""
        sections.append(
            f"<h2 id='{e(c['name'])}'>{e(c['name'])}: "
            f"{'PASS' if c['passed'] else 'FAIL'}</h2>"
            f"<p>device <b>{e(c['device'])}</b>; value {e(_fmt(c['value']))}, threshold "
            f"{e(_fmt(c['threshold']))}</p><p><i>Threshold source:</i> "
            f"{e(c['threshold_source'])}</p><table class='det'>{det}</table>{img}")
    verdict = "all checks passed" if data["passed"] else \
        f"{data['n_failed']} check(s) FAILED: {', '.join(data['failed'])}"
    overrides = ", ".join(f"{k} = {v}" for k, v in data["card_overrides"].items()) or "none"
    part = data.get("partial")
    if part:
        verdict = (f"PARTIAL report ({data['n_checks']} of {part['n_registered']} checks, "
                   f"--only {' '.join(part['only'])}): ") + verdict
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>bplight-cosim validation</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;
text-align:left;font-size:90%}}tr.fail td{{background:#fdd}}tr.pass td{{background:#dfd}}
img{{max-width:100%}}</style></head><body>
<h1>bplight-cosim device validation</h1>
<p><b>{e(verdict)}</b> ({data['n_checks']} checks)</p>
<p>{e(data['date'])}; {e(m['platform'])}; {e(str(m['cpu']))}, {m['cores']} cores;
card overrides: {e(overrides)}</p>
<p><i>Published curves:</i> {e(data['published_curves'])}</p>
<table><tr><th>check</th><th>device</th><th>result</th><th>value</th><th>threshold</th></tr>
{''.join(rows)}</table>
{''.join(sections)}
</body></html>
"""
