"""Job files in and result files out: MAT v4/v6/v7, MAT v7.3, plain HDF5, bridge text, and the
files MATLAB and Octave users already have: Octave's text and HDF5 ``save`` formats and headerless
numeric text (dlmwrite, writematrix, ``save -ascii``).

:func:`read` recognises a file by its content (MAT header, HDF5 signature, text) and checks that
the content fits the extension; :func:`write` picks the format from ``fmt`` or the extension and
writes atomically. One module per format family, imported only when used (h5py and scipy.io cost
start-up time on every call):

========  ==========================  ==============================================
format    extensions                  module
========  ==========================  ==============================================
mat       .mat (v4, v6, v7)           :mod:`bridge._formats.mat` (numpy; scipy.io)
mat73     .mat (v7.3)                 :mod:`bridge._formats.mat73` (h5py)
hdf5      .h5, .hdf5                  :mod:`bridge._formats.hdf5` (h5py)
text      .txt                        :mod:`bridge._formats.text`
octave    any of them (by content)    :mod:`bridge._formats.octave_text` (Octave ``save``)
octave5   .mat, .h5, .hdf5            :mod:`bridge._formats.octave_hdf5` (``save -hdf5``)
csv       .csv, .txt, .dat            :mod:`bridge._formats.delimited` (one headerless matrix)
========  ==========================  ==============================================

Common MAT v6/v7 files (full numeric, logical and char arrays) are read and written with numpy
alone (:mod:`bridge._formats._mat5`); scipy.io only reads and writes the others.
"""

from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path

import numpy as np

from bridge._atomic import atomic_path
from bridge._formats.classes import (
    REQUEST_FIELDS,
    Variable,
    as_matlab_array,
    check_name,
    class_of,
)
from bridge.errors import FileFormatError, UsageError

__all__ = ["FORMATS", "HDF5_ORDERS", "MAT_VERSIONS", "Variable", "detect", "read", "write"]

# Extension -> format name. The registry is a plain dict next to the code that uses it.
FORMATS: dict[str, str] = {
    ".mat": "mat",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".txt": "text",
    ".csv": "csv",
    ".dat": "ascii",
}
_MODULES = {
    "mat": "bridge._formats.mat",
    "mat73": "bridge._formats.mat73",
    "hdf5": "bridge._formats.hdf5",
    "text": "bridge._formats.text",
    "octave": "bridge._formats.octave_text",
    "octave5": "bridge._formats.octave_hdf5",
    "delimited": "bridge._formats.delimited",
    "csv": "bridge._formats.delimited",
    "ascii": "bridge._formats.delimited",
}
# Formats a result can be written in (--format), and the content kind each one writes.
WRITABLE = {
    "mat": "mat",
    "hdf5": "hdf5",
    "text": "text",
    "csv": "delimited",
    "ascii": "delimited",
}
MAT_VERSIONS = ("6", "7", "7.3")
# MATLAB's -v6/-v7 cannot hold a variable of 2 GiB or more (the element sizes are 32-bit); leave
# room for the variable's own headers. Larger results are written as v7.3.
V7_MAX_BYTES = 2**31 - 2**16
# Its dimensions are int32 too: an (empty) array with a longer dimension is written as v7.3.
V7_MAX_DIM = 2**31 - 1

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_SNIFF_BYTES = 2048 + 8  # HDF5 looks for its signature at 0, 512, 1024, 2048, ...

_KINDS = {
    "mat": "a MAT-file (v4/v6/v7)",
    "mat73": "a MAT-file v7.3 (HDF5 with MATLAB's header)",
    "hdf5": "an HDF5 file",
    "text": "a bridge text file",
    "octave": "Octave's text format",
    "delimited": "headerless numeric text",
    "binary": "binary data of no supported format",
    # complete messages: no extension could make these files readable
    "truncated": "has a MAT-file v7.3 header but no HDF5 data after it (truncated?)",
    "mat_truncated": "has a MAT-file header but ends before the 128 bytes of it (truncated?)",
    "octave_binary": (
        "is Octave's binary format (save -binary), which bridge does not read; save with -v7 "
        "(save('-v7', 'in.mat', 'A', 'B')) or Octave's default text format"
    ),
    "gzip": (
        "is gzip-compressed (Octave's save -zip?), which bridge does not read; save without -zip "
        "or with -v7"
    ),
    "empty": "is empty (0 bytes): was it written completely?",
}
# extension -> what it promises, and content kind -> reader for each kind it may hold
_EXPECTED = {
    ".mat": "a MAT-file",
    ".h5": "an HDF5 file",
    ".hdf5": "an HDF5 file",
    ".txt": "a text file",
    ".csv": "a text file",
    ".dat": "a text file",
}
_TEXT_KINDS = {"text": "text", "octave": "octave", "delimited": "delimited"}
_ACCEPTS = {
    ".mat": {"mat": "mat", "mat73": "mat73", "hdf5": "mat73", "octave": "octave"},
    ".h5": {"hdf5": "hdf5", "mat73": "mat73", "octave": "octave"},
    ".hdf5": {"hdf5": "hdf5", "mat73": "mat73", "octave": "octave"},
    ".txt": _TEXT_KINDS,
    ".csv": _TEXT_KINDS,
    ".dat": _TEXT_KINDS,
}
_SUGGEST = {"mat": ".mat", "mat73": ".mat", "hdf5": ".h5", "text": ".txt", "delimited": ".csv"}
SUPPORTED = (
    ".mat (MAT v4/v6/v7/v7.3, Octave's save), .h5/.hdf5 (HDF5, Octave's save -hdf5), "
    ".txt (bridge text), .csv/.txt/.dat (headerless numbers, one matrix per file)"
)
HDF5_ORDERS = ("matlab", "c")
NOT_REGULAR = (
    "is not a regular file (a device, pipe or socket such as /dev/null); bridge reads job files "
    "from disk"
)


