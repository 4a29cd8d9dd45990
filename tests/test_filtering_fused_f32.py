"""The fused separable loop's float32 path (``sep2_f32`` in bridge/_kernels/_direct_c.c) gives
the bits of its double loop, and so of the two direct passes it replaces, for the integer and
logical classes whose values float32 holds (uint8, int8, uint16, int16, logical).

The float32 sums decide an output only where every number within the a-priori bound of them
rounds (and saturates) to the same integer; the rest are recomputed as the double loop sums
them. Each call of ``sep2`` made by imfilter is run three ways and compared byte for byte: the
double loop alone (mode 0), the float32 path alone with every undecided output recomputed
however many there are (mode 2), and the default (mode 1, what imfilter returns), which is also
compared with the two-pass path (``filtering.FUSED_SEPARABLE = False``). Kernels include
averages whose taps are not exact in binary (1/3, 1/5, 1/7, 1/10: the double loop's own
rounding error decides near-ties, the case the recomputation exists for), exact halves and
quarters (exact ties), binomials, negative taps and Gaussians; images hold the classes' ends,
constants and small values (many ties).
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

pytestmark = pytest.mark.skipif(loops.C_SEP2 is None, reason="the C extension is not built")

CLASSES = ("uint8", "int8", "uint16", "int16", "bool")


def integer_image(rng, cls: str, shape, style: str) -> np.ndarray:
    dtype = np.dtype(cls)
    if dtype.kind == "b":
        return rng.random(shape) < (0.5 if style != "constant" else 2.0)
    info = np.iinfo(dtype)
    if style == "constant":
        return np.full(shape, rng.choice([info.min, info.max, 0, 1, 7]), dtype)
    if style == "ends":
        return rng.choice(np.array([info.min, info.max, 0], np.int64), shape).astype(dtype)
    if style == "small":
        return rng.integers(max(info.min, -9), 10, shape).astype(dtype)
    wide = rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64)
    small = rng.integers(max(info.min, -4), 5, shape)
    return np.where(rng.random(shape) < 0.5, wide, small).astype(dtype)


def _taps(rng, kind: str, q: int) -> np.ndarray:
    if kind == "average":
        return np.full(q, 1.0 / q)
    if kind == "halves":
        return np.full(q, 0.5)
    if kind == "quarters":
        return np.full(q, 0.25)
    if kind == "binomial":
        t = np.array([1.0])
        for _ in range(q - 1):
            t = np.convolve(t, [1.0, 1.0])
        return t / t.sum()
    if kind == "gaussian":
        x = np.arange(q) - (q - 1) / 2
        t = np.exp(-(x**2) / (2 * rng.uniform(0.3, 3.0) ** 2))
        t[t < np.finfo(float).eps * t.max()] = 0  # fspecial's cut
        return t / t.sum()
    if kind == "negative":  # a derivative-like filter: negative taps, sum 0
        t = rng.integers(-3, 4, q).astype(float)
        return t / max(1.0, np.abs(t).sum())
    if kind == "saturating":  # large taps of both signs: most outputs beyond the class's ends
        return rng.standard_normal(q) * rng.choice([2.0, 8.0])
    return rng.standard_normal(q)


def _kernel(rng, kind0: str, kind1: str, q0: int, q1: int) -> np.ndarray:
    return np.outer(_taps(rng, kind0, q0), _taps(rng, kind1, q1))


def _three_ways(fn, monkeypatch, width: int | None = None):
    """(imfilter's result, the two-pass result, sep2 calls where the float32 path was taken,
    sep2 calls): each sep2 call also run in modes 0 and 2, their rows compared byte for byte; at
    the vector width ``width`` (None: as it is)."""
    fused, old, taken, calls, flagged = loop_modes(
        fn, monkeypatch, "C_SEP2", "FUSED_SEPARABLE", 8, 2, width
    )
    return fused, old, taken, calls + flagged


def lost_taps(value: int, n: int, phi: float, H: float) -> tuple[float, float]:
    """(w, t): taps exact in float32 for a sum ``0 + value * w + value * t + ...`` (n - 1 t's,
    in that order) that float32 gets as wrong as it can near the half-integer H (0.5 for
    logical), H - 1/2 (logical: H / 2) a power of two. value * w lies just above that power of
    two, where half an ulp is u = 2^-24 times the sum, the most a rounding loses relative to it;
    each value * t is just under that half ulp, so float32 (fused multiply-add or not) drops
    every one, while the double sum keeps them: float32 gives value * w = H - phi L, the double
    sum about H + (1 - phi) L, L the n - 1 dropped terms. That is n - 1 roundings each losing
    nearly u times the sum, against the bound's gamma_n of it (about (n + 3) u in all, with the
    taps' rounding and the double loop's): for phi near 1, a distance to H of about
    (n - 1) / (n + 3) of the bound, with the double sum across H. A bound much smaller than the
    a-priori one decides such outputs from the float32 sum, on the wrong side."""
    V = abs(value)
    e = int(np.floor(np.log2(H - 0.25)))
    t = float(np.float32(0.97 * 2.0 ** (e - 24) / V))
    target = H - phi * (n - 1) * V * t
    w = np.float32(target / V)
    if V * float(w) > target:  # the float32 below: value * w at most the target
        w = np.nextafter(w, np.float32(0))
    return float(w), t


def lost_sums(value: int, w: float, t: float, n: int) -> tuple[float, float]:
    """(float32 sum, double sum) of lost_taps's terms in their order, the float32 one with
    fused steps (each exact step rounded once; here the steps without fusing round alike)."""
    yf, y = np.float32(0), 0.0
    for k in range(n):
        tap = w if k == 0 else t
        yf = np.float32(float(yf) + value * tap)
        y = y + value * tap
    return float(yf), y


TAPS = ("average", "halves", "quarters", "binomial", "gaussian", "negative", "random", "saturating")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(CLASSES),
    style=st.sampled_from(("mixed", "small", "ends", "constant")),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    kinds=st.tuples(st.sampled_from(TAPS), st.sampled_from(TAPS)),
    sizes=st.tuples(
        st.integers(1, 40),
        st.one_of(st.integers(1, 40), st.integers(250, 500)),  # one strip of columns, several
        st.one_of(st.integers(1, 10), st.integers(11, 31)),
        st.one_of(st.integers(1, 10), st.integers(11, 31)),
    ),
    planes=st.sampled_from(((), (2,), (3,))),
    width=st.sampled_from(WIDTHS),
)
def test_float32_path_has_the_bits_of_the_double_loop(
    monkeypatch, seed, cls, style, boundary, shape, mode, kinds, sizes, planes, width
):
    rng = np.random.default_rng(seed)
    n0, n1, q0, q1 = sizes
    A = integer_image(rng, cls, (n0, n1, *planes), style)
    h = _kernel(rng, *kinds, q0, q1)
    fused, old, taken, calls = _three_ways(
        lambda: filtering.imfilter(A, h, boundary, shape, mode, separable=True, method="direct"),
        monkeypatch,
        width,
    )
    same_bits(fused, old)
    # not so for zero taps, nor (zero padding) an image with fewer elements than a pass's taps
    zeros = not isinstance(boundary, str) and filtering.boundary_value(boundary, A.dtype) == 0
    tiny = zeros and A.size < max(q0, q1)
    if min(q0, q1) > 1 and filtering._rank_one(h) is not None and not tiny:
        assert calls, "the fused loop should have computed this case"
    smooth = {"average", "halves", "quarters", "binomial", "gaussian"}
    # (up to 10 taps a pass: 31 halves sum to 15.5, too wide a bound)
    if cls in ("uint8", "int8", "bool") and set(kinds) <= smooth and max(q0, q1) <= 10:
        assert taken == calls, "the float32 path should have computed this case"


@pytest.mark.parametrize("q", [3, 5, 6, 7, 10])
@pytest.mark.parametrize("cls", ["uint8", "int8", "bool"])
def test_near_ties_decided_by_the_double_loops_rounding(monkeypatch, cls, q):
    # Averages of small integers: sums k + 1/2 exactly, which the double loop's taps (1/q
    # rounded) and order put a little above or below; float32 cannot tell which.
    rng = np.random.default_rng(q)
    A = integer_image(rng, cls, (60, 300), "small")
    h = np.full((q, q), 1.0 / (q * q))
    fused, old, taken, _ = _three_ways(
        lambda: filtering.imfilter(A, h, "symmetric", separable=True), monkeypatch
    )
    assert taken
    same_bits(fused, old)


@pytest.mark.parametrize("cls", ["int16", "int8", "bool"])
def test_sixteen_bit_and_small_classes_on_the_float32_path(monkeypatch, cls):
    # int16's bound (M = 32768) admits only the smallest kernels: 2x2 quarters (ties) here,
    # so its stores, saturation and exact recomputations are exercised too; int8 and logical
    # alike. The classes' ends: sums that reach them.
    rng = np.random.default_rng(8)
    A = integer_image(rng, cls, (40, 333, 3), "ends")
    fused, old, taken, calls = _three_ways(
        lambda: filtering.imfilter(A, np.full((2, 2), 0.25), "circular", separable=True),
        monkeypatch,
    )
    assert taken == calls == 1
    same_bits(fused, old)


def test_large_images_in_threads(monkeypatch):
    # Shares of rows in the kernels' threads, an RGB image, and a tie-heavy image on which the
    # default mode redoes the call in double (mode 2 still computes every undecided output).
    rng = np.random.default_rng(11)
    cases = [
        (integer_image(rng, "uint8", (700, 650), "mixed"), lambda A: filtering.imgaussfilt(A, 2.0)),
        (
            integer_image(rng, "uint8", (300, 350, 3), "mixed"),
            lambda A: filtering.imgaussfilt(A, 1.3),
        ),
        (integer_image(rng, "int8", (600, 600), "small"), lambda A: filtering.imgaussfilt(A, 5.0)),
        (  # every output a tie: too many for the default mode
            np.tile(np.arange(640) % 2, (700, 1)).astype(np.uint8),
            lambda A: filtering.imfilter(A, np.full((2, 2), 0.25), separable=True),
        ),
    ]
    for A, fn in cases:
        fused, old, taken, _ = _three_ways(lambda A=A, fn=fn: fn(A), monkeypatch)
        assert taken
        same_bits(fused, old)


def test_wide_bounds_and_other_classes_use_the_double_loop(monkeypatch):
    # uint16 with a 21-tap Gaussian: the bound is too wide for float32 to decide most outputs;
    # int32: values float32 does not hold; double: not an integer class.
    rng = np.random.default_rng(5)
    for A, sigma in (
        (integer_image(rng, "uint16", (80, 90), "mixed"), 5.0),
        (integer_image(rng, "int32", (80, 90), "mixed"), 1.0),
        (rng.standard_normal((80, 90)), 1.0),
    ):
        fused, old, taken, calls = _three_ways(lambda A=A, s=sigma: filtering.imgaussfilt(A, s),
                                               monkeypatch)  # fmt: skip
        assert calls and not taken
        same_bits(fused, old)


@pytest.mark.parametrize(
    ("tap", "scale", "taken"),
    [(2.0**-90, 1.0, True), (2.0**-110, 1.0, False), (0.25, 2.0**-90, True), (1.0, 2.0**20, False)],
)
def test_taps_at_the_edges_of_float32s_range(monkeypatch, tap, scale, taken):
    # Taps down to 2^-100 are summed in float32 (the row products stay normal float32s); a
    # smaller nonzero tap leaves the call to the double loop, as does a kernel whose outputs
    # are too large for the bound to decide them.
    rng = np.random.default_rng(3)
    A = integer_image(rng, "uint8", (50, 300), "mixed")
    v = np.array([tap, 1.0, tap])
    h = np.outer(v, v) * scale
    fused, old, got, calls = _three_ways(
        lambda: filtering.imfilter(A, h, "replicate", separable=True), monkeypatch
    )
    assert calls and bool(got) == taken
    same_bits(fused, old)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("q0", [5, 9, 17, 31])
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.95, 1.5])
@pytest.mark.parametrize(
    ("cls", "value", "H", "sign"),
    [
        ("uint8", 255, 128.5, 1),
        ("int8", 127, 64.5, 1),
        ("int8", 127, 64.5, -1),
        ("bool", 1, 0.5, 1),
    ],
)
def test_sums_whose_small_taps_float32_drops(monkeypatch, cls, value, H, sign, phi, q0, width):
    # The column pass 0 + 2v w + 2v t + ... (the row pass [1, 1] exact: 2v for an image of the
    # one value v) in the arrangement float32 loses most on (lost_taps): float32's sum on a
    # half-integer (phi 0), short of it by up to 0.6 of the bound with the double sum across
    # it (phi 0.5, 0.8), by 0.95 of the dropped terms (the
    # double sum about on it: f32_bound, for the large tap first the worst case's, must reach
    # it), or both short (1.5). Negative taps: the same sums negated.
    w, t = lost_taps(2 * value, q0, phi, H)
    yf, y = lost_sums(2 * value, w, t, q0)
    if 0 < phi <= 0.8 and q0 >= 17:  # (w rounded down may take up to 2^-25 v of the margin)
        assert yf < H < y, "the construction should put the two sums across H"
    A = np.full((30, 300), value, np.dtype(cls))
    h = sign * np.outer([t] * (q0 - 1) + [w], [1.0, 1.0])  # correlation: w is summed first
    for pad in ("replicate", 0):
        fused, old, taken, calls = _three_ways(
            lambda pad=pad: filtering.imfilter(A, h, pad, separable=True), monkeypatch, width
        )
        assert calls == 1 and taken == 1
        same_bits(fused, old)
