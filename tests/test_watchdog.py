"""A read that never ends (issue 21, item 2): a mutated HDF5 file made the HDF5 library loop
forever, holding the GIL, and SIGTERM, SIGINT and SIGHUP did not stop the job, only SIGKILL did.

Every read of a job's files (and of ``bridge vars``, batch workers, the warm worker's job
processes) has a deadline that ends the job with exit 3 and a line naming the file, and the stop
signals end it with 143, 130, 129 within a short grace, however stuck the read is
(bridge/_job/process.py, read_guard; bridge/_job/_watchdog.c). A read stuck in C code holding the
GIL is simulated by a second lock of a locked mutex called through ``ctypes.PyDLL`` (which keeps
the GIL): no signal ends that wait, no Python code runs in any thread meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bridge._job import process

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux processes"),
]

ROOT = Path(__file__).resolve().parents[1]


def environment() -> dict[str, str]:
    """This process's environment with the checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# bridge's command line (python -m bridge ...) with the readers stuck in C code: WD_GIL=held
# (PyDLL) or released (CDLL); WD_ONLY: only files whose name holds it; WD_STREAM: the job streams
# and sticks with its temporary output written. WD_NO_EXT hides the C watchdog.
STUCK = r"""
import ctypes, os, runpy, sys
if os.environ.get("WD_NO_EXT"):
    sys.modules["bridge._job._watchdog"] = None

def stick(name):
    if os.environ.get("WD_ONLY", "") not in os.path.basename(str(name)):
        return False
    open(os.environ["WD_MARK"], "w").close()
    lib = (ctypes.PyDLL if os.environ.get("WD_GIL", "held") == "held" else ctypes.CDLL)(None)
    mutex = ctypes.create_string_buffer(64)
    lib.pthread_mutex_lock(mutex)
    lib.pthread_mutex_lock(mutex)  # never returns, whatever signal comes
    return True

import bridge._formats
from bridge._job import files, stream
from bridge._atomic import atomic_path
load_job, read = files.load_job, bridge._formats.read
def stuck_load_job(path, **kwargs):
    stick(path)
    return load_job(path, **kwargs)
def stuck_read(path, **kwargs):
    stick(path)
    return read(path, **kwargs)
files.load_job, bridge._formats.read = stuck_load_job, stuck_read
if os.environ.get("WD_STREAM"):
    def plan_job(job, outfile, *args, **kwargs):
        return outfile
    def run(plan, outfile, **kwargs):
        with atomic_path(outfile) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"partial")
            stick(outfile)
    stream.plan_job, stream.run = plan_job, run
    from bridge._job import memory
    memory.obviously_fits = lambda sizes, limit: False  # this tiny job is to stream
    os.environ["WD_ONLY"] = ""
    files.load_job, bridge._formats.read = load_job, read
sys.argv = ["bridge", *sys.argv[1:]]
runpy.run_module("bridge", run_name="__main__")
"""


@pytest.fixture
def job(tmp_path):
    scipy.io.savemat(tmp_path / "in.mat", {"A": np.eye(3), "B": np.ones((2, 2))})
    (tmp_path / "out.mat").write_bytes(b"an earlier result")
    (tmp_path / "stuck.py").write_text(STUCK)
    return tmp_path


def env_for(folder: Path, **extra: str) -> dict[str, str]:
    env = environment()
    env.pop(process.READ_TIMEOUT_ENV, None)
    env.update(BRIDGE_NO_SERVER="1", WD_MARK=str(folder / "stuck.mark"), **extra)
    return env


def start(
    folder: Path, *args: str, program: list[str] | None = None, **env: str
) -> subprocess.Popen:
    """``program`` (by default the stuck command line, ``stuck.py``) with ``args`` in ``folder``."""
    (folder / "stuck.mark").unlink(missing_ok=True)
    return subprocess.Popen(
        [*(program or [sys.executable, str(folder / "stuck.py")]), *args],
        cwd=folder,
        env=env_for(folder, **env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a failed test kills its stuck processes, workers too
    )


def wait_stuck(proc: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 60
    while not (folder / "stuck.mark").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"never got stuck: {proc.communicate()}")
        time.sleep(0.02)
    time.sleep(0.2)  # well inside the stuck call


def finish(proc: subprocess.Popen, within: float) -> tuple[int, str, str, float]:
    start = time.monotonic()
    try:
        out, err = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"still running {within} s later (SIGKILLed): {err}")
    return proc.returncode, out, err, time.monotonic() - start


