"""The command line with the files users already have, and its messages in MATLAB users' terms.

In-process (bridge._cli.main). Operand files are written by numpy (np.savetxt, the way dlmwrite
and save -ascii lay them out) or scipy.io, independent of bridge's writers; results are compared
with tests/reference.py's defining sum.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse

from bridge import _cli as cli
from bridge.errors import EXIT_DATA, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE
from tests import reference
from tests.test_cli import PREVIOUS, assert_one_error_line, digest, run

RNG = np.random.default_rng(3)
A = RNG.integers(-9, 10, (6, 5)).astype(np.float64)
B = RNG.integers(-3, 4, (2, 3)).astype(np.float64)
U = RNG.integers(-9, 10, (1, 7)).astype(np.float64)
V = RNG.integers(-9, 10, (4, 1)).astype(np.float64)


def _ref(op: str, *arrays: np.ndarray, shape: str) -> np.ndarray:
    return reference.reference(op, arrays, shape)[0]


def _csv(path: Path, array: np.ndarray, delimiter: str = ",") -> Path:
    np.savetxt(path, np.atleast_2d(array), delimiter=delimiter, fmt="%.17g")
    return path


def _read_csv(path: Path) -> np.ndarray:
    return np.atleast_2d(np.loadtxt(path, delimiter="," if path.suffix == ".csv" else None))


# --- one file per operand ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["full", "same", "valid"])
def test_a_b_out_is_conv2(tmp_path, capsys, shape):
    a, b = _csv(tmp_path / "A.csv", A), _csv(tmp_path / "B.csv", B, "\t")
    out = tmp_path / "C.csv"
    status, _, err = run(capsys, a, b, out, "--op", "conv2", "--shape", shape)
    assert status == EXIT_OK, err
    assert np.array_equal(_read_csv(out), _ref("conv2", A, B, shape=shape))
    assert "%" not in out.read_text()


def test_two_vectors_without_op_are_conv(tmp_path, capsys):
    u, v = _csv(tmp_path / "u.csv", U), _csv(tmp_path / "v.csv", V)
    status, _, err = run(capsys, u, v, tmp_path / "w.txt")
    assert status == EXIT_OK, err
    got = np.loadtxt(tmp_path / "w.txt", ndmin=2)
    expected = _ref("conv", U, V, shape="full")
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_two_files_that_are_not_both_vectors_are_convn(tmp_path, capsys):
    a, b = _csv(tmp_path / "A.dat", A, " "), _csv(tmp_path / "B.dat", B, " ")
    status, _, err = run(capsys, a, b, tmp_path / "C.mat")
    assert status == EXIT_OK, err
    got = scipy.io.loadmat(tmp_path / "C.mat")["C"]
    assert np.array_equal(got, _ref("conv2", A, B, shape="full"))


def test_three_files_are_the_separable_conv2(tmp_path, capsys):
    files = [_csv(tmp_path / f"{n}.csv", x) for n, x in (("u", U), ("v", V), ("A", A))]
    status, _, err = run(capsys, *files, tmp_path / "C.csv", "--shape", "same")
    assert status == EXIT_OK, err
    expected = _ref("conv2sep", U, V, A, shape="same")
    assert np.array_equal(_read_csv(tmp_path / "C.csv"), expected)


def test_operand_files_may_be_any_job_file_holding_one_array(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "A.mat", {"img": A})
    _csv(tmp_path / "B.csv", B)
    status, _, err = run(capsys, tmp_path / "A.mat", tmp_path / "B.csv", tmp_path / "C.mat")
    assert status == EXIT_OK, err
    assert np.array_equal(
        scipy.io.loadmat(tmp_path / "C.mat")["C"], _ref("conv2", A, B, shape="full")
    )


@pytest.mark.parametrize(
    ("argv", "status", "fragments"),
    [
        (["A.csv", "B.csv", "A.csv", "B.csv", "C.csv"], EXIT_USAGE, ["4 input files", "u v A OUT"]),
        (["A.csv", "B.csv", "A.csv", "C.csv", "--op", "conv"], EXIT_USAGE, ["conv takes 2"]),
        (["A.csv", "B.csv", "C.csv", "--a", "X"], EXIT_USAGE, ["order of the files"]),
        (["A.csv", "B.csv", "C.csv", "--op", "conv"], EXIT_DATA, ["A.csv:", "AorBNotVector"]),
        (["two.mat", "B.csv", "C.csv"], EXIT_DATA, ["two.mat:", "holds 2 variables (X, Y)"]),
        (["A.csv", "B.csv", "C.csv", "--format", "mat"], EXIT_USAGE, ["name it .mat"]),
        (["A.csv", "Z.csv", "C.txt", "--op", "conv2"], EXIT_OUTPUT, ["complex", "--format text"]),
    ],
    ids=["too-many", "conv-of-three", "renaming", "not-vector", "two-variables", "fmt", "complex"],
)
def test_operand_file_errors_are_one_line(tmp_path, capsys, argv, status, fragments):
    _csv(tmp_path / "A.csv", A)
    _csv(tmp_path / "B.csv", B)
    (tmp_path / "Z.csv").write_text("1+2i,3\n")
    scipy.io.savemat(tmp_path / "two.mat", {"X": A, "Y": B})
    (tmp_path / "C.txt").write_bytes(PREVIOUS)
    before = digest(tmp_path / "C.txt")
    os.chdir(tmp_path)
    got, _, err = run(capsys, *argv)
    assert got == status
    line = assert_one_error_line(err)
    for fragment in fragments:
        assert fragment in line, line
    assert digest(tmp_path / "C.txt") == before and not (tmp_path / "C.csv").exists()


def test_a_headerless_single_file_says_how_to_pass_operands(tmp_path, capsys):
    _csv(tmp_path / "in.txt", A)
    status, _, err = run(capsys, tmp_path / "in.txt", tmp_path / "out.txt")
    assert status == EXIT_DATA
    line = assert_one_error_line(err)
    assert "its own file" in line and "bridge_write_text" in line
    assert ".py" not in line and not (tmp_path / "out.txt").exists()


def test_a_single_job_file_can_write_csv(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "in.mat", {"A": A, "B": B})
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "out.csv")
    assert status == EXIT_OK, err
    assert np.array_equal(_read_csv(tmp_path / "out.csv"), _ref("conv2", A, B, shape="full"))


# --- Octave's own files -----------------------------------------------------------------------

OCT_A, OCT_B = np.array([[1.0, 2, 3], [4, 5, 6]]), np.array([[1.0, -1]])
OCTAVE_TEXT = """# Created by Octave 7.3.0, Mon Nov 30 23:55:09 2026 UTC <user@host>
# name: A
# type: matrix
# rows: 2
# columns: 3
 1 2 3
 4 5 6


