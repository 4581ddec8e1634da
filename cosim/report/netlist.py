"""Figures of one netlist run (``cosim netlist plot``): each takes arrays, returns a figure.

The CLI runs the netlist and picks the figure: a crossbar read (:func:`crossbar_maps`), a
memristor test bench (:func:`iv_loop`), noise spectra (:func:`noise_spectra`), a Bode
plot (:func:`bode`), waveforms (:func:`waveforms`) or operating-point voltages
(:func:`op_voltages`).  Arrays are SI (V, A, Hz, s); matplotlib is imported lazily.
"""

from __future__ import annotations

import numpy as np


def _plt():
    from cosim.report._mpl import pyplot

    return pyplot()


def crossbar_maps(current_a: np.ndarray, voltage_v: np.ndarray, title: str = ""):
    """Maps of the cell currents (uA) and cell voltages (V) of a crossbar read, (rows, cols)."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, data, label in ((ax1, np.asarray(current_a) * 1e6, "cell current (uA)"),
                            (ax2, np.asarray(voltage_v), "cell voltage (V)")):
        im = ax.imshow(data, cmap="viridis")
        fig.colorbar(im, ax=ax, label=label)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    ax1.set_title("cell currents")
    ax2.set_title("cell voltages (drive minus IR drop)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def iv_loop(time_s: np.ndarray, voltage_v: np.ndarray, current_a: np.ndarray,
            title: str = ""):
    """A memristor under a periodic drive: the current-voltage loop (a pinched
    hysteresis for a memristor), and voltage and current against time.

    Parameters
    ----------
    time_s, voltage_v, current_a : ndarray, shape (n,)
        Time (s), device voltage (V) and device current (A).
    """
    from cosim.report._mpl import align_zeros, si_scale

    plt = _plt()
    t, v, i = (np.real(np.asarray(x, dtype=complex)) for x in (time_s, voltage_v, current_a))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(v, i * 1e3, lw=1.5)
    ax1.axhline(0, color="0.6", lw=0.5)
    ax1.axvline(0, color="0.6", lw=0.5)
    ax1.set_xlabel("device voltage (V)")
    ax1.set_ylabel("device current (mA)")
    ax1.set_title("I-V loop")
    ax1.grid(alpha=0.3)
    t_factor, t_unit = si_scale(t, "s")
    ax2.plot(t / t_factor, v, color="C0", label="voltage")
    ax2.set_xlabel(f"time ({t_unit})")
    ax2.set_ylabel("device voltage (V)", color="C0")
    ax3 = ax2.twinx()
    ax3.plot(t / t_factor, i * 1e3, color="C1", label="current")
    ax3.set_ylabel("device current (mA)", color="C1")
    ax2.axhline(0, color="0.6", lw=0.5)
    align_zeros(ax2, ax3)
    ax2.set_title("drive and response")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


def noise_spectra(frequency_hz: np.ndarray, output_v_per_rthz: np.ndarray | None,
                  input_per_rthz: np.ndarray | None, input_unit: str = "V",
                  source: str = "", title: str = ""):
    """Output noise density (V/sqrt(Hz)) and the input-referred density (``input_unit``
    per sqrt(Hz), the unit of the input source: A for a current source) on separate
    axes (log-log); either may be None.  Over a few decades the minor ticks are labelled
    too (the 2 pA/sqrt(Hz) floor of a TIA can be read off)."""
    from cosim.report._mpl import label_minor_log_ticks

    plt = _plt()
    panels = [(d, u, what) for d, u, what in (
        (output_v_per_rthz, "V", "output noise"),
        (input_per_rthz, input_unit, f"input-referred noise{f' at {source}' if source else ''}"))
        if d is not None]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.5 * max(len(panels), 1), 4),
                             squeeze=False)
    for ax, (density, unit, what) in zip(axes[0], panels):
        ax.loglog(frequency_hz, np.abs(density))
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel(f"{what} ({unit}/sqrt(Hz))")
        ax.grid(alpha=0.3, which="both")
        label_minor_log_ticks(ax)
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


def bode(frequency_hz: np.ndarray, voltages: dict[str, np.ndarray], title: str = ""):
    """Magnitude (dB re 1 V) and phase (degrees) of complex node voltages.  A node with
    no AC voltage at all (a supply rail: -inf dB) is not drawn (it would stretch the
    magnitude axis over thousands of dB); the figure's title names it."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    silent = [n for n, v in voltages.items() if not np.any(np.abs(np.asarray(v)) > 0)]
    for n, v in voltages.items():
        if n in silent:
            continue
        v = np.asarray(v)
        ax1.semilogx(frequency_hz, 20 * np.log10(np.maximum(np.abs(v), 1e-300)), label=n)
        ax2.semilogx(frequency_hz, np.degrees(np.unwrap(np.angle(v))), label=n)
    ax1.set_ylabel("|V| (dB re 1 V)")
    ax2.set_ylabel("phase (deg)")
    ax2.set_xlabel("frequency (Hz)")
    if len(silent) < len(voltages):
        ax1.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if silent:
        title += f"\n(no AC voltage, not drawn: {', '.join(silent)})"
    ax1.set_title(title, fontsize="medium")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


