"""The MATLAB wrappers (matlab/bridge_conv*.m) driven through octave-cli.

Each wrapper call starts the Python worker once, so the generated cases are few; the numeric core
has its own, much larger, differential tests (test_conv_octave.py). What is checked here is the
round trip: classes and sizes survive MATLAB -> file -> Python -> file -> MATLAB, the result is
bit for bit what bridge computes in-process, and it agrees with Octave's own function. The
Octave-vs-MATLAB differences excluded are those of test_conv_octave.py (spec section 7).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings

from tests import progress_hooks
from tests.octave import OctaveError, m_string, operands, wrapper_eval
from tests.reference import assert_matlab_equal, expected_class, reference
from tests.strategies import Case, cases

pytestmark = pytest.mark.octave

ROOT = Path(__file__).resolve().parents[1]
MATLAB = ROOT / "matlab"

WRAPPED = {
    # Octave's conv.m computes through filter(), whose complex arithmetic with Inf differs from
    # conv2's (conv(ones(1,6,'logical'), complex(Inf,0)) is real Inf there, Inf+NaNi by conv2, as
    # by MATLAB's conv.m, which is conv2(u(:), v(:)) oriented): Octave's conv gives the size and
    # orientation, its conv2 of the columns the values (as in test_conv_octave.py).
    "conv": (
        "W = bridge_conv(x1, x2, wshape); R = conv(x1, x2, shape);"
        "R = reshape(conv2(c1, c2, shape), size(R));"
    ),
    "conv2": "W = bridge_conv2(x1, x2, wshape); R = conv2(x1, x2, shape);",
    "conv2sep": "W = bridge_conv2(x1, x2, x3, wshape); R = conv2(x1, x2, x3, shape);",
    # Octave 7.3 mishandles complex separable calls; the spec defines the form to equal this.
    "conv2sep-complex": (
        "W = bridge_conv2(x1, x2, x3, wshape);"
        "p = double(x1(:)); q = double(x2(:)); if isa(x1, 'single') || isa(x2, 'single'),"
        " p = single(p); q = single(q); end; R = conv2(x3, p * q.', shape);"
    ),
    "convn": "W = bridge_convn(x1, x2, wshape); R = convn(x1, x2, shape);",
}
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def matlab(octave, tmp_path_factory):
    """The shared Octave session with the wrappers on its path, this Python, a private TMPDIR."""
    tmp = tmp_path_factory.mktemp("wrapper-tmp")
    octave._run(
        f"addpath({m_string(MATLAB)}); setenv('BRIDGE_PYTHON', {m_string(sys.executable)});"
        f"setenv('TMPDIR', {m_string(tmp)}); setenv('BRIDGE_TEMP', {m_string(tmp)});"
    )
    octave.tmpdir = tmp
    yield octave
    # The session inherited this process's environment; call() clears Octave variables.
    octave._run(
        f"setenv('TMPDIR', {m_string(os.environ.get('TMPDIR', ''))}); setenv('BRIDGE_PYTHON', '');"
        "setenv('BRIDGE_TEMP', '');"
    )


@pytest.fixture
def clean_tmp(matlab):
    """Asserts that a test leaves no temporary folder behind."""
    yield matlab.tmpdir
    assert list(matlab.tmpdir.iterdir()) == []


def call(matlab, code: str, inputs: dict, outputs: list[str]) -> dict[str, np.ndarray]:
    """OctaveSession.call for several outputs, packed in one struct (its save list takes one)."""
    pack = " ".join(f"O__.{name} = {name};" for name in outputs)
    got = matlab.call(f"{code}\nO__ = struct(); {pack}", inputs, ["O__"])["O__"]
    return {name: got[name][0, 0] for name in outputs}


def round_trip(matlab, case: Case) -> tuple[np.ndarray, np.ndarray]:
    """(wrapper's result, Octave's own result) of one case."""
    inputs, setup, kind = operands(case)
    inputs["wshape"] = case.shape  # any case: MATLAB's shapes are case-insensitive
    inputs["shape"] = case.shape.lower()  # Octave's are not (spec 7.5)
    got = call(matlab, setup + WRAPPED[kind], inputs, ["W", "R"])
    return got["W"], got["R"]


def check(case: Case, wrapped: np.ndarray, octave_own: np.ndarray) -> None:
    dtype = expected_class(*case.arrays)
    direct = case.run()
    if wrapped.dtype != dtype:
        # Octave narrows a complex result whose imaginary part is all zero (spec 7.3).
        assert dtype.kind == "c" and wrapped.dtype.kind == "f" and not np.any(direct.imag)
        wrapped = wrapped.astype(dtype)
    # The files must not change a bit of what bridge computes.
    assert wrapped.shape == direct.shape
    np.testing.assert_array_equal(wrapped, direct)
    _, bound, _ = reference(case.op, case.arrays, case.shape)
    assert_matlab_equal(wrapped, octave_own.astype(dtype), bound, dtype, ulps=16)


# Found failing once (Octave's conv, through filter(), gives a real Inf): always run it.
FILTER_CASE = Case(
    "conv", "full", [np.ones((1, 6), bool), np.array([[complex(np.inf, 0)]])], nonfinite=True
)


@SETTINGS
@given(case=cases(ops=("conv", "conv2", "convn"), allow_empty=False, nonfinite_zeros=False))
@example(case=FILTER_CASE)
def test_wrappers_agree_with_octave(matlab, case):
    check(case, *round_trip(matlab, case))


@SETTINGS
@given(case=cases(ops=("conv2sep",), allow_empty=False, allow_nonfinite=False))
def test_separable_wrapper_agrees_with_octave(matlab, case):
    check(case, *round_trip(matlab, case))


def _case(op, shape, *arrays):
    return Case(op, shape, [np.asarray(a) for a in arrays], nonfinite=False)


RNG = np.random.default_rng(2024)
CLASS_CASES = {
    "conv-single-row-col": _case(
        "conv", "same", RNG.standard_normal((1, 7)).astype(np.float32), RNG.standard_normal((3, 1))
    ),
    "conv-complex": _case(
        "conv",
        "full",
        RNG.standard_normal((1, 5)) + 1j * RNG.standard_normal((1, 5)),
        np.array([[1.0, -2.0, 0.5]]),
    ),
    "conv2-logical": _case(
        "conv2", "valid", RNG.integers(0, 2, (5, 6)).astype(bool), np.ones((2, 3), bool)
    ),
    "conv2-int16-single": _case(
        "conv2",
        "full",
        RNG.integers(-50, 50, (4, 4)).astype(np.int16),
        RNG.standard_normal((2, 2)).astype(np.float32),
    ),
    "conv2-separable-single": _case(
        "conv2sep",
        "same",
        np.array([[1.0, 2.0, 1.0]], np.float32),
        np.array([[1.0], [-1.0]]),
        RNG.standard_normal((6, 5)).astype(np.float32),
    ),
    "conv2-separable-complex": _case(
        "conv2sep",
        "full",
        np.array([[1.0, 1j]]),
        np.array([[2.0, -1.0]]),
        RNG.standard_normal((3, 4)),
    ),
    "convn-complex-single-3d": _case(
        "convn",
        "same",
        (RNG.standard_normal((3, 4, 2)) + 1j * RNG.standard_normal((3, 4, 2))).astype(np.complex64),
        RNG.standard_normal((2, 2, 2)).astype(np.float32),
    ),
    "convn-4d-uint8": _case(
        "convn", "valid", RNG.integers(0, 9, (3, 3, 3, 2)).astype(np.uint8), np.ones((2, 1, 2))
    ),
}


@pytest.mark.parametrize("name", list(CLASS_CASES), ids=list(CLASS_CASES))
def test_classes_survive_the_round_trip(matlab, clean_tmp, name):
    case = CLASS_CASES[name]
    wrapped, own = round_trip(matlab, case)
    assert wrapped.dtype == expected_class(*case.arrays)  # single stays single, complex complex
    check(case, wrapped, own)


# --- errors ------------------------------------------------------------------------------


def raised(matlab, code: str, **inputs) -> OctaveError:
    with pytest.raises(OctaveError) as info:
        matlab.call(code, inputs, ["W"])
    return info.value


@pytest.mark.parametrize(
    "code, inputs, identifier",
    [
        (
            "W = bridge_conv2(x, x, 'middle');",
            {"x": np.ones((2, 2))},
            "MATLAB:conv2:unknownShapeParameter",
        ),
        (
            "W = bridge_conv(x, [1 2], 'Same ');",
            {"x": np.ones((1, 2))},
            "MATLAB:conv2:unknownShapeParameter",
        ),
        (
            "W = bridge_convn(x, x, 'middle');",
            {"x": np.ones((2, 2, 2))},
            "MATLAB:conv2:unknownShapeParameter",
        ),
        ("W = bridge_conv(x, [1 2]);", {"x": np.ones((3, 3))}, "MATLAB:conv:AorBNotVector"),
        (
            "W = bridge_conv(x, [1 2], 3);",
            {"x": np.ones((1, 3))},
            "MATLAB:conv:unknownShapeParameter",
        ),
        (
            "W = bridge_conv2(x, x, x);",
            {"x": np.ones((2, 2))},
            "MATLAB:conv2:firstTwoInputsNotVectors",
        ),
        ("W = bridge_conv2(x, [1 2]);", {"x": np.ones((2, 2, 2))}, "bridge:conv2:notMatrix"),
        ("W = bridge_conv2({1, 2}, [1 2]);", {}, "MATLAB:conv2:inputType"),
        ("W = bridge_convn('abc', [1 2]);", {}, "MATLAB:conv2:inputType"),
        ("W = bridge_conv2(containers.Map(), [1 2]);", {}, "MATLAB:conv2:inputType"),
        ("W = bridge_conv2(1, containers.Map(), 1);", {}, "MATLAB:conv2:inputTypeSeparable"),
        ("W = bridge_conv([1 2]);", {}, "MATLAB:minrhs"),
        ("W = bridge_conv(1, 2, 'full', 4);", {}, "MATLAB:maxrhs"),
        ("W = bridge_conv(1, 2, 'Python', 3);", {}, "bridge:badOption"),
    ],
    ids=[
        "bad-shape",
        "shape-with-space",
        "convn-bad-shape",
        "conv-of-matrix",
        "shape-not-text",
        "separable-not-vectors",
        "conv2-of-3d",
        "cell",
        "char",
        "object",
        "object-separable",
        "too-few",
        "too-many",
        "python-not-text",
    ],
)
def test_errors_carry_matlab_identifiers(matlab, clean_tmp, code, inputs, identifier):
    assert raised(matlab, code, **inputs).identifier == identifier


def test_an_error_matlab_raises_reads_as_matlabs(matlab, clean_tmp):
    """MATLAB's own errors name no job-file variable and no interpreter (issue 21: they read
    'variable 'u'' and ended with the Python path and exit status)."""
    err = raised(matlab, "W = bridge_conv(ones(3), [1 2]);")
    assert err.identifier == "MATLAB:conv:AorBNotVector"
    assert err.message == "bridge_conv: A and B must be vectors. Got a 3x3 array."
    err = raised(matlab, "W = bridge_conv2(magic(5), @sin);")
    assert err.identifier == "MATLAB:conv2:inputType" and "save" not in err.message
    err = raised(matlab, "W = bridge_conv2([1 2], {1}, magic(3));")
    assert err.identifier == "MATLAB:conv2:inputTypeSeparable"


def test_conv2_of_an_nd_array_fails_before_anything_runs(matlab, clean_tmp):
    """Checked in the wrapper: with an interpreter that does not exist, the error is still
    conv2's own (the array was saved and Python started before)."""
    err = raised(matlab, "W = bridge_conv2(ones(2, 2, 2), 1, 'Python', '/nonexistent/python3');")
    assert err.identifier == "bridge:conv2:notMatrix" and "2x2x2" in err.message


