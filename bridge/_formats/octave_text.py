"""GNU Octave's text format: what Octave's plain ``save`` (and ``save -text``) writes.

Octave's default ``save('in.mat', 'A', 'B')`` writes this text, not a MAT-file, so it is read by
its content whatever the extension. The layout (Octave 7, ``ls-oct-text.cc`` and the ``save_ascii``
of each type)::

    # Created by Octave 7.3.0, ...          comments before the first variable
    # name: A                               one block per variable
    # type: matrix                          'global ' may precede the type
    # rows: 2                               2-D: rows and columns, then one line per row
    # columns: 3
     1 2 3
     4 5 6
    # name: Z
    # type: complex matrix                  complex values are written (re,im)
    # ndims: 3                              N-D: the sizes, then every value, column-major
     2 1 2
     (1,2)
     ...

Read: scalar, matrix, complex scalar/matrix, their ``float`` (single) forms, bool and bool
matrix, int8..uint64 scalar/matrix, string and sq_string (char; N-D too), ranges
(``double_range``), diagonal and permutation matrices, and sparse matrices (as full arrays, marked
sparse). Cells, structs and function handles are parsed and listed but are not numeric.

Every size is checked against the data that is actually there before anything is allocated;
expanding a small description (a range, a sparse or diagonal matrix) into a full array is limited
to ``MAX_EXPANDED_ELEMENTS``. Parsing is linear in the file's size. Any malformed input is a
FileFormatError naming the line.
"""

from __future__ import annotations

import re
from math import prod

import numpy as np

from bridge._formats.classes import (
    Variable,
    is_identifier,
    matlab_size,
    size_problem,
    to_dtype,
)
from bridge.errors import FileFormatError

# A range, sparse, diagonal or permutation matrix is a few numbers in the file; refuse to expand
# one beyond this many elements (2 GiB of doubles).
MAX_EXPANDED_ELEMENTS = 2**28
MAX_DEPTH = 64  # cells and structs nested deeper than this are refused
MAX_NDIMS = 1024

SAVE_ONLY = "save only the operands, e.g. save('in.mat', 'A', 'B')"

_KEYWORD = re.compile(r"#\s*([A-Za-z_][A-Za-z0-9_ ,]*?)\s*:\s*(.*?)\s*\Z")
_INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_INT_RANGES = {name: (int(np.iinfo(name).min), int(np.iinfo(name).max)) for name in _INT_TYPES}
# type (without 'scalar'/'matrix') -> (MATLAB class, complex)
_NUMERIC = {
    "": ("double", False),
    "complex": ("double", True),
    "float": ("single", False),
    "float complex": ("single", True),
    "bool": ("logical", False),
    **{name: (name, False) for name in _INT_TYPES},
}
_DIAGONAL = {
    "diagonal matrix": ("double", False),
    "complex diagonal matrix": ("double", True),
    "float diagonal matrix": ("single", False),
    "float complex diagonal matrix": ("single", True),
}
_SPARSE = {
    "sparse matrix": ("double", False),
    "sparse complex matrix": ("double", True),
    "sparse bool matrix": ("logical", False),
}
_RANGES = ("double_range", "range")
_STRINGS = ("string", "sq_string")