def assert_nothing_written(folder: Path) -> None:
    assert (folder / "out.mat").read_bytes() == b"an earlier result"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


STOPS = [
    ("SIGTERM", 143, "stopped by SIGTERM"),
    ("SIGINT", 130, "interrupted"),
    ("SIGHUP", 129, "stopped by SIGHUP"),
]


# --- a job: python -m bridge IN OUT ------------------------------------------------------------


def test_a_read_stuck_in_c_code_ends_at_its_deadline(job):
    proc = start(job, "in.mat", "out.mat", BRIDGE_READ_TIMEOUT="2")
    status, out, err, _ = finish(proc, 30)
    assert status == 3, err
    assert err == (
        "bridge: error: in.mat: reading took more than 2 s; the file may be malformed "
        "(bridge:readTimeout)\n"
    )
    assert out == ""
    assert_nothing_written(job)


@pytest.mark.parametrize(("name", "code", "words"), STOPS)
def test_stop_signals_end_a_read_stuck_in_c_code(job, name, code, words):
    proc = start(job, "in.mat", "out.mat")
    wait_stuck(proc, job)
    proc.send_signal(getattr(signal, name))
    status, _, err, _ = finish(proc, 30)
    assert status == code, err
    assert err.endswith(
        f"bridge: error: {words}"
        + (
            " (bridge:interrupted)\n"
            if name == "SIGINT"
            else "; no output was written (bridge:interrupted)\n"
        )
    )
    assert_nothing_written(job)


def test_the_line_goes_to_the_error_file(job):
    proc = start(job, "in.mat", "out.mat", "--error-file", "err.txt", BRIDGE_READ_TIMEOUT="1")
    status, _, err, _ = finish(proc, 30)
    assert (status, err) == (3, "")
    assert (job / "err.txt").read_text().endswith("(bridge:readTimeout)\n")
    proc = start(job, "in.mat", "out.mat", "--error-file", "err.txt")
    wait_stuck(proc, job)
    proc.terminate()
    status, _, err, _ = finish(proc, 30)
    assert (status, err) == (143, "")
    assert (job / "err.txt").read_text() == (
        "bridge: error: stopped by SIGTERM; no output was written (bridge:interrupted)\n"
    )
    # Never a file that is not an earlier error file: the line goes to stderr.
    (job / "notes.txt").write_text("mine")
    proc = start(job, "in.mat", "out.mat", "--error-file", "notes.txt", BRIDGE_READ_TIMEOUT="1")
    status, _, err, _ = finish(proc, 30)
    assert status == 3 and err.endswith("(bridge:readTimeout)\n")
    assert (job / "notes.txt").read_text() == "mine"


def test_a_stopped_stream_removes_its_temporary_output(job):
    proc = start(job, "in.mat", "out.mat", WD_STREAM="1")
    wait_stuck(proc, job)
    assert [p.name for p in job.iterdir() if p.name.endswith(".tmp")]  # it is being written
    proc.terminate()
    status, _, err, _ = finish(proc, 30)
    assert status == 143, err
    assert_nothing_written(job)


def test_without_the_extension_a_python_thread_guards_reads_that_release_the_gil(job):
    # A read stuck holding the GIL then ends only with SIGKILL (the documented limit).
    proc = start(
        job, "in.mat", "out.mat", WD_NO_EXT="1", WD_GIL="released", BRIDGE_READ_TIMEOUT="2"
    )
    status, _, err, _ = finish(proc, 30)
    assert status == 3 and err.endswith("(bridge:readTimeout)\n"), err
    proc = start(job, "in.mat", "out.mat", WD_NO_EXT="1", WD_GIL="released")
    wait_stuck(proc, job)
    proc.terminate()
    status, _, err, _ = finish(proc, 30)
    assert status == 143, err
    assert_nothing_written(job)


# --- bridge vars ---------------------------------------------------------------------------------


