"""``python -m bridge`` as MATLAB's system() runs it: a fresh process, real exit statuses.

The in-process tests (test_cli.py) cover the cases; these check what only a process shows:
the statuses reach the shell, start-up does not import numpy for --help, a missing or broken numpy
in the interpreter gives exit 5, and stdin (MATLAB's own) is never read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

import bridge
from bridge.errors import (
    EXIT_DATA,
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
)
from tests.processes import checkout_environment

pytestmark = pytest.mark.slow  # every test starts python -m bridge
ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "scipy", "h5py")


def bridge_process(*args, env=None, python_flags=(), cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *python_flags, "-m", "bridge", *map(str, args)],
        stdin=subprocess.PIPE,  # left open: a read would hang until the timeout
        capture_output=True,
        text=True,
        env=env or checkout_environment(),
        cwd=cwd,
        timeout=60,
    )


@pytest.fixture
def job(tmp_path) -> Path:
    path = tmp_path / "in.mat"
    scipy.io.savemat(path, {"u": np.array([[1.0, 2, 3]]), "v": np.array([[1.0, 1]])})
    return path


def test_a_job_succeeds_with_stdin_open(job, tmp_path):
    done = bridge_process(job, tmp_path / "out.mat")
    assert (done.returncode, done.stdout, done.stderr) == (EXIT_OK, "", "")
    np.testing.assert_array_equal(scipy.io.loadmat(tmp_path / "out.mat")["C"], [[1.0, 3, 5, 3]])


@pytest.mark.parametrize(
    "args, status, identifier",
    [
        (["{job}", "{tmp}/out.mat", "--shape", "middle"], EXIT_USAGE, "bridge:usage"),
        (["{tmp}/none.mat", "{tmp}/out.mat"], EXIT_DATA, "bridge:"),
        (
            ["{job}", "{tmp}/out.mat", "--op", "convn", "--a", "u", "--b", "v", "--shape", "same"],
            EXIT_OK,
            None,
        ),
        (["{job}", "{tmp}/missing/out.mat"], EXIT_OUTPUT, "bridge:"),
    ],
    ids=["usage", "data", "ok-with-options", "output"],
)
def test_exit_status_reaches_the_shell(job, tmp_path, args, status, identifier):
    done = bridge_process(*(a.format(job=job, tmp=tmp_path) for a in args))
    assert done.returncode == status, done.stderr
    if identifier:
        assert done.stderr.startswith("bridge: error: ") and done.stderr.count("\n") == 1
        assert identifier in done.stderr


def test_matlab_identifier_ends_the_line(tmp_path):
    path = tmp_path / "in.mat"
    scipy.io.savemat(path, {"u": np.ones((2, 2)), "v": np.ones((1, 2)), "op": "conv"})
    done = bridge_process(path, tmp_path / "out.mat")
    assert done.returncode == EXIT_DATA
    assert done.stderr.rstrip().endswith("(MATLAB:conv:AorBNotVector)")
    assert str(path) in done.stderr


def test_internal_error_exits_70(job, tmp_path):
    code = (
        "import sys; from bridge import _cli as cli\n"
        "from bridge._job import compute\n"
        "def boom(job): raise KeyError('unexpected')\n"
        "compute.compute = boom\n"
        "raise SystemExit(cli.main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(job), str(tmp_path / "out.mat")],
        capture_output=True,
        text=True,
        env=checkout_environment(),
        timeout=60,
    )
    assert done.returncode == EXIT_INTERNAL
    assert "KeyError" in done.stderr and "--debug" in done.stderr
    assert "Traceback" not in done.stderr


def test_broken_numpy_in_the_interpreter_exits_5(job, tmp_path):
    # A numpy that fails to import, ahead of the real one on sys.path: what a broken install
    # (or MATLAB's LD_LIBRARY_PATH) looks like from inside.
    shadow = tmp_path / "shadow" / "numpy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('numpy is broken here on purpose')\n")
    done = bridge_process(job, tmp_path / "out.mat", env=checkout_environment(shadow.parent))
    assert done.returncode == EXIT_ENVIRONMENT, done.stderr
    assert "cannot import numpy" in done.stderr and sys.executable in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "out.mat").exists()


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["vars", "--help"], ["--shape"]])
def test_help_version_and_usage_errors_do_not_import_numpy(argv):
    done = bridge_process(*argv, python_flags=["-X", "importtime"])
    assert done.returncode in (EXIT_OK, EXIT_USAGE)
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "typer" in imported  # the measurement works
    assert not {m.split(".")[0] for m in imported} & set(HEAVY)


def test_version_in_a_process():
    done = bridge_process("--version")
    assert done.stdout == f"bridge {bridge.__version__}\n"


SLOW_COMPUTE = """
import sys, time
from bridge._job import compute, progress, runner
progress.PROGRESS_EVERY = 0.2
runner.HEARTBEAT_WORK = 0  # this tiny job is made long by the sleep below
real = compute.compute
def slow(job):
    time.sleep(1.5)
    return real(job)
compute.compute = slow
from bridge._fastpath import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_a_long_in_memory_job_says_so_on_stderr_and_keeps_stdout_clean(job, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SLOW_COMPUTE, str(job), str(tmp_path / "out.mat")],
        capture_output=True,
        text=True,
        env=checkout_environment(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) >= 3
    assert all(
        line.startswith("bridge: computing conv") and line.endswith("s so far") for line in lines
    )


def test_a_checkout_named_bridge_in_the_current_folder_does_not_hide_the_package(tmp_path):
    """``git clone`` makes a folder named bridge; from its parent, Python took that folder for
    a namespace package 'bridge' (before the editable install's finder) and ``python -m bridge
    --version`` exited 70. The installed package answers, as from anywhere else."""
    (tmp_path / "bridge" / "bridge").mkdir(parents=True)  # the clone's layout, without files
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    installed = subprocess.run(
        [sys.executable, "-c", "import bridge; print(bridge.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT.parent,
    )
    assert installed.returncode == 0, "install the checkout first: python3 -m pip install -e ."
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, f"bridge {bridge.__version__}\n"), done.stderr
