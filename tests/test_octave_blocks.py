"""GNU Octave's own test blocks for conv, conv2 and convn, run through bridge's Python API.

Translated block by block from Octave 7.3's ``m/polynomial/conv.m`` (its ``%!`` tests) and
``libinterp/corefcn/conv2.cc`` (installed as ``conv2.cc-tst``), every block. Octave's ``assert(x,
y)`` without a tolerance is exact equality of size, class and every value, and so is
:func:`same` here; in particular ``'same'`` and ``'valid'`` must be bit-identical slices of
``'full'``, on random (non-integer) data, for every method. Octave's ``rand`` data become
numpy's with fixed seeds. Where Octave itself deviates from MATLAB (0x0 for empty results,
its bug 39314 in three 'valid' blocks, error texts), MATLAB's answer is asserted, as bridge
gives it; the blocks that only check that Octave raises check that bridge raises.
"""

from __future__ import annotations

import numpy as np
import pytest

import bridge
from bridge import _kernels as kernels
from bridge.errors import BridgeError
from tests.reference import defining_sum

conv, conv2, convn = bridge.conv, bridge.conv2, bridge.convn
METHODS = [m for m in kernels.METHODS if m not in kernels.STRICT_METHODS]


def same(got, want) -> None:
    """Octave's assert(got, want): same size, class and values (NaN where NaN), tolerance 0."""
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


def col(x) -> np.ndarray:
    return np.asarray(x, dtype=float).reshape(-1, 1)


def row(x) -> np.ndarray:
    return np.asarray(x, dtype=float).reshape(1, -1)


