"""The fused direct loop of non-separable kernels (``nonsep2`` of bridge/_kernels/_direct_c.c,
used by ``bridge.filtering._fused_direct``) gives the bits of the path it replaces: padding, the
direct sum of ``_filter_real`` (with its NaN/Inf handling) and the conversion to the image's
class.

Each case is computed twice, the fused loop on and off (``filtering.FUSED_NONSEPARABLE``), and
the results compared byte for byte, with the loop's use counted so that a case it should take
cannot pass by falling back. Images hold ties (exact halves), values that saturate the class,
signed zeros, the edges of the classes' ranges and, for floating classes, NaN and Inf (the loop
then hands the case back); kernels hold zero taps, and are odd or even, rows or columns.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import (
    BOUNDARIES,
    fused_image,
    fused_old_and_ran,
    same_bits,
    short_shares,
)
from tests.test_filtering_fused import CLASSES

pytestmark = pytest.mark.skipif(loops.C_NONSEP2 is None, reason="the C extension is not built")


def _kernel(rng, kind: str, q0: int, q1: int) -> np.ndarray:
    h = rng.standard_normal((q0, q1))
    if kind == "zeros":
        h[rng.random((q0, q1)) < 0.4] = 0.0  # zero taps: left out of the sums
    elif kind == "halves":
        h = rng.integers(-4, 5, (q0, q1)) / 4  # exact sums: ties after rounding
    elif kind == "nothing":
        h = np.zeros((q0, q1))
    elif kind == "huge":
        h = h * 1e300  # products overflow to Inf in the same order
    return h


def _both(fn, monkeypatch):
    """(fused result, old result, whether the fused loop ran)."""
    return fused_old_and_ran(fn, monkeypatch, "C_NONSEP2", "FUSED_NONSEPARABLE")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(CLASSES),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    kind=st.sampled_from(("random", "zeros", "halves", "nothing", "huge")),
    sizes=st.tuples(
        st.integers(1, 40),
        st.one_of(st.integers(1, 40), st.integers(250, 700)),  # one strip of columns, several
        st.integers(1, 9),
        st.integers(1, 9),
    ),
    separable=st.sampled_from((None, False, True)),
    method=st.sampled_from(("auto", "direct")),
    planes=st.sampled_from(((), (2,), (3,))),
    order=st.sampled_from("CF"),
    nonfinite=st.sampled_from(((), (np.nan,), (np.inf,), (-np.inf, np.nan))),
    threads=st.booleans(),
)
def test_fused_imfilter_has_the_bits_of_the_direct_sum(
    monkeypatch, seed, cls, boundary, shape, mode, kind, sizes, separable, method, planes,
    order, nonfinite, threads,
):  # fmt: skip
    rng = np.random.default_rng(seed)
    n0, n1, q0, q1 = sizes
    A = np.asarray(fused_image(rng, cls, (n0, n1, *planes)), order=order)
    if A.dtype.kind == "f":
        for v in nonfinite:
            A[tuple(rng.integers(0, d) for d in A.shape)] = v
    h = _kernel(rng, kind, q0, q1)
    if threads:  # many shares of rows, in the kernels' threads
        short_shares(monkeypatch, 3)
    fused, old, ran = _both(
        lambda: filtering.imfilter(A, h, boundary, shape, mode, separable=separable, method=method),
        monkeypatch,
    )
    same_bits(fused, old)
    fill_ok = isinstance(boundary, str) or A.dtype.kind != "b" or boundary in (0, 3.5)
    if method == "direct" and separable is False and A.size >= h.size and fill_ok:
        assert ran, "the fused loop should have computed this case"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from([c for c in CLASSES if c != "bool"]),
    sigma=st.one_of(st.floats(0.2, 0.5), st.tuples(st.floats(0.2, 3.0), st.floats(0.2, 3.0))),
    size=st.one_of(
        st.none(),
        st.tuples(
            st.integers(1, 4).map(lambda k: 2 * k - 1), st.integers(1, 4).map(lambda k: 2 * k - 1)
        ),
    ),
    padding=st.sampled_from(("replicate", "symmetric", "circular", 0, 12.5)),
    sizes=st.tuples(st.integers(1, 60), st.integers(1, 60)),
    planes=st.sampled_from(((), (3,))),
    separable=st.sampled_from((None, False)),
)
def test_fused_imgaussfilt_has_the_bits_of_the_direct_sum(
    monkeypatch, seed, cls, sigma, size, padding, sizes, planes, separable
):  # fmt: skip
    # Small Gaussians (the default sigma 0.5 is 3x3) and any kernel with separable=False take
    # the one direct pass.
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, (*sizes, *planes))
    sig = list(sigma) if isinstance(sigma, tuple) else sigma
    extra = ("FilterSize", list(size)) if size is not None else ()
    fused, old, ran = _both(
        lambda: filtering.imgaussfilt(A, sig, "Padding", padding, *extra, separable=separable),
        monkeypatch,
    )
    same_bits(fused, old)
    if separable is False:
        assert ran, "the fused loop should have computed this case"


def test_wide_images_large_kernels_and_threads(monkeypatch):
    # Several strips of columns (3x3: about 1000 columns a strip), shares of rows in the
    # kernels' threads, an RGB image plane by plane, a column-major image read in place.
    rng = np.random.default_rng(11)
    for cls, shape, q in (
        ("float64", (300, 2100), (3, 3)),
        ("uint8", (700, 650), (3, 3)),
        ("float32", (300, 650), (15, 15)),
        ("int16", (300, 650), (8, 5)),
        ("uint8", (300, 350, 3), (5, 5)),
        ("uint16", (400, 500), (1, 7)),
        ("float64", (400, 500), (7, 1)),
    ):
        for order in "CF":
            A = np.asarray(fused_image(rng, cls, shape), order=order)
            h = rng.standard_normal(q)
            for boundary in ("symmetric", 0, "circular"):
                fused, old, ran = _both(
                    lambda A=A, h=h, b=boundary: filtering.imfilter(A, h, b, method="direct"),
                    monkeypatch,
                )
                assert ran
                same_bits(fused, old)


def test_nonfinite_images_and_kernels_take_the_old_path(monkeypatch):
    # Inf times a zero tap is not a term (MATLAB's nonzero taps), Inf times the padding's zeros
    # is NaN only for a NaN/Inf tap: the old path's answers, whichever path gives them.
    rng = np.random.default_rng(3)
    A = rng.standard_normal((60, 50))
    A[5, 7], A[40, 3], A[0, 0] = np.nan, -np.inf, np.inf
    h = rng.standard_normal((3, 4))
    h[1, 1] = 0.0
    fused, old, ran = _both(lambda: filtering.imfilter(A, h, "replicate"), monkeypatch)
    assert ran
    same_bits(fused, old)
    assert np.isfinite(fused[5, 7]) and np.isnan(fused[5, 8])  # the centre tap is zero
    h[0, 0] = np.inf
    fused, old, ran = _both(lambda: filtering.imfilter(A[10:30, 10:30], h, 0), monkeypatch)
    assert not ran
    same_bits(fused, old)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_zero_sums_are_plus_zero(monkeypatch, dtype):
    # Every product is -0 (+0 times negative taps, and the first tap is negative): a sum that
    # starts from +0, as the direct loop's does, stays +0; one started from the first product
    # would be -0. Wide enough for the vector blocks and the scalar tail.
    A = np.zeros((40, 301), dtype)
    h = -np.arange(1.0, 10.0).reshape(3, 3)
    fused, old, ran = _both(lambda: filtering.imfilter(A, h, "replicate"), monkeypatch)
    assert ran
    same_bits(fused, old)
    assert not np.signbit(fused).any()


def test_the_sum_order_is_the_kernels_index_order(monkeypatch):
    # 1e16 + 1 - 1e16 depends on the order of the terms: the taps in the kernel's index order
    # (after the rotation of correlation), as the direct loop adds them.
    A = np.array([[1e16, 1.0, -1e16, 1.0, 3.0, -2.0]])
    for h in (np.array([[1.0, 1.0, 1.0]]), np.array([[1.0, 1.0, 1.0, 1.0]]), np.ones((2, 3))):
        for mode in ("corr", "conv"):
            for order in "CF":
                B = np.asarray(np.vstack([A, A[:, ::-1], -A]), order=order)
                fused, old, ran = _both(
                    lambda B=B, h=h, m=mode: filtering.imfilter(B, h, m, method="direct"),
                    monkeypatch,
                )
                assert ran
                same_bits(fused, old)
