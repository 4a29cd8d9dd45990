"""The FFT accuracy contract, stated independently of bridge, for the tests of ``fft-float``.

README: for finite outputs,
``|C_fft - C| <= 8 * eps * log2(L) * (||a||_1 ||b||_2 + ||a||_2 ||b||_1)`` with eps the
double-precision epsilon, ``L`` the number of points of the full result and the
norms over the finite elements of the operands; then rounded to the result class. NaN/Inf and
integer-valued data within the exact bound are as the defining sum gives them.
"""

from __future__ import annotations

import math

import numpy as np

from tests.reference import abs_bound, mdims


def _finite_abs(x) -> np.ndarray:
    x = np.abs(np.asarray(x).astype(np.complex128))
    return np.where(np.isfinite(x), x, 0.0)


def contract(a, b) -> float:
    """The FFT error bound for convn(a, b), both at MATLAB sizes."""
    a, b = _finite_abs(a), _finite_abs(b)
    ad, bd = mdims(a.shape), mdims(b.shape)
    n = max(len(ad), len(bd))
    ad, bd = ad + (1,) * (n - len(ad)), bd + (1,) * (n - len(bd))
    points = math.prod(p + q - 1 for p, q in zip(ad, bd))
    n1 = lambda x: float(np.sum(x))  # noqa: E731
    n2 = lambda x: float(np.sqrt(np.sum(x * x)))  # noqa: E731
    scale = n1(a) * n2(b) + n2(a) * n1(b)
    return 8.0 * np.finfo(np.float64).eps * max(math.log2(max(points, 2)), 1.0) * scale


def fft_bound(case) -> float:
    """The contract for a whole call of a generated case (both passes of the separable form)."""
    arrays = case.arrays
    if any(np.asarray(x).size == 0 for x in arrays):
        return 0.0
    if case.op == "conv":
        u, v = arrays
        return contract(np.ravel(u).reshape(-1, 1), np.ravel(v).reshape(-1, 1))
    if case.op == "conv2sep":
        u, v, A = arrays
        u = np.ravel(u).reshape(-1, 1)
        v = np.ravel(v).reshape(1, -1)
        first = contract(A, u)
        cols = abs_bound(_finite_abs(A), u, "full")
        return first * float(np.sum(_finite_abs(v))) + contract(cols, v)
    return contract(*arrays)
