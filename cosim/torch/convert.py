""":func:`convert`: put the ``nn.Linear`` and ``nn.Conv2d`` layers of a PyTorch model on
the simulated hardware, and the :class:`Bridge` that holds that hardware."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from cosim.errors import ConfigError
from cosim.nn.backend import ArrayWeightStore, bias_name, is_bias_name
from cosim.torch.layers import HardwareConv2d, HardwareLayer, HardwareLinear

CONVERTED: dict[type, type] = {nn.Linear: HardwareLinear, nn.Conv2d: HardwareConv2d}
"""torch layer class -> the hardware layer that replaces it (subclasses included)."""


class Bridge:
    """The hardware of a converted model: backend, weight store and their settings.

    Every :class:`~cosim.torch.layers.HardwareLayer` of the model refers to the same
    bridge (``layer.bridge``; :func:`bridge_of` finds it from the model).

    Attributes
    ----------
    config : cosim.hw.backend.HardwareConfig
        The simulation settings.
    design : cosim.design.Design
        The accelerator the products run on.
    run_config : cosim.config.RunConfig or None
        The run config ``convert`` was given (None when given a design).
    seed : int
        Seed of the hardware random stream (:func:`cosim.orchestrator.rng_streams`).
    backend : cosim.nn.backend.MatmulBackend
        Receives every product of every hardware layer.
    store : cosim.nn.backend.WeightStore
        Holds every weight matrix and bias of the hardware layers (device states for
        ``weights_on_devices``); keys are the layers' qualified module names.
    layers : dict of str -> HardwareLayer
        By store key, in module order.
    """

    def __init__(self, config, run_config, seed: int, backend, store, design) -> None:
        self.config = config
        self.design = design
        self.run_config = run_config
        self.seed = int(seed)
        self.backend = backend
        self.store = store
        self.layers: dict[str, HardwareLayer] = {}

    def parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        """``(store key, mirror parameter)`` of every weight and bias, in module order."""
        for name, layer in self.layers.items():
            yield name, layer.weight
            if layer.bias is not None:
                yield bias_name(name), layer.bias

    def _expected(self, key: str, param: nn.Parameter) -> torch.Tensor:
        value = torch.tensor(np.asarray(self.store.weight(key)))
        return value.reshape(param.shape).to(dtype=param.dtype, device=param.device)

    def sync(self) -> None:
        """Copy what the store holds into every mirror parameter (after an update of the
        store; :class:`cosim.torch.SGD` calls it after every step)."""
        with torch.no_grad():
            for key, param in self.parameters():
                param.copy_(self._expected(key, param))

    def check_in_sync(self, layer: HardwareLayer) -> None:
        """Raise :class:`ConfigError` when a mirror of ``layer`` differs from the store."""
        keys = [(layer.cosim_name, layer.weight)]
        if layer.bias is not None:
            keys.append((bias_name(layer.cosim_name), layer.bias))
        for key, param in keys:
            if not torch.equal(param.detach(), self._expected(key, param)):
                raise ConfigError(
                    f"parameter {key!r} of the converted model no longer equals what the "
                    f"weight store holds: it was changed outside the store (a torch "
                    f"optimizer, load_state_dict or an in-place edit).  Update the weights "
                    f"with cosim.torch.SGD (updates go through the store's devices); after "
                    f"changing the store directly, call bridge_of(model).sync()")

    def state_dict(self) -> dict[str, np.ndarray]:
        """The store's state (weights or device states, and biases), by name."""
        return self.store.state_dict()


class _ParamShapes:
    """What :func:`cosim.hw.backend.build_hardware` needs of a model: parameter shapes
    and a store holding the initial values (the torch model's weights, float64)."""

    def __init__(self, initial: dict[str, np.ndarray]) -> None:
        self._shapes = {k: tuple(v.shape) for k, v in initial.items()}
        self.store = ArrayWeightStore()
        for key, value in initial.items():
            self.store.set_weight(key, value)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return dict(self._shapes)


def _layer_name(qualified: str, module: nn.Module) -> str:
    return qualified or type(module).__name__.lower()


def _resolve_config(design, hardware) -> tuple[Any, Any, Any]:
    """``(HardwareConfig, Design, RunConfig or None)`` of ``convert``'s arguments."""
    from cosim.config import RunConfig
    from cosim.design import Design, load_design
    from cosim.hw.backend import HardwareConfig

    if hardware is not None and not isinstance(hardware, HardwareConfig):
        raise ConfigError(f"convert: hardware must be a cosim.hw.backend.HardwareConfig "
                          f"(the simulation settings), got {type(hardware).__name__}")
    if isinstance(design, RunConfig):
        if hardware is not None:
            raise ConfigError("convert: a RunConfig holds its own hardware settings; give "
                              "hardware only with a Design or a design name")
        return design.hardware, design.design.resolve(), design
    if isinstance(design, str):
        design = load_design(design)
    if isinstance(design, Design):
        return hardware or HardwareConfig(), design, None
    raise ConfigError(f"convert needs a cosim.design.Design, a design name or file "
                      f"(e.g. 'bplight') or a cosim.config.RunConfig, got "
                      f"{type(design).__name__}")


