"""Environments for the child processes the tests start (``python -m bridge``, ``bridge batch``,
Dask workers, the fuzz harness's jobs): the checkout importable, with or without a warm server.

Plain functions in a plain module, like tests/octave.py: tests/fuzzing.py uses them too, and it
runs outside pytest as well (benchmarks/fuzz.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkout_environment(*pythonpath: Path) -> dict[str, str]:
    """This process's environment with the checkout importable (it need not be installed):
    PYTHONPATH is ``pythonpath``, then the checkout, then what PYTHONPATH held."""
    env = dict(os.environ)
    parts = [str(p) for p in (*pythonpath, ROOT)]
    if env.get("PYTHONPATH"):
        parts.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def cold_environment(*pythonpath: Path) -> dict[str, str]:
    """checkout_environment, and no warm server: BRIDGE_SOCKET unset, BRIDGE_NO_SERVER=1."""
    env = checkout_environment(*pythonpath)
    env.pop("BRIDGE_SOCKET", None)
    env["BRIDGE_NO_SERVER"] = "1"
    return env


def start_batch(*args: str, cwd: Path, **popen) -> subprocess.Popen:
    """``python -m bridge batch ARGS`` started in ``cwd`` in a cold environment, its output piped
    as text, for a test that signals or watches it while it runs."""
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", "batch", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cold_environment(),
        cwd=cwd,
        **popen,
    )


def wait_for_outputs(folder: Path, count: int, within: float = 60) -> None:
    """Return once ``folder`` holds ``count`` entries, or after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if folder.is_dir() and len(list(folder.iterdir())) >= count:
            return
        time.sleep(0.01)
