"""MATLAB classes, sizes and the :class:`Variable` every reader returns.

Readers differ in how a file stores a class (MATLAB keeps integer-valued doubles as uint8 in v5
files, logical as uint8 in v7.3, complex as a compound in HDF5), but they all end here: a
:class:`Variable` whose ``matlab_class`` is what MATLAB's ``class()`` would say and whose values
are already in the numpy dtype of that class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import prod

import numpy as np

from bridge.errors import FileFormatError, InputTypeError, JobError, OutputError, UsageError

# MATLAB class -> numpy dtype of a real array of that class.
NUMERIC_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(dtype)
    for name, dtype in [
        ("double", np.float64),
        ("single", np.float32),
        ("int8", np.int8),
        ("uint8", np.uint8),
        ("int16", np.int16),
        ("uint16", np.uint16),
        ("int32", np.int32),
        ("uint32", np.uint32),
        ("int64", np.int64),
        ("uint64", np.uint64),
        ("logical", np.bool_),
    ]
}
# numpy has no complex integers; MATLAB's complex intN arrays (rare) become complex128, which the
# core converts to double anyway (semantics section 5: integers are converted first).
COMPLEX_DTYPES = {"single": np.dtype(np.complex64)}
DEFAULT_COMPLEX = np.dtype(np.complex128)

SUPPORTED_CLASSES = "double, single, int8..uint64, logical (real or complex)"

# MATLAB's rule for variable names (`isvarname`): MATLAB's load rejects anything else.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}\Z")

# Classes readers give to things that are not MATLAB variables at all.
_NOT_MATLAB = {
    "unknown": "an HDF5 object without a MATLAB_class attribute (not a MATLAB variable)",
    "group": "an HDF5 group, not a dataset",
}

# MATLAB's largest array has 2^48-1 elements (``[~, maxsize] = computer``; indices must be below
# 2^48). bridge applies the bound to the product of an empty array's nonzero dimensions too, as
# the text format always did: numpy cannot hold a double 0x2^31x2^31 at all.
MAX_ELEMENTS = 2**48 - 1
# numpy 1.x holds at most 32 dimensions.
MAX_DIMS = 32

# Request fields travel beside the operands; they are never operands themselves.
REQUEST_FIELDS = ("op", "shape")


def class_dtype(matlab_class: str, is_complex: bool = False) -> np.dtype:
    """The numpy dtype that holds a numeric or logical MATLAB class."""
    if is_complex:
        return COMPLEX_DTYPES.get(matlab_class, DEFAULT_COMPLEX)
    return NUMERIC_DTYPES[matlab_class]


def class_of(array: np.ndarray) -> tuple[str, bool]:
    """MATLAB class and complexity of a numpy array to be written; OutputError if none fits."""
    dtype = array.dtype
    if dtype == np.complex128:
        return "double", True
    if dtype == np.complex64:
        return "single", True
    for name, candidate in NUMERIC_DTYPES.items():
        if dtype == candidate:
            return name, False
    msg = f"cannot write a numpy {dtype} array: no MATLAB class holds it ({SUPPORTED_CLASSES})"
    raise OutputError(msg)


def matlab_size(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A numpy shape as MATLAB's size(): at least 2 entries, trailing singletons beyond 2 dropped.

    A 0-D array is 1x1; a 1-D array of n elements is taken as a 1xn row (numpy's atleast_2d).
    """
    size = tuple(int(n) for n in shape)
    if len(size) == 0:
        size = (1, 1)
    elif len(size) == 1:
        size = (1, *size)
    while len(size) > 2 and size[-1] == 1:
        size = size[:-1]
    return size


def as_matlab_array(array: np.ndarray) -> np.ndarray:
    """View ``array`` with its MATLAB size (see :func:`matlab_size`)."""
    array = np.asarray(array)
    return array.reshape(matlab_size(array.shape))


def to_class(values: np.ndarray, matlab_class: str, is_complex: bool) -> np.ndarray:
    """Cast stored values to the dtype of their MATLAB class, keeping complex data.

    MATLAB v5 files store integer-valued doubles in the smallest integer type that holds them and
    logical as uint8; MATLAB reads them back as double and logical, so must we. Where the stored
    values do not fit an integer class, MATLAB's conversion applies (never numpy's wrap-around):
    round half away from zero, saturate at intmin/intmax, NaN to 0.
    """
    values = np.asarray(values)
    if matlab_class == "logical":
        return values != 0
    return to_dtype(values, class_dtype(matlab_class, is_complex))


def to_dtype(values: np.ndarray, target: np.dtype) -> np.ndarray:
    """``values`` in the numpy dtype of a MATLAB class, converted as MATLAB converts: integers
    saturate (:func:`saturate`), a double beyond single's range becomes +-Inf, silently (numpy
    would print an overflow RuntimeWarning, which must never reach a user)."""
    values = np.asarray(values)
    target = np.dtype(target)
    if target.kind == "b":
        return values != 0
    if target.kind in "iu" and values.dtype != target:
        return saturate(values, target)
    with np.errstate(over="ignore", invalid="ignore"):
        return values.astype(target, copy=False)


