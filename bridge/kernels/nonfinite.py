"""What every fast method shares: per-call facts about the operands, NaN/Inf and overflow.

Patching NaN/Inf (``gemm`` and the FFTs): non-finite inputs are replaced by zeros, the fast
method runs, and every output whose window covers a non-finite input is recomputed by the
defining sum. The outputs whose window covers none are exactly the outputs that do not involve
them in the defining sum either, so NaN and Inf land exactly where MATLAB puts them. Where
products could overflow (``max|a| * max|b| * taps`` near the top of the class's range) the
grouped and FFT methods would not reproduce the literal sum's Inf/NaN, so they fall back to
``direct``.
"""

from __future__ import annotations

import numpy as np

# Patch: at most this many boxes around non-finite inputs; beyond, the whole window is direct.
MAX_PATCH_BOXES = 256


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


@memoized
def finite_part(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` with non-finite elements replaced by 0, and their positions (an (n, ndim) array)."""
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
    return _max_abs_finite(finite_part(x, memo)[0], memo)


def may_overflow(a: np.ndarray, b: np.ndarray, memo=None) -> bool:
    """Whether finite products or sums could reach the top of the range of the result class."""
    top = float(np.finfo(a.dtype).max)
    return max_abs(a, memo) * max_abs(b, memo) * min(a.size, b.size) * 4.0 >= top * 1e-3


def patch(out, a, b, starts, lengths, bad_a, bad_b, dtype) -> None:
    """Recompute by the defining sum every output whose window covers a non-finite input."""
    if len(bad_a) == 0 and len(bad_b) == 0:
        return
    from bridge.kernels.method_direct import direct

    boxes = []
    for bad, other in ((bad_a, b.shape), (bad_b, a.shape)):
        for p in bad:
            lo = [max(int(p[d]), starts[d]) for d in range(len(starts))]
            hi = [min(int(p[d]) + other[d], starts[d] + lengths[d]) for d in range(len(starts))]
            if all(h > low for low, h in zip(lo, hi)):
                boxes.append((lo, hi))
            if len(boxes) > MAX_PATCH_BOXES:
                out[...] = direct(a, b, starts, lengths, dtype)
                return
    for lo, hi in boxes:
        sl = tuple(slice(low - s, h - s) for low, h, s in zip(lo, hi, starts))
        out[sl] = direct(a, b, lo, [h - low for low, h in zip(lo, hi)], dtype)
