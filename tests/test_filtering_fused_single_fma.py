"""Single images through fused multiply-adds (``bridge_nonsep2`` with ``fma`` in
bridge/_kernels/_direct_c.c) give the bits of the double loop they replace.

A single image is filtered in double and rounded to single at the store. With fused
multiply-adds the sums S' differ from the double loop's S by at most an a-priori bound B; an
output is stored from S' only where S' - B and S' + B round to the same single bits, the rest
are recomputed as the double loop sums them. Each ``nonsep2`` call that imfilter makes on a
single image is run three ways and compared byte for byte: the double loop alone (mode 0), the
default (mode 1: the fused multiply-adds for kernels of 36 taps or more, 64 at the 32-byte
width, with a fallback to the double loop where too many outputs are recomputed) and the fused
multiply-adds alone at any kernel size with every undecided output recomputed (mode 3), at each
vector width the processor runs (the 16-byte build keeps the double loop: mode 3 is not taken
there). The default's result is also compared with the old path (the fused loops off).

The images are built so that the sums land on or next to the midpoints between singles, where
a fused sum and the double loop's round apart: integers times a power of two (normal singles,
subnormal ones, near the largest single) filtered by taps k / 2^m, some moved by one ulp so
that the products are inexact. Also random values across magnitudes, zeros, constants (a
zero-sum kernel's sums then straddle 0: -0 and +0 must come out as the double loop's), NaN and
Inf (the loop hands those back), RGB planes, C and Fortran order, every boundary.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import BOUNDARIES, loop_modes, same_bits
from tests.test_filtering_fused_widths import WIDTHS

pytestmark = pytest.mark.skipif(loops.C_NONSEP2 is None, reason="the C extension is not built")


def _fma_widths() -> list[int]:
    return [w for w in WIDTHS if w >= 32]


def _three_ways(fn, monkeypatch, width: int | None = None):
    """filtering_strategies.loop_modes of nonsep2 with mode 3, the forced fused path; the calls
    on finite images counted."""
    return loop_modes(fn, monkeypatch, "C_NONSEP2", "FUSED_NONSEPARABLE", 11, 3, width)[:4]


def _forced_everywhere(fn, monkeypatch, width: int) -> None:
    """fn() with the fused loops is fn() without them, bit for bit, and every nonsep2 call on
    a finite image was summed by the forced fused path (mode 3) with the double loop's bits."""
    fused, old, taken, calls = _three_ways(fn, monkeypatch, width)
    assert calls and taken == calls
    same_bits(fused, old)


def _single_image(rng, shape, style: str, scale: int) -> np.ndarray:
    """A single image: ``midpoint`` integers of 10 bits times 2^scale (sums at midpoints with
    dyadic taps); ``random`` values across magnitudes; ``tiny`` subnormals and the smallest
    normals; ``huge`` values up to the largest single (sums overflowing to Inf); ``sparse``
    mostly zeros; ``constant`` one value."""
    if style == "midpoint":
        x = rng.integers(2**9, 2**10, shape) * rng.choice([1, 1, 1, -1], shape)
        return (x * 2.0**scale).astype(np.float32)
    if style == "random":
        return (rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 9, shape)).astype(np.float32)
    if style == "tiny":
        x = rng.integers(-(2**12), 2**12, shape) * 2.0**-149
        return np.where(rng.random(shape) < 0.2, 2.0**-126, x).astype(np.float32)
    if style == "huge":
        big = np.float32(np.finfo(np.float32).max)
        x = rng.uniform(-1, 1, shape) * big
        return np.where(rng.random(shape) < 0.3, big, x).astype(np.float32)
    if style == "sparse":
        x = rng.integers(1, 2**10, shape) * 2.0**scale
        return np.where(rng.random(shape) < 0.1, x, 0.0).astype(np.float32)
    return np.full(shape, rng.choice([0.0, 1.0, -3.5, 2.0**scale]), np.float32)


def _nudge(rng, t: np.ndarray) -> np.ndarray:
    """Some taps moved by one ulp: the products become inexact, the sums land next to the
    midpoints the exact taps hit."""
    t = t.copy()
    pick = rng.random(t.shape) < 0.5
    t[pick] = np.nextafter(t[pick], rng.choice([-np.inf, np.inf], t.shape)[pick])
    return t


