"""The numbers: the defining sum, an exact FFT path, and the choice between them.

Every method here computes a window of the *full* N-D convolution

    C[o] = sum over i + j == o of a[i] * b[j]

given as ``starts``/``lengths`` per dimension (see :func:`bridge.semantics.window`). Only the
window is computed, so ``same`` and ``valid`` cost no more than they return.

The defining sum (:func:`direct`) is the reference: it is what MATLAB computes, so a NaN or Inf
reaches exactly the outputs whose window covers it, and integer-valued data give exact integers
(spec section 6). Another method may be chosen by :func:`choose_method` only where it is proven to
give the same answer:

* ``fft``: only for finite, real, integer-valued inputs whose error bound guarantees that rounding
  the FFT result recovers the exact sum (:func:`fft_is_exact`).

The choice is a separate function with a cost model so that faster kernels can be slotted in
without touching the MATLAB rules around them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

METHODS = ("auto", "direct", "fft")

# FFT error bound safety factor: |fft_conv - conv| <= C * eps * log2(L) * sum|a| * sum|b| with
# C well above the constants of published analyses (which use 2-norms, already <= these 1-norms).
_FFT_BOUND_FACTOR = 8.0
# Crude cost model (arithmetic per output of direct vs per point of an FFT of the padded size);
# the direct path must be at least this many times costlier before FFT is considered.
_FFT_ADVANTAGE = 4.0
_DIRECT_ALWAYS_TAPS = 64


def convolve(
    a: np.ndarray,
    b: np.ndarray,
    starts: Sequence[int],
    lengths: Sequence[int],
    dtype: np.dtype,
    method: str = "auto",
) -> np.ndarray:
    """The window ``starts``/``lengths`` of the full convolution of ``a`` and ``b``, as ``dtype``.

    ``a`` and ``b`` have the same number of dimensions and no empty dimension; ``dtype`` is the
    MATLAB result class. Both operands are converted to it first: a real operand of a complex
    result becomes ``x + 0i`` and every product is the textbook complex product, as in Octave's
    BLAS axpy (so ``Inf * (NaN - 4i)`` has a NaN imaginary part).
    """
    a = np.ascontiguousarray(a, dtype=dtype)
    b = np.ascontiguousarray(b, dtype=dtype)
    chosen = choose_method(a, b, lengths) if method == "auto" else method
    if chosen == "direct":
        return direct(a, b, starts, lengths, dtype)
    if chosen == "fft":
        if not fft_is_exact(a, b):
            raise ValueError(
                "method='fft' is only exact for finite, real, integer-valued inputs within the "
                "error bound; use method='auto' or 'direct'"
            )
        return fft_exact(a, b, starts, lengths, dtype)
    raise ValueError(f"unknown method {method!r}; must be one of {list(METHODS)}")


def direct(
    a: np.ndarray, b: np.ndarray, starts: Sequence[int], lengths: Sequence[int], dtype: np.dtype
) -> np.ndarray:
    """The defining sum, one shifted multiply-add of the larger operand per element of the smaller.

    Every term of the sum is formed, zero taps included, so ``Inf * 0`` gives NaN where the
    literal sum has it (spec section 8).
    """
    out = np.zeros(tuple(lengths), dtype)
    if out.size == 0:
        return out
    # Convolution is commutative: loop over the operand with fewer elements.
    big, small = (a, b) if a.size >= b.size else (b, a)
    tmp = np.empty(out.shape, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        _shift_add(out, tmp, big, small, starts, lengths)
    return out


def _shift_add(out, tmp, big, small, starts, lengths) -> None:
    for j in np.ndindex(small.shape):
        dst, src = [], []
        for d, jd in enumerate(j):
            lo = max(starts[d], jd)
            hi = min(starts[d] + lengths[d], jd + big.shape[d])
            if lo >= hi:
                break
            dst.append(slice(lo - starts[d], hi - starts[d]))
            src.append(slice(lo - jd, hi - jd))
        else:
            dst_t = tuple(dst)
            part = tmp[dst_t]
            np.multiply(big[tuple(src)], small[j], out=part)
            out[dst_t] += part


def _abs_sum(x: np.ndarray) -> float:
    return float(np.sum(np.abs(x), dtype=np.float64))


def fft_is_exact(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether rounding an FFT convolution of ``a`` and ``b`` is guaranteed to be the exact sum.

    Needs real, finite, integer-valued data and ``C * eps * log2(L) * sum|a| * sum|b| < 0.5``
    (which also keeps every partial sum below 2**53, so the direct sum is exact too).
    """
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        return False
    for x in (a, b):
        if not np.all(np.isfinite(x)) or not np.array_equal(x, np.rint(x)):
            return False
    size = math.prod(p + q - 1 for p, q in zip(a.shape, b.shape, strict=True))
    bound = _FFT_BOUND_FACTOR * np.finfo(np.float64).eps * max(math.log2(size), 1.0)
    return bound * _abs_sum(a) * _abs_sum(b) < 0.5


def fft_exact(
    a: np.ndarray, b: np.ndarray, starts: Sequence[int], lengths: Sequence[int], dtype: np.dtype
) -> np.ndarray:
    """FFT convolution in double precision, rounded to the exact integer result.

    Callers must have checked :func:`fft_is_exact`.
    """
    import scipy.fft  # only here: it costs start-up time that small jobs should not pay

    full = [p + q - 1 for p, q in zip(a.shape, b.shape, strict=True)]
    fshape = [scipy.fft.next_fast_len(n, real=True) for n in full]
    axes = list(range(a.ndim))
    fa = scipy.fft.rfftn(a.astype(np.float64, copy=False), fshape, axes=axes, workers=-1)
    fa *= scipy.fft.rfftn(b.astype(np.float64, copy=False), fshape, axes=axes, workers=-1)
    c = scipy.fft.irfftn(fa, fshape, axes=axes, workers=-1)
    sl = tuple(slice(s, s + n) for s, n in zip(starts, lengths, strict=True))
    out = np.rint(c[sl])
    out += 0.0  # rint keeps -0.0; the defining sum of integers starts from +0 (spec section 8)
    return out.astype(dtype, copy=False)


def choose_method(a: np.ndarray, b: np.ndarray, lengths: Sequence[int]) -> str:
    """Pick the fastest method that is proven to give the reference answer."""
    taps = min(a.size, b.size)
    if taps <= _DIRECT_ALWAYS_TAPS or a.dtype.kind == "c" or b.dtype.kind == "c":
        return "direct"
    direct_cost = taps * math.prod(lengths)
    padded = math.prod(p + q - 1 for p, q in zip(a.shape, b.shape, strict=True))
    fft_cost = 3.0 * padded * max(math.log2(padded), 1.0)
    if direct_cost > _FFT_ADVANTAGE * fft_cost and fft_is_exact(a, b):
        return "fft"
    return "direct"