def convert(model: nn.Module, design, *, hardware=None, seed: int | None = None,  # noqa: C901 - argument checks
            engine=None, cache=None, inplace: bool = False) -> nn.Module:
    """Replace every ``nn.Linear`` and ``nn.Conv2d`` of ``model`` by a hardware layer.

    The hardware layers (:mod:`cosim.torch.layers`) make their forward, backward and
    weight-gradient products on the tile backend of ``hardware`` (an
    ``autograd.Function``); their weights are programmed into the hardware's weight
    store (memristor devices for ``weights_on_devices``) from the model's current
    values, and from then on the network computes with what the store holds.  Update
    them with :class:`cosim.torch.SGD`; biases stay digital (float64 in the store).
    Other modules (activations, pooling, normalisation, residual additions) are left
    as they are and run in torch.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; layers are found with ``named_modules`` (a layer reachable under
        several names is converted once, and every reference is replaced).
    design : cosim.design.Design, str or cosim.config.RunConfig
        The accelerator: a resolved design, a design name or design card file
        (``"bplight"``, ``"ideal"``, ...), or a run config (its design, hardware
        settings and seed).
    hardware : cosim.hw.backend.HardwareConfig, optional
        The simulation settings (engines, noise switch, spot checks) with a design;
        default ``HardwareConfig()``.
    seed : int, optional
        Seed of the hardware random stream (noise, spot checks, device draws): the
        third stream of :func:`cosim.orchestrator.rng_streams`, as in ``cosim train``.
        Default: the RunConfig's seed, else 0.
    engine : cosim.spice.SpiceEngine, optional
        For the readout characterization and spot checks (default engine if None).
    cache : cosim.store.ResultCache, optional
        Result cache of the characterization (default cache if None).
    inplace : bool
        Convert ``model`` itself; by default a deep copy is converted and ``model`` is
        left unchanged.

    Returns
    -------
    torch.nn.Module
        The converted model; :func:`bridge_of` gives its :class:`Bridge`.

    Raises
    ------
    ConfigError
        No layer to convert, an unsupported convolution (groups != 1, non-zero padding
        mode, uneven 'same' padding), uninitialised (lazy) parameters, a parameter
        shared by two layers, or a model that is converted already.
    """
    from cosim.hw.backend import build_hardware
    from cosim.orchestrator.run import rng_streams

    if not isinstance(model, nn.Module):
        raise ConfigError(f"convert needs a torch.nn.Module, got {type(model).__name__}")
    config, design, run_config = _resolve_config(design, hardware)
    if seed is None:
        seed = run_config.seed if run_config is not None else 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or \
            not 0 <= seed < 2 ** 63:
        raise ConfigError(f"convert: seed must be an integer in [0, 2**63), got {seed!r}")
    if any(isinstance(m, HardwareLayer) for m in model.modules()):
        raise ConfigError("this model already has hardware layers (it was converted); "
                          "convert the original torch model instead")
    if not inplace:
        model = copy.deepcopy(model)

    targets: dict[int, tuple[str, nn.Module]] = {}
    for qualified, module in model.named_modules():
        if isinstance(module, tuple(CONVERTED)) and id(module) not in targets:
            targets[id(module)] = (_layer_name(qualified, module), module)
    if not targets:
        raise ConfigError(f"{type(model).__name__} has no nn.Linear or nn.Conv2d layer to "
                          f"put on the hardware")

    initial: dict[str, np.ndarray] = {}
    owners: dict[int, str] = {}
    for name, module in targets.values():
        if is_bias_name(name):
            raise ConfigError(f"layer name {name!r} ends in '.bias', which the weight "
                              f"store reserves for bias vectors; rename the module")
        for param in (module.weight, module.bias):
            if param is None:
                continue
            if isinstance(param, nn.parameter.UninitializedParameter):
                raise ConfigError(f"layer {name!r} has uninitialised (lazy) parameters; "
                                  f"run one forward pass before converting")
            if id(param) in owners:
                raise ConfigError(f"layers {owners[id(param)]!r} and {name!r} share one "
                                  f"parameter; tied weights are not supported")
            owners[id(param)] = name
        w = module.weight.detach().cpu().numpy().astype(np.float64)
        initial[name] = w.reshape(w.shape[0], -1)
        if module.bias is not None:
            initial[bias_name(name)] = module.bias.detach().cpu().numpy().astype(np.float64)

    backend, store = build_hardware(config, _ParamShapes(initial), rng_streams(int(seed))[2],
                                    design=design,
                                    engine=engine, cache=cache)
    bridge = Bridge(config, run_config, int(seed), backend, store, design)
    replacement: dict[int, HardwareLayer] = {}
    for key, (name, module) in targets.items():
        cls = next(hw for base, hw in CONVERTED.items() if isinstance(module, base))
        layer = cls(bridge, name, module)
        replacement[key] = layer
        bridge.layers[name] = layer
    for parent in list(model.modules()):
        for child_name, child in list(parent._modules.items()):
            if child is not None and id(child) in replacement:
                parent._modules[child_name] = replacement[id(child)]
    if id(model) in replacement:
        model = replacement[id(model)]
    bridge.sync()      # the mirrors hold what the devices hold after programming
    return model


def bridge_of(model: nn.Module) -> Bridge:
    """The :class:`Bridge` of a model returned by :func:`convert`."""
    bridges = {id(m.bridge): m.bridge for m in model.modules() if isinstance(m, HardwareLayer)}
    if not bridges:
        raise ConfigError(f"{type(model).__name__} has no hardware layers; convert it with "
                          f"cosim.torch.convert(model, hardware) first")
    if len(bridges) > 1:
        raise ConfigError(f"{type(model).__name__} holds layers of {len(bridges)} different "
                          f"conversions; convert the whole model once")
    return next(iter(bridges.values()))
