"""imfilter's and imgaussfilt3's paths for volumes give the bits of the path they replace:

- the separable path (``bridge.filtering._fused_volume``: sep2 on each slab for the pages' and
  rows' passes, then sep2 along the slabs) those of the padded double copy, ``_filter_real``'s
  three direct passes and the conversion to the image's class;
- the usual path of the other classes (``_volume_in_class``: the padded array built in double
  at once, the conversion by the fused loops' store) those of the usual path.

Each case is computed twice, the volume path on and off (``filtering.FUSED_VOLUME``), and the
results compared byte for byte, with the path's use counted so that a case it should take
cannot pass by falling back. Images hold ties, values that saturate the class, signed zeros,
NaN/Inf (where the path must decline), in row-major and MATLAB's column-major order; kernels
have odd and even sizes and zero taps. The results are also checked against the defining sum
within the documented tolerance, and at every vector width of the C loops.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import filtering
from bridge._kernels import loops
from bridge.errors import FilterArgumentError
from tests.filtering_strategies import (
    BOUNDARIES,
    abs_bound,
    assert_filtered,
    fused_image,
    reference_imfilter,
    same_bits,
)

pytestmark = pytest.mark.skipif(loops.C_SEP2 is None, reason="the C extension is not built")

CLASSES = (
    "float64", "float32", "uint8", "int8", "uint16", "int16", "uint32", "int32", "bool",
)  # fmt: skip
SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _kernel(rng, kind: str, q) -> np.ndarray:
    if kind == "gaussian":
        lines = [np.exp(-((np.arange(k) - (k - 1) / 2) ** 2) / 2) for k in q]
        lines = [g / g.sum() for g in lines]
    else:
        lines = [rng.standard_normal(k) for k in q]
        if kind == "zeros":
            lines[0][rng.integers(0, q[0])] = 0.0  # zero taps: skipped by the direct loop
    return lines[0][:, None, None] * lines[1][None, :, None] * lines[2][None, None, :]


def _both(fn, monkeypatch, path: str = "_fused_volume"):
    """(volume path's result, old result, whether the volume path ``filtering.<path>``
    computed it)."""
    ran = []
    real = getattr(filtering, path)

    def counted(*args):
        out = real(*args)
        ran.append(out is not None)
        return out

    with monkeypatch.context() as m:
        m.setattr(filtering, path, counted)
        m.setattr(filtering, "FUSED_VOLUME", True)
        new = fn()
        m.setattr(filtering, "FUSED_VOLUME", False)
        old = fn()
    return new, old, any(ran)


@settings(max_examples=250, **SETTINGS)
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(CLASSES),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    kind=st.sampled_from(("gaussian", "outer", "zeros")),
    sizes=st.tuples(
        st.integers(1, 14), st.integers(1, 14), st.one_of(st.integers(1, 14), st.integers(60, 90))
    ),
    taps=st.tuples(st.integers(2, 6), st.integers(2, 6), st.integers(2, 6)),
    separable=st.sampled_from((None, True)),
    method=st.sampled_from(("auto", "direct")),
    fortran=st.booleans(),
)
def test_volume_path_has_the_bits_of_the_three_passes(
    monkeypatch, seed, cls, boundary, shape, mode, kind, sizes, taps, separable, method, fortran
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, sizes)
    if fortran:
        A = np.asfortranarray(A)
    h = _kernel(rng, kind, taps)
    new, old, ran = _both(
        lambda: filtering.imfilter(A, h, boundary, shape, mode, separable=separable, method=method),
        monkeypatch,
    )
    same_bits(new, old)
    rank_one = filtering._rank_one(h) is not None
    wide = separable or np.prod(taps) > sum(taps) + 4
    fits = all(n >= q for n, q in zip(sizes, taps))
    if rank_one and wide and fits:
        assert ran, "the volume path should have computed this case"


@settings(max_examples=80, **SETTINGS)
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from([c for c in CLASSES if c != "bool"]),
    sigma=st.one_of(
        st.floats(0.3, 2.5),
        st.tuples(st.floats(0.3, 2.5), st.floats(0.3, 2.5), st.floats(0.3, 2.5)),
    ),
    padding=st.sampled_from(("replicate", "symmetric", "circular", 0, 12.5)),
    sizes=st.tuples(st.integers(1, 24), st.integers(1, 24), st.integers(1, 24)),
    fortran=st.booleans(),
)
def test_volume_imgaussfilt3_has_the_bits_of_the_three_passes(
    monkeypatch, seed, cls, sigma, padding, sizes, fortran
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, sizes)
    if fortran:
        A = np.asfortranarray(A)
    sig = list(sigma) if isinstance(sigma, tuple) else sigma
    new, old, _ = _both(lambda: filtering.imgaussfilt3(A, sig, "Padding", padding), monkeypatch)
    same_bits(new, old)


@pytest.mark.parametrize("cls", ["float64", "float32"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_volume_path_declines_nonfinite_images(monkeypatch, cls, boundary):
    rng = np.random.default_rng(7)
    h = _kernel(rng, "outer", (3, 4, 5))
    for _ in range(6):
        A = fused_image(rng, cls, (7, 8, 9), nonfinite=True)
        new, old, ran = _both(lambda A=A: filtering.imfilter(A, h, boundary), monkeypatch)
        same_bits(new, old)
        assert not ran, "NaN/Inf are scattered by the usual path"


def test_volume_path_declines_an_overflow(monkeypatch):
    # finite image, a pass overflowing to Inf: the usual path keeps the Inf terms
    A = np.full((6, 6, 6), 1e308)
    h = _kernel(np.random.default_rng(1), "gaussian", (3, 3, 3)) * 64
    new, old, _ = _both(lambda: filtering.imfilter(A, h, "replicate"), monkeypatch)
    same_bits(new, old)
    assert np.isinf(new).any()


@settings(max_examples=40, **SETTINGS)
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from(("float64", "float32", "uint8", "int16")),
    boundary=st.sampled_from(BOUNDARIES),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    sizes=st.tuples(st.integers(3, 9), st.integers(3, 9), st.integers(3, 9)),
    taps=st.tuples(st.integers(2, 3), st.integers(2, 3), st.integers(2, 3)),
)
def test_volume_path_is_the_defining_sum_within_the_tolerance(
    seed, cls, boundary, shape, mode, sizes, taps
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, sizes)
    h = _kernel(rng, "outer", taps)
    got = filtering.imfilter(A, h, boundary, shape, mode, separable=True)
    want = reference_imfilter(A, h, boundary, shape, mode)
    bound = abs_bound(A, h, boundary, shape, mode)
    ulps = sum(taps) + filtering.SEPARABLE_RESIDUAL
    assert_filtered(got, want, bound, A.dtype, ulps, image_class=A.dtype)


@pytest.mark.parametrize("width", [16, 32, 64])
def test_volume_path_at_every_vector_width(monkeypatch, width):
    from bridge._kernels import _direct_c as d

    old_width = d.simd_width()
    try:
        try:
            d.simd_width(width)
        except ValueError:
            pytest.skip(f"this processor does not run {width}-byte vectors")
        rng = np.random.default_rng(width)
        for cls in ("float64", "float32", "uint8", "int32"):
            for boundary in BOUNDARIES:
                A = fused_image(rng, cls, (11, 13, 70))
                h = _kernel(rng, "outer", (5, 4, 7))
                new, old, ran = _both(
                    lambda A=A, h=h, b=boundary: filtering.imfilter(A, h, b, "full"), monkeypatch
                )
                same_bits(new, old)
                assert ran
    finally:
        d.simd_width(old_width)


@settings(max_examples=200, **SETTINGS)
@given(
    seed=st.integers(0, 2**32 - 1),
    cls=st.sampled_from([c for c in CLASSES if c != "float64"]),
    boundary=st.sampled_from((*BOUNDARIES, float("nan"), float("inf"))),
    shape=st.sampled_from(("same", "full")),
    mode=st.sampled_from(("corr", "conv")),
    sizes=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)),
    taps=st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5)),
    kind=st.sampled_from(("random", "zeros", "nonfinite", "outer")),
    nonfinite=st.booleans(),
    separable=st.sampled_from((None, True, False)),
    method=st.sampled_from(("auto", "direct", "fft-float")),
    fortran=st.booleans(),
)
def test_volume_in_class_has_the_bits_of_the_usual_path(
    monkeypatch,
    seed,
    cls,
    boundary,
    shape,
    mode,
    sizes,
    taps,
    kind,
    nonfinite,
    separable,
    method,
    fortran,
):
    rng = np.random.default_rng(seed)
    A = fused_image(rng, cls, sizes, nonfinite=nonfinite and cls in ("float32",))
    if fortran:
        A = np.asfortranarray(A)
    if cls == "bool" and np.isnan(boundary if not isinstance(boundary, str) else 0):
        # MATLAB's error (NaN has no logical value) on either path, before any sum
        for fused in (True, False):
            monkeypatch.setattr(filtering, "FUSED_VOLUME", fused)
            with pytest.raises(FilterArgumentError) as err:
                filtering.imfilter(A, np.ones(taps), boundary, shape, mode)
            assert err.value.identifier == "MATLAB:nologicalnan"
        return
    if kind == "outer":
        h = _kernel(rng, "outer", taps)
    else:
        h = rng.standard_normal(taps)
        if kind == "zeros":
            h[rng.random(taps) < 0.4] = 0.0
        if kind == "nonfinite":
            h.reshape(-1)[rng.integers(0, h.size)] = rng.choice([np.nan, np.inf])
    new, old, ran = _both(
        lambda: filtering.imfilter(A, h, boundary, shape, mode, separable=separable, method=method),
        monkeypatch,
        "_volume_in_class",
    )
    same_bits(new, old)
    if (
        kind == "random"
        and min(taps) > 1
        and np.isfinite(boundary if not isinstance(boundary, str) else 0)
    ):
        assert ran, "the path should have computed this case"


@pytest.mark.parametrize("cls", ["float32", "uint8", "int16", "bool"])
def test_volume_in_class_imgaussfilt3_and_2d_kernels(monkeypatch, cls):
    # imgaussfilt3 on a volume thinner than its kernel (which _fused_volume leaves), and a
    # volume under a 2-D kernel (the fused 2-D loops, before this path)
    rng = np.random.default_rng(3)
    A = fused_image(rng, cls, (2, 10, 11))
    if cls != "bool":
        new, old, ran = _both(
            lambda: filtering.imgaussfilt3(A, 1.0), monkeypatch, "_volume_in_class"
        )
        same_bits(new, old)
        assert ran
    h2 = rng.standard_normal((3, 4))
    new, old, _ = _both(lambda: filtering.imfilter(A, h2, "symmetric"), monkeypatch)
    same_bits(new, old)
