"""MATLAB's filtering family: filter2, xcorr2, imfilter, fspecial, imgaussfilt, imgaussfilt3.

A library module: MATLAB's rules (sizes, anchors, boundary options, classes, identifiers) are
written here once; the sums are :func:`bridge._kernels.convolve`'s (the direct sum, or a faster
method that keeps the project's accuracy contract), so every method of ``method=`` applies.

imfilter is "pad, then a valid correlation":

1. :func:`pad_width` says how far each axis of A is padded: ``'same'`` pads
   ``anchor - 1`` before and ``size(h) - anchor`` after, with MATLAB's anchor
   ``floor((size(h) + 1) / 2)`` (1-based); ``'full'`` pads ``size(h) - 1`` on both sides.
2. :func:`source_indices` / :func:`padding_plan` say, per axis, which index of A each padded
   index reads (``-1``: the constant). :func:`padded` builds the padded array from it, in A's
   class (a numeric boundary value is converted to A's class first: 3.5 pads a uint8 image
   with 4). A streaming caller fills a box of the padded array the same way: the box
   ``[p0, p1)`` of an axis reads ``A[plan[axis][p0:p1]]``; output ``[o0, o1)`` of that axis
   needs the padded box ``[o0, o1 + size(h) - 1)``. (For zero padding and a finite kernel,
   imfilter skips the copy: the kernels take the same window of the full correlation of A, whose
   missing terms are the padding's exact zeros; equal to the padded path within round-off.)
3. :func:`valid_correlation` is the arithmetic, in double: ``'corr'`` correlates, ``'conv'``
   convolves (h rotated 180 degrees on every axis).
4. :func:`cast_to_class` converts back as MATLAB does: integers and logical rounded half away
   from zero and saturated (NaN to 0), single rounded to single.

MATLAB's imfilter computes with the *nonzero* taps of h only (its MEX takes ``h(h ~= 0)``), and
a complex h or A as separate real filters (``real(A)*real(h) - imag(A)*imag(h)`` and so on). So
a NaN or Inf of A reaches exactly the outputs whose window covers it with a nonzero tap, and
the real and imaginary parts carry NaN/Inf separately. bridge does the same: the finite part of
the padded array goes through the kernels, the non-finite values are added back over the
nonzero taps.

Separable kernels and the documented tolerance
----------------------------------------------
A kernel with two or more non-singleton axes that is exactly rank one (every tap equals the
product of its lines through the largest tap, within ``SEPARABLE_RESIDUAL * eps * max|h|``, and
the zero taps are the same) is applied as one 1-D pass per axis (``separable=None`` chooses it
where it saves work, ``True`` forces it where h allows, ``False`` never). The passes keep the
zero-tap rule exactly (a product of lines is zero exactly where h is) and differ from the direct
sum only by round-off: every finite output is within

    ``(n1 + n2 + ... + SEPARABLE_RESIDUAL) * eps * (|h| (*) |P|)``

of the direct sum (``P`` the padded array, ``(*)`` the same valid correlation, ``n_k`` the taps
per axis, eps of double), plus the bound of the kernel method used for each pass (the FFT
bound of :func:`bridge._kernels.fft_error_bound` when ``auto`` picks ``fft-float``). Results in
an integer class are rounded after that, so an output within that distance of a half-integer
may round to the neighbouring integer. MATLAB itself filters large rank-one kernels in two
passes (from SVD factors), so its own answers differ from the direct sum by as much.

For a real 2-D image whose two passes are both the direct sum (``method='auto'`` picks it by
the operands' sizes alone, or ``'direct'``), one compiled loop does the padding, the two passes
and the conversion to A's class (:func:`_fused_separable`, ``sep2`` in
``bridge/_kernels/_direct_c.c``): the same products added in the same order, so the same bits as
the two passes over a padded copy (``tests/test_filtering_fused.py`` compares them byte for
byte), without the copies in between. Likewise for a kernel summed directly (not split into
passes): one compiled loop reads the padding by index, sums each output's nonzero taps in the
direct loop's order from +0 and converts to A's class (:func:`_fused_direct`, ``nonsep2``;
``tests/test_filtering_fused2.py``); an image or kernel with NaN/Inf takes the usual path (its
non-finite values are added separately there). A 2-D column-major image is read in place as
its transpose, and its result is column-major.

Where ``method='auto'`` would sum such a kernel by an FFT instead (a large kernel), a 2-D image
(or each plane of an RGB one) of the classes nonsep2 sums in float32 (8- and 16-bit integers,
logical) goes by the guarded FFT (:func:`_guarded_fft`): fft-float over chunks of the padded
image, each output stored from the FFT's sum only where no half-integer lies within the FFT's
bound plus the direct sum's of it (so the direct sum rounds and saturates to the same integer),
the others recomputed as nonsep2 sums them. The result is ``method='direct'``'s, bit for bit
(``tests/test_filtering_guarded_fft.py``); taken where the bound leaves few outputs to
recompute, else the usual (rounded FFT) path.

A volume (a real 3-D image) with a rank-one kernel of three non-singleton axes, whose three
passes are the direct sum, takes the same loop twice (:func:`_fused_volume`): on each slab
``A[i]`` for the pages' and the rows' passes, then along the slabs; a volume of another class
than double is otherwise padded in double at once and stored back by the fused loops' store
(:func:`_volume_in_class`). Both give the bits of the usual path
(``tests/test_filtering_volume.py``).

Known differences from MATLAB: numpy has no complex integers, so a complex kernel on an integer
or logical image returns complex128 whose parts are rounded and saturated to the image's class.
imgaussfilt's ``'FilterDomain'`` is accepted and checked, but bridge always filters in the
spatial domain (MATLAB's frequency-domain answer agrees within round-off for finite data; for
NaN/Inf MathWorks documents it as undefined).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from bridge import _kernels as kernels
from bridge._kernels import choice, loops, pool
from bridge._semantics import matlab_dims
from bridge.convolution import Method, conv2
from bridge.errors import BridgeError, FilterArgumentError, FilterTypeError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = [
    "Boundary",
    "boundary_value",
    "cast_to_class",
    "filter2",
    "fspecial",
    "imfilter",
    "imgaussfilt",
    "imgaussfilt3",
    "pad_width",
    "padded",
    "padding_plan",
    "source_indices",
    "valid_correlation",
    "xcorr2",
]

BoundaryName = Literal["symmetric", "replicate", "circular"]
#: imfilter's boundary option: a named rule or a numeric value (0 by default).
Boundary = BoundaryName | float
Shape = Literal["same", "full"]

EPS = float(np.finfo(np.float64).eps)
# How far (in eps of the largest tap) a kernel may be from the product of its lines through the
# largest tap and still be applied in 1-D passes; part of the documented tolerance above.
SEPARABLE_RESIDUAL = 8
# Non-finite values times nonzero taps scattered per chunk (bounds the scatter's memory).
_SCATTER_CHUNK = 1 << 20

_BOUNDARY_NAMES = ("replicate", "symmetric", "circular")
_IMFILTER_STRINGS = ("replicate", "symmetric", "circular", "conv", "corr", "full", "same")
_FSPECIAL_TYPES = (
    "gaussian", "sobel", "prewitt", "laplacian", "log", "average", "unsharp", "disk", "motion",
)  # fmt: skip
_GAUSS_CLASSES = tuple(
    np.dtype(t)
    for t in (np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32, np.float32, np.float64)
)


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the family


def _text(x) -> str | None:
    """x as a Python string if it is text (str, bytes, a numpy string scalar), else None."""
    if isinstance(x, bytes):
        return x.decode("ascii", errors="replace")
    if isinstance(x, str):
        return str(x)
    if isinstance(x, np.ndarray) and x.dtype.kind == "U" and x.size == 1:
        return str(x.reshape(()))
    return None


def _validatestring(value: str, choices: Sequence[str], fn: str, name: str, pos: int) -> str:
    """MATLAB's validatestring: case-insensitive, an unambiguous leading part is enough."""
    low = value.lower()
    if low in choices:
        return low
    matches = [c for c in choices if low and c.startswith(low)]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(f"'{c}'" for c in choices)
    if matches:
        raise FilterArgumentError(
            f"{name} '{value}' is ambiguous: it matches {', '.join(matches)}; "
            f"give more of one of {listed}.",
            identifier=f"MATLAB:{fn}:ambiguousStringChoice",
            argument=pos,
        )
    raise FilterArgumentError(
        f"Expected {name} to match one of these values: {listed}. Got '{value}'.",
        identifier=f"MATLAB:{fn}:unrecognizedStringChoice",
        argument=pos,
    )


def _array(x, fn: str, name: str, pos: int, kinds: str = "biufc") -> np.ndarray:
    if _text(x) is not None:
        raise FilterTypeError(
            f"{name} must be numeric, not text. Got {x!r}.",
            identifier=f"MATLAB:{fn}:invalidType",
            argument=pos,
        )
    arr = np.asarray(x)
    if arr.dtype.kind not in kinds:
        raise FilterTypeError(
            f"{name} must be numeric{' or logical' if 'b' in kinds else ''}. "
            f"Got an array of dtype {arr.dtype}.",
            identifier=f"MATLAB:{fn}:invalidType",
            argument=pos,
        )
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return arr


def _double(x, fn: str, name: str, pos: int) -> np.ndarray:
    """A MATLAB double argument: a numpy array must be float64 (or complex128); Python numbers
    and lists are MATLAB literals, so they are doubles."""
    if isinstance(x, (np.ndarray, np.generic)):
        arr = _array(x, fn, name, pos)
        if arr.dtype not in (np.float64, np.complex128):
            raise FilterTypeError(
                f"{name} must be of class double (float64). Got an array of dtype {arr.dtype}; "
                "convert it with .astype(float).",
                identifier=f"MATLAB:{fn}:invalidType",
                argument=pos,
            )
        return arr
    arr = _array(x, fn, name, pos)
    return arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64)


def _check(ok: bool, fn: str, name: str, pos: int, what: str, got) -> None:
    """One of validateattributes' checks: ``MATLAB:<fn>:expected<What>``."""
    if not ok:
        raise FilterArgumentError(
            f"Expected {name} to be {what.lower()}. Got {np.asarray(got).tolist()!r}.",
            identifier=f"MATLAB:{fn}:expected{what.replace(' ', '').title().replace('-', '')}",
            argument=pos,
        )


def _attributes(arr: np.ndarray, fn: str, name: str, pos: int, attrs: Sequence[str]) -> None:
    """validateattributes' checks, in the order listed."""
    if arr.size == 1 and arr.dtype.kind in "biuf":
        _scalar_attributes(arr, fn, name, pos, attrs)
        return
    real = arr.real if arr.dtype.kind == "c" else arr
    for attr in attrs:
        if attr == "nonempty":
            _check(arr.size > 0, fn, name, pos, "nonempty", arr)
        elif attr == "real":
            _check(arr.dtype.kind != "c", fn, name, pos, "real", arr)
        elif attr == "scalar":
            _check(arr.size == 1, fn, name, pos, "scalar", arr)
        elif attr == "finite":
            _check(bool(np.all(np.isfinite(arr))), fn, name, pos, "finite", arr)
        elif attr == "positive":
            _check(bool(np.all(real > 0)), fn, name, pos, "positive", arr)
        elif attr == "nonnegative":
            _check(bool(np.all(real >= 0)), fn, name, pos, "nonnegative", arr)
        elif attr == "integer":
            ok = bool(np.all(np.isfinite(real)) and np.all(real == np.round(real)))
            _check(ok, fn, name, pos, "integer", arr)
        elif attr == "odd":
            ok = bool(np.all(np.isfinite(real)) and np.all(np.mod(real, 2) == 1))
            _check(ok, fn, name, pos, "odd", arr)


def _scalar_attributes(arr: np.ndarray, fn: str, name: str, pos: int, attrs) -> None:
    """:func:`_attributes` of one real number (a sigma, a size), in Python's arithmetic: the
    same answers as numpy's for one value (``%`` takes the divisor's sign, as ``np.mod``)."""
    v = arr.reshape(()).item()
    finite = math.isfinite(v)
    for attr in attrs:
        if attr == "finite":
            _check(finite, fn, name, pos, "finite", arr)
        elif attr == "positive":
            _check(v > 0, fn, name, pos, "positive", arr)
        elif attr == "nonnegative":
            _check(v >= 0, fn, name, pos, "nonnegative", arr)
        elif attr == "integer":
            _check(finite and v == math.floor(v), fn, name, pos, "integer", arr)
        elif attr == "odd":
            _check(finite and v % 2 == 1, fn, name, pos, "odd", arr)
        # nonempty, real and scalar hold for one real number


def _size_text(shape) -> str:
    return "x".join(str(d) for d in shape)


# ---------------------------------------------------------------------------------------------
# Classes: MATLAB's conversions


