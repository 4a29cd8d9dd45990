"""MAT v7.3: bridge's files as MATLAB lays them out, checked by independent readers.

hdf5storage, mat73 and pymatreader read what bridge writes; the header bytes, the HDF5 superblock
version and the attribute encodings are checked against what MATLAB itself writes (see
../shared/spec/file-formats.md and the MATLAB-written files in ../shared/fixtures/matlab-v73).
"""

from __future__ import annotations

import warnings

import h5py
import hdf5storage
import mat73
import numpy as np
import pymatreader
import pytest

from bridge import _formats as formats
from tests.formats_cases import (
    CASE_IDS,
    CASES,
    MATLAB_V73,
    all_samples,
    require_shared,
    var_name,
)


@pytest.fixture(scope="module")
def v73(tmp_path_factory):
    path = tmp_path_factory.mktemp("v73") / "all.mat"
    formats.write(path, all_samples(), request={"op": "convn"}, mat_version="7.3")
    return path


def _quiet(reader, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the readers' own deprecation chatter
        return reader(str(path))


@pytest.fixture(scope="module")
def by_hdf5storage(v73):
    return _quiet(hdf5storage.loadmat, v73)


@pytest.fixture(scope="module")
def by_mat73(v73):
    return _quiet(mat73.loadmat, v73)


@pytest.fixture(scope="module")
def by_pymatreader(v73):
    return _quiet(pymatreader.read_mat, v73)


@pytest.mark.parametrize(("cid", "cls", "is_complex", "size_id"), CASES, ids=CASE_IDS)
def test_hdf5storage_reads_class_size_and_values(by_hdf5storage, cid, cls, is_complex, size_id):
    name = var_name(cid, size_id)
    expected = all_samples()[name]
    got = np.asarray(by_hdf5storage[name])
    assert got.shape == expected.shape
    if expected.size:
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected, equal_nan=True)