def looks_like(head: bytes) -> bool:
    """True if a file's first bytes are Octave's text format."""
    text = head.lstrip()
    if text.startswith(b"# Created by Octave"):
        return True
    return bool(re.match(rb"(#[^\n]*\n\s*)*#\s*name:\s*\S+\s*\r?\n#\s*type:", text))


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.pos = 0
        self.path = path

    # --- errors and lines ---------------------------------------------------------------------

    def fail(self, message: str, variable: str | None = None, pos: int | None = None):
        line = self.text.count("\n", 0, self.pos if pos is None else pos) + 1
        where = f"line {line}: " if line else ""
        return FileFormatError(f"{where}{message} (Octave text format)").where(
            file=self.path, variable=variable
        )

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def line(self) -> str | None:
        """The next line without its end, or None at the end of the text."""
        if self.pos >= len(self.text):
            return None
        end = self.text.find("\n", self.pos)
        if end < 0:
            end = len(self.text)
        line = self.text[self.pos : end]
        self.pos = end + 1
        return line.rstrip("\r")

    def peek(self) -> str | None:
        saved = self.pos
        line = self.line()
        self.pos = saved
        return line

    def skip_blank(self) -> None:
        while True:
            saved = self.pos
            line = self.line()
            if line is None:
                return
            if line.strip():
                self.pos = saved
                return

    def keyword(self, name: str, variable: str) -> str:
        """The value of the '# name: value' line that must come next (blank lines skipped)."""
        self.skip_blank()
        start = self.pos
        line = self.line()
        found = _KEYWORD.match(line.strip()) if line is not None else None
        if found is None or found.group(1) != name:
            shown = "the end of the file" if line is None else f"'{_clip(line)}'"
            raise self.fail(f"expected '# {name}: ...', found {shown}", variable, start)
        return found.group(2)

    def count(self, name: str, variable: str) -> int:
        value = self.keyword(name, variable)
        if not value.isdigit() or len(value) > 18:
            raise self.fail(f"'# {name}: {_clip(value)}' is not a count", variable)
        return int(value)

    def dims(self, variable: str) -> tuple[int, ...]:
        return self.layout(variable)[0]

    def layout(self, variable: str) -> tuple[tuple[int, ...], bool]:
        """The size from '# rows:'/'# columns:' (values then come row by row) or from
        '# ndims:' and a line of sizes (values then come one by one, column-major)."""
        self.skip_blank()
        line = self.peek() or ""
        found = _KEYWORD.match(line.strip())
        if found and found.group(1) == "ndims":
            ndims = self.count("ndims", variable)
            if not 2 <= ndims <= MAX_NDIMS:
                raise self.fail(f"'# ndims: {ndims}' is not between 2 and {MAX_NDIMS}", variable)
            sizes = (self.line() or "").split()
            if len(sizes) != ndims or not all(s.isdigit() and len(s) <= 18 for s in sizes):
                raise self.fail(f"expected {ndims} sizes after '# ndims: {ndims}'", variable)
            return self.holdable(tuple(int(s) for s in sizes), variable), True
        size = (self.count("rows", variable), self.count("columns", variable))
        return self.holdable(size, variable), False

    def holdable(self, size: tuple[int, ...], variable: str) -> tuple[int, ...]:
        """``size``, if MATLAB could hold it. (Only an empty array's size can be beyond: any
        other is checked against the values the file holds.)"""
        problem = size_problem(matlab_size(size)) if 0 in size else None
        if problem is not None:
            raise self.fail(problem, variable)
        return size

    def data(self) -> tuple[str, int, int]:
        """The text up to the next '#' line (or the end), the values of one block, in place."""
        end = self.text.find("\n#", self.pos)
        end = len(self.text) if end < 0 else end + 1
        region = (self.text, self.pos, end)
        self.pos = end
        return region

    # --- variables ----------------------------------------------------------------------------

    def variables(self) -> list[Variable]:
        found: dict[str, Variable] = {}
        while True:
            self.skip_blank()
            start = self.pos
            line = self.line()
            if line is None:
                break
            keyword = _KEYWORD.match(line.strip())
            if keyword is None or keyword.group(1) != "name":
                if line.lstrip().startswith("#"):
                    continue  # a comment, such as '# Created by Octave ...'
                raise self.fail(f"expected '# name: ...', found '{_clip(line)}'", pos=start)
            name = keyword.group(2)
            if not is_identifier(name):
                raise self.fail(f"'{_clip(name)}' is not a valid variable name", pos=start)
            if name in found:
                raise self.fail(f"'{name}' is defined twice", name, start)
            found[name] = self.value(name, 0)
        if not found:
            raise self.fail("holds no variables")
        return list(found.values())

    def value(self, name: str, depth: int) -> Variable:
        if depth > MAX_DEPTH:
            raise self.fail(f"cells or structs nested more than {MAX_DEPTH} deep", name)
        kind = " ".join(self.keyword("type", name).split())
        if kind.startswith("global "):
            kind = kind[len("global ") :]
        base, _, last = kind.rpartition(" ")
        if last in ("scalar", "matrix") and base in _NUMERIC:
            cls, is_complex = _NUMERIC[base]
            size, by_column = ((1, 1), True) if last == "scalar" else self.layout(name)
            return self.numeric(name, cls, is_complex, size, by_column)
        if kind == "bool":
            return self.numeric(name, "logical", False, (1, 1), True)
        if kind in _STRINGS:
            return self.chars(name)
        if kind in _RANGES:
            return self.range(name)
        if kind in _DIAGONAL:
            return self.diagonal(name, *_DIAGONAL[kind])
        if kind == "permutation matrix":
            return self.permutation(name)
        if kind in _SPARSE:
            return self.sparse(name, *_SPARSE[kind])
        if kind == "cell":
            size = self.dims(name)
            for _ in range(prod(size)):
                self.element("<cell-element>", name, depth)
            return Variable(name, "cell", _matlab(size), file=self.path)
        if kind in ("scalar struct", "struct"):
            size = self.dims(name)
            if kind == "scalar struct" and prod(size) != 1:
                raise self.fail("a scalar struct must be 1x1", name)
            for _ in range(self.count("length", name)):
                self.element(None, name, depth)
            return Variable(name, "struct", _matlab(size), file=self.path)
        if kind == "function handle":
            return self.function_handle(name, depth)
        msg = f"Octave type '{_clip(kind)}' cannot be read by bridge; {SAVE_ONLY}"
        raise self.fail(msg, name)

    def element(self, expected: str | None, owner: str, depth: int) -> None:
        """A nested '# name:' block (a cell element or a struct field), parsed and dropped."""
        found = self.keyword("name", owner)
        if expected is not None and found != expected:
            raise self.fail(f"expected '# name: {expected}', found '# name: {_clip(found)}'", owner)
        self.value(owner, depth + 1)

    def numeric(
        self, name: str, cls: str, is_complex: bool, size: tuple[int, ...], by_column: bool
    ) -> Variable:
        values = _values(self.data(), prod(size), cls, is_complex, lambda m: self.fail(m, name))
        data = values.reshape(size, order="F" if by_column else "C")
        return _variable(name, cls, is_complex, data, self.path)

    def chars(self, name: str) -> Variable:
        self.skip_blank()
        found = _KEYWORD.match((self.peek() or "").strip())
        if found and found.group(1) == "ndims":
            size = self.dims(name)
            codes = self.exact(prod(size), name)
            return _char(name, codes.reshape(size, order="F"), self.path)
        rows = self.count("elements", name)
        parts: list[np.ndarray] = []
        for _ in range(rows):
            length = self.count("length", name)
            if parts and length != len(parts[0]):
                raise self.fail("the rows of a char matrix must have the same length", name)
            parts.append(self.exact(length, name))
        if not rows:
            return _char(name, np.zeros((0, 0), dtype=np.uint32), self.path)
        return _char(name, np.stack(parts), self.path)

    def exact(self, count: int, name: str) -> np.ndarray:
        """``count`` characters, then the end of the line."""
        if self.pos + count > len(self.text):
            raise self.fail(f"expected {count} characters, the file ends first", name)
        text = self.text[self.pos : self.pos + count]
        self.pos += count
        rest = self.line()
        if rest not in (None, ""):
            raise self.fail(f"expected {count} characters, found more: '{_clip(rest)}'", name)
        return np.frombuffer(text.encode("latin-1"), dtype=np.uint8).astype(np.uint32)

    def range(self, name: str) -> Variable:
        self.skip_blank()
        header = (self.line() or "").strip()
        if not header.startswith("#") or "base" not in header:
            raise self.fail(f"expected '# base, limit, increment', found '{_clip(header)}'", name)
        if "reverse" in header:
            raise self.fail(f"a reversed range cannot be read by bridge; {SAVE_ONLY}", name)
        by_length = "length" in header
        numbers = (self.line() or "").split()
        try:
            base, second, increment = (float(_nan(t)) for t in numbers)
        except ValueError:
            raise self.fail("expected three numbers: base, limit, increment", name) from None
        if by_length:
            if not second.is_integer() or second < 0:
                raise self.fail("the length of a range must be a count", name)
            count = int(second)
        else:
            count = _range_numel(base, second, increment)
            if count < 0:
                raise self.fail("a range with NaN or Inf bounds cannot be read", name)
        self.check_expansion(count, name)
        values = base + np.arange(count) * increment
        if count and not by_length:
            values[-1] = _range_final(base, second, increment, count)
        if count:
            values[0] = base
        return _variable(name, "double", False, values.reshape(1, count), self.path)

    def diagonal(self, name: str, cls: str, is_complex: bool) -> Variable:
        rows, cols = self.count("rows", name), self.count("columns", name)
        self.check_expansion(rows * cols, name)
        diag = _values(self.data(), min(rows, cols), cls, is_complex, lambda m: self.fail(m, name))
        full = np.zeros((rows, cols), dtype=diag.dtype)
        np.fill_diagonal(full, diag)
        return _variable(name, cls, is_complex, full, self.path)

    def permutation(self, name: str) -> Variable:
        n = self.count("size", name)
        orient = self.keyword("orient", name)
        if orient not in ("c", "r"):
            raise self.fail(f"'# orient: {_clip(orient)}' must be c or r", name)
        self.check_expansion(n * n, name)
        perm = _values(self.data(), n, "double", False, lambda m: self.fail(m, name))
        if n and not np.array_equal(np.sort(perm), np.arange(1, n + 1)):
            raise self.fail(f"a permutation matrix needs each of 1..{n} once", name)
        full = np.zeros((n, n))
        index = perm.astype(np.intp) - 1
        if orient == "c":
            full[index, np.arange(n)] = 1.0
        else:
            full[np.arange(n), index] = 1.0
        return _variable(name, "double", False, full, self.path)

    def sparse(self, name: str, cls: str, is_complex: bool) -> Variable:
        nnz = self.count("nnz", name)
        rows, cols = self.count("rows", name), self.count("columns", name)
        self.check_expansion(rows * cols, name)
        text, start, end = self.data()
        region = text[start:end]  # sparse data are small: nnz lines
        if is_complex:
            lines = region.split()
            if len(lines) != 3 * nnz:
                raise self.fail(f"expected {nnz} lines 'row column (re,im)'", name)
            index_tokens = [t for k, t in enumerate(lines) if k % 3 != 2]
            value_text = " ".join(lines[2::3])
        else:
            tokens = region.split()
            if len(tokens) != 3 * nnz:
                raise self.fail(f"expected {nnz} lines 'row column value'", name)
            index_tokens = [t for k, t in enumerate(tokens) if k % 3 != 2]
            value_text = " ".join(tokens[2::3])
        fail = lambda m: self.fail(m, name)  # noqa: E731
        index = _values(" ".join(index_tokens), 2 * nnz, "double", False, fail).reshape(nnz, 2)
        values = _values(value_text, nnz, cls, is_complex, fail)
        if nnz and (
            np.any(index != np.floor(index))
            or np.any(index < 1)
            or np.any(index[:, 0] > rows)
            or np.any(index[:, 1] > cols)
        ):
            raise self.fail(f"a sparse index is outside the {rows}x{cols} matrix", name)
        full = np.zeros((rows, cols), dtype=values.dtype)
        full[index[:, 0].astype(np.intp) - 1, index[:, 1].astype(np.intp) - 1] = values
        variable = _variable(name, cls, is_complex, full, self.path)
        variable.sparse = True  # whos says sparse; bridge computes with the full array
        return variable

    def function_handle(self, name: str, depth: int) -> Variable:
        self.skip_blank()
        first = self.line()
        if first is None:
            raise self.fail("a function handle ends the file early", name)
        if first.strip() == "@<anonymous>":
            self.line()  # the function's text
        else:
            line: str | None = first
            while line is not None and line.lstrip().startswith("#"):
                line = self.line()  # '# octaveroot:', '# subtype:', ... then the name
        saved = self.pos
        self.skip_blank()
        found = _KEYWORD.match((self.peek() or "").strip())
        if found and found.group(1) == "length":
            for _ in range(self.count("length", name)):
                self.element(None, name, depth)
        else:
            self.pos = saved
        return Variable(name, "function_handle", (1, 1), file=self.path)

    def check_expansion(self, count: int, name: str) -> None:
        if count > MAX_EXPANDED_ELEMENTS:
            msg = (
                f"expanding it to a full array would take {count} elements, more than bridge "
                f"allows ({MAX_EXPANDED_ELEMENTS}); save it as full(...) in a MAT-file"
            )
            raise self.fail(msg, name)


