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
* A file without headers is an error: bridge cannot know names, classes or N-D sizes.

matlab/bridge_write_text.m and matlab/bridge_read_text.m write and read it from MATLAB and Octave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

import numpy as np

from bridge.errors import FileFormatError, UsageError
from bridge.formats.classes import (
    NUMERIC_DTYPES,
    REQUEST_FIELDS,
    Variable,
    class_dtype,
    class_of,
    is_identifier,
)

FORMAT_HELP = (
    "a bridge text file has a header '% NAME CLASS [complex] SIZE...' before the rows of each "
    "array (see 'Job files' in bridge's README)"
)
HEADER_COMMENT = (
    "% bridge text: '% NAME CLASS [complex] SIZE', then the rows of reshape(X, size(X,1), [])\n"
)
_NUMBER_FORMATS = {"double": "%.17g", "single": "%.9g", "logical": "%d"}
_CHUNK_ROWS = 4096  # rows formatted per write: bounded memory for large results


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
        self.blocks: list[_Block] = []
        self.request: dict[str, str] = {}

    def fail(self, message: str, line: int | None = None, variable: str | None = None):
        where = f"line {line}: " if line else ""
        return FileFormatError(where + message).where(file=self.path, variable=variable)

    def feed(self, number: int, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            return
        if not stripped.startswith("%"):
            if not self.blocks:
                msg = f"numbers before any array header; {FORMAT_HELP}"
                raise self.fail(msg, number)
            self.blocks[-1].rows.append((number, stripped.split()))
            return
        tokens = stripped[1:].split()
        if tokens and tokens[0] in REQUEST_FIELDS:
            if len(tokens) != 2:
                raise self.fail(f"a request line is '% {tokens[0]} VALUE'", number)
            self.request[tokens[0]] = tokens[1]
        elif len(tokens) >= 2 and tokens[1] in NUMERIC_DTYPES:
            self.blocks.append(self._header(number, tokens))
        elif len(tokens) >= 3 and is_identifier(tokens[0]) and _all_sizes(tokens[2:]):
            msg = (
                f"class '{tokens[1]}' of '{tokens[0]}' is not supported in text files; "
                f"must be one of {', '.join(NUMERIC_DTYPES)}"
            )
            raise self.fail(msg, number)
        # any other '%' line is a comment

    def _header(self, number: int, tokens: list[str]) -> _Block:
        name, cls, rest = tokens[0], tokens[1], tokens[2:]
        if not is_identifier(name):
            raise self.fail(f"'{name}' is not a valid MATLAB variable name", number)
        if any(b.name == name for b in self.blocks):
            raise self.fail(f"'{name}' is defined twice", number)
        is_complex = bool(rest) and rest[0] == "complex"
        sizes = rest[1:] if is_complex else rest
        if len(sizes) < 2 or not _all_sizes(sizes):
            msg = f"the header of '{name}' needs a size (2 or more integers): '% {name} {cls} 3 2'"
            raise self.fail(msg, number)
        return _Block(name, cls, is_complex, tuple(int(s) for s in sizes), number)

    def variable(self, block: _Block) -> Variable:
        rows, cols = block.size[0], prod(block.size[1:])
        expected = rows * (2 if block.is_complex else 1) if rows * cols else 0
        if len(block.rows) != expected:
            msg = (
                f"the header on line {block.line} announces {expected} rows of {cols} numbers "
                f"({'x'.join(map(str, block.size))}{' complex' if block.is_complex else ''}), "
                f"found {len(block.rows)} rows"
            )
            raise self.fail(msg, variable=block.name)
        for number, row in block.rows:
            if len(row) != cols:
                raise self.fail(f"expected {cols} numbers, found {len(row)}", number, block.name)
        values = self._numbers(block).reshape(expected, cols)
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
        try:
            return _convert(tokens, cls)
        except (ValueError, OverflowError):
            pass
        for number, row in block.rows:  # slow path, only to name the culprit
            for token in row:
                try:
                    _convert([token], cls)
                except (ValueError, OverflowError):
                    msg = f"'{token}' is not {_value_words(cls)}"
                    raise self.fail(msg, number, block.name) from None
        raise AssertionError("unreachable: the block failed to convert but every token converts")


def _value_words(cls: str) -> str:
    """What a value of a class must be, in words: 'an int8 value (-128..127)'."""
    if cls == "logical":
        return "0 or 1 (logical)"
    if cls in ("double", "single"):
        return f"a number ({cls})"
    info = np.iinfo(NUMERIC_DTYPES[cls])
    article = "an" if cls.startswith("i") else "a"
    return f"{article} {cls} value ({info.min}..{info.max})"


def _all_sizes(tokens: list[str]) -> bool:
    return all(t.isdigit() for t in tokens)


def _convert(tokens: list[str], cls: str) -> np.ndarray:
    if cls in ("double", "single"):
        # Read as double then round to single, as MATLAB's sscanf + single() does; %.9g text
        # of a single comes back exactly.
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
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise FileFormatError(
            f"is not text (invalid UTF-8 at byte {e.start}); {FORMAT_HELP}"
        ).where(file=path) from e
    parser = _Parser(path)
    for number, line in enumerate(text.splitlines(), 1):
        parser.feed(number, line)
    if not parser.blocks and not parser.request:
        raise parser.fail(f"holds no arrays; {FORMAT_HELP}")
    return [parser.variable(b) for b in parser.blocks], parser.request


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
