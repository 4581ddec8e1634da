"""Errors of the native nodal-analysis solver."""

from __future__ import annotations

from cosim.errors import CosimError, NetlistError


class NativeError(CosimError):
    """Base class of failures of the native solver."""


class UnsupportedElementError(NativeError, NetlistError):
    """The circuit holds an element, model parameter or analysis the native solver does
    not implement.  It is never ignored silently: run the circuit with ngspice instead."""


class NativeSingularMatrixError(NativeError):
    """The nodal matrix is singular: a floating node or a loop of voltage sources."""


class NativeConvergenceError(NativeError):
    """Newton's method did not converge for a nonlinear circuit."""
