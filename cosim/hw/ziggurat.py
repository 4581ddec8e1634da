"""Standard normal numbers for the noise of the tiles: a ziggurat on SFC64 streams
(numba-compiled; used by the fused and the reference paths alike, so both draw the same
numbers).

Normal draws: the ziggurat method of Marsaglia & Tsang (J. Stat. Softw. 5(8), 2000) with
128 layers on an SFC64 stream (the generator of numpy.random.SFC64, same output and
seeding).  Each stream is seeded with three raw 64-bit words of the caller's
``numpy.random.Generator`` (:func:`normal_stream`), so a seeded generator gives the same
numbers every time and its state (checkpointed by the run store) is all there is.  Each
64-bit word gives two candidates, its low then its high 32 bits (the high half waits in
the stream's state for the next draw): bits 0-6 pick the layer, bit 7 the sign and bits
8-31 the abscissa (24 bits, the float32 precision the noise is drawn at), so the layer
index and the value use separate bits (the correlation Doornik, 2005, found in the
original, which reused them, does not arise).  A candidate inside its layer's core is
accepted on an integer comparison.  The rare others (about 2.5 %: the wedges, and the
tail beyond ``r`` by Marsaglia's exponential method) take 53-bit uniforms from further
words; a rejected one is replaced by a fresh candidate.  The numbers are rounded to
float32; the tests check SFC64 against numpy's and the distribution against the normal
CDF (Kolmogorov-Smirnov), its moments and its tail masses, including beyond the
ziggurat's base.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from cosim.hw.jitcache import KERNEL_CACHE as _CACHE

#: Layers, base abscissa r and common layer area v of the 128-layer ziggurat of the
#: unnormalised density f(x) = exp(-x^2/2) (Marsaglia & Tsang 2000, section 2).
ZIGGURAT_LAYERS = 128
ZIGGURAT_R = 3.442619855899
ZIGGURAT_V = 9.91256303526217e-3


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    """Layer edges ``x[0..128]`` (``x[0] = v / f(r)`` the base strip's width, ``x[1] = r``,
    ``f(x[i+1]) = f(x[i]) + v / x[i]``, ``x[128] = 0``) and ``f(x)`` at them."""
    r, v = ZIGGURAT_R, ZIGGURAT_V
    x = np.zeros(ZIGGURAT_LAYERS + 1)
    x[0] = v / math.exp(-0.5 * r * r)
    x[1] = r
    for i in range(1, ZIGGURAT_LAYERS - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(math.exp(-0.5 * x[i] * x[i]) + v / x[i]))
    x[ZIGGURAT_LAYERS] = 0.0
    return x, np.exp(-0.5 * x * x)


_ZX, _ZF = _ziggurat_tables()
#: A candidate of layer i with 24-bit abscissa j is x = j * _ZW[i]; it lies inside the
#: layer's core (below the next edge) when j < _ZK[i].
_ZW = _ZX[:-1] / 2.0 ** 24
_ZK = np.floor(_ZX[1:] / _ZX[:-1] * 2.0 ** 24).astype(np.int64)
_U53 = 1.0 / 9007199254740992.0           # 2**-53
_SPARE = np.uint64(1 << 32)               # flags a waiting high half in a stream's state


@njit(cache=_CACHE, inline="always")
def _sfc64(a, b, c, n):
    """One step of SFC64 (C. Doty-Humphrey's Small Fast Chaotic generator, as in
    numpy.random.SFC64): state ``(a, b, c, counter n)`` -> (new state..., output)."""
    out = a + b + n
    return (b ^ (b >> np.uint64(11)), c + (c << np.uint64(3)),
            ((c << np.uint64(24)) | (c >> np.uint64(40))) + out, n + np.uint64(1), out)


@njit(cache=_CACHE)
def _sfc64_seed(seed):
    """numpy's SFC64 seeding: ``[seed0, seed1, seed2, 1]`` then 12 discarded outputs."""
    a, b, c, n = seed[0], seed[1], seed[2], np.uint64(1)
    for _ in range(12):
        a, b, c, n, _out = _sfc64(a, b, c, n)
    return a, b, c, n


@njit(cache=_CACHE)
def sfc64_raw(state, count):
    """``count`` raw outputs of SFC64 from ``state = [a, b, c, counter]`` (the layout of
    numpy.random.SFC64's state), which is advanced in place."""
    a, b, c, n = state[0], state[1], state[2], state[3]
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        a, b, c, n, out[i] = _sfc64(a, b, c, n)
    state[0], state[1], state[2], state[3] = a, b, c, n
    return out