def _round_half_away(x: np.ndarray, scratch: bool = False) -> np.ndarray:
    """Round half away from zero, exactly: rint (ties to even), then the ties moved away from
    zero (``x - rint(x)`` is exact, so a tie is recognized exactly). ``scratch``: x may be
    overwritten (saves allocating, and page-faulting, one more array of x's size)."""
    r = np.rint(x)
    with np.errstate(invalid="ignore"):  # Inf - Inf: NaN, never a tie
        d = np.subtract(x, r, out=x if scratch else None)
    tie = (d == 0.5) | (d == -0.5)
    if tie.any():
        xt = r[tie] + d[tie]  # x at the ties, exactly
        r[tie] = xt + np.copysign(0.5, xt)
    return r


def _to_real_class(x: np.ndarray, dtype: np.dtype, scratch: bool = False) -> np.ndarray:
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # beyond single's range: +-Inf, as MATLAB's single()
            return x.astype(dtype)
    r = _round_half_away(x, scratch)
    nan = np.isnan(r)
    if nan.any():
        r[nan] = 0.0
    if dtype.kind == "b":
        return r >= 1.0
    info = np.iinfo(dtype)
    np.clip(r, info.min, info.max, out=r)
    return r.astype(dtype)


def cast_to_class(x, dtype) -> np.ndarray:
    """Convert a computed (double) array to MATLAB class ``dtype`` as MATLAB's cast does.

    Integers: rounded half away from zero, saturated, NaN to 0. Logical: the same, saturated to
    [0, 1]. Single: rounded to single. A complex ``x`` keeps both parts (complex64 for single,
    complex128 otherwise, with rounded and saturated parts for integer classes: numpy has no
    complex integers).

    Examples
    --------
    >>> cast_to_class(np.array([250 * 1.5, -0.5, 2.5, np.nan]), np.uint8).tolist()
    [255, 0, 3, 0]
    >>> cast_to_class(np.array([-2.5, 2.5, 200.0]), np.int8).tolist()
    [-3, 3, 127]
    """
    x = np.asarray(x)
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
    if x.dtype.kind != "c":
        return _to_real_class(x.astype(np.float64, copy=False), dtype)
    out_dtype = np.complex64 if dtype == np.float32 else np.complex128
    out = np.empty(x.shape, out_dtype)
    out.real = _to_real_class(x.real, dtype)
    out.imag = _to_real_class(x.imag, dtype)
    return out


def _cast_owned(x: np.ndarray, dtype) -> np.ndarray:
    """:func:`cast_to_class` of a float64 array the caller no longer needs (used as scratch)."""
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x  # a double (or complex double) result is already in its class: no copy
    kind = _SEP2_KINDS.get(dtype)
    if kind and loops.C_STORE is not None and x.dtype == np.float64 and x.flags.c_contiguous:
        # cast_to_class's values for every double (tests/test_filtering_fused_store.py), in one
        # compiled pass instead of numpy's six over the whole array
        res = np.empty(x.shape, dtype)
        loops.C_STORE(res.reshape(-1), x.reshape(-1), kind)
        return res
    if x.dtype == np.float64 and x.flags.writeable and dtype.kind in "iub":
        return _to_real_class(x, dtype, scratch=True)
    return cast_to_class(x, dtype)


def boundary_value(X, dtype) -> np.generic:
    """A numeric boundary option converted to the image's class, as MATLAB stores it in the
    padded array: ``boundary_value(3.5, np.uint8)`` is 4, ``-7`` is 0; NaN is 0 for integers.

    Raises
    ------
    FilterArgumentError
        A complex value for an integer or logical image, or NaN for a logical one.
    """
    dtype = np.dtype(dtype)
    val = np.asarray(X)
    if val.dtype.kind == "b":
        val = val.astype(np.float64)
    if dtype.kind in "fc":
        if val.dtype.kind == "c":
            return np.complex64(val) if dtype in (np.float32, np.complex64) else np.complex128(val)
        return dtype.type(val.real if dtype.kind == "c" else val)
    if val.dtype.kind == "c":
        raise FilterArgumentError(
            f"A complex boundary value ({val}) cannot pad an image of class {dtype}.",
            identifier="bridge:imfilter:complexBoundary",
        )
    if dtype.kind == "b" and np.isnan(val):
        raise FilterArgumentError(
            "NaN cannot pad a logical image (NaN has no logical value).",
            identifier="MATLAB:nologicalnan",
        )
    return cast_to_class(np.asarray(val, np.float64).reshape(1), dtype)[0]


def _fill(X, dtype: np.dtype) -> np.generic:
    """:func:`boundary_value` of a Python int or float (not NaN), kept per value and class (the
    calls' usual boundary is 0); other values are converted each time. A float's key is its
    bits (``-0.0`` is not ``0.0``)."""
    if type(X) is float and X == X:
        return _fill_cached(dtype, float, X.hex())
    if type(X) is int:
        return _fill_cached(dtype, int, X)
    return boundary_value(X, dtype)


@functools.lru_cache(maxsize=64)
def _fill_cached(dtype: np.dtype, kind: type, key) -> np.generic:
    return boundary_value(float.fromhex(key) if kind is float else key, dtype)


# ---------------------------------------------------------------------------------------------
# Padding: the rule the streaming layer shares


def _dims(shape: Sequence[int], nd: int) -> tuple[int, ...]:
    return tuple(int(d) for d in shape) + (1,) * (nd - len(shape))


def pad_width(a_shape, h_shape, shape: Shape = "same") -> tuple[tuple[int, int], ...]:
    """(before, after) padding per axis of A for imfilter with a kernel of size ``h_shape``.

    The shorter size vector is extended with ones. ``'same'``: ``anchor - 1`` before and
    ``size(h) - anchor`` after, ``anchor = floor((size(h) + 1) / 2)``; ``'full'``:
    ``size(h) - 1`` on both sides. The valid correlation of the padded array with h is then
    the result (``size(A)`` for ``'same'``, ``size(A) + size(h) - 1`` for ``'full'``).

    Examples
    --------
    >>> pad_width((5, 5), (3, 4))
    ((1, 1), (1, 2))
    >>> pad_width((5, 5), (3, 4), 'full')
    ((2, 2), (3, 3))
    >>> pad_width((5, 5), (3, 3, 2))
    ((1, 1), (1, 1), (0, 1))
    """
    nd = max(len(a_shape), len(h_shape))
    out = []
    for k in _dims(h_shape, nd):
        if shape == "full":
            out.append((max(k - 1, 0), max(k - 1, 0)))
        else:
            anchor = (k + 1) // 2
            out.append((max(anchor - 1, 0), max(k - anchor, 0)))
    return tuple(out)


def source_indices(n: int, before: int, after: int, boundary: Boundary = 0) -> np.ndarray:
    """Which index of an axis of length ``n`` each of its ``before + n + after`` padded indices
    reads, under imfilter's boundary option; ``-1`` means the constant (numeric boundary).

    - numeric X: ``-1`` outside ``[0, n)``;
    - ``'replicate'``: the nearest edge sample (``clip``);
    - ``'circular'``: periodic with period n (``mod n``);
    - ``'symmetric'``: mirrored with the edge sample repeated, periodic with period ``2n``
      (so pads wider than the array keep mirroring, as MATLAB's padarray does).

    Examples
    --------
    >>> source_indices(3, 4, 4, 'symmetric').tolist()
    [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]
    >>> source_indices(3, 2, 2, 'circular').tolist()
    [1, 2, 0, 1, 2, 0, 1]
    >>> source_indices(3, 2, 2, 'replicate').tolist()
    [0, 0, 0, 1, 2, 2, 2]
    >>> source_indices(3, 2, 2, 0).tolist()
    [-1, -1, 0, 1, 2, -1, -1]
    """
    if n <= 0:
        raise ValueError(f"an axis of length {n} has nothing to pad from")
    j = np.arange(-before, n + after, dtype=np.int64)
    if not isinstance(boundary, str):
        return np.where((j >= 0) & (j < n), j, -1)
    if boundary == "replicate":
        return np.clip(j, 0, n - 1)
    if boundary == "circular":
        return np.mod(j, n)
    if boundary == "symmetric":
        m = np.mod(j, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m)
    raise ValueError(f"unknown boundary {boundary!r}; must be one of {_BOUNDARY_NAMES} or a number")


def padding_plan(a_shape, h_shape, shape: Shape = "same", boundary: Boundary = 0) -> list:
    """:func:`source_indices` for every axis of A (sizes extended with ones to the larger
    number of dimensions): ``plan[k][p]`` is the index of A along axis k that padded index p
    reads, or -1 for the constant. A box ``[p0, p1)`` per axis of the padded array is
    ``A[np.ix_(*(plan[k][p0:p1] ...))]`` with the constant where any index is -1; output box
    ``[o0, o1)`` needs the padded box ``[o0, o1 + size(h, k) - 1)``. The arrays are shared
    by every call with the same sizes and rule, so read-only (the list is the caller's)."""
    nd = max(len(a_shape), len(h_shape))
    # every numeric boundary has the same plan (-1 outside A): one cache entry for them all
    rule = boundary if isinstance(boundary, str) else 0
    return list(_padding_plan(_dims(a_shape, nd), _dims(h_shape, nd), shape, rule))


@functools.lru_cache(maxsize=256)
def _padding_plan(a_dims, h_dims, shape, rule) -> tuple[np.ndarray, ...]:
    """:func:`padding_plan` of sizes already extended to one length, kept per call signature
    (a filter called again on images of the same size reads the same plan); the arrays are
    read-only, as every caller shares them."""
    widths = pad_width(a_dims, h_dims, shape)
    plan = tuple(source_indices(n, b, a, rule) for n, (b, a) in zip(a_dims, widths, strict=True))
    for ix in plan:
        ix.flags.writeable = False
    return plan


def padded(A, h_shape, boundary: Boundary = 0, shape: Shape = "same") -> np.ndarray:
    """A padded for imfilter with a kernel of size ``h_shape``, in A's class.

    A numeric ``boundary`` is converted to A's class first (:func:`boundary_value`); a complex
    one makes a complex array.

    Examples
    --------
    >>> padded(np.array([[1, 2, 3]], np.uint8), (1, 3), 3.5).tolist()
    [[4, 1, 2, 3, 4]]
    >>> padded(np.array([[1.0, 2.0, 3.0]]), (1, 4), 'symmetric').tolist()
    [[1.0, 1.0, 2.0, 3.0, 3.0, 2.0]]
    """
    A = np.asarray(A)
    nd = max(A.ndim, len(h_shape))
    A = A.reshape(_dims(A.shape, nd))
    widths = pad_width(A.shape, h_shape, shape)
    if not isinstance(boundary, str):
        value = boundary_value(boundary, A.dtype)
        dtype = np.result_type(A.dtype, value) if np.iscomplexobj(value) else A.dtype
        out = np.full([n + b + a for n, (b, a) in zip(A.shape, widths)], value, dtype)
        out[tuple(slice(b, b + n) for n, (b, _) in zip(A.shape, widths))] = A
        return out
    # A copied once into the middle, then each axis's borders filled from the middle of that
    # axis (full extent along the others, so the corners come right once every axis is done).
    out = np.empty([n + b + a for n, (b, a) in zip(A.shape, widths)], A.dtype)
    out[tuple(slice(b, b + n) for n, (b, _) in zip(A.shape, widths))] = A
    for k, (n, (b, a)) in enumerate(zip(A.shape, widths)):
        if not (b or a):
            continue
        idx = source_indices(n, b, a, boundary) + b  # positions in out along axis k
        for part in (np.arange(0, b), np.arange(b + n, b + n + a)):
            if part.size:
                dst = [slice(None)] * out.ndim
                dst[k] = slice(int(part[0]), int(part[-1]) + 1)
                out[tuple(dst)] = np.take(out, idx[part], axis=k)
    return out


# ---------------------------------------------------------------------------------------------
# The arithmetic: a valid correlation with MATLAB's nonzero-tap rule


def _valid_window(p_shape, w_shape):
    return [k - 1 for k in w_shape], [n - k + 1 for n, k in zip(p_shape, w_shape)]


