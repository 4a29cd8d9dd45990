"""The compiled loop of ``direct`` (numba, optional): compiled (or loaded from numba's cache) by
:func:`compile_direct3`, which :func:`bridge._kernels.loops.numba_direct3` calls when the work
pays for loading numba; importing this module does not import numba.

For each output, ``out[o] += x[o - j] * w[j]`` over the taps ``j`` in index order, only where
``o - j`` lies inside ``x``: the same products added in the same order, with the same rounding
(no fused multiply-add: numba contracts only under fastmath), as the numpy path, so both give
the same bits. One call computes the outputs of lines ``l0..l1`` (indices of the first two of
three dimensions, flattened) and columns ``c0..c1`` of the last; it releases the GIL, so the
kernels' threads run shares of the output at once.
"""

from __future__ import annotations

CHUNK = 2048  # outputs per piece of a line (16 KB of doubles: output and input in L1)


def _tap(row, xr, wv, lo, hi, d):  # pragma: no cover - compiled
    """row[k] += xr[k + d] * wv for k in lo..hi (slices and a loop from 0: numba then drops its
    negative-index checks and the loop vectorizes, where indexing does not)."""
    if hi <= lo:
        return
    rs = row[lo:hi]
    xs = xr[lo + d : hi + d]
    for k in range(hi - lo):
        rs[k] += xs[k] * wv


def direct3(out, x, w, s0, s1, s2, l0, l1, c0, c1, skip_zero):  # pragma: no cover - compiled
    L1 = out.shape[1]
    n0, n1, n2 = x.shape
    q0, q1, q2 = w.shape
    for line in range(l0, l1):
        i0 = line // L1
        i1 = line - i0 * L1
        o0 = i0 + s0
        o1 = i1 + s1
        row = out[i0, i1]
        # Columns in pieces of CHUNK outputs, so that every tap's pass stays in L1.
        for b0 in range(c0, c1, CHUNK):
            b1 = min(b0 + CHUNK, c1)
            for j0 in range(q0):
                x0 = o0 - j0
                if x0 < 0 or x0 >= n0:
                    continue
                for j1 in range(q1):
                    x1 = o1 - j1
                    if x1 < 0 or x1 >= n1:
                        continue
                    xr = x[x0, x1]
                    j2 = 0
                    while j2 < q2:
                        wa = w[j0, j1, j2]
                        # Output k takes tap t from x[k + s2 - t], for k in [t - s2, n2 + t - s2).
                        if j2 + 3 <= q2:
                            wb = w[j0, j1, j2 + 1]
                            wc = w[j0, j1, j2 + 2]
                            lo_a = max(b0, j2 - s2)
                            hi_a = min(b1, n2 + j2 - s2)
                            lo_b = max(b0, j2 + 1 - s2)
                            hi_b = min(b1, n2 + j2 + 1 - s2)
                            lo_c = max(b0, j2 + 2 - s2)
                            hi_c = min(b1, n2 + j2 + 2 - s2)
                            zero = skip_zero and (wa == 0 or wb == 0 or wc == 0)
                            if hi_a > lo_c and not zero:
                                # Three taps in one pass where all three reach; each output
                                # still adds them in tap order, as three passes would.
                                _tap(row, xr, wa, lo_a, lo_c, s2 - j2)
                                _tap(row, xr, wb, lo_b, lo_c, s2 - j2 - 1)
                                rs = row[lo_c:hi_a]
                                xa = xr[lo_c + s2 - j2 : hi_a + s2 - j2]
                                xb = xr[lo_c + s2 - j2 - 1 : hi_a + s2 - j2 - 1]
                                xc = xr[lo_c + s2 - j2 - 2 : hi_a + s2 - j2 - 2]
                                for k in range(hi_a - lo_c):
                                    rs[k] = ((rs[k] + xa[k] * wa) + xb[k] * wb) + xc[k] * wc
                                _tap(row, xr, wb, max(lo_b, hi_a), hi_b, s2 - j2 - 1)
                                _tap(row, xr, wc, max(lo_c, hi_a), hi_c, s2 - j2 - 2)
                                j2 += 3
                                continue
                        if not (skip_zero and wa == 0):
                            _tap(row, xr, wa, max(b0, j2 - s2), min(b1, n2 + j2 - s2), s2 - j2)
                        j2 += 1


_PLAIN = {"_tap": _tap, "direct3": direct3}


def compile_direct3():
    """numba's ``direct3`` (numba imported here: it costs about 0.4 s). Its helper ``_tap`` is
    compiled first, so that ``direct3`` calls the compiled one."""
    from numba import njit

    jit = njit(cache=True, nogil=True, boundscheck=False)
    globals()["_tap"] = jit(_PLAIN["_tap"])
    return jit(_PLAIN["direct3"])
