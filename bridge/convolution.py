"""conv, conv2 and convn with MATLAB's answers: sizes, offsets, orientation, classes and errors.

Inputs are read as MATLAB arrays (:func:`bridge._semantics.as_matlab`): a 1-D numpy array is a row
vector, trailing singleton dimensions mean nothing. Results are numpy arrays of MATLAB's size
(at least 2-D, trailing singletons beyond the second dropped) and class (float64, float32,
complex128, complex64).

Each function's checks are written once, on sizes (:func:`layout`), so that a job planned from a
file's headers (bridge._job.stream) raises exactly what the call would raise, and knows the
result's size, class and place in the full convolution before any value is read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import numpy as np

from bridge import _kernels as kernels
from bridge._kernels import method_direct
from bridge._semantics import (
    SHAPES,
    as_matlab,
    conv_orientation_is_row,
    float_class,
    matlab_dims,
    pad_dims,
    parse_shape,
    result_dtype,
    result_size,
    window,
)
from bridge.errors import DimensionError, NotVectorError, ShapeParameterError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["Layout", "Method", "Shape", "conv", "conv2", "convn", "layout"]

Shape = Literal["full", "same", "valid"]
"""The shape of a result: MATLAB's ``'full'``, ``'same'`` or ``'valid'`` (any case)."""
Method = Literal["auto", "direct", "gemm", "fft", "fft-float"]
"""How the sum is computed (:mod:`bridge._kernels`); ``'auto'`` keeps MATLAB's answers."""


class Layout(NamedTuple):
    """What a call returns, known from its operands' sizes and classes alone.

    ``size`` and ``dtype`` are the result's MATLAB size and class; the result is the window
    ``starts``/``lengths`` of the full N-D convolution of arrays of ``a_dims`` and ``b_dims``
    (one number per dimension; for conv, the two vectors as columns).
    """

    size: tuple[int, ...]
    dtype: np.dtype
    a_dims: tuple[int, ...]
    b_dims: tuple[int, ...]
    starts: tuple[int, ...]
    lengths: tuple[int, ...]
    separable: bool = False


def layout(
    op: Literal["conv", "conv2", "convn"],
    operands: Sequence[tuple[Sequence[int], np.dtype]],
    shape: str = "full",
) -> Layout:
    """The :class:`Layout` of ``op(*operands, shape)`` from the operands' (size, dtype) pairs,
    raising what the call would raise about sizes and the shape.

    >>> layout("conv2", [((4, 5), np.dtype(np.float32)), ((3, 3), np.dtype(np.float64))], "same")
    ... # doctest: +NORMALIZE_WHITESPACE
    Layout(size=(4, 5), dtype=dtype('float32'), a_dims=(4, 5), b_dims=(3, 3), starts=(1, 1),
           lengths=(4, 5), separable=False)
    """
    # The checks in the order the call makes them: conv looks at its vectors before the shape.
    sizes = [matlab_dims(size) for size, _ in operands]
    dtype = result_dtype(*(np.empty(0, dt) for _, dt in operands))
    separable = False
    a_dims: tuple[int, ...]
    b_dims: tuple[int, ...]
    if op == "conv":
        for argument, size in enumerate(sizes, 1):
            _check_vector(size, argument)
        shape = parse_shape(shape)
        a_dims, b_dims = (math.prod(sizes[0]), 1), (math.prod(sizes[1]), 1)
    elif op == "conv2" and len(sizes) == 3:
        shape = parse_shape(shape)
        _check_matrix(sizes[2], 3)
        for argument, size in enumerate(sizes[:2], 1):
            _check_filter_vector(size, argument)
        separable = True
        a_dims, b_dims = sizes[2], (math.prod(sizes[0]), math.prod(sizes[1]))
    else:
        shape = parse_shape(shape)
        if op == "conv2":
            for argument, size in enumerate(sizes, 1):
                _check_matrix(size, argument)
        ndim = max(len(sizes[0]), len(sizes[1]))
        a_dims, b_dims = pad_dims(sizes[0], ndim), pad_dims(sizes[1], ndim)
    lengths = tuple(result_size(shape, a, b) for a, b in zip(a_dims, b_dims, strict=True))
    starts = tuple(window(shape, a, b)[0] for a, b in zip(a_dims, b_dims, strict=True))
    size = matlab_dims(lengths)
    if op == "conv":
        u, v = (np.empty(sizes[k], bool) for k in (0, 1))
        size = (1, lengths[0]) if conv_orientation_is_row(shape, u, v) else (lengths[0], 1)
    return Layout(size, dtype, tuple(a_dims), tuple(b_dims), starts, lengths, separable)


