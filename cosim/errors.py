"""Exception and warning classes shared by every subpackage.

Each failure kind has its own class so that callers can catch exactly what they can
handle.  Messages name the offending value, where it came from and how to fix it.
"""

from __future__ import annotations


class CosimError(Exception):
    """Base class of every error raised on purpose by bplight-cosim."""


class ConfigError(CosimError, ValueError):
    """A configuration value is missing, unknown or out of range."""


class CardError(ConfigError):
    """A device card (devices/*.toml or a user file) is malformed."""


class NetlistError(CosimError, ValueError):
    """A netlist object or netlist text is invalid (bad name, value or structure)."""


class CacheError(CosimError):
    """The HDF5 result cache could not be read or written."""


class FileAccessError(CosimError, OSError):
    """A file or directory the user named (or a default location) cannot be read,
    written or created: missing, wrong kind, no permission, read-only, full or locked."""


class ResourceLimitError(CosimError, ValueError):
    """A request would allocate more than a documented limit allows (the message names
    the count, the limit, the constant holding it and how to stay below it)."""


class CosimWarning(UserWarning):
    """A suspicious but allowed situation; counted in run files where relevant."""