def saturate(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``values`` as the integer ``dtype`` by MATLAB's rules: round half away, saturate, NaN->0."""
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    if values.dtype.kind == "b" or np.can_cast(values.dtype, dtype, "safe"):
        return values.astype(dtype)
    if values.dtype.kind in "iu":
        source = np.iinfo(values.dtype)
        low, high = max(info.min, source.min), min(info.max, source.max)
        return np.clip(values, values.dtype.type(low), values.dtype.type(high)).astype(dtype)
    if values.dtype.kind == "c":
        values = values.real
    x = values.astype(np.float64)
    whole = np.trunc(x)
    with np.errstate(invalid="ignore"):
        # x - trunc(x) is exact, so exactly half rounds away from zero and nothing else does
        away = np.abs(x - whole) >= 0.5
    rounded = whole + np.where(away, np.sign(x), 0.0)
    rounded[np.isnan(rounded)] = 0.0
    # float(intmax) of 64-bit classes rounds up to 2^63 (2^64): mark the top before casting
    top = rounded >= 2.0 ** (info.bits - (info.min < 0))
    rounded[top] = 0.0
    np.maximum(rounded, float(info.min), out=rounded)  # -2^(bits-1) and 0 are exact doubles
    out = rounded.astype(dtype)
    out[top] = info.max
    return out


# MATLAB's char is a UTF-16 code unit: 0..65535 (lone surrogates included, as MATLAB holds them).
MAX_CHAR_CODE = 0xFFFF


def char_text(codes: np.ndarray) -> str:
    """The text of MATLAB char codes (UTF-16 code units), as MATLAB shows it: a surrogate pair
    is one character; a lone surrogate (MATLAB holds one, Unicode text cannot) is written as the
    escape ``\\udXXX``, so that the text can always be printed. Readers refuse codes beyond
    MAX_CHAR_CODE; any that got here anyway would read as U+FFFD."""
    codes = np.asarray(codes).astype(np.int64).ravel()
    codes[(codes < 0) | (codes > MAX_CHAR_CODE)] = 0xFFFD
    text = codes.astype("<u2").tobytes().decode("utf-16-le", "surrogatepass")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_name(name: str) -> None:
    """UsageError unless MATLAB's load accepts ``name`` and it is not a request field."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        msg = (
            f"'{name}' is not a valid MATLAB variable name (a letter, then up to 62 letters, "
            "digits or underscores)"
        )
        raise UsageError(msg)
    if name in REQUEST_FIELDS:
        raise UsageError(f"'{name}' is reserved for the request; name the array differently")


def is_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.match(name))


def size_text(size: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in size)


def size_problem(size: tuple[int, ...]) -> str | None:
    """Why MATLAB could not hold an array of ``size`` (in words), or None if it could."""
    size = tuple(int(n) for n in size)
    if len(size) > MAX_DIMS:
        return f"has {len(size)} dimensions; bridge reads at most {MAX_DIMS}"
    if any(n < 0 for n in size):
        return f"has a negative dimension in its size {size_text(size)}"
    nonzero = prod(n for n in size if n)
    if max(size, default=0) > MAX_ELEMENTS:
        what = "a dimension longer than"
    elif nonzero > MAX_ELEMENTS:
        what = "dimensions other than 0 that multiply to more than" if 0 in size else "more than"
    else:
        return None
    return (
        f"has the size {size_text(size)}, beyond what MATLAB holds: {what} 2^48-1 elements "
        "(MATLAB's largest array)"
    )


def check_size(size: tuple[int, ...], file: str | None, variable: str | None) -> None:
    """FileFormatError (naming the file and the variable) if MATLAB could not hold ``size``."""
    problem = size_problem(size)
    if problem is not None:
        raise FileFormatError(problem).where(file=file, variable=variable)


@dataclass
class Variable:
    """One variable of a job file, described as MATLAB's ``whos`` would describe it.

    ``data`` holds the values in the dtype of the class (numeric, logical) or the character codes
    (char); it is ``None`` for classes bridge does not compute with (cell, struct, objects).
    """

    name: str
    matlab_class: str
    size: tuple[int, ...]
    complex: bool = False
    data: np.ndarray | None = field(default=None, repr=False, compare=False)
    file: str | None = field(default=None, repr=False, compare=False)
    # Stored sparse (MATLAB's issparse); bridge reads it as a full array of the same values.
    sparse: bool = field(default=False, compare=False)

    @property
    def is_numeric(self) -> bool:
        return self.matlab_class in NUMERIC_DTYPES and self.data is not None

    def describe(self) -> str:
        """What this variable is, in words, for error messages."""
        cls = self.matlab_class
        if cls in NUMERIC_DTYPES or cls in ("char", "cell", "struct"):
            kind = f"complex {cls}" if self.complex else cls
            return f"a {size_text(self.size)} {kind} array"
        if cls in _NOT_MATLAB:
            return _NOT_MATLAB[cls]
        if cls.startswith("HDF5 "):
            return f"an HDF5 dataset of type {cls[5:]}, which no MATLAB class holds"
        return f"a MATLAB {cls} object"

    def array(self) -> np.ndarray:
        """The values with their MATLAB size and the numpy dtype of their class.

        Raises InputTypeError (MATLAB:conv2:inputType) for char, cell, struct and objects.
        """
        if not self.is_numeric or self.data is None:  # (is_numeric: data is not None)
            msg = (
                f"Invalid data type: {self.describe()}; operands must be numeric or logical "
                f"({SUPPORTED_CLASSES})"
            )
            raise InputTypeError(msg).where(file=self.file, variable=self.name)
        return self.data

    def text(self) -> str:
        """The text of a char row vector (a request field); JobError for anything else."""
        if self.matlab_class != "char" or self.data is None:
            msg = (
                f"is {self.describe()}; request fields must be char, e.g. "
                f"{self.name} = '...' (a MATLAB string \"...\" must be saved as char(...))"
            )
            raise JobError(msg).where(file=self.file, variable=self.name)
        if len(self.size) > 2 or (self.size[0] > 1 and prod(self.size) > 0):
            msg = f"is {self.describe()}; a request field must be one row of text"
            raise JobError(msg).where(file=self.file, variable=self.name)
        return char_text(np.ravel(self.data, order="F"))