def _taps(rng, kind: str, shape, m: int) -> np.ndarray:
    if kind in ("dyadic", "nudged"):
        k = rng.integers(1, 2**m, shape).astype(float)
        t = k / k.sum() if k.size > 1 else k / 2**m
        t = np.round(t * 2.0**m) / 2.0**m  # k / 2^m, summing to about 1
        t[t == 0] = 2.0**-m
        return _nudge(rng, t) if kind == "nudged" else t
    if kind == "average":
        return np.full(shape, 1.0 / np.prod(shape))
    if kind == "zero-sum":  # sums near 0 on flat regions: the fallback's case
        t = rng.integers(-3, 4, shape).astype(float)
        t.reshape(-1)[0] -= t.sum()
        if not t.any():  # one tap: not zero-sum, but a kernel
            t.reshape(-1)[0] = 1.0
            t.reshape(-1)[-1] -= 1.0 if t.size > 1 else 0.0
        return t / 7
    if kind == "sparse":  # zero taps, which nonsep2 leaves out (four rows' steps: weight 0)
        t = rng.standard_normal(shape)
        t[rng.random(shape) < 0.4] = 0.0
        t.reshape(-1)[-1] = 0.5
        return t
    if kind == "gaussian":
        x = np.arange(shape[0]) - (shape[0] - 1) / 2
        g = np.exp(-(x**2) / (2 * rng.uniform(0.5, 3.0) ** 2))
        g = g / g.sum()
        return g if len(shape) == 1 else np.outer(g, g)[: shape[0], : shape[1]]
    return rng.standard_normal(shape) * rng.choice([1.0, 1e-30, 1e30])


KINDS = ("dyadic", "nudged", "average", "zero-sum", "sparse", "gaussian", "random")
STYLES = ("midpoint", "random", "tiny", "huge", "sparse", "constant")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(STYLES),
    scale=st.sampled_from((0, -20, -140, -145, 20, 100, 117)),
    kind=st.sampled_from(KINDS),
    m=st.integers(8, 24),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    corr=st.sampled_from(("corr", "conv")),
    sizes=st.tuples(st.integers(1, 40), st.integers(1, 300), st.integers(1, 9), st.integers(1, 9)),
    layout=st.sampled_from(("C", "F", "planes")),
    nonfinite=st.sampled_from((None, None, None, np.nan, np.inf, -np.inf)),
    width=st.sampled_from(WIDTHS),
)
def test_fused_multiply_adds_have_the_bits_of_the_double_loop(
    monkeypatch, seed, style, scale, kind, m, boundary, shape, corr, sizes, layout, nonfinite,
    width,
):  # fmt: skip
    rng = np.random.default_rng(seed)
    n0, n1, q0, q1 = sizes
    A = _single_image(rng, (n0, n1, 3) if layout == "planes" else (n0, n1), style, scale)
    if nonfinite is not None:
        A.reshape(-1)[rng.integers(0, A.size)] = nonfinite
    if layout == "F":
        A = np.asfortranarray(A)
    h = _taps(rng, kind, (q0, q1), m)
    fused, old, taken, calls = _three_ways(
        lambda: filtering.imfilter(A, h, boundary, shape, corr, separable=False, method="direct"),
        monkeypatch,
        width,
    )
    same_bits(fused, old)
    if width < 32:
        assert not taken  # the 16-byte build keeps the double loop
    else:
        assert taken == calls


@pytest.mark.skipif(not _fma_widths(), reason="no fused multiply-adds on this processor")
@pytest.mark.parametrize("width", _fma_widths())
@pytest.mark.parametrize("scale", [0, -30, -140, -145, 100, 117])
def test_sums_next_to_the_midpoints_between_singles(monkeypatch, width, scale):
    # Integers times 2^scale filtered by taps k / 2^m (m >= 15 for sums of about 2^9 as these:
    # steps of 2^-m no coarser than half the spacing of singles there) moved by an ulp: the
    # exact sums sit on the midpoints between singles (normal, subnormal, near the largest),
    # the double loop's and the fused ones a few ulps of double off them, often on opposite
    # sides. Each is decided or recomputed: the bits of the double loop, in the forced mode and
    # the default (6x6 and up: taken by default at 64 bytes).
    rng = np.random.default_rng(abs(scale))
    for q, m in ((5, 16), (3, 15), (7, 17), (9, 18)):
        A = _single_image(rng, (64, 300), "midpoint", scale)
        h = _taps(rng, "nudged", (q, q), m)
        _forced_everywhere(
            lambda A=A, h=h: filtering.imfilter(A, h, "symmetric", separable=False),
            monkeypatch,
            width,
        )


@pytest.mark.skipif(not _fma_widths(), reason="no fused multiply-adds on this processor")
@pytest.mark.parametrize("width", _fma_widths())
def test_bands_of_zeros_and_of_midpoint_sums(monkeypatch, width):
    # Bands of zero rows between bands of midpoint-style rows, the edges at every row modulo 4:
    # four output rows summed at once read q0 + 3 padded rows, the last of which may hold the
    # only nonzero values; the bound must count them (of the first q0 rows alone it is 0).
    rng = np.random.default_rng(4)
    for edge in range(4):
        A = _single_image(rng, (48, 200), "midpoint", 0)
        A[: 13 + edge] = 0
        A[30 + edge : 36 + edge] = 0
        for q, m in ((3, 15), (3, 16), (5, 16), (5, 17)):
            h = _taps(rng, "nudged", (q, q), m)
            _forced_everywhere(
                lambda A=A, h=h: filtering.imfilter(A, h, 0, separable=False),
                monkeypatch,
                width,
            )


