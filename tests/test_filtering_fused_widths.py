"""The fused loops' sums (``row_pass``, ``column_pass``, their float32 forms, ``tap_sum``,
``pair_sum`` of bridge/_kernels/_direct_c.c) are built once per vector width (64, 32, 16 bytes)
and run at ``simd_width()``'s; every width this processor runs gives the same bits, for the
separable loop (double and float32 paths) and the non-separable one, every class, kernels wider
and narrower than a block of outputs, images whose rows end inside a block.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from tests.filtering_strategies import fused_image

pytestmark = pytest.mark.skipif(loops.C_SEP2 is None, reason="the C extension is not built")


def _widths() -> list[int]:
    d = loops._direct_c
    old = d.simd_width()
    ok = []
    for w in (64, 32, 16):
        try:
            d.simd_width(w)
        except ValueError:
            continue
        ok.append(w)
    d.simd_width(old)
    return ok


WIDTHS = _widths()


def _at_each_width(fn, monkeypatch) -> list[np.ndarray]:
    d = loops._direct_c
    old = d.simd_width()
    calls = []
    sep2, nonsep2 = loops.C_SEP2, loops.C_NONSEP2

    def counted(real):
        def run(*args):
            calls.append(1)
            return real(*args)

        return run

    out = []
    try:
        with monkeypatch.context() as m:
            m.setattr(loops, "C_SEP2", counted(sep2))
            m.setattr(loops, "C_NONSEP2", counted(nonsep2))
            for w in WIDTHS:
                d.simd_width(w)
                out.append(fn())
    finally:
        d.simd_width(old)
    return out if calls else []  # a case no fused loop takes: nothing to compare


@pytest.mark.skipif(len(WIDTHS) < 2, reason="one vector width on this processor")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(
        ("float64", "float32", "uint8", "int8", "uint16", "int16", "uint32", "int32", "bool")
    ),
    kind=st.sampled_from(("separable", "average", "random", "zeros")),
    sizes=st.tuples(st.integers(3, 70), st.integers(3, 300), st.integers(2, 9), st.integers(2, 9)),
    boundary=st.sampled_from(("replicate", "symmetric", 0, 3.5)),
    planes=st.sampled_from(((), (3,))),
)
def test_every_vector_width_gives_the_same_bits(
    monkeypatch, seed, cls, kind, sizes, boundary, planes
):
    rng = np.random.default_rng(seed)
    n0, n1, q0, q1 = sizes
    A = fused_image(rng, cls, (n0, n1, *planes))
    if kind == "average":  # ties and near-ties: the float32 path's recomputed outputs
        h = filtering.fspecial("average", [q0, q1])
    elif kind == "separable":
        h = np.outer(rng.standard_normal(q0), rng.standard_normal(q1))
        if filtering._rank_one(h) is None:
            return
    else:
        h = rng.standard_normal((q0, q1))
        if kind == "zeros":
            h[rng.random((q0, q1)) < 0.4] = 0.0
    results = _at_each_width(lambda: filtering.imfilter(A, h, boundary), monkeypatch)
    for r in results[1:]:
        assert r.dtype == results[0].dtype and r.tobytes() == results[0].tobytes()


@pytest.mark.skipif(len(WIDTHS) < 2, reason="one vector width on this processor")
@pytest.mark.parametrize("cls", ["float64", "uint8", "int16", "bool"])
@pytest.mark.parametrize("kind", ["average", "random"])
def test_the_fused_loops_at_every_width_on_a_larger_image(monkeypatch, cls, kind):
    rng = np.random.default_rng(7)
    A = fused_image(rng, cls, (61, 203))
    h = filtering.fspecial("average", [5, 7]) if kind == "average" else rng.standard_normal((4, 6))
    results = _at_each_width(lambda: filtering.imfilter(A, h, "replicate"), monkeypatch)
    assert len(results) == len(WIDTHS), "a fused loop should have computed this case"
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("kind", ["separable", "random"])
def test_a_nonfinite_value_anywhere_in_a_row_hands_the_case_back(monkeypatch, width, bad, kind):
    """The loops' check of each loaded row (all_finite, per width) sees a NaN or Inf in every
    lane and in the tail: the loop returns True and imfilter gives the old path's result."""
    d = loops._direct_c
    rng = np.random.default_rng(3)
    h = (
        np.outer(rng.standard_normal(3), rng.standard_normal(4))
        if kind == "separable"
        else (rng.standard_normal((3, 4)))
    )
    old = d.simd_width()
    try:
        d.simd_width(width)
        for col in range(0, 37):
            A = rng.standard_normal((9, 37))
            A[4, col] = bad
            answers = []
            with monkeypatch.context() as m:
                for name in ("C_SEP2", "C_NONSEP2"):
                    real = getattr(loops, name)
                    m.setattr(
                        loops,
                        name,
                        lambda *a, real=real, got=answers: got.append(real(*a)) or got[-1],
                    )
                fused = filtering.imfilter(A, h, "replicate")
                m.setattr(filtering, "FUSED_SEPARABLE", False)
                m.setattr(filtering, "FUSED_NONSEPARABLE", False)
                plain = filtering.imfilter(A, h, "replicate")
            assert answers and all(answers), (col, answers)
            assert fused.tobytes() == plain.tobytes()
    finally:
        d.simd_width(old)


