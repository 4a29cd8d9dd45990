"""bridge's own MAT v5 (v6/v7) reader and writer: bounds-checked, numpy only.

Job files come from anywhere, so no third-party reader ever sees one: scipy.io.loadmat crashes
(segfaults, heap corruption) on some malformed files. This reader checks every size against what
the file holds before it allocates or reads anything:

* the 128-byte header, then each variable's 8-byte tag: its size must lie within the file, and
  only then is the variable read (numeric data by ``readinto`` into the buffer that numpy then
  views: no extra copy);
* compressed variables (miCOMPRESSED) inflate incrementally (``zlib.decompressobj`` with
  ``max_length``): never past the size their inner tag declares, and, for arrays, never past
  what their class and dimensions can hold, so a zlib bomb is refused after its first bytes;
* full numeric and logical arrays, real or complex, of any number of dimensions: the data must
  be of a numeric type and hold exactly prod(dims) values (the stored type may be narrower or
  wider than the class; the values are converted with MATLAB's rules, see
  :func:`bridge._formats.classes.to_class`); the complex flag needs its imaginary part;
* char arrays (UTF-8, UTF-16 or 8-bit codes);
* sparse matrices become full: row indices, column starts and counts are checked first;
* cells, structs, objects, function handles and opaque objects (MATLAB's string, table, ...):
  their class and size come from their headers, and their contents, which a job never computes
  with, are not interpreted at all (so no nesting depth to exhaust); compressed ones are inflated
  in bounded chunks and discarded, to check they are whole.

Anything else is a :class:`Malformed` error whose message says what is wrong and where.

The writer writes what ``scipy.io.savemat(format='5', oned_as='column')`` writes, byte for byte
but for the time in the header: numeric, logical and char arrays, zlib-compressed on request.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from dataclasses import dataclass
from math import prod
from typing import Literal

import numpy as np

from bridge._formats.classes import MAX_CHAR_CODE, class_dtype, size_problem, to_class

# Data types of data elements.
miINT8, miUINT8, miINT16, miUINT16, miINT32, miUINT32 = 1, 2, 3, 4, 5, 6
miSINGLE, miDOUBLE, miINT64, miUINT64 = 7, 9, 12, 13
miMATRIX, miCOMPRESSED, miUTF8, miUTF16, miUTF32 = 14, 15, 16, 17, 18

_NUMERIC_TYPES: dict[int, np.dtype] = {
    miINT8: np.dtype("<i1"),
    miUINT8: np.dtype("<u1"),
    miINT16: np.dtype("<i2"),
    miUINT16: np.dtype("<u2"),
    miINT32: np.dtype("<i4"),
    miUINT32: np.dtype("<u4"),
    miSINGLE: np.dtype("<f4"),
    miDOUBLE: np.dtype("<f8"),
    miINT64: np.dtype("<i8"),
    miUINT64: np.dtype("<u8"),
}
# mxCLASS of the array flags -> MATLAB class.
mxCELL, mxSTRUCT, mxOBJECT, mxCHAR, mxSPARSE = 1, 2, 3, 4, 5
mxFUNCTION, mxOPAQUE = 16, 17
_CLASSES = {
    6: "double",
    7: "single",
    8: "int8",
    9: "uint8",
    10: "int16",
    11: "uint16",
    12: "int32",
    13: "uint32",
    14: "int64",
    15: "uint64",
}
_CONTAINERS = {
    mxCELL: "cell",
    mxSTRUCT: "struct",
    mxOBJECT: "object",
    mxFUNCTION: "function_handle",
}
_DTYPES = {name: class_dtype(name).newbyteorder("<") for name in _CLASSES.values()}
_COMPLEX_FLAG, _LOGICAL_FLAG = 0x0800, 0x0200
_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9_]{0,62}\Z")
_TAG = struct.Struct("<II")
_Order = Literal["<", ">"]  # the file's byte order, as struct and numpy write it
_ORDERS: dict[bytes, _Order] = {b"IM": "<", b"MI": ">"}  # the header's endian indicator

# How much of a variable is read (or inflated) before its header is parsed: flags, dims, name
# and, for objects, the class name. A header larger than this is refused.
_HEAD_BYTES = 1 << 16
_CHUNK = 1 << 20  # inflation step: memory per step of a compressed variable's check
MAX_DIMS = 32  # numpy's limit (numpy 1.x; 64 in numpy 2)


class Malformed(Exception):
    """The file is not a well-formed MAT-file; the message says what is wrong and where.

    ``variable``: the variable's name when the message is about its values alone (the file is
    well formed, its values are not what MATLAB holds)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