def _dims_text(dims: Sequence[int]) -> str:
    return "x".join(map(str, dims))


def _check_vector(dims: Sequence[int], argument: int) -> None:
    """conv's operands are vectors (MATLAB's isvector)."""
    if not (len(dims) == 2 and 1 in dims):
        raise NotVectorError(
            f"A and B must be vectors. Got a {_dims_text(dims)} array.", argument=argument
        )


def _check_filter_vector(dims: Sequence[int], argument: int) -> None:
    """HCOL and HROW of conv2(u, v, A) are vectors, or empty (MATLAB accepts [] there)."""
    if len(dims) > 2 or not (1 in dims or math.prod(dims) == 0):
        raise NotVectorError(
            f"HCOL and HROW must be vectors. Got a {_dims_text(dims)} array.",
            identifier="MATLAB:conv2:firstTwoInputsNotVectors",
            argument=argument,
        )


def _check_matrix(dims: Sequence[int], argument: int) -> None:
    """conv2 takes matrices only."""
    if len(dims) > 2:
        raise DimensionError(
            f"N-D arrays are not supported. Got a {_dims_text(dims)} array; "
            "use convn for more than two dimensions.",
            argument=argument,
        )


def _convolve(A: np.ndarray, B: np.ndarray, shape: str, dtype: np.dtype, method: str) -> np.ndarray:
    """N-D convolution of two MATLAB arrays (any numbers of dimensions) as MATLAB shapes it."""
    ndim = max(A.ndim, B.ndim)
    a_dims = pad_dims(A.shape, ndim)
    b_dims = pad_dims(B.shape, ndim)
    A = A.reshape(a_dims)
    B = B.reshape(b_dims)
    sizes = tuple(result_size(shape, a, b) for a, b in zip(a_dims, b_dims, strict=True))
    if A.size == 0 or B.size == 0 or 0 in sizes:
        # MATLAB returns zeros of the formula's size, never [] (spec section 1).
        return np.zeros(matlab_dims(sizes), dtype)
    win = [window(shape, a, b) for a, b in zip(a_dims, b_dims, strict=True)]
    starts = [s for s, _ in win]
    out = kernels.convolve(A, B, starts, sizes, dtype, method)
    return out.reshape(matlab_dims(sizes))


_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


def _lean(A, B, shape: str, method: str) -> np.ndarray | None:
    """Two double (or two single) matrices summed directly: the general path's answer (the same
    compiled loop, the same bits) without its checks, size rules and method choice, which cost
    more than a small sum and, on the kernels' threads, about a tenth of a 1024^2 * 3x3 one
    (BENCHMARKS.md). None: not such a call, or no compiled loop."""
    if (
        type(A) is not np.ndarray
        or type(B) is not np.ndarray
        or A.dtype is not B.dtype
        or (A.dtype is not _F64 and A.dtype is not _F32)
        or A.ndim != 2
        or B.ndim != 2
        or method not in _LEAN_METHODS
    ):
        return None
    (a0, a1), (b0, b1) = A.shape, B.shape
    # 'auto' sums directly when the *full* result is small (kernels.choice.direct_is_certain),
    # so every shape of these operands takes the direct sum, here as there. Beyond the size the
    # direct sum runs in one thread, only kernels without zero taps: the general path would
    # skip those where the data are finite (the same bits, less work, after a look at the data).
    work = (a0 + b0 - 1) * (a1 + b1 - 1) * min(a0 * a1, b0 * b1)
    if work == 0:
        return None
    if (
        work > method_direct.SMALL_WORK
        and method != "direct"
        and not kernels.choice.direct_is_certain(A.shape, B.shape, (a0 + b0 - 1, a1 + b1 - 1))
    ):
        return None
    big, small = (A, B) if a0 * a1 >= b0 * b1 else (B, A)
    if method_direct.threaded_work(work, A.dtype) and not small.all():
        return None
    if shape == "full":  # semantics.window, inline
        s0, n0, s1, n1 = 0, a0 + b0 - 1, 0, a1 + b1 - 1
    elif shape == "same":
        s0, n0, s1, n1 = b0 // 2, a0, b1 // 2, a1
    else:
        s0, n0, s1, n1 = b0 - 1, a0 - b0 + 1, b1 - 1, a1 - b1 + 1
    if n0 <= 0 or n1 <= 0:
        return None
    return method_direct.sum_2d(big, small, (s0, s1), (n0, n1))


