"""The command line in-process (bridge._cli.main): jobs, options, exit statuses, one-line errors.

Job files are written with scipy.io.savemat, a writer independent of bridge._formats. Every
failing job is also checked for what it must leave alone: IN byte for byte, an existing OUT, and
no stray temporary file next to OUT.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import bridge
from bridge import _cli as cli
from bridge import _formats as formats
from bridge._job.operations import OPERATIONS
from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
)

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS = b"an earlier result that a failed job must not touch"


def write_job(path: Path, **variables) -> Path:
    scipy.io.savemat(path, variables, format="5")
    return path


def read_result(path: Path, name: str = "C") -> np.ndarray:
    return scipy.io.loadmat(path, squeeze_me=False)[name]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(capsys, *argv: object) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err: str) -> str:
    assert err.startswith("bridge: error: "), err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    return err


# --- jobs that work ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variables, expected",
    [
        (
            {
                "u": np.array([[-1.0, 2, 3, -2, 0, 1, 2]]),
                "v": np.array([[2.0, 4, -1, 1]]),
                "shape": "same",
            },
            bridge.conv([-1, 2, 3, -2, 0, 1, 2], [2, 4, -1, 1], "same"),
        ),
        (
            {"A": np.arange(16.0).reshape(4, 4), "B": np.array([[1.0, 2], [3, 4]]), "op": "conv2"},
            bridge.conv2(np.arange(16.0).reshape(4, 4), np.array([[1.0, 2], [3, 4]])),
        ),
        (
            {
                "u": np.array([[1.0, 2]]),
                "v": np.array([[1.0], [2], [3]]),
                "A": np.arange(12.0).reshape(3, 4),
                "shape": "valid",
            },
            bridge.conv2([[1.0, 2]], [[1.0], [2], [3]], np.arange(12.0).reshape(3, 4), "valid"),
        ),
        (
            {"A": np.ones((3, 3)), "B": np.ones((2, 2, 2)), "op": "convn"},
            bridge.convn(np.ones((3, 3)), np.ones((2, 2, 2))),
        ),
    ],
    ids=["conv-same", "conv2", "conv2-separable", "convn-3d"],
)
def test_job_writes_the_result_as_C(tmp_path, capsys, variables, expected):
    src = write_job(tmp_path / "in.mat", **variables)
    before = digest(src)
    status, out, err = run(capsys, src, tmp_path / "out.mat")
    assert (status, out, err) == (EXIT_OK, "", "")
    got = read_result(tmp_path / "out.mat")
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mat", "out.mat"]


def test_single_complex_and_logical_keep_matlab_classes(tmp_path, capsys):
    u = np.array([[1 + 2j, 3 - 1j]], np.complex64)
    v = np.array([[True, False, True]])
    write_job(tmp_path / "in.mat", u=u, v=v)
    assert run(capsys, tmp_path / "in.mat", tmp_path / "out.mat")[0] == EXIT_OK
    got = read_result(tmp_path / "out.mat")
    assert got.dtype == np.complex64
    np.testing.assert_array_equal(got, bridge.conv(u, v))


def test_options_override_the_request(tmp_path, capsys):
    write_job(tmp_path / "in.mat", x=np.array([[1.0, 2, 3]]), k=np.array([[1.0, 1]]), shape="full")
    status, _, err = run(
        capsys,
        tmp_path / "in.mat",
        tmp_path / "out.mat",
        "--op",
        "CONV",
        "--shape",
        "Valid",
        "--u",
        "x",
        "--v",
        "k",
        "--out-var",
        "w",
    )
    assert (status, err) == (EXIT_OK, "")
    np.testing.assert_array_equal(read_result(tmp_path / "out.mat", "w"), [[3.0, 5.0]])


def test_mat_version_73_writes_an_hdf5_mat_file(tmp_path, capsys):
    write_job(tmp_path / "in.mat", u=np.array([[1.0, 2]]), v=np.array([[1.0, 1]]))
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "out.mat", "--mat-version", "7.3")
    assert (status, err) == (EXIT_OK, "")
    data = (tmp_path / "out.mat").read_bytes()
    assert data.startswith(b"MATLAB 7.3 MAT-file")
    assert data[512:520] == b"\x89HDF\r\n\x1a\n"


def test_compressed_output_reads_back(tmp_path, capsys):
    write_job(tmp_path / "in.mat", u=np.ones((1, 50)), v=np.ones((1, 50)))
    status, _, _ = run(capsys, tmp_path / "in.mat", tmp_path / "out.mat", "--compress")
    assert status == EXIT_OK
    np.testing.assert_array_equal(
        read_result(tmp_path / "out.mat"), bridge.conv(np.ones(50), np.ones(50))
    )


@pytest.mark.parametrize(
    "name, options",
    [("in.txt", []), ("in.h5", []), ("in.h5", ["--hdf5-order", "c"]), ("in.mat", [])],
    ids=["text", "hdf5", "hdf5-c-order", "mat"],
)
def test_every_input_format_gives_a_result_in_the_same_format(tmp_path, capsys, name, options):
    A = np.arange(24.0).reshape(2, 3, 4)
    B = np.array([[[1.0, -1.0]]], np.float32).reshape(1, 1, 2)
    order = options[-1] if options else "matlab"
    formats.write(tmp_path / name, {"A": A, "B": B}, request={"op": "convn"}, hdf5_order=order)
    out = tmp_path / name.replace("in.", "out.")
    status, _, err = run(capsys, tmp_path / name, out, *options)
    assert (status, err) == (EXIT_OK, "")
    variables, _ = formats.read(out, hdf5_order=order if options else None)
    got = variables["C"].array()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, bridge.convn(A, B))


def test_format_option_forces_the_output_format(tmp_path, capsys):
    write_job(tmp_path / "in.mat", u=np.array([[1.0, 2.0]]), v=np.array([[3.0]]))
    status, _, _ = run(capsys, tmp_path / "in.mat", tmp_path / "result.txt", "--format", "text")
    assert status == EXIT_OK
    assert "% C double 1 2" in (tmp_path / "result.txt").read_text()


# --- help, version, the vars subcommand ----------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_explains_the_job_contract_and_exit_codes(capsys, flag):
    status, out, err = run(capsys, flag)
    assert (status, err) == (EXIT_OK, "")
    for text in ("IN", "OUT", "u, v", "op", "shape", "save(", "Exit status", "--error-file"):
        assert text in out
    for code in (EXIT_USAGE, EXIT_DATA, EXIT_OUTPUT, EXIT_ENVIRONMENT, EXIT_INTERNAL):
        assert f"\n    {code} " in out
    # the signals' statuses and the other commands, so that --help is the whole map
    for code in (129, 130, 143):
        assert f"\n    {code} stopped by" in out
    for command in ("bridge vars", "bridge batch", "bridge serve"):
        assert command in out
    # every operation the job layer declares
    for op in OPERATIONS:
        assert op in out


def test_version(capsys):
    assert run(capsys, "--version") == (EXIT_OK, f"bridge {bridge.__version__}\n", "")


def test_console_script_is_cli_main():
    # The script calls main() and exits with what it returns: main must return an int.
    assert 'bridge = "bridge._cli:main"' in (ROOT / "pyproject.toml").read_text()
    assert cli.main(["--version"]) == EXIT_OK


def test_vars_lists_name_size_and_class(tmp_path, capsys):
    write_job(
        tmp_path / "in.mat",
        A=np.zeros((3, 4)),
        B=np.ones((2, 2), np.complex64),
        L=np.ones((1, 5), bool),
        op="conv2",
    )
    status, out, err = run(capsys, "vars", tmp_path / "in.mat")
    assert (status, err) == (EXIT_OK, "")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:] if line.strip()}
    assert rows["A"] == ["3x4", "double"]
    assert rows["B"] == ["2x2", "single", "complex"]
    assert rows["L"] == ["1x5", "logical"]
    assert "op" in out


def test_vars_shows_the_call_the_job_makes(tmp_path, capsys):
    """The job a file asks for, as the job layer reads it from the operation's declaration."""
    write_job(tmp_path / "in.mat", u=np.zeros((1, 3)), v=np.ones((1, 2)), shape="same")
    status, out, _ = run(capsys, "vars", tmp_path / "in.mat")
    assert status == EXIT_OK and "  job: conv(u, v, 'same')" in out.splitlines()
    status, out, _ = run(capsys, "vars", "--json", tmp_path / "in.mat")
    assert json.loads(out)[0]["call"] == "conv(u, v, 'same')"
    write_job(tmp_path / "half.mat", u=np.zeros((1, 3)))  # not a whole job: no call
    status, out, _ = run(capsys, "vars", "--json", tmp_path / "half.mat")
    assert status == EXIT_OK and json.loads(out)[0]["call"] is None


