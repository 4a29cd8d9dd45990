"""The compiled loop of ``direct`` (numba, optional): imported only by
:func:`bridge.kernels.method_direct.numba_kernel`, when the work pays for loading it.

For each output, ``out[o] += x[o - j] * w[j]`` over the taps ``j`` in index order, only where
``o - j`` lies inside ``x``: the same products added in the same order, with the same rounding
(no fused multiply-add: numba contracts only under fastmath), as the numpy path, so both give
the same bits. One call computes the outputs of lines ``l0..l1`` (indices of the first two of
three dimensions, flattened) and columns ``c0..c1`` of the last; it releases the GIL, so the
kernels' threads run shares of the output at once.
"""

from __future__ import annotations

from numba import njit

CHUNK = 2048  # outputs per piece of a line (16 KB of doubles: output and input in L1)


@njit(cache=True, nogil=True, boundscheck=False)
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
                    for j2 in range(q2):
                        wv = w[j0, j1, j2]
                        if skip_zero and wv == 0:
                            continue
                        lo = max(b0, j2 - s2)
                        hi = min(b1, n2 + j2 - s2)
                        if hi <= lo:
                            continue
                        # Slices and a loop from 0: numba then drops its negative-index
                        # checks and the loop vectorizes (4x faster, measured).
                        rs = row[lo:hi]
                        xs = xr[lo + s2 - j2 : hi + s2 - j2]
                        for k in range(hi - lo):
                            rs[k] += xs[k] * wv
