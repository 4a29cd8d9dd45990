"""A numpy-only reader and writer for the common MAT v5 (v6/v7) files, so that a small job does
not pay for importing scipy.io (about 0.2 s of every MATLAB call).

The reader covers what job files hold: little-endian files, full numeric (double, single,
int8..uint64) and logical arrays, real or complex, of any number of dimensions (empties too),
char arrays, miCOMPRESSED (zlib) variables and small data elements. The class is the mxCLASS of
the array flags; the stored type may be narrower (MATLAB keeps integer-valued doubles as uint8,
int16, ...) and is cast to the class, as :mod:`bridge.formats.mat` does with scipy's values.
Anything else (sparse, cell, struct, objects, v4 or big-endian files, subsystem data, duplicate
or odd names, and anything unexpected or malformed) makes :func:`read` return ``None``: the
caller then reads the file with scipy.io, so errors and odd files behave exactly as before.

The writer writes what ``scipy.io.savemat(format='5', oned_as='column')`` writes, byte for byte
but for the time in the header: numeric, logical and char arrays, zlib-compressed on request.
"""

from __future__ import annotations

import os
import re
import struct
import time
import zlib
from math import prod

import numpy as np

# Data types of data elements.
miINT8, miUINT8, miINT16, miUINT16, miINT32, miUINT32 = 1, 2, 3, 4, 5, 6
miSINGLE, miDOUBLE, miINT64, miUINT64 = 7, 9, 12, 13
miMATRIX, miCOMPRESSED, miUTF8, miUTF16 = 14, 15, 16, 17

