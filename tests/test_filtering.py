"""The filtering family against the defining sum (tests/filtering_strategies.py) and MATLAB's
documented rules: sizes, anchors, boundary options, classes, NaN/Inf, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bridge
from bridge import filtering
from bridge._kernels import fft_error_bound
from bridge.errors import BridgeError, FilterArgumentError, FilterTypeError
from tests.filtering_strategies import (
    BOUNDARIES,
    abs_bound,
    assert_filtered,
    expected_class,
    filter_cases,
    reference_imfilter,
    source,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# In eps of double, of |h| (*) |P|: the direct sum's round-off plus the separable passes'
# (module docstring: (n1 + n2 + ... + 8) eps), for kernels of at most 4 taps per axis.
ULPS = 32


def _check(case, got, ulps=ULPS):
    want = reference_imfilter(case.A, case.h, *case.options)
    bound = abs_bound(case.A, case.h, *case.options)
    assert_filtered(got, want, bound, expected_class(case.A, case.h), ulps, case.A.dtype)


@SETTINGS
@given(case=filter_cases())
def test_imfilter_is_the_defining_sum(case):
    if case.A.size == 0 or case.h.size == 0:
        return  # the empty rules have their own test below
    _check(case, filtering.imfilter(case.A, case.h, *case.options))


@SETTINGS
@given(case=filter_cases(allow_empty=False), data=st.data())
def test_options_in_any_order_and_case(case, data):
    opts = list(case.options)
    order = data.draw(st.permutations(opts))
    order = [o.upper() if isinstance(o, str) and data.draw(st.booleans()) else o for o in order]
    want = filtering.imfilter(case.A, case.h, *case.options)
    got = filtering.imfilter(case.A, case.h, *order)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=filter_cases(allow_empty=False, allow_nonfinite=True),
    method=st.sampled_from(("direct", "gemm", "fft-float", "auto")),
    separable=st.sampled_from((None, True, False)),
)
def test_every_method_within_the_documented_bound(case, method, separable):
    got = filtering.imfilter(case.A, case.h, *case.options, method=method, separable=separable)
    want = reference_imfilter(case.A, case.h, *case.options)
    bound = abs_bound(case.A, case.h, *case.options)
    if method in ("fft-float", "auto"):
        # the FFT contract, per pass, of the padded finite part and the kernel
        def finite(x):
            return np.abs(np.nan_to_num(np.asarray(x, complex), nan=0, posinf=0, neginf=0))

        P = filtering.padded(finite(case.A), case.h.shape, 0, "full")
        k = finite(case.h)
        extra = 4 * fft_error_bound(P, k.reshape(k.shape + (1,) * (P.ndim - k.ndim)))
        bound = bound + extra / (np.finfo(np.float64).eps * ULPS)
    assert_filtered(got, want, bound, expected_class(case.A, case.h), ULPS, case.A.dtype)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(("float64", "float32", "uint8", "int16")),
    boundary=st.sampled_from(BOUNDARIES),
    sizes=st.tuples(st.integers(2, 7), st.integers(2, 7)),
)
def test_separable_kernels_in_passes_match_the_direct_sum(seed, cls, boundary, sizes):
    rng = np.random.default_rng(seed)
    u, v = rng.standard_normal(sizes[0]), rng.standard_normal(sizes[1])
    u[rng.integers(0, u.size)] = 0  # zero taps: the passes keep the nonzero-tap rule
    h = np.outer(u, v)
    A = (rng.standard_normal((6, 9)) * 50).astype(cls)
    A.flat[rng.integers(0, A.size)] = np.nan if A.dtype.kind == "f" else 0
    for separable in (True, False):
        got = filtering.imfilter(A, h, boundary, separable=separable, method="direct")
        want = reference_imfilter(A, h, boundary)
        bound = abs_bound(A, h, boundary, "same", "corr")
        assert_filtered(got, want, bound, A.dtype, sum(sizes) + 16, A.dtype)


def test_full_conv_equals_conv2_full():
    # the brief and spec: imfilter(A, h, 'conv', 'full') is conv2(A, h, 'full')
    rng = np.random.default_rng(1)
    A, h = rng.standard_normal((6, 5)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(
        filtering.imfilter(A, h, "conv", "full"), bridge.conv2(A, h, "full"), rtol=0, atol=1e-13
    )
    # and 'same' with 'conv' is conv2's 'same' (floor(size(h)/2) offset), even kernels included
    np.testing.assert_allclose(
        filtering.imfilter(A, h, "conv"), bridge.conv2(A, h, "same"), rtol=0, atol=1e-13
    )


@pytest.mark.parametrize("boundary", ["symmetric", "replicate", "circular", 0, 7.25])
@pytest.mark.parametrize("n, before, after", [(1, 3, 2), (3, 7, 8), (4, 1, 2), (5, 0, 0)])
def test_source_indices_are_the_boundary_rule(boundary, n, before, after):
    got = filtering.source_indices(n, before, after, boundary)
    want = [source(j, n, boundary) for j in range(-before, n + after)]
    assert got.tolist() == [-1 if w is None else w for w in want]


@settings(max_examples=100, deadline=None)
@given(case=filter_cases(allow_empty=False, allow_nonfinite=False, complex_kernel=False))
def test_padded_boxes_read_through_the_plan(case):
    """The streaming contract: any box of the padded array is A at the plan's indices (the
    constant where an index is -1), and imfilter is the valid correlation of the padded array."""
    A, h = case.A, case.h
    P = filtering.padded(A, h.shape, case.boundary, case.shape)
    plan = filtering.padding_plan(A.shape, h.shape, case.shape, case.boundary)
    nd = len(plan)
    A2 = A.reshape(A.shape + (1,) * (nd - A.ndim))
    assert P.shape == tuple(len(p) for p in plan)
    const = filtering.boundary_value(
        0 if isinstance(case.boundary, str) else case.boundary, A.dtype
    )
    box = tuple(slice(len(p) // 3, len(p)) for p in plan)
    idx = [p[b] for p, b in zip(plan, box)]
    read = A2[np.ix_(*[np.clip(i, 0, None) for i in idx])]
    outside = np.zeros(read.shape, bool)
    for d, i in enumerate(idx):
        shape = [1] * nd
        shape[d] = -1
        outside |= (i < 0).reshape(shape)
    read = np.where(outside, const, read)
    np.testing.assert_array_equal(P[box], read)
    out = filtering.valid_correlation(P, h, conv=case.mode == "conv")
    # imfilter gives the same (zero padding goes without the padded copy: the same terms,
    # perhaps summed by another method, so equal within round-off rather than bitwise)
    got = filtering.imfilter(A, h, *case.options)
    bound = abs_bound(A, h, *case.options)
    assert_filtered(got, out.reshape(got.shape), bound, expected_class(A, h), ULPS, A.dtype)


# ------------------------------------------------------------------------------------------
# Classes, rounding, saturation, the boundary value in A's class


@pytest.mark.parametrize(
    "A, h, want",
    [
        (np.array([[250]], np.uint8), [[1.5]], [[255]]),  # saturates
        (np.array([[1]], np.uint8), [[-0.5]], [[0]]),  # -0.5 -> 0 for uint8
        (np.array([[5]], np.int8), [[0.5]], [[3]]),  # 2.5 rounds away from zero
        (np.array([[-5]], np.int8), [[0.5]], [[-3]]),  # -2.5 too
        (np.array([[100]], np.int8), [[2.0]], [[127]]),
        (np.array([[-100]], np.int8), [[2.0]], [[-128]]),
        (np.array([[3]], np.uint16), [[0.5]], [[2]]),
        (np.array([[True]]), [[0.5]], [[True]]),  # logical: 0.5 rounds to 1
        (np.array([[True]]), [[0.49]], [[False]]),
        (np.array([[True]]), [[-3.0]], [[False]]),  # saturates to 0
        (np.array([[4000000000]], np.uint32), [[2.0]], [[4294967295]]),
    ],
    ids=[
        "u8-sat",
        "u8-neg-half",
        "i8-half",
        "i8-neg-half",
        "i8-sat-hi",
        "i8-sat-lo",
        "u16",
        "logical-half",
        "logical-below",
        "logical-neg",
        "u32-sat",
    ],
)
def test_integer_rounding_and_saturation(A, h, want):
    got = filtering.imfilter(A, h)
    assert got.dtype == A.dtype
    assert got.tolist() == want


def test_numeric_boundary_is_converted_to_the_image_class():
    A = np.full((1, 3), 10, np.uint8)
    # 3.5 pads with 4 (not 3.5): the first output sees 4 + 10
    assert filtering.imfilter(A, [[1.0, 1.0, 0.0]], 3.5).tolist() == [[14, 20, 20]]
    assert filtering.imfilter(A, [[1.0, 1.0, 0.0]], -7).tolist() == [[10, 20, 20]]  # -7 -> 0
    A8 = np.full((1, 3), 10, np.int8)
    assert filtering.imfilter(A8, [[1.0, 1.0, 0.0]], 1000).tolist() == [[127, 20, 20]]
    As = np.ones((1, 2), np.float32)
    got = filtering.imfilter(As, [[1.0, 1.0, 0.0]], 0.1)
    assert got.dtype == np.float32 and got[0, 0] == np.float32(np.float64(np.float32(0.1)) + 1)


def test_single_stays_single_and_complex_keeps_precision():
    A = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert filtering.imfilter(A, np.ones((2, 2))).dtype == np.float32
    assert filtering.imfilter(A, np.ones((2, 2)) * 1j).dtype == np.complex64
    assert filtering.imfilter(A.astype(np.complex64), np.ones(2)).dtype == np.complex64
    assert filtering.imfilter(A.astype(float), [[1j]]).dtype == np.complex128


def test_nan_and_inf_reach_only_the_nonzero_taps():
    A = np.zeros((1, 7))
    A[0, 3] = np.nan
    got = filtering.imfilter(A, [[1.0, 0.0, 1.0]])
    # correlation, anchor 2: output i reads A[i-1], A[i], A[i+1]; the zero tap skips A[i]
    assert np.isnan(got).tolist() == [[False, False, True, False, True, False, False]]
    A[0, 3] = np.inf
    got = filtering.imfilter(A, [[-1.0, 0.0, 1.0]])
    assert got[0, 2] == np.inf and got[0, 4] == -np.inf and got[0, 3] == 0.0
    # an Inf tap meets the zero padding: Inf * 0 is NaN (a nonzero tap is always formed)
    got = filtering.imfilter(np.ones((1, 3)), [[np.inf, 1.0, 0.0]])
    assert np.isnan(got[0, 0]) and got[0, 1] == np.inf


def test_complex_parts_filter_separately():
    # imfilter.m filters real(h) and imag(h) separately: a NaN in A reaches the imaginary part
    # only through nonzero taps of imag(h)
    A = np.array([[0.0, np.nan, 0.0]])
    got = filtering.imfilter(A, [[1.0, 0.0, 2j]])
    assert np.isnan(got.real).tolist() == [[False, False, True]]
    assert np.isnan(got.imag).tolist() == [[True, False, False]]


@pytest.mark.parametrize(
    "A_shape, h_shape, shape, want",
    [
        ((0, 3), (2, 2), "same", (0, 3)),
        ((0, 3), (2, 2), "full", (1, 4)),  # size(A) + size(h) - 1, not conv2's a + b
        ((3, 3), (0, 2), "same", (3, 3)),
        ((3, 3), (0, 2), "full", (2, 4)),
        ((2, 0, 2), (2, 2), "full", (3, 1, 2)),
    ],
)
def test_empty_inputs(A_shape, h_shape, shape, want):
    got = filtering.imfilter(np.ones(A_shape, np.uint8), np.ones(h_shape), shape)
    assert got.shape == want and got.dtype == np.uint8 and not got.any()


def test_empty_full_with_negative_size_is_matlabs_error():
    with pytest.raises(FilterArgumentError) as e:
        filtering.imfilter(np.ones((0, 3)), np.ones((0, 2)), "full")
    assert e.value.identifier == "images:imfilter:negativeDimensionBadSizeB"


def test_nd_image_with_2d_kernel_filters_each_plane():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 6, 3, 2))
    h = rng.standard_normal((3, 2))
    got = filtering.imfilter(A, h, "symmetric")
    for k in range(3):
        for m in range(2):
            np.testing.assert_allclose(
                got[:, :, k, m], filtering.imfilter(A[:, :, k, m], h, "symmetric"), atol=1e-13
            )


# ------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "args, cls, ident",
    [
        (
            (np.ones(3), np.ones(2), "bogus"),
            FilterArgumentError,
            "MATLAB:imfilter:unrecognizedStringChoice",
        ),
        (
            (np.ones(3), np.ones(2), "c"),
            FilterArgumentError,
            "MATLAB:imfilter:ambiguousStringChoice",
        ),
        (
            (np.ones(3), np.ones(2), "s"),
            FilterArgumentError,
            "MATLAB:imfilter:ambiguousStringChoice",
        ),
        (
            (np.ones(3), np.ones(2), 0, "same", "corr", "full"),
            FilterArgumentError,
            "MATLAB:narginchk:tooManyInputs",
        ),
        ((np.ones(3), np.ones(2, np.float32)), FilterTypeError, "MATLAB:imfilter:invalidType"),
        ((np.ones(3, np.int64), np.ones(2)), FilterTypeError, "bridge:imfilter:int64"),
        ((np.array(["a"]), np.ones(2)), FilterTypeError, "MATLAB:imfilter:invalidType"),
        ((np.ones(3), np.ones(2), True), FilterTypeError, "MATLAB:imfilter:invalidType"),
        (
            (np.ones(3), np.ones(2), [1.0, 2.0]),
            FilterArgumentError,
            "bridge:imfilter:boundaryNotScalar",
        ),
    ],
    ids=[
        "unknown",
        "ambiguous-c",
        "ambiguous-s",
        "too-many",
        "single-h",
        "int64",
        "text",
        "logical-option",
        "vector-boundary",
    ],
)
def test_imfilter_errors(args, cls, ident):
    with pytest.raises(cls) as e:
        filtering.imfilter(*args)
    assert e.value.identifier == ident
    assert isinstance(e.value, BridgeError)


def test_unambiguous_leading_parts_are_accepted():
    A = np.arange(20.0).reshape(4, 5)
    h = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(
        filtering.imfilter(A, h, "REP", "fu", "conv"),
        filtering.imfilter(A, h, "replicate", "full", "conv"),
    )
    np.testing.assert_array_equal(
        filtering.imfilter(A, h, "sy", "ci"), filtering.imfilter(A, h, "circular")
    )


# ------------------------------------------------------------------------------------------
# filter2, xcorr2


@settings(max_examples=100, deadline=None)
@given(case=filter_cases(max_ndim=2, kernel_ndim=2, shapes=("same",), boundaries=(0,)))
def test_filter2_is_conv2_of_the_rotated_kernel(case):
    for shape in ("same", "full", "valid"):
        got = filtering.filter2(case.h, case.A, shape)
        want = bridge.conv2(case.A, np.asarray(case.h)[::-1, ::-1], shape)
        np.testing.assert_array_equal(got, want)


def test_filter2_same_is_zero_padded_correlation():
    # filter2(h, X) is imfilter(X, h) for double X and the default zero boundary, any kernel
    rng = np.random.default_rng(5)
    X, h = rng.standard_normal((7, 6)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(filtering.filter2(h, X), filtering.imfilter(X, h), atol=1e-13)
    np.testing.assert_allclose(
        filtering.filter2(h, X, "full"), filtering.imfilter(X, h, "full"), atol=1e-13
    )


def test_xcorr2_conjugates_and_rotates():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    b = rng.standard_normal((2, 5)) + 1j * rng.standard_normal((2, 5))
    want = np.zeros((5, 7), complex)
    # the definition: C(k, l) = sum a(m, n) conj(b(m - k + P, n - l + Q)) over the overlap
    for k in range(5):
        for m in range(7):
            for i in range(4):
                for j in range(3):
                    p, q = i - k + 1, j - m + 4
                    if 0 <= p < 2 and 0 <= q < 5:
                        want[k, m] += a[i, j] * np.conj(b[p, q])
    np.testing.assert_allclose(filtering.xcorr2(a, b), want, atol=1e-12)
    np.testing.assert_array_equal(filtering.xcorr2(a), filtering.xcorr2(a, a))


# ------------------------------------------------------------------------------------------
# fspecial


def test_fspecial_defaults_and_sizes():
    assert filtering.fspecial("average").shape == (3, 3)
    assert filtering.fspecial("disk").shape == (11, 11)
    assert filtering.fspecial("gaussian").shape == (3, 3)
    assert filtering.fspecial("log").shape == (5, 5)
    assert filtering.fspecial("motion").shape == (1, 9)
    assert filtering.fspecial("gaussian", [4, 6], 2).shape == (4, 6)
    assert filtering.fspecial("Gauss").shape == (3, 3)  # validatestring: a leading part


def test_fspecial_gaussian_has_matlabs_eps_cut():
    # sigma small against the size: the corners fall below eps*max and are exactly 0
    h = filtering.fspecial("gaussian", 9, 0.5)
    x = np.arange(-4.0, 5.0)
    raw = np.exp(-(x[None, :] ** 2 + x[:, None] ** 2) / (2 * 0.25))
    cut = raw < np.finfo(float).eps * raw.max()
    assert cut.any() and not h[cut].any() and (h[~cut] > 0).all()
    np.testing.assert_allclose(h[~cut], raw[~cut] / raw[~cut].sum(), rtol=1e-14)


def test_fspecial_log_sums_to_zero_from_the_cut_gaussian():
    h = filtering.fspecial("log", [7, 5], 0.8)
    assert abs(h.sum()) < 1e-15
    g = filtering.fspecial("gaussian", [7, 5], 0.8)
    y, x = np.mgrid[-3:4, -2:3].astype(float)
    h1 = g * (x * x + y * y - 2 * 0.64) / 0.64**2
    np.testing.assert_allclose(h, h1 - h1.mean(), atol=1e-15)


@pytest.mark.parametrize(
    "length, theta",
    [(9, 0), (9, 90), (7, 180), (7, 360), (5, 45), (10, 30), (1, 0), (0.5, 10), (12, -45)],
)
def test_fspecial_motion_properties(length, theta):
    h = filtering.fspecial("motion", length, theta)
    eps = np.finfo(float).eps
    L = max(1.0, length)
    # normalized by sum + eps*len^2; theta and theta + 180 are the same line
    assert abs(h.sum() - 1) < 2 * eps * L * L + 1e-14
    np.testing.assert_array_equal(h, filtering.fspecial("motion", length, theta + 180))
    assert (h >= 0).all()
    if theta % 180 == 0:
        assert h.shape[0] == 1
    if theta % 180 == 90:
        np.testing.assert_allclose(h.T, filtering.fspecial("motion", length, 0), atol=1e-15)
    # point symmetric about the centre (the half-line unfolded by rot90(., 2))
    np.testing.assert_allclose(h, h[::-1, ::-1], atol=1e-15)


def test_fspecial_unsharp_is_delta_minus_laplacian():
    lap = filtering.fspecial("laplacian", 0.3)
    want = -lap
    want[1, 1] += 1
    np.testing.assert_array_equal(filtering.fspecial("unsharp", 0.3), want)
    np.testing.assert_allclose(filtering.fspecial("laplacian", 0).sum(), 0, atol=1e-15)


@pytest.mark.parametrize(
    "args, ident",
    [
        (("sobel", 3), "images:fspecial:tooManyArgsForThisFilter"),
        (("average", 3, 2), "images:fspecial:tooManyArgsForThisFilter"),
        (("laplacian", 1.5), "images:fspecial:outOfRangeAlpha"),
        (("laplacian", -0.5), "MATLAB:fspecial:expectedNonnegative"),
        (("average", [3, 3, 3]), "images:fspecial:wrongSizeHSize"),
        (("gaussian", [3, 3, 3], 1), "images:fspecial:wrongSizeN"),
        (("gaussian", 3.5), "MATLAB:fspecial:expectedInteger"),
        (("gaussian", 3, 0), "MATLAB:fspecial:expectedPositive"),
        (("disk", [1, 2]), "MATLAB:fspecial:expectedScalar"),
        (("motion", 3, np.inf), "MATLAB:fspecial:expectedFinite"),
        (("blur",), "MATLAB:fspecial:unrecognizedStringChoice"),
        (("l",), "MATLAB:fspecial:ambiguousStringChoice"),
        (("gaussian", 3, 1, 2), "MATLAB:narginchk:tooManyInputs"),
    ],
)
def test_fspecial_errors(args, ident):
    with pytest.raises(FilterArgumentError) as e:
        filtering.fspecial(*args)
    assert e.value.identifier == ident


def test_fspecial_parameter_class():
    with pytest.raises(FilterTypeError) as e:
        filtering.fspecial("average", np.int32(3))
    assert e.value.identifier == "MATLAB:fspecial:invalidType"


# ------------------------------------------------------------------------------------------
# imgaussfilt, imgaussfilt3


def _gauss_reference(A, sigma, size, padding):
    axes = [np.arange(n) - (n - 1) / 2 for n in size]
    grids = np.meshgrid(*axes, indexing="ij")
    arg = sum(g * g / (s * s) for g, s in zip(grids, sigma))
    h = np.exp(-arg / 2)
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(("float64", "float32", "uint8", "int16", "uint32")),
    sigma=st.one_of(st.floats(0.2, 1.5), st.tuples(st.floats(0.2, 1.5), st.floats(0.2, 1.5))),
    padding=st.sampled_from(("replicate", "symmetric", "circular", 0, 12.5)),
    planes=st.integers(1, 3),
)
def test_imgaussfilt_is_imfilter_with_matlabs_kernel(seed, cls, sigma, padding, planes):
    rng = np.random.default_rng(seed)
    A = (rng.random((6, 7, planes)) * 200).astype(cls)
    sig = (sigma, sigma) if np.isscalar(sigma) else sigma
    size = [2 * int(np.ceil(2 * s)) + 1 for s in sig]
    h = _gauss_reference(A, sig, size, padding)
    got = filtering.imgaussfilt(
        A, list(sig) if not np.isscalar(sigma) else sigma, "Padding", padding
    )
    want = reference_imfilter(A, h, padding, "same", "conv")
    bound = abs_bound(A, h, padding, "same", "conv")
    assert_filtered(got, want, bound, A.dtype, 64, A.dtype)


def test_imgaussfilt_defaults_and_names():
    A = np.random.default_rng(2).random((9, 8))
    h = _gauss_reference(A, (0.5, 0.5), (3, 3), "replicate")
    np.testing.assert_allclose(
        filtering.imgaussfilt(A), filtering.imfilter(A, h, "replicate", "conv"), atol=1e-15
    )
    b = filtering.imgaussfilt(A, 2, "filters", 5, "pad", "circ", "FilterDomain", "frequency")
    h5 = _gauss_reference(A, (2, 2), (5, 5), "circular")
    np.testing.assert_allclose(b, filtering.imfilter(A, h5, "circular", "conv"), atol=1e-14)
    np.testing.assert_array_equal(b, filtering.imgaussfilt(A, 2, FilterSize=5, Padding="circ"))
    # imgaussfilt(A, 'Name', Value): sigma keeps its default 0.5
    np.testing.assert_array_equal(
        filtering.imgaussfilt(A, "FilterSize", 5), filtering.imgaussfilt(A, 0.5, "FilterSize", 5)
    )


def test_imgaussfilt3_matches_the_3d_kernel():
    rng = np.random.default_rng(4)
    A = rng.random((5, 6, 7))
    h = _gauss_reference(A, (1.0, 0.7, 1.3), (5, 5, 7), "replicate")
    got = filtering.imgaussfilt3(A, [1.0, 0.7, 1.3])
    np.testing.assert_allclose(got, filtering.imfilter(A, h, "replicate", "conv"), atol=1e-14)


@pytest.mark.parametrize(
    "fn, args, kwargs, ident",
    [
        ("imgaussfilt", (np.ones((3, 3)), 0), {}, "MATLAB:imgaussfilt:expectedPositive"),
        ("imgaussfilt", (np.ones((3, 3)), [1, 2, 3]), {}, "images:imgaussfilt:invalidLength"),
        (
            "imgaussfilt",
            (np.ones((3, 3)), 1, "FilterSize"),
            {},
            "images:imgaussfilt:invalidNameValue",
        ),
        (
            "imgaussfilt",
            (np.ones((3, 3)), 1, "Filter", 3),
            {},
            "images:imgaussfilt:ambiguousParamName",
        ),
        ("imgaussfilt", (np.ones((3, 3)), 1, "Size", 3), {}, "images:imgaussfilt:unknownParamName"),
        (
            "imgaussfilt",
            (np.ones((3, 3)), 1, "FilterSize", 4),
            {},
            "MATLAB:validateTwoDFilterSize:expectedOdd",
        ),
        (
            "imgaussfilt",
            (np.ones((3, 3)), 1),
            {"Padding": "mirror"},
            "MATLAB:imgaussfilt:unrecognizedStringChoice",
        ),
        ("imgaussfilt", (np.ones((3, 3), complex),), {}, "MATLAB:imgaussfilt:expectedReal"),
        ("imgaussfilt3", (np.ones((3, 3, 3, 2)),), {}, "MATLAB:imgaussfilt3:expected3D"),
        ("imgaussfilt3", (np.ones((3, 3, 3)), [1, 2]), {}, "images:imgaussfilt3:invalidLength"),
    ],
)
def test_imgaussfilt_errors(fn, args, kwargs, ident):
    with pytest.raises(FilterArgumentError) as e:
        getattr(filtering, fn)(*args, **kwargs)
    assert e.value.identifier == ident


@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.uint64])
def test_imgaussfilt_refuses_classes_matlab_refuses(dtype):
    with pytest.raises(FilterTypeError) as e:
        filtering.imgaussfilt(np.ones((3, 3), dtype))
    assert e.value.identifier == "MATLAB:imgaussfilt:invalidType"


# ------------------------------------------------------------------------------------------
# MathWorks' documentation examples (values from the defining sum, not typed in)

MAGIC5 = np.array(
    [
        [17, 24, 1, 8, 15],
        [23, 5, 7, 14, 16],
        [4, 6, 13, 20, 22],
        [10, 12, 19, 21, 3],
        [11, 18, 25, 2, 9],
    ],
    dtype=float,
)


@pytest.mark.parametrize(
    "A, options",
    [
        (MAGIC5, ()),
        (MAGIC5, ("conv",)),
        (MAGIC5.astype(np.uint8), ()),  # "the output also is of class uint8": negatives -> 0
    ],
    ids=["corr", "conv", "uint8"],
)
def test_imfilter_documentation_magic5(A, options):
    h = np.array([[-1.0, 0.0, 1.0]])
    got = filtering.imfilter(A, h, *options)
    mode = "conv" if options else "corr"
    want = reference_imfilter(A, h, 0, "same", mode)
    assert_filtered(got, want, abs_bound(A, h, 0, "same", mode), A.dtype, 4, A.dtype)


def test_imfilter_documentation_motion_blur_rgb():
    # h = fspecial('motion', 50, 45); imfilter(RGB, h) and with 'replicate': uint8 kept
    rng = np.random.default_rng(11)
    rgb = rng.integers(0, 256, (9, 8, 3)).astype(np.uint8)
    h = filtering.fspecial("motion", 50, 45)
    # half = 24.5: fix(24.5*cos(pi/4) + 1) = 18 samples each side of the centre
    assert h.shape == (37, 37)
    for boundary in (0, "replicate"):
        got = filtering.imfilter(rgb, h, boundary)
        want = reference_imfilter(rgb, h, boundary)
        bound = abs_bound(rgb, h, boundary, "same", "corr")
        assert_filtered(got, want, bound, np.uint8, 64, np.uint8)


def test_filter2_documentation_pedestal():
    # A = zeros(10); A(3:7,3:7) = ones(5); H = sobel; filter2(H, A, 'full') is
    # conv2(A, rot90(H, 2))
    A = np.zeros((10, 10))
    A[2:7, 2:7] = 1
    H = np.array([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]])
    Y = filtering.filter2(H, A, "full")
    np.testing.assert_array_equal(Y, bridge.conv2(A, np.rot90(H, 2)))
    want = reference_imfilter(A, H, 0, "full", "corr")
    np.testing.assert_array_equal(Y, want)


def test_imgaussfilt_documentation_sigma_2_is_the_9_tap_gaussian():
    # Iblur = imgaussfilt(I, 2): 2*ceil(2*2)+1 = 9 taps, replicate padding; the kernel is
    # fspecial('gaussian', 9, 2) (the same formula, within round-off)
    rng = np.random.default_rng(12)
    image = rng.integers(0, 256, (20, 17)).astype(np.uint8)
    h = filtering.fspecial("gaussian", 9, 2)
    got = filtering.imgaussfilt(image, 2)
    want = reference_imfilter(image, h, "replicate", "same", "conv")
    bound = abs_bound(image, h, "replicate", "same", "conv")
    assert_filtered(got, want, bound, np.uint8, 64, np.uint8)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-300, 300).map(lambda k: k + 0.5),  # ties
            st.sampled_from([0.49999999999999994, -0.49999999999999994, 2.5000000000000004]),
        ),
        min_size=1,
        max_size=20,
    ),
    cls=st.sampled_from(("uint8", "int8", "int16", "uint32", "int32", "logical")),
)
def test_cast_to_class_is_matlabs_conversion(values, cls):
    from tests.filtering_strategies import CLASSES, to_class

    dtype = np.dtype(CLASSES[cls])
    x = np.array(values, np.float64)
    want = [to_class(v, dtype) for v in values]
    assert filtering.cast_to_class(x, dtype).tolist() == [
        bool(w) if cls == "logical" else w for w in want
    ]
    # the in-place path imfilter uses gives the same
    assert (
        filtering._cast_owned(x.copy(), dtype).tolist()
        == filtering.cast_to_class(x, dtype).tolist()
    )


def test_docstring_examples():
    import doctest

    result = doctest.testmod(filtering, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_an_rgb_image_by_planes_keeps_the_fft_bound():
    """A 3-channel image under a 31x31 kernel, which 'auto' sums by the FFT's tiles plane by
    plane (method_fft._tiled_planes; tests/test_fft_tiles.py has the bits): each plane's result
    within fft-float's bound of the direct sum, as the whole's was."""
    rng = np.random.default_rng(7)
    A = rng.standard_normal((700, 650, 3))
    h = rng.standard_normal((31, 31))
    got = filtering.imfilter(A, h, "replicate")
    want = filtering.imfilter(A, h, "replicate", method="direct")
    P = filtering.padded(A, h.shape, "replicate")
    for j in range(3):
        bound = fft_error_bound(P[:, :, j], h)
        assert np.max(np.abs(got[:, :, j] - want[:, :, j])) <= bound
