"""Headerless numeric text: one matrix per file, as MATLAB and Octave write it.

Read: what ``dlmwrite``, ``csvwrite``, ``writematrix``, ``save -ascii`` and ``save -ascii -double``
write: rows of numbers separated by commas, tabs or spaces (a comma may have spaces around it),
``NaN``, ``Inf`` and ``-Inf`` (any case, and Octave's ``NA``), complex numbers as ``dlmwrite``
writes them (``1+2i``). Every row must have the same number of values. An empty field between
commas (``1,,3``, ``1,2,``) is NaN: that is how ``writematrix`` writes NaN and how ``readmatrix``
reads it back (``dlmread`` would read 0). The result is a double matrix (complex when any value
is).

Written: a real 2-D result, one row per line, ``%.17g`` (exact, single results too: read back as
double, they are double(C)), ``NaN``/``Inf``/``-Inf``: commas in a ``.csv`` (``readmatrix``,
``dlmread``, ``csvread``), spaces otherwise (``load -ascii`` as well). An empty result is an empty
file.
"""

from __future__ import annotations

import re

import numpy as np

from bridge._formats.classes import Variable, class_of, size_text
from bridge.errors import FileFormatError, OutputError

_CHUNK_ROWS = 4096


_BATCH = 1 << 16  # values converted at a time: the token lists stay small


def read_matrix(path: str) -> np.ndarray:
    """The matrix in a headerless numeric text file."""
    try:
        with open(path, encoding="latin-1", newline="") as f:
            text = f.read()
    except OSError as e:
        raise FileFormatError(f"cannot be read: {e.strerror or e}").where(file=path) from e
    if text.startswith("\xef\xbb\xbf"):  # a UTF-8 byte-order mark
        text = text[3:]
    parts: list[np.ndarray] = []
    pending: list[str] = []
    lines: list[int] = []  # the line of each row, for error messages
    first_pending_row = 0
    width: int | None = None
    for number, line in enumerate(_lines(text), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "%#":
            continue  # blank lines and comments, as load -ascii skips them
        if "," in stripped:
            # writematrix writes NaN as an empty field, which readmatrix reads as NaN
            tokens = [field.strip() or "NaN" for field in stripped.split(",")]
        else:
            tokens = stripped.split()
        if width is None:
            width = len(tokens)
        elif len(tokens) != width:
            msg = f"{len(tokens)} values where the rows above have {width} (rows must be equal)"
            raise _fail(path, number, msg)
        pending.extend(tokens)
        lines.append(number)
        if len(pending) >= _BATCH:
            parts.append(_convert(pending, path, lines, first_pending_row, width))
            pending, first_pending_row = [], len(lines)
    del text
    if width is None:  # not one row
        raise FileFormatError("holds no numbers").where(file=path)
    if pending:
        parts.append(_convert(pending, path, lines, first_pending_row, width))
    if any(np.iscomplexobj(p) for p in parts):
        parts = [p.astype(np.complex128, copy=False) for p in parts]
    values = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return values.reshape(len(lines), width)


def _lines(text: str):
    """The lines of ``text`` one at a time (io.StringIO would hold 4 bytes per character)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1


def _convert(tokens: list[str], path: str, lines: list[int], row0: int, width: int) -> np.ndarray:
    """Real values of a batch of whole rows; complex ones where any is written as 'a+bi'."""
    try:
        return np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
    except ValueError:
        pass
    values = np.empty(len(tokens), dtype=np.complex128)
    for k, token in enumerate(tokens):
        try:
            values[k] = _complex(token)
        except ValueError:
            line = lines[row0 + k // width]
            raise _fail(path, line, f"'{token[:40]}' is not a number") from None
    if not any(t[-1:] in "ijIJ" and t.lower() not in ("inf", "-inf") for t in tokens):
        return values.real.copy()  # Octave's NA and the like: real after all
    return values


def _complex(token: str) -> complex:
    lowered = token.lower()
    if lowered in ("na", "-na"):
        return complex(np.nan, 0)
    if lowered.endswith(("i", "j")) and not lowered.endswith(("inf", "-inf")):
        head = lowered[:-1]
        # 'a+bi', 'a-bi', 'bi' (dlmwrite's %g for each part)
        for k in range(len(head) - 1, 0, -1):
            if head[k] in "+-" and head[k - 1] != "e":
                return complex(float(head[:k]), float(head[k:]))
        return complex(0.0, float(head))
    return complex(float(lowered), 0.0)


def _fail(path: str, line: int, message: str) -> FileFormatError:
    return FileFormatError(f"line {line}: {message}").where(file=path)


def variable(path: str, name: str) -> Variable:
    data = read_matrix(path)
    return Variable(name, "double", data.shape, bool(np.iscomplexobj(data)), data, path)


def read(path: str, **_options) -> tuple[list[Variable], dict[str, str]]:
    """The file's matrix as one variable named like MATLAB's ``load`` names it (the file's)."""
    return [variable(path, variable_name(path))], {}


def variable_name(path: str) -> str:
    """The name ``load('x.csv')`` gives the matrix: the file's name, made a valid identifier."""
    import os

    stem = os.path.splitext(os.path.basename(path))[0]
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    if not name or not name[0].isalpha():
        name = "X" + name
    return name[:63]


def write(
    path: str, arrays: dict[str, np.ndarray], request: dict[str, str], *, delimiter=",", **_options
) -> None:
    """One real 2-D matrix as delimited text (the request cannot be written: it is ignored)."""
    ((_name, array),) = arrays.items()
    _, is_complex = class_of(array)
    if is_complex or array.ndim != 2:
        kind = f"{'complex ' if is_complex else ''}{size_text(array.shape)}"
        msg = (
            f"a headerless text result holds a real 2-D matrix; this result is {kind}: "
            "write .mat, or the bridge text format ({fmt} text)"
        )
        raise OutputError(msg, arguments=("fmt",))
    if array.size == 0:
        open(path, "w").close()  # an empty result is an empty file
        return
    values = array.astype(np.float64)
    row = delimiter.join(["%.17g"] * array.shape[1]) + "\n"
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for start in range(0, values.shape[0], _CHUNK_ROWS):
            rows = values[start : start + _CHUNK_ROWS].tolist()
            chunk = "".join(row % tuple(r) for r in rows)
            # MATLAB writes NaN (it has no sign), Inf and -Inf
            f.write(chunk.replace("-nan", "nan").replace("nan", "NaN").replace("inf", "Inf"))


def write_spaces(path: str, arrays, request, **options) -> None:
    write(path, arrays, request, delimiter=" ", **options)
