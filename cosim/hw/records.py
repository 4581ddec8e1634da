"""Circuit records: the circuit a product used, with its real stimulus, re-runnable.

A tile reports, for a sample of its products (:meth:`cosim.hw.protocols.Tile.circuits`),
one :class:`CircuitRecord` per recorded tile: a **template** netlist (the circuit with
its stimulus sources at 0, the same text for every product of the same circuit, so a
run file stores it once under its sha256), the **stimulus** of that product as SI arrays
(the optical powers on the detectors of a readout, the conductances and row voltages of
a crossbar) and the **outputs** the run computed for it.  :func:`deck` substitutes the
stimulus into the template and returns a runnable circuit (a ``.tran`` whose PWL
sources step through the recorded rows, one held symbol per row); :func:`measure` reads
the same outputs from an ngspice result of that deck; :func:`compare` tells whether
they agree within the record's tolerance.

Kinds of stimulus (:data:`STIMULI`, by name; a tile with a new kind of circuit adds one
class with ``apply`` and ``measure``):

``"readout_pwl"`` (photonic tiles: balanced PD + TIA channels, :func:`cosim.readout.
build_readout_chain`)
    stimulus ``optical_power_w`` (rows, channels, 2: drop, through; W) and
    ``symbol_period_s`` (s); the sources ``Vpp{k}``/``Vpm{k}`` become PWL waveforms of
    the rows (:func:`cosim.readout.engines.symbol_pwl`, the spice engine's own), read
    at the end of each held symbol.  Outputs: ``tia_voltage_v`` as the run computed it
    (with its readout noise, when on), ``tia_voltage_noiseless_v`` (the twin's value
    of the same powers: what the circuit reproduces; the difference is the drawn
    readout noise) and ``adc_codes``.  Compared: ``tia_voltage_noiseless_v``, within
    half an ADC step (the twin-vs-ngspice tolerance of the readout, tested in
    tests/readout).
``"crossbar_rows"`` (crossbar tiles: one array of a differential pair,
:func:`cosim.hw.crossbar.build_crossbar_read`)
    stimulus ``conductance_s`` (rows, cols; S), ``row_voltage_v`` (b, rows; V) and
    ``symbol_period_s`` (s, any: the array is resistive); the cells ``R_r{r}_c{c}``
    take ``1 / G`` and the row sources ``VROW{r}`` PWL waveforms of the rows.  Output
    ``column_current_a`` (b, cols; A): the currents the run computed for that array
    (before the noise and the pair difference), compared within half an ADC step
    referred to the column current.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from cosim.errors import ConfigError

#: Rows of a product kept in a record (the signal samples' rows).
RECORD_ROWS = 8


@dataclass
class CircuitRecord:
    """One tile circuit of one product, with its stimulus (see the module docstring).

    Attributes
    ----------
    tile : str
        Tile label (``"0,0"``; crossbar arrays ``"0,0+"``, ``"0,0-"``).
    kind : str
        Key of :data:`STIMULI`.
    template : str
        Netlist text with the stimulus sources at 0 and no analysis.
    stimulus : dict of str -> ndarray
        SI arrays (names end in their unit).
    outputs : dict of str -> ndarray
        What the run computed for this tile, SI (ADC codes as integers).
    tolerance : float
        Largest difference between ngspice and the compared output that still counts
        as reproducing it (unit of that output).
    """

    tile: str
    kind: str
    template: str
    stimulus: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    tolerance: float = 0.0


def _pwl(times: np.ndarray, values: np.ndarray):
    from cosim.netlist import Pwl

    return Pwl(tuple(float(t) for t in times), tuple(float(v) for v in values))


def _set_sources(circuit, values: dict[str, np.ndarray], times: np.ndarray) -> None:
    """Give each voltage source named in ``values`` the PWL waveform of its values."""
    wanted = {k.upper(): v for k, v in values.items()}
    for i, e in enumerate(circuit.elements):
        v = wanted.pop(e.name.upper(), None)
        if v is not None:
            circuit.elements[i] = dataclasses.replace(e, dc=float(v[0]), ac_magnitude=None,
                                                      waveform=_pwl(times, v))
    if wanted:
        raise ConfigError(f"the template has no source(s) {', '.join(sorted(wanted))}: the "
                          f"record does not belong to this netlist")


class ReadoutRows:
    """``"readout_pwl"``: rows of optical powers on balanced PD + TIA channels."""

    compared: ClassVar[str] = "tia_voltage_noiseless_v"

    @staticmethod
    def apply(circuit, stimulus: dict[str, np.ndarray]):
        from cosim.readout.engines import symbol_pwl, symbol_tran

        p = np.asarray(stimulus["optical_power_w"], dtype=float)
        t_sym = float(np.asarray(stimulus["symbol_period_s"]))
        times, idx = symbol_pwl(p.shape[0], t_sym)
        values = {}
        for k in range(p.shape[1]):
            values[f"Vpp{k}"] = p[idx, k, 0]
            values[f"Vpm{k}"] = p[idx, k, 1]
        _set_sources(circuit, values, times)
        circuit.analyses[:] = [symbol_tran(p.shape[0], t_sym)]
        return circuit

    @staticmethod
    def measure(vector, axis: np.ndarray, stimulus: dict[str, np.ndarray]) -> dict:
        from cosim.readout.engines import symbol_read_times

        p = np.asarray(stimulus["optical_power_w"])
        at = symbol_read_times(p.shape[0], float(np.asarray(stimulus["symbol_period_s"])))
        v = np.stack([np.interp(at, axis, np.real(vector("v", f"out{k}")))
                      for k in range(p.shape[1])], axis=1)
        return {"tia_voltage_noiseless_v": v}


class CrossbarRows:
    """``"crossbar_rows"``: conductances and rows of row voltages of one array."""

    compared: ClassVar[str] = "column_current_a"

    @staticmethod
    def apply(circuit, stimulus: dict[str, np.ndarray]):
        from cosim.readout.engines import symbol_pwl, symbol_tran

        g = np.asarray(stimulus["conductance_s"], dtype=float)
        v = np.asarray(stimulus["row_voltage_v"], dtype=float)
        t_sym = float(np.asarray(stimulus["symbol_period_s"]))
        if not (g.ndim == 2 and v.ndim == 2 and v.shape[1] == g.shape[0]
                and np.all(g > 0)):
            raise ConfigError(f"crossbar record: conductances {g.shape} (all > 0) and row "
                              f"voltages {v.shape} do not fit together")
        cells = {f"R_R{r}_C{c}": 1.0 / g[r, c] for r in range(g.shape[0])
                 for c in range(g.shape[1])}
        for i, e in enumerate(circuit.elements):
            ohm = cells.pop(e.name.upper(), None)
            if ohm is not None:
                circuit.elements[i] = dataclasses.replace(e, resistance_ohm=ohm)
        if cells:
            raise ConfigError(f"the template lacks {len(cells)} cell(s) of a "
                              f"{g.shape[0]}x{g.shape[1]} array: the record does not belong "
                              f"to this netlist")
        times, idx = symbol_pwl(v.shape[0], t_sym)
        _set_sources(circuit, {f"VROW{r}": v[idx, r] for r in range(g.shape[0])}, times)
        circuit.analyses[:] = [symbol_tran(v.shape[0], t_sym)]
        return circuit

    @staticmethod
    def measure(vector, axis: np.ndarray, stimulus: dict[str, np.ndarray]) -> dict:
        from cosim.readout.engines import symbol_read_times

        g = np.asarray(stimulus["conductance_s"])
        v = np.asarray(stimulus["row_voltage_v"])
        at = symbol_read_times(v.shape[0], float(np.asarray(stimulus["symbol_period_s"])))
        i = np.stack([np.interp(at, axis, np.real(vector("i", f"vcol{c}")))
                      for c in range(g.shape[1])], axis=1)
        return {"column_current_a": i}


#: Kinds of stimulus by name (module docstring).
STIMULI: dict[str, Any] = {"readout_pwl": ReadoutRows, "crossbar_rows": CrossbarRows}


def _kind(name: str):
    try:
        return STIMULI[name]
    except KeyError:
        raise ConfigError(f"unknown circuit record kind {name!r}; known: "
                          f"{', '.join(STIMULI)} (a newer cosim wrote this run file?)") from None


def deck(record: CircuitRecord):
    """The runnable :class:`cosim.netlist.Circuit` of a record: its template with the
    stimulus substituted and the analysis that reads the outputs."""
    from cosim.netlist import parse_netlist

    circuit = parse_netlist(record.template, origin=f"template of tile {record.tile}")
    return _kind(record.kind).apply(circuit, record.stimulus)


def measure(record: CircuitRecord, result) -> dict[str, np.ndarray]:
    """The record's compared output from an ngspice run of :func:`deck`: a
    :class:`cosim.spice.SpiceResult`, or a mapping of ngspice raw-file vector names
    (``"time"``, ``"v(out0)"``, ``"i(vcol0)"``) to arrays."""
    if hasattr(result, "vectors") and hasattr(result, "axis"):
        def vector(kind, name):
            return result.v(name) if kind == "v" else result.i(name)
        axis = np.real(np.asarray(result.axis, dtype=complex))
    else:
        low = {k.lower(): np.asarray(v) for k, v in result.items()}

        def vector(kind, name):
            return low[f"{kind}({name.lower()})"]
        axis = np.real(low["time"])
    return _kind(record.kind).measure(vector, axis, record.stimulus)


def compare(record: CircuitRecord, result) -> tuple[str, float, bool]:
    """``(output name, max |ngspice - recorded|, within the record's tolerance)``."""
    name = _kind(record.kind).compared
    got = measure(record, result)[name]
    want = np.asarray(record.outputs[name], dtype=float)
    if got.shape != want.shape:
        raise ConfigError(f"{name}: ngspice gave shape {got.shape}, the record holds "
                          f"{want.shape}")
    err = float(np.max(np.abs(got - want))) if want.size else 0.0
    return name, err, err <= record.tolerance


def readout_record(tile: str, spec, twin_quiet, samples: dict, template: str) -> \
        CircuitRecord | None:
    """The ``"readout_pwl"`` record of a photonic tile's first channels, from the
    ``samples`` its product wrote (``optical_power_w``, ``tia_voltage_v``,
    ``adc_codes``; None if it wrote none), ``twin_quiet`` the noiseless
    :class:`cosim.readout.TwinReadout` of the run and ``template`` the readout chain
    text of that many channels (:func:`readout_template`)."""
    p = samples.get("optical_power_w")
    if p is None or not p.size:
        return None
    quiet = twin_quiet.read(p[..., 0], p[..., 1])
    return CircuitRecord(
        tile=tile, kind="readout_pwl", template=template,
        stimulus={"optical_power_w": np.array(p, dtype=float),
                  "symbol_period_s": np.array(float(twin_quiet.symbol_period_s))},
        outputs={"tia_voltage_v": np.array(samples["tia_voltage_v"], dtype=float),
                 "tia_voltage_noiseless_v": quiet,
                 "adc_codes": np.array(samples["adc_codes"], dtype=np.int64)},
        tolerance=float(spec.lsb_v) / 2)


@dataclass(frozen=True)
class PendingRecord:
    """A circuit record built only when it is kept: ``tile`` (its label) and ``build``
    (no arguments; returns the :class:`CircuitRecord` or None).  The backend keeps the
    last record of each layer, phase and tile until the run file takes them, so most
    products' records are replaced before anyone reads them; building them then costs
    nothing (:meth:`cosim.hw.backend.HardwareBackend.circuit_records`)."""

    tile: str
    build: Any

    def resolve(self) -> CircuitRecord | None:
        return self.build()


def pending_readout_record(tile: str, spec, twin_quiet, samples: dict,
                           template: str) -> PendingRecord | None:
    """:func:`readout_record` of copies of ``samples`` (the product's own arrays), built
    when the record is kept; None if the product sampled no detector powers."""
    p = samples.get("optical_power_w")
    if p is None or not p.size:
        return None
    held = {name: np.array(samples[name]) for name in
            ("optical_power_w", "tia_voltage_v", "adc_codes")}
    return PendingRecord(tile, lambda: readout_record(tile, spec, twin_quiet, held,
                                                      template))


def readout_template(spec, channels: int, title: str) -> str:
    """Netlist text of ``channels`` readout channels with PWL optical inputs at 0 W and
    no analysis: the template of :func:`readout_record`."""
    from cosim.readout import build_readout_chain

    zeros = np.zeros((1, int(channels)))
    return build_readout_chain(spec, int(channels), drive="pwl", pwl_times_s=np.zeros(1),
                               pwl_plus_w=zeros, pwl_minus_w=zeros, title=title).render()


__all__ = ["RECORD_ROWS", "STIMULI", "CircuitRecord", "CrossbarRows", "PendingRecord",
           "ReadoutRows", "compare", "deck", "measure", "pending_readout_record",
           "readout_record", "readout_template"]