@njit(cache=_CACHE)
def _outside_core(a, b, c, n, layer, j, sign):
    """A candidate beyond its layer's core: the tail beyond ``r`` for the base strip
    (Marsaglia's exponential method), else the wedge test under the curve; a rejected
    candidate gives way to fresh ones (from the low halves of further words) until
    one is accepted.  -> (new state..., x)."""
    shift = np.uint64(11)
    while True:
        if layer == 0:                                 # the tail beyond r
            while True:
                a, b, c, n, w1 = _sfc64(a, b, c, n)
                a, b, c, n, w2 = _sfc64(a, b, c, n)
                xt = -math.log(1.0 - float(np.int64(w1 >> shift)) * _U53) / ZIGGURAT_R
                yt = -math.log(1.0 - float(np.int64(w2 >> shift)) * _U53)
                if yt + yt > xt * xt:
                    return a, b, c, n, sign * (ZIGGURAT_R + xt)
        x = j * _ZW[layer]
        a, b, c, n, w1 = _sfc64(a, b, c, n)
        u = float(np.int64(w1 >> shift)) * _U53
        if _ZF[layer] + u * (_ZF[layer + 1] - _ZF[layer]) < math.exp(-0.5 * x * x):
            return a, b, c, n, sign * x                # under the curve: accept
        while True:                                    # rejected: a fresh candidate
            a, b, c, n, w = _sfc64(a, b, c, n)
            h = np.int64(w & np.uint64(0xFFFFFFFF))
            layer = h & 127
            j = h >> 8
            sign = 1.0 - 2.0 * float((h >> 7) & 1)
            if j < _ZK[layer]:
                return a, b, c, n, sign * (j * _ZW[layer])
            break


@njit(cache=_CACHE, inline="always")
def _candidate(a, b, c, n, h):
    """The normal number of the 32-bit candidate ``h``: accepted inside its layer's
    core, else by :func:`_outside_core` (which may take further words of the state)
    -> (new state..., x)."""
    layer = h & 127
    j = h >> 8
    sign = 1.0 - 2.0 * float((h >> 7) & 1)
    if j < _ZK[layer]:                                 # inside the layer's core: accept
        return a, b, c, n, sign * (j * _ZW[layer])
    return _outside_core(a, b, c, n, layer, j, sign)


@njit(cache=_CACHE, inline="always")
def normal_next(a, b, c, n, spare):
    """One standard normal number (float64, 24-bit abscissa) by the ziggurat from the
    SFC64 state ``(a, b, c, n)`` and ``spare`` (the waiting high half of the last word,
    flagged by ``_SPARE``; 0: none): -> (new state..., new spare, x)."""
    if spare != 0:
        h = np.int64(spare & np.uint64(0xFFFFFFFF))
        spare = np.uint64(0)
    else:
        a, b, c, n, w = _sfc64(a, b, c, n)
        h = np.int64(w & np.uint64(0xFFFFFFFF))
        spare = (w >> np.uint64(32)) | _SPARE
    a, b, c, n, x = _candidate(a, b, c, n, h)
    return a, b, c, n, spare, x


@njit(cache=_CACHE, inline="always")
def normal_fill_state(a, b, c, n, spare, out):
    """:func:`normal_next` for each element of ``out`` (1-d, float32 or float64) in
    turn, with the state in local variables -> (new state..., new spare).  A word's two
    halves are taken one after the other in the loop (the same numbers in the same
    order as draw by draw, without the branch on the waiting half)."""
    size = out.size
    i = 0
    if spare != 0 and size > 0:
        a, b, c, n, spare, out[0] = normal_next(a, b, c, n, spare)
        i = 1
    low = np.uint64(0xFFFFFFFF)
    while i + 1 < size:
        a, b, c, n, w = _sfc64(a, b, c, n)
        a, b, c, n, out[i] = _candidate(a, b, c, n, np.int64(w & low))
        a, b, c, n, out[i + 1] = _candidate(a, b, c, n, np.int64(w >> np.uint64(32)))
        i += 2
    if i < size:
        a, b, c, n, spare, out[i] = normal_next(a, b, c, n, np.uint64(0))
    return a, b, c, n, spare


@njit(cache=_CACHE)
def normal_fill(state, out):
    """Fill ``out`` (1-d float32) with standard normal numbers from the stream
    ``state`` (:func:`normal_stream`), which is advanced in place."""
    state[0], state[1], state[2], state[3], state[4] = normal_fill_state(
        state[0], state[1], state[2], state[3], state[4], out)


def normal_stream(rng: np.random.Generator) -> np.ndarray:
    """A new normal stream: SFC64 state ``[a, b, c, counter]`` seeded with three raw
    words of ``rng`` (numpy's SFC64 seeding: 12 outputs discarded), then the waiting
    half-word (0: none), uint64[5]."""
    return np.array(_sfc64_seed(rng.bit_generator.random_raw(3)) + (0,), dtype=np.uint64)


def normal_streams(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` new normal streams, (count, 5) uint64: row ``i`` is the state
    :func:`normal_stream` would give on the ``i``-th of ``count`` successive calls (the
    same ``3 count`` raw words of ``rng``, in the same order)."""
    return _seed_rows(rng.bit_generator.random_raw(3 * int(count)).reshape(-1, 3))


@njit(cache=_CACHE)
def _seed_rows(raw):
    """:func:`_sfc64_seed` of each row of ``raw`` (n, 3) -> stream states (n, 5)."""
    out = np.zeros((raw.shape[0], 5), dtype=np.uint64)
    for i in range(raw.shape[0]):
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = _sfc64_seed(raw[i])
    return out


def standard_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal float32 numbers of ``shape``, in C order, from a new
    :func:`normal_stream` of ``rng`` (the same ``rng`` state gives the same numbers;
    ``rng`` advances by three words a call)."""
    out = np.empty(shape, dtype=np.float32)
    normal_fill(normal_stream(rng), out.reshape(-1))
    return out


__all__ = ["ZIGGURAT_LAYERS", "ZIGGURAT_R", "ZIGGURAT_V", "normal_fill", "normal_fill_state",
           "normal_next",
           "normal_stream", "normal_streams", "sfc64_raw", "standard_normal"]
