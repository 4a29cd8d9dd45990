"""The FFT's overlap-save tiles (method_fft.tile_plan, _tiled) against the defining sum: the
FFT contract (exact on integer data within the exact bound), windows bit-identical slices of
'full', the same bits whatever the memory layout and the threads, NaN/Inf patched. Small
tiles (the tiling constants lowered) give many tiles, partial edge tiles and tiles with no
data on small operands; one case keeps the real constants. No timings are asserted."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bridge
from bridge import _semantics as semantics
from bridge._kernels import method_fft, pool
from tests.kernel_bounds import contract
from tests.reference import defining_sum

# The fixture sets constants and records calls; each example clears the record first.
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of 8 points and up, kernels of 3 taps and up (none summed directly): many tiles."""
    monkeypatch.setattr(method_fft, "TILE_MIN", 8)
    monkeypatch.setattr(method_fft, "TILE_TAPS_FACTOR", 2)
    monkeypatch.setattr(method_fft, "DIRECT_AXIS_TAPS", 2)
    calls = []
    real = method_fft._tiled
    monkeypatch.setattr(method_fft, "_tiled", lambda *a: calls.append(a) or real(*a))
    return calls


def windows(A, B):
    for shape in ("same", "valid"):
        yield (
            shape,
            tuple(
                slice(s, s + n)
                for s, n in (semantics.window(shape, p, q) for p, q in zip(A.shape, B.shape))
            ),
        )


def assert_same_bits(got, want) -> None:
    """Equal values and equal signs of zero (assert_array_equal takes -0.0 for +0.0)."""
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def check_tiled(A, B, integer: bool, calls: list) -> None:
    full = bridge.conv2(A, B, "full", method="fft-float")
    assert calls, "the tiled path was not taken"
    assert not np.any(np.signbit(full) & (full == 0)), "outputs start from +0"
    want = defining_sum(A, B, "full")
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isnan(full), np.isnan(want))
    np.testing.assert_array_equal(full[~finite], want[~finite])  # patched: the defining sum's
    if integer:
        np.testing.assert_array_equal(full, want)
        if np.all(np.isfinite(A)) and np.all(np.isfinite(B)):
            np.testing.assert_array_equal(bridge.conv2(A, B, "full", method="fft"), want)
    else:
        assert np.max(np.abs(full[finite] - want[finite]), initial=0.0) <= contract(A, B)
    for shape, window in windows(A, B):
        assert_same_bits(bridge.conv2(A, B, shape, method="fft-float"), full[window])
    AF, BF = np.asfortranarray(A), np.asfortranarray(B)
    assert_same_bits(bridge.conv2(AF, BF, "full", method="fft-float"), full)


dims = st.tuples(st.integers(1, 50), st.integers(1, 50))


