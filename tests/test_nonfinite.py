"""nonfinite.finite_part and max_abs against their definitions (a mask of the non-finite
elements): the finite check by min and max must find every NaN and infinity, in every class
and layout, and give the same finite part, positions and max |x|."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge._kernels import nonfinite


def by_mask(x):
    bad = ~np.isfinite(x) if x.dtype.kind != "c" else ~(np.isfinite(x.real) & np.isfinite(x.imag))
    fx = np.where(bad, 0, x).astype(x.dtype)
    finite = np.abs(fx)
    return fx, np.argwhere(bad), float(finite.max()) if finite.size else 0.0


@settings(max_examples=200, deadline=None)
@given(
    dims=st.lists(st.integers(0, 6), min_size=1, max_size=3),
    dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int32, np.complex128]),
    special=st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0]), max_size=3),
    fortran=st.booleans(),
    memo=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_finite_part_and_max_abs_match_the_mask(dims, dtype, special, fortran, memo, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(dims) * 100).astype(dtype)
    if x.dtype.kind == "f":
        for v in special:
            if x.size:
                x.reshape(-1)[rng.integers(x.size)] = v
    if fortran:
        x = np.asfortranarray(x)
    want_fx, want_bad, want_max = by_mask(x)
    m = {} if memo else None
    for _ in range(2):  # the second time from the memo
        fx, bad = nonfinite.finite_part(x, m)
        assert fx.dtype == x.dtype
        assert fx.tobytes() == want_fx.tobytes()
        np.testing.assert_array_equal(bad, want_bad)
        assert bad.shape == (len(want_bad), x.ndim)
        assert nonfinite.max_abs(x, m) == want_max
        assert nonfinite.all_finite(x, m) == (len(want_bad) == 0)
    if len(want_bad) == 0:
        assert fx is x  # no copy of finite data


def test_a_single_nan_or_infinity_is_found_anywhere():
    for dtype in (np.float64, np.float32):
        for v in (np.nan, np.inf, -np.inf):
            for k in (0, 777, 4095):
                x = np.ones((64, 64), dtype)
                x.reshape(-1)[k] = v
                fx, bad = nonfinite.finite_part(x, {})
                np.testing.assert_array_equal(bad, [divmod(k, 64)])
                assert fx.reshape(-1)[k] == 0 and fx is not x
                assert nonfinite.max_abs(x, {}) == 1.0


@settings(max_examples=200, deadline=None)
@given(
    dims=st.lists(st.integers(1, 9), min_size=1, max_size=3),
    dtype=st.sampled_from([np.float64, np.float32]),
    special=st.lists(st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 0.0]), max_size=3),
    layout=st.sampled_from(["C", "F", "strided"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_threaded_min_and_max_are_the_serial_ones(dims, dtype, special, layout, seed):
    """Above THREADED_EXTREMES the min and max come from shares on the kernels' threads: the
    same values as one pass (a NaN or an infinity anywhere found), in every layout."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(dims) * 100).astype(dtype)
    for v in special:
        x.reshape(-1)[rng.integers(x.size)] = v
    x = {"F": np.asfortranarray(x), "strided": x[..., ::2]}.get(layout, x)
    with np.errstate(invalid="ignore"):
        want = (float(x.min()), float(x.max())) if x.size else None
    if want is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nonfinite, "THREADED_EXTREMES", 1)
        got = nonfinite._extremes(x)
    np.testing.assert_array_equal(got, want)