@pytest.mark.skipif(not _fma_widths(), reason="no fused multiply-adds on this processor")
@pytest.mark.parametrize("width", _fma_widths())
def test_overflow_to_inf_at_the_largest_singles_midpoint(monkeypatch, width):
    # Sums around the largest single (2^128 - 2^104), rounding to it or to Inf at 2^128 - 2^103;
    # taps summing to just above 1 by a few ulps, the image at and just below the largest single.
    big = np.finfo(np.float32).max
    rng = np.random.default_rng(1)
    A = np.where(rng.random((40, 200)) < 0.7, big, np.nextafter(big, np.float32(0)))
    A = A.astype(np.float32)
    for q in (3, 6):
        for extra in (0.0, 2.0**-25, 2.0**-24, 3 * 2.0**-26):
            h = _nudge(rng, np.full((q, q), (1.0 + extra) / q**2))
            _forced_everywhere(
                lambda h=h: filtering.imfilter(A, h, "replicate", separable=False),
                monkeypatch,
                width,
            )


@pytest.mark.skipif(not _fma_widths(), reason="no fused multiply-adds on this processor")
@pytest.mark.parametrize("width", _fma_widths())
def test_signs_of_sums_rounding_to_zero(monkeypatch, width):
    # Subnormal singles under zero-sum kernels: sums below half the smallest subnormal round to
    # -0 or +0 by their sign, which the fused sum and the double loop's may not share although
    # both round to zero (the decision compares bits, not values).
    rng = np.random.default_rng(12)
    for scale in (-140, -145, -149):
        A = _single_image(rng, (40, 238), "midpoint", scale)
        for q in (3, 5):
            h = _taps(rng, "zero-sum", (q, 1 + q // 2), 0)
            _forced_everywhere(
                lambda A=A, h=h: filtering.imfilter(A, h, 0, separable=False),
                monkeypatch,
                width,
            )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("planes", [(), (3,)])
def test_flat_regions_under_a_zero_sum_kernel(monkeypatch, width, planes):
    # A constant image under a zero-sum kernel: sums of +-tiny residues or exact zeros, whose
    # signs (and -0 against +0) decide the bits; most are recomputed, so the default falls back
    # to the double loop, the forced mode recomputes them all.
    rng = np.random.default_rng(5)
    A = np.full((300, 400, *planes), np.float32(0.1), np.float32)
    A[100:150, 50:90] = np.float32(3.3)
    for q in (7, 9):
        h = _taps(rng, "zero-sum", (q, q), 0)
        fused, old, _, calls = _three_ways(
            lambda h=h: filtering.imfilter(A, h, "replicate"), monkeypatch, width
        )
        assert calls
        same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
def test_large_kernels_in_threads(monkeypatch, width):
    # 7x7, 9x9 and 15x15 kernels (taken by default) on images large enough for the kernels'
    # threads, in C and Fortran order, RGB too.
    rng = np.random.default_rng(8)
    A = _single_image(rng, (400, 500), "random", 0)
    C = _single_image(rng, (150, 170, 3), "midpoint", -10)
    h7 = filtering.fspecial("gaussian", 7, 1.0) + rng.random((7, 7)) * 1e-3  # not rank one
    h9, h15 = rng.random((9, 9)), rng.random((15, 15)) - 0.5
    for img in (A, C, np.asfortranarray(A)):
        for h, pad in ((h7, "replicate"), (h9, "symmetric"), (h15, 0)):
            fused, old, taken, calls = _three_ways(
                lambda img=img, h=h, pad=pad: filtering.imfilter(img, h, pad), monkeypatch, width
            )
            assert calls > (1 if img.ndim == 2 else 0)
            assert taken == (calls if width >= 32 else 0)
            same_bits(fused, old)


def test_modes_out_of_range_are_refused():
    A = np.zeros((4, 4), np.float32)
    idx = np.arange(4, dtype=np.int64)
    w = np.ones(1)
    with pytest.raises(ValueError):
        loops.C_NONSEP2(A.copy(), A, 1, idx, idx, 0, idx[:1], idx[:1], w, 1, 1, 0.0, 0, 4, 4)
    with pytest.raises(ValueError):
        loops.C_SEP2(A.copy(), A, 1, idx, idx, 0, w, w, 0.0, 0, 4, 3)  # sep2: no mode 3
