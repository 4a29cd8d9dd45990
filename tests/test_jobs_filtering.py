"""The filtering family through the job layer: job files (every format), command-line settings,
batch and the warm worker give exactly the Python API's answer, and errors name the job file's
variable. The operations come from their declarations (bridge._job.operations): nothing else was
written for them in the job layer, the parsers, batch or serve."""

from __future__ import annotations

import numpy as np
import pytest

import bridge
from bridge import _cli as cli
from bridge import _formats as formats
from bridge._job.operations import OPERATIONS
from bridge.errors import EXIT_DATA, EXIT_OK, EXIT_USAGE

RNG = np.random.default_rng(18)
IMAGE = RNG.integers(0, 256, (17, 23, 3)).astype(np.uint8)
KERNEL = RNG.standard_normal((4, 3))
X = RNG.standard_normal((12, 9))

# op -> (job-file variables, the same call through the Python API)
CASES = {
    "filter2": (
        {"h": KERNEL, "X": X, "shape": "valid"},
        lambda: bridge.filter2(KERNEL, X, "valid"),
    ),
    "filter2-default": ({"h": KERNEL, "X": X}, lambda: bridge.filter2(KERNEL, X)),
    "xcorr2": ({"a": X, "b": KERNEL + 1j}, lambda: bridge.xcorr2(X, KERNEL + 1j)),
    "xcorr2-auto": ({"a": X}, lambda: bridge.xcorr2(X)),
    "imfilter": (
        {"A": IMAGE, "h": KERNEL, "padding": "circular", "mode": "conv", "shape": "full"},
        lambda: bridge.imfilter(IMAGE, KERNEL, "circular", "conv", "full"),
    ),
    "imfilter-value": (
        {"A": IMAGE, "h": KERNEL, "padding": 3.5},
        lambda: bridge.imfilter(IMAGE, KERNEL, 3.5),
    ),
    "imgaussfilt": (
        {"A": IMAGE, "sigma": np.array([[1.5, 0.8]]), "Padding": "symmetric"},
        lambda: bridge.imgaussfilt(IMAGE, [1.5, 0.8], "Padding", "symmetric"),
    ),
    "imgaussfilt3": (
        {"A": IMAGE.astype(np.float32), "sigma": 0.7, "FilterSize": 3.0},
        lambda: bridge.imgaussfilt3(IMAGE.astype(np.float32), 0.7, "FilterSize", 3),
    ),
    "fspecial": (
        {"type": "motion", "p1": 9.0, "p2": 30.0},
        lambda: bridge.fspecial("motion", 9, 30),
    ),
}


def _op(case: str) -> str:
    return case.split("-")[0]


def write_job(path, variables: dict, op: str, mat_version: str = "7"):
    """A job file as MATLAB (save -v7, save -v7.3) or h5py writes it: text settings are char
    variables (string datasets in plain HDF5), op and shape the request."""
    arrays = {k: v for k, v in variables.items() if not isinstance(v, str)}
    texts = {k: v for k, v in variables.items() if isinstance(v, str)}
    request = {"op": op, **({"shape": texts.pop("shape")} if "shape" in texts else {})}
    if path.suffix == ".mat" and mat_version == "7":
        import scipy.io

        scipy.io.savemat(path, {**arrays, **texts, **request})
        return path
    formats.write(path, arrays, request=request, mat_version=mat_version)
    import h5py

    with h5py.File(path, "a") as f:
        for name, text in texts.items():
            if path.suffix == ".mat":  # MATLAB's v7.3 char: UTF-16 codes, a column in HDF5
                codes = np.frombuffer(text.encode("utf-16-le"), np.uint16).reshape(-1, 1)
                f[name] = codes
                f[name].attrs["MATLAB_class"] = np.bytes_(b"char")
            else:
                f[name] = text
    return path


def run(capsys, *argv) -> tuple[int, str]:
    status = cli.main([str(a) for a in argv])
    return status, capsys.readouterr().err


