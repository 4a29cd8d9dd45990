"""The methods of bridge._kernels against the defining sum: each method forced, the automatic
choice on integer, single and non-finite data, the patching of NaN/Inf around the fast methods,
block boundaries, the FFT accuracy contract, memory and lazy imports. No timings are asserted."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bridge
from bridge import _kernels as kernels
from bridge import _semantics as semantics
from bridge._kernels import loops, method_direct, method_fft, method_gemm
from tests.kernel_bounds import contract, fft_bound
from tests.reference import assert_matlab_equal, defining_sum, reference
from tests.strategies import cases

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_METHODS = [m for m in kernels.METHODS if m not in ("auto", "direct")]


def check(case, method):
    want, bound, dtype = reference(case.op, case.arrays, case.shape)
    used = set()
    try:
        with methods_used(used):
            got = case.run(method)
    except ValueError:
        assert method in kernels.STRICT_METHODS
        return
    # 'auto' may pick 'fft-float' for data that are not integer-valued: then its bound holds.
    if used & set(kernels.FFT_ACCURACY_METHODS):
        assert method in ("auto", *kernels.FFT_ACCURACY_METHODS), (method, used)
        bound = bound + fft_bound(case) / (8 * np.finfo(dtype).eps)
    assert_matlab_equal(got, want, bound, dtype)


@contextlib.contextmanager
def methods_used(used: set):
    """Record in ``used`` the methods that kernels.convolve runs (after its choice)."""
    saved = dict(kernels.RUNNERS)

    def spy(name):
        def run(*args):
            used.add(name)
            return saved[name](*args)

        return run

    kernels.RUNNERS.update({name: spy(name) for name in saved})
    try:
        yield
    finally:
        kernels.RUNNERS.update(saved)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Every output through the blocked paths, in blocks of a few elements, and every 1-D
    FFT through overlap-add with short segments: block boundaries on small cases."""
    monkeypatch.setattr(method_direct, "SMALL_WORK", 0)
    monkeypatch.setattr(method_direct, "BLOCK", 7)
    monkeypatch.setattr(method_direct, "NUMBA_SHARE", 5)
    monkeypatch.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
    monkeypatch.setattr(method_gemm, "BLOCK_BYTES", 3 * 32 * 8)
    monkeypatch.setattr(method_fft, "oa_block", lambda q: max(2 * q, 4))


def c_loop():
    """The C loop of the direct sum, built at install (a failed build fails the tests using it:
    the README's install builds it on every machine with a C compiler)."""
    loop = loops.c_direct3()
    assert loop is not None, "bridge/_kernels/_direct_c.c was not built: pip install -e . again"
    return loop


def numba_loop():
    """numba's loop of the direct sum (numba installed: the tests that call this skip without)."""
    loop = loops.numba_direct3()
    assert loop is not None, "numba is installed but its loop did not compile"
    return loop


@pytest.fixture(params=["numpy", "numba", "c"])
def direct_path(request, monkeypatch):
    """The direct sum by its numpy path, or by a compiled loop (numba, the [fast] extra, or the
    C loop built at install)."""
    if request.param == "c":
        monkeypatch.setattr(method_direct, "_NUMBA", [c_loop()])
    elif request.param == "numba":
        pytest.importorskip("numba", reason="numba (the [fast] extra; [test] installs it)")
        monkeypatch.setattr(method_direct, "_NUMBA", [numba_loop()])
    else:
        monkeypatch.setattr(method_direct, "_NUMBA", [None])
    return request.param


# ---- every method, on generated cases --------------------------------------------------------


@SETTINGS
@given(cases(), st.sampled_from(kernels.METHODS))
def test_each_method_matches_the_defining_sum(case, method):
    check(case, method)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases(), method=st.sampled_from(kernels.METHODS))
def test_each_method_matches_the_defining_sum_across_block_boundaries(
    tiny_blocks, direct_path, case, method
):
    check(case, method)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n=st.integers(1, 300),
    q=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(kernels.METHODS),
    shape=st.sampled_from(["full", "same", "valid"]),
    cls=st.sampled_from([np.float64, np.float32, np.complex128, np.int16]),
)
def test_long_vectors_through_every_path(tiny_blocks, direct_path, n, q, seed, method, shape, cls):
    """Vectors long enough for overlap-add's segments, with NaN/Inf and zero taps."""
    rng = np.random.default_rng(seed)
    u = rng.integers(-9, 10, n).astype(cls)
    v = rng.integers(-9, 10, q).astype(cls)
    if np.dtype(cls).kind in "fc" and rng.random() < 0.5:
        u[rng.integers(n, size=rng.integers(1, 4))] = rng.choice([np.nan, np.inf, -np.inf])
    if np.dtype(cls).kind in "fc" and rng.random() < 0.2:
        v[rng.integers(q)] = np.inf
    want = defining_sum(u.reshape(-1, 1), v.reshape(-1, 1), shape).reshape(1, -1)
    try:
        got = bridge.conv(u, v, shape, method=method)
    except ValueError:
        assert method in kernels.STRICT_METHODS
        return
    # Integer-valued data: every method is exact (the FFTs round within their proven bound).
    np.testing.assert_array_equal(got, want)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases(allow_empty=False), small=st.booleans())
def test_the_paths_of_the_direct_sum_give_the_same_bits(monkeypatch, case, small):
    """numpy blocks, the compiled loops (numba, C) and the strided product of small outputs:
    one sum."""
    pytest.importorskip("numba", reason="numba (the [fast] extra; [test] installs it)")
    direct3 = numba_loop()
    with monkeypatch.context() as m:
        m.setattr(method_direct, "SMALL_WORK", 1 << 30 if small else 0)
        m.setattr(method_direct, "_NUMBA", [None])
        m.setattr(method_direct, "BLOCK", 5)
        first = case.run("direct")
    with monkeypatch.context() as m:
        m.setattr(method_direct, "SMALL_WORK", 0)
        m.setattr(method_direct, "_NUMBA", [direct3])
        m.setattr(method_direct, "NUMBA_SHARE", 3)
        m.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
        second = case.run("direct")
        m.setattr(method_direct, "_NUMBA", [c_loop()])
        third = case.run("direct")
        # Column-major operands, as MATLAB's are read: the C loop reads their transposes.
        fortran = dataclasses.replace(case, arrays=[np.asfortranarray(a) for a in case.arrays])
        fourth = fortran.run("direct")
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, third)
    np.testing.assert_array_equal(first, fourth)
    assert first.dtype == second.dtype == third.dtype == fourth.dtype


@pytest.mark.parametrize(
    "a_dims, b_dims, starts_of",
    [
        ((10007,), (31,), "full"),
        ((3, 5000), (2, 9), "same"),
        ((2, 3, 4500), (2, 2, 3), "valid"),
        # column-major: 14 rows 4 KB apart, read from copies
        ((512, 40), (3, 14), "same"),
        # many lines, summed two at a time where both read every kernel row
        ((41, 700), (5, 7), "full"),
        ((9, 7, 300), (3, 4, 5), "same"),
    ],
)
def test_long_lines_give_the_same_bits_by_every_path_of_the_direct_sum(
    monkeypatch, a_dims, b_dims, starts_of
):
    """Lines longer than the compiled loop's pieces, with NaN/Inf and zero taps."""
    pytest.importorskip("numba", reason="numba (the [fast] extra; [test] installs it)")
    direct3 = numba_loop()
    rng = np.random.default_rng(len(a_dims))
    A, B = rng.standard_normal(a_dims), rng.standard_normal(b_dims)
    A.reshape(-1)[[7, 2100, -5]] = [np.nan, np.inf, -np.inf]
    B.reshape(-1)[1] = 0.0
    results = []
    for kernel in (None, direct3, c_loop()):
        with monkeypatch.context() as m:
            m.setattr(method_direct, "_NUMBA", [kernel])
            m.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
            results.append(bridge.convn(A, B, starts_of, method="direct"))
            if kernel is not None and kernel is c_loop():  # column-major: transposes
                F = np.asfortranarray
                results.append(bridge.convn(F(A), F(B), starts_of, method="direct"))
                results.append(bridge.convn(F(A), B, starts_of, method="direct"))
    assert len(results) == 5
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    np.testing.assert_array_equal(np.isnan(results[0]), np.isnan(defining_sum(A, B, starts_of)))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    nd=st.integers(1, 3),
    data=st.data(),
    cls=st.sampled_from([np.float64, np.float32]),
    accumulate=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_c_loop_sets_or_adds_to_every_output_of_its_share(nd, data, cls, accumulate, seed):
    """direct3 sets every output of lines l0..l1, columns c0..c1 (so the result needs no zeros
    first) and nothing else; with ``accumulate`` each sum starts from the output's value and
    adds the taps in order: the bits of the numpy path's passes (one per tap) over it."""
    rng = np.random.default_rng(seed)
    n = data.draw(st.tuples(*[st.integers(1, 40 if d == nd - 1 else 6) for d in range(nd)]))
    q = data.draw(st.tuples(*[st.integers(1, 7) for _ in range(nd)]))
    x = rng.standard_normal(n).astype(cls)
    w = rng.standard_normal(q).astype(cls)
    if rng.random() < 0.3:
        x.reshape(-1)[rng.integers(x.size)] = np.nan
    if rng.random() < 0.2:
        w.reshape(-1)[rng.integers(w.size)] = np.inf
    if rng.random() < 0.3:
        w.reshape(-1)[rng.integers(w.size)] = 0.0
    if rng.random() < 0.1:
        w[...] = 0.0  # with zero taps skipped: lines without a tap
    skip_zero = bool(np.isfinite(x).all()) and rng.random() < 0.5
    starts = [int(rng.integers(0, p + r - 1)) for p, r in zip(n, q)]
    lengths = [int(rng.integers(1, p + r - s)) for p, r, s in zip(n, q, starts)]
    start_values = rng.standard_normal(lengths).astype(cls)
    want = start_values.copy() if accumulate else np.zeros(lengths, cls)
    tmp = np.empty(lengths, cls)
    with np.errstate(invalid="ignore", over="ignore"):
        method_direct.shift_add(want, tmp, x, w, starts, lengths)
    pad = (1,) * (3 - nd)
    o3 = (start_values.copy() if accumulate else np.full(lengths, np.nan, cls)).reshape(
        pad + tuple(lengths)
    )
    s = [0] * (3 - nd) + starts
    lines, L2 = o3.shape[0] * o3.shape[1], o3.shape[2]
    cut, col = int(rng.integers(0, lines + 1)), int(rng.integers(0, L2 + 1))
    guard = o3.copy()
    x3, w3 = x.reshape(pad + x.shape), w.reshape(pad + w.shape)
    for l0, l1, c0, c1 in ((0, cut, 0, L2), (cut, lines, 0, col), (cut, lines, col, L2)):
        c_loop()(o3, x3, w3, *s, l0, l1, c0, c1, skip_zero, 0, accumulate)
        # outside the share: untouched
        flat_o, flat_g = o3.reshape(lines, L2), guard.reshape(lines, L2)
        inside = np.zeros((lines, L2), bool)
        inside[l0:l1, c0:c1] = True
        np.testing.assert_array_equal(flat_o[~inside], flat_g[~inside])
        guard = o3.copy()
    np.testing.assert_array_equal(o3.reshape(lengths), want)


