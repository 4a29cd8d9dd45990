"""Jobs: which call a job file asks for, what overrides it, and errors that name their cause."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from bridge import _formats as formats
from bridge import convolution
from bridge._job import compute, files
from bridge.errors import (
    InputTypeError,
    JobError,
    NotVectorError,
    ShapeParameterError,
    VariableError,
)

ROW = np.array([[1.0, 2.0, 3.0]])
COLUMN = np.array([[1.0], [-1.0]])
MATRIX = np.arange(12.0).reshape(3, 4)
ARRAYS = {"u": ROW, "v": COLUMN, "A": MATRIX, "B": np.ones((2, 2)), "X": np.ones((1, 1))}


def _job_file(tmp_path, names, request=None, name="job.mat", **options):
    path = tmp_path / name
    formats.write(path, {n: ARRAYS[n] for n in names}, request=request, **options)
    return path


def _error(error_type, path, **options) -> str:
    with pytest.raises(error_type) as caught:
        files.load_job(path, **options)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


# -------------------------------------------------------------------------------- resolution


@pytest.mark.parametrize(
    ("present", "op", "expected_op", "expected_operands"),
    [
        ("uv", None, "conv", "uv"),
        ("uvA", None, "conv2", "uvA"),
        ("AB", None, "convn", "AB"),
        ("ABX", None, "convn", "AB"),  # variables that are not roles are ignored
        ("uvX", None, "conv", "uv"),
        ("AB", "conv", "conv", "AB"),  # conv accepts A and B
        ("AB", "conv2", "conv2", "AB"),
        ("uvA", "conv2", "conv2", "uvA"),
        ("uvAB", "conv", "conv", "uv"),  # conv's own names first
        ("uvAB", "convn", "convn", "AB"),
        ("uvB", "conv", "conv", "uv"),
        ("uvA", "conv", "conv", "uv"),
        ("ABuv", "CONV", "conv", "uv"),  # op is case-insensitive
    ],
)
def test_resolution(tmp_path, present, op, expected_op, expected_operands):
    path = _job_file(tmp_path, present, request={"op": op} if op else None)
    job = files.load_job(path)
    assert job.op == expected_op
    assert [name for name, _ in job.operands] == list(expected_operands)
    for name, array in job.operands:
        assert np.array_equal(array, ARRAYS[name])
    assert (job.shape, job.path) == ("full", str(path))


@pytest.mark.parametrize(
    ("present", "op", "error", "fragments"),
    [
        ("uvAB", None, JobError, ["ambiguous", "A, B, u and v", "add op"]),
        ("uvB", None, JobError, ["ambiguous", "B, u and v", "add op"]),
        ("ABu", None, JobError, ["ambiguous", "add op"]),
        (
            "A",
            None,
            VariableError,
            ["has only A", "add u and v (separable conv2) or B (convn or conv2)"],
        ),
        ("B", None, VariableError, ["has only B", "add A (convn or conv2)"]),
        ("u", None, VariableError, ["has only u", "add v (conv)"]),
        ("Au", None, VariableError, ["has only A and u", "add v (separable conv2)"]),
        ("Bu", None, VariableError, ["has B and u, which no call takes together"]),
        ("X", None, VariableError, ["has no operands (variables: X)", "u and v (conv)"]),
        ("uvAB", "conv2", JobError, ["ambiguous for conv2", "remove B, or u and v"]),
        ("A", "convn", VariableError, ["convn needs A and B", "the file has A"]),
        ("uv", "convn", VariableError, ["convn needs A and B", "the file has u, v"]),
        ("A", "conv", VariableError, ["conv needs u and v or A and B"]),
        (
            "AB",
            "fft",
            JobError,
            [
                "variable 'op'",
                "the file's op 'fft' is not supported",
                "'conv', 'conv2', 'convn', 'filter2'",
            ],
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_ambiguous_and_missing(tmp_path, present, op, error, fragments):
    path = _job_file(tmp_path, present, request={"op": op} if op else None)
    message = _error(error, path)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("name", ["job.mat", "job73.mat", "job.h5", "job.txt"])
def test_every_format_carries_the_request(tmp_path, name):
    options = {"mat_version": "7.3"} if name == "job73.mat" else {}
    path = _job_file(tmp_path, "AB", request={"op": "conv2", "shape": "Same"}, name=name, **options)
    job = files.load_job(path)
    assert (job.op, job.shape, job.setting_variables.get("shape")) == (
        "conv2",
        "Same",
        "shape",
    )  # shape as written


# --------------------------------------------------------------------------------- overrides


def test_options_override_the_request(tmp_path):
    path = _job_file(tmp_path, "uvAB", request={"op": "conv", "shape": "same"})
    job = files.load_job(path, op="convn", shape="valid")
    assert (job.op, job.shape, job.setting_variables.get("shape")) == ("convn", "valid", None)
    assert [n for n, _ in job.operands] == ["A", "B"]


def test_an_unknown_op_option_is_not_blamed_on_the_file(tmp_path):
    message = _error(JobError, _job_file(tmp_path, "AB"), op="xcorr")
    assert "op 'xcorr' is not supported" in message and "variable" not in message


def test_names_map_roles_to_other_variables(tmp_path):
    path = tmp_path / "job.mat"
    formats.write(path, {"img": MATRIX, "kernel": np.ones((2, 2))})
    job = files.load_job(path, names={"A": "img", "B": "kernel"})
    assert (job.op, [n for n, _ in job.operands]) == ("convn", ["img", "kernel"])


def test_renamed_operands_are_shown_with_their_role(tmp_path):
    path = tmp_path / "job.mat"
    formats.write(path, {"img": MATRIX})
    message = _error(VariableError, path, names={"A": "img"})
    assert "has only img (as A)" in message


def test_a_named_variable_that_is_missing(tmp_path):
    message = _error(VariableError, _job_file(tmp_path, "AB"), names={"B": "kernel"})
    assert "variable 'kernel': is missing (given for B); the file has A, B" in message


def test_unknown_role(tmp_path):
    with pytest.raises(JobError, match=r"unknown operand roles C; must be among A, B, u, v, h,"):
        files.load_job(_job_file(tmp_path, "AB"), names={"C": "x"})


def test_hdf5_order_reaches_the_reader(tmp_path):
    path = _job_file(tmp_path, "AB", name="job.h5", hdf5_order="c")
    with h5py.File(path, "r+") as f:
        del f.attrs["bridge_dim_order"]  # the order is now only known to the caller
    assert files.load_job(path, hdf5_order="c").operands[0][1].shape == MATRIX.shape
    assert files.load_job(path).operands[0][1].shape == MATRIX.T.shape


def test_a_non_numeric_operand_names_file_and_variable(tmp_path):
    path = tmp_path / "job.mat"
    scipy.io.savemat(path, {"A": np.array(["abc"]), "B": np.ones((2, 2))})
    message = _error(InputTypeError, path)
    assert "variable 'A'" in message and "1x3 char array" in message
    assert "MATLAB:conv2:inputType" in message


def test_operands_keep_their_class(tmp_path):
    path = tmp_path / "job.mat"
    formats.write(path, {"u": np.array([[1, 2]], np.int8), "v": np.array([[True], [False]])})
    job = files.load_job(path)
    assert [a.dtype for _, a in job.operands] == [np.int8, np.bool_]


# ------------------------------------------------------------------------------------ running


@pytest.mark.parametrize(
    ("present", "op", "reference"),
    [
        ("uv", None, lambda: convolution.conv(ROW, COLUMN, shape="same")),
        ("uvA", None, lambda: convolution.conv2(ROW, COLUMN, MATRIX, shape="same")),
        ("AB", "conv2", lambda: convolution.conv2(MATRIX, ARRAYS["B"], shape="same")),
        ("AB", None, lambda: convolution.convn(MATRIX, ARRAYS["B"], shape="same")),
    ],
)
def test_run_job_makes_the_matlab_call(tmp_path, present, op, reference):
    path = _job_file(
        tmp_path, present, request={"op": op, "shape": "same"} if op else {"shape": "same"}
    )
    assert np.array_equal(compute.compute(files.load_job(path)), reference())


def test_an_operand_the_core_rejects_is_named(tmp_path):
    path = tmp_path / "job.mat"
    formats.write(path, {"u": ROW, "v": MATRIX})
    with pytest.raises(NotVectorError) as caught:
        compute.compute(files.load_job(path))
    assert (caught.value.file, caught.value.variable) == (str(path), "v")
    assert "job.mat: variable 'v': A and B must be vectors" in str(caught.value)


def test_the_named_variable_is_the_file_s_name_not_the_role(tmp_path):
    path = tmp_path / "job.mat"
    formats.write(path, {"h": MATRIX, "g": ROW})
    with pytest.raises(NotVectorError) as caught:
        compute.compute(files.load_job(path, names={"u": "h", "v": "g"}))
    assert caught.value.variable == "h"


@pytest.mark.parametrize(
    ("in_file", "variable"), [(True, "shape"), (False, None)], ids=["file", "option"]
)
def test_a_bad_shape_is_blamed_on_the_file_only_when_it_came_from_there(
    tmp_path, in_file, variable
):
    path = _job_file(tmp_path, "AB", request={"shape": "middle"} if in_file else None)
    job = files.load_job(path) if in_file else files.load_job(path, shape="middle")
    with pytest.raises(ShapeParameterError) as caught:
        compute.compute(job)
    assert (caught.value.file, caught.value.variable) == (str(path), variable)


# ------------------------------------------------------------------------------------ results


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("out.mat", {}),
        ("out.mat", {"mat_version": "7.3"}),
        ("out.h5", {"hdf5_order": "c"}),
        ("out.txt", {}),
        ("out.dat", {"fmt": "text"}),
    ],
    ids=["v7", "v7.3", "hdf5-c", "text", "fmt-overrides-extension"],
)
def test_save_result_writes_c(tmp_path, name, options):
    result = np.array([[1.5, np.nan], [np.inf, -2.0]], np.float32)
    path = tmp_path / name
    files.save_result(path, result, **options)
    if name.endswith(".dat"):
        path = path.rename(tmp_path / "out.txt")
    variables, request = formats.read(path)
    assert set(variables) == {"C"} and request == {}
    assert variables["C"].matlab_class == "single"
    assert np.array_equal(variables["C"].array(), result, equal_nan=True)


def test_save_result_out_var(tmp_path):
    files.save_result(tmp_path / "out.mat", np.ones((2, 2)), out_var="Result")
    assert set(formats.read(tmp_path / "out.mat")[0]) == {"Result"}