_LEAN_METHODS = frozenset(("auto", "direct"))


def _lean_vectors(u, v, shape: str, method: str) -> np.ndarray | None:
    """conv of two double (or two single) vectors: conv2(u(:).', v(:).', shape) by
    :func:`_lean`, oriented as conv.m does; the general path's array, bit for bit. None: not
    such a call (a matrix, an empty vector, another class, one :func:`_lean` leaves), left to
    the general path and its checks."""
    if type(u) is not np.ndarray or type(v) is not np.ndarray:
        return None
    U = u.reshape(1, -1) if u.ndim == 1 else u  # a 1-D array is a row, as as_matlab has it
    V = v.reshape(1, -1) if v.ndim == 1 else v
    if U.ndim != 2 or V.ndim != 2 or 1 not in U.shape or 1 not in V.shape:
        return None
    # As rows: the same taps in the same order as conv2(u(:), v(:)), one line for the loop
    # (columns would be a line per element).
    row = _lean(U.reshape(1, -1), V.reshape(1, -1), shape, method)
    if row is None:
        return None
    return row if conv_orientation_is_row(shape, U, V) else row.reshape(-1, 1)


def convn(
    A: ArrayLike, B: ArrayLike, shape: Shape = "full", *, method: Method = "auto"
) -> np.ndarray:
    """N-D convolution, as MATLAB's ``convn(A, B, shape)``.

    Parameters
    ----------
    A, B : array_like
        Numeric or logical arrays of any numbers of dimensions; the shorter size vector is padded
        with ones. A 1-D array is a row vector.
    shape : {'full', 'same', 'valid'}, case-insensitive
        ``'full'`` (default): the whole convolution; ``'same'``: the central part of A's size;
        ``'valid'``: only the parts computed without zero-padded edges.
    method : {'auto', 'direct', 'gemm', 'fft', 'fft-float'}
        'auto' picks the fastest method that keeps MATLAB's answers: 'direct' is the defining
        sum; 'gemm' the same products in BLAS matrix products; 'fft' is exact FFT for integer
        data (ValueError otherwise); 'fft-float' FFT within the documented FFT error bound.
        See :mod:`bridge._kernels`.

    Returns
    -------
    numpy.ndarray
        Per dimension k, with ``a = size(A,k)`` and ``b = size(B,k)``: ``full`` has ``a+b-1``
        (``a+b`` if either is 0); ``same`` has ``a``, starting at ``floor(b/2)`` of ``full``;
        ``valid`` has ``max(a-max(b-1,0), 0)``, starting at ``b-1``. Single if either input is
        single, else double; complex if either is.

    Raises
    ------
    InputTypeError
        ``MATLAB:conv2:inputType``: an operand that is not numeric or logical.
    ShapeParameterError
        ``MATLAB:conv2:unknownShapeParameter``: a shape other than full, same or valid.

    Examples
    --------
    >>> convn(np.ones((3, 3)), np.ones((2, 2, 2))).shape
    (4, 4, 2)
    >>> convn([1, 2, 3], [1, 1], "same").tolist()
    [[3.0, 5.0, 3.0]]
    """
    shape = parse_shape(shape)  # type: ignore[assignment]  # any case in, MATLAB's name out
    lean = _lean(A, B, shape, method)
    if lean is not None:
        return lean
    A = as_matlab(A, 1)
    B = as_matlab(B, 2)
    return _convolve(A, B, shape, result_dtype(A, B), method)


