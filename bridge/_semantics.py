"""MATLAB's rules for conv, conv2 and convn, kept apart from the arithmetic.

Everything here is pure bookkeeping: how an input is read as a MATLAB array, which class the
result has, how large each shape's result is and where ``same`` and ``valid`` sit inside ``full``.
The numbers themselves are computed in :mod:`bridge._kernels`. The rules are those of
``../shared/spec/matlab-semantics.md``; section numbers below refer to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bridge.errors import InputTypeError, ShapeParameterError

SHAPES = ("full", "same", "valid")

# numpy kinds MATLAB's conv functions accept: logical, integer, unsigned, float, complex.
_NUMERIC_KINDS = "biufc"


def matlab_dims(dims: Sequence[int]) -> tuple[int, ...]:
    """MATLAB's size vector: at least two entries, trailing singletons beyond the second dropped."""
    dims = tuple(int(d) for d in dims)
    if len(dims) == 0:
        return (1, 1)
    if len(dims) == 1:
        # A 1-D numpy array is a row vector, as scipy.io.savemat writes it.
        return (1, dims[0])
    while len(dims) > 2 and dims[-1] == 1:
        dims = dims[:-1]
    return dims


def as_matlab(x: object, argument: int, separable: bool = False) -> np.ndarray:
    """Read ``x`` as a MATLAB numeric or logical array (section 5).

    ``argument`` is the 1-based position in the MATLAB call, so that errors can name the variable.
    """
    if isinstance(x, (str, bytes)):
        raise _input_type(argument, "text", separable)
    arr = np.asarray(x)
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise _input_type(argument, f"an array of dtype {arr.dtype}", separable)
    return arr.reshape(matlab_dims(arr.shape))


def _input_type(argument: int, got: str, separable: bool) -> InputTypeError:
    if separable:
        # What MATLAB says for conv2(hcol, hrow, A) with a non-numeric operand.
        msg = "Invalid data type. HCOL, HROW and A must be numeric or logical."
        ident = "MATLAB:conv2:inputTypeSeparable"
    else:
        msg = "Invalid data type. First and second arguments must be numeric or logical."
        ident = None
    return InputTypeError(f"{msg} Got {got}.", identifier=ident, argument=argument)


def parse_shape(shape: object) -> str:
    """'full', 'same' or 'valid', case-insensitive as MATLAB accepts them (section 5)."""
    if isinstance(shape, bytes):
        shape = shape.decode("ascii", errors="replace")
    if isinstance(shape, np.ndarray) and shape.dtype.kind == "U" and shape.size == 1:
        shape = str(shape.reshape(()))
    if isinstance(shape, str) and shape.lower() in SHAPES:
        return shape.lower()
    raise ShapeParameterError(f"SHAPE must be 'full', 'same', or 'valid'. Got {shape!r}.")


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """MATLAB's result class: single if any input is single, double otherwise; complex if any is.

    Integer and logical inputs become double (no integer outputs, no saturation).
    """
    single = any(a.dtype in (np.float32, np.complex64, np.float16) for a in arrays)
    cplx = any(a.dtype.kind == "c" for a in arrays)
    return float_class(single, cplx)


def float_class(single: bool, cplx: bool) -> np.dtype:
    """The numpy dtype of MATLAB's single/double, real/complex."""
    if single:
        return np.dtype(np.complex64 if cplx else np.float32)
    return np.dtype(np.complex128 if cplx else np.float64)


def pad_dims(dims: Sequence[int], ndim: int) -> tuple[int, ...]:
    """Pad a size vector with trailing 1s (convn with unequal numbers of dimensions)."""
    return tuple(dims) + (1,) * (ndim - len(dims))


def full_size(a: int, b: int) -> int:
    """Length of ``full`` along one dimension: a+b-1, or a+b when either is empty (section 1)."""
    return max(a + b - 1, a, b)


def window(shape: str, a: int, b: int) -> tuple[int, int]:
    """(start, length) of the result inside the full convolution along one dimension (section 2).

    Only meaningful when neither size is zero; empty inputs give zeros of :func:`result_size`.
    """
    if shape == "full":
        return 0, a + b - 1
    if shape == "same":
        # MATLAB centres at floor(b/2); numpy/scipy use (b-1)//2, one sample earlier for even b.
        return b // 2, a
    return b - 1, max(a - b + 1, 0)


def result_size(shape: str, a: int, b: int) -> int:
    """Length of the result along one dimension, empty inputs included (section 1)."""
    if shape == "full":
        return full_size(a, b)
    if shape == "same":
        return a
    return max(a - max(b - 1, 0), 0)


def is_vector(arr: np.ndarray) -> bool:
    """MATLAB's isvector: 1xN or Nx1 (N >= 0); a scalar is one, 0x0 is not."""
    return arr.ndim == 2 and (arr.shape[0] == 1 or arr.shape[1] == 1)


def conv_orientation_is_row(shape: str, u: np.ndarray, v: np.ndarray) -> bool:
    """Whether conv(u, v, shape) is a row vector (section 3, as conv.m decides it).

    ``full``: the longer input decides, ties go to the second; ``same``/``valid``: the first.
    """
    if shape == "full" and u.size <= v.size:
        return v.shape[0] == 1
    return u.shape[0] == 1
