"""``direct``: the defining sum, as MATLAB computes it; the other methods are measured against it.

Every output is ``0 + x[o - j0] * w[j0] + x[o - j1] * w[j1] + ...`` over the taps of the smaller
operand ``w`` in index order, only where ``o - j`` lies inside the larger operand ``x``: each
product rounded, then added (no fused multiply-add). Every path computes exactly that, so they
give the same bits, and every output is computed the same way whatever the window: ``'same'``
and ``'valid'`` are bit-identical slices of ``'full'``.

- small outputs: one product of a strided view of the zero-padded operand (taps x outputs) with
  the taps, summed tap after tap (the padding only adds exact zeros);
- the compiled loop, on shares of the output in the kernels' threads (real data): the C loop
  built at install (:mod:`~bridge._kernels.loops`; up to 3 dimensions in one call; 4 or more
  with finite taps and short lines as one flat line over a zero-gapped copy, else volume by
  volume, each call adding to the sums of the calls before), else numba's (optional:
  ``pip install bridge[fast]``; up to 3 dimensions) once the process has spent as long in the
  numpy path as loading numba costs (so a cold tiny job never imports it);
- :func:`sum_2d`: two matrices by the compiled loop, for the lean path of conv, conv2 and convn
  (``bridge.convolution``): in the calling thread, or on the kernels' threads as above;
- otherwise numpy: per block of output (in cache) and tap, one multiply and one add on slices.

Zero taps are skipped where the larger operand is finite (they add exact zeros); where it holds
NaN/Inf every term is formed (``Inf * 0`` is NaN, spec section 8). A non-finite tap reaches only
real terms, never padding.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

import numpy as np

from bridge._kernels import loops, pool
from bridge._kernels.nonfinite import all_finite

NAME = "direct"

# Outputs * taps of at most this go through the one strided product (BENCHMARKS.md).
SMALL_WORK = 1 << 16
# Outputs per block of the numpy path: 256 KB of doubles, an output block and its inputs in a
# core's L2.
BLOCK = 1 << 15
# Outputs per share of the compiled loop, and the multiply-adds of doubles below which it runs
# in the calling thread only (waking a thread costs more than such a sum, the more so on a busy
# machine); singles, summed twice as many at a time, count half (threaded_work).
NUMBA_SHARE = 1 << 15
NUMBA_THREADED_WORK = 1 << 21
# Blocks per thread of the threaded compiled loop (2-D and 3-D): a thread delayed by the machine
# leaves at most about one block to wait for (BENCHMARKS.md).
SHARES_PER_THREAD = 8
# 4 or more dimensions: output lines shorter than this (bytes) take the flat loop, longer ones
# the volume-by-volume loop, whose paired lines share their loads (BENCHMARKS.md).
FLAT_LINE_BYTES = 1024
# Elements of the flat loop's copy allowed whatever the operands' sizes.
FLAT_SMALL_COPY = 1 << 17
# Seconds it costs a process to load numba and the cached loop.
NUMBA_LOAD_SECONDS = 0.4
# Seconds per multiply-add of the numpy path (two passes per tap: multiply, add); the cost
# model's figure (choice.DIRECT_PER_MAC), measured by benchmarks/calibrate.py.
NUMPY_SECONDS_PER_MAC = 1.0e-9
# The compiled loop once chosen for this process: [kernel] or [None] (numpy). Tests set it to
# force a path.
_NUMBA: list = []
_SPENT = [0.0]  # seconds spent in the numpy path of this process (the "rent" paid so far)
_NUMBA_LOCK = threading.Lock()


def threaded_work(work: int, dtype) -> bool:
    """Whether the compiled loop shares ``work`` multiply-adds of class ``dtype`` out to the
    kernels' threads (:data:`NUMBA_THREADED_WORK`, in doubles' multiply-adds)."""
    return work * np.dtype(dtype).itemsize >= NUMBA_THREADED_WORK * 8


def numpy_seconds(work: int) -> float:
    """Predicted seconds of the numpy path of ``direct`` for ``work`` multiply-adds."""
    return NUMPY_SECONDS_PER_MAC * work


def direct(
    a: np.ndarray,
    b: np.ndarray,
    starts: Sequence[int],
    lengths: Sequence[int],
    dtype: np.dtype,
    memo: dict | None = None,
) -> np.ndarray:
    """The window ``starts``/``lengths`` of the defining sum of ``a`` and ``b`` (both ``dtype``,
    in any memory layout)."""
    size = math.prod(lengths)
    if size == 0:
        return np.zeros(tuple(lengths), dtype)
    # Convolution is commutative: loop over the operand with fewer elements.
    big, small = (a, b) if a.size >= b.size else (b, a)
    if big.ndim == 0:
        out = np.zeros(tuple(lengths), dtype)
        out[...] = product(big, small) + 0.0
        return out
    work = size * small.size
    # Zero taps can be skipped only where the data are finite (Inf * 0 is NaN); forming them is
    # always right, so small calls do not look.
    skip_zero = work > SMALL_WORK and bool((small == 0).any()) and all_finite(big, memo)
    kernel = compiled_loop(work, dtype) if dtype.kind == "f" else None
    if kernel is not None and big.ndim <= 3:  # compiled: no floating-point warnings to silence
        return _compiled(kernel, big, small, starts, lengths, dtype, skip_zero)
    if kernel is not None and kernel is loops.C_DIRECT3:  # 4 or more dimensions
        short = int(lengths[-1]) * dtype.itemsize < FLAT_LINE_BYTES
        # its copy within the padded layout and work array a job's memory plan allows
        # (bridge._job.stream: twice the larger of operand and result), or small
        room = max(2 * max(big.size, size), FLAT_SMALL_COPY)
        fits = math.prod(_flat_layout(big.shape, small.shape, starts, lengths)[3]) <= room
        if loops.C_FLAT is not None and short and fits and bool(np.isfinite(small).all()):
            return _flat_nd(loops.C_FLAT, big, small, starts, lengths, dtype, skip_zero)
        return _compiled_nd(kernel, big, small, starts, lengths, dtype, skip_zero)
    big, small = np.ascontiguousarray(big), np.ascontiguousarray(small)
    out = np.zeros(tuple(lengths), dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        if work <= SMALL_WORK and bool(np.isfinite(small).all()):
            _strided(out, big, small, starts)
        else:
            t0 = time.perf_counter()
            _blocked(out, big, small, starts, skip_zero)
            _SPENT[0] += time.perf_counter() - t0
    return out


def product(x, w, out=None):
    """``x * w`` elementwise; complex numbers by the textbook product, each real product
    rounded: ``(xr*wr - xi*wi) + (xr*wi + xi*wr)i``. numpy's own complex product fuses
    multiply-adds in its vector loops and not in their remainders, so an element's bits would
    depend on its place in the array, and 'valid' would not be a slice of 'full'
    (tests/test_kernels.py has the case that showed it)."""
    x, w = np.asarray(x), np.asarray(w)
    if x.dtype.kind != "c" and w.dtype.kind != "c":
        return np.multiply(x, w, out=out)
    xr, xi, wr, wi = x.real, x.imag, w.real, w.imag
    re = xr * wr
    re -= xi * wi
    im = xr * wi
    im += xi * wr
    if out is None:
        out = np.empty(re.shape, np.result_type(x, w))
    out.real = re
    out.imag = im
    return out


def _strided(out, big, small, starts) -> None:
    """Small outputs: every product at once from a strided view of the padded operand."""
    nd = big.ndim
    q, L = small.shape, out.shape
    P = [L[d] + q[d] - 1 for d in range(nd)]
    padded = np.zeros(P, big.dtype)
    dst, src = [], []
    for d in range(nd):
        first = starts[d] - (q[d] - 1)  # input index at padded position 0
        lo, hi = max(first, 0), min(first + P[d], big.shape[d])
        if lo >= hi:
            return
        src.append(slice(lo, hi))
        dst.append(slice(lo - first, hi - first))
    padded[tuple(dst)] = big[tuple(src)]
    st = padded.strides
    # view[j, o] = padded[o + q - 1 - j]: tap j reads the input o - j of the window's output o.
    view = np.ndarray(
        q + L,
        big.dtype,
        buffer=padded,
        offset=sum((q[d] - 1) * st[d] for d in range(nd)),
        strides=tuple(-s for s in st) + st,
    )
    prod = product(view, small.reshape(q + (1,) * nd)).reshape(small.size, -1)
    acc = out.reshape(-1)
    for t in range(small.size):  # tap after tap, as the other paths add them
        acc += prod[t]


def _blocked(out, big, small, starts, skip_zero) -> None:
    """numpy: per block of outputs along the first dimension, one multiply and add per tap."""
    taps = [j for j in np.ndindex(small.shape) if not (skip_zero and small[j] == 0)]
    L0 = out.shape[0]
    per_row = out.size // L0
    rows = max(1, BLOCK // per_row)
    blocks = list(range(0, L0, rows))

    def run(share):
        tmp = np.empty((min(rows, L0), *out.shape[1:]), out.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            for r0 in share:
                r1 = min(r0 + rows, L0)
                st = [starts[0] + r0, *starts[1:]]
                ln = [r1 - r0, *out.shape[1:]]
                shift_add(out[r0:r1], tmp[: r1 - r0], big, small, st, ln, taps)

    if len(blocks) == 1 or out.size <= BLOCK:
        run(blocks)
    else:
        pool.in_threads(run, blocks)


def shift_add(out, tmp, big, small, starts, lengths, taps=None) -> None:
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
            product(big[tuple(src)], small[j], out=part)
            out[dst_t] += part


# ---- the compiled loop -----------------------------------------------------------------------


def compiled_loop(work: int, dtype: np.dtype):
    """The compiled loop this process uses for ``work`` multiply-adds of ``dtype``, or None."""
    return _NUMBA[0] if _NUMBA else numba_kernel(work, dtype)


def numba_kernel(work: int, dtype: np.dtype):
    """The compiled loop: the C loop built at install, else numba's if loading it pays, else
    None (numpy).

    The C loop loads in a millisecond. numba costs about :data:`NUMBA_LOAD_SECONDS` once per
    process: like renting before buying, the numpy path is used until the process has spent
    that long in it (or this one call would take that long), then numba is loaded: never more
    than twice the better choice, and a one-off small job never pays for it.
    """
    if _NUMBA:
        return _NUMBA[0]
    if np.dtype(dtype).kind != "f":
        return None
    if loops.C_DIRECT3 is not None:
        return loops.C_DIRECT3
    if _SPENT[0] + numpy_seconds(work) < NUMBA_LOAD_SECONDS:
        return None
    with _NUMBA_LOCK:
        if not _NUMBA:
            _NUMBA.append(loops.numba_direct3())
    return _NUMBA[0]


def sum_2d(big: np.ndarray, small: np.ndarray, starts: Sequence[int], lengths: Sequence[int]):
    """The window ``starts``/``lengths`` of the defining sum of two matrices of one class
    (float64 or float32, the result's), by the compiled loop, or None where this process has
    no compiled loop for it (then :func:`direct` or :func:`bridge._kernels.convolve` gives the
    same bits).

    The lean path of conv, conv2 and convn on two matrices (``bridge.convolution``): no checks
    beyond the loop's own, no zero taps skipped. In the calling thread up to the work
    :func:`threaded_work` leaves there (``big`` has at least as many elements as ``small``; both
    in C or both in Fortran order are read in place, a Fortran-ordered result for
    Fortran-ordered operands, read as their transposes with the taps in the row-major order;
    anything else is copied to C order first); beyond it, the kernels' threads as
    :func:`direct` runs them. The same bits as :func:`direct` in every case.
    """
    (s0, s1), (n0, n1) = starts, lengths
    loop = _NUMBA[0] if _NUMBA else loops.C_DIRECT3
    if loop is None:
        loop = compiled_loop(n0 * n1 * small.size, big.dtype)
    if loop is None:
        return None
    if threaded_work(n0 * n1 * small.size, big.dtype):
        return _compiled(loop, big, small, starts, lengths, big.dtype, False)
    c_loop = loops.C_DIRECT3
    if c_loop is not None and loop is c_loop:  # 2-D arrays read as 1 x n0 x n1
        fb, fs = big.flags, small.flags
        # The C loop sets every output of the window: no zeros to write first.
        if fb.c_contiguous and fs.c_contiguous:
            out = np.empty((n0, n1), big.dtype)
            c_loop(out, big, small, 0, s0, s1, 0, n0, 0, n1, False)
            return out
        if fb.f_contiguous and fs.f_contiguous:  # MATLAB's: read as their transposes
            out = np.empty((n0, n1), big.dtype, order="F")
            c_loop(out, big, small, 0, s1, s0, 0, n1, 0, n0, False, 2)
            return out
    out = np.zeros((n0, n1), big.dtype)
    big = np.ascontiguousarray(big).reshape(1, *big.shape)
    small = np.ascontiguousarray(small).reshape(1, *small.shape)
    loop(out.reshape(1, n0, n1), big, small, 0, s0, s1, 0, n0, 0, n1, False)
    return out


def _compiled(kernel, big, small, starts, lengths, dtype, skip_zero) -> np.ndarray:
    # A column-major operand (as MATLAB's are read) goes to the C loop as its transpose, which
    # is row-major: no copy in, a column-major result out (written to MATLAB without a copy),
    # and the taps still summed in the operands' row-major order, so the bits of a row-major copy.
    reverse = (
        big.ndim > 1
        and big.flags.f_contiguous
        and not big.flags.c_contiguous
        and kernel is loops.C_DIRECT3
    )
    if reverse:
        big, small = big.T, small.T
        starts, lengths = starts[::-1], lengths[::-1]
    # The C loop sets every output (numba's adds to zeros): no zeros to write first.
    out = (np.empty if kernel is loops.C_DIRECT3 else np.zeros)(tuple(lengths), dtype)
    nd = big.ndim
    pad = (1,) * (3 - nd)
    o3 = out.reshape(pad + out.shape)
    x3 = np.ascontiguousarray(big).reshape(pad + big.shape)
    w3 = np.ascontiguousarray(small).reshape(pad + small.shape)
    s = [0] * (3 - nd) + [int(v) for v in starts]
    flags = (skip_zero, True) if reverse else (skip_zero,)
    lines = o3.shape[0] * o3.shape[1]
    L2 = o3.shape[2]
    if not threaded_work(out.size * small.size, dtype):  # small: one call, this thread
        kernel(o3, x3, w3, s[0], s[1], s[2], 0, lines, 0, L2, *flags)
        return out.T if reverse else out
    # Adjacent blocks of lines (columns of a vector), taken from both ends (pool.from_both_ends):
    # enough that the threads end together, each of at least NUMBA_SHARE outputs.
    want = SHARES_PER_THREAD * pool.THREADS
    if lines == 1:  # a vector: blocks of the columns
        step = max(NUMBA_SHARE, -(-L2 // want))
        shares = [(0, 1, c, min(c + step, L2)) for c in range(0, L2, step)]
    else:
        per = max(-(-NUMBA_SHARE // L2), -(-lines // want))
        shares = [(m, min(m + per, lines), 0, L2) for m in range(0, lines, per)]

    def run(share):
        kernel(o3, x3, w3, s[0], s[1], s[2], *share, *flags)

    pool.from_both_ends(run, shares)
    return out.T if reverse else out


def _compiled_nd(kernel, big, small, starts, lengths, dtype, skip_zero) -> np.ndarray:
    """The C loop on 4 or more dimensions: each output volume (an index of the leading
    dimensions, all but the last three) takes the kernel's leading indices in row-major order,
    one call each on the input volume it reads, every call adding its taps to the sums the
    calls before left (``accumulate``). So each output adds every tap in the row-major order of
    the whole kernel, starting from +0, as the numpy path does: the same bits. Row-major
    copies of column-major operands (the leading split needs the kernel's slowest index
    outermost, which their transposes would put on the lines)."""
    big, small = np.ascontiguousarray(big), np.ascontiguousarray(small)
    lead = big.ndim - 3
    out = np.zeros(tuple(lengths), dtype)
    s0, s1, s2 = (int(v) for v in starts[lead:])
    L0, L1, L2 = out.shape[lead:]
    lines = L0 * L1
    nlead, qlead = big.shape[:lead], small.shape[:lead]
    volumes = []  # (output volume, [(input volume, kernel volume), ...])
    for o in np.ndindex(*out.shape[:lead]):
        reads = []
        for j in np.ndindex(*qlead):
            i = tuple(o[d] + starts[d] - j[d] for d in range(lead))
            if all(0 <= i[d] < nlead[d] for d in range(lead)):
                reads.append((big[i], small[j]))
        if reads:
            volumes.append((out[o], reads))
    if not volumes:
        return out
    # Shares of lines of every volume: enough for the threads to finish together.
    want = 4 * pool.THREADS if threaded_work(out.size * small.size, dtype) else 1
    per = max(1, -(-lines * len(volumes) // want))
    per = min(per, lines)
    cuts = range(0, lines, per)
    shares = [(v, m, min(m + per, lines)) for v in range(len(volumes)) for m in cuts]

    def run(part):
        for v, m0, m1 in part:
            o3, reads = volumes[v]
            for x3, w3 in reads:
                kernel(o3, x3, w3, s0, s1, s2, m0, m1, 0, L2, skip_zero, 0, True)

    if len(shares) == 1:
        run(shares)
    else:
        pool.in_threads(run, shares)
    return out


def _flat_nd(flat, big, small, starts, lengths, dtype, skip_zero) -> np.ndarray:
    """The C loop on 4 or more dimensions, finite taps: the part of ``big`` the window reads,
    copied into zeros laid out so that every output is one flat line of the same taps.

    Along each axis d the window's outputs read the input indices ``starts[d] - q[d] + 1`` ..
    ``starts[d] + lengths[d] - 1``; the copy holds the part of them inside ``big``, preceded by
    as many zeros as the window reads before it (``c``) and followed by zeros, each of the
    faster axes ``P[d]`` long: enough zeros that a tap reaching past one end of the axis reads
    a zero (of this row, or of the next or previous row's gap), never a neighbour's data. Then
    output ``o`` (its place in an output laid out alike) reads ``x[m(o) + off[j]]`` for tap
    ``j`` at the one offset ``off[j]`` whatever ``o``: the flat loop sums every tap in the
    kernel's row-major order, from +0, as the defining sum does; the terms outside ``big`` are
    products of a finite tap with zero, which leave a sum that starts from +0 unchanged (it is
    never -0). So the bits of the volume-by-volume loop (:func:`_compiled_nd`, which non-finite
    taps still take). The sums of the places in the gaps are computed and dropped."""
    nd = big.ndim
    q = small.shape
    L = [int(v) for v in lengths]
    lo, hi, c, P = _flat_layout(big.shape, q, starts, lengths)
    if any(lo[d] >= hi[d] for d in range(nd)):  # no output reaches big
        return np.zeros(tuple(L), dtype)
    ln = [hi[d] - lo[d] for d in range(nd)]
    st = [math.prod(P[d + 1 :]) for d in range(nd)]
    fill = loops.C_FLAT_FILL
    if fill is not None and big.dtype == dtype and big.strides[-1] == dtype.itemsize:
        # each row written once, data then zeros (numpy's zeros then copy: two passes, and
        # its copy's per-row overhead on short rows); rows read in place
        x = np.empty(P, dtype)
        fill(x, big, np.array(lo, np.int64), np.array(ln, np.int64), 1 + c[0], 0, P[0])
    else:
        x = np.zeros(P, dtype)
        place = (slice(1 + c[0], 1 + c[0] + ln[0]), *(slice(0, ln[d]) for d in range(1, nd)))
        x[place] = big[tuple(slice(lo[d], hi[d]) for d in range(nd))]
    # each tap's offset, in the kernel's row-major order
    j = np.indices(q).reshape(nd, -1)
    off = (q[0] - j[0]) * st[0]
    for d in range(1, nd):
        off = off + (q[d] - 1 - c[d] - j[d]) * st[d]
    w = np.ravel(small).astype(dtype, copy=False)
    if skip_zero:  # big is finite: a zero tap adds exact zeros
        keep = w != 0
        off, w = off[keep], w[keep]
    off = np.ascontiguousarray(off, np.int64)
    w = np.ascontiguousarray(w)
    out = np.empty(tuple(L), dtype)
    # the line's places are those of an array of shape (L[0], P[1], ...): the C loop puts the
    # sums of the places inside out (shape L) there and drops those of the gaps
    grid = None if P[1:] == L[1:] else np.array([L[0], *P[1:], *L], np.int64)  # no gaps: None
    M = sum((L[d] - 1) * st[d] for d in range(nd)) + 1  # the last output's place, and one
    # Shares of the line, cut at multiples of 64 places, enough for the threads to end together.
    want = 4 * pool.THREADS if threaded_work(math.prod(L) * small.size, dtype) else 1
    step = -(-M // want)
    step = -(-step // 64) * 64
    shares = [(m, min(m + step, M)) for m in range(0, M, step)]

    # Blocks paired a slab of axis nd - 3 apart, where the kernel spans that axis: a vector
    # loaded or shifted for one block's tap serves the other's tap a slab on (flat's D). Not
    # where the kernel's rows are longer than the pairs' runs (4: the rest summed apart) or a
    # slab is under 2 KB (a stripe's blocks overlap): no gain measured there (BENCHMARKS.md).
    pairs = q[nd - 3] > 1 and q[nd - 1] <= 4 and st[nd - 3] * dtype.itemsize >= 2048
    D = st[nd - 3] if pairs else 0

    def run(part):
        for m0, m1 in part:
            flat(out, x, off, w, m0, m1, grid, D)

    if len(shares) == 1:
        run(shares)
    else:
        pool.in_threads(run, shares)
    return out


def _flat_layout(n, q, starts, lengths):
    """The flat loop's copy (:func:`_flat_nd`): per axis, the part of the operand (shape ``n``)
    the window reads (``lo``..``hi``), the zeros before it (``c``) and the copy's shape ``P``."""
    nd = len(n)
    s, L = [int(v) for v in starts], [int(v) for v in lengths]
    lo = [max(0, s[d] - q[d] + 1) for d in range(nd)]
    hi = [min(n[d], s[d] + L[d]) for d in range(nd)]
    ln = [max(0, hi[d] - lo[d]) for d in range(nd)]
    c = [lo[d] - (s[d] - q[d] + 1) for d in range(nd)]
    R = [L[d] + q[d] - 1 for d in range(nd)]
    # Axis 0 has a zero slab in front: a tap reaching before the first element of a faster
    # axis reads the gap of the slab before.
    P = [R[0] + 1] + [max(ln[d] + c[d], R[d] - c[d]) for d in range(1, nd)]
    return lo, hi, c, P