def test_worker_error_message_names_python_and_status(matlab, clean_tmp):
    """bridge's own errors say which interpreter failed, and how."""
    err = raised(matlab, "W = bridge_conv([1 2], [1 2], 'Python', '/bin/false');")
    assert "Python /bin/false" in err.message and "exit status 1" in err.message
    assert str(matlab.tmpdir) not in err.message  # the request file is ours, not the user's


def test_missing_python_path(matlab, clean_tmp):
    err = raised(matlab, "W = bridge_conv(1, 2, 'Python', '/nonexistent/bin/python3');")
    assert err.identifier == "bridge:pythonNotFound"
    assert "/nonexistent/bin/python3" in err.message and "does not exist" in err.message
    assert "BRIDGE_PYTHON" in err.message  # says how to choose another


def test_python_not_on_path(tmp_path):
    # In a fresh Octave: the shell's "not found" goes to stderr, which the shared session's
    # reader must not see mixed with its own output.
    done = octave_eval(
        "try, bridge_conv(1, 2, 'Python', 'bridge-no-such-python'); catch e,"
        " printf('%s\\n%s\\n', e.identifier, e.message); end",
        tmp_path,
    )
    identifier, message = done.stdout.splitlines()[:2]
    assert identifier == "bridge:pythonNotFound"
    assert "bridge-no-such-python" in message and "exit status 127" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["environment", "preference", "no-client", "installed"])
