"""The numpy-only MAT v5 reader and writer (bridge.formats._mat5) against scipy.io and Octave.

The reader must give exactly what the scipy.io path of bridge.formats.mat gives, on every file it
accepts, and decline (return None, so that scipy.io reads the file) on everything else. The
writer must write what scipy.io.savemat writes, byte for byte but for the time in the header.
"""

from __future__ import annotations

import glob
import io
import os
import struct
import zlib
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import scipy.io
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import formats
from bridge.errors import FileFormatError
from bridge.formats import _mat5, mat
from tests.formats_cases import all_samples, assert_identical

SCIPY_DATA = sorted(
    glob.glob(os.path.join(os.path.dirname(scipy.io.__file__), "matlab", "tests", "data", "*.mat"))
)
CLASSES = ["double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64"]
CLASSES += ["uint64", "logical", "complex-double", "complex-single"]


@contextmanager
def scipy_only():
    """bridge.formats.mat as it was: every file through scipy.io."""
    with mock.patch.object(_mat5, "read", lambda path: None):
        yield


def assert_same_variables(fast, slow) -> None:
    assert [v.name for v in fast] == [v.name for v in slow]
    for got, want in zip(fast, slow, strict=True):
        assert (got.name, got.matlab_class, got.size, got.complex) == (
            want.name,
            want.matlab_class,
            want.size,
            want.complex,
        )
        assert_identical(got.data, want.data)
        assert got.data.flags.writeable and got.data.flags.aligned


def assert_fast_read_is_scipys(path) -> None:
    """The fast reader accepts ``path`` and gives what the scipy.io path gives."""
    assert _mat5.read(str(path)) is not None
    fast, _ = mat.read(str(path))
    with scipy_only():
        slow, _ = mat.read(str(path))
    assert_same_variables(fast, slow)


# --- MATLAB-written files (scipy's test data) ---------------------------------------------------


@pytest.mark.parametrize("path", SCIPY_DATA, ids=[Path(p).name for p in SCIPY_DATA])
def test_matlab_files_are_read_as_scipy_reads_them_or_declined(path):
    if _mat5.read(path) is None:
        return  # scipy.io reads it, as before
    assert_fast_read_is_scipys(path)


def test_many_matlab_files_take_the_fast_path():
    accepted = [Path(p).name for p in SCIPY_DATA if _mat5.read(p) is not None]
    assert len(accepted) >= 20
    # MATLAB's storage of integer-valued doubles as smaller integer types is among them
    assert "testdouble_7.1_GLNX86.mat" in accepted and "testmatrix_7.4_GLNX86.mat" in accepted


def test_big_endian_v4_sparse_cell_struct_object_files_are_declined():
    declined = {Path(p).name for p in SCIPY_DATA if _mat5.read(p) is None}
    for expected in [
        "testsparse_7.4_GLNX86.mat",
        "testcell_7.4_GLNX86.mat",
        "teststruct_7.4_GLNX86.mat",
        "testobject_7.4_GLNX86.mat",
        "testdouble_4.2c_SOL2.mat",
        "testmatrix_6.1_SOL2.mat",
    ]:
        assert expected in declined, expected


# --- files scipy.io.savemat writes ----------------------------------------------------------------


@st.composite
def arrays(draw):
    cls = draw(st.sampled_from(CLASSES))
    dims = draw(st.lists(st.integers(0, 3), min_size=2, max_size=4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = int(np.prod(dims))
    if cls == "logical":
        return rng.random(dims) < 0.5
    if cls.startswith("complex"):
        dtype = np.complex64 if cls.endswith("single") else np.complex128
        return (rng.standard_normal(dims) + 1j * rng.standard_normal(dims)).astype(dtype)
    dtype = formats.classes.NUMERIC_DTYPES[cls]
    if dtype.kind == "f":
        top = 300 if dtype == np.float64 else 37
        values = rng.standard_normal(n) * 10.0 ** rng.integers(-top, top, n)
        special = [np.nan, np.inf, -np.inf, -0.0, 1 / 3]
        values[: min(n, 5)] = special[: min(n, 5)]
        return values.astype(dtype).reshape(dims)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True).reshape(dims)


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: n not in ("op", "shape")
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(NAMES, arrays(), min_size=1, max_size=4), st.booleans())
def test_scipy_written_files_are_read_as_scipy_reads_them(tmp_path, variables, compress):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, variables, format="5", do_compression=compress)
    assert_fast_read_is_scipys(path)