def test_bridge_vars_has_the_deadline_and_the_stop_signals(job):
    proc = start(job, "vars", "in.mat", BRIDGE_READ_TIMEOUT="2")
    status, _, err, _ = finish(proc, 30)
    assert status == 3, err
    assert err.endswith(
        "in.mat: reading took more than 2 s; the file may be malformed (bridge:readTimeout)\n"
    )
    for name, code, words in STOPS:
        proc = start(job, "vars", "in.mat")
        wait_stuck(proc, job)
        proc.send_signal(getattr(signal, name))
        status, _, err, _ = finish(proc, 30)
        assert status == code, (name, err)
        assert err.endswith(
            f"bridge: error: {words}"
            + (
                " (bridge:interrupted)\n"
                if name == "SIGINT"
                else "; no output was written (bridge:interrupted)\n"
            )
        )


# --- bridge batch: its workers -------------------------------------------------------------------


def test_a_batch_worker_stuck_in_a_read_fails_its_job_and_the_batch_goes_on(job):
    scipy.io.savemat(job / "bad.mat", {"A": np.eye(3), "B": np.ones((2, 2))})
    proc = start(
        job,
        "batch",
        "in.mat",
        "bad.mat",
        "--out-dir",
        "out",
        "--jobs",
        "2",
        "--report",
        "report.json",
        WD_ONLY="bad",
        BRIDGE_READ_TIMEOUT="2",
    )
    status, _, err, _ = finish(proc, 60)
    assert status == 3, err
    rows = {Path(r["input"]).name: r for r in json.loads((job / "report.json").read_text())}
    assert rows["in.mat"]["status"] == "ok"
    assert rows["bad.mat"]["status"] == "failed" and rows["bad.mat"]["exit"] == 3
    # the worker's own line (bridge._job.process.set_last_words), not a worker that died
    assert "reading took more than 2 s" in rows["bad.mat"]["message"]
    assert "(bridge:readTimeout)" in rows["bad.mat"]["message"]
    assert "bad.mat: reading took more than 2 s" in err
    assert not (job / "out" / "bad.mat").exists()
    assert not list((job / "out").glob(".*.tmp"))


def test_a_stopped_batch_ends_its_worker_stuck_in_a_read(job):
    proc = start(job, "batch", "in.mat", "--out-dir", "out", "--jobs", "1")
    wait_stuck(proc, job)
    proc.terminate()
    status, _, err, _ = finish(proc, 60)
    assert status == 130, err
    assert not (job / "out" / "in.mat").exists()
    assert not list((job / "out").glob(".*.tmp"))


# --- the warm worker: its job processes ----------------------------------------------------------


def test_a_warm_job_process_stuck_in_a_read_ends(job):
    import shutil
    import tempfile

    from tests.test_serve import Running

    short = Path(tempfile.mkdtemp(prefix="wd-", dir="/tmp"))
    env = env_for(
        job,
        BRIDGE_SOCKET=str(short / "s.sock"),
        BRIDGE_READ_TIMEOUT="8",  # the job processes' (the server's environment)
        BRIDGE_SERVE_PREFAULT_MB="0",
    )
    server = Running(
        short / "s.sock", env=env, command=[sys.executable, str(job / "stuck.py"), "serve"]
    )
    try:
        caller = dict(env)
        caller.pop("BRIDGE_NO_SERVER")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "in.mat", "out.mat"],
            cwd=job,
            env=caller,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The job process ends at the deadline (with its line, or for the caller to run the job
        # cold, where nothing is stuck here); it used to run forever, and the caller waited.
        status, _, err, _ = finish(proc, 60)
        assert server.status()["jobs"] == 1
        assert status == 3 and "bridge:readTimeout" in err, err  # the job process's own answer
        # A stop signal ends a job process stuck in a read too.
        (job / "stuck.mark").unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "in.mat", "out.mat"],
            cwd=job,
            env=caller,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_stuck(proc, job)
        (pid,) = server.status()["job_pids"]
        os.kill(pid, signal.SIGTERM)
        started = time.monotonic()
        while Path(f"/proc/{pid}").exists() and time.monotonic() - started < 30:
            time.sleep(0.05)
        status, _, err, _ = finish(proc, 60)
        # ended by the signal (the interrupted line), not at the read's deadline
        assert "bridge:interrupted" in err and "bridge:readTimeout" not in err, (status, err)
    finally:
        with contextlib.suppress(Exception):
            for pid in server.status()["job_pids"]:  # stuck (the old code): never left behind
                os.kill(pid, signal.SIGKILL)
        server.stop()
        shutil.rmtree(short, ignore_errors=True)


