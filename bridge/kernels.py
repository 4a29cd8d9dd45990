"""The numbers: the defining sum, faster ways to the same answer, and the choice between them.

Every method here computes a window of the *full* N-D convolution

    C[o] = sum over i + j == o of a[i] * b[j]

given as ``starts``/``lengths`` per dimension (see :func:`bridge.semantics.window`). Only the
window is computed, so ``same`` and ``valid`` cost no more than they return.

Methods (``method=`` of conv, conv2 and convn):

``direct``
    The defining sum as Octave computes it: one multiply-add (BLAS axpy) of the larger operand
    per element of the smaller. The operand is laid out zero-padded so that every output is a
    flat index and every tap a flat offset (for ``full``, in the output's own memory); the
    output is cut into blocks that stay in L2, computed by two threads (the CBLAS axpy of
    numpy's OpenBLAS, called through ctypes, which releases the GIL). Vectors are read in place.
    Every term is formed: axpy skips zero taps, which matters only where the data hold NaN/Inf
    (``Inf * 0`` is NaN), so there zero taps are multiplied out by numpy; non-finite taps are
    applied to the real terms only. Outputs of up to 32K elements use a plain numpy
    shift-and-add (no set-up). This is MATLAB's computation; the others are measured against it.
``gemm``
    The same products, grouped: along the kernel's longest dimension the kernel becomes a banded
    Toeplitz matrix, and each block of output rows is one matrix product (BLAS, one thread per
    block, two blocks at a time) of the rows' inputs ("im2row") with the stacked bands. The
    band's zeros only add exact zeros, so finite results agree with ``direct`` to round-off (a
    few ulp of ``conv(|A|,|B|)``) and integer-valued data are exact. NaN/Inf are patched.
``fft``
    FFT (both cores), only where it is *exact*: finite, real, integer-valued data whose error
    bound ``8 * eps * log2(L) * sum|a| * sum|b| < 0.5`` proves that rounding recovers the exact
    integers. Anything else raises ValueError.
``fft-float``
    FFT for any data, within the FFT accuracy contract (:func:`fft_error_bound`): every finite
    output within ``8 * eps * log2(L) * (||a||_1 ||b||_2 + ||a||_2 ||b||_1)`` (eps of double,
    norms over the finite elements; then rounded to the result class) of the defining sum.
    Computed in double (complex double) precision for every class; integer-valued data (real
    or complex) within the exact bound are rounded to the exact result; NaN/Inf are patched.
    Long vectors with much shorter kernels go by overlap-add (segments FFT'd as one batch);
    only the dimensions where both operands extend are transformed (the separable passes are
    1-D FFTs).
``auto``
    The fastest by a cost model measured on a 2-core AVX2 machine (BENCHMARKS.md): ``direct``
    for small kernels, ``gemm`` for medium 1-D kernels, FFT for large ones -- an FFT only where
    it is exact (integer-valued data within the bound) or where the data are non-integer
    floating point (the FFT contract). Small problems never pay for importing scipy.fft.

Patching NaN/Inf (``gemm`` and the FFTs): non-finite inputs are replaced by zeros, the fast method
runs, and every output whose window covers a non-finite input is recomputed by the defining sum.
The outputs whose window covers none are exactly the outputs that do not involve them in the
defining sum either, so NaN and Inf land exactly where MATLAB puts them. Where products could
overflow (``max|a| * max|b| * taps`` near the top of the class's range) the grouped and FFT
methods would not reproduce the literal sum's Inf/NaN, so they fall back to ``direct``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

METHODS = ("auto", "direct", "gemm", "fft", "fft-float")
# Methods that may refuse data (ValueError) instead of falling back.
STRICT_METHODS = ("fft",)
# Methods whose finite results are bounded by fft_error_bound rather than by direct round-off.
FFT_ACCURACY_METHODS = ("fft-float",)

# FFT error bound safety factor: above the constants of published analyses of FFT convolution.
_FFT_BOUND_FACTOR = 8.0
# Threads for the direct path and the FFTs (the benchmark machine has 2 cores).
_THREADS = max(1, min(2, os.cpu_count() or 1))
# Outputs per block of the direct path (measured: 32K elements, output and input in L2).
_DIRECT_BLOCK = 1 << 15
# Result bytes per block of the banded products (measured: 512 KB, the L2 of one core).
_GEMM_BLOCK_BYTES = 1 << 19
_GEMM_MIN_BLOCK = 16
# Outputs below this size are computed in one block by one thread.
_SMALL_OUTPUT = 1 << 15
# Patch: at most this many boxes around non-finite inputs; beyond, the whole window is direct.
_MAX_PATCH_BOXES = 256

# Cost model (seconds), measured on the benchmark machine with benchmarks/calibrate.py
# (BENCHMARKS.md, "Cost model"): per multiply-add of the defining sum, per multiply-add of the
# banded products (band zeros included), per point * log2(points) of the FFTs, and per output
# for the copies around each method.
_DIRECT_PER_MAC = 0.25e-9
_DIRECT_PER_OUT = 4e-9
_GEMM_PER_MAC = 0.05e-9
_GEMM_PER_COPY = 0.35e-9  # per element gathered into the rows' inputs
_GEMM_PER_BLOCK_LINE = 2e-6  # Python's overhead per kernel line per block of rows
_GEMM_PER_OUT = 6e-9
_FFT_PER_POINT = 1.3e-9
_FFT_PER_OUT = 4e-9
# Fixed costs: the FFT's first use imports scipy.fft; the banded products set up their layout.
_FFT_FIXED = 5e-3
_GEMM_FIXED = 5e-4
# The plain shift-and-add of small outputs pays Python's overhead per tap.
_DIRECT_PER_SMALL_TAP = 3e-6
_COMPLEX_FACTOR = 4.0  # complex multiply-adds cost about four real ones (FFT: two)


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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; must be one of {list(METHODS)}")
    dtype = np.dtype(dtype)
    a = np.ascontiguousarray(a, dtype=dtype)
    b = np.ascontiguousarray(b, dtype=dtype)
    lengths = tuple(int(n) for n in lengths)
    starts = tuple(int(s) for s in starts)
    # Dimensions where both operands are singletons carry nothing: drop them (conv's column
    # vectors become 1-D, which the blocked and grouped methods handle best).
    keep = [d for d in range(a.ndim) if a.shape[d] != 1 or b.shape[d] != 1] or [0]
    if len(keep) < a.ndim:
        a = a.reshape([a.shape[d] for d in keep])
        b = b.reshape([b.shape[d] for d in keep])
        out_shape = lengths
        starts = tuple(starts[d] for d in keep)
        lengths = tuple(lengths[d] for d in keep)
    else:
        out_shape = lengths
    memo: dict = {}  # per-call facts about the operands (finite parts, integrality, ...)
    chosen = choose_method(a, b, lengths, memo) if method == "auto" else method
    if chosen == "fft" and not fft_is_exact(a, b):
        raise ValueError(
            "method='fft' is only exact for finite, real, integer-valued inputs within the "
            "error bound; use method='auto', 'direct', 'gemm' or 'fft-float'"
        )
    if chosen != "direct" and _may_overflow(a, b, memo):
        chosen = "direct"
    if chosen == "direct":
        out = direct(a, b, starts, lengths, dtype)
    elif chosen == "gemm":
        out = gemm(a, b, starts, lengths, dtype, memo)
    else:  # fft, fft-float
        out = fft_patched(a, b, starts, lengths, dtype, memo)
    return out.reshape(out_shape)


# ---- the defining sum ----------------------------------------------------------------------------


def direct(
    a: np.ndarray, b: np.ndarray, starts: Sequence[int], lengths: Sequence[int], dtype: np.dtype
) -> np.ndarray:
    """The defining sum, one multiply-add (BLAS axpy) of the larger operand per element of the
    smaller, as Octave computes it.

    The larger operand is laid out zero-padded so that every output is one flat index and every
    tap one flat offset: a tap is then one axpy over a contiguous block of outputs, blocks small
    enough to stay in cache. Every term of the sum is formed: axpy skips a zero tap, which only
    matters where the data hold NaN/Inf (``Inf * 0`` is NaN, spec section 8), so there the zero
    tap is multiplied out by numpy; a non-finite tap is applied to the real terms only (never to
    the padding). Small outputs use the plain shift-and-add of :func:`_shift_add`.
    """
    out = np.zeros(tuple(lengths), dtype)
    if out.size == 0:
        return out
    # Convolution is commutative: loop over the operand with fewer elements.
    big, small = (a, b) if a.size >= b.size else (b, a)
    if out.size <= _SMALL_OUTPUT or big.ndim == 0:
        with np.errstate(invalid="ignore", over="ignore"):
            _shift_add(out, np.empty(out.shape, dtype), big, small, starts, lengths)
        return out
    nd = big.ndim
    if nd == 1:
        _direct_1d(out, big, small, starts[0], lengths[0], dtype)
        return out
    if all(s == 0 for s in starts) and all(
        n == p + q - 1 for n, p, q in zip(lengths, big.shape, small.shape)
    ):
        # 'full': lay the operand out in the output's own shape, shifted by the kernel's extent;
        # a read past the end of a row wraps into the next row's leading zeros, so the result
        # is computed in place, with no copy.
        strides = [math.prod(lengths[k + 1 :]) for k in range(nd)]
        extra = sum((small.shape[k] - 1) * strides[k] for k in range(nd))
        ap = np.zeros(out.size + extra, dtype)
        ap[: out.size].reshape(lengths)[tuple(slice(q - 1, None) for q in small.shape)] = big
        res = out.reshape(-1)
        rows = out.size
        P = None
    else:
        P = [lengths[k] + small.shape[k] - 1 for k in range(nd)]
        ap = np.zeros(P, dtype)
        src, dst = [], []
        for k in range(nd):
            first = starts[k] - (small.shape[k] - 1)  # input index at padded position 0
            lo, hi = max(first, 0), min(first + P[k], big.shape[k])
            if lo >= hi:
                return out
            src.append(slice(lo, hi))
            dst.append(slice(lo - first, hi - first))
        ap[tuple(dst)] = big[tuple(src)]
        strides = [math.prod(P[k + 1 :]) for k in range(nd)]
        rows = sum((lengths[k] - 1) * strides[k] for k in range(nd)) + 1
        res = np.zeros(ap.size, dtype)
    flat = ap.reshape(-1)
    data_nonfinite = None
    blas_taps, numpy_taps, literal_taps = [], [], []
    for j in np.ndindex(small.shape):
        w = small[j]
        off = sum((small.shape[k] - 1 - j[k]) * strides[k] for k in range(nd))
        if not np.isfinite(w):
            literal_taps.append(j)
        elif w != 0:
            blas_taps.append((off, w))
        else:
            if data_nonfinite is None:
                data_nonfinite = bool(_nonfinite(big).any())
            if data_nonfinite:
                numpy_taps.append((off, w))
    _axpy_blocks(res, flat, 0, rows, blas_taps, numpy_taps, dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        if P is not None:
            out[...] = res.reshape(P)[tuple(slice(0, n) for n in lengths)]
        if literal_taps:
            _shift_add(out, np.empty(out.shape, dtype), big, small, starts, lengths, literal_taps)
    return out


def _direct_1d(out, big, small, start, length, dtype) -> None:
    """:func:`direct` for vectors, reading the operand in place (no padded copy).

    Outputs whose window lies inside the operand ("interior") take one axpy per tap straight
    from it; the few outputs at either end take the plain shift-and-add.
    """
    n, q = big.size, small.size
    end = start + length
    lo = max(start, q - 1)
    hi = min(end, n)  # interior outputs: o - j in [0, n) for every tap j
    edges = [(start, end)] if hi <= lo else [(start, lo), (hi, end)]
    with np.errstate(invalid="ignore", over="ignore"):
        for e0, e1 in edges:
            if e1 > e0:
                view = out[e0 - start : e1 - start]
                _shift_add(view, np.empty_like(view), big, small, [e0], [e1 - e0])
    if hi <= lo:
        return
    data_nonfinite = None
    blas_taps, numpy_taps, literal_taps = [], [], []
    for j in range(q):
        w = small[j]
        if not np.isfinite(w):
            literal_taps.append((j,))
        elif w != 0:
            blas_taps.append((-j, w))
        else:
            if data_nonfinite is None:
                data_nonfinite = bool(_nonfinite(big).any())
            if data_nonfinite:
                numpy_taps.append((-j, w))
    inner = out[lo - start : hi - start]
    _axpy_blocks(inner, big, lo, hi - lo, blas_taps, numpy_taps, dtype)
    if literal_taps:
        with np.errstate(invalid="ignore", over="ignore"):
            _shift_add(inner, np.empty_like(inner), big, small, [lo], [hi - lo], literal_taps)


def _axpy_blocks(res, x, x_first, rows, blas_taps, numpy_taps, dtype) -> None:
    """res[m] += w * x[x_first + m + off] for every (off, w), m < rows, in threaded blocks."""
    step = _DIRECT_BLOCK
    axpy = _axpy(dtype)
    x0, y0, isz = x.ctypes.data, res.ctypes.data, x.itemsize

    def run(blocks):
        with np.errstate(invalid="ignore", over="ignore"):
            tmp = np.empty(min(step, rows), dtype) if numpy_taps or axpy is None else None
            for m0 in blocks:
                n = min(step, rows - m0)
                y = res[m0 : m0 + n]
                for off, w in blas_taps:
                    i0 = x_first + m0 + off
                    if axpy is not None:  # y += w * x, fused, GIL released (ctypes)
                        axpy(n, w, x0 + i0 * isz, y0 + m0 * isz)
                    else:
                        t = tmp[:n]
                        np.multiply(x[i0 : i0 + n], w, out=t)
                        y += t
                for off, w in numpy_taps:
                    i0 = x_first + m0 + off
                    t = tmp[:n]
                    np.multiply(x[i0 : i0 + n], w, out=t)
                    y += t

    with _single_threaded_blas():
        _in_threads(run, list(range(0, rows, step)))


_AXPY: dict = {}


def _axpy(dtype: np.dtype):
    """``axpy(n, alpha, x_address, y_address)``: y += alpha * x over n contiguous elements.

    The CBLAS axpy of the OpenBLAS that numpy ships, called through ctypes, which releases the
    GIL (so two threads run two blocks at once) and adds no import. None where it is not found.
    """
    dtype = np.dtype(dtype)
    if dtype in _AXPY:
        return _AXPY[dtype]
    fn = None
    letter = {"f4": "s", "f8": "d", "c8": "c", "c16": "z"}.get(f"{dtype.kind}{dtype.itemsize}")
    try:
        import ctypes
        import re

        with open("/proc/self/maps") as f:
            libs = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
        for lib in libs if letter else []:
            dll = ctypes.CDLL(lib)
            found = None
            for prefix, suffix, int_type in (
                ("scipy_", "64_", ctypes.c_int64),
                ("", "64_", ctypes.c_int64),
                ("scipy_", "", ctypes.c_int),
                ("", "", ctypes.c_int),
            ):
                c_fn = getattr(dll, f"{prefix}cblas_{letter}axpy{suffix}", None)
                if c_fn is not None:
                    found = (c_fn, int_type)
                    break
            if found is None:
                continue
            c_fn, itype = found
            c_fn.restype = None
            vp = ctypes.c_void_p
            if dtype.kind == "c":
                ctype = ctypes.c_float if dtype.itemsize == 8 else ctypes.c_double
                c_fn.argtypes = [itype, vp, vp, itype, vp, itype]

                def fn(n, alpha, x, y, c_fn=c_fn, ctype=ctype):
                    al = (ctype * 2)(alpha.real, alpha.imag)
                    c_fn(n, al, x, 1, y, 1)
            else:
                ctype = ctypes.c_float if dtype.itemsize == 4 else ctypes.c_double
                c_fn.argtypes = [itype, ctype, vp, itype, vp, itype]

                def fn(n, alpha, x, y, c_fn=c_fn):
                    c_fn(n, float(alpha), x, 1, y, 1)

            break
    except (OSError, AttributeError):
        fn = None
    _AXPY[dtype] = fn
    return fn


def _in_threads(run, blocks) -> None:
    """Run ``run`` on interleaved shares of ``blocks``, one share per thread."""
    if _THREADS == 1 or len(blocks) < 2:
        run(blocks)
        return
    from concurrent.futures import ThreadPoolExecutor

    shares = [blocks[k::_THREADS] for k in range(_THREADS)]
    with ThreadPoolExecutor(_THREADS) as pool:
        for f in [pool.submit(run, s) for s in shares]:
            f.result()


def _shift_add(out, tmp, big, small, starts, lengths, taps=None) -> None:
    """out += the terms of ``taps`` (default: every element of ``small``), on the real terms."""
    for j in np.ndindex(small.shape) if taps is None else taps:
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


# ---- non-finite inputs and overflow --------------------------------------------------------------


def _nonfinite(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "c":
        return ~(np.isfinite(x.real) & np.isfinite(x.imag))
    return ~np.isfinite(x)


def _memoized(fn):
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


@_memoized
def _finite_part(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` with non-finite elements replaced by 0, and their positions (an (n, ndim) array)."""
    bad = _nonfinite(x)
    if not bad.any():
        return x, np.empty((0, x.ndim), np.intp)
    x = x.copy()
    x[bad] = 0
    return x, np.argwhere(bad)


