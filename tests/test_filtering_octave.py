"""The filtering family against live GNU Octave (image 2.14, signal 1.4.3) on generated cases.

Octave agrees with MATLAB except where docs/octave-filtering-differences.md says otherwise;
those cases are excluded here and tested against the defining sum in test_filtering.py:

- imfilter: only 'same', 2-D images and 3-channel images, 2-D kernels (Octave's 'full' pads
  floor(size(h)/2) and is shifted for even kernels; it refuses N-D); no logical images (Octave
  casts with logical(), MATLAB rounds); no complex data with NaN/Inf (Octave multiplies
  complex numbers, MATLAB filters the parts separately); single images compared within
  single-precision round-off (Octave sums in single, bridge in double);
- filter2 and xcorr2 are conv2 (spec section 7 applies): no NaN/Inf with zero taps, no empties;
- fspecial: Octave's 'gaussian' lacks the eps cut (compared within eps*max(h)); its 'log' and
  'motion' are other formulas and its 'disk' refuses non-integer radii (not compared).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from tests.filtering_strategies import (
    CLASSES,
    abs_bound,
    expected_class,
    filter_cases,
    make_array,
    reference_imfilter,
    to_class,
)
from tests.reference import expected_class as conv2_class

pytestmark = pytest.mark.octave

SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Octave's imfilter refuses complex images (isimage) and casts logical ones with logical()
IMAGE_CLASSES = ("double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32")
NO_LOGICAL = ("double", "single", "complex", "int8", "uint8", "int16", "uint16", "int32", "uint32")


@pytest.fixture(scope="module")
def oct(octave):
    octave.call("pkg load image; pkg load signal; x = 1;", {}, ["x"])
    return octave


def _inputs(**arrays):
    """MAT-file inputs and Octave set-up lines: complex arrays rebuilt with complex() (Octave
    narrows a complex array with a zero imaginary part when it loads it)."""
    inputs, setup = {}, ""
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.kind == "c":
            inputs[f"{name}_re"], inputs[f"{name}_im"] = a.real, a.imag
            setup += f"{name} = complex({name}_re, {name}_im);"
        else:
            inputs[name] = a
    return inputs, setup


def _compare(got, want, bound, dtype, image_class, ulps=16):
    """bridge's answer against Octave's: same class (by our rule: MAT files lose logical and
    Octave narrows complex), same size, NaN/Inf alike, finite values within round-off; integer
    classes equal except within round-off of a half-integer (rounding may go either way)."""
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == np.shape(want), f"size {got.shape}, Octave {np.shape(want)}"
    single = np.dtype(dtype) in (np.float32, np.complex64)
    eps = np.finfo(np.float32 if single else np.float64).eps
    tol = ulps * eps * np.asarray(bound).real
    want = np.asarray(want)
    for part in ("real", "imag") if got.dtype.kind == "c" else ("real",):
        g = getattr(got, part).astype(np.float64)
        w = (getattr(want, part) if want.dtype.kind == "c" else want).astype(np.float64)
        if part == "imag" and want.dtype.kind != "c":
            w = np.zeros_like(w)
        if np.dtype(image_class).kind in "iu":
            assert np.all(np.abs(g - w) <= 1), f"{part}: off by more than one"
            continue
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"NaN ({part})")
        np.testing.assert_array_equal(
            np.where(np.isinf(g), np.sign(g), 0), np.where(np.isinf(w), np.sign(w), 0)
        )
        fin = np.isfinite(w)
        assert np.all(np.abs(g[fin] - w[fin]) <= tol[fin]), f"{part}: beyond round-off"


def _exact_where_not_near_half(got, ref, bound, image_class):
    """Integer classes: where the unrounded reference is not within round-off of a
    half-integer, bridge must equal the rounded value exactly (Octave agrees up to one)."""
    if np.dtype(image_class).kind not in "iu":
        return
    r = np.asarray(ref).real.astype(np.float64)
    tol = 64 * np.finfo(np.float64).eps * np.asarray(bound).real + 1e-9
    with np.errstate(invalid="ignore"):  # NaN/Inf: never near a half-integer
        near = np.abs(np.abs(r - np.trunc(r)) - 0.5) <= tol
    cast = np.vectorize(lambda x: float(to_class(x, image_class)), otypes=[float])
    g = np.asarray(got).real.astype(np.float64)
    np.testing.assert_array_equal(g[~near], cast(r)[~near])


@st.composite
def image_cases(draw):
    """2-D or 3-channel real images of every class but logical, 2-D kernels, 'same'."""
    case = draw(
        filter_cases(
            classes=IMAGE_CLASSES,
            max_ndim=2,
            kernel_ndim=2,
            allow_empty=False,
            shapes=("same",),
        )
    )
    if draw(st.booleans()):  # three channels
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        cls = {np.dtype(v): k for k, v in CLASSES.items()}[case.A.dtype]
        case.A = make_array(rng, (*case.A.shape, 3), cls, False)
    if np.iscomplexobj(case.h) and case.A.dtype.kind in "iu":
        case.h = case.h.real.copy()  # complex integers: neither Octave nor numpy has them
    if np.iscomplexobj(case.A) or np.iscomplexobj(case.h):
        # complex with NaN/Inf: Octave multiplies complex numbers (see the module docstring)
        case.A = np.nan_to_num(case.A, nan=1.0, posinf=2.0, neginf=-2.0)
        case.h = np.nan_to_num(case.h, nan=1.0, posinf=2.0, neginf=-2.0)
    return case


@SETTINGS
@given(case=image_cases())
def test_imfilter_same_agrees_with_octave(oct, case):
    b = case.boundary
    inputs, setup = _inputs(A=case.A, h=case.h)
    opt = f"'{b}'" if isinstance(b, str) else repr(float(b))
    want = oct.call(f"{setup} B = imfilter(A, h, {opt}, '{case.mode}');", inputs, ["B"])["B"]
    got = filtering.imfilter(case.A, case.h, *case.options)
    bound = abs_bound(case.A, case.h, *case.options)
    _compare(got, want, bound, expected_class(case.A, case.h), case.A.dtype)
    ref = reference_imfilter(case.A, case.h, *case.options)
    _exact_where_not_near_half(got, ref, bound, case.A.dtype)


@SETTINGS
@given(
    case=filter_cases(
        classes=(*NO_LOGICAL, "logical", "single complex"),
        max_ndim=2,
        kernel_ndim=2,
        allow_empty=False,
        allow_nonfinite=False,
        shapes=("same",),
    ),
    shape=st.sampled_from(("same", "full", "valid")),
)
def test_filter2_agrees_with_octave(oct, case, shape):
    inputs, setup = _inputs(X=case.A, h=case.h)
    want = oct.call(f"{setup} Y = filter2(h, X, '{shape}');", inputs, ["Y"])["Y"]
    got = filtering.filter2(case.h, case.A, shape)
    dtype = conv2_class(case.A, case.h)
    bound = np.abs(filtering.filter2(np.abs(case.h), np.abs(case.A.astype(np.complex128)), shape))
    _compare(got, want.astype(dtype), bound, dtype, np.float64)


@SETTINGS
@given(
    a=filter_cases(
        classes=NO_LOGICAL, max_ndim=2, kernel_ndim=2, allow_empty=False, allow_nonfinite=False
    ),
    auto=st.booleans(),
)
def test_xcorr2_agrees_with_octave(oct, a, auto):
    A, B = a.A, a.h
    inputs, setup = _inputs(a=A, b=B)
    call = "C = xcorr2(a);" if auto else "C = xcorr2(a, b);"
    want = oct.call(setup + call, inputs, ["C"])["C"]
    got = filtering.xcorr2(A) if auto else filtering.xcorr2(A, B)
    other = A if auto else B
    bound = np.abs(
        filtering.xcorr2(
            np.abs(A.astype(np.complex128)), np.abs(np.asarray(other).astype(np.complex128))
        )
    )
    _compare(got, want.astype(got.dtype), bound, got.dtype, np.float64)


FSPECIAL = {
    "average": st.one_of(
        st.just(()),
        st.tuples(st.integers(1, 7)),
        st.tuples(st.tuples(st.integers(1, 7), st.integers(1, 7))),
    ),
    "disk": st.one_of(st.just(()), st.tuples(st.integers(1, 9))),
    "gaussian": st.one_of(
        st.just(()),
        st.tuples(st.integers(1, 9)),
        st.tuples(st.tuples(st.integers(1, 9), st.integers(1, 9)), st.floats(0.1, 4.0)),
    ),
    "laplacian": st.one_of(st.just(()), st.tuples(st.floats(0.0, 1.0))),
    "unsharp": st.one_of(st.just(()), st.tuples(st.floats(0.0, 1.0))),
    "prewitt": st.just(()),
    "sobel": st.just(()),
}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), kind=st.sampled_from(sorted(FSPECIAL)))
def test_fspecial_agrees_with_octave(oct, data, kind):
    params = data.draw(FSPECIAL[kind])
    params = tuple(np.asarray(p, float) for p in params)
    names = "".join(f", p{i}" for i in range(len(params)))
    inputs = {f"p{i}": np.atleast_2d(p) for i, p in enumerate(params)}
    want = oct.call(f"h = fspecial('{kind}'{names});", inputs, ["h"])["h"]
    got = filtering.fspecial(kind, *params)
    assert got.dtype == np.float64 and got.shape == want.shape
    # Octave's gaussian lacks MATLAB's cut of taps below eps*max (they differ by less than
    # eps there); the disk's small edge taps come out of cancelling area terms (a few eps apart)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=4 * np.finfo(float).eps)


MAGIC5 = "[17 24 1 8 15; 23 5 7 14 16; 4 6 13 20 22; 10 12 19 21 3; 11 18 25 2 9]"


@pytest.mark.parametrize(
    "octave_code, run",
    [
        # imfilter's documentation: magic(5) with [-1 0 1], correlation, convolution, uint8
        (f"B = imfilter({MAGIC5}, [-1 0 1]);", lambda: filtering.imfilter(MAGIC5_PY, [[-1, 0, 1]])),
        (
            f"B = imfilter({MAGIC5}, [-1 0 1], 'conv');",
            lambda: filtering.imfilter(MAGIC5_PY, [[-1, 0, 1]], "conv"),
        ),
        (
            f"B = imfilter(uint8({MAGIC5}), [-1 0 1]);",
            lambda: filtering.imfilter(np.array(MAGIC5_PY, np.uint8), [[-1, 0, 1]]),
        ),
        # filter2's documentation: the pedestal and the Sobel coefficients, 'full'
        (
            "A = zeros(10); A(3:7,3:7) = ones(5);B = filter2([1 2 1; 0 0 0; -1 -2 -1], A, 'full');",
            lambda: filtering.filter2([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], PEDESTAL, "full"),
        ),
        # fspecial's documentation: the disk of radius 10 and 'unsharp', applied with 'replicate'
        ("B = fspecial('disk', 10);", lambda: filtering.fspecial("disk", 10)),
        (
            "B = imfilter(uint8(mod((1:30)' * (1:25), 256)), fspecial('disk', 10), 'replicate');",
            lambda: filtering.imfilter(RAMP, filtering.fspecial("disk", 10), "replicate"),
        ),
        (
            "B = imfilter(uint8(mod((1:30)' * (1:25), 256)), fspecial('unsharp'), 'replicate');",
            lambda: filtering.imfilter(RAMP, filtering.fspecial("unsharp"), "replicate"),
        ),
        ("B = xcorr2(magic(4), [1 2; 3 4]);", lambda: filtering.xcorr2(MAGIC4, [[1, 2], [3, 4]])),
    ],
    ids=[
        "imfilter-corr",
        "imfilter-conv",
        "imfilter-uint8",
        "filter2-pedestal",
        "disk-10",
        "imfilter-disk",
        "imfilter-unsharp",
        "xcorr2-magic4",
    ],
)
def test_documentation_examples_agree_with_octave(oct, octave_code, run):
    want = oct.call(octave_code, {}, ["B"])["B"]
    got = run()
    assert got.shape == want.shape
    if got.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


MAGIC5_PY = [
    [17, 24, 1, 8, 15],
    [23, 5, 7, 14, 16],
    [4, 6, 13, 20, 22],
    [10, 12, 19, 21, 3],
    [11, 18, 25, 2, 9],
]
MAGIC4 = [[16, 2, 3, 13], [5, 11, 10, 8], [9, 7, 6, 12], [4, 14, 15, 1]]
PEDESTAL = np.zeros((10, 10))
PEDESTAL[2:7, 2:7] = 1
RAMP = (np.arange(1, 31)[:, None] * np.arange(1, 26)[None, :] % 256).astype(np.uint8)
