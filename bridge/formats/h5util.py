"""h5py helpers shared by the MAT v7.3 and plain HDF5 formats (both are HDF5 underneath).

Imported only when an HDF5-based file is read or written: h5py costs start-up time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import h5py
import numpy as np

from bridge.errors import FileFormatError

# MATLAB names the members of a complex compound exactly 'real' and 'imag'; h5py's own complex
# type uses 'r' and 'i' (accepted on reading, never written: Octave reads it as zeros).
COMPLEX_FIELDS = (("real", "imag"), ("r", "i"))

# Superblock version 0: MATLAB before R2021b refuses files with a newer one.
LIBVER = ("earliest", "v108")


@contextlib.contextmanager
def open_read(path: str) -> Iterator[h5py.File]:
    """Open an HDF5 file read-only; FileFormatError (one line) if HDF5 cannot open it."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        msg = f"cannot be read as HDF5 (truncated or corrupt?): {first}"
        raise FileFormatError(msg).where(file=path) from e
    with f:
        yield f


def complex_fields(dtype: np.dtype) -> tuple[str, str] | None:
    """The (real, imaginary) member names if ``dtype`` is a complex compound, else None."""
    names = dtype.names or ()
    for pair in COMPLEX_FIELDS:
        if tuple(names) == pair and dtype[pair[0]] == dtype[pair[1]]:
            return pair
    return None


def read_values(dataset: h5py.Dataset) -> np.ndarray:
    """All values of a dataset as numpy sees them (h5py order), complex compounds made complex."""
    if dataset.shape is None:  # HDF5 null dataspace: no values at all
        return np.zeros((0, 0))
    values = dataset[()]
    pair = complex_fields(dataset.dtype)
    if pair is not None:
        values = _complex(values[pair[0]], values[pair[1]])
    return np.asarray(values)


def _complex(real: np.ndarray, imag: np.ndarray) -> np.ndarray:
    # Assign the parts: real + 1j*imag would turn an infinite imaginary part into NaN + Inf*1j.
    dtype = np.complex64 if real.dtype == np.float32 else np.complex128
    out = np.empty(real.shape, dtype=dtype)
    out.real, out.imag = real, imag
    return out


def storable(array: np.ndarray) -> np.ndarray:
    """``array`` in a form HDF5 stores the MATLAB way: complex as a real/imag compound."""
    if not np.iscomplexobj(array):
        return array
    part = array.real.dtype
    out = np.empty(array.shape, dtype=np.dtype([("real", part), ("imag", part)]))
    out["real"], out["imag"] = array.real, array.imag
    return out


def write_text_attr(obj: h5py.HLObject, name: str, text: str) -> None:
    """A scalar fixed-length NULLTERM ASCII string attribute, as MATLAB writes MATLAB_class.

    h5py's default for str is a variable-length UTF-8 string, which Octave cannot read and which
    is not what MATLAB writes.
    """
    data = text.encode("utf-8")
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(max(len(data), 1))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    if not text.isascii():
        tid.set_cset(h5py.h5t.CSET_UTF8)
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    if name in obj.attrs:
        del obj.attrs[name]
    attr = h5py.h5a.create(obj.id, name.encode("ascii"), tid, space)
    attr.write(np.array(data, dtype=f"S{max(len(data), 1)}"), mtype=tid)


def attr_text(value: object) -> str | None:
    """The text of a string attribute (bytes, str or a one-element array of them), else None."""
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "SUO":
            return None
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    return None


def dataset_options(array: np.ndarray, compress: bool) -> dict:
    """gzip (the only filter MATLAB reads) when compression is asked for and there is data."""
    if compress and array.size > 0:
        return {"compression": "gzip", "shuffle": True}
    return {}
