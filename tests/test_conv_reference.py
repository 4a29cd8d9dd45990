"""bridge against the defining sum, on generated cases, and the properties the spec states."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bridge
from bridge import _kernels as kernels
from tests.kernel_bounds import fft_bound
from tests.reference import assert_matlab_equal, mdims, offset, reference, size_formula
from tests.strategies import cases

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_matches_the_defining_sum(case):
    want, bound, dtype = reference(case.op, case.arrays, case.shape)
    assert_matlab_equal(case.run(), want, bound, dtype)


@SETTINGS
@given(cases(), st.sampled_from(kernels.METHODS))
def test_every_method_matches_the_defining_sum(case, method):
    want, bound, dtype = reference(case.op, case.arrays, case.shape)
    if method in kernels.STRICT_METHODS:
        # A strict method refuses data it cannot be exact on (ValueError); else it is exact.
        try:
            got = case.run(method)
        except ValueError:
            # ...and only data that are not finite, real and integer-valued (small here).
            exact = all(
                a.dtype.kind != "c" and np.all(np.isfinite(a)) and np.array_equal(a, np.rint(a))
                for a in case.arrays
            )
            assert not exact, "a strict method refused data it is exact on"
            return
    else:
        got = case.run(method)
    if method in kernels.FFT_ACCURACY_METHODS:
        # The documented FFT contract: round-off of the largest outputs, not of each output.
        bound = bound + fft_bound(case) / (8 * np.finfo(dtype).eps)
    assert_matlab_equal(got, want, bound, dtype)


@SETTINGS
@given(cases(ops=("conv2", "convn"), allow_empty=False), st.sampled_from(kernels.METHODS))
def test_same_and_valid_are_slices_of_full_at_the_documented_offsets(case, method):
    """Bit for bit, with every method (Octave's own tests of conv2/convn ask that too)."""
    A, B = case.arrays
    try:
        full = bridge.convn(A, B, method=method)
    except ValueError:
        assert method in kernels.STRICT_METHODS
        return
    assert_windows_are_slices_of(full, A, B, method)


def assert_windows_are_slices_of(full, A, B, method) -> None:
    """convn(A, B, 'same') and 'valid' by ``method`` are ``full`` at MATLAB's offsets, bit for
    bit."""
    n = max(len(mdims(A.shape)), len(mdims(B.shape)), full.ndim)
    ad = mdims(A.shape) + (1,) * (n - len(mdims(A.shape)))
    bd = mdims(B.shape) + (1,) * (n - len(mdims(B.shape)))
    full = full.reshape(tuple(a + b - 1 for a, b in zip(ad, bd)))
    for shape in ("same", "valid"):
        sl = tuple(
            slice(offset(shape, b), offset(shape, b) + size_formula(shape, a, b))
            for a, b in zip(ad, bd)
        )
        part = bridge.convn(A, B, shape, method=method)
        np.testing.assert_array_equal(part, full[sl].reshape(part.shape))


@SETTINGS
@given(
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.integers(1, 6), st.integers(1, 6)),
    st.sampled_from(["full", "same", "valid"]),
    st.sampled_from(["auto", "direct"]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.booleans(),
)
def test_the_lean_path_of_small_calls_gives_the_general_paths_bits(
    a, b, shape, method, seed, bad, column_major
):
    """conv2 and convn of two small double matrices skip the general path's checks and choice:
    the same array (bits, class, size), NaN and Inf included, as the general path."""
    from bridge import convolution

    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal(a), rng.standard_normal(b)
    if bad:
        A.flat[rng.integers(A.size)] = rng.choice([np.nan, np.inf, -np.inf])
    if column_major:  # as a MAT-file is read
        A, B = np.asfortranarray(A), np.asfortranarray(B)
    lean = [bridge.conv2(A, B, shape, method=method), bridge.convn(A, B, shape, method=method)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(convolution, "_lean", lambda *args: None)
        general = bridge.conv2(A, B, shape, method=method)
    # Taken whenever the result is not empty (an empty one goes by the general path).
    assert (convolution._lean(A, B, shape, method) is not None) == (general.size > 0)
    for got in lean:
        assert got.dtype == general.dtype and got.shape == general.shape
        np.testing.assert_array_equal(got, general)


@SETTINGS
@given(
    st.integers(0, 40),
    st.integers(0, 12),
    st.sampled_from(["row", "column", "1-D"]),
    st.sampled_from(["row", "column", "1-D"]),
    st.sampled_from(["full", "same", "valid"]),
    st.sampled_from(["auto", "direct"]),
    st.sampled_from([np.float64, np.float32]),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_the_lean_path_of_small_vectors_gives_the_general_paths_bits(
    n, m, u_as, v_as, shape, method, cls, seed, bad
):
    """conv of two small vectors of one class skips the general path's checks and choice: the
    same array (bits, class, orientation), NaN and Inf included, as the general path; empty
    vectors and empty results go by the general path."""
    from bridge import convolution

    rng = np.random.default_rng(seed)

    def vector(k, kind):
        x = rng.standard_normal(k).astype(cls)
        if bad and k:
            x[rng.integers(k)] = rng.choice([np.nan, np.inf, -np.inf])
        return {"row": x.reshape(1, -1), "column": np.asfortranarray(x.reshape(-1, 1))}.get(kind, x)

    u, v = vector(n, u_as), vector(m, v_as)
    got = bridge.conv(u, v, shape, method=method)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(convolution, "_lean_vectors", lambda *args: None)
        general = bridge.conv(u, v, shape, method=method)
    taken = convolution._lean_vectors(u, v, shape, method) is not None
    assert taken == (n > 0 and m > 0 and general.size > 0)
    assert got.dtype == general.dtype and got.shape == general.shape
    np.testing.assert_array_equal(got, general)


@pytest.mark.slow
@SETTINGS
@given(cases(ops=("conv2", "convn"), allow_empty=False))
def test_the_fft_gives_the_same_bits_with_its_lines_in_threads_and_for_every_window(case):
    """The FFT transforms one axis at a time, shares the lines out to threads and keeps only the
    window's lines in the inverse: with every transform threaded, full, same and valid are the
    bits of the one-thread full."""
    from bridge._kernels import method_fft

    A, B = case.arrays
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(method_fft, "_THREADED_POINTS", 10**18)
        one_thread = bridge.convn(A, B, method="fft-float")
        mp.setattr(method_fft, "_THREADED_POINTS", 0)
        threaded = bridge.convn(A, B, method="fft-float")
        np.testing.assert_array_equal(threaded, one_thread)
        assert_windows_are_slices_of(one_thread, A, B, "fft-float")


@SETTINGS
@given(cases(ops=("conv2", "convn"), allow_nonfinite=False))
def test_full_is_commutative_up_to_round_off(case):
    A, B = case.arrays
    fn = bridge.conv2 if case.op == "conv2" else bridge.convn
    ab, ba = fn(A, B), fn(B, A)
    want, bound, dtype = reference(case.op, [A, B], "full")
    assert_matlab_equal(ab, want, bound, dtype)
    assert_matlab_equal(ba, ab, bound, dtype)


@SETTINGS
@given(cases())
def test_sizes_follow_the_formulas(case):
    got = case.run()
    shape = case.shape.lower()
    if case.op == "conv":
        u, v = case.arrays
        n = size_formula(shape, u.size, v.size)
        assert got.size == n and got.ndim == 2 and 1 in got.shape
        return
    if case.op == "conv2sep":
        u, v, A = case.arrays
        ad, bd = mdims(A.shape), (u.size, v.size)
    else:
        ad, bd = mdims(case.arrays[0].shape), mdims(case.arrays[1].shape)
    n = max(len(ad), len(bd))
    ad, bd = ad + (1,) * (n - len(ad)), bd + (1,) * (n - len(bd))
    assert got.shape == mdims([size_formula(shape, a, b) for a, b in zip(ad, bd)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8, np.int64])
@pytest.mark.parametrize(
    "dims", [((2000,), (300,)), ((60, 70), (20, 25)), ((20, 20, 20), (6, 6, 6))]
)
def test_large_integer_valued_data_are_exact_whatever_method_is_chosen(dtype, dims):
    rng = np.random.default_rng(0)
    hi = 100 if dtype != np.uint8 else 255
    A = rng.integers(-hi if dtype != np.uint8 else 0, hi, dims[0]).astype(dtype)
    B = rng.integers(-hi if dtype != np.uint8 else 0, hi, dims[1]).astype(dtype)
    want, _, klass = reference("convn", [A, B], "same")
    got = bridge.convn(A, B, "same")
    assert got.dtype == klass
    np.testing.assert_array_equal(got, want)
    assert not np.any(np.signbit(got) & (got == 0)), "outputs start from +0"