@overload
def conv2(
    A: ArrayLike, B: ArrayLike, shape: Shape = ..., /, *, method: Method = ...
) -> np.ndarray: ...
@overload
def conv2(
    u: ArrayLike, v: ArrayLike, A: ArrayLike, shape: Shape = ..., /, *, method: Method = ...
) -> np.ndarray: ...
@overload
def conv2(A: ArrayLike, B: ArrayLike, /, *, shape: Shape, method: Method = ...) -> np.ndarray: ...
@overload
def conv2(
    u: ArrayLike, v: ArrayLike, A: ArrayLike, /, *, shape: Shape, method: Method = ...
) -> np.ndarray: ...
def conv2(*args: object, shape: str | None = None, method: Method = "auto") -> np.ndarray:
    """2-D convolution, as MATLAB's ``conv2(A, B, shape)`` or ``conv2(u, v, A, shape)``.

    Parameters
    ----------
    A, B : array_like
        Numeric or logical matrices (at most two dimensions; use :func:`convn` for more).
    u, v, A : array_like
        The separable form: each column of A is convolved with ``u(:)``, then each row of that
        with ``v(:)``. u and v are vectors (or empty); sizes and the ``same`` offset are measured
        against A with ``b = [numel(u) numel(v)]``.
    shape : {'full', 'same', 'valid'}, case-insensitive
        Positionally, as in MATLAB (``conv2(A, B, 'same')``), or by keyword. Default 'full'.
    method : {'auto', 'direct', 'gemm', 'fft', 'fft-float'}
        As for :func:`convn`.

    Returns
    -------
    numpy.ndarray
        Sizes as :func:`convn` for two dimensions; ``same`` is always the size of A.

    Raises
    ------
    DimensionError
        ``bridge:conv2:notMatrix``: an operand with more than two dimensions.
    NotVectorError
        ``MATLAB:conv2:firstTwoInputsNotVectors``: u or v of the separable form not a vector.
    InputTypeError
        ``MATLAB:conv2:inputType`` (``MATLAB:conv2:inputTypeSeparable`` for the separable form):
        an operand that is not numeric or logical.
    ShapeParameterError
        ``MATLAB:conv2:unknownShapeParameter``: a shape other than full, same or valid.

    Examples
    --------
    >>> conv2([[1, 2, 3]], [[1], [1]]).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    >>> conv2(np.eye(3), np.ones((2, 2)), "same").tolist()
    [[2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 1.0]]
    >>> conv2([1, 1], [1, 2, 1], np.ones((2, 2)), "full").shape
    (3, 4)
    """
    if len(args) == 2 and shape is None:  # conv2(A, B): small ones first, before any parsing
        lean = _lean(args[0], args[1], "full", method)
        if lean is not None:
            return lean
    elif len(args) == 3 and shape is None and type(args[2]) is str and args[2] in SHAPES:
        lean = _lean(args[0], args[1], args[2], method)
        if lean is not None:
            return lean
    arrays = list(args)
    if arrays and isinstance(arrays[-1], str) and len(arrays) in (3, 4):
        if shape is not None:
            raise TypeError("conv2() got the shape both positionally and by keyword")
        shape = str(arrays.pop())
    shape = parse_shape("full" if shape is None else shape)
    if len(arrays) == 2:
        lean = _lean(arrays[0], arrays[1], shape, method)
        if lean is not None:
            return lean
        A = as_matlab(arrays[0], 1)
        B = as_matlab(arrays[1], 2)
        _check_matrix(A.shape, 1)
        _check_matrix(B.shape, 2)
        return _convolve(A, B, shape, result_dtype(A, B), method)
    if len(arrays) == 3:
        return _conv2_separable(*arrays, shape=shape, method=method)
    if len(arrays) == 4:
        # conv2(u, v, A, X) with a non-text X: MATLAB says the shape is wrong.
        raise ShapeParameterError("SHAPE must be 'full', 'same', or 'valid'.", argument=4)
    raise TypeError(
        f"conv2() takes 2 or 3 arrays and an optional shape, got {len(arrays)} arguments"
    )


