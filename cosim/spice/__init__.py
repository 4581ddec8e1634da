"""ngspice engine over PySpice's shared-library interface.

``run(circuit, analysis)`` returns a :class:`SpiceResult`; failures raise a
:class:`SpiceError` subclass carrying ngspice's own lines and the netlist.  Work runs in
a pool of worker processes (:class:`SpiceEngine`).
"""

from cosim.spice.engine import Job, SpiceEngine, default_engine, make_job, run, run_many
from cosim.spice.errors import (
    ConvergenceError,
    DeckRefusedError,
    FloatingNodeError,
    NgspiceNotFoundError,
    SingularMatrixError,
    SpiceCrashError,
    SpiceError,
    SpiceSyntaxError,
    SpiceTimeoutError,
    TimestepTooSmallError,
    UnknownModelError,
    UnknownNodeError,
)
from cosim.spice.result import SpiceResult

__all__ = [
    "ConvergenceError", "DeckRefusedError", "FloatingNodeError", "Job", "NgspiceNotFoundError",
    "SingularMatrixError", "SpiceCrashError", "SpiceEngine", "SpiceError", "SpiceResult",
    "SpiceSyntaxError", "SpiceTimeoutError", "TimestepTooSmallError", "UnknownModelError",
    "UnknownNodeError", "default_engine", "make_job", "run", "run_many",
]
