"""bridge against live GNU Octave on generated cases.

Octave 7.3 agrees with MATLAB except where spec section 7 says otherwise; those differences are
excluded here and nowhere else:

1. empty inputs (Octave returns 0x0): not generated; the size formula is tested against the
   defining sum in test_conv_reference.py;
2. zero taps (Octave skips them, so Inf*0 never happens): no zeros in cases with NaN/Inf;
3. complex results with an all-zero imaginary part (Octave narrows them to real): compared by
   value, the class is checked against MATLAB's rule instead;
4. separable conv2 (Octave uses the outer product in one pass): compared within round-off,
   and non-finite cases of it are left to the defining-sum tests. Octave 7.3 also mishandles
   complex separable calls (``conv2(6-5i, -7, -4)`` drops the imaginary part of u, and a complex
   u with a single A is an error): for those Octave computes ``conv2(A, u(:)*v(:).')``, which the
   spec defines the separable form to equal up to round-off;
5. shape strings (Octave is case-sensitive): Octave gets them in lower case;
6. error messages and identifiers: only "both raise" is compared.

Found here beyond the spec's list: Octave's conv goes through filter() (see CALLS), and Octave
narrows complex inputs with a zero imaginary part when it loads them (complex() restores them).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import bridge
from bridge.errors import BridgeError
from tests.octave import OctaveError, operands
from tests.reference import assert_matlab_equal, expected_class, reference
from tests.strategies import cases

pytestmark = pytest.mark.octave

CALLS = {
    # Octave's conv.m computes through filter(), whose complex arithmetic with Inf differs from
    # conv2's (conv(complex(-Inf,0), -Inf) is Inf there, Inf-NaNi by conv2); MATLAB's conv.m is
    # conv2(u(:), v(:)) oriented. So Octave's conv gives the size and orientation, and its conv2
    # of the columns the values.
    "conv": "C = conv(x1, x2, shape); C = reshape(conv2(c1, c2, shape), size(C));",
    "conv2": "C = conv2(x1, x2, shape);",
    "conv2sep": "C = conv2(x1, x2, x3, shape);",
    "conv2sep-complex": (
        "p = x1(:); q = x2(:);"
        "if isinteger(p) || islogical(p), p = double(p); end;"
        "if isinteger(q) || islogical(q), q = double(q); end;"
        "C = conv2(x3, p * q.', shape);"
    ),
    "convn": "C = convn(x1, x2, shape);",
}
SETTINGS = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def octave_result(octave, case) -> np.ndarray:
    inputs, setup, call = operands(case)
    inputs["shape"] = case.shape.lower()
    return octave.call(setup + CALLS[call], inputs, ["C"])["C"]


def compare(case, got, oct_c):
    dtype = expected_class(*case.arrays)
    want = oct_c.astype(dtype)  # Octave may have narrowed a complex result (difference 3)
    _, bound, _ = reference(case.op, case.arrays, case.shape)
    # Octave's summation order is its own: agree to a few ulp of conv(|A|,|B|).
    assert_matlab_equal(got, want, bound, dtype, ulps=16)


@SETTINGS
@given(case=cases(ops=("conv", "conv2", "convn"), allow_empty=False, nonfinite_zeros=False))
def test_agrees_with_octave(octave, case):
    compare(case, case.run(), octave_result(octave, case))


@SETTINGS
@given(case=cases(ops=("conv2sep",), allow_empty=False, allow_nonfinite=False))
def test_separable_conv2_agrees_with_octave(octave, case):
    compare(case, case.run(), octave_result(octave, case))


@pytest.mark.parametrize(
    "call, args",
    [
        ("C = conv(x1, x2);", [np.ones((2, 2)), np.ones((1, 3))]),
        ("C = conv(x1, x2);", [np.ones((1, 3)), np.ones((2, 3, 2))]),
        ("C = conv2(x1, x2, 'bad');", [np.ones((2, 2)), np.ones((1, 3))]),
        ("C = conv2(x1, x2);", [np.ones((2, 2, 2)), np.ones((1, 3))]),
        ("C = conv2(x1, x2, x3);", [np.ones((2, 2)), np.ones((1, 3)), np.ones((3, 3))]),
        ("C = convn(x1, x2, 'middle');", [np.ones((2, 2)), np.ones((1, 3))]),
    ],
    ids=[
        "conv-matrix",
        "conv-3d",
        "conv2-bad-shape",
        "conv2-3d",
        "conv2-sep-matrix",
        "convn-bad-shape",
    ],
)
def test_errors_where_octave_errors(octave, call, args):
    inputs = {f"x{i + 1}": a for i, a in enumerate(args)}
    with pytest.raises(OctaveError):
        octave.call(call, inputs, ["C"])
    fn = {"conv": bridge.conv, "conv2": bridge.conv2, "convn": bridge.convn}[call.split("(")[0][4:]]
    shape = call.split("'")[1] if "'" in call else "full"
    with pytest.raises(BridgeError):
        fn(*args, shape=shape)


@pytest.mark.parametrize(
    "call, args, shape",
    [
        # MATLAB's documentation examples
        ("conv", [[-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1]], "same"),
        ("conv", [[1, 0, 1], [2, 7]], "full"),
        ("conv", [[1, 2], [[3], [4]]], "full"),
        ("conv", [[[1], [2]], [3, 4]], "full"),
        ("conv", [5, [[1], [2], [3]]], "same"),
        ("conv2", [[[1, 2, 3]], [[1], [1]]], "full"),
        ("conv2", [np.arange(1.0, 17).reshape(4, 4), [[1, 2], [3, 4]]], "same"),
        ("conv2", [np.arange(1.0, 17).reshape(4, 4), [[1, 2], [3, 4]]], "valid"),
        ("convn", [np.ones((3, 3)), np.ones((2, 2, 2))], "full"),
        ("convn", [np.arange(24.0).reshape(2, 3, 4), np.arange(1.0, 5).reshape(2, 1, 2)], "same"),
    ],
    ids=[
        "doc-same",
        "doc-poly",
        "row-col",
        "col-row",
        "scalar-same",
        "conv2-vectors",
        "even-kernel-same",
        "even-kernel-valid",
        "convn-unequal-ndims",
        "convn-even-same",
    ],
)
def test_hand_picked_cases_agree_with_octave(octave, call, args, shape):
    arrays = [np.atleast_2d(np.asarray(a, dtype=float)) for a in args]
    want = octave.call(
        f"C = {call}(x1, x2, shape);", {"x1": arrays[0], "x2": arrays[1], "shape": shape}, ["C"]
    )["C"]
    got = getattr(bridge, call)(*args, shape=shape)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
