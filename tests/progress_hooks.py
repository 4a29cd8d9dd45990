"""A long job on demand, for the progress tests: a job that would show progress waits for a gate.

:func:`install` patches, in the process that calls it (a script server before it forks its job
processes, or a cold worker through a ``sitecustomize`` that :func:`site_folder` writes):

* every job that the progress heartbeat covers (more multiply-adds than
  ``bridge._job.runner.HEARTBEAT_WORK``) waits, before it computes, until the file named by
  :data:`GATE_ENV` exists; a test creates it only once it has seen a progress line, so the line
  provably came while the job was still running (order of events, not durations);
* the heartbeat's interval is short, so the line comes soon.

A job too small for a heartbeat is never held and never prints: the short job of every test.
The result is the unpatched computation's (the sleep comes before it).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

GATE_ENV = "BRIDGE_TEST_PROGRESS_GATE"
PATIENCE = 300.0  # a gate never opened (a test that failed) ends the wait, not the process

SITECUSTOMIZE = "import tests.progress_hooks\ntests.progress_hooks.install()\n"


def install() -> None:
    from bridge._job import compute, progress, runner

    progress.PROGRESS_EVERY = 0.1
    real = compute.compute

    def gated(job):
        work = math.prod(math.prod(array.shape) for _, array in job.operands)
        gate = os.environ.get(GATE_ENV)
        if gate and work > runner.HEARTBEAT_WORK:
            deadline = time.monotonic() + PATIENCE
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.02)
        return real(job)

    compute.compute = gated


def site_folder(folder: Path) -> Path:
    """A folder holding a ``sitecustomize`` that installs the hooks: put it on PYTHONPATH (with
    the checkout) for a cold worker, which imports it once its site-packages are set up."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return folder


# A warm server with the hooks installed before it forks its job processes (``python -c``, with
# the checkout on PYTHONPATH and the socket in BRIDGE_SOCKET).
SERVER = (
    "import tests.progress_hooks\n"
    "tests.progress_hooks.install()\n"
    "from bridge import _serve as serve\n"
    "raise SystemExit(serve.serve(None, 0, slots=2))\n"
)

# What every progress line of a convolution's computation looks like (bridge._job.progress).
LINE_START, LINE_END = "bridge: computing conv", " s so far"


def is_progress(line: str) -> bool:
    return line.startswith(LINE_START) and line.endswith(LINE_END)


def read_until(stream, wanted: str, seconds: float = 120.0) -> str:
    """What ``stream`` (a pipe of a running process) gave until it held a line with ``wanted``;
    it fails after ``seconds`` (which only ends a hung test: no assertion is about time)."""
    import selectors

    fd = stream.fileno()
    received = b""
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not any(
            wanted in line for line in received.decode(errors="replace").split("\n")[:-1]
        ):
            left = deadline - time.monotonic()
            assert left > 0 and selector.select(left), f"no {wanted!r} in: {received!r}"
            chunk = os.read(fd, 65536)
            assert chunk, f"the stream ended without {wanted!r}: {received!r}"
            received += chunk
    return received.decode(errors="replace")


def progress_then_result(proc, gate: Path, output: Path) -> str:
    """Wait for ``proc``'s first progress line on stderr, check that the job is still running
    (``proc`` alive, ``output`` not written), open ``gate`` and let it finish: it must succeed
    with an empty stdout and nothing but progress lines on stderr, which are returned."""
    seen = read_until(proc.stderr, LINE_END)
    assert proc.poll() is None and not output.exists()  # still running
    gate.touch()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, seen + err
    assert out == ""
    lines = (seen + err).splitlines()
    assert lines and all(is_progress(line) for line in lines), lines
    return seen + err