def test_vars_of_several_files_names_each(tmp_path, capsys):
    one = write_job(tmp_path / "one.mat", A=np.zeros((1, 2)))
    two = write_job(tmp_path / "two.mat", B=np.zeros((5, 1)))
    status, out, _ = run(capsys, "vars", one, two)
    assert status == EXIT_OK
    assert f"{one}:" in out and f"{two}:" in out and "5x1" in out


def test_vars_of_a_bad_file_is_a_data_error(tmp_path, capsys):
    (tmp_path / "bad.mat").write_bytes(b"\x00" * 10)
    status, _, err = run(capsys, "vars", tmp_path / "bad.mat")
    assert status == EXIT_DATA
    assert "bad.mat" in assert_one_error_line(err)


# --- usage errors: exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["only-in.mat"],
        ["in.mat", "out.mat", "--shape", "middle"],
        ["in.mat", "out.mat", "--op", "conv3"],
        ["in.mat", "out.mat", "--mat-version", "6"],
        ["in.mat", "out.mat", "--hdf5-order", "fortran"],
        ["in.mat", "out.mat", "--no-such-option"],
        ["in.mat", "out.mat", "--out-var", "1x"],
        ["in.mat", "out.mat", "--a", "has space"],
        ["in.mat", "out.mat", "--format", "xls"],
        ["in.mat", "in.mat"],
        ["vars"],
    ],
    ids=[
        "no-arguments",
        "no-OUT",
        "bad-shape",
        "bad-op",
        "bad-mat-version",
        "bad-order",
        "unknown-option",
        "bad-out-var",
        "bad-name",
        "bad-format",
        "OUT-is-IN",
        "vars-without-file",
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    write_job(tmp_path / "in.mat", u=np.ones((1, 2)), v=np.ones((1, 2)))
    before = digest(tmp_path / "in.mat")
    status, out, err = run(capsys, *argv)
    assert status == EXIT_USAGE
    assert out == ""
    assert err.endswith("(bridge:usage)\n")
    assert_one_error_line(err)
    assert digest(tmp_path / "in.mat") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mat"]


# --- bad input: exit 3 ---------------------------------------------------------------------


def _truncated(path: Path) -> None:
    write_job(path, u=np.arange(200.0).reshape(1, -1), v=np.ones((1, 3)))
    path.write_bytes(path.read_bytes()[:150])


BAD_INPUTS = {
    # id: (file name, how to make it (None: do not), expected text in the message)
    "missing-file": ("in.mat", None, "does not exist"),
    "truncated": ("in.mat", _truncated, "in.mat"),
    "random-bytes": (
        "in.mat",
        lambda p: p.write_bytes(np.random.default_rng(1).bytes(300)),
        "in.mat",
    ),
    "empty-file": ("in.mat", lambda p: p.write_bytes(b""), "in.mat"),
    "folder": ("in.mat", lambda p: p.mkdir(), "folder"),
    "unknown-extension": ("in.xyz", lambda p: p.write_text("u = 1\n"), ".xyz"),
    "missing-variable": ("in.mat", lambda p: write_job(p, u=np.ones((1, 3)), op="conv"), "v"),
    "no-operands": ("in.mat", lambda p: write_job(p, x=np.ones((1, 3))), "in.mat"),
    "cell-operand": (
        "in.mat",
        lambda p: write_job(p, u=np.array([[1.0, 2.0]], dtype=object), v=np.ones((1, 2))),
        "u",
    ),
    "struct-operand": (
        "in.mat",
        lambda p: write_job(p, A={"x": 1.0}, B=np.ones((2, 2)), op="conv2"),
        "A",
    ),
    "char-operand": (
        "in.mat",
        lambda p: write_job(p, A="abc", B=np.ones((2, 2)), op="conv2"),
        "MATLAB:conv2:inputType",
    ),
    "bad-shape": (
        "in.mat",
        lambda p: write_job(p, u=np.ones((1, 3)), v=np.ones((1, 2)), shape="middle"),
        "MATLAB:conv2:unknownShapeParameter",
    ),
    "bad-op": (
        "in.mat",
        lambda p: write_job(p, A=np.ones((2, 2)), B=np.ones((2, 2)), op="conv3"),
        "conv3",
    ),
    "conv-of-matrices": (
        "in.mat",
        lambda p: write_job(p, u=np.ones((2, 2)), v=np.ones((1, 2)), op="conv"),
        "MATLAB:conv:AorBNotVector",
    ),
    "conv2-of-3d": (
        "in.mat",
        lambda p: write_job(p, A=np.ones((2, 2, 2)), B=np.ones((2, 2)), op="conv2"),
        "N-D arrays are not supported",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_exits_3_and_leaves_files_alone(tmp_path, capsys, case):
    name, make, expected = BAD_INPUTS[case]
    src = tmp_path / name
    if make:
        make(src)
    before = digest(src) if src.is_file() else None
    dst = tmp_path / "out.mat"
    dst.write_bytes(PREVIOUS)
    status, out, err = run(capsys, src, dst)
    assert status == EXIT_DATA, err
    assert out == ""
    assert expected in assert_one_error_line(err)
    assert str(src) in err  # the message names the file
    assert dst.read_bytes() == PREVIOUS
    if before:
        assert digest(src) == before
    left = {name, "out.mat"} if make else {"out.mat"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(left)


def test_missing_variable_message_names_the_variable(tmp_path, capsys):
    write_job(tmp_path / "in.mat", A=np.ones((2, 2)))
    status, _, err = run(
        capsys, tmp_path / "in.mat", tmp_path / "out.mat", "--op", "conv2", "--b", "kernel"
    )
    assert status == EXIT_DATA
    assert "kernel" in assert_one_error_line(err)


# --- output problems: exit 4 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "out",
    ["missing/out.mat", "folder", "file/out.mat"],
    ids=["missing-folder", "is-a-folder", "under-a-file"],
)
def test_output_that_cannot_be_written_exits_4(tmp_path, capsys, out):
    write_job(tmp_path / "in.mat", u=np.ones((1, 2)), v=np.ones((1, 2)))
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_bytes(b"x")
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / out)
    assert status == EXIT_OUTPUT
    assert out.split("/")[0] in assert_one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder", "in.mat"]


# --- environment and internal errors: exits 5 and 70 ---------------------------------------


def test_missing_numpy_exits_5_naming_module_and_interpreter(tmp_path, capsys, monkeypatch):
    write_job(tmp_path / "in.mat", u=np.ones((1, 2)), v=np.ones((1, 2)))
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "out.mat")
    assert status == EXIT_ENVIRONMENT
    assert "numpy" in assert_one_error_line(err)
    assert sys.executable in err and err.endswith("(bridge:pythonEnv)\n")
    assert not (tmp_path / "out.mat").exists()


def test_broken_h5py_exits_5(tmp_path, capsys, monkeypatch):
    write_job(tmp_path / "in.mat", u=np.ones((1, 2)), v=np.ones((1, 2)))
    for name in [m for m in sys.modules if m == "h5py" or m.startswith("h5py.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "h5py", None)
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "out.h5")
    assert status == EXIT_ENVIRONMENT
    assert "h5py" in assert_one_error_line(err)


def _boom(job):
    raise RuntimeError("something bridge did not expect\nover two lines")


def test_unexpected_exception_exits_70_without_traceback(tmp_path, capsys, monkeypatch):
    from bridge._job import compute

    monkeypatch.setattr(compute, "compute", _boom)
    write_job(tmp_path / "in.mat", u=np.ones((1, 2)), v=np.ones((1, 2)))
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "out.mat")
    assert status == EXIT_INTERNAL
    assert "RuntimeError: something bridge did not expect over two lines" in err
    assert "--debug" in assert_one_error_line(err)


def test_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    from bridge._job import compute

    monkeypatch.setattr(compute, "compute", _boom)
    write_job(tmp_path / "in.mat", u=np.ones((1, 2)), v=np.ones((1, 2)))
    status, _, err = run(capsys, tmp_path / "in.mat", tmp_path / "out.mat", "--debug")
    assert status == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("bridge: error: internal error: RuntimeError")


# --- --error-file: how the MATLAB wrappers read the message ------------------------------


def test_error_file_gets_the_line_instead_of_stderr(tmp_path, capsys):
    write_job(tmp_path / "in.mat", u=np.ones((2, 2)), v=np.ones((1, 2)), op="conv")
    status, _, err = run(
        capsys, tmp_path / "in.mat", tmp_path / "out.mat", "--error-file", tmp_path / "error.txt"
    )
    assert (status, err) == (EXIT_DATA, "")
    line = (tmp_path / "error.txt").read_text()
    assert line.startswith("bridge: error: ") and line.endswith("(MATLAB:conv:AorBNotVector)\n")


def test_error_file_also_gets_usage_errors(tmp_path, capsys):
    status, _, err = run(capsys, "--shape", "x", f"--error-file={tmp_path / 'e.txt'}")
    assert (status, err) == (EXIT_USAGE, "")
    assert (tmp_path / "e.txt").read_text().endswith("(bridge:usage)\n")


def test_unwritable_error_file_falls_back_to_stderr(tmp_path, capsys):
    status, _, err = run(
        capsys,
        tmp_path / "missing.mat",
        tmp_path / "out.mat",
        "--error-file",
        tmp_path / "no" / "such" / "e.txt",
    )
    assert status == EXIT_DATA
    assert_one_error_line(err)