#: Sweep-axis vector name of ngspice -> axis label with its unit.
AXIS_LABELS = {"time": "time (s)", "frequency": "frequency (Hz)"}


def waveforms(axis: np.ndarray, axis_name: str, voltages: dict[str, np.ndarray],
              title: str = "", axis_unit: str | None = None):
    """Node voltages against the sweep axis (time of a .tran, the source value of a .dc,
    in ``axis_unit``: by default A for a source named I..., else V), on SI-prefixed
    scales (us, mV, ...)."""
    from cosim.report._mpl import si_scale

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    label = AXIS_LABELS.get(axis_name)
    if label is None:      # a .dc sweep: the swept source's value
        unit = axis_unit or ("A" if axis_name.lower().startswith("i") else "V")
        label = f"{axis_name} ({unit})"
    name, unit = label[:label.rindex(" (")], label[label.rindex("(") + 1:-1]
    x_factor, unit = si_scale(np.real(axis), unit)
    real = {n: np.real(np.asarray(v)) for n, v in voltages.items()}
    y_factor, y_unit = si_scale(np.concatenate([v.ravel() for v in real.values()])
                                if real else [], "V")
    for n, v in real.items():
        ax.plot(np.real(axis) / x_factor, v / y_factor, label=n)
    ax.set_xlabel(f"{name} ({unit})")
    ax.set_ylabel(f"node voltage ({y_unit})")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # off the curves
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return fig


