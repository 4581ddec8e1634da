"""Update policies: how an optimizer's weight update reaches non-ideal weight devices.

The network's weight matrices live on differential pairs of weight devices
(:class:`cosim.devices.weight_device.WeightDevice`: pulse response, variation, bounds,
endurance, drift), ``W = w_max (G+ - G-) / (G_max - G_min)`` with a per-layer full scale
``w_max = headroom * max|W_0|``, as in :class:`cosim.hw.weights.DeviceWeightStore`.  One
pulse step is worth ``eps = w_max / pulses_ltp`` of weight on a linear device.  What
differs between the policies is how an update ``delta`` becomes pulses
(:data:`UPDATE_POLICIES`, one class each, chosen by name):

``pulse`` (:class:`PulseUpdateStore`)
    Direct update: ``round(|delta| / eps)`` pulse steps now (today's
    ``DeviceWeightStore``, bit-identical with the same device and seed).  Updates below
    half a step are lost, and an asymmetric device drifts.
``mixed-precision`` (:class:`MixedPrecisionStore`)
    A digital accumulator ``chi`` (float64) per weight collects the updates; when
    ``|chi| >= eps`` the device gets ``trunc(chi / eps)`` steps and ``chi`` keeps the
    remainder (Nandakumar et al., "Mixed-precision architecture based on computational
    memory for training deep neural networks", ISCAS 2018; Front. Neurosci. 14:406, 2020).
``tiki-taka`` (:class:`TikiTakaStore`)
    Two device arrays per weight: ``A`` (zero-centred, takes every update as stochastic
    pulses) and ``C`` (the weight).  Every ``transfer_every`` updates, columns of ``A``
    are read and added to ``C`` as pulses, ``C += transfer_lr * A[:, j]``; the network
    uses ``W = gamma A + C`` (Gokmen & Haensch, "Algorithm for training neural networks
    on resistive device arrays", Front. Neurosci. 14:103, 2020).

Retention: the store keeps a clock; :meth:`DeviceStore.after` advances it, and every
device reads ``G (t / t0)^-nu`` of its last write (the device's drift law); a new write
starts from the drifted conductance.  Endurance: each device counts its pulses and its
window shrinks accordingly.  ``store.clock_s`` does not advance during training unless
the caller calls ``after`` (e.g. once per step with the step time).

:func:`make_weight_store` builds a store from a device (card) and a policy name.  Every
store implements the :class:`cosim.nn.backend.WeightStore` protocol (names, weight,
set_weight, apply_update, state_dict, load_state_dict) plus ``w_max(name)``,
``pulses_applied`` and ``after(seconds)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from cosim.devices.programming import (
    UPDATE_SCHEMES,
    ArrayState,
    DeviceSpread,
    weight_update_pulses,
)
from cosim.devices.weight_device import (
    WeightDevice,
    drift_factor,
    load_weight_device,
    sample_drift_nu,
    worn_g_max,
)
from cosim.errors import ConfigError
from cosim.nn.backend import is_bias_name


def _json_array(obj) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, sort_keys=True).encode(), dtype=np.uint8).copy()


def _from_json_array(arr) -> Any:
    return json.loads(np.asarray(arr, dtype=np.uint8).tobytes().decode())


# ----------------------------------------------------------------------------- pairs
@dataclass
class DevicePair:
    """Device arrays of one signed weight matrix (the G+ and G- devices).

    ``g_*_s`` are the conductances as written (S), ``t_*_s`` the store-clock time of each
    device's last write (s), ``n_*`` its cumulative pulse count, ``nu_*`` its drift
    exponent; stuck-at masks and d2d spread as in :class:`ArrayState`.
    """

    g_pos_s: np.ndarray
    g_neg_s: np.ndarray
    t_pos_s: np.ndarray
    t_neg_s: np.ndarray
    n_pos: np.ndarray
    n_neg: np.ndarray
    nu_pos: np.ndarray
    nu_neg: np.ndarray
    stuck_on_pos: np.ndarray
    stuck_off_pos: np.ndarray
    stuck_on_neg: np.ndarray
    stuck_off_neg: np.ndarray
    spread_pos: DeviceSpread | None = None
    spread_neg: DeviceSpread | None = None

    @staticmethod
    def program(w: np.ndarray, w_max: float, device: WeightDevice, rng: np.random.Generator,
                clock_s: float) -> DevicePair:
        """Target conductances of ``w`` (NeuroSim-style ideal write), d2d spread and
        faults drawn as :meth:`ArrayState.from_weights`, then drift exponents."""
        st = ArrayState.from_weights(w, w_max, device.params, rng)
        shape = np.shape(w)
        nu_p = sample_drift_nu(shape, device, rng)
        nu_n = sample_drift_nu(shape, device, rng)
        t = np.full(shape, float(clock_s))
        zero = np.zeros(shape, dtype=np.int64)
        return DevicePair(st.g_pos_s, st.g_neg_s, t, t.copy(), zero, zero.copy(), nu_p, nu_n,
                          st.stuck_on_pos, st.stuck_off_pos, st.stuck_on_neg,
                          st.stuck_off_neg, st.spread_pos, st.spread_neg)

    def conductances(self, device: WeightDevice, clock_s: float) -> tuple[np.ndarray,
                                                                          np.ndarray]:
        """(G+, G-) (S) read at store time ``clock_s`` (drifted since each write)."""
        if not device.has_drift:
            return self.g_pos_s, self.g_neg_s
        t0 = device.drift_t0_s
        return (self.g_pos_s * drift_factor(clock_s - self.t_pos_s, self.nu_pos, t0),
                self.g_neg_s * drift_factor(clock_s - self.t_neg_s, self.nu_neg, t0))

    def weights(self, w_max: float, device: WeightDevice, clock_s: float) -> np.ndarray:
        """``w_max (G+ - G-) / (G_max - G_min)`` (nominal window) at ``clock_s``."""
        gp, gn = self.conductances(device, clock_s)
        return w_max * (gp - gn) / device.params.g_range_s

    def pulse(self, n_pos, n_neg, device: WeightDevice, rng: np.random.Generator,
              clock_s: float) -> None:
        """Apply signed pulse counts to the G+ then the G- devices (in place): from the
        drifted conductance, within the worn window; stuck devices do not move."""
        p = device.params
        g_now = self.conductances(device, clock_s)
        for i, (side, n) in enumerate((("pos", n_pos), ("neg", n_neg))):
            spread = getattr(self, f"spread_{side}")
            g_min = p.g_min_s if spread is None else spread.g_min_s
            g_max = p.g_max_s if spread is None else spread.g_max_s
            count = getattr(self, f"n_{side}")
            kw: dict[str, Any] = {"g_min_s": None if spread is None else g_min}
            if device.has_wear:
                kw["g_max_s"] = worn_g_max(g_min, g_max, count, device.endurance_pulses)
            elif spread is not None:
                kw["g_max_s"] = g_max
            if spread is not None:
                kw.update(a_ltp=spread.a_ltp, a_ltd=spread.a_ltd)
            g_new = device.apply(g_now[i], n, rng, **kw)
            moved = np.asarray(n) != 0
            # a device drifted below G_min is not raised to G_min by a depression
            g_new = np.where((np.asarray(n) < 0) & (g_now[i] < g_min), g_now[i], g_new)
            if device.has_drift:
                g_new = np.where(moved, g_new, getattr(self, f"g_{side}_s"))
                setattr(self, f"t_{side}_s", np.where(moved, float(clock_s),
                                                      getattr(self, f"t_{side}_s")))
            on, off = getattr(self, f"stuck_on_{side}"), getattr(self, f"stuck_off_{side}")
            g_new = np.where(on, g_max, np.where(off, g_min, g_new))
            setattr(self, f"g_{side}_s", g_new)
            setattr(self, f"n_{side}", count + np.abs(np.asarray(n, dtype=np.int64)))

    # --- flat arrays for checkpoints ---------------------------------------------------
    _SPREAD = ("g_min_s", "g_max_s", "a_ltp", "a_ltd")

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f.name: np.array(getattr(self, f.name), copy=True) for f in fields(self)
               if not f.name.startswith("spread")}
        for side in ("pos", "neg"):
            spread = getattr(self, f"spread_{side}")
            if spread is not None:
                for k in self._SPREAD:
                    out[f"spread_{side}.{k}"] = np.array(getattr(spread, k), copy=True)
        return out

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> DevicePair:
        kw = {}
        for f in fields(cls):
            if f.name.startswith("spread"):
                keys = [f"{f.name}.{k}" for k in cls._SPREAD]
                kw[f.name] = (DeviceSpread(*[np.array(a[k], dtype=float) for k in keys])
                              if all(k in a for k in keys) else None)
            elif f.name.startswith("stuck"):
                kw[f.name] = np.array(a[f.name], dtype=bool)
            elif f.name.startswith("n_"):
                kw[f.name] = np.array(a[f.name], dtype=np.int64)
            else:
                kw[f.name] = np.array(a[f.name], dtype=float)
        return cls(**kw)


# ----------------------------------------------------------------------------- base store
class DeviceStore:
    """Weights on weight-device pairs, biases as floats; the update is the policy's.

    Subclasses (one per policy) set :attr:`ROLES` (device arrays per weight matrix),
    override :meth:`_read` and :meth:`_update`, and may keep digital arrays in
    ``self._digital[name][key]`` (checkpointed) and counters in ``self._counters``.

    Parameters
    ----------
    device : WeightDevice
    rng : numpy.random.Generator
        Device draws at programming (d2d, faults, drift exponents) and write noise.
    headroom : float
        ``w_max = headroom * max|W_0|`` per layer (>= 1).
    scheme : {"single_side", "push_pull"}
        Split of a step count over the pair (:func:`weight_update_pulses`).
    stats : HardwareStats, optional
        Receives ``saturated_weights`` counts.
    """

    ROLES: tuple[str, ...] = ("C",)
    POLICY = ""
    #: setting of the policy (keyword of ``__init__``) -> the design value that gives it
    #: (:func:`policy_params_from_design`); a new setting: one entry and one value in
    #: every devices/design_*.toml.
    DESIGN_VALUES: Mapping[str, str] = MappingProxyType({})

    def __init__(self, device: WeightDevice, rng: np.random.Generator, *,
                 headroom: float = 2.0, scheme: str = "push_pull", stats=None) -> None:
        if not isinstance(device, WeightDevice):
            raise ConfigError("a device weight store needs a WeightDevice "
                              "(cosim.devices.weight_device.load_weight_device)")
        if not isinstance(rng, np.random.Generator):
            raise ConfigError("a device weight store needs rng=numpy.random.default_rng(seed)")
        if not (isinstance(headroom, (int, float)) and np.isfinite(headroom) and headroom >= 1):
            raise ConfigError(f"weight headroom={headroom!r}: give a number >= 1")
        if scheme not in UPDATE_SCHEMES:
            raise ConfigError(f"update scheme {scheme!r}: choose one of {UPDATE_SCHEMES}")
        self.device = device
        self.rng = rng
        self.headroom = float(headroom)
        self.scheme = scheme
        self.stats = stats
        self.clock_s = 0.0
        self.pulses_applied = 0
        self._pairs: dict[str, dict[str, DevicePair]] = {}
        self._w_max: dict[str, float] = {}
        self._biases: dict[str, np.ndarray] = {}
        self._digital: dict[str, dict[str, np.ndarray]] = {}
        self._counters: dict[str, int] = {}
        self._cache: dict[str, np.ndarray] = {}

    # --- WeightStore protocol -----------------------------------------------------
    def names(self) -> list[str]:
        """Store keys, sorted."""
        return sorted([*self._pairs, *self._biases])

    def __contains__(self, name: str) -> bool:
        return name in self._pairs or name in self._biases

    def weight(self, name: str) -> np.ndarray:
        """What the network computes with now (read-only view)."""
        if name in self._biases:
            view = self._biases[name].view()
        elif name in self._pairs:
            if name not in self._cache:
                w = self._read(name)
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
        """Weight full scale of layer ``name``."""
        try:
            return self._w_max[name]
        except KeyError:
            raise ConfigError(f"device store has no weight matrix {name!r}") from None

    def step_weight(self, name: str) -> float:
        """Weight of one pulse step of layer ``name``: ``w_max / pulses_ltp``."""
        return self.w_max(name) / self.device.params.pulses_ltp

    def set_weight(self, name: str, value: np.ndarray) -> None:
        """Program ``value`` (biases stored as floats; a weight matrix fixes ``w_max`` the
        first time and programs the policy's arrays, see :meth:`_program`)."""
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
        self._program(name, np.clip(arr, -w_max, w_max))
        self._cache.pop(name, None)

    def apply_update(self, name: str, delta: np.ndarray) -> None:
        """Bias: ``b += delta``.  Weight: the policy's :meth:`_update` (after clipping a
        request beyond the pair's span, +-2 w_max, and dropping non-finite entries,
        counted as saturated)."""
        delta = np.asarray(delta, dtype=float)
        if name in self._biases:
            if delta.shape != self._biases[name].shape:
                raise ConfigError(f"update of {name!r} has shape {delta.shape}, the "
                                  f"parameter has shape {self._biases[name].shape}")
            self._biases[name] += delta
            return
        if name not in self._pairs:
            raise ConfigError(f"device store has no parameter {name!r} to update")
        shape = self._pairs[name][self.ROLES[0]].g_pos_s.shape
        if delta.shape != shape:
            raise ConfigError(f"update of {name!r} has shape {delta.shape}, the parameter "
                              f"has shape {shape}")
        w_max = self._w_max[name]
        bad = ~np.isfinite(delta) | (np.abs(delta) > 2 * w_max)
        if bad.any():
            delta = np.clip(np.where(np.isfinite(delta), delta, 0.0), -2 * w_max, 2 * w_max)
            if self.stats is not None:
                self.stats.add(name, "update", saturated_weights=int(bad.sum()))
        self._update(name, delta)
        self._cache.pop(name, None)

    def after(self, seconds: float) -> None:
        """Let ``seconds`` pass (retention): every device drifts by its law from its last
        write.  Reads afterwards show the drifted weights; the next writes start there."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
                not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(f"after({seconds!r}): give a time >= 0 in s")
        self.clock_s += float(seconds)
        self._cache.clear()

    # --- helpers for the policies ----------------------------------------------------
    def _program(self, name: str, w: np.ndarray) -> None:
        """Program the weight on the first role; other roles start at zero."""
        pairs = {}
        for i, role in enumerate(self.ROLES):
            target = w if i == 0 else np.zeros_like(w)
            pairs[role] = DevicePair.program(target, self._w_max[name], self.device,
                                             self.rng, self.clock_s)
        self._pairs[name] = pairs

    def _held(self, name: str, role: str) -> np.ndarray:
        """Weight held by array ``role`` of layer ``name`` now."""
        return self._pairs[name][role].weights(self._w_max[name], self.device, self.clock_s)

    def _pulse(self, name: str, role: str, dw: np.ndarray, *, stochastic: bool = False
               ) -> None:
        """Realise ``dw`` on array ``role`` as whole pulse steps: ``round(|dw|/eps)``, or
        ``floor(|dw|/eps + U(0,1))`` (unbiased stochastic rounding) if ``stochastic``."""
        w_max = self._w_max[name]
        if stochastic:
            eps = w_max / self.device.params.pulses_ltp
            steps = np.floor(np.abs(dw) / eps + self.rng.random(dw.shape))
            dw = np.sign(dw) * steps * eps
        n_pos, n_neg = weight_update_pulses(dw, w_max, self.device.params, self.scheme)
        pulses = int(np.abs(n_pos).sum() + np.abs(n_neg).sum())
        self.pulses_applied += pulses
        if self.stats is not None:
            self.stats.add(name, "update", pulses=pulses)   # (priced by cosim.energy)
            over = np.abs(self._held(name, role) + dw) > w_max
            if over.any():
                self.stats.add(name, "update", saturated_weights=int(over.sum()))
        self._pairs[name][role].pulse(n_pos, n_neg, self.device, self.rng, self.clock_s)

    # --- the policy -------------------------------------------------------------------
    def _read(self, name: str) -> np.ndarray:
        return self._held(name, self.ROLES[0])

    def _update(self, name: str, delta: np.ndarray) -> None:
        raise NotImplementedError

    # --- checkpoint -------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Named arrays: biases and read-back weights under their own names, every device
        array, the policy's digital arrays, ``w_max``, and the RNG, clock and counters
        (JSON bytes under ``meta/json``), for an exact resume."""
        out: dict[str, np.ndarray] = {n: b.copy() for n, b in self._biases.items()}
        for name, pairs in self._pairs.items():
            out[name] = np.array(self.weight(name))
            for role, pair in pairs.items():
                for k, v in pair.arrays().items():
                    out[f"device/{name}/{role}/{k}"] = v
            for k, v in self._digital.get(name, {}).items():
                out[f"digital/{name}/{k}"] = v.copy()
            out[f"w_max/{name}"] = np.array(self._w_max[name])
        out["meta/json"] = _json_array({"rng": self.rng.bit_generator.state,
                                        "pulses_applied": self.pulses_applied,
                                        "clock_s": self.clock_s, "policy": self.POLICY,
                                        "counters": self._counters})
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned."""
        try:
            meta = _from_json_array(state["meta/json"])
        except KeyError:
            raise ConfigError("device store state lacks 'meta/json' (not from a device "
                              "store's state_dict)") from None
        if meta.get("policy") != self.POLICY:
            raise ConfigError(f"device store state is of update policy "
                              f"{meta.get('policy')!r}, this store's is {self.POLICY!r}")
        pair_arrays: dict[str, dict[str, dict[str, np.ndarray]]] = {}
        digital: dict[str, dict[str, np.ndarray]] = {}
        w_max, biases = {}, {}
        for k, v in state.items():
            parts = k.split("/")
            if parts[0] == "device" and len(parts) == 4:
                pair_arrays.setdefault(parts[1], {}).setdefault(parts[2], {})[parts[3]] = v
            elif parts[0] == "digital" and len(parts) == 3:
                digital.setdefault(parts[1], {})[parts[2]] = np.array(v, dtype=float)
            elif parts[0] == "w_max" and len(parts) == 2:
                w_max[parts[1]] = float(np.asarray(v))
        for k, v in state.items():
            if "/" not in k and k not in pair_arrays:
                biases[k] = np.array(v, dtype=np.float64, copy=True)
        if set(pair_arrays) != set(w_max):
            raise ConfigError("device store state: weight matrices and w_max entries differ")
        self._pairs = {n: {r: DevicePair.from_arrays(a) for r, a in roles.items()}
                       for n, roles in pair_arrays.items()}
        self._digital, self._w_max, self._biases = digital, w_max, biases
        self._cache.clear()
        self.rng.bit_generator.state = meta["rng"]
        self.pulses_applied = int(meta["pulses_applied"])
        self.clock_s = float(meta["clock_s"])
        self._counters = {k: int(v) for k, v in meta["counters"].items()}


# ----------------------------------------------------------------------------- policies
class PulseUpdateStore(DeviceStore):
    """Direct pulse update: ``round(|delta| / eps)`` steps per weight and update, now.

    The policy of NeuroSim (MLP_NeuroSim_V3.0 Cell.cpp ``RealDevice::Write`` after the
    truncation of the normalised update to whole pulses) and of
    :class:`cosim.hw.weights.DeviceWeightStore`.  Constant ``|delta| < eps / 2`` never
    moves the weight; ``|delta| = m eps`` moves it ``m`` steps each update.
    """

    POLICY = "pulse"

    def _update(self, name: str, delta: np.ndarray) -> None:
        self._pulse(name, "C", delta)


class MixedPrecisionStore(DeviceStore):
    """Mixed-precision update (Nandakumar et al., ISCAS 2018; Front. Neurosci. 14:406,
    2020, Algorithm 1): ``chi += delta``; ``n = trunc(chi / eps)`` steps go to the devices
    and ``chi -= n eps``.

    Closed form for a constant ``delta`` on a linear, noise-free device: after ``k``
    updates the devices have taken ``floor(k |delta| / eps)`` steps and ``chi = k delta -
    sign(delta) floor(k |delta| / eps) eps``.  ``chi`` (one float64 per weight) is the
    digital memory the policy costs.

    Parameters (besides the base store's)
    ----------
    refresh_threshold : float
        Refresh of the differential pair (Nandakumar et al. 2020, Sec. 2.3): after a
        transfer, every pair with a device above ``G_min + refresh_threshold (G_max -
        G_min)`` is reset and its present weight reprogrammed (one device at ``G_min``,
        the other at the difference; the reset and programming pulses count toward
        the devices' wear).  1 (default) = never.
    verify : bool
        After a transfer, read the pair back and subtract the change it actually took
        from ``chi`` (instead of the nominal ``n eps``), so a nonlinear or noisy step is
        corrected by the next transfers.  False (default) = the paper's open-loop update.
    """

    POLICY = "mixed-precision"
    DESIGN_VALUES = {"verify": "mixed_precision_verify",
                     "refresh_threshold": "mixed_precision_refresh"}

    def __init__(self, device: WeightDevice, rng: np.random.Generator, *,
                 refresh_threshold: float = 1.0, verify: bool = False, **kw: Any) -> None:
        super().__init__(device, rng, **kw)
        if not (isinstance(refresh_threshold, (int, float)) and not isinstance(
                refresh_threshold, bool) and 0 < refresh_threshold <= 1):
            raise ConfigError(f"mixed-precision refresh_threshold={refresh_threshold!r}: "
                              "give a fraction of the window in (0, 1] (1 = no refresh)")
        if not isinstance(verify, bool):
            raise ConfigError(f"mixed-precision verify={verify!r}: give true or false")
        self.refresh_threshold = float(refresh_threshold)
        self.verify = verify

    def _program(self, name: str, w: np.ndarray) -> None:
        super()._program(name, w)
        self._digital[name] = {"chi": np.zeros_like(w)}

    def _update(self, name: str, delta: np.ndarray) -> None:
        chi = self._digital[name]["chi"]
        chi += delta
        eps = self.step_weight(name)
        steps = np.trunc(chi / eps)
        if np.any(steps != 0):
            dw = steps * eps
            before = self._held(name, "C") if self.verify else None
            self._pulse(name, "C", dw)
            if self.verify:
                moved = steps != 0
                chi -= np.where(moved, self._held(name, "C") - before, 0.0)
            else:
                chi -= dw
            if self.refresh_threshold < 1:
                self._refresh(name)

    def _refresh(self, name: str) -> None:
        """Reset and reprogram the pairs with a device above the refresh threshold."""
        pair = self._pairs[name]["C"]
        p = self.device.params
        gp, gn = pair.conductances(self.device, self.clock_s)
        limit = p.g_min_s + self.refresh_threshold * p.g_range_s
        full = (gp > limit) | (gn > limit)
        if not full.any():
            return
        w_max = self._w_max[name]
        w = np.clip(pair.weights(w_max, self.device, self.clock_s), -w_max, w_max)
        fresh = DevicePair.program(w, w_max, self.device, self.rng, self.clock_s)
        for side in ("pos", "neg"):
            for key in ("g", "t"):
                attr = f"{key}_{side}_s"
                setattr(pair, attr, np.where(full, getattr(fresh, attr),
                                             getattr(pair, attr)))
            g = getattr(pair, f"g_{side}_s")
            spread = getattr(pair, f"spread_{side}")
            lo = p.g_min_s if spread is None else spread.g_min_s
            hi = p.g_max_s if spread is None else spread.g_max_s
            g = np.clip(g, lo, hi)
            g = np.where(getattr(pair, f"stuck_on_{side}"), hi,
                         np.where(getattr(pair, f"stuck_off_{side}"), lo, g))
            setattr(pair, f"g_{side}_s", g)
            # wear: one reset pulse and the pulses that program the new conductance
            count = getattr(pair, f"n_{side}")
            steps = np.rint((g - lo) / (hi - lo) * p.pulses_ltp).astype(np.int64) + 1
            setattr(pair, f"n_{side}", np.where(full, count + steps, count))
            pulses = int(np.sum(np.where(full, steps, 0)))
            self.pulses_applied += pulses
            if self.stats is not None:
                self.stats.add(name, "update", pulses=pulses)
        self._counters[f"{name}.refreshed"] = self._counters.get(f"{name}.refreshed", 0) \
            + int(full.sum())

    def accumulator(self, name: str) -> np.ndarray:
        """The digital accumulator ``chi`` of layer ``name`` (a copy)."""
        return self._digital[name]["chi"].copy()


class TikiTakaStore(DeviceStore):
    """Tiki-Taka two-array transfer (Gokmen & Haensch, Front. Neurosci. 14:103, 2020).

    Array ``A`` starts at zero and takes every update ``delta`` as stochastic pulses
    (``floor(|delta|/eps + U)`` steps: unbiased, as the paper's stochastic pulse
    trains); every ``transfer_every`` updates of a layer, ``transfer_columns`` columns
    of ``A`` (cyclically; 0 = all) are read and ``transfer_lr * A[:, j]`` is pulsed onto
    ``C`` (stochastically rounded likewise).  The network uses ``W = gamma A + C``.
    ``A`` is not reset after a transfer: the decay of an asymmetric device toward its
    symmetry point is what filters the noisy updates (the paper's argument).

    Closed form for a linear, noise-free device, ``delta = m eps`` (whole steps),
    ``transfer_every = 1`` and one column: ``A_k = k delta`` and ``C_k = C_0 +
    transfer_lr delta k (k + 1) / 2`` while nothing saturates.

    Parameters (besides the base store's)
    ----------
    transfer_every : int
        Updates of a layer between transfers (>= 1).
    transfer_columns : int
        Columns of ``A`` read per transfer (0: all).
    transfer_lr : float
        Scale of a transfer (> 0).
    gamma : float
        Weight of ``A`` in the network's weight (>= 0; the paper's gamma).
    """

    ROLES = ("C", "A")
    POLICY = "tiki-taka"

    def __init__(self, device: WeightDevice, rng: np.random.Generator, *,
                 transfer_every: int = 1, transfer_columns: int = 0, transfer_lr: float = 1.0,
                 gamma: float = 0.0, **kw: Any) -> None:
        super().__init__(device, rng, **kw)
        if isinstance(transfer_every, bool) or int(transfer_every) != transfer_every or \
                transfer_every < 1:
            raise ConfigError(f"tiki-taka transfer_every={transfer_every!r}: give an "
                              "integer >= 1")
        if isinstance(transfer_columns, bool) or int(transfer_columns) != transfer_columns \
                or transfer_columns < 0:
            raise ConfigError(f"tiki-taka transfer_columns={transfer_columns!r}: give an "
                              "integer >= 0 (0 = all columns)")
        if not (isinstance(transfer_lr, (int, float)) and math.isfinite(transfer_lr)
                and transfer_lr > 0):
            raise ConfigError(f"tiki-taka transfer_lr={transfer_lr!r}: give a number > 0")
        if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma >= 0):
            raise ConfigError(f"tiki-taka gamma={gamma!r}: give a number >= 0")
        self.transfer_every = int(transfer_every)
        self.transfer_columns = int(transfer_columns)
        self.transfer_lr = float(transfer_lr)
        self.gamma = float(gamma)

    def _read(self, name: str) -> np.ndarray:
        c = self._held(name, "C")
        return c + self.gamma * self._held(name, "A") if self.gamma else c

    def _update(self, name: str, delta: np.ndarray) -> None:
        self._pulse(name, "A", delta, stochastic=True)
        k = self._counters.get(f"{name}.updates", 0) + 1
        self._counters[f"{name}.updates"] = k
        if k % self.transfer_every:
            return
        a = self._held(name, "A")
        n_cols = a.shape[1]
        take = n_cols if self.transfer_columns == 0 else min(self.transfer_columns, n_cols)
        start = self._counters.get(f"{name}.column", 0)
        cols = (start + np.arange(take)) % n_cols
        self._counters[f"{name}.column"] = int((start + take) % n_cols)
        dc = np.zeros_like(a)
        dc[:, cols] = self.transfer_lr * a[:, cols]
        self._pulse(name, "C", dc, stochastic=True)


UPDATE_POLICIES: Mapping[str, type[DeviceStore]] = MappingProxyType({
    "pulse": PulseUpdateStore,
    "mixed-precision": MixedPrecisionStore,
    "tiki-taka": TikiTakaStore,
})
"""Update policy name -> store class (one line per policy)."""


def policy_params_from_design(policy: str, design: Any) -> dict[str, Any]:
    """The settings of ``policy`` given by a design (:attr:`DeviceStore.DESIGN_VALUES`:
    setting -> design value), for :func:`make_weight_store`."""
    try:
        cls = UPDATE_POLICIES[policy]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown update policy {policy!r}; choose one of "
                          f"{', '.join(UPDATE_POLICIES)}") from None
    return {setting: design[value] for setting, value in cls.DESIGN_VALUES.items()}


def make_weight_store(device: Any, policy: str = "pulse", policy_params: Mapping[str, Any]
                      | None = None, rng: np.random.Generator | None = None, *,
                      headroom: float = 2.0, scheme: str = "push_pull", stats=None
                      ) -> DeviceStore:
    """A weight store holding weights on ``device`` and updating them by ``policy``.

    Parameters
    ----------
    device : WeightDevice, or a weight-device card (shipped name, path, Card)
        E.g. ``"weight_rram_realdevice"``, ``"weight_vteam"``, or
        ``device_from_params(params)`` for the architecture card's idealised device.
    policy : str
        A key of :data:`UPDATE_POLICIES`.
    policy_params : dict, optional
        Keyword settings of the policy (tiki-taka: transfer_every, transfer_columns,
        transfer_lr, gamma); unknown keys are refused.
    rng : numpy.random.Generator
    headroom, scheme, stats
        As :class:`DeviceStore`.
    """
    try:
        cls = UPDATE_POLICIES[policy]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown update policy {policy!r}; choose one of "
                          f"{', '.join(UPDATE_POLICIES)}") from None
    if rng is None:
        raise ConfigError("make_weight_store needs rng=numpy.random.default_rng(seed)")
    extra = dict(policy_params or {})
    import inspect

    allowed = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", "device", "rng", "kw", "headroom", "scheme", "stats")]
    unknown = sorted(set(extra) - set(allowed))
    if unknown:
        raise ConfigError(f"update policy {policy!r} has no setting(s) {unknown}; "
                          f"valid: {', '.join(allowed) or 'none'}")
    return cls(load_weight_device(device), rng, headroom=headroom, scheme=scheme,
               stats=stats, **extra)
