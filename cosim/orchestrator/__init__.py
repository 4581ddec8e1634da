"""The orchestrator: runs every layer step of training through the simulated hardware.

:func:`train` is the entry point (see :mod:`cosim.orchestrator.run`); the run file it
writes is read with :class:`cosim.store.runs.RunFile`.
"""

from cosim.orchestrator.progress import Progress
from cosim.orchestrator.run import (
    Prepared,
    TrainingInterrupted,
    TrainResult,
    build_network,
    load_data,
    prepare,
    rng_streams,
    train,
)

__all__ = ["Progress", "Prepared", "TrainingInterrupted", "TrainResult", "build_network",
           "load_data", "prepare", "rng_streams", "train"]