def result(path) -> np.ndarray:
    return formats.read(path)[0]["C"].array()


def test_every_filtering_operation_is_declared():
    for op in ("filter2", "xcorr2", "imfilter", "fspecial", "imgaussfilt", "imgaussfilt3"):
        assert op in OPERATIONS and OPERATIONS[op].wrapper == f"bridge_{op}"


@pytest.mark.parametrize("name", ["in.mat", "in73.mat", "in.h5"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_job_file_gives_the_python_answer(tmp_path, capsys, case, name):
    variables, expected = CASES[case]
    path = tmp_path / name.replace("73", "")
    write_job(path, variables, _op(case), "7.3" if "73" in name else "7")
    status, err = run(capsys, path, tmp_path / "out.mat")
    assert (status, err) == (EXIT_OK, "")
    got, want = result(tmp_path / "out.mat"), expected()
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=True)


def test_command_line_settings_override_the_files(tmp_path, capsys):
    path = write_job(tmp_path / "in.mat", {"A": IMAGE, "h": KERNEL, "padding": 0.0}, "imfilter")
    out = tmp_path / "out.mat"
    status, err = run(
        capsys, path, out, "--padding", "Replicate", "--mode", "CONV", "--shape", "full"
    )
    assert (status, err) == (EXIT_OK, "")
    assert np.array_equal(result(out), bridge.imfilter(IMAGE, KERNEL, "replicate", "conv", "full"))
    status, err = run(capsys, path, out, "--padding", "2.5")
    assert status == EXIT_OK and np.array_equal(result(out), bridge.imfilter(IMAGE, KERNEL, 2.5))
    gauss = write_job(tmp_path / "g.mat", {"A": IMAGE}, "imgaussfilt")
    status, err = run(capsys, gauss, out, "--sigma", "2,1", "--filter-size", "5,3")
    assert status == EXIT_OK
    assert np.array_equal(result(out), bridge.imgaussfilt(IMAGE, [2, 1], "FilterSize", [5, 3]))


def test_a_bad_setting_names_its_variable_or_is_a_usage_error(tmp_path, capsys):
    path = write_job(tmp_path / "in.mat", {"A": IMAGE, "sigma": -1.0}, "imgaussfilt")
    status, err = run(capsys, path, tmp_path / "out.mat")
    assert status == EXIT_DATA and "variable 'sigma'" in err and "imgaussfilt" in err
    status, err = run(capsys, path, tmp_path / "out.mat", "--sigma", "two")
    assert status == EXIT_USAGE and "--sigma" in err
    bad = write_job(tmp_path / "bad.mat", {"h": KERNEL, "X": np.ones((4, 4, 2))}, "filter2")
    status, err = run(capsys, bad, tmp_path / "out.mat")
    assert status == EXIT_DATA and "variable 'X'" in err and "(bridge:conv2:notMatrix)" in err
    assert not (tmp_path / "out.mat").exists()


def test_a_missing_operand_says_what_the_operation_needs(tmp_path, capsys):
    path = write_job(tmp_path / "in.mat", {"A": IMAGE}, "imfilter")
    status, err = run(capsys, path, tmp_path / "out.mat")
    assert status == EXIT_DATA and "imfilter needs A and h" in err


@pytest.mark.slow
def test_a_batch_of_filtering_jobs_gives_each_jobs_answer(tmp_path):
    from tests.test_batch import run_batch

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for case, (variables, _) in CASES.items():
        write_job(jobs / f"{case}.mat", variables, _op(case))
    done = run_batch(jobs, "--out-dir", tmp_path / "out", "--jobs", "2", cwd=tmp_path)
    assert done.returncode == EXIT_OK, done.stderr
    for case, (_, expected) in CASES.items():
        got, want = result(tmp_path / "out" / f"{case}.mat"), expected()
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), case