@SETTINGS
@given(
    a_dims=dims,
    b_dims=dims,
    integer=st.booleans(),
    nonfinite=st.sampled_from([None, np.nan, np.inf, -np.inf]),
    zeros=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_tiles_keep_the_fft_contract_and_windows_are_slices_of_full(
    small_tiles, a_dims, b_dims, integer, nonfinite, zeros, seed
):
    # not tiled: the other paths' tests (most drawn shapes: drawn again)
    assume(method_fft.tile_plan(a_dims, b_dims) is not None)
    small_tiles.clear()
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal(a_dims), rng.standard_normal(b_dims)
    if integer:
        A, B = np.rint(A * 50), np.rint(B * 50)
    if zeros:  # a band of zero taps, and a band of zeros in the image
        B[: B.shape[0] // 2] = 0.0
        A[:, : A.shape[1] // 3] = 0.0
    if nonfinite is not None:
        A[rng.integers(A.shape[0]), rng.integers(A.shape[1])] = nonfinite
    check_tiled(A, B, integer, small_tiles)


@pytest.mark.parametrize(
    "a_dims, b_dims",
    [
        ((40, 50), (5, 7)),
        ((5, 7), (40, 50)),  # the kernel first
        ((33, 9), (4, 9)),  # one tile along the last axis, the kernel as long as the image
        ((64, 64), (3, 3)),  # tiles fit the full result exactly
        ((2, 60), (2, 3)),
    ],
)
@pytest.mark.parametrize("kind", ["real", "integer", "single"])
def test_tiles_on_hand_picked_shapes(small_tiles, a_dims, b_dims, kind):
    assert method_fft.tile_plan(a_dims, b_dims) is not None
    rng = np.random.default_rng(sum(a_dims) + sum(b_dims))
    A, B = rng.standard_normal(a_dims), rng.standard_normal(b_dims)
    if kind == "integer":
        A, B = np.rint(A * 100), np.rint(B * 100)
    if kind == "single":
        A32, B32 = A.astype(np.float32), B.astype(np.float32)
        full = bridge.conv2(A32, B32, "full", method="fft-float")
        assert full.dtype == np.float32
        # computed in double, rounded once to single
        A64, B64 = A32.astype(np.float64), B32.astype(np.float64)
        want = bridge.conv2(A64, B64, "full", method="fft-float").astype(np.float32)
        np.testing.assert_array_equal(full, want)
        for shape, window in windows(A, B):
            got = bridge.conv2(A32, B32, shape, method="fft-float")
            np.testing.assert_array_equal(got, full[window])
        return
    check_tiled(A, B, kind == "integer", small_tiles)


@pytest.mark.parametrize("seed", range(3))
def test_tiles_cancelling_to_zero_give_plus_zero(small_tiles, seed):
    """Integer data whose outputs cancel to 0 (each column of taps sums to zero, the image's
    columns constant): the FFT gives them as tiny values of either sign, rounded to +0, never
    -0.0 (outputs start from +0), in 'full' and its windows alike."""
    rng = np.random.default_rng(seed)
    A = rng.integers(1, 4, (1, 50)) * np.ones((40, 1))
    B = np.rint(rng.standard_normal((6, 7)) * 50)
    B[-1] -= B.sum(axis=0)
    check_tiled(A, B, True, small_tiles)
    assert np.count_nonzero(bridge.conv2(A, B, "full", method="fft-float") == 0) > 1000


def textbook_tiles(A, B, integer: bool) -> np.ndarray:
    """The full result by overlap-save tiles, one tile at a time and no buffers reused: the
    image zero-padded, each tile's ``rfft`` along the rows, ``fft`` along the columns, times
    the kernel's spectrum, ``ifft``, ``irfft`` of the kept rows, the kept columns; rounded on
    integer data; +0.0 for -0.0."""
    a, b = (A, B) if A.size >= B.size else (B, A)
    (T0, T1), _ = method_fft.tile_plan(a.shape, b.shape)
    (M, N), (p, q) = a.shape, b.shape
    S0, S1 = T0 - p + 1, T1 - q + 1
    n0, n1 = method_fft.tile_counts(a.shape, b.shape, (T0, T1))
    L0, L1 = method_fft.tile_lasts(a.shape, b.shape, (T0, T1))
    padded = np.zeros((p - 1 + n0 * S0 + T0, q - 1 + n1 * S1 + T1))
    padded[p - 1 : p - 1 + M, q - 1 : q - 1 + N] = a
    out = np.empty((n0 * S0 + T0, n1 * S1 + T1))
    for i in range(n0):
        t0 = L0 if i == n0 - 1 else T0  # the last tile: only as long as its outputs need
        for j in range(n1):
            t1 = L1 if j == n1 - 1 else T1
            spectrum = np.fft.rfft2(b.astype(np.float64), (t0, t1))
            f = np.fft.rfft(padded[i * S0 : i * S0 + t0, j * S1 : j * S1 + t1], axis=1)
            f = np.fft.ifft(np.fft.fft(f, axis=0) * spectrum, axis=0)
            y = np.fft.irfft(f[p - 1 :], t1, axis=1)[:, q - 1 :]
            out[i * S0 : i * S0 + t0 - p + 1, j * S1 : j * S1 + t1 - q + 1] = (
                np.rint(y) if integer else y
            ) + 0.0
    return out[: M + p - 1, : N + q - 1]


@SETTINGS
@given(
    a_dims=dims,
    b_dims=dims,
    integer=st.booleans(),
    single=st.booleans(),
    fortran=st.booleans(),
    padded=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_tiles_give_the_bits_of_the_textbook_tiles(
    small_tiles, monkeypatch, a_dims, b_dims, integer, single, fortran, padded, seed
):
    """The loop's buffers, groups, threads, straight reads and padded column-major buffers
    (``padded``: every column-major image copied into them, double too) change no bit of a
    tile's."""
    assume(method_fft.tile_plan(a_dims, b_dims) is not None)  # most drawn shapes are not tiled
    monkeypatch.setattr(method_fft, "TILE_COLUMN_ROWS", 1 if padded else 10**9)
    small_tiles.clear()
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal(a_dims), rng.standard_normal(b_dims)
    if integer:
        A, B = np.rint(A * 50), np.rint(B * 50)
    if single:
        A, B = A.astype(np.float32), B.astype(np.float32)
    if fortran:
        A, B = np.asfortranarray(A), np.asfortranarray(B)
    got = bridge.conv2(A, B, "full", method="fft-float")
    assert small_tiles, "the tiled path was not taken"
    want = textbook_tiles(A.astype(np.float64), B.astype(np.float64), integer)
    assert_same_bits(got, want.astype(got.dtype))  # single: rounded once from the double tiles


@pytest.fixture
def longer_tiles(small_tiles, monkeypatch):
    """Small tiles, and the longer ones (twice as long) taken wherever they still make 2 tiles."""
    monkeypatch.setattr(method_fft, "TILE_LONGER_COUNT", 2)
    monkeypatch.setattr(method_fft, "TILE_LONGER_GAIN", 10.0)
    return small_tiles


@SETTINGS
@given(
    a_dims=st.tuples(st.integers(20, 60), st.integers(20, 60)),
    b_dims=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    integer=st.booleans(),
    single=st.booleans(),
    fortran=st.booleans(),
    nonfinite=st.sampled_from([None, None, None, np.nan, np.inf]),
    seed=st.integers(0, 2**32 - 1),
)
def test_longer_tiles_keep_the_contract_and_the_textbook_bits(
    longer_tiles, a_dims, b_dims, integer, single, fortran, nonfinite, seed
):
    """Tiles twice as long (TILE_LONGER_*): the contract, windows slices of 'full', the bits of
    the textbook tiles of that length."""
    plan = method_fft.tile_plan(a_dims, b_dims)
    assume(plan is not None and plan[0] != method_fft._tile_lengths(a_dims, b_dims, 1))
    assert plan[0] == method_fft._tile_lengths(a_dims, b_dims, 2)
    longer_tiles.clear()
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal(a_dims), rng.standard_normal(b_dims)
    if integer:
        A, B = np.rint(A * 50), np.rint(B * 50)
    if nonfinite is not None:
        A[rng.integers(A.shape[0]), rng.integers(A.shape[1])] = nonfinite
    if not single and not fortran:
        check_tiled(A, B, integer, longer_tiles)
        if nonfinite is not None:
            return
    if single:
        A, B = A.astype(np.float32), B.astype(np.float32)
    if fortran:
        A, B = np.asfortranarray(A), np.asfortranarray(B)
    if nonfinite is not None:
        return  # patched: check_tiled's part
    got = bridge.conv2(A, B, "full", method="fft-float")
    want = textbook_tiles(A.astype(np.float64), B.astype(np.float64), integer)
    assert_same_bits(got, want.astype(got.dtype))


def test_longer_tiles_where_they_cut_the_work():
    """The constants as shipped: 63^2 kernels on 2048^2 images go by 512^2 tiles (the work cut
    to 0.84 of the 256^2 tiles', 25 tiles); on 1024^2 images 256^2 (9 tiles of 512^2 would leave
    a thread idle); 31^2 kernels keep 256^2 (the work 0.98 of theirs: not worth the cache)."""
    assert method_fft.tile_plan((2048, 2048), (63, 63)) == ([512, 512], [63, 63])
    assert method_fft.tile_plan((63, 63), (2048, 2048)) == ([512, 512], [63, 63])
    assert method_fft.tile_plan((1024, 1024), (63, 63)) == ([256, 256], [63, 63])
    assert method_fft.tile_plan((2048, 2048), (31, 31)) == ([256, 256], [31, 31])
    assert method_fft.tile_plan((4096, 4096), (95, 95)) == ([512, 512], [95, 95])  # at most 512


def test_tiles_give_the_same_bits_on_one_thread(small_tiles, monkeypatch):
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((90, 75)), rng.standard_normal((6, 5))
    full = bridge.conv2(A, B, "full", method="fft-float")
    monkeypatch.setattr(pool, "THREADS", 1)
    np.testing.assert_array_equal(bridge.conv2(A, B, "full", method="fft-float"), full)
    assert len(small_tiles) == 2


def test_the_real_tiling_of_an_image_with_a_31x31_kernel():
    """The constants as shipped: 600x700 * 31x31 goes by tiles of 256x256."""
    assert method_fft.tile_plan((600, 700), (31, 31)) == ([256, 256], [31, 31])
    rng = np.random.default_rng(3)
    A, B = rng.random((600, 700)), rng.random((31, 31))
    A[100, 200] = np.nan
    calls = []
    real = method_fft._tiled
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(method_fft, "_tiled", lambda *a: calls.append(a) or real(*a))
        check_tiled(A, B, False, calls)
        calls.clear()
        Ai, Bi = np.rint(A * 20), np.rint(B * 20)
        Ai[100, 200] = 0.0
        check_tiled(Ai, Bi, True, calls)
    # MATLAB's layout in, MATLAB's layout out (a MAT-file writes it as it is); same values
    A[100, 200] = 0.5  # finite (the finite part of an image with NaN is a row-major copy)
    AF = np.asfortranarray(A)
    got = bridge.conv2(AF, B, "same", method="fft-float")
    assert got.flags.f_contiguous
    np.testing.assert_array_equal(got, bridge.conv2(A, B, "same", method="fft-float"))
    # 512 rows (columns a multiple of 2 KB): the padded column-major tile buffers, double and
    # single; the bits of the row-major image's
    for A2 in (A[:512], A[:512].astype(np.float32)):
        B2 = B.astype(A2.dtype)
        got = bridge.conv2(np.asfortranarray(A2), B2, "full", method="fft-float")
        assert got.flags.f_contiguous
        assert_same_bits(got, bridge.conv2(A2, B2, "full", method="fft-float"))
    # auto picks the FFT here and gives the same bits
    np.testing.assert_array_equal(
        bridge.conv2(A, B, "same"), bridge.conv2(A, B, "same", method="fft-float")
    )


@pytest.mark.slow
def test_a_tiled_job_does_not_import_scipy():
    """The tiles are numpy.fft's: a cold job with a large kernel never pays for scipy.fft."""
    code = (
        "import sys, numpy as np, bridge.convolution as c\n"
        "from bridge._kernels import method_fft\n"
        "assert method_fft.tile_plan((600, 600), (31, 31)) is not None\n"
        "c.conv2(np.random.rand(600, 600), np.random.rand(31, 31), method='fft-float')\n"
        "print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@SETTINGS
@given(
    size=st.tuples(st.integers(4, 40), st.integers(4, 40), st.integers(2, 4)),
    taps=st.tuples(st.integers(3, 9), st.integers(3, 9)),
    swap=st.booleans(),
    single=st.booleans(),
    layout=st.sampled_from("CF"),
    nan=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_planes_under_a_2d_kernel_are_tiled_plane_by_plane(
    small_tiles, size, taps, swap, single, layout, nan, seed
):
    """A real 3-D operand and a single plane (an RGB image and a 2-D kernel, either order):
    each plane of the result is the 2-D convolution of its plane, by the same tiles, bit for
    bit (method_fft._tiled_planes); 'same' and 'valid' are slices of 'full'."""
    assume(method_fft.tile_plan(size[:2], taps) is not None)
    rng = np.random.default_rng(seed)
    A = rng.standard_normal(size)
    B = rng.standard_normal((*taps, 1))
    if nan:
        A.flat[rng.integers(A.size)] = np.nan
    if single:
        A, B = A.astype(np.float32), B.astype(np.float32)
    if layout == "F":
        A = np.asfortranarray(A)
    x, y = (B, A) if swap else (A, B)
    small_tiles.clear()
    full = bridge.convn(x, y, "full", method="fft-float")
    assert len(small_tiles) >= size[2]  # every plane by the tiles

    def plane(z, k):
        return np.ascontiguousarray(z[:, :, min(k, z.shape[2] - 1)])

    planes = [
        bridge.conv2(plane(x, k), plane(y, k), "full", method="fft-float") for k in range(size[2])
    ]
    assert full.dtype == planes[0].dtype
    assert_same_bits(full, np.stack(planes, axis=2))
    for shape, window in windows(x, y):
        got = bridge.convn(x, y, shape, method="fft-float")  # MATLAB's size: no trailing 1
        assert_same_bits(got, full[window].reshape(got.shape))
