"""imfilter's guarded FFT (issue 18, :func:`bridge.filtering._guarded_fft`): an integer or
logical image under a kernel that ``method='auto'`` sums by an FFT gets the bits of the direct
loop (``method='direct'``): the FFT's sums are stored only where the bound leaves no half-integer
within reach, the rest recomputed as nonsep2 sums them, and a band that recomputes too many
goes by nonsep2 itself.

The path is forced on small images (``_picks_direct`` patched to say "an FFT", small chunks so
that an image spans several, partial ones included) and its use counted, so every case here
runs it; each result is compared byte for byte with ``method='direct'``. The adversarial cases
put sums on half-integers exactly (integer images, taps that are multiples of 1/2 or 1/8), where
rounding the FFT's value would differ from the direct loop's one time in two.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.test_filtering_fused_widths import WIDTHS

pytestmark = pytest.mark.skipif(loops.C_GUARD2 is None, reason="the C extension is not built")

CLASSES = (np.uint8, np.int8, np.uint16, np.int16, np.bool_)
BOUNDARIES = (0, 3, -200, "replicate", "symmetric", "circular")


@pytest.fixture
def forced(monkeypatch):
    """The guarded path for every image the fused direct loop takes; returns the counts of
    guard2 calls, outputs recomputed, and bands redone by nonsep2."""
    counts = {"guard2": 0, "recomputed": 0, "fallback": 0}
    real_guard, real_rows = loops.C_GUARD2, filtering._nonsep2_rows

    def guard(*args):
        n = real_guard(*args)
        counts["guard2"] += 1
        counts["recomputed"] += max(n, 0)
        return n

    def rows(*args):
        counts["fallback"] += 1
        return real_rows(*args)

    monkeypatch.setattr(filtering, "_picks_direct", lambda a, b: False)
    monkeypatch.setattr(filtering, "GUARD_CHUNK", 7)
    monkeypatch.setattr(loops, "C_GUARD2", guard)
    monkeypatch.setattr(filtering, "_nonsep2_rows", rows)
    return counts


def _image(rng, cls, shape, layout="C") -> np.ndarray:
    if cls is np.bool_:
        A = rng.random(shape) < 0.5
    else:
        info = np.iinfo(cls)
        A = rng.integers(info.min, int(info.max) + 1, shape).astype(cls)
    return np.asfortranarray(A) if layout == "F" else A


def _kernel(rng, shape, kind: str) -> np.ndarray:
    if kind == "halves":
        return rng.integers(-3, 4, shape) / 2.0
    if kind == "eighths":
        return rng.integers(-9, 10, shape) / 8.0
    if kind == "small":  # sums of uint8 images near 0..255: saturation on both sides
        return rng.standard_normal(shape) / 40
    return rng.standard_normal(shape)


def _same_as_direct(A, h, *options, layout: bool = False) -> np.ndarray:
    got = filtering.imfilter(A, h, *options)
    want = filtering.imfilter(A, h, *options, method="direct")
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes(), f"{int(np.sum(got != want))} outputs differ"
    if layout:  # the guarded path's layout is the direct loop's
        assert got.flags.f_contiguous == want.flags.f_contiguous
    return got


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("taps", ["halves", "eighths"])
def test_sums_on_half_integers(forced, monkeypatch, cls, taps):
    """Integer images and dyadic taps: many sums are half-integers exactly; the FFT's value
    near them must not decide the rounding (a budget that never gives up, so they are all
    recomputed by guard2)."""
    monkeypatch.setattr(filtering, "GUARD_BUDGET", 10**6)
    rng = np.random.default_rng(18)
    for shape, q in (((23, 19), (5, 4)), ((16, 30), (3, 7)), ((9, 9), (6, 6))):
        A = _image(rng, cls, shape)
        h = _kernel(rng, q, taps)
        for options in ((), ("full", "conv"), ("replicate",), (7, "symmetric")):
            _same_as_direct(A, h, *options)
    assert forced["guard2"] > 0 and forced["recomputed"] > 0 and forced["fallback"] == 0


@pytest.mark.parametrize("cls", [np.uint8, np.int16])
def test_budget_gives_up_to_nonsep2(forced, monkeypatch, cls):
    """No budget: the first band that recomputes goes, with the rest, by nonsep2 (the same
    bits)."""
    monkeypatch.setattr(filtering, "GUARD_BUDGET", 0)
    monkeypatch.setattr(filtering, "GUARD_START", 0)
    rng = np.random.default_rng(5)
    A = _image(rng, cls, (30, 26))
    _same_as_direct(A, _kernel(rng, (4, 5), "halves"))
    _same_as_direct(A, _kernel(rng, (4, 5), "halves"), "full", "circular")
    assert forced["fallback"] > 0


@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("cls", CLASSES)
def test_saturation_and_layouts(forced, cls, layout):
    """Sums beyond the class's range on both sides (saturated), both memory layouts (a
    column-major image gives a column-major result, as the direct loop's)."""
    rng = np.random.default_rng(7)
    A = _image(rng, cls, (21, 17), layout)
    for kind in ("small", "normal"):
        for q in ((4, 4), (5, 3), (2, 6)):
            h = _kernel(rng, q, kind)
            for options in ((), ("full",), ("conv", "symmetric"), (-5, "full", "conv")):
                before = forced["guard2"]
                _same_as_direct(A, h, *options, layout=True)
                assert forced["guard2"] > before
    assert forced["guard2"] > 0