def _module(fmt: str):
    return importlib.import_module(_MODULES[fmt])


def _unsupported(ext: str) -> str:
    shown = f"'{ext}'" if ext else "a file name without an extension"
    return f"{shown} is not supported; bridge reads and writes {_words(list(FORMATS))} files"


def _words(items: list[str]) -> str:
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def detect(head: bytes) -> str:
    """The kind of content from a file's first bytes: a key of ``_KINDS`` or 'empty'."""
    if not head:
        return "empty"
    hdf5 = any(head[o : o + 8] == HDF5_SIGNATURE for o in (0, 512, 1024, 2048))
    if hdf5:
        return "mat73" if head.startswith(b"MATLAB") else "hdf5"
    if head.startswith(b"MATLAB") and len(head) < 128:  # no text format starts so
        return "mat_truncated"
    if head.startswith(b"MATLAB") and len(head) >= 128 and head[126:128] in (b"IM", b"MI"):
        version = int.from_bytes(head[124:126], "little" if head[126:128] == b"IM" else "big")
        # 0x0100: v5/v6/v7. A v7.3 header (0x0200) without HDF5 data after it: a truncated file.
        return {0x0100: "mat", 0x0200: "truncated"}.get(version, "binary")
    if head.startswith(b"Octave-1-"):
        return "octave_binary"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if _looks_like_mat4(head):
        return "mat"
    if b"\x00" in head:
        return "binary"
    from bridge._formats import octave_text

    if octave_text.looks_like(head):
        return "octave"
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    # bridge text starts with '%' lines; headerless numbers (dlmwrite, save -ascii) do not.
    return "text" if first in (b"%", b"#") else "delimited"


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
        _check_file(path)  # a missing file or a device is that, whatever its name
        raise FileFormatError(_unsupported(ext)).where(file=path)
    if hdf5_order is not None:
        check_order(hdf5_order)
    kind = _sniff(path)
    accepted = _ACCEPTS[ext]
    if kind in ("empty", "truncated", "mat_truncated", "octave_binary", "gzip"):
        raise FileFormatError(_KINDS[kind]).where(file=path)
    if kind not in accepted:
        rename = f"; name it {_SUGGEST[kind]}" if kind in _SUGGEST else ""
        msg = f"is {_KINDS[kind]}, not {_EXPECTED[ext]} as '{ext}' says{rename}"
        msg += f" (supported: {SUPPORTED})"
        raise FileFormatError(msg).where(file=path)
    fmt = accepted[kind]
    options: dict[str, str | bool | None] = {"hdf5_order": hdf5_order}
    if kind == "hdf5" and _octave_hdf5(path):
        fmt = "octave5"
    elif fmt == "mat73" and kind == "hdf5":
        options["require_markers"] = True
    found, request = _module(fmt).read(path, **options)
    variables: dict[str, Variable] = {}
    for variable in found:
        if variable.name in REQUEST_FIELDS:
            request.setdefault(variable.name, variable.text())
        else:
            variables[variable.name] = variable
    return variables, request


def _octave_hdf5(path: str) -> bool:
    from bridge._formats import octave_hdf5

    return octave_hdf5.looks_like(path)


def kind_of(path) -> str:
    """The kind of content of a file (a key of ``_KINDS``), checked to be a readable file."""
    return _sniff(os.fspath(path))


