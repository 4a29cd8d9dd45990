"""What every method shares: per-call facts about the operands, NaN/Inf and overflow.

The lowest layer of the kernels (numpy and the kernels' threads). The fast methods run on the
finite parts (:func:`finite_part`) and :mod:`~bridge._kernels.patching` recomputes the outputs
around NaN/Inf. Where products could overflow (``max|a| * max|b| * taps`` near the top of the
class's range) the grouped and FFT methods would not reproduce the literal sum's Inf/NaN, so
they fall back to ``direct`` (:func:`may_overflow`).
"""

from __future__ import annotations

import math

import numpy as np

from bridge._kernels import pool

# From this many elements, the min and max are taken in shares on the kernels' threads.
THREADED_EXTREMES = 1 << 20


def nonfinite(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return ~(np.isfinite(x.real) & np.isfinite(x.imag))
    return ~np.isfinite(x)


def memoized(fn):
    """Cache ``fn(x)`` in ``memo`` (one call of :func:`convolve`) by the identity of ``x``."""

    def wrapper(x, memo=None):
        if memo is None:
            return fn(x)
        key = (fn.__name__, id(x))
        if key not in memo:
            memo[key] = (fn(x), x)  # keeps x alive, so its id stays unique
        return memo[key][0]

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def finite_part(x: np.ndarray, memo=None) -> tuple[np.ndarray, np.ndarray]:
    """``x`` with non-finite elements replaced by 0, and their positions (an (n, ndim) array)."""
    if _finite_by_extremes(x, memo):
        return x, np.empty((0, x.ndim), np.intp)
    return _finite_part(x, memo)


@memoized
def _extremes(x: np.ndarray) -> tuple[float, float]:
    """min and max of real floating-point ``x`` (not empty): NaN where it holds a NaN (numpy's
    min and max propagate it), infinite where it holds an infinity."""
    if x.size < THREADED_EXTREMES or not (x.flags.c_contiguous or x.flags.f_contiguous):
        return float(x.min()), float(x.max())
    # The same min and max (a NaN anywhere still gives NaN) from shares of the memory, one per
    # thread: both passes are memory-bound, so a big operand's check takes half the time.
    flat = x.ravel(order="K")
    step = -(-flat.size // pool.THREADS)
    starts = list(range(0, flat.size, step))
    found = np.empty((len(starts), 2), x.dtype)

    def run(part):
        for lo in part:
            share = flat[lo : lo + step]
            found[lo // step] = share.min(), share.max()

    pool.in_threads(run, starts)
    return float(found[:, 0].min()), float(found[:, 1].max())


def _finite_by_extremes(x: np.ndarray, memo) -> bool:
    """Whether real floating-point ``x`` is finite everywhere, told by its min and max: two
    passes that :func:`max_abs` needs anyway, instead of a third over a mask of the whole."""
    if x.dtype.kind != "f" or x.size == 0:
        return False
    lo, hi = _extremes(x, memo)
    return math.isfinite(lo) and math.isfinite(hi)


@memoized
def _finite_part(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = nonfinite(x)
    if not bad.any():
        return x, np.empty((0, x.ndim), np.intp)
    x = x.copy()
    x[bad] = 0
    return x, np.argwhere(bad)


def all_finite(x: np.ndarray, memo=None) -> bool:
    return len(finite_part(x, memo)[1]) == 0


@memoized
def _max_abs_finite(x: np.ndarray) -> float:
    """max |x| of an array without NaN/Inf (0 if empty)."""
    if x.size == 0:
        return 0.0
    if x.dtype.kind == "c":
        return float(np.max(np.abs(x)))
    return float(max(x.max(), -x.min()))


def max_abs(x: np.ndarray, memo=None) -> float:
    """max |x| over the finite elements (0 if none)."""
    if _finite_by_extremes(x, memo):
        lo, hi = _extremes(x, memo)
        return max(hi, -lo)
    return _max_abs_finite(finite_part(x, memo)[0], memo)


def may_overflow(a: np.ndarray, b: np.ndarray, memo=None) -> bool:
    """Whether finite products or sums could reach the top of the range of the result class."""
    top = float(np.finfo(a.dtype).max)
    return max_abs(a, memo) * max_abs(b, memo) * min(a.size, b.size) * 4.0 >= top * 1e-3
