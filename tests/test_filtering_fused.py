"""The fused separable loop (``sep2`` of bridge/_kernels/_direct_c.c, used by
``bridge.filtering._fused_separable``) gives the bits of the path it replaces: padding, the two
direct passes of ``_filter_real`` and the conversion to the image's class.

Each case is computed twice, the fused loop on and off (``filtering.FUSED_SEPARABLE``), and the
results compared byte for byte, with the loop's use counted so that a case it should take
cannot pass by falling back. Images hold ties (exact halves after averaging), values that
saturate the class, signed zeros and the edges of the classes' ranges.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import BOUNDARIES, fused_image, fused_old_and_ran, same_bits

pytestmark = pytest.mark.skipif(loops.C_SEP2 is None, reason="the C extension is not built")

CLASSES = (
    "float64", "float32", "uint8", "int8", "uint16", "int16", "uint32", "int32", "bool",
)  # fmt: skip


def _kernel(rng, kind: str, q0: int, q1: int) -> np.ndarray:
    if kind == "average":
        return filtering.fspecial("average", [q0, q1])
    if kind == "gaussian":
        return filtering.fspecial("gaussian", [q0, q1], float(rng.uniform(0.3, 3.0)))
    u, v = rng.standard_normal(q0), rng.standard_normal(q1)
    if kind == "zeros" and q0 > 1:
        u[rng.integers(0, q0)] = 0.0  # zero taps: skipped by the direct loop, products here
    return np.outer(u, v)


def _both(fn, monkeypatch):
    """(fused result, old result, whether the fused loop ran)."""
    return fused_old_and_ran(fn, monkeypatch, "C_SEP2", "FUSED_SEPARABLE")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(CLASSES),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    kind=st.sampled_from(("average", "gaussian", "outer", "zeros")),
    sizes=st.tuples(
        st.integers(1, 45),
        st.one_of(st.integers(1, 45), st.integers(250, 700)),  # one strip of columns, several
        st.integers(2, 9),
        st.integers(2, 9),
    ),
    separable=st.sampled_from((None, True)),
    method=st.sampled_from(("auto", "direct")),
    planes=st.sampled_from(((), (2,), (3,))),
)
def test_fused_imfilter_has_the_bits_of_the_two_passes(
    monkeypatch, seed, cls, boundary, shape, mode, kind, sizes, separable, method, planes
):
    rng = np.random.default_rng(seed)
    n0, n1, q0, q1 = sizes
    A = fused_image(rng, cls, (n0, n1, *planes))
    h = _kernel(rng, kind, q0, q1)
    fused, old, ran = _both(
        lambda: filtering.imfilter(A, h, boundary, shape, mode, separable=separable, method=method),
        monkeypatch,
    )
    same_bits(fused, old)
    rank_one = filtering._rank_one(h) is not None  # not always so for a cut Gaussian
    # under zero padding an image with fewer elements than a pass's taps takes the two passes
    zeros = not isinstance(boundary, str) and filtering.boundary_value(boundary, A.dtype) == 0
    tiny = zeros and A.size < max(q0, q1)
    wide = separable or q0 * q1 > q0 + q1 + 4
    if kind in ("average", "gaussian") and rank_one and wide and not tiny:
        assert ran, "the fused loop should have computed this case"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from([c for c in CLASSES if c != "bool"]),
    sigma=st.one_of(st.floats(0.3, 3.0), st.tuples(st.floats(0.3, 3.0), st.floats(0.3, 3.0))),
    padding=st.sampled_from(("replicate", "symmetric", "circular", 0, 12.5)),
    sizes=st.tuples(st.integers(1, 60), st.integers(1, 60)),
    planes=st.sampled_from(((), (3,))),
)
def test_fused_imgaussfilt_has_the_bits_of_the_two_passes(
    monkeypatch, seed, cls, sigma, padding, sizes, planes
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, (*sizes, *planes))
    sig = list(sigma) if isinstance(sigma, tuple) else sigma
    fused, old, _ = _both(lambda: filtering.imgaussfilt(A, sig, "Padding", padding), monkeypatch)
    same_bits(fused, old)


def test_large_image_in_threads_and_nonfinite_fall_back(monkeypatch):
    # Shares of rows in the kernels' threads; NaN/Inf in the image: the old path's answer.
    rng = np.random.default_rng(7)
    for cls, shape in (
        ("float64", (700, 650)),
        ("float32", (700, 650)),
        ("uint8", (700, 650)),
        ("int16", (700, 650)),
        ("uint8", (300, 350, 3)),  # an RGB image: plane by plane
    ):
        A = fused_image(rng, cls, shape)
        fused, old, ran = _both(lambda A=A: filtering.imgaussfilt(A, 2.5), monkeypatch)
        assert ran
        same_bits(fused, old)
    A = rng.standard_normal((300, 200))
    A[5, 7], A[250, 3] = np.nan, -np.inf
    fused, old, ran = _both(lambda: filtering.imfilter(A, np.ones((5, 5)) / 25, "symmetric"),
                            monkeypatch)  # fmt: skip
    assert ran
    same_bits(fused, old)
    assert np.isnan(fused[5, 7])


def test_rounding_ties_and_saturation_exactly():
    # 2-tap averages of integers: exact halves, rounded away from zero; saturation at the ends.
    A = np.array([[1, 2, 3, 4], [-1, -2, -3, -4], [-128, -127, 126, 127]], np.int8)
    h = np.full((2, 2), 0.25)
    got = filtering.imfilter(A, h, "replicate", separable=True)
    P = np.pad(A.astype(float), ((0, 1), (0, 1)), mode="edge")
    exact = (P[:-1, :-1] + P[:-1, 1:] + P[1:, :-1] + P[1:, 1:]) / 4
    want = np.clip(np.sign(exact) * np.floor(np.abs(exact) + 0.5), -128, 127).astype(np.int8)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_zero_sums_are_plus_zero(monkeypatch, dtype):
    # Every product of the column pass is -0 here (+0 rows times negative taps): a sum that
    # starts from +0, as the direct loop's does, stays +0; one started from the first product
    # would be -0. The image is wide enough for the vector blocks and the scalar tail.
    A = np.zeros((40, 301), dtype)
    h = np.outer([-1.0, -2.0, -1.0], [1.0, 2.0, 1.0])
    fused, old, ran = _both(lambda: filtering.imfilter(A, h, "replicate", separable=True),
                            monkeypatch)  # fmt: skip
    assert ran
    same_bits(fused, old)
    assert not np.signbit(fused).any()


@pytest.mark.parametrize(
    ("image", "taps"),
    [
        ([[1.9, -5.2, -4.1, -24.4]], (4, 5)),  # the image smaller than the row pass's taps
        ([[3.5], [8.2], [3.3]], (6, 2)),  # the row pass's result smaller than the column's
        ([[[1.3, -1.3]], [[6.4, 1.0]], [[-5.4, 3.6]]], (7, 2)),  # the same, two planes
        ([[[1.9, -5.2], [-4.1, -24.4], [18.0, 11.4]]], (3, 7)),  # two planes, row pass
    ],
    ids=["row-pass", "column-pass", "planes-column-pass", "planes-row-pass"],
)
def test_an_image_smaller_than_a_pass_s_taps_keeps_the_two_passes_bits(monkeypatch, image, taps):
    """Under zero padding the two passes sum an image (or the row pass's result) with fewer
    elements than the pass's taps the other way round (the direct loop takes the smaller
    operand as the taps): found by hypothesis as a last-bit difference, so the fused loop
    hands such cases back. Each image here shows the difference if it does not."""
    A = np.array(image)
    h = filtering.fspecial("average", list(taps))
    for separable in (True, None):
        fused, old, _ = _both(
            lambda s=separable: filtering.imfilter(A, h, 0, "same", "corr", separable=s),
            monkeypatch,
        )
        same_bits(fused, old)
