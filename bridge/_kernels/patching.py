"""Patching NaN/Inf around the fast methods (``gemm`` and the FFTs) by the defining sum.

Non-finite inputs are replaced by zeros (:func:`bridge._kernels.nonfinite.finite_part`), the fast
method runs, and every output whose window covers a non-finite input is recomputed by the
defining sum (:func:`patch`). The outputs whose window covers none are exactly the outputs that
do not involve them in the defining sum either, so NaN and Inf land exactly where MATLAB puts
them. Above ``method_direct``, below the methods that use it.
"""

from __future__ import annotations

from bridge._kernels.method_direct import direct

# At most this many boxes around non-finite inputs; beyond, the whole window is direct.
MAX_PATCH_BOXES = 256


def patch(out, a, b, starts, lengths, bad_a, bad_b, dtype) -> None:
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
            if len(boxes) > MAX_PATCH_BOXES:
                out[...] = direct(a, b, starts, lengths, dtype)
                return
    for lo, hi in boxes:
        sl = tuple(slice(low - s, h - s) for low, h, s in zip(lo, hi, starts))
        out[sl] = direct(a, b, lo, [h - low for low, h in zip(lo, hi)], dtype)
