"""Architecture overrides for the energy model from a TOML file.

::

    [bplight]            # keys of devices/energy_bplight.toml
    bits = 8
    symbol_rate_hz = 1e9
    [baseline]           # keys of devices/energy_baseline.toml
    crossbar_rows = 256
    [workload]           # keys of devices/energy_workload.toml
    batch_size = 64

Unknown tables or keys are refused (CardError names the key and the valid ones); values
are checked against the card's valid range.  Overridden values carry the provenance
"user override".
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from cosim.errors import ConfigError

SECTIONS = {"bplight": "energy_bplight", "baseline": "energy_baseline",
            "workload": "energy_workload", "rram": "rram_array"}


def load_config(path: str | Path | None = None, **sections: dict) -> dict:
    """Cards with overrides:
    ``{"bplight": Card, "baseline": Card, "workload": Card, "rram": Card}``.

    ``path`` is a TOML file; ``sections`` (e.g. ``bplight={"bits": 8}``) apply after it.
    """
    from cosim.devices import load_card

    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"energy config {p} does not exist")
        from cosim.paths import read_user_text

        try:
            data = tomllib.loads(read_user_text(p, "energy config"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"energy config: unknown table(s) {sorted(unknown)}; "
                          f"allowed: {sorted(SECTIONS)}")
    out = {}
    for sec, card_name in SECTIONS.items():
        card = load_card(card_name)
        overrides = data.get(sec, {})
        if not isinstance(overrides, dict):
            raise ConfigError(f"energy config: [{sec}] must be a table of parameter = value")
        out[sec] = card.with_values(**overrides) if overrides else card
    return out