@_memoized
def _max_abs_finite(x: np.ndarray) -> float:
    """max |x| of an array without NaN/Inf (0 if empty)."""
    if x.size == 0:
        return 0.0
    if x.dtype.kind == "c":
        return float(np.max(np.abs(x)))
    return float(max(x.max(), -x.min()))


def _max_abs(x: np.ndarray, memo=None) -> float:
    """max |x| over the finite elements (0 if none)."""
    return _max_abs_finite(_finite_part(x, memo)[0], memo)


def _may_overflow(a: np.ndarray, b: np.ndarray, memo=None) -> bool:
    """Whether finite products or sums could reach the top of the range of the result class."""
    top = float(np.finfo(a.dtype).max)
    return _max_abs(a, memo) * _max_abs(b, memo) * min(a.size, b.size) * 4.0 >= top * 1e-3


def _patch(out, a, b, starts, lengths, bad_a, bad_b, dtype) -> None:
    """Recompute by the defining sum every output whose window covers a non-finite input."""
    if len(bad_a) == 0 and len(bad_b) == 0:
        return
    boxes = []
    for bad, other in ((bad_a, b.shape), (bad_b, a.shape)):
        for p in bad:
            lo = [max(int(p[d]), starts[d]) for d in range(len(starts))]
            hi = [min(int(p[d]) + other[d], starts[d] + lengths[d]) for d in range(len(starts))]
            if all(h > low for low, h in zip(lo, hi)):
                boxes.append((lo, hi))
            if len(boxes) > _MAX_PATCH_BOXES:
                out[...] = direct(a, b, starts, lengths, dtype)
                return
    for lo, hi in boxes:
        sl = tuple(slice(low - s, h - s) for low, h, s in zip(lo, hi, starts))
        out[sl] = direct(a, b, lo, [h - low for low, h in zip(lo, hi)], dtype)