# --- library use, and the wake-up fd of others ---------------------------------------------------

LIBRARY = r"""
import signal, threading
import numpy as np, scipy.io
import bridge
from bridge._job import process, runner
scipy.io.savemat("in.mat", {"A": np.eye(3), "B": np.ones((2, 2))})
runner.run(runner.Request(files=["in.mat", "out.mat"]))
assert signal.set_wakeup_fd(-1) == -1
assert not process._WATCHDOG
print("ok")
"""

FORWARD = r"""
import os, signal
from bridge._job import process
process.tune_process()
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
signal.signal(signal.SIGUSR1, lambda *a: None)
with process.read_guard([]):
    assert signal.set_wakeup_fd(signal.set_wakeup_fd(-1)) != w  # the guard's own meanwhile
    os.kill(os.getpid(), signal.SIGUSR1)
    import time; time.sleep(0.3)
assert signal.set_wakeup_fd(w) == w  # given back
assert os.read(r, 10) == bytes([signal.SIGUSR1])  # and what came meanwhile was forwarded
print("ok")
"""


@pytest.mark.parametrize("code", [LIBRARY, FORWARD], ids=["library", "forward"])
def test_library_use_arms_nothing_and_another_wakeup_fd_is_kept(tmp_path, code):
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "ok\n", done.stderr


def test_the_deadline_grows_with_the_files_and_the_environment_sets_it(tmp_path, monkeypatch):
    monkeypatch.delenv(process.READ_TIMEOUT_ENV, raising=False)
    path = tmp_path / "big"
    with open(path, "wb") as f:
        f.truncate(100 * process.SLOW_DISK)
    assert process.read_deadline([str(path)]) == process.READ_SECONDS + 100
    assert process.read_deadline([str(tmp_path / "missing")]) == process.READ_SECONDS
    monkeypatch.setenv(process.READ_TIMEOUT_ENV, "2.5")
    assert process.read_deadline([str(path)]) == 2.5


# --- a real file that the HDF5 library reads forever --------------------------------------------

# A 7 KB mutation of a v7.3 file with a virtual dataset (tests/hostile.py's seed), found by
# `benchmarks/fuzz.py --seed 881207` on 2026-12-07: opening it makes the HDF5 library (plain h5py
# too) loop without end. The seeds hold HDF5 time stamps, so the same mutation of a fresh seed is
# not the same bytes: the file is kept as it was found.
ENDLESS = Path(__file__).resolve().parent / "data" / "endless_hdf5_read.mat"


@pytest.fixture
def endless(tmp_path):
    (tmp_path / "in.mat").write_bytes(ENDLESS.read_bytes())
    (tmp_path / "out.mat").write_bytes(b"an earlier result")
    return tmp_path


def run_endless(folder: Path, *args: str, **extra: str) -> subprocess.Popen:
    """bridge's real command line (no stuck reader) with ``args`` in ``folder``."""
    return start(folder, *args, program=[sys.executable, "-m", "bridge"], **extra)


@pytest.mark.parametrize("command", [("in.mat", "out.mat"), ("vars", "in.mat")])
def test_a_file_the_hdf5_library_reads_forever_ends_at_the_deadline(endless, command):
    proc = run_endless(endless, *command, BRIDGE_READ_TIMEOUT="2")
    status, out, err, _ = finish(proc, 60)
    assert status == 3, err
    assert err == (
        "bridge: error: in.mat: reading took more than 2 s; the file may be malformed "
        "(bridge:readTimeout)\n"
    )
    assert out == ""
    assert_nothing_written(endless)
    assert (endless / "in.mat").read_bytes() == ENDLESS.read_bytes()


def test_sigterm_ends_a_job_the_hdf5_library_reads_forever(endless):
    proc = run_endless(endless, "in.mat", "out.mat")  # the default deadline: a minute or more
    time.sleep(3)  # the job is in the endless read by now (a tiny job is done in 0.1 s)
    assert proc.poll() is None, proc.communicate()
    proc.terminate()
    status, _, err, _ = finish(proc, 30)
    assert status == 143, err
    assert err.endswith(
        "bridge: error: stopped by SIGTERM; no output was written (bridge:interrupted)\n"
    )
    assert_nothing_written(endless)
