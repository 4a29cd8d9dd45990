"""Bridge text files (.txt): several named arrays and the request, lossless, in plain text.

The format is made for MATLAB's ``fprintf`` on the way in and ``load``/``sscanf`` on the way out::

    % op conv2                      request lines: '% op VALUE', '% shape VALUE'
    % shape same
    % A double 3 2                  array header: '% NAME CLASS [complex] SIZE...' (>= 2 sizes)
    1 2                             size(A,1) rows of prod(size(A,2:end)) numbers:
    3 4                             the rows of reshape(A, size(A,1), [])  (MATLAB column-major)
    5 6
    % B single complex 1 2          complex: the real rows, then as many imaginary rows
    0.100000001 2
    -1 NaN

* Lines starting with '%' are MATLAB comments, so ``load('out.txt', '-ascii')`` reads a file
  holding one real matrix directly; other '%' lines are comments; blank lines are ignored.
* CLASS is double, single, int8..uint64 or logical; numbers as fprintf writes them: %.17g for
  double and %.9g for single (both round-trip exactly), %d/%u for integers, 0/1 for logical,
  and NaN, Inf, -Inf. An empty array (a 0 in its size) has no rows.
* Numbers are separated by spaces or tabs, or by commas as dlmwrite writes them (one number
  between each two commas). Only the number syntax MATLAB writes is read: digits with an optional
  point and exponent, NaN, Inf (Python's float() would also take '1_0', '１' or 'infinity').
* A UTF-8 byte order mark at the start is ignored. Sizes are checked against the rows the file
  holds before anything is allocated, and names are looked up in a dict: reading takes time
  linear in the file.
* A file without headers is an error: bridge cannot know names, classes or N-D sizes.

matlab/bridge_write_text.m and matlab/bridge_read_text.m write and read it from MATLAB and Octave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from math import prod

import numpy as np

from bridge._formats.classes import (
    NUMERIC_DTYPES,
    REQUEST_FIELDS,
    Variable,
    class_dtype,
    class_of,
    is_identifier,
)
from bridge.errors import FileFormatError, UsageError

FORMAT_HELP = (
    "a bridge text file has a header '% NAME CLASS [complex] SIZE...' before the rows of each "
    "array (see bridge's docs/job-files.md)"
)
HEADER_COMMENT = (
    "% bridge text: '% NAME CLASS [complex] SIZE', then the rows of reshape(X, size(X,1), [])\n"
)
_NUMBER_FORMATS = {"double": "%.17g", "single": "%.9g", "logical": "%d"}
_CHUNK_ROWS = 4096  # rows formatted per write: bounded memory for large results


# Only the number syntax MATLAB's fprintf writes (and sscanf reads): decimal digits with an
# optional point and exponent, NaN and Inf; no underscores, hex or Unicode digits, which Python's
# float() and int() would take.
_FLOAT = r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[Nn][Aa][Nn]|[Ii][Nn][Ff])"
_INTEGER = r"[+-]?[0-9]+"
# Fast check of a whole block: with only these characters, what float() and int() accept is
# exactly the syntax above (underscores, Unicode digits, 'infinity' need other characters).
_ALPHABET = {
    "float": re.compile(r"[^0-9+\-.eEnNaAiIfF ]", re.ASCII),
    "integer": re.compile(r"[^0-9+\- ]", re.ASCII),
}
_ONE = {
    kind: re.compile(pattern, re.ASCII)
    for kind, pattern in (("float", _FLOAT), ("integer", _INTEGER))
}
_SIZE = re.compile(r"[0-9]{1,20}", re.ASCII)
# MATLAB's largest array has 2^48-1 elements; numpy at most 32 dimensions (64 in numpy 2).
MAX_ELEMENTS = 2**48 - 1
MAX_DIMS = 32


@dataclass
class _Block:
    name: str
    matlab_class: str
    is_complex: bool
    size: tuple[int, ...]
    line: int
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.blocks: dict[str, _Block] = {}
        self.last: _Block | None = None
        self.request: dict[str, str] = {}

    def fail(self, message: str, line: int | None = None, variable: str | None = None):
        where = f"line {line}: " if line else ""
        return FileFormatError(where + message).where(file=self.path, variable=variable)

    def feed(self, number: int, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            return
        if not stripped.startswith("%"):
            if self.last is None:
                msg = f"numbers before any array header; {FORMAT_HELP}"
                raise self.fail(msg, number)
            block = self.last
            fields = self._fields(number, stripped)
            rows, cols = block.size[0], prod(block.size[1:])
            # Checked as the rows come: a block never holds more than its header announces.
            if len(fields) != cols:
                msg = f"expected {cols} numbers, found {len(fields)}"
                raise self.fail(msg, number, block.name)
            if len(block.rows) >= rows * (2 if block.is_complex else 1) * (cols > 0):
                msg = self._row_count(block, f"more (line {number} is one too many)")
                raise self.fail(msg, variable=block.name)
            block.rows.append((number, fields))
            return
        tokens = stripped[1:].split()
        if tokens and tokens[0] in REQUEST_FIELDS:
            if len(tokens) != 2:
                raise self.fail(f"a request line is '% {tokens[0]} VALUE'", number)
            self.request[tokens[0]] = tokens[1]
        elif len(tokens) >= 2 and tokens[1] in NUMERIC_DTYPES:
            block = self._header(number, tokens)
            self.blocks[block.name] = self.last = block
        elif len(tokens) >= 3 and is_identifier(tokens[0]) and _all_sizes(tokens[2:]):
            msg = (
                f"class '{tokens[1]}' of '{tokens[0]}' is not supported in text files; "
                f"must be one of {', '.join(NUMERIC_DTYPES)}"
            )
            raise self.fail(msg, number)
        # any other '%' line is a comment

    def _fields(self, number: int, row: str) -> list[str]:
        """The numbers of a row: separated by spaces or tabs, or by commas (as dlmwrite writes)."""
        if "," not in row:
            return row.split()
        fields = [f.strip() for f in row.split(",")]
        if any(not f or len(f.split()) != 1 for f in fields):
            msg = "a row separated by commas must have one number between each two commas"
            raise self.fail(msg, number, self.last.name if self.last else None)
        return fields

    def _header(self, number: int, tokens: list[str]) -> _Block:
        name, cls, rest = tokens[0], tokens[1], tokens[2:]
        if not is_identifier(name):
            raise self.fail(f"'{name}' is not a valid MATLAB variable name", number)
        if name in self.blocks:
            raise self.fail(f"'{name}' is defined twice", number)
        is_complex = bool(rest) and rest[0] == "complex"
        sizes = rest[1:] if is_complex else rest
        if len(sizes) < 2 or not _all_sizes(sizes):
            msg = f"the header of '{name}' needs a size (2 or more integers): '% {name} {cls} 3 2'"
            raise self.fail(msg, number)
        size = tuple(int(s) for s in sizes)
        nonzero = prod(s for s in size if s)
        if len(size) > MAX_DIMS or max(size) > MAX_ELEMENTS or nonzero > MAX_ELEMENTS:
            msg = (
                f"the size {' x '.join(sizes)} of '{name}' is beyond MATLAB's limits "
                f"(at most {MAX_DIMS} dimensions and 2^48-1 elements)"
            )
            raise self.fail(msg, number)
        return _Block(name, cls, is_complex, size, number)

    @staticmethod
    def _row_count(block: _Block, found: str) -> str:
        rows, cols = block.size[0], prod(block.size[1:])
        expected = rows * (2 if block.is_complex else 1) if rows * cols else 0
        return (
            f"the header on line {block.line} announces {expected} rows of {cols} numbers "
            f"({'x'.join(map(str, block.size))}{' complex' if block.is_complex else ''}), "
            f"found {found}"
        )

    def variable(self, block: _Block) -> Variable:
        # Sizes are checked against the rows the file holds before anything is allocated.
        rows, cols = block.size[0], prod(block.size[1:])
        expected = rows * (2 if block.is_complex else 1) if rows * cols else 0
        if len(block.rows) != expected:
            msg = self._row_count(block, f"{len(block.rows)} rows")
            raise self.fail(msg, variable=block.name)
        for number, row in block.rows:
            if len(row) != cols:
                raise self.fail(f"expected {cols} numbers, found {len(row)}", number, block.name)
        values = self._numbers(block).reshape(expected, cols)
        block.rows = []  # the text of the numbers is no longer needed
        if block.is_complex:
            both = np.zeros((rows, cols), dtype=class_dtype(block.matlab_class, True))
            if expected:  # real rows, then imaginary rows
                both.real, both.imag = values[:rows], values[rows:]
            values = both
        data = values.reshape(block.size, order="F")
        return Variable(
            block.name, block.matlab_class, block.size, block.is_complex, data, self.path
        )

    def _numbers(self, block: _Block) -> np.ndarray:
        tokens = [t for _, row in block.rows for t in row]
        cls = block.matlab_class
        kind = "float" if cls in ("double", "single") else "integer"
        if not _ALPHABET[kind].search(" ".join(tokens)):
            try:
                return _convert(tokens, cls)
            except (ValueError, OverflowError):
                pass
        for number, row in block.rows:  # slow path, only to name the culprit
            for token in row:
                if not _ONE[kind].fullmatch(token):
                    what = "an integer" if kind == "integer" else "a number"
                    msg = f"'{token}' is not {what} as MATLAB writes it (class {cls})"
                    raise self.fail(msg, number, block.name)
                try:
                    _convert([token], cls)
                except (ValueError, OverflowError):
                    msg = f"'{token}' does not fit {cls} ({_RANGES.get(cls, '')})"
                    raise self.fail(msg, number, block.name) from None
        raise AssertionError("unreachable: the block failed to convert but every token converts")


_RANGES = {"logical": "0 or 1"} | {
    cls: f"{np.iinfo(dtype).min}..{np.iinfo(dtype).max}"
    for cls, dtype in NUMERIC_DTYPES.items()
    if dtype.kind in "iu"
}


def _all_sizes(tokens: list[str]) -> bool:
    return all(_SIZE.fullmatch(t) for t in tokens)


def _convert(tokens: list[str], cls: str) -> np.ndarray:
    if cls in ("double", "single"):
        # Read as double then round to single, as MATLAB's sscanf + single() does; %.9g text
        # of a single comes back exactly.
        # (beyond single's range: +-Inf, as single() gives, without numpy's overflow warning)
        with np.errstate(over="ignore"):
            return np.array(tokens, dtype=np.float64).astype(NUMERIC_DTYPES[cls])
    # Integers straight from their digits: int64/uint64 beyond 2^53 stay exact.
    digits = np.array(tokens, dtype=str)
    if cls != "logical":
        return digits.astype(NUMERIC_DTYPES[cls])
    values = digits.astype(np.int8)
    if np.any((values != 0) & (values != 1)):
        raise ValueError("logical values are 0 or 1")
    return values.astype(bool)


def read(path: str, **_options):
    """Variables and request of a bridge text file."""
    parser = _Parser(path)
    try:
        # utf-8-sig: a byte order mark (Windows editors write one) is not part of the text
        with open(path, encoding="utf-8-sig", newline=None) as f:
            for number, line in enumerate(f, 1):
                parser.feed(number, line)
    except UnicodeDecodeError as e:
        raise FileFormatError(
            f"is not text (invalid UTF-8 at byte {e.start}); {FORMAT_HELP}"
        ).where(file=path) from e
    if not parser.blocks and not parser.request:
        raise parser.fail(f"holds no arrays; {FORMAT_HELP}")
    return [parser.variable(b) for b in parser.blocks.values()], parser.request


def write(path: str, arrays: dict[str, np.ndarray], request: dict[str, str], **_options) -> None:
    """A bridge text file: a comment naming the format, request lines, then each array."""
    for key, value in request.items():
        if not value or len(value.split()) != 1:
            raise UsageError(
                f"the {key} '{value}' cannot be written to a text file (one word expected)"
            )
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER_COMMENT)
        for key, value in request.items():
            f.write(f"% {key} {value}\n")
        for name, array in arrays.items():
            _write_array(f, name, array)


def _write_array(f, name: str, array: np.ndarray) -> None:
    cls, is_complex = class_of(array)
    size = array.shape
    f.write(f"% {name} {cls}{' complex' if is_complex else ''} {' '.join(map(str, size))}\n")
    if array.size == 0:
        return
    matrix = array.reshape(size[0], -1, order="F")
    number = _NUMBER_FORMATS.get(cls, "%d")
    row = " ".join([number] * matrix.shape[1]) + "\n"
    for part in (matrix.real, matrix.imag) if is_complex else (matrix,):
        for start in range(0, part.shape[0], _CHUNK_ROWS):
            chunk = "".join(row % tuple(r) for r in part[start : start + _CHUNK_ROWS].tolist())
            if cls in ("double", "single"):
                # Python writes nan/inf; MATLAB's and Octave's readers want NaN/Inf.
                chunk = chunk.replace("nan", "NaN").replace("inf", "Inf")
            f.write(chunk)