# ---- grouped products (BLAS) ---------------------------------------------------------------------


_BLAS_THREAD_FUNCS: list | None = None


def _blas_thread_funcs() -> list:
    """(get, set) thread-count functions of the OpenBLAS libraries loaded in this process.

    What threadpoolctl does, for the one library numpy ships (found in /proc/self/maps); empty
    where there is none or it is not OpenBLAS.
    """
    global _BLAS_THREAD_FUNCS
    if _BLAS_THREAD_FUNCS is not None:
        return _BLAS_THREAD_FUNCS
    funcs = []
    try:
        import ctypes
        import re

        with open("/proc/self/maps") as f:
            libs = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
        for lib in libs:
            dll = ctypes.CDLL(lib)
            for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
                get = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
                put = getattr(dll, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    put.argtypes = [ctypes.c_int]
                    funcs.append((get, put))
                    break
    except (OSError, AttributeError):
        funcs = []
    _BLAS_THREAD_FUNCS = funcs
    return funcs


class _single_threaded_blas:
    """Context: OpenBLAS runs each product on one thread; restored on exit."""

    def __enter__(self):
        self.saved = []
        for get, put in _blas_thread_funcs():
            self.saved.append((put, get()))
            put(1)
        return self

    def __exit__(self, *exc):
        for put, n in self.saved:
            put(n)


def _gemm_block(q: int) -> int:
    """Output columns per banded product for a kernel line of ``q`` taps (measured)."""
    return max(_GEMM_MIN_BLOCK, 1 << max(0, (2 * q - 1).bit_length() - 1))


def gemm(
    a: np.ndarray,
    b: np.ndarray,
    starts: Sequence[int],
    lengths: Sequence[int],
    dtype: np.dtype,
    memo: dict | None = None,
) -> np.ndarray:
    """The defining sum with each kernel line as a banded Toeplitz matrix product (BLAS).

    The larger operand is laid out zero-padded so that, along the last dimension, rows of ``R``
    consecutive outputs need ``R + q - 1`` consecutive inputs; each line of the kernel (all
    indices but the last) is then one matrix product of strided views of that layout, summed into
    the result. Non-finite inputs are zeroed and their neighbourhoods recomputed directly.
    """
    big, small = (a, b) if a.size >= b.size else (b, a)
    nd = big.ndim
    # The banded products run along the last dimension: bring the kernel's longest there.
    ax = nd - 1 if small.shape[-1] == max(small.shape) else int(np.argmax(small.shape))
    if ax != nd - 1:
        perm = [d for d in range(nd) if d != ax] + [ax]
        out = gemm(
            np.ascontiguousarray(big.transpose(perm)),
            np.ascontiguousarray(small.transpose(perm)),
            [starts[d] for d in perm],
            [lengths[d] for d in perm],
            dtype,
        )
        return np.ascontiguousarray(np.moveaxis(out, -1, ax))
    fa, bad_big = _finite_part(big, memo)
    fb, bad_small = _finite_part(small, memo)
    out = _gemm_finite(fa, fb, tuple(starts), tuple(lengths), dtype)
    _patch(out, big, small, starts, lengths, bad_big, bad_small, dtype)
    return out


def _gemm_finite(a, b, starts, lengths, dtype) -> np.ndarray:
    from numpy.lib.stride_tricks import as_strided

    nd = a.ndim
    q = b.shape[-1]
    R = _gemm_block(q)
    n_last = lengths[-1]
    nb = -(-n_last // R)
    W = R + q - 1
    chunks = -(-W // R)
    # Padded layout: leading dim k covers inputs starts[k] - (b_k - 1) ... + P_k; the last
    # dimension covers starts[-1] - (q - 1) ... in (nb + chunks) * R slots, a multiple of R.
    P = [lengths[k] + b.shape[k] - 1 for k in range(nd - 1)] + [(nb + chunks) * R]
    ap = np.zeros(P, dtype)
    src, dst = [], []
    for k in range(nd):
        first = starts[k] - (b.shape[k] - 1)  # input index at padded position 0
        lo, hi = max(first, 0), min(first + P[k], a.shape[k])
        if lo >= hi:
            return np.zeros(lengths, dtype)
        src.append(slice(lo, hi))
        dst.append(slice(lo - first, hi - first))
    ap[tuple(dst)] = a[tuple(src)]
    flat = ap.reshape(-1)
    isz = ap.itemsize
    strides = [int(np.prod(P[k + 1 :])) for k in range(nd)]
    # Output (i_0.., n, r) lives at flat row m = sum_k i_k * strides[k] / R + n of the result.
    rows = sum((lengths[k] - 1) * strides[k] for k in range(nd - 1)) // R + nb
    res = np.zeros(ap.size, dtype)
    res_rows = res.reshape(-1, R)
    # Toeplitz band of each kernel line: T[t, r] = line[r + q - 1 - t] where 0 <= that < q,
    # all lines stacked: one product per block of rows, (rows x lines*W) @ (lines*W x R).
    t = np.arange(W)[:, None]
    r = np.arange(R)[None, :]
    idx = r + q - 1 - t
    valid = (idx >= 0) & (idx < q)
    idx = np.clip(idx, 0, q - 1)
    bases, bands = [], []
    for j in np.ndindex(b.shape[:-1]):
        bands.append(np.where(valid, b[j][idx], np.zeros(1, dtype)))
        bases.append(sum((b.shape[k] - 1 - j[k]) * strides[k] for k in range(nd - 1)))
    band = np.concatenate(bands, axis=0)
    LW = len(bases) * W
    step = max(1, _GEMM_BLOCK_BYTES // (LW * isz))  # result rows per block

    def run(blocks):
        X = np.empty((step, LW), dtype)  # the rows' inputs, line after line ("im2row")
        for m0 in blocks:
            m1 = min(m0 + step, rows)
            k = m1 - m0
            for ell, base in enumerate(bases):
                view = as_strided(flat[base + m0 * R :], shape=(k, W), strides=(R * isz, isz))
                X[:k, ell * W : (ell + 1) * W] = view
            np.matmul(X[:k], band, out=res_rows[m0:m1])

    # Small products are best one BLAS thread each, our threads taking blocks of rows (a
    # threaded BLAS spins on every small product, 25x slower on a busy machine).
    with _single_threaded_blas():
        _in_threads(run, list(range(0, rows, step)))
    out = res.reshape(P)[(*(slice(0, n) for n in lengths[:-1]), slice(0, n_last))]
    return np.add(out, 0.0, dtype=dtype)  # a contiguous copy, and outputs start from +0


# ---- FFT -----------------------------------------------------------------------------------------


def _abs_sum(x: np.ndarray) -> float:
    return float(np.sum(np.abs(x), dtype=np.float64))


def _norm2(x: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.abs(x).astype(np.float64) ** 2)))


def _fft_size(a_shape, b_shape) -> list[int]:
    return [p + q - 1 for p, q in zip(a_shape, b_shape, strict=True)]


def _fft_axes(a_shape, b_shape) -> list[int]:
    """The dimensions an FFT must transform: those where both operands extend."""
    return [k for k, (p, q) in enumerate(zip(a_shape, b_shape)) if p > 1 and q > 1]


def _log2_points(a_shape, b_shape) -> float:
    return max(math.log2(math.prod(_fft_size(a_shape, b_shape))), 1.0)


@_memoized
def _is_integer_valued(x: np.ndarray) -> bool:
    if x.dtype.kind == "c":
        return _is_integer_valued(x.real) and _is_integer_valued(x.imag)
    head = x.reshape(-1)[:256]  # real-valued data usually show it at once
    if not np.array_equal(head, np.rint(head)):
        return False
    return bool(np.array_equal(x, np.rint(x)))


def _exact_bound_holds(a: np.ndarray, b: np.ndarray) -> bool:
    bound = _FFT_BOUND_FACTOR * np.finfo(np.float64).eps * _log2_points(a.shape, b.shape)
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        bound *= 2.0  # complex: real and imaginary parts each carry the error of a real FFT
    return bound * _abs_sum(a) * _abs_sum(b) < 0.5


def fft_is_exact(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether rounding an FFT convolution of ``a`` and ``b`` is guaranteed to be the exact sum.

    Needs real, finite, integer-valued data and ``C * eps * log2(L) * sum|a| * sum|b| < 0.5``
    (which also keeps every partial sum below 2**53, so the direct sum is exact too).
    """
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        return False
    for x in (a, b):
        if not np.all(np.isfinite(x)) or not _is_integer_valued(x):
            return False
    return _exact_bound_holds(a, b)


def fft_error_bound(a: np.ndarray, b: np.ndarray) -> float:
    """The FFT accuracy contract: max error of a finite output of ``fft-float`` (before the
    rounding to the result class), for the finite parts of ``a`` and ``b``."""
    fa, _ = _finite_part(np.asarray(a))
    fb, _ = _finite_part(np.asarray(b))
    eps = np.finfo(np.float64).eps
    scale = _abs_sum(fa) * _norm2(fb) + _norm2(fa) * _abs_sum(fb)
    return _FFT_BOUND_FACTOR * eps * _log2_points(fa.shape, fb.shape) * scale


def fft_patched(
    a: np.ndarray,
    b: np.ndarray,
    starts: Sequence[int],
    lengths: Sequence[int],
    dtype: np.dtype,
    memo: dict | None = None,
) -> np.ndarray:
    """FFT convolution in double precision of the finite parts, non-finite outputs patched.

    Integer-valued data within the exact bound are rounded to the exact integers.
    """
    fa, bad_a = _finite_part(a, memo)
    fb, bad_b = _finite_part(b, memo)
    exact = (
        _is_integer_valued(fa, memo) and _is_integer_valued(fb, memo) and _exact_bound_holds(fa, fb)
    )
    out = _fft_window(fa, fb, starts, lengths, dtype, exact)
    _patch(out, a, b, starts, lengths, bad_a, bad_b, dtype)
    return out


def _oa_block(q: int) -> int:
    """FFT length per overlap-add segment for a kernel of ``q`` taps (measured)."""
    return max(1024, 1 << (8 * q - 1).bit_length())


def _use_overlap_add(a_shape, b_shape) -> bool:
    """1-D signals much longer than the kernel: overlap-add beats one long FFT."""
    return len(a_shape) == 1 and max(a_shape) >= 4 * _oa_block(min(a_shape[0], b_shape[0]))


def _fft_window(a, b, starts, lengths, dtype, exact: bool) -> np.ndarray:
    import scipy.fft  # only here: it costs start-up time that small jobs should not pay

    if _use_overlap_add(a.shape, b.shape):
        c = _overlap_add(a, b)
        sl = slice(starts[0], starts[0] + lengths[0])
        c = np.rint(c[sl]) if exact else c[sl]
        out = np.empty(c.shape, dtype)
        np.add(c, 0.0, out=out, casting="same_kind")
        return out
    full = _fft_size(a.shape, b.shape)
    cplx = a.dtype.kind == "c" or b.dtype.kind == "c"
    work = np.complex128 if cplx else np.float64
    # Transform only the dimensions where both operands extend: along the others the
    # convolution is a product, broadcast (the passes of the separable conv2 are 1-D FFTs).
    axes = _fft_axes(a.shape, b.shape)
    if not axes:
        c = a.astype(work) * b.astype(work)
    else:
        fshape = [scipy.fft.next_fast_len(full[k], real=not cplx) for k in axes]
        fwd, inv = (
            (scipy.fft.fftn, scipy.fft.ifftn) if cplx else (scipy.fft.rfftn, scipy.fft.irfftn)
        )
        fa = fwd(a.astype(work, copy=False), fshape, axes=axes, workers=_THREADS)
        fb = fwd(b.astype(work, copy=False), fshape, axes=axes, workers=_THREADS)
        if fa.shape == np.broadcast_shapes(fa.shape, fb.shape):
            fa *= fb
        else:
            fa = fa * fb
        del fb
        if cplx:
            c = inv(fa, fshape, axes=axes, workers=_THREADS, overwrite_x=True)
        else:
            c = inv(fa, fshape, axes=axes, workers=_THREADS)
        del fa
    sl = tuple(slice(s, s + n) for s, n in zip(starts, lengths, strict=True))
    c = c[sl]
    if exact:
        c = np.rint(c, out=c)
    c += 0.0  # no -0.0 (rint keeps it): outputs start from +0 (spec section 8)
    mostly_used = c.base is None or 2 * c.size >= c.base.size
    if c.dtype == dtype and mostly_used:
        return c  # a view of most of the transform's output: no copy
    return c.astype(dtype)  # a copy: the class, or not to keep a large transform alive


def _overlap_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full 1-D convolution by overlap-add: segments of the long signal, FFT'd as one batch."""
    import scipy.fft

    if a.size < b.size:
        a, b = b, a
    n, q = a.size, b.size
    cplx = a.dtype.kind == "c" or b.dtype.kind == "c"
    work = np.complex128 if cplx else np.float64
    L = scipy.fft.next_fast_len(_oa_block(q), real=not cplx)
    step = L - q + 1
    nseg = -(-n // step)
    segs = np.zeros((nseg, L), work)
    flat_in = segs[:, :step]
    whole, rest = divmod(n, step)
    flat_in[:whole] = a[: whole * step].reshape(whole, step)
    if rest:
        flat_in[whole, :rest] = a[whole * step :]
    if cplx:
        fb = scipy.fft.fft(b.astype(work, copy=False), L)
        f = scipy.fft.fft(segs, axis=1, workers=_THREADS, overwrite_x=True)
        f *= fb
        y = scipy.fft.ifft(f, axis=1, workers=_THREADS, overwrite_x=True)
    else:
        fb = scipy.fft.rfft(b.astype(work, copy=False), L)
        f = scipy.fft.rfft(segs, axis=1, workers=_THREADS)
        del segs
        f *= fb
        y = scipy.fft.irfft(f, L, axis=1, workers=_THREADS)
    del f
    out = np.zeros((nseg + 1) * step, work)
    out[: nseg * step] = y[:, :step].reshape(-1)
    out[step:].reshape(nseg, step)[:, : q - 1] += y[:, step:]
    return out[: n + q - 1]


# ---- the choice ----------------------------------------------------------------------------------


def estimate_costs(a_shape, b_shape, lengths, cplx: bool = False) -> dict[str, float]:
    """Predicted seconds of ``direct``, ``gemm`` and ``fft`` for operands of these shapes."""
    if math.prod(a_shape) >= math.prod(b_shape):
        big, small = tuple(a_shape), tuple(b_shape)
    else:
        big, small = tuple(b_shape), tuple(a_shape)
    taps = math.prod(small)
    outs = math.prod(lengths)
    k = _COMPLEX_FACTOR if cplx else 1.0
    costs = {"direct": k * _DIRECT_PER_MAC * outs * taps + _DIRECT_PER_OUT * outs}
    if outs <= _SMALL_OUTPUT:
        costs["direct"] += _DIRECT_PER_SMALL_TAP * taps
    q = max(small)
    if q >= 2 and q == taps:
        # Offered for kernels of one line (vectors) only: with several lines the gathering of
        # each row's inputs costs more than the products save (measured: BENCHMARKS.md).
        R = _gemm_block(q)
        lines = taps // q
        W = R + q - 1
        rows = outs * (1 + R / max(lengths[-1], 1)) / R  # rows of R outputs, with padding
        blocks = rows * lines * W * 8 / _GEMM_BLOCK_BYTES
        costs["gemm"] = (
            k * _GEMM_PER_MAC * rows * R * lines * W
            + _GEMM_PER_COPY * rows * lines * W
            + _GEMM_PER_BLOCK_LINE * blocks * lines
            + _GEMM_PER_OUT * outs
            + _GEMM_FIXED
        )
        if small[-1] != q:  # the operands are transposed first, and the result back
            costs["gemm"] += 2 * _GEMM_PER_OUT * outs
    if _use_overlap_add(big, small):
        L = _oa_block(small[0])
        points = -(-big[0] // (L - small[0] + 1)) * L
        per = math.log2(L)
    else:
        full = _fft_size(big, small)
        points = math.prod(full)
        per = max(math.log2(max(math.prod(full[k] for k in _fft_axes(big, small)), 2)), 1.0)
    fft_k = 2.0 if cplx else 1.0
    costs["fft"] = fft_k * _FFT_PER_POINT * points * per + _FFT_PER_OUT * outs + _FFT_FIXED
    return costs


def choose_method(a: np.ndarray, b: np.ndarray, lengths: Sequence[int], memo=None) -> str:
    """Pick the fastest method that keeps MATLAB's answers (within the documented contract)."""
    cplx = a.dtype.kind == "c" or b.dtype.kind == "c"
    costs = estimate_costs(a.shape, b.shape, lengths, cplx)
    best = min(costs, key=costs.get)
    if best != "fft":
        return best
    fa, _ = _finite_part(a, memo)
    fb, _ = _finite_part(b, memo)
    if _is_integer_valued(fa, memo) and _is_integer_valued(fb, memo):
        if _exact_bound_holds(fa, fb):
            return "fft-float"  # rounds to the exact integers
        # Integer data beyond the exact bound: FFT would round them wrongly.
        del costs["fft"]
        return min(costs, key=costs.get)
    return "fft-float"
