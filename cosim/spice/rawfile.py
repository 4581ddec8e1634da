"""Read the raw file plain ngspice writes (``ngspice -b -r FILE deck.cir``).

The format (ngspice manual, section "Raw file format"): per plot a text header
(``Title:``, ``Date:``, ``Plotname:``, ``Flags: real|complex``, ``No. Variables: N``,
``No. Points: P``, ``Variables:`` then one line ``index name type`` per variable), then
``Binary:`` followed by P x N float64 values in the machine's byte order (two per value
when complex), or ``Values:`` followed by the same numbers as text (with
``SPICE_ASCIIRAWFILE=1``).  Several plots follow one another.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cosim.errors import ConfigError


def _header(data: bytes, pos: int, path) -> tuple[dict, list[str], int, str]:
    info: dict[str, str] = {}
    names: list[str] = []
    while True:
        end = data.index(b"\n", pos)
        line = data[pos:end].decode("ascii", "replace")
        pos = end + 1
        if line.startswith("Variables:"):
            n = int(info["No. Variables"])
            for _ in range(n):
                end = data.index(b"\n", pos)
                parts = data[pos:end].decode("ascii", "replace").split()
                pos = end + 1
                names.append(parts[1].lower())
            continue
        if line.startswith(("Binary:", "Values:")):
            return info, names, pos, line.split(":")[0]
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()


def read_raw(path: str | Path) -> list[dict[str, np.ndarray]]:
    """The plots of an ngspice raw file, in order: each a dict of lower-case vector
    name (``"time"``, ``"v(out0)"``, ``"i(vcol0)"``) -> array (complex for AC)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read raw file {p}: {exc.strerror}") from None
    plots, pos = [], 0
    try:
        while pos < len(data) and data[pos:].strip():
            info, names, pos, kind = _header(data, pos, p)
            n, points = len(names), int(info["No. Points"])
            width = 2 if "complex" in info.get("Flags", "") else 1
            if kind == "Binary":
                count = points * n * width
                values = np.frombuffer(data, dtype=np.float64, count=count, offset=pos)
                pos += 8 * count
            else:
                lines = data[pos:].decode("ascii").split("\n")
                nums: list[float] = []
                used = 0
                for line in lines:
                    used += len(line) + 1
                    fields = line.split()
                    if len(nums) == points * n * width and (not fields or ":" in line):
                        used -= len(line) + 1
                        break
                    if len(nums) % (n * width) == 0 and fields:
                        fields = fields[1:]             # the point's index
                    for f in fields:
                        nums.extend(float(x) for x in f.split(","))
                values = np.array(nums, dtype=float)
                pos += used
            values = values.reshape(points, n, width)
            cols = values[..., 0] + 1j * values[..., 1] if width == 2 else values[..., 0]
            plots.append({name: np.array(cols[:, k]) for k, name in enumerate(names)})
    except (ValueError, KeyError, IndexError) as exc:
        raise ConfigError(f"{p} is not an ngspice raw file ({exc}); write one with "
                          f"'ngspice -b -r FILE deck.cir'") from None
    return plots


__all__ = ["read_raw"]