def _c_variants() -> list[tuple[int, bool]]:
    """The builds of the C loop this processor runs: (vector width in bytes, masked edge
    blocks), each set through the extension's switches."""
    from bridge._kernels import _direct_c

    old_width, old_masked = _direct_c.simd_width(), _direct_c.masked_edges()
    out = []
    for width in (64, 32, 16):
        try:
            _direct_c.simd_width(width)
        except ValueError:
            continue
        for masked in (True, False):
            _direct_c.masked_edges(masked)
            if _direct_c.masked_edges() == masked:  # masked edges: AVX-512 only
                out.append((width, masked))
    _direct_c.simd_width(old_width)
    _direct_c.masked_edges(old_masked)
    return out


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    nd=st.integers(1, 3),
    data=st.data(),
    cls=st.sampled_from([np.float64, np.float32]),
    accumulate=st.booleans(),
    reverse=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_build_of_the_c_loop_gives_the_same_bits(nd, data, cls, accumulate, reverse, seed):
    """The C loop's builds for each vector width (64 bytes: AVX-512, 32: AVX2, 16), and with
    AVX-512 its edge blocks (outputs near a line's ends, where some taps fall outside x) read by
    masked loads, one line or two paired lines at a time, instead of from zero-padded copies of
    their rows: byte for byte the same sums, the numpy path's, for shares of lines and
    columns, ``accumulate``, the transposed (``reverse``) reading, NaN/Inf data, zero and
    non-finite taps, lines shorter and longer than a block."""
    from bridge._kernels import _direct_c

    variants = _c_variants()
    rng = np.random.default_rng(seed)
    n = data.draw(st.tuples(*[st.integers(1, 150 if d == nd - 1 else 9) for d in range(nd)]))
    q = data.draw(st.tuples(*[st.integers(1, 9 if d == nd - 1 else 4) for d in range(nd)]))
    x = rng.standard_normal(n).astype(cls)
    w = rng.standard_normal(q).astype(cls)
    if rng.random() < 0.3:
        x.reshape(-1)[rng.integers(x.size)] = [np.nan, np.inf, -np.inf][rng.integers(3)]
    if rng.random() < 0.1:
        w.reshape(-1)[rng.integers(w.size)] = np.inf
    if rng.random() < 0.3:
        w.reshape(-1)[rng.integers(w.size)] = -0.0
    skip_zero = bool(np.isfinite(x).all()) and rng.random() < 0.5
    starts = [int(rng.integers(0, p + r - 1)) for p, r in zip(n, q)]
    lengths = [int(rng.integers(1, p + r - s)) for p, r, s in zip(n, q, starts)]
    start_values = rng.standard_normal(lengths).astype(cls)
    want = start_values.copy() if accumulate else np.zeros(lengths, cls)
    tmp = np.empty(lengths, cls)
    taps = None
    if reverse:  # the taps in the operands' row-major order, read through their transposes
        taps = [j[::-1] for j in np.ndindex(w.shape[::-1])]
    with np.errstate(invalid="ignore", over="ignore"):
        method_direct.shift_add(want, tmp, x, w, starts, lengths, taps)
    pad = (1,) * (3 - nd)
    x3, w3 = x.reshape(pad + x.shape), w.reshape(pad + w.shape)
    s = [0] * (3 - nd) + starts
    results = []
    old = _direct_c.simd_width(), _direct_c.masked_edges()
    try:
        for width, masked in variants:
            _direct_c.simd_width(width)
            _direct_c.masked_edges(masked)
            o = start_values.copy() if accumulate else np.full(lengths, np.nan, cls)
            o3 = o.reshape(pad + tuple(lengths))
            lines, L2 = o3.shape[0] * o3.shape[1], o3.shape[2]
            cut = min(lines, int(rng.integers(0, lines + 1)) | 1)  # odd: a pair split
            col = int(rng.integers(0, L2 + 1))
            for l0, l1, c0, c1 in ((0, cut, 0, L2), (cut, lines, 0, col), (cut, lines, col, L2)):
                if reverse:  # the transposes of the operands, as the loop reads MATLAB's
                    c_loop()(o3.T, x3.T, w3.T, *s, l0, l1, c0, c1, skip_zero, 2, accumulate)
                else:
                    c_loop()(o3, x3, w3, *s, l0, l1, c0, c1, skip_zero, 0, accumulate)
            results.append(o)
    finally:
        _direct_c.simd_width(old[0])
        _direct_c.masked_edges(old[1])
    for other in results[1:]:
        assert _bits(other) == _bits(results[0])
    np.testing.assert_array_equal(results[0], want)
    np.testing.assert_array_equal(np.signbit(results[0]), np.signbit(want))


ND_CASES = [
    ((7, 9, 5, 40), (2, 3, 3, 5), "same"),
    ((5, 4, 6, 3, 37), (3, 2, 3, 2, 4), "full"),
    ((3, 6, 8, 70), (2, 3, 4, 9), "valid"),
    ((40, 2, 3, 4), (3, 2, 2, 2), "full"),  # short lines: every block from copies
]


