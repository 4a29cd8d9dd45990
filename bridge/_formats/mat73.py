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

from bridge._formats import h5util
from bridge._formats.classes import (
    NUMERIC_DTYPES,
    Variable,
    check_size,
    class_of,
    matlab_size,
    to_class,
)
from bridge.errors import FileFormatError

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

    Numeric variables are read on demand (their size and class come from the headers).
    ``require_markers``: the file had no MATLAB header (a .mat that is bare HDF5); read it only if
    its variables carry MATLAB_class attributes, i.e. it really is MATLAB-shaped.
    """
    with h5util.open_read(path) as f:
        variables = []
        for name, obj, note in h5util.root_entries(f, path):
            if name.startswith("#"):  # '#refs#', '#subsystem#': MATLAB's internals
                continue
            with h5util.guard(path, name):
                variables.append(_variable(name, obj, note, path))
    if require_markers and not any(v.matlab_class not in ("unknown", "link") for v in variables):
        msg = (
            "is an HDF5 file without MATLAB's v7.3 markers (no MATLAB_class attributes); "
            "name it .h5 to read it as plain HDF5"
        )
        raise FileFormatError(msg).where(file=path)
    return variables, {}


def _variable(name: str, obj, note: str | None, path: str) -> Variable:
    if obj is None:
        return h5util.H5Variable(name, "link", (1, 1), file=path, note=note)
    cls = h5util.attr_text(obj.attrs.get("MATLAB_class"))
    if cls is None:
        return Variable(name, "unknown", (1, 1), file=path)
    if isinstance(obj, h5py.Group):
        if "MATLAB_sparse" in obj.attrs and cls in NUMERIC_DTYPES:
            return _sparse(name, obj, cls, path)
        return Variable(name, cls, (1, 1), file=path)
    if not isinstance(obj, h5py.Dataset):
        return Variable(name, "unknown", (1, 1), file=path)
    if "MATLAB_object_decode" in obj.attrs:  # string, missing, table, ...: opaque objects
        return Variable(name, cls, (1, 1), file=path)
    if obj.shape is None:  # a null dataspace: no values at all
        return Variable(name, cls, (0, 0), file=path)
    if _flag(obj.attrs.get("MATLAB_empty", 0)):
        size = _empty_size(obj, name, path)
        dtype = NUMERIC_DTYPES.get(cls)
        data = np.zeros(size, dtype) if dtype is not None else None
        if cls == "char":
            data = np.zeros(size, np.uint32)
        return Variable(name, cls, size, data=data, file=path)
    size = matlab_size(obj.shape[::-1])  # HDF5 holds MATLAB's data with dimensions reversed
    if cls in NUMERIC_DTYPES or cls == "char":
        check_size(size, path, name)
    if cls == "char":
        return _char(name, obj, size, path)
    if cls not in NUMERIC_DTYPES:
        return Variable(name, cls, size, file=path)  # cell (references), function handles, ...
    pair = h5util.complex_fields(obj.dtype)
    base = obj.dtype[pair[0]] if pair else obj.dtype
    if base.kind not in "biuf" or (cls == "logical" and pair):
        msg = f"is a MATLAB {cls} stored as HDF5 type {obj.dtype}, which MATLAB never writes"
        raise FileFormatError(msg).where(file=path, variable=name)
    return h5util.dataset_variable(name, cls, size, obj, path, pair is not None)


def _flag(value) -> bool:
    values = np.asarray(value)
    return values.size == 1 and values.dtype.kind in "biuf" and bool(values.reshape(-1)[0])


def _empty_size(obj: h5py.Dataset, name: str, path: str) -> tuple[int, ...]:
    """MATLAB's empty: the dataset holds the size (at least one 0), in MATLAB order."""
    if obj.dtype.kind not in "iu" or len(obj.shape) > 2 or obj.size > 64:
        msg = f"MATLAB_empty is set but the dataset holds {obj.shape} values of type {obj.dtype}"
        raise FileFormatError(msg).where(file=path, variable=name)
    size = tuple(int(n) for n in np.ravel(obj[()]))
    if not size or 0 not in size:
        shown = "x".join(map(str, size)) or "nothing"
        msg = f"MATLAB_empty is set but the stored size is {shown} (an empty array has a 0)"
        raise FileFormatError(msg).where(file=path, variable=name)
    check_size(size, path, name)
    return matlab_size(size)


