"""bridge's own MAT-file readers (bridge._formats._mat5, _mat4) against scipy.io and Octave, and
the numpy-only writer against scipy.io.savemat.

The readers must give what scipy.io.loadmat gives (with MATLAB's classes) on every file scipy
reads, refuse with one clear line every file scipy refuses, and refuse or read safely the files
that crash scipy (tests/hostile.py). The writer must write what scipy.io.savemat writes, byte for
byte but for the time in the header.
"""

from __future__ import annotations

import glob
import io
import os
import struct
import warnings
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import scipy.io
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import _formats as formats
from bridge._formats import _mat5, mat
from bridge.errors import FileFormatError
from tests import hostile
from tests.formats_cases import all_samples, assert_identical

SCIPY_DATA = sorted(
    glob.glob(os.path.join(os.path.dirname(scipy.io.__file__), "matlab", "tests", "data", "*.mat"))
)
CLASSES = ["double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64"]
CLASSES += ["uint64", "logical", "complex-double", "complex-single"]


def _is_v73(path) -> bool:
    with open(path, "rb") as f:
        head = f.read(128)
    return head.startswith(b"MATLAB") and head[124:126] in (b"\x00\x02", b"\x02\x00")


def _scipy(path, **options) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = scipy.io.loadmat(path, squeeze_me=False, chars_as_strings=False, **options)
    return {k: v for k, v in found.items() if not k.startswith("_")}


def _dense(value):
    return value.toarray() if scipy.sparse.issparse(value) else np.asarray(value)


def assert_read_as_scipy_reads(path) -> None:
    """bridge reads ``path`` with the names, classes, sizes and values scipy.io gives."""
    got = {v.name: v for v in mat.read(str(path))[0]}
    raw, as_class = _scipy(path), _scipy(path, mat_dtype=True)
    assert set(got) == set(raw)
    classes = {name: cls for name, _, cls in scipy.io.whosmat(path) if not name.startswith("_")}
    for name, variable in got.items():
        want = _dense(raw[name])
        if variable.matlab_class == "char":
            codes = [ord(c) for c in "".join(np.ravel(want, order="F").tolist())]
            assert np.ravel(variable.data, order="F").tolist() == codes
            continue
        if variable.data is None:  # cell, struct, object: class and size only
            assert variable.matlab_class in (classes[name], "function_handle", "inline")
            assert variable.size == formats.classes.matlab_size(want.shape)
            continue
        if classes[name] != "sparse":
            assert variable.matlab_class == classes[name]
        if not variable.complex:
            want = _dense(as_class[name])  # scipy's class-preserving read, exact for real data
        assert variable.size == formats.classes.matlab_size(want.shape)
        assert_identical(variable.data, want.astype(variable.data.dtype).reshape(variable.size))
        assert variable.data.flags.writeable and variable.data.flags.aligned


# --- MATLAB-written files (scipy's test data) ---------------------------------------------------


@pytest.mark.parametrize("path", SCIPY_DATA, ids=[Path(p).name for p in SCIPY_DATA])
def test_matlab_files_are_read_as_scipy_reads_them_or_refused_as_scipy_refuses(path):
    if _is_v73(path):
        return  # HDF5: bridge._formats.mat73
    try:
        _scipy(path)
    except Exception:
        with pytest.raises(FileFormatError) as caught:
            mat.read(path)
        assert "MAT-file" in str(caught.value) and "\n" not in str(caught.value)
        return
    assert_read_as_scipy_reads(path)


def test_every_kind_of_matlab_file_is_read():
    read = {Path(p).name for p in SCIPY_DATA if not _is_v73(p) and _reads(p)}
    for expected in [
        "testsparse_7.4_GLNX86.mat",
        "testcell_7.4_GLNX86.mat",
        "teststruct_7.4_GLNX86.mat",
        "testobject_7.4_GLNX86.mat",
        "testdouble_4.2c_SOL2.mat",  # v4, big-endian
        "testmatrix_6.1_SOL2.mat",  # v6, big-endian
        "testdouble_7.1_GLNX86.mat",
        "testmatrix_7.4_GLNX86.mat",
    ]:
        assert expected in read, expected
    assert len(read) >= 100


def _reads(path) -> bool:
    try:
        mat.read(path)
        return True
    except FileFormatError:
        return False


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


NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: n not in ("op", "shape")
)


