"""ngspice engine over PySpice's shared-library interface.

``run(circuit, analysis)`` returns a :class:`SpiceResult`; failures raise a
:class:`SpiceError` subclass carrying ngspice's own lines and the netlist.  Work runs in
a pool of worker processes (:class:`SpiceEngine`).
"""

from cosim.lazy import lazy_names

# Imported on first use (cosim.lazy): a native result needs no worker pool.
__getattr__, __dir__ = lazy_names(__name__, {
    "engine": ("Job", "SpiceEngine", "default_engine", "make_job", "run", "run_many"),
    "errors": ("ConvergenceError", "DeckRefusedError", "FloatingNodeError",
               "NgspiceNotFoundError", "SingularMatrixError", "SpiceCrashError", "SpiceError",
               "SpiceSyntaxError", "SpiceTimeoutError", "TimestepTooSmallError",
               "UnknownModelError", "UnknownNodeError"),
    "result": ("SpiceResult",),
})

__all__ = [
    "ConvergenceError", "DeckRefusedError", "FloatingNodeError", "Job", "NgspiceNotFoundError",
    "SingularMatrixError", "SpiceCrashError", "SpiceEngine", "SpiceError", "SpiceResult",
    "SpiceSyntaxError", "SpiceTimeoutError", "TimestepTooSmallError", "UnknownModelError",
    "UnknownNodeError", "default_engine", "make_job", "run", "run_many",
]
