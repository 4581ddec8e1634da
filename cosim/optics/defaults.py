"""Default values of the optical models, read from the device cards (the one source).

Every module constant of :mod:`cosim.optics` that is a physical value (``NEFF``,
``RADIUS_M``, ``CHANNEL_SPACING_M``, ...) is the value of a parameter of
``devices/optics.toml`` or ``devices/laser.toml``, read here when the package is
imported; the card gives its source or marks it as an assumption.  Change a default by
editing the card (or pass the value to the function), never by editing Python.
"""

from __future__ import annotations

from cosim.devices.cards import load_card

_OPTICS = load_card("optics", kind="optics")
_LASER = load_card("laser", kind="laser")


def optics_value(name: str) -> float:
    """The value (SI) of parameter ``name`` of devices/optics.toml."""
    return float(_OPTICS[name])


def laser_value(name: str) -> float:
    """The value (SI) of parameter ``name`` of devices/laser.toml."""
    return float(_LASER[name])


__all__ = ["laser_value", "optics_value"]
