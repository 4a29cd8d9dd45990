"""Job files in and result files out: MAT v4/v6/v7, MAT v7.3, plain HDF5 and bridge text.

:func:`read` recognises a file by its content (MAT header, HDF5 signature, text) and checks that
the content fits the extension; :func:`write` picks the format from ``fmt`` or the extension and
writes atomically. One module per format family, imported only when used (h5py and scipy.io cost
start-up time on every call):

========  ==========================  ==============================================
format    extensions                  module
========  ==========================  ==============================================
mat       .mat (v4, v6, v7)           :mod:`bridge.formats.mat` (numpy; scipy.io)
mat73     .mat (v7.3)                 :mod:`bridge.formats.mat73` (h5py)
hdf5      .h5, .hdf5                  :mod:`bridge.formats.hdf5` (h5py)
text      .txt                        :mod:`bridge.formats.text`
========  ==========================  ==============================================

Common MAT v6/v7 files (full numeric, logical and char arrays) are read and written with numpy
alone (:mod:`bridge.formats._mat5`); scipy.io only reads and writes the others.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from bridge.atomic import atomic_path
from bridge.errors import FileFormatError, UsageError
from bridge.formats.classes import (
    REQUEST_FIELDS,
    Variable,
    as_matlab_array,
    check_name,
    class_of,
)

__all__ = ["FORMATS", "HDF5_ORDERS", "MAT_VERSIONS", "Variable", "detect", "read", "write"]

# Extension -> format name. The registry is a plain dict next to the code that uses it.
FORMATS: dict[str, str] = {".mat": "mat", ".h5": "hdf5", ".hdf5": "hdf5", ".txt": "text"}
_MODULES = {
    "mat": "bridge.formats.mat",
    "mat73": "bridge.formats.mat73",
    "hdf5": "bridge.formats.hdf5",
    "text": "bridge.formats.text",
}
MAT_VERSIONS = ("6", "7", "7.3")
# MATLAB's -v6/-v7 cannot hold a variable of 2 GiB or more (the element sizes are 32-bit); leave
# room for the variable's own headers. Larger results are written as v7.3.
V7_MAX_BYTES = 2**31 - 2**16

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SNIFF_BYTES = 2048 + 8  # HDF5 looks for its signature at 0, 512, 1024, 2048, ...

_KINDS = {
    "mat": "a MAT-file (v4/v6/v7)",
    "mat73": "a MAT-file v7.3 (HDF5 with MATLAB's header)",
    "hdf5": "an HDF5 file",
    "text": "a text file",
    "binary": "binary data of no supported format",
    # complete messages: no extension could make these files readable
    "truncated": "has a MAT-file v7.3 header but no HDF5 data after it (truncated?)",
    "empty": "is empty (0 bytes): was it written completely?",
}
# extension -> what it promises, and content kind -> reader for each kind it may hold
_EXPECTED = {
    ".mat": "a MAT-file",
    ".h5": "an HDF5 file",
    ".hdf5": "an HDF5 file",
    ".txt": "a bridge text file",
}
_ACCEPTS = {
    ".mat": {"mat": "mat", "mat73": "mat73", "hdf5": "mat73"},
    ".h5": {"hdf5": "hdf5", "mat73": "mat73"},
    ".hdf5": {"hdf5": "hdf5", "mat73": "mat73"},
    ".txt": {"text": "text"},
}
_SUGGEST = {"mat": ".mat", "mat73": ".mat", "hdf5": ".h5", "text": ".txt"}
SUPPORTED = ".mat (MAT v4/v6/v7/v7.3), .h5/.hdf5 (HDF5), .txt (bridge text)"
HDF5_ORDERS = ("matlab", "c")


def _module(fmt: str):
    return importlib.import_module(_MODULES[fmt])


def _unsupported(ext: str) -> str:
    shown = f"'{ext}'" if ext else "a file name without an extension"
    return f"{shown} is not supported; must be one of {sorted(FORMATS)}"


def detect(head: bytes) -> str:
    """The kind of content from a file's first bytes: a key of ``_KINDS`` or 'empty'."""
    if not head:
        return "empty"
    hdf5 = any(head[o : o + 8] == HDF5_SIGNATURE for o in (0, 512, 1024, 2048))
    if hdf5:
        return "mat73" if head.startswith(b"MATLAB") else "hdf5"
    if head.startswith(b"MATLAB") and len(head) >= 128 and head[126:128] in (b"IM", b"MI"):
        version = int.from_bytes(head[124:126], "little" if head[126:128] == b"IM" else "big")
        # 0x0100: v5/v6/v7. A v7.3 header (0x0200) without HDF5 data after it: a truncated file.
        return {0x0100: "mat", 0x0200: "truncated"}.get(version, "binary")
    if _looks_like_mat4(head):
        return "mat"
    return "binary" if b"\x00" in head else "text"