def test_a_missing_python_is_one_error_and_no_shell_noise(tmp_path, how):
    """Issue 21: with a Python that is not there, the shell's "not found" line reached the
    terminal once per system() call (the question for sys.executable, the job itself through
    python or bridge_client, bridge_package's question where the wrappers are installed)
    before the wrapper's own error, which says the same. Now only that error is seen (and
    bridge_diagnose's report, on stdout)."""
    temp, home = tmp_path / "temp", tmp_path / "home"
    temp.mkdir()
    home.mkdir()
    name = "bridge-no-such-python"
    env = {"BRIDGE_PYTHON": name, "HOME": str(home), "TMPDIR": str(temp), "BRIDGE_TEMP": str(temp)}
    code = ""
    if how == "preference":
        env["BRIDGE_PYTHON"] = ""
        code = f"setpref('bridge', 'python', '{name}');"
    elif how == "no-client":
        env["BRIDGE_NO_CLIENT"] = "1"  # the job starts Python itself
    elif how == "installed":  # not in a checkout: bridge_package asks Python for its bridge
        import shutil

        shutil.copytree(MATLAB, tmp_path / "wrappers")
        code = f"addpath({m_string(tmp_path / 'wrappers')});"
    code += (
        "try, bridge_conv2(magic(5), ones(3)); catch e, printf('%s\\n%s\\n', e.identifier,"
        " e.message); end;"
        "try, bridge_serve('status'); catch e, printf('%s\\n', e.identifier); end;"
        "try, bridge_batch('jobs', 'out'); catch e, printf('%s\\n', e.identifier); end;"
        "d = bridge_diagnose(); printf('%d %d\\n', d.status, d.ok);"
    )
    done = octave_eval(code, tmp_path, **env)
    assert name not in done.stderr, done.stderr  # sh's and bridge_client's lines name it
    identifier, message, serve, batch, diagnosis = done.stdout.splitlines()[:5]
    assert identifier == serve == batch == "bridge:pythonNotFound"
    assert diagnosis == "127 0"
    assert message.startswith(f"bridge_conv2: cannot run Python {name} (from ")
    assert "exit status 127, not found" in message and "bridge_diagnose" in message
    assert list(temp.iterdir()) == []