def _char(name: str, obj: h5py.Dataset, size: tuple[int, ...], path: str) -> Variable:
    if obj.dtype.kind not in "iu" or obj.size * obj.dtype.itemsize > h5util.MAX_TEXT_BYTES:
        return h5util.H5Variable(name, "char", size, file=path)  # never an operand: not read
    codes = np.asarray(obj[()]).T.reshape(size).astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() > 0xFFFF):
        msg = f"char codes must be UTF-16 code units (0..65535); found {int(codes.max())}"
        raise FileFormatError(msg).where(file=path, variable=name)
    return Variable(name, "char", size, data=codes.astype(np.uint32), file=path)


def _sparse(name: str, group: h5py.Group, cls: str, path: str) -> Variable:
    """A sparse matrix, read dense on demand (compressed sparse columns: data, ir, jc)."""
    stored_rows = np.asarray(group.attrs["MATLAB_sparse"])
    jc_set = h5util.child(group, "jc", path, name)
    data_set = h5util.child(group, "data", path, name)
    if (
        stored_rows.size != 1
        or stored_rows.dtype.kind not in "iu"
        or not isinstance(jc_set, h5py.Dataset)
    ):
        raise FileFormatError("a sparse matrix without its row count or jc").where(
            file=path, variable=name
        )
    rows = int(stored_rows.reshape(-1)[0])
    cols = (jc_set.size or 1) - 1
    is_complex = isinstance(data_set, h5py.Dataset) and (
        h5util.complex_fields(data_set.dtype) is not None
    )
    group_name = group.name

    def load() -> np.ndarray:
        with h5util.open_read(path) as f, h5util.guard(path, name):
            g, _ = h5util.resolve(f, group_name.encode("utf-8"), path, name)
            parts = {
                key: h5util.child(g, key, path, name) if isinstance(g, h5py.Group) else None
                for key in ("jc", "ir", "data")
            }
            if not all(p is None or isinstance(p, h5py.Dataset) for p in parts.values()):
                msg = "is a sparse matrix whose jc, ir or data is not a dataset"
                raise FileFormatError(msg).where(file=path, variable=name)
            if parts["jc"] is None:
                msg = "is a sparse matrix without its jc"
                raise FileFormatError(msg).where(file=path, variable=name)
            jc = np.asarray(parts["jc"][()], dtype=np.int64).ravel()
            ir = parts["ir"]
            ir = np.zeros(0, int) if ir is None else np.asarray(ir[()], dtype=np.int64).ravel()
            data = parts["data"]
            values = np.zeros(0) if data is None else h5util.read_values(data).ravel()
        nnz = len(ir)
        if (
            rows < 0
            or jc.size != cols + 1
            or len(values) != nnz
            or jc[0] != 0
            or jc[-1] != nnz
            or np.any(np.diff(jc) < 0)
            or (nnz and (ir.min() < 0 or ir.max() >= rows))
        ):
            msg = "is a sparse matrix whose indices (ir, jc) do not fit its size or data"
            raise FileFormatError(msg).where(file=path, variable=name)
        dense = np.zeros((rows, cols), dtype=values.dtype if values.size else np.float64)
        dense[ir, np.repeat(np.arange(cols), np.diff(jc))] = values
        return to_class(dense, cls, is_complex)

    return h5util.lazy(
        h5util.H5Variable(name, cls, (rows, cols), is_complex, file=path, loader=load)
    )


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
        options = h5util.dataset_options(array, compress)
        dataset = h5util.create_dataset(f, name, stored.T, options)
    h5util.write_text_attr(dataset, "MATLAB_class", cls)
    decode = {"logical": 1, "char": 2}.get(cls)
    if decode is not None:
        dataset.attrs.create("MATLAB_int_decode", np.int32(decode))