def test_the_path_is_taken_without_forcing():
    """A real case where 'auto' takes an FFT: a uint8 image under a 31x31 kernel goes by the
    guarded path (guard2 runs) and gives the direct loop's bits."""
    calls = []
    real = loops.C_GUARD2

    def guard(*args):
        calls.append(1)
        return real(*args)

    rng = np.random.default_rng(31)
    A = _image(rng, np.uint8, (300, 280))
    h = rng.random((31, 31))
    try:
        loops.C_GUARD2 = guard
        _same_as_direct(A, h)
    finally:
        loops.C_GUARD2 = real
    assert calls


@pytest.mark.parametrize("cls", CLASSES)
def test_planes(forced, monkeypatch, cls):
    """RGB images (3-D, a 2-D kernel): each plane by the guarded path, the direct loop's bits,
    with recomputations (dyadic taps) and with the fall back to nonsep2."""
    rng = np.random.default_rng(3)
    A = _image(rng, cls, (17, 22, 3))
    for budget in (10**6, 0):
        monkeypatch.setattr(filtering, "GUARD_BUDGET", budget)
        monkeypatch.setattr(filtering, "GUARD_START", 0 if budget == 0 else 1 << 14)
        for taps in ("eighths", "normal"):
            h = _kernel(rng, (5, 4), taps)
            for options in ((), ("full", "conv"), ("symmetric",), (9, "full")):
                _same_as_direct(A, h, *options)
    assert forced["guard2"] > 0 and forced["recomputed"] > 0 and forced["fallback"] > 0


def test_off_switch_and_classes_left_alone(forced):
    """GUARDED_FFT False, single and double images: no guard2."""
    rng = np.random.default_rng(2)
    h = _kernel(rng, (5, 5), "normal")
    A = _image(rng, np.uint8, (20, 20))
    filtering.GUARDED_FFT = False
    try:
        filtering.imfilter(A, h)
    finally:
        filtering.GUARDED_FFT = True
    filtering.imfilter(A.astype(np.float32), h)
    filtering.imfilter(A.astype(np.float64), h)
    filtering.imfilter(np.stack([A, A], axis=2).astype(np.float32), h)
    assert forced["guard2"] == 0


@pytest.mark.parametrize("width", WIDTHS)
def test_every_vector_width(forced, monkeypatch, width):
    """guard2 with nonsep2's fallback at each vector width: the direct loop's bits."""
    d = loops._direct_c
    old = d.simd_width()
    rng = np.random.default_rng(width)
    try:
        d.simd_width(width)
        for budget in (10**6, 0):
            monkeypatch.setattr(filtering, "GUARD_BUDGET", budget)
            monkeypatch.setattr(filtering, "GUARD_START", 0 if budget == 0 else 1 << 14)
            for cls in CLASSES:
                A = _image(rng, cls, (19, 33))
                _same_as_direct(A, _kernel(rng, (5, 6), "eighths"), "replicate")
    finally:
        d.simd_width(old)
    assert forced["guard2"] > 0


@st.composite
def cases(draw):
    cls = draw(st.sampled_from(CLASSES))
    shape = (draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    q = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    seed = draw(st.integers(0, 2**32 - 1))
    taps = draw(st.sampled_from(["halves", "eighths", "small", "normal"]))
    boundary = draw(st.sampled_from(BOUNDARIES))
    size = draw(st.sampled_from(["same", "full"]))
    mode = draw(st.sampled_from(["corr", "conv"]))
    layout = draw(st.sampled_from(["C", "F"]))
    zeros = draw(st.booleans())
    return cls, shape, q, seed, taps, boundary, size, mode, layout, zeros


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases())
def test_guarded_is_direct(forced, monkeypatch, case):
    """Any image of the classes, kernel, boundary, size, mode and layout: the bits of
    method='direct' (the budget large, so guard2's recomputations are what is tested)."""
    cls, shape, q, seed, taps, boundary, size, mode, layout, zeros = case
    monkeypatch.setattr(filtering, "GUARD_BUDGET", 10**6)
    rng = np.random.default_rng(seed)
    A = _image(rng, cls, shape, layout)
    h = _kernel(rng, q, taps)
    if zeros:
        h[rng.random(q) < 0.4] = 0.0
    _same_as_direct(A, h, boundary, size, mode)
