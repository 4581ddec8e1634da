"""Analyses: the closed vocabulary ``op | dc | ac | tran | noise``.

Each analysis renders to one SPICE control line (``.op``, ``.dc`` ...); the engine
uses the same objects to know which plots and axes to read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cosim.errors import NetlistError
from cosim.netlist.validate import check_identifier, check_node, check_number, format_number

AnalysisKind = Literal["op", "dc", "ac", "tran", "noise"]
ANALYSIS_KINDS: tuple[str, ...] = ("op", "dc", "ac", "tran", "noise")
_VARIATIONS = ("dec", "oct", "lin")


@dataclass(frozen=True)
class Op:
    """DC operating point."""

    kind: AnalysisKind = "op"

    def render(self) -> str:
        return ".op"


@dataclass(frozen=True)
class Dc:
    """DC sweep of an independent source ``source`` from ``start`` to ``stop`` by ``step``."""

    source: str
    start: float
    stop: float
    step: float
    kind: AnalysisKind = "dc"

    def __post_init__(self) -> None:
        check_identifier(self.source, "Dc.source")
        if self.source[0].upper() not in "VI":
            raise NetlistError(f"Dc.source {self.source!r} must name a V or I source")
        check_number(self.start, "Dc.start")
        check_number(self.stop, "Dc.stop")
        step = check_number(self.step, "Dc.step")
        if step == 0 or (self.stop - self.start) * step < 0:
            raise NetlistError(f"Dc.step {step!r} must be non-zero and go from start to stop")

    def render(self) -> str:
        return (f".dc {self.source} {format_number(self.start)} {format_number(self.stop)} "
                f"{format_number(self.step)}")


@dataclass(frozen=True)
class Ac:
    """Small-signal AC sweep from ``start_hz`` to ``stop_hz``."""

    start_hz: float
    stop_hz: float
    points: int = 20
    variation: Literal["dec", "oct", "lin"] = "dec"
    kind: AnalysisKind = "ac"

    def __post_init__(self) -> None:
        _check_sweep(self.variation, self.points, self.start_hz, self.stop_hz, "Ac")

    def render(self) -> str:
        return (f".ac {self.variation} {int(self.points)} {format_number(self.start_hz)} "
                f"{format_number(self.stop_hz)}")


@dataclass(frozen=True)
class Tran:
    """Transient from 0 to ``stop_s``; ``step_s`` is the output step, ``max_step_s`` the
    largest internal step; ``uic`` skips the operating point and uses initial conditions."""

    step_s: float
    stop_s: float
    start_s: float = 0.0
    max_step_s: float | None = None
    uic: bool = False
    kind: AnalysisKind = "tran"

    def __post_init__(self) -> None:
        check_number(self.step_s, "Tran.step_s", positive=True)
        check_number(self.stop_s, "Tran.stop_s", positive=True)
        check_number(self.start_s, "Tran.start_s", nonnegative=True)
        if self.start_s >= self.stop_s:
            raise NetlistError("Tran.start_s must be below Tran.stop_s")
        if self.max_step_s is not None:
            check_number(self.max_step_s, "Tran.max_step_s", positive=True)
        if not isinstance(self.uic, bool):
            raise NetlistError("Tran.uic must be True or False")

    def render(self) -> str:
        parts = [".tran", format_number(self.step_s), format_number(self.stop_s)]
        if self.start_s or self.max_step_s is not None:
            parts.append(format_number(self.start_s))
        if self.max_step_s is not None:
            parts.append(format_number(self.max_step_s))
        if self.uic:
            parts.append("uic")
        return " ".join(parts)


@dataclass(frozen=True)
class Noise:
    """Small-signal noise at V(output, reference), input-referred to ``source``."""

    output: str
    source: str
    start_hz: float
    stop_hz: float
    points: int = 20
    variation: Literal["dec", "oct", "lin"] = "dec"
    reference: str = "0"
    kind: AnalysisKind = "noise"

    def __post_init__(self) -> None:
        check_node(self.output, "Noise.output")
        check_node(self.reference, "Noise.reference")
        check_identifier(self.source, "Noise.source")
        if self.source[0].upper() not in "VI":
            raise NetlistError(f"Noise.source {self.source!r} must name a V or I source")
        _check_sweep(self.variation, self.points, self.start_hz, self.stop_hz, "Noise")

    def render(self) -> str:
        out = f"v({self.output})" if self.reference == "0" else \
            f"v({self.output},{self.reference})"
        return (f".noise {out} {self.source} {self.variation} {int(self.points)} "
                f"{format_number(self.start_hz)} {format_number(self.stop_hz)}")


Analysis = Op | Dc | Ac | Tran | Noise


def _check_sweep(variation: str, points: int, start: float, stop: float, who: str) -> None:
    if variation not in _VARIATIONS:
        raise NetlistError(f"{who}.variation {variation!r} must be one of {_VARIATIONS}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise NetlistError(f"{who}.points {points!r} must be a positive integer")
    check_number(start, f"{who}.start_hz", positive=True)
    check_number(stop, f"{who}.stop_hz", positive=True)
    if stop < start:
        raise NetlistError(f"{who}: stop_hz {stop} is below start_hz {start}")