# name: B
# type: matrix
# rows: 1
# columns: 2
 1 -1


# name: op
# type: sq_string
# elements: 1
# length: 5
conv2


"""


def test_octaves_default_save_named_mat_runs(tmp_path, capsys):
    path = tmp_path / "in.mat"
    path.write_text(OCTAVE_TEXT)
    status, _, err = run(capsys, path, tmp_path / "out.mat", "--shape", "same")
    assert status == EXIT_OK, err
    expected = _ref(
        "conv2", np.array([[1.0, 2, 3], [4, 5, 6]]), np.array([[1.0, -1]]), shape="same"
    )
    assert np.array_equal(scipy.io.loadmat(tmp_path / "out.mat")["C"], expected)


def _octave_hdf5(path: Path) -> Path:
    with h5py.File(path, "w") as f:
        for name, kind, value in (
            ("A", b"matrix", np.array([[1.0, 4], [2, 5], [3, 6]])),  # 2x3, stored reversed
            ("B", b"matrix", np.array([[1.0], [-1]])),
            ("op", b"sq_string", np.frombuffer(b"conv2", dtype=np.int8).reshape(5, 1)),
        ):
            group = f.create_group(name)
            group.attrs["OCTAVE_NEW_FORMAT"] = np.uint8(1)
            group["type"] = np.bytes_(kind)
            group["value"] = value
    return path


def test_octaves_save_hdf5_runs_with_its_char_op(tmp_path, capsys):
    path = _octave_hdf5(tmp_path / "in.h5")
    status, _, err = run(capsys, path, tmp_path / "out.mat", "--shape", "valid")
    assert status == EXIT_OK, err
    expected = _ref(
        "conv2", np.array([[1.0, 2, 3], [4, 5, 6]]), np.array([[1.0, -1]]), shape="valid"
    )
    assert np.array_equal(scipy.io.loadmat(tmp_path / "out.mat")["C"], expected)


# --- bridge vars ------------------------------------------------------------------------------


def test_vars_json_lists_files_variables_and_request(tmp_path, capsys):
    path = tmp_path / "in.mat"
    path.write_text(OCTAVE_TEXT)
    status, out, _ = run(capsys, "vars", "--json", path)
    assert status == EXIT_OK
    (listing,) = json.loads(out)
    assert listing["file"] == str(path) and listing["request"] == {"op": "conv2"}
    assert listing["variables"][0] == {
        "name": "A",
        "size": [2, 3],
        "class": "double",
        "complex": False,
        "sparse": False,
    }


def test_vars_goes_on_past_a_bad_file_and_exits_3(tmp_path, capsys):
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"A": A})
    for argv in (["vars"], ["vars", "--json"]):
        status, out, err = run(capsys, *argv, tmp_path / "missing.mat", good)
        assert status == EXIT_DATA
        assert_one_error_line(err)
        assert "missing.mat: does not exist" in err
        assert ("6x5" in out) if len(argv) == 1 else ('"class": "double"' in out)
    status, out, _ = run(capsys, "vars", "--json", tmp_path / "missing.mat", good)
    listing = json.loads(out)
    assert "does not exist" in listing[0]["error"] and listing[1]["variables"][0]["name"] == "A"


def test_vars_error_file_gets_every_bad_files_line(tmp_path, capsys):
    errors = tmp_path / "err.txt"
    status, _, err = run(
        capsys, "vars", "--error-file", errors, tmp_path / "x.mat", tmp_path / "y.mat"
    )
    assert status == EXIT_DATA and err == ""
    lines = errors.read_text().splitlines()
    assert len(lines) == 2 and "x.mat" in lines[0] and "y.mat" in lines[1]


def test_vars_shows_sparse_like_whos(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "s.mat", {"S": scipy.sparse.csc_matrix(np.eye(3) * (1 + 1j))})
    status, out, _ = run(capsys, "vars", tmp_path / "s.mat")
    assert status == EXIT_OK
    row = next(line for line in out.splitlines() if line.split()[:1] == ["S"])
    assert row.split() == ["S", "3x3", "double", "sparse,", "complex"]


# --- messages in MATLAB users' terms ----------------------------------------------------------

LEAKS = ["Value error", "<list[str]>", "<str>", "{IN}", "{OUT}", "['.", "Input should be"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["vars", "--help"],
        ["in.mat", "out.mat", "--op", "foo"],
        ["in.mat", "out.mat", "--mat-version", "6"],
        ["vars", "--hdf5-order", "x", "in.mat"],
        ["in.mat", "out.xyz"],
        ["serve", "--idle-timeout", "-1"],
    ],
)
def test_no_typer_pydantic_or_python_words(tmp_path, capsys, argv):
    scipy.io.savemat(tmp_path / "in.mat", {"A": A, "B": B})
    os.chdir(tmp_path)
    _, out, err = run(capsys, *argv)
    for leak in LEAKS:
        assert leak not in out + err, (leak, out + err)


def test_a_64_character_name_gets_the_length_limit(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "in.mat", {"A": A, "B": B})
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "o.mat", "--out-var", "x" * 64)
    assert status == EXIT_USAGE and "at most 63" in assert_one_error_line(err)


@pytest.mark.parametrize("kind", ["devnull", "fifo"])
def test_a_device_or_fifo_is_not_called_missing(tmp_path, capsys, kind):
    path = Path(os.devnull)
    if kind == "fifo":
        path = tmp_path / "pipe.mat"
        os.mkfifo(path)
    for argv in ([path, tmp_path / "o.mat"], ["vars", path]):
        status, _, err = run(capsys, *argv)
        assert status == EXIT_DATA
        line = assert_one_error_line(err)
        assert "not a regular file" in line and "does not exist" not in line


def test_format_mat_with_a_txt_out_is_refused_before_writing(tmp_path, capsys):
    scipy.io.savemat(tmp_path / "in.mat", {"A": A, "B": B})
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "o.txt", "--format", "mat")
    assert status == EXIT_USAGE and "name it .mat" in assert_one_error_line(err)
    assert not (tmp_path / "o.txt").exists()


@pytest.mark.parametrize("keep", [10, 100, 127])
def test_a_mat_file_cut_below_128_bytes_is_truncated_not_text(tmp_path, capsys, keep):
    scipy.io.savemat(tmp_path / "in.mat", {"A": A, "B": B})
    data = (tmp_path / "in.mat").read_bytes()
    (tmp_path / "in.mat").write_bytes(data[:keep])
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "o.mat")
    line = assert_one_error_line(err)
    assert status == EXIT_DATA and "truncated" in line and "text" not in line


def test_vlen_and_reference_datasets_are_not_char(tmp_path, capsys):
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["A"] = np.ones((2, 2))
        f.create_dataset("V", (2,), dtype=h5py.vlen_dtype(np.int32))[0] = [1, 2]
        f.create_dataset("R", (1,), dtype=h5py.ref_dtype)[0] = f["A"].ref
    status, out, _ = run(capsys, "vars", path)
    assert status == EXIT_OK
    classes = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    assert "char" not in classes["V"] and "char" not in classes["R"]
    assert "variable-length sequence of int32" in classes["V"] and "reference" in classes["R"]


def test_cli_main_is_still_typers_for_usage(capsys):
    status, _, err = run(capsys, "in.mat")
    assert status == EXIT_USAGE and "Missing argument 'OUT'" in err and cli.PROG in err


# --- start-up: the fast path stays fast with the new files ------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv-operands", "octave-text"])
def test_a_tiny_job_of_user_files_imports_neither_scipy_nor_typer_nor_h5py(tmp_path, kind):
    from tests.test_fastpath import HEAVY, _imports

    if kind == "csv-operands":
        _csv(tmp_path / "A.csv", A)
        _csv(tmp_path / "B.csv", B)
        args, out = ["A.csv", "B.csv", "C.csv", "--shape", "same"], tmp_path / "C.csv"
    else:
        (tmp_path / "in.mat").write_text(OCTAVE_TEXT)
        args, out = ["in.mat", "C.csv", "--shape", "same"], tmp_path / "C.csv"
    done, imported = _imports(args, tmp_path)
    assert done.returncode == EXIT_OK, done.stderr[-2000:]
    assert "numpy" in imported and not imported & HEAVY
    expected = (
        _ref("conv2", A, B, shape="same")
        if kind == "csv-operands"
        else _ref("conv2", OCT_A, OCT_B, shape="same")
    )
    assert np.array_equal(_read_csv(out), expected)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"Octave-1-L\x00\x00\x00\x00\x00\x01\x00\x00\x00A", "Octave's binary format"),
        (__import__("gzip").compress(OCTAVE_TEXT.encode()), "gzip-compressed"),
    ],
    ids=["save-binary", "save-zip"],
)
def test_octave_formats_bridge_does_not_read_say_how_to_save(tmp_path, capsys, content, fragment):
    (tmp_path / "in.mat").write_bytes(content)
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "o.mat")
    line = assert_one_error_line(err)
    assert status == EXIT_DATA and fragment in line and "-v7" in line
