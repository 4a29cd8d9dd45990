"""MAT-files v4, v5/v6/v7 (MATLAB's default ``save``) through scipy.io.

Reading keeps MATLAB's classes, not scipy's storage types:

* ``loadmat(mat_dtype=False)`` returns the type an array is *stored* in. MATLAB stores
  integer-valued doubles as uint8/int16..., and logical as uint8, so the class comes from
  ``whosmat`` and the values are cast to it. ``mat_dtype=True`` would do the cast but silently
  drops imaginary parts (scipy issue 17641), so it is not used.
* ``squeeze_me=False``: MATLAB sizes (0x3 vs 3x0, 1x1x3) survive as numpy shapes.
* sparse matrices become dense arrays of their class (double or logical): the convolution of a
  sparse operand has the same values.

Writing uses ``savemat(format='5')``, which is what MATLAB's -v6 and -v7 read (v7 only adds
compression); arrays arrive at least 2-D, so ``oned_as`` never applies.

scipy.io costs about 0.2 s to import, on every MATLAB call: the common files (full numeric,
logical and char arrays, little-endian, compressed or not) are read and written by the numpy-only
:mod:`bridge.formats._mat5`, which writes what savemat writes and leaves everything else to
scipy.io (imported only then), so odd files and their errors behave exactly as with scipy.
"""

from __future__ import annotations

import warnings

import numpy as np

from bridge.errors import FileFormatError
from bridge.formats import _mat5
from bridge.formats.classes import NUMERIC_DTYPES, Variable, matlab_size, to_class

# scipy's names for classes that are not arrays of numbers
_OTHER_CLASSES = {"function": "function_handle"}


def read(path: str, **_options) -> tuple[list[Variable], dict[str, str]]:
    """Variables of a v4/v5/v6/v7 MAT-file; request fields stay char variables here."""
    fast = _mat5.read(path)
    if fast is not None:
        return [_fast_variable(path, *found) for found in fast], {}
    import scipy.io

    with open(path, "rb") as f:
        try:
            # scipy warns about oddities (duplicate names, odd headers) that do not change the
            # values; the CLI must print one line, not a warning dump.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                infos = scipy.io.whosmat(f)
                f.seek(0)
                contents = scipy.io.loadmat(
                    f,
                    mat_dtype=False,
                    squeeze_me=False,
                    chars_as_strings=False,
                    struct_as_record=True,
                )
        except Exception as e:  # scipy raises ValueError, TypeError, zlib.error, ... on bad files
            first = (str(e).splitlines() or [type(e).__name__])[0]
            msg = f"cannot be read as a MAT-file (truncated or corrupt?): {first}"
            raise FileFormatError(msg).where(file=path) from e
    variables = []
    for name, shape, scipy_class in infos:
        # Names starting with '_' are not MATLAB variables (scipy's __function_workspace__, ...).
        if name.startswith("_") or name not in contents:
            continue
        variables.append(_variable(name, shape, scipy_class, contents[name], path))
    return variables, {}


def _fast_variable(path: str, name: str, cls: str, is_complex: bool, data) -> Variable:
    size = matlab_size(data.shape)
    return Variable(name, cls, size, is_complex, data.reshape(size), path)


def _variable(name: str, shape, scipy_class: str, value, path: str) -> Variable:
    import scipy.sparse

    sparse = scipy.sparse.issparse(value)
    if sparse:
        value = value.toarray()
    if scipy_class == "sparse":  # whosmat does not say sparse of what: the values do
        scipy_class = "logical" if np.asarray(value).dtype == np.bool_ else "double"
    if scipy_class in NUMERIC_DTYPES:
        is_complex = np.iscomplexobj(value)
        data = to_class(value, scipy_class, is_complex)
        size = matlab_size(data.shape)
        return Variable(name, scipy_class, size, is_complex, data.reshape(size), path, sparse)
    if scipy_class == "char":
        return _char(name, np.asarray(value), path)
    size = matlab_size(getattr(value, "shape", shape))
    return Variable(name, _class_name(scipy_class, value), size, file=path)


def _char(name: str, value: np.ndarray, path: str) -> Variable:
    # chars_as_strings=False keeps one character per element ('<U1'), so the codes are a view.
    if value.dtype.kind == "U" and value.dtype.itemsize == 4:
        codes = value.view(np.uint32).reshape(value.shape)
    else:
        codes = np.array([ord(c) for c in "".join(np.ravel(value).tolist())], dtype=np.uint32)
        codes = codes.reshape(1, -1)
    size = matlab_size(codes.shape)
    return Variable(name, "char", size, data=codes.reshape(size), file=path)


def _class_name(scipy_class: str, value) -> str:
    """MATLAB's class() of a non-array variable, as far as the file says it."""
    from scipy.io.matlab import MatlabObject, MatlabOpaque

    if isinstance(value, MatlabObject) and getattr(value, "classname", None):
        return str(value.classname)
    if isinstance(value, MatlabOpaque):
        # MCOS objects (string, datetime, table, ...): field s2 holds the class name.
        try:
            found = value["s2"].reshape(-1)[0]
            return found.decode() if isinstance(found, bytes) else str(found)
        except (ValueError, IndexError, KeyError, UnicodeDecodeError):
            return "opaque"
    return _OTHER_CLASSES.get(scipy_class, scipy_class)


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
