"""Parse SPICE text back into a :class:`~cosim.netlist.circuit.Circuit`, for inspection.

The parser reads the subset the netlist core renders (and common hand-written netlists in
that subset): the elements R C L V I E G F H B D M X, ``.subckt``/``.ends``, ``.model``,
``.param``, ``.options``, ``.ic``, ``.include`` of shipped libraries, and the analyses
``.op .dc .ac .tran .noise``.  Anything else, ``.control`` blocks above all, is refused
with the line number and the reason, because every element is re-validated on the way
in and text we cannot check must not reach ngspice.
"""

from __future__ import annotations

import re
from pathlib import Path

from cosim.errors import NetlistError
from cosim.netlist.analysis import read_analysis
from cosim.netlist.circuit import Circuit, SubCircuit, shipped_library_lines
from cosim.netlist.elements import (
    CCCS,
    CCVS,
    VCCS,
    VCVS,
    BehavioralSource,
    Capacitor,
    CurrentSource,
    Diode,
    Element,
    Inductor,
    Model,
    Mosfet,
    Pulse,
    Pwl,
    Resistor,
    Sine,
    SubcircuitInstance,
    TrNoise,
    VoltageSource,
)
from cosim.netlist.validate import _NUM_RE, parse_number, read_netlist_text

__all__ = ["parse_netlist", "parse_number", "read_netlist", "read_netlist_text"]


def _value(token: str, where: str) -> float | str:
    token = token.strip()
    if token.startswith("{") and token.endswith("}"):
        return token[1:-1]
    return parse_number(token, where)