def _tap_loop(P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The defining sum over the nonzero taps, tap after tap (used only when both the array
    and the kernel hold NaN/Inf, where no faster split keeps the IEEE terms)."""
    _, lengths = _valid_window(P.shape, w.shape)
    out = np.zeros(lengths)
    with np.errstate(invalid="ignore", over="ignore"):
        for j in zip(*np.nonzero(w)):
            src = tuple(slice(k - 1 - i, k - 1 - i + n) for i, k, n in zip(j, w.shape, lengths))
            out += w[j] * P[src]
    return out


def _scatter_nonfinite(out, P, bad, w, before) -> None:
    """Add the terms of P's NaN/Inf values over the nonzero taps of w (finite) to ``out``
    (P padded implicitly by ``before`` zeros per axis)."""
    q = np.argwhere(bad)
    vals = P[bad]
    taps = np.argwhere(w != 0)
    tap_vals = w[w != 0]
    if taps.size == 0 or q.size == 0:
        return
    shift = np.asarray(w.shape) - 1 - np.asarray(before)
    lengths = np.asarray(out.shape)
    step = max(1, _SCATTER_CHUNK // len(taps))
    flat = out.reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        for s in range(0, len(q), step):
            o = q[s : s + step, None, :] + taps[None, :, :] - shift
            ok = np.all((o >= 0) & (o < lengths), axis=2)
            terms = (vals[s : s + step, None] * tap_vals[None, :])[ok]
            lin = np.ravel_multi_index(tuple(o[ok].T), out.shape)
            np.add.at(flat, lin, terms)


def _one_pass_cheaper(taps) -> bool:
    """Whether a rank-one kernel with these taps per axis costs less as one direct pass than as
    1-D passes (3x3 and smaller): where the caller may choose (``separable`` None), one pass."""
    return math.prod(taps) <= sum(taps) + 4


def _rank_one(w: np.ndarray):
    """[(axis, 1-D taps), ...] whose product is w (within SEPARABLE_RESIDUAL eps of its largest
    tap, zero exactly where w is), or None. The lines through the largest tap, the later ones
    divided by it (read-only: a kernel's answer is kept, see :func:`_rank_one_of`)."""
    axes = [d for d in range(w.ndim) if w.shape[d] > 1]
    if len(axes) < 2:
        return None
    factors = _per_kernel(_rank_one_of, _rank_one_cached, w)
    return None if factors is None else list(factors)


# Kernels of at most this many taps keep what is computed from them alone (_rank_one's answer,
# nonsep2's taps: a filter applied again skips the work); the key is the kernel's bytes.
_KERNEL_CACHED_TAPS = 4096


def _per_kernel(plain, cached, w: np.ndarray):
    """``plain(w)``, through ``cached(shape, class, bytes)`` (an lru_cache of plain) for kernels
    of at most _KERNEL_CACHED_TAPS taps."""
    if w.size > _KERNEL_CACHED_TAPS:
        return plain(w)
    return cached(w.shape, w.dtype.str, w.tobytes())


@functools.lru_cache(maxsize=64)
def _rank_one_cached(shape, dtype: str, data: bytes):
    return _rank_one_of(np.frombuffer(data, np.dtype(dtype)).reshape(shape))


def _rank_one_of(w: np.ndarray):
    """:func:`_rank_one`'s test itself, its factors read-only."""
    axes = [d for d in range(w.ndim) if w.shape[d] > 1]
    if not np.all(np.isfinite(w)):
        return None
    p = np.unravel_index(int(np.argmax(np.abs(w))), w.shape)
    pivot = float(w[p])
    if pivot == 0.0:
        return None
    factors = []
    rec = np.ones([1] * w.ndim)
    for n, d in enumerate(axes):
        line: list[Any] = list(p)
        line[d] = slice(None)
        f = np.array(w[tuple(line)], dtype=np.float64)
        if n:
            f = f / pivot
        f.flags.writeable = False
        factors.append((d, f))
        shape = [1] * w.ndim
        shape[d] = f.size
        rec = rec * f.reshape(shape)
    if not np.array_equal(rec != 0, w != 0):
        return None
    if np.max(np.abs(rec - w)) > SEPARABLE_RESIDUAL * EPS * abs(pivot):
        return None
    return factors


def _filter_real(
    P: np.ndarray,
    w: np.ndarray,
    method: str,
    separable: bool | None,
    zeros: Sequence[tuple[int, int]] | None = None,
) -> np.ndarray:
    """Valid convolution of the real double arrays P and w over w's nonzero taps.

    ``zeros``: P is padded with that many zeros (before, after) per axis, implicitly: the
    kernels compute the same window of the full convolution of the unpadded P (the padding's
    terms are exact zeros either way), with no padded copy."""
    zeros = zeros or [(0, 0)] * P.ndim
    lengths = [n + b + a - k + 1 for n, (b, a), k in zip(P.shape, zeros, w.shape)]
    starts = [k - 1 - b for k, (b, _) in zip(w.shape, zeros)]
    # A sum is finite only if every term is (NaN/Inf propagate): one pass, no mask to allocate
    # in the usual case; an overflowing sum only sends it to the exact check.
    with np.errstate(over="ignore", invalid="ignore"):
        has_bad = not np.isfinite(P.sum())
    bad = None
    if has_bad:
        bad = ~np.isfinite(P)
        has_bad = bool(bad.any())
    if has_bad and not np.all(np.isfinite(w)):
        if any(b or a for b, a in zeros):
            P = np.pad(P, zeros)
        return _tap_loop(P, w)
    Pf = np.where(bad, 0.0, P) if has_bad and bad is not None else P
    factors = None
    if separable is not False:
        factors = _rank_one(w)
        if (
            factors is not None
            and separable is None
            and _one_pass_cheaper([f.size for _, f in factors])
        ):
            factors = None
    if factors is not None:
        out = Pf
        for d, f in sorted(factors, key=lambda t: -t[0]):
            shape = [1] * w.ndim
            shape[d] = f.size
            s = [0] * w.ndim
            s[d] = starts[d]
            n = list(out.shape)
            n[d] = lengths[d]
            out = kernels.convolve(out, f.reshape(shape), s, n, np.dtype(np.float64), method)
    else:
        out = kernels.convolve(Pf, w, starts, lengths, np.dtype(np.float64), method)
    out = np.asarray(out, dtype=np.float64).reshape(lengths)
    if has_bad:
        if not out.flags.writeable or not out.flags.c_contiguous:
            out = np.ascontiguousarray(out).copy()
        _scatter_nonfinite(out, P, bad, w, [b for b, _ in zeros])
    return out


def _picks_direct(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> bool:
    """:func:`choice.picks_direct`, kept per pair of shapes (a function of the shapes and of the
    installation's C loop only)."""
    return _picks_direct_cached(a_shape, b_shape, loops.c_loop_available())


@functools.lru_cache(maxsize=256)
def _picks_direct_cached(a_shape, b_shape, _c_loop: bool) -> bool:
    return choice.picks_direct(a_shape, b_shape)


# The image classes the fused separable loop (loops.C_SEP2) reads and writes, as its kind codes.
_SEP2_KINDS = {
    np.dtype(t): k
    for k, t in enumerate(
        (np.float64, np.float32, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, bool)
    )
}
# Multiply-adds of the fused loop below which it runs in the calling thread only.
_SEP2_THREADED_WORK = 1 << 21
# Output rows per share of the fused loop at least (each share recomputes the row pass of the
# q0 - 1 padded rows it shares with the one before).
_SEP2_SHARE_ROWS = 64
# Blocks of rows per thread: a thread delayed by the machine leaves about one to wait for.
_SEP2_SHARES_PER_THREAD = 4
# Output rows per share at least, in rows each share recomputes before its first output (the
# separable loop's q0 - 1 row passes): that recomputation at most a sixteenth of a share's row
# passes (31 taps at 1024²: 23% more row-pass work in the four blocks per thread above).
_SEP2_SHARE_OVERLAPS = 16
# False: the separable path always as the two passes of _filter_real (tests compare the two).
FUSED_SEPARABLE = True


def _in_row_shares(loop, rows: int, work: int, overlap: int = 0) -> bool:
    """A fused loop's ``loop(r0, r1)`` over output rows 0..rows: in the calling thread below
    _SEP2_THREADED_WORK multiply-adds, else in blocks of adjacent rows (at least
    _SEP2_SHARE_ROWS and _SEP2_SHARE_OVERLAPS times ``overlap``, the rows a block recomputes
    before its first output; _SEP2_SHARES_PER_THREAD per thread where they are longer) the
    kernels' threads take from both ends (pool.from_both_ends). Whether any block found NaN or
    Inf in the image (its answer)."""
    if work < _SEP2_THREADED_WORK:
        return bool(loop(0, rows))
    flags: list[bool] = []

    def run(block) -> None:
        flags.append(loop(*block))

    per = max(
        _SEP2_SHARE_ROWS,
        _SEP2_SHARE_OVERLAPS * overlap,
        -(-rows // (_SEP2_SHARES_PER_THREAD * pool.THREADS)),
    )
    pool.from_both_ends(run, [(r, min(r + per, rows)) for r in range(0, rows, per)])
    return any(flags)


def _fused_kind(A: np.ndarray, h: np.ndarray, method: str) -> int | None:
    """The fused loops' kind code of A's class, or None where neither loop applies: another
    class or method, a real 2-D image (or a 3-D one with a 2-D kernel) and a double kernel only,
    nothing to filter."""
    kind = _SEP2_KINDS.get(A.dtype)
    if (
        kind is None
        or method not in ("auto", "direct")
        or A.ndim not in (2, 3)
        or h.ndim != A.ndim
        or h.shape[2:] not in ((), (1,))
        or h.dtype != np.float64
        or A.size == 0
    ):
        return None
    return kind


def _fused_fill(boundary: Boundary, dtype: np.dtype) -> float | None:
    """The value the fused loops pad with (0 under a named boundary, which they read by index),
    or None where it is not a finite real number (the usual path then pads)."""
    if isinstance(boundary, str):
        return 0.0
    value = _fill(boundary, dtype)
    if np.iscomplexobj(value) or not np.isfinite(value):
        return None
    return float(value)


def _fused_separable(
    A: np.ndarray,
    h: np.ndarray,
    boundary: Boundary,
    shape: Shape,
    conv: bool,
    method: str,
    separable: bool | None,
    implicit_zeros: bool,
) -> np.ndarray | None:
    """imfilter's separable path for a real 2-D image (or a 3-D one, plane by plane, with a 2-D
    kernel), in A's class: the bits of padding A,
    :func:`_filter_real`'s two direct passes (rows, then columns) and :func:`_cast_owned`, in
    one compiled loop that reads the padding by index and keeps the intermediate rows in
    cache. None where that path would not be those two direct passes (a kernel that is not
    separable or too small, a method other than direct, a non-finite fill or image, under
    implicit zeros an image or row pass with fewer elements than the pass's taps, which the
    direct loop would take as the taps; no C loop): the caller computes the usual way.

    ``implicit_zeros``: the caller would filter A with implicit zero padding (imfilter's zero
    boundary), which chooses the passes' method by A's size rather than the padded size."""
    sep2 = loops.C_SEP2
    kind = _fused_kind(A, h, method)
    if sep2 is None or not FUSED_SEPARABLE or kind is None or separable is False:
        return None
    # planes: the passes of a 3-D image are those of each plane (the kernel's third axis has
    # one tap), but auto chooses their method by the 3-D sizes
    if separable is None and _one_pass_cheaper(h.shape[:2]):
        return None  # _filter_real's one direct pass (the rank test is not needed to know it)
    planes = A.shape[2] if A.ndim == 3 else 1
    w = h if conv else h[::-1, ::-1, ...]
    factors = _rank_one(w)
    if factors is None:
        return None
    (_, f0), (_, f1) = sorted(factors, key=lambda t: t[0])  # along axis 0, along axis 1
    q0, q1 = f0.size, f1.size
    if separable is None and _one_pass_cheaper((q0, q1)):
        return None  # _filter_real's one direct pass
    fill = _fused_fill(boundary, A.dtype)
    if fill is None:
        return None
    widths = pad_width(A.shape[:2], h.shape[:2], shape)
    padded_shape = [n + b + a for n, (b, a) in zip(A.shape, widths)]
    L0, L1 = padded_shape[0] - q0 + 1, padded_shape[1] - q1 + 1
    if implicit_zeros and (A.size < q1 or A.shape[0] * L1 * planes < q0):
        return None  # a pass's operand smaller than its taps: the direct loop swaps the two
    if method == "auto":
        p0 = A.shape[0] if implicit_zeros else padded_shape[0]
        p1 = A.shape[1] if implicit_zeros else padded_shape[1]
        third = (planes,) if A.ndim == 3 else ()
        one = (1,) if A.ndim == 3 else ()
        if not (
            _picks_direct((p0, p1, *third), (1, q1, *one))
            and _picks_direct((p0, L1, *third), (q0, 1, *one))
        ):
            return None
    rows, cols = padding_plan(A.shape[:2], h.shape[:2], shape, boundary)
    # a 3-D image's planes stay interleaved: the loop filters each on its own
    image = np.ascontiguousarray(A.reshape(*A.shape[:2], planes))
    out = np.empty((L0, L1, planes), A.dtype)
    f0 = np.ascontiguousarray(f0, np.float64)
    f1 = np.ascontiguousarray(f1, np.float64)
    mid = widths[1][0]
    if _in_row_shares(
        lambda r0, r1: sep2(out, image, kind, rows, cols, mid, f1, f0, fill, r0, r1),
        L0,
        planes * L0 * L1 * (q0 + q1),
        q0 - 1,
    ):
        return None  # NaN or Inf in the image: its values are scattered separately
    return out if A.ndim == 3 else out.reshape(L0, L1)


# False: a volume's three 1-D passes always as _filter_real's passes over a padded double copy
# (tests and benchmarks compare the two).
FUSED_VOLUME = True


def _fused_volume(
    A: np.ndarray,
    h: np.ndarray,
    boundary: Boundary,
    shape: Shape,
    conv: bool,
    method: str,
    separable: bool | None,
    implicit_zeros: bool,
) -> np.ndarray | None:
    """imfilter's (and imgaussfilt3's) separable path for a real 3-D image and a rank-one
    kernel with three non-singleton axes, in A's class: the bits of :func:`_filter_real`'s
    three direct passes (pages, then rows, then columns) over the padded double copy and
    :func:`_cast_owned`, in two runs of sep2 that read the padding by index: the first two
    passes on each slab ``A[i]`` (its rows are A's pages), then the last one on the result
    seen as a 2-D image (a slab a row, behind a one-tap row pass of 1.0, which gives each
    value back: ``0 + x * 1.0`` is x, but for -0, which adds to a sum from +0 as +0 does). None
    where the old path would not be those three direct passes over finite data (see
    :func:`_fused_separable`): the caller computes the usual way.

    Under a numeric boundary c, a padded slab of the old path is c everywhere, so its first two
    passes are one number, ``v2``: the pages' pass of a line of c (``0 + c*f2[0] + c*f2[1] +
    ...``), then the rows' pass of a line of that; the last run reads it as its fill."""
    sep2 = loops.C_SEP2
    if (
        sep2 is None
        or not FUSED_VOLUME
        or A.dtype not in _SEP2_KINDS
        or separable is False
        or method not in ("auto", "direct")
        or A.ndim != 3
        or h.ndim != 3
        or h.dtype != np.float64
        or min(h.shape) < 2
        or any(n < q for n, q in zip(A.shape, h.shape))
    ):
        return None
    w = h if conv else h[::-1, ::-1, ::-1]
    factors = _rank_one(w)
    if factors is None:
        return None
    (_, f0), (_, f1), (_, f2) = sorted(factors, key=lambda t: t[0])
    q0, q1, q2 = f0.size, f1.size, f2.size
    if separable is None and _one_pass_cheaper((q0, q1, q2)):
        return None  # _filter_real's one direct pass
    fill = _fused_fill(boundary, A.dtype)
    if fill is None:
        return None
    widths = pad_width(A.shape, h.shape, shape)
    padded_shape = tuple(n + b + a for n, (b, a) in zip(A.shape, widths))
    L0, L1, L2 = (p - q + 1 for p, q in zip(padded_shape, (q0, q1, q2)))
    if method == "auto":
        # the old passes' operands: the padded array (A itself under implicit zeros), then each
        # pass's result
        p0, p1, p2 = A.shape if implicit_zeros else padded_shape
        if not (
            _picks_direct((p0, p1, p2), (1, 1, q2))
            and _picks_direct((p0, p1, L2), (1, q1, 1))
            and _picks_direct((p0, L1, L2), (q0, 1, 1))
        ):
            return None
    slabs, rows, cols = padding_plan(A.shape, h.shape, shape, boundary)
    n0 = A.shape[0]
    f0 = np.ascontiguousarray(f0, np.float64)
    f1 = np.ascontiguousarray(f1, np.float64)
    f2 = np.ascontiguousarray(f2, np.float64)
    # the first two passes of each slab: along the pages (sep2's rows), then the rows
    U = np.empty((n0, L1, L2))
    mid = widths[2][0]
    flags: list[bool] = []

    def run(share) -> None:
        for i in share:
            slab = np.ascontiguousarray(A[i], dtype=np.float64)  # in cache, on this thread
            flags.append(sep2(U[i], slab, 0, rows, cols, mid, f2, f1, fill, 0, L1))

    if n0 * L1 * L2 * (q1 + q2) < _SEP2_THREADED_WORK:
        run(range(n0))
    else:
        pool.in_threads(run, list(range(n0)))
    if any(flags):
        return None  # NaN or Inf in the image: its values are scattered separately
    v = 0.0
    for t in f2.tolist():
        v = v + fill * t
    v2 = 0.0
    for t in f1.tolist():
        v2 = v2 + v * t
    # the last pass, along the slabs
    out = np.empty((L0, L1 * L2))
    flat = U.reshape(n0, L1 * L2)
    every = _every_column(L1 * L2)
    if _in_row_shares(
        lambda r0, r1: sep2(out, flat, 0, slabs, every, 0, _ONE_TAP, f0, v2, r0, r1),
        L0,
        L0 * L1 * L2 * (q0 + 1),
    ):
        return None  # an overflow to Inf on the way: the usual path, which keeps it
    return _cast_owned(out, A.dtype).reshape(L0, L1, L2)  # as sep2 stores its sums


def _volume_in_class(
    A: np.ndarray,
    h: np.ndarray,
    boundary: Boundary,
    shape: Shape,
    conv: bool,
    method: str,
    separable: bool | None,
    implicit_zeros: bool,
) -> np.ndarray | None:
    """imfilter's usual path for a real 3-D image of a class other than double, with fewer
    copies: the padded array built in double at once (the usual path pads in A's class, then
    converts the copy), the same sums (:func:`_correlate` of the same double array, so the
    same bits), and the conversion to A's class by the fused loops' store (what
    :func:`cast_to_class` gives for every double, in one vectorized pass). None where that does
    not apply (double or complex data, a non-finite or complex fill, no C store)."""
    if (
        loops.C_STORE is None
        or not FUSED_VOLUME
        or A.dtype not in _SEP2_KINDS
        or A.dtype == np.float64
        or A.ndim != 3
        or h.ndim != 3
        or h.dtype != np.float64
    ):
        return None
    if implicit_zeros:
        out = _correlate(A, h, conv, method, separable, pad_width(A.shape, h.shape, shape))
    else:
        fill = _fused_fill(boundary, A.dtype)
        if fill is None:
            return None
        P = _padded_double(A, h.shape, boundary, shape, fill)
        out = _correlate(P, h, conv, method, separable)
    return _cast_owned(np.ascontiguousarray(out, dtype=np.float64), A.dtype)


def _padded_double(A: np.ndarray, h_shape, boundary: Boundary, shape: Shape, fill: float):
    """:func:`padded` of a real 3-D A converted to double, in one copy of A: the middle
    converted as it is copied, the borders copied from it (by :func:`source_indices`, as padded
    does) or set to ``fill`` (the numeric boundary in A's class, as a double)."""
    widths = pad_width(A.shape, h_shape, shape)
    out = np.empty([n + b + a for n, (b, a) in zip(A.shape, widths)])
    out[tuple(slice(b, b + n) for n, (b, _) in zip(A.shape, widths))] = A
    for k, (n, (b, a)) in enumerate(zip(A.shape, widths)):
        idx = source_indices(n, b, a, boundary) + b  # positions in out along axis k
        for lo, hi in ((0, b), (b + n, b + n + a)):
            if lo == hi:
                continue
            dst: list[Any] = [slice(None)] * 3
            dst[k] = slice(lo, hi)
            if isinstance(boundary, str):
                out[tuple(dst)] = np.take(out, idx[lo:hi], axis=k)
            else:
                out[tuple(dst)] = fill
    return out


# sep2's row pass that gives each value back (see _fused_volume).
_ONE_TAP = np.ones(1)
_ONE_TAP.flags.writeable = False


@functools.lru_cache(maxsize=16)
def _every_column(n: int) -> np.ndarray:
    """sep2's column plan of an image of n columns read without padding (read-only)."""
    ix = np.arange(n, dtype=np.int64)
    ix.flags.writeable = False
    return ix


# False: kernels not applied in 1-D passes always through _filter_real's direct sum over a
# padded double copy (tests compare the two).
FUSED_NONSEPARABLE = True


def _fused_direct(
    A: np.ndarray,
    h: np.ndarray,
    boundary: Boundary,
    shape: Shape,
    conv: bool,
    method: str,
    separable: bool | None,
    implicit_zeros: bool,
) -> np.ndarray | None:
    """imfilter's (and imgaussfilt's) one direct sum (a kernel that :func:`_filter_real` does
    not split into 1-D passes) for a real 2-D image (or a 3-D one, plane by plane, with a 2-D
    kernel), in A's class: the bits of padding A, :func:`_filter_real`'s direct sum and
    :func:`_cast_owned`, in one compiled loop (``nonsep2``) that reads the padding by index and
    sums each output's nonzero taps in the direct loop's order (the kernel's index order, from
    +0; images of the small integer and logical classes summed in float32 where an a-priori
    bound decides each output's integer, the rest recomputed in that order: the same bits). None
    where the old path would not be that sum over finite data (1-D passes, a method
    other than direct, a NaN/Inf tap, fill or image, an image with fewer elements than the
    kernel under implicit zeros, where the direct loop would take the image's elements as the
    taps; no C loop): the caller computes the usual way.

    ``implicit_zeros``: as for :func:`_fused_separable`. A 2-D image in column-major order is
    read in place as its transpose (the taps in the same order), and the result is
    column-major."""
    nonsep2 = loops.C_NONSEP2
    kind = _fused_kind(A, h, method)
    if (
        nonsep2 is None
        or not FUSED_NONSEPARABLE
        or kind is None
        or (implicit_zeros and A.size < h.size)
        or not np.all(np.isfinite(h))
    ):
        return None
    planes = A.shape[2] if A.ndim == 3 else 1
    q0, q1 = h.shape[:2]
    w = h if conv else h[::-1, ::-1, ...]
    if _in_passes(w, separable):
        return None
    fill = _fused_fill(boundary, A.dtype)
    if fill is None:
        return None
    widths = pad_width(A.shape[:2], h.shape[:2], shape)
    padded_shape = [n + b + a for n, (b, a) in zip(A.shape, widths)] + list(A.shape[2:])
    L0, L1 = padded_shape[0] - q0 + 1, padded_shape[1] - q1 + 1
    # where 'auto' would take an FFT: the guarded FFT for the integer classes, else the usual way
    guarded = method == "auto" and not _picks_direct(
        A.shape if implicit_zeros else tuple(padded_shape), w.shape
    )
    if guarded and not _guard_applies(A, h, kind, fill):
        return None
    rows, cols = padding_plan(A.shape[:2], h.shape[:2], shape, boundary)
    w2 = w.reshape(q0, q1)
    ta, tb, tw = _per_kernel(_direct_taps, _direct_taps_cached, w2)
    mid = widths[1][0]
    if A.ndim == 2 and A.flags.f_contiguous and not A.flags.c_contiguous:
        # the transpose, read in place: output (c, r) of it is output (r, c) of A
        image = A.T
        rows, cols, ta, tb, q0, q1, L0, L1 = cols, rows, tb, ta, q1, q0, L1, L0
        mid = widths[0][0]
        out = np.empty((L0, L1, 1), A.dtype)
        transposed = True
    else:
        # a 3-D image's planes stay interleaved: the loop filters each on its own
        image = np.ascontiguousarray(A.reshape(*A.shape[:2], planes))
        out = np.empty((L0, L1, planes), A.dtype)
        transposed = False
    image = image.reshape(*image.shape[:2], planes)
    if guarded:
        kernel = w2.T if transposed else w2
        top = widths[1][0] if transposed else widths[0][0]
        _guarded_planes(out, image, kind, (rows, cols, top, mid), (ta, tb, tw), kernel, fill)
        if transposed:
            return out.reshape(L0, L1).T
        return out if A.ndim == 3 else out.reshape(L0, L1)
    if _in_row_shares(
        lambda r0, r1: nonsep2(out, image, kind, rows, cols, mid, ta, tb, tw, q0, q1, fill, r0, r1),
        L0,
        planes * L0 * L1 * len(tw),
    ):
        return None  # NaN or Inf in the image: its values are scattered separately
    if transposed:
        return out.reshape(L0, L1).T
    return out if A.ndim == 3 else out.reshape(L0, L1)


# The guarded FFT (issue 18): integer and logical images (the classes nonsep2 sums in float32)
# under a kernel that 'auto' would sum by an FFT. False: never (tests compare the two).
GUARDED_FFT = True
_GUARD_KINDS = tuple(
    _SEP2_KINDS[np.dtype(t)] for t in (np.uint8, np.int8, np.uint16, np.int16, bool)
)
# Outputs per axis of each FFT of the guarded path: its bound grows with the part of the image
# each reads (BENCHMARKS.md, "Issue 18").
GUARD_CHUNK = 1024
# Recomputed products the guarded path allows per output of a band of chunks (plus a start),
# past which the band and the rest go by nonsep2: a recomputed product costs about a hundred
# times one of nonsep2's vector loop.
GUARD_BUDGET = 4
GUARD_START = 1 << 14
# Recomputed products per output expected at most for the guarded path to be taken: 2 B nt, the
# share of outputs within B of a half-integer (fractions spread evenly) times the taps each
# recomputes; above, the usual path (a fall back to nonsep2 would cost more than the FFT).
GUARD_EXPECTED = 1.0


def _guard_bound(chunk_shape, kernel: np.ndarray, nt: int, M: float) -> float:
    """A bound of |y_fft - y_dir| for an FFT (fft-float) of a part of the padded image of shape
    ``chunk_shape`` whose values are at most M in magnitude: the FFT's contract
    (:func:`bridge._kernels.fft_error_bound_of_norms`, with ``||P||_1 <= n M`` and ``||P||_2 <=
    sqrt(n) M`` for its n values) plus the direct loop's: a sum of nt products from +0 differs
    from the exact sum by at most ``gamma_nt * sum|w||P| <= gamma_nt * M * ||w||_1`` (Higham,
    Accuracy and Stability, 3.1; gamma_n = n u / (1 - n u), u = 2^-53), and by 2^-1074 a product
    more where products fall below double's normal range. The factor 1 + 2^-20 covers the
    rounding of this computation."""
    n = float(math.prod(chunk_shape))
    w1 = float(np.sum(np.abs(kernel)))
    w2 = float(np.sqrt(np.sum(kernel * kernel)))
    b_fft = kernels.fft_error_bound_of_norms(chunk_shape, kernel.shape, n * M, math.sqrt(n) * M,
                                             w1, w2)  # fmt: skip
    u = 2.0**-53
    b_dir = nt * u / (1 - nt * u) * M * w1 + nt * 2.0**-1074
    return (b_fft + b_dir) * (1 + 2.0**-20)


def _class_extreme(x: np.ndarray, fill: float) -> float:
    """The largest magnitude among x's values (an integer class) and fill."""
    return float(max(abs(int(x.max())), abs(int(x.min())), abs(fill)))


def _guard_applies(A: np.ndarray, h: np.ndarray, kind: int, fill: float) -> bool:
    """Whether the guarded FFT takes a real 2-D image A, or its planes (integer or logical, kind
    its nonsep2 code) under h: on, built, and a bound that leaves few outputs to recompute
    (GUARD_EXPECTED). Decided from A's largest magnitude and the fixed chunk shape, so that
    'same' and 'full' decide alike."""
    if not GUARDED_FFT or loops.C_GUARD2 is None or kind not in _GUARD_KINDS:
        return False
    q0, q1 = h.shape[:2]
    chunk = (GUARD_CHUNK + q0 - 1, GUARD_CHUNK + q1 - 1)
    M = _class_extreme(A, fill)
    nt = int(np.count_nonzero(h))
    return nt > 0 and 2 * _guard_bound(chunk, h.reshape(q0, q1), nt, M) * nt <= GUARD_EXPECTED


def _in_passes(w: np.ndarray, separable: bool | None) -> bool:
    """:func:`_filter_real`'s test for 1-D passes of the (applied) kernel w: rank one, unless
    forced off or too small to gain."""
    q0, q1 = w.shape[:2]
    passes = separable is not False and (separable is not None or not _one_pass_cheaper((q0, q1)))
    return passes and _rank_one(w) is not None


def _guarded_planes(out, image, kind, plan, taps, kernel, fill) -> None:
    """:func:`_guarded_fft` of each plane of ``image`` (n0 x n1 x planes) into ``out`` (L0 x L1
    x planes): each plane on its own (RGB), as nonsep2 filters them."""
    L0, L1, planes = out.shape
    rows, cols, top, mid = plan
    if planes == 1:
        _guarded_fft(out.reshape(L0, L1), image.reshape(image.shape[:2]), kind, rows, cols, top,
                     mid, taps, kernel, fill)  # fmt: skip
        return
    plane = np.empty((L0, L1), out.dtype)
    for k in range(planes):
        _guarded_fft(plane, np.ascontiguousarray(image[:, :, k]), kind, rows, cols, top, mid,
                     taps, kernel, fill)  # fmt: skip
        out[:, :, k] = plane


def _guarded_box(
    P: np.ndarray, h: np.ndarray, conv: bool, method: str, separable
) -> np.ndarray | None:
    """:meth:`FilterPlan.box` by the guarded FFT where it applies as in the whole call: a part
    P of the padded array (an integer or logical class; 2-D, or planes under a 2-D kernel), its
    valid correlation with h in P's class, the direct loop's integers, so a streamed job gives
    the in-memory job's answer. None elsewhere (the box computes the usual way)."""
    kind = _fused_kind(P, h, method)
    if method != "auto" or kind is None or loops.C_NONSEP2 is None or not np.all(np.isfinite(h)):
        return None
    w = h if conv else h[::-1, ::-1, ...]
    if (
        _in_passes(w, separable)
        or _picks_direct(P.shape, w.shape)
        or not _guard_applies(P, h, kind, 0.0)
    ):
        return None
    q0, q1 = h.shape[:2]
    L0, L1 = P.shape[0] - q0 + 1, P.shape[1] - q1 + 1
    w2 = w.reshape(q0, q1)
    taps = _per_kernel(_direct_taps, _direct_taps_cached, w2)
    planes = P.shape[2] if P.ndim == 3 else 1
    out = np.empty((L0, L1, planes), P.dtype)
    image = np.ascontiguousarray(P.reshape(*P.shape[:2], planes))
    plan = (np.arange(P.shape[0]), np.arange(P.shape[1]), 0, 0)
    _guarded_planes(out, image, kind, plan, taps, w2, 0.0)
    return out.reshape(L0, L1, *P.shape[2:])


def _guarded_fft(out, image, kind, rows, cols, top, mid, taps, kernel, fill) -> None:
    """out (L0 x L1, an integer or logical class) set to nonsep2's result, the sums by FFTs.

    The outputs go in chunks of GUARD_CHUNK x GUARD_CHUNK: each chunk's valid convolution of its
    part of the padded image P with ``kernel`` (fft-float: within its contract's bound of the
    exact sum S), and ``guard2`` stores each output whose FFT value y has no half-integer within
    B (:func:`_guard_bound`, from the image's largest magnitude) of it: nonsep2's sum y_dir is
    within B of y too (|y - S| and |y_dir - S| are each within their share of B), so it rounds
    and saturates to the same integer. The others are recomputed as nonsep2 sums them. A band of
    chunks that recomputes more than GUARD_BUDGET products an output goes, with the rest, by
    nonsep2 itself. So the result is nonsep2's, bit for bit, whatever the data."""
    L0, L1 = out.shape
    q0, q1 = kernel.shape
    nt = len(taps[2])
    P64 = _padded_by_plan(image, rows, cols, top, mid, fill)
    M = _class_extreme(image, fill)  # the largest magnitude P holds
    guard = loops.C_GUARD2
    assert guard is not None
    for r0 in range(0, L0, GUARD_CHUNK):
        h = min(GUARD_CHUNK, L0 - r0)
        limit = (GUARD_START + GUARD_BUDGET * h * L1) // nt
        for c0 in range(0, L1, GUARD_CHUNK):
            w = min(GUARD_CHUNK, L1 - c0)
            box = (slice(r0, r0 + h + q0 - 1), slice(c0, c0 + w + q1 - 1))
            B = _guard_bound(P64[box].shape, kernel, nt, M)
            done = -1
            if B < 0.25:
                # the kernel first: fft-float's test for integer data stops at its first taps,
                # and never reads the image's (integers whose exact rounding nothing here needs)
                y = kernels.convolve(
                    kernel, P64[box], (q0 - 1, q1 - 1), (h, w), np.dtype(np.float64), "fft-float"
                )
                done = _guard_rows(guard, out, image, kind, (rows, cols), taps, fill,
                                   np.ascontiguousarray(y), B, r0, c0, limit)  # fmt: skip
            if done < 0:
                # too many to recompute: this band and the rest by nonsep2
                _nonsep2_rows(out, image, kind, rows, cols, mid, taps, (q0, q1), fill, r0, L0)
                return
            limit -= done


def _guard_rows(guard, out, image, kind, plan, taps, fill, y, B, r0, c0, limit) -> int:
    """guard2 over the rows of y, in shares on the kernels' threads (each output is stored or
    recomputed on its own: the same bits however shared), each share allowed its part of
    ``limit``; the number recomputed, or -1 where a share went past its part."""
    h = y.shape[0]
    threads = min(pool.THREADS, max(1, h // 64))
    cuts = np.linspace(0, h, threads + 1).astype(int)
    found: list[int] = []

    def run(share) -> None:
        for i0, i1 in share:
            found.append(
                guard(
                    out, image, kind, *plan, *taps, fill, y[i0:i1], B, r0 + i0, c0, limit // threads
                )
            )

    pool.in_threads(run, [(int(a), int(b)) for a, b in itertools.pairwise(cuts)])
    return -1 if min(found) < 0 else sum(found)


def _padded_by_plan(image, rows, cols, top: int, mid: int, fill: float) -> np.ndarray:
    """The padded image in double, as nonsep2 reads it: padded row p, column c is the image's
    ``(rows[p], cols[c])``, the fill where either is -1; the image itself at ``(top, mid)``.
    The image converted in one copy, the borders copied from it."""
    n0, n1 = image.shape
    P = np.empty((len(rows), len(cols)))
    P[top : top + n0, mid : mid + n1] = image
    for p in itertools.chain(range(top), range(top + n0, len(rows))):
        P[p, mid : mid + n1] = image[rows[p]] if rows[p] >= 0 else fill
    edge = np.r_[0:mid, mid + n1 : len(cols)]
    if len(edge):
        src = cols[edge]
        P[:, edge] = np.where(src >= 0, P[:, mid + np.maximum(src, 0)], fill)
    return P


def _nonsep2_rows(out, image, kind, rows, cols, mid, taps, q, fill, r0, r1) -> None:
    """Rows r0..r1 of out by nonsep2 (on the kernels' threads, as _fused_direct runs it)."""
    ta, tb, tw = taps
    nonsep2 = loops.C_NONSEP2
    assert nonsep2 is not None
    image3 = image.reshape(*image.shape, 1)
    out3 = out.reshape(*out.shape, 1)
    _in_row_shares(
        lambda s0, s1: nonsep2(
            out3, image3, kind, rows, cols, mid, ta, tb, tw, q[0], q[1], fill, r0 + s0, r0 + s1
        ),
        r1 - r0,
        (r1 - r0) * out.shape[1] * len(tw),
    )


def _fused(
    A: np.ndarray,
    h: np.ndarray,
    boundary: Boundary,
    shape: Shape,
    conv: bool,
    method: str,
    separable: bool | None,
    implicit_zeros: bool,
) -> np.ndarray | None:
    """The first of the compiled paths that takes this call (:func:`_fused_separable`,
    :func:`_fused_volume`, :func:`_fused_direct`, :func:`_volume_in_class`, in that order),
    in A's class; None where none does: the caller computes the usual way."""
    for path in (_fused_separable, _fused_volume, _fused_direct, _volume_in_class):
        out = path(A, h, boundary, shape, conv, method, separable, implicit_zeros)
        if out is not None:
            return out
    return None


def _direct_taps(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """nonsep2's taps of the 2-D kernel w (as applied, already rotated for a correlation): the
    nonzero taps in the direct loop's order (index order), as offsets from the last row and
    column and values; read-only, contiguous."""
    q0, q1 = w.shape
    j0, j1 = np.nonzero(w)
    ta = np.ascontiguousarray(q0 - 1 - j0.astype(np.int64))
    tb = np.ascontiguousarray(q1 - 1 - j1.astype(np.int64))
    tw = np.ascontiguousarray(w[j0, j1], np.float64)
    for t in (ta, tb, tw):
        t.flags.writeable = False
    return ta, tb, tw


@functools.lru_cache(maxsize=64)
def _direct_taps_cached(shape, dtype: str, data: bytes):
    """:func:`_direct_taps` kept per kernel (its shape, class and bytes)."""
    return _direct_taps(np.frombuffer(data, np.dtype(dtype)).reshape(shape))


def valid_correlation(
    P,
    h,
    *,
    conv: bool = False,
    method: str = "auto",
    separable: bool | None = None,
) -> np.ndarray:
    """The valid correlation (``conv=True``: convolution) of a padded array with h, in double,
    as MATLAB's imfilter computes it after padding: over h's nonzero taps only, a complex P or h
    as separate real filters (``real = re(P)*re(h) - im(P)*im(h)``, ``imag = im(P)*re(h) +
    re(P)*im(h)``).

    Parameters
    ----------
    P : array_like
        The padded array (:func:`padded`), any numeric class (computed in double).
    h : array_like
        The kernel, at most as many dimensions as P and no larger along any axis.
    conv : bool
        Convolution (h rotated 180 degrees on every axis) instead of correlation.
    method : {'auto', 'direct', 'gemm', 'fft', 'fft-float'}
        The kernel method for the sums (:func:`bridge._kernels.convolve`).
    separable : bool or None
        1-D passes for rank-one kernels: None where it saves work, True wherever h allows,
        False never (see the module's tolerance).

    Returns
    -------
    numpy.ndarray
        float64 (complex128 if P or h is complex) of size ``size(P) - size(h) + 1``.
    """
    return _correlate(P, h, conv, method, separable)


def _correlate(P, h, conv: bool, method: str, separable, zeros=None) -> np.ndarray:
    """:func:`valid_correlation`, P padded implicitly by ``zeros`` (before, after) per axis."""
    P = np.asarray(P)
    h = np.asarray(h)
    nd = max(P.ndim, h.ndim)
    P = P.reshape(_dims(P.shape, nd))
    h = h.reshape(_dims(h.shape, nd))
    w = h if conv else h[(slice(None, None, -1),) * nd]
    real = np.float64

    def part(x, imag=False):
        return np.ascontiguousarray((x.imag if imag else x.real).astype(real, copy=False))

    def f(x, k):
        return _filter_real(x, k, method, separable, zeros)

    p_c, w_c = P.dtype.kind == "c", w.dtype.kind == "c"
    if not p_c and not w_c:
        return f(part(P), part(w))
    Pr = part(P)
    wr = part(w)
    if not w_c:
        re, im = f(Pr, wr), f(part(P, True), wr)
    elif not p_c:
        re, im = f(Pr, wr), f(Pr, part(w, True))
    else:
        Pi, wi = part(P, True), part(w, True)
        with np.errstate(invalid="ignore"):
            re = f(Pr, wr) - f(Pi, wi)
            im = f(Pi, wr) + f(Pr, wi)
    out = np.empty(re.shape, np.complex128)
    out.real = re
    out.imag = im
    return out


# ---------------------------------------------------------------------------------------------
# filter2, xcorr2


def filter2(
    h: ArrayLike,
    X: ArrayLike,
    shape: Literal["same", "full", "valid"] = "same",
    *,
    method: Method = "auto",
) -> np.ndarray:
    """2-D correlation, as MATLAB's ``filter2(h, X, shape)``: ``conv2(X, rot90(h, 2), shape)``.

    Parameters
    ----------
    h : array_like
        The 2-D filter (not conjugated when complex).
    X : array_like
        The 2-D data.
    shape : {'same', 'full', 'valid'}, case-insensitive
        Default ``'same'`` (the size of X).
    method : str
        The kernel method, as for :func:`bridge.convolution.conv2`.

    Returns
    -------
    numpy.ndarray
        conv2's size and class for ``conv2(X, rot90(h, 2), shape)``: double, or single if
        either input is single; complex if either is.

    Raises
    ------
    ShapeParameterError
        ``MATLAB:conv2:unknownShapeParameter``: shape is not 'same', 'full' or 'valid'.
    DimensionError, InputTypeError
        N-D or non-numeric inputs, as conv2 refuses them.

    Examples
    --------
    MathWorks' example: a pedestal filtered with the Sobel coefficients is conv2 of the data
    and the coefficients rotated 180 degrees.

    >>> A = np.zeros((10, 10)); A[2:7, 2:7] = 1
    >>> H = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    >>> Y = filter2(H, A, 'full')
    >>> Y.shape, bool((Y == conv2(A, np.rot90(H, 2))).all())
    ((12, 12), True)
    >>> filter2(H, A, 'valid')[:2, :3].tolist()
    [[-1.0, -3.0, -4.0], [-1.0, -3.0, -4.0]]
    """
    hh = rotated(h)
    try:
        return conv2(X, hh, shape=shape, method=method)
    except BridgeError as err:
        # conv2 was called as (X, h): its argument 1 is filter2's 2 and the other way round.
        if err.argument in (1, 2):
            err.argument = 3 - err.argument
        raise


def xcorr2(a: ArrayLike, b: ArrayLike | None = None, *, method: Method = "auto") -> np.ndarray:
    """2-D cross-correlation, as MATLAB's ``xcorr2(a, b)``: ``conv2(a, rot90(conj(b), 2))``.

    ``xcorr2(a)`` is the autocorrelation ``xcorr2(a, a)``. The result is conv2's ``'full'``:
    ``size(a) + size(b) - 1`` (``size(a) + size(b)`` along an empty dimension).

    Raises
    ------
    DimensionError, InputTypeError
        N-D or non-numeric inputs, as conv2 refuses them.

    Examples
    --------
    >>> xcorr2([[1, 2], [3, 4]]).tolist()
    [[4.0, 11.0, 6.0], [14.0, 30.0, 14.0], [6.0, 11.0, 4.0]]
    >>> xcorr2([[1j, 2]], [[1j]]).tolist()
    [[(1+0j), -2j]]
    """
    return conv2(a, conjugate_rotated(a if b is None else b), method=method)


def rotated(h) -> np.ndarray:
    """``rot90(h, 2)`` of a matrix (a scalar or a vector as MATLAB holds it); other arrays are
    returned as they are, for conv2 to refuse."""
    hh = np.asarray(h)
    if hh.ndim < 2:
        hh = hh.reshape(matlab_dims(hh.shape))  # a scalar or a row: rot90 is a reversal
    return hh[::-1, ::-1] if hh.ndim == 2 else hh


def conjugate_rotated(b) -> np.ndarray:
    """``rot90(conj(b), 2)``: xcorr2's second operand as conv2 takes it."""
    bb = rotated(b)
    return np.conj(bb) if bb.dtype.kind == "c" else bb


# filter2 and xcorr2 are conv2 of two of their operands, the second transformed: per operation,
# the positions (0-based) of conv2's A and B among its operands, and B's transform. The
# streaming layer reads A in boxes and transforms B once, as these functions do.
CONV2_FORMS = {
    "filter2": ((1, 0), rotated),
    "xcorr2": ((0, 1), conjugate_rotated),
}


# ---------------------------------------------------------------------------------------------
# imfilter


def _image(A, fn: str) -> np.ndarray:
    arr = _array(A, fn, "A", 1)
    if not isinstance(A, (np.ndarray, np.generic)) and arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)  # Python numbers and lists are MATLAB literals: doubles
    if arr.dtype in (np.int64, np.uint64):
        raise FilterTypeError(
            f"{fn} does not filter int64 or uint64 images (MATLAB refuses them). Got {arr.dtype}; "
            "convert A to double first.",
            identifier=f"bridge:{fn}:int64",
            argument=1,
        )
    return arr.reshape(matlab_dims(arr.shape))


def _parse_imfilter(options) -> tuple[Boundary, str, str]:
    if len(options) > 3:
        raise FilterArgumentError(
            f"imfilter takes at most 3 options (boundary, size, mode). Got {len(options)}.",
            identifier="MATLAB:narginchk:tooManyInputs",
        )
    boundary: Boundary = 0.0
    shape, mode = "same", "corr"
    for pos, opt in enumerate(options, start=3):
        text = _text(opt)
        if text is not None:
            word = _validatestring(text, _IMFILTER_STRINGS, "imfilter", "OPTION", pos)
            if word in _BOUNDARY_NAMES:
                boundary = cast(BoundaryName, word)
            elif word in ("full", "same"):
                shape = word
            else:
                mode = word
            continue
        arr = _array(opt, "imfilter", "OPTION", pos, kinds="iufc")
        if arr.size != 1:
            raise FilterArgumentError(
                f"A numeric boundary option must be a scalar. Got a {_size_text(arr.shape)} array.",
                identifier="bridge:imfilter:boundaryNotScalar",
                argument=pos,
            )
        boundary = arr.reshape(()).item()
    return boundary, shape, mode


@dataclass(frozen=True)
class FilterPlan:
    """An imfilter-type call (imfilter, imgaussfilt, imgaussfilt3) once its arguments are
    checked, known without A's values: pad A (``a_dims``, class ``a_dtype``) with
    ``boundary``, take the valid correlation (``conv``: convolution) with ``h``, convert to A's
    class. The streaming layer fills a box of the padded array from :meth:`plan` and computes it
    with :meth:`box`, as the whole call would."""

    h: np.ndarray  # double, extended to len(a_dims) dimensions
    boundary: Boundary
    shape: Shape
    conv: bool
    a_dims: tuple[int, ...]  # A's size, extended to the larger number of dimensions
    a_dtype: np.dtype

    @property
    def final(self) -> tuple[int, ...]:
        if self.shape == "same":
            return self.a_dims
        return tuple(a + k - 1 for a, k in zip(self.a_dims, self.h.shape, strict=True))

    @property
    def size(self) -> tuple[int, ...]:
        """The result's MATLAB size."""
        return matlab_dims(self.final)

    @property
    def dtype(self) -> np.dtype:
        """The result's class: A's (complex if A or h is)."""
        cplx = self.a_dtype.kind == "c" or self.h.dtype.kind == "c"
        return cast_to_class(np.zeros(1, np.complex128 if cplx else np.float64), self.a_dtype).dtype

    def plan(self) -> list[np.ndarray]:
        """:func:`padding_plan`: per axis, the index of A each padded index reads (-1: the
        constant, :meth:`fill`)."""
        return padding_plan(self.a_dims, self.h.shape, self.shape, self.boundary)

    def fill(self) -> np.generic:
        """The constant of a numeric boundary, in A's class (0 for the named rules)."""
        value = 0 if isinstance(self.boundary, str) else self.boundary
        return boundary_value(value, self.a_dtype)

    def box(self, P, *, method: str = "auto", separable: bool | None = None) -> np.ndarray:
        """The result's part computed from a part ``P`` of the padded array: its valid
        correlation with h, in A's class."""
        guarded = _guarded_box(P, self.h, self.conv, method, separable)
        if guarded is not None:
            return guarded
        out = valid_correlation(P, self.h, conv=self.conv, method=method, separable=separable)
        return cast_to_class(out, self.a_dtype)


def imfilter_plan(A, h, *options, size: Sequence[int] | None = None) -> FilterPlan:
    """``imfilter(A, h, *options)`` checked as the call checks it, without A's values: ``A`` may
    be a stand-in of its class (an empty array) with ``size`` its MATLAB size."""
    return _imfilter_call(A, h, options, size)[0]


def _imfilter_call(A, h, options, size) -> tuple[FilterPlan, np.ndarray]:
    """:func:`imfilter_plan`, and A checked as an array (for the call itself)."""
    boundary, shape, mode = _parse_imfilter(options)
    A = _image(A, "imfilter")
    h = _double(h, "imfilter", "H", 2)
    h = h.reshape(matlab_dims(h.shape))
    a_size = tuple(size) if size is not None else A.shape
    nd = max(len(a_size), h.ndim)
    plan = FilterPlan(
        h.reshape(_dims(h.shape, nd)),
        boundary,
        shape,  # type: ignore[arg-type]
        mode == "conv",
        _dims(a_size, nd),
        A.dtype,
    )
    return plan, A


def imfilter(
    A,
    h,
    *options,
    method: str = "auto",
    separable: bool | None = None,
) -> np.ndarray:
    """N-D filtering, as MATLAB's ``imfilter(A, h, options...)``.

    Parameters
    ----------
    A : array_like
        Numeric (not int64/uint64) or logical, any number of dimensions; may be complex, empty,
        hold NaN/Inf.
    h : array_like
        The filter, any number of dimensions, of class double (a numpy array must be float64 or
        complex128; Python numbers and lists are read as doubles, as MATLAB literals are).
    *options : str or number
        In any order, case-insensitive, unambiguous leading parts accepted: a boundary option,
        a number X (default 0: values outside A are X, converted to A's class) or
        ``'symmetric'``, ``'replicate'``, ``'circular'``; the size, ``'same'`` (default) or
        ``'full'``; the mode, ``'corr'`` (default) or ``'conv'``. The last of each kind wins.
    method : {'auto', 'direct', 'gemm', 'fft', 'fft-float'}
        The kernel method for the sums (keyword only; see :mod:`bridge._kernels`).
    separable : bool or None
        1-D passes for rank-one kernels (keyword only; see the module's tolerance).

    Returns
    -------
    numpy.ndarray
        A's class (complex if A or h is). ``'same'``: ``size(A)``, the anchor
        ``floor((size(h)+1)/2)`` of h over each element; ``'full'``: ``size(A) + size(h) - 1``
        (sizes extended with ones), A padded by ``size(h) - 1`` with the boundary option, so
        ``imfilter(A, h, 'conv', 'full')`` is ``conv2(A, h, 'full')`` for zero padding. Computed
        in double; integer and logical results rounded half away from zero and saturated.
        Empty A: ``'same'`` returns A, ``'full'`` zeros of the formula's size; empty h: zeros.

    Raises
    ------
    FilterTypeError
        ``MATLAB:imfilter:invalidType``: A not numeric or logical, h not double, an option
        neither text nor a number; ``bridge:imfilter:int64`` for int64/uint64 images.
    FilterArgumentError
        ``MATLAB:imfilter:unrecognizedStringChoice`` / ``ambiguousStringChoice``: a bad option;
        ``MATLAB:narginchk:tooManyInputs``: more than three options;
        ``images:imfilter:negativeDimensionBadSizeB``: ``'full'`` of an empty A and an empty h.

    Examples
    --------
    MathWorks' example: correlation is the default, ``'conv'`` convolves.

    >>> A = [[17, 24, 1, 8, 15], [23, 5, 7, 14, 16], [4, 6, 13, 20, 22],
    ...      [10, 12, 19, 21, 3], [11, 18, 25, 2, 9]]          # magic(5), doubles
    >>> imfilter(A, [[-1, 0, 1]])[0].tolist()
    [24.0, -16.0, -16.0, 14.0, -8.0]
    >>> imfilter(A, [[-1, 0, 1]], 'conv')[0].tolist()
    [-24.0, 16.0, 16.0, -14.0, 8.0]

    The class is kept: a uint8 image saturates at 0.

    >>> imfilter(np.array(A, np.uint8), [[-1, 0, 1]])[0].tolist()
    [24, 0, 0, 14, 0]
    """
    call, A = _imfilter_call(A, h, options, None)
    h, boundary, shape, conv = call.h, call.boundary, call.shape, call.conv
    a_dims, final = call.a_dims, call.final
    if A.size == 0 or h.size == 0:
        if shape == "same":
            return A.copy() if A.size == 0 else np.zeros(A.shape, A.dtype)
        if min(final) < 0:
            raise FilterArgumentError(
                f"'full' of a {_size_text(A.shape)} image and a {_size_text(h.shape)} filter "
                "would have a negative size.",
                identifier="images:imfilter:negativeDimensionBadSizeB",
            )
        return np.zeros(matlab_dims(final), A.dtype)
    implicit_zeros = (
        not isinstance(boundary, str)
        and _fill(boundary, A.dtype) == 0
        and bool(np.all(np.isfinite(h)))
    )
    A = A.reshape(a_dims)
    args = (boundary, shape, conv, method, separable, implicit_zeros)
    fused = _fused(A, h, *args)
    if fused is not None:
        return fused.reshape(matlab_dims(final))
    return _cast_owned(_usual(A, h, *args), A.dtype).reshape(matlab_dims(final))


def _usual(A, h, boundary, shape, conv, method, separable, implicit_zeros) -> np.ndarray:
    """imfilter's usual path, in double: pad (or not, :func:`_correlate`'s implicit zeros),
    then the valid correlation."""
    if implicit_zeros:
        # Zero padding: the same sums over A itself, the zeros implicit (no padded copy). Not
        # with a NaN/Inf tap, which meets the padding's zeros as terms (Inf * 0 is NaN).
        zeros = pad_width(A.shape, h.shape, shape)
        return _correlate(A, h, conv, method, separable, zeros)
    P = padded(A, h.shape, boundary, shape)
    return valid_correlation(P, h, conv=conv, method=method, separable=separable)


# ---------------------------------------------------------------------------------------------
# fspecial


def _param(x, fn: str, name: str, pos: int, attrs: Sequence[str]) -> np.ndarray:
    arr = _double(x, fn, name, pos)
    _attributes(arr, fn, name, pos, attrs)
    return arr


def _too_many(kind: str) -> FilterArgumentError:
    return FilterArgumentError(
        f"Too many arguments for fspecial('{kind}').",
        identifier="images:fspecial:tooManyArgsForThisFilter",
    )


def _hsize(x, name: str, pos: int, ident: str) -> tuple[int, int]:
    arr = _param(x, "fspecial", name, pos, ("positive", "finite", "real", "nonempty", "integer"))
    if arr.size > 2:
        raise FilterArgumentError(
            f"{name} must have 1 or 2 elements. Got {arr.size}.",
            identifier=ident,
            argument=pos,
        )
    v = [int(d) for d in arr.ravel()]
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _grid(n: int) -> np.ndarray:
    """MATLAB's ``-(n-1)/2 : (n-1)/2``."""
    return -(n - 1) / 2 + np.arange(n, dtype=np.float64)


def _gaussian(siz: tuple[int, int], sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """fspecial's Gaussian with the cut of taps below eps*max, normalized; and x^2 + y^2."""
    x = _grid(siz[1])[None, :]
    y = _grid(siz[0])[:, None]
    r2 = x * x + y * y
    h = np.exp(-r2 / (2 * sigma * sigma))
    h[h < EPS * h.max()] = 0.0
    total = h.sum()
    if total != 0:
        h = h / total
    return h, r2


def _laplacian(alpha: float) -> np.ndarray:
    alpha = max(0.0, min(alpha, 1.0))
    h1 = alpha / (alpha + 1)
    h2 = (1 - alpha) / (alpha + 1)
    return np.array([[h1, h2, h1], [h2, -4 / (alpha + 1), h2], [h1, h2, h1]])


def _disk(rad: float) -> np.ndarray:
    crad = math.ceil(rad - 0.5)
    x, y = np.meshgrid(np.arange(-crad, crad + 1.0), np.arange(-crad, crad + 1.0))
    mx = np.maximum(np.abs(x), np.abs(y))
    mn = np.minimum(np.abs(x), np.abs(y))
    r2 = rad * rad
    with np.errstate(invalid="ignore"):
        c1 = r2 < (mx + 0.5) ** 2 + (mn - 0.5) ** 2
        m1 = np.where(c1, mn - 0.5, np.sqrt(np.maximum(r2 - (mx + 0.5) ** 2, 0.0)))
        c2 = r2 > (mx - 0.5) ** 2 + (mn + 0.5) ** 2
        m2 = np.where(c2, mn + 0.5, np.sqrt(np.maximum(r2 - (mx - 0.5) ** 2, 0.0)))
        area = (
            r2
            * (
                0.5 * (np.arcsin(m2 / rad) - np.arcsin(m1 / rad))
                + 0.25 * (np.sin(2 * np.arcsin(m2 / rad)) - np.sin(2 * np.arcsin(m1 / rad)))
            )
            - (mx - 0.5) * (m2 - m1)
            + (m1 - mn + 0.5)
        )
    edge = (r2 < (mx + 0.5) ** 2 + (mn + 0.5) ** 2) & (r2 > (mx - 0.5) ** 2 + (mn - 0.5) ** 2)
    edge |= (mn == 0) & (mx - 0.5 < rad) & (mx + 0.5 >= rad)
    sgrid = np.where(edge, area, 0.0)
    sgrid = sgrid + ((mx + 0.5) ** 2 + (mn + 0.5) ** 2 < r2)
    c = crad
    sgrid[c, c] = min(math.pi * r2, math.pi / 2)
    if c > 0 and rad > c - 0.5 and r2 < (c - 0.5) ** 2 + 0.25:
        m1s = math.sqrt(r2 - (c - 0.5) ** 2)
        m1n = m1s / rad
        sg0 = 2 * (
            r2 * (0.5 * math.asin(m1n) + 0.25 * math.sin(2 * math.asin(m1n))) - m1s * (c - 0.5)
        )
        for i, j in ((2 * c, c), (c, 2 * c), (c, 0), (0, c)):
            sgrid[i, j] = sg0
        for i, j in ((2 * c - 1, c), (c, 2 * c - 1), (c, 1), (1, c)):
            sgrid[i, j] -= sg0
    sgrid[c, c] = min(sgrid[c, c], 1.0)
    return sgrid / sgrid.sum()


def _motion(length: float, theta: float) -> np.ndarray:
    length = max(1.0, length)
    half = (length - 1) / 2
    phi = math.fmod(theta, 180.0)
    if phi < 0:
        phi += 180.0  # MATLAB's mod: the sign of the divisor
    phi = phi / 180 * math.pi
    cosphi, sinphi = math.cos(phi), math.sin(phi)
    xsign = float(np.sign(cosphi))
    width = 1.0
    sx = math.trunc(half * cosphi + width * xsign - length * EPS)
    sy = math.trunc(half * sinphi + width - length * EPS)
    xs = np.arange(0, sx + xsign, xsign) if xsign else np.zeros(1)
    xs = xs[xs * xsign <= sx * xsign] if xsign else xs
    x, y = np.meshgrid(xs.astype(np.float64), np.arange(0, sy + 1.0))
    dist = y * cosphi - x * sinphi
    rad = np.sqrt(x * x + y * y)
    last = (rad >= half) & (np.abs(dist) <= width)
    x2last = half - np.abs((x[last] + dist[last] * sinphi) / cosphi)
    dist[last] = np.sqrt(dist[last] ** 2 + x2last**2)
    dist = width + EPS - np.abs(dist)
    dist[dist < 0] = 0.0
    r, c = dist.shape
    h = np.zeros((2 * r - 1, 2 * c - 1))
    h[:r, :c] = dist[::-1, ::-1]
    h[r - 1 :, c - 1 :] = dist
    h = h / (h.sum() + EPS * length * length)
    if cosphi > 0:
        h = h[::-1, :]
    return h


def fspecial(
    type: Literal[
        "average", "disk", "gaussian", "laplacian", "log", "motion", "prewitt", "sobel", "unsharp"
    ],
    *params,
) -> np.ndarray:
    """A predefined 2-D filter, as MATLAB's ``fspecial(type, params...)``.

    Parameters
    ----------
    type : str
        Case-insensitive, an unambiguous leading part accepted:

        - ``'average'``, hsize (default [3 3]): ``ones(hsize) / prod(hsize)``;
        - ``'disk'``, radius (default 5): a pillbox of side ``2*ceil(radius-0.5)+1``, each tap
          the disk's area over that pixel, normalized;
        - ``'gaussian'``, hsize (default [3 3]), sigma (default 0.5): taps below
          ``eps*max(h(:))`` set to 0, then normalized to sum 1;
        - ``'laplacian'``, alpha in [0, 1] (default 0.2): 3x3;
        - ``'log'``, hsize (default [5 5]), sigma (default 0.5): Laplacian of the cut Gaussian,
          shifted to sum 0;
        - ``'motion'``, len (default 9), theta in degrees (default 0);
        - ``'prewitt'``, ``'sobel'``: ``[1 1 1; 0 0 0; -1 -1 -1]``, ``[1 2 1; 0 0 0; -1 -2 -1]``;
        - ``'unsharp'``, alpha in [0, 1] (default 0.2): ``[0 0 0; 0 1 0; 0 0 0]`` minus the
          Laplacian.
    *params
        As above; a scalar hsize means a square filter. Numbers are doubles (a numpy array must
        be float64).

    Returns
    -------
    numpy.ndarray
        A 2-D float64 array.

    Raises
    ------
    FilterArgumentError
        ``MATLAB:fspecial:unrecognizedStringChoice`` (unknown type),
        ``images:fspecial:tooManyArgsForThisFilter``, ``images:fspecial:wrongSizeHSize`` /
        ``wrongSizeN`` (hsize of more than two elements), ``images:fspecial:outOfRangeAlpha``,
        ``MATLAB:fspecial:expectedPositive`` (and ``expectedInteger``, ``expectedFinite``,
        ``expectedScalar``, ``expectedNonnegative``, ``expectedNonempty``, ``expectedReal``),
        ``MATLAB:narginchk:tooManyInputs``.
    FilterTypeError
        ``MATLAB:fspecial:invalidType``: type not text, a parameter not double.

    Examples
    --------
    >>> fspecial('sobel').tolist()
    [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]
    >>> fspecial('average', 2).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    >>> round(float(fspecial('gaussian').sum()), 12), fspecial('gaussian', [3, 5], 2).shape
    (1.0, (3, 5))
    >>> np.round(fspecial('motion', 3, 0), 12).tolist()
    [[0.333333333333, 0.333333333333, 0.333333333333]]
    """
    if len(params) > 2:
        raise FilterArgumentError(
            f"fspecial takes a type and at most 2 parameters. Got {len(params)} parameters.",
            identifier="MATLAB:narginchk:tooManyInputs",
        )
    text = _text(type)
    if text is None:
        raise FilterTypeError(
            f"TYPE must be text, one of {', '.join(_FSPECIAL_TYPES)}. Got {type!r}.",
            identifier="MATLAB:fspecial:invalidType",
            argument=1,
        )
    kind = _validatestring(text, _FSPECIAL_TYPES, "fspecial", "TYPE", 1)
    n = len(params)
    if kind in ("sobel", "prewitt"):
        if n:
            raise _too_many(kind)
        h = np.array([[1.0, 1, 1], [0, 0, 0], [-1, -1, -1]])
        if kind == "sobel":
            h[:, 1] *= 2
        return h
    if kind in ("average", "disk", "laplacian", "unsharp") and n == 2:
        raise _too_many(kind)
    if kind == "average":
        siz = _hsize(params[0], "HSIZE", 2, "images:fspecial:wrongSizeHSize") if n else (3, 3)
        return np.ones(siz) / (siz[0] * siz[1])
    if kind == "disk":
        rad = 5.0
        if n:
            attrs: tuple[str, ...] = ("positive", "finite", "real", "nonempty", "scalar")
            rad = float(_param(params[0], "fspecial", "RADIUS", 2, attrs).reshape(()))
        return _disk(rad)
    if kind in ("laplacian", "unsharp"):
        alpha = 0.2
        if n:
            attrs = ("nonnegative", "real", "nonempty", "finite", "scalar")
            alpha = float(_param(params[0], "fspecial", "ALPHA", 2, attrs).reshape(()))
            if alpha > 1:
                raise FilterArgumentError(
                    f"ALPHA must be in the range [0, 1]. Got {alpha}.",
                    identifier="images:fspecial:outOfRangeAlpha",
                    argument=2,
                )
        lap = _laplacian(alpha)
        if kind == "laplacian":
            return lap
        delta = np.zeros((3, 3))
        delta[1, 1] = 1.0
        return delta - lap
    if kind in ("gaussian", "log"):
        siz = (3, 3) if kind == "gaussian" else (5, 5)
        sigma = 0.5
        if n:
            ident = "images:fspecial:wrongSizeHSize" if n == 1 else "images:fspecial:wrongSizeN"
            siz = _hsize(params[0], "N", 2, ident)
        if n == 2:
            attrs = ("positive", "finite", "real", "nonempty", "scalar")
            sigma = float(_param(params[1], "fspecial", "SIGMA", 3, attrs).reshape(()))
        h, r2 = _gaussian(siz, sigma)
        if kind == "gaussian":
            return h
        std2 = sigma * sigma
        h1 = h * (r2 - 2 * std2) / (std2 * std2)
        return h1 - h1.sum() / (siz[0] * siz[1])
    # motion
    length, theta = 9.0, 0.0
    if n:
        attrs = ("positive", "finite", "real", "nonempty", "scalar")
        length = float(_param(params[0], "fspecial", "LEN", 2, attrs).reshape(()))
    if n == 2:
        attrs = ("real", "nonempty", "finite", "scalar")
        theta = float(_param(params[1], "fspecial", "THETA", 3, attrs).reshape(()))
    return _motion(length, theta)


# ---------------------------------------------------------------------------------------------
# imgaussfilt, imgaussfilt3

_GAUSS_NAMES = ("FilterSize", "Padding", "FilterDomain")


def _gauss_kernel(sigma: Sequence[float], size: Sequence[int]) -> np.ndarray:
    """imgaussfilt's kernel: ``exp(-(x^2/sx^2 + y^2/sy^2 [+ z^2/sz^2]) / 2)`` over the grid of
    ``size`` (rows use sigma[0], columns sigma[1], pages sigma[2]), taps below ``eps*max`` set
    to 0, normalized to sum 1. A copy of the one kept per (sigma, size)."""
    return _gauss_kernel_cached(tuple(sigma), tuple(size)).copy()


@functools.lru_cache(maxsize=64)
def _gauss_kernel_cached(sigma: tuple[float, ...], size: tuple[int, ...]) -> np.ndarray:
    arg = np.zeros([1] * len(size))
    for d, (s, n) in enumerate(zip(sigma, size)):
        shape = [1] * len(size)
        shape[d] = n
        g = _grid(n).reshape(shape)
        arg = arg + (g * g) / (s * s)
    h = np.exp(-arg / 2)
    h[h < EPS * h.max()] = 0.0
    total = h.sum()
    return h / total if total != 0 else h


def _gauss_args(fn: str, ndim: int, sigma, name_value, kwargs):
    """MATLAB's parse of imgaussfilt(A, sigma, Name, Value, ...): (sigma, size, padding)."""
    args = list(name_value)
    sigma_given = True
    if _text(sigma) is not None:  # imgaussfilt(A, 'Name', Value, ...)
        args = [sigma, *args]
        sigma_given = False
        sigma = 0.5
    for key, value in kwargs.items():
        args += [key, value]
    s = _array(sigma, fn, "Sigma", 2, kinds="iuf")
    _attributes(s, fn, "Sigma", 2, ("real", "positive", "finite", "nonempty"))
    if s.size not in (1, ndim):
        raise FilterArgumentError(
            f"Sigma must have 1 or {ndim} elements. Got {s.size}.",
            identifier=f"images:{fn}:invalidLength",
            argument=2,
        )
    sig = [float(v) for v in s.astype(np.float64).ravel()] * (ndim if s.size == 1 else 1)
    size = [2 * math.ceil(2 * v) + 1 for v in sig]
    padding: Boundary = "replicate"
    if len(args) % 2:
        raise FilterArgumentError(
            f"Name-value arguments must come in pairs. Got {len(args)} values after Sigma.",
            identifier=f"images:{fn}:invalidNameValue",
        )
    first = 3 if sigma_given else 2
    for i in range(0, len(args), 2):
        pos = first + i
        key = _text(args[i])
        if key is None:
            raise FilterArgumentError(
                f"Expected a parameter name ('FilterSize', 'Padding', 'FilterDomain') at "
                f"argument {pos}. Got {args[i]!r}.",
                identifier=f"images:{fn}:tooManyOptionalArgs",
                argument=pos,
            )
        hits = [n for n in _GAUSS_NAMES if key and n.lower().startswith(key.lower())]
        if not hits:
            raise FilterArgumentError(
                f"Unknown parameter name '{key}'; must be one of {', '.join(_GAUSS_NAMES)}.",
                identifier=f"images:{fn}:unknownParamName",
                argument=pos,
            )
        if len(hits) > 1:
            raise FilterArgumentError(
                f"Parameter name '{key}' is ambiguous: it matches {', '.join(hits)}.",
                identifier=f"images:{fn}:ambiguousParamName",
                argument=pos,
            )
        value = args[i + 1]
        if hits[0] == "FilterSize":
            vfn = "validateTwoDFilterSize" if ndim == 2 else "validateThreeDFilterSize"
            fs = _array(value, vfn, "filterSize", pos + 1, kinds="iuf")
            attrs = ("real", "nonempty", "positive", "integer", "odd")
            _attributes(fs, vfn, "filterSize", pos + 1, attrs)
            if fs.size not in (1, ndim):
                raise FilterArgumentError(
                    f"FilterSize must have 1 or {ndim} elements. Got {fs.size}.",
                    identifier="images:validate:badVectorLength",
                    argument=pos + 1,
                )
            size = [int(v) for v in fs.ravel()] * (ndim if fs.size == 1 else 1)
        elif hits[0] == "Padding":
            word = _text(value)
            if word is not None:
                padding = cast(
                    BoundaryName, _validatestring(word, _BOUNDARY_NAMES, fn, "Padding", pos + 1)
                )
            else:
                pv = _array(value, fn, "Padding", pos + 1)
                _attributes(pv, fn, "Padding", pos + 1, ("real", "scalar"))
                padding = float(pv.reshape(()))
        else:
            word = _text(value)
            if word is None:
                raise FilterTypeError(
                    f"FilterDomain must be 'auto', 'spatial' or 'frequency'. Got {value!r}.",
                    identifier=f"MATLAB:{fn}:invalidType",
                    argument=pos + 1,
                )
            _validatestring(word, ("spatial", "frequency", "auto"), fn, "FilterDomain", pos + 1)
    return sig, size, padding


def _gauss_image(A, fn: str) -> np.ndarray:
    arr = _array(A, fn, "A", 1)
    if not isinstance(A, (np.ndarray, np.generic)) and arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)  # Python numbers and lists are MATLAB literals: doubles
    if arr.dtype.kind == "c":
        raise FilterArgumentError(
            f"Expected A to be real. Got a complex {arr.dtype} array.",
            identifier=f"MATLAB:{fn}:expectedReal",
            argument=1,
        )
    if arr.dtype not in _GAUSS_CLASSES:
        raise FilterTypeError(
            f"{fn} filters uint8, uint16, uint32, int8, int16, int32, single and double images. "
            f"Got {arr.dtype}.",
            identifier=f"MATLAB:{fn}:invalidType",
            argument=1,
        )
    return arr.reshape(matlab_dims(arr.shape))


def gauss_plan(
    fn: Literal["imgaussfilt", "imgaussfilt3"],
    A,
    sigma=0.5,
    *name_value,
    size: Sequence[int] | None = None,
    **kwargs,
) -> FilterPlan:
    """``imgaussfilt(A, sigma, ...)`` or ``imgaussfilt3`` checked as the call checks it, without
    A's values (``A`` may be a stand-in of its class, ``size`` its MATLAB size): imfilter with
    MATLAB's Gaussian kernel, the padding option, convolution, A's size."""
    return _gauss_call(fn, A, sigma, name_value, size, kwargs)[0]


def _gauss_call(fn, A, sigma, name_value, size, kwargs) -> tuple[FilterPlan, np.ndarray]:
    """:func:`gauss_plan`, and A checked as an array (for the call itself)."""
    A = _gauss_image(A, fn)
    a_size = tuple(size) if size is not None else A.shape
    if fn == "imgaussfilt3" and len(a_size) > 3:
        raise FilterArgumentError(
            f"Expected A to be a 3-D array. Got a {_size_text(a_size)} array.",
            identifier="MATLAB:imgaussfilt3:expected3D",
            argument=1,
        )
    ndim = 3 if fn == "imgaussfilt3" else 2
    sig, taps, padding = _gauss_args(fn, ndim, sigma, name_value, kwargs)
    h = _gauss_kernel(sig, taps)
    nd = max(len(a_size), h.ndim)
    plan = FilterPlan(
        h.reshape(_dims(h.shape, nd)), padding, "same", True, _dims(a_size, nd), A.dtype
    )
    return plan, A


def _gauss(A, fn, ndim, sigma, name_value, kwargs, method, separable) -> np.ndarray:
    call, A = _gauss_call(fn, A, sigma, name_value, None, kwargs)
    if A.size == 0:
        return A.copy()
    # e.g. the default sigma 0.5 (3x3, one direct pass) goes by _fused_direct
    fused = _fused(
        A.reshape(call.a_dims), call.h, call.boundary, "same", True, method, separable, False
    )
    if fused is not None:
        return fused.reshape(A.shape)
    P = padded(A, call.h.shape, call.boundary, "same")
    out = valid_correlation(P, call.h, conv=True, method=method, separable=separable)
    return _cast_owned(out, A.dtype).reshape(A.shape)


def imgaussfilt(
    A,
    sigma=0.5,
    *name_value,
    method: str = "auto",
    separable: bool | None = None,
    **kwargs,
) -> np.ndarray:
    """2-D Gaussian filtering, as MATLAB's ``imgaussfilt(A, sigma, Name, Value, ...)``.

    Parameters
    ----------
    A : array_like
        Real, of class uint8, uint16, uint32, int8, int16, int32, single or double, any number
        of dimensions: each 2-D plane is filtered with the 2-D kernel.
    sigma : float or sequence of 2 floats
        Standard deviation (rows, columns), positive; default 0.5.
    *name_value
        ``'FilterSize'``: odd positive integers (1 or 2 of them), default
        ``2*ceil(2*sigma)+1``; ``'Padding'``: ``'replicate'`` (default), ``'circular'``,
        ``'symmetric'`` or a number; ``'FilterDomain'``: ``'auto'`` (default), ``'spatial'`` or
        ``'frequency'`` (checked; bridge always filters spatially). Names are
        case-insensitive and may be shortened while unambiguous. They may also be given as
        keyword arguments (``FilterSize=5``).
    method, separable
        As for :func:`imfilter` (keyword only).

    Returns
    -------
    numpy.ndarray
        A's size and class: ``imfilter(A, h, padding, 'conv')`` with MATLAB's Gaussian kernel
        ``h`` (taps below ``eps*max`` set to 0, normalized to sum 1), within the module's
        tolerance for separable kernels.

    Raises
    ------
    FilterArgumentError
        ``MATLAB:imgaussfilt:expectedPositive`` (and the other validateattributes checks),
        ``images:imgaussfilt:invalidLength``, ``images:imgaussfilt:invalidNameValue``,
        ``images:imgaussfilt:unknownParamName`` / ``ambiguousParamName``,
        ``MATLAB:validateTwoDFilterSize:expectedOdd`` (and its other checks),
        ``MATLAB:imgaussfilt:expectedReal`` for a complex A.
    FilterTypeError
        ``MATLAB:imgaussfilt:invalidType``: a logical, int64 or non-numeric A.

    Examples
    --------
    >>> B = imgaussfilt(np.arange(25.0).reshape(5, 5), 2)
    >>> B.shape, B.dtype.name
    ((5, 5), 'float64')
    >>> imgaussfilt(np.full((4, 4), 200, np.uint8), 1.5, 'FilterSize', 3).tolist()[0]
    [200, 200, 200, 200]
    """
    return _gauss(A, "imgaussfilt", 2, sigma, name_value, kwargs, method, separable)


def imgaussfilt3(
    A,
    sigma=0.5,
    *name_value,
    method: str = "auto",
    separable: bool | None = None,
    **kwargs,
) -> np.ndarray:
    """3-D Gaussian filtering, as MATLAB's ``imgaussfilt3(A, sigma, Name, Value, ...)``.

    As :func:`imgaussfilt` with a 3-D kernel: A has at most 3 dimensions, sigma and
    ``'FilterSize'`` have 1 or 3 elements (rows, columns, pages).

    Raises
    ------
    FilterArgumentError
        As imgaussfilt (``images:imgaussfilt3:*``, ``MATLAB:validateThreeDFilterSize:*``),
        and ``MATLAB:imgaussfilt3:expected3D`` for a 4-D A.
    FilterTypeError
        ``MATLAB:imgaussfilt3:invalidType``.

    Examples
    --------
    >>> V = np.zeros((5, 5, 5)); V[2, 2, 2] = 1
    >>> B = imgaussfilt3(V, 1, 'FilterSize', 3)
    >>> B.shape, bool(abs(B.sum() - 1) < 1e-12)
    ((5, 5, 5), True)
    """
    return _gauss(A, "imgaussfilt3", 3, sigma, name_value, kwargs, method, separable)