def test_narrow_storage_of_doubles_is_cast_to_the_class(tmp_path):
    # MATLAB stores integer-valued doubles as uint8/int16 ...: the class is the array flags'.
    parts: list[bytes] = []
    _mat5._array_header(parts, "A", (2, 3), 6, False, False)
    _mat5._data(parts, _mat5.miINT16, np.array([-3, 1, 2, 300, 5, 6], "<i2").tobytes())
    body = b"".join(parts)
    header = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + b"\0" * 8 + b"\x00\x01IM"
    path = tmp_path / "narrow.mat"
    path.write_bytes(header + struct.pack("<II", 14, len(body)) + body)
    assert_fast_read_is_scipys(path)
    variables, _ = formats.read(path)
    assert variables["A"].data.dtype == np.float64
    assert variables["A"].data.tolist() == [[-3, 2, 5], [1, 300, 6]]


@pytest.mark.parametrize("compress", [False, True])
def test_request_fields_and_other_chars(tmp_path, compress):
    path = tmp_path / "job.mat"
    contents = {"A": np.ones((2, 2)), "op": "conv2", "shape": "same", "s": np.array(["ab", "cd"])}
    contents["t"] = "é漢"
    scipy.io.savemat(path, contents, do_compression=compress)
    assert_fast_read_is_scipys(path)
    _, request = formats.read(path)
    assert request == {"op": "conv2", "shape": "same"}


@pytest.mark.parametrize(
    "value",
    [
        scipy.sparse.csc_matrix(np.eye(3)),
        np.array([np.ones(2), "x"], dtype=object),  # a cell
        {"f": np.ones(2)},  # a struct
        np.array(""),  # an empty char
    ],
    ids=["sparse", "cell", "struct", "empty-char"],
)
def test_other_classes_are_left_to_scipy(tmp_path, value):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.ones((2, 2)), "X": value})
    assert _mat5.read(str(path)) is None
    variables, _ = formats.read(path)  # through scipy.io, as before
    assert variables["A"].data.tolist() == [[1, 1], [1, 1]]


def test_v4_files_are_left_to_scipy(tmp_path):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.ones((2, 2))}, format="4")
    assert _mat5.read(str(path)) is None
    assert formats.read(path)[0]["A"].data.shape == (2, 2)


@pytest.mark.parametrize("cut", [130, 200, -1])
@pytest.mark.parametrize("compress", [False, True])
def test_truncated_files_fail_as_before(tmp_path, cut, compress):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.arange(30.0).reshape(5, 6)}, do_compression=compress)
    path.write_bytes(path.read_bytes()[:cut])
    assert _mat5.read(str(path)) is None
    with pytest.raises(FileFormatError) as fast:
        formats.read(path)
    with scipy_only(), pytest.raises(FileFormatError) as slow:
        formats.read(path)
    assert str(fast.value) == str(slow.value)


def test_duplicate_names_and_subsystem_data_are_left_to_scipy(tmp_path):
    one = io.BytesIO()
    _mat5.write(one, {"A": np.ones((1, 1))})
    data = one.getvalue()
    (tmp_path / "twice.mat").write_bytes(data + data[128:])
    assert _mat5.read(str(tmp_path / "twice.mat")) is None
    (tmp_path / "subsys.mat").write_bytes(data[:116] + b"\x80" + b"\0" * 7 + data[124:])
    assert _mat5.read(str(tmp_path / "subsys.mat")) is None


def test_corrupt_compressed_data_is_left_to_scipy(tmp_path):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.ones((4, 4))}, do_compression=True)
    data = bytearray(path.read_bytes())
    data[140] ^= 0xFF
    path.write_bytes(bytes(data))
    assert _mat5.read(str(path)) is None


# --- Octave-written files -------------------------------------------------------------------------