def _clip(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _nan(token: str) -> str:
    return "nan" if token in ("NA", "-NA") else token


_CHUNK_CHARS = 1 << 20  # values are converted a megabyte of text at a time: bounded overhead


def _values(region, count: int, cls: str, is_complex: bool, fail) -> np.ndarray:
    """``count`` values of a class from the text of a block: exactly that many, or an error.

    ``region`` is the block's text, or (text, start, end) to read it in place. The text is
    converted a chunk of whole lines at a time, so the memory beyond the result stays small,
    and a block holding more values than announced fails before the rest is converted.
    """
    text, start, end = (region, 0, len(region)) if isinstance(region, str) else region
    parts, found = [], 0
    per_value = 2 if is_complex else 1
    pos = start
    while pos < end:
        stop = min(end, pos + _CHUNK_CHARS)
        if stop < end:
            newline = text.find("\n", stop, end)
            stop = end if newline < 0 else newline + 1
        piece = text[pos:stop]
        pos = stop
        if is_complex:
            pairs = piece.count("(")
            tokens = piece.replace("(", " ").replace(")", " ").replace(",", " ").split()
            if len(tokens) != 2 * pairs or piece.count(")") != pairs:
                raise fail(f"expected {count} complex values '(re,im)'")
        else:
            tokens = piece.split()
        found += len(tokens) // per_value
        if found > count:
            break
        if tokens:
            parts.append(_convert(tokens, cls, is_complex, "NA" in piece, fail))
    if found != count:
        what = "complex values '(re,im)'" if is_complex else "values"
        shown = f"more than {count}" if found > count else str(found)
        raise fail(f"expected {count} {what}, found {shown}")
    if not parts:
        if is_complex:
            dtype = np.dtype(np.complex64 if cls == "single" else np.complex128)
        else:
            dtype = _dtype_of(cls)
        return np.zeros(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _dtype_of(cls: str) -> np.dtype:
    types: dict[str, type[np.generic]] = {
        "double": np.float64,
        "single": np.float32,
        "logical": np.bool_,
    }
    return np.dtype(types.get(cls, cls))


def _convert(tokens: list[str], cls: str, is_complex: bool, has_na: bool, fail) -> np.ndarray:
    numbers: np.ndarray | None  # integers: None where a token is not one
    if cls in ("double", "single") or is_complex:
        if has_na:
            tokens = [_nan(t) for t in tokens]
        try:
            numbers = np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise fail(f"'{_clip(bad)}' is not a number") from None
        if is_complex:
            out = np.empty(
                len(tokens) // 2, dtype=np.complex64 if cls == "single" else np.complex128
            )
            with np.errstate(over="ignore"):  # beyond single's range: +-Inf, no warning
                out.real, out.imag = numbers[0::2], numbers[1::2]
            return out
        return to_dtype(numbers, np.dtype(np.float32)) if cls == "single" else numbers
    low, high = _INT_RANGES.get(cls, (0, 1))
    wide = np.uint64 if cls == "uint64" else np.int64
    try:
        numbers = np.array(tokens, dtype=str).astype(wide)
    except (ValueError, OverflowError):
        numbers = None
    if numbers is None or (numbers.size and (numbers.min() < low or numbers.max() > high)):
        bad = next(t for t in tokens if not _in_range(t, low, high))
        what = "0 or 1" if cls == "logical" else f"an {cls} value ({low}..{high})"
        raise fail(f"'{_clip(bad)}' is not {what}") from None
    if cls == "logical":
        return numbers != 0
    return numbers.astype(cls)


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _in_range(token: str, low: int, high: int) -> bool:
    try:
        return low <= int(token) <= high
    except ValueError:
        return False


def _matlab(size: tuple[int, ...]) -> tuple[int, ...]:
    size = tuple(size)
    while len(size) > 2 and size[-1] == 1:
        size = size[:-1]
    return size


def _variable(name: str, cls: str, is_complex: bool, data: np.ndarray, path: str) -> Variable:
    size = _matlab(data.shape)
    return Variable(name, cls, size, is_complex, data.reshape(size, order="F"), path)


def _char(name: str, codes: np.ndarray, path: str) -> Variable:
    size = _matlab(codes.shape)
    return Variable(name, "char", size, data=codes.reshape(size, order="F"), file=path)


# --- Octave's range arithmetic (liboctave/array/Range.cc), so 0:0.1:1 has Octave's length ------

_CT = 3 * np.finfo(np.float64).eps


def _tfloor(x: float, ct: float) -> float:
    q = 1.0 if x >= 0 else 1.0 - ct
    rmax = q / (2.0 - ct)
    t1 = 1.0 + np.floor(x)
    t1 = (ct / q) * (-t1 if t1 < 0 else t1)
    t1 = min(rmax, t1)
    t1 = max(ct, t1)
    t1 = float(np.floor(x + t1))
    if x <= 0 or (t1 - x) < rmax:
        return t1
    return t1 - 1


def _teq(u: float, v: float, ct: float = _CT) -> bool:
    return abs(u - v) < max(abs(u), abs(v)) * ct


def _range_numel(base: float, limit: float, inc: float) -> int:
    if not (np.isfinite(base) and np.isfinite(inc)) or np.isnan(limit):
        return -1
    if np.isinf(limit) and ((inc > 0 and limit > 0) or (inc < 0 and limit < 0)):
        return MAX_EXPANDED_ELEMENTS + 1
    if inc == 0 or (inc > 0 and base > limit) or (inc < 0 and base < limit):
        return 0
    tmp = _tfloor((limit - base + inc) / inc, _CT)
    n = int(tmp) if tmp > 0 else 0
    if n > MAX_EXPANDED_ELEMENTS:
        return n
    if not _teq(base + (n - 1) * inc, limit):
        if _teq(base + (n - 2) * inc, limit):
            n -= 1
        elif _teq(base + n * inc, limit):
            n += 1
    return n


def _range_final(base: float, limit: float, inc: float, count: int) -> float:
    final = base + (count - 1) * inc
    if (inc > 0 and final >= limit) or (inc < 0 and final <= limit):
        final = limit
    if float(base).is_integer() and float(inc).is_integer():
        final = round(final)
    return final


def read(path: str, **_options) -> tuple[list[Variable], dict[str, str]]:
    """Variables of an Octave text file; op/shape stay char variables (the caller takes them)."""
    with open(path, encoding="latin-1", newline="") as f:
        text = f.read()  # latin-1: one character per byte, whatever the bytes
    if "\x00" in text:
        raise FileFormatError("holds binary data (NUL bytes): not Octave's text format").where(
            file=path
        )
    parser = _Parser(text, path)
    return parser.variables(), {}
