"""The separable loop's column pass four output rows at a time (``column_quad`` and
``column_quad_f32`` of bridge/_kernels/_direct_c.c) and its ring of q0 + 3 rows per strip: the
bits of the two passes over a padded copy (``filtering.FUSED_SEPARABLE`` off), at every vector
width, for every class.

The cases reach what the quad path adds: images as wide as several strips of the larger ring
(up to 35 taps down, three planes), output row counts of every remainder by 4 (the last rows
summed one at a time), shares of rows that start anywhere (the kernels' threads, their rings
restarted), column counts ending inside a block (the one-vector blocks and the scalar tail),
taps that are not symmetric (a tap taken in the wrong order changes the sum) and zero rows of
a sum (which must stay +0).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import fused_image, same_bits, short_shares
from tests.test_filtering_fused_widths import WIDTHS

pytestmark = pytest.mark.skipif(loops.C_SEP2 is None, reason="the C extension is not built")

CLASSES = (
    "float64", "float32", "uint8", "int8", "uint16", "int16", "uint32", "int32", "bool",
)  # fmt: skip


def _fused_at_widths_and_old(fn, monkeypatch, share_rows: int | None = None):
    """(fn() with the fused loop at each vector width, fn() with it off, whether sep2 ran at
    every width). ``share_rows``: the loop runs in shares of that many rows (in threads)."""
    d = loops._direct_c
    old_width = d.simd_width()
    real = loops.C_SEP2
    calls: list[int] = []

    def counted(*args):
        calls.append(1)
        return real(*args)

    fused = []
    try:
        with monkeypatch.context() as m:
            m.setattr(loops, "C_SEP2", counted)
            if share_rows is not None:
                short_shares(m, share_rows)
            ran = True
            for w in WIDTHS:
                d.simd_width(w)
                before = len(calls)
                fused.append(fn())
                ran = ran and len(calls) > before
            m.setattr(filtering, "FUSED_SEPARABLE", False)
            plain = fn()
    finally:
        d.simd_width(old_width)
    return fused, plain, ran


def _kernel(rng, kind: str, q0: int, q1: int) -> np.ndarray:
    if kind == "gaussian":
        return filtering.fspecial("gaussian", [q0, q1], float(rng.uniform(0.5, 6.0)))
    if kind == "average":  # ties after averaging: the float32 path's recomputed outputs
        return filtering.fspecial("average", [q0, q1])
    # not symmetric: a tap taken in the wrong order, or from the wrong ring row, shows
    return np.outer(rng.uniform(0.5, 2.0, q0), rng.uniform(0.5, 2.0, q1))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(CLASSES),
    kind=st.sampled_from(("gaussian", "average", "outer")),
    n0=st.integers(1, 23),
    n1=st.one_of(st.integers(1, 80), st.integers(500, 1500)),  # one strip, several
    q0=st.one_of(st.integers(2, 9), st.integers(20, 35)),
    q1=st.integers(2, 12),
    boundary=st.sampled_from(("replicate", "symmetric", "circular", 0, 3.5)),
    shape=st.sampled_from(("same", "full")),
    planes=st.sampled_from(((), (2,), (3,))),
    shares=st.sampled_from((None, 1, 3, 5, 6)),
)
def test_quad_rows_have_the_bits_of_the_two_passes(
    monkeypatch, seed, cls, kind, n0, n1, q0, q1, boundary, shape, planes, shares
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, (n0, n1, *planes))
    h = _kernel(rng, kind, q0, q1)
    fused, plain, ran = _fused_at_widths_and_old(
        lambda: filtering.imfilter(A, h, boundary, shape, separable=True, method="direct"),
        monkeypatch,
        shares,
    )
    # not fused: a cut Gaussian that is not rank one; under zero padding a pass's operand
    # smaller than its taps (the passes' operands swap)
    zeros = not isinstance(boundary, str) and filtering.boundary_value(boundary, A.dtype) == 0
    if filtering._rank_one(h) is not None and not zeros:
        assert ran, "the fused loop should have computed this case at every width"
    for f in fused:
        same_bits(f, plain)


@pytest.mark.parametrize("cls", ["float64", "float32", "uint8", "int16"])
@pytest.mark.parametrize("rows", [4, 5, 6, 7, 64, 67])
def test_large_kernels_on_wide_images_in_shares(monkeypatch, cls, rows):
    """imgaussfilt's 31- and 41-tap passes on images several strips wide, the rows in shares
    of 7 (every share's first row at another remainder by 4)."""
    rng = np.random.default_rng(rows)
    A = fused_image(rng, cls, (rows, 1403))
    for sigma in (5.0, 6.5):
        fused, plain, ran = _fused_at_widths_and_old(
            lambda s=sigma: filtering.imgaussfilt(A, [s, 2.0], "Padding", "replicate"),
            monkeypatch,
            7,
        )
        assert ran
        for f in fused:
            same_bits(f, plain)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [4, 9, 30])
def test_quad_zero_sums_are_plus_zero(monkeypatch, dtype, rows):
    # every product of the column pass is -0 (+0 rows times negative taps): each of the four
    # rows' sums starts from +0, as the direct loop's does, and stays +0
    A = np.zeros((rows, 1301), dtype)
    h = np.outer(-np.arange(1.0, 25.0), [1.0, 2.0, 1.0])
    fused, plain, ran = _fused_at_widths_and_old(
        lambda: filtering.imfilter(A, h, "replicate", separable=True), monkeypatch
    )
    assert ran
    for f in fused:
        same_bits(f, plain)
        assert not np.signbit(f).any()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_in_a_quad_s_rows_hands_the_case_back(monkeypatch, bad):
    rng = np.random.default_rng(11)
    A = rng.standard_normal((37, 900))
    A[21, 611] = bad
    h = np.outer(rng.uniform(0.5, 2.0, 27), rng.uniform(0.5, 2.0, 5))
    fused, plain, _ = _fused_at_widths_and_old(
        lambda: filtering.imfilter(A, h, "symmetric", separable=True), monkeypatch
    )
    for f in fused:
        same_bits(f, plain)


@pytest.mark.parametrize("q0", [3, 15, 31])
def test_shares_are_long_enough_for_their_restarted_rings(monkeypatch, q0):
    # each share recomputes q0 - 1 row passes before its first output: shares are at least
    # _SEP2_SHARE_OVERLAPS times that long (the last excepted), cover every row once, and give
    # the bits of the two passes
    rng = np.random.default_rng(q0)
    A = fused_image(rng, "float64", (1024, 300))
    h = np.outer(rng.uniform(0.5, 2.0, q0), rng.uniform(0.5, 2.0, 5))
    real = loops.C_SEP2
    blocks: list[tuple[int, int]] = []

    def recorded(*args):
        blocks.append((args[9], args[10]))
        return real(*args)

    monkeypatch.setattr(filtering, "_SEP2_THREADED_WORK", 0)
    with monkeypatch.context() as m:
        m.setattr(loops, "C_SEP2", recorded)
        fused = filtering.imfilter(A, h, "replicate", separable=True, method="direct")
    blocks.sort()
    assert blocks[0][0] == 0 and blocks[-1][1] == 1024
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    least = max(filtering._SEP2_SHARE_ROWS, filtering._SEP2_SHARE_OVERLAPS * (q0 - 1))
    assert all(r1 - r0 >= least for r0, r1 in blocks[:-1])
    assert len(blocks) > 1
    monkeypatch.setattr(filtering, "FUSED_SEPARABLE", False)
    same_bits(fused, filtering.imfilter(A, h, "replicate", separable=True, method="direct"))
