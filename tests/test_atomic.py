"""Atomic output: a killed writer's temporary file is removed by the next write of that OUT,
and nothing else is (issue: each kill -9 left a hidden .OUT.<hex>.tmp forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bridge import _atomic as atomic
from bridge import _formats as formats
from tests.processes import checkout_environment

pytestmark = pytest.mark.slow


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_the_next_write_removes_only_dead_writers_temporaries(tmp_path):
    out = tmp_path / "out.mat"
    host = atomic._host()
    dead = tmp_path / f".out.mat.{host}.{_dead_pid()}.0123456789ab.tmp"
    alive = tmp_path / f".out.mat.{host}.{os.getpid()}.0123456789ab.tmp"
    elsewhere = tmp_path / f".out.mat.otherhost.{_dead_pid()}.0123456789ab.tmp"
    other_output = tmp_path / f".other.mat.{host}.{_dead_pid()}.0123456789ab.tmp"
    legacy = tmp_path / ".out.mat.0123456789ab.tmp"  # no pid: whose it is cannot be told
    for path in (dead, alive, elsewhere, other_output, legacy):
        path.write_bytes(b"partial")
    formats.write(out, {"C": np.ones((2, 2))})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(p.name for p in (alive, elsewhere, other_output, legacy, out))


SLOW_WRITER = """
import sys, time
from bridge import _atomic as atomic
real = atomic.atomic_path
import contextlib
@contextlib.contextmanager
def slow(path):
    with real(path) as tmp:
        open(sys.argv[3], "w").close()  # the temporary file exists: kill me now
        time.sleep(60)
        yield tmp
atomic.atomic_path = slow
import bridge._formats
bridge._formats.atomic_path = slow
from bridge._fastpath import main
raise SystemExit(main(sys.argv[1:3]))
"""


def test_a_job_killed_mid_write_leaves_a_file_the_next_job_removes(tmp_path):
    scipy.io.savemat(tmp_path / "in.mat", {"A": np.eye(3), "B": np.ones((2, 2))})
    out = tmp_path / "out.mat"
    out.write_bytes(b"previous result")
    ready = tmp_path / "ready"
    env = checkout_environment()
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(tmp_path / "in.mat"), str(out), str(ready)],
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), "the writer never created its temporary file"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stale = [p.name for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and out.read_bytes() == b"previous result"
    done = subprocess.run(
        [sys.executable, "-m", "bridge", str(tmp_path / "in.mat"), str(out)],
        env={**env, "BRIDGE_NO_SERVER": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not [p.name for p in Path(tmp_path).iterdir() if p.name.endswith(".tmp")]
    assert scipy.io.loadmat(out)["C"].shape == (4, 4)


def test_a_batch_sweeps_its_folder_once_and_its_workers_skip_the_sweep(tmp_path):
    """A batch writes thousands of results into one folder: it sweeps the folder's stale
    temporaries once, before its workers start, and they do not list it on every write."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    scipy.io.savemat(jobs / "a.mat", {"A": np.eye(3), "B": np.ones((2, 2))})
    out = tmp_path / "out"
    out.mkdir()
    host = atomic._host()
    stale = out / f".other.mat.{host}.{_dead_pid()}.0123456789ab.tmp"
    stale.write_bytes(b"partial")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "batch", str(jobs), "--out-dir", str(out)],
        env={**checkout_environment(), "BRIDGE_NO_SERVER": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mat"]
    assert atomic.sweep_folder(out) == []
