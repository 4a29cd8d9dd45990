"""bridge's own reader of MATLAB 4 MAT-files (``save -v4``): bounds-checked, numpy only.

A v4 file has no file header: each variable is a 20-byte header (MOPT, rows, columns, imaginary
flag, name length), its NUL-terminated name, the real data and, if flagged, the imaginary data,
column-major. MOPT = 1000*M + 100*O + 10*P + T: M is the byte order (0 little-, 1 big-endian;
VAX and Cray formats are refused), O is 0, P the stored type (double, single, int32, int16,
uint16, uint8) and T the kind: 0 full numeric, 1 text, 2 sparse. MATLAB loads every v4 numeric
variable as double, text as char. A sparse variable is stored as an N x 3 (N x 4 if complex)
matrix of 1-based (row, column, value) triplets whose last row holds the size.

Every size is checked against the bytes the file holds before anything is allocated.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from bridge._formats._mat5 import Found, Malformed

_TYPES = {0: "f8", 1: "f4", 2: "i4", 3: "i2", 4: "u2", 5: "u1"}
_MAX_NAME = 4096


def read(path: str) -> list[Found]:
    """The variables of a MAT v4 file; Malformed (or OSError, MemoryError) if it cannot be."""
    found: dict[str, Found] = {}
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos = 0
        while pos < size:
            head = f.read(20)
            where = f"the variable at byte {pos}"
            if len(head) < 20:
                raise Malformed(f"truncated inside the header of {where}")
            mopt, rows, cols, imagf, namelen = _header(head)
            m, o, p, t = mopt // 1000, mopt // 100 % 10, mopt // 10 % 10, mopt % 10
            order = {0: "<", 1: ">"}.get(m)
            if order is None or o != 0 or p not in _TYPES or t > 2 or mopt > 1999:
                raise Malformed(f"{where} has a type code {mopt} that is not MATLAB 4's")
            if order == ">":
                mopt, rows, cols, imagf, namelen = struct.unpack(">5i", head)
            if rows < 0 or cols < 0 or imagf not in (0, 1) or not 0 < namelen <= _MAX_NAME:
                raise Malformed(f"{where} has a malformed header")
            dtype = np.dtype(order + _TYPES[p])
            nbytes = rows * cols * dtype.itemsize * (1 + imagf)
            if 20 + namelen + nbytes > size - pos:
                raise Malformed(
                    f"truncated: {where} needs {20 + namelen + nbytes} bytes, the file has "
                    f"{size - pos}"
                )
            raw = f.read(namelen)
            name = raw.split(b"\x00", 1)[0]
            try:
                text = name.decode("ascii")
            except UnicodeDecodeError:
                raise Malformed(f"the name of {where} is not ASCII text") from None
            where = f"variable '{text}'"
            buf = np.empty(nbytes, np.uint8)
            if f.readinto(buf.data) != nbytes:
                raise Malformed(f"truncated inside {where}")
            values = buf.view(dtype) if nbytes else np.empty(0, dtype)
            count = rows * cols
            real = values[:count].reshape((rows, cols), order="F")
            imag = values[count:].reshape((rows, cols), order="F") if imagf else None
            if t == 0:
                variable = _full(text, real, imag)
            elif t == 1:
                variable = _text(text, real, where)
            else:
                variable = _sparse(text, real, imag, where)
            if text and not text.startswith("_"):
                found.pop(text, None)
                found[text] = variable
            pos += 20 + namelen + nbytes
    return list(found.values())


def _header(head: bytes) -> tuple[int, ...]:
    little = struct.unpack("<5i", head)
    return little if 0 <= little[0] < 1000 else struct.unpack(">5i", head)


def _full(name: str, real: np.ndarray, imag: np.ndarray | None) -> Found:
    if imag is None:
        return Found(name, "double", real.shape, False, real.astype(np.float64, copy=False))
    values = np.empty(real.shape, np.complex128, order="F")
    values.real, values.imag = real, imag
    return Found(name, "double", real.shape, True, values)


def _text(name: str, real: np.ndarray, where: str) -> Found:
    codes = real.astype(np.float64)
    if codes.size and (
        not np.all(np.isfinite(codes))
        or codes.min() < 0
        or codes.max() > 0xFFFF
        or np.any(codes != np.floor(codes))
    ):
        raise Malformed(f"the text {where} holds values that are not character codes")
    return Found(name, "char", real.shape, False, codes.astype(np.uint32))


def _sparse(name: str, real: np.ndarray, imag: np.ndarray | None, where: str) -> Found:
    triplets = real.astype(np.float64)
    n, width = triplets.shape
    if n < 1 or width not in (3, 4) or imag is not None:
        raise Malformed(f"the sparse {where} is not a list of (row, column, value) rows")
    size = triplets[-1, :2]
    if not np.all(np.isfinite(size)) or np.any(size < 0) or np.any(size != np.floor(size)):
        raise Malformed(f"the sparse {where} has a malformed size row")
    rows, cols = (int(s) for s in size)
    if rows >= 2**31 or cols >= 2**31:
        raise Malformed(f"the sparse {where} has a size beyond MATLAB 4's")
    index = triplets[:-1, :2]
    if index.size and (
        not np.all(np.isfinite(index))
        or np.any(index != np.floor(index))
        or index[:, 0].min() < 1
        or index[:, 0].max() > rows
        or index[:, 1].min() < 1
        or index[:, 1].max() > cols
    ):
        raise Malformed(f"a row or column index of the sparse {where} is outside its size")
    is_complex = width == 4
    dense = np.zeros((rows, cols), np.complex128 if is_complex else np.float64)
    i, j = index[:, 0].astype(np.int64) - 1, index[:, 1].astype(np.int64) - 1
    np.add.at(dense, (i, j), triplets[:-1, 2])
    if is_complex:
        np.add.at(dense, (i, j), 1j * triplets[:-1, 3])
    return Found(name, "double", (rows, cols), is_complex, dense)