def _looks_like_mat4(head: bytes) -> bool:
    """MATLAB 4 files have no header; the first int32 is MOPT = 1000*M + 100*O + 10*P + T."""
    if len(head) < 20:
        return False
    for order in ("little", "big"):
        mopt = int.from_bytes(head[:4], order)
        m, o, p, t = mopt // 1000, mopt // 100 % 10, mopt // 10 % 10, mopt % 10
        rows, cols, imag, namelen = (int.from_bytes(head[i : i + 4], order) for i in (4, 8, 12, 16))
        if (
            m <= 4
            and o == 0
            and p <= 5
            and t <= 2
            and imag in (0, 1)
            and 0 < namelen < 64
            and rows < 2**31
            and cols < 2**31
        ):
            return True
    return False


def read(path, *, hdf5_order: str | None = None) -> tuple[dict[str, Variable], dict[str, str]]:
    """Variables by name and the request fields ('op', 'shape') found in a job file.

    Request fields are taken out of the variables: a MAT-file's char variables ``op``/``shape``,
    an HDF5 file's root attributes, a text file's '% op ...' lines.
    """
    path = os.fspath(path)
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise FileFormatError(_unsupported(ext)).where(file=path)
    if hdf5_order is not None:
        check_order(hdf5_order)
    kind = _sniff(path)
    accepted = _ACCEPTS[ext]
    if kind in ("empty", "truncated"):
        raise FileFormatError(_KINDS[kind]).where(file=path)
    if kind not in accepted:
        rename = f"; name it {_SUGGEST[kind]}" if kind in _SUGGEST else ""
        msg = f"is {_KINDS[kind]}, not {_EXPECTED[ext]} as '{ext}' says{rename}"
        msg += f" (supported: {SUPPORTED})"
        raise FileFormatError(msg).where(file=path)
    fmt = accepted[kind]
    options = {"hdf5_order": hdf5_order}
    if fmt == "mat73" and kind == "hdf5":
        options["require_markers"] = True
    found, request = _module(fmt).read(path, **options)
    variables: dict[str, Variable] = {}
    for variable in found:
        if variable.name in REQUEST_FIELDS:
            request.setdefault(variable.name, variable.text())
        else:
            variables[variable.name] = variable
    return variables, request


def _sniff(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return detect(f.read(_SNIFF_BYTES))
    except FileNotFoundError as e:
        raise FileFormatError("does not exist").where(file=path) from e
    except IsADirectoryError as e:
        raise FileFormatError("is a folder, not a job file").where(file=path) from e
    except OSError as e:
        raise FileFormatError(f"cannot be read: {e.strerror or e}").where(file=path) from e


def write(
    path,
    arrays: dict[str, np.ndarray],
    *,
    request: dict[str, str] | None = None,
    fmt: str | None = None,
    mat_version: str = "7",
    compress: bool = False,
    hdf5_order: str = "matlab",
) -> None:
    """Write arrays (and request fields) atomically in the format of ``fmt`` or the extension.

    ``fmt`` is 'mat', 'hdf5' or 'text'. MAT-files are v7 by default (Octave cannot read v7.3),
    uncompressed unless ``compress``; v7.3 when ``mat_version='7.3'`` or when a variable is too
    large for v7. Arrays are written with their MATLAB size: at least 2-D, trailing singleton
    dimensions dropped, a 1-D array as a row.
    """
    path = os.fspath(path)
    fmt = fmt or _format_of(path)
    if fmt not in _MODULES or fmt == "mat73":
        msg = f"format '{fmt}' is not supported; must be one of {sorted(set(FORMATS.values()))}"
        raise UsageError(msg)
    if mat_version not in MAT_VERSIONS:
        msg = f"MAT version '{mat_version}' is not supported; must be one of {list(MAT_VERSIONS)}"
        raise UsageError(msg)
    check_order(hdf5_order)
    if set(request or {}) - set(REQUEST_FIELDS):
        unknown = sorted(set(request) - set(REQUEST_FIELDS))
        raise UsageError(f"unknown request fields {unknown}; must be among {list(REQUEST_FIELDS)}")
    if fmt == "mat" and mat_version == "6" and compress:
        raise UsageError("MAT v6 files are uncompressed; use MAT version 7 to compress")
    prepared = {}
    for name, array in arrays.items():
        check_name(name)
        prepared[name] = as_matlab_array(array)
        class_of(prepared[name])  # OutputError now, before any file is created
    request = {k: str(v) for k, v in (request or {}).items()}
    if fmt == "mat" and (
        mat_version == "7.3" or any(a.nbytes > V7_MAX_BYTES for a in prepared.values())
    ):
        fmt = "mat73"
    with atomic_path(path) as tmp:
        _module(fmt).write(tmp, prepared, request, compress=compress, hdf5_order=hdf5_order)


def check_order(order: str) -> str:
    """UsageError unless ``order`` is an HDF5 dimension order bridge knows."""
    if order not in HDF5_ORDERS:
        msg = f"HDF5 dimension order '{order}' is not supported; must be one of {list(HDF5_ORDERS)}"
        raise UsageError(msg)
    return order


def _format_of(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise UsageError(_unsupported(ext)).where(file=path)
    return FORMATS[ext]
