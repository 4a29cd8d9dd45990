"""``auto``: the fastest method that keeps MATLAB's answers, by a cost model.

The constants were measured on a 2-core AVX2 machine (``benchmarks/calibrate.py``,
BENCHMARKS.md): ``direct`` for small kernels, ``gemm`` for medium 1-D kernels, FFT for large
ones -- an FFT only where it is exact (integer-valued data within the bound) or where the data
are non-integer floating point (the FFT contract). The costs are those of a cold process of
this installation (the C loop of the direct sum counted where it was built, numba's loop never,
since it is loaded only once a process has worked long enough), whatever this process has
loaded, so the choice, and so the result's bits, never depend on the process.

The choice depends on the operands and the *full* result, not on the window, so ``'same'`` and
``'valid'`` take the method of ``'full'`` and are bit-identical slices of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bridge._kernels import loops, method_direct, method_fft, method_gemm
from bridge._kernels.method_fft import both_integer_valued, exact_bound_holds
from bridge._kernels.nonfinite import finite_part

# Cost model (seconds), measured on the benchmark machine with benchmarks/calibrate.py
# (BENCHMARKS.md, "Cost model"): per multiply-add of the defining sum, per multiply-add of the
# banded products (band zeros included), per point * log2(points) of the FFTs, and per output
# for the copies around each method.
DIRECT_PER_MAC = method_direct.NUMPY_SECONDS_PER_MAC  # numpy path (multiply, add per tap)
DIRECT_PER_OUT = 4e-9
DIRECT_SMALL_FIXED = 1e-5  # the strided product of small outputs
DIRECT_PER_BLOCK_TAP = 2e-6  # numpy path: Python's overhead per tap per block
# The C loop of the direct sum (built at install; real data), two threads;
# volumes cost about twice as much per multiply-add (their lines are shorter and read rows of
# several planes).
C_LOOP_PER_MAC = 0.032e-9
C_LOOP_PER_MAC_3D = 0.065e-9
# 4 or more dimensions: one flat line over a zero-gapped copy (method_direct._flat_nd; its
# places in the gaps between rows are not counted: the choice sees the full result, which has
# none).
C_LOOP_PER_MAC_ND = 0.035e-9
C_LOOP_PER_OUT = 1e-9  # the output's first touch and the line set-up
C_LOOP_FIXED = 5e-6
GEMM_PER_MAC = 0.05e-9
GEMM_PER_COPY = 0.35e-9  # per element gathered into the rows' inputs
GEMM_PER_BLOCK_LINE = 2e-6  # Python's overhead per kernel line per block of rows
GEMM_PER_OUT = 6e-9
FFT_PER_POINT = 1.1e-9  # numpy.fft, the lines shared out to two threads
# The overlap-save tiles (each tile's transforms in cache), per point of every
# tile * log2(the tile's points), the tiles shared out to two threads.
FFT_TILE_PER_POINT = 0.45e-9
FFT_PER_OUT = 4e-9
FFT_SUM_PER_CMAC = 0.4e-9  # the direct sum along the last axis, per complex multiply-add
FFT_FIXED = 1e-4
GEMM_FIXED = 5e-4
COMPLEX_FACTOR = 4.0  # complex multiply-adds cost about four real ones (FFT: two)


def _big_small(a_shape, b_shape):
    if math.prod(a_shape) >= math.prod(b_shape):
        return tuple(a_shape), tuple(b_shape)
    return tuple(b_shape), tuple(a_shape)


def _fft_points(big, small) -> tuple[float, float]:
    if method_fft.use_overlap_add(big, small):
        L = method_fft.oa_block(small[0])
        return -(-big[0] // (L - small[0] + 1)) * L, math.log2(L)
    full = method_fft.fft_size(big, small)
    axes = method_fft.fft_axes(big, small)
    if method_fft.direct_last_axis(big, small):
        axes = axes[:-1]  # the last axis is summed (_fft_transform_seconds)
    per = max(math.log2(max(math.prod(full[k] for k in axes), 2)), 1.0)
    return math.prod(full), per


def _tiled_seconds(big, small) -> float | None:
    """The transforms of the overlap-save tiles (:func:`method_fft.tile_plan`), real data."""
    plan = method_fft.tile_plan(big, small)
    if plan is None:
        return None
    fshape, taps = plan
    return FFT_TILE_PER_POINT * sum(
        tiles * math.prod(shape) * math.log2(math.prod(shape))
        for shape, tiles in method_fft.tile_shapes(big, taps, fshape)
    )


def _fft_transform_seconds(big, small, cplx: bool) -> float:
    tiled = None if cplx else _tiled_seconds(big, small)
    if tiled is not None:
        return tiled
    points, per = _fft_points(big, small)
    seconds = FFT_PER_POINT * points * per
    if method_fft.direct_last_axis(big, small):  # and the sums along the last axis
        taps = min(big[-1], small[-1])
        seconds += FFT_SUM_PER_CMAC * points * taps / (1.0 if cplx else 2.0)
    return (2.0 if cplx else 1.0) * seconds


def _direct_seconds(big, small, lengths, cplx: bool) -> float:
    taps = math.prod(small)
    outs = math.prod(lengths)
    work = outs * taps
    if not cplx and loops.c_loop_available():
        per_mac = {1: C_LOOP_PER_MAC, 2: C_LOOP_PER_MAC, 3: C_LOOP_PER_MAC_3D}.get(
            len(big), C_LOOP_PER_MAC_ND
        )
        return C_LOOP_FIXED + per_mac * work + C_LOOP_PER_OUT * outs
    k = COMPLEX_FACTOR if cplx else 1.0
    if work <= method_direct.SMALL_WORK:
        return DIRECT_SMALL_FIXED + k * DIRECT_PER_MAC * work
    blocks = -(-outs // method_direct.BLOCK)
    direct = k * DIRECT_PER_MAC * work + DIRECT_PER_OUT * outs
    return direct + DIRECT_PER_BLOCK_TAP * blocks * taps


def estimate_costs(a_shape, b_shape, lengths, cplx: bool = False) -> dict[str, float]:
    """Predicted seconds of ``direct``, ``gemm`` and ``fft`` for operands of these shapes, as in
    a cold process of this installation (the C loop where it was built; numba's loop not
    counted), whatever this process has loaded, so that the choice, and so the result's bits,
    never depend on the process."""
    big, small = _big_small(a_shape, b_shape)
    taps = math.prod(small)
    outs = math.prod(lengths)
    k = COMPLEX_FACTOR if cplx else 1.0
    direct = _direct_seconds(big, small, lengths, cplx)
    costs = {"direct": direct}
    q = max(small)
    if q >= 2 and q == taps:
        # Offered for kernels of one line (vectors) only: with several lines the gathering of
        # each row's inputs costs more than the products save (BENCHMARKS.md).
        R = method_gemm.block_columns(q)
        lines = taps // q
        W = R + q - 1
        rows = outs * (1 + R / max(lengths[-1], 1)) / R  # rows of R outputs, with padding
        blocks = rows * lines * W * 8 / method_gemm.BLOCK_BYTES
        costs["gemm"] = (
            k * GEMM_PER_MAC * rows * R * lines * W
            + GEMM_PER_COPY * rows * lines * W
            + GEMM_PER_BLOCK_LINE * blocks * lines
            + GEMM_PER_OUT * outs
            + GEMM_FIXED
        )
        if small[-1] != q:  # the operands are transposed first, and the result back
            costs["gemm"] += 2 * GEMM_PER_OUT * outs
    # Never what this process has compiled: a choice that depended on it would give a warm
    # server, a batch worker or a long session other bits than the cold command line for the
    # same job (FFT and direct round differently).
    t = _fft_transform_seconds(big, small, cplx)
    costs["fft"] = t + FFT_PER_OUT * outs + FFT_FIXED
    return costs


def direct_is_certain(a_shape, b_shape, lengths, cplx: bool = False) -> bool:
    """Whether ``auto`` picks ``direct`` for operands of these shapes and this full result
    (``lengths``) whatever their values: the sum is small (:data:`method_direct.SMALL_WORK`:
    nothing else comes close), or its predicted cost is below the parts of the other methods'
    costs that need no working out (their fixed and per-output costs): what
    :func:`estimate_costs` would pick, without the rest of the model."""
    big, small = _big_small(a_shape, b_shape)
    outs = math.prod(lengths)
    taps = math.prod(small)
    if outs * taps <= method_direct.SMALL_WORK:
        return True
    direct = _direct_seconds(big, small, lengths, cplx)
    # estimate_costs adds the transforms (the banded products) to these terms
    if direct >= FFT_FIXED + FFT_PER_OUT * outs:
        return False
    if max(small) >= 2 and max(small) == taps:  # the banded products are offered
        return direct < GEMM_FIXED + GEMM_PER_OUT * outs
    return True


def choose_method(a: np.ndarray, b: np.ndarray, lengths: Sequence[int], memo=None) -> str:
    """Pick the fastest method that keeps MATLAB's answers (within the documented contract)."""
    cplx = a.dtype.kind == "c" or b.dtype.kind == "c"
    if direct_is_certain(a.shape, b.shape, lengths, cplx):
        return "direct"
    costs = estimate_costs(a.shape, b.shape, lengths, cplx)
    best = min(costs, key=costs.__getitem__)
    if best != "fft":
        return best
    fa, _ = finite_part(a, memo)
    fb, _ = finite_part(b, memo)
    if both_integer_valued(fa, fb, memo):
        if exact_bound_holds(fa, fb):
            return "fft-float"  # rounds to the exact integers
        # Integer data beyond the exact bound: FFT would round them wrongly.
        del costs["fft"]
        return min(costs, key=costs.__getitem__)
    return "fft-float"


def carried_dims(a_shape: Sequence[int], b_shape: Sequence[int]) -> list[int]:
    """The dimensions :func:`bridge._kernels.convolve` keeps: where either operand extends
    (dimensions where both are singletons carry nothing), at least the first."""
    return [d for d in range(len(a_shape)) if a_shape[d] != 1 or b_shape[d] != 1] or [0]


def picks_direct(a_shape: Sequence[int], b_shape: Sequence[int]) -> bool:
    """Whether ``convolve(a, b, ..., method='auto')`` computes real operands of these shapes
    (same number of dimensions) by ``direct`` whatever their values: the choice
    :func:`bridge._kernels.convolve` makes (dimensions where both are singletons dropped, the
    full result's size), where it needs no look at the data. False where it would look (an FFT
    is cheapest: the data decide)."""
    keep = carried_dims(a_shape, b_shape)
    a = tuple(int(a_shape[d]) for d in keep)
    b = tuple(int(b_shape[d]) for d in keep)
    full = [p + q - 1 for p, q in zip(a, b)]
    if direct_is_certain(a, b, full):
        return True
    costs = estimate_costs(a, b, full)
    return min(costs, key=costs.__getitem__) == "direct"