def _conv2_separable(u, v, A, *, shape: str, method: str) -> np.ndarray:
    u = as_matlab(u, 1, separable=True)
    v = as_matlab(v, 2, separable=True)
    A = as_matlab(A, 3, separable=True)
    _check_matrix(A.shape, 3)
    _check_filter_vector(u.shape, 1)
    _check_filter_vector(v.shape, 2)
    dtype = result_dtype(u, v, A)
    if u.size == 0 or v.size == 0 or A.size == 0:
        # Zeros of the formula's size, with b = [numel(u) numel(v)]; two passes would not do:
        # an empty pass yields a non-empty zero array that the second pass could fill.
        sizes = [result_size(shape, a, b) for a, b in zip(A.shape, (u.size, v.size))]
        return np.zeros(sizes, dtype)
    # Two passes, as MATLAB computes it: columns with u(:), then rows with v(:). A dimension of
    # size 1 in the kernel takes the identity window for every shape, so each pass only crops its
    # own dimension and the second pass works on the cropped result of the first.
    # The intermediate is complex only if A or u is (a real intermediate meets a complex v part
    # by part), in the precision of the whole call.
    cols_dtype = float_class(
        dtype in (np.float32, np.complex64), A.dtype.kind == "c" or u.dtype.kind == "c"
    )
    cols = _convolve(A, u.reshape(-1, 1), shape, cols_dtype, method)
    return _convolve(cols, v.reshape(1, -1), shape, dtype, method)


def conv(
    u: ArrayLike, v: ArrayLike, shape: Shape = "full", *, method: Method = "auto"
) -> np.ndarray:
    """Convolution of two vectors, as MATLAB's ``conv(u, v, shape)``.

    Computed as ``conv2(u(:), v(:), shape)`` and then oriented as conv.m does: in ``full`` the
    longer input decides (the second on a tie), otherwise the first; a row iff that input is a row.

    Parameters
    ----------
    u, v : array_like
        Numeric or logical vectors (1xN or Nx1; a 1-D array is a row).
    shape : {'full', 'same', 'valid'}, case-insensitive
        Default 'full'.
    method : {'auto', 'direct', 'gemm', 'fft', 'fft-float'}
        As for :func:`convn`.

    Returns
    -------
    numpy.ndarray
        A 1xN or Nx1 array: ``full`` has ``numel(u)+numel(v)-1`` elements, ``same`` ``numel(u)``
        (starting at ``floor(numel(v)/2)`` of ``full``), ``valid`` ``max(numel(u)-numel(v)+1, 0)``.

    Raises
    ------
    NotVectorError
        ``MATLAB:conv:AorBNotVector``: an operand that is not a vector.
    InputTypeError
        ``MATLAB:conv2:inputType``: an operand that is not numeric or logical.
    ShapeParameterError
        ``MATLAB:conv2:unknownShapeParameter``: a shape other than full, same or valid.

    Examples
    --------
    >>> conv([-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1], 'same').tolist()
    [[15.0, 5.0, -9.0, 7.0, 6.0, 7.0, -1.0]]
    >>> conv([[1], [2]], [1, 1]).shape  # the longer input (the second on a tie) orients 'full'
    (1, 3)
    """
    if type(shape) is str and shape in SHAPES:  # small vectors first, before any parsing
        lean = _lean_vectors(u, v, shape, method)
        if lean is not None:
            return lean
    U = as_matlab(u, 1)
    V = as_matlab(v, 2)
    _check_vector(U.shape, 1)
    _check_vector(V.shape, 2)
    shape = parse_shape(shape)  # type: ignore[assignment]  # any case in, MATLAB's name out
    col = _convolve(U.reshape(-1, 1), V.reshape(-1, 1), shape, result_dtype(U, V), method)
    return col.reshape(1, -1) if conv_orientation_is_row(shape, U, V) else col
