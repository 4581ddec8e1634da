"""Where the data shipped with the package lives.

``netlists/`` (SPICE subcircuit libraries) and ``devices/`` (TOML device cards) sit at
the top of the source tree and are installed as the packages ``cosim.data.netlists`` and
``cosim.data.devices``.  :func:`data_dir` is the one way to find them, for a source
checkout, an editable install and a wheel alike.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Literal

DataKind = Literal["netlists", "devices"]
_KINDS: tuple[str, ...] = ("netlists", "devices")


def data_dir(kind: DataKind) -> Path:
    """Directory holding the shipped data of ``kind`` ("netlists" or "devices")."""
    if kind not in _KINDS:
        raise ValueError(f"unknown data kind {kind!r}; expected one of {_KINDS}")
    try:
        root = importlib.resources.files(f"cosim.data.{kind}")
        path = Path(str(root))
        if path.is_dir():
            return path
    except ModuleNotFoundError:
        pass
    # Plain source checkout that was never installed.
    path = Path(__file__).resolve().parent.parent / kind
    if not path.is_dir():
        raise FileNotFoundError(
            f"cannot find the shipped {kind!r} directory (looked in the installed package "
            f"cosim.data.{kind} and in {path}); reinstall bplight-cosim"
        )
    return path


def data_file(kind: DataKind, name: str) -> Path:
    """Path of one shipped file, e.g. ``data_file("netlists", "memristors.lib")``."""
    path = data_dir(kind) / name
    if not path.is_file():
        available = sorted(p.name for p in data_dir(kind).iterdir() if p.is_file()
                           and not p.name.startswith("__"))
        raise FileNotFoundError(
            f"no shipped {kind} file named {name!r}; available: {', '.join(available)}"
        )
    return path