@dataclass
class Found:
    """One variable: its name, MATLAB class, MATLAB dims, complexity and values.

    ``data`` has the stored dims (Fortran order) and the numpy dtype of the class; a char
    variable's data holds the character codes as uint32; ``None`` for cells, structs, objects.
    """

    name: str
    matlab_class: str
    dims: tuple[int, ...]
    is_complex: bool
    data: np.ndarray | None
    sparse: bool = False


# --- reading ----------------------------------------------------------------------------------


def read(path: str) -> list[Found]:
    """The variables of a MAT v5 file; Malformed (or OSError, MemoryError) if it cannot be."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = f.read(128)
        if len(header) < 128 or not header.startswith(b"MATLAB"):
            raise Malformed("truncated: shorter than the 128-byte MAT-file header")
        order = _ORDERS.get(header[126:128])
        if order is None or int.from_bytes(header[124:126], _ENDIAN[order]) != 0x0100:
            raise Malformed("the header is not that of a MAT-file v5/v6/v7")
        found: dict[str, Found] = {}
        pos = 128
        while pos < size:
            if size - pos < 8:
                raise Malformed(f"truncated: {size - pos} stray bytes at byte {pos}")
            mdtype, nbytes = _tag(f.read(8), order)
            where = f"variable at byte {pos}"
            if nbytes > size - pos - 8:
                raise Malformed(
                    f"truncated: the {where} declares {nbytes} bytes, the file has "
                    f"{size - pos - 8} after its tag"
                )
            if mdtype == miCOMPRESSED:
                variable = _Inflated(f, nbytes, order, where).variable()
            elif mdtype == miMATRIX:
                variable = _Plain(f, nbytes, order, where).variable()
            else:
                raise Malformed(f"the {where} is a data element of type {mdtype}, not an array")
            pos += 8 + nbytes
            f.seek(pos)
            # Names starting with '_' or empty are not MATLAB variables (the subsystem data of
            # objects and function handles); a later variable of the same name wins, as in load.
            if variable is not None and variable.name and not variable.name.startswith("_"):
                found.pop(variable.name, None)
                found[variable.name] = variable
        return list(found.values())


_ENDIAN: dict[_Order, Literal["little", "big"]] = {"<": "little", ">": "big"}


def _tag(data: bytes, order: _Order) -> tuple[int, int]:
    if len(data) < 8:
        raise Malformed("truncated inside a data element's tag")
    first, second = struct.unpack(order + "II", data)
    return first, second


class _Source:
    """One variable's bytes, read or inflated on demand up to its declared size."""

    def __init__(self, order: _Order, where: str) -> None:
        self.order = order
        self.where = where

    def variable(self) -> Found | None:
        head = self.head()
        header = _Header.parse(head, self.order, self.where)
        if header.needs_data:
            buf = self.whole(header.bound)
            return header.read(buf)
        self.skip()
        return header.found()

    def head(self) -> memoryview:  # the first bytes of the element's contents (after its tag)
        raise NotImplementedError

    def whole(self, bound: int) -> memoryview:  # all of its contents
        raise NotImplementedError

    def skip(self) -> None:  # check the rest is whole, without keeping it
        raise NotImplementedError