@pytest.mark.parametrize(("cid", "cls", "is_complex", "size_id"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("reader", ["mat73", "pymatreader"])
def test_mat73_and_pymatreader_read_the_values(request, reader, cid, cls, is_complex, size_id):
    # Both squeeze arrays (and mat73 returns None for empties), so compare squeezed values.
    got = request.getfixturevalue(f"by_{reader}")
    name = var_name(cid, size_id)
    expected = all_samples()[name]
    if expected.size == 0:
        assert got[name] is None or np.size(got[name]) == 0
        return
    values = np.squeeze(np.asarray(got[name])).astype(expected.dtype)
    expected = np.squeeze(expected)
    if is_complex:
        # These readers build complex values as real + 1j*imag, which turns an infinite part
        # into NaN (hdf5storage above checks those): compare where both parts are finite.
        finite = np.isfinite(expected.real) & np.isfinite(expected.imag)
        values, expected = values[finite], expected[finite]
    assert np.array_equal(values, expected, equal_nan=True)
    assert np.iscomplexobj(got[name]) == is_complex


def test_the_request_is_char(by_hdf5storage, by_mat73):
    assert by_hdf5storage["op"].item() == "convn"
    assert by_mat73["op"] == "convn"


def test_header_is_matlab_s(v73):
    head = v73.read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file, Platform: ")
    assert b"Created on: " in head[:116] and head[:116].rstrip().endswith(b"HDF5 schema 1.00 .")
    assert head[116:124] == bytes(8)
    assert head[124:128] == b"\x00\x02IM"
    assert head[:116] == head[:116].decode("ascii").ljust(116).encode()


def test_superblock_is_version_0(v73):
    # MATLAB before R2021b refuses a newer superblock; the HDF5 data start after the 512-byte
    # userblock, and the version byte follows the 8-byte signature.
    data = v73.read_bytes()
    assert data[512:520] == b"\x89HDF\r\n\x1a\n"
    assert data[520] == 0


def _attribute(obj, name):
    attr = obj.attrs.get_id(name)
    return attr.get_type(), attr.get_space().get_simple_extent_type()


@pytest.mark.parametrize("name", ["v_double_matrix", "v_logical_row", "v_uint64_2x3x4", "op"])
def test_matlab_class_is_fixed_length_nullterm_ascii(v73, name):
    with h5py.File(v73, "r") as f:
        kind, space = _attribute(f[name], "MATLAB_class")
        text = f[name].attrs["MATLAB_class"]
    assert isinstance(kind, h5py.h5t.TypeStringID) and not kind.is_variable_str()
    assert kind.get_size() == len(text)
    assert kind.get_strpad() == h5py.h5t.STR_NULLTERM
    assert kind.get_cset() == h5py.h5t.CSET_ASCII
    assert space == h5py.h5s.SCALAR


@pytest.mark.parametrize(("name", "decode"), [("v_logical_matrix", 1), ("op", 2)])
def test_int_decode_is_int32(v73, name, decode):
    with h5py.File(v73, "r") as f:
        kind, _ = _attribute(f[name], "MATLAB_int_decode")
        assert f[name].attrs["MATLAB_int_decode"] == decode
        assert f[name].dtype == (np.uint8 if decode == 1 else np.uint16)
    assert kind.get_size() == 4 and kind.get_sign() == h5py.h5t.SGN_2


def test_empty_stores_its_size_as_uint64_with_uint8_flag(v73):
    with h5py.File(v73, "r") as f:
        dataset = f["v_single_0x3"]
        assert dataset.dtype == np.uint64 and list(dataset[()]) == [0, 3]
        kind, _ = _attribute(dataset, "MATLAB_empty")
        assert dataset.attrs["MATLAB_empty"] == 1 and kind.get_size() == 1
        assert dataset.attrs["MATLAB_class"] == b"single"


def test_complex_is_a_real_imag_compound_and_dims_are_reversed(v73):
    with h5py.File(v73, "r") as f:
        dataset = f["v_complex_single_2x3x4"]
        assert dataset.dtype.names == ("real", "imag")
        assert dataset.shape == (4, 3, 2)


def test_compressed_output_uses_gzip_only(tmp_path):
    path = tmp_path / "z.mat"
    formats.write(path, {"C": np.ones((50, 40))}, mat_version="7.3", compress=True)
    with h5py.File(path, "r") as f:
        assert f["C"].compression == "gzip"


def test_a_variable_too_large_for_v7_switches_to_v73(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "V7_MAX_BYTES", 1000)
    path = tmp_path / "big.mat"
    formats.write(path, {"small": np.ones((2, 2)), "big": np.ones((20, 10))})
    assert formats.detect(path.read_bytes()[:2056]) == "mat73"
    variables, _ = formats.read(path)
    assert variables["big"].size == (20, 10)


def test_small_results_stay_v7(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "V7_MAX_BYTES", 1000)
    path = tmp_path / "small.mat"
    formats.write(path, {"C": np.ones((10, 10))})
    assert formats.detect(path.read_bytes()[:2056]) == "mat"


# ------------------------------------------------------- files MATLAB wrote (../shared/fixtures)


def _fixture_variables():
    cases = []
    for path in sorted(MATLAB_V73.glob("*.mat")):
        with h5py.File(path, "r") as f:
            cases += [(path.name, name) for name in f if not name.startswith("#")]
    return cases


# Without ../shared the list is empty; one stand-in case then reaches `matlab_files`, which skips
# with require_shared's reason (and fails in CI) instead of pytest's "got empty parameter set".
FIXTURE_VARIABLES = _fixture_variables() or [("no-shared-fixtures", "")]


@pytest.fixture(scope="module")
def matlab_files():
    require_shared()
    return {path.name: formats.read(path)[0] for path in MATLAB_V73.glob("*.mat")}


def test_the_fixtures_are_there():
    # A missing ../shared/fixtures skips here with the reason (fails in CI), and an empty one
    # fails: the tests below must not parametrize to nothing.
    require_shared()
    assert len(FIXTURE_VARIABLES) >= 20


@pytest.mark.parametrize(
    ("file", "name"), FIXTURE_VARIABLES, ids=[f"{f}-{n}" for f, n in FIXTURE_VARIABLES]
)
def test_matlab_written_variable_has_class_and_size_hdf5storage_finds(matlab_files, file, name):
    variable = matlab_files[file][name]
    with h5py.File(MATLAB_V73 / file, "r") as f:
        declared = f[name].attrs["MATLAB_class"].decode()
        stored = getattr(f[name], "shape", None)
    assert variable.matlab_class == declared
    if declared in ("struct", "cell"):
        return  # sizes of containers are not needed: they are never operands
    if declared == "char":  # hdf5storage turns char into str; h5py's reversed shape is the size
        assert variable.size == tuple(reversed(stored))
        return
    expected = np.asarray(_quiet(hdf5storage.loadmat, MATLAB_V73 / file)[name])
    assert variable.size == expected.shape
    if variable.is_numeric:
        assert np.array_equal(
            variable.array(), expected.astype(variable.array().dtype), equal_nan=True
        )


def test_zeros_0_by_10_is_a_0x10_double(matlab_files):
    variable = matlab_files["testfile15.mat"]["x_0_10"]
    assert (variable.matlab_class, variable.size) == ("double", (0, 10))
    assert variable.array().shape == (0, 10) and variable.array().dtype == np.float64


def test_four_d_double_matches_mat73(matlab_files):
    got = matlab_files["testfile14.mat"]["data"].array()
    expected = _quiet(mat73.loadmat, MATLAB_V73 / "testfile14.mat")["data"]
    assert got.ndim == 4
    assert np.array_equal(np.squeeze(got), np.squeeze(expected))


def test_char_arrays_are_char_and_not_operands(matlab_files):
    variable = matlab_files["testfile16.mat"]["char_arr_2d"]
    assert (variable.matlab_class, variable.size) == ("char", (6, 57))
    with pytest.raises(TypeError, match="char"):
        variable.array()


def test_a_cell_beside_a_double(matlab_files):
    variables = matlab_files["testfile6.mat"]
    assert variables["A"].matlab_class == "cell"
    assert (variables["B"].matlab_class, variables["B"].size) == ("double", (1, 3))


def test_a_matlab_written_sparse_matrix_is_read_dense(tmp_path):
    require_shared()
    # testfile1 keeps its sparse matrix inside a struct; copied to the root it is a variable.
    path = tmp_path / "sparse.mat"
    formats.write(path, {"A": np.ones((1, 1))}, mat_version="7.3")
    with h5py.File(MATLAB_V73 / "testfile1.mat", "r") as src, h5py.File(path, "r+") as dst:
        src.copy(src["data/sparse_"], dst, name="S")
    variable = formats.read(path)[0]["S"]
    expected = _quiet(mat73.loadmat, MATLAB_V73 / "testfile1.mat")["data"]["sparse_"].toarray()
    assert (variable.matlab_class, variable.size) == ("double", expected.shape)
    assert np.array_equal(variable.array(), expected)
