"""MAT-files written by MATLAB itself (MATLAB 4.2 to 8): scipy's own test data.

They show what Octave-written files never do: doubles stored as uint8/int16 (integer-valued
data), logical stored as uint8, v4 files without a header, sparse matrices, big-endian files.
Classes and sizes are facts about the files; values are checked against scipy.io.loadmat with
``mat_dtype=True`` (the class-preserving read that is exact for real data) or, for complex data,
without it (scipy issue 17641).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from bridge import _formats as formats
from bridge._formats.classes import class_dtype
from bridge.errors import FileFormatError, InputTypeError

DATA = Path(scipy.io.__file__).parent / "matlab" / "tests" / "data"

# (file, variable, MATLAB class, size, complex)
NUMERIC = [
    ("testmatrix_7.4_GLNX86.mat", "testmatrix", "double", (3, 5), False),  # stored as uint8
    ("testmatrix_6.1_SOL2.mat", "testmatrix", "double", (3, 5), False),
    ("testmatrix_4.2c_SOL2.mat", "testmatrix", "double", (3, 5), False),  # v4, big-endian
    ("test3dmatrix_7.4_GLNX86.mat", "test3dmatrix", "double", (2, 3, 4), False),
    ("testminus_7.4_GLNX86.mat", "testminus", "double", (1, 1), False),  # stored as int16
    ("testdouble_7.4_GLNX86.mat", "testdouble", "double", (1, 9), False),
    ("testdouble_4.2c_SOL2.mat", "testdouble", "double", (1, 9), False),
    ("testcomplex_7.4_GLNX86.mat", "testcomplex", "double", (1, 9), True),
    ("testcomplex_4.2c_SOL2.mat", "testcomplex", "double", (1, 9), True),
    ("testbool_8_WIN64.mat", "testbools", "logical", (2, 1), False),  # stored as uint8
    ("testsparse_7.4_GLNX86.mat", "testsparse", "double", (3, 5), False),
    ("testsparse_6.1_SOL2.mat", "testsparse", "double", (3, 5), False),
    ("testsparse_4.2c_SOL2.mat", "testsparse", "double", (3, 5), False),  # v4
    ("testsparsecomplex_7.4_GLNX86.mat", "testsparsecomplex", "double", (3, 5), True),
    ("logical_sparse.mat", "sp_log_5_4", "logical", (5, 4), False),
    ("big_endian.mat", "floats", "single", (2, 2), False),
    ("testvec_4_GLNX86.mat", "fit_params", "double", (2, 1), False),
    ("testmulti_7.4_GLNX86.mat", "a", "double", (3, 5), False),
    ("testhdf5_7.4_GLNX86.mat", "testdouble", "double", (1, 9), False),  # v7.3 by MATLAB 7.4
]
# (file, variable, MATLAB class as bridge reports it)
NOT_OPERANDS = [
    ("teststring_7.4_GLNX86.mat", "teststring", "char"),
    ("teststringarray_7.4_GLNX86.mat", "teststringarray", "char"),
    ("testcell_7.4_GLNX86.mat", "testcell", "cell"),
    ("teststruct_7.4_GLNX86.mat", "teststruct", "struct"),
    ("testobject_7.4_GLNX86.mat", "testobject", "inline"),
    ("testfunc_7.4_GLNX86.mat", "testfunc", "function_handle"),
    ("big_endian.mat", "strings", "cell"),
]
CORRUPT = [
    "corrupted_zlib_checksum.mat",
    "corrupted_zlib_data.mat",
    "malformed1.mat",
    "bad_miuint32.mat",
    "debigged_m4.mat",
]


def _reference(path: Path, name: str, is_complex: bool) -> np.ndarray:
    if path.name.startswith("testhdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            return f[name][()].T
    value = scipy.io.loadmat(path, mat_dtype=not is_complex, squeeze_me=False)[name]
    return value.toarray() if scipy.sparse.issparse(value) else value


@pytest.mark.parametrize(
    ("file", "name", "cls", "size", "is_complex"), NUMERIC, ids=[f"{f}-{n}" for f, n, *_ in NUMERIC]
)
def test_matlab_written_numbers_keep_class_size_and_values(file, name, cls, size, is_complex):
    variables, _ = formats.read(DATA / file)
    variable = variables[name]
    assert (variable.matlab_class, variable.size, variable.complex) == (cls, size, is_complex)
    got = variable.array()
    expected = _reference(DATA / file, name, is_complex)
    assert got.shape == size
    assert np.array_equal(got, expected.astype(got.dtype))
    assert got.dtype == class_dtype(cls, is_complex)


def test_integer_valued_doubles_are_not_uint8():
    # The trap itself: scipy's default read says uint8, MATLAB says double.
    raw = scipy.io.loadmat(DATA / "testmatrix_7.4_GLNX86.mat")["testmatrix"]
    assert raw.dtype == np.uint8
    assert (
        formats.read(DATA / "testmatrix_7.4_GLNX86.mat")[0]["testmatrix"].array().dtype
        == np.float64
    )


@pytest.mark.parametrize(
    ("file", "name", "cls"), NOT_OPERANDS, ids=[f"{f}-{n}" for f, n, _ in NOT_OPERANDS]
)
def test_non_numeric_variables_are_named_in_a_type_error(file, name, cls):
    variable = formats.read(DATA / file)[0][name]
    assert variable.matlab_class == cls
    with pytest.raises(InputTypeError) as caught:
        variable.array()
    message = str(caught.value)
    assert file in message and f"'{name}'" in message and cls in message
    assert "MATLAB:conv2:inputType" in message and "\n" not in message


@pytest.mark.parametrize("file", CORRUPT)
def test_corrupt_matlab_files_give_one_clear_error(file):
    with pytest.raises(FileFormatError) as caught:
        formats.read(DATA / file)
    message = str(caught.value)
    assert file in message and "MAT-file" in message and "\n" not in message