class _Plain(_Source):
    def __init__(self, f, nbytes: int, order: _Order, where: str) -> None:
        super().__init__(order, where)
        self.f, self.nbytes = f, nbytes
        self.start = f.tell()

    def head(self) -> memoryview:
        return memoryview(self.f.read(min(self.nbytes, _HEAD_BYTES)))

    def whole(self, bound: int) -> memoryview:
        if self.nbytes > bound:
            raise Malformed(f"the {self.where} declares {self.nbytes} bytes, more than its array")
        # One read into the buffer numpy will view: uncompressed data is never copied again.
        buf = np.empty(self.nbytes, np.uint8)
        self.f.seek(self.start)
        if self.f.readinto(buf.data) != self.nbytes:
            raise Malformed(f"truncated inside the {self.where}")
        return buf.data

    def skip(self) -> None:
        pass  # the caller seeks past it; its size is within the file


class _Inflated(_Source):
    """A miCOMPRESSED variable: a zlib stream holding one miMATRIX element."""

    def __init__(self, f, nbytes: int, order: _Order, where: str) -> None:
        super().__init__(order, f"compressed {where}")
        self.f, self.left = f, nbytes
        self.inflater = zlib.decompressobj()
        self.pending = b""
        self.total: int | None = None  # the inner element's declared contents size (head())
        self.done = 0  # contents bytes inflated so far
        self.kept = bytearray()

    def _inflate(self, want: int) -> bytes:
        """Up to ``want`` more inflated bytes (fewer only at the end of the stream)."""
        out = []
        got = 0
        try:
            while got < want and not self.inflater.eof:
                if not self.pending:
                    if not self.left:
                        break
                    self.pending = self.f.read(min(_CHUNK, self.left))
                    if not self.pending:
                        raise Malformed(f"truncated inside the {self.where}")
                    self.left -= len(self.pending)
                part = self.inflater.decompress(self.pending, want - got)
                self.pending = self.inflater.unconsumed_tail
                out.append(part)
                got += len(part)
        except zlib.error as e:
            raise Malformed(f"the {self.where} holds corrupt compressed data ({e})") from None
        return b"".join(out)

    def head(self) -> memoryview:
        tag = self._inflate(8)
        mdtype, nbytes = _tag(tag, self.order) if len(tag) == 8 else (None, 0)
        if mdtype != miMATRIX:
            raise Malformed(f"the {self.where} does not inflate to an array")
        self.total = nbytes
        head = self._inflate(min(nbytes, _HEAD_BYTES))
        self.kept = bytearray(head)
        self.done = len(head)
        if len(head) < min(nbytes, _HEAD_BYTES):
            raise Malformed(f"the {self.where} inflates to less than its declared size")
        return memoryview(head)

    def _finish(self) -> None:
        if self.done != self.total:
            raise Malformed(f"the {self.where} inflates to less than its declared size")
        extra = self._inflate(1)
        if extra:
            raise Malformed(f"the {self.where} inflates to more than its declared size")
        if not self.inflater.eof or self.inflater.unused_data or self.pending or self.left:
            raise Malformed(f"the {self.where} is not one whole zlib stream")

    def whole(self, bound: int) -> memoryview:
        assert self.total is not None  # head() came first
        if self.total > bound:
            raise Malformed(
                f"the {self.where} declares {self.total} bytes, more than its array can hold"
            )
        buf = np.empty(self.total, np.uint8)
        buf[: self.done] = np.frombuffer(self.kept, np.uint8)
        self.kept = bytearray()
        while self.done < self.total:
            part = self._inflate(min(_CHUNK, self.total - self.done))
            if not part:
                break
            buf[self.done : self.done + len(part)] = np.frombuffer(part, np.uint8)
            self.done += len(part)
        self._finish()
        return buf.data

    def skip(self) -> None:
        assert self.total is not None  # head() came first
        while self.done < self.total:
            part = self._inflate(min(_CHUNK, self.total - self.done))
            if not part:
                break
            self.done += len(part)
        self._finish()