@pytest.mark.slow
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(NAMES, arrays(), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_scipy_written_files_are_read_as_scipy_reads_them(tmp_path, variables, compress, v4):
    path = tmp_path / "job.mat"
    if v4:  # MATLAB 4 holds 2-D doubles (and text) only
        variables = {k: v for k, v in variables.items() if v.ndim == 2}
        if not variables:
            return
        variables = {
            k: v.astype(np.float64 if v.dtype.kind != "c" else np.complex128)
            for k, v in variables.items()
        }
        scipy.io.savemat(path, variables, format="4")
    else:
        scipy.io.savemat(path, variables, format="5", do_compression=compress)
    assert_read_as_scipy_reads(path)


def _narrow(tmp_path, mxclass, mdtype, values, dims) -> Path:
    parts: list[bytes] = []
    _mat5._array_header(parts, "A", dims, mxclass, False, False)
    _mat5._data(parts, mdtype, values.tobytes())
    body = b"".join(parts)
    header = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + b"\0" * 8 + b"\x00\x01IM"
    path = tmp_path / "narrow.mat"
    path.write_bytes(header + struct.pack("<II", 14, len(body)) + body)
    return path


def test_narrow_storage_of_doubles_is_cast_to_the_class(tmp_path):
    # MATLAB stores integer-valued doubles as uint8/int16 ...: the class is the array flags'.
    values = np.array([-3, 1, 2, 300, 5, 6], "<i2")
    path = _narrow(tmp_path, 6, _mat5.miINT16, values, (2, 3))
    assert_read_as_scipy_reads(path)
    variables, _ = formats.read(path)
    assert variables["A"].data.dtype == np.float64
    assert variables["A"].data.tolist() == [[-3, 2, 5], [1, 300, 6]]


MATLAB_CONVERSIONS = [
    np.nan,
    1e10,
    3.7,
    -300,
    2.5,
    -2.5,
    -0.5,
    0.49999999999999994,
    np.inf,
    -np.inf,
]


@pytest.mark.parametrize("cls", ["int8", "uint8", "int16", "uint16", "int32", "uint32"])
def test_integer_classes_stored_as_doubles_convert_as_matlab_does(tmp_path, cls):
    mxclass = {"int8": 8, "uint8": 9, "int16": 10, "uint16": 11, "int32": 12, "uint32": 13}[cls]
    values = np.array(MATLAB_CONVERSIONS, "<f8")
    path = _narrow(tmp_path, mxclass, _mat5.miDOUBLE, values, (1, values.size))
    got = formats.read(path)[0]["A"].data
    info = np.iinfo(got.dtype)
    # round half away from zero, saturate, NaN to 0; never numpy's wrap-around
    expected = [0, info.max, 4, max(info.min, -300), 3, max(info.min, -3), max(info.min, -1), 0]
    assert got.tolist() == [[*expected, info.max, info.min]]


def test_the_issue_example_int8_stored_as_doubles(tmp_path):
    path = tmp_path / "job.mat"
    path.write_bytes(hostile.int8_stored_as_doubles())
    variable = formats.read(path)[0]["u"]
    assert variable.matlab_class == "int8" and variable.data.tolist() == [[0, 127, 4, -128]]


@pytest.mark.octave
def test_integer_conversion_agrees_with_octave(octave, tmp_path):
    values = np.array([MATLAB_CONVERSIONS * 2], np.float64)
    for cls, mxclass in [("int8", 8), ("uint16", 11), ("int32", 12), ("uint32", 13)]:
        path = _narrow(tmp_path, mxclass, _mat5.miDOUBLE, values[0].astype("<f8"), values.shape)
        got = formats.read(path)[0]["A"].data
        want = octave.call(f"R = double({cls}(x));", {"x": values}, ["R"])["R"]
        assert got.astype(np.float64).tolist() == np.asarray(want).tolist(), cls


@pytest.mark.parametrize("compress", [False, True])
def test_request_fields_and_other_chars(tmp_path, compress):
    path = tmp_path / "job.mat"
    contents = {"A": np.ones((2, 2)), "op": "conv2", "shape": "same", "s": np.array(["ab", "cd"])}
    contents["t"] = "é漢"
    scipy.io.savemat(path, contents, do_compression=compress)
    assert_read_as_scipy_reads(path)
    _, request = formats.read(path)
    assert request == {"op": "conv2", "shape": "same"}


@pytest.mark.parametrize(
    ("value", "cls", "size"),
    [
        (scipy.sparse.csc_matrix(np.eye(3) * 2 - np.eye(3, k=1)), "double", (3, 3)),
        (scipy.sparse.csc_matrix(np.eye(3) * (1 + 2j)), "double", (3, 3)),
        (scipy.sparse.csc_matrix(np.eye(2, 3, dtype=bool)), "logical", (2, 3)),
        (np.array([np.ones(2), "x"], dtype=object), "cell", (1, 2)),
        ({"f": np.ones(2)}, "struct", (1, 1)),
        (np.array(""), "char", (0, 0)),
    ],
    ids=["sparse", "sparse-complex", "sparse-logical", "cell", "struct", "empty-char"],
)
@pytest.mark.parametrize("compress", [False, True])
def test_other_classes_are_read_without_scipy(tmp_path, value, cls, size, compress):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.ones((2, 2)), "X": value}, do_compression=compress)
    assert_read_as_scipy_reads(path)
    variables, _ = formats.read(path)
    assert (variables["X"].matlab_class, variables["X"].size) == (cls, size)


