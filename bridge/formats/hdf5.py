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

from bridge.errors import FileFormatError, JobError
from bridge.formats import HDF5_ORDERS, check_order, h5util
from bridge.formats.classes import (
    NUMERIC_DTYPES,
    REQUEST_FIELDS,
    Variable,
    class_of,
    matlab_size,
    to_class,
)

ORDER_ATTRIBUTE = "bridge_dim_order"


def read(path: str, *, hdf5_order: str | None = None, **_options):
    """Variables (root datasets) and request (root attributes) of a plain HDF5 file."""
    with h5util.open_read(path) as f:
        recorded = h5util.attr_text(f.attrs.get(ORDER_ATTRIBUTE))
        order = hdf5_order or recorded or "matlab"
        if order not in HDF5_ORDERS:
            msg = f"the attribute {ORDER_ATTRIBUTE} is '{order}'; must be 'matlab' or 'c'"
            raise FileFormatError(msg).where(file=path)
        request = {}
        for key in REQUEST_FIELDS:
            if key in f.attrs:
                text = h5util.attr_text(f.attrs[key])
                if text is None:
                    msg = f"the attribute '{key}' must be text: h5writeatt(f, '/', '{key}', '...')"
                    raise JobError(msg).where(file=path)
                request[key] = text
        variables = [_variable(name, obj, order, path) for name, obj in f.items()]
    return variables, request


def _variable(name: str, obj: h5py.HLObject, order: str, path: str) -> Variable:
    if not isinstance(obj, h5py.Dataset):
        return Variable(name, "group", (1, 1), file=path)
    values = h5util.read_values(obj)
    if values.ndim == 1:
        values = values.reshape(-1, 1)  # MATLAB's h5read: 1-D is a column
    elif order == "matlab":
        values = values.T
    size = matlab_size(values.shape)
    values = values.reshape(size)
    if values.dtype.kind in "SU" or h5py.check_string_dtype(obj.dtype) is not None:
        codes = np.array([ord(c) for c in _joined_text(values)], dtype=np.uint32).reshape(1, -1)
        return Variable(name, "char", matlab_size(codes.shape), data=codes, file=path)
    cls = _class(obj, values)
    if cls is None:
        return Variable(name, f"HDF5 {_type_words(obj.dtype)}", size, file=path)
    is_complex = np.iscomplexobj(values)
    return Variable(name, cls, size, is_complex, to_class(values, cls, is_complex), path)


def _class(obj: h5py.Dataset, values: np.ndarray) -> str | None:
    declared = h5util.attr_text(obj.attrs.get("MATLAB_class"))
    if declared == "logical" or values.dtype == np.bool_:
        return "logical"
    base = values.real.dtype if np.iscomplexobj(values) else values.dtype
    for name, dtype in NUMERIC_DTYPES.items():
        if base == dtype and name != "logical":
            return name
    return None  # float16, bitfields, opaque types: no MATLAB class


def _type_words(dtype: np.dtype) -> str:
    """An HDF5 type no MATLAB class holds, in words (variable-length and reference types are
    numpy 'object' arrays, which would otherwise look like text)."""
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    vlen = h5py.check_vlen_dtype(dtype)
    if vlen is not None:
        return f"variable-length {vlen}"
    return str(dtype)


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
            dataset = f.create_dataset(name, data=stored, **h5util.dataset_options(array, compress))
            h5util.write_text_attr(dataset, "MATLAB_class", cls)
