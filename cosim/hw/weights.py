"""The device weight store: the network's weights are the memristors' conductances.

Each weight matrix ``W`` (n_out, n_in) of a layer lives on a differential pair of
memristor arrays (:class:`cosim.devices.programming.ArrayState`):

    W = w_max (G+ - G-) / (G_max - G_min)

with a per-layer full scale ``w_max = headroom * max|W_0|`` fixed when the layer is first
programmed (:meth:`DeviceWeightStore.set_weight`; ``headroom`` from
``devices/bplight.toml``).  A weight the devices cannot hold (``|W| > w_max``) is
programmed at the device limit and counted (``saturated_weights``).

An optimizer update ``delta`` becomes whole programming pulses
(:func:`cosim.devices.programming.weight_update_pulses`: ``round(|delta| / w_max *
pulses)``) applied by the NeuroSim pulse model (nonlinearity, cycle-to-cycle noise,
conductance limits, stuck-at faults; :meth:`ArrayState.apply_pulses`), so
:meth:`~DeviceWeightStore.weight` after an update returns what the devices hold, not
``W + delta``.  Biases stay digital float64 arrays.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from cosim.devices.programming import (
    UPDATE_SCHEMES,
    ArrayState,
    DeviceSpread,
    ProgrammingParams,
    weight_update_pulses,
)
from cosim.errors import ConfigError
from cosim.nn.backend import is_bias_name

_STATE_FIELDS = ("g_pos_s", "g_neg_s", "stuck_on_pos", "stuck_off_pos", "stuck_on_neg",
                 "stuck_off_neg")
_SPREAD_FIELDS = ("g_min_s", "g_max_s", "a_ltp", "a_ltd")


def _json_array(obj) -> np.ndarray:
    """A JSON-able object as a uint8 array (stores cleanly in HDF5)."""
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8).copy()


def _from_json_array(arr) -> object:
    return json.loads(np.asarray(arr, dtype=np.uint8).tobytes().decode())


class DeviceWeightStore:
    """Weights held as memristor conductance pairs, biases as floats (module docstring).

    Parameters
    ----------
    params : ProgrammingParams
        Device population (conductance range, pulses, nonlinearity, noise, faults).
    rng : numpy.random.Generator
        Draws device-to-device spread and faults at programming, and cycle-to-cycle
        write noise at every update.
    headroom : float
        ``w_max = headroom * max|W_0|`` per layer (>= 1).
    scheme : {"single_side", "push_pull"}
        How an update is split over the pair (see ``weight_update_pulses``).
    stats : HardwareStats, optional
        Receives ``saturated_weights`` and ``pulses`` counts (phase ``"update"``).
    """

    def __init__(self, params: ProgrammingParams, rng: np.random.Generator, *,
                 headroom: float = 2.0, scheme: str = "push_pull", stats=None) -> None:
        if not isinstance(params, ProgrammingParams):
            raise ConfigError("DeviceWeightStore needs ProgrammingParams "
                              "(cosim.devices.programming.params_from_card)")
        if not isinstance(rng, np.random.Generator):
            raise ConfigError("DeviceWeightStore needs rng=numpy.random.default_rng(seed)")
        if not (isinstance(headroom, (int, float)) and np.isfinite(headroom) and headroom >= 1):
            raise ConfigError(f"weight headroom={headroom!r}: give a number >= 1")
        if scheme not in UPDATE_SCHEMES:
            raise ConfigError(f"update scheme {scheme!r}: choose one of {UPDATE_SCHEMES}")
        self.params = params
        self.rng = rng
        self.headroom = float(headroom)
        self.scheme = scheme
        self.stats = stats
        self._states: dict[str, ArrayState] = {}
        self._w_max: dict[str, float] = {}
        self._biases: dict[str, np.ndarray] = {}
        self._cache: dict[str, np.ndarray] = {}
        self.pulses_applied = 0

    # --- WeightStore protocol -----------------------------------------------------
    def names(self) -> list[str]:
        """Store keys, sorted."""
        return sorted([*self._states, *self._biases])

    def __contains__(self, name: str) -> bool:
        return name in self._states or name in self._biases

    def weight(self, name: str) -> np.ndarray:
        """What the devices hold now (read-only): ``w_max (G+ - G-)/(G_max - G_min)``."""
        if name in self._biases:
            view = self._biases[name].view()
        elif name in self._states:
            if name not in self._cache:
                w = self._states[name].weights(self._w_max[name], self.params)
                w.flags.writeable = False
                self._cache[name] = w
            view = self._cache[name].view()
        else:
            raise ConfigError(f"device store has no parameter {name!r}; it holds: "
                              f"{', '.join(self.names()) or 'nothing'} (initialise the model "
                              "first)")
        view.flags.writeable = False
        return view

    def w_max(self, name: str) -> float:
        """Weight full scale of layer ``name`` (the weight at G+ = G_max, G- = G_min)."""
        try:
            return self._w_max[name]
        except KeyError:
            raise ConfigError(f"device store has no weight matrix {name!r}") from None

    def set_weight(self, name: str, value: np.ndarray) -> None:
        """Program ``value``: biases stored as floats; a weight matrix fixes the layer's
        ``w_max`` (first time only) and programs the target conductances."""
        arr = np.array(value, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(arr)):
            raise ConfigError(f"parameter {name!r}: value has non-finite entries")
        if is_bias_name(name) or arr.ndim < 2:
            self._biases[name] = arr
            return
        if name not in self._w_max:
            peak = float(np.max(np.abs(arr))) if arr.size else 0.0
            self._w_max[name] = self.headroom * peak if peak > 0 else 1.0
        w_max = self._w_max[name]
        over = np.abs(arr) > w_max
        if self.stats is not None and over.any():
            self.stats.add(name, "update", saturated_weights=int(over.sum()))
        self._states[name] = ArrayState.from_weights(np.clip(arr, -w_max, w_max), w_max,
                                                     self.params, self.rng)
        self._cache.pop(name, None)

    def apply_update(self, name: str, delta: np.ndarray) -> None:
        """Bias: ``b += delta``.  Weight: ``delta`` -> pulse counts -> device update."""
        delta = np.asarray(delta, dtype=float)
        if name in self._biases:
            if delta.shape != self._biases[name].shape:
                raise ConfigError(f"update of {name!r} has shape {delta.shape}, the "
                                  f"parameter has shape {self._biases[name].shape}")
            self._biases[name] += delta
            return
        state = self._states.get(name)
        if state is None:
            raise ConfigError(f"device store has no parameter {name!r} to update")
        if delta.shape != state.g_pos_s.shape:
            raise ConfigError(f"update of {name!r} has shape {delta.shape}, the parameter "
                              f"has shape {state.g_pos_s.shape}")
        # The pair spans [-w_max, w_max]: a larger request (e.g. a diverging gradient
        # when the readout noise dominates) saturates the devices; clip it first so the
        # pulse counts stay finite, and count it.  Non-finite requests apply no pulses.
        w_max = self._w_max[name]
        bad = ~np.isfinite(delta) | (np.abs(delta) > 2 * w_max)
        if bad.any():
            delta = np.clip(np.where(np.isfinite(delta), delta, 0.0), -2 * w_max, 2 * w_max)
            if self.stats is not None:
                self.stats.add(name, "update", saturated_weights=int(bad.sum()))
        n_pos, n_neg = weight_update_pulses(delta, w_max, self.params, self.scheme)
        pulses = int(np.abs(n_pos).sum() + np.abs(n_neg).sum())
        self.pulses_applied += pulses
        if self.stats is not None:
            self.stats.add(name, "update", pulses=pulses)
            # a requested change the pair cannot follow (a device already at a limit)
            w_new = self.weight(name) + delta
            over = np.abs(w_new) > self._w_max[name]
            if over.any():
                self.stats.add(name, "update", saturated_weights=int(over.sum()))
        self._states[name] = state.apply_pulses(n_pos, n_neg, self.params, self.rng)
        self._cache.pop(name, None)

    def device_state(self, name: str) -> ArrayState:
        """The :class:`ArrayState` holding weight matrix ``name``."""
        try:
            return self._states[name]
        except KeyError:
            raise ConfigError(f"device store has no weight matrix {name!r}") from None

    # --- checkpoint -----------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Named arrays: biases and read-back weights under their own names, every device
        array (conductances, fault masks, d2d draws), ``w_max`` and the RNG state (JSON
        bytes), for an exact resume."""
        out: dict[str, np.ndarray] = {}
        for name, b in self._biases.items():
            out[name] = b.copy()
        for name, st in self._states.items():
            out[name] = np.array(self.weight(name))     # read-back, for inspection
            for f in _STATE_FIELDS:
                out[f"device/{name}/{f}"] = np.array(getattr(st, f), copy=True)
            for side in ("pos", "neg"):
                spread = getattr(st, f"spread_{side}")
                if spread is not None:
                    for f in _SPREAD_FIELDS:
                        out[f"device/{name}/spread_{side}/{f}"] = np.array(getattr(spread, f))
            out[f"w_max/{name}"] = np.array(self._w_max[name])
        out["meta/json"] = _json_array({"rng": self.rng.bit_generator.state,
                                        "pulses_applied": self.pulses_applied})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned."""
        try:
            meta = _from_json_array(state["meta/json"])
        except KeyError:
            raise ConfigError("device store state lacks 'meta/json' (not from "
                              "DeviceWeightStore.state_dict)") from None
        biases, states, w_max = {}, {}, {}
        names = {k.split("/")[1] for k in state if k.startswith("device/")}
        for k, v in state.items():
            if k.startswith("w_max/"):
                w_max[k[6:]] = float(np.asarray(v))
        for k, v in state.items():
            if "/" not in k and k not in names:
                biases[k] = np.array(v, dtype=np.float64, copy=True)
        for name in names:
            fields_ = {f: np.array(state[f"device/{name}/{f}"], copy=True) for f in _STATE_FIELDS}
            for f in _STATE_FIELDS[2:]:
                fields_[f] = fields_[f].astype(bool)
            spreads = {}
            for side in ("pos", "neg"):
                keys = [f"device/{name}/spread_{side}/{f}" for f in _SPREAD_FIELDS]
                spreads[f"spread_{side}"] = (DeviceSpread(*[np.array(state[k]) for k in keys])
                                             if all(k in state for k in keys) else None)
            states[name] = ArrayState(**fields_, **spreads)
        if set(states) != set(w_max):
            raise ConfigError("device store state: weight matrices and w_max entries differ")
        self._biases, self._states, self._w_max = biases, states, w_max
        self._cache.clear()
        self.rng.bit_generator.state = meta["rng"]
        self.pulses_applied = int(meta["pulses_applied"])


def programming_params_for(card, *, pulses: int, nonlinearity: float, c2c_sigma_frac: float,
                           overrides: dict | None = None) -> ProgrammingParams:
    """Programming parameters of the weight memristors from a population card with the
    architecture's pulse count, nonlinearity (0 = linear) and write noise."""
    from cosim.devices.programming import params_from_card

    base = params_from_card(card)
    a = float(nonlinearity)
    values = dict(pulses_ltp=int(pulses), pulses_ltd=int(pulses),
                  a_ltp=np.inf if a == 0 else a, a_ltd=-np.inf if a == 0 else -a,
                  c2c_sigma_frac=float(c2c_sigma_frac))
    values.update(overrides or {})
    return replace(base, **values)
