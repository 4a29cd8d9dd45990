"""The fused direct loop's float32 path (``nonsep2_f32`` in bridge/_kernels/_direct_c.c) gives the
bits of its double loop, and so of the direct sum over a padded double copy it replaces, for the
integer and logical classes whose values float32 holds (uint8, int8, uint16, int16, logical).

As for the separable loop (tests/test_filtering_fused_f32.py): the float32 sum decides an output
only where every number within the a-priori bound of it rounds (and saturates) to the same
integer; the rest are recomputed as the double loop sums them. Each call of ``nonsep2`` made by
imfilter or imgaussfilt is run three ways and compared byte for byte: the double loop alone (mode
0), the float32 path alone with every undecided output recomputed however many there are (mode
2), and the default (mode 1, what the call returns), which is also compared with the old path
(``filtering.FUSED_NONSEPARABLE = False``), at each vector width the processor runs. Kernels
include averages whose taps are not exact in binary (the double loop's own rounding decides
near-ties), exact halves and quarters (exact ties), negative and random taps, zero taps and
Gaussians; images hold the classes' ends, constants and small values (many ties), in C and
Fortran order, with and without planes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import BOUNDARIES, loop_modes, same_bits
from tests.test_filtering_fused_f32 import CLASSES, integer_image, lost_sums, lost_taps
from tests.test_filtering_fused_widths import WIDTHS

pytestmark = pytest.mark.skipif(loops.C_NONSEP2 is None, reason="the C extension is not built")


def _three_ways(fn, monkeypatch, width: int | None = None):
    """filtering_strategies.loop_modes of nonsep2 with mode 2, the float32 path; every call
    counted."""
    fused, old, taken, calls, flagged = loop_modes(
        fn, monkeypatch, "C_NONSEP2", "FUSED_NONSEPARABLE", 11, 2, width
    )
    return fused, old, taken, calls + flagged


def _kernel(rng, kind: str, q0: int, q1: int) -> np.ndarray:
    if kind == "average":
        return np.full((q0, q1), 1.0 / (q0 * q1))
    if kind == "halves":
        return np.full((q0, q1), 0.5)
    if kind == "quarters":
        return np.full((q0, q1), 0.25)
    if kind == "negative":  # a Laplacian-like kernel: negative taps, sum 0
        h = rng.integers(-3, 4, (q0, q1)).astype(float)
        return h / max(1.0, np.abs(h).sum())
    if kind == "sparse":  # zero taps (nonsep2 sums the nonzero ones)
        h = rng.random((q0, q1))
        h[rng.random((q0, q1)) < 0.5] = 0.0
        h.flat[0] = 0.3
        return h
    if kind == "gaussian":
        return filtering.fspecial("gaussian", [q0, q1], float(rng.uniform(0.3, 2.0)))
    if kind == "saturating":  # large taps of both signs: most outputs beyond the class's ends
        return rng.standard_normal((q0, q1)) * rng.choice([1.0, 4.0, 16.0])
    return rng.random((q0, q1)) * rng.choice([1.0, 0.1, 3.0])


KINDS = ("average", "halves", "quarters", "negative", "sparse", "gaussian", "random", "saturating")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(CLASSES),
    style=st.sampled_from(("mixed", "small", "ends", "constant")),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    kind=st.sampled_from(KINDS),
    sizes=st.tuples(st.integers(1, 40), st.integers(1, 300), st.integers(1, 7), st.integers(1, 7)),
    layout=st.sampled_from(("C", "F", "planes")),
    width=st.sampled_from(WIDTHS),
)
def test_float32_path_has_the_bits_of_the_double_loop(
    monkeypatch, seed, cls, style, boundary, shape, mode, kind, sizes, layout, width
):
    rng = np.random.default_rng(seed)
    n0, n1, q0, q1 = sizes
    A = integer_image(rng, cls, (n0, n1, 3) if layout == "planes" else (n0, n1), style)
    if layout == "F":
        A = np.asfortranarray(A)
    h = _kernel(rng, kind, q0, q1)
    fused, old, _, _ = _three_ways(
        lambda: filtering.imfilter(A, h, boundary, shape, mode, separable=False, method="direct"),
        monkeypatch,
        width,
    )
    same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("q", [(2, 2), (3, 3), (3, 5), (5, 5), (7, 6)])
@pytest.mark.parametrize("cls", ["uint8", "int8", "bool"])
def test_near_ties_decided_by_the_double_loops_rounding(monkeypatch, cls, q, width):
    # Averages of small integers: sums k + 1/2 exactly or nearly, which the double loop's taps
    # (1/(q0 q1) rounded) and order put a little above or below; float32 cannot tell which.
    rng = np.random.default_rng(q[0] * 10 + q[1])
    A = integer_image(rng, cls, (60, 300), "small")
    h = np.full(q, 1.0 / (q[0] * q[1]))
    fused, old, taken, calls = _three_ways(
        lambda: filtering.imfilter(A, h, "symmetric", separable=False), monkeypatch, width
    )
    assert taken == calls == 1
    same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
def test_imgaussfilts_default_and_the_benchmarks_kernels(monkeypatch, width):
    # imgaussfilt's default sigma 0.5 (3x3, one direct pass) and random 3x3, 5x5 and 9x9 kernels
    # on uint8 images, every boundary, C and Fortran order and RGB: the float32 path is taken
    # but for the 9x9 kernel (taps summing to about 40: the bound is too wide).
    rng = np.random.default_rng(21)
    A = integer_image(rng, "uint8", (97, 203), "mixed")
    for img in (A, np.asfortranarray(A), integer_image(rng, "uint8", (40, 70, 3), "mixed")):
        for pad in ("replicate", "symmetric", "circular", 0, 7):
            fused, old, taken, calls = _three_ways(
                lambda img=img, pad=pad: filtering.imgaussfilt(img, 0.5, "Padding", pad),
                monkeypatch,
                width,
            )
            assert taken == calls == 1
            same_bits(fused, old)
        for q in (3, 5, 9):
            h = rng.random((q, q))
            for pad in ("replicate", 0):
                fused, old, taken, calls = _three_ways(
                    lambda img=img, h=h, pad=pad: filtering.imfilter(img, h, pad), monkeypatch,
                    width,
                )  # fmt: skip
                assert calls == 1 and taken == (q < 9)
                same_bits(fused, old)


def test_large_images_in_threads(monkeypatch):
    # Shares of rows in the kernels' threads, an RGB image, and a tie-heavy image on which the
    # default mode redoes the call in double (mode 2 still computes every undecided output).
    rng = np.random.default_rng(11)
    h3 = rng.random((3, 3))
    cases = [
        (integer_image(rng, "uint8", (700, 650), "mixed"), lambda A: filtering.imfilter(A, h3)),
        (integer_image(rng, "uint8", (300, 350, 3), "mixed"), lambda A: filtering.imgaussfilt(A)),
        (
            integer_image(rng, "int8", (600, 600), "small"),
            lambda A: filtering.imfilter(A, h3, "circular"),
        ),
        (  # every output a tie: too many for the default mode
            np.tile(np.arange(700) % 2, (1000, 1)).astype(np.uint8),
            lambda A: filtering.imfilter(A, np.full((2, 2), 0.25), separable=False),
        ),
    ]
    for A, fn in cases:
        fused, old, taken, calls = _three_ways(lambda A=A, fn=fn: fn(A), monkeypatch)
        assert taken and calls > 1
        same_bits(fused, old)


def test_wide_bounds_and_other_classes_use_the_double_loop(monkeypatch):
    # uint16 with a large kernel: the bound is too wide for float32 to decide most outputs;
    # int32: values float32 does not hold; double and single: not integer classes (with NaN
    # and Inf, which leave the fused loop to the old path); a fill float32 does not hold.
    rng = np.random.default_rng(5)
    f = rng.standard_normal((80, 90))
    f[3, 4], f[50, 7] = np.nan, -np.inf
    for A, h, pad in (
        (integer_image(rng, "uint16", (80, 90), "mixed"), rng.random((9, 9)) * 40, "replicate"),
        (integer_image(rng, "int32", (80, 90), "mixed"), rng.random((3, 3)), "replicate"),
        (rng.standard_normal((80, 90)), rng.random((3, 3)), "replicate"),
        (rng.standard_normal((80, 90)).astype(np.float32), rng.random((3, 3)), 0),
        (f, rng.random((3, 3)), "symmetric"),
        (integer_image(rng, "uint16", (80, 90), "mixed"), rng.random((3, 3)), 2.0**24 + 1),
    ):
        fused, old, taken, calls = _three_ways(
            lambda A=A, h=h, pad=pad: filtering.imfilter(A, h, pad), monkeypatch
        )
        assert calls and not taken
        same_bits(fused, old)


@pytest.mark.parametrize(
    ("tap", "scale", "taken"),
    [(2.0**-90, 1.0, True), (2.0**-110, 1.0, False), (0.25, 2.0**-90, True), (1.0, 2.0**20, False)],
)
def test_taps_at_the_edges_of_float32s_range(monkeypatch, tap, scale, taken):
    # Taps down to 2^-100 are summed in float32 (the products stay normal float32s); a smaller
    # nonzero tap leaves the call to the double loop, as does a kernel whose outputs are too
    # large for the bound to decide them.
    rng = np.random.default_rng(3)
    A = integer_image(rng, "uint8", (50, 300), "mixed")
    h = np.array([[tap, 1.0, tap], [1.0, tap, 0.5], [tap, 0.0, tap]]) * scale
    fused, old, got, calls = _three_ways(lambda: filtering.imfilter(A, h, "replicate"), monkeypatch)
    assert calls and bool(got) == taken
    same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    ("shape", "q"),
    [((30, 2500), (3, 3)), ((25, 1777), (7, 7)), ((20, 700, 3), (7, 5)), ((12, 4100), (2, 9))],
)
def test_images_wider_than_a_strip(monkeypatch, shape, q, width):
    # The float32 loop works in strips of at most 1920 columns (its ring 24 KiB): images of
    # several strips, the last one partial, each boundary, in C and Fortran order.
    rng = np.random.default_rng(sum(shape) + q[0])
    A = integer_image(rng, "uint8", shape, "mixed")
    h = rng.random(q) / q[0]  # taps summing to about q1 / 2: a bound the float32 path takes
    images = (A, np.asfortranarray(A)) if A.ndim == 2 else (A,)
    for img in images:
        for pad in (0, "replicate", "symmetric", "circular", 9.5):
            for size in ("same", "full"):
                fused, old, taken, calls = _three_ways(
                    lambda img=img, pad=pad, size=size: filtering.imfilter(img, h, pad, size),
                    monkeypatch,
                    width,
                )
                assert taken == calls >= 1  # several: the transposed image's rows in threads
                same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.95, 1.5])
@pytest.mark.parametrize(
    ("cls", "value", "H", "q", "sign"),
    [
        ("uint8", 255, 128.5, (3, 3), 1),
        ("uint8", 255, 128.5, (7, 7), 1),
        ("uint8", 255, 128.5, (31, 2), 1),
        ("int8", 127, 64.5, (5, 5), -1),
        ("int8", -127, 64.5, (4, 6), 1),
        ("bool", 1, 0.5, (5, 5), 1),
        ("uint16", 65535, 32768.5, (2, 2), 1),
        ("int16", 32767, 16384.5, (3, 3), -1),
    ],
)
def test_sums_whose_small_taps_float32_drops(monkeypatch, cls, value, H, q, sign, phi, width):
    # 0 + v w + v t + ... over the q0 q1 taps, for an image of the one value v, in the
    # arrangement float32 loses most on (tests/test_filtering_fused_f32.py's lost_taps): float32's
    # sum on a half-integer (phi 0), short of it by up to 0.6 of the bound with the double sum
    # across it (phi 0.5, 0.8), by 0.95 of the dropped terms (the
    # double sum about on it: f32_bound, for the large tap first the worst case's, must reach
    # it), or both short (1.5); negative taps or values: the sums negated.
    n = q[0] * q[1]
    w, t = lost_taps(value, n, phi, H)
    yf, y = lost_sums(abs(value), w, t, n)
    if 0 < phi <= 0.8 and n >= 17:
        assert yf < H < y, "the construction should put the two sums across H"
    h = np.full(q, sign * t)
    h[-1, -1] = sign * w  # correlation: the last tap is summed first
    A = np.full((30, 300), value, np.dtype(cls))
    for img in (A, np.asfortranarray(A)):
        for pad in ("replicate", 0):
            fused, old, taken, calls = _three_ways(
                lambda img=img, pad=pad: filtering.imfilter(img, h, pad, separable=False),
                monkeypatch,
                width,
            )
            assert taken == calls == 1
            same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("q", [(5, 5), (9, 9), (4, 11)])
@pytest.mark.parametrize("cls", CLASSES)
def test_kernels_whose_outputs_mostly_saturate(monkeypatch, cls, q, width):
    # Standard normal taps (absolute sums of 20 to 65): most outputs saturate, and
    # store_guarded clamps before it looks for a half-integer (a saturated output is decided
    # whatever the bound); the float32 path taken for the 5x5 kernel on uint8, the wider
    # bounds left to the double loop. The classes' ends, values in between, small values.
    rng = np.random.default_rng(q[0] * 100 + q[1])
    h = rng.standard_normal(q)
    for style in ("mixed", "ends", "small"):
        A = integer_image(rng, cls, (50, 260), style)
        for pad in ("replicate", 0):
            fused, old, taken, calls = _three_ways(
                lambda A=A, pad=pad: filtering.imfilter(A, h, pad), monkeypatch, width
            )
            assert calls == 1
            if cls == "uint8" and q == (5, 5):
                assert taken, "the float32 path should have computed this case"
            same_bits(fused, old)
