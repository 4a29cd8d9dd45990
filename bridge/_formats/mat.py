"""MAT-files v4, v5/v6/v7 (MATLAB's default ``save``): bridge's own readers, scipy.io's writer.

Job files come from anywhere, and scipy.io.loadmat crashes on some malformed ones (segfaults,
heap corruption, unbounded memory), so files are read by bridge's own bounds-checked readers,
numpy only (:mod:`bridge._formats._mat5` for v5/v6/v7, :mod:`bridge._formats._mat4` for v4). They
keep MATLAB's classes, not the storage types: MATLAB stores integer-valued doubles as
uint8/int16... and logical as uint8, so the class comes from the array flags and the values are
converted to it with MATLAB's rules (:func:`bridge._formats.classes.to_class`). MATLAB sizes (0x3
vs 3x0, 1x1x3) are kept; sparse matrices become full arrays of their class (double or logical):
the convolution of a sparse operand has the same values. Cells, structs and objects are listed
with their class and size; their contents are never interpreted.

Writing uses the numpy-only writer of :mod:`bridge._formats._mat5` for what it covers (what
``savemat(format='5')`` writes, which MATLAB's -v6 and -v7 read) and scipy.io otherwise.
"""

from __future__ import annotations

import numpy as np

from bridge._formats import _mat4, _mat5
from bridge._formats.classes import Variable, matlab_size
from bridge.errors import FileFormatError


def read(path: str, **_options) -> tuple[list[Variable], dict[str, str]]:
    """Variables of a v4/v5/v6/v7 MAT-file; request fields stay char variables here."""
    with open(path, "rb") as f:
        head = f.read(128)
    v5 = head.startswith(b"MATLAB") and head[126:128] in (b"IM", b"MI")
    try:
        found = _mat5.read(path) if v5 else _mat4.read(path)
    except _mat5.Malformed as e:
        if e.variable:
            raise FileFormatError(str(e)).where(file=path, variable=e.variable) from None
        msg = f"cannot be read as a MAT-file (truncated or corrupt?): {e}"
        raise FileFormatError(msg).where(file=path) from None
    return [_variable(path, item) for item in found], {}


def _variable(path: str, item: _mat5.Found) -> Variable:
    size = matlab_size(item.dims)
    data = None if item.data is None else item.data.reshape(size)
    return Variable(item.name, item.matlab_class, size, item.is_complex, data, path, item.sparse)


def write(
    path: str,
    arrays: dict[str, np.ndarray],
    request: dict[str, str],
    *,
    compress: bool = False,
    **_options,
) -> None:
    """A v6/v7 MAT-file (uncompressed unless ``compress``): arrays, then request fields as char."""
    contents: dict[str, np.ndarray | str] = dict(arrays)
    contents.update(request)
    if _mat5.can_write(contents):
        with open(path, "wb") as f:
            _mat5.write(f, contents, compress=compress)
        return
    import scipy.io

    for key, text in request.items():
        contents[key] = np.array(text)
    with open(path, "wb") as f:
        scipy.io.savemat(f, contents, format="5", do_compression=compress, oned_as="column")
