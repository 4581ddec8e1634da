"""PyTorch bridge: any PyTorch model's dense and convolution layers on the simulated hardware.

Needs the optional extra ``bplight-cosim[torch]`` (``torch==2.13.0``); ``import cosim``
never imports torch, only ``import cosim.torch`` does.

* :func:`convert` replaces every ``nn.Linear`` and ``nn.Conv2d`` of a model by a
  hardware layer whose forward, backward and weight-gradient products run on the tile
  backend of a :class:`cosim.hw.backend.HardwareConfig` (``autograd.Function``
  :class:`TileProduct`), with weights held by the hardware's weight store;
* :class:`SGD` updates them through that store (device programming pulses), with the
  gradients autograd produced;
* :class:`Recorder` and :func:`train` write a run file as ``cosim train`` does (spot
  checks, counters, netlists, signals, checkpoints).

Example::

    import numpy as np, cosim.torch as ct

    hw_model = ct.convert(model, "bplight")       # a design name, file or Design
    opt = ct.SGD(hw_model, lr=0.05, momentum=0.9)
    ct.train(hw_model, opt, (x_train, y_train, x_test, y_test), "run.h5", epochs=3,
             batch_size=32, rng=np.random.default_rng(1))
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:     # pragma: no cover - depends on the installation
    raise ImportError("cosim.torch needs PyTorch: install the extra with "
                      "pip install 'bplight-cosim[torch]' (torch==2.13.0)") from exc

from cosim.torch.convert import CONVERTED, Bridge, bridge_of, convert
from cosim.torch.layers import HardwareConv2d, HardwareLayer, HardwareLinear, TileProduct
from cosim.torch.optim import SGD
from cosim.torch.record import Recorder, evaluate, run_config_json, train

__all__ = [
    "CONVERTED",
    "SGD",
    "Bridge",
    "HardwareConv2d",
    "HardwareLayer",
    "HardwareLinear",
    "Recorder",
    "TileProduct",
    "bridge_of",
    "convert",
    "evaluate",
    "run_config_json",
    "train",
]