_NUMERIC_TYPES = {
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
# mxCLASS of the array flags -> MATLAB class (numeric classes and char only).
mxCHAR = 4
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
_DTYPES = {
    "double": np.dtype("<f8"),
    "single": np.dtype("<f4"),
    "int8": np.dtype("<i1"),
    "uint8": np.dtype("<u1"),
    "int16": np.dtype("<i2"),
    "uint16": np.dtype("<u2"),
    "int32": np.dtype("<i4"),
    "uint32": np.dtype("<u4"),
    "int64": np.dtype("<i8"),
    "uint64": np.dtype("<u8"),
}
_COMPLEX_FLAG, _LOGICAL_FLAG = 0x0800, 0x0200
_NAME = re.compile(rb"[A-Za-z][A-Za-z0-9_]{0,62}\Z")
_TAG = struct.Struct("<II")


class Decline(Exception):
    """The file holds something this reader leaves to scipy.io."""


# --- reading ----------------------------------------------------------------------------------


def read(path: str):
    """``[(name, matlab_class, is_complex, array), ...]`` of a common MAT v5 file, or ``None``.

    ``array`` has the stored dims (Fortran order) and the numpy dtype of the class; a char
    variable's array holds the character codes as uint32.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            buffer = bytearray(size)
            if f.readinto(buffer) != size:
                return None
        return _read(memoryview(buffer))
    except (Decline, ValueError, TypeError, OverflowError, IndexError, struct.error, zlib.error):
        return None


def _read(buf: memoryview):
    if len(buf) < 128 or bytes(buf[:6]) != b"MATLAB" or bytes(buf[126:128]) != b"IM":
        raise Decline
    if int.from_bytes(buf[124:126], "little") != 0x0100:
        raise Decline
    # Subsystem data (objects, function handles): scipy turns it into a variable; leave it there.
    if bytes(buf[116:124]) not in (b"\x00" * 8, b" " * 8):
        raise Decline
    variables, names = [], set()
    pos = 128
    while pos < len(buf):
        if len(buf) - pos < 8:
            raise Decline
        mdtype, nbytes = _TAG.unpack_from(buf, pos)
        end = pos + 8 + nbytes
        if end > len(buf) or nbytes == 0:
            raise Decline
        if mdtype == miCOMPRESSED:
            inflater = zlib.decompressobj()
            inner = inflater.decompress(buf[pos + 8 : end])
            if not inflater.eof or inflater.unused_data:
                raise Decline
            element = memoryview(bytearray(inner))
            itype, inbytes = _TAG.unpack_from(element, 0)
            if itype != miMATRIX or 8 + inbytes > len(element):
                raise Decline
            variable = _matrix(element, 8, 8 + inbytes)
        elif mdtype == miMATRIX:
            variable = _matrix(buf, pos + 8, end)
        else:
            raise Decline
        if variable[0] in names:
            raise Decline
        names.add(variable[0])
        variables.append(variable)
        pos = end
    return variables


def _element(buf: memoryview, pos: int, end: int) -> tuple[int, memoryview, int]:
    """(data type, data, position of the next element) of the data element at ``pos``."""
    if end - pos < 8:
        raise Decline
    first, nbytes = _TAG.unpack_from(buf, pos)
    if first >> 16:  # small data element: count in the upper half, data in the next 4 bytes
        count = first >> 16
        if count > 4:
            raise Decline
        return first & 0xFFFF, buf[pos + 4 : pos + 4 + count], pos + 8
    stop = pos + 8 + nbytes
    if stop > end:
        raise Decline
    return first, buf[pos + 8 : stop], min(pos + 8 + (nbytes + 7) // 8 * 8, end)


def _matrix(buf: memoryview, pos: int, end: int):
    mdtype, flags, pos = _element(buf, pos, end)
    if mdtype != miUINT32 or len(flags) != 8:
        raise Decline
    flags = int.from_bytes(flags[:4], "little")
    mxclass, is_complex, is_logical = flags & 0xFF, bool(flags & _COMPLEX_FLAG), flags & 0x0200
    mdtype, dims, pos = _element(buf, pos, end)
    if mdtype != miINT32 or len(dims) % 4 or len(dims) < 8:
        raise Decline
    dims = tuple(int(d) for d in np.frombuffer(dims, "<i4"))
    if min(dims) < 0:
        raise Decline
    mdtype, name, pos = _element(buf, pos, end)
    name = bytes(name)
    if mdtype not in (miINT8, miUINT8) or not _NAME.match(name):
        raise Decline
    name = name.decode("ascii")
    if mxclass == mxCHAR and not is_complex and not is_logical:
        mdtype, data, pos = _element(buf, pos, end)
        codes = _char_codes(mdtype, data, prod(dims))
        cls, array = "char", codes.reshape(dims, order="F")
    elif mxclass in _CLASSES and not (is_logical and is_complex):
        count = prod(dims)
        mdtype, data, pos = _element(buf, pos, end)
        real = _numeric(mdtype, data, count)
        cls = "logical" if is_logical else _CLASSES[mxclass]
        if is_complex:
            mdtype, data, pos = _element(buf, pos, end)
            imag = _numeric(mdtype, data, count)
            dtype = np.dtype(np.complex64) if cls == "single" else np.dtype(np.complex128)
            values = np.empty(count, dtype)
            values.real = real
            values.imag = imag
        elif is_logical:
            values = real != 0
        else:
            values = real.astype(_DTYPES[cls], copy=False)
        if not (values.flags.writeable and values.flags.aligned):
            values = values.copy()  # (views of the file's bytes are aligned in MATLAB's files)
        array = values.reshape(dims, order="F")
    else:
        raise Decline
    if pos != end:  # more sub-elements than a full array has: not something to guess about
        raise Decline
    return name, cls, is_complex, array


def _numeric(mdtype: int, data: memoryview, count: int) -> np.ndarray:
    dtype = _NUMERIC_TYPES.get(mdtype)
    if dtype is None or len(data) != count * dtype.itemsize:
        raise Decline
    return np.frombuffer(data, dtype)


def _char_codes(mdtype: int, data: memoryview, count: int) -> np.ndarray:
    if count == 0:
        raise Decline  # scipy's empties of char have their own shapes
    if mdtype == miUTF8:
        text = bytes(data).decode("utf-8")
        codes = np.array([ord(c) for c in text], np.uint32)
    elif mdtype in (miUINT16, miUTF16) and len(data) % 2 == 0:
        codes = np.frombuffer(data, "<u2").astype(np.uint32)
        if codes.size and codes.max() >= 128:
            raise Decline  # scipy decodes these with a codec of its choice: leave it to scipy
    else:
        raise Decline
    if codes.size != count:
        raise Decline
    return codes


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
        body = _variable(name, value)
        if compress:
            packed = zlib.compress(body)
            f.write(_TAG.pack(miCOMPRESSED, len(packed)))
            f.write(packed)
        else:
            f.write(body)


def _variable(name: str, value) -> bytes:
    parts: list[bytes] = []
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
            _data(parts, _MTYPE_OF[part.dtype.str], part.tobytes(order="F"))
    body = b"".join(parts)
    return _TAG.pack(miMATRIX, len(body)) + body


def _array_header(parts, name, shape, mxclass, is_complex, logical) -> None:
    flags = mxclass | (is_complex << 3 | logical << 1) << 8
    parts.append(_TAG.pack(miUINT32, 8) + struct.pack("<II", flags, 0))
    _data(parts, miINT32, np.asarray(shape, "<i4").tobytes())
    _data(parts, miINT8, name.encode("ascii"))


def _data(parts: list[bytes], mdtype: int, data: bytes) -> None:
    if len(data) <= 4:
        parts.append(struct.pack("<I", len(data) << 16 | mdtype) + data.ljust(4, b"\x00"))
    else:
        parts.append(_TAG.pack(mdtype, len(data)))
        parts.append(data)
        if len(data) % 8:
            parts.append(b"\x00" * (8 - len(data) % 8))