@pytest.mark.parametrize("cut", [130, 200, -1])
@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("fmt", ["4", "5"])
def test_truncated_files_are_refused(tmp_path, cut, compress, fmt):
    path = tmp_path / "job.mat"
    A = np.arange(30.0).reshape(5, 6)
    scipy.io.savemat(path, {"A": A, "B": A}, do_compression=compress, format=fmt)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(FileFormatError, match=r"MAT-file .*truncated") as caught:
        mat.read(str(path))
    assert "\n" not in str(caught.value)


def test_duplicate_names_keep_the_last_and_subsystem_data_is_not_a_variable(tmp_path):
    one, two = io.BytesIO(), io.BytesIO()
    _mat5.write(one, {"A": np.ones((1, 1))})
    _mat5.write(two, {"A": np.zeros((1, 1)), "": np.ones((2, 2), np.uint8)})
    (tmp_path / "twice.mat").write_bytes(one.getvalue() + two.getvalue()[128:])
    variables, _ = formats.read(tmp_path / "twice.mat")
    assert list(variables) == ["A"] and variables["A"].data.tolist() == [[0.0]]


def test_corrupt_compressed_data_is_refused(tmp_path):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.ones((4, 4))}, do_compression=True)
    data = bytearray(path.read_bytes())
    data[140] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="compressed"):
        mat.read(str(path))


# --- hand-built files that crash scipy.io (issue 11) --------------------------------------------

