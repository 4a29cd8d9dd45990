"""Files that are not what they should be, and writes that fail: one clear error each.

Every error must be a BridgeError whose message is one line naming the file; a failed write must
leave no temporary file and must not touch an existing output; inputs are never modified.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from bridge import _formats as formats
from bridge._formats import mat, mat73, text
from bridge._job import files
from bridge.errors import FileFormatError, InputTypeError, JobError, OutputError, UsageError

SUPPORTED = "bridge reads and writes .mat, .h5, .hdf5, .txt, .csv or .dat files"


def _one_line_error(error_type, path, *fragments, **read_options):
    with pytest.raises(error_type) as caught:
        formats.read(path, **read_options)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def _valid(tmp_path: Path, name: str, **options) -> Path:
    path = tmp_path / name
    data = np.random.default_rng(0).standard_normal((200, 50))
    formats.write(path, {"A": data, "B": np.ones((3, 3))}, **options)
    return path


# ------------------------------------------------------------------------ malformed input files


@pytest.mark.parametrize("name", ["job.mat", "job.h5", "job.txt"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    _one_line_error(FileFormatError, path, "is empty")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("job.mat", "a MAT-file"), ("job.h5", "an HDF5 file"), ("job.txt", "text")],
)
def test_random_bytes(tmp_path, name, expected):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(1).bytes(4000))
    _one_line_error(
        FileFormatError, path, "binary data of no supported format", expected, "supported:"
    )


@pytest.mark.parametrize(
    ("name", "options", "cut"),
    [
        ("job.mat", {}, 0.5),
        ("job.mat", {"compress": True}, 0.5),
        ("job.mat", {"mat_version": "7.3"}, 0.5),
        ("job.mat", {"mat_version": "7.3"}, 300 / 80_000),  # inside the 512-byte header
        ("job.h5", {}, 0.5),
    ],
    ids=["v7", "v7-compressed", "v7.3", "v7.3-header-only", "hdf5"],
)
def test_truncated_binary_file(tmp_path, name, options, cut):
    path = _valid(tmp_path, name, **options)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    message = _one_line_error(FileFormatError, path)
    assert "truncated" in message


def test_truncated_text_file(tmp_path):
    path = _valid(tmp_path, "job.txt")
    data = path.read_text()
    path.write_text(data[: len(data) // 2].rsplit("\n", 1)[0] + "\n")
    _one_line_error(FileFormatError, path, "'A'", "rows")


@pytest.mark.parametrize(
    ("written", "named", "found", "suggestion"),
    [
        ("job.mat", "job.txt", "a MAT-file (v4/v6/v7)", "name it .mat"),
        ("job.mat", "job.h5", "a MAT-file (v4/v6/v7)", "name it .mat"),
        ("job.txt", "job.mat", "a bridge text file", "name it .txt"),
        ("job.h5", "job.txt", "an HDF5 file", "name it .h5"),
        ("job.txt", "job.hdf5", "a bridge text file", "name it .txt"),
    ],
)
def test_content_that_is_not_what_the_extension_says(tmp_path, written, named, found, suggestion):
    path = _valid(tmp_path, written)
    renamed = path.rename(tmp_path / named)
    _one_line_error(FileFormatError, renamed, found, suggestion, "supported:")


def test_v73_named_h5_is_read_as_the_mat_file_it_is(tmp_path):
    path = _valid(tmp_path, "job.mat", mat_version="7.3").rename(tmp_path / "job.h5")
    variables, _ = formats.read(path)
    assert variables["A"].size == (200, 50)


def test_bare_hdf5_named_mat_without_matlab_markers(tmp_path):
    path = tmp_path / "job.mat"
    with h5py.File(path, "w") as f:
        f["A"] = np.ones((2, 3))
    _one_line_error(FileFormatError, path, "without MATLAB's v7.3 markers", "name it .h5")


def test_bare_hdf5_named_mat_with_matlab_class_attributes_is_read(tmp_path):
    path = tmp_path / "job.mat"
    with h5py.File(path, "w") as f:
        f["A"] = np.arange(6.0).reshape(2, 3)  # a MATLAB 3x2, stored reversed
        f["A"].attrs["MATLAB_class"] = np.bytes_(b"double")
    variables, _ = formats.read(path)
    assert variables["A"].size == (3, 2)
    assert np.array_equal(variables["A"].array(), np.arange(6.0).reshape(2, 3).T)


@pytest.mark.parametrize("name", ["job.xyz", "job.MAT.bak", "job"])
def test_unknown_extension(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"whatever")
    message = _one_line_error(FileFormatError, path, SUPPORTED)
    if name == "job.xyz":
        assert "'.xyz' is not supported" in message


def test_extensions_are_case_insensitive(tmp_path):
    path = _valid(tmp_path, "job.mat").rename(tmp_path / "JOB.MAT")
    assert set(formats.read(path)[0]) == {"A", "B"}


def test_missing_file_and_folder(tmp_path):
    _one_line_error(FileFormatError, tmp_path / "absent.mat", "does not exist")
    folder = tmp_path / "folder.mat"
    folder.mkdir()
    _one_line_error(FileFormatError, folder, "is a folder")


def test_headerless_text_is_one_matrix_but_not_a_job(tmp_path):
    path = tmp_path / "job.txt"
    path.write_text("1 2 3\n4 5 6\n")
    variables, _ = formats.read(path)  # as MATLAB's load('job.txt') names it
    assert list(variables) == ["job"] and variables["job"].size == (2, 3)
    with pytest.raises(FileFormatError) as caught:
        files.load_job(path)
    message = str(caught.value)
    assert "its own file" in message and "bridge_write_text" in message and ".py" not in message


def test_a_cell_operand_names_file_and_variable(tmp_path):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.array([[1.0, "x"]], dtype=object), "S": {"f": 1.0}})
    variables, _ = formats.read(path)
    for name, cls in (("A", "cell"), ("S", "struct")):
        with pytest.raises(InputTypeError, match=rf"job.mat: variable '{name}': .*{cls}"):
            variables[name].array()


# ----------------------------------------------------------------------------- request fields


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(np.array([[2.0]]), "a 1x1 double array"), (np.array(["ab", "cd"]), "one row of text")],
    ids=["numeric", "two-rows"],
)
def test_request_field_must_be_char_row(tmp_path, value, fragment):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.ones((2, 2)), "op": value})
    _one_line_error(JobError, path, "variable 'op'", fragment)


def test_a_matlab_string_request_says_to_save_char(tmp_path):
    # What MATLAB writes for op = "conv2" in v7.3: an opaque object of class 'string'.
    path = tmp_path / "job.mat"
    formats.write(path, {"A": np.ones((2, 2))}, mat_version="7.3")
    with h5py.File(path, "r+") as f:
        f["op"] = np.array([[3707764736, 2, 1, 1, 1, 1]], dtype=np.uint32)
        f["op"].attrs["MATLAB_class"] = np.bytes_(b"string")
        f["op"].attrs["MATLAB_object_decode"] = np.int32(3)
    _one_line_error(JobError, path, "variable 'op'", "MATLAB string object", "char(")


def test_hdf5_request_attribute_must_be_text(tmp_path):
    path = tmp_path / "job.h5"
    with h5py.File(path, "w") as f:
        f["A"] = np.ones((2, 2))
        f.attrs["shape"] = 3
    _one_line_error(JobError, path, "'shape' must be text")


# ------------------------------------------------------------------------------------ writing


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("module", [mat73, text], ids=["mat73", "text"])
def test_a_failing_write_leaves_the_old_output_and_no_temporary_file(tmp_path, monkeypatch, module):
    out = tmp_path / ("out.txt" if module is text else "out.mat")
    out.write_bytes(b"previous result")
    real_write = module.write

    def half_then_fail(path, *args, **kwargs):
        real_write(path, *args, **kwargs)  # a complete temporary file, then the disk "fills up"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "write", half_then_fail)
    with pytest.raises(OutputError, match="No space left on device") as caught:
        formats.write(out, {"C": np.ones((3, 3))}, mat_version="7.3")
    assert str(out) in str(caught.value)
    assert out.read_bytes() == b"previous result"
    assert _listing(tmp_path) == [out.name]


def test_a_bridge_error_mid_write_is_kept_and_cleaned_up(tmp_path, monkeypatch):
    out = tmp_path / "out.mat"

    def fail(path, *args, **kwargs):
        Path(path).write_bytes(b"partial")
        raise UsageError("stop")

    monkeypatch.setattr(mat, "write", fail)
    with pytest.raises(UsageError, match="stop"):
        formats.write(out, {"C": np.ones(2)})
    assert _listing(tmp_path) == []


def test_missing_destination_folder(tmp_path):
    out = tmp_path / "no" / "such" / "out.mat"
    with pytest.raises(OutputError) as caught:
        formats.write(out, {"C": np.ones(2)})
    assert f"the folder '{out.parent}' does not exist" in str(caught.value)


def test_destination_is_a_folder(tmp_path):
    (tmp_path / "out.mat").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        formats.write(tmp_path / "out.mat", {"C": np.ones(2)})


def test_output_gets_ordinary_permissions(tmp_path):
    out = tmp_path / "out.mat"
    formats.write(out, {"C": np.ones(2)})
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


ONES = np.ones(2)
BAD_WRITES = {
    # id: (file name, arrays, write options, error, message fragment)
    "extension": (
        "o.xyz",
        {"C": ONES},
        {},
        UsageError,
        f"'.xyz' is not supported; {SUPPORTED}",
    ),
    "fmt": ("o.mat", {"C": ONES}, {"fmt": "xls"}, UsageError, "format 'xls'"),
    "fmt-extension": ("o.txt", {"C": ONES}, {"fmt": "mat"}, UsageError, "name it .mat"),
    "mat-version": ("o.mat", {"C": ONES}, {"mat_version": "5"}, UsageError, "6, 7 or 7.3"),
    "v6-compressed": (
        "o.mat",
        {"C": ONES},
        {"mat_version": "6", "compress": True},
        UsageError,
        "uncompressed",
    ),
    "hdf5-order": ("o.h5", {"C": ONES}, {"hdf5_order": "fortran"}, UsageError, "matlab or c"),
    "name": ("o.mat", {"2C": ONES}, {}, UsageError, "not a valid MATLAB variable name"),
    "long-name": ("o.mat", {"x" * 64: ONES}, {}, UsageError, "not a valid MATLAB variable name"),
    "reserved": ("o.mat", {"op": ONES}, {}, UsageError, "reserved for the request"),
    "request": (
        "o.mat",
        {"C": ONES},
        {"request": {"method": "fft"}},
        UsageError,
        "unknown request",
    ),
    "dtype": ("o.mat", {"C": ONES.astype(np.float16)}, {}, OutputError, "float16"),
    "text-request": ("o.txt", {"C": ONES}, {"request": {"shape": "a b"}}, UsageError, "one word"),
}


@pytest.mark.parametrize(
    ("name", "arrays", "options", "error", "fragment"), BAD_WRITES.values(), ids=BAD_WRITES
)
def test_bad_write_requests_create_nothing(tmp_path, name, arrays, options, error, fragment):
    with pytest.raises(error) as caught:
        formats.write(tmp_path / name, arrays, **options)
    assert fragment in str(caught.value)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("name", ["job.mat", "job.txt", "job.h5"])
def test_reading_never_modifies_the_input(tmp_path, name):
    path = _valid(tmp_path, name, request={"op": "conv2"})
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    formats.read(path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before


def test_v73_header_helper_is_116_text_bytes_then_version():
    head = mat73.header(0)
    assert len(head) == 128 and head[124:] == b"\x00\x02IM"