@pytest.mark.octave
@pytest.mark.parametrize("option", ["-v6", "-v7"])
def test_octave_written_files_take_the_fast_path(octave, tmp_path, option):
    path = tmp_path / "job.mat"
    samples = all_samples()
    code = (
        "S__ = struct();\n"
        + "".join(f"S__.{n} = {n};\n" for n in samples)
        # (not a char matrix: Octave 7.3's -v6 writes one with a wrong size, unreadable to scipy)
        + "S__.op = 'conv2'; S__.shape = 'same'; S__.t = 'Octave text';\n"
        + f"save('{option}', '{path}', '-struct', 'S__');"
    )
    octave.call(code, samples, ["S__"])
    first = struct.unpack_from("<I", path.read_bytes(), 128)[0]
    assert first == (_mat5.miCOMPRESSED if option == "-v7" else _mat5.miMATRIX)
    assert_fast_read_is_scipys(path)
    assert formats.read(path)[1] == {"op": "conv2", "shape": "same"}


@pytest.mark.octave
def test_octave_files_with_a_cell_are_left_to_scipy(octave, tmp_path):
    path = tmp_path / "job.mat"
    octave.call(f"A = ones(2); X = {{1, 'a'}}; save('-v7', '{path}', 'A', 'X');", {}, ["A"])
    assert _mat5.read(str(path)) is None
    assert formats.read(path)[0]["X"].matlab_class == "cell"


# --- the writer -----------------------------------------------------------------------------------


def _scipy_bytes(contents: dict, compress: bool) -> bytes:
    f = io.BytesIO()
    converted = {k: np.array(v) if isinstance(v, str) else v for k, v in contents.items()}
    scipy.io.savemat(f, converted, format="5", do_compression=compress, oned_as="column")
    return f.getvalue()


def assert_written_as_scipy_writes(contents: dict, compress: bool) -> None:
    assert _mat5.can_write(contents)
    f = io.BytesIO()
    _mat5.write(f, contents, compress=compress)
    got, want = f.getvalue(), _scipy_bytes(contents, compress)
    assert got[:50] == want[:50]  # 'MATLAB 5.0 MAT-file Platform: posix, Created on: '
    assert got[116:] == want[116:]
    back = scipy.io.loadmat(io.BytesIO(got), squeeze_me=False, chars_as_strings=True)
    for name, value in contents.items():
        if isinstance(value, str):
            assert back[name].tolist() == [value]
        else:
            assert back[name].shape == value.shape
            assert_identical(back[name].astype(value.dtype), value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, arrays(), min_size=1, max_size=4), st.booleans())
def test_the_writer_writes_what_savemat_writes(variables, compress):
    assert_written_as_scipy_writes(variables, compress)


@pytest.mark.parametrize("compress", [False, True])
def test_the_writer_writes_every_sample_and_request(compress):
    contents = {**all_samples(), "op": "conv", "shape": "same", "t": "é漢 x"}
    assert_written_as_scipy_writes(contents, compress)


def test_what_the_writer_leaves_to_savemat():
    assert not _mat5.can_write({"op": ""})
    assert not _mat5.can_write({"A": np.ones(3)})  # 1-D: formats.write never passes one
    assert not _mat5.can_write({"A": np.ones((2, 2), dtype=np.float16)})
    assert not _mat5.can_write({"A": np.array([["x"]])})
    assert _mat5.can_write({"A": np.ones((2, 2), dtype=">f8")})


def test_formats_write_uses_the_fast_writer(tmp_path):
    # so that tests/test_formats_octave.py checks Octave reading the fast writer's files
    with mock.patch("scipy.io.savemat", side_effect=AssertionError("savemat used")):
        for options in ({}, {"compress": True}, {"mat_version": "6"}):
            formats.write(tmp_path / "r.mat", all_samples(), request={"op": "conv"}, **options)
            assert_fast_read_is_scipys(tmp_path / "r.mat")


def test_zlib_streams_are_whole(tmp_path):
    f = io.BytesIO()
    _mat5.write(f, {"A": np.arange(100.0).reshape(10, 10)}, compress=True)
    data = f.getvalue()
    kind, nbytes = struct.unpack_from("<II", data, 128)
    assert kind == _mat5.miCOMPRESSED and len(data) == 136 + nbytes
    assert zlib.decompress(data[136:])[:4] == struct.pack("<I", _mat5.miMATRIX)
