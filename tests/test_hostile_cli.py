"""The CLI against hostile use (issue 11): the error file, signals, read-only and linked outputs,
failing disks, out of memory, and the exit statuses as documented literals.

Processes are real where only a process shows it (signals, file names that are not UTF-8);
the rest runs bridge._cli.main in-process.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bridge import _cli as cli
from bridge import _formats as formats
from bridge import errors
from bridge._job import outcome, process
from tests.processes import cold_environment

ROOT = Path(__file__).resolve().parents[1]


def write_job(path: Path) -> Path:
    scipy.io.savemat(path, {"u": np.array([[1.0, 2, 3]]), "v": np.array([[1.0, 1]])})
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bridge: error: "), err
    return lines[0]


def bridge_process(*args, cwd=None, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *args],
        cwd=cwd,
        env=cold_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **options,
    )


# --- exit statuses: the documented literals -----------------------------------------------------


def test_exit_statuses_are_the_documented_numbers():
    assert (errors.EXIT_OK, errors.EXIT_USAGE, errors.EXIT_DATA, errors.EXIT_OUTPUT) == (0, 2, 3, 4)
    assert (errors.EXIT_ENVIRONMENT, errors.EXIT_INTERNAL) == (5, 70)
    assert (errors.EXIT_SIGHUP, errors.EXIT_SIGINT, errors.EXIT_SIGTERM) == (129, 130, 143)


def test_the_readme_table_is_the_constants():
    readme = (ROOT / "README.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", readme, re.MULTILINE))
    assert set(table) >= {"0", "2", "3", "4", "5", "70", "129", "130", "143"}
    assert "success" in table[str(errors.EXIT_OK)]
    assert "command line" in table[str(errors.EXIT_USAGE)]
    assert "bad input" in table[str(errors.EXIT_DATA)] and "memory" in table[str(errors.EXIT_DATA)]
    assert "could not be written" in table[str(errors.EXIT_OUTPUT)]
    assert "numpy" in table[str(errors.EXIT_ENVIRONMENT)]
    assert "bug" in table[str(errors.EXIT_INTERNAL)]
    for status, name in ((129, "SIGHUP"), (130, "Ctrl-C"), (143, "SIGTERM")):
        assert name in table[str(status)]


def test_usage_data_and_output_errors_exit_with_the_literals(tmp_path, capsys):
    job = write_job(tmp_path / "in.mat")
    assert run(capsys, job, tmp_path / "out.mat", "--op", "nope")[0] == 2
    assert run(capsys, tmp_path / "missing.mat", tmp_path / "out.mat")[0] == 3
    assert run(capsys, job, tmp_path / "no" / "out.mat")[0] == 4
    assert run(capsys, job, tmp_path / "out.mat")[0] == 0


# --- OUT and IN -------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["symlink", "hardlink", "dotted"])
def test_out_that_is_in_through_a_link_exits_2_and_leaves_in_alone(tmp_path, capsys, link):
    job = write_job(tmp_path / "in.mat")
    before = job.read_bytes()
    out = tmp_path / "link.mat"
    if link == "symlink":
        out.symlink_to(job)
    elif link == "hardlink":
        os.link(job, out)
    else:
        out = tmp_path / "." / "sub" / ".." / "in.mat"
        (tmp_path / "sub").mkdir()
    status, _, err = run(capsys, job, out)
    assert status == 2 and "same file as IN" in one_line(err)
    assert job.read_bytes() == before


def test_a_read_only_out_is_refused_with_exit_4(tmp_path, capsys):
    job = write_job(tmp_path / "in.mat")
    out = tmp_path / "out.mat"
    out.write_bytes(b"previous")
    out.chmod(0o444)
    status, _, err = run(capsys, job, out)
    assert status == 4 and "read-only" in one_line(err)
    assert out.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == ["in.mat", "out.mat"]
    with pytest.raises(errors.OutputError, match="read-only"):
        formats.write(out, {"C": np.ones((1, 1))})


def test_a_failing_fsync_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    job = write_job(tmp_path / "in.mat")
    out = tmp_path / "out.mat"
    out.write_bytes(b"previous result")

    def eio(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", eio)
    status, _, err = run(capsys, job, out)
    assert status == 4 and "Input/output error" in one_line(err)
    assert out.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["in.mat", "out.mat"]


def test_the_rename_comes_after_the_fsync(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    formats.write(tmp_path / "out.mat", {"C": np.ones((2, 2))})
    assert events == ["fsync", "replace"]


def test_a_device_is_not_called_missing(tmp_path, capsys):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null on this system")
    fifo = tmp_path / "job.mat"
    os.mkfifo(fifo)
    status, _, err = run(capsys, fifo, tmp_path / "out.mat")
    assert status == 3 and "not a regular file" in one_line(err)


def test_memory_error_anywhere_is_exit_3_in_one_line(tmp_path, capsys, monkeypatch):
    from bridge._job import compute

    def exhausted(job):
        raise MemoryError

    monkeypatch.setattr(compute, "compute", exhausted)
    status, _, err = run(capsys, write_job(tmp_path / "in.mat"), tmp_path / "out.mat")
    assert status == 3 and "out of memory" in one_line(err) and "bridge:outOfMemory" in err


# --- the error file ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["IN", "OUT"])
def test_the_error_file_never_replaces_in_or_out(tmp_path, capsys, which):
    job = tmp_path / "in.mat"
    job.write_bytes(b"MATLAB 5.0 MAT-file, broken")
    out = tmp_path / "out.mat"
    out.write_bytes(b"previous result")
    target = job if which == "IN" else out
    before = target.read_bytes()
    status, _, err = run(capsys, job, out, "--error-file", target)
    assert status == 3 and one_line(err)  # the line went to stderr instead
    assert target.read_bytes() == before


def test_the_error_file_never_replaces_another_file(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    status, _, err = run(
        capsys, tmp_path / "missing.mat", tmp_path / "out.mat", "--error-file", notes
    )
    assert status == 3 and "does not exist" in one_line(err)
    assert notes.read_text() == "my notes\n"


@pytest.mark.parametrize("previous", ["", "bridge: error: an earlier job's line\n"])
def test_the_error_file_replaces_an_empty_or_earlier_error_file(tmp_path, capsys, previous):
    error_file = tmp_path / "error.txt"
    error_file.write_text(previous)
    status, _, err = run(
        capsys, tmp_path / "missing.mat", tmp_path / "o.mat", "--error-file", error_file
    )
    assert status == 3 and err == ""
    assert one_line(error_file.read_text()).endswith("(bridge:noInput)")


def test_the_error_file_is_not_followed_through_a_symlink(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "error.txt").symlink_to(victim)
    run(
        capsys, tmp_path / "missing.mat", tmp_path / "o.mat", "--error-file", tmp_path / "error.txt"
    )
    assert victim.read_text() == "keep me\n"


@pytest.mark.slow
def test_a_name_that_is_not_utf8_is_escaped_in_the_error_file(tmp_path):
    name = os.fsdecode(b"\xff\xfejob.mat")
    proc = bridge_process(name, "out.mat", "--error-file", "error.txt", cwd=tmp_path)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 3 and stdout == b"" and stderr == b""
    line = (tmp_path / "error.txt").read_text(encoding="utf-8")
    assert (
        line == "bridge: error: \\xff\\xfejob.mat: the input file does not exist (bridge:noInput)\n"
    )


def test_printable_escapes_lone_surrogates():
    assert outcome.printable("plain é") == "plain é"
    assert outcome.printable(os.fsdecode(b"a\xffb")) == "a\\xffb"
    assert outcome.printable("x\ud800y") == "x\\ud800y"


# --- signals ----------------------------------------------------------------------------------


def _slow_job(folder: Path) -> None:
    # Large enough to be still computing or writing when the signal comes.
    rng = np.random.default_rng(0)
    scipy.io.savemat(
        folder / "in.mat",
        {"A": rng.standard_normal((1500, 1500)), "B": rng.standard_normal((61, 61))},
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "status", "name"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"), (signal.SIGINT, 130, None)],
)
def test_signals_remove_the_temporary_file_and_exit_128_plus_the_signal(
    tmp_path, sig, status, name
):
    _slow_job(tmp_path)
    (tmp_path / "out.mat").write_bytes(b"previous result")
    # The job writes its result slowly: a write of one byte at a time is interrupted mid-write.
    slow = tmp_path / "sitecustomize.py"
    # Patched once bridge itself has imported the writer, so that bridge imports numpy (and
    # its BLAS starts its threads) as in a real job, not this file at start-up.
    slow.write_text(
        "import builtins, os, sys, time\n"
        "real_import = builtins.__import__\n"
        "def write(f, contents, **kw):\n"
        "    f.write(b'partial')\n"
        "    f.flush()\n"
        "    open(os.environ['BRIDGE_TEST_READY'], 'w').close()\n"
        "    time.sleep(60)\n"
        "def patch(*args, **kwargs):\n"
        "    module = real_import(*args, **kwargs)\n"
        "    mat5 = sys.modules.get('bridge._formats._mat5')\n"
        "    if mat5 is not None and hasattr(mat5, 'write'):\n"
        "        mat5.write = write\n"
        "        builtins.__import__ = real_import\n"
        "    return module\n"
        "builtins.__import__ = patch\n"
    )
    env = cold_environment()
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "site"), env["PYTHONPATH"]])
    (tmp_path / "site").mkdir()
    slow.rename(tmp_path / "site" / "sitecustomize.py")
    ready = tmp_path / "ready"
    env["BRIDGE_TEST_READY"] = str(ready)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "in.mat", "out.mat"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), proc.communicate(timeout=5)
    assert any(p.name.startswith(".out.mat.") for p in tmp_path.iterdir())  # mid-write
    # Every thread but the main one (numpy's BLAS threads, the kernels' pool) blocks the
    # signal, so the kernel delivers it to the main thread, which it wakes from its wait.
    # (Delivered to a BLAS thread, it waited out the 60 s sleep.)
    threads = [t for t in Path(f"/proc/{proc.pid}/task").iterdir() if t.name != str(proc.pid)]
    for task in threads:
        info = (task / "status").read_text()
        blocked = int(re.search(r"SigBlk:\s*([0-9a-f]+)", info).group(1), 16)
        assert blocked & (1 << (sig - 1)), (task.name, hex(blocked))
    proc.send_signal(sig)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # end it here, not in a later test's garbage
        proc.kill()
        proc.communicate(timeout=30)
        pytest.fail(f"the job outlived {sig!r} by 30 s")
    assert proc.returncode == status
    assert stdout == b""
    line = one_line(stderr.decode())
    if name:
        assert f"stopped by {name}" in line
    assert (tmp_path / "out.mat").read_bytes() == b"previous result"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["in.mat", "out.mat", "ready", "site"]


def test_signal_handlers_are_only_taken_when_nobody_has_them():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with process.signals_raise():
            assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
    if signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:
        with process.signals_raise():
            assert signal.getsignal(signal.SIGHUP) == process._raise_interrupted
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


def test_a_signal_while_the_temporary_file_is_created_leaves_no_file(tmp_path, monkeypatch):
    """A signal raised as an exception just after the temporary output is created, before the
    call that created it returns, must not leave the file behind (seen: a batch interrupted at
    the terminal left one)."""
    from bridge import _atomic as atomic

    class Stop(Exception):
        pass

    def stop(signum, frame):
        raise Stop

    real = os.open

    def open_then_signal(*args, **kwargs):
        made = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGUSR1)  # its handler raises here, before the return
        return made

    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        monkeypatch.setattr(atomic.os, "open", open_then_signal)
        with pytest.raises(Stop), atomic.atomic_path(tmp_path / "out.mat"):
            pass
    finally:
        monkeypatch.undo()
        signal.signal(signal.SIGUSR1, previous)
    assert list(tmp_path.iterdir()) == []
