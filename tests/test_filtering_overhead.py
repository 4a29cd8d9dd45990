"""The per-call caches of bridge.filtering (issue 18) change no result.

What is kept between calls: the padding plan per (sizes, size option, boundary rule), the
rank-one answer and the direct loop's taps per kernel (its shape, class and bytes),
imgaussfilt's kernel per (sigma, size), a numeric boundary converted to the image's class per
(value's bits, class) and auto's choice per pair of shapes. Each is compared with the
computation it keeps, cold (cache cleared) and warm, across keys that must not collide
(shapes, boundaries, transposed kernels, -0.0 and 0.0); the arrays handed out are read-only
or copies, so a caller cannot change what the next call reads. validateattributes' checks of
one number (done in Python) are compared with numpy's checks of two copies of that number.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge.errors import FilterArgumentError

RULES = ("replicate", "symmetric", "circular")


def _clear() -> None:
    for f in (
        filtering._padding_plan,
        filtering._rank_one_cached,
        filtering._gauss_kernel_cached,
        filtering._fill_cached,
        filtering._picks_direct_cached,
        filtering._direct_taps_cached,
    ):
        f.cache_clear()


def _plan_uncached(a_shape, h_shape, shape, boundary):
    nd = max(len(a_shape), len(h_shape))
    widths = filtering.pad_width(a_shape, h_shape, shape)
    dims = tuple(a_shape) + (1,) * (nd - len(a_shape))
    return [filtering.source_indices(n, b, a, boundary) for n, (b, a) in zip(dims, widths)]


@settings(max_examples=200, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.lists(st.integers(1, 9), min_size=1, max_size=3),
            st.lists(st.integers(1, 7), min_size=1, max_size=3),
            st.sampled_from(["same", "full"]),
            st.sampled_from([*RULES, 0, 0.0, -0.0, 3.5, -7]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_padding_plan_cold_and_warm_equal_the_rule(calls):
    """Interleaved sizes and boundaries: every answer is the uncached one, read-only."""
    _clear()
    for a_shape, h_shape, shape, boundary in calls + calls[::-1]:
        got = filtering.padding_plan(a_shape, h_shape, shape, boundary)
        want = _plan_uncached(a_shape, h_shape, shape, boundary)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and np.array_equal(g, w)
            assert not g.flags.writeable


def test_padding_plan_cannot_be_modified_by_a_caller():
    _clear()
    plan = filtering.padding_plan((5, 6), (3, 3), "same", "replicate")
    with pytest.raises(ValueError):
        plan[0][0] = 99
    plan.append("x")  # the list is the caller's own
    again = filtering.padding_plan((5, 6), (3, 3), "same", "replicate")
    assert len(again) == 2
    assert np.array_equal(again[0], _plan_uncached((5, 6), (3, 3), "same", "replicate")[0])


def test_padding_plans_of_different_boundaries_and_sizes_differ():
    _clear()
    seen = {}
    for rule in (*RULES, 0):
        for a_shape in ((4, 5), (5, 4), (4, 5, 2)):
            for shape in ("same", "full"):
                plan = filtering.padding_plan(a_shape, (3, 4), shape, rule)
                key = tuple(p.tobytes() for p in plan)
                assert key not in seen, (rule, a_shape, shape, seen.get(key))
                seen[key] = (rule, a_shape, shape)


def _kernels():
    rng = np.random.default_rng(5)
    col, row = rng.standard_normal(3), rng.standard_normal(4)
    sep = np.outer(col, row)
    yield sep
    yield sep.T.copy()  # the same bytes' count, another shape
    yield sep.reshape(4, 3).copy()  # the same bytes, another shape: not rank one
    yield np.outer(col, row).astype(np.float32).astype(np.float64)
    signed = np.outer([1.0, 0.0, 2.0], [1.0, 3.0])
    yield signed
    neg = signed.copy()
    neg[1, 0] = -0.0  # other bytes, the same zero taps
    yield neg
    bent = sep.copy()
    bent[0, 0] = np.nextafter(bent[0, 0], np.inf) * (1 + 1e-9)
    yield bent  # one tap off the product
    yield rng.standard_normal((5, 5))
    yield np.full((3, 3), np.nan)
    yield sep[::-1, ::-1]  # a view, not contiguous


def _same_factors(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and all(
        da == db and fa.dtype == fb.dtype and fa.tobytes() == fb.tobytes()
        for (da, fa), (db, fb) in zip(a, b)
    )


def test_rank_one_cold_and_warm_equal_the_test_itself():
    _clear()
    ks = list(_kernels())
    for _ in range(2):  # cold, then warm
        for w in ks + ks[::-1]:
            got = filtering._rank_one(w)
            want = filtering._rank_one_of(np.array(w, copy=True))
            assert _same_factors(got, want), w
            if got is not None:
                for _, f in got:
                    assert not f.flags.writeable


def test_rank_one_answers_cannot_be_modified_by_a_caller():
    _clear()
    w = np.outer([1.0, 2.0, 3.0], [4.0, 5.0])
    first = filtering._rank_one(w)
    assert first is not None
    with pytest.raises(ValueError):
        first[0][1][0] = 7.0
    first.clear()  # the list is the caller's own
    assert _same_factors(filtering._rank_one(w), filtering._rank_one_of(w))


def test_gauss_kernel_is_a_copy_of_the_kept_one():
    _clear()
    h = filtering._gauss_kernel([1.0, 1.0], [5, 5])
    want = h.copy()
    h[:] = 0.0
    again = filtering._gauss_kernel([1.0, 1.0], [5, 5])
    assert again.tobytes() == want.tobytes()
    # keys: sigma and size per axis
    assert filtering._gauss_kernel([1.0, 2.0], [5, 9]).shape == (5, 9)
    assert filtering._gauss_kernel([2.0, 1.0], [9, 5]).shape == (9, 5)
    a = filtering._gauss_kernel([1.0, 2.0], [5, 5])
    b = filtering._gauss_kernel([2.0, 1.0], [5, 5])
    assert a.tobytes() == b.T.copy().tobytes() and a.tobytes() != b.tobytes()
    cold = filtering._gauss_kernel_cached.__wrapped__((0.7, 1.3), (3, 7))
    assert filtering._gauss_kernel([0.7, 1.3], [3, 7]).tobytes() == cold.tobytes()


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.uint8, np.int8, np.uint16, np.int32, np.bool_]
)
def test_fill_equals_boundary_value_cold_and_warm(dtype):
    _clear()
    values = [0, 0.0, -0.0, 3.5, -3.5, 2.5, 255.5, -7, 1, True, 1e300, -np.inf, np.inf, 2**40]
    for _ in range(2):
        for x in values + values[::-1]:
            with np.errstate(over="ignore"):  # 1e300 as single: Inf
                got = filtering._fill(x, np.dtype(dtype))
                want = filtering.boundary_value(x, np.dtype(dtype))
            assert type(got) is type(want)
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), x


def test_fill_keeps_the_sign_of_zero():
    _clear()
    pos = filtering._fill(0.0, np.dtype(np.float64))
    neg = filtering._fill(-0.0, np.dtype(np.float64))
    assert not np.signbit(pos) and np.signbit(neg)
    _clear()
    neg = filtering._fill(-0.0, np.dtype(np.float64))
    pos = filtering._fill(0.0, np.dtype(np.float64))
    assert not np.signbit(pos) and np.signbit(neg)


_ATTRS = ("real", "positive", "finite", "nonempty", "nonnegative", "integer", "odd", "scalar")


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**31), 2**31 - 1),
        st.sampled_from([0.5, 1.0, 3.0, -1.0, -3.0, 2.0, 1e300, -0.0, 7.5]),
    ),
    dtype=st.sampled_from([np.float64, np.float32, np.int32, np.int16, np.uint8, np.bool_]),
    attrs=st.lists(st.sampled_from(_ATTRS), min_size=1, max_size=4),
)
def test_checks_of_one_number_equal_numpys(value, dtype, attrs):
    """The first failing check is the same for the number and for two copies of it (numpy's
    reductions), or none fails for either."""
    with np.errstate(all="ignore"):
        arr = np.asarray(value).astype(dtype)

    def first_failure(a, listed):
        try:
            filtering._attributes(a, "f", "X", 2, listed)
        except FilterArgumentError as err:
            return err.identifier
        return None

    pair_attrs = [a for a in attrs if a != "scalar"]  # two copies are not a scalar
    one = first_failure(arr.reshape(1), pair_attrs)
    two = first_failure(np.array([arr, arr]), pair_attrs)
    assert one == two


@pytest.mark.parametrize("cls", [np.float64, np.float32, np.uint8, np.int16])
def test_filters_cold_and_warm_give_the_same_bits(cls):
    """imfilter and imgaussfilt with every cache cold, then warm, interleaving sizes and
    boundaries (a collision would give a result of the wrong size or padding)."""
    rng = np.random.default_rng(3)
    images = [
        (rng.random(s) * 300 - 20).astype(cls) for s in ((17, 23), (23, 17), (40, 9), (9, 40))
    ]
    images.append(np.asfortranarray(images[0]))
    kernels = [
        rng.standard_normal((3, 3)),
        np.outer(rng.standard_normal(5), rng.standard_normal(7)),
        filtering.fspecial("gaussian", 9, 2.0),
    ]
    calls = []
    for A in images:
        for h in kernels:
            for opts in ((), ("replicate",), ("symmetric", "conv"), ("circular", "full"), (2.5,)):
                calls.append(lambda A=A, h=h, o=opts: filtering.imfilter(A, h, *o))
        for sigma in (0.5, 1.0, (1.0, 2.0)):
            calls.append(lambda A=A, s=sigma: filtering.imgaussfilt(A, s))
            calls.append(lambda A=A, s=sigma: filtering.imgaussfilt(A, s, "Padding", -0.0))
    _clear()
    cold = [f() for f in calls]
    warm = [f() for f in calls[::-1]][::-1]
    for a, b in zip(cold, warm):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes() and a.flags.f_contiguous == b.flags.f_contiguous


def test_direct_taps_cold_and_warm_equal_the_taps_themselves():
    """nonsep2's taps kept per kernel: the same offsets and values as from a fresh copy, for
    kernels of the same bytes and another shape, and signed zeros (a -0.0 tap is a zero tap)."""
    _clear()
    ks = [k for k in _kernels() if k.ndim == 2]
    ks.append(np.array([[0.0, -0.0], [1.0, 2.0]]))
    for _ in range(2):
        for w in ks + ks[::-1]:
            got = filtering._direct_taps_cached(w.shape, w.dtype.str, w.tobytes())
            want = filtering._direct_taps(np.array(w, copy=True))
            for g, x in zip(got, want):
                assert g.dtype == x.dtype and g.tobytes() == x.tobytes()
                assert not g.flags.writeable and g.flags.c_contiguous
