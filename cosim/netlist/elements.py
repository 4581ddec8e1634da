"""Netlist elements, waveforms and models: small frozen dataclasses.

Each element validates its fields on construction (names, nodes, finite numbers, safe
expressions) and renders itself to exactly one SPICE line.  Values are SI floats; a
string value is a SPICE expression and is rendered inside braces.

Node conventions follow SPICE: for sources, positive current flows from ``n_pos``
through the source to ``n_neg``; ``"0"`` is ground.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from cosim.errors import NetlistError
from cosim.netlist.validate import (
    check_expression,
    check_identifier,
    check_node,
    check_number,
    format_number,
    format_value,
)

Number = float | str  # a float in SI units, or a SPICE expression (rendered in braces)


def _check_name(name: str, prefix: str) -> str:
    check_identifier(name, f"element name {name!r}")
    if name[0].upper() != prefix:
        raise NetlistError(f"element name {name!r} must start with {prefix!r} for this "
                           f"element type (SPICE reads the type from the first letter)")
    return name


def _check_params(params: dict, where: str) -> tuple[tuple[str, Number], ...]:
    out = []
    for key in sorted(params):
        check_identifier(key, f"{where}: parameter name")
        value = params[key]
        if isinstance(value, str):
            check_expression(value.strip("{}"), f"{where}: parameter {key}")
        else:
            check_number(value, f"{where}: parameter {key}")
        out.append((key, value))
    return tuple(out)


def _render_params(params: tuple[tuple[str, Number], ...], where: str) -> str:
    return " ".join(f"{k}={format_value(v, f'{where}.{k}')}" for k, v in params)


# --------------------------------------------------------------------------- waveforms
@dataclass(frozen=True)
class Pulse:
    """PULSE(v1 v2 delay rise fall width period); values in V or A, times in s."""

    initial: float
    pulsed: float
    delay_s: float = 0.0
    rise_s: float = 1e-12
    fall_s: float = 1e-12
    width_s: float = 1.0
    period_s: float = 2.0

    def __post_init__(self) -> None:
        for f in ("initial", "pulsed"):
            check_number(getattr(self, f), f"Pulse.{f}")
        for f in ("delay_s", "rise_s", "fall_s", "width_s", "period_s"):
            check_number(getattr(self, f), f"Pulse.{f}", nonnegative=True)

    def render(self) -> str:
        vals = (self.initial, self.pulsed, self.delay_s, self.rise_s, self.fall_s,
                self.width_s, self.period_s)
        return "PULSE(" + " ".join(format_number(v) for v in vals) + ")"


@dataclass(frozen=True)
class Sine:
    """SIN(offset amplitude frequency delay damping); offset/amplitude in V or A."""

    offset: float
    amplitude: float
    frequency_hz: float
    delay_s: float = 0.0
    damping_per_s: float = 0.0

    def __post_init__(self) -> None:
        check_number(self.offset, "Sine.offset")
        check_number(self.amplitude, "Sine.amplitude")
        check_number(self.frequency_hz, "Sine.frequency_hz", positive=True)
        check_number(self.delay_s, "Sine.delay_s", nonnegative=True)
        check_number(self.damping_per_s, "Sine.damping_per_s")

    def render(self) -> str:
        vals = (self.offset, self.amplitude, self.frequency_hz, self.delay_s,
                self.damping_per_s)
        return "SIN(" + " ".join(format_number(v) for v in vals) + ")"


@dataclass(frozen=True)
class Pwl:
    """Piece-wise linear waveform: strictly increasing times (s) and values (V or A)."""

    times_s: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        times = tuple(check_number(t, "Pwl.times_s", nonnegative=True) for t in self.times_s)
        values = tuple(check_number(v, "Pwl.values") for v in self.values)
        if len(times) != len(values) or len(times) < 1:
            raise NetlistError(f"Pwl: {len(times)} times and {len(values)} values; give the "
                               "same number (at least one) of each")
        if any(b <= a for a, b in zip(times, times[1:])):
            raise NetlistError("Pwl.times_s must be strictly increasing")
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "values", values)

    def render(self) -> str:
        pairs = " ".join(f"{format_number(t)} {format_number(v)}"
                         for t, v in zip(self.times_s, self.values))
        return f"PWL({pairs})"


@dataclass(frozen=True)
class TrNoise:
    """TRNOISE(rms step 0 0): white transient noise of ``rms`` (V or A) updated every
    ``step_s`` seconds (ngspice manual, "Transient noise source")."""

    rms: float
    step_s: float

    def __post_init__(self) -> None:
        check_number(self.rms, "TrNoise.rms", nonnegative=True)
        check_number(self.step_s, "TrNoise.step_s", positive=True)

    def render(self) -> str:
        return f"TRNOISE({format_number(self.rms)} {format_number(self.step_s)} 0 0)"


Waveform = Pulse | Sine | Pwl | TrNoise


# --------------------------------------------------------------------------- elements
@dataclass(frozen=True)
class Element:
    """Base class: ``name`` and the node tuple; subclasses add their values."""

    PREFIX: ClassVar[str] = ""
    N_NODES: ClassVar[int] = 2

    name: str

    @property
    def nodes(self) -> tuple[str, ...]:
        raise NotImplementedError

    def _check_nodes(self) -> None:
        for i, n in enumerate(self.nodes):
            check_node(n, f"{self.name}: node {i + 1}")

    def render(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class TwoTerminal(Element):
    n_pos: str = "0"
    n_neg: str = "0"

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.n_pos, self.n_neg)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_pos", check_node(self.n_pos, f"{self.name}: n_pos"))
        object.__setattr__(self, "n_neg", check_node(self.n_neg, f"{self.name}: n_neg"))
        _check_name(self.name, self.PREFIX)


@dataclass(frozen=True)
class Resistor(TwoTerminal):
    """R: resistance in ohm (float or expression)."""

    PREFIX: ClassVar[str] = "R"
    resistance_ohm: Number = 1e3

    def __post_init__(self) -> None:
        super().__post_init__()
        format_value(self.resistance_ohm, f"{self.name}: resistance_ohm")
        if not isinstance(self.resistance_ohm, str):
            check_number(self.resistance_ohm, f"{self.name}: resistance_ohm", positive=True)

    def render(self) -> str:
        v = format_value(self.resistance_ohm, f"{self.name}.resistance_ohm")
        return f"{self.name} {self.n_pos} {self.n_neg} {v}"


@dataclass(frozen=True)
class Capacitor(TwoTerminal):
    """C: capacitance in F; optional initial voltage (used with ``uic``)."""

    PREFIX: ClassVar[str] = "C"
    capacitance_f: Number = 1e-12
    ic_v: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        format_value(self.capacitance_f, f"{self.name}: capacitance_f")
        if not isinstance(self.capacitance_f, str):
            check_number(self.capacitance_f, f"{self.name}: capacitance_f", positive=True)
        if self.ic_v is not None:
            check_number(self.ic_v, f"{self.name}: ic_v")

    def render(self) -> str:
        v = format_value(self.capacitance_f, f"{self.name}.capacitance_f")
        ic = "" if self.ic_v is None else f" IC={format_number(self.ic_v)}"
        return f"{self.name} {self.n_pos} {self.n_neg} {v}{ic}"


@dataclass(frozen=True)
class Inductor(TwoTerminal):
    """L: inductance in H."""

    PREFIX: ClassVar[str] = "L"
    inductance_h: Number = 1e-9

    def __post_init__(self) -> None:
        super().__post_init__()
        format_value(self.inductance_h, f"{self.name}: inductance_h")
        if not isinstance(self.inductance_h, str):
            check_number(self.inductance_h, f"{self.name}: inductance_h", positive=True)

    def render(self) -> str:
        v = format_value(self.inductance_h, f"{self.name}.inductance_h")
        return f"{self.name} {self.n_pos} {self.n_neg} {v}"


@dataclass(frozen=True)
class _Source(TwoTerminal):
    dc: Number = 0.0
    ac_magnitude: float | None = None
    waveform: Waveform | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        format_value(self.dc, f"{self.name}: dc")
        if self.ac_magnitude is not None:
            check_number(self.ac_magnitude, f"{self.name}: ac_magnitude")
        if self.waveform is not None and not isinstance(self.waveform,
                                                        (Pulse, Sine, Pwl, TrNoise)):
            raise NetlistError(f"{self.name}: waveform must be Pulse, Sine, Pwl or TrNoise")

    def render(self) -> str:
        parts = [self.name, self.n_pos, self.n_neg, "DC",
                 format_value(self.dc, f"{self.name}.dc")]
        if self.ac_magnitude is not None:
            parts += ["AC", format_number(self.ac_magnitude)]
        if self.waveform is not None:
            parts.append(self.waveform.render())
        return " ".join(parts)


@dataclass(frozen=True)
class VoltageSource(_Source):
    """V: independent voltage source (dc in V); its branch current is saved by ngspice."""

    PREFIX: ClassVar[str] = "V"


@dataclass(frozen=True)
class CurrentSource(_Source):
    """I: independent current source (dc in A), current flows n_pos -> n_neg inside."""

    PREFIX: ClassVar[str] = "I"


@dataclass(frozen=True)
class _Controlled(Element):
    n_pos: str = "0"
    n_neg: str = "0"
    nc_pos: str = "0"
    nc_neg: str = "0"
    gain: float = 1.0

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.n_pos, self.n_neg, self.nc_pos, self.nc_neg)

    def __post_init__(self) -> None:
        _check_name(self.name, self.PREFIX)
        self._check_nodes()
        check_number(self.gain, f"{self.name}: gain")

    def render(self) -> str:
        return (f"{self.name} {self.n_pos} {self.n_neg} {self.nc_pos} {self.nc_neg} "
                f"{format_number(self.gain)}")


@dataclass(frozen=True)
class VCVS(_Controlled):
    """E: V(n_pos, n_neg) = gain * V(nc_pos, nc_neg)."""

    PREFIX: ClassVar[str] = "E"


@dataclass(frozen=True)
class VCCS(_Controlled):
    """G: current gain * V(nc_pos, nc_neg) flows from n_pos through the source to n_neg."""

    PREFIX: ClassVar[str] = "G"


@dataclass(frozen=True)
class _CurrentControlled(Element):
    n_pos: str = "0"
    n_neg: str = "0"
    vsource: str = "V1"
    gain: float = 1.0

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.n_pos, self.n_neg)

    def __post_init__(self) -> None:
        _check_name(self.name, self.PREFIX)
        self._check_nodes()
        _check_name(self.vsource, "V")
        check_number(self.gain, f"{self.name}: gain")

    def render(self) -> str:
        return f"{self.name} {self.n_pos} {self.n_neg} {self.vsource} {format_number(self.gain)}"


@dataclass(frozen=True)
class CCCS(_CurrentControlled):
    """F: current gain * I(vsource)."""

    PREFIX: ClassVar[str] = "F"


@dataclass(frozen=True)
class CCVS(_CurrentControlled):
    """H: voltage gain (ohm) * I(vsource)."""

    PREFIX: ClassVar[str] = "H"


@dataclass(frozen=True)
class BehavioralSource(TwoTerminal):
    """B: arbitrary source, ``quantity`` "V" or "I" given by a SPICE expression."""

    PREFIX: ClassVar[str] = "B"
    quantity: Literal["V", "I"] = "I"
    expression: str = "0"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.quantity not in ("V", "I"):
            raise NetlistError(f"{self.name}: quantity must be 'V' or 'I', not {self.quantity!r}")
        check_expression(self.expression, f"{self.name}: expression")

    def render(self) -> str:
        return f"{self.name} {self.n_pos} {self.n_neg} {self.quantity}={self.expression}"


@dataclass(frozen=True)
class Diode(TwoTerminal):
    """D: anode = n_pos, cathode = n_neg, a named ``.model`` of type D."""

    PREFIX: ClassVar[str] = "D"
    model: str = "D"
    area: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_identifier(self.model, f"{self.name}: model")
        if self.area is not None:
            check_number(self.area, f"{self.name}: area", positive=True)

    def render(self) -> str:
        area = "" if self.area is None else f" {format_number(self.area)}"
        return f"{self.name} {self.n_pos} {self.n_neg} {self.model}{area}"


@dataclass(frozen=True)
class Mosfet(Element):
    """M: drain gate source bulk, a named NMOS/PMOS ``.model``, width and length in m."""

    PREFIX: ClassVar[str] = "M"
    drain: str = "0"
    gate: str = "0"
    source: str = "0"
    bulk: str = "0"
    model: str = "NMOS"
    width_m: float = 1e-6
    length_m: float = 1e-6

    @property
    def nodes(self) -> tuple[str, ...]:
        return (self.drain, self.gate, self.source, self.bulk)

    def __post_init__(self) -> None:
        _check_name(self.name, self.PREFIX)
        self._check_nodes()
        check_identifier(self.model, f"{self.name}: model")
        check_number(self.width_m, f"{self.name}: width_m", positive=True)
        check_number(self.length_m, f"{self.name}: length_m", positive=True)

    def render(self) -> str:
        return (f"{self.name} {self.drain} {self.gate} {self.source} {self.bulk} {self.model} "
                f"W={format_number(self.width_m)} L={format_number(self.length_m)}")


@dataclass(frozen=True)
class SubcircuitInstance(Element):
    """X: an instance of a ``.subckt``; ``params`` override its default parameters."""

    PREFIX: ClassVar[str] = "X"
    ports: tuple[str, ...] = ()
    subckt: str = ""
    params: dict[str, Number] = field(default_factory=dict)

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.ports

    def __post_init__(self) -> None:
        _check_name(self.name, self.PREFIX)
        object.__setattr__(self, "ports", tuple(
            check_node(n, f"{self.name}: port {i + 1}") for i, n in enumerate(self.ports)))
        check_identifier(self.subckt, f"{self.name}: subckt")
        _check_params(self.params, self.name)

    def render(self) -> str:
        p = _render_params(_check_params(self.params, self.name), self.name)
        params = f" {p}" if p else ""
        return f"{self.name} {' '.join(self.ports)} {self.subckt}{params}"

    def __hash__(self) -> int:
        return hash((self.name, self.ports, self.subckt, tuple(sorted(self.params.items()))))


ELEMENT_TYPES: dict[str, type[Element]] = {
    cls.PREFIX: cls
    for cls in (Resistor, Capacitor, Inductor, VoltageSource, CurrentSource, VCVS, VCCS,
                CCCS, CCVS, BehavioralSource, Diode, Mosfet, SubcircuitInstance)
}
"""Element classes by their SPICE prefix letter (the closed vocabulary of the core)."""


# --------------------------------------------------------------------------- models
@dataclass(frozen=True)
class Model:
    """``.model NAME TYPE (k=v ...)``; TYPE is a SPICE model type such as D, NMOS, SW."""

    name: str
    type: str
    params: dict[str, Number] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_identifier(self.name, "model name")
        check_identifier(self.type, f"model {self.name}: type")
        _check_params(self.params, f"model {self.name}")

    def render(self) -> str:
        p = _render_params(_check_params(self.params, self.name), self.name)
        return f".model {self.name} {self.type}({p})"

    def __hash__(self) -> int:
        return hash((self.name, self.type, tuple(sorted(self.params.items()))))
