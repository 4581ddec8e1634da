"""Readout engines for a layer step: optical powers on balanced pairs -> TIA output volts.

Both engines share one interface::

    engine.read(p_plus_w, p_minus_w=None, *, rng=None) -> v_out   # (batch, channels)

``p_plus_w``/``p_minus_w``: optical power (W) on the plus (drop) and minus (through)
detector of each channel, shape ``(batch, channels)``; ``None`` leaves the minus detector
dark.  The batch axis is time: sample ``n`` is the symbol held during
``[n T, (n+1) T)`` (``T = symbol_period_s``, default the ADC sample period) and the output
is read at ``(n+1) T``, just before the next symbol edge.  ``rng`` (a numpy Generator)
is required when noise is on.

* ``spice`` (:class:`SpiceReadout`): one netlist with all channels, PWL optical inputs
  (edges of :data:`~cosim.readout.characterize.STEP_EDGE_S`), one batched transient run
  per ``symbols_per_run`` symbols (ngspice searches PWL tables linearly at every time
  step, so one run over thousands of symbols costs time quadratic in their number);
  with ``noise=True`` every noise source of the chain (shot, feedback resistor, amplifier
  voltage and current noise) is driven by unit-variance white samples every
  ``1 / (2 noise_bandwidth_hz)`` seconds, either ngspice ``TRNOISE`` sources
  (``noise_source="trnoise"``, default: fast, but ngspice 39 draws them with its own
  generator, which neither ``.options seed`` nor ``setseed`` makes reproducible) or PWL
  waveforms drawn from ``rng`` (``noise_source="pwl"``: bit-reproducible, but ngspice
  searches PWL tables linearly, so the run time grows with the square of the run length;
  use it for short runs).
* ``twin`` (:class:`TwinReadout`): from a :class:`ReadoutCharacterization`, no ngspice:
  net photocurrent ``R (P+ - P-)`` -> the discrete-time model of the measured step
  response at the symbol period (exact for a linear chain driven by held symbols:
  ``u[n] = x[n] - sum_j (1 - s((j+1) T)) (x[n-j] - x[n-j-1])``) -> the measured DC
  transfer curve (linear interpolation, flat beyond the swept +-1.25 full scale) -> plus
  Gaussian noise of the measured rms at the total photocurrent
  ``R (P+ + P-) + 2 I_dark``.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from cosim.errors import ConfigError
from cosim.netlist import Tran
from cosim.readout.chain import ReadoutSpec, build_readout_chain, closed_form_bandwidth_hz
from cosim.readout.characterize import STEP_EDGE_S, ReadoutCharacterization, characterize


class ReadoutEngine(Protocol):
    name: str

    def read(self, p_plus_w: np.ndarray, p_minus_w: np.ndarray | None = None, *,
             rng: np.random.Generator | None = None) -> np.ndarray: ...


def _inputs(p_plus_w, p_minus_w) -> tuple[np.ndarray, np.ndarray]:
    plus = np.asarray(p_plus_w, dtype=float)
    if plus.ndim != 2 or plus.shape[0] < 1 or plus.shape[1] < 1:
        raise ConfigError(f"p_plus_w shape {plus.shape}: give (batch, channels)")
    minus = np.zeros_like(plus) if p_minus_w is None else np.asarray(p_minus_w, dtype=float)
    if minus.shape != plus.shape:
        raise ConfigError(f"p_minus_w shape {minus.shape} differs from p_plus_w {plus.shape}")
    for name, a in (("p_plus_w", plus), ("p_minus_w", minus)):
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ConfigError(f"{name}: optical powers must be finite and >= 0 W")
    return plus, minus


NOISE_SOURCES: tuple[str, ...] = ("trnoise", "pwl")


def _check_rng(noise: bool, rng) -> None:
    if noise and not isinstance(rng, np.random.Generator):
        raise ConfigError("noise is on: pass rng=np.random.default_rng(seed)")


def _symbol_period(spec: ReadoutSpec, symbol_period_s: float | None) -> float:
    t = 1.0 / spec.adc_sample_rate_hz if symbol_period_s is None else float(symbol_period_s)
    if not (math.isfinite(t) and t > 100 * STEP_EDGE_S):
        raise ConfigError(f"symbol_period_s={symbol_period_s!r}: give a time > "
                          f"{100 * STEP_EDGE_S:g} s")
    return t


def symbol_pwl(batch: int, symbol_period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """PWL breakpoints of ``batch`` held symbols: ``(times_s, index)``, the waveform
    taking the value of symbol ``index[j]`` at ``times_s[j]``.  Symbol 0 is held from
    t = 0; symbol n starts with an edge of :data:`STEP_EDGE_S` at ``n T``."""
    n = np.arange(1, int(batch))
    t = float(symbol_period_s)
    times = np.concatenate([[0.0], np.ravel(np.column_stack([n * t, n * t + STEP_EDGE_S]))])
    idx = np.concatenate([[0], np.ravel(np.column_stack([n - 1, n]))]).astype(np.intp)
    return times, idx


def symbol_tran(batch: int, symbol_period_s: float) -> Tran:
    """The transient over ``batch`` held symbols (:func:`symbol_pwl`)."""
    t = float(symbol_period_s)
    return Tran(t / 10, int(batch) * t, max_step_s=t / 4)


def symbol_read_times(batch: int, symbol_period_s: float, lead: int = 0) -> np.ndarray:
    """Times (s) at which the output of each of ``batch`` symbols is read: the end of
    its hold, ``(n + 1) T``, just before the next edge (``lead`` symbols replayed
    before the first are skipped)."""
    return (np.arange(lead, lead + int(batch)) + 1) * float(symbol_period_s)


class SpiceReadout:
    """Batched ngspice transient of the whole readout (see the module docstring).

    Parameters
    ----------
    spec
        The chain (default from the cards).
    symbol_period_s
        Symbol period T (s); default ``1 / spec.adc_sample_rate_hz``.
    noise
        Transient noise on or off.
    noise_bandwidth_hz
        Bandwidth of the white noise drives (one sample every ``1/(2 B)`` s); default
        20 x the closed-form -3 dB frequency of the chain.
    noise_source
        "trnoise" or "pwl" (see the module docstring).
    symbols_per_run
        Longest run of symbols simulated in one transient (default 50); a longer batch
        is split into consecutive runs, executed in parallel on the engine's workers
        (see :meth:`circuits`).
    engine
        A :class:`cosim.spice.SpiceEngine` (default: the default engine).
    """

    name = "spice"

    def __init__(self, spec: ReadoutSpec | None = None, *, symbol_period_s: float | None = None,
                 noise: bool = False, noise_bandwidth_hz: float | None = None,
                 noise_source: str = "trnoise", symbols_per_run: int = 50, engine=None,
                 timeout_s: float | None = None) -> None:
        self.spec = ReadoutSpec.from_cards() if spec is None else spec
        self.symbol_period_s = _symbol_period(self.spec, symbol_period_s)
        self.noise = bool(noise)
        b = 20 * closed_form_bandwidth_hz(self.spec) if noise_bandwidth_hz is None \
            else float(noise_bandwidth_hz)
        if not (math.isfinite(b) and b > 0):
            raise ConfigError(f"noise_bandwidth_hz={noise_bandwidth_hz!r}: give a number > 0")
        self.noise_bandwidth_hz = b
        if noise_source not in NOISE_SOURCES:
            raise ConfigError(f"noise_source={noise_source!r}: choose one of {NOISE_SOURCES}")
        self.noise_source = noise_source
        if isinstance(symbols_per_run, bool) or not isinstance(symbols_per_run, int) \
                or symbols_per_run < 1:
            raise ConfigError(f"symbols_per_run={symbols_per_run!r}: give a positive integer")
        self.symbols_per_run = symbols_per_run
        self.engine = engine
        self.timeout_s = timeout_s

    @classmethod
    def from_spec(cls, spec: ReadoutSpec | None = None, **kwargs) -> SpiceReadout:
        kwargs.pop("cache", None)
        return cls(spec, **kwargs)

    def circuits(self, p_plus_w: np.ndarray, p_minus_w: np.ndarray | None = None, *,
                 rng: np.random.Generator | None = None) -> list[tuple]:
        """The runs :meth:`read` makes: a list of ``(circuit, analysis, first, stop)``.

        Symbols ``first .. stop-1`` of the batch are simulated by that run; each run
        after the first also replays the symbol before ``first`` (its output is
        discarded) so that the transition into ``first`` is simulated.  Splitting keeps
        ngspice's linear PWL table search short; it is exact when the chain settles
        within one symbol period (the characterization's settling time).
        """
        _check_rng(self.noise and self.noise_source == "pwl", rng)
        plus, minus = _inputs(p_plus_w, p_minus_w)
        batch = plus.shape[0]
        runs = []
        for first in range(0, batch, self.symbols_per_run):
            stop = min(batch, first + self.symbols_per_run)
            lead = 1 if first > 0 else 0
            rows = slice(first - lead, stop)
            circ, analysis = self._circuit(plus[rows], minus[rows], rng)
            runs.append((circ, analysis, first, stop))
        return runs

    def circuit(self, p_plus_w: np.ndarray, p_minus_w: np.ndarray | None = None, *,
                rng: np.random.Generator | None = None):
        """``(circuit, analysis)`` simulating the whole batch in one transient (for
        inspection and re-runs; :meth:`read` splits long batches, see :meth:`circuits`)."""
        _check_rng(self.noise and self.noise_source == "pwl", rng)
        plus, minus = _inputs(p_plus_w, p_minus_w)
        return self._circuit(plus, minus, rng)

    def _circuit(self, plus: np.ndarray, minus: np.ndarray, rng):
        batch, channels = plus.shape
        t_sym = self.symbol_period_s
        times, idx = symbol_pwl(batch, t_sym)
        stop = batch * t_sym
        kwargs = {}
        if self.noise:
            dt = 1 / (2 * self.noise_bandwidth_hz)
            steps = int(math.ceil(stop / dt)) + 1
            if self.noise_source == "pwl":
                kwargs = {"noise": "tran", "noise_step_s": dt,
                          "noise_samples": rng.standard_normal((steps, channels, 5))}
            else:
                kwargs = {"noise": "trnoise", "noise_step_s": dt}
        circ = build_readout_chain(self.spec, channels, drive="pwl", pwl_times_s=times,
                                   pwl_plus_w=plus[idx], pwl_minus_w=minus[idx],
                                   title=f"readout spice engine: {channels} channel(s) x "
                                         f"{batch} symbol(s)", **kwargs)
        return circ, symbol_tran(batch, t_sym)

    def read(self, p_plus_w: np.ndarray, p_minus_w: np.ndarray | None = None, *,
             rng: np.random.Generator | None = None) -> np.ndarray:
        """Output voltages (V), shape (batch, channels); see the module docstring."""
        from cosim.spice import default_engine, make_job

        runs = self.circuits(p_plus_w, p_minus_w, rng=rng)
        batch, channels = np.shape(p_plus_w)
        engine = default_engine() if self.engine is None else self.engine
        results = engine.run_many([make_job(c, a) for c, a, _, _ in runs], self.timeout_s)
        out = np.empty((batch, channels))
        for (_, _, first, stop), res in zip(runs, results):
            lead = 1 if first > 0 else 0
            t = np.asarray(res.axis, dtype=float)
            at = symbol_read_times(stop - first, self.symbol_period_s, lead)
            for k in range(channels):
                out[first:stop, k] = np.interp(at, t, np.asarray(res.v(f"out{k}"), float))
        return out


class TwinReadout:
    """Readout from a measured characterization, without ngspice (module docstring).

    Parameters
    ----------
    characterization
        From :func:`~cosim.readout.characterize.characterize`.
    symbol_period_s
        Symbol period T (s); default ``1 / adc_sample_rate_hz`` of its spec.
    noise
        Add the measured output noise (needs ``rng`` in :meth:`read`).
    """

    name = "twin"

    def __init__(self, characterization: ReadoutCharacterization, *,
                 symbol_period_s: float | None = None, noise: bool = False) -> None:
        if not isinstance(characterization, ReadoutCharacterization):
            raise ConfigError("TwinReadout needs a ReadoutCharacterization (from "
                              "cosim.readout.characterize)")
        self.characterization = characterization
        self.spec = characterization.spec
        self.symbol_period_s = _symbol_period(self.spec, symbol_period_s)
        self.noise = bool(noise)
        # Residual taps r_j = 1 - s((j+1) T), kept while they matter (> 1e-12).
        horizon = characterization.step_time_s[-1]
        n_taps = max(1, int(math.ceil(horizon / self.symbol_period_s)))
        r = 1.0 - characterization.step_fraction((np.arange(n_taps) + 1) * self.symbol_period_s)
        big = np.nonzero(np.abs(r) > 1e-12)[0]
        self.residual_taps = r[: big[-1] + 1] if big.size else np.zeros(0)

    @classmethod
    def from_spec(cls, spec: ReadoutSpec | None = None, *, cache=None, engine=None,
                  **kwargs) -> TwinReadout:
        """Characterize ``spec`` (through the cache) and build the twin."""
        return cls(characterize(spec, cache=cache, engine=engine), **kwargs)

    def read(self, p_plus_w: np.ndarray, p_minus_w: np.ndarray | None = None, *,
             rng: np.random.Generator | None = None) -> np.ndarray:
        """Output voltages (V), shape (batch, channels); see the module docstring."""
        _check_rng(self.noise, rng)
        plus, minus = _inputs(p_plus_w, p_minus_w)
        ch = self.characterization
        resp = self.spec.responsivity_a_per_w
        x = resp * (plus - minus)
        u = x.copy()
        if self.residual_taps.size:
            dx = np.diff(x, axis=0, prepend=x[:1])       # dx[0] = 0: settled at x[0]
            for j, rj in enumerate(self.residual_taps):
                u[j:] -= rj * dx[: x.shape[0] - j]
        v = np.interp(u, ch.dc_current_a, ch.dc_output_v)
        if self.noise:
            total = resp * (plus + minus) + 2 * self.spec.dark_current_a
            v = v + rng.standard_normal(v.shape) * ch.output_noise_v_rms_at(total)
        return v


READOUT_ENGINES: dict[str, type] = {"spice": SpiceReadout, "twin": TwinReadout}
"""Readout engines by name."""


def make_readout(name: str, spec: ReadoutSpec | None = None, **kwargs):
    """A readout engine by name ("spice" or "twin") for ``spec``; kwargs go to its
    ``from_spec`` (``cache``/``engine`` for the characterization, ``symbol_period_s``,
    ``noise``...)."""
    try:
        cls = READOUT_ENGINES[name]
    except KeyError:
        raise ConfigError(f"readout engine {name!r}: choose one of "
                          f"{sorted(READOUT_ENGINES)}") from None
    return cls.from_spec(spec, **kwargs)


__all__ = ["NOISE_SOURCES", "READOUT_ENGINES", "ReadoutEngine", "SpiceReadout", "TwinReadout",
           "make_readout", "symbol_pwl", "symbol_read_times", "symbol_tran"]