REFUSED = {
    "type-99": "data type 99, which is not a numeric type",
    "complex-without-imaginary": "imaginary part of the complex variable 'A' is missing",
    "sparse-row-out-of-range": "row index of the sparse variable 'u' is outside its 3 rows",
    "huge-declared-element": "truncated",
    "zlib-bomb-1x1": "more than its array can hold",
    "mat4-huge-dims": "truncated",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_crashes_scipy_is_refused_in_one_line(tmp_path, case):
    path = tmp_path / "job.mat"
    path.write_bytes(hostile.all_mat_cases()[case])
    with pytest.raises(FileFormatError) as caught:
        formats.read(path)
    message = str(caught.value)
    assert REFUSED[case] in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize(
    "case",
    [
        "cells-10000-deep",
        "cells-10000-deep-compressed",
        "structs-100000-deep",
        "structs-100000-deep-compressed",
        "cell-bomb",
    ],
)
def test_deep_and_inflating_containers_are_listed_not_interpreted(tmp_path, case):
    path = tmp_path / "job.mat"
    path.write_bytes(hostile.all_mat_cases()[case])
    variables, _ = formats.read(path)
    container = next(v for v in variables.values() if v.data is None)
    assert container.matlab_class in ("cell", "struct") and container.size == (1, 1)
    assert variables["u"].data.tolist() == [[1.0, 2.0, 3.0]]


def test_a_sparse_matrix_too_large_to_be_full_is_out_of_memory(tmp_path):
    path = tmp_path / "job.mat"
    path.write_bytes(hostile.huge_sparse())
    with pytest.raises(MemoryError):
        formats.read(path)


def test_a_bomb_with_honest_dimensions_is_inflated_in_bounded_steps(tmp_path, monkeypatch):
    # 64 MB of zeros declared as 1x8M doubles: read, and inflated in steps of _CHUNK bytes.
    path = tmp_path / "job.mat"
    path.write_bytes(hostile.zlib_bomb(64 << 20, honest_dims=True))
    steps = []
    original = zlib.decompressobj

    class Counting:
        def __init__(self):
            self.inner = original()

        def decompress(self, data, max_length=0):
            assert 0 < max_length <= _mat5._CHUNK
            out = self.inner.decompress(data, max_length)
            steps.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(_mat5.zlib, "decompressobj", Counting)
    variables, _ = formats.read(path)
    assert variables["B"].size == (1, 8 << 20) and not variables["B"].data.any()
    assert len(steps) >= 64 and max(steps) <= _mat5._CHUNK


# --- Octave-written files -------------------------------------------------------------------------


@pytest.mark.octave
@pytest.mark.parametrize("option", ["-v6", "-v7", "-v4"])
def test_octave_written_files_are_read_as_scipy_reads_them(octave, tmp_path, option):
    path = tmp_path / "job.mat"
    samples = all_samples()
    if option == "-v4":  # 2-D doubles; scipy's v4 reader makes complex values as re + 1j*im,
        # which turns a real Inf into NaN, so complex ones are compared by tests elsewhere
        samples = {k: v for k, v in samples.items() if v.ndim == 2 and v.dtype.kind != "c"}
        samples = {k: v.astype(np.float64) for k, v in samples.items()}
    code = (
        "S__ = struct();\n"
        + "".join(f"S__.{n} = {n};\n" for n in samples)
        # (not a char matrix: Octave 7.3's -v6 writes one with a wrong size, unreadable to scipy)
        + "S__.op = 'conv2'; S__.shape = 'same'; S__.t = 'Octave text';\n"
        + f"save('{option}', '{path}', '-struct', 'S__');"
    )
    octave.call(code, samples, ["S__"])
    if option != "-v4":
        first = struct.unpack_from("<I", path.read_bytes(), 128)[0]
        assert first == (_mat5.miCOMPRESSED if option == "-v7" else _mat5.miMATRIX)
    assert_read_as_scipy_reads(path)
    assert formats.read(path)[1] == {"op": "conv2", "shape": "same"}


@pytest.mark.octave
def test_octave_files_with_a_cell_and_a_struct(octave, tmp_path):
    path = tmp_path / "job.mat"
    code = f"A = ones(2); X = {{1, 'a'}}; S.f = {{X}}; save('-v7', '{path}', 'A', 'X', 'S');"
    octave.call(code, {}, ["A"])
    variables = formats.read(path)[0]
    assert variables["X"].matlab_class == "cell" and variables["X"].size == (1, 2)
    assert variables["S"].matlab_class == "struct"


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


@pytest.mark.slow
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
            assert_read_as_scipy_reads(tmp_path / "r.mat")


def test_zlib_streams_are_whole(tmp_path):
    f = io.BytesIO()
    _mat5.write(f, {"A": np.arange(100.0).reshape(10, 10)}, compress=True)
    data = f.getvalue()
    kind, nbytes = struct.unpack_from("<II", data, 128)
    assert kind == _mat5.miCOMPRESSED and len(data) == 136 + nbytes
    assert zlib.decompress(data[136:])[:4] == struct.pack("<I", _mat5.miMATRIX)


def test_a_matlab_string_request_in_a_v7_file_says_to_save_char(tmp_path):
    # What MATLAB -v7 writes for op = "conv2": an opaque (MCOS) object of class 'string'.
    body = (
        hostile.element(hostile.miUINT32, struct.pack("<II", 17, 0))
        + hostile.element(hostile.miINT8, b"op")
        + hostile.element(hostile.miINT8, b"MCOS")
        + hostile.element(hostile.miINT8, b"string")
        + hostile.matrix(
            hostile.array_head("", 13, (6, 1))
            + hostile.element(
                hostile.miUINT32, np.array([3707764736, 2, 1, 1, 1, 1], "<u4").tobytes()
            )
        )
    )
    path = tmp_path / "job.mat"
    path.write_bytes(hostile.mat5(hostile.operands(), hostile.matrix(body)))
    with pytest.raises(
        formats.classes.JobError, match=r"variable 'op'.*MATLAB string object.*char\("
    ):
        formats.read(path)


@pytest.mark.parametrize("compress", [False, True])
def test_values_are_views_of_the_buffer_read_no_extra_copy(tmp_path, compress):
    # Uncompressed: one readinto per variable, and numpy views that buffer (issue 8).
    A = np.random.default_rng(0).standard_normal((300, 200))
    path = tmp_path / "job.mat"
    formats.write(path, {"A": A, "B": np.ones((2, 2), np.int16)}, compress=compress)
    variables, _ = formats.read(path)
    data = variables["A"].data
    assert not data.flags.owndata and data.flags.writeable and data.flags.aligned
    buffer, parent = data, data.base
    while parent is not None:  # through views and memoryviews to the buffer read into
        buffer = parent
        parent = parent.base if isinstance(parent, np.ndarray) else getattr(parent, "obj", None)
    assert isinstance(buffer, np.ndarray) and buffer.dtype == np.uint8
    assert A.nbytes <= buffer.nbytes < A.nbytes + 256
    np.testing.assert_array_equal(data, A)
