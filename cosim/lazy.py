"""Names of a package imported from its modules on first use (PEP 562).

A package's ``__init__`` that imports every module makes any ``import cosim.pkg.mod``
pay for all of them: ``cosim netlist run --engine native`` on a flat netlist needs the
analysis classes and the solver, not the element classes, the parser, the subcircuit
flattener or the ngspice worker pool.  With :func:`lazy_names` the package still offers
``from cosim.netlist import Circuit``; the module holding ``Circuit`` is imported when
the name is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_names(package: str, modules: dict[str, tuple[str, ...]]
               ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names live in modules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    modules : dict
        Module name relative to the package (``"analysis"``) -> the names it defines that
        the package exports.

    Returns
    -------
    (__getattr__, __dir__)
        To be assigned to the package's module-level ``__getattr__`` and ``__dir__``.
    """
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)   # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(home))

    return __getattr__, __dir__
