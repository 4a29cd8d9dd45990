"""MAT-files v7.3: HDF5 with MATLAB's 512-byte header, read and written with h5py.

How MATLAB lays a variable out (checked against MATLAB-written files in ../shared/fixtures):

* a dataset at the root per variable; dimensions reversed (a MATLAB 3x2 is an HDF5 (2,3) dataset);
* attribute ``MATLAB_class``: scalar fixed-length ASCII string, NULLTERM, length = text length;
* logical: uint8 + ``MATLAB_int_decode=1`` (int32); char: uint16 UTF-16 + ``MATLAB_int_decode=2``;
* complex: a compound with members ``real`` and ``imag``;
* empty: the dataset holds the MATLAB size (uint64, in MATLAB order) and ``MATLAB_empty=1`` (uint8);
* sparse: a group with ``MATLAB_sparse`` (the row count) and datasets ``data``, ``ir``, ``jc``;
* cell: object references into ``#refs#``; struct: a group; objects (string, ...) carry
  ``MATLAB_object_decode``.
"""

from __future__ import annotations

import sys
import time

import h5py
import numpy as np

from bridge.errors import FileFormatError
from bridge.formats import h5util
from bridge.formats.classes import (
    NUMERIC_DTYPES,
    Variable,
    class_of,
    matlab_size,
    to_class,
)

HEADER_SIZE = 128
USERBLOCK_SIZE = 512
_PLATFORMS = {"linux": "GLNXA64", "win32": "PCWIN64", "darwin": "MACI64"}


def header(now: float | None = None) -> bytes:
    """MATLAB's 128-byte v7.3 header: text padded to 116 bytes, subsystem offset, version, 'IM'."""
    platform = _PLATFORMS.get(sys.platform, sys.platform)
    # asctime: English day and month names whatever the locale, as MATLAB writes them.
    created = time.asctime(time.localtime(now))
    text = f"MATLAB 7.3 MAT-file, Platform: {platform}, Created on: {created} HDF5 schema 1.00 ."
    return text.encode("ascii").ljust(116, b" ") + bytes(8) + b"\x00\x02" + b"IM"


# ----------------------------------------------------------------------------- reading


def read(path: str, *, require_markers: bool = False, **_options):
    """Variables of a v7.3 MAT-file (request fields stay char variables here).

    ``require_markers``: the file had no MATLAB header (a .mat that is bare HDF5); read it only if
    its variables carry MATLAB_class attributes, i.e. it really is MATLAB-shaped.
    """
    with h5util.open_read(path) as f:
        variables = [
            _variable(name, obj, path)
            for name, obj in f.items()
            if not name.startswith("#")  # '#refs#', '#subsystem#': MATLAB's internals
        ]
    if require_markers and not any(v.matlab_class != "unknown" for v in variables):
        msg = (
            "is an HDF5 file without MATLAB's v7.3 markers (no MATLAB_class attributes); "
            "name it .h5 to read it as plain HDF5"
        )
        raise FileFormatError(msg).where(file=path)
    return variables, {}


def _variable(name: str, obj: h5py.HLObject, path: str) -> Variable:
    cls = h5util.attr_text(obj.attrs.get("MATLAB_class"))
    if cls is None:
        return Variable(name, "unknown", (1, 1), file=path)
    if isinstance(obj, h5py.Group):
        if "MATLAB_sparse" in obj.attrs and cls in NUMERIC_DTYPES:
            return _sparse(name, obj, cls, path)
        return Variable(name, cls, (1, 1), file=path)
    if "MATLAB_object_decode" in obj.attrs:  # string, missing, table, ...: opaque objects
        return Variable(name, cls, (1, 1), file=path)
    try:
        values = h5util.read_values(obj)
    except (OSError, ValueError, TypeError) as e:
        msg = f"cannot be read from the HDF5 file: {str(e).splitlines()[0]}"
        raise FileFormatError(msg).where(file=path, variable=name) from e
    if obj.attrs.get("MATLAB_empty", 0):
        size = matlab_size(tuple(int(n) for n in np.ravel(values)))
        values = np.zeros(size, dtype=NUMERIC_DTYPES.get(cls, np.float64))
    else:
        values = values.T  # HDF5 holds MATLAB's column-major data with dimensions reversed
        size = matlab_size(values.shape)
        values = values.reshape(size)
    if cls == "char":
        return Variable(name, "char", size, data=values.astype(np.uint32), file=path)
    if cls in NUMERIC_DTYPES:
        is_complex = np.iscomplexobj(values)
        return Variable(name, cls, size, is_complex, to_class(values, cls, is_complex), path)
    return Variable(name, cls, size, file=path)  # cell (references), function handles, ...


def _sparse(name: str, group: h5py.Group, cls: str, path: str) -> Variable:
    """A sparse matrix as a dense array (compressed sparse columns: data, ir, jc)."""
    rows = int(group.attrs["MATLAB_sparse"])
    jc = np.asarray(group["jc"][()], dtype=np.int64).ravel()
    cols = len(jc) - 1
    values = h5util.read_values(group["data"]).ravel() if "data" in group else np.zeros(0)
    ir = np.asarray(group["ir"][()], dtype=np.int64).ravel() if "ir" in group else np.zeros(0, int)
    is_complex = np.iscomplexobj(values)
    dense = np.zeros((rows, cols), dtype=values.dtype if values.size else np.float64)
    dense[ir, np.repeat(np.arange(cols), np.diff(jc))] = values
    return Variable(name, cls, (rows, cols), is_complex, to_class(dense, cls, is_complex), path)


# ----------------------------------------------------------------------------- writing


def write(
    path: str,
    arrays: dict[str, np.ndarray],
    request: dict[str, str],
    *,
    compress: bool = False,
    **_options,
) -> None:
    """A v7.3 MAT-file MATLAB loads: arrays, then the request fields as char variables."""
    with h5py.File(path, "w", userblock_size=USERBLOCK_SIZE, libver=h5util.LIBVER) as f:
        for name, array in arrays.items():
            cls, _ = class_of(array)
            _write_array(f, name, array, cls, compress)
        for key, text in request.items():
            codes = np.array([ord(c) for c in text], dtype=np.uint16).reshape(1, -1)
            _write_array(f, key, codes, "char", compress)
    with open(path, "r+b") as f:
        f.write(header())


def _write_array(f: h5py.File, name: str, array: np.ndarray, cls: str, compress: bool) -> None:
    if array.size == 0:
        # MATLAB's empty: the size itself is the data; the class is kept in the attribute.
        dataset = f.create_dataset(name, data=np.array(array.shape, dtype=np.uint64))
        dataset.attrs.create("MATLAB_empty", np.uint8(1))
    else:
        stored = h5util.storable(array.astype(np.uint8) if cls == "logical" else array)
        dataset = f.create_dataset(name, data=stored.T, **h5util.dataset_options(array, compress))
    h5util.write_text_attr(dataset, "MATLAB_class", cls)
    decode = {"logical": 1, "char": 2}.get(cls)
    if decode is not None:
        dataset.attrs.create("MATLAB_int_decode", np.int32(decode))