def _element(buf: memoryview, pos: int, end: int, order: _Order, what: str):
    """(data type, data, position of the next element) of the data element at ``pos``."""
    if end - pos < 8:
        raise Malformed(f"{what} is missing or truncated")
    first, nbytes = struct.unpack_from(order + "II", buf, pos)
    small = first >> 16  # small data element: count in the upper half, data in the next 4 bytes
    if small:
        if small > 4:
            raise Malformed(f"{what} has a small-element size of {small} bytes (at most 4)")
        return first & 0xFFFF, buf[pos + 4 : pos + 4 + small], pos + 8
    stop = pos + 8 + nbytes
    if stop > end:
        raise Malformed(f"{what} declares {nbytes} bytes, beyond the end of its array")
    return first, buf[pos + 8 : stop], min(pos + 8 + (nbytes + 7) // 8 * 8, end)


def _string(mdtype: int, data: memoryview, what: str) -> str:
    if mdtype not in (miINT8, miUINT8, miUTF8):
        raise Malformed(f"{what} is of data type {mdtype}, not text")
    try:
        return bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise Malformed(f"{what} is not ASCII text") from None


def _numeric(mdtype: int, data: memoryview, count: int, order: _Order, what: str) -> np.ndarray:
    dtype = _NUMERIC_TYPES.get(mdtype)
    if dtype is None:
        raise Malformed(f"{what} is of data type {mdtype}, which is not a numeric type")
    if len(data) != count * dtype.itemsize:
        raise Malformed(
            f"{what} holds {len(data) // dtype.itemsize} values of {dtype.name}; "
            f"the dimensions say {count}"
        )
    return np.frombuffer(data, dtype.newbyteorder(order))


@dataclass
class _Header:
    order: _Order
    where: str
    mxclass: int
    flags: int
    nzmax: int
    dims: tuple[int, ...]
    name: str
    cls: str
    pos: int  # where the data elements start in the contents
    end: int

    @property
    def is_complex(self) -> bool:
        return bool(self.flags & _COMPLEX_FLAG)

    @property
    def is_logical(self) -> bool:
        return bool(self.flags & _LOGICAL_FLAG)

    @property
    def needs_data(self) -> bool:
        return self.mxclass in _CLASSES or self.mxclass in (mxCHAR, mxSPARSE)

    @property
    def bound(self) -> int:
        """The most bytes the contents of an array of these class and dims can take."""
        count = prod(self.dims)
        parts = 2 if self.is_complex else 1
        if self.mxclass == mxSPARSE:
            nnz = self.nzmax + 1
            return self.pos + 3 * 8 + 8 * (nnz + self.dims[-1] + 2) + parts * (8 + 8 * nnz + 8)
        return self.pos + parts * (8 + 8 * count + 8)

    @classmethod
    def parse(cls, head: memoryview, order: _Order, where: str) -> _Header:
        end = len(head)
        mdtype, flags, pos = _element(head, 0, end, order, f"the array flags of the {where}")
        if mdtype != miUINT32 or len(flags) != 8:
            raise Malformed(f"the {where} does not start with array flags")
        word, nzmax = struct.unpack(order + "II", flags)
        mxclass = word & 0xFF
        if mxclass == mxOPAQUE:  # no dims: the name, the type system, the class name
            names = []
            for what in ("name", "type system", "class name"):
                mdtype, data, pos = _element(head, pos, end, order, f"the {what} of the {where}")
                names.append(_string(mdtype, data, f"the {what} of the {where}"))
            return cls(
                order, where, mxclass, word, nzmax, (1, 1), names[0], names[2] or "opaque", pos, end
            )
        mdtype, dims, pos = _element(head, pos, end, order, f"the dimensions of the {where}")
        if mdtype not in (miINT32, miUINT32) or len(dims) % 4 or len(dims) < 8:
            raise Malformed(f"the dimensions of the {where} are not 2 or more int32 values")
        dims = tuple(int(d) for d in np.frombuffer(dims, order + "i4"))
        if min(dims) < 0:  # (as int32: some writers tag them uint32)
            raise Malformed(f"the {where} has a negative dimension {min(dims)}")
        if len(dims) > MAX_DIMS and mxclass in (*_CLASSES, mxCHAR):
            raise Malformed(f"the {where} has {len(dims)} dimensions; at most {MAX_DIMS} are read")
        mdtype, data, pos = _element(head, pos, end, order, f"the name of the {where}")
        name = _string(mdtype, data, f"the name of the {where}")
        where = f"variable '{name}'" if name else where
        if mxclass in (*_CLASSES, mxCHAR, mxSPARSE):
            problem = size_problem(dims)
            if problem is not None:
                raise Malformed(problem, name or None)
        if mxclass in _CLASSES:
            matlab_class = "logical" if word & _LOGICAL_FLAG else _CLASSES[mxclass]
        elif mxclass == mxCHAR:
            matlab_class = "char"
        elif mxclass == mxSPARSE:
            matlab_class = "logical" if word & _LOGICAL_FLAG else "double"
            if len(dims) != 2:
                raise Malformed(f"the sparse {where} has {len(dims)} dimensions")
        elif mxclass == mxOBJECT:
            mdtype, data, pos = _element(head, pos, end, order, f"the class name of the {where}")
            matlab_class = _string(mdtype, data, f"the class name of the {where}") or "object"
        elif mxclass in _CONTAINERS:
            matlab_class = _CONTAINERS[mxclass]
        else:
            raise Malformed(f"the {where} has an unknown class code {mxclass}")
        return cls(order, where, mxclass, word, nzmax, dims, name, matlab_class, pos, end)

    def found(self, data: np.ndarray | None = None) -> Found:
        return Found(self.name, self.cls, self.dims, self.is_complex and data is not None, data)

    def read(self, buf: memoryview) -> Found:
        self.end = len(buf)
        if self.mxclass == mxCHAR:
            data = self._char(buf)
        elif self.mxclass == mxSPARSE:
            data = self._sparse(buf)
        else:
            data = self._full(buf)
        sparse = self.mxclass == mxSPARSE
        return Found(self.name, self.cls, self.dims, self.is_complex, data, sparse)

    def _next(self, buf: memoryview, what: str):
        mdtype, data, self.pos = _element(buf, self.pos, self.end, self.order, what)
        return mdtype, data

    def _no_more(self) -> None:
        if self.pos != self.end:
            raise Malformed(f"the {self.where} has data after its last part")

    def _parts(self, buf: memoryview, count: int, what: str) -> list[np.ndarray]:
        mdtype, data = self._next(buf, f"the {what}values of the {self.where}")
        parts = [_numeric(mdtype, data, count, self.order, f"the {what}data of the {self.where}")]
        if self.is_complex:
            label = f"the imaginary part of the complex {self.where}"
            if self.pos >= self.end:
                raise Malformed(f"{label} is missing")
            mdtype, data = self._next(buf, label)
            parts.append(_numeric(mdtype, data, count, self.order, label))
        return parts

    def _full(self, buf: memoryview) -> np.ndarray:
        if self.is_logical and self.is_complex:
            raise Malformed(f"the {self.where} is flagged both logical and complex")
        parts = self._parts(buf, prod(self.dims), "")
        self._no_more()
        if self.is_complex:
            real_class = self.cls
            values = np.empty(parts[0].shape, class_dtype(self.cls, True))
            values.real = _converted(parts[0], real_class)
            values.imag = _converted(parts[1], real_class)
        else:
            values = _converted(parts[0], self.cls)
        return values.reshape(self.dims, order="F")

    def _char(self, buf: memoryview) -> np.ndarray:
        if self.is_complex or self.is_logical:
            raise Malformed(f"the char {self.where} is flagged complex or logical")
        count = prod(self.dims)
        if count == 0 and self.pos == self.end:
            return np.zeros(self.dims, np.uint32)
        mdtype, data = self._next(buf, f"the text of the {self.where}")
        self._no_more()
        if mdtype == miUTF8:
            text = bytes(data).decode("utf-8", errors="replace")  # as scipy.io does
            codes = np.frombuffer(text.encode("utf-16-le"), "<u2").astype(np.uint32)
        elif mdtype in (miUINT16, miUTF16, miINT16) and len(data) % 2 == 0:
            codes = np.frombuffer(data, self.order + "u2").astype(np.uint32)
        elif mdtype in (miUINT8, miINT8):
            codes = np.frombuffer(data, np.uint8).astype(np.uint32)
        elif mdtype in (miUTF32, miUINT32) and len(data) % 4 == 0:
            codes = np.frombuffer(data, self.order + "u4").astype(np.uint32)
        else:
            raise Malformed(f"the text of the {self.where} is of data type {mdtype}")
        if codes.size != count:
            raise Malformed(
                f"the text of the {self.where} holds {codes.size} characters; "
                f"the dimensions say {count}"
            )
        if codes.size and codes.max() > MAX_CHAR_CODE:
            msg = (
                f"char codes must be UTF-16 code units (0..65535), as MATLAB's char holds "
                f"them; found {int(codes.max())}"
            )
            raise Malformed(msg, self.name)
        return codes.reshape(self.dims, order="F")

    def _indices(self, buf: memoryview, what: str) -> np.ndarray:
        mdtype, data = self._next(buf, f"the {what} of the sparse {self.where}")
        dtype = _NUMERIC_TYPES.get(mdtype)
        if dtype is None or dtype.kind not in "iu":
            raise Malformed(f"the {what} of the sparse {self.where} are not integers")
        if len(data) % dtype.itemsize:
            raise Malformed(f"the {what} of the sparse {self.where} have a partial value")
        return np.frombuffer(data, dtype.newbyteorder(self.order)).astype(np.int64)

    def _sparse(self, buf: memoryview) -> np.ndarray:
        rows, cols = self.dims
        ir = self._indices(buf, "row indices")
        jc = self._indices(buf, "column starts")
        label = f"the sparse {self.where}"
        if jc.size != cols + 1 or jc[0] != 0:
            raise Malformed(f"the column starts of {label} are not {cols + 1} values from 0")
        if np.any(np.diff(jc) < 0) or jc[-1] > ir.size:
            raise Malformed(f"the column starts of {label} decrease or exceed the row indices")
        nnz = int(jc[-1])
        ir = ir[:nnz]
        if nnz and (ir.min() < 0 or ir.max() >= rows):
            raise Malformed(f"a row index of {label} is outside its {rows} rows")
        parts = []
        for part, what in enumerate(("values", "imaginary parts")[: 1 + self.is_complex]):
            if part and self.pos >= self.end:
                raise Malformed(f"the imaginary part of the complex {label} is missing")
            mdtype, data = self._next(buf, f"the {what} of {label}")
            dtype = _NUMERIC_TYPES.get(mdtype)
            if self.is_logical and dtype is not None and len(data) == nnz:
                dtype = np.dtype(np.uint8)  # MATLAB tags logical bytes as doubles here
            if dtype is None or len(data) % dtype.itemsize:
                raise Malformed(f"the {what} of {label} are not numbers (data type {mdtype})")
            values = np.frombuffer(data, dtype.newbyteorder(self.order))
            if values.size < nnz:
                raise Malformed(f"{label} has {values.size} {what} for {nnz} nonzeros")
            parts.append(values[:nnz])
        self._no_more()
        column = np.repeat(np.arange(cols, dtype=np.int64), np.diff(jc))
        if self.is_logical:
            dense = np.zeros((rows, cols), np.bool_)
            nonzero = parts[0] != 0
            dense[ir[nonzero], column[nonzero]] = True
            return dense
        dense = np.zeros((rows, cols), class_dtype("double", self.is_complex))
        # duplicate entries add up, as MATLAB's sparse() and scipy's toarray() do
        np.add.at(dense, (ir, column), parts[0].astype(np.float64))
        if self.is_complex:
            np.add.at(dense, (ir, column), 1j * parts[1].astype(np.float64))
        return dense


def _converted(values: np.ndarray, matlab_class: str) -> np.ndarray:
    """Stored values in the class's dtype, by MATLAB's conversion; writable and aligned."""
    out = to_class(values, matlab_class, False)
    if not out.dtype.isnative:
        out = out.astype(out.dtype.newbyteorder("="))
    if not (out.flags.writeable and out.flags.aligned):
        out = out.copy()
    return out


# --- writing ----------------------------------------------------------------------------------

_MXCLASS_OF = {dtype.str: k for k, dtype in ((k, _DTYPES[c]) for k, c in _CLASSES.items())}
_MTYPE_OF = {dtype.str: k for k, dtype in _NUMERIC_TYPES.items()}


def can_write(contents: dict) -> bool:
    """Whether :func:`write` writes every value (arrays of at least 2-D, non-empty text)."""
    for value in contents.values():
        if isinstance(value, str):
            if not value:
                return False
        elif not isinstance(value, np.ndarray) or value.ndim < 2 or not _writable_dtype(value):
            return False
    return True


def _writable_dtype(array: np.ndarray) -> bool:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.kind == "b":
        return True
    if dtype.kind == "c":
        return dtype.itemsize in (8, 16)
    return dtype.str in _MXCLASS_OF


def write(f, contents: dict, *, compress: bool = False) -> None:
    """Write arrays and texts (request fields) as scipy.io.savemat(format='5') would."""
    description = f"MATLAB 5.0 MAT-file Platform: {os.name}, Created on: {time.asctime()}"
    header = description.encode("latin1")[:116].ljust(116, b"\x00")
    f.write(header + b"\x00" * 8 + (0x0100).to_bytes(2, "little") + b"IM")
    for name, value in contents.items():
        parts = _variable(name, value)
        size = sum(_nbytes(p) for p in parts)
        if compress:
            body = b"".join(p if isinstance(p, bytes) else p.T.tobytes() for p in parts)
            packed = zlib.compress(_TAG.pack(miMATRIX, size) + body)
            f.write(_TAG.pack(miCOMPRESSED, len(packed)))
            f.write(packed)
        else:
            # The data go from the array's memory to the file: no copy into a bytes object.
            f.write(_TAG.pack(miMATRIX, size))
            for p in parts:
                f.write(p if isinstance(p, bytes) else p.T)


def _nbytes(part) -> int:
    return len(part) if isinstance(part, bytes) else part.nbytes


def _variable(name: str, value) -> list:
    """The parts of a miMATRIX element's body: bytes, and arrays in column-major memory order
    (written through their transposes, which are C-contiguous views of the same memory)."""
    parts: list = []
    if isinstance(value, str):
        data = value.encode("utf-8")
        _array_header(parts, name, (1, len(value)), mxCHAR, False, False)
        _data(parts, miUTF8, data)
    else:
        array = value
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        logical = array.dtype.kind == "b"
        is_complex = array.dtype.kind == "c"
        if logical:
            mxclass, parts_of = 9, [array.astype(np.uint8)]
        elif is_complex:
            part = np.dtype("<f4") if array.dtype.itemsize == 8 else np.dtype("<f8")
            mxclass, parts_of = _MXCLASS_OF[part.str], [array.real, array.imag]
        else:
            mxclass, parts_of = _MXCLASS_OF[array.dtype.str], [array]
        _array_header(parts, name, array.shape, mxclass, is_complex, logical)
        for part in parts_of:
            _data(parts, _MTYPE_OF[part.dtype.str], np.asfortranarray(part))
    return parts


def _array_header(parts, name, shape, mxclass, is_complex, logical) -> None:
    flags = mxclass | (is_complex << 3 | logical << 1) << 8
    parts.append(_TAG.pack(miUINT32, 8) + struct.pack("<II", flags, 0))
    _data(parts, miINT32, np.asarray(shape, "<i4").tobytes())
    _data(parts, miINT8, name.encode("ascii"))


def _data(parts: list, mdtype: int, data) -> None:
    """A data element: ``data`` is bytes or a column-major array (kept as it is, not copied)."""
    n = _nbytes(data)
    if n <= 4:
        raw = data if isinstance(data, bytes) else data.T.tobytes()
        parts.append(struct.pack("<I", n << 16 | mdtype) + raw.ljust(4, b"\x00"))
    else:
        parts.append(_TAG.pack(mdtype, n))
        parts.append(data)
        if n % 8:
            parts.append(b"\x00" * (8 - n % 8))
