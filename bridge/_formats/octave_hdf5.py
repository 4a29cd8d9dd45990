"""GNU Octave's ``save -hdf5`` layout: one group per variable holding ``type`` and ``value``.

What Octave 7 writes (``ls-hdf5.cc`` and the ``save_hdf5`` of each type)::

    /A          group, attribute OCTAVE_NEW_FORMAT = 1 (OCTAVE_GLOBAL = 1 for globals)
    /A/type     scalar string dataset: 'matrix', 'complex scalar', 'int8 matrix', 'sq_string', ...
    /A/value    the data with the dimensions reversed (MATLAB's column-major order), complex as a
                compound real/imag, logical as uint8, char as int8 codes; an empty array has the
                attribute OCTAVE_EMPTY_MATRIX and its MATLAB size as the value.

Ranges (``double_range``: base/limit/increment with the attribute OCTAVE_RANGE_NELEM) and sparse
matrices (``nr``, ``nc``, ``nz``, ``cidx``, ``ridx``, ``data``) are expanded to full arrays, within
the limit of :data:`bridge._formats.octave_text.MAX_EXPANDED_ELEMENTS`. Cells, structs and function
handles are listed but not numeric. Every h5py access is guarded: a damaged file or an odd object
is a FileFormatError naming the variable, never a traceback.
"""

from __future__ import annotations

from math import prod

import h5py
import numpy as np

from bridge._formats import h5util
from bridge._formats.classes import Variable, check_size, matlab_size, size_problem
from bridge._formats.octave_text import (
    _INT_TYPES,
    _NUMERIC,
    _SPARSE,
    MAX_EXPANDED_ELEMENTS,
    MAX_NDIMS,
    SAVE_ONLY,
    _range_final,
    _range_numel,
)
from bridge.errors import BridgeError, FileFormatError

_DTYPES: dict[str, np.dtype] = {
    "double": np.dtype(np.float64),
    "single": np.dtype(np.float32),
    "logical": np.dtype(np.bool_),
    **{name: np.dtype(name) for name in _INT_TYPES},
}
# A dataset whose declared size exceeds what the file stores by more than this factor (a
# compression bomb or an unwritten fill-value dataset) is refused.
MAX_EXPANSION = 1000
_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError, IndexError)


def looks_like(path: str) -> bool:
    """True if the HDF5 file's root holds Octave's variable groups (type and value)."""
    try:
        with h5py.File(path, "r") as f:
            for raw in f.id.__iter__():
                # only hard links are looked into: following any other could open another file
                if f.id.links.get_info(raw).type != h5py.h5l.TYPE_HARD:
                    continue
                obj = f[raw]
                if isinstance(obj, h5py.Group) and all(
                    _hard(obj, key) for key in (b"type", b"value")
                ):
                    return True
    except _H5_ERRORS:
        return False  # the HDF5 reader reports what is wrong with the file
    return False


def _hard(group: h5py.Group, key: bytes) -> bool:
    links = group.id.links
    return links.exists(key) and links.get_info(key).type == h5py.h5l.TYPE_HARD


def read(path: str, **_options) -> tuple[list[Variable], dict[str, str]]:
    """Variables of an Octave HDF5 file; op/shape stay char variables (the caller takes them)."""
    variables = []
    with h5util.open_read(path) as f:
        try:
            names = list(f)
        except _H5_ERRORS as e:
            raise FileFormatError(f"cannot list the HDF5 root: {_first(e)}").where(file=path) from e
        for name in names:
            try:
                variables.append(_variable(f, name, path))
            except BridgeError as e:
                raise e.where(file=path, variable=name) from None
            except _H5_ERRORS as e:
                msg = f"cannot be read as Octave HDF5 data: {_first(e)}"
                raise FileFormatError(msg).where(file=path, variable=name) from e
    return variables, {}


def _words(dtype: np.dtype) -> str:
    """An HDF5 type in words: 'float64', 'a compound of real, imag', 'text'."""
    if dtype.names:
        return f"a compound of {', '.join(dtype.names)}"
    if dtype.kind in "SUO":
        return "text or objects"
    return dtype.name


