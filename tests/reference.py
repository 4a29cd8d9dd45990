"""An independent statement of MATLAB's rules, for checking bridge against.

Written from the spec (../shared/spec/matlab-semantics.md) without using bridge's own helpers:
the defining sum by scattering every product a[i]*b[j] to i+j, the size formulas, and the
offsets. Slow on purpose (clarity first); keep test arrays small.
"""

from __future__ import annotations

import numpy as np


def mdims(shape) -> tuple[int, ...]:
    """MATLAB size of a numpy shape: >=2 entries, 1-D is a row, trailing 1s beyond 2 dropped."""
    dims = list(shape)
    if len(dims) < 2:
        dims = [1] * (2 - len(dims)) + dims
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return tuple(dims)


def expected_class(*arrays) -> np.dtype:
    single = any(np.asarray(x).dtype in (np.float32, np.complex64) for x in arrays)
    cplx = any(np.iscomplexobj(x) for x in arrays)
    return np.dtype(
        {
            (False, False): np.float64,
            (False, True): np.complex128,
            (True, False): np.float32,
            (True, True): np.complex64,
        }[(single, cplx)]
    )


def size_formula(shape: str, a: int, b: int) -> int:
    """Section 1 of the spec, spelled out."""
    if shape == "full":
        return a + b if (a == 0 or b == 0) else a + b - 1
    if shape == "same":
        return a
    if b == 0:
        return a
    return max(a - b + 1, 0)


def offset(shape: str, b: int) -> int:
    """Section 2: where ``same``/``valid`` start inside ``full``."""
    return {"full": 0, "same": b // 2, "valid": b - 1}[shape]


# Pairs of elements formed at once by _scatter: about 100 MB of index and product arrays.
_PAIRS_AT_ONCE = 1 << 22


def _scatter(a: np.ndarray, b: np.ndarray, full: tuple[int, ...]) -> np.ndarray:
    """The literal sum over all pairs: every product formed (0*Inf included), then added.

    Each output receives its products in the order of A's elements, then B's. The pairs go in
    slices of A's elements (in order, so the order of the adds is the same as all at once): the
    index arrays of a whole 600x700 * 31x31 case would take over 12 GB.
    """
    out = np.zeros(int(np.prod(full)), dtype=np.result_type(a, b))
    jb = np.indices(b.shape).reshape(b.ndim, 1, -1)
    av = a.ravel()
    step = max(1, _PAIRS_AT_ONCE // max(b.size, 1))
    for start in range(0, av.size, step):
        flat = np.arange(start, min(start + step, av.size))
        ia = np.array(np.unravel_index(flat, a.shape)).reshape(a.ndim, -1, 1)
        target = (ia + jb).reshape(a.ndim, -1)
        lin = np.ravel_multi_index(tuple(target), full)
        with np.errstate(invalid="ignore", over="ignore"):
            prod = np.multiply.outer(av[flat], b.ravel()).ravel()
            np.add.at(out, lin, prod)
    return out.reshape(full)


def defining_sum(A, B, shape: str = "full") -> np.ndarray:
    """convn(A, B, shape) by the definition, in the result class, at MATLAB's size.

    A real operand of a complex result is promoted to ``x + 0i`` first and every product is the
    textbook complex product (what Octave's BLAS does; see the README).
    """
    A = np.asarray(A)
    B = np.asarray(B)
    dtype = expected_class(A, B)
    ad, bd = mdims(A.shape), mdims(B.shape)
    n = max(len(ad), len(bd))
    ad = ad + (1,) * (n - len(ad))
    bd = bd + (1,) * (n - len(bd))
    sizes = tuple(size_formula(shape, a, b) for a, b in zip(ad, bd))
    if 0 in ad or 0 in bd or 0 in sizes:
        return np.zeros(mdims(sizes), dtype)
    a = A.reshape(ad).astype(dtype)
    b = B.reshape(bd).astype(dtype)
    full = tuple(x + y - 1 for x, y in zip(ad, bd))
    c = _scatter(a, b, full)
    sl = tuple(slice(offset(shape, y), offset(shape, y) + s) for y, s in zip(bd, sizes))
    return np.asarray(c[sl]).astype(dtype).reshape(mdims(sizes))


def abs_bound(A, B, shape: str = "full") -> np.ndarray:
    """conv(|A|, |B|) in double: the scale of the round-off allowed at each output."""
    A = np.abs(np.nan_to_num(np.asarray(A).astype(np.complex128), nan=0, posinf=0, neginf=0))
    B = np.abs(np.nan_to_num(np.asarray(B).astype(np.complex128), nan=0, posinf=0, neginf=0))
    return defining_sum(A, B, shape).real


def assert_matlab_equal(got, want, bound, dtype, ulps: float = 8.0) -> None:
    """Same class and size; NaN and Inf exactly where ``want`` has them; finite values within
    ``ulps`` units of round-off of ``bound`` (conv(|A|,|B|)), exact where ``bound`` is exact."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == dtype, f"class {got.dtype}, expected {dtype}"
    assert got.shape == want.shape, f"size {got.shape}, expected {want.shape}"
    eps = np.finfo(dtype).eps
    tol = ulps * eps * np.asarray(bound, dtype=np.float64)
    for part in ("real", "imag") if dtype.kind == "c" else ("real",):
        g = getattr(got, part).astype(np.float64)
        w = getattr(want, part).astype(np.float64)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"NaN positions ({part})")
        inf_g = np.where(np.isinf(g), np.sign(g), 0)
        inf_w = np.where(np.isinf(w), np.sign(w), 0)
        np.testing.assert_array_equal(inf_g, inf_w, err_msg=f"Inf positions ({part})")
        fin = np.isfinite(w)
        err = np.abs(g[fin] - w[fin])
        assert np.all(err <= tol[fin]), (
            f"{part}: max error {err.max()} exceeds {ulps} ulp of conv(|A|,|B|)"
        )


def _as_class(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return x.astype(dtype if x.dtype.kind == "c" else np.empty(0, dtype).real.dtype)


def reference(op: str, arrays, shape: str) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    """(expected result, conv(|.|, |.|) bound, class) of a MATLAB call, from the spec alone."""
    shape = shape.lower()
    arrays = [np.asarray(x) for x in arrays]
    dtype = expected_class(*arrays)
    arrays = [_as_class(x, dtype) for x in arrays]
    if op == "conv":
        u, v = arrays
        col = (u.reshape(-1, 1), v.reshape(-1, 1))
        # conv.m: in 'full' the longer input decides (ties: the second); else the first.
        decider = u if (shape != "full" or u.size > v.size) else v
        row = mdims(decider.shape)[0] == 1
        want = defining_sum(*col, shape)
        bound = abs_bound(*col, shape)
        if row:
            want, bound = want.reshape(1, -1), bound.reshape(1, -1)
        return want, bound, dtype
    if op == "conv2sep":
        u, v, A = arrays
        if 0 in (u.size, v.size, A.size):
            sizes = [size_formula(shape, a, b) for a, b in zip(mdims(A.shape), (u.size, v.size))]
            return np.zeros(sizes, dtype), np.zeros(sizes), dtype
        cols = defining_sum(A, u.reshape(-1, 1), shape)
        want = defining_sum(cols, v.reshape(1, -1), shape)
        bound = abs_bound(abs_bound(A, u.reshape(-1, 1), shape), v.reshape(1, -1), shape)
        return want.astype(dtype), bound, dtype
    A, B = arrays
    return defining_sum(A, B, shape), abs_bound(A, B, shape), dtype
