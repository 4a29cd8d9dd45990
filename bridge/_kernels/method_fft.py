"""``fft`` and ``fft-float``: FFT convolution of the finite parts, NaN/Inf patched.

``fft``
    Only where it is *exact*: finite, real, integer-valued data whose error bound
    ``8 * eps * log2(L) * sum|a| * sum|b| < 0.5`` proves that rounding recovers the exact
    integers (:func:`_exact_log2_term` where the last axis is summed directly). Anything else
    raises ValueError.
``fft-float``
    Any data, within the FFT accuracy contract (:func:`fft_error_bound`): every finite output
    within ``8 * eps * log2(L) * (||a||_1 ||b||_2 + ||a||_2 ||b||_1)`` (eps of double, norms over
    the finite elements; then rounded to the result class) of the defining sum. Computed in
    double (complex double) precision for every class; integer-valued data (real or complex)
    within the exact bound are rounded to the exact result. Long vectors with much shorter
    kernels go by overlap-add (segments FFT'd as one batch); only the dimensions where both
    operands extend are transformed (the separable passes are 1-D FFTs). Images and volumes
    with few taps along the last axis are transformed along the others only and summed
    directly along it (:func:`direct_last_axis`, :func:`_sum_last_axis`). Real images with
    more taps along both axes go by overlap-save tiles fixed by the full result's shape
    (:func:`tile_plan`, :func:`_tiled`): each tile's transform is shorter than the whole one
    and reads a part of the image, so the bound holds for them as stated.

The full result is transformed (or its tiles that reach the window) and the window cut from it,
so ``'same'`` and ``'valid'`` are bit-identical slices of ``'full'``. The transforms are
numpy.fft's (pocketfft, imported with numpy: a cold job never pays for importing scipy.fft),
one axis at a time on the lines that hold data, the lines shared out to the kernels' threads;
the inverse keeps only the window's lines of each axis once it is done. Each line is
transformed on its own, so none of this changes a bit of the window.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Sequence

import numpy as np

from bridge._kernels import loops, pool
from bridge._kernels.method_direct import product
from bridge._kernels.nonfinite import finite_part, memoized
from bridge._kernels.patching import patch

NAMES = ("fft", "fft-float")

# FFT error bound safety factor: above the constants of published analyses of FFT convolution.
FFT_BOUND_FACTOR = 8.0


def _abs_sum(x: np.ndarray) -> float:
    return float(np.sum(np.abs(x), dtype=np.float64))


def _norm2(x: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.abs(x).astype(np.float64) ** 2)))


def fft_size(a_shape, b_shape) -> list[int]:
    return [p + q - 1 for p, q in zip(a_shape, b_shape, strict=True)]


def fft_axes(a_shape, b_shape) -> list[int]:
    """The dimensions an FFT must transform: those where both operands extend."""
    return [k for k, (p, q) in enumerate(zip(a_shape, b_shape)) if p > 1 and q > 1]


def _log2_points(a_shape, b_shape) -> float:
    return max(math.log2(math.prod(fft_size(a_shape, b_shape))), 1.0)


def _exact_log2_term(a_shape, b_shape) -> float:
    """The exact bound's growth term: log2 of the result's points, or where the last axis goes
    by the direct sum (:func:`direct_last_axis`), log2 of the other axes' points plus the taps
    summed along it if that is larger (a sum of n terms is bounded by n roundings, an FFT of
    length L by log2(L) stages)."""
    term = _log2_points(a_shape, b_shape)
    if direct_last_axis(a_shape, b_shape):
        full = fft_size(a_shape, b_shape)
        taps = min(a_shape[-1], b_shape[-1])
        term = max(term, math.log2(math.prod(full[:-1])) + taps)
    return term


# The last axis goes by the direct sum over the other axes' spectra when the shorter operand
# has at most this many taps along it (BENCHMARKS.md, "One axis direct").
DIRECT_AXIS_TAPS = 16


def direct_last_axis(a_shape, b_shape) -> bool:
    """Whether the FFT path sums the last axis directly instead of transforming it: operands
    that extend along every axis (2 or more), the shorter along the last one by at most
    :data:`DIRECT_AXIS_TAPS` taps. Three transforms of the whole spectrum along that axis (the
    two operands', the inverse) and the product give way to a short sum per point; for images
    and volumes with small kernels this is the larger part of the work."""
    if len(a_shape) < 2 or len(a_shape) != len(b_shape):
        return False
    if min(min(a_shape), min(b_shape)) < 2:
        return False
    return min(a_shape[-1], b_shape[-1]) <= DIRECT_AXIS_TAPS


@memoized
def is_integer_valued(x: np.ndarray) -> bool:
    """Whether every element of ``x`` (finite) is an integer (both parts of complex data);
    memoized per call of :func:`bridge._kernels.convolve` (``memo``)."""
    if x.dtype.kind == "c":
        return is_integer_valued(x.real) and is_integer_valued(x.imag)
    head = x.ravel(order="K")[:256]  # real data usually show it at once (K: no copy of any layout)
    if not np.array_equal(head, np.rint(head)):
        return False
    return bool(np.array_equal(x, np.rint(x)))


def both_integer_valued(a: np.ndarray, b: np.ndarray, memo: dict | None = None) -> bool:
    """:func:`is_integer_valued` of both, the smaller first: a kernel of non-integer taps settles
    it without a pass over an integer-valued image."""
    small, big = (a, b) if a.size <= b.size else (b, a)
    return is_integer_valued(small, memo) and is_integer_valued(big, memo)


def exact_bound_holds(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the exact bound holds for integer-valued finite ``a`` and ``b``: an FFT of them,
    rounded, is the exact sum (:func:`fft_is_exact` checks the data too)."""
    bound = FFT_BOUND_FACTOR * np.finfo(np.float64).eps * _exact_log2_term(a.shape, b.shape)
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
        if not np.all(np.isfinite(x)) or not is_integer_valued(x):
            return False
    return exact_bound_holds(a, b)


def fft_error_bound(a: np.ndarray, b: np.ndarray) -> float:
    """The FFT accuracy contract: max error of a finite output of ``fft-float`` (before the
    rounding to the result class), for the finite parts of ``a`` and ``b``."""
    fa, _ = finite_part(np.asarray(a))
    fb, _ = finite_part(np.asarray(b))
    return fft_error_bound_of_norms(
        fa.shape, fb.shape, _abs_sum(fa), _norm2(fa), _abs_sum(fb), _norm2(fb)
    )


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
    fa, bad_a = finite_part(a, memo)
    fb, bad_b = finite_part(b, memo)
    exact = both_integer_valued(fa, fb, memo) and exact_bound_holds(fa, fb)
    out = _fft_window(fa, fb, starts, lengths, dtype, exact)
    if len(bad_a) or len(bad_b):  # the defining sum around them wants rows
        a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
        patch(out, a, b, starts, lengths, bad_a, bad_b, dtype)
    return out


def oa_block(q: int) -> int:
    """FFT length per overlap-add segment for a kernel of ``q`` taps: at least 8 times the
    kernel (little overlap per segment), at least 1024 (few segments)."""
    return max(1024, 1 << (8 * q - 1).bit_length())


def use_overlap_add(a_shape, b_shape) -> bool:
    """1-D signals much longer than the kernel: overlap-add beats one long FFT."""
    return len(a_shape) == 1 and max(a_shape) >= 4 * oa_block(min(a_shape[0], b_shape[0]))


def next_fast_len(n: int) -> int:
    """The smallest 2-3-5-7-smooth length >= n (numpy.fft's fast sizes)."""
    best = 1 << max(0, (n - 1).bit_length())
    p7 = 1
    while p7 < best:
        p5 = p7
        while p5 < best:
            p3 = p5
            while p3 < best:
                m = p3 * (1 << max(0, math.ceil(math.log2(n / p3)))) if p3 < n else p3
                best = min(best, m)
                p3 *= 3
            p5 *= 5
        p7 *= 7
    return best


class _Scratch:
    """Two buffers that the stages of the transforms write into in turn (``slot`` 0 or 1): a
    job's large arrays are allocated, and their pages first touched, twice instead of once per
    stage (first touches cost as much as a stage on the benchmark machine)."""

    def __init__(self):
        self.buffers: list = [None, None]

    def take(self, slot: int, shape, dtype, order: str = "C") -> np.ndarray:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        buf = self.buffers[slot]
        if buf is None or buf.size < nbytes:
            buf = self.buffers[slot] = np.empty(nbytes, np.uint8)
        return buf[:nbytes].view(dtype).reshape(shape, order=order)


def _along(
    transform,
    x: np.ndarray,
    axis: int,
    n: int,
    keep: slice | None = None,
    into: tuple[_Scratch, int] | None = None,
    order: str = "C",
) -> np.ndarray:
    """``transform(x, n, axis)`` (numpy.fft), the lines shared out to the kernels' threads.

    Each line is transformed on its own, so the result does not depend on how the lines are
    shared out, nor on which other lines are transformed: a window's lines (``keep``: the part
    of the output kept along ``axis``) are bit for bit those of the whole transform. ``into``:
    the scratch buffer and slot to write to (else a new array); ``order``: its memory layout.
    """
    m = n // 2 + 1 if transform is np.fft.rfft else n
    shape = list(x.shape)
    shape[axis] = m
    dtype = np.dtype(np.float64 if transform is np.fft.irfft else np.complex128)
    if into is None:
        out = np.empty(shape, dtype, order="F" if order == "F" else "C")
    else:
        out = into[0].take(into[1], shape, dtype, order)
    others = [d for d in range(x.ndim) if d != axis]
    split = max(others, key=lambda d: x.shape[d]) if others else None
    if split is None or out.size < _THREADED_POINTS or x.shape[split] < pool.THREADS:
        transform(x, n, axis=axis, out=out)
    else:
        cuts = np.linspace(0, x.shape[split], pool.THREADS + 1).astype(int)
        index = [slice(None)] * x.ndim
        parts = []
        for lo, hi in itertools.pairwise(cuts):
            index[split] = slice(lo, hi)
            parts.append(tuple(index))

        def run(share):
            for part in share:
                transform(x[part], n, axis=axis, out=out[part])

        pool.in_threads(run, parts)
    if keep is not None:
        index = [slice(None)] * out.ndim
        index[axis] = keep
        out = out[tuple(index)]
    return out


# Transforms with fewer output points than this run in the calling thread only.
_THREADED_POINTS = 1 << 16


def _forward(x, axes, fshape, real: bool, scratch: _Scratch, slots, order: str = "C") -> np.ndarray:
    """The N-D transform of ``x`` zero-padded to ``fshape`` along ``axes``: one axis at a time,
    the first one first (MATLAB's columns, contiguous in a MAT-file's column-major arrays; real
    data: ``rfft``, halving it), only the lines that hold data. Stage ``i`` writes to
    ``scratch`` slot ``slots[i]`` (None: a new array), in memory ``order``."""
    for k in range(len(axes)):
        transform = np.fft.rfft if real and k == 0 else np.fft.fft
        into = None if slots[k] is None else (scratch, slots[k])
        x = _along(transform, x, axes[k], fshape[k], into=into, order=order)
    return x


def _inverse(x, axes, fshape, starts, lengths, real: bool, scratch: _Scratch, slot: int):
    """The inverse of :func:`_forward`, each axis cut to the window as soon as it is done, the
    first axis last; the stages write to the scratch slots in turn, starting with ``slot``. The
    last stage writes in column-major order (MATLAB's, written to a MAT-file as it is)."""
    order = list(reversed(range(len(axes))))
    for i, k in enumerate(order):
        axis = axes[k]
        keep = slice(starts[axis], starts[axis] + lengths[axis])
        transform = np.fft.irfft if real and k == 0 else np.fft.ifft
        layout = "F" if i == len(order) - 1 else "C"
        x = _along(transform, x, axis, fshape[k], keep, into=(scratch, slot), order=layout)
        slot ^= 1
    return x


# Overlap-save tiles: at least this long along an axis, at least 4 times the kernel's taps
# there; an axis is tiled only where the full result is more than twice the tile (else one
# tile along it, as long as the full result and the taps need). The last tile along an axis
# is only as long as the outputs it keeps need (a fast length: :func:`tile_lasts`).
# BENCHMARKS.md, "Issue 20 goal 2".
TILE_MIN = 256
TILE_TAPS_FACTOR = 4
# Tiles twice as long along each axis where that cuts the transforms' work (points * log2)
# to at most TILE_LONGER_GAIN of the shortest tiles' and leaves at least TILE_LONGER_COUNT
# tiles (both threads kept busy to the end), up to TILE_LONGER_MAX points along an axis: a
# 512^2 tile's spectrum no longer fits in one core's cache, which only fewer points make up for
# (BENCHMARKS.md, "Issue 20 goal 2, fourth pass").
TILE_LONGER_GAIN = 0.86
TILE_LONGER_COUNT = 25
TILE_LONGER_MAX = 512
# Column-major images (MATLAB's) whose columns are a multiple of TILE_COLUMN_ROWS doubles (2 KB)
# are copied into column-major tile buffers with columns TILE_COLUMN_PAD doubles longer than the
# tile's (BENCHMARKS.md, "Issue 20 goal 2, fourth pass").
TILE_COLUMN_ROWS = 256
TILE_COLUMN_PAD = 8
# Tiles transformed by one call: about this many points (two 256x256 tiles), in cache.
TILE_GROUP_POINTS = 1 << 17


def tile_plan(a_shape, b_shape) -> tuple[list[int], list[int]] | None:
    """The overlap-save tiling of a real image's full convolution with a large kernel: the
    transform length of each axis and the kernel's taps along it (from the smaller operand), or
    None where the FFT goes otherwise (not 2-D, a dimension of 1, the last axis summed
    directly, a kernel longer than the image along an axis, or one tile along both axes).

    The tiles are fixed by the *full* result's shape: tile (i, j) computes the full result's
    rows ``[i*S0, (i+1)*S0)`` and columns ``[j*S1, (j+1)*S1)`` (``S = T - q + 1``), each from
    its own transform of length ``T0 x T1`` of the image's part that reaches them; the last
    tile along an axis keeps the rest of the full result, by a transform only as long as that
    needs (:func:`tile_lasts`)."""
    if len(a_shape) != 2 or len(b_shape) != 2 or len(fft_axes(a_shape, b_shape)) != 2:
        return None
    if direct_last_axis(a_shape, b_shape):
        return None
    big, small = (
        (a_shape, b_shape) if math.prod(a_shape) >= math.prod(b_shape) else (b_shape, a_shape)
    )
    if any(q > p for p, q in zip(big, small)):
        return None
    lengths = _tile_lengths(big, small, 1)
    if all(c == 1 for c in tile_counts(big, small, lengths)):
        return None  # one tile: the whole transform
    longer = _tile_lengths(big, small, 2)
    if (
        max(longer) <= TILE_LONGER_MAX
        and math.prod(tile_counts(big, small, longer)) >= TILE_LONGER_COUNT
        and _tile_points_log2(big, small, longer)
        <= TILE_LONGER_GAIN * _tile_points_log2(big, small, lengths)
    ):
        lengths = longer
    return lengths, list(small)


def _tile_lengths(big, small, scale: int) -> list[int]:
    """The tile length along each axis: ``scale`` times the shortest (at least :data:`TILE_MIN`
    and :data:`TILE_TAPS_FACTOR` times the taps, a power of 2) where the full result is more
    than twice that long, else one tile as long as the full result and the taps need."""
    lengths = []
    for n, q in zip(fft_size(big, small), small):
        t = scale * max(TILE_MIN, 1 << (TILE_TAPS_FACTOR * (q - 1) - 1).bit_length())
        # untiled: one tile keeping all n outputs (reading q - 1 zeros before the image)
        lengths.append(t if n > 2 * t else next_fast_len(n + q - 1))
    return lengths


def _tile_points_log2(big, small, fshape) -> float:
    """The tiles' points times log2 of each tile's points: their transforms' work (the model
    ``choice`` prices them by)."""
    return sum(
        tiles * math.prod(shape) * math.log2(math.prod(shape))
        for shape, tiles in tile_shapes(big, small, fshape)
    )


def tile_counts(big, small, fshape) -> list[int]:
    """How many tiles of :func:`tile_plan`'s lengths ``fshape`` cover the full result along each
    axis: each keeps ``T - q + 1`` of its outputs (the last one the rest)."""
    return [-(-(p + q - 1) // (t - q + 1)) for p, q, t in zip(big, small, fshape, strict=True)]


def tile_lasts(big, small, fshape) -> list[int]:
    """The transform length of the last tile along each axis: the fast length
    (:func:`next_fast_len`) that keeps the rest of the full result, ``r`` outputs (``r + q - 1``
    points), at most the other tiles' length. A tile's outputs do not depend on which other
    tiles are computed, and the lengths on the full result's shape only, so windows stay
    slices of 'full'."""
    lasts = []
    for p, q, t, c in zip(big, small, fshape, tile_counts(big, small, fshape), strict=True):
        rest = p + q - 1 - (c - 1) * (t - q + 1)
        lasts.append(min(t, next_fast_len(rest + q - 1)))
    return lasts


def tile_shapes(big, small, fshape) -> list[tuple[tuple[int, int], int]]:
    """Each transform shape of the tiles (:func:`tile_plan`) and how many tiles have it."""
    (n0, n1), (L0, L1), (T0, T1) = (
        tile_counts(big, small, fshape),
        tile_lasts(big, small, fshape),
        fshape,
    )
    shapes: dict[tuple[int, int], int] = {}
    for t0, c0 in ((T0, n0 - 1), (L0, 1)):
        for t1, c1 in ((T1, n1 - 1), (L1, 1)):
            if c0 * c1:
                shapes[(t0, t1)] = shapes.get((t0, t1), 0) + c0 * c1
    return list(shapes.items())


def _tiled(a, b, starts, lengths, fshape, exact: bool, dtype) -> np.ndarray:
    """The window of the full convolution of real ``a`` and ``b`` by overlap-save tiles
    (:func:`tile_plan`): each tile's part of the image zero-padded to its transform shape, a
    real 2-D transform (numpy.fft, the last axis first, into buffers each thread reuses), times
    the kernel's spectrum of that shape (once for every tile of it), transformed back (along
    the last axis, the window's rows of the tile's kept ones only), the tile's outputs kept.
    Only the tiles that reach the window are computed, in groups of tiles of one tile row and
    one shape fixed by the full result's shape, the groups shared out to the kernels' threads.
    A tile's outputs depend only on its own transforms (numpy.fft transforms each line on its
    own), so a window is bit for bit the same outputs of 'full', whatever the threads. Each
    tile's transform is shorter than the whole one and reads a part of the image, so the error
    bound of the whole (:func:`fft_error_bound`) holds."""
    if a.size < b.size:
        a, b = b, a
    (M, N), (p, q), (T0, T1) = a.shape, b.shape, fshape
    S0, S1 = T0 - p + 1, T1 - q + 1
    n0, n1 = tile_counts(a.shape, b.shape, fshape)
    L0, L1 = tile_lasts(a.shape, b.shape, fshape)
    group = max(1, TILE_GROUP_POINTS // (T0 * T1))
    (w0, w1), (l0, l1) = starts, lengths
    # Single results are written as each tile's doubles are rounded (no double copy of the
    # whole); the image is read in its own class, each tile's part converted as it is copied.
    # The image's memory layout: a column-major image (MATLAB's, as read from a MAT-file) gives
    # a column-major result, written to a MAT-file as it is (no transposing copy of the whole).
    column_major = a.flags.f_contiguous and not a.flags.c_contiguous
    out = np.empty(
        (l0, l1),
        dtype if dtype in (np.float32, np.float64) else np.float64,
        order="F" if column_major else "C",
    )
    # Double images go straight from their rows into the first transform where a tile starts
    # inside them (each line zero-padded by rfft as it would be in the tile's buffer); others
    # are copied into the buffer first, converted to double. A column-major image's part is
    # copied column by column into a column-major buffer whose columns are TILE_COLUMN_PAD
    # longer than the tile's, so that the row transform's reads of a tile row are not a multiple
    # of 4 KB apart (they would share a few cache sets and evict each other): single images
    # always, double ones where the image's columns are a multiple of 2 KB long (1024, 2048,
    # 4096 rows; others read straight as fast). The same lines, so the same bits.
    padded = column_major and (a.dtype != np.float64 or M % TILE_COLUMN_ROWS == 0)
    straight = a.dtype == np.float64 and not padded
    # Tile rows (index, length) and runs of tile columns of one length that reach the window
    rows = [(i, L0 if i == n0 - 1 else T0) for i in range(n0)]
    rows = [(i, t) for i, t in rows if i * S0 < w0 + l0 and i * S0 + t - p + 1 > w0]
    runs = [(range(g, min(g + group, n1 - 1)), T1) for g in range(0, n1 - 1, group)]
    runs.append((range(n1 - 1, n1), L1))
    runs = [(js, t) for js, t in runs if js[0] * S1 < w1 + l1 and js[-1] * S1 + t - q + 1 > w1]
    b64 = b.astype(np.float64, copy=False)
    # The kernel's spectrum of each tile shape, computed by the first thread that needs it (the
    # last tiles' shapes while the other thread works on): the same bits whichever does.
    spectra: dict[tuple[int, int], np.ndarray] = {}
    spectra_lock = threading.Lock()

    def spectrum(shape):
        if shape not in spectra:
            with spectra_lock:
                if shape not in spectra:
                    spectra[shape] = np.fft.rfft2(b64, shape)
        return spectra[shape]

    def run(share):
        # This thread's buffers, written by every group in turn (no new pages per group), cut
        # to each group's shape. The column transforms go in place: a second spectrum buffer
        # would leave less of the first in cache (each line is copied out and back by
        # numpy.fft: the same bits).
        bufs = (
            np.empty(group * (T0 + TILE_COLUMN_PAD) * T1, np.float64),
            np.empty(group * T0 * (T1 // 2 + 1), np.complex128),
            np.empty(group * S0 * T1, np.float64),
        )
        for _ in share:
            while (item := take()) is not None:
                tile_group(*item, bufs)

    def tile_group(i, t0, js, t1, bufs):
        m, h = len(js), t1 // 2 + 1
        if padded:  # each tile column-major, its columns t0 + TILE_COLUMN_PAD apart
            ld = t0 + TILE_COLUMN_PAD
            batch = bufs[0][: m * t1 * ld].reshape(m, t1, ld)[:, :, :t0].transpose(0, 2, 1)
        else:
            batch = bufs[0][: m * t0 * t1].reshape(m, t0, t1)
        f1 = bufs[1][: m * t0 * h].reshape(m, t0, h)
        r0 = i * S0 - (p - 1)  # the image's row at the tile's first
        lo, hi = max(r0, 0), min(r0 + t0, M)
        o0, o1 = max(i * S0, w0), min(i * S0 + t0 - p + 1, w0 + l0)
        for k, j in enumerate(js):
            c0 = j * S1 - (q - 1)
            clo, chi = max(c0, 0), min(c0 + t1, N)
            if straight and clo == c0 and lo < hi and clo < chi:
                # the image's rows straight into the transform (zero-padded by rfft)
                np.fft.rfft(a[lo:hi, clo:chi], t1, axis=1, out=f1[k, lo - r0 : hi - r0])
                f1[k, : lo - r0] = 0.0
                f1[k, hi - r0 :] = 0.0
                continue
            if (lo - r0, hi - r0, clo - c0, chi - c0) != (0, t0, 0, t1):
                batch[k] = 0.0
            if lo < hi and clo < chi:
                batch[k, lo - r0 : hi - r0, clo - c0 : chi - c0] = a[lo:hi, clo:chi]
            np.fft.rfft(batch[k], axis=1, out=f1[k])
        np.fft.fft(f1, axis=1, out=f1)
        np.multiply(f1, spectrum((t0, t1)), out=f1)
        np.fft.ifft(f1, axis=1, out=f1)
        # back along the rows: the window's rows only (each line on its own: the same bits)
        k0 = p - 1 + o0 - i * S0
        back = bufs[2][: m * (o1 - o0) * t1].reshape(m, o1 - o0, t1)
        y = np.fft.irfft(f1[:, k0 : k0 + o1 - o0], t1, axis=2, out=back)
        if exact:
            np.rint(y, out=y)
        np.add(y, 0.0, out=y)  # no -0.0 (rint keeps it): outputs start from +0
        for k, j in enumerate(js):
            d0, d1 = max(j * S1, w1), min(j * S1 + t1 - q + 1, w1 + l1)
            if d0 < d1:
                part = y[k, :, d0 - j * S1 + q - 1 : d1 - j * S1 + q - 1]
                # single results rounded here
                np.copyto(out[o0 - w0 : o1 - w0, d0 - w1 : d1 - w1], part, casting="same_kind")

    # Groups, not rows, handed out: a few rows of large tiles would leave a thread idle. Each
    # thread takes the next group from one queue as it finishes one (a thread slowed by other
    # work on the machine leaves the rest to the other); the groups' outputs do not depend on
    # which thread computes them.
    queue = iter([(i, t0, js, t1) for i, t0 in rows for js, t1 in runs])
    lock = threading.Lock()  # one group to one thread, whatever the interpreter's locking

    def take():
        with lock:
            return next(queue, None)

    pool.in_threads(run, [None] * pool.THREADS)
    return out


def _fft_window(a, b, starts, lengths, dtype, exact: bool) -> np.ndarray:
    cplx = a.dtype.kind == "c" or b.dtype.kind == "c"
    plan = None if cplx else tile_plan(a.shape, b.shape)
    if plan is not None:
        c = _tiled(a, b, starts, lengths, plan[0], exact, dtype)
        return c if c.dtype == dtype else c.astype(dtype)
    if not cplx and a.ndim == 3:
        by_planes = _tiled_planes(a, b, starts, lengths, dtype, exact)
        if by_planes is not None:
            return by_planes
    if use_overlap_add(a.shape, b.shape):
        c = _overlap_add(a, b)
        sl = slice(starts[0], starts[0] + lengths[0])
        c = np.rint(c[sl]) if exact else c[sl]
        out = np.empty(c.shape, dtype)
        np.add(c, 0.0, out=out, casting="same_kind")
        return out
    full = fft_size(a.shape, b.shape)
    work = np.complex128 if cplx else np.float64
    # Transform only the dimensions where both operands extend: along the others the
    # convolution is a product, broadcast (the passes of the separable conv2 are 1-D FFTs).
    axes = fft_axes(a.shape, b.shape)
    # Along the other dimensions only the window is needed: cut the operand that extends there.
    a, b = _cut_to_window(a, b, axes, starts, lengths), _cut_to_window(b, a, axes, starts, lengths)
    if not axes:
        c = a.astype(work) * b.astype(work)
    else:
        last = direct_last_axis(a.shape, b.shape)
        if last:  # the last axis by the direct sum: transform the others only
            axes = axes[:-1]
            if a.shape[-1] < b.shape[-1]:
                a, b = b, a  # b: the taps along the last axis
        fshape = [next_fast_len(full[k]) for k in axes]
        n = len(axes)
        if last and a.ndim == 3:  # a volume: plane by plane, each in cache
            c = _volume_by_planes(a.astype(work, copy=False), b.astype(work, copy=False),
                                  fshape, starts, lengths, not cplx, exact)  # fmt: skip
            return c if c.dtype == dtype else c.astype(dtype)
        scratch = _Scratch()
        # a's stages in slots 0, 1, 0, ...; b's last stage in the other slot (its first stages
        # are small where b is the kernel); the inverse's stages in turn after them.
        a_slot = (n - 1) % 2
        # Column-major stages where the last axis is summed: its points are planes then, each
        # stage writes its lines whole.
        order = "F" if last else "C"
        fa = _forward(a.astype(work, copy=False), axes, fshape, not cplx, scratch,
                      [i % 2 for i in range(n)], order)  # fmt: skip
        if last:
            fb = _forward(b.astype(work, copy=False), axes, fshape, not cplx, scratch, [None] * n,
                          order)  # fmt: skip
            fa = _sum_last_axis(fa, fb, starts[-1], lengths[-1], (scratch, 1 - a_slot))
            a_slot = 1 - a_slot
        else:
            fb = _forward(b.astype(work, copy=False), axes, fshape, not cplx, scratch,
                          [None] * (n - 1) + [1 - a_slot])  # fmt: skip
            if fa.shape == np.broadcast_shapes(fa.shape, fb.shape):
                fa *= fb
            else:
                fa = fa * fb
        del fb
        c = _inverse(fa, axes, fshape, starts, lengths, not cplx, scratch, 1 - a_slot)
        del fa, scratch
    if exact:
        c = np.rint(c, out=c)
    c += 0.0  # no -0.0 (rint keeps it): outputs start from +0 (spec section 8)
    root = c
    while root.base is not None:
        root = root.base
    mostly_used = 2 * c.nbytes >= root.nbytes
    if c.dtype == dtype and mostly_used:
        return c  # a view of most of the transform's output: no copy
    return c.astype(dtype)  # a copy: the class, or not to keep a large transform alive


def _tiled_planes(a, b, starts, lengths, dtype, exact: bool) -> np.ndarray | None:
    """Real 3-D operands of which one is a single plane (a 2-D kernel on an RGB image): the
    window plane by plane, each the 2-D convolution of its plane with the single one by
    :func:`_tiled`'s tiles (a transform of the whole is not tiled: 2-3 times the CPU); None
    where a plane's convolution is not tiled (:func:`tile_plan`). A plane's tiles are those of
    its own full result, so 'same' and 'valid' stay slices of 'full', and each tile reads a part
    of one plane: the bound of the whole holds."""
    if b.shape[2] != 1:
        a, b = b, a  # b: the single plane
    if b.shape[2] != 1 or a.shape[2] == 1:
        return None
    plan = tile_plan(a.shape[:2], b.shape[:2])
    if plan is None:
        return None
    out = np.empty(lengths, dtype)
    for k in range(lengths[2]):
        plane = np.ascontiguousarray(a[:, :, starts[2] + k])
        out[:, :, k] = _tiled(plane, b[:, :, 0], starts[:2], lengths[:2], plan[0], exact, dtype)
    return out


def _sum_last_axis(fx, fw, start: int, length: int, into: tuple[_Scratch, int]) -> np.ndarray:
    """The direct sum along the last axis of two spectra (transformed along the other axes):
    ``out[..., j] = sum over k of fx[..., start + j - k] * fw[..., k]`` over the k where
    ``start + j - k`` lies in fx, for the window's ``length`` points only, in column-major
    order (each point of the last axis a contiguous plane). Each point is summed on its own, in
    the same order whatever the window, so a window is bit for bit the same points of the full
    sum. The C loop where it was built, else numpy with the same products (each rounded: no
    fused multiply-add) in the same order, which gives the same bits."""
    lead = fx.shape[:-1]
    points = math.prod(lead)
    nx, nw = fx.shape[-1], fw.shape[-1]
    x = np.asfortranarray(fx).T.reshape(nx, points)  # planes: no copy of column-major spectra
    w = np.asfortranarray(np.broadcast_to(fw, (*lead, nw))).T.reshape(nw, points)
    out = into[0].take(into[1], (*lead, length), np.complex128, order="F")
    o = out.T.reshape(length, points)
    kernel = loops.c_zdirect()
    if kernel is not None:
        xv, wv, ov = x.view(np.float64), w.view(np.float64), o.view(np.float64)

        def run(share):
            for p0, p1 in share:
                kernel(ov, xv, wv, start, p0, p1)

    else:

        def run(share):
            for p0, p1 in share:
                _sum_planes_numpy(o[:, p0:p1], x[:, p0:p1], w[:, p0:p1], start)

    step = -(-points // (4 * pool.THREADS))
    step = max(64, -(-step // 64) * 64)  # whole column blocks of the C loop
    parts = [(lo, min(lo + step, points)) for lo in range(0, points, step)]
    if points * length * nw < _THREADED_POINTS:
        run(parts)
    else:
        pool.in_threads(run, parts)
    return out


def _volume_by_planes(a, b, fshape, starts, lengths, real: bool, exact: bool) -> np.ndarray:
    """A volume whose last axis is summed directly (:func:`direct_last_axis`), plane by plane:
    each plane of ``a`` transformed along its two axes into the spectrum's plane; then each
    plane of the window summed from the spectrum's planes (:func:`_sum_last_axis`'s sums, one
    plane at a time), transformed back, cut to the window and written to the column-major
    result. Every plane stays in cache between its steps, and the planes are shared out to the
    kernels' threads. The same lines are transformed, and the same sums made, as in
    :func:`_sum_last_axis`'s stages, plane by plane: each output's bits do not depend on the
    window nor on the sharing. Integer results (``exact``) are rounded in the plane."""
    (L0, L1), nz, nw = fshape, a.shape[2], b.shape[2]
    first, first_back = (np.fft.rfft, np.fft.irfft) if real else (np.fft.fft, np.fft.ifft)
    m0 = L0 // 2 + 1 if real else L0
    points = m0 * L1
    # The spectra: plane z contiguous, its second axis fastest (that axis's lines contiguous).
    spectrum = np.empty((nz, m0, L1), np.complex128)
    taps = np.empty((nw, m0, L1), np.complex128)

    def forward(x, into, share):
        line = np.empty((m0, x.shape[1]), np.complex128, order="F")
        # A plane of a row-major operand is gathered first (its columns are far apart).
        gather = None if x.flags.f_contiguous else np.empty(x.shape[:2], x.dtype, order="F")
        for z0, z1 in share:
            for z in range(z0, z1):
                plane = x[:, :, z]
                if gather is not None:
                    np.copyto(gather, plane)
                    plane = gather
                first(plane, L0, axis=0, out=line)
                np.fft.fft(line, L1, axis=1, out=into[z])

    forward(b, taps, [(0, nw)])
    pool.in_threads(lambda share: forward(a, spectrum, share), _plane_shares(nz))
    x = spectrum.reshape(nz, points).view(np.float64)
    w = taps.reshape(nw, points).view(np.float64)
    (s0, s1, sz), (l0, l1, lz) = starts, lengths
    out = np.empty((l0, l1, lz), np.float64 if real else np.complex128, order="F")
    kernel = loops.c_zdirect()

    def back(share):
        summed = np.empty((1, m0, L1), np.complex128)
        flat = summed.reshape(1, points)
        lines = np.empty((m0, L1), np.complex128)
        plane = np.empty((L0, l1), out.dtype, order="F")
        for j0, j1 in share:
            for j in range(j0, j1):
                if kernel is not None:
                    kernel(flat.view(np.float64), x, w, sz + j, 0, points)
                else:
                    _sum_planes_numpy(flat, spectrum.reshape(nz, points),
                                      taps.reshape(nw, points), sz + j)  # fmt: skip
                np.fft.ifft(summed[0], L1, axis=1, out=lines)
                first_back(lines[:, s1 : s1 + l1], L0, axis=0, out=plane)
                window = plane[s0 : s0 + l0]
                if exact:
                    np.rint(window, out=window)
                np.add(window, 0.0, out=out[:, :, j])  # no -0.0: outputs start from +0

    pool.in_threads(back, _plane_shares(lz))
    return out


def _plane_shares(planes: int) -> list[tuple[int, int]]:
    """Runs of planes for the kernels' threads: a few each, so that both finish together."""
    step = max(1, min(8, -(-planes // (8 * pool.THREADS))))
    return [(p, min(p + step, planes)) for p in range(0, planes, step)]


def _sum_planes_numpy(out, x, w, start: int) -> None:
    """:func:`_sum_last_axis` for some columns of the planes, in numpy: the direct sum's
    textbook products (:func:`method_direct.product`: each real product rounded, as the C
    loop's; numpy's complex product may fuse a multiply-add), the taps in the same order."""
    n, nx = out.shape[0], x.shape[0]
    acc = np.zeros(out.shape, np.complex128)
    for k in range(w.shape[0]):
        lo, hi = max(0, k - start), min(n, nx + k - start)  # outputs that tap k reaches
        if lo >= hi:
            continue
        acc[lo:hi] += product(x[start + lo - k : start + hi - k], w[k])
    out[...] = acc


def _cut_to_window(x, other, axes, starts, lengths) -> np.ndarray:
    """``x`` cut along the untransformed dimensions where it extends (``other`` has 1 there) to
    the window's rows: the product there is a plain product, so the rest is never needed."""
    index = [slice(None)] * x.ndim
    for k in range(x.ndim):
        if k not in axes and x.shape[k] > 1 and other.shape[k] == 1:
            index[k] = slice(starts[k], starts[k] + lengths[k])
    return x[tuple(index)]


def _overlap_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full 1-D convolution by overlap-add: segments of the long signal, FFT'd as one batch."""
    if a.size < b.size:
        a, b = b, a
    n, q = a.size, b.size
    cplx = a.dtype.kind == "c" or b.dtype.kind == "c"
    work = np.complex128 if cplx else np.float64
    L = next_fast_len(oa_block(q))
    step = L - q + 1
    nseg = -(-n // step)
    segs = np.zeros((nseg, L), work)
    flat_in = segs[:, :step]
    whole, rest = divmod(n, step)
    flat_in[:whole] = a[: whole * step].reshape(whole, step)
    if rest:
        flat_in[whole, :rest] = a[whole * step :]
    if cplx:
        fb = np.fft.fft(b.astype(work, copy=False), L)
        f = _along(np.fft.fft, segs, 1, L)
        del segs
        f *= fb
        y = _along(np.fft.ifft, f, 1, L)
    else:
        fb = np.fft.rfft(b.astype(work, copy=False), L)
        f = _along(np.fft.rfft, segs, 1, L)
        del segs
        f *= fb
        y = _along(np.fft.irfft, f, 1, L)
    del f
    out = np.zeros((nseg + 1) * step, work)
    out[: nseg * step] = y[:, :step].reshape(-1)
    out[step:].reshape(nseg, step)[:, : q - 1] += y[:, step:]
    return out[: n + q - 1]


def fft_error_bound_of_norms(
    a_shape, b_shape, a_abs_sum: float, a_norm2: float, b_abs_sum: float, b_norm2: float
) -> float:
    """:func:`fft_error_bound` from the operands' shapes and norms (``||.||_1``, ``||.||_2`` of
    their finite parts), or from upper bounds of the norms (the bound only grows with them): for
    a caller that knows cheaper bounds than a pass over the data (bridge.filtering's guarded
    FFT: an image's largest value times its elements)."""
    eps = np.finfo(np.float64).eps
    scale = a_abs_sum * b_norm2 + a_norm2 * b_abs_sum
    return FFT_BOUND_FACTOR * eps * _log2_points(a_shape, b_shape) * scale