@pytest.fixture(scope="module")
def python_without_numpy(tmp_path_factory) -> Path:
    """An interpreter whose numpy cannot be imported: the real one, with a broken numpy first."""
    folder = tmp_path_factory.mktemp("no-numpy")
    (folder / "numpy").mkdir()
    (folder / "numpy" / "__init__.py").write_text("raise ImportError('numpy is broken here')\n")
    script = folder / "python"
    script.write_text(f"#!/bin/sh\nPYTHONPATH='{folder}' exec '{sys.executable}' \"$@\"\n")
    script.chmod(0o755)
    return script


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory) -> Path:
    """A virtual environment without pip, numpy, scipy, h5py or typer."""
    import venv

    folder = tmp_path_factory.mktemp("bare-venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(folder)
    return folder / "bin" / "python"


@pytest.mark.parametrize("which", ["python_without_numpy", "bare_venv"])
def test_python_without_numpy_is_a_python_environment_error(matlab, clean_tmp, request, which):
    python = request.getfixturevalue(which)
    err = raised(matlab, f"W = bridge_conv(1, 2, 'Python', {m_string(python)});")
    assert err.identifier == "bridge:pythonEnv"
    assert "cannot import" in err.message and "exit status 5" in err.message
    diagnosis = call(
        matlab,
        f"d = bridge_diagnose('Python', {m_string(python)}); W = d.status; O = d.output;",
        {},
        ["W", "O"],
    )
    assert int(diagnosis["W"][0, 0]) == 5
    assert "cannot import" in "".join(np.ravel(diagnosis["O"]))


DIAGNOSE_AFTER_A_CALL = (
    "w = bridge_conv2(magic(3), ones(2)); printf('call:%g\\n', sum(w(:)));"
    "d = bridge_diagnose(); printf('status:%d\\nok:%d\\n', d.status, d.ok);"
    "printf('executable:%s\\n', d.executable); bridge_diagnose();"
)


def diagnosis_lines(done: subprocess.CompletedProcess) -> dict[str, str]:
    """The four lines DIAGNOSE_AFTER_A_CALL prints before bridge_diagnose's report."""
    return dict(line.split(":", 1) for line in done.stdout.splitlines()[:4] if ":" in line)


def test_diagnose_is_ok_for_a_python_whose_teardown_fails(tmp_path):
    """Issue 21: bridge_diagnose reported PROBLEM for a Python the calls ran well. Here a
    sitecustomize on PYTHONPATH warns on stderr at start-up and crashes the interpreter at exit:
    a job never reaches the teardown (it leaves at once, bridge._fastpath.leave_now), the check
    did and came back with status 139 ('cannot be started'), every package listed as there."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os, signal, sys\n"
        "sys.stderr.write('sitecustomize: a harmless start-up warning\\n')\n"
        "atexit.register(os.kill, os.getpid(), signal.SIGSEGV)\n"
    )
    temp = tmp_path / "temp"
    temp.mkdir()
    done = octave_eval(
        DIAGNOSE_AFTER_A_CALL,
        tmp_path,
        PYTHONPATH=str(site),
        TMPDIR=str(temp),
        BRIDGE_TEMP=str(temp),
        BRIDGE_SOCKET=str(tmp_path / "s.sock"),
    )
    got = diagnosis_lines(done)
    assert got["call"] == "180", done.stderr  # the call works with this Python
    assert (got["status"], got["ok"]) == ("0", "1"), done.stdout
    assert "OK: the wrappers can run this Python." in done.stdout


def test_diagnose_checks_the_interpreter_the_calls_run(tmp_path, bare_venv):
    """Issue 21: the check ran the launcher as given while the calls run the interpreter behind
    it (bridge_resolve_python). This launcher starts a virtual environment's Python with -I,
    which ignores PYTHONPATH, where numpy and the others are here: the calls (that Python,
    started as the wrappers start it) work, the check reported 'lacks a package'."""
    import sysconfig

    launcher = tmp_path / "launcher"
    launcher.write_text(f"#!/bin/sh\nexec '{bare_venv}' -I \"$@\"\n")
    launcher.chmod(0o755)
    temp = tmp_path / "temp"
    temp.mkdir()
    done = octave_eval(
        DIAGNOSE_AFTER_A_CALL,
        tmp_path,
        BRIDGE_PYTHON=str(launcher),
        PYTHONPATH=sysconfig.get_paths()["purelib"],
        TMPDIR=str(temp),
        BRIDGE_TEMP=str(temp),
        BRIDGE_SOCKET=str(tmp_path / "s.sock"),
    )
    got = diagnosis_lines(done)
    assert got["call"] == "180", done.stderr
    assert (got["status"], got["ok"]) == ("0", "1"), done.stdout
    assert got["executable"] == str(bare_venv)
    assert f"runs:    {bare_venv} (what {launcher} starts" in done.stdout
    assert "OK: the wrappers can run this Python." in done.stdout


# --- the call's machinery ----------------------------------------------------------------


def test_python_option_beats_the_environment(matlab, clean_tmp):
    got = matlab.call(
        "setenv('BRIDGE_PYTHON', '/nonexistent/python'); "
        f"W = bridge_conv([1 2], [1 1], 'Python', {m_string(sys.executable)}); "
        f"setenv('BRIDGE_PYTHON', {m_string(sys.executable)});",
        {},
        ["W"],
    )
    np.testing.assert_array_equal(got["W"], [[1.0, 3.0, 2.0]])


@pytest.mark.parametrize("sets_pythonpath", [False, True], ids=["shim", "sets-PYTHONPATH"])
def test_a_launcher_is_asked_for_its_interpreter_once_per_session(
    matlab, tmp_path, sets_pythonpath
):
    """A launcher such as pyenv's shim costs 70 ms per call: the wrappers ask it once for
    sys.executable and call that afterwards, unless it runs Python with other PYTHON*
    variables (then every call goes through it, as written)."""
    log = tmp_path / "calls.log"
    extra = f"PYTHONPATH='{tmp_path}' " if sets_pythonpath else ""
    launcher = tmp_path / "launcher"
    launcher.write_text(f"#!/bin/sh\necho x >> '{log}'\n{extra}exec '{sys.executable}' \"$@\"\n")
    launcher.chmod(0o755)
    got = matlab.call(
        f"for k = 1:3, W = bridge_conv([1 2], [1 1], 'Python', {m_string(launcher)}); end",
        {},
        ["W"],
    )
    np.testing.assert_array_equal(got["W"], [[1.0, 3.0, 2.0]])
    assert log.read_text().count("x") == (4 if sets_pythonpath else 1)


def test_paths_with_quotes_and_spaces(matlab, tmp_path):
    odd = tmp_path / "it's a dir"
    odd.mkdir()
    (odd / "py thon").write_text(f"#!/bin/sh\nexec '{sys.executable}' \"$@\"\n")
    (odd / "py thon").chmod(0o755)
    got = matlab.call(
        f"old = getenv('BRIDGE_TEMP'); setenv('BRIDGE_TEMP', {m_string(odd)});"
        f"W = bridge_conv2([1 2; 3 4], 1, 'Python', {m_string(odd / 'py thon')});"
        "setenv('BRIDGE_TEMP', old);",
        {},
        ["W"],
    )
    np.testing.assert_array_equal(got["W"], [[1.0, 2.0], [3.0, 4.0]])
    assert sorted(p.name for p in odd.iterdir()) == ["py thon"]


def octave_eval(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run code in a fresh octave-cli (for what must not touch the shared session: printing to
    stderr, preferences) with the wrappers on the path and TMPDIR in ``tmp_path``."""
    environ = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "BRIDGE_TEMP": str(tmp_path),
        "BRIDGE_PYTHON": sys.executable,
        **env,
    }
    return subprocess.run(
        wrapper_eval(code),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def test_keep_temp_keeps_the_request_and_the_result(tmp_path):
    done = octave_eval("w = bridge_conv(1, 2);", tmp_path, BRIDGE_KEEP_TEMP="1")
    assert done.returncode == 0, done.stderr
    (kept,) = list(tmp_path.iterdir())
    assert sorted(p.name for p in kept.iterdir()) == ["in.mat", "out.mat"]
    assert f"kept the temporary folder {kept}" in done.stderr


def test_interpreter_resolution_order(tmp_path):
    """The 'Python' option, then BRIDGE_PYTHON, then getpref('bridge', 'python'), then python3."""
    code = (
        "setpref('bridge', 'python', '/pref/python');"
        "a = bridge_diagnose('Python', '/option/python'); b = bridge_diagnose();"
        "setenv('BRIDGE_PYTHON', ''); c = bridge_diagnose(); rmpref('bridge');"
        "d = bridge_diagnose();"
        "printf('%s|%s\\n', a.python, a.source, b.python, b.source, c.python, c.source,"
        " d.python, d.source);"
    )
    # HOME: Octave keeps preferences under it; never touch the real ones.
    done = octave_eval(code, tmp_path, BRIDGE_PYTHON="/env/python", HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.splitlines() if "|" in line]
    assert rows == [
        ["/option/python", "the 'Python' option"],
        ["/env/python", "the environment variable BRIDGE_PYTHON"],
        ["/pref/python", "getpref('bridge', 'python')"],
        ["python3", "the default"],
    ]


def test_command_for_matlab_clears_the_library_path(matlab):
    """Under MATLAB on Linux the child runs under env -u LD_LIBRARY_PATH; the command must work."""
    code = (
        f"old = pwd; cd({m_string(MATLAB / 'private')});"
        "linux = struct('matlab', true, 'windows', false, 'mac', false);"
        "mac = struct('matlab', true, 'windows', false, 'mac', true);"
        "octave = struct('matlab', false, 'windows', false, 'mac', false);"
        f"L = bridge_command({m_string(sys.executable)}, {{'--diagnose'}}, linux);"
        f"M = bridge_command('python3', {{}}, mac);"
        f"O = bridge_command('python3', {{'a''b'}}, octave);"
        "cd(old); [S, out] = system(L);"
    )
    got = call(matlab, code, {}, ["L", "M", "O", "S"])
    text = {k: "".join(np.ravel(got[k])) for k in "LMO"}
    assert text["L"].startswith(f"env -u LD_LIBRARY_PATH '{sys.executable}' ")
    assert text["M"].startswith("env -u DYLD_LIBRARY_PATH 'python3' ")
    assert text["O"].startswith("'python3' ") and text["O"].endswith(" 'a'\\''b'")
    assert int(got["S"][0, 0]) == 0


def test_diagnose_reports_interpreter_and_packages(matlab):
    printed = "".join(np.ravel(call(matlab, "T = evalc('bridge_diagnose');", {}, ["T"])["T"]))
    assert sys.executable in printed and "BRIDGE_PYTHON" in printed
    for package in ("numpy", "scipy", "h5py", "typer", "bridge"):
        assert f"\n{package}: " in printed
    assert "OK" in printed


# --- where the files go, and how -----------------------------------------------------------


def test_operands_go_uncompressed_to_ram(tmp_path):
    """Without BRIDGE_TEMP the per-call folder is in /dev/shm (when there is one); the request is
    MAT v6: no compressed element (miCOMPRESSED, type 15) in it."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        pytest.skip("no writable /dev/shm here")
    done = octave_eval(
        "bridge_conv2(rand(20), single([1 2; 3 4]));",
        tmp_path,
        BRIDGE_TEMP="",
        BRIDGE_KEEP_TEMP="1",
    )
    assert done.returncode == 0, done.stderr
    kept = Path(done.stderr.split("kept the temporary folder ")[1].split(" (")[0])
    assert kept.parent == shm
    try:
        data = (kept / "in.mat").read_bytes()
        assert data[:6] == b"MATLAB" and data[126:128] == b"IM"
        k, types = 128, []
        while k < len(data):
            kind, size = (int.from_bytes(data[k + i : k + i + 4], "little") for i in (0, 4))
            types.append(kind)
            k += 8 + size + (-size % 8)
        assert types and 15 not in types and set(types) == {14}  # miMATRIX only
        assert list(tmp_path.iterdir()) == []
    finally:
        import shutil

        shutil.rmtree(kept)


def test_a_place_that_fails_gives_way_to_the_next(tmp_path):
    done = octave_eval(
        "w = bridge_conv([1 2], [1 1]); printf('%g ', w);",
        tmp_path,
        BRIDGE_TEMP=os.pathsep.join(["/nonexistent-bridge-temp", str(tmp_path)]),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 3 2"
    assert list(tmp_path.iterdir()) == []


# --- the warm server from MATLAB -------------------------------------------------------------


def server_status(sock: Path) -> dict:
    from bridge import _client as client

    return client.request("status", str(sock), timeout=30)


def stop_server(sock: Path) -> None:
    from bridge import _client as client

    with contextlib.suppress(OSError):
        client.request("stop", str(sock), timeout=30)


def test_bridge_serve_start_status_stop(tmp_path):
    sock = tmp_path / "s.sock"
    code = (
        "[r0, l0] = bridge_serve('status');"
        "[r1, l1] = bridge_serve('start', 'IdleTimeout', 120);"
        "w = bridge_conv([1 2], [1 1]);"
        "[r2, l2] = bridge_serve('status'); d = bridge_diagnose();"
        "[r3, l3] = bridge_serve('stop'); pause(0.5); [r4, l4] = bridge_serve('status');"
        "printf('%d|%s\\n', r0, l0, r1, l1, r2, l2, d.server, d.server_status, r3, l3, r4, l4);"
        "try, bridge_serve('restart'); catch e, printf('%s\\n', e.identifier); end"
    )
    try:
        done = octave_eval(code, tmp_path, BRIDGE_SOCKET=str(sock))
    finally:
        stop_server(sock)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|", 1) for line in done.stdout.splitlines() if "|" in line]
    assert [r[0] for r in rows] == ["0", "1", "1", "1", "0", "0"], rows
    assert rows[0][1].startswith("no server on") and rows[1][1].startswith("started on")
    assert "jobs=1" in rows[2][1] and "jobs=1" in rows[3][1]  # the call went to the server
    assert rows[4][1].startswith("stopping on") and rows[5][1].startswith("no server on")
    assert done.stdout.splitlines()[-1] == "bridge:badOption"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sock.lock", "s.sock.log"]


@pytest.mark.parametrize("how", ["preference", "environment"])
def test_autostart_starts_a_server_on_the_first_call(tmp_path, how):
    sock = tmp_path / "s.sock"
    env = {"BRIDGE_SOCKET": str(sock), "HOME": str(tmp_path)}
    code = "w = bridge_conv([1 2], [1 1]); printf('%g ', w);"
    if how == "preference":
        code = "setpref('bridge', 'autostart', true); setpref('bridge', 'idletimeout', 60);" + code
    else:
        env["BRIDGE_AUTOSTART"] = "1"
    try:
        done = octave_eval(code, tmp_path, **env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith("1 3 2")
        deadline = time.monotonic() + 60
        while not sock.exists():  # started in the background, while the call ran cold
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = server_status(sock)
        assert status["ok"] and status["jobs"] == 0
        again = octave_eval(code, tmp_path, **env)
        assert again.stdout == done.stdout
        assert server_status(sock)["jobs"] == 1  # the next call went to it
    finally:
        stop_server(sock)


@pytest.mark.slow
def test_a_long_cold_call_shows_its_progress_on_octaves_stderr(tmp_path):
    """The cold worker's progress lines go to its stderr, which Octave's system() does not
    capture (only stdout): they reach the user while the call runs. The long job waits at a gate
    (tests/progress_hooks.py) opened only once a line was seen; a short call prints nothing."""
    gate = tmp_path / "gate"
    site = progress_hooks.site_folder(tmp_path / "site")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temp),
        "BRIDGE_TEMP": str(temp),
        "BRIDGE_PYTHON": sys.executable,
        "BRIDGE_NO_SERVER": "1",
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        progress_hooks.GATE_ENV: str(gate),
    }
    code = (
        "A = magic(100) / 7; B = magic(90) / 11;"  # above the heartbeat's work: gated
        "printf('short-begin\\n'); fflush(stdout); S = bridge_conv2(magic(6), [1 2; 3 4]);"
        "printf('short-end\\n'); fflush(stdout);"
        f"W = bridge_conv2(A, B); save('-v7', {m_string(tmp_path / 'w.mat')}, 'A', 'B', 'W');"
        "printf('long-end\\n');"
    )
    proc = subprocess.Popen(
        wrapper_eval(code),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        seen = progress_hooks.read_until(proc.stderr, progress_hooks.LINE_END)
        assert proc.poll() is None and not (tmp_path / "w.mat").exists()  # the call still runs
    finally:
        gate.touch()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + seen + err
    assert out.splitlines()[:3] == ["short-begin", "short-end", "long-end"]  # stdout: clean
    progress = [line for line in (seen + err).splitlines() if progress_hooks.is_progress(line)]
    assert progress and progress[0] in seen.splitlines()
    import scipy.io

    import bridge

    got = scipy.io.loadmat(tmp_path / "w.mat")
    expected = bridge.conv2(got["A"], got["B"])
    assert got["W"].dtype == expected.dtype and got["W"].tobytes() == expected.tobytes()
