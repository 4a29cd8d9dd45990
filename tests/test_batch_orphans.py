"""``bridge batch`` killed outright (SIGKILL) takes its workers with it: none is left running,
blocked on its pipe and holding the caller's stdout and stderr open (which hung whatever
captured them)."""

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

from tests.processes import cold_environment

pytestmark = pytest.mark.slow

# A batch whose jobs sleep (patched before the workers are forked, so they inherit it).
SLOW_BATCH = """
import sys, time
from bridge._job import runner
def slow(request):
    open(request.files[0] + ".started", "w").close()
    time.sleep(120)
runner.run = slow
from bridge import _batch as batch
raise SystemExit(batch.main(sys.argv[1:]))
"""


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(t) for t in text}
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_batch_is_killed(tmp_path):
    jobs = []
    for k in range(4):
        path = tmp_path / f"job{k}.mat"
        scipy.io.savemat(path, {"A": np.eye(3), "B": np.ones((2, 2))})
        jobs.append(str(path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SLOW_BATCH,
            *jobs,
            "--out-dir",
            str(tmp_path / "out"),
            "--jobs",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=cold_environment(),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(tmp_path.glob("*.started"))) < 2:
            time.sleep(0.05)
        assert len(list(tmp_path.glob("*.started"))) == 2, "the workers did not start their jobs"
        workers = _children(proc.pid)
        assert len(workers) >= 2
        proc.send_signal(signal.SIGKILL)
        # The caller's pipes reach their end: no worker holds them any more.
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