@pytest.mark.parametrize("a_dims, b_dims, shape", ND_CASES)
@pytest.mark.parametrize("cls", [np.float64, np.float32])
def test_four_or_more_dimensions_give_the_same_bits_by_the_c_loop_and_numpy(
    monkeypatch, a_dims, b_dims, shape, cls
):
    """The C loop volume by volume, each call adding to the sums of the calls before
    (``accumulate``), against the numpy path; NaN/Inf, zero taps, column-major operands."""
    rng = np.random.default_rng(len(a_dims) + int(cls == np.float32))
    A, B = rng.standard_normal(a_dims).astype(cls), rng.standard_normal(b_dims).astype(cls)
    A.reshape(-1)[[3, 50, -7]] = [np.nan, np.inf, -np.inf]
    B.reshape(-1)[2] = 0.0
    results = []
    for kernel, threaded in ((None, False), (c_loop(), False), (c_loop(), True)):
        with monkeypatch.context() as m:
            m.setattr(method_direct, "_NUMBA", [kernel])
            if threaded:
                m.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
            results.append(bridge.convn(A, B, shape, method="direct"))
            F = np.asfortranarray
            results.append(bridge.convn(F(A), F(B), shape, method="direct"))
            # finite data: zero taps skipped
            results.append(bridge.convn(np.where(np.isfinite(A), A, 0), B, shape, method="direct"))
    for k in range(3, len(results)):
        np.testing.assert_array_equal(results[k], results[k % 3])
    np.testing.assert_array_equal(np.isnan(results[0]), np.isnan(defining_sum(A, B, shape)))
    finite = defining_sum(np.where(np.isfinite(A), A, 0.0), B.astype(np.float64), shape)
    assert np.max(np.abs(results[2] - finite)) <= 1e-4 * np.max(np.abs(finite))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    nd=st.integers(4, 5),
    data=st.data(),
    cls=st.sampled_from([np.float64, np.float32]),
    threaded=st.booleans(),
    layout=st.sampled_from(["C", "F", "view"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_flat_loop_gives_the_bits_of_the_volume_loop_at_every_width(
    monkeypatch, nd, data, cls, threaded, layout, seed
):
    """4 or more dimensions with finite taps: the flat loop over the zero-gapped copy
    (``_flat_nd``, each build of the C loop: 64, 32 and 16 bytes) against the volume-by-volume
    loop (``_compiled_nd``, which non-finite taps still take) and the numpy path's sums, byte
    for byte and sign for sign, on any window (those of 'full', 'same' and 'valid' among them),
    odd and even kernels, NaN/Inf data, zero and -0 taps (skipped or not), column-major
    operands and strided views (the copy by numpy, and by ``flat_fill``), shares of the line on
    the threads; lines shorter and longer than a block, with and without gaps between the
    rows."""
    from bridge._kernels import _direct_c

    rng = np.random.default_rng(seed)
    last = data.draw(st.sampled_from([1, 3, 4, 16, 37]))
    n = (*data.draw(st.tuples(*[st.integers(1, 5) for _ in range(nd - 1)])), last)
    q_lead = data.draw(st.tuples(*[st.integers(1, 3) for _ in range(nd - 1)]))
    q = (*q_lead, data.draw(st.sampled_from([1, 2, 3, 4, 5, 9, 11])))
    x = rng.standard_normal(n).astype(cls)
    w = rng.standard_normal(q).astype(cls)
    if rng.random() < 0.3:
        x.reshape(-1)[rng.integers(x.size)] = [np.nan, np.inf, -np.inf][rng.integers(3)]
    if rng.random() < 0.4:
        w.reshape(-1)[rng.integers(w.size)] = [0.0, -0.0][rng.integers(2)]
    skip_zero = bool(np.isfinite(x).all()) and rng.random() < 0.5
    starts = [int(rng.integers(0, p + r - 1)) for p, r in zip(n, q)]
    lengths = [int(rng.integers(1, p + r - s)) for p, r, s in zip(n, q, starts)]
    if layout == "F":
        x, w = np.asfortranarray(x), np.asfortranarray(w)
    elif layout == "view":  # every other slab of a larger array: strides not C's
        x = np.repeat(x, 2, axis=0)[::2]
    if threaded:
        monkeypatch.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
    dt = np.dtype(cls)
    want = np.zeros(lengths, cls)
    with np.errstate(invalid="ignore", over="ignore"):
        method_direct.shift_add(want, np.empty(lengths, cls), x, w, starts, lengths)
    results = []
    old = _direct_c.simd_width()
    try:
        for width, _ in _c_variants():
            _direct_c.simd_width(width)
            results.append(
                method_direct._flat_nd(loops.C_FLAT, x, w, starts, lengths, dt, skip_zero)
            )
            results.append(
                method_direct._compiled_nd(c_loop(), x, w, starts, lengths, dt, skip_zero)
            )
    finally:
        _direct_c.simd_width(old)
    for got in results:
        assert got.shape == tuple(lengths)
        assert _bits(got) == _bits(want)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    runs=st.lists(
        st.tuples(st.integers(1, 12), st.sampled_from([-1, 1, 0, 7])), min_size=1, max_size=6
    ),
    cls=st.sampled_from([np.float64, np.float32]),
    span=st.sampled_from([1, 5, 63, 64, 65, 127, 128, 129, 300]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_flat_loop_sums_runs_of_offsets_as_the_literal_sum_at_every_width(
    runs, cls, span, seed
):
    """``flat`` (each build: 64, 32 and 16 bytes) against the literal sum in the taps' order,
    byte for byte: runs of offsets falling by one (a kernel row as convolution reads it, summed
    by shifts of one load; runs longer than a build takes are cut), rising, equal or apart;
    zero taps, NaN/Inf data; ranges shorter than a block, of whole blocks and ending inside one,
    from any place."""
    from bridge._kernels import _direct_c

    rng = np.random.default_rng(seed)
    off = []
    for length, step in runs:
        start = int(rng.integers(0, 40))
        off += [start + step * k for k in range(length)]
    off = np.array(off, np.int64) - min(min(off), 0)
    w = rng.standard_normal(len(off)).astype(cls)
    w[rng.random(len(off)) < 0.2] = 0.0
    m0 = int(rng.integers(0, 9))
    m1 = m0 + span
    x = rng.standard_normal(m1 + int(off.max()) + 3).astype(cls)
    if rng.random() < 0.3:
        x[rng.integers(x.size, size=2)] = [np.nan, np.inf][rng.integers(2)]
    want = np.zeros(m1 - m0, cls)
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(len(off)):  # each product rounded, then added, tap after tap
            want = want + x[off[t] + m0 : off[t] + m1] * w[t]
    old = _direct_c.simd_width()
    try:
        for width in sorted({width for width, _ in _c_variants()}):
            _direct_c.simd_width(width)
            out = np.full(m1, 7.0, cls)
            loops.C_FLAT(out, x, off, w, m0, m1)
            assert _bits(out[m0:]) == _bits(want), width
            assert (out[:m0] == 7.0).all()
    finally:
        _direct_c.simd_width(old)


@pytest.mark.parametrize(
    "a_dims, b_dims, taps, flat",
    [
        ((6, 5, 7, 9), (3, 2, 3, 3), "finite", True),  # short lines
        ((6, 5, 7, 9), (3, 2, 3, 3), "inf", False),  # Inf * 0 would be NaN: the volumes
        ((2, 2, 3, 200), (2, 2, 2, 3), "finite", False),  # lines of 1.6 KB: the volumes
        ((16, 16, 16, 16), (9, 9, 9, 1), "finite", False),  # its copy beyond the plan's room
    ],
)
def test_four_or_more_dimensions_take_the_flat_loop_where_it_applies(
    monkeypatch, a_dims, b_dims, taps, flat
):
    """The flat loop for finite taps, lines under 1 KB and a copy within twice the larger of
    operand and result (what a job's memory plan allows for the padded layout and work
    array); the volume loop otherwise; the same sums either way."""
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal(a_dims), rng.standard_normal(b_dims)
    if taps == "inf":
        B.reshape(-1)[1] = np.inf
    calls = []
    real = loops.C_FLAT
    monkeypatch.setattr(loops, "C_FLAT", lambda *args: calls.append(1) or real(*args))
    monkeypatch.setattr(method_direct, "_NUMBA", [c_loop()])
    got = bridge.convn(A, B, "same", method="direct")
    assert bool(calls) == flat
    with monkeypatch.context() as m:
        m.setattr(method_direct, "_NUMBA", [None])  # the numpy path
        want = bridge.convn(A, B, "same", method="direct")
    assert _bits(got) == _bits(want)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    L=st.lists(st.integers(1, 6), min_size=3, max_size=4),
    data=st.data(),
    cls=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_flat_loop_puts_every_place_inside_its_grid_at_every_width(L, data, cls, seed):
    """``flat`` with a grid (each build: 64, 32 and 16 bytes): the line's places are those of
    an array of shape (L[0], P[1], ...), out the part of shape L; against the literal sum of
    every place then cut to L, byte for byte, with gaps from none to several blocks long
    (blocks wholly in a gap are not summed), the line cut into pieces at any places (as the
    threads' shares)."""
    from bridge._kernels import _direct_c

    rng = np.random.default_rng(seed)
    P = [L[0]] + [k + data.draw(st.sampled_from([0, 1, 3, 40, 150])) for k in L[1:]]
    M = math.prod(P)
    off = rng.integers(0, 30, size=int(rng.integers(1, 8))).astype(np.int64)
    w = rng.standard_normal(off.size).astype(cls)
    x = rng.standard_normal(M + int(off.max())).astype(cls)
    line = np.zeros(M, cls)
    for t in range(off.size):  # each product rounded, then added, tap after tap
        line = line + x[off[t] : off[t] + M] * w[t]
    want = line.reshape(P)[tuple(slice(0, k) for k in L)]
    grid = np.array([*P, *L], np.int64)
    cuts = sorted({0, M, *(int(c) for c in rng.integers(0, M + 1, size=3))})
    old = _direct_c.simd_width()
    try:
        for width in sorted({width for width, _ in _c_variants()}):
            _direct_c.simd_width(width)
            out = np.full(L, 7.0, cls)
            for m0, m1 in itertools.pairwise(cuts):
                loops.C_FLAT(out, x, off, w, m0, m1, grid)
            assert _bits(out) == _bits(want), width
    finally:
        _direct_c.simd_width(old)


@pytest.mark.parametrize("cls", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize(
    "n, q, window",
    [
        ((5, 7, 9, 60), (3, 3, 3, 3), "same"),
        ((4, 6, 11, 50), (2, 3, 2, 4), "full"),
        ((3, 5, 8, 12, 40), (2, 2, 3, 3, 3), "same"),
        ((6, 9, 12, 70), (3, 2, 4, 1), "valid"),
    ],
)
def test_the_flat_loop_pairs_blocks_and_keeps_the_volume_loops_bits(
    monkeypatch, cls, layout, n, q, window
):
    """``_flat_nd`` where it pairs blocks a slab of axis nd - 3 apart (flat's D, seen passed)
    against the volume-by-volume loop, each build (64, 32 and 16 bytes), byte for byte: odd and
    even kernels, NaN/Inf data, a zero tap, C and Fortran layouts, the threads' shares."""
    from bridge._kernels import _direct_c

    rng = np.random.default_rng(len(n) * 100 + q[-1])
    x = rng.standard_normal(n).astype(cls)
    w = rng.standard_normal(q).astype(cls)
    x.reshape(-1)[rng.integers(x.size, size=3)] = [np.nan, np.inf, -np.inf]
    w.reshape(-1)[1] = 0.0
    if layout == "F":
        x, w = np.asfortranarray(x), np.asfortranarray(w)
    if window == "same":
        starts, lengths = [k // 2 for k in q], list(n)
    elif window == "full":
        starts, lengths = [0] * len(n), [a + b - 1 for a, b in zip(n, q)]
    else:
        starts, lengths = [b - 1 for b in q], [a - b + 1 for a, b in zip(n, q)]
    monkeypatch.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
    seen = []
    real = loops.C_FLAT

    def spy(*args):
        seen.append(args[7])
        real(*args)

    dt = np.dtype(cls)
    old = _direct_c.simd_width()
    try:
        for width, _ in _c_variants():
            _direct_c.simd_width(width)
            got = method_direct._flat_nd(spy, x, w, starts, lengths, dt, False)
            want = method_direct._compiled_nd(c_loop(), x, w, starts, lengths, dt, False)
            assert _bits(got) == _bits(want), width
    finally:
        _direct_c.simd_width(old)
    assert min(seen) > 0


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 9)),
    D=st.sampled_from([1, 63, 64, 65, 97, 160, 257]),
    R=st.integers(5, 40),
    gaps=st.booleans(),
    data=st.data(),
    cls=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_flat_loops_pairs_sum_as_the_literal_sum_at_every_width(
    shape, D, R, gaps, data, cls, seed
):
    """``flat`` with a pair distance D (blocks D places apart summed together, one vector
    serving both blocks' taps where their offsets are D apart; each build: 64, 32 and 16 bytes)
    against the literal sum in the taps' order and against ``flat`` without pairs, byte for
    byte: a kernel of planes D apart, rows R apart and runs of 1 to 9 (cut at 4 in pairs, 8
    alone), some taps dropped (as zero taps skipped: partners lost), zero taps, NaN/Inf data;
    lines shorter and longer than a stripe of 2D, cut into shares at any places, with and
    without a grid whose gaps put one block of a pair, both or none in a gap."""
    from bridge._kernels import _direct_c

    rng = np.random.default_rng(seed)
    planes, rows, run = shape
    off = np.array(
        [
            (planes - 1 - i) * D + (rows - 1 - r) * R + run - 1 - c
            for i in range(planes)
            for r in range(rows)
            for c in range(run)
        ],
        np.int64,
    )
    if rng.random() < 0.3 and off.size > 1:  # taps dropped
        off = off[rng.random(off.size) < 0.7] if off.size > 2 else off[:1]
        off = off if off.size else np.zeros(1, np.int64)
    w = rng.standard_normal(off.size).astype(cls)
    w[rng.random(off.size) < 0.1] = 0.0
    if gaps:
        L = data.draw(st.lists(st.integers(1, 9), min_size=3, max_size=4))
        P = [L[0]] + [k + data.draw(st.sampled_from([0, 1, 3, 40])) for k in L[1:]]
    else:
        L = P = [int(rng.integers(1, 8 * D + 300))]
    M = math.prod(P)
    x = rng.standard_normal(M + int(off.max()) + 1).astype(cls)
    if rng.random() < 0.3:
        x[rng.integers(x.size, size=2)] = [np.nan, np.inf][rng.integers(2)]
    line = np.zeros(M, cls)
    with np.errstate(invalid="ignore", over="ignore"):
        for t in range(off.size):  # each product rounded, then added, tap after tap
            line = line + x[off[t] : off[t] + M] * w[t]
    want = line.reshape(P)[tuple(slice(0, k) for k in L)]
    grid = np.array([*P, *L], np.int64) if gaps else None
    cuts = sorted({0, M, *(int(c) for c in rng.integers(0, M + 1, size=2))})
    old = _direct_c.simd_width()
    try:
        for width in sorted({width for width, _ in _c_variants()}):
            _direct_c.simd_width(width)
            for pair in (D, 0):
                out = np.full(L, 7.0, cls)
                for m0, m1 in itertools.pairwise(cuts):
                    loops.C_FLAT(out, x, off, w, m0, m1, grid, pair)
                assert _bits(out) == _bits(want), (width, pair)
    finally:
        _direct_c.simd_width(old)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n=st.lists(st.integers(1, 6), min_size=3, max_size=5),
    cls=st.sampled_from([np.float64, np.float32]),
    layout=st.sampled_from(["C", "F", "view", "rows"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_flat_fill_writes_numpys_zero_gapped_copy(n, cls, layout, seed):
    """``flat_fill`` against the copy numpy makes (zeros, then big's part put in), byte for
    byte, for C and Fortran order and strided views of big (rows strided too), any part of
    big (``lo``, ``ln``), any room around it; slabs filled in two calls, the other slabs
    left alone."""
    rng = np.random.default_rng(seed)
    nd = len(n)
    big = rng.standard_normal(n).astype(cls)
    if layout == "F":
        big = np.asfortranarray(big)
    elif layout == "view":
        big = np.repeat(big, 2, axis=1)[:, ::2]
    elif layout == "rows":  # the rows' elements apart
        big = np.repeat(big, 3, axis=-1)[..., ::3]
    lo = [int(rng.integers(0, k + 1)) for k in n]
    ln = [int(rng.integers(0, k - a + 1)) for k, a in zip(n, lo)]
    first = int(rng.integers(0, 3))
    P = [first + ln[0] + int(rng.integers(0, 3))] + [k + int(rng.integers(0, 3)) for k in ln[1:]]
    want = np.zeros(P, cls)
    part = big[tuple(slice(a, a + k) for a, k in zip(lo, ln))]
    want[(slice(first, first + ln[0]), *(slice(0, k) for k in ln[1:]))] = part
    x = np.full(P, 5.0, cls)
    cut = int(rng.integers(0, P[0] + 1))
    la, na = np.array(lo, np.int64), np.array(ln, np.int64)
    loops.C_FLAT_FILL(x, big, la, na, first, 0, cut)
    assert _bits(x[:cut]) == _bits(want[:cut])
    assert (x[cut:] == 5.0).all()
    loops.C_FLAT_FILL(x, big, la, na, first, cut, P[0])
    assert _bits(x) == _bits(want)
    with pytest.raises(ValueError):  # past big's end
        bad = na.copy()
        bad[nd - 1] = n[-1] - lo[-1] + 1
        loops.C_FLAT_FILL(x, big, la, bad, first, 0, P[0])
    with pytest.raises(TypeError):  # another class
        loops.C_FLAT_FILL(x, big.astype(np.float16), la, na, first, 0, P[0])


def test_the_flat_loop_refuses_reads_and_writes_outside_its_arrays():
    out, x = np.zeros(10), np.zeros(20)
    off, w = np.array([0, 5], np.int64), np.ones(2)
    loops.C_FLAT(out, x, off, w, 0, 10)  # reads up to 14: inside
    for args in ((0, 11), (3, 2), (-1, 4)):
        with pytest.raises(ValueError):
            loops.C_FLAT(out, x, off, w, *args)
    with pytest.raises(ValueError):  # 10 + 5 + 6 > 20
        loops.C_FLAT(out, x, np.array([0, 11], np.int64), w, 0, 10)
    with pytest.raises(TypeError):  # offsets of another class
        loops.C_FLAT(out, x, off.astype(np.int32), w, 0, 10)
    grid = np.array([2, 6, 2, 5], np.int64)  # places of 2 x 6, out 2 x 5
    loops.C_FLAT(out, x, off, w, 0, 12, grid)
    with pytest.raises(ValueError):  # 13 places of 12
        loops.C_FLAT(out, x, off, w, 0, 13, grid)


# ---- the automatic choice --------------------------------------------------------------------

CHOICE_SIZES = [
    ((20000,), (5,)),  # direct
    ((20000,), (60,)),  # banded products or FFT
    pytest.param(((30000,), (900,)), marks=pytest.mark.slow),  # overlap-add FFT
    ((120, 130), (3, 3)),
    ((120, 130), (25, 21)),
    ((24, 20, 22), (3, 3, 3)),
    ((24, 20, 22), (9, 8, 9)),
]


def _data(rng, dims, dtype, integer: bool):
    x = rng.integers(-50, 51, dims) if integer else rng.standard_normal(dims)
    return x.astype(dtype)


@pytest.mark.parametrize("dims", CHOICE_SIZES, ids=lambda d: f"{d[0]}*{d[1]}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8, np.int64])
def test_auto_is_exact_on_integer_data(dims, dtype):
    rng = np.random.default_rng(3)
    A = _data(rng, dims[0], dtype, True)
    B = _data(rng, dims[1], dtype, True)
    if np.dtype(dtype).kind == "u":
        A, B = np.abs(A.astype(int)).astype(dtype), np.abs(B.astype(int)).astype(dtype)
    for shape in ("full", "same", "valid"):
        got = bridge.convn(A, B, shape)
        want = defining_sum(A, B, shape)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        assert not np.any(np.signbit(got) & (got == 0)), "outputs start from +0"


@pytest.mark.parametrize("dims", CHOICE_SIZES, ids=lambda d: f"{d[0]}*{d[1]}")
def test_auto_on_single_data_is_single_and_within_its_contract(dims):
    rng = np.random.default_rng(4)
    A = _data(rng, dims[0], np.float32, False)
    B = _data(rng, dims[1], np.float32, False)
    got = bridge.convn(A, B, "same")
    want, bound, dtype = reference("convn", [A, B], "same")
    assert dtype == np.float32
    method = _chosen(A, B)
    if method in kernels.FFT_ACCURACY_METHODS:
        bound = bound + contract(A, B) / (8 * np.finfo(dtype).eps)
    assert_matlab_equal(got, want, bound, dtype)


@pytest.mark.parametrize("dims", CHOICE_SIZES, ids=lambda d: f"{d[0]}*{d[1]}")
@pytest.mark.parametrize("integer", [True, False], ids=["integer", "real"])
def test_auto_puts_nan_and_inf_where_the_defining_sum_does(dims, integer):
    rng = np.random.default_rng(5)
    A = _data(rng, dims[0], np.float64, integer)
    B = _data(rng, dims[1], np.float64, integer)
    for k, special in enumerate([np.nan, np.inf, -np.inf, np.inf]):
        A.flat[rng.integers(A.size)] = special if k < 3 else A.flat[0]
    A.flat[-1] = np.inf
    B.flat[rng.integers(B.size)] = 0.0  # Inf * 0 -> NaN in the literal sum
    got = bridge.convn(A, B, "full")
    want, bound, dtype = reference("convn", [A, B], "full")
    if _chosen(A, B) in kernels.FFT_ACCURACY_METHODS and not integer:
        bound = bound + contract(A, B) / (8 * np.finfo(dtype).eps)
    assert_matlab_equal(got, want, bound, dtype)


def _chosen(A, B) -> str:
    lengths = [p + q - 1 for p, q in zip(A.shape, B.shape)]
    a = A.astype(np.result_type(A, B, np.float32))
    b = B.astype(a.dtype)
    return kernels.choose_method(a, b, lengths)


def test_the_choice_uses_each_method_somewhere():
    """The cost model is not degenerate: small kernels direct, large ones FFT."""
    rng = np.random.default_rng(0)
    small = kernels.choose_method(rng.random(10**6), rng.random(3), [10**6 + 2])
    large = kernels.choose_method(rng.random((512, 512)), rng.random((64, 64)), [575, 575])
    assert small == "direct"
    assert large == "fft-float"
    tiny = kernels.choose_method(rng.random((6, 6)), rng.random((6, 6)), [11, 11])
    assert tiny == "direct", "small problems never pay for an FFT's fixed costs"


def test_integer_data_beyond_the_exact_bound_are_not_given_to_the_fft():
    rng = np.random.default_rng(1)
    A = rng.integers(-(2**40), 2**40, (256, 256)).astype(np.float64)
    B = rng.integers(-(2**40), 2**40, (48, 48)).astype(np.float64)
    lengths = [303, 303]
    assert not kernels.fft_is_exact(A, B)
    assert kernels.choose_method(A, B, lengths) in ("direct", "gemm")
    B_small = rng.integers(-100, 100, (48, 48)).astype(np.float64)
    A_small = rng.integers(-100, 100, (256, 256)).astype(np.float64)
    assert kernels.choose_method(A_small, B_small, lengths) == "fft-float"
    assert kernels.fft_is_exact(A_small, B_small)


# ---- patching, overflow, contract --------------------------------------------------------------


@pytest.mark.parametrize("method", [*FAST_METHODS, "direct"])
def test_nan_and_inf_are_patched_exactly_around_the_fast_methods(method):
    rng = np.random.default_rng(7)
    A = rng.integers(-9, 10, (70, 80)).astype(np.float64)
    B = rng.integers(-9, 10, (9, 7)).astype(np.float64)
    A[3, 5], A[40, 79], A[69, 0] = np.nan, np.inf, -np.inf
    B[4, 3] = 0.0  # meets the Inf: NaN there
    for shape in ("full", "same", "valid"):
        want = defining_sum(A, B, shape)
        if method in kernels.STRICT_METHODS:
            with pytest.raises(ValueError, match="only exact"):
                bridge.conv2(A, B, shape, method=method)
            continue
        got = bridge.conv2(A, B, shape, method=method)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got, want)  # integer data: exact, NaN == NaN positions


@pytest.mark.parametrize("method", ["gemm", "fft-float"])
def test_a_non_finite_kernel_tap_reaches_only_the_real_terms(method):
    u = np.arange(1.0, 2001.0)
    v = np.ones(40)
    v[0] = np.inf
    want = defining_sum(u, v)
    got = bridge.conv(u, v, method=method)
    np.testing.assert_array_equal(got, want)


def test_many_non_finite_inputs_fall_back_to_the_direct_sum():
    rng = np.random.default_rng(8)
    A = rng.integers(-9, 10, (100, 100)).astype(np.float64)
    A[rng.random(A.shape) < 0.05] = np.nan
    B = rng.integers(-9, 10, (20, 20)).astype(np.float64)
    for method in ("gemm", "fft-float"):
        np.testing.assert_array_equal(bridge.conv2(A, B, method=method), defining_sum(A, B, "full"))


@pytest.mark.parametrize("method", ["gemm", "fft-float"])
def test_products_that_overflow_are_computed_by_the_direct_sum(method):
    u = np.full(3000, 1e300)
    u[::2] = -1e300
    v = np.full(50, 1e10)
    want = defining_sum(u, v)
    got = bridge.conv(u, v, method=method)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n=st.integers(1, 3000),
    q=st.integers(1, 200),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-8, 1.0, 1e8]),
    cplx=st.booleans(),
)
def test_fft_float_is_within_its_documented_bound(n, q, seed, scale, cplx):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(n) * scale
    v = rng.standard_normal(q) * 10.0 ** rng.integers(-3, 4)
    if cplx:
        u = u + 1j * rng.standard_normal(n) * scale
    got = bridge.conv(u, v, method="fft-float")
    want = defining_sum(u, v)
    err = np.abs(got - want)
    assert np.all(err <= contract(u, v) + 4 * np.finfo(float).eps * np.abs(want))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_products_do_not_depend_on_their_place_in_the_array(dtype):
    """The direct sum's complex products: an element's bits are its own, whatever the length
    of the array it is in (numpy's complex product fuses multiply-adds in its vector loops and
    not in their remainders, which made 'valid' differ from 'full')."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(67) * 1e3 + 1j * rng.standard_normal(67) * 1e3).astype(dtype)
    w = (rng.standard_normal(67) + 1j * rng.standard_normal(67)).astype(dtype)
    whole = method_direct.product(x, w)
    alone = np.array([method_direct.product(x[k : k + 1], w[k])[0] for k in range(67)])
    np.testing.assert_array_equal(whole.view(x.real.dtype), alone.view(x.real.dtype))
    # The textbook product, each real product rounded.
    re = x.real * w.real - x.imag * w.imag
    im = x.real * w.imag + x.imag * w.real
    np.testing.assert_array_equal(whole.real, re)
    np.testing.assert_array_equal(whole.imag, im)


def test_a_complex_single_valid_is_the_slice_of_full():
    """Found by hypothesis: double * single complex data, 'direct' (the small calls' strided
    products): 'valid' was -23.836716i, the middle of 'full' -23.836723i."""
    A = np.array(
        [
            [0.12573022 - 623.27446254j, -0.13210486 + 41.32597935j, 0.64042265 - 2325.03077464j],
            [0.10490012 - 218.79166393j, -0.53566937 - 1245.91094725j, 0.36159505 - 732.2673547j],
            [1.30400005 - 544.25898286j, 0.94708096 - 316.30015637j, -0.70373524 + 411.63053637j],
        ]
    )
    B = np.array(
        [
            [0.10425134 + 2.2019513j, -0.01285347 - 10.096182j, 0.13664635 - 2.0917559j],
            [-0.06651947 - 1.5922501j, 0.03515101 + 5.408456j, 0.09034702 + 2.1465912j],
            [0.00940123 + 3.5537271j, -0.07434992 - 6.538286j, -0.09217254 - 1.2961364j],
        ],
        dtype=np.complex64,
    )
    for method in ("direct", "auto"):
        full = bridge.conv2(A, B, "full", method=method)
        np.testing.assert_array_equal(bridge.conv2(A, B, "valid", method=method), full[2:3, 2:3])
        np.testing.assert_array_equal(bridge.conv2(A, B, "same", method=method), full[1:4, 1:4])


# ---- the FFT's direct sum along the last axis ---------------------------------------------


def zdirect():
    """The C loop of the FFT path's last-axis sums, built at install with the direct sum's."""
    kernel = loops.c_zdirect()
    assert kernel is not None, "bridge/_kernels/_direct_c.c was not built: pip install -e . again"
    return kernel


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    nx=st.integers(1, 30),
    nw=st.integers(1, 17),
    points=st.integers(1, 200),
    where=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    cut=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_last_axis_sums_give_the_same_bits_in_c_and_numpy(nx, nw, points, where, cut, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((nx, points)) + 1j * rng.standard_normal((nx, points))
    w = rng.standard_normal((nw, points)) + 1j * rng.standard_normal((nw, points))
    full = nx + nw - 1
    start = int(where[0] * (full - 1))
    length = max(1, int(where[1] * (full - start)))
    want = np.empty((length, points), complex)
    method_fft._sum_planes_numpy(want, x, w, start)
    # The defining sum, point by point.
    ref = np.stack([np.convolve(x[:, p], w[:, p])[start : start + length] for p in range(points)])
    scale = np.abs(x).max() * np.abs(w).max() * nw
    np.testing.assert_allclose(want, ref.T, rtol=0, atol=8 * np.finfo(float).eps * scale)
    # The C loop: the same bits, in one call or in any cut of the columns.
    got = np.full((length, points), np.nan + 0j)
    p = int(cut * points)
    for p0, p1 in ((0, p), (p, points)):
        zdirect()(got.view(np.float64), x.view(np.float64), w.view(np.float64), start, p0, p1)
    np.testing.assert_array_equal(got.view(np.float64), want.view(np.float64))


LAST_AXIS_CASES = [
    ((40, 50), (5, 7)),
    ((9, 130), (30, 16)),  # the taps along the last axis: 16, the other operand's
    ((12, 11, 30), (3, 4, 5)),
    ((6, 7, 3), (5, 4, 9)),  # the first operand is the shorter along the last axis
    ((20, 2, 17), (3, 2, 2)),
]


@pytest.mark.parametrize("dims", LAST_AXIS_CASES, ids=lambda d: f"{d[0]}*{d[1]}")
@pytest.mark.parametrize("kind", ["real", "integer", "complex"])
def test_the_fft_summing_the_last_axis_directly_keeps_every_promise(monkeypatch, dims, kind):
    """Windows are bit-identical slices of 'full'; the numpy sums give the C loop's bits; the
    results are within the FFT contract (exact on integer data within the exact bound)."""
    assert method_fft.direct_last_axis(*dims)
    rng = np.random.default_rng(sum(map(sum, dims)))
    A, B = (rng.standard_normal(d) for d in dims)
    integer = kind == "integer"
    if integer:
        A, B = np.rint(A * 100), np.rint(B * 100)
    elif kind == "complex":
        A = A + 1j * rng.standard_normal(A.shape)
    calls = []
    for name in ("_sum_last_axis", "_volume_by_planes"):  # images; volumes
        real = getattr(method_fft, name)
        spy = lambda *a, name=name, real=real: calls.append(name) or real(*a)  # noqa: E731
        monkeypatch.setattr(method_fft, name, spy)
    full = bridge.convn(A, B, "full", method="fft-float")
    # The last axis went by the sum: the stages for an image, plane by plane for a volume.
    assert calls == ["_volume_by_planes" if A.ndim == 3 else "_sum_last_axis"]
    want = defining_sum(A, B, "full")
    if integer:
        assert method_fft.fft_is_exact(A, B)
        np.testing.assert_array_equal(full, want)
    else:
        assert np.max(np.abs(full - want)) <= contract(A, B)
    for shape in ("same", "valid"):
        got = bridge.convn(A, B, shape, method="fft-float")
        window = tuple(
            slice(s, s + n)
            for s, n in (semantics.window(shape, p, q) for p, q in zip(A.shape, B.shape))
        )
        np.testing.assert_array_equal(got, full[window])
    # Column-major operands (as MATLAB's are read): the same bits.
    AF, BF = np.asfortranarray(A), np.asfortranarray(B)
    np.testing.assert_array_equal(bridge.convn(AF, BF, "full", method="fft-float"), full)
    monkeypatch.setattr(loops, "c_zdirect", lambda: None)  # numpy's sums
    np.testing.assert_array_equal(bridge.convn(A, B, "full", method="fft-float"), full)


def test_the_exact_bound_counts_the_taps_summed_along_the_last_axis():
    """3x40 * 3x16 integers: log2 of the result's points is 8.1, log2 of the other axis's plus
    the 16 taps summed directly 18.3. Data between the two bounds are refused by 'fft'."""
    a_shape, b_shape = (3, 40), (3, 16)
    assert method_fft.direct_last_axis(a_shape, b_shape)
    eps = np.finfo(np.float64).eps
    term = math.log2(5) + 16
    for factor, exact in ((0.9, True), (1.1, False)):
        # sum|a| * sum|b| = 120 * 48 * v * w: the bound at factor * 0.5
        vw = factor * 0.5 / (8 * eps * term * 120 * 48)
        v = 2**16
        w = round(vw / v)
        A, B = np.full(a_shape, float(v)), np.full(b_shape, float(w))
        assert 8 * eps * math.log2(5 * 55) * 120 * 48 * v * w < 0.5  # inside log2(L)'s bound
        assert bool(kernels.fft_is_exact(A, B)) is exact
        want = defining_sum(A, B, "full")
        if exact:
            np.testing.assert_array_equal(bridge.conv2(A, B, method="fft"), want)
        else:
            with pytest.raises(ValueError, match="only exact"):
                bridge.conv2(A, B, method="fft")
        np.testing.assert_array_equal(bridge.conv2(A, B), want)


# ---- memory and imports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dims, method",
    [(((400, 400), (64, 64)), "fft-float"), (((200_000,), (700,)), "fft-float")],
    ids=["2-D FFT", "1-D overlap-add"],
)
def test_fft_peak_memory_is_at_most_three_times_inputs_and_output(dims, method):
    rng = np.random.default_rng(0)
    A, B = rng.random(dims[0]), rng.random(dims[1])
    out_bytes = math.prod(p + q - 1 for p, q in zip(A.shape, B.shape)) * 8
    bridge.convn(A, B, method=method)  # warm-up: imports and plans
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        bridge.convn(A, B, method=method)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= 3.0 * (A.nbytes + B.nbytes + out_bytes), peak / (A.nbytes + out_bytes)


@pytest.mark.slow
def test_importing_small_jobs_and_ffts_do_not_import_scipy_numba_or_threadpoolctl():
    code = (
        "import sys, numpy as np, bridge.convolution as c;"
        "c.conv2(np.ones((50, 50)), np.ones((3, 3)));"
        "c.conv(np.ones(1000), np.ones(5));"
        "c.conv2(np.random.rand(300, 300), np.random.rand(40, 40));"  # the FFT: numpy.fft's
        "print(sorted(m for m in sys.modules if m.startswith(('scipy', 'numba', 'threadpoolctl'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("taps", [3, 40, pytest.param(300, marks=pytest.mark.slow)])
def test_separable_passes_are_exact_on_integer_data_whatever_the_path(taps):
    """conv2(u, v, A): each pass goes by its own fastest path (1-D FFTs for long u and v)."""
    rng = np.random.default_rng(taps)
    A = rng.integers(-9, 10, (120, 150)).astype(np.float64)
    A[7, 9] = np.nan
    A[100, 3] = -np.inf
    u = rng.integers(-9, 10, taps).astype(np.float64)
    v = rng.integers(-9, 10, taps + 1).astype(np.float64)
    v[1] = 0.0
    for shape in ("full", "same", "valid"):
        want, _, dtype = reference("conv2sep", [u, v, A], shape)
        got = bridge.conv2(u, v, A, shape)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


# ---- both sides of the exact-FFT bound, and the overflow guard (found by mutating the code) ----


def _readme_exact_bound(a, b) -> float:
    """README: an FFT is exact for integer data with 8*eps*log2(L)*sum|a|*sum|b| < 0.5."""
    points = len(a) + len(b) - 1
    s = 8 * np.finfo(np.float64).eps * math.log2(points)
    return s * float(np.sum(np.abs(a))) * float(np.sum(np.abs(b)))


def _exact(a, b) -> np.ndarray:
    """The exact integer convolution (Python integers: no rounding anywhere)."""
    a, b = [int(x) for x in a], [int(x) for x in b]
    out = [0] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return np.array(out, dtype=object)


def test_an_integer_case_just_beyond_exactness_is_refused_by_fft():
    u = [-27382648, -36869100, 43334093]
    v = [48188163, -23928716, -7527800]
    assert _readme_exact_bound(u, v) > 0.5  # about 35
    with pytest.raises(ValueError, match="only exact"):
        bridge.conv(u, v, method="fft")
    want = _exact(u, v)
    for method in ("auto", "direct", "gemm"):
        got = bridge.conv(u, v, method=method).ravel()
        # The exact value needs more than 53 bits: compare with it rounded to double.
        np.testing.assert_array_equal(got, want.astype(np.float64))


def _at_the_bound(side: float, n: int = 20000, q: int = 1000, seed: int = 5):
    """Integer vectors whose README bound is 0.5 * (1 + side), to a relative 1e-6 (sizes at
    which the cost model takes an FFT, whatever this process has loaded)."""
    rng = np.random.default_rng(seed)
    s = 8 * np.finfo(np.float64).eps * math.log2(n + q - 1)
    k = int(0.9 * math.sqrt((1 + side) * 2.0 / (s * n * q)))  # sum|a| * sum|b| ~ n * q * k**2 / 4
    a = rng.integers(-k, k + 1, n)
    b = rng.integers(-k, k + 1, q)
    target = 0.5 * (1 + side) / (s * np.sum(np.abs(b)))  # the sum|a| that puts it there
    a[0] = 0
    a[0] = round(float(target - np.sum(np.abs(a))))
    assert a[0] > 0
    bound = _readme_exact_bound(a, b)
    assert (bound < 0.5) if side < 0 else (bound > 0.5), bound
    assert abs(bound / 0.5 - 1 - side) < 1e-6
    return a, b


@pytest.mark.parametrize("side", [-1e-4, -0.5])
def test_fft_just_inside_the_exact_bound_is_exact(side):
    a, b = _at_the_bound(side)
    want = np.convolve(a.astype(np.int64), b.astype(np.int64))  # integers: exact
    assert np.max(np.abs(want)) < 2**53
    A, B = a.astype(np.float64), b.astype(np.float64)
    assert kernels.fft_is_exact(A, B)
    for method in ("fft", "fft-float", "auto"):
        got = bridge.conv(A, B, method=method).ravel()
        np.testing.assert_array_equal(got, want.astype(np.float64))


def test_fft_just_outside_the_exact_bound_refuses_and_auto_goes_direct():
    a, b = _at_the_bound(+1e-4)
    A, B = a.astype(np.float64), b.astype(np.float64)
    assert not kernels.fft_is_exact(A, B)
    with pytest.raises(ValueError, match="only exact"):
        bridge.conv(A, B, method="fft")
    # The cost model would take an FFT for these sizes (inside the bound it does, above) ...
    inside = _at_the_bound(-1e-4)
    lengths = [len(a) + len(b) - 1]
    assert kernels.choose_method(*(x.astype(np.float64) for x in inside), lengths) == "fft-float"
    # ... but beyond it integer data go by the defining sum, exactly.
    assert kernels.choose_method(A, B, lengths) in ("direct", "gemm")
    want = np.convolve(a.astype(np.int64), b.astype(np.int64)).astype(np.float64)
    np.testing.assert_array_equal(bridge.conv(A, B).ravel(), want)


@pytest.mark.parametrize("method", ["auto", "gemm", "fft-float"])
def test_products_near_the_top_of_the_range_stay_finite(method):
    """Each product is below 1e306, but sums of them and FFT spectra would overflow."""
    rng = np.random.default_rng(11)
    A = rng.standard_normal((256, 256)) * 1e152
    B = rng.standard_normal((48, 48)) * 1e152
    got = bridge.conv2(A, B, method=method)
    assert np.all(np.isfinite(got))
    assert np.max(np.abs(got)) > 1e305  # large, and still finite
    # The same numbers as the defining sum (a few ulp of conv(|A|,|B|)), checked on a corner.
    want = defining_sum(A[:40, :40], B, "full")[:40, :40]
    np.testing.assert_allclose(got[:40, :40], want, rtol=0, atol=1e-12 * np.max(np.abs(want)))


def test_fft_float_with_products_near_the_top_of_the_range_is_not_nan():
    rng = np.random.default_rng(12)
    u = rng.standard_normal(3000) * 1e153
    v = rng.standard_normal(50) * 1e153
    got = bridge.conv(u, v, method="fft-float").ravel()
    want = bridge.conv(u, v, method="direct").ravel()
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
    assert np.isfinite(want).sum() > 0.9 * want.size
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=0, atol=1e-12 * np.max(np.abs(want[ok])))


@pytest.mark.slow
def test_the_choice_does_not_depend_on_what_the_process_has_loaded():
    # A warm server, a batch or Dask worker and a long session have scipy.fft (and maybe numba)
    # loaded; a cold command line has not. The same job must get the same method, and so the
    # same bits, in both (seen broken: a Dask worker's float result differed from the CLI's).
    code = (
        "import sys, numpy as np\n"
        "from bridge import _kernels as kernels\n"
        "from bridge._kernels import method_direct\n"
        "if sys.argv[1] == 'warm':\n"
        "    import scipy.fft\n"
        "    method_direct.numba_kernel(10**12, np.float64)  # loads numba where installed\n"
        "rng = np.random.default_rng(5)\n"
        "shapes = [((90, 70, 40), (3, 4, 5)), ((32, 32), (7, 7)), ((1000, 1000), (15, 15)),\n"
        "          ((200000,), (31,)), ((512, 512), (41, 41)), ((64, 64, 64), (5, 5, 5))]\n"
        "for sa, sb in shapes:\n"
        "    a, b = rng.standard_normal(sa), rng.standard_normal(sb)\n"
        "    lengths = [p + q - 1 for p, q in zip(sa, sb)]\n"
        "    print(kernels.choose_method(a, b, lengths))\n"
    )
    cold, warm = (
        subprocess.run(
            [sys.executable, "-c", code, state], capture_output=True, text=True, check=True
        ).stdout
        for state in ("cold", "warm")
    )
    assert cold == warm and len(cold.split()) == 6


def test_the_kernel_threads_leave_asynchronous_signals_to_the_main_thread():
    """SIGTERM, SIGINT and SIGHUP to a job must reach its main thread, the only one whose waits
    they interrupt: the kernels' threads block them."""
    import signal

    from bridge._kernels import pool

    bridge.conv2(
        np.random.default_rng(0).random((300, 300)), np.random.default_rng(1).random((40, 40))
    )
    mask = pool._pool().submit(signal.pthread_sigmask, signal.SIG_BLOCK, []).result()
    assert {signal.SIGTERM, signal.SIGINT, signal.SIGHUP} <= mask
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # main: unblocked


# ---- the layering of bridge._kernels ----------------------------------------------------------


def _kernel_imports():
    """Per module of bridge/_kernels: the bridge._kernels modules it imports (anywhere), the
    bridge modules it imports inside functions, and the private names it takes from others."""
    import ast
    import pathlib

    root = pathlib.Path(kernels.__file__).parent
    names = {p.stem for p in root.glob("*.py")} | {"_direct_c"}
    graph, inner, private = {}, {}, {}
    for path in sorted(root.glob("*.py")):
        me = path.stem
        tree = ast.parse(path.read_text())
        deps, hidden, reached = set(), [], []
        aliases = {}
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    mod = getattr(node, "module", None) or node.names[0].name
                    if mod.startswith("bridge"):
                        hidden.append(mod)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bridge"):
                for alias in node.names:
                    if node.module == "bridge._kernels" and alias.name in names:
                        deps.add(alias.name)
                        aliases[alias.asname or alias.name] = alias.name
                    elif node.module.startswith("bridge._kernels."):
                        deps.add(node.module.rsplit(".", 1)[1])
                        if alias.name.startswith("_"):
                            reached.append(f"{node.module}.{alias.name}")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                reached.append(f"{node.value.id}.{node.attr}")
        deps.discard(me)
        graph[me], inner[me], private[me] = deps, hidden, reached
    return graph, inner, private


def test_the_kernels_import_each_other_without_cycles_hidden_imports_or_private_names():
    graph, inner, private = _kernel_imports()
    assert {m: v for m, v in inner.items() if v} == {}, "function-level bridge imports"
    assert {m: v for m, v in private.items() if v} == {}, "private names of other modules"
    done, visiting = set(), []

    def visit(m):
        assert m not in visiting, f"import cycle: {' -> '.join([*visiting, m])}"
        if m in done:
            return
        visiting.append(m)
        for d in sorted(graph.get(m, ())):
            visit(d)
        visiting.pop()
        done.add(m)

    for m in graph:
        visit(m)


@settings(max_examples=200, deadline=None)
@given(
    dims=st.lists(st.tuples(st.integers(1, 300), st.integers(1, 40)), min_size=1, max_size=4),
    cplx=st.booleans(),
)
def test_auto_takes_the_cheapest_method_of_the_cost_model(dims, cplx):
    """choose_method's shortcut for small sums picks what the full cost model picks."""
    a_shape = tuple(p for p, _ in dims)
    b_shape = tuple(min(p, q) for p, q in dims)
    full = [p + q - 1 for p, q in zip(a_shape, b_shape)]
    if math.prod(full) * min(math.prod(a_shape), math.prod(b_shape)) > 4e7:
        return  # the choice only: keep the arrays small
    dtype = np.complex128 if cplx else np.float64
    a = np.full(a_shape, 0.5, dtype)
    b = np.full(b_shape, 0.25, dtype)
    costs = kernels.estimate_costs(a_shape, b_shape, full, cplx)
    best = min(costs, key=costs.get)
    if math.prod(full) * min(a.size, b.size) <= method_direct.SMALL_WORK:
        best = "direct"
    assert kernels.choose_method(a, b, full) == ("fft-float" if best == "fft" else best)


@settings(max_examples=40, deadline=None)
@given(
    a=st.tuples(st.integers(60, 300), st.integers(60, 300)),
    b=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    shape=st.sampled_from(["full", "same", "valid"]),
    method=st.sampled_from(["auto", "direct"]),
    seed=st.integers(0, 2**32 - 1),
    bad=st.booleans(),
    layout=st.sampled_from(["C", "F", "mixed"]),
    cls=st.sampled_from([np.float64, np.float32]),
    zero=st.booleans(),
)
def test_the_lean_path_of_medium_calls_gives_the_general_paths_bits(
    a, b, shape, method, seed, bad, layout, cls, zero
):
    """Beyond the smallest calls, the lean path takes what 'auto' is certain to sum directly
    (zero taps not skipped; on the kernels' threads only kernels without zero taps): the
    general path's bits, NaN/Inf and zero taps included, in every memory layout."""
    from bridge import convolution

    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal(a).astype(cls), rng.standard_normal(b).astype(cls)
    if zero:
        B.flat[rng.integers(B.size)] = 0.0
    if bad:
        A.flat[rng.integers(A.size)] = rng.choice([np.nan, np.inf, -np.inf])
    if layout != "C":
        A = np.asfortranarray(A)
        B = np.asfortranarray(B) if layout == "F" else B
    full = (a[0] + b[0] - 1, a[1] + b[1] - 1)
    work = math.prod(full) * B.size
    lean = convolution._lean(A, B, shape, method)
    certain = method == "direct" or kernels.choice.direct_is_certain(A.shape, B.shape, full)
    expect_lean = certain and not (zero and method_direct.threaded_work(work, A.dtype))
    if shape == "valid" and (a[0] < b[0] or a[1] < b[1]):
        expect_lean = False
    assert (lean is not None) == expect_lean
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(convolution, "_lean", lambda *args: None)
        general = bridge.conv2(A, B, shape, method=method)
    if lean is not None:
        assert lean.dtype == general.dtype and lean.shape == general.shape
        np.testing.assert_array_equal(lean, general)
        np.testing.assert_array_equal(bridge.conv2(A, B, shape, method=method), general)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    a=st.tuples(st.integers(1, 70), st.integers(1, 70)),
    b=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    shape=st.sampled_from(["full", "same", "valid"]),
    method=st.sampled_from(["auto", "direct"]),
    layout=st.sampled_from(["C", "F", "mixed"]),
    cls=st.sampled_from([np.float64, np.float32]),
    bad=st.sampled_from([None, "big", "small"]),
    zero=st.booleans(),
    swap=st.booleans(),
    share=st.integers(1, 200),
    per_thread=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_lean_path_on_the_kernels_threads_gives_one_calls_bits(
    a, b, shape, method, layout, cls, bad, zero, swap, share, per_thread, seed
):
    """conv2 of two matrices in blocks of lines taken from both ends by the kernels' threads
    (every call threaded here, blocks of a few outputs): byte for byte the one call of the loop
    in the calling thread (the path before) and the general path, NaN/Inf in either operand,
    every layout, both classes, the smaller operand first or second, row and column vectors
    (blocks of columns); kernels with zero taps go to the general path (it skips them)."""
    from bridge import convolution

    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal(a).astype(cls), rng.standard_normal(b).astype(cls)
    if zero:
        B.flat[rng.integers(B.size)] = 0.0
    if bad is not None:
        X = A if bad == "big" else B
        X.flat[rng.integers(X.size)] = rng.choice([np.nan, np.inf, -np.inf])
    if layout != "C":
        A = np.asfortranarray(A)
        B = np.asfortranarray(B) if layout == "F" else B
    if swap:
        A, B = B, A
    with pytest.MonkeyPatch.context() as mp:  # the path before: one call, this thread
        mp.setattr(method_direct, "NUMBA_THREADED_WORK", 1 << 60)
        before = convolution._lean(A, B, shape, method)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
        mp.setattr(method_direct, "NUMBA_SHARE", share)
        mp.setattr(method_direct, "SHARES_PER_THREAD", per_thread)
        lean = convolution._lean(A, B, shape, method)
        got = bridge.conv2(A, B, shape, method=method)
        mp.setattr(convolution, "_lean", lambda *args: None)
        general = bridge.conv2(A, B, shape, method=method)
    small = B if A.size >= B.size else A
    assert (lean is None) == (before is None or not small.all())
    for x in (got,) if lean is None else (lean, got):
        assert x.dtype == general.dtype and x.shape == general.shape
        assert x.tobytes() == general.tobytes()
    if lean is not None:  # (a layout of its own for mixed layouts: the general path's)
        assert lean.shape == before.shape and lean.tobytes() == before.tobytes()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), waits=st.lists(st.sampled_from([0, 0, 1e-5, 1e-4]), min_size=1))