def _loop_args(A: np.ndarray, q: tuple[int, int]):
    rows, cols = filtering.padding_plan(A.shape, q, "same", "replicate")
    mid = filtering.pad_width(A.shape, q, "same")[1][0]
    return A.reshape(*A.shape, 1), rows, cols, mid


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("cls", ["uint8", "int8", "int16", "uint16", "bool"])
def test_float32_stores_of_each_class_at_each_width(cls, width):
    # store_guarded's stores (the lanes' low bytes: a conversion, at 32 bytes a byte shuffle) and
    # its flags, every class the float32 loops take, at each width: the loops forced to float32
    # (mode 2) against the double loop (mode 0), byte for byte. Images of the class's ends and
    # random values (saturating and not), rows of 1 to 70 and 301 outputs (every tail of a
    # block of vectors), kernels of halves and quarters (sums on half-integers: recomputed).
    # uint16's bound is too wide for these loops (65535 M): never taken, the output untouched.
    d = loops._direct_c
    old = d.simd_width()
    dt = np.dtype(cls)
    kind = filtering._SEP2_KINDS[dt]
    lo, hi = (0, 1) if cls == "bool" else (np.iinfo(dt).min, np.iinfo(dt).max)
    rng = np.random.default_rng(len(cls) * 1000 + width)
    kernels = (np.array([[0.5, 0.5]]), np.full((2, 2), 0.25), np.array([[0.25, 0.5, 0.25]]))
    try:
        d.simd_width(width)
        for n1 in [*range(1, 71), 301]:
            A = rng.integers(lo, hi + 1, (6, n1)).astype(dt)
            A[0, ::3] = lo
            A[1, ::2] = hi
            for w2 in kernels:
                q0, q1 = w2.shape
                img, rows, cols, mid = _loop_args(A, (q0, q1))
                ta, tb, tw = filtering._direct_taps(w2)
                outs = []
                for mode in (0, 2):
                    out = np.zeros_like(img)
                    skipped = d.nonsep2(out, img, kind, rows, cols, mid, ta, tb, tw, q0, q1,
                                        0.0, 0, A.shape[0], mode)  # fmt: skip
                    outs.append((skipped, out))
                (s0, y0), (s2, y2) = outs
                assert not s0
                assert s2 == (cls == "uint16")
                if not s2:
                    assert y2.tobytes() == y0.tobytes(), (cls, n1, w2.shape)
            # the separable loop: rows [0.25, 0.5, 0.25], columns [0.5, 0.5]
            img, rows, cols, mid = _loop_args(A, (2, 3))
            f1, f0 = np.array([0.25, 0.5, 0.25]), np.array([0.5, 0.5])
            outs = []
            for mode in (0, 2):
                out = np.zeros_like(img)
                skipped = d.sep2(out, img, kind, rows, cols, mid, f1, f0, 0.0, 0, A.shape[0], mode)
                outs.append((skipped, out))
            (s0, y0), (s2, y2) = outs
            assert not s0
            if not s2:
                assert y2.tobytes() == y0.tobytes(), (cls, n1, "sep2")
            else:
                assert cls == "uint16"
    finally:
        d.simd_width(old)
