"""A live GNU Octave session for differential tests.

One ``octave-cli`` process is kept open for the whole test session and fed commands on stdin, so a
differential case costs milliseconds instead of an Octave start-up. Data travels through MAT v7
files (scipy writes, Octave loads; Octave saves, scipy reads), which keep every class bridge cares
about (double, single, int8..uint64, logical, complex, empties, N-D).

Where ``octave-cli`` is absent, tests that need it skip, unless ``BRIDGE_REQUIRE_OCTAVE`` is set
(``.ci/run`` sets it): then they fail, so CI can never pass by skipping them.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import scipy.io

if TYPE_CHECKING:
    from tests.strategies import Case

SENTINEL = "__BRIDGE_OCTAVE_DONE__"


def octave_required() -> bool:
    return os.environ.get("BRIDGE_REQUIRE_OCTAVE", "").strip() not in ("", "0")


def octave_cli() -> str:
    """Path of octave-cli, or skip (fail under BRIDGE_REQUIRE_OCTAVE) when there is none."""
    path = shutil.which("octave-cli")
    if path is None:
        msg = "octave-cli not found (apt-get install octave)"
        if octave_required():
            pytest.fail(f"{msg}, and BRIDGE_REQUIRE_OCTAVE is set", pytrace=False)
        pytest.skip(msg)
    return path


WRAPPERS = Path(__file__).resolve().parents[1] / "matlab"


def m_string(text) -> str:
    """An Octave single-quoted string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def wrapper_eval(code: str) -> list[str]:
    """The command line of a fresh octave-cli that runs ``code`` with bridge's wrappers on its
    path (or skips, as :func:`octave_cli`)."""
    return [
        octave_cli(),
        "--norc",
        "--quiet",
        "--no-history",
        "--eval",
        f"addpath({m_string(WRAPPERS)}); {code}",
    ]


class OctaveError(RuntimeError):
    """Octave raised an error inside a call: ``message`` and ``identifier`` as Octave gave them."""

    def __init__(self, message: str, identifier: str) -> None:
        super().__init__(f"{message} ({identifier or 'no identifier'})")
        self.message = message
        self.identifier = identifier


class OctaveSession:
    """A persistent octave-cli process driven through stdin."""

    def __init__(self, executable: str, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.dir = Path(tempfile.mkdtemp(prefix="bridge-octave-"))
        self.proc = subprocess.Popen(
            [executable, "--norc", "--no-gui", "--quiet", "--no-history"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.dir,
        )
        self.calls = 0
        self._run("more off; page_screen_output(false);")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("exit(0);\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, code: str) -> str:
        """Run code at Octave's top level and return what it printed."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"octave-cli exited with status {self.proc.returncode}")
        self.proc.stdin.write(f"{code}\nfflush(stdout); disp('{SENTINEL}'); fflush(stdout);\n")
        self.proc.stdin.flush()
        # Read the raw pipe: a buffered readline() could hold the sentinel in its buffer while
        # select() waits on an empty pipe.
        fd = self.proc.stdout.fileno()
        received = b""
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + self.timeout
        marker = SENTINEL.encode()
        try:
            while True:
                lines = received.split(b"\n")
                if any(line.strip() == marker for line in lines[:-1]):
                    head = received[: received.index(marker)]
                    return head.decode(errors="replace")
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    self.proc.kill()
                    raise TimeoutError(f"octave-cli did not answer within {self.timeout} s")
                chunk = os.read(fd, 65536)
                if not chunk:
                    text = received.decode(errors="replace")
                    raise RuntimeError("octave-cli closed its output:\n" + text)
                received += chunk
        finally:
            selector.close()

    def call(
        self, code: str, inputs: dict[str, object], outputs: list[str]
    ) -> dict[str, np.ndarray]:
        """Load ``inputs`` as variables, run ``code`` and return ``outputs`` as numpy arrays.

        An error inside ``code`` is raised here as :class:`OctaveError`.
        """
        self.calls += 1
        src = self.dir / f"in{self.calls}.mat"
        dst = self.dir / f"out{self.calls}.mat"
        scipy.io.savemat(src, inputs, format="5", do_compression=False)
        wanted = ", ".join(f"'{name}'" for name in outputs)
        self._run(
            "clear -x; bridge_err_msg__ = ''; bridge_err_id__ = '';"
            f"load('{src}');"
            f"try\n{code}\ncatch bridge_e__\n"
            "bridge_err_msg__ = bridge_e__.message; bridge_err_id__ = bridge_e__.identifier;\n"
            "end\n"
            "if isempty(bridge_err_msg__)\n"
            f"  save('-v7', '{dst}', {wanted});\n"
            "else\n"
            f"  save('-v7', '{dst}', 'bridge_err_msg__', 'bridge_err_id__');\n"
            "end"
        )
        try:
            got = scipy.io.loadmat(dst, squeeze_me=False, chars_as_strings=True)
        finally:
            src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
        if "bridge_err_msg__" in got:
            msg = got["bridge_err_msg__"]
            ident = got.get("bridge_err_id__", np.array([""]))
            raise OctaveError(_text(msg), _text(ident))
        return {name: got[name] for name in outputs}

    def run_file(self, path: Path) -> str:
        """Run an .m script file and return what it printed."""
        return self._run(f"run('{path}');")


def operands(case: Case) -> tuple[dict[str, np.ndarray], str, str]:
    """Octave's inputs and set-up code for ``case``, and the key of its call.

    The set-up makes x1, x2, ... of the arrays (1-D ones as rows) and c1, c2, ... of their
    columns. Octave narrows a complex array whose imaginary part is zero when it loads it
    (test_conv_octave.py's difference 3), and again on x(:): complex() rebuilds both from the
    parts, as a MATLAB user's array would be. The key is ``case.op``, but "conv2sep-complex" for a
    separable call with a complex operand (Octave 7.3 mishandles those: difference 4).
    """
    inputs, setup = {}, ""
    for i, a in enumerate(case.arrays):
        name = f"x{i + 1}"
        a = a if a.ndim >= 2 else a.reshape(1, -1)
        if a.dtype.kind == "c":
            inputs[f"{name}_re"], inputs[f"{name}_im"] = a.real, a.imag
            setup += f"{name} = complex({name}_re, {name}_im);"
            setup += f"c{i + 1} = complex({name}_re(:), {name}_im(:));"
        else:
            inputs[name] = a
            setup += f"c{i + 1} = {name}(:);"
    kind = case.op
    if kind == "conv2sep" and any(a.dtype.kind == "c" for a in case.arrays):
        kind = "conv2sep-complex"
    return inputs, setup, kind


def _text(value: np.ndarray) -> str:
    return "".join(str(x) for x in np.ravel(value)) if np.size(value) else ""