def _physical_lines(text: str) -> list[str]:
    """Lines as ngspice reads a file: split on "\n" only ("\r\n" ends are accepted)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _check_characters(lineno: int, line: str, origin: str) -> None:
    """A line that is not a comment holds printable ASCII only (tabs read as spaces)."""
    if line.lstrip().startswith("*"):
        return
    for ch in line:
        if not ("\x20" <= ch <= "\x7e" or ch == "\t"):
            raise NetlistError(f"{origin}:{lineno}: character {ch!r} (U+{ord(ch):04X}) is not "
                               "allowed in a netlist line; use printable ASCII only")


def _logical_lines(text: str, origin: str = "<netlist>") -> list[tuple[int, str]]:
    """Join '+' continuation lines; keep the first line number."""
    out: list[tuple[int, str]] = []
    for lineno, raw in enumerate(_physical_lines(text), start=1):
        if lineno > 1:
            _check_characters(lineno, raw, origin)
        line = raw.replace("\t", " ").rstrip()
        stripped = line.strip()
        if stripped.startswith("+"):
            if not out:
                raise NetlistError(f"line {lineno}: continuation '+' with nothing to continue")
            out[-1] = (out[-1][0], out[-1][1] + " " + stripped[1:].strip())
            continue
        out.append((lineno, line))
    return out


def _strip_inline_comment(line: str) -> str:
    for marker in (";", " $ ", "\t$ "):
        idx = line.find(marker)
        if idx >= 0:
            line = line[:idx]
    return line.strip()


def _tokens(line: str) -> list[str]:
    """Split on whitespace, keeping FUNC(...) and {...} groups whole."""
    line = re.sub(r"(?i)\b(pulse|sin|pwl|trnoise)\s+\(", r"\1(", line)
    tokens, depth, cur = [], 0, []
    for ch in line:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch.isspace() and depth == 0:
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        tokens.append("".join(cur))
    return tokens


def _kv(tokens: list[str], where: str) -> dict[str, float | str]:
    joined = " ".join(tokens).replace(" = ", "=").replace("= ", "=").replace(" =", "=")
    out: dict[str, float | str] = {}
    for tok in _tokens(joined):
        if "=" not in tok:
            raise NetlistError(f"{where}: expected key=value, got {tok!r}")
        k, v = tok.split("=", 1)
        out[k] = _value(v, f"{where} {k}")
    return out


def _waveform(tok: str, where: str):
    m = re.match(r"(?i)^(pulse|sin|pwl|trnoise)\((.*)\)$", tok)
    if not m:
        raise NetlistError(f"{where}: cannot read source value {tok!r}")
    kind = m.group(1).lower()
    nums = [parse_number(t, where) for t in m.group(2).replace(",", " ").split()]
    if kind == "pulse":
        return Pulse(*nums)
    if kind == "sin":
        return Sine(*nums)
    if kind == "trnoise":
        if len(nums) < 2 or any(x != 0.0 for x in nums[2:]):
            raise NetlistError(f"{where}: {tok!r}: only white TRNOISE(rms step [0 0]) is "
                               "supported (1/f and RTS terms are not)")
        return TrNoise(nums[0], nums[1])
    return Pwl(tuple(nums[0::2]), tuple(nums[1::2]))


def _source(cls, name: str, tok: list[str], where: str):
    n_pos, n_neg, rest = tok[0], tok[1], tok[2:]
    dc: float | str = 0.0
    dc_given = False
    ac = None
    wave = None
    i = 0
    while i < len(rest):
        t = rest[i]
        low = t.lower()
        if low == "dc" or not (low == "ac" or re.match(r"(?i)^(pulse|sin|pwl|trnoise)\(", t)):
            if dc_given:
                raise NetlistError(f"{where}: {name} has two DC values (at {t!r}); ngspice "
                                   "uses the first one, give only one")
            if low == "dc":
                if i + 1 >= len(rest):
                    raise NetlistError(f"{where}: {name}: 'DC' needs a value")
                i += 1
            dc = _value(rest[i], where)
            dc_given = True
            i += 1
        elif low == "ac":
            if ac is not None:
                raise NetlistError(f"{where}: {name} has two AC specifications; give one")
            if i + 1 >= len(rest):
                raise NetlistError(f"{where}: {name}: 'AC' needs a magnitude")
            ac = parse_number(rest[i + 1], where)
            i += 2
            if i < len(rest) and _NUM_RE.match(rest[i]):
                if parse_number(rest[i], where) != 0.0:
                    raise NetlistError(f"{where}: {name}: AC phase {rest[i]!r} is not supported "
                                       "(the netlist core renders AC sources with phase 0)")
                i += 1
        else:
            if wave is not None:
                raise NetlistError(f"{where}: {name} has two waveforms; give one")
            wave = _waveform(t, where)
            i += 1
    return cls(name, n_pos, n_neg, dc, ac, wave)


def _element(tok: list[str], where: str) -> Element:  # noqa: C901 - one branch per element kind
    name = tok[0]
    kind = name[0].upper()
    args = tok[1:]
    try:
        if kind in "RCL":
            if len(args) < 3:
                raise NetlistError(f"{where}: {name} needs two nodes and a value")
            val_tok = args[2]
            if val_tok.lower().startswith(("r=", "c=", "l=")):
                val_tok = val_tok[2:]
            value = _value(val_tok, where)
            if kind in "RL" and len(args) > 3:
                raise NetlistError(f"{where}: {name}: token {args[3]!r} after the value is not "
                                   "supported (instance parameters such as m=, tc1=, ac= "
                                   "change the element in ngspice); remove it")
            if kind == "R":
                return Resistor(name, args[0], args[1], value)
            if kind == "L":
                return Inductor(name, args[0], args[1], value)
            extra = _kv(args[3:], where) if len(args) > 3 else {}
            ic = extra.pop("IC", extra.pop("ic", None))
            if extra:
                raise NetlistError(f"{where}: unsupported capacitor options {sorted(extra)}")
            return Capacitor(name, args[0], args[1], value, ic)
        if kind == "V":
            return _source(VoltageSource, name, args, where)
        if kind == "I":
            return _source(CurrentSource, name, args, where)
        if kind in "EG":
            if len(args) != 5:
                raise NetlistError(f"{where}: {name} needs n+ n- nc+ nc- gain")
            cls = VCVS if kind == "E" else VCCS
            return cls(name, *args[:4], parse_number(args[4], where))
        if kind in "FH":
            if len(args) != 4:
                raise NetlistError(f"{where}: {name} needs n+ n- vsource gain")
            cls = CCCS if kind == "F" else CCVS
            return cls(name, args[0], args[1], args[2], parse_number(args[3], where))
        if kind == "B":
            rest = " ".join(args[2:])
            m = re.match(r"(?i)^\s*([VI])\s*=\s*(.+)$", rest)
            if not m:
                raise NetlistError(f"{where}: {name} needs V=expression or I=expression")
            return BehavioralSource(name, args[0], args[1], m.group(1).upper(),
                                    m.group(2).strip())
        if kind == "D":
            if len(args) > 4:
                raise NetlistError(f"{where}: {name}: token {args[4]!r} after the area is not "
                                   "supported; remove it")
            area = parse_number(args[3], where) if len(args) > 3 else None
            return Diode(name, args[0], args[1], args[2], area)
        if kind == "M":
            kv = _kv(args[5:], where)
            kv = {k.upper(): v for k, v in kv.items()}
            unknown = sorted(set(kv) - {"W", "L"})
            if unknown:
                raise NetlistError(f"{where}: {name}: instance parameters {unknown} are not "
                                   "supported (only W= and L=)")
            return Mosfet(name, *args[:4], model=args[4], width_m=kv.get("W", 1e-6),
                          length_m=kv.get("L", 1e-6))
        if kind == "X":
            split = next((i for i, t in enumerate(args) if "=" in t), len(args))
            if split < 1:
                raise NetlistError(f"{where}: {name} needs ports and a subcircuit name")
            return SubcircuitInstance(name, tuple(args[:split - 1]), args[split - 1],
                                      _kv(args[split:], where))
    except (TypeError, IndexError) as exc:
        raise NetlistError(f"{where}: cannot read element line ({exc})") from exc
    raise NetlistError(f"{where}: element type {kind!r} of {name!r} is not supported by the "
                       "netlist core (supported: R C L V I E G F H B D M X)")


def parse_netlist(text: str, origin: str = "<netlist>") -> Circuit:  # noqa: C901 - one branch per card
    """Parse SPICE text into a Circuit; errors name ``origin`` and the line number.

    What it cannot represent exactly as ngspice would run it is refused, never dropped:
    instance parameters, AC phases, a second DC value, text after ``.end``, an include
    block whose text differs from the shipped library, an include of a file that is not
    a shipped library.
    """
    if not isinstance(text, str):
        raise NetlistError(f"{origin}: netlist text must be a str, not {type(text).__name__}")
    blocks = _include_blocks(_physical_lines(text), origin)
    lines = _logical_lines(text, origin)
    if not lines:
        raise NetlistError(f"{origin}: empty netlist")
    title = lines[0][1].lstrip("*").strip() or "untitled"
    try:
        circuit = Circuit(title=title[:200])
    except NetlistError as exc:
        raise NetlistError(f"{origin}:1: {exc}") from None
    sub: SubCircuit | None = None
    ended_at: int | None = None
    for lineno, line in lines[1:]:
        where = f"{origin}:{lineno}"
        stripped = line.strip()
        if lineno in blocks:
            if blocks[lineno]:
                circuit.include(blocks[lineno])
            continue
        if not stripped or stripped.startswith("*"):
            continue
        if ended_at is not None:
            raise NetlistError(f"{where}: text after .end (line {ended_at}) is not read; move "
                               "it before .end or delete it")
        stripped = _strip_inline_comment(stripped)
        if not stripped:
            continue
        tok = _tokens(stripped)
        head = tok[0].lower()
        if head.startswith("."):
            if head in (".control", ".endc") or "shell" in stripped.lower():
                raise NetlistError(f"{where}: control blocks and shell commands are not "
                                   "accepted in a netlist; remove the .control section")
            if head == ".end":
                ended_at = lineno
                continue
            if head == ".subckt":
                parts = stripped.split()
                params: dict = {}
                if "params:" in [p.lower() for p in parts]:
                    idx = [p.lower() for p in parts].index("params:")
                    params = _kv(parts[idx + 1:], where)
                    parts = parts[:idx]
                sub = SubCircuit(parts[1], tuple(parts[2:]), params=params)
                continue
            if head == ".ends":
                if sub is None:
                    raise NetlistError(f"{where}: .ends without .subckt")
                circuit.add_subcircuit(sub)
                sub = None
                continue
            if head == ".model":
                m = re.match(r"(?i)^\.model\s+(\S+)\s+([A-Za-z0-9_]+)\s*\(?(.*?)\)?\s*$",
                             stripped)
                if not m:
                    raise NetlistError(f"{where}: cannot read .model line")
                model = Model(m.group(1), m.group(2),
                              _kv(m.group(3).split(), where) if m.group(3).strip() else {})
                (sub.models.append(model) if sub is not None else circuit.add_model(model))
                continue
            if head == ".param":
                circuit.params.update(_kv(tok[1:], where))
                continue
            if head in (".options", ".option"):
                for t in tok[1:]:
                    if "=" in t:
                        k, v = t.split("=", 1)
                        try:
                            circuit.options[k] = parse_number(v, where)
                        except NetlistError:
                            circuit.options[k] = v
                    else:
                        circuit.options[t] = True
                continue
            if head == ".ic":
                for t in tok[1:]:
                    m = re.match(r"(?i)^v\(([^)]+)\)=(.+)$", t)
                    if not m:
                        raise NetlistError(f"{where}: cannot read .ic entry {t!r}")
                    circuit.initial_conditions[m.group(1)] = parse_number(m.group(2), where)
                continue
            if head in (".include", ".inc", ".lib"):
                circuit.include(_shipped_include(tok, where, origin))
                continue
            if head in (".op", ".dc", ".ac", ".tran", ".noise"):
                circuit.analyses.append(read_analysis(tok, where))
                continue
            raise NetlistError(f"{where}: unsupported control line {head!r}")
        element = _element(tok, where)
        if sub is not None:
            sub.add(element)
        else:
            circuit.add(element)
    if sub is not None:
        raise NetlistError(f"{origin}: .subckt {sub.name} has no matching .ends")
    return circuit


def _shipped_include(tok: list[str], where: str, origin: str) -> str:
    """The shipped library an ``.include`` line names, or a refusal.

    The path is resolved as ngspice resolves it (relative to the netlist file's folder,
    or the working folder for text); it must exist and hold exactly a shipped library.
    """
    from cosim.resources import data_dir

    if len(tok) != 2:
        raise NetlistError(f"{where}: {tok[0]} takes exactly one file name (library "
                           "sections are not supported)")
    given = tok[1].strip("'\"")
    path = Path(given)
    if not path.is_absolute():
        base = Path(origin).parent if Path(origin).is_file() else Path.cwd()
        path = base / path
    if not path.is_file():
        raise NetlistError(f"{where}: include of {given!r}: no such file ({path}); ngspice "
                           "would fail too")
    shipped = data_dir("netlists") / path.name
    try:
        same = shipped.is_file() and path.read_bytes() == shipped.read_bytes()
    except OSError as exc:
        raise NetlistError(f"{where}: include of {given!r} cannot be read ({exc})") from None
    if not same:
        raise NetlistError(f"{where}: include of {given!r} is not a shipped library (only "
                           "files identical to one in netlists/ can be checked); inline its "
                           "contents")
    return path.name


_MARKER_RE = re.compile(r"^\*\s*(begin|end) include (\S+)\s*$")


def _include_blocks(physical: list[str], origin: str) -> dict[int, str]:
    """Line numbers of ``* begin include`` .. ``* end include`` blocks.

    Each block must hold exactly the shipped library's text (as :meth:`Circuit.render`
    inlines it); the begin line maps to the library's name, the others to "".
    """
    out: dict[int, str] = {}
    i = 0
    while i < len(physical):
        m = _MARKER_RE.match(physical[i].strip())
        if not m:
            i += 1
            continue
        where = f"{origin}:{i + 1}"
        kind, name = m.groups()
        if kind == "end":
            raise NetlistError(f"{where}: '* end include {name}' without its begin marker")
        end = next((j for j in range(i + 1, len(physical))
                    if _MARKER_RE.match(physical[j].strip())), None)
        if end is None or _MARKER_RE.match(physical[end].strip()).groups() != ("end", name):
            raise NetlistError(f"{where}: '* begin include {name}' is not closed by "
                               f"'* end include {name}' before the next marker or the end")
        try:
            expected = shipped_library_lines(name)
        except NetlistError as exc:
            raise NetlistError(f"{where}: {exc}") from None
        body = [(j, physical[j].rstrip()) for j in range(i + 1, end) if physical[j].strip()]
        for k, (j, line) in enumerate(body):
            if k >= len(expected) or line != expected[k]:
                raise NetlistError(
                    f"{origin}:{j + 1}: this line inside the include block of {name} differs "
                    "from the shipped library; edits between include markers are not read. "
                    "Move the change outside the markers")
        if len(body) != len(expected):
            raise NetlistError(f"{origin}:{end + 1}: the include block of {name} is missing "
                               f"{len(expected) - len(body)} line(s) of the shipped library")
        out[i + 1] = name
        out.update({j + 1: "" for j in range(i + 1, end + 1)})
        i = end + 1
    return out


def read_netlist(path: str | Path) -> Circuit:
    """Parse a netlist file."""
    return parse_netlist(read_netlist_text(path), origin=str(path))
