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
from cosim.netlist.analysis import Ac, Dc, Noise, Op, Tran
from cosim.netlist.circuit import Circuit, SubCircuit
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

_NUM_RE = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(meg|mil|[fpnumkgt])?[a-z]*$", re.IGNORECASE)
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "meg": 1e6,
          "g": 1e9, "t": 1e12, "mil": 25.4e-6}


def parse_number(token: str, where: str = "value") -> float:
    """A SPICE number with an optional scale suffix: '1k' -> 1000.0, '2.2u' -> 2.2e-06."""
    m = _NUM_RE.match(token.strip())
    if not m:
        raise NetlistError(f"{where}: {token!r} is not a SPICE number")
    value = float(m.group(1))
    if m.group(2):
        value *= _SCALE[m.group(2).lower()]
    return value


def _value(token: str, where: str) -> float | str:
    token = token.strip()
    if token.startswith("{") and token.endswith("}"):
        return token[1:-1]
    return parse_number(token, where)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join '+' continuation lines, drop comments; keep the first line number."""
    out: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if "\x00" in raw:
            raise NetlistError(f"line {lineno}: NUL character in netlist")
        line = raw.rstrip()
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
        return TrNoise(nums[0], nums[1])
    return Pwl(tuple(nums[0::2]), tuple(nums[1::2]))


def _source(cls, name: str, tok: list[str], where: str):
    n_pos, n_neg, rest = tok[0], tok[1], tok[2:]
    dc: float | str = 0.0
    ac = None
    wave = None
    i = 0
    while i < len(rest):
        t = rest[i]
        low = t.lower()
        if low == "dc":
            dc = _value(rest[i + 1], where)
            i += 2
        elif low == "ac":
            ac = parse_number(rest[i + 1], where)
            i += 2
            if i < len(rest) and _NUM_RE.match(rest[i]):
                i += 1  # phase, ignored (always 0 in rendered netlists)
        elif re.match(r"(?i)^(pulse|sin|pwl|trnoise)\(", t):
            wave = _waveform(t, where)
            i += 1
        else:
            dc = _value(t, where)
            i += 1
    return cls(name, n_pos, n_neg, dc, ac, wave)


def _element(tok: list[str], where: str) -> Element:
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
            area = parse_number(args[3], where) if len(args) > 3 else None
            return Diode(name, args[0], args[1], args[2], area)
        if kind == "M":
            kv = _kv(args[5:], where)
            kv = {k.upper(): v for k, v in kv.items()}
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


def _analysis(tok: list[str], where: str):
    cmd = tok[0].lower()
    a = tok[1:]
    if cmd == ".op":
        return Op()
    if cmd == ".dc":
        return Dc(a[0], *(parse_number(x, where) for x in a[1:4]))
    if cmd == ".ac":
        return Ac(parse_number(a[2], where), parse_number(a[3], where), int(a[1]), a[0].lower())
    if cmd == ".tran":
        uic = any(x.lower() == "uic" for x in a)
        nums = [parse_number(x, where) for x in a if x.lower() != "uic"]
        return Tran(nums[0], nums[1], nums[2] if len(nums) > 2 else 0.0,
                    nums[3] if len(nums) > 3 else None, uic)
    if cmd == ".noise":
        m = re.match(r"(?i)^v\(([^,)]+)(?:,([^)]+))?\)$", a[0])
        if not m:
            raise NetlistError(f"{where}: .noise output must be v(node) or v(node,ref)")
        return Noise(m.group(1), a[1], parse_number(a[4], where), parse_number(a[5], where),
                     int(a[3]), a[2].lower(), m.group(2) or "0")
    raise NetlistError(f"{where}: unknown analysis {cmd}")


def parse_netlist(text: str, origin: str = "<netlist>") -> Circuit:
    """Parse SPICE text into a Circuit; errors name ``origin`` and the line number."""
    from cosim.resources import data_dir

    lines = _logical_lines(text)
    if not lines:
        raise NetlistError(f"{origin}: empty netlist")
    title = lines[0][1].lstrip("*").strip() or "untitled"
    circuit = Circuit(title=title[:200])
    sub: SubCircuit | None = None
    skipping_include: str | None = None
    for lineno, line in lines[1:]:
        where = f"{origin}:{lineno}"
        stripped = line.strip()
        m = re.match(r"^\*\s*(begin|end) include (\S+)$", stripped)
        if m:
            if m.group(1) == "begin":
                skipping_include = m.group(2)
                circuit.include(skipping_include)
            else:
                skipping_include = None
            continue
        if skipping_include or not stripped or stripped.startswith("*"):
            continue
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
                break
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
                name = Path(tok[1].strip("'\"")).name
                if not (data_dir("netlists") / name).is_file():
                    raise NetlistError(f"{where}: include of {tok[1]!r} is not a shipped library; "
                                       "inline its contents or copy it into netlists/")
                circuit.include(name)
                continue
            if head in (".op", ".dc", ".ac", ".tran", ".noise"):
                circuit.analyses.append(_analysis(tok, where))
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


def read_netlist(path: str | Path) -> Circuit:
    """Parse a netlist file."""
    p = Path(path)
    if not p.exists():
        raise NetlistError(f"netlist file {p} does not exist")
    from cosim.paths import user_path

    with user_path(p, "netlist file", "give the path of a readable netlist file"):
        text = p.read_text(encoding="utf-8", errors="replace")
    return parse_netlist(text, origin=str(p))
