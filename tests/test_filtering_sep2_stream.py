"""The separable loop's streamed stores (``store_row_stream`` of bridge/_kernels/_direct_c.c:
double and single outputs of a large call written without reading their lines first): the
bits of the two passes over a padded copy (``filtering.FUSED_SEPARABLE`` off) and of the
loop's own cached stores, at every vector width.

The cases reach what the streamed store adds: rows of every length and start (a row's first
elements before its 16-byte boundary, the last ones after the last whole pair or quad),
interleaved planes, shares of rows in the kernels' threads, doubles halfway between two
singles (the conversion's ties), singles' subnormals and overflow to infinity, and the size
rule itself on an output of 64 MiB.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import fused_image, same_bits, short_shares
from tests.test_filtering_fused_widths import WIDTHS

pytestmark = pytest.mark.skipif(loops.C_SEP2 is None, reason="the C extension is not built")

D = loops._direct_c if loops.C_SEP2 is not None else None


def _streamed_and_plain(fn, monkeypatch, share_rows: int | None = None):
    """(fn() with the loop's stores streamed, at each width; fn() with them cached; fn() with
    the fused loop off). ``share_rows``: the loop runs in shares of that many rows."""
    old_width, old_stream = D.simd_width(), D.sep2_stream()
    calls: list[int] = []
    real = loops.C_SEP2

    def counted(*args):
        calls.append(1)
        return real(*args)

    streamed = []
    try:
        with monkeypatch.context() as m:
            m.setattr(loops, "C_SEP2", counted)
            if share_rows is not None:
                short_shares(m, share_rows)
            D.sep2_stream(True)
            for w in WIDTHS:
                D.simd_width(w)
                streamed.append(fn())
            assert calls, "the fused loop should have computed this case"
            D.sep2_stream(False)
            cached = fn()
            m.setattr(filtering, "FUSED_SEPARABLE", False)
            plain = fn()
    finally:
        D.simd_width(old_width)
        D.sep2_stream(old_stream)
    return streamed, cached, plain


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(("float64", "float32")),
    n0=st.integers(1, 13),
    n1=st.one_of(st.integers(1, 40), st.integers(500, 1300)),
    q0=st.one_of(st.integers(2, 9), st.integers(20, 33)),
    q1=st.integers(2, 9),
    boundary=st.sampled_from(("replicate", "symmetric", "circular", 1.5)),
    shape=st.sampled_from(("same", "full")),
    planes=st.sampled_from(((), (2,), (3,))),
    shares=st.sampled_from((None, 1, 3, 6)),
    layout=st.sampled_from(("C", "F")),
)
def test_streamed_rows_have_the_bits_of_the_two_passes(
    monkeypatch, seed, cls, n0, n1, q0, q1, boundary, shape, planes, shares, layout
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, (n0, n1, *planes))
    A = np.asfortranarray(A) if layout == "F" else A
    h = np.outer(rng.uniform(0.5, 2.0, q0), rng.uniform(0.5, 2.0, q1))  # not symmetric
    run = lambda: filtering.imfilter(A, h, boundary, shape, separable=True, method="direct")  # noqa: E731
    streamed, cached, plain = _streamed_and_plain(run, monkeypatch, shares)
    for s in streamed:
        same_bits(s, cached)
        same_bits(s, plain)


@pytest.mark.parametrize("n1", [1, 2, 3, 5, 7, 8, 9, 17, 611])
def test_streamed_conversion_ties_subnormals_and_overflow(monkeypatch, n1):
    # the kernel [t 0; 0 0] gives y = 0 + x * t + x' * 0 ...: with t = 1 + 2^-24 and x a power
    # of two, y lies halfway between two singles (ties to even); with x = (1 + 2^-23) 2^k just
    # above the halfway point; subnormal singles; the largest single times t beyond the single
    # range (infinity). Each row starts at another place of a 16-byte line.
    rng = np.random.default_rng(n1)
    shape = (9, n1)
    sign = rng.choice([-1.0, 1.0], shape)
    powers = sign * 2.0 ** rng.integers(-30, 30, shape)
    odd = sign * (1.0 + 2.0**-23) * 2.0 ** rng.integers(-30, 30, shape)
    tiny = rng.standard_normal(shape) * 1e-42
    big = sign * float(np.finfo(np.float32).max)
    A = np.where(rng.random(shape) < 0.5, powers, odd)
    A = np.where(rng.random(shape) < 0.2, tiny, A)
    A = np.where(rng.random(shape) < 0.1, big, A).astype(np.float32)
    h = np.array([[1.0 + 2.0**-24, 0.0], [0.0, 0.0]])
    for x in (A, A.astype(np.float64)):
        streamed, cached, plain = _streamed_and_plain(
            lambda x=x: filtering.imfilter(x, h, "replicate", "full", separable=True),
            monkeypatch,
        )
        for s in streamed:
            same_bits(s, cached)
            same_bits(s, plain)


def test_the_size_rule_streams_a_large_output(monkeypatch):
    # 64 MiB of single output: streamed by the size rule; the same bits as the cached stores
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4096, 4096)).astype(np.float32)
    old = D.sep2_stream(None)
    try:
        auto = filtering.imgaussfilt(A, 1.0, "Padding", "replicate")
        D.sep2_stream(False)
        cached = filtering.imgaussfilt(A, 1.0, "Padding", "replicate")
    finally:
        D.sep2_stream(old)
    same_bits(auto, cached)


def test_sep2_stream_setting_round_trips():
    old = D.sep2_stream()
    try:
        assert D.sep2_stream(True) == old
        assert D.sep2_stream(False) is True
        assert D.sep2_stream(None) is False
        assert D.sep2_stream() is None
    finally:
        D.sep2_stream(old)