def test_from_both_ends_runs_every_block_once_the_caller_from_the_front(n, waits):
    """pool.from_both_ends: each block run exactly once, whatever the threads' timing; the
    calling thread's blocks are the first ones, in order; an error reaches the caller."""
    import threading
    import time

    from bridge._kernels import pool

    runs: list = []

    def run_one(block):
        time.sleep(waits[block % len(waits)])
        runs.append((threading.get_ident(), block))

    pool.from_both_ends(run_one, list(range(n)))
    assert sorted(b for _, b in runs) == list(range(n))
    mine = [b for t, b in runs if t == threading.get_ident()]
    assert mine == list(range(len(mine)))

    def fail(block):
        if block == n // 2:
            raise ZeroDivisionError(block)

    if n:
        with pytest.raises(ZeroDivisionError):
            pool.from_both_ends(fail, list(range(n)))


def test_from_both_ends_keeps_nothing_of_the_call_alive():
    """Once pool.from_both_ends returns, nothing of its call is referenced any more (a pool
    task cancelled before it started waits in the pool's queue): the next call's output can
    reuse the memory of this one's."""
    import weakref

    from bridge._kernels import pool

    class Output:
        pass

    def call(n):
        out = Output()
        pool.from_both_ends(lambda block: out, list(range(n)))
        return weakref.ref(out)

    alive = [call(n) for n in (2, 3, 8, 16) for _ in range(25)]
    assert not any(ref() is not None for ref in alive)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n=st.integers(1, 3000),
    m=st.integers(1, 9),
    u_as=st.sampled_from(["row", "column", "1-D"]),
    v_as=st.sampled_from(["row", "column", "1-D"]),
    shape=st.sampled_from(["full", "same", "valid"]),
    cls=st.sampled_from([np.float64, np.float32]),
    bad=st.booleans(),
    share=st.integers(1, 500),
    seed=st.integers(0, 2**32 - 1),
)
def test_conv_of_vectors_on_the_kernels_threads_gives_one_calls_bits(
    n, m, u_as, v_as, shape, cls, bad, share, seed
):
    """conv of two vectors by the lean path in blocks of columns on the kernels' threads: the
    bits and orientation of the one call in this thread and of the general path, NaN/Inf
    included."""
    from bridge import convolution

    rng = np.random.default_rng(seed)

    def vector(k, kind):
        x = rng.standard_normal(k).astype(cls)
        if bad:
            x[rng.integers(k)] = rng.choice([np.nan, np.inf, -np.inf])
        return {"row": x.reshape(1, -1), "column": np.asfortranarray(x.reshape(-1, 1))}.get(kind, x)

    u, v = vector(n, u_as), vector(m, v_as)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(method_direct, "NUMBA_THREADED_WORK", 1 << 60)
        before = bridge.conv(u, v, shape, method="direct")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(method_direct, "NUMBA_THREADED_WORK", 0)
        mp.setattr(method_direct, "NUMBA_SHARE", share)
        got = bridge.conv(u, v, shape, method="direct")
        taken = convolution._lean_vectors(u, v, shape, "direct") is not None
        mp.setattr(convolution, "_lean_vectors", lambda *args: None)
        general = bridge.conv(u, v, shape, method="direct")
    assert taken == (general.size > 0)
    for x in (got, general):
        assert x.dtype == before.dtype and x.shape == before.shape
        assert x.tobytes() == before.tobytes()
