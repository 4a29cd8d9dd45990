"""``gemm``: the defining sum's products grouped as BLAS matrix products.

Along the kernel's longest dimension the kernel becomes a banded Toeplitz matrix, and each block
of output rows is one matrix product (BLAS, one thread per block, two blocks at a time) of the
rows' inputs ("im2row") with the stacked bands. The band's zeros only add exact zeros, so finite
results agree with ``direct`` to round-off (a few ulp of ``conv(|A|,|B|)``) and integer-valued
data are exact. NaN/Inf are patched (:mod:`bridge._kernels.nonfinite`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bridge._kernels import pool
from bridge._kernels.nonfinite import finite_part
from bridge._kernels.patching import patch

NAME = "gemm"

# Result bytes per block of the banded products: the L2 of one core.
BLOCK_BYTES = 1 << 19
MIN_BLOCK = 16


def block_columns(q: int) -> int:
    """Output columns per banded product for a kernel line of ``q`` taps: the largest power of
    two below ``2 q``, so the band's zeros stay at most about half its products (at least
    :data:`MIN_BLOCK`, so each product is large enough for BLAS)."""
    return max(MIN_BLOCK, 1 << max(0, (2 * q - 1).bit_length() - 1))


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
    ``'same'`` and ``'valid'`` are cut from the ``'full'`` result.
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
    fa, bad_big = finite_part(big, memo)
    fb, bad_small = finite_part(small, memo)
    # The whole 'full' result, then the window: BLAS may add a product's terms in an order that
    # depends on the matrix sizes and on the output's place in its block, so 'same' and 'valid'
    # are bit-identical slices of 'full' only if they are computed as 'full' is.
    full = tuple(p + q - 1 for p, q in zip(big.shape, small.shape))
    out = _gemm_finite(fa, fb, (0,) * nd, full, dtype)
    if tuple(lengths) != full:
        out = np.ascontiguousarray(out[tuple(slice(s, s + n) for s, n in zip(starts, lengths))])
    patch(out, big, small, starts, lengths, bad_big, bad_small, dtype)
    return out


def _gemm_finite(a, b, starts, lengths, dtype) -> np.ndarray:
    from numpy.lib.stride_tricks import as_strided

    nd = a.ndim
    q = b.shape[-1]
    R = block_columns(q)
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
    step = max(1, BLOCK_BYTES // (LW * isz))  # result rows per block

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
    # threaded BLAS spins on every small product, which a busy machine punishes).
    with pool.single_threaded_blas():
        pool.in_threads(run, list(range(0, rows, step)))
    window = (*(slice(0, n) for n in lengths[:-1]), slice(0, n_last))
    out = res.reshape(P)[window]
    return np.add(out, 0.0, dtype=dtype)  # a contiguous copy, and outputs start from +0
