"""MATLAB's rules, case by case: sizes of empties, orientation, classes, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

import bridge
from bridge import errors
from tests.reference import defining_sum, expected_class, reference

# ---- empty inputs: zeros of the formula's size, never [] (spec section 1) ----------------------


@pytest.mark.parametrize(
    "A_dims, B_dims, shape",
    [
        ((0, 3), (2, 2), "full"),
        ((3, 3), (0, 0), "full"),
        ((3, 3), (0, 0), "same"),
        ((3, 3), (0, 0), "valid"),
        ((0, 0), (3, 3), "same"),
        ((0, 0), (3, 3), "valid"),
        ((2, 0), (0, 4), "full"),
        ((3, 3), (2, 2, 0), "full"),
        ((3, 3), (2, 2, 3), "valid"),
        ((4, 0, 2), (1, 1), "same"),
    ],
    ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v,
)
def test_empty_inputs_give_zeros_of_the_formula_size(A_dims, B_dims, shape):
    got = bridge.convn(np.ones(A_dims), np.ones(B_dims), shape)
    want = defining_sum(np.ones(A_dims), np.ones(B_dims), shape)
    assert got.shape == want.shape
    assert not np.any(got)


def test_spec_examples_of_empty_sizes():
    assert bridge.conv2(np.zeros((0, 3)), np.ones((2, 2))).shape == (2, 4)
    for shape in ("full", "same", "valid"):
        assert bridge.conv2(np.ones((3, 3)), np.zeros((0, 0)), shape).shape == (3, 3)
    assert bridge.convn(np.ones((3, 3)), np.ones((2, 2, 2))).shape == (4, 4, 2)
    assert bridge.convn(np.ones((3, 3)), np.ones((2, 2, 3)), "valid").shape == (2, 2, 0)


def test_separable_with_an_empty_vector_gives_zeros_not_a_second_pass():
    got = bridge.conv2(np.zeros((1, 0)), np.array([[np.nan]]), np.zeros((1, 0)))
    assert got.shape == (1, 1) and got[0, 0] == 0


# ---- conv's orientation (spec section 3) -------------------------------------------------------


@pytest.mark.parametrize(
    "u_dims, v_dims, shape, want",
    [
        ((1, 2), (2, 1), "full", (3, 1)),  # tie: the second decides
        ((2, 1), (1, 2), "full", (1, 3)),
        ((1, 3), (2, 1), "full", (1, 4)),  # first longer: it decides
        ((3, 1), (1, 2), "full", (4, 1)),
        ((1, 2), (3, 1), "valid", (1, 0)),  # same/valid: the first decides
        ((1, 1), (3, 1), "same", (1, 1)),  # a scalar is a row
        ((3, 1), (1, 5), "same", (3, 1)),
        ((1, 0), (3, 1), "full", (3, 1)),
        ((0, 1), (1, 0), "full", (1, 0)),
    ],
)
def test_conv_orientation(u_dims, v_dims, shape, want):
    assert bridge.conv(np.ones(u_dims), np.ones(v_dims), shape).shape == want


def test_conv_spec_examples():
    assert bridge.conv(5, [[1], [2], [3]], "same").tolist() == [[10.0]]
    np.testing.assert_array_equal(
        bridge.conv([-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1], "same"),
        defining_sum(np.array([[-1, 2, 3, -2, 0, 1, 2.0]]), np.array([[2, 4, -1, 1.0]]), "same"),
    )


# ---- classes (spec section 5) ------------------------------------------------------------------

INT_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@pytest.mark.parametrize(
    "a", [np.float64, np.float32, np.complex128, np.complex64, np.bool_, *INT_TYPES]
)
@pytest.mark.parametrize("b", [np.float64, np.float32, np.complex64, np.bool_, np.int8])
def test_result_class(a, b):
    A = np.ones((2, 2), a)
    B = np.ones((1, 2), b)
    got = bridge.conv2(A, B)
    assert got.dtype == expected_class(A, B)


def test_integers_do_not_saturate_and_become_double():
    got = bridge.conv2(np.array([[100, 100]], np.int8), np.array([[100, 1]], np.int8))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[10000, 10100, 100]])


def test_large_uint64_values_convert_to_double_like_matlab():
    big = np.array([[2**63 + 2**11]], np.uint64)
    assert bridge.conv(big, [1])[0, 0] == float(big[0, 0])


def test_logical_inputs_count_as_ones_and_zeros():
    A = np.array([[True, False, True]])
    np.testing.assert_array_equal(bridge.conv(A, A), [[1, 0, 2, 0, 1]])


def test_single_wins_over_double_and_is_computed_in_single():
    A = np.array([[1 / 3]], np.float64)
    B = np.array([[3]], np.float32)
    got = bridge.conv2(A, B)
    assert got.dtype == np.float32
    assert got[0, 0] == np.float32(np.float32(1 / 3) * np.float32(3))


def test_complex_inputs_give_complex_results_even_with_zero_imaginary_part():
    got = bridge.conv(np.array([1 + 0j, 2]), [1, 1])
    assert got.dtype == np.complex128 and not np.any(got.imag)


@pytest.mark.parametrize(
    "bad",
    ["ab", b"ab", np.array(["a", "b"]), np.array([{}, 1], dtype=object), [1, None]],
    ids=["str", "bytes", "str-array", "object-array", "list-with-None"],
)
def test_non_numeric_operands_raise_inputType(bad):
    for call in (lambda: bridge.conv2(bad, [1]), lambda: bridge.convn([1], bad)):
        with pytest.raises(errors.InputTypeError) as err:
            call()
        assert err.value.identifier == "MATLAB:conv2:inputType"
        assert isinstance(err.value, TypeError)


def test_non_numeric_operand_of_the_separable_form_names_its_position():
    with pytest.raises(errors.InputTypeError) as err:
        bridge.conv2([1, 2], [1], np.array([{}], dtype=object))
    assert err.value.identifier == "MATLAB:conv2:inputTypeSeparable"
    assert err.value.argument == 3


# ---- shapes and errors (spec sections 4 and 5) -------------------------------------------------


@pytest.mark.parametrize("shape", ["same", "SAME", "Same", "sAmE"])
def test_shape_strings_are_case_insensitive(shape):
    np.testing.assert_array_equal(
        bridge.conv2(np.eye(3), np.ones((2, 2)), shape),
        bridge.conv2(np.eye(3), np.ones((2, 2)), "same"),
    )


@pytest.mark.parametrize("shape", ["middle", "", "fulll", "s", 3, ["same"]])
def test_unknown_shapes_raise_unknownShapeParameter(shape):
    for call in (
        lambda: bridge.conv([1], [1], shape),
        lambda: bridge.conv2([[1]], [[1]], shape=shape),
        lambda: bridge.convn([1], [1], shape),
        lambda: bridge.conv2([1], [1], [[1]], shape),
    ):
        with pytest.raises(errors.ShapeParameterError) as err:
            call()
        assert err.value.identifier == "MATLAB:conv2:unknownShapeParameter"
        assert "SHAPE must be 'full', 'same', or 'valid'." in str(err.value)


def test_conv2_takes_the_shape_positionally_as_matlab_does():
    np.testing.assert_array_equal(
        bridge.conv2(np.eye(3), [[1, 1]], "valid"), bridge.conv2(np.eye(3), [[1, 1]], shape="valid")
    )
    np.testing.assert_array_equal(
        bridge.conv2([1, 1], [1], np.eye(3), "same"),
        bridge.conv2([1, 1], [1], np.eye(3), shape="same"),
    )


@pytest.mark.parametrize(
    "u, v",
    [
        (np.ones((2, 2)), [1, 2]),
        ([1, 2], np.ones((2, 3))),
        (np.zeros((0, 0)), [1]),
        (np.ones((1, 2, 2)), [1]),
    ],
    ids=["first-matrix", "second-matrix", "0x0", "3-D"],
)
def test_conv_of_non_vectors_raises_AorBNotVector(u, v):
    with pytest.raises(errors.NotVectorError) as err:
        bridge.conv(u, v)
    assert err.value.identifier == "MATLAB:conv:AorBNotVector"
    assert "A and B must be vectors." in str(err.value)
    assert err.value.argument == (1 if np.ndim(u) != 1 or np.size(u) == 0 else 2)


def test_conv2_rejects_nd_arrays_and_names_the_argument():
    with pytest.raises(errors.DimensionError, match="N-D arrays are not supported") as err:
        bridge.conv2(np.ones((2, 2)), np.ones((2, 2, 2)))
    assert err.value.argument == 2
    # trailing singleton dimensions mean nothing
    assert bridge.conv2(np.ones((2, 2, 1, 1)), np.ones((2, 1, 1))).shape == (3, 2)


def test_separable_form_needs_vectors_but_accepts_empties():
    with pytest.raises(errors.NotVectorError) as err:
        bridge.conv2(np.ones((2, 2)), [1, 2], np.eye(3))
    assert err.value.identifier == "MATLAB:conv2:firstTwoInputsNotVectors"
    assert err.value.argument == 1
    assert bridge.conv2(np.zeros((0, 0)), [1, 2], np.eye(3)).shape == (3, 4)


def test_separable_orientation_of_u_and_v_does_not_matter():
    A = np.arange(12.0).reshape(3, 4)
    a = bridge.conv2([1, 2, 3], [[1], [-1]], A, "same")
    b = bridge.conv2([[1], [2], [3]], [1, -1], A, "same")
    np.testing.assert_array_equal(a, b)
    want, _, _ = reference("conv2sep", [np.array([[1, 2, 3.0]]), np.array([[1, -1.0]]), A], "same")
    np.testing.assert_array_equal(a, want)


def test_errors_inherit_the_fitting_builtins():
    assert issubclass(errors.ShapeParameterError, ValueError)
    assert issubclass(errors.NotVectorError, ValueError)
    assert issubclass(errors.InputTypeError, TypeError)
    assert issubclass(errors.VariableError, LookupError)
    assert issubclass(errors.OutputError, OSError)


def test_error_context_is_added_once_and_printed_on_one_line():
    e = errors.NotVectorError("A and B must be vectors.", argument=1)
    e.where(file="in.mat", variable="u").where(file="other.mat", variable="x")
    assert str(e) == "in.mat: variable 'u': A and B must be vectors. (MATLAB:conv:AorBNotVector)"
    assert "\n" not in str(e)


# ---- non-finite values (spec sections 6 and 8) -------------------------------------------------


def test_nan_and_inf_reach_exactly_their_windows():
    got = bridge.conv([1, np.inf, 3], [1, 0, 1])
    # Inf*0 follows IEEE in the literal sum: NaN where the zero tap meets Inf
    np.testing.assert_array_equal(np.isnan(got), [[False, False, True, False, False]])
    np.testing.assert_array_equal(np.isinf(got), [[False, True, False, True, False]])
    x = np.zeros((1, 50))
    x[0, 25] = np.nan
    got = bridge.conv(x, np.ones(5), "same")
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(got)), np.arange(23, 28))


def test_column_vector_with_longer_kernel_has_no_stray_nan():
    # scipy.signal's N-D direct path puts NaN here (spec section 6)
    u = np.array([[1.0], [2.0]])
    v = np.ones((5, 1))
    v[4, 0] = np.inf
    got = bridge.convn(u, v)
    want = defining_sum(u, v)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got, want)


# ---- methods -----------------------------------------------------------------------------------


def test_fft_method_is_refused_where_it_cannot_be_exact():
    with pytest.raises(ValueError, match="only exact"):
        bridge.conv(np.full(100, 0.5), np.ones(100), method="fft")
    with pytest.raises(ValueError, match="only exact"):
        bridge.conv(np.r_[np.ones(100), np.nan], np.ones(100), method="fft")
    with pytest.raises(ValueError, match="unknown method"):
        bridge.conv([1, 2], [1, 2], method="magic")


def test_forced_fft_on_integer_data_is_exact():
    rng = np.random.default_rng(1)
    A = rng.integers(-1000, 1000, (40, 50)).astype(np.float64)
    B = rng.integers(-1000, 1000, (9, 7)).astype(np.float64)
    for shape in ("full", "same", "valid"):
        np.testing.assert_array_equal(
            bridge.conv2(A, B, shape, method="fft"), bridge.conv2(A, B, shape, method="direct")
        )
