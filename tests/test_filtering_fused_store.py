"""The fused loops' conversion of their double sums to the image's class (``store_row`` of
bridge/_kernels/_direct_c.c, shared by ``sep2`` and ``nonsep2``) gives, for every double, what
the scalar loop it replaced gave (``store(..., reference=True)``: ``round_clamp`` element by
element) and what :func:`bridge.filtering.cast_to_class` (MATLAB's conversion) gives: rounding
half away from zero (``trunc(x + copysign(0.49999999999999994, x))``, exact for every double),
saturation at the class's ends, NaN to 0, logical ``x >= 0.5``, single rounded to single.

Values: the edges of rounding (±0, ±0.5, ±1.5, 2.5, the doubles next to halves such as
0.49999999999999994, integers at and beyond 2^52), each class's ends ±0.5 and the doubles next
to them, NaN, ±Inf, huge values, and any double hypothesis draws; arrays of every length up to
a few vectors and chunks, so that every lane and every tail of the loops is reached.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops

pytestmark = pytest.mark.skipif(loops.C_STORE is None, reason="the C extension is not built")

# the fused loops' kind codes, in order
CLASSES = tuple(
    np.dtype(t)
    for t in (
        np.float64,
        np.float32,
        np.uint8,
        np.int8,
        np.uint16,
        np.int16,
        np.uint32,
        np.int32,
        bool,
    )
)


def _edges() -> np.ndarray:
    v = [0.0, 0.5, 1.5, 2.5, 3.5, 1.0, 2.0, 0.25, 0.75, np.inf, np.nan, 1e300, 2.0**31, 2.0**32]
    v += [2.0**52, 2.0**52 + 1, 2.0**53, 2.0**53 + 2, 2.0**51 + 0.5, 2.0**52 - 0.5, 4.5e15 + 0.5]
    for h in np.arange(0.5, 8.0, 1.0):
        v += [np.nextafter(h, 0), np.nextafter(h, np.inf), np.nextafter(h - 0.5, np.inf)]
    for dtype in CLASSES:
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            for b in (float(info.min), float(info.max)):
                for e in (b - 1.0, b - 0.5, b, b + 0.5, b + 1.0):
                    v += [e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf)]
    x = np.array(v)
    return np.concatenate([x, -x])


def _check(y: np.ndarray) -> None:
    for kind, dtype in enumerate(CLASSES):
        new = np.full(y.size, 7, dtype)
        ref = np.full(y.size, 7, dtype)
        loops.C_STORE(new, y, kind)
        loops.C_STORE(ref, y, kind, True)
        want = filtering.cast_to_class(y, dtype)
        assert new.tobytes() == ref.tobytes(), (
            dtype,
            y[new.view(np.uint8) != ref.view(np.uint8)] if dtype.itemsize == 1 else y,
        )
        assert new.tobytes() == want.tobytes(), dtype


def test_edges_of_rounding_and_of_every_class():
    x = _edges()
    _check(x)
    rng = np.random.default_rng(18)
    for n in (1, 7, 8, 9, 31, 257, 600):  # tails of the vectors and of the chunks of ints
        _check(rng.choice(x, n))


def test_near_halves_and_random_values():
    rng = np.random.default_rng(5)
    h = rng.integers(-70000, 70000, 4000) + 0.5
    steps = rng.integers(-3, 4, h.size)
    near = h + steps * np.spacing(h)
    _check(
        np.concatenate([h, near, rng.standard_normal(3000) * 300, rng.standard_normal(2000) * 5e9])
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=70))
def test_any_doubles(values):
    _check(np.array(values, dtype=np.float64))