def op_voltages(voltages: dict[str, float], title: str = ""):
    """Bars of the operating-point node voltages, each labelled with its value (a node at
    0 V has no visible bar)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    bars = ax.bar(list(voltages), [float(np.real(v)) for v in voltages.values()])
    ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
    ax.margins(y=0.12)
    ax.set_ylabel("node voltage (V)")
    ax.tick_params(axis="x", rotation=60)
    ax.axhline(0, color="0.4", lw=0.6)
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------ choosing the figure of a run
def crossbar_cells(circuit) -> dict:
    """Cells ``R_r{r}_c{c}`` of a crossbar read netlist: {(r, c): element}."""
    import re

    from cosim.netlist import Resistor

    pat = re.compile(r"^r_r(\d+)_c(\d+)$", re.IGNORECASE)
    cells = {}
    for e in circuit.elements:
        m = pat.match(e.name)
        if m and isinstance(e, Resistor):
            cells[(int(m.group(1)), int(m.group(2)))] = e
    return cells


def memristor_bench(circuit) -> tuple[str, str] | None:
    """(drive source, driven node) of a memristor test bench (a voltage source across a
    ``memristor_*`` subcircuit instance to ground, :func:`cosim.devices.memristor.
    bench_circuit`), else None."""
    from cosim.netlist import SubcircuitInstance, VoltageSource

    for e in circuit.elements:
        if isinstance(e, SubcircuitInstance) and e.subckt.lower().startswith("memristor_"):
            node, ground = e.nodes[0], e.nodes[1]
            for s in circuit.elements:
                if isinstance(s, VoltageSource) and {s.n_pos, s.n_neg} == {node, ground}:
                    return s.name, node
    return None


def noise_input_unit(circuit, source: str) -> str:
    """Unit of the value of ``source`` (of a .dc sweep, and of the input-referred noise
    at it): A for a current source; A for a readout chain's ``Vsig<k>``, whose voltage
    is the photocurrent in A, see :mod:`cosim.readout.chain`; else V."""
    import re

    if source[0].upper() == "I":
        return "A"
    m = re.fullmatch(r"vsig(\d+)", source, re.IGNORECASE)
    names = {e.name.lower() for e in circuit.elements}
    return "A" if m and f"epp{m.group(1)}" in names else "V"


def run_figure(circuit, analysis, result, nodes: list[str] | None = None):
    """The figure of one ngspice run of ``circuit`` (what ``cosim netlist plot`` draws).

    A crossbar read (``.op`` with cells ``R_r*_c*``): :func:`crossbar_maps`; a memristor
    bench (``.tran``, no ``nodes`` asked for): :func:`iv_loop`; ``.noise``:
    :func:`noise_spectra`; ``.ac``: :func:`bode` of ``nodes``; ``.op``:
    :func:`op_voltages`; else :func:`waveforms` of ``nodes`` (default: up to 8
    top-level nodes).

    Returns
    -------
    (matplotlib.figure.Figure, str)
        The figure and a few words saying what it shows.

    Raises
    ------
    ConfigError
        A node of ``nodes`` is not in the result.
    """
    from cosim.errors import ConfigError
    from cosim.report._mpl import short_numbers

    axis = np.real(np.asarray(result.axis)) if result.axis is not None else None
    title = short_numbers(f"{circuit.title}: {analysis.render()}")
    cells = crossbar_cells(circuit)
    bench = memristor_bench(circuit) if analysis.kind == "tran" and not nodes else None
    volts = result.node_voltages
    if analysis.kind == "op" and cells:
        rows = 1 + max(r for r, _ in cells)
        cols = 1 + max(c for _, c in cells)
        v_cell = np.full((rows, cols), np.nan)
        g = np.full((rows, cols), np.nan)
        for (r, c), e in cells.items():
            va = 0.0 if e.n_pos == "0" else float(volts[e.n_pos.lower()])
            vb = 0.0 if e.n_neg == "0" else float(volts[e.n_neg.lower()])
            v_cell[r, c] = va - vb
            g[r, c] = 1.0 / float(e.resistance_ohm)
        return (crossbar_maps(g * v_cell, v_cell, circuit.title),
                f"crossbar {rows}x{cols} cell-current map")
    if bench is not None:
        source, node = bench
        # the source's branch current flows into its + terminal: the device current is -I
        return (iv_loop(axis, volts[node.lower()], -np.real(result.i(source)), title),
                f"memristor I-V loop (V({node}), -I({source}))")
    if analysis.kind == "noise":
        return (noise_spectra(axis, result.vectors.get("onoise_spectrum"),
                              result.vectors.get("inoise_spectrum"),
                              noise_input_unit(circuit, analysis.source), analysis.source,
                              title), "noise spectra")
    names = [n.lower() for n in nodes] if nodes else [n for n in volts if "." not in n][:8]
    missing = [n for n in names if n not in volts]
    if missing:
        raise ConfigError(f"no node(s) {missing} in the result; available: "
                          f"{', '.join(sorted(volts)[:20])}")
    chosen = {n: volts[n] for n in names}
    if analysis.kind == "ac":
        return bode(axis, chosen, title), f"Bode plot of {len(names)} node(s)"
    if analysis.kind == "op":
        return op_voltages(chosen, title), f"operating point of {len(names)} node(s)"
    if analysis.kind == "dc":     # the swept source by name, in the unit of its value
        return (waveforms(axis, analysis.source, chosen, title,
                          noise_input_unit(circuit, analysis.source)),
                f"dc sweep of {analysis.source}: {len(names)} node(s)")
    return (waveforms(axis, result.axis_name, chosen, title),
            f"{analysis.kind} waveforms of {len(names)} node(s)")
