"""Analyses: the closed vocabulary ``op | dc | ac | tran | noise``.

Each analysis renders to one SPICE control line (``.op``, ``.dc`` ...); the engine
uses the same objects to know which plots and axes to read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cosim.errors import NetlistError
from cosim.netlist.validate import (
    check_identifier,
    check_node,
    check_number,
    format_number,
    parse_number,
)

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


_ANALYSIS_FORMS = {
    ".op": ".op",
    ".dc": ".dc SOURCE START STOP STEP",
    ".ac": ".ac dec|oct|lin POINTS FSTART FSTOP",
    ".tran": ".tran TSTEP TSTOP [TSTART [TMAX]] [uic]",
    ".noise": ".noise v(OUT[,REF]) SOURCE dec|oct|lin POINTS FSTART FSTOP",
}
_ANALYSIS_ARGS = {".op": (0, 0), ".dc": (4, 4), ".ac": (4, 4), ".tran": (2, 5),
                  ".noise": (6, 6)}


def read_analysis(tok: list[str], where: str):
    """The analysis of a control line split into words (``[".dc", "V1", "0", "1",
    "0.1"]``); a NetlistError naming ``where`` and the form of the line if it is wrong."""
    cmd = tok[0].lower()
    low, high = _ANALYSIS_ARGS[cmd]
    if not low <= len(tok) - 1 <= high:
        raise NetlistError(f"{where}: {cmd} takes {low}..{high} arguments, got "
                           f"{len(tok) - 1}; the form is '{_ANALYSIS_FORMS[cmd]}'")
    try:
        return _read_analysis(cmd, tok[1:], where)
    except (IndexError, ValueError, TypeError) as exc:
        if isinstance(exc, NetlistError):
            raise NetlistError(f"{exc}; the form is '{_ANALYSIS_FORMS[cmd]}'") from None
        raise NetlistError(f"{where}: cannot read {cmd} line ({exc}); the form is "
                           f"'{_ANALYSIS_FORMS[cmd]}'") from None


def _read_analysis(cmd: str, a: list[str], where: str):
    if cmd == ".op":
        return Op()
    if cmd == ".dc":
        return Dc(a[0], *(parse_number(x, where) for x in a[1:4]))
    if cmd == ".ac":
        return Ac(parse_number(a[2], where), parse_number(a[3], where), int(a[1]), a[0].lower())
    if cmd == ".tran":
        uic = any(x.lower() == "uic" for x in a)
        if uic and a[-1].lower() != "uic":
            raise NetlistError(f"{where}: 'uic' must be the last word of .tran")
        nums = [parse_number(x, where) for x in a if x.lower() != "uic"]
        if len(nums) < 2:
            raise NetlistError(f"{where}: .tran needs TSTEP and TSTOP")
        return Tran(nums[0], nums[1], nums[2] if len(nums) > 2 else 0.0,
                    nums[3] if len(nums) > 3 else None, uic)
    if cmd == ".noise":
        m = re.match(r"(?i)^v\(([^,)]+)(?:,([^)]+))?\)$", a[0])
        if not m:
            raise NetlistError(f"{where}: .noise output must be v(node) or v(node,ref)")
        return Noise(m.group(1), a[1], parse_number(a[4], where), parse_number(a[5], where),
                     int(a[3]), a[2].lower(), m.group(2) or "0")
    raise NetlistError(f"{where}: unknown analysis {cmd}")
