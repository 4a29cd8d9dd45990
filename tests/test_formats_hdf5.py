"""Plain HDF5 job files: dimension order, classes h5py writes natively, what bridge writes.

Inputs are written here with h5py directly, the way MATLAB's h5write (reversed dimensions) and
numpy code (C order) write them, independently of bridge's writer.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from bridge import _formats as formats
from bridge.errors import FileFormatError, InputTypeError

A = np.arange(6.0).reshape(3, 2)  # a MATLAB 3x2


def _h5(tmp_path, name="job.h5", attrs=None, **datasets):
    path = tmp_path / name
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f[key] = value
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path


def test_matlab_h5write_order_is_the_default(tmp_path):
    path = _h5(tmp_path, A=A.T)  # h5write stores a MATLAB 3x2 as HDF5 (2,3)
    assert np.array_equal(formats.read(path)[0]["A"].array(), A)


def test_c_order_by_option(tmp_path):
    path = _h5(tmp_path, A=A)
    assert np.array_equal(formats.read(path, hdf5_order="c")[0]["A"].array(), A)


def test_recorded_order_is_used_and_an_option_overrides_it(tmp_path):
    path = _h5(tmp_path, attrs={"bridge_dim_order": "c"}, A=A)
    assert formats.read(path)[0]["A"].size == (3, 2)
    assert formats.read(path, hdf5_order="matlab")[0]["A"].size == (2, 3)


def test_bridge_records_the_order_it_wrote(tmp_path):
    for order, stored in (("matlab", (2, 3)), ("c", (3, 2))):
        path = tmp_path / f"{order}.h5"
        formats.write(path, {"A": A}, hdf5_order=order)
        with h5py.File(path, "r") as f:
            assert f.attrs["bridge_dim_order"] == order.encode()
            assert f["A"].shape == stored


def test_an_unknown_recorded_order_is_a_format_error(tmp_path):
    path = _h5(tmp_path, attrs={"bridge_dim_order": "fortran"}, A=A)
    with pytest.raises(FileFormatError, match="bridge_dim_order is 'fortran'"):
        formats.read(path)


@pytest.mark.parametrize("order", ["matlab", "c"])
def test_one_d_datasets_are_columns_and_scalars_are_1x1(tmp_path, order):
    path = _h5(tmp_path, v=np.arange(4.0), s=np.float32(2))
    variables, _ = formats.read(path, hdf5_order=order)
    assert (variables["v"].size, variables["s"].size) == ((4, 1), (1, 1))
    assert variables["s"].matlab_class == "single"


def test_h5py_native_bool_and_complex_are_logical_and_complex(tmp_path):
    path = _h5(tmp_path, b=np.array([[True, False]]), z=np.array([[1 + 2j, np.inf - 1j]]))
    variables, _ = formats.read(path, hdf5_order="c")
    assert variables["b"].matlab_class == "logical" and variables["b"].array().dtype == np.bool_
    assert variables["z"].complex and np.array_equal(
        variables["z"].array(), [[1 + 2j, np.inf - 1j]]
    )


def test_bridge_never_writes_enums_or_r_i_compounds(tmp_path):
    path = tmp_path / "out.h5"
    formats.write(
        path, {"b": np.array([[True]]), "z": np.array([[1j]], np.complex64)}, request={"op": "conv"}
    )
    with h5py.File(path, "r") as f:
        assert f["b"].dtype == np.uint8 and f["b"].attrs["MATLAB_class"] == b"logical"
        assert f["z"].dtype.names == ("real", "imag") and f["z"].dtype["real"] == np.float32
        for attrs in (f.attrs, f["b"].attrs):
            for key in attrs:  # fixed-length strings: Octave cannot read variable-length ones
                kind = attrs.get_id(key).get_type()
                assert not (isinstance(kind, h5py.h5t.TypeStringID) and kind.is_variable_str())


def test_request_from_attributes_bytes_or_str(tmp_path):
    path = _h5(tmp_path, attrs={"op": "conv2", "shape": np.bytes_(b"valid")}, A=A.T, B=A.T)
    assert formats.read(path)[1] == {"op": "conv2", "shape": "valid"}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(np.ones(3, np.float16), "HDF5 dataset of type float16"), ("text", "char array")],
    ids=["float16", "string"],
)
def test_datasets_without_a_matlab_numeric_class(tmp_path, value, fragment):
    path = _h5(tmp_path, A=value)
    with pytest.raises(InputTypeError, match=fragment):
        formats.read(path)[0]["A"].array()


def test_groups_are_not_operands(tmp_path):
    path = tmp_path / "job.h5"
    with h5py.File(path, "w") as f:
        f.create_group("A")
    with pytest.raises(InputTypeError, match="an HDF5 group, not a dataset"):
        formats.read(path)[0]["A"].array()


def test_null_dataspace_is_0x0(tmp_path):
    path = tmp_path / "job.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("A", data=h5py.Empty("f8"))
    assert formats.read(path)[0]["A"].size == (0, 0)