def _first(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def _variable(f: h5py.File, name: str, path: str) -> Variable:
    obj = h5util.child(f, name, path, name)
    if not isinstance(obj, h5py.Group) or not {"type", "value"} <= set(obj):
        what = "a dataset" if isinstance(obj, h5py.Dataset) else "an object"
        msg = f"is {what} outside Octave's layout (a group with 'type' and 'value')"
        raise FileFormatError(msg)
    kind = _type_name(h5util.child(obj, "type", path, name))
    value = h5util.child(obj, "value", path, name)
    base, _, last = kind.rpartition(" ")
    if last in ("scalar", "matrix") and base in _NUMERIC:
        cls, is_complex = _NUMERIC[base]
        return _numeric(name, cls, is_complex, value, path)
    if kind == "bool":
        return _numeric(name, "logical", False, value, path)
    if kind in ("string", "sq_string"):
        return _char(name, value, path)
    if kind in ("double_range", "range"):
        return _range(name, value, path)
    if kind in _SPARSE:
        return _sparse(name, *_SPARSE[kind], value, path)
    if kind == "cell":
        return Variable(name, "cell", _group_size(value), file=path)
    if kind == "scalar struct":
        return Variable(name, "struct", (1, 1), file=path)
    if kind == "struct":  # a struct array: each field is a cell of the array's size
        fields = [_child(value, k) for k in value] if isinstance(value, h5py.Group) else []
        first = next((g for g in fields if isinstance(g, h5py.Group) and "value" in g), None)
        size = _group_size(_child(first, "value")) if first is not None else (1, 1)
        return Variable(name, "struct", size, file=path)
    if kind == "function handle":
        return Variable(name, "function_handle", (1, 1), file=path)
    raise FileFormatError(f"Octave type '{kind[:40]}' cannot be read by bridge; {SAVE_ONLY}")


def _type_name(dataset) -> str:
    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "SO" or dataset.size != 1:
        raise FileFormatError("its 'type' is not a string")
    text = h5util.attr_text(np.asarray(dataset[()]).reshape(-1)[0])
    if text is None:
        raise FileFormatError("its 'type' is not a string")
    return " ".join(text.replace("\x00", "").split())


def _child(group: h5py.Group, key: str):
    """``group[key]`` (None if missing), refusing any link or storage out of the file; the
    caller adds the file and the variable to the error."""
    return h5util.child(group, key, None, None)


def _dataset(value) -> h5py.Dataset:
    if not isinstance(value, h5py.Dataset):
        raise FileFormatError("its 'value' is not a dataset")
    return value


def _empty_size(value: h5py.Dataset) -> tuple[int, ...] | None:
    """The MATLAB size of an empty array (OCTAVE_EMPTY_MATRIX), or None."""
    if "OCTAVE_EMPTY_MATRIX" not in value.parent.attrs:
        return None
    dims = _read(value, max_elements=MAX_NDIMS)
    if dims.ndim != 1 or not 2 <= dims.size <= MAX_NDIMS or dims.dtype.kind not in "iu":
        raise FileFormatError("an empty array's size must be 2 or more integers")
    if np.any(dims < 0) or prod(int(d) for d in dims) != 0:
        shown = "x".join(str(int(d)) for d in dims)
        raise FileFormatError(f"an empty array (OCTAVE_EMPTY_MATRIX) cannot have the size {shown}")
    problem = size_problem(tuple(int(d) for d in dims))
    if problem is not None:
        raise FileFormatError(problem)
    return matlab_size(tuple(int(d) for d in dims))


def _read(dataset: h5py.Dataset, *, max_elements: int | None = None) -> np.ndarray:
    """A dataset's values, after checking that the file really stores them."""
    _check_stored(dataset, max_elements=max_elements)
    return np.asarray(h5util.read_values(dataset))


def _check_stored(dataset: h5py.Dataset, *, max_elements: int | None = None) -> None:
    """That the file really stores what the dataset declares (no null dataspace, no
    compression bomb), from its headers alone."""
    if dataset.shape is None:
        raise FileFormatError("its value has no data (HDF5 null dataspace)")
    if max_elements is not None and dataset.size > max_elements:
        raise FileFormatError(f"a field holds {dataset.size} values, at most {max_elements}")
    nbytes = dataset.size * dataset.dtype.itemsize
    if dataset.chunks is not None or dataset.compression is not None:
        stored = dataset.id.get_storage_size()
        if nbytes > MAX_EXPANSION * stored + 2**20:
            msg = (
                f"declares {nbytes} bytes but the file stores {stored} of them "
                "(damaged or a compression bomb)"
            )
            raise FileFormatError(msg)


def _matlab_array(values: np.ndarray) -> np.ndarray:
    # Octave stores MATLAB's column-major array as HDF5 sees C order: the axes come reversed.
    array = values.T
    return array.reshape(matlab_size(array.shape))


def _numeric(name: str, cls: str, is_complex: bool, value, path: str) -> Variable:
    value = _dataset(value)
    empty = _empty_size(value)
    dtype = _DTYPES[cls]
    if empty is not None:
        data = np.zeros(empty, dtype=np.complex64 if cls == "single" else np.complex128)
        if not is_complex:
            data = np.zeros(empty, dtype=dtype)
        return Variable(name, cls, empty, is_complex, data, path)
    _check_stored(value)
    pair = h5util.complex_fields(value.dtype)
    if is_complex != (pair is not None):
        kind = f"complex {cls}" if is_complex else cls
        raise FileFormatError(f"{kind} data is stored as {_words(value.dtype)}")
    base = value.dtype[pair[0]] if pair else value.dtype
    if base.kind not in "biufc":
        raise FileFormatError(f"its value is {_words(value.dtype)}, not numbers")
    # Octave stores MATLAB's column-major array as HDF5 sees C order: the axes come reversed.
    # Read on demand, as MAT v7.3 variables are: a large operand can be streamed.
    size = matlab_size(tuple(value.shape)[::-1])
    check_size(size, path, name)
    return h5util.dataset_variable(name, cls, size, value, path, is_complex)


def _char(name: str, value, path: str) -> Variable:
    value = _dataset(value)
    empty = _empty_size(value)
    if empty is not None:
        return Variable(name, "char", empty, data=np.zeros(empty, dtype=np.uint32), file=path)
    values = _read(value)
    if values.dtype.kind not in "iu":
        raise FileFormatError(f"char data is stored as {_words(values.dtype)}, not codes")
    codes = _matlab_array(values).astype(np.int64) % 256  # int8 codes of Octave's bytes
    codes = codes.astype(np.uint32)
    size = matlab_size(codes.shape)
    return Variable(name, "char", size, data=codes.reshape(size, order="F"), file=path)


def _range(name: str, value, path: str) -> Variable:
    value = _dataset(value)
    fields = value.dtype.names or ()
    if not {"base", "limit", "increment"} <= set(fields) or value.size != 1:
        raise FileFormatError("a range needs base, limit and increment")
    record = np.asarray(value[()]).reshape(-1)[0]
    base, limit, inc = (float(record[k]) for k in ("base", "limit", "increment"))
    count = _range_numel(base, limit, inc) if inc != 0 else 0
    stored = value.attrs.get("OCTAVE_RANGE_NELEM")
    if stored is not None:
        stored = int(np.asarray(stored).reshape(-1)[0])
        if inc == 0:
            count = stored
    if count < 0 or count > MAX_EXPANDED_ELEMENTS:
        raise FileFormatError(f"a range of {count} elements cannot be expanded; {SAVE_ONLY}")
    values = base + np.arange(count) * inc
    if count:
        values[0] = base
        if inc != 0:
            values[-1] = _range_final(base, limit, inc, count)
    return Variable(name, "double", (1, count), False, values.reshape(1, count), path)


def _sparse(name: str, cls: str, is_complex: bool, value, path: str) -> Variable:
    if not isinstance(value, h5py.Group):
        raise FileFormatError("a sparse matrix's value must be a group")

    def scalar(key: str) -> int:
        found = _read(_dataset(_child(value, key)), max_elements=1).reshape(-1)
        if found.size != 1 or found.dtype.kind not in "iu" or found[0] < 0:
            raise FileFormatError(f"the sparse field '{key}' must be a count")
        return int(found[0])

    rows, cols, nnz = scalar("nr"), scalar("nc"), scalar("nz")
    if rows * cols > MAX_EXPANDED_ELEMENTS:
        raise FileFormatError(
            f"a {rows}x{cols} sparse matrix is too large to expand (more than "
            f"{MAX_EXPANDED_ELEMENTS} elements); save full(...) of what bridge should compute"
        )
    cidx = _read(_dataset(_child(value, "cidx")), max_elements=cols + 1).reshape(-1)
    ridx = _read(_dataset(_child(value, "ridx")), max_elements=max(nnz, 1)).reshape(-1)
    data = _read(_dataset(_child(value, "data")), max_elements=max(nnz, 1)).reshape(-1)
    if (
        cidx.size != cols + 1
        or ridx.size != nnz
        or data.size != nnz
        or cidx.dtype.kind not in "iu"
        or ridx.dtype.kind not in "iu"
        or cidx[0] != 0
        or cidx[-1] != nnz
        or np.any(np.diff(cidx.astype(np.int64)) < 0)
        or (nnz and (ridx.min() < 0 or ridx.max() >= rows))
    ):
        raise FileFormatError("its sparse index fields (cidx, ridx) do not fit nr, nc and nz")
    if is_complex != np.iscomplexobj(data):
        raise FileFormatError(f"sparse data is stored as {_words(data.dtype)}")
    dtype = (np.complex128 if is_complex else np.float64) if cls == "double" else np.bool_
    full = np.zeros((rows, cols), dtype=dtype)
    counts: np.ndarray = np.diff(cidx.astype(np.int64))  # the nonzeros of each column
    columns = np.repeat(np.arange(cols), counts)
    full[ridx.astype(np.intp), columns] = data != 0 if cls == "logical" else data
    return Variable(name, cls, (rows, cols), is_complex, full, path, sparse=True)


def _group_size(value) -> tuple[int, ...]:
    dims_set = _child(value, "dims") if isinstance(value, h5py.Group) else None
    if isinstance(dims_set, h5py.Dataset):
        dims = _read(dims_set, max_elements=MAX_NDIMS).reshape(-1)
        if dims.dtype.kind in "iu" and dims.size >= 2 and np.all(dims >= 0):
            return matlab_size(tuple(int(d) for d in dims[::-1]))
    return (1, 1)
