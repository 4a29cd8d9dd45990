"""Plain HDF5 job files (.h5, .hdf5): MATLAB's h5create/h5write, or h5py on the Python side.

* Operands: datasets at the root (groups are not read). Request: root attributes ``op``, ``shape``.
* Dimension order: MATLAB's h5write stores a MATLAB 3x2 array as an HDF5 (2,3) dataset, numpy
  code usually stores it as (3,2); the data cannot tell which. The order is ``hdf5_order``
  ('matlab' or 'c') when given, else the root attribute ``bridge_dim_order`` (bridge writes it),
  else 'matlab'. A 1-D dataset is a column (n x 1), as MATLAB's h5read returns it.
* Classes come from the HDF5 type; an attribute ``MATLAB_class`` names the class where the type
  cannot (bridge writes logical as uint8 with MATLAB_class='logical': h5py's own bools are HDF5
  enums that MATLAB reads as strings). Complex is a compound ``real``/``imag`` (h5py's ``r``/``i``
  is read too).
"""

from __future__ import annotations

import h5py
import numpy as np

from bridge._formats import HDF5_ORDERS, check_order, h5util
from bridge._formats.classes import (
    NUMERIC_DTYPES,
    REQUEST_FIELDS,
    Variable,
    check_size,
    class_of,
    matlab_size,
)
from bridge.errors import FileFormatError, JobError

ORDER_ATTRIBUTE = "bridge_dim_order"


def read(path: str, *, hdf5_order: str | None = None, **_options):
    """Variables (root datasets, read on demand) and request (root attributes) of an HDF5 file."""
    with h5util.open_read(path) as f:
        with h5util.guard(path, what="its root attributes cannot be read"):
            recorded = h5util.attr_text(f.attrs.get(ORDER_ATTRIBUTE))
        order = hdf5_order or recorded or "matlab"
        if order not in HDF5_ORDERS:
            msg = f"the attribute {ORDER_ATTRIBUTE} is '{order}'; must be 'matlab' or 'c'"
            raise FileFormatError(msg).where(file=path)
        request = {}
        for key in REQUEST_FIELDS:
            with h5util.guard(path, what=f"the attribute '{key}' cannot be read"):
                value = f.attrs.get(key, None)
            if value is not None:
                text = h5util.attr_text(value)
                if text is None:
                    msg = f"the attribute '{key}' must be text: h5writeatt(f, '/', '{key}', '...')"
                    raise JobError(msg).where(file=path)
                request[key] = text
        variables = []
        for name, obj, note in h5util.root_entries(f, path):
            with h5util.guard(path, name):
                variables.append(_variable(name, obj, note, order, path))
    return variables, request


def _variable(name: str, obj, note: str | None, order: str, path: str) -> Variable:
    if obj is None:
        return h5util.H5Variable(name, "link", (1, 1), file=path, note=note)
    if not isinstance(obj, h5py.Dataset):
        return Variable(name, "group", (1, 1), file=path)
    shape = obj.shape
    if shape is None:  # HDF5 null dataspace: no values at all
        return Variable(name, "double", (0, 0), data=np.zeros((0, 0)), file=path)
    if len(shape) == 1:
        size = matlab_size((shape[0], 1))  # MATLAB's h5read: 1-D is a column
    else:
        size = matlab_size(shape[::-1] if order == "matlab" else shape)
    check_size(size, path, name)
    dtype = obj.dtype
    kind = _special_kind(dtype)
    if kind == "text":
        return _text(name, obj, size, path)
    if kind is not None:
        return h5util.H5Variable(name, f"HDF5 {kind}", size, file=path)
    cls, is_complex = _class(obj, dtype)
    if cls is None:
        return Variable(name, f"HDF5 {dtype}", size, file=path)
    source = h5util.Source(
        path=path,
        name=obj.name.encode() if obj.name else name.encode(),
        variable=name,
        shape=tuple(shape),
        dtype=dtype,
        size=size,
        matlab_class=cls,
        complex=is_complex,
        reverse=order == "matlab",
        chunks=obj.chunks,
    )
    variable = h5util.H5Variable(
        name, cls, size, is_complex, file=path, loader=source.read, source=source
    )
    return h5util.lazy(variable)


def _special_kind(dtype: np.dtype) -> str | None:
    """'text' for strings; a description for HDF5 types that are neither text nor numbers."""
    if h5py.check_string_dtype(dtype) is not None or dtype.kind in "SU":
        return "text"
    if h5py.check_ref_dtype(dtype) is not None:
        return "object reference"
    vlen = h5py.check_vlen_dtype(dtype)
    if vlen is not None:
        return f"variable-length sequence of {vlen}"
    if dtype.kind == "O":
        return "object"
    return None


def _text(name: str, obj: h5py.Dataset, size: tuple[int, ...], path: str) -> Variable:
    itemsize = obj.dtype.itemsize if obj.dtype.kind in "SU" else 64
    if obj.size * itemsize > h5util.MAX_TEXT_BYTES:
        return h5util.H5Variable(name, "char", size, file=path)  # never an operand: not read
    values = obj[()]
    # MATLAB's char is UTF-16 code units: a character beyond U+FFFF is a surrogate pair
    text = _joined_text(np.asarray(values)).encode("utf-16-le", "surrogatepass")
    codes = np.frombuffer(text, "<u2").astype(np.uint32).reshape(1, -1)
    return Variable(name, "char", matlab_size(codes.shape), data=codes, file=path)


def _class(obj: h5py.Dataset, dtype: np.dtype) -> tuple[str | None, bool]:
    pair = h5util.complex_fields(dtype)
    base = dtype[pair[0]] if pair else dtype
    if dtype.kind == "c":  # h5py's own complex (an r/i compound)
        pair, base = ("r", "i"), np.dtype(np.float32 if dtype == np.complex64 else np.float64)
    declared = h5util.attr_text(obj.attrs.get("MATLAB_class"))
    if declared == "logical" or base == np.bool_:
        return ("logical", False) if pair is None else (None, False)
    for name, candidate in NUMERIC_DTYPES.items():
        if base == candidate and name != "logical":
            return name, pair is not None
    return None, False  # float16, bitfields, opaque types: no MATLAB class


def _joined_text(values: np.ndarray) -> str:
    parts = [
        v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values.ravel()
    ]
    return "".join(parts)


def write(
    path: str,
    arrays: dict[str, np.ndarray],
    request: dict[str, str],
    *,
    compress: bool = False,
    hdf5_order: str = "matlab",
    **_options,
) -> None:
    """Root datasets in ``hdf5_order``, request and the order as root attributes."""
    order = check_order(hdf5_order)
    with h5py.File(path, "w", libver=h5util.LIBVER) as f:
        h5util.write_text_attr(f, ORDER_ATTRIBUTE, order)
        for key, text in request.items():
            h5util.write_text_attr(f, key, text)
        for name, array in arrays.items():
            cls, _ = class_of(array)
            stored = h5util.storable(array.astype(np.uint8) if cls == "logical" else array)
            if order == "matlab":
                stored = stored.T
            options = h5util.dataset_options(array, compress)
            dataset = h5util.create_dataset(f, name, stored, options)
            h5util.write_text_attr(dataset, "MATLAB_class", cls)