def rand(*dims, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(dims)


def magic(n: int) -> np.ndarray:
    """MATLAB's magic(n) (its three constructions: odd, doubly even, singly even)."""
    if n % 2 == 1:
        J, Ii = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1))
        A = np.mod(Ii + J - (n + 3) // 2, n)
        B = np.mod(Ii + 2 * J - 2, n)
        return (n * A + B + 1).astype(float)
    if n % 4 == 0:
        J, Ii = np.meshgrid(np.arange(1, n + 1), np.arange(1, n + 1))
        K = (np.mod(Ii, 4) // 2) == (np.mod(J, 4) // 2)
        M = np.arange(1, n * n + 1).reshape(n, n).astype(float)  # reshape(1:n*n,n,n)'
        M[K] = n * n + 1 - M[K]
        return M
    p = n // 2
    M = magic(p)
    M = np.block([[M, M + 2 * p * p], [M + 3 * p * p, M + p * p]])
    if n == 2:
        return M
    i = np.arange(p)
    k = (n - 2) // 4
    j = np.r_[np.arange(k), np.arange(n - k + 1, n)]
    rows = np.r_[i, i + p]
    M[np.ix_(rows, j)] = M[np.ix_(np.r_[i + p, i], j)]
    i = k
    j = np.array([0, i])
    M[np.ix_([i, i + p], j)] = M[np.ix_([i + p, i], j)]
    return M


def reshape_m(x, dims) -> np.ndarray:
    """MATLAB's reshape (column-major)."""
    return np.reshape(np.asarray(x, dtype=float), dims, order="F")


# ---- conv.m ----------------------------------------------------------------------------------


def test_conv_m_orientation_and_scalars():
    x, y, b, c = np.ones((3, 1)), np.ones((1, 3)), 2.0, 3.0
    same(conv(x, x), col([1, 2, 3, 2, 1]))
    same(conv(y, y), row([1, 2, 3, 2, 1]))
    same(conv(x, y), row([1, 2, 3, 2, 1]))
    same(conv(y, x), col([1, 2, 3, 2, 1]))
    same(conv(c, x), col([3, 3, 3]))
    same(conv(c, y), row([3, 3, 3]))
    same(conv(x, c), col([3, 3, 3]))
    same(conv(y, c), row([3, 3, 3]))
    same(conv(b, c), np.array([[6.0]]))


@pytest.mark.parametrize(
    "a, b, size_ab, size_ba",
    [
        (row(range(1, 11)), row(range(1, 4)), (1, 12), (1, 12)),
        (col(range(1, 11)), row(range(1, 4)), (12, 1), (12, 1)),
        (row(range(1, 11)), col(range(1, 4)), (1, 12), (1, 12)),
    ],
)
def test_conv_m_sizes(a, b, size_ab, size_ba):
    assert conv(a, b).shape == size_ab
    assert conv(b, a).shape == size_ba


def test_conv_m_shapes():
    a, b = row(range(1, 11)), row(range(1, 4))
    same(conv(a, b, "full"), conv(a, b))
    same(conv(b, a, "full"), conv(b, a))
    same(conv(a, b, "same"), row([4, 10, 16, 22, 28, 34, 40, 46, 52, 47]))
    same(conv(b, a, "same"), row([28, 34, 40]))
    same(conv(a, b, "valid"), row([10, 16, 22, 28, 34, 40, 46, 52]))
    same(conv(b, a, "valid"), np.zeros((1, 0)))


@pytest.mark.parametrize(
    "call",
    [
        lambda: conv(1),
        lambda: conv(np.array([[1, 2], [3, 4]]), 3),
        lambda: conv(3, np.array([[1, 2], [3, 4]])),
        lambda: conv(2, 3, "INVALID_SHAPE"),
    ],
    ids=["one argument", "A not a vector", "B not a vector", "bad shape"],
)
def test_conv_m_errors(call):
    with pytest.raises((BridgeError, TypeError)):
        call()


# ---- conv2.cc: conv2 -------------------------------------------------------------------------


def test_conv2_cc_values():
    c = np.array([[0, 1, 2, 3], [1, 8, 12, 12], [4, 20, 24, 21], [7, 22, 25, 18]], float)
    A, B = np.array([[0.0, 1], [1, 2]]), np.arange(1.0, 10).reshape(3, 3)
    same(conv2(A, B), c)
    same(conv2(A.astype(np.float32), B.astype(np.float32)), c.astype(np.float32))
    c = np.array([[1, 4, 4], [5, 18, 16], [14, 48, 40], [19, 62, 48], [15, 48, 36]], float)
    M = np.array([[1.0, 2], [3, 4], [5, 6]])
    same(conv2(row([1, 2, 3]), row([1, 2]), M), c)
    same(conv2(row([1, 2, 3]), row([1, 2]), M, "full"), conv2(row([1, 2, 3]), row([1, 2]), M))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kernel", [4, 5])
def test_conv2_cc_same_and_valid_are_slices_of_full(method, kernel):
    A = rand(3, 4, seed=1)
    B = rand(kernel, kernel, seed=kernel)
    C = conv2(A, B, method=method)
    same(conv2(A, B, "full", method=method), C)
    same(conv2(A, B, "same", method=method), C[2:5, 2:6])
    # Octave: zeros(0, 1) and zeros(0, 0); MATLAB's size formula gives 0x1 and 0x0 too.
    same(conv2(A, B, "valid", method=method), np.zeros((0, 1) if kernel == 4 else (0, 0)))
    assert conv2(B, A, "valid", method=method).shape == ((2, 1) if kernel == 4 else (3, 2))


def test_conv2_cc_bug_34893():
    M = np.array([[1.0, 2, 3, 4, 5], [1, 2, 3, 4, 5]])
    same(conv2(M, row([1, 2]), "same"), np.array([[4.0, 7, 10, 13, 10]] * 2))
    same(conv2(M.T, col([1, 2]), "same"), np.array([[4.0, 7, 10, 13, 10]] * 2).T)
    same(conv2(M, row([1, 2]), "valid"), np.array([[4.0, 7, 10, 13]] * 2))
    same(conv2(M.T, col([1, 2]), "valid"), np.array([[4.0, 7, 10, 13]] * 2).T)


@pytest.mark.parametrize("method", METHODS)
def test_conv2_cc_valid_is_exactly_the_middle_of_full(method):
    x = rand(100, 100, seed=42)
    y = np.ones((5, 5))
    same(conv2(x, y, "valid", method=method), conv2(x, y, method=method)[4:-4, 4:-4])


@pytest.mark.parametrize(
    "call",
    [
        lambda: conv2(),
        lambda: conv2(1),
        lambda: conv2(np.ones((2, 2)), np.ones((2, 2, 2))),
        lambda: conv2(1, 2, "NOT_A_SHAPE"),
        lambda: conv2(np.ones((2, 2)), 1, 1),
        lambda: conv2(1, np.ones((2, 2)), 1),
    ],
    ids=["no arguments", "one argument", "N-D", "bad shape", "u matrix", "v matrix"],
)
def test_conv2_cc_errors(call):
    with pytest.raises((BridgeError, TypeError)):
        call()


# ---- conv2.cc: convn -------------------------------------------------------------------------


def test_convn_cc_bug_39314():
    v = reshape_m([1, 2], (1, 1, 2))
    same(convn(v, v), reshape_m([1, 4, 4], (1, 1, 3)))
    same(convn(v, v, "same"), reshape_m([4, 4], (1, 1, 2)))
    same(convn(v, v, "valid"), np.array([[4.0]]))


CONVN_CASES = {
    # a, b, 'same' slice, 'valid' slice (Octave's 1-based ranges made 0-based)
    "3-D by 3-D": (
        (10, 10, 10),
        (3, 3, 3),
        np.s_[1:11, 1:11, 1:11],
        np.s_[2:10, 2:10, 2:10],
    ),
    "3-D by 2-D": ((10, 10, 10), (3, 3), np.s_[1:11, 1:11, :], np.s_[2:10, 2:10, :]),
    "2-D by 3-D": ((10, 10), (3, 3, 3), np.s_[1:11, 1:11, 1], np.s_[2:10, 2:10, 2:2]),
    "5-D by 4-D": (
        (10, 15, 7, 8, 10),
        (4, 3, 2, 3),
        np.s_[2:12, 1:16, 1:8, 1:9, :],
        np.s_[3:10, 2:15, 1:7, 2:8, :],
    ),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", CONVN_CASES, ids=list(CONVN_CASES))
def test_convn_cc_same_and_valid_are_slices_of_full(case, method):
    a_dims, b_dims, same_sl, valid_sl = CONVN_CASES[case]
    a, b = rand(*a_dims, seed=10), rand(*b_dims, seed=11)
    c = convn(a, b, "full", method=method)
    same(convn(a, b, "same", method=method), c[same_sl])
    same(convn(a, b, "valid", method=method), c[valid_sl])


def test_convn_cc_integer_4d_values():
    a = reshape_m(np.floor(magic(16) / 10).reshape(-1, order="F"), (4, 8, 4, 2))
    b = reshape_m(magic(6).reshape(-1, order="F"), (4, 3, 3))
    c = convn(a, b, "full")
    assert c.shape == (7, 10, 6, 2)
    # The first rows of Octave's c(:,:,1,1) and c(:,:,6,2), as its test block lists them.
    np.testing.assert_array_equal(
        c[0, :, 0, 0], [875, 1415, 1215, 741, 288, 264, 635, 1109, 687, 171]
    )
    np.testing.assert_array_equal(c[6, :, 5, 1], [60, 270, 556, 857, 1024, 870, 569, 282, 66, 0])
    same(c, defining_sum(a, b, "full"))
    same(convn(a, b, "same"), c[2:6, 1:9, 1:5, :])
    same(convn(a, b, "valid"), c[3:4, 2:8, 2:4, :])


@pytest.mark.parametrize(
    "A, B, cls",
    [
        (rand(5, 5, seed=1), rand(3, 3, seed=2), np.float64),
        (rand(5, 5, seed=1).astype(np.float32), rand(3, 3, seed=2), np.float32),
        (rand(5, 5, seed=1), rand(3, 3, seed=2).astype(np.float32), np.float32),
        (np.ones((5, 5), bool), rand(3, 3, seed=2), np.float64),
        (np.ones((5, 5), bool), rand(3, 3, seed=2).astype(np.float32), np.float32),
        (np.ones((5, 5), np.uint8), rand(3, 3, seed=2), np.float64),
        (rand(3, 3, seed=2).astype(np.float32), np.ones((5, 5), np.uint8), np.float32),
    ],
)
def test_convn_cc_classes(A, B, cls):
    assert convn(A, B).dtype == cls


@pytest.mark.parametrize(
    "call",
    [
        lambda: convn(),
        lambda: convn(1),
        lambda: convn(1, 2, "NOT_A_SHAPE"),
        lambda: convn(rand(3, 3, seed=0), 1, 1),
    ],
    ids=["no arguments", "one argument", "bad shape", "numeric shape"],
)
def test_convn_cc_errors(call):
    with pytest.raises((BridgeError, TypeError)):
        call()