def _sniff(path: str) -> str:
    _check_file(path)
    try:
        with open(path, "rb") as f:
            return detect(f.read(_SNIFF_BYTES))
    except FileNotFoundError as e:
        raise FileFormatError("does not exist").where(file=path) from e
    except IsADirectoryError as e:
        raise FileFormatError("is a folder, not a job file").where(file=path) from e
    except OSError as e:
        raise FileFormatError(f"cannot be read: {e.strerror or e}").where(file=path) from e


def _check_file(path: str) -> None:
    """FileFormatError unless ``path`` is a regular file (never open a FIFO: it would block)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError as e:
        raise FileFormatError("does not exist").where(file=path) from e
    except OSError as e:
        raise FileFormatError(f"cannot be read: {e.strerror or e}").where(file=path) from e
    if stat.S_ISDIR(mode):
        raise FileFormatError("is a folder, not a job file").where(file=path)
    if not stat.S_ISREG(mode):
        raise FileFormatError(NOT_REGULAR).where(file=path)


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

    ``fmt`` is 'mat', 'hdf5', 'text', 'csv' or 'ascii' (the last two: one headerless real matrix,
    separated by commas or spaces). MAT-files are v7 by default (Octave cannot read v7.3),
    uncompressed unless ``compress``; v7.3 when ``mat_version='7.3'`` or when a variable is too
    large for v7. Arrays are written with their MATLAB size: at least 2-D, trailing singleton
    dimensions dropped, a 1-D array as a row.
    """
    path = os.fspath(path)
    fmt = check_output(path, fmt, mat_version)
    check_order(hdf5_order)
    unknown = sorted(set(request or {}) - set(REQUEST_FIELDS))
    if unknown:
        msg = (
            f"unknown request fields {_words(unknown)}; "
            f"must be among {_words(list(REQUEST_FIELDS))}"
        )
        raise UsageError(msg)
    if fmt == "mat" and mat_version == "6" and compress:
        raise UsageError("MAT v6 files are uncompressed; use MAT version 7 to compress")
    prepared = {}
    for name, array in arrays.items():
        check_name(name)
        prepared[name] = as_matlab_array(array)
        class_of(prepared[name])  # OutputError now, before any file is created
    request = {k: str(v) for k, v in (request or {}).items()}
    if fmt == "mat" and (mat_version == "7.3" or any(map(_beyond_v7, prepared.values()))):
        fmt = "mat73"
    writer = _module(fmt).write
    if fmt == "ascii":
        writer = _module(fmt).write_spaces
    with atomic_path(path) as tmp:
        writer(tmp, prepared, request, compress=compress, hdf5_order=hdf5_order)


def _beyond_v7(array: np.ndarray) -> bool:
    """True if MAT v7 cannot hold ``array``: 2 GiB or more, or a dimension beyond int32 (an
    empty array may have one: MATLAB holds zeros(0, 2^40))."""
    return array.nbytes > V7_MAX_BYTES or any(n > V7_MAX_DIM for n in array.shape)


def check_output(path, fmt: str | None = None, mat_version: str = "7") -> str:
    """The format a result file gets; UsageError if bridge could not read that file back.

    ``fmt`` (the CLI's --format) must agree with a known extension: a MAT-file named .txt would be
    a file bridge, MATLAB's ``load`` and the user would all take for text.
    """
    path = os.fspath(path)
    if mat_version not in MAT_VERSIONS:
        msg = f"MAT version '{mat_version}' is not supported; must be {_words(list(MAT_VERSIONS))}"
        raise UsageError(msg)
    if fmt is None:
        return _format_of(path)
    if fmt not in WRITABLE:
        msg = f"format '{fmt}' is not supported; must be {_words(list(WRITABLE))}"
        raise UsageError(msg)
    ext = Path(path).suffix.lower()
    written = "mat73" if fmt == "mat" and mat_version == "7.3" else WRITABLE[fmt]
    if ext in _ACCEPTS and written not in _ACCEPTS[ext]:
        names = [e for e, accepts in _ACCEPTS.items() if written in accepts]
        msg = (
            f"format {fmt} does not fit the extension '{ext}' (a file bridge could not read "
            f"back); name it {_words(names)}, or leave {{fmt}} out"
        )
        raise UsageError(msg, arguments=("fmt",)).where(file=path)
    return fmt


def check_order(order: str) -> str:
    """UsageError unless ``order`` is an HDF5 dimension order bridge knows."""
    if order not in HDF5_ORDERS:
        shown = _words(list(HDF5_ORDERS))
        msg = f"HDF5 dimension order '{order}' is not supported; must be {shown}"
        raise UsageError(msg)
    return order


def _format_of(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise UsageError(_unsupported(ext)).where(file=path)
    return FORMATS[ext]
